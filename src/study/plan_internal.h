/* plan_internal.h - helpers shared by the study-file parser (plan.c), the
 * runner (replicate*.c) and the table writers (src/report/table*.c).
 * Internal to libgravrd. */
#ifndef GRAVRD_PLAN_INTERNAL_H
#define GRAVRD_PLAN_INTERNAL_H

#include <stddef.h>

#include "gravrd/plan.h"

char *plan_strdup(const char *s);
char *plan_strndup(const char *s, size_t n);
/* printf into a malloc'ed string (NULL when out of memory). */
char *plan_format(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* Term names equal ignoring whitespace. */
int plan_same_term(const char *a, const char *b);
/* pattern is a term, or a prefix ending in '*'. */
int plan_term_matches(const char *pattern, const char *term);
/* Splits on sep into malloc'ed trimmed non-empty items. */
gravrd_status plan_split_list(const char *text, char sep, char ***items, size_t *n, gravrd_error *err);
void plan_strings_free(char **s, size_t n);
/* A grid column name from a template with {outcome} and {sample}. */
char *plan_grid_name(const char *tmpl, const char *outcome, const char *sample);

#endif
