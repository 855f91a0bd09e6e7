/* html_tables.h - the table sections of the HTML report (html_tables.c),
 * called by the page (html.c). Internal to libgravrd. */
#ifndef GRAVRD_REPORT_HTML_TABLES_H
#define GRAVRD_REPORT_HTML_TABLES_H

#include <stdio.h>

#include "gravrd/html.h"
#include "util/json_read.h"

/* Renders one table section from its JSON (already parsed; may be NULL when
 * it could not be read, then load_error says why). entry: its
 * replication.json entry (may be NULL). Returns 1 when the table was
 * rendered as results, 0 when as an error. */
int html_table_section(FILE *out, const char *out_dir, const json_t *entry, const json_t *table,
                       const char *load_error, int show_truth, gravrd_html_summary *sum);

#endif
