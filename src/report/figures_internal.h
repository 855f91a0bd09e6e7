/* figures_internal.h - shared by the figure files of src/report: figure1.c,
 * figure2.c and figures.c (the folder writer, which calls the other two).
 * Internal to libgravrd. */
#ifndef GRAVRD_REPORT_FIGURES_INTERNAL_H
#define GRAVRD_REPORT_FIGURES_INTERNAL_H

#include <stddef.h>

#include "gravrd/error.h"

static inline gravrd_status fig_nomem(gravrd_error *err)
{
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
}

/* The variables a figure reads, collected into a set of names (*names, *n
 * of them, malloc'ed; free with gravrd_strings_free). Defined in figure2.c;
 * figures.c adds the RD plots' variables with them. */

/* Adds a copy of name unless the set has it. */
gravrd_status fig_add_name(char ***names, size_t *n, const char *name, gravrd_error *err);
/* Adds the variables of the expression text; a parse error reads
 * "figure 2: WHAT: message". */
gravrd_status fig_expr_names(const char *text, const char *what, char ***names, size_t *n, gravrd_error *err);
/* Adds the variables of a fixed-effect list ("a^b + c"); NULL or "" adds
 * none. */
gravrd_status fig_fe_names(const char *text, char ***names, size_t *n, gravrd_error *err);

#endif
