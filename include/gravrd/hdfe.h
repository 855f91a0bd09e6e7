/* gravrd/hdfe.h - high-dimensional fixed effects: structure, singletons and
 * demeaning (projection of variables on the orthogonal complement of the FE
 * dummies). See docs/algorithms.md for the solver and its tolerance. */
#ifndef GRAVRD_HDFE_H
#define GRAVRD_HDFE_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default convergence tolerance of the demeaning solver: iteration stops when,
 * for every variable, every FE group mean of the demeaned variable is at most
 * tol times the variable's standard deviation in absolute value. */
#define GRAVRD_DEMEAN_TOL 1e-10
#define GRAVRD_DEMEAN_MAXITER 100000

/* Marks singleton observations (alone in a level of some FE) for removal,
 * repeatedly until none is left, as reghdfe does. keep_N: in/out, rows with
 * keep_N[i]==0 are ignored and stay 0 (their codes may be -1). The number of
 * rows dropped goes to *n_dropped. */
gravrd_status gravrd_fe_drop_singletons(int n_fe, size_t n_obs, const int32_t *const *codes_QN,
                                        uint8_t *keep_N, size_t *n_dropped, gravrd_error *err);

/* The same, for codes known to lie in 0..n_levels_Q[q]-1 on the kept rows:
 * skips the pass that looks for the largest code. */
gravrd_status gravrd_fe_drop_singletons_levels(int n_fe, size_t n_obs, const int32_t *const *codes_QN,
                                               const int32_t *n_levels_Q, uint8_t *keep_N, size_t *n_dropped,
                                               gravrd_error *err);

typedef struct gravrd_fe gravrd_fe;

/* Builds the FE structure for n_obs rows. codes_QN[q][i] must be >= 0 (drop
 * missing rows first); levels are compacted (unused levels removed). The
 * codes are copied. */
gravrd_status gravrd_fe_create(int n_fe, size_t n_obs, const int32_t *const *codes_QN, gravrd_fe **out,
                               gravrd_error *err);
void gravrd_fe_free(gravrd_fe *fe);
int gravrd_fe_count(const gravrd_fe *fe);
int32_t gravrd_fe_levels(const gravrd_fe *fe, int q);
size_t gravrd_fe_nobs(const gravrd_fe *fe);

/* Read-only access to the compacted codes of FE q (n_obs long). */
const int32_t *gravrd_fe_codes(const gravrd_fe *fe, int q);

/* Number of connected components of the bipartite graph of FE 0 and FE 1
 * (levels linked by the observations they share); 1 when there are fewer
 * than two FE. reghdfe counts these as redundant FE coefficients. */
long gravrd_fe_components(const gravrd_fe *fe);
/* The same for FE qa and qb (1 when they are the same or out of range;
 * -1 when out of memory). */
long gravrd_fe_pair_components(const gravrd_fe *fe, int qa, int qb);

/* 1 if every level of an FE (codes 0..n_levels-1 over n rows) lies in a
 * single cluster (cluster codes over the same rows), 0 if not, -1 when out
 * of memory. Shared by the degrees of freedom and the wild bootstrap. */
int gravrd_fe_nested_in(const int32_t *fe_N, int32_t n_levels, const int32_t *cluster_N, size_t n);

typedef struct {
    double tol;        /* 0 = GRAVRD_DEMEAN_TOL */
    int max_iter;      /* 0 = GRAVRD_DEMEAN_MAXITER */
    int threads;       /* 0 or 1 = one thread; results do not depend on it */
} gravrd_demean_options;

typedef struct {
    int iterations;    /* largest number of iterations over the variables */
} gravrd_demean_report;

/* Demeans n_vars columns in place: cols_NK is column-major, n_obs x n_vars.
 * Returns GRAVRD_ERR_CONVERGENCE (and leaves the columns undefined) when the
 * tolerance is not reached within max_iter iterations. */
gravrd_status gravrd_demean(const gravrd_fe *fe, double *cols_NK, int n_vars, const gravrd_demean_options *opt,
                            gravrd_demean_report *report, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
