/* html_internal.h - shared by html.c (the page, header, figures) and
 * html_tables.c (the table renderers) of the HTML report. */
#ifndef GRAVRD_HTML_INTERNAL_H
#define GRAVRD_HTML_INTERNAL_H

#include <stdio.h>

#include "gravrd/html.h"
#include "util/json_read.h"

/* Text with & < > " ' escaped. NULL writes nothing. */
void html_esc(FILE *out, const char *s);

/* Number formats: fixed decimals ("%.3f", thousands separators from 1e3 on
 * when decimals == 0); "" for NaN. buf must hold 64 bytes. */
const char *hfmt(char *buf, double v, int decimals);
/* A summary statistic as the paper prints it: integers and numbers of 1e3
 * or more with thousands separators and 2 decimals (0 for integers),
 * smaller ones with 3 decimals. */
const char *hfmt_stat(char *buf, double v);
/* Significance stars of a two-sided p-value: *** < 0.01, ** < 0.05, * < 0.1. */
const char *hstars(double p);

/* Renders one table section from its JSON (already parsed; may be NULL when
 * it could not be read, then load_error says why). entry: its
 * replication.json entry (may be NULL). Returns 1 when the table was
 * rendered as results, 0 when as an error. */
int html_table_section(FILE *out, const char *out_dir, const json_t *entry, const json_t *table,
                       const char *load_error, int show_truth, gravrd_html_summary *sum);

#endif
