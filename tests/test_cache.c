/* test_cache.c - gravrd_reg_cache: models fitted with a shared cache give
 * bit-identical results to uncached fits (collapse and general paths,
 * subset, split, several outcomes, missing values, thread counts, FE and
 * cluster combinations), also when the cache is shared by concurrent
 * calls; a cache made for another frame is ignored. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "support/testutil.h"

/* A small paper-like world as in test_collapse.c: NE east and NW west
 * cities, both directed blocks, NT months; plus missing values in y2 and a
 * factor column for --split. */
enum { NE = 7, NW = 9, NT = 6, NSEG = 3 };

static gravrd_frame *make_panel(unsigned long seed, int with_missing)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    const int np = 2 * NE * NW;
    size_t n = (size_t)np * NT, r = 0;
    enum { NV = 14 };
    static const char *names[NV] = {"y", "y2", "x1", "x2", "xm", "e", "i", "t", "se", "si", "pair", "cm", "grp", "xc"};
    double *col[NV];
    for (int v = 0; v < NV; v++)
        col[v] = malloc(n * sizeof(double));
    int32_t *kind = malloc(n * sizeof *kind);
    for (int d = 0; d < np; d++) {
        int ce, ci;
        testutil_pair_cities(d, NE, NW, &ce, &ci);
        double x1 = gsl_rng_uniform(rng) < 0.3, x2 = log(500 + 1000 * gsl_rng_uniform(rng));
        for (int t = 0; t < NT; t++, r++) {
            double y = 0.25 * x1 - x2 + 0.1 * ce * t + 0.2 * ci + gsl_ran_gaussian(rng, 0.5 + 0.5 * x1);
            double v[NV] = {exp(y), 0.5 * y + gsl_ran_gaussian(rng, 1.0), x1, x2, gsl_ran_gaussian(rng, 1.0),
                            ce + 1, ci + 1, t + 1, ce % NSEG + 1, ci % NSEG + 1, d + 1, (d + t) % 5, d % 4,
                            x2 * x2 / 50};
            if (with_missing && r % 37 == 5)
                v[1] = NAN;
            if (with_missing && d % 11 == 3) /* a cell-constant regressor missing for whole pairs */
                v[13] = NAN;
            for (int q = 0; q < NV; q++)
                col[q][r] = v[q];
            kind[r] = (int32_t)(d % 3);
        }
    }
    gravrd_frame *f = gravrd_frame_new(n, "panel");
    for (int v = 0; v < NV; v++)
        assert_int_equal(gravrd_frame_add_numeric(f, names[v], col[v], NULL), GRAVRD_OK);
    char **levels = malloc(3 * sizeof *levels);
    levels[0] = strdup("north");
    levels[1] = strdup("south");
    levels[2] = strdup("west");
    assert_int_equal(gravrd_frame_add_factor(f, "kind", kind, levels, 3, NULL), GRAVRD_OK);
    gsl_rng_free(rng);
    return f;
}

typedef struct {
    const char *formula;
    const char *subset, *split, *cluster;
    gravrd_vcov_type vcov;
    int keep_scores;
} model;

static const model MODELS[] = {
    {"log(y) ~ x1 + x2 | e^t + i^t + se^si", NULL, NULL, "pair", GRAVRD_VCOV_CLUSTER, 1}, /* collapse */
    {"c(log(y), log1p(y), y2) ~ x1 + x2 | e^t + i^t + se^si", NULL, NULL, "pair", GRAVRD_VCOV_CLUSTER, 0},
    {"log1p(y) ~ x1 + x1:x2 + xm | e^t + i^t", "x2 > 6.8", NULL, "pair", GRAVRD_VCOV_CLUSTER, 0}, /* general */
    {"c(y2, log(y)) ~ x1 + xm | e + i^t", NULL, "kind", "e^i + t", GRAVRD_VCOV_CLUSTER, 0},
    {"y2 ~ x1 + I(x2^2) + xm", "t >= 3 & x1 == 0", "grp", NULL, GRAVRD_VCOV_HETERO, 0},
    {"log(y) ~ x1 + x2 | e^t + i^t + se^si", "t != 2", "kind", "cm", GRAVRD_VCOV_CLUSTER, 0},
    {"log1p(y) ~ x1:x2 + xm | e^t^si", NULL, NULL, NULL, GRAVRD_VCOV_IID, 0},
    /* the sample, structure and outcome caches: the same outcome and sample
     * with other regressors, whole pairs dropped (incomplete blocks) by a
     * subset or by a regressor's missing values, singletons dropped under
     * one set of FE and not under another */
    {"log(y) ~ x1 + xc | e^t + i^t + se^si", NULL, NULL, "pair", GRAVRD_VCOV_CLUSTER, 0},
    {"log(y) ~ x1 + x1:xc | e^t + i^t + se^si", "grp != 2", NULL, "pair", GRAVRD_VCOV_CLUSTER, 0},
    {"log(y) ~ x2 + x1:xc | e^t + i^t + se^si", "grp != 2", NULL, "pair", GRAVRD_VCOV_HETERO, 0},
    {"y2 ~ xm | pair + t", "pair != 3 | t == 1", NULL, NULL, GRAVRD_VCOV_IID, 0},
    {"y2 ~ xm | t", "pair != 3 | t == 1", NULL, NULL, GRAVRD_VCOV_IID, 0},
};
enum { N_MODELS = sizeof MODELS / sizeof MODELS[0] };

static gravrd_reg_results *fit(const gravrd_frame *f, const model *m, int threads, gravrd_reg_cache *cache)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.subset = m->subset;
    opt.split = m->split;
    opt.cluster = m->cluster;
    opt.vcov = m->vcov;
    opt.keep_scores = m->keep_scores;
    opt.threads = threads;
    opt.cache = cache;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    gravrd_status st = gravrd_reg(f, m->formula, &opt, &res, &err);
    if (st)
        fprintf(stderr, "%s: %s\n", m->formula, err.message);
    assert_int_equal(st, GRAVRD_OK);
    return res;
}

static void same_doubles(const double *a, const double *b, size_t n)
{
    if (n)
        assert_memory_equal(a, b, n * sizeof *a);
}

/* Every number and label, bit for bit (timings aside). */
static void assert_identical(const gravrd_reg_results *a, const gravrd_reg_results *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->n_warnings, b->n_warnings);
    for (int w = 0; w < a->n_warnings; w++)
        assert_string_equal(a->warnings[w], b->warnings[w]);
    for (int k = 0; k < a->n; k++) {
        const gravrd_reg_result *x = &a->results[k], *y = &b->results[k];
        assert_string_equal(x->outcome, y->outcome);
        assert_string_equal(x->sample, y->sample);
        assert_string_equal(x->vcov_label, y->vcov_label);
        assert_int_equal(x->nobs, y->nobs);
        assert_int_equal(x->dropped_missing, y->dropped_missing);
        assert_int_equal(x->dropped_singletons, y->dropped_singletons);
        assert_int_equal(x->n_fe, y->n_fe);
        for (int q = 0; q < x->n_fe; q++) {
            assert_string_equal(x->fe_names[q], y->fe_names[q]);
            assert_int_equal(x->fe_levels[q], y->fe_levels[q]);
        }
        assert_int_equal(x->n_coef, y->n_coef);
        assert_int_equal(x->n_collinear, y->n_collinear);
        for (int c = 0; c < x->n_coef; c++) {
            assert_string_equal(x->coefs[c].name, y->coefs[c].name);
            same_doubles(&x->coefs[c].estimate, &y->coefs[c].estimate, 1);
            same_doubles(&x->coefs[c].se, &y->coefs[c].se, 1);
            same_doubles(&x->coefs[c].t, &y->coefs[c].t, 1);
            same_doubles(&x->coefs[c].p, &y->coefs[c].p, 1);
        }
        same_doubles(x->vcov, y->vcov, (size_t)x->n_coef * (size_t)x->n_coef);
        const double xs[] = {x->r2, x->adj_r2, x->within_r2, x->rmse, x->wald_f, x->wald_p, x->wald_df2, x->t_df};
        const double ys[] = {y->r2, y->adj_r2, y->within_r2, y->rmse, y->wald_f, y->wald_p, y->wald_df2, y->t_df};
        same_doubles(xs, ys, sizeof xs / sizeof xs[0]);
        assert_int_equal(x->wald_df1, y->wald_df1);
        assert_int_equal(x->n_params, y->n_params);
        assert_int_equal(x->n_clusters_min, y->n_clusters_min);
        assert_int_equal(x->iterations, y->iterations);
        assert_int_equal(x->n_score_groups, y->n_score_groups);
        same_doubles(x->scores, y->scores, (size_t)x->n_score_groups * (size_t)x->n_coef);
        same_doubles(x->bread, y->bread, x->bread ? (size_t)x->n_coef * (size_t)x->n_coef : 0);
        assert_true(x->sample_hash == y->sample_hash);
        assert_int_equal(x->collapsed, y->collapsed);
    }
}

static void test_cached_equals_uncached(void **state)
{
    (void)state;
    for (int miss = 0; miss < 2; miss++) {
        gravrd_frame *f = make_panel(11 + (unsigned long)miss, miss);
        gravrd_reg_cache *cache = gravrd_reg_cache_new(f);
        assert_non_null(cache);
        for (int threads = 1; threads <= 2; threads++)
            for (int pass = 0; pass < 2; pass++) /* pass 1: every input from the cache */
                for (int m = 0; m < N_MODELS; m++) {
                    gravrd_reg_results *plain = fit(f, &MODELS[m], threads, NULL);
                    gravrd_reg_results *cached = fit(f, &MODELS[m], threads, cache);
                    assert_identical(plain, cached);
                    if (m <= 1 || (m >= 7 && m <= 9))
                        assert_int_equal(cached->results[0].collapsed, 1);
                    if (m == 7 && miss) /* whole pairs without xc */
                        assert_true(cached->results[0].dropped_missing > 0);
                    if (m == 10)
                        assert_true(cached->results[0].dropped_singletons > 0);
                    if (m == 11)
                        assert_int_equal(cached->results[0].dropped_singletons, 0);
                    gravrd_reg_results_free(plain);
                    gravrd_reg_results_free(cached);
                }
        gravrd_reg_cache_free(cache);
        gravrd_frame_free(f);
    }
}

static void test_errors_not_cached_and_other_frame_ignored(void **state)
{
    (void)state;
    gravrd_frame *f = make_panel(3, 1), *g = make_panel(4, 0);
    gravrd_reg_cache *cache = gravrd_reg_cache_new(f);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cache = cache;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    assert_int_not_equal(gravrd_reg(f, "log(y) ~ nope | e^t", &opt, &res, &err), GRAVRD_OK);
    assert_int_not_equal(gravrd_reg(f, "log(y) ~ x1 | e^nope", &opt, &res, &err), GRAVRD_OK);
    opt.split = "nope";
    assert_int_not_equal(gravrd_reg(f, "log(y) ~ x1 | e^t", &opt, &res, &err), GRAVRD_OK);
    /* a cache of f used on g: ignored, g's own numbers */
    for (int m = 0; m < N_MODELS; m++) {
        gravrd_reg_results *a = fit(f, &MODELS[m], 1, cache);
        gravrd_reg_results *b = fit(g, &MODELS[m], 1, cache);
        gravrd_reg_results *c = fit(g, &MODELS[m], 1, NULL);
        assert_identical(b, c);
        gravrd_reg_results_free(a);
        gravrd_reg_results_free(b);
        gravrd_reg_results_free(c);
    }
    gravrd_reg_cache_free(cache);
    gravrd_reg_cache_free(NULL);
    gravrd_frame_free(f);
    gravrd_frame_free(g);
}

/* A copy of f (same rows and values) whose segment columns se, si are
 * regrouped: what the study frame at another bandwidth is to the default. */
static gravrd_frame *rebandwidth(const gravrd_frame *f)
{
    gravrd_frame *g = gravrd_frame_new(f->n_rows, "panel");
    for (size_t c = 0; c < f->n_cols; c++) {
        const gravrd_column *col = &f->cols[c];
        if (col->type != GRAVRD_COL_NUMERIC)
            continue;
        double *x = malloc(f->n_rows * sizeof *x);
        memcpy(x, col->num_N, f->n_rows * sizeof *x);
        if (!strcmp(col->name, "se") || !strcmp(col->name, "si"))
            for (size_t i = 0; i < f->n_rows; i++)
                x[i] = fmod(x[i], 2.0); /* coarser segments */
        assert_int_equal(gravrd_frame_add_numeric(g, col->name, x, NULL), GRAVRD_OK);
    }
    return g;
}

/* gravrd_reg_cache_new_sharing: a frame differing in two columns takes the
 * rest from the parent's cache and gets its own numbers, bit for bit; a
 * cache sharing with a parent of other rows shares nothing. */
static void test_sharing_with_parent(void **state)
{
    (void)state;
    gravrd_frame *f = make_panel(31, 1);
    gravrd_frame *g = rebandwidth(f);
    gravrd_reg_cache *parent = gravrd_reg_cache_new(f);
    gravrd_reg_cache *child = gravrd_reg_cache_new_sharing(g, parent);
    assert_non_null(child);
    for (int pass = 0; pass < 2; pass++)
        for (int m = 0; m < N_MODELS; m++) {
            if (MODELS[m].split) /* g has no factor column */
                continue;
            gravrd_reg_results *p = fit(f, &MODELS[m], 1, parent);
            gravrd_reg_results *plain = fit(g, &MODELS[m], 1, NULL);
            gravrd_reg_results *shared = fit(g, &MODELS[m], 1, child);
            assert_identical(plain, shared);
            if (strstr(MODELS[m].formula, "se^si")) /* the changed columns matter */
                assert_true(p->results[0].coefs[0].estimate != shared->results[0].coefs[0].estimate ||
                            p->results[0].fe_levels[2] != shared->results[0].fe_levels[2]);
            gravrd_reg_results_free(p);
            gravrd_reg_results_free(plain);
            gravrd_reg_results_free(shared);
        }
    gravrd_reg_cache_free(child);
    /* other rows: nothing shared, own numbers */
    gravrd_frame *h = make_panel(32, 0);
    child = gravrd_reg_cache_new_sharing(h, parent);
    gravrd_reg_results *a = fit(h, &MODELS[0], 1, child), *b = fit(h, &MODELS[0], 1, NULL);
    assert_identical(a, b);
    gravrd_reg_results_free(a);
    gravrd_reg_results_free(b);
    gravrd_reg_cache_free(child);
    gravrd_reg_cache_free(parent);
    gravrd_frame_free(f);
    gravrd_frame_free(g);
    gravrd_frame_free(h);
}

/* gravrd_reg_cache_eval: the expression's values, computed once (the same
 * pointer again), equal to gravrd_expr_eval's; the values gravrd_reg uses. */
static void test_cache_eval(void **state)
{
    (void)state;
    gravrd_frame *f = make_panel(41, 1);
    gravrd_reg_cache *cache = gravrd_reg_cache_new(f);
    const double *a = NULL, *b = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg_cache_eval(cache, "log1p(y) * x1", NULL, &a, &err), GRAVRD_OK);
    assert_int_equal(gravrd_reg_cache_eval(cache, "log1p(y)*x1", NULL, &b, &err), GRAVRD_OK);
    assert_ptr_equal(a, b); /* same deparsed text: one entry */
    gravrd_expr *e = NULL;
    assert_int_equal(gravrd_expr_parse("log1p(y) * x1", &e, &err), GRAVRD_OK);
    double *x = malloc(f->n_rows * sizeof *x);
    gravrd_eval_env env = {f, NULL, NULL};
    assert_int_equal(gravrd_expr_eval(e, &env, x, &err), GRAVRD_OK);
    assert_memory_equal(a, x, f->n_rows * sizeof *x);
    gravrd_expr_free(e);
    free(x);
    assert_int_equal(gravrd_reg_cache_eval(cache, "log(nope)", NULL, &a, &err), GRAVRD_ERR_INVALID);
    assert_null(a);
    assert_int_equal(gravrd_reg_cache_eval(cache, "log(", NULL, &a, &err), GRAVRD_ERR_PARSE);
    gravrd_reg_cache_free(cache);
    gravrd_frame_free(f);
}

/* Concurrent calls sharing one empty cache: each worker fits every model
 * (in a different order) and must get the uncached numbers. */
typedef struct {
    const gravrd_frame *f;
    gravrd_reg_cache *cache;
    int start;
    gravrd_reg_results *res[N_MODELS];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int k = 0; k < N_MODELS; k++) {
        int m = (w->start + k) % N_MODELS;
        w->res[m] = fit(w->f, &MODELS[m], 1, w->cache);
    }
    return NULL;
}

static void test_shared_by_threads(void **state)
{
    (void)state;
    enum { W = 4 };
    gravrd_frame *f = make_panel(21, 1);
    gravrd_reg_cache *cache = gravrd_reg_cache_new(f);
    worker ws[W];
    pthread_t th[W];
    for (int k = 0; k < W; k++) {
        ws[k] = (worker){f, cache, k % 2 ? 0 : 3, {0}};
        assert_int_equal(pthread_create(&th[k], NULL, work, &ws[k]), 0);
    }
    for (int k = 0; k < W; k++)
        pthread_join(th[k], NULL);
    for (int m = 0; m < N_MODELS; m++) {
        gravrd_reg_results *plain = fit(f, &MODELS[m], 1, NULL);
        for (int k = 0; k < W; k++) {
            assert_identical(plain, ws[k].res[m]);
            gravrd_reg_results_free(ws[k].res[m]);
        }
        gravrd_reg_results_free(plain);
    }
    gravrd_reg_cache_free(cache);
    gravrd_frame_free(f);
}

/* --strict names the count and the first row with a missing value of an
 * outcome, a regressor or an FE, in the sample, with and without a cache
 * (the counts are taken without branches, the first row in a second pass
 * only when something is missing). y2 is missing in rows 5, 42, 79, ... */
static void test_strict_first_missing_row(void **state)
{
    (void)state;
    gravrd_frame *f = make_panel(11, 1);
    gravrd_reg_cache *cache = gravrd_reg_cache_new(f);
    assert_non_null(cache);
    size_t n = f->n_rows, n_missing = 0;
    for (size_t r = 0; r < n; r++)
        n_missing += r % 37 == 5;
    char want[128];
    static const char *const formulas[] = {"y2 ~ x1 | e^t", "x1 ~ y2 | e^t", "log(y) ~ x1 + y2"};
    for (int k = 0; k < 3; k++)
        for (int c = 0; c < 2; c++) {
            gravrd_reg_options opt;
            gravrd_reg_options_init(&opt);
            opt.strict = 1;
            opt.cache = c ? cache : NULL;
            gravrd_reg_results *res = NULL;
            gravrd_error err = {0};
            assert_int_equal(gravrd_reg(f, formulas[k], &opt, &res, &err), GRAVRD_ERR_DATA);
            assert_null(res);
            snprintf(want, sizeof want, "%zu rows have a missing or non-finite value of y2 (first: data row 6)",
                     n_missing);
            assert_non_null(strstr(err.message, want));
            /* a subset leaving out row 5: the first in the sample is 42 */
            opt.subset = "pair != 1 | t != 6";
            assert_int_equal(gravrd_reg(f, formulas[k], &opt, &res, &err), GRAVRD_ERR_DATA);
            assert_non_null(strstr(err.message, "(first: data row 43)"));
        }
    gravrd_reg_cache_free(cache);
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cached_equals_uncached),
        cmocka_unit_test(test_errors_not_cached_and_other_frame_ignored),
        cmocka_unit_test(test_shared_by_threads),
        cmocka_unit_test(test_sharing_with_parent),
        cmocka_unit_test(test_cache_eval),
        cmocka_unit_test(test_strict_first_missing_row),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
