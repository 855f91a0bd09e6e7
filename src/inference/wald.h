/* wald.h - the Wald test that a set of coefficients is zero, computed so
 * that rescaling a regressor does not move it, and defined (Cameron,
 * Gelbach & Miller's eigenvalue rule) when a multiway variance is not
 * positive semi-definite. */
#ifndef GRAVRD_WALD_H
#define GRAVRD_WALD_H

/* F = b' V+ b / df1 for the k coefficients b (V: k x k, row-major), where V
 * is first scaled to the correlation matrix R = D^-1 V D^-1 (D the standard
 * errors) and V+ is the pseudo-inverse of R's positive part: eigenvalues
 * below 1e-12 of the largest, and negative ones, are dropped, and df1 is
 * the number kept. Writes *F and *df1; returns 0, or -1 when some variance
 * is not positive (F undefined) or memory runs out. */
int wald_test(const double *b_K, const double *V_KK, int k, double *F, int *df1);

#endif
