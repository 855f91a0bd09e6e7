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
};

#endif
