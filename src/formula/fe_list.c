/* fe_list.c - lists of fixed effects "a + b^c", the part of a formula after
 * '|' and the syntax of --cluster (gravrd_fe_list_parse).
 *
 * Items are plain column names (or `back quoted`), combined with '^'. A
 * repeated item is kept once, as fixest does (it applies unique()). */
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

void gravrd_fe_terms_free(gravrd_fe_term *terms, int n)
{
    if (!terms) return;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < terms[i].n_vars; j++) free(terms[i].vars[j]);
        free(terms[i].vars);
        free(terms[i].name);
    }
    free(terms);
}

static gravrd_status nomem(fml_parser *p)
{
    return gravrd_error_set(p->err, GRAVRD_ERR_NOMEM, "out of memory while parsing fixed effects");
}

/* The current token must be a plain name (not a call); else a message
 * saying what a fixed effect may be. */
static gravrd_status expect_fe_name(fml_parser *p)
{
    const fml_token *t = fml_cur(p);
    if (t->kind == TK_NAME && fml_peek(p, 1)->kind != TK_LPAREN) return GRAVRD_OK;
    const fml_token *prev = p->i > 0 ? &p->toks[p->i - 1] : NULL;
    char before[64];
    if (prev) fml_token_describe(p, prev, before, sizeof before);
    switch (t->kind) {
    case TK_END:
    case TK_PLUS:
    case TK_CARET:
    case TK_OR:
        if (prev) return fml_error_at(p, t->pos, "expected a fixed-effect variable after %s", before);
        return fml_error_at(p, t->pos, "expected a fixed-effect variable");
    default:
        return fml_error_at(p, t->pos,
                            "a fixed effect must be a variable name or a combination of names like a^b");
    }
}

/* Appends one name to a growing combination. */
static int add_var(gravrd_fe_term *ft, const char *name)
{
    char **nv = realloc(ft->vars, (size_t)(ft->n_vars + 1) * sizeof *nv);
    if (!nv) return 0;
    ft->vars = nv;
    if (!(ft->vars[ft->n_vars] = strdup(name))) return 0;
    ft->n_vars++;
    return 1;
}

static char *join_vars(const gravrd_fe_term *ft)
{
    size_t n = 1;
    for (int i = 0; i < ft->n_vars; i++) n += strlen(ft->vars[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    size_t k = 0;
    for (int i = 0; i < ft->n_vars; i++) {
        if (i) s[k++] = '^';
        size_t l = strlen(ft->vars[i]);
        memcpy(s + k, ft->vars[i], l);
        k += l;
    }
    s[k] = '\0';
    return s;
}

gravrd_status fml_parse_fe_list(fml_parser *p, gravrd_fe_term **out, int *n_out)
{
    gravrd_fe_term *list = NULL;
    int n = 0;
    gravrd_fe_term cur = {0};
    gravrd_status st;
    *out = NULL;
    *n_out = 0;

    for (;;) {
        st = expect_fe_name(p);
        if (st != GRAVRD_OK) goto fail;
        if (!add_var(&cur, fml_cur(p)->text)) goto oom;
        fml_advance(p);
        while (fml_cur(p)->kind == TK_CARET) {
            fml_advance(p);
            st = expect_fe_name(p);
            if (st != GRAVRD_OK) goto fail;
            if (!add_var(&cur, fml_cur(p)->text)) goto oom;
            fml_advance(p);
        }
        if (!(cur.name = join_vars(&cur))) goto oom;

        int dup = 0;
        for (int i = 0; i < n && !dup; i++) dup = !strcmp(list[i].name, cur.name);
        if (dup) {
            for (int j = 0; j < cur.n_vars; j++) free(cur.vars[j]);
            free(cur.vars);
            free(cur.name);
        } else {
            gravrd_fe_term *nl = realloc(list, (size_t)(n + 1) * sizeof *nl);
            if (!nl) goto oom;
            list = nl;
            list[n++] = cur;
        }
        memset(&cur, 0, sizeof cur);

        const fml_token *t = fml_cur(p);
        if (t->kind == TK_PLUS) {
            fml_advance(p);
            continue;
        }
        if (t->kind == TK_END) break;
        if (t->kind == TK_OR && p->in_formula) {
            st = fml_error_at(p, t->pos,
                              "only one '|' is allowed (instrumental variables are not supported)");
            goto fail;
        }
        if (t->kind == TK_LPAREN || t->kind == TK_NUM || t->kind == TK_STR || t->kind == TK_NAME) {
            st = fml_error_at(p, t->pos,
                              "a fixed effect must be a variable name or a combination of names like a^b");
            goto fail;
        }
        char what[64];
        fml_token_describe(p, t, what, sizeof what);
        st = fml_error_at(p, t->pos, "unexpected %s; fixed effects are joined by '+' and combined with '^'",
                          what);
        goto fail;
    }
    *out = list;
    *n_out = n;
    return GRAVRD_OK;

oom:
    st = nomem(p);
fail:
    for (int j = 0; j < cur.n_vars; j++) free(cur.vars[j]);
    free(cur.vars);
    free(cur.name);
    gravrd_fe_terms_free(list, n);
    return st;
}

gravrd_status gravrd_fe_list_parse(const char *text, gravrd_fe_term **out, int *n_out, gravrd_error *err)
{
    if (!out || !n_out) return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_fe_list_parse: NULL output");
    *out = NULL;
    *n_out = 0;
    if (!text) return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_fe_list_parse: text is NULL");
    fml_parser p;
    gravrd_status st = fml_parser_init(&p, text, err);
    if (st != GRAVRD_OK) return st;
    if (fml_cur(&p)->kind == TK_END) st = fml_error_at(&p, 0, "empty list of variables");
    else st = fml_parse_fe_list(&p, out, n_out);
    fml_parser_done(&p);
    return st;
}
