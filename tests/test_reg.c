/* test_reg.c - the estimation pipeline: fixed effects against explicit
 * dummy variables solved directly, singletons, collinearity, subset, split,
 * missing values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"

enum { N = 150, L1 = 6, L2 = 5, G = 9 };

static gravrd_frame *make_frame(unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    gravrd_frame *f = gravrd_frame_new(N, "synthetic");
    double *x = malloc(N * sizeof *x), *z = malloc(N * sizeof *z), *y = malloc(N * sizeof *y);
    double *f1 = malloc(N * sizeof *f1), *f2 = malloc(N * sizeof *f2), *cl = malloc(N * sizeof *cl);
    for (size_t i = 0; i < N; i++) {
        f1[i] = (double)(i % L1);
        f2[i] = (double)gsl_rng_uniform_int(rng, L2);
        cl[i] = (double)gsl_rng_uniform_int(rng, G);
        x[i] = gsl_ran_gaussian(rng, 1.0) + 0.3 * f1[i];
        z[i] = gsl_ran_gaussian(rng, 1.0) - 0.2 * f2[i];
        y[i] = 1.5 * x[i] - 0.7 * z[i] + f1[i] - 0.5 * f2[i] + gsl_ran_gaussian(rng, 1.0 + 0.5 * fabs(x[i]));
    }
    gravrd_frame_add_numeric(f, "x", x, NULL);
    gravrd_frame_add_numeric(f, "z", z, NULL);
    gravrd_frame_add_numeric(f, "y", y, NULL);
    gravrd_frame_add_numeric(f, "f1", f1, NULL);
    gravrd_frame_add_numeric(f, "f2", f2, NULL);
    gravrd_frame_add_numeric(f, "cl", cl, NULL);
    /* Explicit dummies, dropping the first level of each FE. */
    for (int q = 0; q < 2; q++) {
        int levels = q ? L2 : L1;
        const double *code = q ? f2 : f1;
        for (int g = 1; g < levels; g++) {
            double *d = malloc(N * sizeof *d);
            for (size_t i = 0; i < N; i++)
                d[i] = code[i] == g;
            char name[16];
            snprintf(name, sizeof name, "d%d_%d", q + 1, g);
            gravrd_frame_add_numeric(f, name, d, NULL);
        }
    }
    gsl_rng_free(rng);
    return f;
}

static int setup(void **state)
{
    *state = make_frame(11);
    return 0;
}

static int teardown(void **state)
{
    gravrd_frame_free(*state);
    return 0;
}

static gravrd_reg_results *fit(const gravrd_frame *f, const char *formula, gravrd_vcov_type vcov, const char *cluster)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.vcov = vcov;
    opt.cluster = cluster;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    if (gravrd_reg(f, formula, &opt, &res, &err))
        fail_msg("%s: %s", formula, err.message);
    return res;
}

static void assert_rel(double a, double b, double tol)
{
    if (!(fabs(a - b) <= tol * fmax(fabs(b), 1e-12)))
        fail_msg("%.15g vs %.15g", a, b);
}

static void compare_fe_with_dummies(const gravrd_frame *f, gravrd_vcov_type vcov, const char *cluster)
{
    gravrd_reg_results *fe = fit(f, "y ~ x + z | f1 + f2", vcov, cluster);
    gravrd_reg_results *dummies =
        fit(f, "y ~ x + z + d1_1 + d1_2 + d1_3 + d1_4 + d1_5 + d2_1 + d2_2 + d2_3 + d2_4", vcov, cluster);
    const gravrd_reg_result *a = &fe->results[0], *b = &dummies->results[0];
    assert_int_equal(a->n_coef, 2);
    assert_int_equal(b->n_coef, 12);
    assert_string_equal(b->coefs[0].name, "(Intercept)");
    for (int j = 0; j < 2; j++) {
        assert_string_equal(a->coefs[j].name, b->coefs[j + 1].name);
        assert_rel(a->coefs[j].estimate, b->coefs[j + 1].estimate, 1e-9);
        assert_rel(a->coefs[j].se, b->coefs[j + 1].se, 1e-9);
        assert_rel(a->coefs[j].p, b->coefs[j + 1].p, 1e-7);
    }
    assert_rel(a->r2, b->r2, 1e-10);
    assert_rel(a->adj_r2, b->adj_r2, 1e-10);
    assert_rel(a->rmse, b->rmse, 1e-10);
    assert_int_equal(a->n_params, b->n_params);
    /* The estimate is what we planted, roughly. */
    assert_true(fabs(a->coefs[0].estimate - 1.5) < 0.3);
    gravrd_reg_results_free(fe);
    gravrd_reg_results_free(dummies);
}

static void test_fe_equals_dummies_iid(void **state) { compare_fe_with_dummies(*state, GRAVRD_VCOV_IID, NULL); }
static void test_fe_equals_dummies_hetero(void **state)
{
    compare_fe_with_dummies(*state, GRAVRD_VCOV_HETERO, NULL);
}
static void test_fe_equals_dummies_cluster(void **state)
{
    compare_fe_with_dummies(*state, GRAVRD_VCOV_CLUSTER, "cl");
}

static void test_collinear_regressor_dropped(void **state)
{
    gravrd_reg_results *with = fit(*state, "y ~ x + I(2 * x) + z | f1", GRAVRD_VCOV_IID, NULL);
    gravrd_reg_results *without = fit(*state, "y ~ x + z | f1", GRAVRD_VCOV_IID, NULL);
    const gravrd_reg_result *a = &with->results[0];
    assert_int_equal(a->n_coef, 2);
    assert_int_equal(a->n_collinear, 1);
    assert_string_equal(a->collinear[0], "I(2 * x)");
    assert_string_equal(a->coefs[1].name, "z");
    assert_rel(a->coefs[0].estimate, without->results[0].coefs[0].estimate, 1e-10);
    assert_rel(a->coefs[0].se, without->results[0].coefs[0].se, 1e-10);
    assert_int_equal(with->n_warnings, 1);
    assert_non_null(strstr(with->warnings[0], "collinearity"));
    gravrd_reg_results_free(with);
    gravrd_reg_results_free(without);
}

static void test_subset_and_split(void **state)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.subset = "f2 != 0";
    opt.split = "f1";
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg(*state, "c(y, x) ~ z | f2", &opt, &res, &err), GRAVRD_OK);
    assert_int_equal(res->n, 2 * L1);
    size_t total = 0;
    for (int j = 0; j < res->n; j += 2) {
        assert_int_equal(res->results[j].nobs, res->results[j + 1].nobs);
        total += res->results[j].nobs + res->results[j].dropped_singletons;
    }
    size_t expected = 0;
    const gravrd_column *f2 = gravrd_frame_find(*state, "f2");
    for (size_t i = 0; i < N; i++)
        expected += f2->num_N[i] != 0;
    assert_int_equal(total, expected);
    assert_string_equal(res->results[0].sample, "f1=0");
    assert_string_equal(res->results[1].outcome, "x");
    assert_int_equal(res->results[0].fe_levels[0], L2 - 1);
    gravrd_reg_results_free(res);
}

static void test_singletons_dropped_or_kept(void **state)
{
    (void)state;
    double *y = malloc(7 * sizeof *y), *x = malloc(7 * sizeof *x), *g = malloc(7 * sizeof *g);
    const double yv[] = {1, 2, 3, 5, 4, 6, 9}, xv[] = {0.5, 1, 2, 2.5, 1, 3, 4}, gv[] = {0, 0, 1, 1, 1, 2, 3};
    memcpy(y, yv, sizeof yv);
    memcpy(x, xv, sizeof xv);
    memcpy(g, gv, sizeof gv);
    gravrd_frame *f = gravrd_frame_new(7, "tiny");
    gravrd_frame_add_numeric(f, "y", y, NULL);
    gravrd_frame_add_numeric(f, "x", x, NULL);
    gravrd_frame_add_numeric(f, "g", g, NULL);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    gravrd_reg_results *res = NULL;
    assert_int_equal(gravrd_reg(f, "y ~ x | g", &opt, &res, NULL), GRAVRD_OK);
    assert_int_equal(res->results[0].nobs, 5);
    assert_int_equal(res->results[0].dropped_singletons, 2);
    double slope = res->results[0].coefs[0].estimate;
    gravrd_reg_results_free(res);
    opt.keep_singletons = 1;
    assert_int_equal(gravrd_reg(f, "y ~ x | g", &opt, &res, NULL), GRAVRD_OK);
    assert_int_equal(res->results[0].nobs, 7);
    assert_int_equal(res->results[0].dropped_singletons, 0);
    /* Singletons do not move the slope, only the degrees of freedom. */
    assert_rel(res->results[0].coefs[0].estimate, slope, 1e-10);
    assert_true(res->results[0].n_params == 1 + 4);
    gravrd_reg_results_free(res);
    gravrd_frame_free(f);
}

static void test_missing_values_dropped_per_outcome(void **state)
{
    (void)state;
    double *y1 = malloc(6 * sizeof(double)), *y2 = malloc(6 * sizeof(double)), *x = malloc(6 * sizeof(double));
    const double a[] = {1, 2, NAN, 4, 5, 7}, b[] = {0, 1, 2, 3, 4, 5}, c[] = {1, 3, 2, 5, 4, 6};
    memcpy(y1, a, sizeof a);
    memcpy(y2, b, sizeof b);
    memcpy(x, c, sizeof c);
    gravrd_frame *f = gravrd_frame_new(6, "tiny");
    gravrd_frame_add_numeric(f, "y1", y1, NULL);
    gravrd_frame_add_numeric(f, "y2", y2, NULL);
    gravrd_frame_add_numeric(f, "x", x, NULL);
    gravrd_reg_results *res = NULL;
    assert_int_equal(gravrd_reg(f, "c(y1, log(y2)) ~ x", NULL, &res, NULL), GRAVRD_OK);
    assert_int_equal(res->results[0].nobs, 5);
    assert_int_equal(res->results[0].dropped_missing, 1);
    assert_int_equal(res->results[1].nobs, 5); /* log(0) is -Inf: dropped */
    assert_int_equal(res->n_warnings, 2);
    gravrd_reg_results_free(res);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.strict = 1;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg(f, "y1 ~ x", &opt, &res, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "data row 3"));
    gravrd_frame_free(f);
}

static void test_ols_without_fe_matches_closed_form(void **state)
{
    (void)state;
    /* Simple regression: slope = cov(x, y) / var(x). */
    const gravrd_frame *f = *state;
    gravrd_reg_results *res = fit(f, "y ~ x", GRAVRD_VCOV_IID, NULL);
    const double *x = gravrd_frame_find(f, "x")->num_N, *y = gravrd_frame_find(f, "y")->num_N;
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (size_t i = 0; i < N; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= N;
    my /= N;
    for (size_t i = 0; i < N; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
    }
    double slope = sxy / sxx, rss = 0;
    for (size_t i = 0; i < N; i++) {
        double e = y[i] - my - slope * (x[i] - mx);
        rss += e * e;
    }
    assert_rel(res->results[0].coefs[1].estimate, slope, 1e-12);
    assert_rel(res->results[0].coefs[1].se, sqrt(rss / (N - 2) / sxx), 1e-12);
    assert_rel(res->results[0].wald_f, pow(res->results[0].coefs[1].t, 2), 1e-10);
    assert_true(isnan(res->results[0].within_r2));
    gravrd_reg_results_free(res);
}

static void test_ssc_stata_counts_fe_components(void **state)
{
    (void)state;
    /* Two disconnected blocks of (f1, f2): reghdfe counts one more redundant
     * FE coefficient than fixest's "levels minus one per extra FE". */
    enum { M = 60 };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    double *y = malloc(M * sizeof *y), *x = malloc(M * sizeof *x), *f1 = malloc(M * sizeof *f1),
           *f2 = malloc(M * sizeof *f2);
    for (size_t i = 0; i < M; i++) {
        int block = i % 2;
        f1[i] = 3 * block + (double)((i / 2) % 3);
        f2[i] = block ? 2 + (double)((i / 2) % 3 == 0 ? (i / 6) % 3 : ((i / 6) + 1) % 3) : (double)((i / 6) % 2);
        x[i] = gsl_ran_gaussian(rng, 1.0);
        y[i] = x[i] + f1[i] + gsl_ran_gaussian(rng, 1.0);
    }
    gravrd_frame *f = gravrd_frame_new(M, "blocks");
    gravrd_frame_add_numeric(f, "y", y, NULL);
    gravrd_frame_add_numeric(f, "x", x, NULL);
    gravrd_frame_add_numeric(f, "f1", f1, NULL);
    gravrd_frame_add_numeric(f, "f2", f2, NULL);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    gravrd_reg_results *fx = NULL, *st = NULL;
    assert_int_equal(gravrd_reg(f, "y ~ x | f1 + f2", &opt, &fx, NULL), GRAVRD_OK);
    opt.ssc = GRAVRD_SSC_STATA;
    assert_int_equal(gravrd_reg(f, "y ~ x | f1 + f2", &opt, &st, NULL), GRAVRD_OK);
    const gravrd_reg_result *a = &fx->results[0], *b = &st->results[0];
    assert_int_equal(a->fe_levels[0], 6);
    assert_int_equal(a->fe_levels[1], 5);
    assert_int_equal(a->n_params, 1 + 6 + 5 - 1);
    assert_int_equal(b->n_params, a->n_params - 1);
    assert_rel(a->coefs[0].estimate, b->coefs[0].estimate, 1e-12);
    double ratio = (a->coefs[0].se * a->coefs[0].se) / (b->coefs[0].se * b->coefs[0].se);
    assert_rel(ratio, (double)(M - b->n_params) / (double)(M - a->n_params), 1e-12);
    gravrd_reg_results_free(fx);
    gravrd_reg_results_free(st);
    gravrd_frame_free(f);
    gsl_rng_free(rng);
}

/* reghdfe's count on a worker-firm-year graph with known components: three
 * blocks of 3 workers and 2 firms (3 worker-firm components); blocks 0 and
 * 1-2 in disjoint pairs of years (2 components for firm-year and for
 * worker-year). Without clustering reghdfe's df_a = 9 + 6 + 4 - (0 + 3 +
 * max(1, 2, 2)) = 14 (fixest: 19 - 2 = 17); clustered by worker, the
 * worker FE is nested (df_a_nested = 9) and leaves: df_a = (6 - 1) + (4 -
 * max(1, 2)) = 7, the variance divides by N - 1 - 1 - 7 and adjusted R2
 * counts 1 + 7 + 9 parameters. */
static void test_ssc_stata_reghdfe_rule(void **state)
{
    (void)state;
    enum { NB = 3, NW = 3, NY = 2, REP = 3, M = NB * NW * NY * REP };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 17);
    double *y = malloc(M * sizeof *y), *x = malloc(M * sizeof *x), *w = malloc(M * sizeof *w),
           *fi = malloc(M * sizeof *fi), *yr = malloc(M * sizeof *yr);
    int i = 0;
    for (int b = 0; b < NB; b++)
        for (int k = 0; k < NW; k++)
            for (int t = 0; t < NY; t++)
                for (int r = 0; r < REP; r++, i++) {
                    w[i] = NW * b + k;
                    fi[i] = 2 * b + (k + t) % 2;
                    yr[i] = (b == 0 ? 0 : 2) + t;
                    x[i] = gsl_ran_gaussian(rng, 1.0);
                    y[i] = x[i] + 0.3 * w[i] - 0.2 * fi[i] + 0.1 * yr[i] + gsl_ran_gaussian(rng, 1.0);
                }
    gsl_rng_free(rng);
    gravrd_frame *f = gravrd_frame_new(M, "wfy");
    gravrd_frame_add_numeric(f, "y", y, NULL);
    gravrd_frame_add_numeric(f, "x", x, NULL);
    gravrd_frame_add_numeric(f, "w", w, NULL);
    gravrd_frame_add_numeric(f, "f", fi, NULL);
    gravrd_frame_add_numeric(f, "t", yr, NULL);
    for (int clustered = 0; clustered < 2; clustered++) {
        gravrd_reg_options opt;
        gravrd_reg_options_init(&opt);
        opt.cluster = clustered ? "w" : NULL;
        gravrd_reg_results *fx = NULL, *st = NULL;
        assert_int_equal(gravrd_reg(f, "y ~ x | w + f + t", &opt, &fx, NULL), GRAVRD_OK);
        opt.ssc = GRAVRD_SSC_STATA;
        assert_int_equal(gravrd_reg(f, "y ~ x | w + f + t", &opt, &st, NULL), GRAVRD_OK);
        const gravrd_reg_result *a = &fx->results[0], *b = &st->results[0];
        assert_int_equal(a->fe_levels[0], 9);
        assert_int_equal(a->fe_levels[1], 6);
        assert_int_equal(a->fe_levels[2], 4);
        assert_int_equal(a->n_params, 1 + 17);
        double ratio = (b->coefs[0].se * b->coefs[0].se) / (a->coefs[0].se * a->coefs[0].se);
        if (!clustered) {
            assert_int_equal(b->n_params, 1 + 14);
            assert_rel(ratio, (double)(M - 18) / (double)(M - 15), 1e-12);
            assert_rel(b->t_df, M - 15, 0);
        } else {
            assert_int_equal(b->n_params, 1 + 7 + 9);
            /* fixest "nested": 1 + 17 - (9 - 1) = 10; reghdfe: 1 + 7 + 1 */
            assert_rel(ratio, (double)(M - 10) / (double)(M - 9), 1e-12);
            assert_rel(b->t_df, 9 - 1, 0);
        }
        assert_rel(b->adj_r2, 1 - (1 - b->r2) * (M - 1) / (double)(M - b->n_params), 1e-12);
        gravrd_reg_results_free(fx);
        gravrd_reg_results_free(st);
    }
    gravrd_frame_free(f);
}

/* Integer id columns in a modest range are grouped through a direct table
 * (model_data.c), others through a hash: the codes, hence every number,
 * must be the same. Negative ids and a missing id included. */
static void test_integer_ids_grouped_like_hash(void **state)
{
    const gravrd_frame *src = *state;
    gravrd_frame *f = gravrd_frame_new(N, "ids");
    const char *copy[] = {"x", "z", "y"};
    for (int c = 0; c < 3; c++) {
        double *v = malloc(N * sizeof *v);
        memcpy(v, gravrd_frame_find(src, copy[c])->num_N, N * sizeof *v);
        gravrd_frame_add_numeric(f, copy[c], v, NULL);
    }
    const double *f1 = gravrd_frame_find(src, "f1")->num_N, *f2 = gravrd_frame_find(src, "f2")->num_N;
    const double *cl = gravrd_frame_find(src, "cl")->num_N;
    double *t1 = malloc(N * sizeof *t1), *t2 = malloc(N * sizeof *t2), *tc = malloc(N * sizeof *tc);
    double *h1 = malloc(N * sizeof *h1), *h2 = malloc(N * sizeof *h2), *hc = malloc(N * sizeof *hc);
    for (size_t i = 0; i < N; i++) {
        t1[i] = f1[i] - 3;          /* table: negative ids */
        h1[i] = f1[i] - 2.5;        /* hash: not integers, same order */
        t2[i] = 7 * f2[i];          /* table: gaps */
        h2[i] = 1e9 * f2[i];        /* hash: range too wide for a table */
        tc[i] = cl[i];
        hc[i] = cl[i] + 0.25;
    }
    t1[5] = h1[5] = NAN;            /* a missing id: the row is dropped */
    gravrd_frame_add_numeric(f, "t1", t1, NULL);
    gravrd_frame_add_numeric(f, "t2", t2, NULL);
    gravrd_frame_add_numeric(f, "tc", tc, NULL);
    gravrd_frame_add_numeric(f, "h1", h1, NULL);
    gravrd_frame_add_numeric(f, "h2", h2, NULL);
    gravrd_frame_add_numeric(f, "hc", hc, NULL);
    gravrd_reg_results *a = fit(f, "y ~ x + z | t1 + t2", GRAVRD_VCOV_CLUSTER, "tc");
    gravrd_reg_results *b = fit(f, "y ~ x + z | h1 + h2", GRAVRD_VCOV_CLUSTER, "hc");
    const gravrd_reg_result *ra = &a->results[0], *rb = &b->results[0];
    assert_int_equal(ra->nobs, N - 1);
    assert_int_equal(ra->nobs, rb->nobs);
    assert_int_equal(ra->fe_levels[0], rb->fe_levels[0]);
    assert_int_equal(ra->fe_levels[1], rb->fe_levels[1]);
    for (int j = 0; j < 2; j++) {
        assert_true(ra->coefs[j].estimate == rb->coefs[j].estimate);
        assert_true(ra->coefs[j].se == rb->coefs[j].se);
    }
    assert_true(ra->r2 == rb->r2);
    gravrd_reg_results_free(a);
    gravrd_reg_results_free(b);
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fe_equals_dummies_iid),
        cmocka_unit_test(test_fe_equals_dummies_hetero),
        cmocka_unit_test(test_fe_equals_dummies_cluster),
        cmocka_unit_test(test_collinear_regressor_dropped),
        cmocka_unit_test(test_subset_and_split),
        cmocka_unit_test(test_singletons_dropped_or_kept),
        cmocka_unit_test(test_missing_values_dropped_per_outcome),
        cmocka_unit_test(test_ols_without_fe_matches_closed_form),
        cmocka_unit_test(test_ssc_stata_counts_fe_components),
        cmocka_unit_test(test_ssc_stata_reghdfe_rule),
        cmocka_unit_test(test_integer_ids_grouped_like_hash),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
