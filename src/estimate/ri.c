/* ri.c - randomization inference (see ri.h and docs/inference.md).
 *
 * A draw replaces the reassigned regressor's column by the caller's values,
 * demeans that one column by the FE (the others, and the outcome, keep the
 * demeaned values of the fit: demeaning is linear and the FE are the
 * same), and refits by least squares on the k columns with the fit's own
 * variance (ols_variance: the same small-sample factors, clusters and
 * collapse weights). Under the exact collapse of a balanced panel this is
 * the pair-level problem: the within-pair part of the outcome does not
 * depend on the regressors, so it only adds within_ss to each refit's
 * residual sum of squares. Draws run in parallel, each on its own
 * scratch, so the numbers do not depend on the thread count. */
#include "ri.h"

#include "inference/invert.h"
#include "linalg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A reassigned column whose within-FE variation is below this share of
 * its raw variation is absorbed by the FE: the draw has no estimate. */
#define RI_ABSORBED_TOL 1e-10

void ri_result_free(gravrd_ri_result *r)
{
    if (!r)
        return;
    free(r->placebo_coef_B);
    free(r->placebo_t_B);
    free(r->placebo_x_B);
    free(r);
}

typedef struct {
    double *x, *X, *resid, *xtx, *V;
} ri_work;

static void work_free(ri_work *w)
{
    free(w->x);
    free(w->X);
    free(w->resid);
    free(w->xtx);
    free(w->V);
}

static int work_alloc(ri_work *w, const ri_design *d)
{
    size_t n = d->n, k = (size_t)d->k;
    w->x = malloc((n + 1) * sizeof *w->x);
    w->X = malloc((n * k + 1) * sizeof *w->X);
    w->resid = malloc((n + 1) * sizeof *w->resid);
    w->xtx = malloc((k * k + 1) * sizeof *w->xtx);
    w->V = malloc((k * k + 1) * sizeof *w->V);
    if (!w->x || !w->X || !w->resid || !w->xtx || !w->V)
        return -1;
    memcpy(w->X, d->X_NK, n * k * sizeof *w->X);
    return 0;
}

/* One refit: the coefficient and t of the term for draw b, NaN when the
 * reassigned column is absorbed by the FE. Returns non-zero when the
 * callback fails (1) or the refit cannot be computed (2). */
static int refit(const ri_design *d, const gravrd_ri_options *opt, ri_work *w, long b, double *coef, double *t,
                 double *coef_x)
{
    const size_t n = d->n;
    const int k = d->k, a = d->term;
    *coef = *t = *coef_x = NAN;
    if (opt->draw(opt->user, b, d->rows_N, n, w->x) != 0)
        return 1;
    double mean = 0, raw = 0;
    for (size_t i = 0; i < n; i++)
        mean += w->x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++)
        raw += (w->x[i] - mean) * (w->x[i] - mean);
    if (d->fe) {
        gravrd_error e;
        gravrd_error_clear(&e);
        if (gravrd_demean(d->fe, w->x, 1, &d->dopt, NULL, &e))
            return 2;
    }
    double *Xa = w->X + (size_t)a * n;
    memcpy(Xa, w->x, n * sizeof *Xa);
    for (int p = 0; p < k; p++)
        for (int q = 0; q <= p; q++) {
            const double *xp = w->X + (size_t)p * n, *xq = w->X + (size_t)q * n;
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += xp[i] * xq[i];
            w->xtx[p * k + q] = w->xtx[q * k + p] = s;
        }
    if (!(w->xtx[a * k + a] > RI_ABSORBED_TOL * raw))
        return 0;
    if (linalg_spd_inverse(w->xtx, k) != 0)
        return 0; /* collinear with the other regressors: no estimate */
    double xty[64], beta[64], xtd[64];
    const double *x_actual = d->X_NK + (size_t)a * n;
    for (int p = 0; p < k; p++) {
        const double *xp = w->X + (size_t)p * n;
        double s = 0, sd = 0;
        for (size_t i = 0; i < n; i++) {
            s += xp[i] * d->y_N[i];
            sd += xp[i] * x_actual[i];
        }
        xty[p] = s;
        xtd[p] = sd;
    }
    {
        double s = 0;
        for (int q = 0; q < k; q++)
            s += w->xtx[a * k + q] * xtd[q];
        *coef_x = s;
    }
    for (int p = 0; p < k; p++) {
        double s = 0;
        for (int q = 0; q < k; q++)
            s += w->xtx[p * k + q] * xty[q];
        beta[p] = s;
    }
    double rss = 0;
    for (size_t i = 0; i < n; i++) {
        double fit = 0;
        for (int p = 0; p < k; p++)
            fit += w->X[(size_t)p * n + i] * beta[p];
        w->resid[i] = d->y_N[i] - fit;
        rss += w->resid[i] * w->resid[i];
    }
    rss = d->vs->wt * rss + d->within_ss;
    double t_df;
    gravrd_error e;
    gravrd_error_clear(&e);
    if (ols_variance(d->vs, w->X, w->xtx, w->resid, rss, w->V, &t_df, &e))
        return 2;
    *coef = beta[a];
    *t = beta[a] / sqrt(w->V[a * k + a]);
    return 0;
}

/* The p-value of the sharp null b0 on the coefficient (see ri.h). */
static double ri_pvalue(const gravrd_ri_result *r, double beta, double b0)
{
    double obs = fabs(beta - b0) * (1 - 1e-9);
    long ge = 0;
    for (long b = 0; b < r->reps; b++)
        if (fabs(r->placebo_coef_B[b] - b0 * r->placebo_x_B[b]) >= obs)
            ge++;
    return (double)(1 + ge) / (double)(1 + r->reps);
}

/* The sharp-null p-value at b0, for the test inversion. */
typedef struct {
    const gravrd_ri_result *r;
    double beta;
} ri_null;

static double ri_pvalue_at(const void *ctx, double b0)
{
    const ri_null *c = ctx;
    return ri_pvalue(c->r, c->beta, b0);
}

gravrd_status ri_run(const ri_design *d, const gravrd_ri_options *opt, double beta, double t, gravrd_ri_result **out,
                     gravrd_error *err)
{
    *out = NULL;
    if (d->k > 64)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "randomization inference handles at most 64 regressors");
    const long B = opt->reps;
    gravrd_ri_result *r = calloc(1, sizeof *r);
    if (!r || !(r->placebo_coef_B = malloc((size_t)B * sizeof(double))) ||
        !(r->placebo_t_B = malloc((size_t)B * sizeof(double))) ||
        !(r->placebo_x_B = malloc((size_t)B * sizeof(double)))) {
        ri_result_free(r);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory for %ld reassignments", B);
    }
    r->reps = B;
    r->seed = opt->seed;
    snprintf(r->label, sizeof r->label, "%s", opt->label ? opt->label : "");
    const int threads = d->threads > 1 ? d->threads : 1;
    long failed_draw = -1;
    int failed_kind = 0;
#pragma omp parallel num_threads(threads) if (threads > 1 && B > 1)
    {
        ri_work w = {0};
        int ok = work_alloc(&w, d) == 0;
#pragma omp for schedule(dynamic, 8)
        for (long b = 0; b < B; b++) {
            int rc = ok ? refit(d, opt, &w, b, &r->placebo_coef_B[b], &r->placebo_t_B[b], &r->placebo_x_B[b]) : 3;
            if (rc) {
#pragma omp critical(ri_failure)
                if (failed_draw < 0 || b < failed_draw) {
                    failed_draw = b;
                    failed_kind = rc;
                }
            }
        }
        work_free(&w);
    }
    if (failed_draw >= 0) {
        ri_result_free(r);
        if (failed_kind == 1)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "randomization inference: reassignment %ld could not be "
                                                             "drawn",
                                    failed_draw + 1);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "randomization inference: out of memory or no convergence "
                                                       "refitting reassignment %ld",
                                failed_draw + 1);
    }
    /* |placebo| >= |actual| to a relative 1e-9 counts (an identical
     * reassignment reproduces the estimate up to rounding). */
    long ge_coef = 0, ge_t = 0;
    for (long b = 0; b < B; b++) {
        if (fabs(r->placebo_coef_B[b]) >= fabs(beta) * (1 - 1e-9))
            ge_coef++;
        if (fabs(r->placebo_t_B[b]) >= fabs(t) * (1 - 1e-9))
            ge_t++;
    }
    r->p = (double)(1 + ge_coef) / (double)(1 + B);
    r->p_t = (double)(1 + ge_t) / (double)(1 + B);
    /* the scale of the search: the spread of the placebo estimates */
    double m = 0, sd = 0;
    long cnt = 0;
    for (long b = 0; b < B; b++)
        if (isfinite(r->placebo_coef_B[b])) {
            m += r->placebo_coef_B[b];
            cnt++;
        }
    m = cnt ? m / (double)cnt : 0;
    for (long b = 0; b < B; b++)
        if (isfinite(r->placebo_coef_B[b]))
            sd += (r->placebo_coef_B[b] - m) * (r->placebo_coef_B[b] - m);
    sd = cnt > 1 ? sqrt(sd / (double)(cnt - 1)) : fabs(beta) + 1;
    ri_null null = {r, beta};
    r->ci_lo = invert_test_end(ri_pvalue_at, &null, beta, sd, 0.05, -1.0);
    r->ci_hi = invert_test_end(ri_pvalue_at, &null, beta, sd, 0.05, 1.0);
    *out = r;
    return GRAVRD_OK;
}
