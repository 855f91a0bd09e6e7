/* vcov.c - sandwich variance estimators: heteroskedasticity-robust and
 * multi-way cluster-robust (Cameron, Gelbach and Miller 2011). */
#include "gravrd/vcov.h"
#include "gravrd/data.h"

#include <stdlib.h>
#include <string.h>

gravrd_status gravrd_vcov_meat(const double *X_NK, size_t n, int k, const double *resid_N, const int32_t *code_N,
                               int32_t n_groups, double *meat_KK, gravrd_error *err)
{
    const size_t K = (size_t)k;
    memset(meat_KK, 0, K * K * sizeof *meat_KK);
    if (!code_N) {
        double *s = malloc(K * sizeof *s);
        if (!s)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory computing the variance");
        for (size_t i = 0; i < n; i++) {
            for (size_t a = 0; a < K; a++)
                s[a] = X_NK[a * n + i] * resid_N[i];
            for (size_t a = 0; a < K; a++)
                for (size_t b = 0; b <= a; b++)
                    meat_KK[a * K + b] += s[a] * s[b];
        }
        free(s);
    } else {
        double *score_GK = calloc((size_t)n_groups * K, sizeof *score_GK);
        if (!score_GK)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory computing cluster scores (%d clusters)",
                                    n_groups);
        for (size_t a = 0; a < K; a++) {
            const double *x = X_NK + a * n;
            for (size_t i = 0; i < n; i++)
                score_GK[(size_t)code_N[i] * K + a] += x[i] * resid_N[i];
        }
        for (int32_t g = 0; g < n_groups; g++) {
            const double *s = score_GK + (size_t)g * K;
            for (size_t a = 0; a < K; a++)
                for (size_t b = 0; b <= a; b++)
                    meat_KK[a * K + b] += s[a] * s[b];
        }
        free(score_GK);
    }
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < a; b++)
            meat_KK[b * K + a] = meat_KK[a * K + b];
    return GRAVRD_OK;
}

void gravrd_sandwich(const double *bread_KK, const double *meat_KK, int k, double *V_KK)
{
    const size_t K = (size_t)k;
    double *tmp = malloc(K * K * sizeof *tmp);
    if (!tmp) {
        for (size_t j = 0; j < K * K; j++)
            V_KK[j] = 0.0 / 0.0; /* NaN signals the failure downstream */
        return;
    }
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            double s = 0;
            for (size_t c = 0; c < K; c++)
                s += bread_KK[a * K + c] * meat_KK[c * K + b];
            tmp[a * K + b] = s;
        }
    for (size_t a = 0; a < K; a++)
        for (size_t b = 0; b < K; b++) {
            double s = 0;
            for (size_t c = 0; c < K; c++)
                s += tmp[a * K + c] * bread_KK[c * K + b];
            V_KK[a * K + b] = s;
        }
    free(tmp);
}

gravrd_status gravrd_vcov_cluster(const double *X_NK, size_t n, int k, const double *resid_N,
                                  const double *bread_KK, const gravrd_cluster_dim *dims, int n_dims, int use_min_g,
                                  double *V_KK, gravrd_error *err)
{
    const size_t K = (size_t)k;
    if (n_dims < 1 || n_dims > 4)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "between 1 and 4 clustering dimensions are supported, not %d",
                                n_dims);
    int32_t g_min = dims[0].n_groups;
    for (int d = 1; d < n_dims; d++)
        if (dims[d].n_groups < g_min)
            g_min = dims[d].n_groups;
    double *meat_KK = malloc(K * K * sizeof *meat_KK), *total_KK = calloc(K * K, sizeof *total_KK);
    int32_t *code_N = malloc(n * sizeof *code_N), *tmp_N = malloc(n * sizeof *tmp_N);
    gravrd_status st = GRAVRD_OK;
    if (!meat_KK || !total_KK || !code_N || !tmp_N) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory computing the clustered variance");
        goto done;
    }
    for (unsigned subset = 1; subset < (1u << n_dims); subset++) {
        int32_t n_groups = 0;
        int size = 0;
        for (int d = 0; d < n_dims; d++) {
            if (!(subset & (1u << d)))
                continue;
            if (size == 0) {
                memcpy(code_N, dims[d].code_N, n * sizeof *code_N);
                n_groups = dims[d].n_groups;
            } else {
                st = gravrd_codes_combine(code_N, n_groups, dims[d].code_N, dims[d].n_groups, n, tmp_N, &n_groups,
                                          err);
                if (st)
                    goto done;
                memcpy(code_N, tmp_N, n * sizeof *code_N);
            }
            size++;
        }
        st = gravrd_vcov_meat(X_NK, n, k, resid_N, code_N, n_groups, meat_KK, err);
        if (st)
            goto done;
        int32_t g = use_min_g ? g_min : n_groups;
        double weight = (size % 2 ? 1.0 : -1.0) * (g > 1 ? (double)g / (double)(g - 1) : 1.0);
        for (size_t j = 0; j < K * K; j++)
            total_KK[j] += weight * meat_KK[j];
    }
    gravrd_sandwich(bread_KK, total_KK, k, V_KK);
done:
    free(meat_KK);
    free(total_KK);
    free(code_N);
    free(tmp_N);
    return st;
}
