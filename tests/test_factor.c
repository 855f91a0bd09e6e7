/* test_factor.c - group codes, code interactions and the frame API
 * (add/find/index/filter), checked against brute-force references. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gravrd/data.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static char **strs_dup(const char *const *s, int32_t n)
{
    char **out = malloc((size_t)(n ? n : 1) * sizeof *out);
    assert_non_null(out);
    for (int32_t i = 0; i < n; i++) {
        out[i] = malloc(strlen(s[i]) + 1);
        assert_non_null(out[i]);
        strcpy(out[i], s[i]);
    }
    return out;
}

static int32_t *codes_dup(const int32_t *c, size_t n)
{
    int32_t *out = malloc((n ? n : 1) * sizeof *out);
    assert_non_null(out);
    memcpy(out, c, n * sizeof *out);
    return out;
}

static double *nums_dup(const double *v, size_t n)
{
    double *out = malloc((n ? n : 1) * sizeof *out);
    assert_non_null(out);
    memcpy(out, v, n * sizeof *out);
    return out;
}

static void assert_codes(const int32_t *got, const int32_t *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("row %zu: code %d, expected %d", i, (int)got[i], (int)want[i]);
}

static void test_group_codes_factor(void **state)
{
    (void)state;
    static const char *const levels[] = {"AUT", "BEL", "CHE", "DEU"};
    gravrd_frame *f = gravrd_frame_new(6, "mem");
    gravrd_error err;
    const int32_t codes[] = {3, 1, -1, 3, 1, 3};
    assert_int_equal(gravrd_frame_add_factor(f, "exp", codes_dup(codes, 6), strs_dup(levels, 4), 4,
                                             &err),
                     GRAVRD_OK);
    int32_t out[6], ng = -5;
    char **labels = NULL;
    assert_int_equal(gravrd_column_group_codes(&f->cols[0], 6, out, &ng, &labels, &err), GRAVRD_OK);
    /* AUT and CHE are unused: BEL -> 0, DEU -> 1. */
    assert_int_equal(ng, 2);
    assert_codes(out, (const int32_t[]){1, 0, -1, 1, 0, 1}, 6);
    assert_string_equal(labels[0], "BEL");
    assert_string_equal(labels[1], "DEU");
    gravrd_strings_free(labels, (size_t)ng);

    /* Without labels, and in place over the column's own codes. */
    assert_int_equal(gravrd_column_group_codes(&f->cols[0], 6, f->cols[0].codes_N, &ng, NULL, &err),
                     GRAVRD_OK);
    assert_int_equal(ng, 2);
    assert_codes(f->cols[0].codes_N, (const int32_t[]){1, 0, -1, 1, 0, 1}, 6);
    gravrd_frame_free(f);
}

static void test_group_codes_numeric(void **state)
{
    (void)state;
    const double v[] = {2.5, -1, NAN, 2.5, 0, -0.0, 1e300, -INFINITY, 2017};
    gravrd_column c = {.name = "x", .type = GRAVRD_COL_NUMERIC, .num_N = (double *)v};
    int32_t out[9], ng;
    char **labels = NULL;
    gravrd_error err;
    assert_int_equal(gravrd_column_group_codes(&c, 9, out, &ng, &labels, &err), GRAVRD_OK);
    /* Ascending: -inf, -1, 0 (= -0), 2.5, 2017, 1e300. */
    assert_int_equal(ng, 6);
    assert_codes(out, (const int32_t[]){3, 1, -1, 3, 2, 2, 5, 0, 4}, 9);
    const char *want[] = {"-inf", "-1", "0", "2.5", "2017", "1e+300"};
    for (int g = 0; g < 6; g++)
        assert_string_equal(labels[g], want[g]);
    gravrd_strings_free(labels, (size_t)ng);

    /* No rows: no groups. */
    assert_int_equal(gravrd_column_group_codes(&c, 0, out, &ng, &labels, &err), GRAVRD_OK);
    assert_int_equal(ng, 0);
    gravrd_strings_free(labels, 0);
}

/* Integer ids in a narrow range take the table path; one non-integer value
 * sends the same column through the hash path: codes and labels agree. */
static void test_group_codes_integer_table(void **state)
{
    (void)state;
    enum { N = 50000 };
    double *v = malloc((N + 1) * sizeof *v);
    int32_t *a = malloc((N + 1) * sizeof *a), *b = malloc((N + 1) * sizeof *b);
    assert_true(v && a && b);
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rng();
        v[i] = (r % 101 == 0) ? NAN : (double)(int64_t)(r % 3001) - 1500.0;
    }
    v[7] = -0.0;
    v[N] = 0.5;
    gravrd_column c = {.name = "id", .type = GRAVRD_COL_NUMERIC, .num_N = v};
    char **la = NULL, **lb = NULL;
    int32_t na, nb;
    gravrd_error err;
    assert_int_equal(gravrd_column_group_codes(&c, N, a, &na, &la, &err), GRAVRD_OK);
    assert_int_equal(gravrd_column_group_codes(&c, N + 1, b, &nb, &lb, &err), GRAVRD_OK);
    /* b has one more group (0.5, between 0 and 1): shift codes above it. */
    assert_int_equal(nb, na + 1);
    int32_t half = -1;
    for (int32_t g = 0; g < nb; g++)
        if (!strcmp(lb[g], "0.5"))
            half = g;
    assert_true(half > 0);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(a[i], b[i] < 0 ? -1 : (b[i] > half ? b[i] - 1 : b[i]));
    for (int32_t g = 0; g < na; g++)
        assert_string_equal(la[g], lb[g < half ? g : g + 1]);
    assert_string_equal(la[0], "-1500");
    gravrd_strings_free(la, (size_t)na);
    gravrd_strings_free(lb, (size_t)nb);
    free(v);
    free(a);
    free(b);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void test_group_codes_numeric_large(void **state)
{
    (void)state;
    /* Enough distinct values for the radix path, positive and negative. */
    enum { N = 200000 };
    double *v = malloc(N * sizeof *v);
    double *sorted = malloc(N * sizeof *sorted);
    int32_t *out = malloc(N * sizeof *out);
    assert_true(v && sorted && out);
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rng();
        v[i] = (r % 97 == 0) ? NAN : ((double)(int64_t)(r % 60001) - 30000.0) * 0.25;
    }
    gravrd_column c = {.name = "x", .type = GRAVRD_COL_NUMERIC, .num_N = v};
    int32_t ng;
    gravrd_error err;
    assert_int_equal(gravrd_column_group_codes(&c, N, out, &ng, NULL, &err), GRAVRD_OK);

    size_t m = 0;
    for (size_t i = 0; i < N; i++)
        if (!isnan(v[i]))
            sorted[m++] = v[i];
    qsort(sorted, m, sizeof *sorted, cmp_double);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (i == 0 || sorted[i] != sorted[u - 1])
            sorted[u++] = sorted[i];
    assert_int_equal(ng, (int32_t)u);
    for (size_t i = 0; i < N; i++) {
        if (isnan(v[i])) {
            assert_int_equal(out[i], -1);
            continue;
        }
        double *hit = bsearch(&v[i], sorted, u, sizeof *sorted, cmp_double);
        assert_non_null(hit);
        assert_int_equal(out[i], (int32_t)(hit - sorted));
    }
    free(v);
    free(sorted);
    free(out);
}

static void test_combine_small(void **state)
{
    (void)state;
    const int32_t a[] = {0, 1, 0, 2, -1, 1, 2, 0};
    const int32_t b[] = {1, 0, 1, 0, 0, -1, 1, 0};
    int32_t out[8], n = -1;
    gravrd_error err;
    assert_int_equal(gravrd_codes_combine(a, 3, b, 2, 8, out, &n, &err), GRAVRD_OK);
    /* Pairs in (a, b) order: (0,0) (0,1) (1,0) (2,0) (2,1). */
    assert_int_equal(n, 5);
    assert_codes(out, (const int32_t[]){1, 2, 1, 3, -1, -1, 4, 0}, 8);

    /* Out of range codes are a caller error, named by row. */
    const int32_t bad[] = {0, 3};
    assert_int_equal(gravrd_codes_combine(bad, 3, b, 2, 2, out, &n, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "row 2"));
    assert_int_equal(gravrd_codes_combine(a, 3, bad, 2, 2, out, &n, &err), GRAVRD_ERR_INVALID);
}

/* Combines with random codes and checks against sorting the pairs. */
static void check_combine_random(size_t n_rows, int32_t n_a, int32_t n_b, int in_place)
{
    int32_t *a = malloc(n_rows * sizeof *a), *b = malloc(n_rows * sizeof *b);
    int32_t *out = malloc(n_rows * sizeof *out);
    int64_t *keys = malloc(n_rows * sizeof *keys);
    assert_true(a && b && out && keys);
    for (size_t i = 0; i < n_rows; i++) {
        uint64_t r = rng();
        a[i] = r % 50 == 0 ? -1 : (int32_t)((r >> 8) % (uint64_t)n_a);
        b[i] = r % 51 == 0 ? -1 : (int32_t)((r >> 36) % (uint64_t)n_b);
    }
    size_t m = 0;
    for (size_t i = 0; i < n_rows; i++)
        if (a[i] >= 0 && b[i] >= 0)
            keys[m++] = (int64_t)a[i] * n_b + b[i];
    /* Reference: sorted distinct keys. */
    for (size_t gap = m / 2; gap > 0; gap /= 2) /* shell sort: no callback needed */
        for (size_t i = gap; i < m; i++)
            for (size_t j = i; j >= gap && keys[j - gap] > keys[j]; j -= gap) {
                int64_t t = keys[j];
                keys[j] = keys[j - gap];
                keys[j - gap] = t;
            }
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (i == 0 || keys[i] != keys[u - 1])
            keys[u++] = keys[i];

    int32_t *aa = malloc(n_rows * sizeof *aa);
    assert_non_null(aa);
    memcpy(aa, a, n_rows * sizeof *a);
    int32_t *dst = in_place ? aa : out;
    int32_t n = -1;
    gravrd_error err;
    assert_int_equal(gravrd_codes_combine(aa, n_a, b, n_b, n_rows, dst, &n, &err), GRAVRD_OK);
    assert_int_equal(n, (int32_t)u);
    for (size_t i = 0; i < n_rows; i++) {
        if (a[i] < 0 || b[i] < 0) {
            assert_int_equal(dst[i], -1);
            continue;
        }
        int64_t key = (int64_t)a[i] * n_b + b[i];
        size_t lo = 0, hi = u;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (keys[mid] < key)
                lo = mid + 1;
            else
                hi = mid;
        }
        assert_int_equal(dst[i], (int32_t)lo);
    }
    free(a);
    free(b);
    free(aa);
    free(out);
    free(keys);
}

static void test_combine_random(void **state)
{
    (void)state;
    check_combine_random(100000, 40, 30, 0);           /* lookup table */
    check_combine_random(100000, 40, 30, 1);           /* ... in place */
    check_combine_random(20000, 1000000, 2000000, 0);  /* hash + radix ranking */
    check_combine_random(20000, 1000000, 2000000, 1);
    check_combine_random(3000, 2147483647, 2147483647, 0); /* keys near 2^62 */
    check_combine_random(500, 100000, 100000, 0);      /* hash, few keys (qsort rank) */
}

static void test_frame_api(void **state)
{
    (void)state;
    gravrd_frame *f = gravrd_frame_new(3, "flows.csv");
    assert_non_null(f);
    assert_string_equal(f->source, "flows.csv");
    gravrd_error err;
    assert_int_equal(gravrd_frame_add_numeric(f, "trade", nums_dup((const double[]){1, 2, 3}, 3), &err),
                     GRAVRD_OK);
    /* A duplicate name fails; the frame still takes (and frees) the array. */
    gravrd_status st = gravrd_frame_add_numeric(f, "trade", nums_dup((const double[]){4, 5, 6}, 3), &err);
    assert_int_equal(st, GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "'trade'"));
    static const char *const lv[] = {"a", "b"};
    st = gravrd_frame_add_factor(f, "trade", codes_dup((const int32_t[]){0, 1, 0}, 3), strs_dup(lv, 2),
                                 2, &err);
    assert_int_equal(st, GRAVRD_ERR_INVALID);

    /* Levels must be sorted and unique; codes within range. */
    static const char *const unsorted[] = {"b", "a"};
    st = gravrd_frame_add_factor(f, "f", codes_dup((const int32_t[]){0, 1, 0}, 3),
                                 strs_dup(unsorted, 2), 2, &err);
    assert_int_equal(st, GRAVRD_ERR_INVALID);
    static const char *const dup[] = {"a", "a"};
    st = gravrd_frame_add_factor(f, "f", codes_dup((const int32_t[]){0, 1, 0}, 3), strs_dup(dup, 2),
                                 2, &err);
    assert_int_equal(st, GRAVRD_ERR_INVALID);
    st = gravrd_frame_add_factor(f, "f", codes_dup((const int32_t[]){0, 2, 0}, 3), strs_dup(lv, 2), 2,
                                 &err);
    assert_int_equal(st, GRAVRD_ERR_INVALID);
    assert_int_equal(f->n_cols, 1);

    st = gravrd_frame_add_factor(f, "f", codes_dup((const int32_t[]){1, -1, 0}, 3), strs_dup(lv, 2), 2,
                                 &err);
    assert_int_equal(st, GRAVRD_OK);
    assert_int_equal(f->n_cols, 2);
    assert_int_equal(gravrd_frame_index(f, "f"), 1);
    assert_int_equal(gravrd_frame_index(f, "trade"), 0);
    assert_int_equal(gravrd_frame_index(f, "nope"), -1);
    assert_null(gravrd_frame_find(f, "Trade")); /* exact match only */
    const gravrd_column *c = gravrd_frame_find(f, "f");
    assert_non_null(c);
    assert_int_equal(c->type, GRAVRD_COL_FACTOR);
    assert_string_equal(c->levels_L[1], "b");

    /* Many columns: the column array grows. */
    for (int j = 0; j < 40; j++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", j);
        assert_int_equal(gravrd_frame_add_numeric(f, name, nums_dup((const double[]){j, j, j}, 3), &err),
                         GRAVRD_OK);
    }
    assert_int_equal(gravrd_frame_index(f, "v39"), 41);
    assert_true(gravrd_frame_find(f, "v39")->num_N[2] == 39);
    gravrd_frame_free(f);
    gravrd_frame_free(NULL);
    gravrd_strings_free(NULL, 0);
}

static void test_filter(void **state)
{
    (void)state;
    gravrd_frame *f = gravrd_frame_new(5, "src.csv");
    gravrd_error err;
    assert_int_equal(gravrd_frame_add_numeric(f, "x", nums_dup((const double[]){1, NAN, 3, 4, 5}, 5), &err),
                     GRAVRD_OK);
    static const char *const lv[] = {"AUT", "BEL", "CHE"};
    assert_int_equal(gravrd_frame_add_factor(f, "c", codes_dup((const int32_t[]){0, 1, 2, -1, 1}, 5),
                                             strs_dup(lv, 3), 3, &err),
                     GRAVRD_OK);
    const uint8_t keep[] = {1, 0, 0, 1, 7};
    gravrd_frame *g = gravrd_frame_filter(f, keep);
    assert_non_null(g);
    assert_int_equal(g->n_rows, 3);
    assert_int_equal(g->n_cols, 2);
    assert_string_equal(g->source, "src.csv");
    const gravrd_column *x = gravrd_frame_find(g, "x");
    assert_true(x->num_N[0] == 1 && x->num_N[1] == 4 && x->num_N[2] == 5);
    const gravrd_column *c = gravrd_frame_find(g, "c");
    /* CHE is no longer used but stays in the level table. */
    assert_int_equal(c->n_levels, 3);
    assert_string_equal(c->levels_L[2], "CHE");
    assert_codes(c->codes_N, (const int32_t[]){0, -1, 1}, 3);
    assert_true(c->levels_L[0] != f->cols[1].levels_L[0]); /* a copy, not shared */

    /* Group codes drop the unused level. */
    int32_t out[3], ng;
    assert_int_equal(gravrd_column_group_codes(c, 3, out, &ng, NULL, &err), GRAVRD_OK);
    assert_int_equal(ng, 2);
    assert_codes(out, (const int32_t[]){0, -1, 1}, 3);
    gravrd_frame_free(g);

    const uint8_t none[5] = {0};
    g = gravrd_frame_filter(f, none);
    assert_non_null(g);
    assert_int_equal(g->n_rows, 0);
    assert_int_equal(g->n_cols, 2);
    gravrd_frame_free(g);
    assert_null(gravrd_frame_filter(f, NULL));
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_codes_factor),
        cmocka_unit_test(test_group_codes_numeric),
        cmocka_unit_test(test_group_codes_numeric_large),
        cmocka_unit_test(test_group_codes_integer_table),
        cmocka_unit_test(test_combine_small),
        cmocka_unit_test(test_combine_random),
        cmocka_unit_test(test_frame_api),
        cmocka_unit_test(test_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
