/* test_design.c - the design check (gravrd/design.h): its summary equals a
 * direct computation on the same simulated worlds (estimates, the
 * counterfactual truth, coverage, rejection rates), it does not depend on
 * the thread count, its options and method names are checked, and its
 * JSON and plot are well formed. The embedded study is checked too. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_cdf.h>
#include <jansson.h>

#include "gravrd/design.h"
#include "gravrd/estimate.h"
#include "gravrd/sim.h"
#include "gravrd/study.h"
#include "support/testutil.h"

/* |a - b| <= tol, with the values in the failure message. */
#define assert_close(a, b, tol)                                                                                   \
    do {                                                                                                          \
        double a_ = (a), b_ = (b);                                                                                \
        if (!(fabs(a_ - b_) <= (tol)))                                                                            \
            fail_msg("%s = %.17g, expected %.17g", #a, a_, b_);                                                   \
    } while (0)

static void test_default_study(void **state)
{
    (void)state;
    gravrd_study *s = NULL;
    gravrd_error err;
    assert_int_equal(gravrd_study_load_default(100, &s, &err), GRAVRD_OK);
    assert_int_equal(gravrd_study_n_cities(s), 197);
    assert_int_equal(gravrd_study_n_partnerships(s), 95);
    gravrd_study_geo g;
    gravrd_study_geography(s, &g);
    size_t west = 0;
    for (size_t i = 0; i < g.n; i++)
        west += g.west_N[i] == 1;
    assert_int_equal(west, 110);
    gravrd_study_free(s);
    assert_int_equal(gravrd_study_load_default(-1, &s, &err), GRAVRD_ERR_INVALID);
    assert_null(s);
}

static void test_names(void **state)
{
    (void)state;
    gravrd_error err;
    for (int m = 0; m < GRAVRD_INFERENCE_N; m++) {
        gravrd_inference back;
        assert_int_equal(gravrd_inference_parse(gravrd_inference_name((gravrd_inference)m), &back, &err), GRAVRD_OK);
        assert_int_equal(back, m);
    }
    gravrd_inference x;
    assert_int_equal(gravrd_inference_parse("cluster", &x, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "'cluster'"));
}

static void test_bad_options(void **state)
{
    (void)state;
    gravrd_design_options o;
    gravrd_design_result *r = NULL;
    gravrd_error err;
    gravrd_design_options_init(&o);
    o.worlds = 0;
    assert_int_equal(gravrd_design_run(&o, &r, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "--worlds"));
    assert_null(r);
    gravrd_design_options_init(&o);
    o.ri_reps = 0;
    assert_int_equal(gravrd_design_run(&o, &r, &err), GRAVRD_ERR_INVALID);
    gravrd_design_options_init(&o);
    o.methods = 1u << GRAVRD_INFERENCE_N;
    assert_int_equal(gravrd_design_run(&o, &r, &err), GRAVRD_ERR_INVALID);
    gravrd_design_options_init(&o);
    o.data_dir = "/nonexistent-gravrd-design";
    o.worlds = 1;
    assert_int_not_equal(gravrd_design_run(&o, &r, &err), GRAVRD_OK);
    assert_non_null(strstr(err.message, "/nonexistent-gravrd-design/cities.csv"));
}

/* partner's estimate and pair-clustered 95% interval and p-value in the
 * world of seed, months, with the effects on or all off, fitted directly. */
static void direct_fit(const gravrd_study *study, uint64_t seed, int months, int effects_on, int rd, double *est,
                       double *lo, double *hi, double *p)
{
    gravrd_sim_params sp;
    gravrd_sim_params_init(&sp);
    sp.seed = seed;
    sp.months = months;
    if (!effects_on) {
        sp.partner_w2e = sp.partner_e2w = sp.deals_w2e = sp.deals_e2w = 0;
        for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
            sp.cat[c] = 0;
        for (int h = 0; h < GRAVRD_SIM_N_HET; h++)
            sp.het[h] = 0;
        sp.covid_interaction = sp.december_interaction = sp.spring_festival_interaction = 0;
        sp.migration_effect = sp.search_effect = sp.seller_cr_effect = sp.buyer_cr_effect = 0;
    }
    gravrd_error err;
    gravrd_frame *flows = NULL, *frame = NULL;
    assert_int_equal(gravrd_sim_flows_frame(&sp, &flows, &err), GRAVRD_OK);
    static const char *const names[] = {"trade", "month", "direction", "partner", "distance", "seg_exp", "seg_imp"};
    assert_int_equal(gravrd_study_frame(study, flows, names, 7, &frame, &err), GRAVRD_OK);
    gravrd_reg_options o;
    gravrd_reg_options_init(&o);
    o.subset = "direction == \"w2e\"";
    o.cluster = "exp_city^imp_city";
    gravrd_reg_results *res = NULL;
    const char *f = rd ? "log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp"
                       : "log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month";
    assert_int_equal(gravrd_reg(frame, f, &o, &res, &err), GRAVRD_OK);
    const gravrd_reg_result *r = &res->results[0];
    assert_string_equal(r->coefs[0].name, "partner");
    double crit = gsl_cdf_tdist_Pinv(0.975, r->t_df);
    *est = r->coefs[0].estimate;
    *lo = *est - crit * r->coefs[0].se;
    *hi = *est + crit * r->coefs[0].se;
    *p = r->coefs[0].p;
    gravrd_reg_results_free(res);
    gravrd_frame_free(frame);
    gravrd_frame_free(flows);
}

/* The summary is what the worlds give when fitted one by one. */
static void test_matches_direct(void **state)
{
    (void)state;
    enum { W = 3, MONTHS = 3 };
    gravrd_design_options o;
    gravrd_design_options_init(&o);
    o.worlds = W;
    o.months = MONTHS;
    o.seed = 5;
    o.methods = 1u << GRAVRD_INFERENCE_PAIR;
    gravrd_design_result *r = NULL;
    gravrd_error err;
    assert_int_equal(gravrd_design_run(&o, &r, &err), GRAVRD_OK);
    assert_int_equal(r->n_models, 2);
    assert_close(r->effect, 0.10, 1e-15);
    gravrd_study *study = NULL;
    assert_int_equal(gravrd_study_load_default(100, &study, &err), GRAVRD_OK);
    for (int m = 0; m < 2; m++) {
        double s_est = 0, s_truth = 0, s_null = 0, s_len = 0;
        int cover = 0, rej0 = 0, rejx = 0;
        for (int w = 0; w < W; w++) {
            double e, lo, hi, p, e0, lo0, hi0, p0;
            direct_fit(study, 5 + (uint64_t)w, MONTHS, 1, m, &e, &lo, &hi, &p);
            direct_fit(study, 5 + (uint64_t)w, MONTHS, 0, m, &e0, &lo0, &hi0, &p0);
            s_est += e;
            s_truth += e - e0;
            s_null += e0;
            s_len += hi - lo;
            cover += lo <= e - e0 && e - e0 <= hi;
            rej0 += p0 < 0.05;
            rejx += p < 0.05;
        }
        const gravrd_design_model *dm = &r->models[m];
        assert_string_equal(dm->name, m ? "spatial_rd" : "gravity");
        assert_int_equal(dm->n_methods, 1);
        assert_close(dm->mean_estimate, s_est / W, 1e-12);
        assert_close(dm->mean_truth, s_truth / W, 1e-12);
        assert_close(dm->mean_null_estimate, s_null / W, 1e-12);
        /* Switching the effect off moves the estimate: the truth is not 0. */
        assert_true(fabs(dm->mean_truth) > 0.01);
        const gravrd_design_method *d = &dm->methods[0];
        assert_int_equal(d->method, GRAVRD_INFERENCE_PAIR);
        assert_close(d->coverage, (double)cover / W, 1e-15);
        assert_close(d->null_rejection, (double)rej0 / W, 1e-15);
        assert_close(d->power, (double)rejx / W, 1e-15);
        assert_close(d->mean_length, s_len / W, 1e-12);
        assert_close(d->mde, d->mean_length * (1.959963984540054 + 0.8416212335729143) / (2 * 1.959963984540054),
                            1e-12);
        assert_int_equal(dm->recommended, 0);
    }
    gravrd_study_free(study);
    gravrd_design_free(r);
}

/* The recommendation: a nominal method wins over a shorter one that
 * under-covers; with no nominal method, the closest wins unless another is
 * within one Monte Carlo SE of it and shorter. */
static void test_recommend_rule(void **state)
{
    (void)state;
    gravrd_design_model m;
    memset(&m, 0, sizeof m);
    m.n_methods = 3;
    const double cov[3] = {0.920, 0.975, 0.960}, rej[3] = {0.070, 0.055, 0.050}, len[3] = {0.18, 0.22, 0.23};
    for (int j = 0; j < 3; j++) {
        m.methods[j].method = (gravrd_inference)j;
        m.methods[j].coverage = cov[j];
        m.methods[j].null_rejection = rej[j];
        m.methods[j].mean_length = len[j];
    }
    gravrd_design_recommend(&m, 0.015);
    /* 0 under-covers (0.92) however short; 1 covers 0.975 (> 0.97): 2 */
    assert_int_equal(m.recommended, 2);
    assert_int_equal(m.recommended_nominal, 1);
    m.methods[1].coverage = 0.965;
    gravrd_design_recommend(&m, 0.015);
    assert_int_equal(m.recommended, 1); /* both nominal: the shorter */
    /* none nominal: 0 is 0.05 from nominal, 1 is 0.06 (within one MC SE) and
     * shorter, 2 is 0.10 */
    const double cov2[3] = {0.90, 0.89, 0.85}, len2[3] = {0.25, 0.24, 0.10};
    for (int j = 0; j < 3; j++) {
        m.methods[j].coverage = cov2[j];
        m.methods[j].null_rejection = 0.05;
        m.methods[j].mean_length = len2[j];
    }
    gravrd_design_recommend(&m, 0.015);
    assert_int_equal(m.recommended, 1);
    assert_int_equal(m.recommended_nominal, 0);
    gravrd_design_recommend(&m, 0.005); /* 1 is no longer within one MC SE */
    assert_int_equal(m.recommended, 0);
}

/* Every method, 1 and 2 threads: the same numbers, bit for bit. */
static void test_threads(void **state)
{
    (void)state;
    gravrd_design_options o;
    gravrd_design_options_init(&o);
    o.worlds = 3;
    o.months = 2;
    o.boot_reps = 99;
    o.ri_reps = 19;
    gravrd_design_result *r1 = NULL, *r2 = NULL;
    gravrd_error err;
    assert_int_equal(gravrd_design_run(&o, &r1, &err), GRAVRD_OK);
    o.threads = 2;
    assert_int_equal(gravrd_design_run(&o, &r2, &err), GRAVRD_OK);
    for (int m = 0; m < 2; m++) {
        assert_int_equal(r1->models[m].n_methods, GRAVRD_INFERENCE_N);
        assert_memory_equal(r1->models[m].methods, r2->models[m].methods, sizeof r1->models[m].methods);
        assert_true(r1->models[m].mean_estimate == r2->models[m].mean_estimate);
        assert_int_equal(r1->models[m].recommended, r2->models[m].recommended);
        for (int j = 0; j < GRAVRD_INFERENCE_N; j++) {
            const gravrd_design_method *d = &r1->models[m].methods[j];
            assert_int_equal(d->method, j);
            assert_true(d->coverage >= 0 && d->coverage <= 1);
            assert_true(d->mean_length > 0);
        }
    }
    /* The JSON parses and says what the text says. */
    char *dir = testutil_tempdir();
    char *json_path = testutil_path(dir, "d.json"), *svg_path = testutil_path(dir, "d.svg");
    FILE *f = fopen(json_path, "w");
    assert_non_null(f);
    assert_int_equal(gravrd_design_write_json(r1, f, &err), GRAVRD_OK);
    fclose(f);
    json_error_t jerr;
    json_t *root = json_load_file(json_path, 0, &jerr);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root, "worlds")), 3);
    json_t *models = json_object_get(root, "models");
    assert_int_equal(json_array_size(models), 2);
    json_t *rd = json_array_get(models, 1);
    assert_string_equal(json_string_value(json_object_get(rd, "model")), "spatial_rd");
    const char *rec = json_string_value(json_object_get(rd, "recommended"));
    assert_string_equal(rec, gravrd_inference_name(r1->models[1].methods[r1->models[1].recommended].method));
    json_t *wild = json_array_get(json_object_get(rd, "methods"), GRAVRD_INFERENCE_WILD);
    assert_string_equal(json_string_value(json_object_get(wild, "method")), "wild");
    assert_close(json_number_value(json_object_get(wild, "coverage")),
                        r1->models[1].methods[GRAVRD_INFERENCE_WILD].coverage, 1e-15);
    json_decref(root);
    assert_int_equal(gravrd_design_plot(r1, svg_path, &err), GRAVRD_OK);
    size_t len = 0;
    char *svg = testutil_read_file(svg_path, &len);
    assert_non_null(svg);
    assert_non_null(strstr(svg, "<svg"));
    assert_non_null(strstr(svg, "segment_pair"));
    free(svg);
    /* A plot that cannot be written leaves nothing behind. */
    char *bad = testutil_path(dir, "missing/d.svg");
    assert_int_equal(gravrd_design_plot(r1, bad, &err), GRAVRD_ERR_IO);
    free(bad);
    free(json_path);
    free(svg_path);
    testutil_rmdir(dir);
    gravrd_design_free(r1);
    gravrd_design_free(r2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recommend_rule),
        cmocka_unit_test(test_default_study),  cmocka_unit_test(test_names),   cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_matches_direct), cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
