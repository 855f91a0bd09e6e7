/* test_ri.c - randomization inference in gravrd_reg: every placebo
 * coefficient and t statistic equals a full refit of the model with the
 * reassigned column (general path and the exact collapse of a balanced
 * panel), the p-values count as documented, threads do not change a
 * number, and the errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"

enum { NA = 5, NB = 6, T = 4, NCELL = NA * NB, NR = NCELL * T, B = 6 };

/* A balanced cell x month panel; "d" is a cell-level 0/1 indicator. */
static double col_y[NR], col_x[NR], col_d[NR], col_a[NR], col_b[NR], col_t[NR], col_cell[NR], col_g[NR];

/* Draw b: the indicator of cell (c * (b + 2) + b) mod NCELL, a fixed
 * reshuffle of the cells; a function of the row's cell only. */
static double reassigned(long b, size_t row)
{
    int cell = (int)col_cell[row];
    return col_d[(size_t)(((cell * (b + 2) + b) % NCELL) * T)];
}

static int draw_fn(void *user, long b, const size_t *rows, size_t n, double *values)
{
    (void)user;
    for (size_t r = 0; r < n; r++)
        values[r] = reassigned(b, rows[r]);
    return 0;
}

static int failing_draw(void *user, long b, const size_t *rows, size_t n, double *values)
{
    (void)user;
    (void)rows;
    (void)n;
    (void)values;
    return b == 3;
}

static gravrd_frame *frame_with(const double *d)
{
    gravrd_frame *f = gravrd_frame_new(NR, "ri");
    const char *names[] = {"y", "x", "d", "a", "b", "t", "cell", "g"};
    const double *cols[] = {col_y, col_x, d, col_a, col_b, col_t, col_cell, col_g};
    for (int c = 0; c < 8; c++) {
        double *copy = malloc(NR * sizeof *copy);
        memcpy(copy, cols[c], NR * sizeof *copy);
        assert_int_equal(gravrd_frame_add_numeric(f, names[c], copy, NULL), GRAVRD_OK);
    }
    return f;
}

static void make_data(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 9);
    double dcell[NCELL], xcell[NCELL], shock[NCELL];
    for (int c = 0; c < NCELL; c++) {
        dcell[c] = gsl_rng_uniform(rng) < 0.3;
        xcell[c] = gsl_ran_gaussian(rng, 1.0);
        shock[c] = gsl_ran_gaussian(rng, 0.4);
    }
    for (int i = 0; i < NR; i++) {
        int cell = i / T, t = i % T, a = cell / NB, b = cell % NB;
        col_cell[i] = cell;
        col_a[i] = a;
        col_b[i] = b;
        col_t[i] = t;
        col_g[i] = (a / 2) * 3 + b / 2;
        col_d[i] = dcell[cell];
        col_x[i] = xcell[cell];
        col_y[i] = 0.3 * dcell[cell] - 0.2 * xcell[cell] + 0.1 * a * t - 0.05 * b + shock[cell] +
                   gsl_ran_gaussian(rng, 1.0);
    }
    gsl_rng_free(rng);
}

static gravrd_reg_results *fit(gravrd_frame *f, const char *formula, const char *cluster, gravrd_vcov_type vcov,
                               int no_shortcuts, long reps, int threads)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = cluster;
    opt.vcov = vcov;
    opt.no_shortcuts = no_shortcuts;
    opt.tol = 1e-14;
    opt.threads = threads;
    opt.ri.reps = reps;
    opt.ri.term = "d";
    opt.ri.draw = draw_fn;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    if (gravrd_reg(f, formula, &opt, &res, &err))
        fail_msg("%s", err.message);
    return res;
}

static void check_model(const char *formula, const char *cluster, gravrd_vcov_type vcov, int no_shortcuts,
                        int expect_collapsed)
{
    make_data();
    gravrd_frame *f = frame_with(col_d);
    gravrd_reg_results *res = fit(f, formula, cluster, vcov, no_shortcuts, B, 1);
    const gravrd_reg_result *r = &res->results[0];
    assert_int_equal(r->collapsed, expect_collapsed);
    const gravrd_ri_result *ri = r->coefs[0].ri;
    assert_non_null(ri);
    assert_null(r->coefs[1].ri);
    assert_int_equal(ri->reps, B);
    long ge = 0, ge_t = 0, n_absorbed = 0;
    for (long b = 0; b < B; b++) {
        double d[NR];
        for (size_t i = 0; i < NR; i++)
            d[i] = reassigned(b, i);
        gravrd_frame *g = frame_with(d);
        gravrd_reg_options opt;
        gravrd_reg_options_init(&opt);
        opt.cluster = cluster;
        opt.vcov = vcov;
        opt.tol = 1e-14;
        opt.no_shortcuts = 1;
        gravrd_reg_results *direct = NULL;
        assert_int_equal(gravrd_reg(g, formula, &opt, &direct, NULL), GRAVRD_OK);
        const gravrd_coef *c = &direct->results[0].coefs[0];
        if (strcmp(c->name, "d") != 0) {
            /* this reassignment is absorbed by the FE: no placebo */
            assert_true(isnan(ri->placebo_coef_B[b]) && isnan(ri->placebo_t_B[b]));
            n_absorbed++;
            gravrd_reg_results_free(direct);
            gravrd_frame_free(g);
            continue;
        }
        if (fabs(ri->placebo_coef_B[b] - c->estimate) > 1e-9 * (fabs(c->estimate) + 1e-3) ||
            fabs(ri->placebo_t_B[b] - c->t) > 1e-9 * (fabs(c->t) + 1e-3))
            fail_msg("draw %ld: %.15g / %.15g vs refit %.15g / %.15g", b, ri->placebo_coef_B[b], ri->placebo_t_B[b],
                     c->estimate, c->t);
        /* the actual regressor on the placebo one, for the interval */
        {
            gravrd_frame *h = frame_with(col_d);
            double *dr = malloc(NR * sizeof *dr);
            memcpy(dr, d, NR * sizeof *dr);
            assert_int_equal(gravrd_frame_add_numeric(h, "dr", dr, NULL), GRAVRD_OK);
            char fx[256];
            snprintf(fx, sizeof fx, "d ~ dr + x |%s", strchr(formula, '|') + 1);
            gravrd_reg_results *xr = NULL;
            assert_int_equal(gravrd_reg(h, fx, &opt, &xr, NULL), GRAVRD_OK);
            assert_string_equal(xr->results[0].coefs[0].name, "dr");
            double want = xr->results[0].coefs[0].estimate;
            if (fabs(ri->placebo_x_B[b] - want) > 1e-9 * (fabs(want) + 1e-3))
                fail_msg("draw %ld: b_r(x) %.15g vs refit %.15g", b, ri->placebo_x_B[b], want);
            gravrd_reg_results_free(xr);
            gravrd_frame_free(h);
        }
        ge += fabs(c->estimate) >= fabs(r->coefs[0].estimate);
        ge_t += fabs(c->t) >= fabs(r->coefs[0].t);
        gravrd_reg_results_free(direct);
        gravrd_frame_free(g);
    }
    assert_true(n_absorbed < B / 2);
    /* each end of the interval is where the sharp-null p-value crosses 0.05 */
    {
        double beta = r->coefs[0].estimate, ends[2] = {ri->ci_lo, ri->ci_hi};
        for (int e = 0; e < 2; e++) {
            if (!isfinite(ends[e]))
                continue; /* with 6 reassignments p >= 1/7 > 0.05: never rejected */
            fail_msg("a finite end with %d reassignments", B);
        }
        assert_true(ri->ci_lo < beta && beta < ri->ci_hi);
    }
    assert_true(fabs(ri->p - (double)(1 + ge) / (1 + B)) < 1e-15);
    assert_true(fabs(ri->p_t - (double)(1 + ge_t) / (1 + B)) < 1e-15);
    gravrd_reg_results_free(res);
    gravrd_frame_free(f);
}

static void test_general_path_cluster(void **state)
{
    (void)state;
    check_model("y ~ d + x | a^t + b^t + g", "cell", GRAVRD_VCOV_CLUSTER, 1, 0);
}

static void test_collapse_cluster(void **state)
{
    (void)state;
    check_model("y ~ d + x | a^t + b^t + g", "cell", GRAVRD_VCOV_CLUSTER, 0, 1);
}

static void test_collapse_iid_and_hetero(void **state)
{
    (void)state;
    check_model("y ~ d + x | a^t + b^t", NULL, GRAVRD_VCOV_IID, 0, 1);
    check_model("y ~ d + x | a^t + b^t", NULL, GRAVRD_VCOV_HETERO, 0, 1);
}

static void test_threads_do_not_change_numbers(void **state)
{
    (void)state;
    make_data();
    gravrd_frame *f = frame_with(col_d);
    gravrd_reg_results *one = fit(f, "y ~ d + x | a^t + b^t + g", "g", GRAVRD_VCOV_CLUSTER, 0, 40, 1);
    gravrd_reg_results *two = fit(f, "y ~ d + x | a^t + b^t + g", "g", GRAVRD_VCOV_CLUSTER, 0, 40, 2);
    const gravrd_ri_result *a = one->results[0].coefs[0].ri, *b = two->results[0].coefs[0].ri;
    assert_memory_equal(a->placebo_coef_B, b->placebo_coef_B, 40 * sizeof(double));
    assert_memory_equal(a->placebo_t_B, b->placebo_t_B, 40 * sizeof(double));
    assert_true(a->p == b->p && a->p_t == b->p_t);
    gravrd_reg_results_free(one);
    gravrd_reg_results_free(two);
    gravrd_frame_free(f);
}

/* With 199 reassignments the interval is finite, and at each end the
 * p-value computed from the placebo arrays crosses 0.05. */
static void test_interval_by_inversion(void **state)
{
    (void)state;
    make_data();
    gravrd_frame *f = frame_with(col_d);
    gravrd_reg_results *res = fit(f, "y ~ d + x | a^t + b^t", NULL, GRAVRD_VCOV_IID, 0, 199, 1);
    const gravrd_ri_result *ri = res->results[0].coefs[0].ri;
    double beta = res->results[0].coefs[0].estimate;
    assert_true(isfinite(ri->ci_lo) && isfinite(ri->ci_hi) && ri->ci_lo < beta && beta < ri->ci_hi);
    for (int e = 0; e < 2; e++) {
        double end = e ? ri->ci_hi : ri->ci_lo, dir = e ? 1 : -1, eps = 1e-7 * (ri->ci_hi - ri->ci_lo);
        for (int side = 0; side < 2; side++) {
            double b0 = end + (side ? dir : -dir) * eps;
            long ge = 0;
            for (long b = 0; b < ri->reps; b++)
                ge += fabs(ri->placebo_coef_B[b] - b0 * ri->placebo_x_B[b]) >= fabs(beta - b0) * (1 - 1e-9);
            double p = (double)(1 + ge) / (double)(1 + ri->reps);
            if (side)
                assert_true(p <= 0.05); /* outside: rejected */
            else
                assert_true(p > 0.05);
        }
    }
    gravrd_reg_results_free(res);
    gravrd_frame_free(f);
}

static void test_errors(void **state)
{
    (void)state;
    make_data();
    gravrd_frame *f = frame_with(col_d);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.ri.reps = 5;
    opt.ri.term = "x2";
    opt.ri.draw = draw_fn;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    assert_int_not_equal(gravrd_reg(f, "y ~ d + x | a", &opt, &res, &err), GRAVRD_OK);
    assert_non_null(strstr(err.message, "'x2' is not an estimated coefficient"));
    opt.ri.term = "d";
    opt.ri.draw = failing_draw;
    assert_int_not_equal(gravrd_reg(f, "y ~ d + x | a", &opt, &res, &err), GRAVRD_OK);
    assert_non_null(strstr(err.message, "reassignment 4 could not be drawn"));
    opt.ri.reps = -1;
    assert_int_not_equal(gravrd_reg(f, "y ~ d + x | a", &opt, &res, &err), GRAVRD_OK);
    assert_non_null(strstr(err.message, "--ri-reps"));
    assert_null(res);
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_general_path_cluster),  cmocka_unit_test(test_collapse_cluster),
        cmocka_unit_test(test_collapse_iid_and_hetero), cmocka_unit_test(test_threads_do_not_change_numbers),
        cmocka_unit_test(test_interval_by_inversion), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
