/* gravrd/html.h - the replication report: OUT/index.html, one
 * self-contained page (inline CSS, inline SVG, one small inline script; no
 * network, no external fonts or scripts) built from the files `gravrd
 * replicate` leaves in OUT (see docs/report.md):
 *
 *   OUT/replication.json     the index of the run and its tables
 *                            (docs/study-file.md, "Table JSON");
 *   OUT/NAME.json            each table: our estimates, the paper's
 *                            published numbers and, on simulated data, the
 *                            planted truth;
 *   OUT/figures.json + SVGs  the figures (gravrd_report_figures); SVG files
 *                            in OUT that figures.json does not list are
 *                            shown too.
 *
 * Each estimate is shown with its standard error, the paper's published
 * estimate beside it and, when the table carries a planted value, that value
 * with a tick when it lies in our 95% interval and a cross when not.
 *
 * The page's script records window errors and console.error calls and sets
 * data attributes on <body> once parsed: data-tables-listed,
 * data-tables-rendered, data-tables-failed, data-figures-listed,
 * data-figures-rendered (inline SVGs with a non-empty layout box),
 * data-resources (resources fetched: 0 for a self-contained page),
 * data-errors, and data-report="complete" when it ran to the end. A browser's
 * dumped DOM can be checked against these (tests/test_html.c). */
#ifndef GRAVRD_HTML_H
#define GRAVRD_HTML_H

#include <stddef.h>

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    const char *data_dir;   /* study folder shown in the header and read for truth.json's
                             * description (seed, months); NULL = replication.json's "data" */
    const char *title;      /* page title; NULL = "gravrd replication report: " + study title */
} gravrd_html_options;

typedef struct {
    size_t tables_listed;     /* tables in replication.json */
    size_t tables_rendered;   /* rendered as a results table */
    size_t tables_failed;     /* rendered as an error (failed run, missing or unreadable JSON) */
    size_t figures_listed;    /* figures.json entries plus other SVG files in OUT */
    size_t figures_inlined;   /* SVGs read and inlined */
    size_t truth_checked;     /* estimates with a planted value and an interval */
    size_t truth_covered;     /* ... whose 95% interval holds the planted value */
    size_t published;         /* estimates shown beside a published number */
} gravrd_html_summary;

/* Writes out_dir/index.html (replacing it atomically). A missing
 * replication.json gives a page with the figures only and a warning; a
 * table whose JSON is missing or malformed is shown as an error on the page
 * (not a failure of this call). Errors: out_dir unreadable, index.html not
 * writable, a malformed replication.json or figures.json. opt and summary
 * may be NULL. */
gravrd_status gravrd_report_html(const char *out_dir, const gravrd_html_options *opt, gravrd_html_summary *summary,
                                 gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
