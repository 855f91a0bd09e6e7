/* test_eval.c - gravrd_expr_eval on in-memory frames: arithmetic, the
 * built-in functions, missing values and R's NA logic, factor comparisons,
 * error messages and functions supplied through env->call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gravrd/data.h"
#include "gravrd/formula.h"

#define N 6

static double *dvec(const double *v, size_t n)
{
    double *d = malloc(n * sizeof *d);
    memcpy(d, v, n * sizeof *d);
    return d;
}

static void add_factor(gravrd_frame *fr, const char *name, const char *const *levels, int n_levels,
                       const int32_t *codes)
{
    char **lv = malloc((size_t)n_levels * sizeof *lv);
    for (int i = 0; i < n_levels; i++) lv[i] = strdup(levels[i]);
    int32_t *c = malloc(fr->n_rows * sizeof *c);
    memcpy(c, codes, fr->n_rows * sizeof *c);
    gravrd_error err = {0};
    assert_int_equal(gravrd_frame_add_factor(fr, name, c, lv, n_levels, &err), GRAVRD_OK);
}

/* x  = 1, 2, NA, 4, 0, -1
 * y  = 2, 0, 1, NA, 0, 4
 * month = 2020-01, 2020-02, 2020-03, NA, 2020-01, 2020-02
 * origin = DE, FR, DE, DE, NA, IT  */
static gravrd_frame *make_frame(void)
{
    gravrd_frame *fr = gravrd_frame_new(N, "");
    assert_non_null(fr);
    gravrd_error err = {0};
    const double x[N] = {1, 2, NAN, 4, 0, -1};
    const double y[N] = {2, 0, 1, NAN, 0, 4};
    assert_int_equal(gravrd_frame_add_numeric(fr, "x", dvec(x, N), &err), GRAVRD_OK);
    assert_int_equal(gravrd_frame_add_numeric(fr, "y", dvec(y, N), &err), GRAVRD_OK);
    static const char *const months[] = {"2020-01", "2020-02", "2020-03"};
    const int32_t mc[N] = {0, 1, 2, -1, 0, 1};
    add_factor(fr, "month", months, 3, mc);
    static const char *const countries[] = {"DE", "FR", "IT"};
    const int32_t oc[N] = {0, 1, 0, 0, -1, 2};
    add_factor(fr, "origin", countries, 3, oc);
    static const char *const dest_levels[] = {"DE", "ES", "FR"};
    const int32_t dc[N] = {0, 0, 2, 1, 0, -1};
    add_factor(fr, "destination", dest_levels, 3, dc);
    return fr;
}

/* NaN-aware equality to 1e-14 relative; expected given as an N vector. */
static void check_values(const char *text, const double *got, const double *expected)
{
    for (int i = 0; i < N; i++) {
        double g = got[i], e = expected[i];
        int ok = (isnan(e) && isnan(g)) || (isinf(e) && g == e) ||
                 (isfinite(e) && fabs(g - e) <= 1e-14 * fmax(1.0, fabs(e)));
        if (!ok) fail_msg("\"%s\" row %d: got %.17g, expected %.17g", text, i, g, e);
    }
}

static void eval_expect_env(const gravrd_frame *fr, const gravrd_eval_env *env, const char *text,
                            const double *expected)
{
    gravrd_expr *e = NULL;
    gravrd_error err = {0};
    if (gravrd_expr_parse(text, &e, &err) != GRAVRD_OK) fail_msg("parse \"%s\": %s", text, err.message);
    double out[N];
    (void)fr;
    if (gravrd_expr_eval(e, env, out, &err) != GRAVRD_OK) fail_msg("eval \"%s\": %s", text, err.message);
    check_values(text, out, expected);
    gravrd_expr_free(e);
}

static void eval_expect(const gravrd_frame *fr, const char *text, const double *expected)
{
    gravrd_eval_env env = {fr, NULL, NULL};
    eval_expect_env(fr, &env, text, expected);
}

/* Evaluation must fail with `code` and exactly `message`. */
static void eval_fails(const gravrd_frame *fr, const gravrd_eval_env *env, const char *text, gravrd_status code,
                       const char *message)
{
    gravrd_eval_env plain = {fr, NULL, NULL};
    gravrd_expr *e = NULL;
    gravrd_error err = {0};
    if (gravrd_expr_parse(text, &e, &err) != GRAVRD_OK) fail_msg("parse \"%s\": %s", text, err.message);
    double out[N];
    gravrd_status st = gravrd_expr_eval(e, env ? env : &plain, out, &err);
    if (st != code) fail_msg("\"%s\": status %d (%s), expected %d", text, st, err.message, code);
    assert_int_equal(err.code, code);
    if (strcmp(err.message, message) != 0) fail_msg("\"%s\": message \"%s\", expected \"%s\"", text, err.message, message);
    gravrd_expr_free(e);
}

static int setup(void **state)
{
    *state = make_frame();
    return 0;
}

static int teardown(void **state)
{
    gravrd_frame_free(*state);
    return 0;
}

#define NA NAN

static void test_arithmetic(void **state)
{
    const gravrd_frame *fr = *state;
    eval_expect(fr, "x", (double[]){1, 2, NA, 4, 0, -1});
    eval_expect(fr, "x + y", (double[]){3, 2, NA, NA, 0, 3});
    eval_expect(fr, "x - y", (double[]){-1, 2, NA, NA, 0, -5});
    eval_expect(fr, "x * 2", (double[]){2, 4, NA, 8, 0, -2});
    eval_expect(fr, "2 * x", (double[]){2, 4, NA, 8, 0, -2});
    eval_expect(fr, "-x", (double[]){-1, -2, NA, -4, -0.0, 1});
    eval_expect(fr, "x^2", (double[]){1, 4, NA, 16, 0, 1});
    eval_expect(fr, "2^x", (double[]){2, 4, NA, 16, 1, 0.5});
    eval_expect(fr, "-x^2", (double[]){-1, -4, NA, -16, -0.0, -1});
    eval_expect(fr, "x^0", (double[]){1, 1, 1, 1, 1, 1}); /* R: NA^0 is 1 */
    eval_expect(fr, "1^x", (double[]){1, 1, 1, 1, 1, 1}); /* R: 1^NA is 1 */
    /* division by zero follows IEEE: +-Inf, and 0/0 is NaN */
    eval_expect(fr, "x / y", (double[]){0.5, INFINITY, NA, NA, NA, -0.25});
    eval_expect(fr, "-1 / y", (double[]){-0.5, -INFINITY, -1, NA, -INFINITY, -0.25});
    eval_expect(fr, "(x + 1) * (y - 1) / 2", (double[]){1, -1.5, NA, NA, -0.5, 0});
    eval_expect(fr, "1 + 2 * 3", (double[]){7, 7, 7, 7, 7, 7});
    eval_expect(fr, "x + y * 10 - 1", (double[]){20, 1, NA, NA, -1, 38});
}

static void test_functions(void **state)
{
    const gravrd_frame *fr = *state;
    eval_expect(fr, "log(x)", (double[]){0, log(2), NA, log(4), -INFINITY, NA});
    eval_expect(fr, "log1p(x)", (double[]){log(2), log(3), NA, log(5), 0, -INFINITY});
    eval_expect(fr, "exp(x)", (double[]){exp(1), exp(2), NA, exp(4), 1, exp(-1)});
    eval_expect(fr, "sqrt(x)", (double[]){1, sqrt(2), NA, 2, 0, NA});
    eval_expect(fr, "abs(x)", (double[]){1, 2, NA, 4, 0, 1});
    eval_expect(fr, "I(x)", (double[]){1, 2, NA, 4, 0, -1});
    eval_expect(fr, "I(x^2)", (double[]){1, 4, NA, 16, 0, 1});
    eval_expect(fr, "log(x + y)", (double[]){log(3), log(2), NA, NA, -INFINITY, log(3)});
    eval_expect(fr, "exp(log(abs(x)))", (double[]){1, 2, NA, 4, 0, 1});
    eval_expect(fr, "((x))", (double[]){1, 2, NA, 4, 0, -1});
}

/* Which expressions depend on the env (the input cache keys on it only then). */
static void test_uses_env(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int uses;
    } cases[] = {{"log1p(x) + I(y^2)", 0}, {"(x > 1) & abs(y) < 2", 0}, {"above_median(x)", 1},
                 {"log(1 + below_median(x))", 1}, {"x * z", 0}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        gravrd_expr *e = NULL;
        gravrd_error err = {0};
        if (gravrd_expr_parse(cases[k].text, &e, &err) != GRAVRD_OK)
            fail_msg("parse \"%s\": %s", cases[k].text, err.message);
        if (gravrd_expr_uses_env(e) != cases[k].uses)
            fail_msg("\"%s\": uses_env %d, expected %d", cases[k].text, !cases[k].uses, cases[k].uses);
        gravrd_expr_free(e);
    }
}

static void test_comparisons_and_logic(void **state)
{
    const gravrd_frame *fr = *state;
    eval_expect(fr, "x > 1", (double[]){0, 1, NA, 1, 0, 0});
    eval_expect(fr, "x >= 1", (double[]){1, 1, NA, 1, 0, 0});
    eval_expect(fr, "x < y", (double[]){1, 0, NA, NA, 0, 1});
    eval_expect(fr, "x <= 0", (double[]){0, 0, NA, 0, 1, 1});
    eval_expect(fr, "x == 4", (double[]){0, 0, NA, 1, 0, 0});
    eval_expect(fr, "x != 4", (double[]){1, 1, NA, 0, 1, 1});
    eval_expect(fr, "!x", (double[]){0, 0, NA, 0, 1, 0});
    eval_expect(fr, "!(x > 1)", (double[]){1, 0, NA, 0, 1, 1});
    eval_expect(fr, "!x == 4", (double[]){1, 1, NA, 0, 1, 1});
    /* logical values are numbers: TRUE + TRUE */
    eval_expect(fr, "(x > 0) + (y > 0)", (double[]){2, 1, NA, NA, 0, 1});
}

/* R's three-valued & and |: all nine combinations of TRUE, FALSE, NA. */
static void test_na_logic(void **state)
{
    (void)state;
    const double a[9] = {1, 1, 1, 0, 0, 0, NA, NA, NA};
    const double b[9] = {1, 0, NA, 1, 0, NA, 1, 0, NA};
    const double and_r[9] = {1, 0, NA, 0, 0, 0, NA, 0, NA};
    const double or_r[9] = {1, 1, 1, 1, 0, NA, 1, NA, NA};
    gravrd_frame *fr = gravrd_frame_new(9, "");
    gravrd_error err = {0};
    assert_int_equal(gravrd_frame_add_numeric(fr, "a", dvec(a, 9), &err), GRAVRD_OK);
    assert_int_equal(gravrd_frame_add_numeric(fr, "b", dvec(b, 9), &err), GRAVRD_OK);
    gravrd_eval_env env = {fr, NULL, NULL};
    static const char *const texts[] = {"a & b", "a | b", "b & a", "b | a", "(a * 5) & (b * -2)"};
    const double *expected[] = {and_r, or_r, and_r, or_r, and_r};
    for (int t = 0; t < 5; t++) {
        gravrd_expr *e = NULL;
        assert_int_equal(gravrd_expr_parse(texts[t], &e, &err), GRAVRD_OK);
        double out[9];
        assert_int_equal(gravrd_expr_eval(e, &env, out, &err), GRAVRD_OK);
        for (int i = 0; i < 9; i++) {
            if (isnan(expected[t][i])) {
                if (!isnan(out[i])) fail_msg("%s row %d: %g, expected NA", texts[t], i, out[i]);
            } else if (out[i] != expected[t][i]) {
                fail_msg("%s row %d: %g, expected %g", texts[t], i, out[i], expected[t][i]);
            }
        }
        gravrd_expr_free(e);
    }
    gravrd_frame_free(fr);
}

static void test_factor_comparisons(void **state)
{
    const gravrd_frame *fr = *state;
    eval_expect(fr, "month == \"2020-01\"", (double[]){1, 0, 0, NA, 1, 0});
    eval_expect(fr, "\"2020-01\" == month", (double[]){1, 0, 0, NA, 1, 0});
    eval_expect(fr, "month != '2020-01'", (double[]){0, 1, 1, NA, 0, 1});
    eval_expect(fr, "month < \"2020-02\"", (double[]){1, 0, 0, NA, 1, 0});
    eval_expect(fr, "month >= \"2020-02\"", (double[]){0, 1, 1, NA, 0, 1});
    eval_expect(fr, "\"2020-02\" > month", (double[]){1, 0, 0, NA, 1, 0});
    eval_expect(fr, "\"2020-02\" <= month", (double[]){0, 1, 1, NA, 0, 1});
    eval_expect(fr, "(month) == \"2020-03\"", (double[]){0, 0, 1, NA, 0, 0});
    eval_expect(fr, "month == \"2019-12\"", (double[]){0, 0, 0, NA, 0, 0});
    /* two factor columns with different level tables compare by text */
    eval_expect(fr, "origin == destination", (double[]){1, 0, 0, 0, NA, NA});
    eval_expect(fr, "origin < destination", (double[]){0, 0, 1, 1, NA, NA});
    eval_expect(fr, "\"a\" < \"b\"", (double[]){1, 1, 1, 1, 1, 1});
    /* combined as in a --subset */
    eval_expect(fr, "x > 0 & month == \"2020-02\"", (double[]){0, 1, 0, NA, 0, 0}); /* NA & FALSE */
    eval_expect(fr, "origin == \"DE\" | x < 0", (double[]){1, 0, 1, 1, NA, 1});
    eval_expect(fr, "!(origin == \"DE\")", (double[]){0, 1, 0, 0, NA, 1});
}

static void test_errors(void **state)
{
    const gravrd_frame *fr = *state;
    const char *month_msg = "variable 'month' is text; compare it with a string, e.g. month == \"2020-01\"";
    eval_fails(fr, NULL, "month + 1", GRAVRD_ERR_INVALID, month_msg);
    eval_fails(fr, NULL, "log(month)", GRAVRD_ERR_INVALID, month_msg);
    eval_fails(fr, NULL, "month == 1", GRAVRD_ERR_INVALID, month_msg);
    eval_fails(fr, NULL, "1 < month", GRAVRD_ERR_INVALID, month_msg);
    eval_fails(fr, NULL, "month", GRAVRD_ERR_INVALID, month_msg);
    eval_fails(fr, NULL, "log(xx)", GRAVRD_ERR_INVALID, "unknown variable 'xx' at position 4");
    eval_fails(fr, NULL, "x + `my col`", GRAVRD_ERR_INVALID, "unknown variable 'my col' at position 4");
    eval_fails(fr, NULL, "zz == \"a\"", GRAVRD_ERR_INVALID, "unknown variable 'zz' at position 0");
    eval_fails(fr, NULL, "foo(x)", GRAVRD_ERR_INVALID, "unknown function 'foo' at position 0");
    eval_fails(fr, NULL, "x + bar(x, 2)", GRAVRD_ERR_INVALID, "unknown function 'bar' at position 4");
    eval_fails(fr, NULL, "x == \"a\"", GRAVRD_ERR_INVALID,
               "variable 'x' is numeric; compare it with a number, not with \"a\" (position 5)");
    eval_fails(fr, NULL, "x + 1 == \"a\"", GRAVRD_ERR_INVALID,
               "cannot compare a number with the text \"a\" at position 6");
    eval_fails(fr, NULL, "\"a\" + 1", GRAVRD_ERR_INVALID,
               "the text \"a\" at position 0 can only be compared with a text variable");
    eval_fails(fr, NULL, "log(x, 2)", GRAVRD_ERR_INVALID, "log() takes one argument, got 2 (position 0)");
    eval_fails(fr, NULL, "I()", GRAVRD_ERR_INVALID, "I() takes one argument, got 0 (position 0)");

    gravrd_error err = {0};
    double out[N];
    gravrd_eval_env env = {fr, NULL, NULL};
    assert_int_equal(gravrd_expr_eval(NULL, &env, out, &err), GRAVRD_ERR_INVALID);
    gravrd_expr *e = NULL;
    assert_int_equal(gravrd_expr_parse("x", &e, &err), GRAVRD_OK);
    gravrd_eval_env no_frame = {NULL, NULL, NULL};
    assert_int_equal(gravrd_expr_eval(e, &no_frame, out, &err), GRAVRD_ERR_INVALID);
    gravrd_expr_free(e);
}

/* A study-frame style function: above(v, threshold) = v > threshold, with
 * a call counter in env->user; label("DE") reads its text argument from the
 * expression, since text has no numeric vector. */
typedef struct {
    int calls;
} call_log;

static gravrd_status my_call(const gravrd_eval_env *env, const char *name, const double *const *args_N,
                             int n_args, const gravrd_expr *call, double *out_N, gravrd_error *err)
{
    call_log *log_ = env->user;
    log_->calls++;
    size_t n = env->frame->n_rows;
    if (!strcmp(name, "above")) {
        if (n_args != 2 || !args_N[0] || !args_N[1])
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "above() takes two numbers");
        for (size_t i = 0; i < n; i++)
            out_N[i] = isnan(args_N[0][i]) || isnan(args_N[1][i]) ? NAN : (double)(args_N[0][i] > args_N[1][i]);
        return GRAVRD_OK;
    }
    if (!strcmp(name, "label_len")) {
        if (n_args != 1 || args_N[0] != NULL || call->args[0]->kind != GRAVRD_EXPR_STRING)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "label_len() takes a string");
        for (size_t i = 0; i < n; i++) out_N[i] = (double)strlen(call->args[0]->name);
        return GRAVRD_OK;
    }
    if (!strcmp(name, "is_missing")) {
        /* a bare factor column arrives as NULL too */
        const gravrd_column *col = gravrd_frame_find(env->frame, call->args[0]->name);
        if (args_N[0] == NULL && col && col->type == GRAVRD_COL_FACTOR) {
            for (size_t i = 0; i < n; i++) out_N[i] = col->codes_N[i] < 0;
        } else {
            for (size_t i = 0; i < n; i++) out_N[i] = isnan(args_N[0][i]);
        }
        return GRAVRD_OK;
    }
    if (!strcmp(name, "silent_fail")) return GRAVRD_ERR_DATA;
    return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown function '%s' at position %d", name, call->pos);
}

static void test_custom_functions(void **state)
{
    const gravrd_frame *fr = *state;
    call_log lg = {0};
    gravrd_eval_env env = {fr, my_call, &lg};
    eval_expect_env(fr, &env, "above(x, 1.5)", (double[]){0, 1, NA, 1, 0, 0});
    eval_expect_env(fr, &env, "above(x, y) + 1", (double[]){1, 2, NA, NA, 1, 1});
    eval_expect_env(fr, &env, "label_len(\"DE\") * x", (double[]){2, 4, NA, 8, 0, -2});
    eval_expect_env(fr, &env, "is_missing(month)", (double[]){0, 0, 0, 1, 0, 0});
    eval_expect_env(fr, &env, "is_missing(x)", (double[]){0, 0, 1, 0, 0, 0});
    /* built-ins take precedence over env->call */
    eval_expect_env(fr, &env, "log(exp(x))", (double[]){1, 2, NA, 4, 0, -1});
    assert_int_equal(lg.calls, 5);
    eval_fails(fr, &env, "nope(x)", GRAVRD_ERR_INVALID, "unknown function 'nope' at position 0");
    eval_fails(fr, &env, "1 + above(x)", GRAVRD_ERR_INVALID, "above() takes two numbers");
    eval_fails(fr, &env, "silent_fail(x)", GRAVRD_ERR_DATA, "function 'silent_fail' at position 0 failed");
    /* an argument's own error stops before the call */
    lg.calls = 0;
    eval_fails(fr, &env, "above(month + 1, 1)", GRAVRD_ERR_INVALID,
               "variable 'month' is text; compare it with a string, e.g. month == \"2020-01\"");
    eval_fails(fr, &env, "above(qq, 1)", GRAVRD_ERR_INVALID, "unknown variable 'qq' at position 6");
    assert_int_equal(lg.calls, 0);
}

static void test_formula_terms_eval(void **state)
{
    const gravrd_frame *fr = *state;
    gravrd_formula *f = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_formula_parse("c(x, log(y)) ~ I(x * y) + log1p(y):x | month", &f, &err), GRAVRD_OK);
    gravrd_eval_env env = {fr, NULL, NULL};
    double out[N];
    assert_int_equal(gravrd_expr_eval(f->outcomes[1], &env, out, &err), GRAVRD_OK);
    check_values("log(y)", out, (double[]){log(2), -INFINITY, 0, NA, -INFINITY, log(4)});
    assert_int_equal(gravrd_expr_eval(f->terms[0].factors[0], &env, out, &err), GRAVRD_OK);
    check_values("I(x * y)", out, (double[]){2, 0, NA, NA, 0, -4});
    assert_string_equal(f->terms[1].name, "log1p(y):x");
    assert_int_equal(gravrd_expr_eval(f->terms[1].factors[0], &env, out, &err), GRAVRD_OK);
    check_values("log1p(y)", out, (double[]){log(3), 0, log(2), NA, 0, log(5)});

    char **names = NULL;
    size_t n = 0;
    for (int t = 0; t < f->n_terms; t++)
        for (int k = 0; k < f->terms[t].n_factors; k++)
            assert_int_equal(gravrd_expr_variables(f->terms[t].factors[k], &names, &n, &err), GRAVRD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "x");
    assert_string_equal(names[1], "y");
    gravrd_strings_free(names, n);
    gravrd_formula_free(f);
}

static void test_zero_rows(void **state)
{
    (void)state;
    gravrd_frame *fr = gravrd_frame_new(0, "");
    gravrd_error err = {0};
    assert_int_equal(gravrd_frame_add_numeric(fr, "x", NULL, &err), GRAVRD_OK);
    gravrd_eval_env env = {fr, NULL, NULL};
    gravrd_expr *e = NULL;
    assert_int_equal(gravrd_expr_parse("log(x) + 1 > 2 & x", &e, &err), GRAVRD_OK);
    double dummy = 0;
    assert_int_equal(gravrd_expr_eval(e, &env, &dummy, &err), GRAVRD_OK);
    gravrd_expr_free(e);
    gravrd_frame_free(fr);
}

/* 1M rows: column-at-a-time evaluation keeps this in the milliseconds. The
 * bound is loose (sanitizer builds are slow); the point is no per-row tree
 * walk, which would be orders of magnitude slower. */
static void test_large(void **state)
{
    (void)state;
    const size_t n = 1000000;
    gravrd_frame *fr = gravrd_frame_new(n, "");
    double *trade = malloc(n * sizeof *trade);
    for (size_t i = 0; i < n; i++) trade[i] = (double)(i % 1000);
    gravrd_error err = {0};
    assert_int_equal(gravrd_frame_add_numeric(fr, "trade", trade, &err), GRAVRD_OK);
    gravrd_eval_env env = {fr, NULL, NULL};
    gravrd_expr *e = NULL;
    assert_int_equal(gravrd_expr_parse("log1p(trade)", &e, &err), GRAVRD_OK);
    double *out = malloc(n * sizeof *out);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(gravrd_expr_eval(e, &env, out, &err), GRAVRD_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("# log1p(trade) on %zu rows: %.2f ms\n", n, ms);
    assert_true(out[0] == 0);
    assert_true(out[999] == log1p(999.0));
    assert_true(out[n - 1] == log1p(999.0));
    assert_true(ms < 2000);
    gravrd_expr_free(e);

    assert_int_equal(gravrd_expr_parse("trade > 500 & trade < 600 | trade == 7", &e, &err), GRAVRD_OK);
    assert_int_equal(gravrd_expr_eval(e, &env, out, &err), GRAVRD_OK);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += out[i] == 1;
    assert_int_equal(count, 100 * 1000);
    gravrd_expr_free(e);
    free(out);
    gravrd_frame_free(fr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_arithmetic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_functions, setup, teardown),
        cmocka_unit_test(test_uses_env),
        cmocka_unit_test_setup_teardown(test_comparisons_and_logic, setup, teardown),
        cmocka_unit_test(test_na_logic),
        cmocka_unit_test_setup_teardown(test_factor_comparisons, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_custom_functions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_formula_terms_eval, setup, teardown),
        cmocka_unit_test(test_zero_rows),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
