/* parse_expr.c - the expression language (R's operators and precedence) and
 * gravrd_expr_parse, used for --subset and inside formula function calls.
 *
 * Precedence climbing with R's table, tightest first:
 *   ^ (right associative)       2^3^2 = 2^(3^2)
 *   unary - +                   -2^2 = -(2^2)
 *   * /
 *   + -
 *   == != < <= > >=             not associative: a < b < c is an error, as in R
 *   !                           below comparisons: !a == b is !(a == b)
 *   &
 *   |
 * A prefix operator may start any operand and takes everything binding
 * tighter than itself: 2^-1 is 2^(-1) and 1 + !x == 2 is 1 + !(x == 2), as R
 * parses them. Explicit parentheses become "(" CALL nodes (R's `(`), so
 * deparse gives back exactly what the user wrote. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

/* Binding powers: an infix operator binds while its left power is at least
 * the minimum of the current level; the right operand is parsed with the
 * right power (left + 1 for left associativity, equal for ^). */
enum {
    BP_OR = 2,
    BP_AND = 4,
    BP_NOT_OPERAND = 5, /* operand of '!': stops at & and | */
    BP_CMP = 6,
    BP_ADD = 8,
    BP_MUL = 10,
    BP_NEG_OPERAND = 12, /* operand of unary -: only ^ binds tighter */
    BP_POW = 14
};

typedef struct {
    gravrd_op op;
    int lbp, rbp;
} infix_info;

static int infix(fml_tok_kind k, infix_info *info)
{
    switch (k) {
    case TK_OR: *info = (infix_info){GRAVRD_OP_OR, BP_OR, BP_OR + 1}; return 1;
    case TK_AND: *info = (infix_info){GRAVRD_OP_AND, BP_AND, BP_AND + 1}; return 1;
    case TK_EQ: *info = (infix_info){GRAVRD_OP_EQ, BP_CMP, BP_CMP + 1}; return 1;
    case TK_NE: *info = (infix_info){GRAVRD_OP_NE, BP_CMP, BP_CMP + 1}; return 1;
    case TK_LT: *info = (infix_info){GRAVRD_OP_LT, BP_CMP, BP_CMP + 1}; return 1;
    case TK_LE: *info = (infix_info){GRAVRD_OP_LE, BP_CMP, BP_CMP + 1}; return 1;
    case TK_GT: *info = (infix_info){GRAVRD_OP_GT, BP_CMP, BP_CMP + 1}; return 1;
    case TK_GE: *info = (infix_info){GRAVRD_OP_GE, BP_CMP, BP_CMP + 1}; return 1;
    case TK_PLUS: *info = (infix_info){GRAVRD_OP_ADD, BP_ADD, BP_ADD + 1}; return 1;
    case TK_MINUS: *info = (infix_info){GRAVRD_OP_SUB, BP_ADD, BP_ADD + 1}; return 1;
    case TK_STAR: *info = (infix_info){GRAVRD_OP_MUL, BP_MUL, BP_MUL + 1}; return 1;
    case TK_SLASH: *info = (infix_info){GRAVRD_OP_DIV, BP_MUL, BP_MUL + 1}; return 1;
    case TK_CARET: *info = (infix_info){GRAVRD_OP_POW, BP_POW, BP_POW}; return 1;
    default: return 0;
    }
}

static int is_operator_token(fml_tok_kind k)
{
    infix_info info;
    return infix(k, &info) || k == TK_NOT || k == TK_COLON || k == TK_TILDE;
}

gravrd_status fml_error_at(fml_parser *p, int pos, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return fml_syntax_error(p->src, pos, p->err, "%s", what);
}

gravrd_status fml_parser_init(fml_parser *p, const char *src, gravrd_error *err)
{
    memset(p, 0, sizeof *p);
    p->src = src;
    p->err = err;
    gravrd_status st = fml_lex(src, &p->toks, &p->n_toks, err);
    if (st != GRAVRD_OK) return st;
    p->len = (int)strlen(src);
    return GRAVRD_OK;
}

void fml_parser_done(fml_parser *p)
{
    fml_tokens_free(p->toks, p->n_toks);
    p->toks = NULL;
    p->n_toks = 0;
}

static gravrd_status nomem(fml_parser *p)
{
    return gravrd_error_set(p->err, GRAVRD_ERR_NOMEM, "out of memory while parsing an expression");
}

/* Error for a token that cannot start an operand. */
static gravrd_status operand_error(fml_parser *p)
{
    const fml_token *t = fml_cur(p);
    const fml_token *prev = p->i > 0 ? &p->toks[p->i - 1] : NULL;
    char what[64], before[64];
    fml_token_describe(p, t, what, sizeof what);
    if (t->kind == TK_END) {
        if (p->open_parens > 0) return fml_error_at(p, t->pos, "expected ')'");
        if (prev && is_operator_token(prev->kind)) {
            fml_token_describe(p, prev, before, sizeof before);
            return fml_error_at(p, t->pos, "expected a value after %s", before);
        }
        return fml_error_at(p, t->pos, "unexpected end of text");
    }
    if (t->kind == TK_RPAREN && prev && prev->kind == TK_LPAREN)
        return fml_error_at(p, t->pos, "empty parentheses");
    if (prev && (is_operator_token(prev->kind) || prev->kind == TK_LPAREN || prev->kind == TK_COMMA)) {
        fml_token_describe(p, prev, before, sizeof before);
        return fml_error_at(p, t->pos, "expected a value after %s, found %s", before, what);
    }
    return fml_error_at(p, t->pos, "unexpected %s", what);
}

static gravrd_status parse_bp(fml_parser *p, int min_bp, gravrd_expr **out, int *depth);

/* Arguments of name( ... ): comma-separated full expressions. */
static gravrd_status parse_call_args(fml_parser *p, gravrd_expr *call, int *depth)
{
    int cap = 0;
    if (fml_cur(p)->kind == TK_RPAREN) return GRAVRD_OK;
    for (;;) {
        const fml_token *t = fml_cur(p);
        if (t->kind == TK_COMMA || t->kind == TK_RPAREN) {
            char before[64];
            fml_token_describe(p, &p->toks[p->i - 1], before, sizeof before);
            return fml_error_at(p, t->pos, "expected an argument after %s", before);
        }
        gravrd_expr *arg = NULL;
        int d = 0;
        gravrd_status st = parse_bp(p, 0, &arg, &d);
        if (st != GRAVRD_OK) return st;
        if (call->n_args == cap) {
            int ncap = cap ? 2 * cap : 2;
            gravrd_expr **na = realloc(call->args, (size_t)ncap * sizeof *na);
            if (!na) {
                gravrd_expr_free(arg);
                return nomem(p);
            }
            call->args = na;
            cap = ncap;
        }
        call->args[call->n_args++] = arg;
        if (d + 1 > *depth) *depth = d + 1;
        t = fml_cur(p);
        if (t->kind == TK_COMMA) {
            fml_advance(p);
            continue;
        }
        if (t->kind == TK_RPAREN) return GRAVRD_OK;
        if (t->kind == TK_END) return fml_error_at(p, t->pos, "expected ')'");
        char what[64];
        fml_token_describe(p, t, what, sizeof what);
        if (t->kind == TK_COLON)
            return fml_error_at(p, t->pos, "':' only joins the factors of a formula term; use '*' to multiply");
        return fml_error_at(p, t->pos, "expected ',' or ')', found %s", what);
    }
}

static gravrd_status primary(fml_parser *p, gravrd_expr **out, int *depth)
{
    const fml_token *t = fml_cur(p);
    gravrd_expr *e = NULL;
    gravrd_status st;
    *depth = 1;
    switch (t->kind) {
    case TK_NUM:
        if (!(e = fml_node_new(GRAVRD_EXPR_NUMBER, t->pos))) return nomem(p);
        e->number = t->num;
        fml_advance(p);
        break;
    case TK_STR:
        if (!(e = fml_node_new(GRAVRD_EXPR_STRING, t->pos)) || !(e->name = strdup(t->text))) goto oom;
        fml_advance(p);
        break;
    case TK_NAME:
        if (fml_peek(p, 1)->kind == TK_LPAREN) {
            if (!(e = fml_node_new(GRAVRD_EXPR_CALL, t->pos)) || !(e->name = strdup(t->text))) goto oom;
            fml_advance(p);
            fml_advance(p);
            p->open_parens++;
            int d = 0;
            st = parse_call_args(p, e, &d);
            if (st != GRAVRD_OK) goto fail;
            p->open_parens--;
            fml_advance(p); /* ')' */
            *depth = d + 1;
        } else {
            if (!(e = fml_node_new(GRAVRD_EXPR_VAR, t->pos)) || !(e->name = strdup(t->text))) goto oom;
            fml_advance(p);
        }
        break;
    case TK_LPAREN: {
        if (!(e = fml_node_new(GRAVRD_EXPR_CALL, t->pos)) || !(e->name = strdup(FML_PAREN_CALL)) ||
            !(e->args = calloc(1, sizeof *e->args)))
            goto oom;
        fml_advance(p);
        p->open_parens++;
        int d = 0;
        st = parse_bp(p, 0, &e->args[0], &d);
        if (st != GRAVRD_OK) goto fail;
        e->n_args = 1;
        const fml_token *c = fml_cur(p);
        if (c->kind != TK_RPAREN) {
            char what[64];
            fml_token_describe(p, c, what, sizeof what);
            if (c->kind == TK_END) st = fml_error_at(p, c->pos, "expected ')'");
            else if (c->kind == TK_COLON)
                st = fml_error_at(p, c->pos, "':' only joins the factors of a formula term; use '*' to multiply");
            else st = fml_error_at(p, c->pos, "expected ')', found %s", what);
            goto fail;
        }
        p->open_parens--;
        fml_advance(p);
        *depth = d + 1;
        break;
    }
    default:
        return operand_error(p);
    }
    *out = e;
    return GRAVRD_OK;
oom:
    st = nomem(p);
fail:
    gravrd_expr_free(e);
    return st;
}

static gravrd_status parse_bp(fml_parser *p, int min_bp, gravrd_expr **out, int *depth)
{
    gravrd_expr *left = NULL;
    int ldepth = 0;
    gravrd_status st;
    *out = NULL;
    if (++p->depth > FML_MAX_DEPTH) {
        st = fml_error_at(p, fml_cur(p)->pos, "expression nested too deeply (more than %d levels)",
                          FML_MAX_DEPTH);
        goto done;
    }

    const fml_token *t = fml_cur(p);
    if (t->kind == TK_MINUS || t->kind == TK_PLUS || t->kind == TK_NOT) {
        fml_tok_kind k = t->kind;
        int pos = t->pos;
        fml_advance(p);
        gravrd_expr *operand = NULL;
        st = parse_bp(p, k == TK_NOT ? BP_NOT_OPERAND : BP_NEG_OPERAND, &operand, &ldepth);
        if (st != GRAVRD_OK) goto done;
        if (k == TK_PLUS) {
            /* Unary plus changes nothing; it is dropped (the header's tree
             * has no node for it), so "+x" deparses as "x". */
            left = operand;
        } else {
            left = fml_node_new(GRAVRD_EXPR_UNARY, pos);
            gravrd_expr **args = calloc(1, sizeof *args);
            if (!left || !args) {
                free(args);
                gravrd_expr_free(left);
                gravrd_expr_free(operand);
                left = NULL;
                st = nomem(p);
                goto done;
            }
            left->op = k == TK_NOT ? GRAVRD_OP_NOT : GRAVRD_OP_NEG;
            left->args = args;
            left->args[0] = operand;
            left->n_args = 1;
            ldepth++;
        }
    } else {
        st = primary(p, &left, &ldepth);
        if (st != GRAVRD_OK) goto done;
    }

    int last_was_cmp = 0;
    for (;;) {
        t = fml_cur(p);
        infix_info info;
        if (t->kind == TK_COLON) {
            st = fml_error_at(p, t->pos, "':' only joins the factors of a formula term; use '*' to multiply");
            goto done;
        }
        if (!infix(t->kind, &info) || info.lbp < min_bp) break;
        int is_cmp = info.lbp == BP_CMP;
        if (is_cmp && last_was_cmp) {
            st = fml_error_at(p, t->pos, "comparisons cannot be chained; write a < b & b < c");
            goto done;
        }
        int pos = t->pos;
        fml_advance(p);
        gravrd_expr *right = NULL;
        int rdepth = 0;
        st = parse_bp(p, info.rbp, &right, &rdepth);
        if (st != GRAVRD_OK) goto done;
        gravrd_expr *bin = fml_node_new(GRAVRD_EXPR_BINARY, pos);
        gravrd_expr **args = calloc(2, sizeof *args);
        if (!bin || !args) {
            free(args);
            free(bin);
            gravrd_expr_free(right);
            st = nomem(p);
            goto done;
        }
        bin->op = info.op;
        bin->args = args;
        bin->args[0] = left;
        bin->args[1] = right;
        bin->n_args = 2;
        left = bin;
        ldepth = 1 + (ldepth > rdepth ? ldepth : rdepth);
        /* Left-associative chains (a + b + c ...) grow the tree without
         * recursing here, so the depth bound is checked on the result too. */
        if (ldepth > FML_MAX_DEPTH) {
            st = fml_error_at(p, pos, "expression nested too deeply (more than %d levels)", FML_MAX_DEPTH);
            goto done;
        }
        last_was_cmp = is_cmp;
    }
    st = GRAVRD_OK;
done:
    p->depth--;
    if (st != GRAVRD_OK) {
        gravrd_expr_free(left);
        return st;
    }
    if (ldepth > FML_MAX_DEPTH) {
        gravrd_expr_free(left);
        return fml_error_at(p, fml_cur(p)->pos, "expression nested too deeply (more than %d levels)",
                            FML_MAX_DEPTH);
    }
    *out = left;
    *depth = ldepth;
    return GRAVRD_OK;
}

gravrd_status fml_parse_expression(fml_parser *p, gravrd_expr **out)
{
    int depth = 0;
    return parse_bp(p, 0, out, &depth);
}

gravrd_status fml_parse_primary(fml_parser *p, gravrd_expr **out)
{
    int depth = 0;
    *out = NULL;
    return primary(p, out, &depth);
}

gravrd_status fml_check_no_c(fml_parser *p, const gravrd_expr *e)
{
    if (!e) return GRAVRD_OK;
    if (e->kind == GRAVRD_EXPR_CALL && !strcmp(e->name, "c"))
        return fml_error_at(p, e->pos, "c() is only allowed on the left of '~', to list several outcomes");
    for (int i = 0; i < e->n_args; i++) {
        gravrd_status st = fml_check_no_c(p, e->args[i]);
        if (st != GRAVRD_OK) return st;
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_expr_parse(const char *text, gravrd_expr **out, gravrd_error *err)
{
    if (!out) return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_expr_parse: out is NULL");
    *out = NULL;
    if (!text) return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_expr_parse: text is NULL");
    fml_parser p;
    gravrd_status st = fml_parser_init(&p, text, err);
    if (st != GRAVRD_OK) return st;
    gravrd_expr *e = NULL;
    if (fml_cur(&p)->kind == TK_END) {
        st = fml_error_at(&p, 0, "empty expression");
        goto done;
    }
    st = fml_parse_expression(&p, &e);
    if (st != GRAVRD_OK) goto done;
    const fml_token *t = fml_cur(&p);
    if (t->kind != TK_END) {
        char what[64];
        fml_token_describe(&p, t, what, sizeof what);
        if (t->kind == TK_TILDE) st = fml_error_at(&p, t->pos, "'~' only appears in formulas");
        else if (t->kind == TK_RPAREN) st = fml_error_at(&p, t->pos, "unexpected ')' (no matching '(')");
        else st = fml_error_at(&p, t->pos, "unexpected %s", what);
        goto done;
    }
    st = fml_check_no_c(&p, e);
done:
    fml_parser_done(&p);
    if (st != GRAVRD_OK) {
        gravrd_expr_free(e);
        return st;
    }
    *out = e;
    return GRAVRD_OK;
}
