/* rep_counterfactual.c - counterfactual truths: with the same world run
 * without the partnership (gravrd simulate --no-effects, same seed), the
 * truth of every estimate that has one becomes our estimate minus the
 * estimate on that world: what the partnership changed in this estimand,
 * whatever the estimand is (a coefficient on log1p flows, a concentration
 * ratio, a local-linear RD, a mediation difference, a back-of-envelope
 * number). Only estimands of the partnership's effect get it: the
 * coefficients of terms with `partner` and the RD rows. The coefficient of
 * a mediator (pre_cny_mean, the search index) estimates a structural
 * parameter, whose planted value stays its truth. docs/simulator.md#truths
 * says why. */
#include <math.h>
#include <string.h>

#include "study/run.h"

/* The difference, or NaN when either side was not estimated. */
static double effect_of(double with, double without)
{
    return isfinite(with) && isfinite(without) ? with - without : NAN;
}

static const gravrd_rep_coef *coef_named(const gravrd_rep_column *c, const char *key)
{
    for (int k = 0; k < c->n_coefs; k++)
        if (c->coefs[k].key && !strcmp(c->coefs[k].key, key))
            return &c->coefs[k];
    return NULL;
}

void rep_apply_counterfactual(gravrd_rep_table *t, const gravrd_rep_table *t0)
{
    if (!t0 || t0->n_columns != t->n_columns || t0->n_tests != t->n_tests || t0->n_items != t->n_items)
        return;
    for (size_t i = 0; i < t->n_columns; i++) {
        gravrd_rep_column *c = &t->columns[i];
        const gravrd_rep_column *c0 = &t0->columns[i];
        for (int k = 0; k < c->n_coefs; k++) {
            gravrd_rep_coef *o = &c->coefs[k];
            if (!isfinite(o->truth) || (!o->is_rd && !strstr(o->key, "partner")))
                continue;
            const gravrd_rep_coef *o0 = coef_named(c0, o->key);
            o->truth = o0 ? effect_of(o->estimate, o0->estimate) : NAN;
        }
    }
    for (size_t i = 0; i < t->n_tests; i++)
        if (isfinite(t->tests[i].truth))
            t->tests[i].truth = effect_of(t->tests[i].difference, t0->tests[i].difference);
    for (size_t i = 0; i < t->n_items; i++)
        if (isfinite(t->items[i].truth))
            t->items[i].truth = effect_of(t->items[i].value, t0->items[i].value);
}
