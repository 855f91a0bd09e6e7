/* test_hdfe.c - fixed-effect demeaning and singleton removal, checked
 * against least squares on explicit dummy variables solved by LAPACK. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/hdfe.h"

void dgelsd_(const int *m, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb,
             double *s, const double *rcond, int *rank, double *work, const int *lwork, int *iwork, int *info);

/* Residual of y on all dummies of the FE (minimum-norm least squares). */
static void dummy_residual(int n_fe, size_t n, int32_t **codes, const int32_t *levels, const double *y,
                           double *resid)
{
    int L = 0;
    for (int q = 0; q < n_fe; q++)
        L += levels[q];
    int m = (int)n, one = 1, rank = 0, info = 0, lwork = -1;
    double *A = calloc(n * (size_t)L, sizeof *A), *b = malloc(n * sizeof *b), *s = malloc((size_t)L * sizeof *s);
    int off = 0;
    for (int q = 0; q < n_fe; q++) {
        for (size_t i = 0; i < n; i++)
            A[(size_t)(off + codes[q][i]) * n + i] = 1.0;
        off += levels[q];
    }
    memcpy(b, y, n * sizeof *b);
    double rcond = 1e-12, wq;
    int iwq;
    dgelsd_(&m, &L, &one, A, &m, b, &m, s, &rcond, &rank, &wq, &lwork, &iwq, &info);
    lwork = (int)wq;
    double *work = malloc((size_t)lwork * sizeof *work);
    int *iwork = malloc((size_t)(iwq > 1 ? iwq : 1) * 8 * sizeof *iwork);
    dgelsd_(&m, &L, &one, A, &m, b, &m, s, &rcond, &rank, work, &lwork, iwork, &info);
    assert_int_equal(info, 0);
    /* b[0..L) holds the coefficients: residual = y - A beta (A was overwritten, rebuild). */
    for (size_t i = 0; i < n; i++) {
        double fit = 0;
        int o = 0;
        for (int q = 0; q < n_fe; q++) {
            fit += b[o + codes[q][i]];
            o += levels[q];
        }
        resid[i] = y[i] - fit;
    }
    free(A);
    free(b);
    free(s);
    free(work);
    free(iwork);
}

static void random_problem(gsl_rng *rng, int n_fe, size_t n, int32_t **codes, int32_t *levels, double *y)
{
    for (int q = 0; q < n_fe; q++)
        for (size_t i = 0; i < n; i++)
            codes[q][i] = (int32_t)gsl_rng_uniform_int(rng, (unsigned long)levels[q]);
    for (size_t i = 0; i < n; i++)
        y[i] = 10.0 + gsl_ran_gaussian(rng, 1.0) + 0.5 * codes[0][i];
}

static void check_against_dummies(int n_fe, const int32_t *levels_in, size_t n, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    int32_t *codes[4], levels[4];
    for (int q = 0; q < n_fe; q++) {
        codes[q] = malloc(n * sizeof(int32_t));
        levels[q] = levels_in[q];
    }
    double *y = malloc(2 * n * sizeof *y), *expected = malloc(n * sizeof *expected);
    random_problem(rng, n_fe, n, codes, levels, y);
    for (size_t i = 0; i < n; i++)
        y[n + i] = gsl_ran_gaussian(rng, 3.0) * (1 + codes[n_fe - 1][i]);

    gravrd_fe *fe = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_create(n_fe, n, (const int32_t *const *)codes, &fe, &err), GRAVRD_OK);
    /* Compacted levels: codes actually used. */
    int32_t used[4];
    for (int q = 0; q < n_fe; q++) {
        used[q] = gravrd_fe_levels(fe, q);
        assert_true(used[q] <= levels[q]);
    }
    double *cols = malloc(2 * n * sizeof *cols);
    memcpy(cols, y, 2 * n * sizeof *cols);
    gravrd_demean_options opt = {1e-12, 0, 1};
    gravrd_demean_report rep = {0};
    assert_int_equal(gravrd_demean(fe, cols, 2, &opt, &rep, &err), GRAVRD_OK);
    assert_true(rep.iterations >= 1);
    int32_t *cc[4];
    for (int q = 0; q < n_fe; q++)
        cc[q] = (int32_t *)gravrd_fe_codes(fe, q);
    for (int v = 0; v < 2; v++) {
        dummy_residual(n_fe, n, cc, used, y + (size_t)v * n, expected);
        for (size_t i = 0; i < n; i++)
            assert_true(fabs(cols[(size_t)v * n + i] - expected[i]) < 1e-8);
    }
    /* Same numbers, bit for bit, with two threads. */
    double *cols2 = malloc(2 * n * sizeof *cols2);
    memcpy(cols2, y, 2 * n * sizeof *cols2);
    opt.threads = 2;
    assert_int_equal(gravrd_demean(fe, cols2, 2, &opt, &rep, &err), GRAVRD_OK);
    assert_memory_equal(cols, cols2, 2 * n * sizeof *cols);
    gravrd_fe_free(fe);
    for (int q = 0; q < n_fe; q++)
        free(codes[q]);
    free(y);
    free(expected);
    free(cols);
    free(cols2);
    gsl_rng_free(rng);
}

static void test_one_fe(void **state)
{
    (void)state;
    int32_t levels[] = {7};
    check_against_dummies(1, levels, 60, 1);
}

static void test_two_fe(void **state)
{
    (void)state;
    int32_t levels[] = {12, 9};
    check_against_dummies(2, levels, 150, 2);
}

static void test_three_fe(void **state)
{
    (void)state;
    int32_t levels[] = {15, 11, 5};
    check_against_dummies(3, levels, 200, 3);
}

static void test_sparse_graph(void **state)
{
    (void)state;
    /* Many levels relative to rows: a poorly connected graph with several components. */
    int32_t levels[] = {40, 40};
    check_against_dummies(2, levels, 90, 4);
}

static void test_constant_column(void **state)
{
    (void)state;
    int32_t c0[] = {0, 0, 1, 1, 2, 2}, c1[] = {0, 1, 0, 1, 0, 1};
    const int32_t *codes[] = {c0, c1};
    gravrd_fe *fe = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_create(2, 6, codes, &fe, &err), GRAVRD_OK);
    double cols[12] = {5, 5, 5, 5, 5, 5, 1, 2, 3, 4, 5, 7};
    assert_int_equal(gravrd_demean(fe, cols, 2, NULL, NULL, &err), GRAVRD_OK);
    for (int i = 0; i < 6; i++)
        assert_true(cols[i] == 0.0);
    /* Second column: residual of an additive two-way model; sums to 0 in every group. */
    for (int g = 0; g < 3; g++)
        assert_true(fabs(cols[6 + 2 * g] + cols[6 + 2 * g + 1]) < 1e-9);
    assert_true(fabs(cols[11]) > 0.1); /* 7 breaks additivity: a non-zero residual */
    gravrd_fe_free(fe);
}

static void test_non_convergence_is_an_error(void **state)
{
    (void)state;
    int32_t levels[] = {30, 30, 8};
    size_t n = 300;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    int32_t *codes[3];
    for (int q = 0; q < 3; q++)
        codes[q] = malloc(n * sizeof(int32_t));
    double *y = malloc(n * sizeof *y);
    random_problem(rng, 3, n, codes, levels, y);
    gravrd_fe *fe = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_create(3, n, (const int32_t *const *)codes, &fe, &err), GRAVRD_OK);
    gravrd_demean_options opt = {1e-14, 2, 1};
    assert_int_equal(gravrd_demean(fe, y, 1, &opt, NULL, &err), GRAVRD_ERR_CONVERGENCE);
    assert_non_null(strstr(err.message, "did not converge"));
    gravrd_fe_free(fe);
    for (int q = 0; q < 3; q++)
        free(codes[q]);
    free(y);
    gsl_rng_free(rng);
}

static void test_singletons_cascade(void **state)
{
    (void)state;
    /* Row 4 is alone in a=3; dropping it leaves row 3 alone in b=2. */
    int32_t a[] = {0, 0, 1, 1, 3, 1}, b[] = {0, 0, 1, 2, 2, 1};
    const int32_t *codes[] = {a, b};
    uint8_t keep[6] = {1, 1, 1, 1, 1, 1};
    size_t dropped = 0;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_drop_singletons(2, 6, codes, keep, &dropped, &err), GRAVRD_OK);
    assert_int_equal(dropped, 2);
    uint8_t expected[6] = {1, 1, 1, 0, 0, 1};
    assert_memory_equal(keep, expected, 6);
}

static void test_singletons_respect_mask(void **state)
{
    (void)state;
    int32_t a[] = {0, 0, 1, -1};
    const int32_t *codes[] = {a};
    uint8_t keep[4] = {1, 1, 1, 0};
    size_t dropped = 0;
    assert_int_equal(gravrd_fe_drop_singletons(1, 4, codes, keep, &dropped, NULL), GRAVRD_OK);
    assert_int_equal(dropped, 1);
    uint8_t expected[4] = {1, 1, 0, 0};
    assert_memory_equal(keep, expected, 4);
}

static void test_components(void **state)
{
    (void)state;
    /* Two separate blocks: {a0,a1}x{b0} and {a2}x{b1,b2}. */
    int32_t a[] = {0, 1, 2, 2}, b[] = {0, 0, 1, 2};
    const int32_t *codes[] = {a, b};
    gravrd_fe *fe = NULL;
    assert_int_equal(gravrd_fe_create(2, 4, codes, &fe, NULL), GRAVRD_OK);
    assert_int_equal(gravrd_fe_components(fe), 2);
    gravrd_fe_free(fe);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_fe),           cmocka_unit_test(test_two_fe),
        cmocka_unit_test(test_three_fe),         cmocka_unit_test(test_sparse_graph),
        cmocka_unit_test(test_constant_column),  cmocka_unit_test(test_non_convergence_is_an_error),
        cmocka_unit_test(test_singletons_cascade), cmocka_unit_test(test_singletons_respect_mask),
        cmocka_unit_test(test_components),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
