/* ols.h - least squares on one estimation sample, for one or more outcomes
 * sharing the same rows: demeaning, collinearity, coefficients, fit
 * statistics and variance. */
#ifndef GRAVRD_OLS_H
#define GRAVRD_OLS_H

#include "gravrd/vcov.h"
#include "model_data.h"

/* Observation-level quantities of a collapsed fit (collapse.c): md holds one
 * row per cell (pair) with cell means of the outcomes, every row kept, and
 * ols_fit_sample reports the statistics of the original n_obs-row
 * regression, each cell standing for `weight` rows whose outcome deviations
 * from the cell mean, after the projection, are summarised below. */
typedef struct {
    size_t n_obs;               /* rows of the original sample */
    double weight;              /* rows per cell (months) */
    uint64_t sample_hash;       /* of the original rows */
    const int32_t *fe_levels_Q; /* FE levels of the original problem */
    const uint8_t *interacted_Q;/* FE interacted with the month: a pair of them has T copies
                                   of the cell-level graph (its components times weight) */
    const double *tss_J;        /* total sum of squares of each outcome, original rows */
    const double *within_ss_J;  /* residual sum of squares of the within-cell part */
    const double *within_ss_JP; /* the same per cell, n_out x cells */
    const size_t *first_row_P;  /* frame row of each cell's first row */
} ols_collapse;

/* A hash of the indices of the kept rows (gravrd_reg_result.sample_hash):
 * from OLS_HASH_SEED, one ols_hash_step per kept row in order (inline so a
 * pass over the rows can fold it in). */
#define OLS_HASH_SEED 1469598103934665603ULL
static inline uint64_t ols_hash_step(uint64_t h, size_t i)
{
    /* FNV-style over whole 64-bit indices (one multiply per row, not eight:
     * byte-wise FNV cost as much as a demeaning sweep on a million rows);
     * only compared within one process (gravrd_suest_difference). */
    h ^= (uint64_t)i;
    h *= 1099511628211ULL;
    return h ^ (h >> 29);
}
uint64_t ols_sample_hash(const uint8_t *keep_N, size_t N);

/* What the variance of a fit needs beyond its regressors and residuals:
 * the sizes (n rows fitted, nobs original rows, each fitted row standing
 * for wt rows), the clustering, the kind and the parameter counts. */
typedef struct {
    size_t n, nobs;
    int k;
    double wt;
    int n_cluster;
    gravrd_cluster_dim dims[4];
    int32_t g_min;
    gravrd_vcov_type vcov;
    long K_all, K_vcov;
    const double *within_ss_P; /* collapsed: the within-cell squared residuals per cell, else NULL */
} ols_var_spec;

/* V (k x k, row-major) and the degrees of freedom of the t-tests, for
 * demeaned regressors X (column-major n x k) with bread (X'X)^-1, fitted
 * residuals resid and rss the residual sum of squares of the original
 * rows (ols_variance.c). */
gravrd_status ols_variance(const ols_var_spec *vs, const double *X, const double *bread, const double *resid,
                           double rss, double *V, double *t_df, gravrd_error *err);

/* Tries the collapse of collapse.c; when its conditions do not all hold,
 * fits with ols_fit_sample on the original rows. Same contract as
 * ols_fit_sample. keep_cache: the cache that owns keep_N (and md's inputs),
 * which then also keeps the sample's panel structure for later models; NULL
 * when keep_N is the caller's. */
gravrd_status ols_fit_auto(const model_data *md, const uint8_t *keep_N, gravrd_reg_cache *keep_cache,
                           const int *outcome_J, int n_out, int intercept, const gravrd_reg_options *opt,
                           gravrd_reg_result *results_J, gravrd_error *err);

/* Fits outcomes outcome_J[0..n_out-1] of md on the rows with keep_N[i] != 0,
 * filling results_J[j] (caller zero-initialises; strings it sets are
 * malloc'ed). cz: NULL, or the collapsed problem's original statistics. */
gravrd_status ols_fit_sample(const model_data *md, const uint8_t *keep_N, const int *outcome_J, int n_out,
                             int intercept, const gravrd_reg_options *opt, const ols_collapse *cz,
                             gravrd_reg_result *results_J, gravrd_error *err);

#endif
