/* wildboot.h - the fast wild cluster bootstrap (WCR/WCU) of least squares
 * with fixed effects, on the demeaned problem the solver has just fitted. */
#ifndef GRAVRD_WILDBOOT_H
#define GRAVRD_WILDBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/boot.h"
#include "gravrd/error.h"

/* The fitted problem, borrowed (must outlive the wildboot): X_NK and the
 * outcome are already demeaned by the FE (the solver's own arrays), so no
 * FE problem is solved again; the FE codes are needed only for the part of
 * the bootstrap residuals that the FE take back from r * v when an FE is
 * not nested in the clusters (docs/inference.md). */
typedef struct {
    size_t n;
    int k;
    const double *X_NK;          /* demeaned kept regressors, column-major n x k */
    const double *bread_KK;      /* (X'X)^-1, row-major */
    double vcov_scale;           /* c in V = c bread meat bread (small-sample factors) */
    const int32_t *cluster_N;    /* 0..G-1 */
    int32_t G;
    int n_fe;
    const int32_t *const *fe_QN; /* 0..fe_levels_Q[q]-1; read by wildboot_new only */
    const int32_t *fe_levels_Q;
    int threads;
} wildboot_design;

typedef struct wildboot wildboot;

/* Prepares the bootstrap of a design: the weights' layout, the cluster
 * order, and when some FE is not nested in the clusters the projection on
 * those FE (a dense pseudo-inverse per connected block of their levels;
 * an error naming the limit if they have more than WILDBOOT_MAX_LEVELS). */
#define WILDBOOT_MAX_LEVELS 4096
gravrd_status wildboot_new(const wildboot_design *d, const gravrd_boot_options *opt, wildboot **out,
                           gravrd_error *err);
void wildboot_free(wildboot *wb);

/* One coefficient's bootstrap distribution for outcome y_N (demeaned),
 * kept until the next call: *t_stat of the sample at b0 = 0 is not needed
 * from the caller; beta and se are the fitted coefficient and its reported
 * standard error (se = sqrt(V_aa)). */
gravrd_status wildboot_coef(wildboot *wb, const double *y_N, int coef, double beta, double se, gravrd_error *err);

/* The p-value of H0: b = b0 from the last wildboot_coef. */
double wildboot_pvalue(const wildboot *wb, double b0);

/* Fills out (p at b0 = 0, interval by test inversion at opt->level) from
 * the last wildboot_coef. */
gravrd_status wildboot_result(const wildboot *wb, gravrd_boot_result *out, gravrd_error *err);

#endif
