/* json_read.h - reading the JSON files gravrd consumes (peer reference
 * results, the paper's published tables, truth.json, the report's own
 * JSON) through Jansson: parsing with errors as a gravrd_error, and typed
 * member look-ups that are NULL / NaN when a member is absent or of another
 * type. Internal to libgravrd; not a public API. */
#ifndef GRAVRD_UTIL_JSON_READ_H
#define GRAVRD_UTIL_JSON_READ_H

#include <jansson.h>

#include "gravrd/error.h"

/* Parses text (NUL-terminated). Any value may be at the top; every number
 * is read as a double; a repeated key keeps its last value. Errors give the
 * line and column: "JSON line L, column C: what". Free *out with
 * json_decref. */
gravrd_status jr_parse(const char *text, json_t **out, gravrd_error *err);
/* Reads and parses a file; errors start with the path
 * ("PATH: cannot open", "PATH: JSON line L, column C: what"). */
gravrd_status jr_parse_file(const char *path, json_t **out, gravrd_error *err);

/* Member of an object by key; NULL when obj is not an object or has no
 * such key. */
const json_t *jr_get(const json_t *obj, const char *key);
/* Number member; NaN when absent, null or not a number. */
double jr_num(const json_t *obj, const char *key);
/* String member; NULL when absent or not a string. */
const char *jr_str(const json_t *obj, const char *key);
/* Boolean member: 1 true, 0 false, -1 absent, null or another type. */
int jr_bool(const json_t *obj, const char *key);
/* Array member; NULL unless an array. */
const json_t *jr_arr(const json_t *obj, const char *key);
/* A number value; NaN when v is NULL or not a number. */
double jr_number(const json_t *v);

#endif
