/* parse_formula.c - gravrd_formula_parse: outcomes ~ terms | fixed effects.
 *
 *   c(y1, log(y2)) ~ x1 + log(x2) + x1:x3 | fe1 + fe2^fe3
 *
 * Left of '~' is one expression, or c(...) listing several. Right of '~' the
 * operators are R's formula operators, not arithmetic: '+' joins terms, ':'
 * joins the factors of an interaction, a*b is a + b + a:b, "0" / "- 1" drop
 * the intercept and "1" keeps it. Arithmetic goes inside a call such as
 * log(a + b) or I(a * b), where the full expression language applies.
 *
 * The term list is normalised as R's terms() does, because fixest names and
 * orders its coefficients from terms(): the factors of an interaction are
 * ordered by where each factor first appears in the formula (y ~ a + b:a
 * gives "a:b"), repeated terms are kept once, and terms are sorted by their
 * number of factors, keeping formula order among equals (y ~ a:b + c gives
 * c, a:b). */
#include <stdlib.h>
#include <string.h>

#include "formula/formula_internal.h"

/* a*b*... over this many products would expand to 2^n - 1 terms */
#define MAX_CROSSED 8

/* A term as a sorted set of indices into the factor table. */
typedef struct {
    int *v;
    int n;
} idset;

typedef struct {
    fml_parser *p;
    gravrd_expr **factors; /* distinct factors in order of first appearance */
    char **factor_names;   /* their deparsed text */
    int n_factors;
    idset *terms;          /* terms as written (after expanding '*') */
    int n_terms, cap_terms;
    int intercept;
} rhs_state;

static gravrd_status nomem(fml_parser *p)
{
    return gravrd_error_set(p->err, GRAVRD_ERR_NOMEM, "out of memory while parsing a formula");
}

static void rhs_free(rhs_state *s)
{
    for (int i = 0; i < s->n_factors; i++) {
        gravrd_expr_free(s->factors[i]);
        free(s->factor_names[i]);
    }
    free(s->factors);
    free(s->factor_names);
    for (int i = 0; i < s->n_terms; i++) free(s->terms[i].v);
    free(s->terms);
}

/* Inserts x keeping the set sorted and without repeats (x:x is x, as in R). */
static int idset_add(idset *s, int x)
{
    int k = 0;
    while (k < s->n && s->v[k] < x) k++;
    if (k < s->n && s->v[k] == x) return 1;
    int *nv = realloc(s->v, (size_t)(s->n + 1) * sizeof *nv);
    if (!nv) return 0;
    s->v = nv;
    memmove(s->v + k + 1, s->v + k, (size_t)(s->n - k) * sizeof *s->v);
    s->v[k] = x;
    s->n++;
    return 1;
}

static int idset_union(const idset *a, const idset *b, idset *out)
{
    out->v = NULL;
    out->n = 0;
    for (int i = 0; i < a->n; i++)
        if (!idset_add(out, a->v[i])) return 0;
    for (int i = 0; i < b->n; i++)
        if (!idset_add(out, b->v[i])) return 0;
    return 1;
}

static int idset_equal(const idset *a, const idset *b)
{
    return a->n == b->n && (a->n == 0 || !memcmp(a->v, b->v, (size_t)a->n * sizeof *a->v));
}

/* Takes ownership of t. */
static int push_term(rhs_state *s, idset t)
{
    if (s->n_terms == s->cap_terms) {
        int cap = s->cap_terms ? 2 * s->cap_terms : 8;
        idset *nt = realloc(s->terms, (size_t)cap * sizeof *nt);
        if (!nt) {
            free(t.v);
            return 0;
        }
        s->terms = nt;
        s->cap_terms = cap;
    }
    s->terms[s->n_terms++] = t;
    return 1;
}

/* Index of factor e in the table (adding it if new). Takes ownership of e. */
static gravrd_status intern_factor(rhs_state *s, gravrd_expr *e, int *idx)
{
    char *name = gravrd_expr_deparse(e);
    if (!name) {
        gravrd_expr_free(e);
        return nomem(s->p);
    }
    for (int i = 0; i < s->n_factors; i++) {
        if (!strcmp(s->factor_names[i], name)) {
            free(name);
            gravrd_expr_free(e);
            *idx = i;
            return GRAVRD_OK;
        }
    }
    gravrd_expr **nf = realloc(s->factors, (size_t)(s->n_factors + 1) * sizeof *nf);
    if (nf) s->factors = nf;
    char **nn = realloc(s->factor_names, (size_t)(s->n_factors + 1) * sizeof *nn);
    if (nn) s->factor_names = nn;
    if (!nf || !nn) {
        free(name);
        gravrd_expr_free(e);
        return nomem(s->p);
    }
    s->factors[s->n_factors] = e;
    s->factor_names[s->n_factors] = name;
    *idx = s->n_factors++;
    return GRAVRD_OK;
}

static int ends_term(fml_tok_kind k) { return k == TK_PLUS || k == TK_MINUS || k == TK_OR || k == TK_END; }

static gravrd_status expected_term(fml_parser *p)
{
    const fml_token *t = fml_cur(p);
    const fml_token *prev = p->i > 0 ? &p->toks[p->i - 1] : NULL;
    char before[64];
    if (!prev) return fml_error_at(p, t->pos, "expected a term");
    fml_token_describe(p, prev, before, sizeof before);
    if (prev->kind == TK_TILDE)
        return fml_error_at(p, t->pos, "expected a term after '~' (write 1 for a model without regressors)");
    return fml_error_at(p, t->pos, "expected a term after %s", before);
}

/* One factor of a term: a variable or a call; then rejects the operators
 * that are arithmetic in R but mean something else (or nothing) in a
 * formula term, pointing to I(...). */
static gravrd_status parse_factor(rhs_state *s, int *idx)
{
    fml_parser *p = s->p;
    const fml_token *t = fml_cur(p);
    char what[64];
    fml_token_describe(p, t, what, sizeof what);
    switch (t->kind) {
    case TK_NAME: break;
    case TK_NUM:
        return fml_error_at(p, t->pos, "a number cannot be part of an interaction term; use I(...) for arithmetic");
    case TK_STR:
        return fml_error_at(p, t->pos, "a text literal cannot be a term");
    case TK_LPAREN:
        return fml_error_at(p, t->pos,
                            "parentheses are not supported between formula terms; write I(...) for arithmetic, "
                            "e.g. I((a + b) * c)");
    case TK_NOT:
    case TK_MINUS:
        return fml_error_at(p, t->pos, "unexpected %s in a term; write I(...) for arithmetic, e.g. I(-x)", what);
    case TK_END:
    case TK_OR:
    case TK_PLUS:
    case TK_STAR:
    case TK_COLON:
    case TK_RPAREN:
    case TK_COMMA:
    case TK_TILDE:
        return expected_term(p);
    default:
        return fml_error_at(p, t->pos, "unexpected %s", what);
    }

    gravrd_expr *e = NULL;
    gravrd_status st = fml_parse_primary(p, &e);
    if (st != GRAVRD_OK) return st;
    if (e->kind == GRAVRD_EXPR_VAR && !t->quoted && !strcmp(e->name, ".")) {
        int pos = e->pos;
        gravrd_expr_free(e);
        return fml_error_at(p, pos, "'.' (all other columns) is not supported; list the regressors");
    }
    if ((st = fml_check_no_c(p, e)) != GRAVRD_OK) {
        gravrd_expr_free(e);
        return st;
    }

    const fml_token *n = fml_cur(p);
    const char *problem = NULL;
    switch (n->kind) {
    case TK_CARET:
        problem = "'^' only combines fixed effects (after '|'); write I(x^2) for a power or ':' for an interaction";
        break;
    case TK_SLASH: problem = "'/' (nesting) is not supported in formula terms; write I(a/b) to divide"; break;
    case TK_EQ:
    case TK_NE:
    case TK_LT:
    case TK_LE:
    case TK_GT:
    case TK_GE: problem = "a comparison in a formula term must be wrapped in I(...), e.g. I(x > 1)"; break;
    case TK_AND: problem = "'&' in a formula term must be wrapped in I(...), e.g. I(a & b)"; break;
    default: break;
    }
    if (problem) {
        gravrd_expr_free(e);
        return fml_error_at(p, n->pos, "%s", problem);
    }
    return intern_factor(s, e, idx);
}

/* factor (':' factor)* */
static gravrd_status parse_product(rhs_state *s, idset *out)
{
    out->v = NULL;
    out->n = 0;
    for (;;) {
        int idx = -1;
        gravrd_status st = parse_factor(s, &idx);
        if (st == GRAVRD_OK && !idset_add(out, idx)) st = nomem(s->p);
        if (st != GRAVRD_OK) {
            free(out->v);
            out->v = NULL;
            return st;
        }
        if (fml_cur(s->p)->kind != TK_COLON) return GRAVRD_OK;
        fml_advance(s->p);
    }
}

/* One '+'-separated item: an intercept marker, or products joined by '*',
 * expanded in R's order: a*b*c gives a, b, a:b, c, a:c, b:c, a:b:c. */
static gravrd_status parse_crossing(rhs_state *s, int minus, int minus_pos)
{
    fml_parser *p = s->p;
    const fml_token *t = fml_cur(p);
    if (minus) {
        if (t->kind == TK_NUM && t->num == 1 && ends_term(fml_peek(p, 1)->kind)) {
            s->intercept = 0;
            fml_advance(p);
            return GRAVRD_OK;
        }
        return fml_error_at(p, minus_pos,
                            "only the intercept can be removed ('- 1'); other terms cannot be subtracted");
    }
    if (t->kind == TK_NUM && ends_term(fml_peek(p, 1)->kind)) {
        if (t->num == 0) s->intercept = 0;
        else if (t->num == 1) s->intercept = 1;
        else
            return fml_error_at(p, t->pos,
                                "a number term can only be 0 or 1 (the intercept); write I(...) for arithmetic");
        fml_advance(p);
        return GRAVRD_OK;
    }

    idset prods[MAX_CROSSED];
    int n_prods = 0;
    gravrd_status st = GRAVRD_OK;
    idset *list = NULL;
    int n_list = 0;
    for (;;) {
        if (n_prods == MAX_CROSSED) {
            st = fml_error_at(p, fml_cur(p)->pos, "more than %d terms crossed with '*'", MAX_CROSSED);
            goto done;
        }
        st = parse_product(s, &prods[n_prods]);
        if (st != GRAVRD_OK) goto done;
        n_prods++;
        if (fml_cur(p)->kind != TK_STAR) break;
        fml_advance(p);
    }

    list = calloc(((size_t)1 << n_prods), sizeof *list);
    if (!list) {
        st = nomem(p);
        goto done;
    }
    for (int j = 0; j < n_prods; j++) {
        int m = n_list;
        if (!idset_union(&prods[j], &(idset){NULL, 0}, &list[n_list++])) goto oom;
        for (int i = 0; i < m; i++)
            if (!idset_union(&list[i], &prods[j], &list[n_list++])) goto oom;
    }
    for (int i = 0; i < n_list; i++) {
        idset term = list[i];
        list[i].v = NULL;
        if (!push_term(s, term)) goto oom;
    }
    goto done;
oom:
    st = nomem(p);
done:
    if (list)
        for (int i = 0; i < n_list; i++) free(list[i].v);
    free(list);
    for (int i = 0; i < n_prods; i++) free(prods[i].v);
    return st;
}

static gravrd_status parse_rhs(rhs_state *s)
{
    fml_parser *p = s->p;
    int minus = 0, minus_pos = 0;
    if (fml_cur(p)->kind == TK_MINUS) {
        minus = 1;
        minus_pos = fml_cur(p)->pos;
        fml_advance(p);
    }
    for (;;) {
        gravrd_status st = parse_crossing(s, minus, minus_pos);
        if (st != GRAVRD_OK) return st;
        const fml_token *t = fml_cur(p);
        if (t->kind == TK_PLUS || t->kind == TK_MINUS) {
            minus = t->kind == TK_MINUS;
            minus_pos = t->pos;
            fml_advance(p);
            continue;
        }
        break;
    }
    const fml_token *t = fml_cur(p);
    if (t->kind == TK_OR || t->kind == TK_END) return GRAVRD_OK;
    char what[64];
    fml_token_describe(p, t, what, sizeof what);
    if (t->kind == TK_TILDE) return fml_error_at(p, t->pos, "only one '~' is allowed");
    if (t->kind == TK_RPAREN) return fml_error_at(p, t->pos, "unexpected ')' (no matching '(')");
    if (t->kind == TK_NAME || t->kind == TK_NUM || t->kind == TK_STR)
        return fml_error_at(p, t->pos, "unexpected %s; terms are joined by '+'", what);
    return fml_error_at(p, t->pos, "unexpected %s", what);
}

/* Moves the distinct terms into f, sorted by their number of factors. */
static gravrd_status build_terms(rhs_state *s, gravrd_formula *f)
{
    int max_n = 0, n_keep = 0;
    char *keep = calloc((size_t)s->n_terms + 1, 1);
    if (!keep) return nomem(s->p);
    for (int i = 0; i < s->n_terms; i++) {
        int dup = 0;
        for (int j = 0; j < i && !dup; j++) dup = keep[j] && idset_equal(&s->terms[i], &s->terms[j]);
        keep[i] = (char)!dup;
        if (!dup) {
            n_keep++;
            if (s->terms[i].n > max_n) max_n = s->terms[i].n;
        }
    }
    if (n_keep == 0) {
        free(keep);
        return GRAVRD_OK;
    }
    f->terms = calloc((size_t)n_keep, sizeof *f->terms);
    if (!f->terms) {
        free(keep);
        return nomem(s->p);
    }
    f->n_terms = n_keep;
    int k = 0;
    for (int order = 1; order <= max_n; order++) {
        for (int i = 0; i < s->n_terms; i++) {
            if (!keep[i] || s->terms[i].n != order) continue;
            gravrd_term *term = &f->terms[k++];
            const idset *ids = &s->terms[i];
            size_t name_len = 1;
            for (int j = 0; j < ids->n; j++) name_len += strlen(s->factor_names[ids->v[j]]) + 1;
            term->name = malloc(name_len);
            term->factors = calloc((size_t)ids->n, sizeof *term->factors);
            if (!term->name || !term->factors) goto oom;
            term->n_factors = ids->n;
            size_t pos = 0;
            for (int j = 0; j < ids->n; j++) {
                const char *fn = s->factor_names[ids->v[j]];
                size_t l = strlen(fn);
                if (j) term->name[pos++] = ':';
                memcpy(term->name + pos, fn, l);
                pos += l;
                if (!(term->factors[j] = gravrd_expr_clone(s->factors[ids->v[j]]))) goto oom;
            }
            term->name[pos] = '\0';
        }
    }
    free(keep);
    return GRAVRD_OK;
oom:
    free(keep);
    return nomem(s->p);
}

void gravrd_formula_free(gravrd_formula *f)
{
    if (!f) return;
    free(f->text);
    for (int i = 0; i < f->n_outcomes; i++) {
        if (f->outcomes) gravrd_expr_free(f->outcomes[i]);
        if (f->outcome_names) free(f->outcome_names[i]);
    }
    free(f->outcomes);
    free(f->outcome_names);
    for (int i = 0; i < f->n_terms; i++) {
        for (int j = 0; j < f->terms[i].n_factors; j++) gravrd_expr_free(f->terms[i].factors[j]);
        free(f->terms[i].factors);
        free(f->terms[i].name);
    }
    free(f->terms);
    gravrd_fe_terms_free(f->fes, f->n_fes);
    free(f);
}

/* Fills f's outcomes from the left-hand side; takes ownership of lhs. */
static gravrd_status set_outcomes(fml_parser *p, gravrd_formula *f, gravrd_expr *lhs)
{
    gravrd_status st;
    int is_c = lhs->kind == GRAVRD_EXPR_CALL && !strcmp(lhs->name, "c");
    if (is_c && lhs->n_args == 0) {
        st = fml_error_at(p, lhs->pos, "c() needs at least one outcome");
        gravrd_expr_free(lhs);
        return st;
    }
    int n = is_c ? lhs->n_args : 1;
    f->outcomes = calloc((size_t)n, sizeof *f->outcomes);
    f->outcome_names = calloc((size_t)n, sizeof *f->outcome_names);
    if (!f->outcomes || !f->outcome_names) {
        gravrd_expr_free(lhs);
        return nomem(p);
    }
    f->n_outcomes = n;
    if (is_c) {
        /* The outcomes are c()'s arguments: move them out, drop the call. */
        for (int i = 0; i < n; i++) {
            f->outcomes[i] = lhs->args[i];
            lhs->args[i] = NULL;
        }
        gravrd_expr_free(lhs);
    } else {
        f->outcomes[0] = lhs;
    }
    for (int i = 0; i < n; i++) {
        if ((st = fml_check_no_c(p, f->outcomes[i])) != GRAVRD_OK) return st;
        if (!(f->outcome_names[i] = gravrd_expr_deparse(f->outcomes[i]))) return nomem(p);
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_formula_parse(const char *text, gravrd_formula **out, gravrd_error *err)
{
    if (!out) return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_formula_parse: out is NULL");
    *out = NULL;
    if (!text) return gravrd_error_set(err, GRAVRD_ERR_INVALID, "gravrd_formula_parse: text is NULL");

    fml_parser p;
    gravrd_status st = fml_parser_init(&p, text, err);
    if (st != GRAVRD_OK) return st;
    p.in_formula = 1;
    rhs_state rs = {.p = &p, .intercept = 1};
    gravrd_formula *f = calloc(1, sizeof *f);
    if (!f || !(f->text = strdup(text))) {
        st = nomem(&p);
        goto done;
    }

    const fml_token *t = fml_cur(&p);
    if (t->kind == TK_END) {
        st = fml_error_at(&p, t->pos, "empty formula; a formula looks like y ~ x1 + x2 | fe1 + fe2");
        goto done;
    }
    if (t->kind == TK_TILDE) {
        st = fml_error_at(&p, t->pos, "missing outcome before '~'");
        goto done;
    }
    gravrd_expr *lhs = NULL;
    if ((st = fml_parse_expression(&p, &lhs)) != GRAVRD_OK) goto done;
    t = fml_cur(&p);
    if (t->kind != TK_TILDE) {
        gravrd_expr_free(lhs);
        char what[64];
        fml_token_describe(&p, t, what, sizeof what);
        if (t->kind == TK_END)
            st = fml_error_at(&p, t->pos, "missing '~'; a formula looks like y ~ x1 + x2 | fe1 + fe2");
        else if (t->kind == TK_RPAREN)
            st = fml_error_at(&p, t->pos, "unexpected ')' (no matching '(')");
        else st = fml_error_at(&p, t->pos, "unexpected %s; expected '~'", what);
        goto done;
    }
    if ((st = set_outcomes(&p, f, lhs)) != GRAVRD_OK) goto done;
    fml_advance(&p);

    if ((st = parse_rhs(&rs)) != GRAVRD_OK) goto done;
    if (fml_cur(&p)->kind == TK_OR) {
        fml_advance(&p);
        if ((st = fml_parse_fe_list(&p, &f->fes, &f->n_fes)) != GRAVRD_OK) goto done;
    }
    /* fixest never estimates an intercept next to fixed effects */
    f->intercept = f->n_fes > 0 ? 0 : rs.intercept;
    st = build_terms(&rs, f);

done:
    rhs_free(&rs);
    fml_parser_done(&p);
    if (st != GRAVRD_OK) {
        gravrd_formula_free(f);
        return st;
    }
    *out = f;
    return GRAVRD_OK;
}
