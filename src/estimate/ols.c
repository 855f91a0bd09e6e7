/* ols.c - least squares with fixed effects on one sample (see ols.h).
 *
 * Degrees of freedom follow fixest's defaults (docs/inference.md):
 *   K = kept coefficients + sum of FE levels - (number of FE - 1),
 * adjusted R2 = 1 - (1 - R2)(n - 1)/(n - K); for clustered variances the FE
 * whose levels are nested in a cluster variable are not counted in K. Under
 * --ssc stata (reghdfe) the redundant FE coefficients are counted exactly
 * for the first two FE (their connected components). */
#include "ols.h"

#include "gravrd/hdfe.h"
#include "gravrd/vcov.h"
#include "inference/wald.h"
#include "inference/wildboot.h"
#include "ri.h"
#include "linalg.h"
#include "util/strutil.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A regressor whose within-FE variation is below this share of its total
 * variation, or whose part not explained by the previous regressors is below
 * this share of its own, is dropped as collinear (fixest's collin.tol). */
#define COLLINEAR_TOL 1e-10

/* Dense 0..G-1 codes of the rows kept; returns G or -1 on no memory. */
static int32_t compact_codes(const int32_t *code_N, size_t N, const uint8_t *keep_N, int32_t n_groups,
                             int32_t *out_n)
{
    int32_t *map = malloc(((size_t)n_groups + 1) * sizeof *map);
    if (!map)
        return -1;
    for (int32_t g = 0; g < n_groups; g++)
        map[g] = -1;
    int32_t G = 0;
    size_t j = 0;
    for (size_t i = 0; i < N; i++) {
        if (!keep_N[i])
            continue;
        int32_t c = code_N[i];
        if (map[c] < 0)
            map[c] = G++;
        out_n[j++] = map[c];
    }
    free(map);
    return G;
}

/* 1 if every level of fe_n maps to a single cluster group (out of memory
 * counts as not nested, as before: the FE is then counted in full). */
static int fe_nested_in(const int32_t *fe_n, int32_t n_levels, const int32_t *cl_n, size_t n)
{
    return gravrd_fe_nested_in(fe_n, n_levels, cl_n, n) == 1;
}

/* dst[0..] = src[i] for the kept rows i <= last (the last kept row), in
 * order. Branch-free: every row is stored at the next free slot, which
 * advances only for kept rows; no slot beyond the last kept one is touched
 * (before row last, at most n - 1 kept rows are counted). */
static void gather_rows(double *restrict dst, const double *restrict src, const uint8_t *restrict keep_N,
                        size_t last)
{
    size_t r = 0;
    for (size_t i = 0; i <= last; i++) {
        dst[r] = src[i];
        r += keep_N[i] != 0;
    }
}

uint64_t ols_sample_hash(const uint8_t *keep_N, size_t N)
{
    uint64_t h = OLS_HASH_SEED;
    for (size_t i = 0; i < N; i++)
        if (keep_N[i])
            h = ols_hash_step(h, i);
    return h;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    size_t n;
    int n_y, n_x;           /* outcomes, candidate regressors (incl. intercept) */
    double *y_orig;         /* n x n_y, column-major */
    double *data;           /* n x (n_y + n_x): demeaned outcomes then regressors */
    int32_t **fe_q;         /* compacted sample codes (borrowed from md when fe_borrowed) */
    int fe_borrowed;        /* whole frame used: fe_q points into md, y_orig too */
    int32_t **cl_c;
    int32_t *cl_groups;
    gravrd_fe *fe;
    int n_fe, n_cl;
} sample_work;

static void sample_work_free(sample_work *w)
{
    if (!w->fe_borrowed)
        free(w->y_orig);
    free(w->data);
    if (w->fe_q && !w->fe_borrowed)
        for (int q = 0; q < w->n_fe; q++)
            free(w->fe_q[q]);
    free(w->fe_q);
    if (w->cl_c)
        for (int c = 0; c < w->n_cl; c++)
            free(w->cl_c[c]);
    free(w->cl_c);
    free(w->cl_groups);
    gravrd_fe_free(w->fe);
}

/* The FE parameters reghdfe counts (DoF.mata, the default dof(all), FE
 * without slopes), in the order the FE are given:
 *   - with clustering, an FE nested in a cluster variable is wholly
 *     redundant (df_a_nested collects its levels) and leaves the list;
 *   - of the FE left, every one but the first has at least one redundant
 *     level, and the first too when some FE was nested;
 *   - for every pair i < j of the FE left, FE j has at least as many
 *     redundant levels as the pair's connected components (mobility
 *     groups): exact for the first pair, a lower bound beyond;
 *   - df_a = sum over the FE left of levels - redundant.
 * Under a collapse the levels are the original ones and a pair of FE both
 * interacted with the month has T copies of the cell-level graph. */
static gravrd_status stata_fe_dof(const sample_work *w, const model_data *md, const ols_collapse *cz,
                                  int clustered, long *df_a, long *df_a_nested, gravrd_error *err)
{
    const int Q = md->n_fe;
    int *left = malloc(((size_t)Q + 1) * sizeof *left), n_left = 0;
    long *redundant = calloc((size_t)Q + 1, sizeof *redundant);
    if (!left || !redundant) {
        free(left);
        free(redundant);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory counting the fixed effects");
    }
    *df_a = *df_a_nested = 0;
    for (int q = 0; q < Q; q++) {
        long levels = cz ? cz->fe_levels_Q[q] : gravrd_fe_levels(w->fe, q);
        int nested = 0;
        for (int c = 0; clustered && c < md->n_cluster && !nested; c++)
            nested = fe_nested_in(gravrd_fe_codes(w->fe, q), gravrd_fe_levels(w->fe, q), w->cl_c[c], w->n);
        if (nested)
            *df_a_nested += levels;
        else
            left[n_left++] = q;
    }
    for (int i = 0; i < n_left; i++)
        redundant[i] = i > 0 || *df_a_nested > 0 ? 1 : 0;
    for (int i = 0; i < n_left; i++)
        for (int j = i + 1; j < n_left; j++) {
            long m = gravrd_fe_pair_components(w->fe, left[i], left[j]);
            if (m < 0) {
                free(left);
                free(redundant);
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory counting the fixed effects");
            }
            if (cz && cz->interacted_Q[left[i]] && cz->interacted_Q[left[j]])
                m *= (long)cz->weight;
            if (m > redundant[j])
                redundant[j] = m;
        }
    for (int i = 0; i < n_left; i++)
        *df_a += (cz ? cz->fe_levels_Q[left[i]] : gravrd_fe_levels(w->fe, left[i])) - redundant[i];
    free(left);
    free(redundant);
    return GRAVRD_OK;
}

/* The wild cluster bootstrap of the coefficients of one result that
 * opt->boot.params names (every kept one when NULL), on the demeaned problem
 * just fitted; y_N is the demeaned outcome. A name that is not a kept
 * coefficient is an error naming it and the coefficients there are. */
static gravrd_status bootstrap_coefs(wildboot *wb, const gravrd_reg_options *opt, const double *y_N,
                                     gravrd_reg_result *res, gravrd_error *err)
{
    const int k = res->n_coef;
    char *want = calloc((size_t)k + 1, 1);
    if (!want)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the wild bootstrap");
    gravrd_status st = GRAVRD_OK;
    if (!opt->boot.params) {
        memset(want, 1, (size_t)k);
    } else {
        const char *p = opt->boot.params;
        while (*p) {
            while (*p == ' ' || *p == ',')
                p++;
            const char *e = p;
            while (*e && *e != ',')
                e++;
            size_t len = (size_t)(e - p);
            while (len > 0 && p[len - 1] == ' ')
                len--;
            if (len == 0) {
                p = e;
                continue;
            }
            int found = -1;
            for (int a = 0; a < k; a++)
                if (strlen(res->coefs[a].name) == len && !strncmp(res->coefs[a].name, p, len))
                    found = a;
            if (found < 0) {
                char names[512] = "";
                for (int a = 0; a < k && strlen(names) < sizeof names - 80; a++) {
                    strcat(names, a ? ", " : "");
                    strncat(names, res->coefs[a].name, sizeof names - strlen(names) - 1);
                }
                st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                      "--boot-param: '%.*s' is not a coefficient of the model (its "
                                      "coefficients: %s)",
                                      (int)len, p, names);
                goto done;
            }
            want[found] = 1;
            p = e;
        }
    }
    for (int a = 0; a < k; a++) {
        if (!want[a])
            continue;
        gravrd_coef *cf = &res->coefs[a];
        if (!(cf->boot = calloc(1, sizeof *cf->boot))) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the wild bootstrap");
            goto done;
        }
        if ((st = wildboot_coef(wb, y_N, a, cf->estimate, cf->se, err)) ||
            (st = wildboot_result(wb, cf->boot, err)))
            goto done;
    }
done:
    free(want);
    return st;
}

gravrd_status ols_fit_sample(const model_data *md, const uint8_t *keep_N, const int *outcome_J, int n_out,
                             int intercept, const gravrd_reg_options *opt, const ols_collapse *cz,
                             gravrd_reg_result *results_J, gravrd_error *err)
{
    double t_start = now_seconds();
    const size_t N = md->n_rows;
    gravrd_status st = GRAVRD_OK;
    sample_work w = {0};
    int *kept_K = NULL;
    double *xtx = NULL, *bread = NULL, *xty = NULL, *Xk = NULL, *resid = NULL, *V = NULL, *beta = NULL;
    wildboot *wb = NULL;
    size_t *ri_rows = NULL;
    w.n_fe = md->n_fe;
    w.n_cl = md->n_cluster;
    if (md->n_fe > 0)
        intercept = 0;
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        n += keep_N[i] != 0;
    if (n == 0)
        return gravrd_error_set(err, GRAVRD_ERR_EMPTY, "the estimation sample is empty");
    w.n = n;
    w.n_y = n_out;
    w.n_x = md->n_terms + (intercept ? 1 : 0);
    const int n_y = w.n_y, n_x = w.n_x, n_cols = n_y + n_x;

    /* When every row is used (balanced panels, the common case on big
     * data), the outcomes and FE codes are read from md instead of copied:
     * on a million rows each copy costs as much as a demeaning iteration,
     * mostly in page faults. gravrd_fe_create compacts the codes itself. */
    const int whole = n == N;
    w.fe_borrowed = whole;
    w.y_orig = whole ? NULL : malloc(n * (size_t)n_y * sizeof(double));
    w.data = malloc(n * (size_t)n_cols * sizeof(double));
    w.fe_q = calloc((size_t)md->n_fe + 1, sizeof *w.fe_q);
    w.cl_c = calloc((size_t)md->n_cluster + 1, sizeof *w.cl_c);
    w.cl_groups = calloc((size_t)md->n_cluster + 1, sizeof *w.cl_groups);
    if ((!whole && !w.y_orig) || !w.data || !w.fe_q || !w.cl_c || !w.cl_groups)
        goto nomem;
    size_t last = N - 1; /* the last kept row */
    while (!keep_N[last])
        last--;
    for (int j = 0; j < n_y; j++) {
        const double *src = md->outcome_ON[outcome_J[j]];
        if (whole) {
            memcpy(w.data + (size_t)j * n, src, n * sizeof(double));
            continue;
        }
        double *dst = w.y_orig + (size_t)j * n;
        gather_rows(dst, src, keep_N, last);
        memcpy(w.data + (size_t)j * n, dst, n * sizeof(double));
    }
    for (int t = 0; t < n_x; t++) {
        double *dst = w.data + (size_t)(n_y + t) * n;
        if (intercept && t == 0) {
            for (size_t r = 0; r < n; r++)
                dst[r] = 1.0;
            continue;
        }
        const double *src = md->term_KN[t - (intercept ? 1 : 0)];
        if (whole) {
            memcpy(dst, src, n * sizeof(double));
            continue;
        }
        gather_rows(dst, src, keep_N, last);
    }
    for (int q = 0; q < md->n_fe; q++) {
        if (whole) {
            w.fe_q[q] = md->fe_QN[q];
            continue;
        }
        if (!(w.fe_q[q] = malloc(n * sizeof(int32_t))))
            goto nomem;
        if (compact_codes(md->fe_QN[q], N, keep_N, md->fe_groups_Q[q], w.fe_q[q]) < 0)
            goto nomem;
    }
    for (int c = 0; c < md->n_cluster; c++) {
        if (!(w.cl_c[c] = malloc(n * sizeof(int32_t))))
            goto nomem;
        if ((w.cl_groups[c] = compact_codes(md->cluster_CN[c], N, keep_N, md->cluster_groups_C[c], w.cl_c[c])) < 0)
            goto nomem;
        if (w.cl_groups[c] < 2) {
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                  "cluster variable '%s' has only one level in the estimation sample; "
                                  "clustered standard errors need at least two clusters",
                                  md->cluster_names[c]);
            goto fail;
        }
    }

    /* Total sums of squares (before demeaning) for R2 and for the test of
     * regressors absorbed by the fixed effects. */
    double *ss_orig = calloc((size_t)n_cols, sizeof *ss_orig);
    if (!ss_orig)
        goto nomem;
    for (int c = 0; c < n_cols; c++) {
        const double *v = w.data + (size_t)c * n;
        double mean = 0, ss = 0;
        for (size_t r = 0; r < n; r++)
            mean += v[r];
        mean /= (double)n;
        for (size_t r = 0; r < n; r++)
            ss += (v[r] - mean) * (v[r] - mean);
        ss_orig[c] = ss;
    }

    int iterations = 0;
    if (md->n_fe > 0) {
        if ((st = gravrd_fe_create(md->n_fe, n, (const int32_t *const *)w.fe_q, &w.fe, err))) {
            free(ss_orig);
            goto fail;
        }
        gravrd_demean_options dopt = {opt->tol, opt->max_iter, opt->threads};
        gravrd_demean_report rep = {0};
        if ((st = gravrd_demean(w.fe, w.data, n_cols, &dopt, &rep, err))) {
            free(ss_orig);
            goto fail;
        }
        iterations = rep.iterations;
    }

    /* Collinearity: sequential Cholesky of X'X in formula order. */
    xtx = calloc((size_t)n_x * (size_t)n_x + 1, sizeof *xtx);
    kept_K = calloc((size_t)n_x + 1, sizeof *kept_K);
    if (!xtx || !kept_K) {
        free(ss_orig);
        goto nomem;
    }
    const double *X = w.data + (size_t)n_y * n;
    for (int a = 0; a < n_x; a++)
        for (int b = 0; b <= a; b++) {
            double s = 0;
            const double *xa = X + (size_t)a * n, *xb = X + (size_t)b * n;
            for (size_t r = 0; r < n; r++)
                s += xa[r] * xb[r];
            xtx[a * n_x + b] = xtx[b * n_x + a] = s;
        }
    int k = 0;
    int n_collinear = 0, absorbed = 0;
    {
        double *Lc = calloc((size_t)n_x * (size_t)n_x + 1, sizeof *Lc);
        if (!Lc) {
            free(ss_orig);
            goto nomem;
        }
        for (int j = 0; j < n_x; j++) {
            double d = xtx[j * n_x + j];
            int is_intercept = intercept && j == 0;
            int drop = 0;
            if (!is_intercept && md->n_fe > 0 && !(d > COLLINEAR_TOL * ss_orig[n_y + j]))
                drop = absorbed = 1; /* constant within the fixed effects */
            if (!is_intercept && md->n_fe == 0 && !(ss_orig[n_y + j] > 0) && intercept)
                drop = 1;            /* constant, collinear with the intercept */
            if (!drop) {
                /* Row j of the Cholesky factor restricted to kept columns. */
                double rem = d;
                for (int m = 0; m < k; m++) {
                    int cm = kept_K[m];
                    double s = xtx[j * n_x + cm];
                    for (int l = 0; l < m; l++)
                        s -= Lc[j * n_x + l] * Lc[cm * n_x + l];
                    Lc[j * n_x + m] = s / Lc[cm * n_x + m];
                    rem -= Lc[j * n_x + m] * Lc[j * n_x + m];
                }
                if (!(rem > COLLINEAR_TOL * d))
                    drop = 1;
                else
                    Lc[j * n_x + k] = sqrt(rem);
            }
            if (drop) {
                n_collinear++;
                continue;
            }
            /* Move row j's factor to slot k's row index: kept_K[k] = j keeps
             * Lc indexed by original column for rows, by kept position for cols. */
            kept_K[k++] = j;
        }
        free(Lc);
    }
    free(ss_orig);
    if (k == 0 && n_x > 0) {
        st = gravrd_error_set(err, GRAVRD_ERR_COLLINEAR,
                              absorbed ? "all regressors are collinear with the fixed effects; nothing to estimate"
                                       : "all regressors are collinear; nothing to estimate");
        goto fail;
    }

    bread = calloc((size_t)k * (size_t)k + 1, sizeof *bread);
    xty = calloc((size_t)k + 1, sizeof *xty);
    /* The kept regressors: X itself unless some were dropped as collinear. */
    const int all_kept = k == n_x;
    const double *XK = X;
    if (!all_kept)
        XK = Xk = malloc(n * ((size_t)k + 1) * sizeof *Xk);
    resid = malloc(n * sizeof *resid);
    V = calloc((size_t)k * (size_t)k + 1, sizeof *V);
    beta = calloc((size_t)k + 1, sizeof *beta);
    if (!bread || !xty || !XK || !resid || !V || !beta)
        goto nomem;
    for (int a = 0; a < k; a++) {
        if (!all_kept)
            memcpy(Xk + (size_t)a * n, X + (size_t)kept_K[a] * n, n * sizeof(double));
        for (int b = 0; b < k; b++)
            bread[a * k + b] = xtx[kept_K[a] * n_x + kept_K[b]];
    }
    if (linalg_spd_inverse(bread, k) != 0) {
        st = gravrd_error_set(err, GRAVRD_ERR_NUMERIC, "X'X is not positive definite after removing collinear "
                                                       "regressors");
        goto fail;
    }

    /* Degrees of freedom (fixest: FE levels minus one reference per extra FE). */
    /* Under a collapse the FE levels and components are those of the
     * original problem (cz), not of the cell-level one. */
    const size_t nobs = cz ? cz->n_obs : n;
    const double wt = cz ? cz->weight : 1.0;
    int clustered = md->n_cluster > 0;
    long K_all, K_vcov;
    if (opt->ssc == GRAVRD_SSC_STATA && md->n_fe > 0) {
        long df_a = 0, df_a_nested = 0;
        if ((st = stata_fe_dof(&w, md, cz, clustered, &df_a, &df_a_nested, err)))
            goto fail;
        /* reghdfe (Regression.mata): the variance divides by N - df_m - df_a,
         * under clustering by N - 1 - df_m - df_a when some FE is nested (the
         * constant they absorb); adjusted R2 counts the nested levels too. */
        K_all = k + df_a + df_a_nested;
        K_vcov = k + df_a + (df_a_nested > 0);
    } else {
        /* fixest: FE levels minus one reference per extra FE. */
        long fe_params = 0;
        for (int q = 0; q < md->n_fe; q++)
            fe_params += cz ? cz->fe_levels_Q[q] : gravrd_fe_levels(w.fe, q);
        if (md->n_fe > 0)
            fe_params -= md->n_fe - 1;
        K_all = k + fe_params;
        K_vcov = K_all;
        if (clustered) {
            /* FE nested in a cluster variable are not counted, except for
             * one parameter each (their mean): fixef.K = "nested". */
            for (int q = 0; q < md->n_fe; q++)
                for (int c = 0; c < md->n_cluster; c++)
                    if (fe_nested_in(gravrd_fe_codes(w.fe, q), gravrd_fe_levels(w.fe, q), w.cl_c[c], n)) {
                        K_vcov -= (cz ? cz->fe_levels_Q[q] : gravrd_fe_levels(w.fe, q)) - 1;
                        break;
                    }
        }
    }
    int32_t g_min = 0;
    for (int c = 0; c < md->n_cluster; c++)
        if (c == 0 || w.cl_groups[c] < g_min)
            g_min = w.cl_groups[c];

    uint64_t sample_hash = cz ? cz->sample_hash : ols_sample_hash(keep_N, N);

    for (int j = 0; j < n_y; j++) {
        gravrd_reg_result *res = &results_J[j];
        res->sample_hash = sample_hash;
        const double *y = w.data + (size_t)j * n;
        const double *y0 = whole ? md->outcome_ON[outcome_J[j]] : w.y_orig + (size_t)j * n;
        for (int a = 0; a < k; a++) {
            double s = 0;
            const double *xa = XK + (size_t)a * n;
            for (size_t r = 0; r < n; r++)
                s += xa[r] * y[r];
            xty[a] = s;
        }
        for (int a = 0; a < k; a++) {
            double s = 0;
            for (int b = 0; b < k; b++)
                s += bread[a * k + b] * xty[b];
            beta[a] = s;
        }
        double rss = 0, tss = 0, tss_within = 0, mean = 0;
        for (size_t r = 0; r < n; r++) {
            double fit = 0;
            for (int a = 0; a < k; a++)
                fit += XK[(size_t)a * n + r] * beta[a];
            resid[r] = y[r] - fit;
            rss += resid[r] * resid[r];
            tss_within += y[r] * y[r];
            mean += y0[r];
        }
        mean /= (double)n;
        for (size_t r = 0; r < n; r++)
            tss += (y0[r] - mean) * (y0[r] - mean);
        if (cz) {
            /* Each cell stands for `weight` rows with the cell's residual
             * plus within-cell deviations that sum to zero over the cell. */
            rss = wt * rss + cz->within_ss_J[j];
            tss_within = wt * tss_within + cz->within_ss_J[j];
            tss = cz->tss_J[j];
        }
        if (!intercept && md->n_fe == 0) {
            tss = 0; /* R2 without a constant is uncentred, as in R's lm */
            for (size_t r = 0; r < n; r++)
                tss += y0[r] * y0[r];
        }
        if ((double)nobs - (double)K_all <= 0) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                                  "no residual degrees of freedom: %zu observations for %ld parameters", nobs,
                                  K_all);
            goto fail;
        }

        /* Variance */
        double t_df;
        ols_var_spec vs = {.n = n,
                           .nobs = nobs,
                           .k = k,
                           .wt = wt,
                           .n_cluster = md->n_cluster < 4 ? md->n_cluster : 4,
                           .g_min = g_min,
                           .vcov = opt->vcov,
                           .K_all = K_all,
                           .K_vcov = K_vcov,
                           .within_ss_P = cz ? cz->within_ss_JP + (size_t)j * n : NULL};
        for (int c = 0; c < vs.n_cluster; c++) {
            vs.dims[c].code_N = w.cl_c[c];
            vs.dims[c].n_groups = w.cl_groups[c];
        }
        if ((st = ols_variance(&vs, XK, bread, resid, rss, V, &t_df, err)))
            goto fail;
        if (clustered && opt->keep_scores && md->n_cluster == 1) {
            int32_t G = w.cl_groups[0];
            double adj = ((double)nobs - 1) / ((double)nobs - (double)K_vcov);
            res->scores = calloc((size_t)G * (size_t)k + 1, sizeof *res->scores);
            res->bread = malloc(((size_t)k * (size_t)k + 1) * sizeof *res->bread);
            if (!res->scores || !res->bread)
                goto nomem;
            for (int a = 0; a < k; a++)
                for (size_t r = 0; r < n; r++)
                    res->scores[(size_t)w.cl_c[0][r] * (size_t)k + (size_t)a] += XK[(size_t)a * n + r] * resid[r];
            if (cz)
                for (size_t g = 0; g < (size_t)G * (size_t)k; g++)
                    res->scores[g] *= wt;
            for (int a = 0; a < k * k; a++)
                res->bread[a] = bread[a] / wt;
            res->n_score_groups = G;
            res->vcov_scale = adj * (double)G / (double)(G - 1);
        }

        res->nobs = nobs;
        res->n_coef = k;
        res->coefs = calloc((size_t)k + 1, sizeof *res->coefs);
        res->vcov = malloc(((size_t)k * (size_t)k + 1) * sizeof *res->vcov);
        res->n_collinear = n_collinear;
        res->collinear = calloc((size_t)n_collinear + 1, sizeof *res->collinear);
        res->n_fe = md->n_fe;
        res->fe_names = calloc((size_t)md->n_fe + 1, sizeof *res->fe_names);
        res->fe_levels = calloc((size_t)md->n_fe + 1, sizeof *res->fe_levels);
        if (!res->coefs || !res->vcov || !res->collinear || !res->fe_names || !res->fe_levels)
            goto nomem;
        memcpy(res->vcov, V, (size_t)k * (size_t)k * sizeof *V);
        for (int q = 0; q < md->n_fe; q++) {
            if (!(res->fe_names[q] = gravrd_strdup(md->fe_names[q])))
                goto nomem;
            res->fe_levels[q] = cz ? cz->fe_levels_Q[q] : gravrd_fe_levels(w.fe, q);
        }
        for (int a = 0, m = 0, c = 0; a < n_x; a++) {
            const char *name = intercept && a == 0 ? "(Intercept)" : md->term_names[a - (intercept ? 1 : 0)];
            if (m < k && kept_K[m] == a) {
                gravrd_coef *cf = &res->coefs[m];
                if (!(cf->name = gravrd_strdup(name)))
                    goto nomem;
                cf->estimate = beta[m];
                cf->se = sqrt(V[m * k + m]);
                cf->t = cf->estimate / cf->se;
                cf->p = 2 * gsl_cdf_tdist_Q(fabs(cf->t), t_df);
                m++;
            } else if (!(res->collinear[c++] = gravrd_strdup(name))) {
                goto nomem;
            }
        }
        res->r2 = 1 - rss / tss;
        res->adj_r2 = 1 - (1 - res->r2) * ((double)nobs - (intercept || md->n_fe > 0 ? 1 : 0)) /
                              ((double)nobs - (double)K_all);
        res->within_r2 = md->n_fe > 0 ? 1 - rss / tss_within : NAN;
        res->rmse = sqrt(rss / (double)nobs);
        res->t_df = t_df;
        res->n_params = K_all;
        res->n_clusters_min = clustered ? (size_t)g_min : 0;
        res->iterations = iterations;

        /* Wald test of all coefficients except the intercept. */
        int first = intercept && k > 0 && kept_K[0] == 0 ? 1 : 0, kw = k - first;
        res->wald_df1 = kw;
        res->wald_df2 = t_df;
        res->wald_f = res->wald_p = NAN;
        if (kw > 0) {
            double *Vw = malloc((size_t)kw * (size_t)kw * sizeof *Vw), *bw = malloc((size_t)kw * sizeof *bw);
            if (!Vw || !bw) {
                free(Vw);
                free(bw);
                goto nomem;
            }
            for (int a = 0; a < kw; a++) {
                bw[a] = beta[first + a];
                for (int b = 0; b < kw; b++)
                    Vw[a * kw + b] = V[(first + a) * k + first + b];
            }
            int df1 = kw;
            double F = NAN;
            if (wald_test(bw, Vw, kw, &F, &df1) == 0) {
                res->wald_f = F;
                res->wald_df1 = df1;
                res->wald_p = gsl_cdf_fdist_Q(F, df1, t_df);
            }
            free(Vw);
            free(bw);
        }
        if (opt->ri.reps > 0) {
            /* The term reassigned, among the kept coefficients. */
            int term = -1;
            for (int a = 0; a < k; a++)
                if (!strcmp(res->coefs[a].name, opt->ri.term))
                    term = a;
            if (term < 0) {
                st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                      "--ri: '%s' is not an estimated coefficient of the model", opt->ri.term);
                goto fail;
            }
            if (!ri_rows) {
                if (!(ri_rows = malloc((n + 1) * sizeof *ri_rows)))
                    goto nomem;
                if (cz)
                    memcpy(ri_rows, cz->first_row_P, n * sizeof *ri_rows);
                else
                    for (size_t i = 0, r = 0; i < N; i++)
                        if (keep_N[i])
                            ri_rows[r++] = i;
            }
            ri_design rd = {.n = n,
                            .k = k,
                            .X_NK = XK,
                            .y_N = y,
                            .term = term,
                            .fe = md->n_fe > 0 ? w.fe : NULL,
                            .dopt = {opt->tol, opt->max_iter, 1},
                            .rows_N = ri_rows,
                            .vs = &vs,
                            .within_ss = cz ? cz->within_ss_J[j] : 0.0,
                            .threads = opt->threads};
            if ((st = ri_run(&rd, &opt->ri, res->coefs[term].estimate, res->coefs[term].t, &res->coefs[term].ri,
                             err)))
                goto fail;
        }
        if (opt->boot.method == GRAVRD_BOOT_WILD) {
            if (!clustered || md->n_cluster != 1) {
                st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                      "--boot wild needs one-way clustering (--cluster VAR): it draws one weight "
                                      "per cluster");
                goto fail;
            }
            if (!wb) {
                const int32_t *fe_codes[64];
                int32_t fe_levels[64];
                for (int q = 0; q < md->n_fe && q < 64; q++) {
                    fe_codes[q] = gravrd_fe_codes(w.fe, q);
                    fe_levels[q] = gravrd_fe_levels(w.fe, q);
                }
                int32_t G = w.cl_groups[0];
                wildboot_design d = {.n = n,
                                     .k = k,
                                     .X_NK = XK,
                                     .bread_KK = bread,
                                     .vcov_scale = ((double)nobs - 1) / ((double)nobs - (double)K_vcov) *
                                                   (double)G / (double)(G - 1),
                                     .cluster_N = w.cl_c[0],
                                     .G = G,
                                     .n_fe = md->n_fe,
                                     .fe_QN = fe_codes,
                                     .fe_levels_Q = fe_levels,
                                     .threads = opt->threads};
                if ((st = wildboot_new(&d, &opt->boot, &wb, err)))
                    goto fail;
            }
            if ((st = bootstrap_coefs(wb, opt, y, res, err)))
                goto fail;
        }
        res->seconds = now_seconds() - t_start;
    }
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory fitting the model on %zu rows", n);
fail:
done:
    wildboot_free(wb);
    free(ri_rows);
    sample_work_free(&w);
    free(kept_K);
    free(xtx);
    free(bread);
    free(xty);
    free(Xk);
    free(resid);
    free(V);
    free(beta);
    return st;
}
