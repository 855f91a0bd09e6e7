/* eval.c - gravrd_expr_eval: an expression over every row of a frame.
 *
 * Evaluation is column at a time: each node fills a whole n_rows vector and
 * its parent combines vectors in one tight loop, instead of walking the tree
 * once per row. A binary node needs one temporary vector for its right
 * operand (none when that operand is a number), so memory is about
 * n_rows * tree depth doubles at worst.
 *
 * Missing values are NaN and propagate as R's NA does: arithmetic and
 * comparisons with NaN give NaN; FALSE & NA is FALSE and TRUE | NA is TRUE.
 * Logical results are 0/1, and any non-zero number counts as TRUE.
 *
 * Factor (text) columns only take part in comparisons with a string literal
 * or another factor, by strcmp on the level strings; a missing code (-1)
 * gives NaN. Any other use of a factor is an error naming the column. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

typedef struct {
    const gravrd_eval_env *env;
    const gravrd_frame *frame;
    size_t n;
    gravrd_error *err;
} ectx;

static gravrd_status eval_node(ectx *c, const gravrd_expr *e, double *out);

static double *alloc_rows(size_t n)
{
    if (n > SIZE_MAX / sizeof(double)) return NULL;
    return malloc((n ? n : 1) * sizeof(double));
}

static gravrd_status nomem(ectx *c)
{
    return gravrd_error_set(c->err, GRAVRD_ERR_NOMEM, "out of memory evaluating an expression (%zu rows)", c->n);
}

static gravrd_status unknown_variable(ectx *c, const gravrd_expr *e)
{
    return gravrd_error_set(c->err, GRAVRD_ERR_INVALID, "unknown variable '%s' at position %d", e->name, e->pos);
}

/* 1 if the whole text (surrounding spaces allowed) is a number. */
static int looks_numeric(const char *text)
{
    char *end;
    strtod(text, &end);
    if (end == text)
        return 0;
    while (*end == ' ' || *end == '\t')
        end++;
    return *end == '\0';
}

/* A text column used as a number is usually a numeric column with a stray
 * value: point at the first row whose value is not a number. */
static gravrd_status factor_as_number(ectx *c, const gravrd_column *col)
{
    const char *source = c->frame->source && c->frame->source[0] ? c->frame->source : "data";
    size_t numeric_rows = 0;
    for (size_t i = 0; i < c->n; i++) {
        int32_t code = col->codes_N[i];
        if (code < 0)
            continue;
        if (!looks_numeric(col->levels_L[code])) {
            if (numeric_rows > 0)
                return gravrd_error_set(c->err, GRAVRD_ERR_DATA,
                                        "%s: column '%s' is used as a number but data row %zu has the "
                                        "non-numeric value '%.80s'",
                                        source, col->name, i + 1, col->levels_L[code]);
            break;
        }
        numeric_rows++;
    }
    const char *example = col->n_levels > 0 ? col->levels_L[0] : "some value";
    return gravrd_error_set(c->err, GRAVRD_ERR_INVALID,
                            "variable '%s' is text; compare it with a string, e.g. %s == \"%s\"", col->name,
                            col->name, example);
}

static int is_comparison(gravrd_op op)
{
    return op == GRAVRD_OP_EQ || op == GRAVRD_OP_NE || op == GRAVRD_OP_LT || op == GRAVRD_OP_LE ||
           op == GRAVRD_OP_GT || op == GRAVRD_OP_GE;
}

/* The factor column a (parenthesised) variable refers to, or NULL. */
static const gravrd_column *factor_column(ectx *c, const gravrd_expr *e)
{
    e = fml_unparen(e);
    if (e->kind != GRAVRD_EXPR_VAR) return NULL;
    const gravrd_column *col = gravrd_frame_find(c->frame, e->name);
    return col && col->type == GRAVRD_COL_FACTOR ? col : NULL;
}

static int is_text(ectx *c, const gravrd_expr *e)
{
    return fml_unparen(e)->kind == GRAVRD_EXPR_STRING || factor_column(c, e) != NULL;
}

static int cmp_holds(gravrd_op op, int s)
{
    switch (op) {
    case GRAVRD_OP_EQ: return s == 0;
    case GRAVRD_OP_NE: return s != 0;
    case GRAVRD_OP_LT: return s < 0;
    case GRAVRD_OP_LE: return s <= 0;
    case GRAVRD_OP_GT: return s > 0;
    default: return s >= 0;
    }
}

static gravrd_op flip(gravrd_op op)
{
    switch (op) {
    case GRAVRD_OP_LT: return GRAVRD_OP_GT;
    case GRAVRD_OP_LE: return GRAVRD_OP_GE;
    case GRAVRD_OP_GT: return GRAVRD_OP_LT;
    case GRAVRD_OP_GE: return GRAVRD_OP_LE;
    default: return op;
    }
}

static int valid_code(const gravrd_column *col, int32_t code) { return code >= 0 && code < col->n_levels; }

/* Error for a text operand compared with a number. */
static gravrd_status text_vs_number(ectx *c, const gravrd_expr *text_side, const gravrd_expr *num_side,
                                    const gravrd_expr *cmp)
{
    const gravrd_column *fc = factor_column(c, text_side);
    if (fc) return factor_as_number(c, fc);
    const gravrd_expr *s = fml_unparen(text_side);
    const gravrd_expr *nv = fml_unparen(num_side);
    if (nv->kind == GRAVRD_EXPR_VAR) {
        if (!gravrd_frame_find(c->frame, nv->name)) return unknown_variable(c, nv);
        return gravrd_error_set(c->err, GRAVRD_ERR_INVALID,
                                "variable '%s' is numeric; compare it with a number, not with \"%s\" (position %d)",
                                nv->name, s->name, s->pos);
    }
    return gravrd_error_set(c->err, GRAVRD_ERR_INVALID,
                            "cannot compare a number with the text \"%s\" at position %d", s->name, cmp->pos);
}

/* Comparison where at least one side is text. */
static gravrd_status eval_text_cmp(ectx *c, const gravrd_expr *e, double *out)
{
    const gravrd_expr *l = e->args[0], *r = e->args[1];
    gravrd_op op = e->op;
    if (!is_text(c, l)) return text_vs_number(c, r, l, e);
    if (!is_text(c, r)) return text_vs_number(c, l, r, e);
    const gravrd_column *lf = factor_column(c, l), *rf = factor_column(c, r);
    const size_t n = c->n;

    if (!lf && !rf) { /* "a" < "b": a constant */
        double v = cmp_holds(op, strcmp(fml_unparen(l)->name, fml_unparen(r)->name));
        for (size_t i = 0; i < n; i++) out[i] = v;
        return GRAVRD_OK;
    }
    if (lf && rf) {
        for (size_t i = 0; i < n; i++) {
            int32_t a = lf->codes_N[i], b = rf->codes_N[i];
            out[i] = valid_code(lf, a) && valid_code(rf, b)
                         ? cmp_holds(op, strcmp(lf->levels_L[a], rf->levels_L[b]))
                         : NAN;
        }
        return GRAVRD_OK;
    }
    if (!lf) { /* "a" == month: same as month == "a" with the order flipped */
        lf = rf;
        r = e->args[0];
        op = flip(op);
    }
    /* Decide once per level, then map the codes: one strcmp per level, not
     * per row. */
    const char *s = fml_unparen(r)->name;
    double *by_level = alloc_rows((size_t)lf->n_levels);
    if (!by_level) return nomem(c);
    for (int32_t k = 0; k < lf->n_levels; k++) by_level[k] = cmp_holds(op, strcmp(lf->levels_L[k], s));
    for (size_t i = 0; i < n; i++) {
        int32_t a = lf->codes_N[i];
        out[i] = valid_code(lf, a) ? by_level[a] : NAN;
    }
    free(by_level);
    return GRAVRD_OK;
}

/* a = a op b, where b is a vector or (b_scalar) one value. */
#define BINARY_LOOP(EXPR)                                                                                    \
    do {                                                                                                     \
        if (b_scalar) {                                                                                      \
            const double y = *b;                                                                             \
            for (size_t i = 0; i < n; i++) {                                                                 \
                const double x = a[i];                                                                       \
                a[i] = (EXPR);                                                                               \
            }                                                                                                \
        } else {                                                                                             \
            for (size_t i = 0; i < n; i++) {                                                                 \
                const double x = a[i], y = b[i];                                                             \
                a[i] = (EXPR);                                                                               \
            }                                                                                                \
        }                                                                                                    \
    } while (0)

#define EITHER_NAN (isnan(x) || isnan(y))

static void apply_binary(gravrd_op op, double *a, const double *b, int b_scalar, size_t n)
{
    switch (op) {
    case GRAVRD_OP_ADD: BINARY_LOOP(x + y); break;
    case GRAVRD_OP_SUB: BINARY_LOOP(x - y); break;
    case GRAVRD_OP_MUL: BINARY_LOOP(x * y); break;
    case GRAVRD_OP_DIV: BINARY_LOOP(x / y); break; /* IEEE: x/0 is +-Inf or NaN */
    /* C's pow matches R's ^ on the special cases too: x^0 = 1 and 1^y = 1
     * even for NaN. */
    case GRAVRD_OP_POW: BINARY_LOOP(pow(x, y)); break;
    case GRAVRD_OP_EQ: BINARY_LOOP(EITHER_NAN ? NAN : (double)(x == y)); break;
    case GRAVRD_OP_NE: BINARY_LOOP(EITHER_NAN ? NAN : (double)(x != y)); break;
    case GRAVRD_OP_LT: BINARY_LOOP(EITHER_NAN ? NAN : (double)(x < y)); break;
    case GRAVRD_OP_LE: BINARY_LOOP(EITHER_NAN ? NAN : (double)(x <= y)); break;
    case GRAVRD_OP_GT: BINARY_LOOP(EITHER_NAN ? NAN : (double)(x > y)); break;
    case GRAVRD_OP_GE: BINARY_LOOP(EITHER_NAN ? NAN : (double)(x >= y)); break;
    /* R's three-valued logic: a FALSE operand decides &, a TRUE one decides |.
     * (NaN == 0 is false and NaN != 0 is true, hence the explicit tests.) */
    case GRAVRD_OP_AND: BINARY_LOOP((x == 0 || y == 0) ? 0.0 : (EITHER_NAN ? NAN : 1.0)); break;
    case GRAVRD_OP_OR:
        BINARY_LOOP(((!isnan(x) && x != 0) || (!isnan(y) && y != 0)) ? 1.0 : (EITHER_NAN ? NAN : 0.0));
        break;
    default: break;
    }
}

static gravrd_status eval_binary(ectx *c, const gravrd_expr *e, double *out)
{
    if (e->n_args != 2)
        return gravrd_error_set(c->err, GRAVRD_ERR_INVALID, "malformed expression at position %d", e->pos);
    if (is_comparison(e->op) && (is_text(c, e->args[0]) || is_text(c, e->args[1])))
        return eval_text_cmp(c, e, out);

    gravrd_status st = eval_node(c, e->args[0], out);
    if (st != GRAVRD_OK) return st;
    const gravrd_expr *r = fml_unparen(e->args[1]);
    if (r->kind == GRAVRD_EXPR_NUMBER) {
        apply_binary(e->op, out, &r->number, 1, c->n);
        return GRAVRD_OK;
    }
    double *tmp = alloc_rows(c->n);
    if (!tmp) return nomem(c);
    st = eval_node(c, r, tmp);
    if (st == GRAVRD_OK) apply_binary(e->op, out, tmp, 0, c->n);
    free(tmp);
    return st;
}

static gravrd_status eval_unary(ectx *c, const gravrd_expr *e, double *out)
{
    if (e->n_args != 1)
        return gravrd_error_set(c->err, GRAVRD_ERR_INVALID, "malformed expression at position %d", e->pos);
    gravrd_status st = eval_node(c, e->args[0], out);
    if (st != GRAVRD_OK) return st;
    const size_t n = c->n;
    if (e->op == GRAVRD_OP_NEG) {
        for (size_t i = 0; i < n; i++) out[i] = -out[i];
    } else {
        for (size_t i = 0; i < n; i++) out[i] = isnan(out[i]) ? NAN : (double)(out[i] == 0);
    }
    return GRAVRD_OK;
}

typedef enum { FN_NONE, FN_IDENTITY, FN_LOG, FN_LOG1P, FN_EXP, FN_SQRT, FN_ABS } builtin_fn;

static builtin_fn builtin(const char *name)
{
    if (!strcmp(name, FML_PAREN_CALL) || !strcmp(name, "I")) return FN_IDENTITY;
    if (!strcmp(name, "log")) return FN_LOG;
    if (!strcmp(name, "log1p")) return FN_LOG1P;
    if (!strcmp(name, "exp")) return FN_EXP;
    if (!strcmp(name, "sqrt")) return FN_SQRT;
    if (!strcmp(name, "abs")) return FN_ABS;
    return FN_NONE;
}

int gravrd_expr_uses_env(const gravrd_expr *e)
{
    if (!e)
        return 0;
    if (e->kind == GRAVRD_EXPR_CALL && builtin(e->name) == FN_NONE)
        return 1;
    for (int i = 0; i < e->n_args; i++)
        if (gravrd_expr_uses_env(e->args[i]))
            return 1;
    return 0;
}

/* A function the env resolves: arguments are evaluated first; a string
 * literal or a bare factor column is passed as NULL (the callee can read it
 * from call->args), since it has no numeric vector. */
static gravrd_status eval_custom(ectx *c, const gravrd_expr *e, double *out)
{
    if (!c->env->call)
        return gravrd_error_set(c->err, GRAVRD_ERR_INVALID, "unknown function '%s' at position %d", e->name, e->pos);
    gravrd_status st = GRAVRD_OK;
    double **args = NULL;
    if (e->n_args > 0) {
        args = calloc((size_t)e->n_args, sizeof *args);
        if (!args) return nomem(c);
    }
    for (int i = 0; i < e->n_args; i++) {
        if (is_text(c, e->args[i])) continue;
        if (!(args[i] = alloc_rows(c->n))) {
            st = nomem(c);
            break;
        }
        if ((st = eval_node(c, e->args[i], args[i])) != GRAVRD_OK) break;
    }
    if (st == GRAVRD_OK) {
        gravrd_error_clear(c->err);
        st = c->env->call(c->env, e->name, (const double *const *)args, e->n_args, e, out, c->err);
        if (st != GRAVRD_OK && c->err && c->err->message[0] == '\0')
            gravrd_error_set(c->err, st, "function '%s' at position %d failed", e->name, e->pos);
    }
    for (int i = 0; i < e->n_args; i++) free(args[i]);
    free(args);
    return st;
}

static gravrd_status eval_call(ectx *c, const gravrd_expr *e, double *out)
{
    builtin_fn fn = builtin(e->name);
    if (fn == FN_NONE) return eval_custom(c, e, out);
    if (e->n_args != 1)
        return gravrd_error_set(c->err, GRAVRD_ERR_INVALID, "%s() takes one argument, got %d (position %d)",
                                e->name, e->n_args, e->pos);
    gravrd_status st = eval_node(c, e->args[0], out);
    if (st != GRAVRD_OK) return st;
    const size_t n = c->n;
    switch (fn) {
    case FN_LOG: for (size_t i = 0; i < n; i++) out[i] = log(out[i]); break;
    case FN_LOG1P: for (size_t i = 0; i < n; i++) out[i] = log1p(out[i]); break;
    case FN_EXP: for (size_t i = 0; i < n; i++) out[i] = exp(out[i]); break;
    case FN_SQRT: for (size_t i = 0; i < n; i++) out[i] = sqrt(out[i]); break;
    case FN_ABS: for (size_t i = 0; i < n; i++) out[i] = fabs(out[i]); break;
    default: break;
    }
    return GRAVRD_OK;
}

static gravrd_status eval_node(ectx *c, const gravrd_expr *e, double *out)
{
    if (!e) return gravrd_error_set(c->err, GRAVRD_ERR_INVALID, "malformed expression (missing operand)");
    const size_t n = c->n;
    switch (e->kind) {
    case GRAVRD_EXPR_NUMBER:
        for (size_t i = 0; i < n; i++) out[i] = e->number;
        return GRAVRD_OK;
    case GRAVRD_EXPR_STRING:
        return gravrd_error_set(c->err, GRAVRD_ERR_INVALID,
                                "the text \"%s\" at position %d can only be compared with a text variable",
                                e->name, e->pos);
    case GRAVRD_EXPR_VAR: {
        const gravrd_column *col = gravrd_frame_find(c->frame, e->name);
        if (!col) return unknown_variable(c, e);
        if (col->type == GRAVRD_COL_FACTOR) return factor_as_number(c, col);
        if (n) memcpy(out, col->num_N, n * sizeof *out);
        return GRAVRD_OK;
    }
    case GRAVRD_EXPR_UNARY: return eval_unary(c, e, out);
    case GRAVRD_EXPR_BINARY: return eval_binary(c, e, out);
    case GRAVRD_EXPR_CALL: return eval_call(c, e, out);
    }
    return gravrd_error_set(c->err, GRAVRD_ERR_INVALID, "malformed expression at position %d", e->pos);
}

gravrd_status gravrd_expr_eval(const gravrd_expr *e, const gravrd_eval_env *env, double *out_N, gravrd_error *err)
{
    if (!e || !env || !env->frame || (!out_N && env->frame->n_rows > 0))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_expr_eval: NULL expression, frame or output");
    ectx c = {env, env->frame, env->frame->n_rows, err};
    return eval_node(&c, e, out_N);
}
