/* effects.c - the world without the partnership: every effect the
 * partnership has in the simulator switched off, nothing else changed.
 * Because the simulator's draws never depend on effect sizes, the world
 * of the same seed with and without effects differs only by what the
 * partnership does, which defines the counterfactual truth of any estimate
 * (gravrd design, gravrd replicate --counterfactual). */
#include "gravrd/sim.h"

void gravrd_sim_params_effects_off(gravrd_sim_params *p)
{
    p->partner_w2e = p->partner_e2w = 0;
    p->deals_w2e = p->deals_e2w = 0;
    for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
        p->cat[c] = 0;
    for (int h = 0; h < GRAVRD_SIM_N_HET; h++)
        p->het[h] = 0;
    p->covid_interaction = p->december_interaction = p->spring_festival_interaction = 0;
    p->migration_effect = 0;
    p->search_effect = 0;
    p->seller_cr_effect = p->buyer_cr_effect = 0;
}
