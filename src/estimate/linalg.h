/* linalg.h - the few dense LAPACK calls the estimators need, on small
 * row-major symmetric matrices (k x k with k = number of regressors). */
#ifndef GRAVRD_LINALG_H
#define GRAVRD_LINALG_H

/* Inverts a symmetric positive definite matrix in place (Cholesky,
 * LAPACK dpotrf/dpotri). Returns 0 on success, non-zero if not PD. */
int linalg_spd_inverse(double *A_KK, int k);

/* Solves A x = b for a general square A (LAPACK dgesv); A and b are
 * overwritten (b becomes x). Returns 0 on success. */
int linalg_solve(double *A_KK, double *b_K, int k);

#endif
