/* plan_internal.h - helpers shared by the study-file parser (plan*.c), the
 * runner (replicate.c, run_*.c, rep_*.c), defined in plan_internal.c:
 * malloc'ed string helpers, term patterns, template and attribute lookups,
 * and the pool that owns a parsed plan; with table/table_names.h, what the
 * table writers (src/report/) share with them. Internal to libgravrd. */
#ifndef GRAVRD_PLAN_INTERNAL_H
#define GRAVRD_PLAN_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>

#include "gravrd/plan.h"
#include "table/table_names.h" /* plan_format, plan_vformat, plan_same_term */

char *plan_strdup(const char *s);
char *plan_strndup(const char *s, size_t n);
/* A study-file error: "SOURCE:LINE: message" (just "SOURCE: message" when
 * line <= 0) into err; returns code. The parser's and the builder's errors
 * all take this shape. */
gravrd_status plan_line_verror(gravrd_error *err, const char *source, int line, gravrd_status code, const char *fmt,
                               va_list ap);
/* pattern is a term, or a prefix ending in '*'. */
int plan_term_matches(const char *pattern, const char *term);
/* The template of the last entry whose pattern matches term ("" matches
 * every term); NULL when none. */
const char *plan_template_for(const gravrd_plan_template *t, size_t n, const char *term);
/* The value of a free attribute, NULL when absent (template filling only). */
const char *plan_attr(const gravrd_plan_attr *attrs, size_t n, const char *key);
void plan_strings_free(char **s, size_t n);
/* A grid column name from a template with {outcome} and {sample}; malloc'ed. */
char *plan_grid_name(const char *tmpl, const char *outcome, const char *sample);

/* ---- the pool: every block of a plan, freed at once ---- */

typedef struct plan_pool plan_pool;
plan_pool *plan_pool_new(void);
void plan_pool_free(plan_pool *pool);
/* Zeroed memory owned by the pool; NULL when out of memory. */
void *plan_pool_alloc(plan_pool *pool, size_t size);
char *plan_pool_strdup(plan_pool *pool, const char *s);
char *plan_pool_strndup(plan_pool *pool, const char *s, size_t n);
char *plan_pool_format(plan_pool *pool, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* arr (n elements of elem bytes) with room for one more: the same array, or
 * a copy twice as large when n is 0 or a power of two >= 4 (the capacity
 * follows from n, so arrays need no capacity field). NULL when out of memory. */
void *plan_pool_grow(plan_pool *pool, void *arr, size_t n, size_t elem);
/* Appends a zeroed element to arr[0..n-1]: a pointer to it, NULL when out of memory. */
#define PLAN_PUSH(pool, arr, n) \
    (((arr) = plan_pool_grow((pool), (void *)(arr), (n), sizeof *(arr))) != NULL ? &(arr)[(n)++] : NULL)

#endif
