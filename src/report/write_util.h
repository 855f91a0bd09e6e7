/* write_util.h - the escaping and number formats shared by every writer in
 * src/report (JSON and CSV), so all outputs quote and round the same way.
 * Internal to libgravrd. */
#ifndef GRAVRD_REPORT_WRITE_UTIL_H
#define GRAVRD_REPORT_WRITE_UTIL_H

#include <stdio.h>

/* A JSON string literal; NULL is written as null. */
void report_json_string(FILE *out, const char *s);
/* A JSON number with full precision (%.17g); NaN and infinities as null. */
void report_json_number(FILE *out, double x);
/* A CSV field, quoted when it holds a comma, quote or newline; NULL is empty. */
void report_csv_field(FILE *out, const char *s);
/* A CSV number (%.17g); NaN and infinities as an empty field. */
void report_csv_number(FILE *out, double x);

#endif
