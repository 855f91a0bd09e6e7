/* ols_variance.c - the variance of a least-squares fit on demeaned data,
 * shared by the fit itself (ols.c) and the refits of randomization
 * inference (ri.c), so both apply the same small-sample factors. */
#include "ols.h"

#include "gravrd/vcov.h"

#include <math.h>
#include <stdlib.h>

gravrd_status ols_variance(const ols_var_spec *vs, const double *X, const double *bread, const double *resid,
                           double rss, double *V, double *t_df, gravrd_error *err)
{
    const size_t n = vs->n;
    const int k = vs->k;
    const double nobs = (double)vs->nobs, wt = vs->wt;
    gravrd_status st;
    if (vs->n_cluster > 0) {
        /* Collapsed: original scores are weight * cell scores and the
         * original bread is bread / weight, so bread meat bread is
         * unchanged. */
        if ((st = gravrd_vcov_cluster(X, n, k, resid, bread, vs->dims, vs->n_cluster, 1, V, err)))
            return st;
        double adj = (nobs - 1) / (nobs - (double)vs->K_vcov);
        for (int a = 0; a < k * k; a++)
            V[a] *= adj;
        *t_df = (double)vs->g_min - 1;
    } else if (vs->vcov == GRAVRD_VCOV_HETERO) {
        double *meat = malloc((size_t)k * (size_t)k * sizeof *meat + 1);
        if (!meat)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory computing the variance");
        /* Collapsed: a cell's rows share x, so their meat is x x' times the
         * sum of their squared residuals, weight * r^2 + the within-cell
         * part; a residual of that square root gives it. */
        double *e = (double *)resid;
        if (vs->within_ss_P) {
            if (!(e = malloc(n * sizeof *e))) {
                free(meat);
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory computing the variance");
            }
            for (size_t r = 0; r < n; r++)
                e[r] = sqrt(wt * resid[r] * resid[r] + vs->within_ss_P[r]);
        }
        st = gravrd_vcov_meat(X, n, k, e, NULL, 0, meat, err);
        if (e != resid)
            free(e);
        if (st) {
            free(meat);
            return st;
        }
        gravrd_sandwich(bread, meat, k, V);
        free(meat);
        double adj = nobs / (nobs - (double)vs->K_all) / (wt * wt);
        for (int a = 0; a < k * k; a++)
            V[a] *= adj;
        *t_df = nobs - (double)vs->K_all;
    } else {
        double sigma2 = rss / (nobs - (double)vs->K_all);
        for (int a = 0; a < k * k; a++)
            V[a] = sigma2 * bread[a] / wt;
        *t_df = nobs - (double)vs->K_all;
    }
    return GRAVRD_OK;
}
