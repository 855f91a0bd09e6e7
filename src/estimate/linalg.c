/* linalg.c - thin wrappers over LAPACK's Fortran interface (see linalg.h).
 * Row-major symmetric matrices equal their column-major transpose, so they
 * pass to LAPACK unchanged; dgesv gets an explicit transpose. */
#include "linalg.h"

#include <stdlib.h>

void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotri_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b, const int *ldb,
            int *info);

int linalg_spd_inverse(double *A_KK, int k)
{
    int info = 0;
    if (k == 0)
        return 0;
    dpotrf_("L", &k, A_KK, &k, &info);
    if (info != 0)
        return info;
    dpotri_("L", &k, A_KK, &k, &info);
    if (info != 0)
        return info;
    /* Only the lower triangle (column-major) = upper (row-major) is set. */
    for (int a = 0; a < k; a++)
        for (int b = 0; b < a; b++)
            A_KK[a * k + b] = A_KK[b * k + a];
    return 0;
}

int linalg_solve(double *A_KK, double *b_K, int k)
{
    int info = 0, one = 1;
    if (k == 0)
        return 0;
    int *ipiv = malloc((size_t)k * sizeof *ipiv);
    double *At = malloc((size_t)k * (size_t)k * sizeof *At);
    if (!ipiv || !At) {
        free(ipiv);
        free(At);
        return -1;
    }
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
            At[b * k + a] = A_KK[a * k + b];
    dgesv_(&k, &one, At, &k, ipiv, b_K, &k, &info);
    free(ipiv);
    free(At);
    return info;
}
