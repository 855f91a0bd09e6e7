/* cell_projection.h - exact least-squares projection on fixed effects that
 * partition a small set of cells, for many right-hand sides at once
 * (collapse.c: the within-month part of a balanced cell x month panel,
 * projected on A^T + B^T (+ C^T ...) when the closed form of complete
 * tables does not apply).
 *
 * Conventions: m partitions (FE) of P cells; partition k has L_K[k] levels,
 * level_KP[k][p] is cell p's level; R right-hand sides. A right-hand side
 * enters through its totals over the cells of each level, t_K[k][l * R + r]
 * (all that the normal equations need); the coefficients come back in the
 * same layout, and the projection of cell p for right-hand side r is
 * sum over k of c_K[k][level_KP[k][p] * R + r]. */
#ifndef GRAVRD_CELL_PROJECTION_H
#define GRAVRD_CELL_PROJECTION_H

#include <stdint.h>

typedef struct cp_solver cp_solver;

/* Factors the normal equations once: the partition with the most levels is
 * eliminated (its block is diagonal), the Schur complement on the others
 * is factored densely. Every level must have at least one cell. Returns 0
 * and *out on success; 1 when the problem is too large for a dense factor
 * or numerically unreliable (the caller takes another path); -1 when out
 * of memory. */
int cp_solver_new(int m, const int32_t *L_K, const int32_t *const *level_KP, int32_t P, int R, cp_solver **out);

/* Coefficients of one least-squares solution for the R right-hand sides
 * given by their totals (the fitted values are unique, the split between
 * partitions is not). Returns 0, or -1 when out of memory. Safe to call
 * from several threads at once. */
int cp_solver_solve(const cp_solver *s, const double *const *t_K, double *const *c_K);

void cp_solver_free(cp_solver *s);

#endif
