/* rep_column.h - result columns of the model tables (regression, match,
 * balance, rd): their descriptive fields, a fitted gravrd_reg result mapped
 * to coefficient rows with published values and truths, and errors naming
 * the study line. Called by run_regression.c, run_balance.c and run_rd.c.
 * Internal to libgravrd. */
#ifndef GRAVRD_REP_COLUMN_H
#define GRAVRD_REP_COLUMN_H

#include "study/rep_run.h"

/* What a result column says about itself before it is estimated. */
typedef struct {
    int line;
    const char *label, *name, *panel, *group;
    const char *outcome_expr;
    const gravrd_plan_def *outcome;     /* NULL = not an [outcomes] one */
    const char *sample_name, *sample_label, *subset;
    const char *formula;                /* NULL = none yet */
    double bandwidth, match_km;
} rep_column_desc;

/* The description of a regression or match column. */
rep_column_desc rep_column_desc_of(const gravrd_plan_column *c);
/* The template context of a column's line. */
rep_ctx rep_column_ctx(const gravrd_plan_column *c);
gravrd_status rep_column_init(const rep_column_desc *d, gravrd_rep_column *col);
/* Fills col from a fit: coefficient rows for the terms c shows (the others
 * become "Yes" control rows), published values and truths from c's
 * templates. c NULL: every term shown, nothing published (balance). */
gravrd_status rep_column_fill(rep_run *r, const gravrd_plan_column *c, const rep_ctx *ctx,
                              const gravrd_reg_result *res, gravrd_rep_column *col);
/* Copies the p-value and interval of the column's `inference` method (a
 * gravrd_inference) for each shown coefficient from alt, the column's
 * refit with that method. */
void rep_column_take_inference(const gravrd_plan_column *c, const gravrd_reg_result *alt, gravrd_rep_column *col);
/* Records an error on a column (prefixed with its line unless msg names the study) and in the table. */
gravrd_status rep_column_error(rep_run *r, gravrd_rep_table *out, gravrd_rep_column *col, const char *msg);

#endif
