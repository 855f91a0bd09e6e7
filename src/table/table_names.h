/* table_names.h - what the study (src/study/) and the table writers
 * (src/report/) share about the tables without either calling the other:
 * printf into a malloc'ed string (file paths, labels) and term identity;
 * gravrd_table_kind_name and gravrd_plan_level_name (gravrd/plan.h) are
 * defined beside them in table_names.c. Internal to libgravrd. */
#ifndef GRAVRD_TABLE_NAMES_H
#define GRAVRD_TABLE_NAMES_H

#include <stdarg.h>

#include "gravrd/plan.h"

/* printf into a malloc'ed string (NULL when out of memory). */
char *plan_format(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
/* The same with a va_list (ap is consumed). */
char *plan_vformat(const char *fmt, va_list ap);
/* Term names equal ignoring whitespace ("I(a+b)" == "I(a + b)"). */
int plan_same_term(const char *a, const char *b);

#endif
