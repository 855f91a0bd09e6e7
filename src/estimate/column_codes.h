/* column_codes.h - group codes of frame columns, shared by the model data
 * (model_data.c), the input cache (reg_cache.c) and the panel residuals;
 * defined in column_codes.c, which calls neither. Internal to libgravrd. */
#ifndef GRAVRD_COLUMN_CODES_H
#define GRAVRD_COLUMN_CODES_H

#include "gravrd/data.h"
#include "gravrd/error.h"

/* Group codes of a '^'-combination of columns (a single column when
 * n_vars == 1). `what` names the role in messages ("fixed effect"). */
gravrd_status model_group_codes(const gravrd_frame *frame, char *const *vars, int n_vars, const char *what,
                                int32_t *codes_N, int32_t *n_groups, gravrd_error *err);

/* Codes of one column (dense integer table or gravrd_column_group_codes;
 * the same codes either way). */
gravrd_status model_column_codes(const gravrd_column *col, size_t N, int32_t *codes_N, int32_t *n_groups,
                                 gravrd_error *err);

#endif
