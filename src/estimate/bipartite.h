/* bipartite.h - exact least-squares projection on two-way fixed effects
 * f(x) + g(y) over the cells of a small bipartite graph, for many
 * right-hand sides at once (collapse.c: the within-month projection of a
 * balanced panel whose blocks are not complete tables).
 *
 * Conventions: _X per level of the larger side, _Y per level of the other,
 * _P per cell (edge x-y), _R per right-hand side; a right-hand side is
 * given by its totals over each x and each y (all that the normal
 * equations need). */
#ifndef GRAVRD_BIPARTITE_H
#define GRAVRD_BIPARTITE_H

#include <stdint.h>

typedef struct bip_solver bip_solver;

/* Builds the grounded Schur complement on the Y side and its Cholesky
 * factor. Every level must belong to some cell, each cell (x, y) listed
 * once. Returns 0 and *out on success, 1 when the problem is too large for
 * a dense factor or numerically singular (the caller takes another path),
 * -1 when out of memory. */
int bip_solver_new(int32_t nX, int32_t nY, int32_t P, const int32_t *x_P, const int32_t *y_P, int R,
                   bip_solver **out);

/* For the R right-hand sides given at construction, with totals
 * tx_XR[x * R + r] (sum over the cells of x) and ty_YR[y * R + r]: the
 * coefficients f_XR, g_YR (same layouts) of one least-squares solution, so that the projection of a cell's value is
 * f(x) + g(y) (unique; the split between f and g is not). Returns 0, or
 * -1 when out of memory. Safe to call from several threads at once. */
int bip_solver_solve(const bip_solver *s, const double *tx_XR, const double *ty_YR, double *f_XR, double *g_YR);

void bip_solver_free(bip_solver *s);

#endif
