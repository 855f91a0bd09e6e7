/* json.h - a small JSON reader (DOM) for the files gravrd consumes: peer
 * reference results, the paper's published tables, truth.json. Internal to
 * libgravrd; not a public API. */
#ifndef GRAVRD_UTIL_JSON_H
#define GRAVRD_UTIL_JSON_H

#include <stddef.h>

#include "gravrd/error.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    double number;              /* NUMBER; BOOL as 0/1 */
    char *string;               /* STRING */
    size_t n;                   /* ARRAY / OBJECT: number of items */
    char **keys;                /* OBJECT: keys, n of them */
    struct json_value **items;  /* ARRAY / OBJECT: values */
} json_value;

/* Parses text (NUL-terminated). Errors give the line and column. */
gravrd_status json_parse(const char *text, json_value **out, gravrd_error *err);
/* Reads and parses a file. */
gravrd_status json_parse_file(const char *path, json_value **out, gravrd_error *err);
void json_free(json_value *v);

/* Member of an object by key, or NULL. */
const json_value *json_get(const json_value *obj, const char *key);
/* Number member (NaN if absent or not a number). */
double json_get_number(const json_value *obj, const char *key);
/* String member (NULL if absent or not a string). */
const char *json_get_string(const json_value *obj, const char *key);

#endif
