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
#include <sys/wait.h>

#include "support/testutil.h"
#include "util/json.h"

typedef struct {
    char *dir;
    char *panel;  /* a small valid panel */
} fixture;

typedef struct {
    int status;
    char *out;
    char *err;
} run_result;

static void run_free(run_result *r)
{
    free(r->out);
    free(r->err);
}

/* Runs `gravrd ARGS` (ARGS already shell-quoted), capturing both streams. */
static run_result run_cli(fixture *fx, const char *args)
{
    run_result r = {0};
    char *out_path = testutil_path(fx->dir, "stdout.txt"), *err_path = testutil_path(fx->dir, "stderr.txt");
    size_t len = strlen(args) + strlen(out_path) + strlen(err_path) + strlen(GRAVRD_CLI_PATH) + 32;
    char *cmd = malloc(len);
    snprintf(cmd, len, "%s reg %s >%s 2>%s", GRAVRD_CLI_PATH, args, out_path, err_path);
    int st = system(cmd);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = testutil_read_file(out_path, NULL);
    r.err = testutil_read_file(err_path, NULL);
    free(cmd);
    free(out_path);
    free(err_path);
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

static void expect_success(const run_result *r)
{
    if (r->status != 0)
        fail_msg("exit %d; stderr: %s", r->status, r->err ? r->err : "(none)");
}

/* The error is one line; a formula syntax error may add the formula and a
 * caret under the position on the two lines after it. */
static void expect_error_lines(fixture *fx, const char *args, const char *must_contain, int max_lines)
{
    run_result r = run_cli(fx, args);
    if (r.status != 2)
        fail_msg("gravrd %s: exit %d, wanted 2; stderr: %s", args, r.status, r.err ? r.err : "");
    if (!r.err || !strstr(r.err, must_contain))
        fail_msg("gravrd %s: stderr lacks '%s': %s", args, must_contain, r.err ? r.err : "(none)");
    int lines = 0;
    for (const char *c = r.err; *c; c++)
        lines += *c == '\n';
    if (lines > max_lines)
        fail_msg("gravrd %s: %d lines of error output, wanted at most %d:\n%s", args, lines, max_lines, r.err);
    assert_true(r.out == NULL || r.out[0] == '\0');
    run_free(&r);
}

static char *args_for(fixture *fx, const char *file, const char *rest)
{
    size_t len = strlen(file) + strlen(rest) + 8;
    char *s = malloc(len);
    snprintf(s, len, "%s %s", file, rest);
    (void)fx;
    return s;
}

static void expect_error(fixture *fx, const char *args, const char *must_contain)
{
    expect_error_lines(fx, args, must_contain, 1);
}

static void test_json_shape(void **state)
{
    fixture *fx = *state;
    char *args = args_for(fx, fx->panel, "'log(trade) ~ x | exp^month + imp' --cluster pair --format json");
    run_result r = run_cli(fx, args);
    free(args);
    expect_success(&r);
    json_value *v = NULL;
    gravrd_error err = {0};
    assert_int_equal(json_parse(r.out, &v, &err), GRAVRD_OK);
    assert_int_equal(v->type, JSON_OBJECT);
    static const char *keys[] = {"model", "outcome", "sample", "formula", "nobs", "dropped", "fixed_effects", "vcov",
                                 "coefficients", "r2", "adj_r2", "within_r2", "rmse", "wald_f", "iterations",
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
    run_free(&r);
}

static void test_json_array_for_several_outcomes_and_split(void **state)
{
    fixture *fx = *state;
    char *args = args_for(fx, fx->panel, "'c(trade, log(trade)) ~ x | imp' --split exp --format json");
    run_result r = run_cli(fx, args);
    free(args);
    expect_success(&r);
    json_value *v = NULL;
    assert_int_equal(json_parse(r.out, &v, NULL), GRAVRD_OK);
    assert_int_equal(v->type, JSON_ARRAY);
    assert_int_equal(v->n, 8); /* 4 exporters x 2 outcomes */
    assert_string_equal(json_get_string(v->items[0], "sample"), "exp=e0");
    assert_string_equal(json_get_string(v->items[1], "outcome"), "log(trade)");
    assert_true(json_get_number(v->items[7], "nobs") == 12);
    json_free(v);
    run_free(&r);
}

static void test_text_and_tables(void **state)
{
    fixture *fx = *state;
    const char *formats[] = {"text", "csv", "md", "tex"};
    const char *marker[] = {"Std. Error", "outcome,sample,term", "| x |", "\\toprule"};
    for (int f = 0; f < 4; f++) {
        char rest[256];
        snprintf(rest, sizeof rest, "'trade ~ x | exp + imp' --vcov hetero --format %s", formats[f]);
        char *args = args_for(fx, fx->panel, rest);
        run_result r = run_cli(fx, args);
        free(args);
        expect_success(&r);
        if (!strstr(r.out, marker[f]))
            fail_msg("format %s lacks '%s':\n%s", formats[f], marker[f], r.out);
        run_free(&r);
    }
}

static void test_missing_values_warn_or_fail_under_strict(void **state)
{
    fixture *fx = *state;
    char *file = testutil_write_temp(fx->dir, "zeros.csv", "g,x,y\na,1,0\na,2,3\nb,3,5\nb,4,2\nb,1,4\na,5,\n");
    char *args = args_for(fx, file, "'log(y) ~ x | g'");
    run_result r = run_cli(fx, args);
    expect_success(&r);
    assert_non_null(strstr(r.err, "2 observations removed"));
    run_free(&r);
    free(args);
    args = args_for(fx, file, "'log(y) ~ x | g' --strict");
    expect_error(fx, args, "log(y)");
    free(args);
    free(file);
}

static void test_bad_inputs(void **state)
{
    fixture *fx = *state;
    char *args;
    expect_error(fx, "/nonexistent/flows.csv 'y ~ x'", "/nonexistent/flows.csv");

    char *ragged = testutil_write_temp(fx->dir, "ragged.csv", "a,b\n1,2\n3\n");
    args = args_for(fx, ragged, "'a ~ b'");
    expect_error(fx, args, "ragged.csv:3");
    free(args);
    free(ragged);

    char *text = testutil_write_temp(fx->dir, "text.csv", "y,x\n1,2\n2,3\n3,abc\n4,5\n");
    args = args_for(fx, text, "'y ~ x'");
    expect_error(fx, args, "data row 3");
    free(args);
    free(text);

    args = args_for(fx, fx->panel, "'trade ~ zz | exp'");
    expect_error(fx, args, "unknown variable 'zz'");
    free(args);
    args = args_for(fx, fx->panel, "'trade ~ x | exp' --cluster nope");
    expect_error(fx, args, "unknown variable 'nope'");
    free(args);
    args = args_for(fx, fx->panel, "'trade ~ x + | exp'");
    expect_error_lines(fx, args, "position", 3);
    free(args);
    args = args_for(fx, fx->panel, "'trade ~ x | exp' --cluster one");
    expect_error(fx, args, "only one level");
    free(args);
    args = args_for(fx, fx->panel, "'trade ~ x | exp' --subset 'x > 100'");
    expect_error(fx, args, "no rows left after --subset");
    free(args);
    args = args_for(fx, fx->panel, "'trade ~ one | exp'");
    expect_error(fx, args, "collinear with the fixed effects");
    free(args);
    args = args_for(fx, fx->panel, "'trade ~ x' --frobnicate");
    expect_error(fx, args, "unknown option '--frobnicate'");
    free(args);
    args = args_for(fx, fx->panel, "'trade ~ x' --format xml");
    expect_error(fx, args, "unknown format 'xml'");
    free(args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_json_array_for_several_outcomes_and_split),
        cmocka_unit_test(test_text_and_tables),
        cmocka_unit_test(test_missing_values_warn_or_fail_under_strict),
        cmocka_unit_test(test_bad_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
