/* test_cli.c - `gravrd reg` end to end: output shapes and the bad-input
 * contract (one-line error naming what and where, exit code 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clirun.h"
#include "support/testutil.h"
#include "util/json.h"

typedef struct {
    char *dir;
    char *panel;  /* a small valid panel */
} fixture;

/* Runs `gravrd reg ARGS`. */
static cli_result run_reg(fixture *fx, const char *args)
{
    size_t len = strlen(args) + 8;
    char *full = malloc(len);
    snprintf(full, len, "reg %s", args);
    cli_result r = cli_run(fx->dir, full);
    free(full);
    return r;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = testutil_tempdir();
    /* 4 exporters x 3 importers x 4 months; x varies within every FE. */
    size_t cap = 1 << 16, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv + len, cap - len, "exp,imp,month,x,trade,one,pair\n");
    int row = 0;
    for (int e = 0; e < 4; e++)
        for (int i = 0; i < 3; i++)
            for (int m = 0; m < 4; m++, row++)
                len += (size_t)snprintf(csv + len, cap - len, "e%d,i%d,2020-%02d,%d,%d,1,%d\n", e, i, m + 1,
                                        (row * 7) % 11, 100 + (row * 37) % 91 + 10 * e, e * 3 + i);
    fx->panel = testutil_write_temp(fx->dir, "panel.csv", csv);
    free(csv);
    *state = fx;
    return fx->panel ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    free(fx->panel);
    testutil_rmdir(fx->dir);
    free(fx);
    return 0;
}

static void expect_success(const cli_result *r)
{
    if (r->status != 0)
        fail_msg("exit %d; stderr: %s", r->status, r->err ? r->err : "(none)");
}

/* The error is one line; a formula syntax error may add the formula and a
 * caret under the position on the two lines after it. */
static void expect_error_lines(fixture *fx, const char *args, const char *must_contain, int max_lines)
{
    size_t len = strlen(args) + 8;
    char *full = malloc(len);
    snprintf(full, len, "reg %s", args);
    cli_expect_error(fx->dir, full, must_contain, max_lines);
    free(full);
}

static void expect_error(fixture *fx, const char *args, const char *must_contain)
{
    expect_error_lines(fx, args, must_contain, 1);
}

/* "FILE REST" (malloc'ed). */
static char *args_for(const char *file, const char *rest)
{
    size_t len = strlen(file) + strlen(rest) + 8;
    char *s = malloc(len);
    snprintf(s, len, "%s %s", file, rest);
    return s;
}

/* Runs `gravrd reg PANEL REST`, which must succeed, and parses its JSON
 * output (caller frees). */
static json_value *reg_json(fixture *fx, const char *rest)
{
    char *args = args_for(fx->panel, rest);
    cli_result r = run_reg(fx, args);
    free(args);
    expect_success(&r);
    json_value *v = NULL;
    gravrd_error err = {0};
    if (json_parse(r.out, &v, &err))
        fail_msg("output is not JSON: %s", err.message);
    cli_result_free(&r);
    return v;
}

static void test_json_shape(void **state)
{
    fixture *fx = *state;
    json_value *v = reg_json(fx, "'log(trade) ~ x | exp^month + imp' --cluster pair --format json");
    assert_int_equal(v->type, JSON_OBJECT);
    static const char *keys[] = {"model", "outcome", "sample", "formula", "nobs", "dropped", "fixed_effects", "vcov",
                                 "coefficients", "r2", "adj_r2", "within_r2", "rmse", "wald_f", "solver", "iterations",
                                 "seconds"};
    assert_int_equal(v->n, sizeof keys / sizeof keys[0]);
    for (size_t j = 0; j < v->n; j++)
        assert_string_equal(v->keys[j], keys[j]);
    assert_string_equal(json_get_string(v, "model"), "ols");
    assert_string_equal(json_get_string(v, "outcome"), "log(trade)");
    assert_string_equal(json_get_string(v, "sample"), "all");
    assert_string_equal(json_get_string(v, "vcov"), "cluster: pair");
    assert_true(json_get_number(v, "nobs") == 48);
    const json_value *fe = json_get(v, "fixed_effects");
    assert_int_equal(fe->n, 2);
    assert_string_equal(fe->keys[0], "exp^month");
    assert_true(fe->items[0]->number == 16);
    assert_true(fe->items[1]->number == 3);
    const json_value *dropped = json_get(v, "dropped");
    assert_string_equal(dropped->keys[0], "missing");
    assert_string_equal(dropped->keys[1], "singletons");
    const json_value *coefs = json_get(v, "coefficients");
    assert_int_equal(coefs->n, 1);
    static const char *ckeys[] = {"name", "estimate", "se", "t", "p"};
    for (size_t j = 0; j < 5; j++)
        assert_string_equal(coefs->items[0]->keys[j], ckeys[j]);
    double est = json_get_number(coefs->items[0], "estimate"), se = json_get_number(coefs->items[0], "se");
    assert_true(se > 0);
    assert_true(fabs(json_get_number(coefs->items[0], "t") - est / se) < 1e-9 * fabs(est / se));
    json_free(v);
}

static void test_json_array_for_several_outcomes_and_split(void **state)
{
    fixture *fx = *state;
    json_value *v = reg_json(fx, "'c(trade, log(trade)) ~ x | imp' --split exp --format json");
    assert_int_equal(v->type, JSON_ARRAY);
    assert_int_equal(v->n, 8); /* 4 exporters x 2 outcomes */
    assert_string_equal(json_get_string(v->items[0], "sample"), "exp=e0");
    assert_string_equal(json_get_string(v->items[1], "outcome"), "log(trade)");
    assert_true(json_get_number(v->items[7], "nobs") == 12);
    json_free(v);
}

static void test_text_and_tables(void **state)
{
    fixture *fx = *state;
    const char *formats[] = {"text", "csv", "md", "tex"};
    const char *marker[] = {"Std. Error", "outcome,sample,term", "| x |", "\\toprule"};
    for (int f = 0; f < 4; f++) {
        char rest[256];
        snprintf(rest, sizeof rest, "'trade ~ x | exp + imp' --vcov hetero --format %s", formats[f]);
        char *args = args_for(fx->panel, rest);
        cli_result r = run_reg(fx, args);
        free(args);
        expect_success(&r);
        if (!strstr(r.out, marker[f]))
            fail_msg("format %s lacks '%s':\n%s", formats[f], marker[f], r.out);
        cli_result_free(&r);
    }
}

static void test_missing_values_warn_or_fail_under_strict(void **state)
{
    fixture *fx = *state;
    char *file = testutil_write_temp(fx->dir, "zeros.csv", "g,x,y\na,1,0\na,2,3\nb,3,5\nb,4,2\nb,1,4\na,5,\n");
    char *args = args_for(file, "'log(y) ~ x | g'");
    cli_result r = run_reg(fx, args);
    expect_success(&r);
    assert_non_null(strstr(r.err, "2 observations removed"));
    cli_result_free(&r);
    free(args);
    args = args_for(file, "'log(y) ~ x | g' --strict");
    expect_error(fx, args, "log(y)");
    free(args);
    free(file);
}

/* `gravrd reg PANEL REST` fails with one line containing must_contain. */
static void expect_panel_error(fixture *fx, const char *rest, const char *must_contain)
{
    char *args = args_for(fx->panel, rest);
    expect_error(fx, args, must_contain);
    free(args);
}

static void test_bad_inputs(void **state)
{
    fixture *fx = *state;
    char *args;
    expect_error(fx, "/nonexistent/flows.csv 'y ~ x'", "/nonexistent/flows.csv");

    char *ragged = testutil_write_temp(fx->dir, "ragged.csv", "a,b\n1,2\n3\n");
    args = args_for(ragged, "'a ~ b'");
    expect_error(fx, args, "ragged.csv:3");
    free(args);
    free(ragged);

    char *text = testutil_write_temp(fx->dir, "text.csv", "y,x\n1,2\n2,3\n3,abc\n4,5\n");
    args = args_for(text, "'y ~ x'");
    expect_error(fx, args, "data row 3");
    free(args);
    free(text);

    expect_panel_error(fx, "'trade ~ zz | exp'", "unknown variable 'zz'");
    expect_panel_error(fx, "'trade ~ x | exp' --cluster nope", "unknown variable 'nope'");
    args = args_for(fx->panel, "'trade ~ x + | exp'");
    expect_error_lines(fx, args, "position", 3);
    free(args);
    expect_panel_error(fx, "'trade ~ x | exp' --cluster one", "only one level");
    expect_panel_error(fx, "'trade ~ x | exp' --subset 'x > 100'", "no rows left after --subset");
    expect_panel_error(fx, "'trade ~ one | exp'", "collinear with the fixed effects");
    expect_panel_error(fx, "'trade ~ x' --frobnicate", "unknown option '--frobnicate'");
    expect_panel_error(fx, "'trade ~ x' --format xml", "--format must be one of text, json, csv, md, tex, not 'xml'");
    expect_panel_error(fx, "'trade ~ x' --solver fast", "--solver must be auto or general, not 'fast'");
}

/* --solver: the balanced panel with a pair-level regressor goes through the
 * collapse by default and through the general demeaning with --solver
 * general, with the same numbers. */
static double solver_estimate(fixture *fx, const char *solver, char *solver_out, size_t cap)
{
    char rest[256];
    snprintf(rest, sizeof rest,
             "'log(trade) ~ I(pair^2) | exp^month + imp^month' --cluster pair --tol 1e-14 --format json --solver %s",
             solver);
    json_value *v = reg_json(fx, rest);
    snprintf(solver_out, cap, "%s", json_get_string(v, "solver"));
    const json_value *coefs = json_get(v, "coefficients");
    double b = json_get_number(coefs->items[0], "estimate");
    json_free(v);
    return b;
}

static void test_solver_option(void **state)
{
    fixture *fx = *state;
    char a[32], g[32];
    double ba = solver_estimate(fx, "auto", a, sizeof a), bg = solver_estimate(fx, "general", g, sizeof g);
    assert_string_equal(a, "collapse");
    assert_string_equal(g, "general");
    assert_true(fabs(ba - bg) <= 1e-10 * fabs(bg));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_solver_option),
        cmocka_unit_test(test_json_array_for_several_outcomes_and_split),
        cmocka_unit_test(test_text_and_tables),
        cmocka_unit_test(test_missing_values_warn_or_fail_under_strict),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
