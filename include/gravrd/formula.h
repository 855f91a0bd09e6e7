/* gravrd/formula.h - fixest-style formulas and the expression language.
 *
 *   c(y1, y2) ~ x1 + log(x2) + x1:x3 | fe1 + fe2^fe3
 *
 * Left of '~': one outcome expression, or c(e1, e2, ...) for several.
 * Right of '~' up to '|': terms joined by '+'; a term is one expression or a
 * product of expressions joined by ':' (x1:x3 is the product x1*x3). A term
 * "0" or "-1" removes the intercept; "1" keeps it (default when there is no
 * fixed effect; with fixed effects there is never an explicit intercept).
 * Right of '|': fixed effects joined by '+'; fe2^fe3 is the FE of the
 * combination of two (or more) variables.
 *
 * Expressions (also used by --subset): numbers, "strings", variable names
 * (letters, digits, '_' and '.', not starting with a digit; or `back quoted`),
 * unary - and !, binary + - * / ^ (power), comparisons == != < <= > >=, & and |,
 * parentheses, and calls: log, log1p, exp, sqrt, abs, I(expr). Inside a
 * formula's term list, + and : are term operators, so arithmetic goes inside
 * I(...), as in R. Other function names are resolved at evaluation time
 * through gravrd_eval_env.call (the study frame adds above_median, etc.). */
#ifndef GRAVRD_FORMULA_H
#define GRAVRD_FORMULA_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    GRAVRD_EXPR_NUMBER,  /* number */
    GRAVRD_EXPR_STRING,  /* "literal" (only meaningful compared with a factor) */
    GRAVRD_EXPR_VAR,     /* column reference: name */
    GRAVRD_EXPR_CALL,    /* name(args...); explicit parentheses are a CALL named "("
                          * with one argument, as R's `(`, so deparse keeps them */
    GRAVRD_EXPR_UNARY,   /* op args[0] */
    GRAVRD_EXPR_BINARY   /* args[0] op args[1] */
} gravrd_expr_kind;

typedef enum {
    GRAVRD_OP_NONE = 0,
    GRAVRD_OP_NEG, GRAVRD_OP_NOT,                       /* unary */
    GRAVRD_OP_ADD, GRAVRD_OP_SUB, GRAVRD_OP_MUL, GRAVRD_OP_DIV, GRAVRD_OP_POW,
    GRAVRD_OP_EQ, GRAVRD_OP_NE, GRAVRD_OP_LT, GRAVRD_OP_LE, GRAVRD_OP_GT, GRAVRD_OP_GE,
    GRAVRD_OP_AND, GRAVRD_OP_OR
} gravrd_op;

typedef struct gravrd_expr {
    gravrd_expr_kind kind;
    gravrd_op op;               /* UNARY / BINARY */
    double number;              /* NUMBER */
    char *name;                 /* VAR: column name; CALL: function name; STRING: text */
    struct gravrd_expr **args;  /* CALL: arguments; UNARY: 1; BINARY: 2 */
    int n_args;
    int pos;                    /* 0-based offset in the parsed text, for messages */
} gravrd_expr;

/* Parses a stand-alone expression (as for --subset). Syntax errors are
 * GRAVRD_ERR_PARSE with a message that shows the position, e.g.
 *   "syntax error at position 7: expected ')'\n  log(x + \n         ^" */
gravrd_status gravrd_expr_parse(const char *text, gravrd_expr **out, gravrd_error *err);
void gravrd_expr_free(gravrd_expr *e);
gravrd_expr *gravrd_expr_clone(const gravrd_expr *e);

/* Canonical text in R's deparse style, used as coefficient/outcome names:
 * "log(dist_km)", "I(x^2)", "I(a + b)", "x > 1 & y == \"a\"". malloc'ed. */
char *gravrd_expr_deparse(const gravrd_expr *e);

/* Appends to *names (malloc'ed array of malloc'ed strings, *n entries) every
 * column name the expression references, without duplicates. */
gravrd_status gravrd_expr_variables(const gravrd_expr *e, char ***names, size_t *n, gravrd_error *err);

/* A term of the right-hand side: the product of its factors. */
typedef struct {
    gravrd_expr **factors;  /* n_factors >= 1 */
    int n_factors;
    char *name;             /* deparsed factors joined by ':' */
} gravrd_term;

/* A fixed effect: one variable or the combination a^b^... */
typedef struct {
    char **vars;
    int n_vars;
    char *name;             /* vars joined by '^' */
} gravrd_fe_term;

typedef struct {
    char *text;                 /* the formula as given */
    gravrd_expr **outcomes;     /* n_outcomes >= 1 */
    char **outcome_names;       /* deparsed outcomes */
    int n_outcomes;
    gravrd_term *terms;         /* in R's terms() order (fewer factors first, then as
                                 * written; repeats dropped); may be 0 terms */
    int n_terms;
    int intercept;              /* 1 if an intercept is estimated (never with FE) */
    gravrd_fe_term *fes;
    int n_fes;
} gravrd_formula;

gravrd_status gravrd_formula_parse(const char *text, gravrd_formula **out, gravrd_error *err);
void gravrd_formula_free(gravrd_formula *f);

/* Parses a '+'-joined list of variables or a^b combinations (the syntax of
 * the FE part and of --cluster), e.g. "origin + origin^destination". */
gravrd_status gravrd_fe_list_parse(const char *text, gravrd_fe_term **out, int *n_out, gravrd_error *err);
void gravrd_fe_terms_free(gravrd_fe_term *terms, int n);

/* Evaluation environment. `call` resolves functions not built in (may be
 * NULL): it receives the already evaluated arguments and writes out_N; it
 * returns GRAVRD_ERR_INVALID with a message for an unknown function. An
 * argument that is a string literal or a bare factor column has no numeric
 * vector: its args_N entry is NULL (read it from call->args[i]). */
typedef struct gravrd_eval_env gravrd_eval_env;
typedef gravrd_status (*gravrd_eval_call_fn)(const gravrd_eval_env *env, const char *name,
                                             const double *const *args_N, int n_args,
                                             const gravrd_expr *call, double *out_N,
                                             gravrd_error *err);
struct gravrd_eval_env {
    const gravrd_frame *frame;
    gravrd_eval_call_fn call;
    void *user;
};

/* Evaluates e on every row of env->frame into out_N (n_rows long).
 * Missing values (NaN) propagate; comparisons and arithmetic involving a
 * missing value give NaN, except FALSE & NA = FALSE and TRUE | NA = TRUE, as
 * in R. Logical results are 0/1. log of 0 gives -Inf and of a negative number
 * NaN (callers treat non-finite values as missing). A factor column may only
 * be compared with a string literal (== != < <= > >=, by strcmp on the level);
 * used as a number it is an GRAVRD_ERR_INVALID error naming it.
 * Unknown variables are GRAVRD_ERR_INVALID: "unknown variable 'xx' at
 * position 4". */
gravrd_status gravrd_expr_eval(const gravrd_expr *e, const gravrd_eval_env *env, double *out_N,
                               gravrd_error *err);

/* 1 when e calls a function that env->call resolves (not a built-in such as
 * log or I), so that its value may depend on the env and not only on the
 * frame's columns. */
int gravrd_expr_uses_env(const gravrd_expr *e);

#ifdef __cplusplus
}
#endif
#endif
