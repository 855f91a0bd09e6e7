/* table_names.c - names and formatting shared by the study (parser and
 * runner, src/study/) and the table writers (src/report/): table kind and
 * level names, term identity and printf into a malloc'ed string. A leaf:
 * it calls only the C library, so neither folder calls the other for them. */
#include "table/table_names.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* In the order of gravrd_table_kind: the names the study file uses and the
 * "kind" field of the written tables, so one list serves both. */
static const char *const kind_names[] = {"summary", "regression", "balance", "match", "rd", "mediation", "numbers"};

/* "?" for a value outside the enum rather than reading past the list. */
const char *gravrd_table_kind_name(gravrd_table_kind kind)
{
    return (unsigned)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "?";
}

/* In the order of gravrd_plan_level, as the study file spells them. */
const char *gravrd_plan_level_name(gravrd_plan_level level)
{
    static const char *const names[] = {"flows", "pairs", "directed_pairs"};
    return (unsigned)level < 3 ? names[level] : "?";
}

/* Measures, then formats into an exact-size buffer: ap is consumed by the
 * first pass, so the second works on a copy. */
char *plan_vformat(const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *s = n < 0 ? NULL : malloc((size_t)n + 1);
    if (s)
        vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}

/* The variadic front of plan_vformat (one formatter for both). */
char *plan_format(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = plan_vformat(fmt, ap);
    va_end(ap);
    return s;
}

/* Equal ignoring whitespace (for term names: "I(a+b)" == "I(a + b)"). */
int plan_same_term(const char *a, const char *b)
{
    for (;;) {
        while (isspace((unsigned char)*a))
            a++;
        while (isspace((unsigned char)*b))
            b++;
        if (*a != *b)
            return 0;
        if (!*a)
            return 1;
        a++;
        b++;
    }
}
