/* fe_internal.h - layout of the fixed-effect structure shared by the hdfe
 * sources. Levels of all FE are concatenated: FE q owns the coefficient
 * slots offset_Q[q] .. offset_Q[q] + n_levels_Q[q] - 1 ("_L" arrays have
 * n_levels_total entries). */
#ifndef GRAVRD_FE_INTERNAL_H
#define GRAVRD_FE_INTERNAL_H

#include "gravrd/hdfe.h"

struct gravrd_fe {
    int n_fe;
    size_t n_obs;
    int32_t **code_QN;     /* compacted codes, 0..n_levels_Q[q]-1 */
    int32_t *n_levels_Q;
    size_t *offset_Q;
    size_t n_levels_total;
    double *count_L;       /* observations per level */
    int run_fe;            /* an FE whose every level occupies one contiguous stretch of rows
                            * (at least 2 rows a level on average; the one with fewest levels),
                            * else -1; demean.c eliminates it inside each pass */
    size_t *run_QN;        /* run_fe: rows [run_QN[2g], run_QN[2g + 1]) are those of its level g */
    size_t max_run;        /* run_fe: rows of the longest stretch */
};

#endif
