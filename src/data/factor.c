/* factor.c - dense group codes for fixed effects, clusters and splits:
 * gravrd_column_group_codes (one column) and gravrd_codes_combine (an
 * interaction of two code vectors).
 *
 * Codes are ordered (level order, ascending numbers, lexicographic pairs) so
 * that group numbering, and anything printed per group, does not depend on
 * the row order of the data. The output array may be the same as an input
 * code array: every pass reads a row's inputs before writing its output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"
#include "util/strutil.h"

static gravrd_status factor_codes(const gravrd_column *col, size_t n_rows, int32_t *codes_N,
                                  int32_t *n_groups, char ***labels_out, gravrd_error *err)
{
    int32_t nl = col->n_levels;
    int32_t *map = malloc((nl > 0 ? (size_t)nl : 1) * sizeof *map);
    if (!map)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'", col->name);
    for (int32_t l = 0; l < nl; l++)
        map[l] = -1;
    for (size_t i = 0; i < n_rows; i++) {
        int32_t k = col->codes_N[i];
        if (k < -1 || k >= nl) {
            free(map);
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "column '%s', row %zu: code %d outside -1..%d", col->name, i + 1,
                                    (int)k, (int)nl - 1);
        }
        if (k >= 0)
            map[k] = 0;
    }
    int32_t ng = 0;
    for (int32_t l = 0; l < nl; l++)
        if (map[l] == 0)
            map[l] = ng++;
    if (labels_out) {
        char **labels = calloc(ng > 0 ? (size_t)ng : 1, sizeof *labels);
        int ok = labels != NULL;
        for (int32_t l = 0; ok && l < nl; l++)
            if (map[l] >= 0 && !(labels[map[l]] = gravrd_strdup(col->levels_L[l])))
                ok = 0;
        if (!ok) {
            gravrd_strings_free(labels, labels ? (size_t)ng : 0);
            free(map);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'",
                                    col->name);
        }
        *labels_out = labels;
    }
    for (size_t i = 0; i < n_rows; i++) {
        int32_t k = col->codes_N[i];
        codes_N[i] = k < 0 ? -1 : map[k];
    }
    free(map);
    *n_groups = ng;
    return GRAVRD_OK;
}

/* Maps a double's bits to an unsigned key with the same order. */
static uint64_t order_key(uint64_t bits)
{
    return (bits >> 63) ? ~bits : bits | (UINT64_C(1) << 63);
}

/* Integer-valued columns in a narrow range (city ids, months, pair ids: the
 * usual fixed effects and clusters) are numbered through a table indexed by
 * value - min instead of a hash map: the table's index order is ascending
 * numeric order, so the codes are the same as the hash path's, several
 * times faster. Returns 1 when it applied, 0 when the column does not fit
 * (then nothing was written), -1 when out of memory. */
static int numeric_codes_dense(const gravrd_column *col, size_t n_rows, int32_t *codes_N,
                               int32_t *n_groups, char ***labels_out)
{
    const double *x = col->num_N;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n_rows; i++) {
        double v = x[i];
        if (isnan(v))
            continue;
        if (!(v > -1e15 && v < 1e15) || v != floor(v))
            return 0;
        if (v < lo)
            lo = v;
        if (v > hi)
            hi = v;
    }
    if (lo > hi)
        lo = hi = 0; /* no value: no groups */
    double span = hi - lo + 1;
    if (span > 4.0 * (double)n_rows + 65536 || span > (double)(1 << 25))
        return 0;
    size_t cells = (size_t)span;
    int64_t base = (int64_t)lo;
    int32_t *table = calloc(cells, sizeof *table);
    if (!table)
        return -1;
    for (size_t i = 0; i < n_rows; i++)
        if (!isnan(x[i]))
            table[(int64_t)x[i] - base] = 1;
    int32_t ng = 0;
    for (size_t k = 0; k < cells; k++)
        table[k] = table[k] ? ng++ : -1;
    if (labels_out) {
        char **labels = calloc(ng > 0 ? (size_t)ng : 1, sizeof *labels);
        int ok = labels != NULL;
        for (size_t k = 0; ok && k < cells; k++)
            if (table[k] >= 0) {
                char tmp[40];
                snprintf(tmp, sizeof tmp, "%lld", (long long)(base + (int64_t)k));
                ok = (labels[table[k]] = gravrd_strdup(tmp)) != NULL;
            }
        if (!ok) {
            gravrd_strings_free(labels, labels ? (size_t)ng : 0);
            free(table);
            return -1;
        }
        *labels_out = labels;
    }
    for (size_t i = 0; i < n_rows; i++)
        codes_N[i] = isnan(x[i]) ? -1 : table[(int64_t)x[i] - base];
    free(table);
    *n_groups = ng;
    return 1;
}

static gravrd_status numeric_codes(const gravrd_column *col, size_t n_rows, int32_t *codes_N,
                                   int32_t *n_groups, char ***labels_out, gravrd_error *err)
{
    int dense = numeric_codes_dense(col, n_rows, codes_N, n_groups, labels_out);
    if (dense < 0)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'", col->name);
    if (dense > 0)
        return GRAVRD_OK;
    gravrd_u64map m;
    if (gravrd_u64map_init(&m, n_rows))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'", col->name);
    for (size_t i = 0; i < n_rows; i++) {
        double x = col->num_N[i];
        if (isnan(x)) {
            codes_N[i] = -1;
            continue;
        }
        if (x == 0)
            x = 0.0; /* -0 and +0 are one group */
        uint64_t bits;
        memcpy(&bits, &x, sizeof bits);
        int32_t id = gravrd_u64map_get(&m, bits);
        if (id < 0) {
            gravrd_u64map_free(&m);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'",
                                    col->name);
        }
        codes_N[i] = id;
    }
    int32_t ng = m.n;
    int32_t *rank = malloc((ng > 0 ? (size_t)ng : 1) * sizeof *rank);
    uint64_t *keys = malloc((ng > 0 ? (size_t)ng : 1) * sizeof *keys);
    char **labels = labels_out ? calloc(ng > 0 ? (size_t)ng : 1, sizeof *labels) : NULL;
    int ok = rank && keys && (!labels_out || labels);
    if (ok) {
        for (int32_t g = 0; g < ng; g++)
            keys[g] = order_key(m.keys[g]);
        ok = gravrd_u64_rank(keys, ng, rank) == 0;
    }
    if (ok && labels) {
        gravrd_numctx num;
        gravrd_numctx_init(&num);
        locale_t prev = gravrd_numctx_enter(&num);
        for (int32_t g = 0; ok && g < ng; g++) {
            double x;
            memcpy(&x, &m.keys[g], sizeof x);
            char tmp[40];
            snprintf(tmp, sizeof tmp, "%.15g", x);
            ok = (labels[rank[g]] = gravrd_strdup(tmp)) != NULL;
        }
        gravrd_numctx_leave(&num, prev);
        gravrd_numctx_free(&num);
    }
    if (ok)
        for (size_t i = 0; i < n_rows; i++)
            if (codes_N[i] >= 0)
                codes_N[i] = rank[codes_N[i]];
    gravrd_u64map_free(&m);
    free(rank);
    free(keys);
    if (!ok) {
        gravrd_strings_free(labels, labels ? (size_t)ng : 0);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'", col->name);
    }
    if (labels_out)
        *labels_out = labels;
    *n_groups = ng;
    return GRAVRD_OK;
}

gravrd_status gravrd_column_group_codes(const gravrd_column *col, size_t n_rows, int32_t *codes_N,
                                        int32_t *n_groups, char ***labels_out, gravrd_error *err)
{
    if (labels_out)
        *labels_out = NULL;
    if (!col || !n_groups || (!codes_N && n_rows))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_column_group_codes: missing argument");
    const char *name = col->name ? col->name : "?";
    if (col->type == GRAVRD_COL_FACTOR) {
        if ((!col->codes_N && n_rows) || (!col->levels_L && col->n_levels > 0))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s' has no codes", name);
        return factor_codes(col, n_rows, codes_N, n_groups, labels_out, err);
    }
    if (!col->num_N && n_rows)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "column '%s' has no values", name);
    return numeric_codes(col, n_rows, codes_N, n_groups, labels_out, err);
}

/* Few possible pairs: mark them in a table indexed by a*n_b+b, number the
 * marked cells in index order (which is (a, b) order), look rows up. */
static gravrd_status combine_table(const int32_t *a_N, const int32_t *b_N, int32_t n_b,
                                   size_t n_rows, size_t cells, int32_t *out_N, int32_t *n_out,
                                   gravrd_error *err)
{
    int32_t *table = calloc(cells ? cells : 1, sizeof *table);
    if (!table)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory combining codes");
    /* each row's cell index (the code itself when every cell occurs) */
    for (size_t i = 0; i < n_rows; i++) {
        int32_t a = a_N[i], b = b_N[i];
        int32_t k = (a >= 0 && b >= 0) ? a * n_b + b : -1;
        out_N[i] = k;
        if (k >= 0)
            table[k] = 1;
    }
    int32_t n = 0;
    for (size_t k = 0; k < cells; k++)
        table[k] = table[k] ? n++ : -1;
    if ((size_t)n != cells) /* ranks among the cells that occur */
        for (size_t i = 0; i < n_rows; i++)
            if (out_N[i] >= 0)
                out_N[i] = table[out_N[i]];
    free(table);
    *n_out = n;
    return GRAVRD_OK;
}

/* Many possible pairs: hash the pairs that occur, then rank them. */
static gravrd_status combine_hash(const int32_t *a_N, const int32_t *b_N, int32_t n_b,
                                  size_t n_rows, int32_t *out_N, int32_t *n_out, gravrd_error *err)
{
    gravrd_u64map m;
    if (gravrd_u64map_init(&m, n_rows))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory combining codes");
    for (size_t i = 0; i < n_rows; i++) {
        int32_t a = a_N[i], b = b_N[i];
        if (a < 0 || b < 0) {
            out_N[i] = -1;
            continue;
        }
        int32_t id = gravrd_u64map_get(&m, (uint64_t)a * (uint64_t)n_b + (uint64_t)b);
        if (id < 0) {
            gravrd_u64map_free(&m);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory combining codes");
        }
        out_N[i] = id;
    }
    int32_t n = m.n;
    int32_t *rank = malloc((n > 0 ? (size_t)n : 1) * sizeof *rank);
    if (!rank || gravrd_u64_rank(m.keys, n, rank)) {
        free(rank);
        gravrd_u64map_free(&m);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory combining codes");
    }
    for (size_t i = 0; i < n_rows; i++)
        if (out_N[i] >= 0)
            out_N[i] = rank[out_N[i]];
    free(rank);
    gravrd_u64map_free(&m);
    *n_out = n;
    return GRAVRD_OK;
}

gravrd_status gravrd_codes_combine(const int32_t *a_N, int32_t n_a, const int32_t *b_N, int32_t n_b,
                                   size_t n_rows, int32_t *out_N, int32_t *n_out, gravrd_error *err)
{
    if (!n_out || (n_rows && (!a_N || !b_N || !out_N)) || n_a < 0 || n_b < 0)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_codes_combine: invalid arguments");
    /* Counted without branches; the offending row is looked for only when
     * there is one. */
    size_t bad = 0;
    for (size_t i = 0; i < n_rows; i++)
        bad += (size_t)((a_N[i] < -1) | (a_N[i] >= n_a) | (b_N[i] < -1) | (b_N[i] >= n_b));
    for (size_t i = 0; bad && i < n_rows; i++) {
        if (a_N[i] < -1 || a_N[i] >= n_a)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "gravrd_codes_combine: row %zu: first code %d outside -1..%d",
                                    i + 1, (int)a_N[i], (int)n_a - 1);
        if (b_N[i] < -1 || b_N[i] >= n_b)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "gravrd_codes_combine: row %zu: second code %d outside -1..%d",
                                    i + 1, (int)b_N[i], (int)n_b - 1);
    }
    /* The table costs one int32 per possible pair and a scan of all of them;
     * use it only when that is comparable to the work per row. */
    uint64_t cells = (uint64_t)n_a * (uint64_t)n_b;
    if (cells <= 4 * (uint64_t)n_rows + 65536 && cells <= (UINT64_C(1) << 25))
        return combine_table(a_N, b_N, n_b, n_rows, (size_t)cells, out_N, n_out, err);
    return combine_hash(a_N, b_N, n_b, n_rows, out_N, n_out, err);
}

void gravrd_strings_free(char **strings, size_t n)
{
    if (!strings)
        return;
    for (size_t i = 0; i < n; i++)
        free(strings[i]);
    free(strings);
}
