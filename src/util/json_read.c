/* json_read.c - Jansson parsing and typed look-ups (see json_read.h). */
#include "util/json_read.h"

#include <math.h>

/* Any top-level value (the old reader's rule; callers check the type), all
 * numbers as doubles. Duplicate keys are not rejected. */
#define JR_FLAGS (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL)

gravrd_status jr_parse(const char *text, json_t **out, gravrd_error *err)
{
    json_error_t je;
    *out = json_loads(text, JR_FLAGS, &je);
    if (*out)
        return GRAVRD_OK;
    if (json_error_code(&je) == json_error_out_of_memory)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory reading JSON");
    return gravrd_error_set(err, GRAVRD_ERR_PARSE, "JSON line %d, column %d: %s", je.line, je.column, je.text);
}

gravrd_status jr_parse_file(const char *path, json_t **out, gravrd_error *err)
{
    json_error_t je;
    *out = json_load_file(path, JR_FLAGS, &je);
    if (*out)
        return GRAVRD_OK;
    switch (json_error_code(&je)) {
    case json_error_cannot_open_file: return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open", path);
    case json_error_out_of_memory: return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "%s: out of memory", path);
    default:
        return gravrd_error_set(err, GRAVRD_ERR_PARSE, "%s: JSON line %d, column %d: %s", path, je.line, je.column,
                                je.text);
    }
}

const json_t *jr_get(const json_t *obj, const char *key)
{
    return obj && json_is_object(obj) ? json_object_get(obj, key) : NULL;
}

double jr_number(const json_t *v)
{
    return v && json_is_number(v) ? json_number_value(v) : NAN;
}

double jr_num(const json_t *obj, const char *key) { return jr_number(jr_get(obj, key)); }

const char *jr_str(const json_t *obj, const char *key)
{
    const json_t *v = jr_get(obj, key);
    return v ? json_string_value(v) : NULL;
}

int jr_bool(const json_t *obj, const char *key)
{
    const json_t *v = jr_get(obj, key);
    return v && json_is_boolean(v) ? json_is_true(v) : -1;
}

const json_t *jr_arr(const json_t *obj, const char *key)
{
    const json_t *v = jr_get(obj, key);
    return v && json_is_array(v) ? v : NULL;
}
