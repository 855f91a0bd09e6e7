/* gravrd/vcov.h - variance estimators for least squares on demeaned data:
 * iid, heteroskedasticity-robust (HC1-style) and multi-way cluster-robust
 * (Cameron-Gelbach-Miller), with the small-sample factors applied by the
 * caller-chosen rule (see gravrd_ssc_rule in estimate.h and docs/inference.md). */
#ifndef GRAVRD_VCOV_H
#define GRAVRD_VCOV_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One clustering dimension: codes 0..n_groups-1 for every observation. */
typedef struct {
    const int32_t *code_N;
    int32_t n_groups;
} gravrd_cluster_dim;

/* Sandwich "meat" for one clustering: sum over groups of s_g s_g', where
 * s_g = sum_{i in g} x_i e_i. X_NK is column-major n x k. meat_KK (k x k,
 * row-major) is overwritten. With code_N == NULL every observation is its
 * own group (the heteroskedasticity-robust meat). */
gravrd_status gravrd_vcov_meat(const double *X_NK, size_t n, int k, const double *resid_N, const int32_t *code_N,
                               int32_t n_groups, double *meat_KK, gravrd_error *err);

/* Multi-way cluster-robust variance by inclusion-exclusion over all
 * non-empty subsets S of the dims (the clustering of S is the intersection
 * of its dims), each term weighted by G_S/(G_S - 1), where G_S is the
 * number of groups of S, or, when use_min_g, the smallest number of groups
 * among the original dims (fixest's cluster.df = "min"). The result,
 * bread * meat * bread, is written to V_KK; no (n-1)/(n-K) factor is
 * applied here. */
gravrd_status gravrd_vcov_cluster(const double *X_NK, size_t n, int k, const double *resid_N,
                                  const double *bread_KK, const gravrd_cluster_dim *dims, int n_dims, int use_min_g,
                                  double *V_KK, gravrd_error *err);

/* V = bread * meat * bread (all k x k row-major). */
void gravrd_sandwich(const double *bread_KK, const double *meat_KK, int k, double *V_KK);

#ifdef __cplusplus
}
#endif
#endif
