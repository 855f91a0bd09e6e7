/* test_hdfe.c - fixed-effect demeaning and singleton removal, checked
 * against least squares on explicit dummy variables solved by LAPACK; both
 * demeaning solvers (CG on all FE, Schur complement) and the automatic
 * choice between them. */
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
#include "hdfe/demean_internal.h"

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

/* Demeans the two columns of y (n x 2) with each solver and compares with
 * the explicit dummy regression; checks that the result is bit-identical
 * with two threads and, per column, whatever the other columns. */
static void check_codes_against_dummies_elim(int n_fe, int32_t **codes, size_t n, const double *y,
                                             int expect_elim);
static void check_codes_against_dummies(int n_fe, int32_t **codes, size_t n, const double *y)
{
    check_codes_against_dummies_elim(n_fe, codes, n, y, -2);
}

/* expect_elim: the FE AUTO must eliminate inside its passes (-1: none; -2:
 * not checked). */
static void check_codes_against_dummies_elim(int n_fe, int32_t **codes, size_t n, const double *y,
                                             int expect_elim)
{
    gravrd_fe *fe = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_create(n_fe, n, (const int32_t *const *)codes, &fe, &err), GRAVRD_OK);
    int32_t used[4];
    int32_t *cc[4];
    for (int q = 0; q < n_fe; q++) {
        used[q] = gravrd_fe_levels(fe, q); /* compacted levels: codes actually used */
        cc[q] = (int32_t *)gravrd_fe_codes(fe, q);
    }
    double *expected = malloc(2 * n * sizeof *expected);
    for (int v = 0; v < 2; v++)
        dummy_residual(n_fe, n, cc, used, y + (size_t)v * n, expected + (size_t)v * n);
    double *cols = malloc(2 * n * sizeof *cols), *cols2 = malloc(2 * n * sizeof *cols2);
    double *first = malloc(2 * n * sizeof *first);
    const dm_method methods[] = {DM_METHOD_AUTO, DM_METHOD_CG, DM_METHOD_SCHUR};
    for (int mi = 0; mi < 3; mi++) {
        memcpy(cols, y, 2 * n * sizeof *cols);
        gravrd_demean_options opt = {1e-12, 0, 1};
        dm_report rep;
        assert_int_equal(gravrd_demean_method(fe, cols, 2, &opt, methods[mi], &rep, &err), GRAVRD_OK);
        assert_true(rep.iterations >= 1);
        if (methods[mi] == DM_METHOD_AUTO && expect_elim != -2)
            assert_int_equal(rep.pass_elim_fe, expect_elim);
        if (methods[mi] != DM_METHOD_AUTO)
            assert_int_equal(rep.pass_elim_fe, -1);
        if (methods[mi] == DM_METHOD_SCHUR && n_fe >= 2)
            assert_true(rep.used_schur);
        if (methods[mi] == DM_METHOD_CG || n_fe == 1)
            assert_false(rep.used_schur);
        for (size_t i = 0; i < 2 * n; i++)
            assert_true(fabs(cols[i] - expected[i]) < 1e-8);
        /* The two solvers agree far below the comparison tolerance. */
        if (mi == 0)
            memcpy(first, cols, 2 * n * sizeof *first);
        for (size_t i = 0; i < 2 * n; i++)
            assert_true(fabs(cols[i] - first[i]) < 1e-10);
        /* Same numbers, bit for bit, with two threads... */
        memcpy(cols2, y, 2 * n * sizeof *cols2);
        opt.threads = 2;
        assert_int_equal(gravrd_demean_method(fe, cols2, 2, &opt, methods[mi], NULL, &err), GRAVRD_OK);
        assert_memory_equal(cols, cols2, 2 * n * sizeof *cols);
        /* ... and for the second column alone. */
        memcpy(cols2, y + n, n * sizeof *cols2);
        opt.threads = 1;
        assert_int_equal(gravrd_demean_method(fe, cols2, 1, &opt, methods[mi], NULL, &err), GRAVRD_OK);
        assert_memory_equal(cols + n, cols2, n * sizeof *cols);
    }
    gravrd_fe_free(fe);
    free(expected);
    free(cols);
    free(cols2);
    free(first);
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
    double *y = malloc(2 * n * sizeof *y);
    random_problem(rng, n_fe, n, codes, levels, y);
    for (size_t i = 0; i < n; i++)
        y[n + i] = gsl_ran_gaussian(rng, 3.0) * (1 + codes[n_fe - 1][i]);
    check_codes_against_dummies(n_fe, codes, n, y);
    for (int q = 0; q < n_fe; q++)
        free(codes[q]);
    free(y);
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

/* Rows grouped by the levels of FE sort_q (the groups in a shuffled order
 * when shuffle): AUTO eliminates that FE inside each pass of CG. */
static void check_grouped_against_dummies(int n_fe, const int32_t *levels, size_t n, unsigned long seed, int sort_q,
                                          int shuffle)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    int32_t *codes[4], *sorted[4], lv[4];
    for (int q = 0; q < n_fe; q++) {
        codes[q] = malloc(n * sizeof(int32_t));
        sorted[q] = malloc(n * sizeof(int32_t));
        lv[q] = levels[q];
    }
    double *y = malloc(2 * n * sizeof *y), *ys = malloc(2 * n * sizeof *ys);
    random_problem(rng, n_fe, n, codes, lv, y);
    for (size_t i = 0; i < n; i++)
        y[n + i] = gsl_ran_gaussian(rng, 3.0) * (1 + codes[n_fe - 1][i]);
    int32_t *key = malloc((size_t)levels[sort_q] * sizeof *key);
    for (int32_t g = 0; g < levels[sort_q]; g++)
        key[g] = g;
    if (shuffle)
        gsl_ran_shuffle(rng, key, (size_t)levels[sort_q], sizeof *key);
    size_t pos = 0;
    for (int32_t k = 0; k < levels[sort_q]; k++)
        for (size_t i = 0; i < n; i++)
            if (key[codes[sort_q][i]] == k) {
                for (int q = 0; q < n_fe; q++)
                    sorted[q][pos] = codes[q][i];
                ys[pos] = y[i];
                ys[n + pos] = y[n + i];
                pos++;
            }
    assert_int_equal(pos, n);
    check_codes_against_dummies_elim(n_fe, sorted, n, ys, sort_q);
    for (int q = 0; q < n_fe; q++) {
        free(codes[q]);
        free(sorted[q]);
    }
    free(key);
    free(y);
    free(ys);
    gsl_rng_free(rng);
}

static void test_elimination_in_pass(void **state)
{
    (void)state;
    int32_t two[] = {12, 9}, three[] = {15, 11, 5};
    for (int q = 0; q < 2; q++)
        check_grouped_against_dummies(2, two, 150, 20 + (unsigned long)q, q, q == 1);
    for (int q = 0; q < 3; q++) {
        check_grouped_against_dummies(3, three, 200, 30 + (unsigned long)q, q, 0);
        check_grouped_against_dummies(3, three, 200, 40 + (unsigned long)q, q, 1);
    }
    /* Not grouped: no elimination. */
    int32_t *codes[2];
    for (int q = 0; q < 2; q++)
        codes[q] = malloc(8 * sizeof(int32_t));
    double y[16];
    for (int i = 0; i < 8; i++) {
        codes[0][i] = i % 2;
        codes[1][i] = (i / 2) % 2;
        y[i] = i * i;
        y[8 + i] = 1.0 / (1 + i);
    }
    check_codes_against_dummies_elim(2, codes, 8, y, -1);
    for (int q = 0; q < 2; q++)
        free(codes[q]);
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

/* fixest_benchmarks' "difficult" design at n rows: individuals on 10
 * consecutive rows (years 0-9), firms cycling over the rows, one firm per
 * 230 rows, so the worker-firm graph is a long chain (slow for CG on all
 * FE) and, with an even number of firms, firm parity equals year parity (an
 * extra null direction of the normal equations). difficult = 0 draws the
 * firms at random instead (a well-connected graph). */
static void chain_problem(size_t n, int difficult, unsigned long seed, int32_t **codes, double *y)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    size_t n_firm = n / 230 < 2 ? 2 : n / 230;
    for (size_t i = 0; i < n; i++) {
        codes[0][i] = (int32_t)(i / 10);
        codes[1][i] = (int32_t)(i % 10);
        codes[2][i] = (int32_t)(difficult ? i % n_firm : gsl_rng_uniform_int(rng, (unsigned long)n_firm));
    }
    for (size_t i = 0; i < n; i++) {
        y[n + i] = gsl_ran_gaussian(rng, 1.0);
        y[i] = y[n + i] + 0.3 * codes[2][i] / (double)n_firm + 0.1 * codes[1][i] + gsl_ran_gaussian(rng, 1.0);
    }
    gsl_rng_free(rng);
}

static void test_auto_switches_on_a_chain(void **state)
{
    (void)state;
    const size_t n = 200000;
    int32_t *codes[3];
    for (int q = 0; q < 3; q++)
        codes[q] = malloc(n * sizeof(int32_t));
    double *y = malloc(2 * n * sizeof *y), *a = malloc(2 * n * sizeof *a), *b = malloc(2 * n * sizeof *b);
    chain_problem(n, 1, 11, codes, y);
    gravrd_fe *fe = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_create(3, n, (const int32_t *const *)codes, &fe, &err), GRAVRD_OK);
    gravrd_demean_options opt = {1e-12, 0, 1};
    dm_report auto_rep, cg_rep;
    memcpy(a, y, 2 * n * sizeof *a);
    assert_int_equal(gravrd_demean_method(fe, a, 2, &opt, DM_METHOD_AUTO, &auto_rep, &err), GRAVRD_OK);
    memcpy(b, y, 2 * n * sizeof *b);
    assert_int_equal(gravrd_demean_method(fe, b, 2, &opt, DM_METHOD_CG, &cg_rep, &err), GRAVRD_OK);
    /* CG on all FE needs hundreds of iterations here; AUTO notices at a
     * checkpoint and finishes with the Schur solver, eliminating the
     * individuals (the FE with most levels). */
    assert_true(cg_rep.cg_iterations > 100);
    assert_true(auto_rep.used_schur);
    assert_int_equal(auto_rep.eliminated_fe, 0);
    assert_true(auto_rep.switch_iter >= 8 && auto_rep.switch_iter < cg_rep.cg_iterations);
    assert_true(auto_rep.cg_iterations < cg_rep.cg_iterations);
    for (size_t i = 0; i < 2 * n; i++)
        assert_true(fabs(a[i] - b[i]) < 1e-10);
    /* Bit-identical with two threads (two blocks race to form S), and the
     * same iteration count: it is counted per variable. */
    memcpy(b, y, 2 * n * sizeof *b);
    opt.threads = 2;
    dm_report rep2;
    assert_int_equal(gravrd_demean_method(fe, b, 2, &opt, DM_METHOD_AUTO, &rep2, &err), GRAVRD_OK);
    assert_memory_equal(a, b, 2 * n * sizeof *a);
    assert_int_equal(rep2.iterations, auto_rep.iterations);
    /* The public entry point takes the same path. */
    memcpy(b, y, 2 * n * sizeof *b);
    gravrd_demean_report pub = {0};
    assert_int_equal(gravrd_demean(fe, b, 2, &opt, &pub, &err), GRAVRD_OK);
    assert_memory_equal(a, b, 2 * n * sizeof *a);
    assert_int_equal(pub.iterations, auto_rep.iterations);
    /* An iteration cap still ends in an error on the Schur path. */
    memcpy(b, y, 2 * n * sizeof *b);
    gravrd_demean_options tight = {1e-12, 3, 1};
    assert_int_equal(gravrd_demean_method(fe, b, 2, &tight, DM_METHOD_SCHUR, NULL, &err), GRAVRD_ERR_CONVERGENCE);
    assert_non_null(strstr(err.message, "did not converge"));
    gravrd_fe_free(fe);
    for (int q = 0; q < 3; q++)
        free(codes[q]);
    free(y);
    free(a);
    free(b);
}

static void test_auto_keeps_cg_when_easy(void **state)
{
    (void)state;
    const size_t n = 100000;
    int32_t *codes[3];
    for (int q = 0; q < 3; q++)
        codes[q] = malloc(n * sizeof(int32_t));
    double *y = malloc(2 * n * sizeof *y);
    chain_problem(n, 0, 12, codes, y);
    gravrd_error err = {0};
    gravrd_demean_options opt = {0, 0, 1};
    dm_report rep;
    /* Random firms: a well-connected graph, CG converges within a few
     * checkpoints and forming S would not pay. */
    for (int n_fe = 1; n_fe <= 3; n_fe++) {
        gravrd_fe *fe = NULL;
        assert_int_equal(gravrd_fe_create(n_fe, n, (const int32_t *const *)codes, &fe, &err), GRAVRD_OK);
        double *cols = malloc(2 * n * sizeof *cols);
        memcpy(cols, y, 2 * n * sizeof *cols);
        assert_int_equal(gravrd_demean_method(fe, cols, 2, &opt, DM_METHOD_AUTO, &rep, &err), GRAVRD_OK);
        assert_false(rep.used_schur);
        assert_int_equal(rep.switch_iter, -1);
        assert_int_equal(rep.eliminated_fe, -1);
        assert_int_equal(rep.schur_iterations, 0);
        /* One FE: nothing to eliminate into, even when forced. */
        if (n_fe == 1) {
            memcpy(cols, y, 2 * n * sizeof *cols);
            assert_int_equal(gravrd_demean_method(fe, cols, 2, &opt, DM_METHOD_SCHUR, &rep, &err), GRAVRD_OK);
            assert_false(rep.used_schur);
        }
        free(cols);
        gravrd_fe_free(fe);
    }
    for (int q = 0; q < 3; q++)
        free(codes[q]);
    free(y);
}

static void test_schur_extra_null_directions(void **state)
{
    (void)state;
    /* The chain design at 600 rows with 8 firms (even): firm and year
     * parities coincide, a null direction of S that is not constant on
     * any FE. */
    const size_t n = 600;
    int32_t *codes[3];
    for (int q = 0; q < 3; q++)
        codes[q] = malloc(n * sizeof(int32_t));
    double *y = malloc(2 * n * sizeof *y);
    chain_problem(n, 1, 13, codes, y);
    for (size_t i = 0; i < n; i++)
        codes[2][i] = (int32_t)(i % 8);
    check_codes_against_dummies(3, codes, n, y);
    /* Nested FE: b within a (the Schur solver eliminates b, so the whole
     * block of a in S is zero), c crossed. */
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 14);
    for (size_t i = 0; i < n; i++) {
        codes[0][i] = (int32_t)gsl_rng_uniform_int(rng, 6);
        codes[1][i] = codes[0][i] * 4 + (int32_t)gsl_rng_uniform_int(rng, 4);
        codes[2][i] = (int32_t)gsl_rng_uniform_int(rng, 5);
    }
    check_codes_against_dummies(3, codes, n, y);
    gsl_rng_free(rng);
    for (int q = 0; q < 3; q++)
        free(codes[q]);
    free(y);
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
        cmocka_unit_test(test_elimination_in_pass), cmocka_unit_test(test_constant_column),  cmocka_unit_test(test_non_convergence_is_an_error),
        cmocka_unit_test(test_singletons_cascade), cmocka_unit_test(test_singletons_respect_mask),
        cmocka_unit_test(test_components),       cmocka_unit_test(test_auto_switches_on_a_chain),
        cmocka_unit_test(test_auto_keeps_cg_when_easy), cmocka_unit_test(test_schur_extra_null_directions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
