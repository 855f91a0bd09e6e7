/* table_internal.h - what the table writers of src/report share: the
 * helpers of table_common.c and the four formats, called by table_write.c.
 * Calls go one way: table_write.c -> table_{md,tex,csv,json}.c ->
 * table_common.c. Internal to libgravrd. */
#ifndef GRAVRD_REPORT_TABLE_INTERNAL_H
#define GRAVRD_REPORT_TABLE_INTERNAL_H

#include <stddef.h>
#include <stdio.h>

#include "gravrd/plan.h"

/* ---- the formats: one table into an open stream ---- */
void table_write_md(FILE *f, const gravrd_rep_table *t);
void table_write_tex(FILE *f, const gravrd_rep_table *t);
void table_write_csv(FILE *f, const gravrd_rep_table *t);
void table_write_json(FILE *f, const gravrd_rep_table *t);

/* ---- shared formatting (table_common.c) ---- */

/* Number with thousands separators and d decimals into buf ("-" when not
 * finite); returns buf. */
const char *tw_fmt_sep(char *buf, size_t n, double x, int d);
/* "***", "**", "*" at 1%, 5%, 10%; "" otherwise or when p is missing. */
const char *tw_stars(double p);
/* Decimals for the statistics of a summary row (2 or 3, by magnitude). */
int tw_summary_decimals(const gravrd_rep_row *w);
/* "ok", "partial" or "failed". */
const char *tw_status_name(gravrd_rep_status s);
/* 1 when the simulated truth lies in the interval, 0 when not, -1 unknown. */
int tw_truth_in_ci(const gravrd_rep_coef *c);

/* ---- column groups (panels) of regression-like tables ---- */

typedef struct {
    const char *panel;       /* NULL: no panel */
    const char *title;
    size_t *cols;
    size_t n;
} panel_cols;

/* The columns without a panel first, then each panel in order; empty
 * groups left out. Returns the number of groups (*out freed with
 * tw_free_panels). */
size_t tw_make_panels(const gravrd_rep_table *t, panel_cols **out);
void tw_free_panels(panel_cols *p, size_t n);

/* distinct names over the panel's columns (coefficient keys, controls, FE) */
typedef enum { ROW_COEF, ROW_CONTROL, ROW_FE } row_kind;

/* Distinct names (coefficient keys, controls or FE) over a group's
 * columns, with their labels, at most cap. */
size_t tw_collect(const gravrd_rep_table *t, const panel_cols *pc, row_kind kind, const char **keys,
                  const char **labels, size_t cap);
/* The coefficient of column c whose key is the same term, or NULL. */
const gravrd_rep_coef *tw_coef_of(const gravrd_rep_column *c, const char *key);
/* 1 when key is the same term as one of names[0..n-1]. */
int tw_has_name(char *const *names, int n, const char *key);
/* 1 for an RD table. */
int tw_is_rd_table(const gravrd_rep_table *t);

#endif
