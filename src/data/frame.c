/* frame.c - gravrd_frame lifetime, column lookup, adding columns, filtering. */
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "util/strutil.h"

gravrd_frame *gravrd_frame_new(size_t n_rows, const char *source)
{
    gravrd_frame *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->source = gravrd_strdup(source ? source : "");
    if (!f->source) {
        free(f);
        return NULL;
    }
    f->n_rows = n_rows;
    return f;
}

void gravrd_column_clear(gravrd_column *col)
{
    free(col->name);
    free(col->num_N);
    free(col->codes_N);
    if (col->levels_L) {
        for (int32_t i = 0; i < col->n_levels; i++)
            free(col->levels_L[i]);
        free(col->levels_L);
    }
    memset(col, 0, sizeof *col);
}

void gravrd_frame_free(gravrd_frame *frame)
{
    if (!frame)
        return;
    for (size_t j = 0; j < frame->n_cols; j++)
        gravrd_column_clear(&frame->cols[j]);
    free(frame->cols);
    free(frame->source);
    free(frame);
}

long gravrd_frame_index(const gravrd_frame *frame, const char *name)
{
    if (!frame || !name)
        return -1;
    for (size_t j = 0; j < frame->n_cols; j++)
        if (strcmp(frame->cols[j].name, name) == 0)
            return (long)j;
    return -1;
}

const gravrd_column *gravrd_frame_find(const gravrd_frame *frame, const char *name)
{
    long j = gravrd_frame_index(frame, name);
    return j < 0 ? NULL : &frame->cols[j];
}

gravrd_status gravrd_frame_push_column(gravrd_frame *frame, gravrd_column *col, gravrd_error *err)
{
    if (frame->n_cols == frame->cap_cols) {
        size_t cap = frame->cap_cols ? frame->cap_cols * 2 : 8;
        gravrd_column *cols = realloc(frame->cols, cap * sizeof *cols);
        if (!cols) {
            gravrd_column_clear(col);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory adding a column");
        }
        frame->cols = cols;
        frame->cap_cols = cap;
    }
    frame->cols[frame->n_cols++] = *col;
    memset(col, 0, sizeof *col);
    return GRAVRD_OK;
}

/* Shared checks of the two add functions. On failure the caller frees what it
 * was given: ownership passes to the frame whether or not the add succeeds,
 * so a caller never has to free arrays it handed over. */
static gravrd_status check_new_name(const gravrd_frame *frame, const char *name, gravrd_error *err)
{
    if (!frame || !name || !name[0])
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "a column needs a frame and a non-empty name");
    if (gravrd_frame_index(frame, name) >= 0)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s' already exists", name);
    return GRAVRD_OK;
}

gravrd_status gravrd_frame_add_numeric(gravrd_frame *frame, const char *name, double *values_N,
                                       gravrd_error *err)
{
    gravrd_status st = check_new_name(frame, name, err);
    if (st == GRAVRD_OK && !values_N && frame->n_rows > 0)
        st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s': no values given", name);
    gravrd_column col = {0};
    col.type = GRAVRD_COL_NUMERIC;
    col.num_N = values_N;
    if (st == GRAVRD_OK && !col.num_N)
        col.num_N = malloc(sizeof(double)); /* zero rows: keep num_N non-NULL */
    col.name = st == GRAVRD_OK ? gravrd_strdup(name) : NULL;
    if (st == GRAVRD_OK && (!col.name || !col.num_N))
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory adding column '%s'", name);
    if (st != GRAVRD_OK) {
        gravrd_column_clear(&col);
        return st;
    }
    return gravrd_frame_push_column(frame, &col, err);
}

gravrd_status gravrd_frame_add_factor(gravrd_frame *frame, const char *name, int32_t *codes_N,
                                      char **levels_L, int32_t n_levels, gravrd_error *err)
{
    gravrd_column col = {0};
    col.type = GRAVRD_COL_FACTOR;
    col.codes_N = codes_N;
    col.levels_L = levels_L;
    col.n_levels = levels_L && n_levels > 0 ? n_levels : 0;

    gravrd_status st = check_new_name(frame, name, err);
    if (st == GRAVRD_OK && n_levels < 0)
        st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s': negative level count", name);
    if (st == GRAVRD_OK && n_levels > 0 && !levels_L)
        st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s': no level table given", name);
    if (st == GRAVRD_OK && !codes_N && frame->n_rows > 0)
        st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s': no codes given", name);
    for (int32_t l = 0; st == GRAVRD_OK && l < n_levels; l++) {
        if (!levels_L[l])
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s': level %d is NULL", name, (int)l);
        else if (l > 0 && levels_L[l - 1] && strcmp(levels_L[l - 1], levels_L[l]) >= 0)
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                  "column '%s': levels not strictly sorted ('%s' before '%s')", name,
                                  levels_L[l - 1], levels_L[l]);
    }
    for (size_t i = 0; st == GRAVRD_OK && i < frame->n_rows; i++)
        if (codes_N[i] < -1 || codes_N[i] >= n_levels)
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                  "column '%s': code %d at row %zu outside -1..%d", name,
                                  (int)codes_N[i], i + 1, (int)n_levels - 1);
    if (st == GRAVRD_OK && !col.codes_N)
        col.codes_N = malloc(sizeof(int32_t));
    if (st == GRAVRD_OK && !col.levels_L)
        col.levels_L = malloc(sizeof(char *));
    col.name = st == GRAVRD_OK ? gravrd_strdup(name) : NULL;
    if (st == GRAVRD_OK && (!col.name || !col.codes_N || !col.levels_L))
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory adding column '%s'", name);
    if (st != GRAVRD_OK) {
        /* levels may contain NULLs here; free() accepts them. */
        gravrd_column_clear(&col);
        return st;
    }
    return gravrd_frame_push_column(frame, &col, err);
}

/* Copies column src keeping the n_keep rows with keep_N[i] != 0. */
static int filter_column(const gravrd_column *src, size_t n_rows, const uint8_t *keep_N,
                         size_t n_keep, gravrd_column *dst)
{
    memset(dst, 0, sizeof *dst);
    dst->type = src->type;
    dst->name = gravrd_strdup(src->name);
    if (!dst->name)
        return -1;
    size_t alloc_rows = n_keep ? n_keep : 1;
    if (src->type == GRAVRD_COL_NUMERIC) {
        dst->num_N = malloc(alloc_rows * sizeof *dst->num_N);
        if (!dst->num_N)
            return -1;
        size_t k = 0;
        for (size_t i = 0; i < n_rows; i++)
            if (keep_N[i])
                dst->num_N[k++] = src->num_N[i];
        return 0;
    }
    dst->codes_N = malloc(alloc_rows * sizeof *dst->codes_N);
    dst->levels_L = calloc(src->n_levels > 0 ? (size_t)src->n_levels : 1, sizeof *dst->levels_L);
    if (!dst->codes_N || !dst->levels_L)
        return -1;
    dst->n_levels = src->n_levels;
    for (int32_t l = 0; l < src->n_levels; l++)
        if (!(dst->levels_L[l] = gravrd_strdup(src->levels_L[l])))
            return -1; /* the rest are NULL, so gravrd_column_clear copes */
    size_t k = 0;
    for (size_t i = 0; i < n_rows; i++)
        if (keep_N[i])
            dst->codes_N[k++] = src->codes_N[i];
    return 0;
}

gravrd_frame *gravrd_frame_filter(const gravrd_frame *frame, const uint8_t *keep_N)
{
    if (!frame || (!keep_N && frame->n_rows > 0))
        return NULL;
    size_t n_keep = 0;
    for (size_t i = 0; i < frame->n_rows; i++)
        n_keep += keep_N[i] != 0;
    gravrd_frame *out = gravrd_frame_new(n_keep, frame->source);
    if (!out)
        return NULL;
    if (frame->n_cols) {
        out->cols = calloc(frame->n_cols, sizeof *out->cols);
        if (!out->cols) {
            gravrd_frame_free(out);
            return NULL;
        }
        out->cap_cols = frame->n_cols;
    }
    for (size_t j = 0; j < frame->n_cols; j++) {
        /* Count the column before filling it so a failure frees it too. */
        out->n_cols = j + 1;
        if (filter_column(&frame->cols[j], frame->n_rows, keep_N, n_keep, &out->cols[j])) {
            gravrd_frame_free(out);
            return NULL;
        }
    }
    return out;
}
