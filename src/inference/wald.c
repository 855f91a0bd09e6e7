/* wald.c - the Wald test of joint nullity (see wald.h).
 *
 * Why not solve V x = b directly: with one regressor of order 1e6 and
 * another of order 1e-6 the variances span 24 orders of magnitude, and a
 * rule with an absolute threshold (fixest treats a variance below 1e-10
 * as a sign of a broken matrix and lifts its eigenvalues to 1e-10) then
 * changes the statistic, which in exact arithmetic does not depend on the
 * units of the regressors. On the correlation matrix every scale is 1, the
 * statistic is the same for any units, and the one threshold left is
 * relative. Under multiway clustering the inclusion-exclusion variance
 * can have negative eigenvalues; Cameron, Gelbach and Miller (2011) set
 * them to zero, and the test then runs on the directions that keep a
 * positive variance, with df1 their number. */
#include "wald.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info);

#define WALD_EIGEN_REL 1e-12

int wald_test(const double *b_K, const double *V_KK, int k, double *F, int *df1)
{
    *F = NAN;
    *df1 = k;
    if (k <= 0)
        return -1;
    for (int a = 0; a < k; a++)
        if (!(V_KK[a * k + a] > 0))
            return -1;
    double *R = malloc((size_t)k * (size_t)k * sizeof *R), *t = malloc((size_t)k * sizeof *t),
           *ev = malloc((size_t)k * sizeof *ev);
    int lwork = 3 * k + 64, info = 0;
    double *work = malloc((size_t)lwork * sizeof *work);
    if (!R || !t || !ev || !work) {
        free(R);
        free(t);
        free(ev);
        free(work);
        return -1;
    }
    for (int a = 0; a < k; a++) {
        double sa = sqrt(V_KK[a * k + a]);
        t[a] = b_K[a] / sa;
        for (int c = 0; c < k; c++)
            R[a * k + c] = V_KK[a * k + c] / (sa * sqrt(V_KK[c * k + c]));
    }
    dsyev_("V", "U", &k, R, &k, ev, work, &lwork, &info);
    int rc = -1;
    if (info == 0) {
        double top = ev[k - 1], w = 0;
        int kept = 0;
        /* R is column-major now: eigenvector c is R[c*k .. c*k + k). */
        for (int c = 0; c < k; c++) {
            if (!(ev[c] > WALD_EIGEN_REL * top))
                continue;
            double u = 0;
            for (int a = 0; a < k; a++)
                u += R[(size_t)c * k + a] * t[a];
            w += u * u / ev[c];
            kept++;
        }
        if (kept > 0) {
            *F = w / kept;
            *df1 = kept;
            rc = 0;
        }
    }
    free(R);
    free(t);
    free(ev);
    free(work);
    return rc;
}
