/* flows.c - monthly flows of every directed east-west pair (one row of
 * flows.csv per pair and month). Equations: docs/simulator.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "sim/sim_internal.h"

/* Log level of a flow at average sizes and 1,500 km, by direction
 * (0 = east to west, 1 = west to east). */
static const double level_dir[2] = {13.48, 10.10};
/* Log of the average price of a deal (yuan). */
static const double log_price_dir[2] = {4.25, 4.15};
/* Log of the order value that makes one "order event" for the scattered
 * zeros: a cell trades nothing with probability exp(-expected trade / order
 * value). Rare (a few dozen cells each way): most zeros are whole western
 * exporter-months (world.c, dark months), which the exporter x month fixed
 * effects absorb, as the paper's adjusted R2 of 0.93 with 2% zero cells
 * requires. */
static const double log_order_dir[2] = {6.5, 5.0};
/* Concentration ratios: logit intercepts (seller, buyer), and the slope of
 * the ratio on the flow's log size in points. The size term is linear in
 * points, outside the logistic: the exporter and importer parts of size
 * then stay additive, and the city x month fixed effects absorb them. Inside
 * the logistic (as before), the curvature left an exporter-size x
 * importer-size interaction that loaded on the partner indicator (treated
 * pairs join particular exporters to the largest importers): the local-
 * linear RD of the west-to-east seller ratio averaged -6.6 points in worlds
 * without any partnership effect. */
static const double cr_seller0[2] = {2.45, 2.75};
static const double cr_buyer0[2] = {1.85, 2.05};
static const double cr_slope_points = -2.5;
/* Search index: log level at average sizes. */
static const double search0 = 2.60;

struct sim_pairs {
    size_t n;
    int *exp_i, *imp_i, *dir;
    size_t *ew;
    double *dist;
    double *base;      /* level + distance + affinity + pair effect */
    double *zero_base; /* level + distance - log order value */
    double *mig_term;  /* migration coefficient x traffic ratio */
    double *mig_part;  /* the partner's part of mig_term */
    double *price;     /* log price of the pair */
    double *share;     /* n x GRAVRD_SIM_N_CAT log shares */
    double *cr_s, *cr_b;
    double *search;    /* log search index of the pair */
    double *tau;       /* direct partner effect (without time interactions) */
    uint8_t *partner;
};

size_t sim_n_directed(const sim_world *w) { return 2 * (size_t)w->n_east * (size_t)w->n_west; }

void sim_pairs_free(sim_pairs *pp)
{
    if (!pp)
        return;
    free(pp->exp_i); free(pp->imp_i); free(pp->dir); free(pp->ew); free(pp->dist);
    free(pp->base); free(pp->zero_base); free(pp->mig_term); free(pp->mig_part);
    free(pp->price); free(pp->share); free(pp->cr_s); free(pp->cr_b); free(pp->search);
    free(pp->tau); free(pp->partner);
    free(pp);
}

gravrd_status sim_pairs_build(const sim_world *w, const gravrd_sim_params *p, sim_pairs **out,
                              gravrd_error *err)
{
    *out = NULL;
    size_t n = sim_n_directed(w);
    sim_pairs *pp = calloc(1, sizeof *pp);
    gsl_rng *r = sim_rng_new(p->seed, SIM_STREAM_PAIR);
    double *field = NULL;
    if (!pp || !r)
        goto nomem;
    pp->n = n;
#define PALLOC(f, cnt) if (!(pp->f = calloc((cnt), sizeof *pp->f))) goto nomem
    PALLOC(exp_i, n); PALLOC(imp_i, n); PALLOC(dir, n); PALLOC(ew, n); PALLOC(dist, n);
    PALLOC(base, n); PALLOC(zero_base, n); PALLOC(mig_term, n); PALLOC(mig_part, n);
    PALLOC(price, n); PALLOC(share, n * GRAVRD_SIM_N_CAT); PALLOC(cr_s, n); PALLOC(cr_b, n);
    PALLOC(search, n); PALLOC(tau, n); PALLOC(partner, n);
#undef PALLOC
    /* the smooth part of the pair effect: a Gaussian random field over
     * (exporter location, importer location), one per direction, by random
     * Fourier features (squared-exponential kernel, length scale
     * pair_smooth_km, sd pair_smooth_sd_e2w / _w2e) */
    enum { NF = 64 };
    double om[2][NF][4], ph[2][NF];
    gsl_rng *rf = sim_rng_new(p->seed, SIM_STREAM_FIELD);
    if (!rf)
        goto nomem;
    for (int d = 0; d < 2; d++)
        for (int f = 0; f < NF; f++) {
            for (int c = 0; c < 4; c++)
                om[d][f][c] = gsl_ran_gaussian_ziggurat(rf, 1.0) / p->pair_smooth_km;
            ph[d][f] = 2.0 * 3.14159265358979323846 * gsl_rng_uniform(rf);
        }
    gsl_rng_free(rf);
    field = calloc(n, sizeof *field);
    if (!field)
        goto nomem;
    double m_pop = 0;
    for (int i = 0; i < w->n; i++)
        m_pop += log(w->pop[i]) / w->n;
    int A = w->n_east, B = w->n_west;
    size_t k = 0;
    for (int dir = 0; dir < 2; dir++) {
        int n_exp = dir ? B : A, n_imp = dir ? A : B;
        for (int x = 0; x < n_exp; x++)
            for (int y = 0; y < n_imp; y++, k++) {
                int a = dir ? y : x, b = dir ? x : y; /* east, west positions */
                int ie = dir ? w->west[x] : w->east[x];
                int ii = dir ? w->east[y] : w->west[y];
                size_t q = (size_t)a * B + b;
                double d = w->dist[(size_t)ie * w->n + ii];
                double e[11];
                for (int t = 0; t < 11; t++)
                    e[t] = gsl_ran_gaussian_ziggurat(r, 1.0);
                pp->exp_i[k] = ie;
                pp->imp_i[k] = ii;
                pp->dir[k] = dir;
                pp->ew[k] = q;
                pp->dist[k] = d;
                pp->partner[k] = w->partner[q];
                double ldist = p->distance_elasticity * (log(d) - log(1500.0));
                double aff = (dir ? p->affinity_w2e : p->affinity_e2w) * w->affinity[q];
                /* locations in km on a local plane (lng scaled at 30 N) */
                double x[4] = {w->lat[ie] * 111.2, w->lng[ie] * 96.3, w->lat[ii] * 111.2, w->lng[ii] * 96.3};
                double g = 0;
                for (int f = 0; f < NF; f++)
                    g += cos(om[dir][f][0] * x[0] + om[dir][f][1] * x[1] + om[dir][f][2] * x[2] +
                             om[dir][f][3] * x[3] + ph[dir][f]);
                g *= (dir ? p->pair_smooth_sd_w2e : p->pair_smooth_sd_e2w) * sqrt(2.0 / NF);
                field[k] = g;
                pp->base[k] = level_dir[dir] + ldist + aff + g + (dir ? p->pair_sd_w2e : p->pair_sd_e2w) * e[0];
                pp->zero_base[k] = level_dir[dir] + ldist - log_order_dir[dir];
                double mc = dir ? p->migration_trade : p->migration_trade_e2w;
                pp->mig_term[k] = mc * w->mig_pre_mean[q];
                pp->mig_part[k] = w->partner[q] ? mc * p->migration_effect : 0.0;
                pp->price[k] = log_price_dir[dir] + w->price_city[ie] + 0.2 * e[1];
                for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
                    pp->share[k * GRAVRD_SIM_N_CAT + c] = w->share_city[ie * GRAVRD_SIM_N_CAT + c] + 0.2 * e[2 + c];
                pp->cr_s[k] = cr_seller0[dir] + w->cr_seller_city[ie] + 0.6 * e[8];
                pp->cr_b[k] = cr_buyer0[dir] + w->cr_buyer_city[ii] + 0.6 * e[9];
                /* residents of the importer searching the exporter's name */
                pp->search[k] = search0 + w->fame[ie] + 0.5 * (log(w->pop[ii]) - m_pop) + 0.8 * e[10];
                pp->tau[k] = !w->partner[q] ? 0.0 : dir ? w->tau_w2e[q] : w->direct_e2w;
            }
    }
    /* Remove from the smooth field its exporter and importer means and its
     * chance correlation with log distance (within exporter and importer, on
     * each direction's complete table): the field is a pure pair interaction
     * that neither moves the distance elasticity nor shifts a city's or a
     * direction's level (64 random features have a mean of their own, which
     * would move the levels of Table 1 from seed to seed); means over one
     * location and log distance are smooth, so the field stays smooth. */
    for (int dir = 0; dir < 2; dir++) {
        int R = dir ? B : A, C = dir ? A : B;
        size_t off = dir ? (size_t)A * B : 0, NN = (size_t)R * C;
        double *gt = malloc(NN * sizeof *gt), *lt = malloc(NN * sizeof *lt);
        double *rm = calloc((size_t)R * 2, sizeof *rm), *cm = calloc((size_t)C * 2, sizeof *cm);
        if (!gt || !lt || !rm || !cm) {
            free(gt); free(lt); free(rm); free(cm);
            goto nomem;
        }
        double all[2] = {0, 0};
        for (int x = 0; x < R; x++)
            for (int y = 0; y < C; y++) {
                size_t k2 = (size_t)x * C + y;
                gt[k2] = field[off + k2];
                lt[k2] = log(pp->dist[off + k2]);
                rm[2 * x] += gt[k2] / C; rm[2 * x + 1] += lt[k2] / C;
                cm[2 * y] += gt[k2] / R; cm[2 * y + 1] += lt[k2] / R;
                all[0] += gt[k2] / NN; all[1] += lt[k2] / NN;
            }
        double sgl = 0, sll = 0;
        for (int x = 0; x < R; x++)
            for (int y = 0; y < C; y++) {
                size_t k2 = (size_t)x * C + y;
                double g2 = gt[k2] - rm[2 * x] - cm[2 * y] + all[0];
                double l2 = lt[k2] - rm[2 * x + 1] - cm[2 * y + 1] + all[1];
                sgl += g2 * l2;
                sll += l2 * l2;
            }
        double coef = sll > 0 ? sgl / sll : 0.0;
        for (int x = 0; x < R; x++)
            for (int y = 0; y < C; y++) {
                size_t k2 = (size_t)x * C + y;
                double l2 = lt[k2] - rm[2 * x + 1] - cm[2 * y + 1] + all[1];
                pp->base[off + k2] -= coef * l2 + rm[2 * x] + cm[2 * y] - all[0];
            }
        free(gt); free(lt); free(rm); free(cm);
    }
    free(field);
    gsl_rng_free(r);
    *out = pp;
    return GRAVRD_OK;
nomem:
    if (r)
        gsl_rng_free(r);
    free(field);
    sim_pairs_free(pp);
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory generating pairs");
}

static int64_t round_i64(double x) { return (int64_t)floor(x + 0.5); }

void sim_gen_pair(const sim_world *w, const gravrd_sim_params *p, const sim_pairs *pp, size_t k,
                  gsl_rng *rng, sim_row *rows)
{
    int T = w->months, dir = pp->dir[k], P = pp->partner[k];
    int ie = pp->exp_i[k], ii = pp->imp_i[k];
    const double *xm = &w->exp_month[(size_t)ie * T], *im = &w->imp_month[(size_t)ii * T];
    double e = 0;
    double cell_sd = dir ? p->cell_sd_w2e : p->cell_sd_e2w;
    double innov_sd = cell_sd * sqrt(1.0 - p->ar1 * p->ar1);
    double price_shift = dir ? p->partner_w2e - p->deals_w2e : p->partner_e2w - p->deals_e2w;
    double cr_s_eff = P ? p->seller_cr_effect : 0.0, cr_b_eff = P ? p->buyer_cr_effect : 0.0;
    for (int t = 0; t < T; t++) {
        sim_row *row = &rows[t];
        double z[12];
        z[0] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        double u = gsl_rng_uniform(rng);
        for (int c = 1; c < 12; c++)
            z[c] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        e = t == 0 ? cell_sd * z[0] : p->ar1 * e + innov_sd * z[0];

        /* search index (latent log, then the published integer index) */
        double search_part = P ? p->search_effect : 0.0;
        double lsearch = pp->search[k] + w->search_month[t] + search_part + 0.3 * z[1];
        double bidx = floor(exp(lsearch));
        row->baidu = bidx > 1e9 ? 1000000000 : (int64_t)bidx;

        /* partner effect in this month */
        double tau = 0;
        if (P) {
            tau = pp->tau[k];
            if (dir == 1) {
                if (w->year[t] >= 2020) tau += p->covid_interaction;
                if (w->mon[t] == 12) tau += p->december_interaction;
                if (w->sf_month[t]) tau += p->spring_festival_interaction;
            }
        }
        double common = xm[t] + im[t];
        double lmu = pp->base[k] + common + e + tau + pp->mig_term[k] + p->search_trade * lsearch;
        double lmu0 = lmu - tau - pp->mig_part[k] - p->search_trade * search_part;

        row->exp_id = w->id[ie];
        row->imp_id = w->id[ii];
        row->t = t;
        row->dir = dir;
        row->partner = P;
        row->dist_km = pp->dist[k];

        /* zero cells (a dark exporter-month, or a scattered zero): whether
         * anything trades does not depend on the partnership */
        double lambda = exp(pp->zero_base[k] + common);
        if (u < exp(-lambda) || (dir == 1 && w->exp_dark[(size_t)ie * T + t])) {
            row->trade_c = 0;
            row->deals = 0;
            row->seller_cr = row->buyer_cr = -1;
            for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
                row->cat_c[c] = 0;
            continue;
        }
        double trade = exp(lmu);
        int64_t cents = round_i64(trade * 100.0);
        if (cents < 1)
            cents = 1;
        row->trade_c = cents;
        double lprice = pp->price[k] + 0.1 * z[2] + (P ? price_shift : 0.0);
        double deals = floor(exp(log(cents / 100.0) - lprice) + 0.5);
        row->deals = deals < 1 ? 1 : (int64_t)deals;
        /* concentration ratios: driven by size without the partner's part */
        double size_term = cr_slope_points * (lmu0 - level_dir[dir]);
        double zs = pp->cr_s[k] + 0.7 * z[3];
        double zb = pp->cr_b[k] + 0.7 * z[4];
        double cs = 100.0 * (1.0 / (1.0 + exp(-zs))) + size_term + cr_s_eff;
        double cb = 100.0 * (1.0 / (1.0 + exp(-zb))) + size_term + cr_b_eff;
        cs = fmin(99.99, fmax(0.01, cs));
        cb = fmin(99.99, fmax(0.01, cb));
        row->seller_cr = (int)round_i64(cs * 100.0);
        row->buyer_cr = (int)round_i64(cb * 100.0);
        /* categories: shares, tilted by the partnership (w2e), in whole cents */
        double ls[GRAVRD_SIM_N_CAT], mx = -INFINITY, tot = 0;
        for (int c = 0; c < GRAVRD_SIM_N_CAT; c++) {
            ls[c] = pp->share[k * GRAVRD_SIM_N_CAT + c] + 0.15 * z[5 + c] + (P && dir == 1 ? p->cat[c] : 0.0);
            if (ls[c] > mx)
                mx = ls[c];
        }
        for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
            tot += (ls[c] = exp(ls[c] - mx));
        int64_t used = 0;
        for (int c = 0; c < GRAVRD_SIM_N_CAT - 1; c++) {
            row->cat_c[c] = round_i64((double)cents * ls[c] / tot);
            used += row->cat_c[c];
        }
        int64_t rest = cents - used;
        /* rounding can overshoot by a few cents: take them back from the
         * first categories that have them */
        for (int c = 0; rest < 0 && c < GRAVRD_SIM_N_CAT - 1; c++) {
            int64_t take = row->cat_c[c] < -rest ? row->cat_c[c] : -rest;
            row->cat_c[c] -= take;
            rest += take;
        }
        row->cat_c[GRAVRD_SIM_N_CAT - 1] = rest;
    }
}
