/* test_reference.c - gravrd against fixest 0.12.2 on real data: the
 * Eurostat gravity data shipped with fixest and fixest's own estimates
 * (GRAVRD_REFERENCE_DIR, normally ../shared/data/reference). Estimates must
 * agree to 1e-8 relative, standard errors and fit statistics to 1e-6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "util/json_read.h"

typedef struct {
    gravrd_frame *frame;
    json_t *reference;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    gravrd_error err = {0};
    char path[1024];
    snprintf(path, sizeof path, "%s/eurostat_trade.csv", GRAVRD_REFERENCE_DIR);
    if (gravrd_csv_read(path, NULL, &fx->frame, &err)) {
        fprintf(stderr, "cannot read reference data: %s\n", err.message);
        free(fx);
        return -1;
    }
    snprintf(path, sizeof path, "%s/eurostat_trade_fixest.json", GRAVRD_REFERENCE_DIR);
    if (jr_parse_file(path, &fx->reference, &err)) {
        fprintf(stderr, "cannot read reference results: %s\n", err.message);
        gravrd_frame_free(fx->frame);
        free(fx);
        return -1;
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    if (!fx) /* setup failed (and said why) */
        return 0;
    gravrd_frame_free(fx->frame);
    json_decref(fx->reference);
    free(fx);
    return 0;
}

static const json_t *find_model(const json_t *ref, const char *id)
{
    for (size_t j = 0; j < json_array_size(ref); j++)
        if (!strcmp(jr_str(json_array_get(ref, j), "id"), id))
            return json_array_get(ref, j);
    fail_msg("model %s missing from the reference file", id);
    return NULL;
}

static void assert_close(double got, double want, double rel, const char *what)
{
    double diff = fabs(got - want) / fmax(fabs(want), 1e-300);
    if (!(diff <= rel))
        fail_msg("%s: gravrd %.15g, fixest %.15g (relative difference %.3g > %.0e)", what, got, want, diff, rel);
}

static void check_model(fixture *fx, const char *id, const char *cluster)
{
    const json_t *m = find_model(fx->reference, id);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = cluster;
    opt.keep_singletons = 1; /* fixest's default */
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    gravrd_status st = gravrd_reg(fx->frame, jr_str(m, "formula"), &opt, &res, &err);
    if (st)
        fail_msg("%s: %s", id, err.message);
    assert_int_equal(res->n, 1);
    const gravrd_reg_result *r = &res->results[0];
    assert_int_equal(r->nobs, (size_t)jr_num(m, "nobs"));
    json_t *coef = json_object_get(m, "coef");
    assert_int_equal(r->n_coef, (int)json_object_size(coef));
    /* the coefficients in the order of the file (Jansson keeps it) */
    size_t a = 0;
    const char *name;
    json_t *c;
    json_object_foreach (coef, name, c) {
        assert_string_equal(r->coefs[a].name, name);
        assert_close(r->coefs[a].estimate, jr_num(c, "estimate"), 1e-8, "estimate");
        assert_close(r->coefs[a].se, jr_num(c, "se"), 1e-6, "standard error");
        a++;
    }
    assert_close(r->r2, jr_num(m, "r2"), 1e-6, "R2");
    assert_close(r->adj_r2, jr_num(m, "adj_r2"), 1e-6, "adjusted R2");
    assert_close(r->within_r2, jr_num(m, "within_r2"), 1e-6, "within R2");
    assert_close(r->wald_f, jr_num(m, "wald_f"), 1e-6, "Wald F");
    gravrd_reg_results_free(res);
}

static void test_four_fe_cluster_origin(void **state) { check_model(*state, "ols_4fe_cl_origin", "origin"); }

static void test_four_fe_twoway_cluster(void **state)
{
    check_model(*state, "ols_4fe_cl_twoway", "origin + destination");
}

static void test_interacted_fe_cluster_pair(void **state)
{
    check_model(*state, "ols_interacted_fe_cl_pair", "origin^destination");
}

static void test_thread_count_does_not_change_numbers(void **state)
{
    fixture *fx = *state;
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "origin";
    const char *formula = "c(log(euros), euros) ~ log(dist_km) | origin^year + destination^year + product";
    gravrd_reg_results *one = NULL, *two = NULL;
    gravrd_error err = {0};
    opt.threads = 1;
    assert_int_equal(gravrd_reg(fx->frame, formula, &opt, &one, &err), GRAVRD_OK);
    opt.threads = 2;
    assert_int_equal(gravrd_reg(fx->frame, formula, &opt, &two, &err), GRAVRD_OK);
    assert_int_equal(one->n, 2);
    for (int j = 0; j < 2; j++) {
        assert_true(one->results[j].coefs[0].estimate == two->results[j].coefs[0].estimate);
        assert_true(one->results[j].coefs[0].se == two->results[j].coefs[0].se);
        assert_true(one->results[j].r2 == two->results[j].r2);
    }
    gravrd_reg_results_free(one);
    gravrd_reg_results_free(two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_four_fe_cluster_origin),
        cmocka_unit_test(test_four_fe_twoway_cluster),
        cmocka_unit_test(test_interacted_fe_cluster_pair),
        cmocka_unit_test(test_thread_count_does_not_change_numbers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
