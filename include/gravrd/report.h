/* gravrd/report.h - writing regression results as text (fixest-like
 * summary), JSON, CSV, Markdown or LaTeX to a caller-supplied stream. */
#ifndef GRAVRD_REPORT_H
#define GRAVRD_REPORT_H

#include <stdio.h>

#include "gravrd/error.h"
#include "gravrd/estimate.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GRAVRD_FORMAT_TEXT = 0,
    GRAVRD_FORMAT_JSON,
    GRAVRD_FORMAT_CSV,
    GRAVRD_FORMAT_MARKDOWN,
    GRAVRD_FORMAT_LATEX
} gravrd_format;

/* "text", "json", "csv", "md" (or "markdown"), "tex" (or "latex").
 * Returns GRAVRD_ERR_INVALID for anything else. */
gravrd_status gravrd_format_parse(const char *name, gravrd_format *out, gravrd_error *err);

/* Writes all results. JSON: one object, or an array when there are several
 * results; NaN/Inf become null. Markdown and LaTeX: one table with a
 * column per result (estimates with significance stars, standard errors in
 * parentheses, FE rows, observations, R2, adjusted R2, within R2, F). */
gravrd_status gravrd_report_reg(FILE *out, const gravrd_reg_results *res, gravrd_format format,
                                gravrd_error *err);

/* The placebo distributions of randomization inference as CSV at path
 * (outcome, sample, term, draw, estimate, t), written to a temporary file
 * and renamed, so a failure leaves nothing half-written. */
gravrd_status gravrd_report_ri_csv(const char *path, const gravrd_reg_results *res, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
