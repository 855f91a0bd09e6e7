/* formula_internal.h - private declarations shared by the src/formula sources:
 * tokens, the parser state, syntax-error reporting and small helpers.
 * Nothing here is part of the public API (include/gravrd/formula.h). */
#ifndef GRAVRD_FORMULA_INTERNAL_H
#define GRAVRD_FORMULA_INTERNAL_H

#include <stddef.h>

#include "gravrd/formula.h"

/* Longest text accepted. Positions are ints (gravrd_expr.pos), and no real
 * formula or --subset expression comes near this. */
#define FML_MAX_TEXT (16 * 1024 * 1024)

/* Deepest expression tree accepted. Evaluation, deparsing, cloning and freeing
 * recurse over the tree, so the bound keeps hostile input from exhausting the
 * stack; a --subset listing a few hundred alternatives stays far below it. */
#define FML_MAX_DEPTH 2000

/* Name of the CALL node that records explicit parentheses, as R's `(`.
 * Keeping it makes deparse reproduce the user's parentheses exactly. */
#define FML_PAREN_CALL "("

typedef enum {
    TK_END = 0,
    TK_NUM, TK_STR, TK_NAME,
    TK_LPAREN, TK_RPAREN, TK_COMMA,
    TK_PLUS, TK_MINUS, TK_STAR, TK_SLASH, TK_CARET, TK_COLON,
    TK_EQ, TK_NE, TK_LT, TK_LE, TK_GT, TK_GE,
    TK_NOT, TK_AND, TK_OR, TK_TILDE
} fml_tok_kind;

typedef struct {
    fml_tok_kind kind;
    int pos;        /* offset of the first character */
    int end;        /* offset just past the last character */
    double num;     /* TK_NUM */
    char *text;     /* TK_NAME (without back quotes), TK_STR (escapes decoded) */
    int quoted;     /* TK_NAME written as `name` */
} fml_token;

typedef struct {
    const char *src;
    int len;
    fml_token *toks;
    int n_toks;       /* the last one is TK_END */
    int i;            /* current token */
    int depth;        /* current recursion depth of the parser */
    int open_parens;  /* parentheses opened and not yet closed */
    int in_formula;   /* parsing a formula (messages mention '|' and '~') */
    gravrd_error *err;
} fml_parser;

/* lexer.c */
gravrd_status fml_lex(const char *src, fml_token **toks, int *n_toks, gravrd_error *err);
void fml_tokens_free(fml_token *toks, int n);

/* syntax_error.c */
gravrd_status fml_syntax_error(const char *src, int pos, gravrd_error *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Short description of a token for messages: "'+'", "'log'", "end of text". */
void fml_token_describe(const fml_parser *p, const fml_token *t, char *buf, size_t size);

/* parser state helpers (parse_expr.c) */
gravrd_status fml_parser_init(fml_parser *p, const char *src, gravrd_error *err);
void fml_parser_done(fml_parser *p);
static inline const fml_token *fml_cur(const fml_parser *p) { return &p->toks[p->i]; }
static inline const fml_token *fml_peek(const fml_parser *p, int k)
{
    int j = p->i + k;
    return &p->toks[j < p->n_toks ? j : p->n_toks - 1];
}
static inline void fml_advance(fml_parser *p)
{
    if (p->i < p->n_toks - 1) p->i++;
}
gravrd_status fml_error_at(fml_parser *p, int pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A complete expression starting at the current token (stops before any
 * token that cannot continue it, e.g. '~', ',' or ')'). */
gravrd_status fml_parse_expression(fml_parser *p, gravrd_expr **out);
/* One operand: number, string, name, call name(args) or ( expr ). */
gravrd_status fml_parse_primary(fml_parser *p, gravrd_expr **out);
/* Rejects c(...) anywhere in e (it only lists outcomes left of '~'). */
gravrd_status fml_check_no_c(fml_parser *p, const gravrd_expr *e);

/* fe_list.c: '+'-joined fixed effects / combinations from the current token
 * to TK_END. */
gravrd_status fml_parse_fe_list(fml_parser *p, gravrd_fe_term **out, int *n_out);

/* expr.c */
gravrd_expr *fml_node_new(gravrd_expr_kind kind, int pos);
int fml_is_paren(const gravrd_expr *e);
const gravrd_expr *fml_unparen(const gravrd_expr *e);

/* deparse.c */
int fml_is_syntactic_name(const char *s);
void fml_format_number(double x, char *buf, size_t size);

#endif
