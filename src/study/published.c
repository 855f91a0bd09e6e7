/* published.c - the published tables and truth.json of a run, read once
 * and looked up by dotted path (see published.h). */
#include "study/published.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study/plan_internal.h"
#include "util/json_read.h"

struct rep_sources {
    json_t *paper;           /* NULL = no published numbers */
    json_t *truth;           /* NULL = no truth.json */
};

/* A published file the study names must load; truth.json is optional. */
gravrd_status rep_sources_load(const gravrd_plan *plan, const char *data_dir, rep_sources **out, gravrd_error *err)
{
    *out = NULL;
    rep_sources *src = calloc(1, sizeof *src);
    if (!src)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    gravrd_status st = GRAVRD_OK;
    const gravrd_plan_study *sd = &plan->study;
    if (sd->published == GRAVRD_PLAN_PUBLISHED_EMBEDDED) {
        st = jr_parse(gravrd_paper_tables_text(NULL), &src->paper, err);
    } else if (sd->published == GRAVRD_PLAN_PUBLISHED_FILE) {
        const char *f = sd->published_file;
        char *path = f[0] == '/' || !plan->dir[0] ? plan_strdup(f) : plan_format("%s/%s", plan->dir, f);
        st = path ? jr_parse_file(path, &src->paper, err) : gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        free(path);
    }
    if (st) {
        rep_sources_free(src);
        return st;
    }
    char *path = plan_format("%s/truth.json", data_dir);
    if (!path) {
        rep_sources_free(src);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        gravrd_error e2 = {0};
        if (jr_parse_file(path, &src->truth, &e2))
            src->truth = NULL;    /* unreadable truth: go on without it */
    }
    free(path);
    *out = src;
    return GRAVRD_OK;
}

/* NULL-safe. */
void rep_sources_free(rep_sources *src)
{
    if (!src)
        return;
    json_decref(src->paper);
    json_decref(src->truth);
    free(src);
}

/* Whether truths can be looked up at all. */
int rep_sources_has_truth(const rep_sources *src) { return src && src->truth != NULL; }

/* The value at a dotted path (array elements by index), or NULL. */
static const json_t *at_path(const json_t *root, const char *path)
{
    if (!root || !path)
        return NULL;
    const json_t *v = root;
    const char *c = path;
    while (*c && v) {
        const char *dot = strchr(c, '.');
        size_t n = dot ? (size_t)(dot - c) : strlen(c);
        char key[256];
        if (n >= sizeof key)
            return NULL;
        memcpy(key, c, n);
        key[n] = '\0';
        if (json_is_object(v)) {
            v = json_object_get(v, key);
        } else if (json_is_array(v)) {
            char *end;
            long idx = strtol(key, &end, 10);
            v = (*end || idx < 0 || (size_t)idx >= json_array_size(v)) ? NULL : json_array_get(v, (size_t)idx);
        } else {
            v = NULL;
        }
        c = dot ? dot + 1 : c + n;
    }
    return v;
}

static int is_number(const json_t *v) { return json_is_number(v); }

/* Element i of an array (NULL past its end). */
static const json_t *item(const json_t *arr, size_t i) { return json_array_get(arr, i); }

/* A number is an estimate without standard error. */
void rep_published_pair(const rep_sources *src, const char *path, double *est, double *se)
{
    *est = *se = NAN;
    const json_t *v = at_path(src->paper, path);
    if (is_number(v))
        *est = json_number_value(v);
    else if (json_is_array(v) && json_array_size(v) >= 1 && is_number(item(v, 0))) {
        *est = json_number_value(item(v, 0));
        if (json_array_size(v) >= 2 && is_number(item(v, 1)))
            *se = json_number_value(item(v, 1));
    }
}

/* Exactly two numbers. */
void rep_published_range(const rep_sources *src, const char *path, double *lo, double *hi)
{
    *lo = *hi = NAN;
    const json_t *v = at_path(src->paper, path);
    if (json_is_array(v) && json_array_size(v) == 2 && is_number(item(v, 0)) && is_number(item(v, 1))) {
        *lo = json_number_value(item(v, 0));
        *hi = json_number_value(item(v, 1));
    }
}

/* A number, or the first element of an array. */
double rep_published_number(const rep_sources *src, const char *path)
{
    const json_t *v = at_path(src->paper, path);
    if (is_number(v))
        return json_number_value(v);
    if (json_is_array(v) && json_array_size(v) >= 1 && is_number(item(v, 0)))
        return json_number_value(item(v, 0));
    return NAN;
}

/* Elements that are not numbers stay NaN. */
int rep_published_row(const rep_sources *src, const char *path, double out[8])
{
    for (int m = 0; m < 8; m++)
        out[m] = NAN;
    const json_t *v = at_path(src->paper, path);
    if (!json_is_array(v))
        return 0;
    for (size_t m = 0; m < json_array_size(v) && m < 8; m++)
        if (is_number(item(v, m)))
            out[m] = json_number_value(item(v, m));
    return 1;
}

/* A number, else a [low, high] pair. */
void rep_published_item(const rep_sources *src, const char *path, double *value, double *lo, double *hi)
{
    *value = *lo = *hi = NAN;
    const json_t *v = at_path(src->paper, path);
    if (is_number(v))
        *value = json_number_value(v);
    else if (json_is_array(v) && json_array_size(v) == 2 && is_number(item(v, 0)) && is_number(item(v, 1))) {
        *lo = json_number_value(item(v, 0));
        *hi = json_number_value(item(v, 1));
    }
}

/* Only numbers are truths. */
int rep_truth_number(const rep_sources *src, const char *path, double *value)
{
    const json_t *v = at_path(src->truth, path);
    if (!is_number(v))
        return 0;
    *value = json_number_value(v);
    return 1;
}
