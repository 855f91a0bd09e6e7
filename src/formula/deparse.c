/* deparse.c - canonical text of an expression, as R's deparse() writes it.
 *
 * These strings are the coefficient and outcome names, so they must match
 * what fixest prints: "log(dist_km)", "I(x^2)", "I(a + b)", "a/b", "-x",
 * "!x", "a == \"b\"", "a > 1 & b < 2". R's spacing: spaces around + - * and
 * comparisons, & and |; none around / ^ and after unary - and !.
 *
 * Parentheses: the parser keeps the user's parentheses as "(" nodes (R's `(`
 * call), so a parsed expression deparses exactly as R would (I((a * b) + c)
 * keeps its redundant pair). For trees built by hand, deparse also adds
 * parentheses where precedence requires them.
 *
 * Numbers follow R's formatting with 15 significant digits: the shortest
 * decimal that reproduces the value to 15 digits, in fixed notation unless
 * scientific is narrower (R's default scipen = 0): 2, 0.5, 0.001, 1e-04,
 * 1e+05, 123456. TRUE/FALSE/NA were read as numbers and come back as 1, 0,
 * NaN. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

typedef struct {
    char *buf;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (b->len + n + 1 > cap) cap *= 2;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_puts(sbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

void fml_format_number(double x, char *buf, size_t size)
{
    if (isnan(x)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(x)) {
        snprintf(buf, size, x > 0 ? "Inf" : "-Inf");
        return;
    }
    if (x == 0) {
        snprintf(buf, size, "0");
        return;
    }
    /* 15 significant digits in scientific form, then the trailing zeros of
     * the mantissa tell how many digits the value really needs. */
    char e[40];
    snprintf(e, sizeof e, "%.14e", fabs(x));
    char *epos = strchr(e, 'e');
    int exp10 = epos ? atoi(epos + 1) : 0;
    int nsig = 15;
    /* mantissa digits are e[0] and e[2..15] */
    while (nsig > 1 && e[nsig] == '0') nsig--;
    int neg = x < 0;

    int sci_width = neg + (nsig > 1 ? nsig + 1 : 1) + (abs(exp10) >= 100 ? 5 : 4);
    int rgt, left;
    if (exp10 >= 0) {
        left = exp10 + 1;
        rgt = nsig - exp10 - 1;
        if (rgt < 0) rgt = 0;
    } else {
        left = 1;
        rgt = nsig - exp10 - 1;
    }
    int fixed_width = neg + left + (rgt > 0 ? rgt + 1 : 0);
    if (fixed_width <= sci_width) snprintf(buf, size, "%.*f", rgt, x);
    else snprintf(buf, size, "%.*e", nsig - 1, x);
}

static const char *const r_reserved[] = {
    "if", "else", "repeat", "while", "function", "for", "next", "break", "in", "TRUE", "FALSE", "NULL",
    "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_", "NA_complex_", NULL
};

/* R's rule for names that need no back quotes: a letter or '.' first (a '.'
 * not followed by a digit), then letters, digits, '.' and '_'; not reserved.
 * Bytes >= 0x80 count as letters (UTF-8 names in a UTF-8 locale). */
int fml_is_syntactic_name(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!u[0]) return 0;
    if (!(isalpha(u[0]) || u[0] == '.' || u[0] >= 0x80)) return 0;
    if (u[0] == '.' && isdigit(u[1])) return 0;
    for (const unsigned char *q = u + 1; *q; q++)
        if (!(isalnum(*q) || *q == '.' || *q == '_' || *q >= 0x80)) return 0;
    for (const char *const *w = r_reserved; *w; w++)
        if (!strcmp(s, *w)) return 0;
    return 1;
}

static void put_name(sbuf *b, const char *name)
{
    if (fml_is_syntactic_name(name)) {
        sb_puts(b, name);
    } else {
        sb_puts(b, "`");
        sb_puts(b, name);
        sb_puts(b, "`");
    }
}

static void put_string(sbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        char tmp[8];
        switch (*q) {
        case '"': sb_puts(b, "\\\""); break;
        case '\\': sb_puts(b, "\\\\"); break;
        case '\n': sb_puts(b, "\\n"); break;
        case '\t': sb_puts(b, "\\t"); break;
        case '\r': sb_puts(b, "\\r"); break;
        default:
            if (*q < 0x20 || *q == 0x7f) {
                snprintf(tmp, sizeof tmp, "\\%03o", *q);
                sb_puts(b, tmp);
            } else {
                sb_add(b, (const char *)q, 1);
            }
        }
    }
    sb_puts(b, "\"");
}

/* Precedence levels for deciding parentheses on hand-built trees. */
enum { PR_OR = 1, PR_AND, PR_NOT, PR_CMP, PR_ADD, PR_MUL, PR_NEG, PR_POW, PR_ATOM };

static int prec(const gravrd_expr *e)
{
    if (e->kind == GRAVRD_EXPR_UNARY) return e->op == GRAVRD_OP_NOT ? PR_NOT : PR_NEG;
    if (e->kind != GRAVRD_EXPR_BINARY) return PR_ATOM;
    switch (e->op) {
    case GRAVRD_OP_OR: return PR_OR;
    case GRAVRD_OP_AND: return PR_AND;
    case GRAVRD_OP_ADD:
    case GRAVRD_OP_SUB: return PR_ADD;
    case GRAVRD_OP_MUL:
    case GRAVRD_OP_DIV: return PR_MUL;
    case GRAVRD_OP_POW: return PR_POW;
    default: return PR_CMP;
    }
}

static const char *binary_text(gravrd_op op)
{
    switch (op) {
    case GRAVRD_OP_ADD: return " + ";
    case GRAVRD_OP_SUB: return " - ";
    case GRAVRD_OP_MUL: return " * ";
    case GRAVRD_OP_DIV: return "/";
    case GRAVRD_OP_POW: return "^";
    case GRAVRD_OP_EQ: return " == ";
    case GRAVRD_OP_NE: return " != ";
    case GRAVRD_OP_LT: return " < ";
    case GRAVRD_OP_LE: return " <= ";
    case GRAVRD_OP_GT: return " > ";
    case GRAVRD_OP_GE: return " >= ";
    case GRAVRD_OP_AND: return " & ";
    case GRAVRD_OP_OR: return " | ";
    default: return " ? ";
    }
}

static void dep(sbuf *b, const gravrd_expr *e);

static void dep_wrapped(sbuf *b, const gravrd_expr *e, int wrap)
{
    if (wrap) sb_puts(b, "(");
    dep(b, e);
    if (wrap) sb_puts(b, ")");
}

static void dep(sbuf *b, const gravrd_expr *e)
{
    char num[64];
    if (!e) {
        sb_puts(b, "NULL");
        return;
    }
    switch (e->kind) {
    case GRAVRD_EXPR_NUMBER:
        fml_format_number(e->number, num, sizeof num);
        sb_puts(b, num);
        break;
    case GRAVRD_EXPR_STRING:
        put_string(b, e->name ? e->name : "");
        break;
    case GRAVRD_EXPR_VAR:
        put_name(b, e->name ? e->name : "");
        break;
    case GRAVRD_EXPR_CALL:
        if (fml_is_paren(e)) {
            dep_wrapped(b, e->args[0], 1);
            break;
        }
        put_name(b, e->name ? e->name : "");
        sb_puts(b, "(");
        for (int i = 0; i < e->n_args; i++) {
            if (i) sb_puts(b, ", ");
            dep(b, e->args[i]);
        }
        sb_puts(b, ")");
        break;
    case GRAVRD_EXPR_UNARY: {
        sb_puts(b, e->op == GRAVRD_OP_NOT ? "!" : "-");
        const gravrd_expr *a = e->n_args > 0 ? e->args[0] : NULL;
        /* A binary operand binding looser than the prefix operator needs
         * parentheses; a prefix operand never does (--x, -!x). */
        dep_wrapped(b, a, a && a->kind == GRAVRD_EXPR_BINARY && prec(a) < prec(e));
        break;
    }
    case GRAVRD_EXPR_BINARY: {
        const gravrd_expr *l = e->n_args > 0 ? e->args[0] : NULL;
        const gravrd_expr *r = e->n_args > 1 ? e->args[1] : NULL;
        int p = prec(e);
        int wl = 0, wr = 0;
        if (l && (l->kind == GRAVRD_EXPR_BINARY || l->kind == GRAVRD_EXPR_UNARY)) {
            int pl = prec(l);
            /* ^ is right associative and comparisons do not chain, so an
             * equal-precedence left operand needs parentheses for those. */
            wl = pl < p || (pl == p && l->kind == GRAVRD_EXPR_BINARY && (p == PR_POW || p == PR_CMP));
        } else if (l && l->kind == GRAVRD_EXPR_NUMBER && p == PR_POW && signbit(l->number) && !isnan(l->number)) {
            wl = 1; /* a negative constant as base: (-2)^2, not -2^2 */
        }
        if (r && r->kind == GRAVRD_EXPR_BINARY) {
            int pr = prec(r);
            wr = pr < p || (pr == p && p != PR_POW);
        }
        dep_wrapped(b, l, wl);
        sb_puts(b, binary_text(e->op));
        dep_wrapped(b, r, wr);
        break;
    }
    }
}

char *gravrd_expr_deparse(const gravrd_expr *e)
{
    sbuf b = {0};
    dep(&b, e);
    if (b.oom) {
        free(b.buf);
        return NULL;
    }
    if (!b.buf) return strdup("");
    return b.buf;
}
