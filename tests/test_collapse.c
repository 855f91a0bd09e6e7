/* test_collapse.c - the exact collapse of balanced cell x month panels
 * (src/estimate/collapse.c): it gives the general path's numbers (1e-10) for
 * every variance type, small-sample rule, clustering and FE layout it takes,
 * complete or incomplete blocks, and the general path is used whenever a
 * condition fails. */
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
#include "support/testutil.h"

/* A small paper-like world: NE east and NW west cities, directed pairs
 * east->west and west->east (two complete blocks), NT months. */
enum { NE = 7, NW = 9, NT = 6, NSEG = 3 };

typedef struct {
    int drop_pair;     /* drop every month of this directed pair (-1: none): incomplete table */
    int drop_row;      /* drop this one row (-1: none): unbalanced */
    int duplicate_row; /* repeat this row (-1: none) */
    int shuffle;       /* rows in random order */
} panel_spec;

static const panel_spec PLAIN = {-1, -1, -1, 0};

static gravrd_frame *make_panel(const panel_spec *sp, unsigned long seed)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    const int nc = NE + NW, np = 2 * NE * NW;
    size_t cap = (size_t)np * NT + 1, n = 0;
    enum { NV = 15 };
    static const char *names[NV] = {"y",    "y2",  "x1",   "x2",   "xm", "xe",  "e",   "i",
                                    "t",    "se",  "si",   "pair", "pe", "cm",  "grp"};
    double *col[NV];
    for (int v = 0; v < NV; v++)
        col[v] = malloc(cap * sizeof(double));
    double a_C[NE + NW], b_C[NE + NW], mt[NT], seg_fe[NSEG * NSEG];
    for (int c = 0; c < nc; c++) {
        a_C[c] = gsl_ran_gaussian(rng, 1.0);
        b_C[c] = gsl_ran_gaussian(rng, 1.0);
    }
    for (int t = 0; t < NT; t++)
        mt[t] = gsl_ran_gaussian(rng, 0.5);
    for (int s = 0; s < NSEG * NSEG; s++)
        seg_fe[s] = gsl_ran_gaussian(rng, 0.5);
    for (int d = 0; d < np; d++) {
        int ce, ci;
        testutil_pair_cities(d, NE, NW, &ce, &ci);
        double x1 = gsl_rng_uniform(rng) < 0.3, x2 = log(500 + 1000 * gsl_rng_uniform(rng));
        double pfe = gsl_ran_gaussian(rng, 0.3);
        for (int t = 0; t < NT; t++) {
            if (d == sp->drop_pair || (int)(d * NT + t) == sp->drop_row)
                continue;
            int reps = (int)(d * NT + t) == sp->duplicate_row ? 2 : 1;
            for (int k = 0; k < reps; k++) {
                double noise = gsl_ran_gaussian(rng, 0.5 + 0.5 * x1);
                double v[NV] = {0.25 * x1 - x2 + a_C[ce] * (1 + 0.1 * t) + b_C[ci] + mt[t] +
                                    seg_fe[(ce % NSEG) * NSEG + ci % NSEG] + pfe + noise,
                                0, x1, x2, gsl_ran_gaussian(rng, 1.0), a_C[ce], ce + 1, ci + 1, t + 1,
                                ce % NSEG + 1, ci % NSEG + 1, d + 1, ce % 3 + 1, (d + t) % 5, d % 4};
                v[1] = 0.5 * v[0] + gsl_ran_gaussian(rng, 1.0) + 0.3 * x2;
                for (int q = 0; q < NV; q++)
                    col[q][n] = v[q];
                n++;
            }
        }
    }
    if (sp->shuffle)
        for (size_t r = n; r > 1; r--) {
            size_t s = gsl_rng_uniform_int(rng, r);
            for (int q = 0; q < NV; q++) {
                double tmp = col[q][r - 1];
                col[q][r - 1] = col[q][s];
                col[q][s] = tmp;
            }
        }
    gravrd_frame *f = gravrd_frame_new(n, "panel");
    for (int v = 0; v < NV; v++)
        assert_int_equal(gravrd_frame_add_numeric(f, names[v], col[v], NULL), GRAVRD_OK);
    gsl_rng_free(rng);
    return f;
}

typedef struct {
    gravrd_vcov_type vcov;
    const char *cluster;
    gravrd_ssc_rule ssc;
    int keep_scores;
    int threads;
} fit_spec;

static gravrd_reg_results *fit(const gravrd_frame *f, const char *formula, const fit_spec *fs, int no_shortcuts)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.vcov = fs->vcov;
    opt.cluster = fs->cluster;
    opt.ssc = fs->ssc;
    opt.keep_scores = fs->keep_scores;
    opt.threads = fs->threads;
    opt.no_shortcuts = no_shortcuts;
    opt.tol = 1e-14; /* both paths solved to near machine precision */
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    if (gravrd_reg(f, formula, &opt, &res, &err))
        fail_msg("%s: %s", formula, err.message);
    return res;
}

static void assert_rel(double a, double b, double tol, const char *what)
{
    if (isnan(a) && isnan(b))
        return;
    if (!(fabs(a - b) <= tol * fmax(fabs(b), 1e-300)))
        fail_msg("%s: %.17g vs %.17g", what, a, b);
}

static void assert_same_fit(const gravrd_reg_result *a, const gravrd_reg_result *b)
{
    const double tol = 1e-10;
    assert_int_equal(a->nobs, b->nobs);
    assert_int_equal(a->n_coef, b->n_coef);
    assert_int_equal(a->n_collinear, b->n_collinear);
    assert_int_equal(a->n_fe, b->n_fe);
    for (int q = 0; q < a->n_fe; q++)
        assert_int_equal(a->fe_levels[q], b->fe_levels[q]);
    assert_int_equal(a->n_params, b->n_params);
    assert_int_equal(a->n_clusters_min, b->n_clusters_min);
    assert_int_equal(a->sample_hash, b->sample_hash);
    assert_string_equal(a->vcov_label, b->vcov_label);
    for (int k = 0; k < a->n_coef; k++) {
        assert_string_equal(a->coefs[k].name, b->coefs[k].name);
        assert_rel(a->coefs[k].estimate, b->coefs[k].estimate, tol, "estimate");
        assert_rel(a->coefs[k].se, b->coefs[k].se, tol, "se");
        assert_rel(a->coefs[k].t, b->coefs[k].t, tol, "t");
        assert_rel(a->coefs[k].p, b->coefs[k].p, 1e-8, "p");
    }
    for (int k = 0; k < a->n_coef * a->n_coef; k++)
        assert_rel(a->vcov[k], b->vcov[k], tol * 10, "vcov");
    assert_rel(a->r2, b->r2, tol, "r2");
    assert_rel(a->adj_r2, b->adj_r2, tol, "adj_r2");
    assert_rel(a->within_r2, b->within_r2, tol, "within_r2");
    assert_rel(a->rmse, b->rmse, tol, "rmse");
    assert_rel(a->wald_f, b->wald_f, tol, "wald_f");
    assert_int_equal(a->wald_df1, b->wald_df1);
    assert_rel(a->wald_df2, b->wald_df2, 0, "wald_df2");
    assert_rel(a->t_df, b->t_df, 0, "t_df");
    assert_int_equal(a->n_score_groups, b->n_score_groups);
    if (a->scores) {
        assert_non_null(b->scores);
        assert_rel(a->vcov_scale, b->vcov_scale, tol, "vcov_scale");
        for (int k = 0; k < a->n_coef * a->n_coef; k++)
            assert_rel(a->bread[k], b->bread[k], tol, "bread");
        double scale = 0;
        for (size_t g = 0; g < (size_t)a->n_score_groups * (size_t)a->n_coef; g++)
            scale = fmax(scale, fabs(b->scores[g]));
        for (size_t g = 0; g < (size_t)a->n_score_groups * (size_t)a->n_coef; g++)
            if (fabs(a->scores[g] - b->scores[g]) > 1e-9 * scale)
                fail_msg("score %zu: %.17g vs %.17g", g, a->scores[g], b->scores[g]);
    }
}

/* Fits with and without shortcuts; expect_collapse: whether the collapse
 * must be taken. */
static void check(const gravrd_frame *f, const char *formula, const fit_spec *fs, int expect_collapse)
{
    gravrd_reg_results *fast = fit(f, formula, fs, 0), *general = fit(f, formula, fs, 1);
    assert_int_equal(fast->n, general->n);
    for (int j = 0; j < fast->n; j++) {
        if (fast->results[j].collapsed != expect_collapse)
            fail_msg("%s (vcov %d, cluster %s): collapsed = %d, expected %d", formula, fs->vcov,
                     fs->cluster ? fs->cluster : "-", fast->results[j].collapsed, expect_collapse);
        assert_int_equal(general->results[j].collapsed, 0);
        assert_same_fit(&fast->results[j], &general->results[j]);
    }
    gravrd_reg_results_free(fast);
    gravrd_reg_results_free(general);
}

static const char *RD = "y ~ x1 + x2 | e^t + i^t + se^si";

static void test_agrees_every_variance(void **state)
{
    (void)state;
    gravrd_frame *f = make_panel(&PLAIN, 1);
    const fit_spec specs[] = {
        {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 1, 1},
        {GRAVRD_VCOV_IID, NULL, GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_HETERO, NULL, GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "pe", GRAVRD_SSC_FIXEST, 1, 1},   /* coarser than the pair */
        {GRAVRD_VCOV_CLUSTER, "e", GRAVRD_SSC_FIXEST, 0, 1},    /* exporter: nests e^t levels */
        {GRAVRD_VCOV_CLUSTER, "pair + grp", GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "e^i", GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_STATA, 0, 1},
        {GRAVRD_VCOV_IID, NULL, GRAVRD_SSC_STATA, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 0, 2},
    };
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
        check(f, RD, &specs[s], 1);
    gravrd_frame_free(f);
}

static void test_agrees_other_layouts(void **state)
{
    (void)state;
    gravrd_frame *f = make_panel(&PLAIN, 2);
    const fit_spec cl = {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 0, 1};
    const fit_spec stata = {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_STATA, 0, 1};
    const char *formulas[] = {
        "y ~ x1 + x2 | e^t + i^t",                     /* the gravity model */
        "y ~ x1 + x2 | t^e + i^t + se^si",             /* variables in either order */
        "y ~ x1 + x2 | se^si + e^t + i^t",             /* the cell FE first */
        "y ~ x1 + x2 | e^t + se^si + i^t + pair",      /* a pair FE: x absorbed */
        "y + y2 ~ x1 + x2 | e^t + i^t + se^si",        /* two outcomes */
        "y ~ x1 + x2 + xe | e^t + i^t + se^si",        /* xe collinear with the FE */
        "y ~ x1 + x2 + x1:x2 | e^t + i^t + se^si",     /* interaction of cell-level terms */
        "y ~ x1 + x2 | e^t + i^t + se^si^t",           /* segment pair x month FE (Table A.9) */
        "y ~ x1 + x2 | e + i + t + se^si",             /* city FE and month FE (Table A.10) */
        "y ~ x1 + x2 | e + i + t",
        "y ~ x1 + x2 | e^t + i^t + t",                 /* a redundant month FE */
        "y ~ x1 + x2 | e^t + i^t + pe^t",              /* exporter groups x month */
    };
    for (size_t k = 0; k < sizeof formulas / sizeof formulas[0]; k++) {
        if (strstr(formulas[k], "pair")) {
            /* Every regressor is absorbed by the pair FE: both paths fail alike. */
            gravrd_reg_options opt;
            gravrd_reg_options_init(&opt);
            opt.cluster = "pair";
            gravrd_reg_results *res = NULL;
            gravrd_error e1 = {0}, e2 = {0};
            assert_int_equal(gravrd_reg(f, formulas[k], &opt, &res, &e1), GRAVRD_ERR_COLLINEAR);
            opt.no_shortcuts = 1;
            assert_int_equal(gravrd_reg(f, formulas[k], &opt, &res, &e2), GRAVRD_ERR_COLLINEAR);
            assert_string_equal(e1.message, e2.message);
            continue;
        }
        check(f, formulas[k], &cl, 1);
        check(f, formulas[k], &stata, 1);
    }
    gravrd_frame_free(f);
    /* Row order does not matter. */
    panel_spec shuffled = PLAIN;
    shuffled.shuffle = 1;
    f = make_panel(&shuffled, 3);
    check(f, RD, &cl, 1);
    check(f, "y ~ x1 + x2 | se^si + i^t + e^t", &stata, 1);
    gravrd_frame_free(f);
}

static void test_general_path_when_structure_absent(void **state)
{
    (void)state;
    const fit_spec cl = {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 0, 1};
    const fit_spec iid = {GRAVRD_VCOV_IID, NULL, GRAVRD_SSC_FIXEST, 0, 1};
    gravrd_frame *f = make_panel(&PLAIN, 4);
    check(f, "y ~ x1 + x2 + xm | e^t + i^t + se^si", &cl, 0); /* a month-varying regressor */
    check(f, "y ~ x1 + x2 | e + t", &cl, 0);                  /* FE not of the form */
    check(f, "y ~ x1 + x2 | e^t + i^t + cm", &cl, 0);         /* an FE varying within cells */
    check(f, "y ~ x1 + x2 | e^t + i^t + se^si", &(fit_spec){GRAVRD_VCOV_CLUSTER, "cm", GRAVRD_SSC_FIXEST, 0, 1},
          0);                                                  /* clusters varying within cells */
    check(f, "y ~ x1 + x2 | e^t + i^t + se^si", &(fit_spec){GRAVRD_VCOV_CLUSTER, "pair + t", GRAVRD_SSC_FIXEST, 0, 1},
          0);                                                  /* a month clustering */
    check(f, "y ~ x1 + x2 | e^t + i^pe + se^si", &cl, 0);     /* no shared month variable */
    gravrd_frame_free(f);

    panel_spec sp = PLAIN;
    sp.drop_row = 17; /* unbalanced panel */
    f = make_panel(&sp, 5);
    check(f, RD, &cl, 0);
    check(f, RD, &iid, 0);
    gravrd_frame_free(f);


    sp = PLAIN;
    sp.duplicate_row = 40; /* a cell observed twice in one month */
    f = make_panel(&sp, 7);
    check(f, RD, &iid, 0);
    gravrd_frame_free(f);

    /* A subset leaving an unbalanced sample. */
    f = make_panel(&PLAIN, 8);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "pair";
    opt.subset = "t != 3 | pair != 5";
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg(f, RD, &opt, &res, &err), GRAVRD_OK);
    assert_int_equal(res->results[0].collapsed, 0);
    gravrd_reg_results_free(res);
    /* A subset dropping whole months keeps the panel balanced. */
    opt.subset = "t != 3";
    assert_int_equal(gravrd_reg(f, RD, &opt, &res, &err), GRAVRD_OK);
    assert_int_equal(res->results[0].collapsed, 1);
    gravrd_reg_results *gen = NULL;
    opt.no_shortcuts = 1;
    opt.tol = 1e-14;
    assert_int_equal(gravrd_reg(f, RD, &opt, &gen, &err), GRAVRD_OK);
    assert_same_fit(&res->results[0], &gen->results[0]);
    gravrd_reg_results_free(res);
    gravrd_reg_results_free(gen);
    gravrd_frame_free(f);
}

/* Blocks that are not complete tables (a subset dropping whole pairs, as
 * the paper's leave-one-control-type-out tables do): the within-month
 * projection is solved on the cell graph (cell_projection.c), with the same
 * numbers as the general path. */
static void test_agrees_incomplete_blocks(void **state)
{
    (void)state;
    const fit_spec specs[] = {
        {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 1, 1},
        {GRAVRD_VCOV_IID, NULL, GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_HETERO, NULL, GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "e", GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "pair + grp", GRAVRD_SSC_FIXEST, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_STATA, 0, 1},
        {GRAVRD_VCOV_IID, NULL, GRAVRD_SSC_STATA, 0, 1},
        {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 0, 2},
    };
    /* One missing cell: the east->west table is incomplete. */
    panel_spec sp = PLAIN;
    sp.drop_pair = 11;
    gravrd_frame *f = make_panel(&sp, 6);
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++)
        check(f, RD, &specs[s], 1);
    check(f, "y + y2 ~ x1 + x2 | e^t + i^t", &specs[0], 1);
    check(f, "y ~ x1 + x2 | i^t + se^si + e^t", &specs[5], 1);
    gravrd_frame_free(f);

    /* Every fourth pair dropped by a subset, rows shuffled. */
    sp = PLAIN;
    sp.shuffle = 1;
    f = make_panel(&sp, 10);
    const struct {
        const char *subset, *formula;
    } cases[] = {
        {"grp != 2", RD},
        {"grp != 2", "y + y2 ~ x1 + x2 | e^t + i^t + se^si"},
        {"grp == 1", "y ~ x1 + x2 | e^t + i^t"}, /* sparse: a quarter of the cells */
        {"grp != 0 & t != 2", RD},               /* and a whole month */
        {"pe != 1 | x1 == 1", RD},               /* depends on cell-level values */
        {"grp != 2", "y ~ x1 + x2 | e^t + i^t + se^si^t"},
        {"grp != 2", "y + y2 ~ x1 + x2 | e + i + t + se^si"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gravrd_reg_options opt;
        gravrd_reg_options_init(&opt);
        opt.cluster = "pair";
        opt.subset = cases[k].subset;
        opt.tol = 1e-14;
        gravrd_reg_results *fast = NULL, *general = NULL;
        gravrd_error err = {0};
        if (gravrd_reg(f, cases[k].formula, &opt, &fast, &err))
            fail_msg("%s: %s", cases[k].subset, err.message);
        opt.no_shortcuts = 1;
        if (gravrd_reg(f, cases[k].formula, &opt, &general, &err))
            fail_msg("%s: %s", cases[k].subset, err.message);
        for (int j = 0; j < fast->n; j++) {
            if (!fast->results[j].collapsed)
                fail_msg("subset %s: not collapsed", cases[k].subset);
            assert_true(fast->results[j].nobs < (size_t)(2 * NE * NW * NT));
            assert_same_fit(&fast->results[j], &general->results[j]);
        }
        gravrd_reg_results_free(fast);
        gravrd_reg_results_free(general);
    }
    gravrd_frame_free(f);
}

static void test_threads_bit_identical(void **state)
{
    (void)state;
    gravrd_frame *f = make_panel(&PLAIN, 9);
    const fit_spec one = {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 0, 1};
    const fit_spec two = {GRAVRD_VCOV_CLUSTER, "pair", GRAVRD_SSC_FIXEST, 0, 2};
    gravrd_reg_results *a = fit(f, RD, &one, 0), *b = fit(f, RD, &two, 0);
    assert_int_equal(a->results[0].collapsed, 1);
    for (int k = 0; k < a->results[0].n_coef; k++) {
        assert_memory_equal(&a->results[0].coefs[k].estimate, &b->results[0].coefs[k].estimate, sizeof(double));
        assert_memory_equal(&a->results[0].coefs[k].se, &b->results[0].coefs[k].se, sizeof(double));
    }
    assert_memory_equal(&a->results[0].r2, &b->results[0].r2, sizeof(double));
    gravrd_reg_results_free(a);
    gravrd_reg_results_free(b);
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agrees_every_variance),
        cmocka_unit_test(test_agrees_other_layouts),
        cmocka_unit_test(test_general_path_when_structure_absent),
        cmocka_unit_test(test_agrees_incomplete_blocks),
        cmocka_unit_test(test_threads_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
