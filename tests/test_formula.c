/* test_formula.c - parsing, precedence, deparse (R's style), formula terms,
 * intercept rules, fixed effects and syntax-error positions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"
#include "gravrd/formula.h"

/* ---- helpers ---------------------------------------------------------- */

static gravrd_expr *parse_ok(const char *text)
{
    gravrd_expr *e = NULL;
    gravrd_error err = {0};
    gravrd_status st = gravrd_expr_parse(text, &e, &err);
    if (st != GRAVRD_OK) fail_msg("parse of \"%s\" failed: %s", text, err.message);
    assert_non_null(e);
    return e;
}

static void check_deparse(const char *text, const char *expected)
{
    gravrd_expr *e = parse_ok(text);
    char *s = gravrd_expr_deparse(e);
    assert_non_null(s);
    if (strcmp(s, expected) != 0) fail_msg("deparse(\"%s\") = \"%s\", expected \"%s\"", text, s, expected);
    free(s);
    gravrd_expr_free(e);
}

/* Value of a constant expression, evaluated on a one-row frame. */
static double value_of(const char *text)
{
    gravrd_expr *e = parse_ok(text);
    gravrd_frame *fr = gravrd_frame_new(1, "");
    assert_non_null(fr);
    gravrd_eval_env env = {fr, NULL, NULL};
    double out = -12345;
    gravrd_error err = {0};
    gravrd_status st = gravrd_expr_eval(e, &env, &out, &err);
    if (st != GRAVRD_OK) fail_msg("eval of \"%s\" failed: %s", text, err.message);
    gravrd_frame_free(fr);
    gravrd_expr_free(e);
    return out;
}

/* The message's caret must sit under text[pos] (ASCII texts). */
static void check_caret(const char *text, const char *msg, int pos)
{
    const char *l1 = strchr(msg, '\n');
    assert_non_null(l1);
    const char *l2 = strchr(l1 + 1, '\n');
    assert_non_null(l2);
    const char *caret = strchr(l2 + 1, '^');
    assert_non_null(caret);
    long col = caret - (l2 + 1);
    assert_true(col >= 2);
    assert_int_equal(col - 2, pos);
    if ((size_t)pos < strlen(text)) assert_int_equal(l1[1 + col], text[pos]);
}

static int position_in(const char *msg)
{
    int pos = -1;
    if (sscanf(msg, "syntax error at position %d:", &pos) != 1) fail_msg("no position in \"%s\"", msg);
    return pos;
}

/* Parse error of an expression: code, position, and message containing
 * `what`. */
static void expr_error(const char *text, int pos, const char *what)
{
    gravrd_expr *e = (gravrd_expr *)0x1;
    gravrd_error err = {0};
    gravrd_status st = gravrd_expr_parse(text, &e, &err);
    if (st != GRAVRD_ERR_PARSE) fail_msg("\"%s\": expected a parse error, got %d (%s)", text, st, err.message);
    assert_null(e);
    assert_int_equal(err.code, GRAVRD_ERR_PARSE);
    if (position_in(err.message) != pos)
        fail_msg("\"%s\": expected position %d in \"%s\"", text, pos, err.message);
    if (!strstr(err.message, what)) fail_msg("\"%s\": \"%s\" not in \"%s\"", text, what, err.message);
    check_caret(text, err.message, pos);
}

static void formula_error(const char *text, int pos, const char *what)
{
    gravrd_formula *f = (gravrd_formula *)0x1;
    gravrd_error err = {0};
    gravrd_status st = gravrd_formula_parse(text, &f, &err);
    if (st != GRAVRD_ERR_PARSE) fail_msg("\"%s\": expected a parse error, got %d (%s)", text, st, err.message);
    assert_null(f);
    if (position_in(err.message) != pos)
        fail_msg("\"%s\": expected position %d in \"%s\"", text, pos, err.message);
    if (!strstr(err.message, what)) fail_msg("\"%s\": \"%s\" not in \"%s\"", text, what, err.message);
    check_caret(text, err.message, pos);
}

static gravrd_formula *formula_ok(const char *text)
{
    gravrd_formula *f = NULL;
    gravrd_error err = {0};
    if (gravrd_formula_parse(text, &f, &err) != GRAVRD_OK) fail_msg("\"%s\": %s", text, err.message);
    assert_non_null(f);
    return f;
}

/* Term names joined by ", " must equal expected. */
static void check_terms(const char *text, const char *expected, int intercept)
{
    gravrd_formula *f = formula_ok(text);
    char buf[512] = "";
    for (int i = 0; i < f->n_terms; i++) {
        if (i) strcat(buf, ", ");
        strcat(buf, f->terms[i].name);
    }
    if (strcmp(buf, expected) != 0) fail_msg("terms of \"%s\" = [%s], expected [%s]", text, buf, expected);
    if (f->intercept != intercept)
        fail_msg("intercept of \"%s\" = %d, expected %d", text, f->intercept, intercept);
    gravrd_formula_free(f);
}

/* ---- precedence ------------------------------------------------------- */

static void test_precedence_values(void **state)
{
    (void)state;
    assert_true(value_of("-2^2") == -4);
    assert_true(value_of("(-2)^2") == 4);
    assert_true(value_of("2^3^2") == 512);
    assert_true(value_of("(2^3)^2") == 64);
    assert_true(value_of("1 + 2 * 3") == 7);
    assert_true(value_of("(1 + 2) * 3") == 9);
    assert_true(value_of("1 - 2 - 3") == -4);
    assert_true(value_of("8 / 2 / 2") == 2);
    assert_true(value_of("2^-1") == 0.5);
    assert_true(value_of("-2^-2") == -0.25);
    assert_true(value_of("2^-1*3") == 1.5);
    assert_true(value_of("- - 3") == 3);
    assert_true(value_of("+3") == 3);
    assert_true(value_of("2 * -3") == -6);
    assert_true(value_of("10 - 2 * 3 ^ 2") == -8);
    assert_true(value_of("1e-3 * 1000") == 1);
    assert_true(value_of(".5 + 1.5") == 2);
    assert_true(value_of("2E+2") == 200);
    assert_true(value_of("2**3") == 8);
    /* ! binds looser than comparison: !0 == 1 is !(0 == 1) = 1 */
    assert_true(value_of("!0 == 1") == 1);
    assert_true(value_of("!(0 == 0)") == 0);
    /* 1 + !x == 2 is 1 + !(x == 2), as in R */
    assert_true(value_of("1 + !0 == 2") == 2);
    assert_true(value_of("1 < 2 & 3 > 4") == 0);
    assert_true(value_of("1 | 0 & 0") == 1); /* & before | */
    assert_true(value_of("(1 | 0) & 0") == 0);
    assert_true(value_of("TRUE + TRUE") == 2);
    assert_true(value_of("FALSE") == 0);
    assert_true(isinf(value_of("Inf")) && value_of("-Inf") < 0);
    assert_true(isnan(value_of("NA")));
    assert_true(value_of("1 == 1 & 2 != 3 & 2 <= 2 & 2 >= 2 & 1 < 2") == 1);
}

static void test_precedence_tree(void **state)
{
    (void)state;
    gravrd_expr *e = parse_ok("!a == b");
    assert_int_equal(e->kind, GRAVRD_EXPR_UNARY);
    assert_int_equal(e->op, GRAVRD_OP_NOT);
    assert_int_equal(e->args[0]->kind, GRAVRD_EXPR_BINARY);
    assert_int_equal(e->args[0]->op, GRAVRD_OP_EQ);
    gravrd_expr_free(e);

    e = parse_ok("-2^2");
    assert_int_equal(e->kind, GRAVRD_EXPR_UNARY);
    assert_int_equal(e->op, GRAVRD_OP_NEG);
    assert_int_equal(e->args[0]->op, GRAVRD_OP_POW);
    gravrd_expr_free(e);

    e = parse_ok("2^3^2");
    assert_int_equal(e->op, GRAVRD_OP_POW);
    assert_int_equal(e->args[0]->kind, GRAVRD_EXPR_NUMBER);
    assert_int_equal(e->args[1]->op, GRAVRD_OP_POW);
    gravrd_expr_free(e);

    e = parse_ok("a | b & c");
    assert_int_equal(e->op, GRAVRD_OP_OR);
    assert_int_equal(e->args[1]->op, GRAVRD_OP_AND);
    gravrd_expr_free(e);

    e = parse_ok("a - b - c");
    assert_int_equal(e->op, GRAVRD_OP_SUB);
    assert_int_equal(e->args[0]->op, GRAVRD_OP_SUB);
    assert_string_equal(e->args[1]->name, "c");
    gravrd_expr_free(e);

    e = parse_ok("f(a, g(b), 2)");
    assert_int_equal(e->kind, GRAVRD_EXPR_CALL);
    assert_string_equal(e->name, "f");
    assert_int_equal(e->n_args, 3);
    assert_int_equal(e->args[1]->kind, GRAVRD_EXPR_CALL);
    assert_true(e->args[2]->number == 2);
    assert_int_equal(e->args[1]->pos, 5);
    assert_int_equal(e->args[2]->pos, 11);
    gravrd_expr_free(e);

    e = parse_ok("x == 'a b'");
    assert_int_equal(e->args[1]->kind, GRAVRD_EXPR_STRING);
    assert_string_equal(e->args[1]->name, "a b");
    gravrd_expr_free(e);

    e = parse_ok("`my var` + 1");
    assert_int_equal(e->args[0]->kind, GRAVRD_EXPR_VAR);
    assert_string_equal(e->args[0]->name, "my var");
    gravrd_expr_free(e);

    e = parse_ok("  .x_1.b  ");
    assert_int_equal(e->kind, GRAVRD_EXPR_VAR);
    assert_string_equal(e->name, ".x_1.b");
    assert_int_equal(e->pos, 2);
    gravrd_expr_free(e);
}

/* ---- deparse ---------------------------------------------------------- */

static void test_deparse_round_trip(void **state)
{
    (void)state;
    static const char *const same[] = {
        "log(dist_km)", "I(x^2)", "I(a + b)", "I(a * 2)", "x1", "-x", "!x", "a == \"b\"", "a > 1 & b < 2",
        "a/b", "I((a + b) * c)", "I((a * b) + c)", "f(a, b, 2)", "x^-1", "-2^2", "(-2)^2", "a - -b",
        "!a == b", "1 + !x == 2", "`a b` + 1", "a | b & c", "(a | b) & c", "log(x + 1)", "exp(-x)",
        "log1p(trade)", "sqrt(abs(x))", "a != b", "a <= 1 | b >= 2", "2^3^2", "(2^3)^2", "x/(y + 1)",
        "0.5", "1e-04", "0.001", "1e+05", "123456", "1.5", "-0.25", "`_x` + y", "`if`", "Inf", "NaN", "f()",
    };
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) check_deparse(same[i], same[i]);

    check_deparse("log( x )", "log(x)");
    check_deparse("a+b*c", "a + b * c");
    check_deparse("x**2", "x^2");
    check_deparse("1e-4", "1e-04");
    check_deparse("0.0001", "1e-04");
    check_deparse("100000", "1e+05");
    check_deparse("1e3", "1000");
    check_deparse("1.50", "1.5");
    check_deparse(".5", "0.5");
    check_deparse("1/3", "1/3");
    check_deparse("0.3333333333333333", "0.333333333333333");
    check_deparse("1e300", "1e+300");
    check_deparse("1.5e-300", "1.5e-300");
    /* R picks fixed notation whenever it is not wider than scientific, even
     * past 15 digits (deparse(2^62) is "4611686018427387904") */
    check_deparse("1234567890123456789", "1234567890123456768");
    check_deparse("1.5e17", "1.5e+17");
    check_deparse("0.1234567", "0.1234567");
    check_deparse("'b'", "\"b\"");
    check_deparse("a == 'x\"y'", "a == \"x\\\"y\"");
    check_deparse("a == \"t\\tb\"", "a == \"t\\tb\"");
    check_deparse("+x", "x");
    check_deparse("x>=1&y<=2|z", "x >= 1 & y <= 2 | z");
    check_deparse("TRUE & FALSE", "1 & 0");
    check_deparse("`x`", "x");
    check_deparse("\tlog(\n x\n)", "log(x)");
}

/* Trees built by hand (not from text) get the parentheses precedence needs. */
static gravrd_expr *bin(gravrd_op op, gravrd_expr *a, gravrd_expr *b)
{
    gravrd_expr *e = fml_node_new(GRAVRD_EXPR_BINARY, 0);
    e->op = op;
    e->args = calloc(2, sizeof *e->args);
    e->args[0] = a;
    e->args[1] = b;
    e->n_args = 2;
    return e;
}

static gravrd_expr *var(const char *name)
{
    gravrd_expr *e = fml_node_new(GRAVRD_EXPR_VAR, 0);
    e->name = strdup(name);
    return e;
}

static gravrd_expr *neg(gravrd_expr *a)
{
    gravrd_expr *e = fml_node_new(GRAVRD_EXPR_UNARY, 0);
    e->op = GRAVRD_OP_NEG;
    e->args = calloc(1, sizeof *e->args);
    e->args[0] = a;
    e->n_args = 1;
    return e;
}

static void check_tree(gravrd_expr *e, const char *expected)
{
    char *s = gravrd_expr_deparse(e);
    assert_non_null(s);
    assert_string_equal(s, expected);
    free(s);
    gravrd_expr_free(e);
}

static void test_deparse_built_trees(void **state)
{
    (void)state;
    check_tree(bin(GRAVRD_OP_MUL, bin(GRAVRD_OP_ADD, var("a"), var("b")), var("c")), "(a + b) * c");
    check_tree(bin(GRAVRD_OP_SUB, var("a"), bin(GRAVRD_OP_SUB, var("b"), var("c"))), "a - (b - c)");
    check_tree(bin(GRAVRD_OP_SUB, bin(GRAVRD_OP_SUB, var("a"), var("b")), var("c")), "a - b - c");
    check_tree(bin(GRAVRD_OP_POW, bin(GRAVRD_OP_POW, var("a"), var("b")), var("c")), "(a^b)^c");
    check_tree(bin(GRAVRD_OP_POW, var("a"), bin(GRAVRD_OP_POW, var("b"), var("c"))), "a^b^c");
    check_tree(neg(bin(GRAVRD_OP_ADD, var("a"), var("b"))), "-(a + b)");
    check_tree(bin(GRAVRD_OP_POW, neg(var("a")), var("b")), "(-a)^b");
    check_tree(bin(GRAVRD_OP_EQ, bin(GRAVRD_OP_LT, var("a"), var("b")), var("c")), "(a < b) == c");
    check_tree(bin(GRAVRD_OP_AND, bin(GRAVRD_OP_OR, var("a"), var("b")), var("c")), "(a | b) & c");
    check_tree(bin(GRAVRD_OP_DIV, var("a"), bin(GRAVRD_OP_MUL, var("b"), var("c"))), "a/(b * c)");
    gravrd_expr *m2 = fml_node_new(GRAVRD_EXPR_NUMBER, 0);
    m2->number = -2;
    check_tree(bin(GRAVRD_OP_POW, m2, var("b")), "(-2)^b");
}

static void test_number_format(void **state)
{
    (void)state;
    static const struct {
        double x;
        const char *s;
    } cases[] = {
        {2, "2"}, {0.5, "0.5"}, {1e-4, "1e-04"}, {1e-3, "0.001"}, {1e5, "1e+05"}, {123456, "123456"},
        {-1.5, "-1.5"}, {0, "0"}, {1e15, "1e+15"}, {0.1 + 0.2, "0.3"}, {3.14159265358979, "3.14159265358979"},
        {1.5e20, "1.5e+20"}, {12345678, "12345678"}, {0.00012, "0.00012"}, {-1e-4, "-1e-04"},
        {INFINITY, "Inf"}, {-INFINITY, "-Inf"}, {NAN, "NaN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[64];
        fml_format_number(cases[i].x, buf, sizeof buf);
        if (strcmp(buf, cases[i].s) != 0) fail_msg("format(%.17g) = \"%s\", expected \"%s\"", cases[i].x, buf, cases[i].s);
    }
}

static void test_clone_and_variables(void **state)
{
    (void)state;
    gravrd_expr *e = parse_ok("log(a) + b * a - f(c, \"s\") > 0 & !d");
    gravrd_expr *c = gravrd_expr_clone(e);
    assert_non_null(c);
    assert_ptr_not_equal(c, e);
    char *s1 = gravrd_expr_deparse(e), *s2 = gravrd_expr_deparse(c);
    assert_string_equal(s1, s2);
    assert_string_equal(s1, "log(a) + b * a - f(c, \"s\") > 0 & !d");
    free(s1);
    free(s2);
    gravrd_expr_free(e);

    char **names = NULL;
    size_t n = 0;
    gravrd_error err = {0};
    assert_int_equal(gravrd_expr_variables(c, &names, &n, &err), GRAVRD_OK);
    assert_int_equal(n, 4);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b");
    assert_string_equal(names[2], "c");
    assert_string_equal(names[3], "d");
    /* appending to an existing list keeps it free of repeats */
    gravrd_expr *e2 = parse_ok("sqrt(d) + e + `a`");
    assert_int_equal(gravrd_expr_variables(e2, &names, &n, &err), GRAVRD_OK);
    assert_int_equal(n, 5);
    assert_string_equal(names[4], "e");
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    gravrd_expr_free(e2);
    gravrd_expr_free(c);
    assert_null(gravrd_expr_clone(NULL));
    gravrd_expr_free(NULL);
}

/* ---- formulas --------------------------------------------------------- */

static void test_formula_basic(void **state)
{
    (void)state;
    const char *text = "log(euros) ~ log(dist_km) | origin + destination + product + year";
    gravrd_formula *f = formula_ok(text);
    assert_string_equal(f->text, text);
    assert_int_equal(f->n_outcomes, 1);
    assert_string_equal(f->outcome_names[0], "log(euros)");
    assert_int_equal(f->outcomes[0]->kind, GRAVRD_EXPR_CALL);
    assert_int_equal(f->n_terms, 1);
    assert_string_equal(f->terms[0].name, "log(dist_km)");
    assert_int_equal(f->terms[0].n_factors, 1);
    assert_int_equal(f->intercept, 0);
    assert_int_equal(f->n_fes, 4);
    assert_string_equal(f->fes[0].name, "origin");
    assert_string_equal(f->fes[1].name, "destination");
    assert_string_equal(f->fes[2].name, "product");
    assert_string_equal(f->fes[3].name, "year");
    assert_int_equal(f->fes[3].n_vars, 1);
    assert_string_equal(f->fes[3].vars[0], "year");
    gravrd_formula_free(f);
}

static void test_formula_full(void **state)
{
    (void)state;
    gravrd_formula *f = formula_ok("c(y1, log(y2)) ~ x1 + log(x2) + x1:x3 | fe1 + fe2^fe3");
    assert_int_equal(f->n_outcomes, 2);
    assert_string_equal(f->outcome_names[0], "y1");
    assert_string_equal(f->outcome_names[1], "log(y2)");
    assert_int_equal(f->outcomes[0]->kind, GRAVRD_EXPR_VAR);
    assert_int_equal(f->n_terms, 3);
    assert_string_equal(f->terms[0].name, "x1");
    assert_string_equal(f->terms[1].name, "log(x2)");
    assert_string_equal(f->terms[2].name, "x1:x3");
    assert_int_equal(f->terms[2].n_factors, 2);
    assert_string_equal(f->terms[2].factors[0]->name, "x1");
    assert_string_equal(f->terms[2].factors[1]->name, "x3");
    assert_int_equal(f->terms[1].factors[0]->kind, GRAVRD_EXPR_CALL);
    assert_int_equal(f->intercept, 0);
    assert_int_equal(f->n_fes, 2);
    assert_string_equal(f->fes[1].name, "fe2^fe3");
    assert_int_equal(f->fes[1].n_vars, 2);
    assert_string_equal(f->fes[1].vars[0], "fe2");
    assert_string_equal(f->fes[1].vars[1], "fe3");
    gravrd_formula_free(f);

    /* one outcome in c() */
    f = formula_ok("c(y) ~ x");
    assert_int_equal(f->n_outcomes, 1);
    assert_string_equal(f->outcome_names[0], "y");
    gravrd_formula_free(f);

    /* arithmetic inside calls; '|' inside I() is logical or, not the FE bar */
    f = formula_ok("I(a | b) ~ log(a + b) + I(x^2) + I((a + b) * c) | fe");
    assert_string_equal(f->outcome_names[0], "I(a | b)");
    assert_int_equal(f->n_terms, 3);
    assert_string_equal(f->terms[0].name, "log(a + b)");
    assert_int_equal(f->terms[0].factors[0]->args[0]->op, GRAVRD_OP_ADD);
    assert_string_equal(f->terms[1].name, "I(x^2)");
    assert_string_equal(f->terms[2].name, "I((a + b) * c)");
    assert_int_equal(f->n_fes, 1);
    gravrd_formula_free(f);

    /* white space anywhere, names normalised */
    f = formula_ok("  y~x1+ log( x2 )|fe1^ fe2 ");
    assert_string_equal(f->terms[1].name, "log(x2)");
    assert_string_equal(f->fes[0].name, "fe1^fe2");
    gravrd_formula_free(f);

    /* back-quoted names */
    f = formula_ok("`my y` ~ `x 1` + x2 | `fe 1`");
    assert_string_equal(f->outcome_names[0], "`my y`");
    assert_string_equal(f->terms[0].name, "`x 1`");
    assert_string_equal(f->terms[0].factors[0]->name, "x 1");
    assert_string_equal(f->fes[0].name, "fe 1");
    gravrd_formula_free(f);

    /* a repeated fixed effect is kept once, as fixest's unique() */
    f = formula_ok("y ~ x | a + b^c + a + b^c");
    assert_int_equal(f->n_fes, 2);
    gravrd_formula_free(f);
}

static void test_intercept_rules(void **state)
{
    (void)state;
    check_terms("y ~ x", "x", 1);
    check_terms("y ~ x - 1", "x", 0);
    check_terms("y ~ -1 + x", "x", 0);
    check_terms("y ~ 0 + x", "x", 0);
    check_terms("y ~ x + 0", "x", 0);
    check_terms("y ~ 1 + x", "x", 1);
    check_terms("y ~ x - 1 + 1", "x", 1); /* the last one wins, as in R */
    check_terms("y ~ 1", "", 1);
    check_terms("y ~ 0", "", 0);
    check_terms("y ~ -1", "", 0);
    check_terms("y ~ x | fe", "x", 0);
    check_terms("y ~ 1 + x | fe", "x", 0);
    check_terms("y ~ 1 | fe", "", 0);
    check_terms("y ~ 0 | fe", "", 0);
}

/* R's terms(): factors ordered by first appearance, repeats dropped, terms
 * sorted by order (number of factors). */
static void test_term_order(void **state)
{
    (void)state;
    check_terms("y ~ x1:x2 + x3", "x3, x1:x2", 1);
    check_terms("y ~ a + b:a", "a, a:b", 1);
    check_terms("y ~ b:a", "b:a", 1);
    check_terms("y ~ b:a + a:b", "b:a", 1);
    check_terms("y ~ x + x + log(x) + log( x )", "x, log(x)", 1);
    check_terms("y ~ x:x", "x", 1);
    check_terms("y ~ a*b", "a, b, a:b", 1);
    check_terms("y ~ a*b*c", "a, b, c, a:b, a:c, b:c, a:b:c", 1);
    check_terms("y ~ a + b*c:d", "a, b, c:d, b:c:d", 1);
    check_terms("y ~ log(d):x + x", "x, log(d):x", 1);
    check_terms("y ~ z + a:b:c + a:b + b", "z, b, a:b, a:b:c", 1);
}

static void test_formula_errors(void **state)
{
    (void)state;
    formula_error("", 0, "empty formula");
    formula_error("y", 1, "missing '~'");
    formula_error("y x ~ z", 2, "expected '~'");
    formula_error("~ x", 0, "missing outcome");
    formula_error("y ~", 3, "expected a term after '~'");
    formula_error("y ~ log(x", 9, "expected ')'");
    formula_error("y ~ log(x + ", 11, "expected ')'");
    formula_error("y ~ x)", 5, "unexpected ')'");
    formula_error("y ~ x + ", 7, "expected a term after '+'");
    formula_error("y ~ x + + z", 8, "expected a term after '+'");
    formula_error("y ~ + z", 4, "expected a term after '~'");
    formula_error("y ~ | fe", 4, "expected a term after '~'");
    formula_error("y ~ x:", 6, "expected a term after ':'");
    formula_error("y ~ x - z", 6, "only the intercept can be removed");
    formula_error("y ~ -x", 4, "only the intercept can be removed");
    formula_error("y ~ x - 2", 6, "only the intercept can be removed");
    formula_error("y ~ x # z", 6, "unknown character '#'");
    formula_error("y ~ c(a, b)", 4, "c() is only allowed on the left of '~'");
    formula_error("y ~ log(c(a, b))", 8, "c() is only allowed on the left of '~'");
    formula_error("log(c(a, b)) ~ x", 4, "c() is only allowed on the left of '~'");
    formula_error("c() ~ x", 0, "c() needs at least one outcome");
    formula_error("c(a, ) ~ x", 5, "expected an argument after ','");
    formula_error("y ~ x | log(fe)", 8, "a fixed effect must be a variable name");
    formula_error("y ~ x | fe1 + 2", 14, "a fixed effect must be a variable name");
    formula_error("y ~ x | fe1 +", 13, "expected a fixed-effect variable after '+'");
    formula_error("y ~ x | fe1^", 12, "expected a fixed-effect variable after '^'");
    formula_error("y ~ x |", 7, "expected a fixed-effect variable after '|'");
    formula_error("y ~ x | a | b", 10, "only one '|'");
    formula_error("y ~ x | a * b", 10, "unexpected '*'");
    formula_error("y ~ x^2", 5, "'^' only combines fixed effects");
    formula_error("y ~ x/z", 5, "'/' (nesting) is not supported");
    formula_error("y ~ (a + b)", 4, "parentheses are not supported");
    formula_error("y ~ x > 1", 6, "must be wrapped in I(...)");
    formula_error("y ~ 2", 4, "a number term can only be 0 or 1");
    formula_error("y ~ x:2", 6, "a number cannot be part of an interaction");
    formula_error("y ~ \"a\"", 4, "a text literal cannot be a term");
    formula_error("y ~ x ~ z", 6, "only one '~'");
    formula_error("y ~ x z", 6, "terms are joined by '+'");
    formula_error("y ~ .", 4, "'.' (all other columns) is not supported");
    formula_error("y ~ x + log(a + )", 16, "expected a value after '+'");
    formula_error("y ~ I(a:b)", 7, "':' only joins the factors");
    formula_error("y ~ a*b*c*d*e*f*g*h*i", 20, "more than 8 terms crossed");

    /* the header's example */
    gravrd_expr *e = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_expr_parse("log(x + ", &e, &err), GRAVRD_ERR_PARSE);
    assert_string_equal(err.message, "syntax error at position 7: expected ')'\n  log(x + \n         ^");
    assert_null(e);

    gravrd_formula *f = NULL;
    assert_int_equal(gravrd_formula_parse("y ~ x +", &f, &err), GRAVRD_ERR_PARSE);
    assert_string_equal(err.message, "syntax error at position 7: expected a term after '+'\n  y ~ x +\n         ^");
    assert_int_equal(gravrd_formula_parse(NULL, &f, &err), GRAVRD_ERR_INVALID);
}

static void test_expr_errors(void **state)
{
    (void)state;
    expr_error("", 0, "empty expression");
    expr_error("   ", 0, "empty expression");
    expr_error("a < b < c", 6, "comparisons cannot be chained");
    expr_error("a == b != c", 7, "comparisons cannot be chained");
    expr_error("a && b", 2, "'&&' is not supported");
    expr_error("a || b", 2, "'||' is not supported");
    expr_error("a = b", 2, "use '=='");
    expr_error("x == \"abc", 5, "unterminated string");
    expr_error("`abc", 0, "unterminated back quote");
    expr_error("1e + 2", 0, "malformed number");
    expr_error("if + 1", 0, "reserved word");
    expr_error("f(a,)", 4, "expected an argument after ','");
    expr_error("f(,a)", 2, "expected an argument after '('");
    expr_error("()", 1, "empty parentheses");
    expr_error("(a", 2, "expected ')'");
    expr_error("(a b)", 3, "expected ')', found 'b'");
    expr_error("f(a b)", 4, "expected ',' or ')', found 'b'");
    expr_error("a b", 2, "unexpected 'b'");
    expr_error("a)", 1, "unexpected ')'");
    expr_error("a:b", 1, "':' only joins the factors");
    expr_error("a ~ b", 2, "'~' only appears in formulas");
    expr_error("x +", 3, "expected a value after '+'");
    expr_error("x + * y", 4, "expected a value after '+', found '*'");
    expr_error("x $ y", 2, "unknown character '$'");
    expr_error("c(1, 2)", 0, "c() is only allowed");
    expr_error("x[1]", 1, "unknown character '['");
}

static char *repeat(const char *a, int n, const char *mid, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = malloc(la * (size_t)n + lm + lb * (size_t)n + 1);
    size_t k = 0;
    for (int i = 0; i < n; i++, k += la) memcpy(s + k, a, la);
    memcpy(s + k, mid, lm);
    k += lm;
    for (int i = 0; i < n; i++, k += lb) memcpy(s + k, b, lb);
    s[k] = '\0';
    return s;
}

static void test_limits(void **state)
{
    (void)state;
    gravrd_expr *e = NULL;
    gravrd_error err = {0};
    /* deep nesting is an error, not a stack overflow */
    char *deep = repeat("(", 100000, "1", ")");
    assert_int_equal(gravrd_expr_parse(deep, &e, &err), GRAVRD_ERR_PARSE);
    assert_non_null(strstr(err.message, "nested too deeply"));
    free(deep);
    deep = repeat("-", 100000, "1", "");
    assert_int_equal(gravrd_expr_parse(deep, &e, &err), GRAVRD_ERR_PARSE);
    free(deep);
    deep = repeat("1 + ", 5000, "1", "");
    assert_int_equal(gravrd_expr_parse(deep, &e, &err), GRAVRD_ERR_PARSE);
    assert_non_null(strstr(err.message, "nested too deeply"));
    free(deep);

    /* moderately long chains are fine */
    char *ok = repeat("1 + ", 1000, "1", "");
    assert_int_equal(gravrd_expr_parse(ok, &e, &err), GRAVRD_OK);
    free(ok);
    gravrd_frame *fr = gravrd_frame_new(2, "");
    gravrd_eval_env env = {fr, NULL, NULL};
    double out[2];
    assert_int_equal(gravrd_expr_eval(e, &env, out, &err), GRAVRD_OK);
    assert_true(out[0] == 1001 && out[1] == 1001);
    gravrd_expr_free(e);
    gravrd_frame_free(fr);

    /* a long text is echoed as a window around the error, caret aligned */
    char *lng = repeat("x + ", 200, "$", " + y");
    assert_int_equal(gravrd_expr_parse(lng, &e, &err), GRAVRD_ERR_PARSE);
    assert_int_equal(position_in(err.message), 800);
    assert_true(strlen(err.message) < 400);
    const char *l1 = strchr(err.message, '\n'), *l2 = strchr(l1 + 1, '\n');
    assert_memory_equal(l1 + 1, "  ...", 5);
    long col = strchr(l2 + 1, '^') - (l2 + 1);
    assert_int_equal(l1[1 + col], '$');
    free(lng);
}

static void test_caret_utf8(void **state)
{
    (void)state;
    /* "größe" is 7 bytes and 5 characters: the caret counts characters */
    gravrd_formula *f = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_formula_parse("größe ~ x #", &f, &err), GRAVRD_ERR_PARSE);
    assert_string_equal(err.message,
                        "syntax error at position 12: unknown character '#'\n  größe ~ x #\n            ^");
    /* UTF-8 names parse */
    f = formula_ok("größe ~ log(straße)");
    assert_string_equal(f->outcome_names[0], "größe");
    assert_string_equal(f->terms[0].name, "log(straße)");
    gravrd_formula_free(f);
}

/* ---- FE lists (--cluster) --------------------------------------------- */

static void test_fe_list(void **state)
{
    (void)state;
    gravrd_fe_term *t = NULL;
    int n = 0;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_list_parse("origin + origin^destination", &t, &n, &err), GRAVRD_OK);
    assert_int_equal(n, 2);
    assert_string_equal(t[0].name, "origin");
    assert_int_equal(t[0].n_vars, 1);
    assert_string_equal(t[1].name, "origin^destination");
    assert_int_equal(t[1].n_vars, 2);
    assert_string_equal(t[1].vars[1], "destination");
    gravrd_fe_terms_free(t, n);

    assert_int_equal(gravrd_fe_list_parse(" a^b^c ", &t, &n, &err), GRAVRD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(t[0].n_vars, 3);
    assert_string_equal(t[0].name, "a^b^c");
    gravrd_fe_terms_free(t, n);

    static const struct {
        const char *text;
        int pos;
        const char *what;
    } bad[] = {
        {"", 0, "empty list"},
        {"a +", 3, "expected a fixed-effect variable after '+'"},
        {"a | b", 2, "unexpected '|'"},
        {"log(a)", 0, "a fixed effect must be a variable name"},
        {"a b", 2, "a fixed effect must be a variable name"},
        {"a + 1", 4, "a fixed effect must be a variable name"},
        {"a:b", 1, "unexpected ':'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t = (gravrd_fe_term *)0x1;
        n = 7;
        assert_int_equal(gravrd_fe_list_parse(bad[i].text, &t, &n, &err), GRAVRD_ERR_PARSE);
        assert_null(t);
        assert_int_equal(n, 0);
        assert_int_equal(position_in(err.message), bad[i].pos);
        if (!strstr(err.message, bad[i].what)) fail_msg("\"%s\": %s", bad[i].text, err.message);
    }
    gravrd_fe_terms_free(NULL, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence_values),
        cmocka_unit_test(test_precedence_tree),
        cmocka_unit_test(test_deparse_round_trip),
        cmocka_unit_test(test_deparse_built_trees),
        cmocka_unit_test(test_number_format),
        cmocka_unit_test(test_clone_and_variables),
        cmocka_unit_test(test_formula_basic),
        cmocka_unit_test(test_formula_full),
        cmocka_unit_test(test_intercept_rules),
        cmocka_unit_test(test_term_order),
        cmocka_unit_test(test_formula_errors),
        cmocka_unit_test(test_expr_errors),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_caret_utf8),
        cmocka_unit_test(test_fe_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
