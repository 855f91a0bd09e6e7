/* rd_internal.h - the pieces of the local polynomial RD shared by the
 * estimator (rd.c) and the bandwidth selector (bandwidth.c). Fits are done
 * in scaled units u = (x - cutoff) / s, s the fit's bandwidth, so that
 * polynomials up to order GRAVRD_RD_MAX_ORDER stay well conditioned; the
 * coefficient on (x - cutoff)^j is gamma_j / s^j. */
#ifndef GRAVRD_RD_INTERNAL_H
#define GRAVRD_RD_INTERNAL_H

#include "gravrd/rd.h"

#define RD_K_MAX (GRAVRD_RD_MAX_ORDER + 2)

/* Rows of one side (+1: x >= cutoff, -1: x < cutoff) whose weight
 * K((x - cutoff)/h) * weight is positive. */
typedef struct {
    size_t m;
    size_t *idx;     /* rows of the data */
    double *u;       /* (x - cutoff) / h */
    double *kw;      /* K(u) * weight */
} rd_window;

gravrd_status rd_window_build(const gravrd_rd_data *d, int side, double h, gravrd_kernel kernel, rd_window *w,
                              gravrd_error *err);
void rd_window_free(rd_window *w);

/* Number of distinct x among the window's rows with positive kw. */
size_t rd_window_distinct(const gravrd_rd_data *d, const rd_window *w, const double *kw);

/* Weighted least squares of y[idx] on u^j, j < k, with weights kw (m
 * long, zeros allowed): Ginv (k x k, row-major) = (T'WT)^-1 and gamma.
 * Returns non-zero if T'WT is not positive definite. */
int rd_polyfit(const gravrd_rd_data *d, const rd_window *w, const double *u, const double *kw, int k, double *Ginv,
               double *gamma);

/* Sandwich variance Ginv * M * Ginv times the CR1 factor
 * (m-1)/(m-k_df) * G/(G-1) (G clusters among the rows) or the HC1 factor
 * m/(m-k_df) without clusters. M = sum over clusters of s_g s_g', s_g =
 * sum_{i in g} S_i res_i, S (m x k column-major) the score design (weights
 * included). *n_clusters receives G. */
gravrd_status rd_sandwich(const gravrd_rd_data *d, const rd_window *w, const double *S, int k, const double *res,
                          const double *Ginv, int k_df, double *V, size_t *n_clusters, gravrd_error *err);

#endif
