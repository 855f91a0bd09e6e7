/* column_codes.c - group codes of a column or a '^'-combination of columns
 * (see column_codes.h), below both the model data and the input cache.
 *
 * Grouping id columns is a large share of a regression's cost on big panels;
 * numeric columns holding integers in a modest range (city, month and pair
 * ids) are grouped through a direct table instead of a hash, with exactly the
 * codes gravrd_column_group_codes gives (ascending values). */
#include "estimate/column_codes.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Codes of a numeric column whose values are all integers (or NaN = missing)
 * spanning at most about 4 N values: mark the values present in a table
 * indexed by value - min, number them in ascending order, look rows up. The
 * codes equal gravrd_column_group_codes' (which ranks the distinct values in
 * ascending order). Returns 1 when done, 0 when the column does not qualify
 * (nothing written to *n_groups), -1 on no memory. */
static int dense_integer_codes(const gravrd_column *col, size_t N, int32_t *codes_N, int32_t *n_groups)
{
    if (col->type != GRAVRD_COL_NUMERIC || !col->num_N || N == 0)
        return 0;
    const double *x = col->num_N;
    double lo = INFINITY, hi = -INFINITY;
    /* Pass 1: the range (NaN compares false and is skipped). */
    for (size_t i = 0; i < N; i++) {
        double v = x[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (!(lo <= hi)) /* all missing */
        return 0;
    if (!(lo >= -2147483648.0 && hi <= 2147483647.0))
        return 0;
    double span = floor(hi) - ceil(lo) + 1;
    if (span > 4.0 * (double)N + 65536.0 || span > (double)(1 << 25))
        return 0;
    const int64_t base = (int64_t)ceil(lo);
    size_t cells = (size_t)(int64_t)span;
    int32_t *table = calloc(cells + 1, sizeof *table);
    if (!table)
        return -1;
    /* Pass 2: mark the values present and keep each row's offset; a
     * non-integer value sends the column to the hash. */
    for (size_t i = 0; i < N; i++) {
        double v = x[i];
        if (isnan(v)) {
            codes_N[i] = -1;
            continue;
        }
        int64_t k = (int64_t)v;
        if ((double)k != v) {
            free(table);
            return 0;
        }
        codes_N[i] = (int32_t)(k - base);
        table[k - base] = 1;
    }
    int32_t ng = 0;
    for (size_t c = 0; c < cells; c++)
        table[c] = table[c] ? ng++ : -1;
    /* Pass 3: offsets to codes, on the int32 offsets rather than the doubles;
     * when every value of the range is present (ids 1..n, as city and pair
     * ids are) the offsets already are the codes. */
    if ((size_t)ng != cells)
        for (size_t i = 0; i < N; i++)
            if (codes_N[i] >= 0)
                codes_N[i] = table[codes_N[i]];
    free(table);
    *n_groups = ng;
    return 1;
}

/* The dense table when the column qualifies, else the hash of
 * gravrd_column_group_codes: the same codes either way, so which path ran
 * never shows in the results. */
gravrd_status model_column_codes(const gravrd_column *col, size_t N, int32_t *codes_N, int32_t *n_groups,
                                 gravrd_error *err)
{
    int r = dense_integer_codes(col, N, codes_N, n_groups);
    if (r < 0)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'", col->name);
    if (r > 0)
        return GRAVRD_OK;
    return gravrd_column_group_codes(col, N, codes_N, n_groups, NULL, err);
}

/* Columns are combined left to right with gravrd_codes_combine; the cache
 * (reg_cache_codes) combines in the same order, so cached and uncached
 * codes are identical. */
gravrd_status model_group_codes(const gravrd_frame *frame, char *const *vars, int n_vars, const char *what,
                                int32_t *codes_N, int32_t *n_groups, gravrd_error *err)
{
    const size_t N = frame->n_rows;
    int32_t *tmp_N = NULL, *part_N = NULL;
    gravrd_status st = GRAVRD_OK;
    for (int v = 0; v < n_vars; v++) {
        const gravrd_column *col = gravrd_frame_find(frame, vars[v]);
        if (!col)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown variable '%s' in %s%s%s", vars[v], what,
                                    frame->source && frame->source[0] ? " (data: " : "",
                                    frame->source && frame->source[0] ? frame->source : "");
    }
    if (n_vars == 1)
        return model_column_codes(gravrd_frame_find(frame, vars[0]), N, codes_N, n_groups, err);
    part_N = malloc(N * sizeof *part_N);
    tmp_N = malloc(N * sizeof *tmp_N);
    if (!part_N || !tmp_N) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory encoding %s", what);
        goto done;
    }
    st = model_column_codes(gravrd_frame_find(frame, vars[0]), N, codes_N, n_groups, err);
    for (int v = 1; v < n_vars && !st; v++) {
        int32_t n_part = 0;
        st = model_column_codes(gravrd_frame_find(frame, vars[v]), N, part_N, &n_part, err);
        if (!st)
            st = gravrd_codes_combine(codes_N, *n_groups, part_N, n_part, N, tmp_N, n_groups, err);
        if (!st)
            memcpy(codes_N, tmp_N, N * sizeof *codes_N);
    }
done:
    free(part_N);
    free(tmp_N);
    return st;
}
