/* panel_residuals.h - direct residuals of an outcome on the fixed effects
 * A^T + B^T of a balanced panel (the RD study's and Figure 2's
 * exp_city^month + imp_city^month), without iterating.
 *
 * When every (a, b) cell present is observed exactly once in every month t
 * present, the projection on A^T + B^T splits by month into the two-way
 * projection f_t(a) + g_t(b) on the same bipartite cell graph for every
 * month, so one factorisation (estimate/cell_projection.h) serves all months; the
 * residual of row (a, b, t) is y - f_t(a) - g_t(b). See docs/spatial.md.
 * Callers fall back to the iterative gravrd_demean whenever *applied is 0;
 * the direct path performs no demeaning iterations (callers report 0). */
#ifndef GRAVRD_PANEL_RESIDUALS_H
#define GRAVRD_PANEL_RESIDUALS_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/error.h"
#include "gravrd/formula.h"

/* The codes of each FE term, as model_group_codes gives them, into
 * codes_QN[q] (N each, allocated by the caller; -1 = missing) with its level
 * count n_levels_Q[q]. When the terms are exactly two two-variable
 * interactions sharing exactly one variable T (A^T and B^T, in any order
 * within each term, A != B), each single column is grouped once and each
 * interaction u^v coded from those codes as u * n_v + v when that table is
 * small (not every level in use; the same partition and order of levels as
 * model_group_codes, which is all the singleton rule and gravrd_fe_create
 * see), else by gravrd_codes_combine; n_levels_Q[q] is then the code range.
 * Then *found = 1, abt->codes_3N[0], [1], [2] the codes
 * of A, B and T (malloc'ed, free with panel_abt_free) and abt->n_levels_3
 * their level counts. Otherwise *found = 0 and abt is empty. */
typedef struct {
    int32_t *codes_3N[3];
    int32_t n_levels_3[3];
} panel_abt;

gravrd_status panel_fe_codes(const gravrd_frame *frame, const gravrd_fe_term *terms, int n_terms,
                             int32_t *const *codes_QN, int32_t *n_levels_Q, panel_abt *abt, int *found,
                             gravrd_error *err);
void panel_abt_free(panel_abt *abt);

/* Residuals of y_N on the FE A^T + B^T over the rows with keep_N[i]:
 * res_N[i] for kept rows, others untouched; res_N may be y_N. *applied = 1
 * when done; 0 (res_N untouched) when the structure is absent - a kept row
 * with a missing code, months present with different row counts, a
 * (cell, month) twice, a cell missing in some month present - or the
 * problem is too big or unreliable for this path: the dense factor of
 * cell_projection.h declines (more than 4096 levels on the smaller of the A
 * and B sides, or a factor that does not reproduce its test solve), or a
 * table of |A| x |B| cells (over abt's level counts) is larger than 4 rows
 * + 2^20. Errors only when out of memory. */
gravrd_status panel_residualise_two_way(size_t N, const panel_abt *abt, const uint8_t *keep_N, const double *y_N,
                                        double *res_N, int *applied, gravrd_error *err);

#endif
