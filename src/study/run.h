/* run.h - the table runners, one module per kind: each fills a result
 * table from its typed specification, using the shared steps of rep_run.h
 * and rep_column.h, and never calls back into the driver (replicate.c).
 * A failing line is recorded in the table; a non-OK status means the whole
 * table failed (out of memory, or a problem no line can carry).
 * Internal to libgravrd. */
#ifndef GRAVRD_RUN_H
#define GRAVRD_RUN_H

#include "study/rep_run.h"

/* run_summary.c */
gravrd_status run_summary(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
/* run_regression.c: regression and match tables */
gravrd_status run_regression(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
/* run_balance.c */
gravrd_status run_balance(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
/* run_rd.c */
gravrd_status run_rd(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
/* run_ri_figure.c: after the table holding the [study] headline (other
 * tables: nothing), randomization inference of its partner coefficient,
 * noted under the table, and OUT/ri_headline.svg */
gravrd_status run_headline_ri(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
/* rep_counterfactual.c: every truth of t that is set becomes t's estimate
 * minus t0's (the same table on the world without the partnership);
 * NaN where t0 has none. Nothing when t0 is NULL or not the same table. */
void rep_apply_counterfactual(gravrd_rep_table *t, const gravrd_rep_table *t0);
/* run_mediation.c */
gravrd_status run_mediation(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);
/* run_numbers.c */
gravrd_status run_numbers(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err);

#endif
