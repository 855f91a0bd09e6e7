/* plan_build.c - the typed specification of a study file, built from the
 * lexer's lines (plan_lex.c).
 *
 * Each table is walked in file order with a state: a setting line parses
 * its value once into the state (the error names its line), and a content
 * line takes a copy of the state, applies its own trailing attributes, and
 * becomes a typed spec (gravrd_plan_column, gravrd_plan_row, ...). That is
 * how "a setting applies to the lines after it" is implemented. Everything
 * that does not depend on data is checked here, so a run never finds a bad
 * setting. */
#include "study/plan_build.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/inference.h"
#include "gravrd/formula.h"

typedef struct {
    plan_pool *pool;
    const char *source;
    gravrd_error *err;
    gravrd_plan *plan;
} builder;

static gravrd_status berr(builder *b, int line, gravrd_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static gravrd_status berr(builder *b, int line, gravrd_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gravrd_status st = plan_line_verror(b->err, b->source, line, code, fmt, ap);
    va_end(ap);
    return st;
}

static gravrd_status nomem(builder *b) { return gravrd_error_set(b->err, GRAVRD_ERR_NOMEM, "out of memory"); }

/* ---- values ---- */

static gravrd_status check_formula(builder *b, const char *text, int line, const char *what, gravrd_formula **keep)
{
    gravrd_formula *f = NULL;
    gravrd_error e = {0};
    if (gravrd_formula_parse(text, &f, &e))
        return berr(b, line, GRAVRD_ERR_PARSE, "%s: %s", what, e.message);
    if (keep)
        *keep = f;
    else
        gravrd_formula_free(f);
    return GRAVRD_OK;
}

static gravrd_status check_expr(builder *b, const char *text, int line, const char *what)
{
    gravrd_expr *x = NULL;
    gravrd_error e = {0};
    if (gravrd_expr_parse(text, &x, &e))
        return berr(b, line, GRAVRD_ERR_PARSE, "%s: %s", what, e.message);
    gravrd_expr_free(x);
    return GRAVRD_OK;
}

static gravrd_status check_fe_list(builder *b, const char *text, int line, const char *what)
{
    gravrd_fe_term *t = NULL;
    int n = 0;
    gravrd_error e = {0};
    if (gravrd_fe_list_parse(text, &t, &n, &e))
        return berr(b, line, GRAVRD_ERR_PARSE, "%s: %s", what, e.message);
    gravrd_fe_terms_free(t, n);
    return GRAVRD_OK;
}

/* An `inference` value: a gravrd_inference, or -1 for none (empty or
 * "none"). where prefixes the error ("" in a table, "[study]: "). */
static gravrd_status parse_inference(builder *b, const char *value, int line, const char *where, int *out)
{
    gravrd_inference m;
    gravrd_error e;
    if (!*value || !strcmp(value, "none"))
        *out = -1;
    else if (gravrd_inference_parse(value, &m, &e))
        return berr(b, line, GRAVRD_ERR_INVALID,
                    "%sinference must be pair, segment_pair, dyadic, wild, ri or none, not '%s'", where, value);
    else
        *out = (int)m;
    return GRAVRD_OK;
}

/* A positive finite number of km. */
static gravrd_status parse_km(builder *b, const char *value, int line, const char *what, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(value, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == value || *end || errno || !(v > 0) || !isfinite(v))
        return berr(b, line, GRAVRD_ERR_INVALID, "%s must be a positive number of km, not '%s'", what, value);
    *out = v;
    return GRAVRD_OK;
}

/* Splits on sep into trimmed non-empty pool strings (*items NULL when none). */
static gravrd_status split_list(builder *b, const char *text, char sep, const char ***items, size_t *n)
{
    *items = NULL;
    *n = 0;
    const char **arr = NULL;
    const char *start = text;
    for (const char *c = text;; c++) {
        if (*c != sep && *c)
            continue;
        const char *s = start, *e = c;
        while (s < e && isspace((unsigned char)*s))
            s++;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (e > s) {
            const char **slot = PLAN_PUSH(b->pool, arr, *n);
            if (!slot || !(*slot = plan_pool_strndup(b->pool, s, (size_t)(e - s))))
                return nomem(b);
        }
        if (!*c)
            break;
        start = c + 1;
    }
    *items = arr;
    return GRAVRD_OK;
}

/* A term pattern: a term, or a prefix ending in '*' ('*' nowhere else). */
static gravrd_status check_pattern(builder *b, const char *pattern, int line, const char *what)
{
    const char *star = strchr(pattern, '*');
    if (star && star[1])
        return berr(b, line, GRAVRD_ERR_INVALID,
                    "%s: pattern '%s': '*' may only end a pattern (a prefix: 'partner:*')", what, pattern);
    return GRAVRD_OK;
}

/* Checks the {placeholders} of a template. */
static gravrd_status check_template(builder *b, const char *value, int line)
{
    for (const char *c = value; (c = strchr(c, '{'));) {
        const char *close = strchr(c, '}');
        if (!close)
            return berr(b, line, GRAVRD_ERR_PARSE, "'{' without a closing '}' in '%s'", value);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)(close - c - 1), c + 1);
        int ok = !strcmp(name, "outcome") || !strcmp(name, "sample") || !strcmp(name, "column") ||
                 !strcmp(name, "coef") || (!strncmp(name, "outcome.", 8) && name[8]) ||
                 (!strncmp(name, "sample.", 7) && name[7]) || (!strncmp(name, "column.", 7) && name[7]);
        if (!ok)
            return berr(b, line, GRAVRD_ERR_INVALID,
                        "unknown placeholder '{%s}' (use {outcome}, {sample}, {column}, {coef}, {outcome.ATTR}, "
                        "{sample.ATTR} or {column.ATTR})",
                        name);
        c = close + 1;
    }
    return GRAVRD_OK;
}

/* "60, 70, 80" (and "none" where allowed) into km. */
static gravrd_status parse_bandwidths(builder *b, const char *value, int line, int allow_none, double **bws,
                                      size_t *n, int *none)
{
    const char **items;
    size_t n_items;
    gravrd_status st = split_list(b, value, ',', &items, &n_items);
    if (st)
        return st;
    if (n_items == 0)
        return berr(b, line, GRAVRD_ERR_INVALID, "bandwidths: give at least one bandwidth in km");
    double *km = plan_pool_alloc(b->pool, n_items * sizeof *km);
    if (!km)
        return nomem(b);
    *n = 0;
    *none = 0;
    for (size_t i = 0; i < n_items; i++) {
        if (!strcmp(items[i], "none")) {
            if (!allow_none)
                return berr(b, line, GRAVRD_ERR_INVALID,
                            "bandwidths: 'none' (the model without segment FE) is only for balance tables");
            if (i != 0 || *none)
                return berr(b, line, GRAVRD_ERR_INVALID, "bandwidths: 'none' must come first, once");
            *none = 1;
            continue;
        }
        if ((st = parse_km(b, items[i], line, "each of bandwidths", &km[*n])))
            return st;
        for (size_t k = 0; k < *n; k++)
            if (km[k] == km[*n])
                return berr(b, line, GRAVRD_ERR_INVALID, "bandwidths: %g km is given twice", km[*n]);
        (*n)++;
    }
    *bws = km;
    return GRAVRD_OK;
}

/* A pool copy of arr[0..n-1] with the capacity plan_pool_grow expects, so
 * pushing onto the copy never writes into arr. */
static void *clone_array(builder *b, const void *arr, size_t n, size_t elem)
{
    if (n == 0)
        return NULL;
    size_t cap = 4;
    while (cap < n)
        cap *= 2;
    void *c = plan_pool_alloc(b->pool, cap * elem);
    if (c)
        memcpy(c, arr, n * elem);
    return c;
}

/* ---- the settings in force ---- */

static const char *const stat_names[GRAVRD_PLAN_N_STATS] = {"adj_r2", "r2", "f", "nobs", "base", "mediated"};

typedef struct {
    const gravrd_plan_def *sample;
    const char *subset;                  /* NULL = none */
    gravrd_plan_level level;
    double bandwidth;
    const char *cluster;                 /* NULL = none */
    int inference;                       /* gravrd_inference beside the cluster's; -1 = none */
    gravrd_plan_vcov vcov;
    const char *rhs, *fe, *group;
    const char **show;                   /* NULL = all */
    size_t n_show;
    gravrd_plan_template *published, *published_range, *truth;
    size_t n_published, n_published_range, n_truth;
    const char *published_stat[GRAVRD_PLAN_N_STATS];
    double match_km;                     /* NaN = not set */
    double *bandwidths;                  /* NULL = not set */
    size_t n_bandwidths;
    int without_fe;
    const char **vars;
    size_t n_vars;
    double radius;                       /* NaN = the largest bandwidth */
    gravrd_plan_side side;
    int optimal;
    const char *coefficient, *base;
    gravrd_plan_need *needs;
    size_t n_needs;
    /* a content line's own */
    const char *name, *label, *unit;
    gravrd_plan_attr *attrs;
    size_t n_attrs;
} state;

typedef struct {
    builder *b;
    gravrd_plan_table *tb;
    size_t index;                        /* of tb in the plan */
    const char **names;                  /* column and test names so far */
    size_t n_names;
    const char *panel;                   /* the current panel's name */
} table_ctx;

static gravrd_status push_template(builder *b, gravrd_plan_template **arr, size_t *n, const lex_pair *kv,
                                   const char *what)
{
    gravrd_status st = check_pattern(b, kv->arg, kv->line, what);
    if (!st)
        st = check_template(b, kv->value, kv->line);
    if (st)
        return st;
    *arr = clone_array(b, *arr, *n, sizeof **arr);    /* copies the line took keep their view */
    if (*n && !*arr)
        return nomem(b);
    gravrd_plan_template *t = PLAN_PUSH(b->pool, *arr, *n);
    if (!t)
        return nomem(b);
    *t = (gravrd_plan_template){kv->arg, kv->value, kv->line};
    return GRAVRD_OK;
}

/* Parses one setting (or attribute) into s. */
static gravrd_status apply(table_ctx *tc, state *s, const lex_pair *kv)
{
    builder *b = tc->b;
    gravrd_table_kind kind = tc->tb->kind;
    const char *k = kv->key, *v = kv->value;
    int line = kv->line;
    gravrd_status st = GRAVRD_OK;
    if (!strcmp(k, "needs")) {
        const char **files;
        size_t n;
        if ((st = split_list(b, v, ',', &files, &n)))
            return st;
        if (n == 0)
            return berr(b, line, GRAVRD_ERR_INVALID, "needs: name at least one file");
        s->needs = clone_array(b, s->needs, s->n_needs, sizeof *s->needs);
        if (s->n_needs && !s->needs)
            return nomem(b);
        for (size_t i = 0; i < n; i++) {
            gravrd_plan_need *nd = PLAN_PUSH(b->pool, s->needs, s->n_needs);
            if (!nd)
                return nomem(b);
            *nd = (gravrd_plan_need){files[i], line};
        }
    } else if (!strcmp(k, "sample")) {
        if (!(s->sample = gravrd_plan_find_def(b->plan->samples, b->plan->n_samples, v)))
            return berr(b, line, GRAVRD_ERR_INVALID, "unknown sample '%s' (define it in [samples])", v);
    } else if (!strcmp(k, "subset")) {
        s->subset = *v ? v : NULL;
        if (*v)
            st = check_expr(b, v, line, "subset");
    } else if (!strcmp(k, "level")) {
        if (!strcmp(v, "flows"))
            s->level = GRAVRD_PLAN_LEVEL_FLOWS;
        else if (!strcmp(v, "pairs"))
            s->level = GRAVRD_PLAN_LEVEL_PAIRS;
        else if (kind == GRAVRD_TABLE_SUMMARY && !strcmp(v, "directed_pairs"))
            s->level = GRAVRD_PLAN_LEVEL_DIRECTED_PAIRS;
        else
            return berr(b, line, GRAVRD_ERR_INVALID, "level must be flows, pairs%s, not '%s'",
                        kind == GRAVRD_TABLE_SUMMARY ? " or directed_pairs" : "", v);
    } else if (!strcmp(k, "bandwidth")) {
        st = parse_km(b, v, line, "bandwidth", &s->bandwidth);
    } else if (!strcmp(k, "match")) {
        st = parse_km(b, v, line, "match", &s->match_km);
    } else if (!strcmp(k, "radius")) {
        st = parse_km(b, v, line, "radius", &s->radius);
    } else if (!strcmp(k, "cluster")) {
        s->cluster = !*v || !strcmp(v, "none") ? NULL : v;
        if (s->cluster)
            st = check_fe_list(b, v, line, "cluster");
    } else if (!strcmp(k, "inference")) {
        st = parse_inference(b, v, line, "", &s->inference);
    } else if (!strcmp(k, "vcov")) {
        if (!strcmp(v, "iid"))
            s->vcov = GRAVRD_PLAN_VCOV_IID;
        else if (!strcmp(v, "hetero"))
            s->vcov = GRAVRD_PLAN_VCOV_HETERO;
        else
            return berr(b, line, GRAVRD_ERR_INVALID, "vcov must be iid or hetero, not '%s'", v);
    } else if (!strcmp(k, "rhs")) {
        char *f = plan_pool_format(b->pool, "y ~ %s", v);
        if (!f)
            return nomem(b);
        if (!*v)
            return berr(b, line, GRAVRD_ERR_INVALID, "rhs: give the right-hand side ('rhs = partner + ...')");
        st = check_formula(b, f, line, "rhs", NULL);
        s->rhs = v;
    } else if (!strcmp(k, "fe")) {
        s->fe = v;
        if (*v)
            st = check_fe_list(b, v, line, "fe");
    } else if (!strcmp(k, "show")) {
        if ((st = split_list(b, v, ',', &s->show, &s->n_show)))
            return st;
        if (!s->show && !(s->show = plan_pool_alloc(b->pool, sizeof *s->show)))
            return nomem(b);    /* an empty list: nothing shown, every term a "Yes" row */
        for (size_t i = 0; i < s->n_show && !st; i++)
            st = check_pattern(b, s->show[i], line, "show");
    } else if (!strcmp(k, "group")) {
        s->group = v;
    } else if (!strcmp(k, "published")) {
        st = push_template(b, &s->published, &s->n_published, kv, "published");
    } else if (!strcmp(k, "published_range")) {
        st = push_template(b, &s->published_range, &s->n_published_range, kv, "published_range");
    } else if (!strcmp(k, "truth")) {
        st = push_template(b, &s->truth, &s->n_truth, kv, "truth");
        /* a truth is an expression over truth.json paths once placeholders are filled */
        if (!st && !strchr(v, '{'))
            st = check_expr(b, v, line, "truth");
    } else if (!strcmp(k, "published_stat")) {
        int which = -1;
        for (int i = 0; i < GRAVRD_PLAN_N_STATS; i++)
            if (!strcmp(kv->arg, stat_names[i]))
                which = i;
        int mediation = kind == GRAVRD_TABLE_MEDIATION;
        if (which < 0 || mediation != (which == GRAVRD_PLAN_STAT_BASE || which == GRAVRD_PLAN_STAT_MEDIATED))
            return berr(b, line, GRAVRD_ERR_INVALID, "table %s: published_stat: unknown statistic '%s' (%s)",
                        tc->tb->name, kv->arg,
                        mediation ? "mediation tables: base, mediated" : "adj_r2, r2, f, nobs");
        if ((st = check_template(b, v, line)))
            return st;
        s->published_stat[which] = v;
    } else if (!strcmp(k, "bandwidths")) {
        st = parse_bandwidths(b, v, line, kind == GRAVRD_TABLE_BALANCE, &s->bandwidths, &s->n_bandwidths,
                              &s->without_fe);
    } else if (!strcmp(k, "vars")) {
        if ((st = split_list(b, v, ',', &s->vars, &s->n_vars)))
            return st;
        for (size_t i = 0; i < s->n_vars && !st; i++)
            st = check_expr(b, s->vars[i], line, "vars");
    } else if (!strcmp(k, "side")) {
        if (!strcmp(v, "exporter"))
            s->side = GRAVRD_PLAN_SIDE_EXPORTER;
        else if (!strcmp(v, "importer"))
            s->side = GRAVRD_PLAN_SIDE_IMPORTER;
        else if (!strcmp(v, "both"))
            s->side = GRAVRD_PLAN_SIDE_BOTH;
        else
            return berr(b, line, GRAVRD_ERR_INVALID, "side must be exporter, importer or both, not '%s'", v);
    } else if (!strcmp(k, "optimal")) {
        if (strcmp(v, "yes") && strcmp(v, "no"))
            return berr(b, line, GRAVRD_ERR_INVALID, "optimal must be yes or no, not '%s'", v);
        s->optimal = !strcmp(v, "yes");
    } else if (!strcmp(k, "coefficient")) {
        if (!*v)
            return berr(b, line, GRAVRD_ERR_INVALID, "coefficient: name the term tested ('coefficient = partner')");
        s->coefficient = v;
    } else if (!strcmp(k, "base")) {
        st = check_formula(b, v, line, "base", NULL);
        s->base = v;
    } else if (!strcmp(k, "name")) {
        if (!*v)
            return berr(b, line, GRAVRD_ERR_INVALID, "name: give a name");
        s->name = v;
    } else if (!strcmp(k, "label")) {
        s->label = v;
    } else if (!strcmp(k, "unit")) {
        s->unit = v;
    }
    /* "ref" (and any attribute) is kept for {column.ATTR} by the caller */
    return st;
}

/* ---- content lines ---- */

static gravrd_plan_origin origin_of(const state *s, int line)
{
    return (gravrd_plan_origin){line, s->needs, s->n_needs, s->attrs, s->n_attrs};
}

/* The sample of a line: def (NULL = all rows) ANDed with the subset. */
static gravrd_status sample_of(builder *b, const gravrd_plan_def *def, const char *subset, gravrd_plan_sample *out)
{
    out->def = def;
    out->name = def ? def->name : "all";
    const char *a = def && def->value[0] ? def->value : NULL;
    out->subset = a && subset ? plan_pool_format(b->pool, "(%s) & (%s)", a, subset) : a ? a : subset;
    return a && subset && !out->subset ? nomem(b) : GRAVRD_OK;
}

static gravrd_status add_name(table_ctx *tc, const char *name, int line)
{
    for (size_t i = 0; i < tc->n_names; i++)
        if (!strcmp(tc->names[i], name))
            return berr(tc->b, line, GRAVRD_ERR_INVALID,
                        "table %s: two columns are named '%s' (give one a '; name = ...')", tc->tb->name, name);
    const char **slot = PLAN_PUSH(tc->b->pool, tc->names, tc->n_names);
    if (!slot)
        return nomem(tc->b);
    *slot = name;
    return GRAVRD_OK;
}

static char *deparse_text(const char *text)
{
    gravrd_expr *x = NULL;
    gravrd_error e = {0};
    if (gravrd_expr_parse(text, &x, &e))
        return plan_strdup(text);
    char *d = gravrd_expr_deparse(x);
    gravrd_expr_free(x);
    return d;
}

/* The outcome definition whose expression is this (deparsed) outcome. */
static const gravrd_plan_def *match_outcome(const gravrd_plan *plan, const char *deparsed)
{
    for (size_t i = 0; i < plan->n_outcomes; i++) {
        char *d = deparse_text(plan->outcomes[i].value);
        int same = d && plan_same_term(d, deparsed);
        free(d);
        if (same)
            return &plan->outcomes[i];
    }
    return NULL;
}

/* The fields regression and match columns share with the state. */
static void column_common(table_ctx *tc, const state *s, int line, gravrd_plan_column *c)
{
    c->at = origin_of(s, line);
    c->panel = tc->panel;
    c->level = s->level;
    c->bandwidth = s->bandwidth;
    c->match_km = tc->tb->kind == GRAVRD_TABLE_MATCH ? s->match_km : NAN;
    c->cluster = s->cluster;
    c->inference = s->inference;
    c->vcov = s->vcov;
    c->show = s->show;
    c->n_show = s->n_show;
    c->published = s->published;
    c->n_published = s->n_published;
    c->truth = s->truth;
    c->n_truth = s->n_truth;
    memcpy(c->published_stat, s->published_stat, sizeof c->published_stat);
}

/* "a, b x c, d": outcomes and samples (none: the sample setting). */
static gravrd_status parse_grid(builder *b, const char *value, int line, const gravrd_plan_def ***outs, size_t *n_outs,
                                const gravrd_plan_def ***samples, size_t *n_samples)
{
    *outs = *samples = NULL;
    *n_outs = *n_samples = 0;
    const char *x = NULL;
    for (const char *c = value; *c && !x; c++)
        if (*c == 'x' && (c == value || isspace((unsigned char)c[-1])) && isspace((unsigned char)c[1]))
            x = c;
    const char **on = NULL, **sn = NULL;
    gravrd_status st;
    if (!x) {
        st = split_list(b, value, ',', &on, n_outs);
    } else {
        char *left = plan_pool_strndup(b->pool, value, (size_t)(x - value));
        if (!left)
            return nomem(b);
        st = split_list(b, left, ',', &on, n_outs);
        if (!st)
            st = split_list(b, x + 1, ',', &sn, n_samples);
    }
    if (st)
        return st;
    if (*n_outs == 0)
        return berr(b, line, GRAVRD_ERR_PARSE, "grid: no outcome before 'x'");
    if (x && *n_samples == 0)
        return berr(b, line, GRAVRD_ERR_PARSE, "grid: no sample after 'x'");
    *outs = plan_pool_alloc(b->pool, *n_outs * sizeof **outs);
    *samples = plan_pool_alloc(b->pool, (*n_samples + 1) * sizeof **samples);
    if (!*outs || !*samples)
        return nomem(b);
    for (size_t i = 0; i < *n_outs; i++)
        if (!((*outs)[i] = gravrd_plan_find_def(b->plan->outcomes, b->plan->n_outcomes, on[i])))
            return berr(b, line, GRAVRD_ERR_INVALID, "grid: unknown outcome '%s' (define it in [outcomes])", on[i]);
    for (size_t i = 0; i < *n_samples; i++)
        if (!((*samples)[i] = gravrd_plan_find_def(b->plan->samples, b->plan->n_samples, sn[i])))
            return berr(b, line, GRAVRD_ERR_INVALID, "grid: unknown sample '%s' (define it in [samples])", sn[i]);
    return GRAVRD_OK;
}

/* Labels of a grid cell: one sample = columns by outcome under the
 * sample's label, several = columns by sample under the outcome's. */
static void grid_labels(const state *s, const gravrd_plan_def *o, const gravrd_plan_sample *sm, size_t n_samples,
                        const char **label, const char **group)
{
    const char *olabel = o->label ? o->label : o->name;
    const char *slabel = sm->def && sm->def->label ? sm->def->label : sm->name;
    *label = n_samples > 1 ? slabel : olabel;
    *group = s->group ? s->group : n_samples > 1 ? olabel : slabel;
}

static gravrd_status content_grid(table_ctx *tc, const state *s, const lex_pair *kv)
{
    builder *b = tc->b;
    gravrd_plan_table *tb = tc->tb;
    int line = kv->line, rd = tb->kind == GRAVRD_TABLE_RD;
    if (!rd && !s->rhs)
        return berr(b, line, GRAVRD_ERR_INVALID, "table %s: grid needs 'rhs = ...' set before it", tb->name);
    if (tb->kind == GRAVRD_TABLE_MATCH && isnan(s->match_km))
        return berr(b, line, GRAVRD_ERR_INVALID,
                    "table %s: a match table needs 'match = KM' before its grids and columns", tb->name);
    if (rd && !s->bandwidths)
        return berr(b, line, GRAVRD_ERR_INVALID, "table %s: an rd table needs 'bandwidths = ...' before its grids",
                    tb->name);
    const gravrd_plan_def **outs, **samples;
    size_t n_outs, n_samples;
    gravrd_status st = parse_grid(b, kv->value, line, &outs, &n_outs, &samples, &n_samples);
    if (st)
        return st;
    size_t ns = n_samples ? n_samples : 1;
    const char *fe = s->fe ? s->fe : "";
    for (size_t o = 0; o < n_outs; o++)
        for (size_t k = 0; k < ns; k++) {
            gravrd_plan_sample sm;
            if ((st = sample_of(b, n_samples ? samples[k] : s->sample, s->subset, &sm)))
                return st;
            char *name = plan_grid_name(s->name ? s->name : "{outcome}.{sample}", outs[o]->name, sm.name);
            const char *pname = name ? plan_pool_strdup(b->pool, name) : NULL;
            free(name);
            if (!pname)
                return nomem(b);
            if ((st = add_name(tc, pname, line)))
                return st;
            const char *label, *group;
            grid_labels(s, outs[o], &sm, n_samples, &label, &group);
            if (rd) {
                gravrd_plan_rd_column *c = PLAN_PUSH(b->pool, tb->rd_columns, tb->n_rd_columns);
                if (!c)
                    return nomem(b);
                c->at = origin_of(s, line);
                c->label = label;
                c->name = pname;
                c->group = group;
                c->panel = tc->panel;
                c->outcome = outs[o];
                c->outcome_expr = outs[o]->value;
                c->sample = sm;
                c->fe = fe;
                c->model = plan_pool_format(b->pool, "%s ~ 1%s%s", c->outcome_expr, *fe ? " | " : "", fe);
                c->bandwidth = s->bandwidth;
                c->bandwidths = s->bandwidths;
                c->n_bandwidths = s->n_bandwidths;
                c->radius = s->radius;
                if (isnan(c->radius)) {
                    c->radius = 0;
                    for (size_t i = 0; i < s->n_bandwidths; i++)
                        if (s->bandwidths[i] > c->radius)
                            c->radius = s->bandwidths[i];
                }
                c->side = s->side;
                c->optimal = s->optimal;
                c->published = plan_template_for(s->published, s->n_published, "rd");
                c->published_range = plan_template_for(s->published_range, s->n_published_range, "rd");
                c->truth = plan_template_for(s->truth, s->n_truth, "rd");
                if (!c->model)
                    return nomem(b);
                continue;
            }
            gravrd_plan_column *c = PLAN_PUSH(b->pool, tb->columns, tb->n_columns);
            if (!c)
                return nomem(b);
            column_common(tc, s, line, c);
            c->label = label;
            c->name = pname;
            c->group = group;
            c->outcome = outs[o];
            c->outcome_expr = outs[o]->value;
            c->sample = sm;
            c->rhsfe = *fe ? plan_pool_format(b->pool, "%s | %s", s->rhs, fe) : s->rhs;
            c->formula = c->rhsfe ? plan_pool_format(b->pool, "%s ~ %s", c->outcome_expr, c->rhsfe) : NULL;
            if (!c->formula)
                return nomem(b);
        }
    return GRAVRD_OK;
}

static gravrd_status content_column(table_ctx *tc, const state *s, const lex_pair *kv)
{
    builder *b = tc->b;
    gravrd_plan_table *tb = tc->tb;
    if (tb->kind == GRAVRD_TABLE_MATCH && isnan(s->match_km))
        return berr(b, kv->line, GRAVRD_ERR_INVALID,
                    "table %s: a match table needs 'match = KM' before its grids and columns", tb->name);
    gravrd_status st = check_formula(b, kv->value, kv->line, "column", NULL);
    const char *name = s->name ? s->name : kv->arg;
    if (!st)
        st = add_name(tc, name, kv->line);
    if (st)
        return st;
    gravrd_plan_column *c = PLAN_PUSH(b->pool, tb->columns, tb->n_columns);
    if (!c)
        return nomem(b);
    column_common(tc, s, kv->line, c);
    c->name = name;
    c->label = kv->arg;
    c->formula = kv->value;
    const char *tilde = strchr(kv->value, '~');
    c->rhsfe = tilde ? tilde + 1 : "";
    c->outcome_expr = tilde ? plan_pool_strndup(b->pool, kv->value, (size_t)(tilde - kv->value)) : "";
    if ((st = sample_of(b, s->sample, s->subset, &c->sample)) || !c->outcome_expr)
        return st ? st : nomem(b);
    char *dep = deparse_text(c->outcome_expr);
    c->outcome = dep ? match_outcome(b->plan, dep) : NULL;
    const char *olabel = c->outcome ? c->outcome->label : NULL;
    c->group = s->group ? s->group : olabel ? olabel : dep ? plan_pool_strdup(b->pool, dep) : "";
    free(dep);
    return c->group ? GRAVRD_OK : nomem(b);
}

static gravrd_status content_row(table_ctx *tc, const state *s, const lex_pair *kv)
{
    builder *b = tc->b;
    gravrd_status st = check_expr(b, kv->arg, kv->line, "row");
    if (st)
        return st;
    gravrd_plan_row *r = PLAN_PUSH(b->pool, tc->tb->rows, tc->tb->n_rows);
    if (!r)
        return nomem(b);
    r->at = origin_of(s, kv->line);
    r->expr = kv->arg;
    r->label = kv->value[0] ? kv->value : kv->arg;
    r->panel = tc->panel;
    r->level = s->level;
    r->bandwidth = s->bandwidth;
    r->published = plan_template_for(s->published, s->n_published, "");
    return sample_of(b, s->sample, s->subset, &r->sample);
}

/* 1 if the formula has the term (ignoring spaces). */
static int formula_has_term(const gravrd_formula *f, const char *term)
{
    for (int t = 0; t < f->n_terms; t++)
        if (plan_same_term(f->terms[t].name, term))
            return 1;
    return 0;
}

static gravrd_status content_test(table_ctx *tc, const state *s, const lex_pair *kv)
{
    builder *b = tc->b;
    gravrd_plan_table *tb = tc->tb;
    if (!s->base)
        return berr(b, kv->line, GRAVRD_ERR_INVALID, "table %s: a mediation test needs 'base = FORMULA' before it",
                    tb->name);
    if (!s->coefficient)
        return berr(b, kv->line, GRAVRD_ERR_INVALID, "table %s: a mediation test needs 'coefficient = TERM' before it",
                    tb->name);
    gravrd_formula *fb = NULL, *ft = NULL;
    gravrd_status st = check_formula(b, kv->value, kv->line, "test", &ft);
    if (!st)
        st = check_formula(b, s->base, kv->line, "base", &fb);
    if (!st && !formula_has_term(fb, s->coefficient))
        st = berr(b, kv->line, GRAVRD_ERR_INVALID, "test %s: coefficient '%s' is not a term of the base model '%s'",
                  kv->arg, s->coefficient, s->base);
    if (!st && !formula_has_term(ft, s->coefficient))
        st = berr(b, kv->line, GRAVRD_ERR_INVALID, "test %s: coefficient '%s' is not a term of the test's model",
                  kv->arg, s->coefficient);
    gravrd_formula_free(fb);
    gravrd_formula_free(ft);
    const char *name = s->name ? s->name : kv->arg;
    if (!st)
        st = add_name(tc, name, kv->line);
    if (st)
        return st;
    gravrd_plan_test *t = PLAN_PUSH(b->pool, tb->tests, tb->n_tests);
    if (!t)
        return nomem(b);
    t->at = origin_of(s, kv->line);
    t->label = kv->arg;
    t->name = name;
    t->formula = kv->value;
    t->base = s->base;
    t->coefficient = s->coefficient;
    t->bandwidth = s->bandwidth;
    t->cluster = s->cluster;
    t->truth = plan_template_for(s->truth, s->n_truth, "");
    t->published_base = s->published_stat[GRAVRD_PLAN_STAT_BASE];
    t->published_mediated = s->published_stat[GRAVRD_PLAN_STAT_MEDIATED];
    return sample_of(b, s->sample, s->subset, &t->sample);
}

/* The column names of a built table (NULL-safe count in *n). */
static int table_has_column(const gravrd_plan_table *t, const char *name, const gravrd_plan_column **col)
{
    *col = NULL;
    for (size_t i = 0; i < t->n_columns; i++)
        if (!strcmp(t->columns[i].name, name)) {
            *col = &t->columns[i];
            return 1;
        }
    for (size_t i = 0; i < t->n_rd_columns; i++)
        if (!strcmp(t->rd_columns[i].name, name))
            return 1;
    if (t->kind == GRAVRD_TABLE_BALANCE) {
        if (t->balance.without_fe && !strcmp(name, "none"))
            return 1;
        for (size_t i = 0; i < t->balance.n_bandwidths; i++) {
            char bn[64];
            snprintf(bn, sizeof bn, "%gkm", t->balance.bandwidths[i]);
            if (!strcmp(bn, name))
                return 1;
        }
    }
    return 0;
}

/* An item's `TABLE/COLUMN/TERM[/se|/t|/p]` reference, checked against the
 * tables before this one. */
static gravrd_status parse_ref(table_ctx *tc, const char *var, int line, gravrd_plan_ref *ref)
{
    builder *b = tc->b;
    const char *s1 = strchr(var, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    size_t tl = (size_t)(s1 - var);
    int found = 0;
    for (size_t t = 0; t < tc->index && !found; t++)
        if (strlen(b->plan->tables[t].name) == tl && !strncmp(b->plan->tables[t].name, var, tl)) {
            ref->table = t;
            found = 1;
        }
    if (!found)
        return berr(b, line, GRAVRD_ERR_INVALID,
                    "item refers to table '%.*s', which is not a table defined before table %s", (int)tl, var,
                    tc->tb->name);
    if (!s2 || s2 == s1 + 1 || !s2[1])
        return berr(b, line, GRAVRD_ERR_INVALID, "item reference '%s': expected TABLE/COLUMN/COEFFICIENT[/se]", var);
    ref->text = plan_pool_strdup(b->pool, var);
    ref->column = plan_pool_strndup(b->pool, s1 + 1, (size_t)(s2 - s1 - 1));
    char *term = plan_pool_strdup(b->pool, s2 + 1);
    if (!ref->text || !ref->column || !term)
        return nomem(b);
    /* a trailing /se, /t, /p selects the statistic (terms may contain '/') */
    size_t n = strlen(term);
    ref->stat = GRAVRD_PLAN_REF_ESTIMATE;
    if (n > 3 && !strcmp(term + n - 3, "/se")) {
        ref->stat = GRAVRD_PLAN_REF_SE;
        term[n - 3] = '\0';
    } else if (n > 2 && (!strcmp(term + n - 2, "/t") || !strcmp(term + n - 2, "/p"))) {
        ref->stat = term[n - 1] == 't' ? GRAVRD_PLAN_REF_T : GRAVRD_PLAN_REF_P;
        term[n - 2] = '\0';
    }
    ref->term = term;
    const gravrd_plan_table *t = &b->plan->tables[ref->table];
    const gravrd_plan_column *col;
    if (!table_has_column(t, ref->column, &col))
        return berr(b, line, GRAVRD_ERR_INVALID, "item reference '%s': table %s has no column '%s'", var, t->name,
                    ref->column);
    if (col && col->show) {
        int shown = 0;
        for (size_t i = 0; i < col->n_show && !shown; i++)
            shown = plan_term_matches(col->show[i], term);
        if (!shown)
            return berr(b, line, GRAVRD_ERR_INVALID,
                        "item reference '%s': column %s of table %s does not show '%s' (add it to 'show')", var,
                        ref->column, t->name, term);
    }
    return GRAVRD_OK;
}

static gravrd_status content_number(table_ctx *tc, const state *s, const lex_pair *kv, int is_total)
{
    builder *b = tc->b;
    gravrd_plan_table *tb = tc->tb;
    gravrd_expr *x = NULL;
    gravrd_error e = {0};
    if (gravrd_expr_parse(kv->value, &x, &e))
        return berr(b, kv->line, GRAVRD_ERR_PARSE, "%s: %s", is_total ? "total" : "item", e.message);
    char **vars = NULL;
    size_t n_vars = 0;
    gravrd_status st = gravrd_expr_variables(x, &vars, &n_vars, b->err);
    gravrd_expr_free(x);
    gravrd_plan_number *nb = st ? NULL : PLAN_PUSH(b->pool, tb->numbers, tb->n_numbers);
    if (!st && !nb)
        st = nomem(b);
    if (!st) {
        nb->at = origin_of(s, kv->line);
        nb->is_total = is_total;
        nb->name = kv->arg;
        nb->expr = kv->value;
        nb->subset = s->subset;
        nb->bandwidth = s->bandwidth;
        nb->label = s->label ? s->label : kv->arg;
        nb->unit = s->unit ? s->unit : "";
        nb->published = is_total ? NULL : plan_template_for(s->published, s->n_published, "");
        nb->truth = is_total ? NULL : plan_template_for(s->truth, s->n_truth, "");
    }
    for (size_t i = 0; i < n_vars && !st && !is_total; i++) {
        if (strchr(vars[i], '/')) {
            gravrd_plan_ref *ref = PLAN_PUSH(b->pool, nb->refs, nb->n_refs);
            st = ref ? parse_ref(tc, vars[i], kv->line, ref) : nomem(b);
            continue;
        }
        int found = 0;
        for (size_t k = 0; k + 1 < tb->n_numbers && !found; k++)
            found = tb->numbers[k].is_total && !strcmp(tb->numbers[k].name, vars[i]);
        if (!found)
            st = berr(b, kv->line, GRAVRD_ERR_INVALID,
                      "item uses '%s', which is neither a 'total' defined before it nor a `TABLE/COLUMN/TERM` "
                      "reference",
                      vars[i]);
    }
    gravrd_strings_free(vars, n_vars);
    return st;
}

/* "NAME | Title" */
static gravrd_status content_panel(table_ctx *tc, const lex_pair *kv)
{
    builder *b = tc->b;
    if (!*kv->value)
        return berr(b, kv->line, GRAVRD_ERR_INVALID, "table %s: panel needs a name ('panel = A | Title')",
                    tc->tb->name);
    const char *bar = strchr(kv->value, '|');
    gravrd_plan_panel *p = PLAN_PUSH(b->pool, tc->tb->panels, tc->tb->n_panels);
    if (!p)
        return nomem(b);
    char *name = bar ? plan_pool_strndup(b->pool, kv->value, (size_t)(bar - kv->value)) : (char *)kv->value;
    const char *title = bar ? bar + 1 : kv->value;
    if (!name)
        return nomem(b);
    size_t nl = strlen(name);
    while (nl && isspace((unsigned char)name[nl - 1]))
        name[--nl] = '\0';
    while (isspace((unsigned char)*title))
        title++;
    p->name = name;
    p->title = title;
    tc->panel = name;
    return GRAVRD_OK;
}

/* ---- tables ---- */

static gravrd_status build_table(builder *b, const lex_table *lt, size_t index)
{
    gravrd_plan_table *tb = &b->plan->tables[index];
    tb->name = lt->name;
    tb->line = lt->line;
    tb->kind = lt->kind;
    tb->title = lt->name;
    tb->paper = "";
    table_ctx tc = {b, tb, index, NULL, 0, NULL};
    state s;
    memset(&s, 0, sizeof s);
    s.bandwidth = b->plan->study.bandwidth;
    s.cluster = b->plan->study.cluster;
    s.inference = lt->kind == GRAVRD_TABLE_REGRESSION ? b->plan->study.inference : -1;
    s.match_km = s.radius = NAN;
    const char **notes = NULL;
    size_t n_content = 0;
    gravrd_status st = GRAVRD_OK;
    for (size_t i = 0; i < lt->n_lines && !st; i++) {
        const lex_line *l = &lt->lines[i];
        const char *k = l->kv.key;
        if (!l->content) {
            if (!strcmp(k, "title"))
                tb->title = l->kv.value;
            else if (!strcmp(k, "paper"))
                tb->paper = l->kv.value;
            else if (!strcmp(k, "note")) {
                const char **slot = PLAN_PUSH(b->pool, notes, tb->n_notes);
                if (!slot)
                    return nomem(b);
                *slot = l->kv.value;
            } else {
                st = apply(&tc, &s, &l->kv);
            }
            continue;
        }
        if (!strcmp(k, "panel")) {
            st = content_panel(&tc, &l->kv);
            continue;
        }
        /* the line's own attributes, on a copy of the settings in force */
        state ls = s;
        ls.attrs = NULL;
        ls.n_attrs = 0;
        for (size_t a = 0; a < l->n_attrs && !st; a++) {
            gravrd_plan_attr *at = PLAN_PUSH(b->pool, ls.attrs, ls.n_attrs);
            if (!at)
                return nomem(b);
            *at = (gravrd_plan_attr){l->attrs[a].key, l->attrs[a].value};
            st = apply(&tc, &ls, &l->attrs[a]);
        }
        if (st)
            break;
        n_content++;
        if (!strcmp(k, "grid"))
            st = content_grid(&tc, &ls, &l->kv);
        else if (!strcmp(k, "column"))
            st = content_column(&tc, &ls, &l->kv);
        else if (!strcmp(k, "row"))
            st = content_row(&tc, &ls, &l->kv);
        else if (!strcmp(k, "test"))
            st = content_test(&tc, &ls, &l->kv);
        else if (!strcmp(k, "total") || !strcmp(k, "item"))
            st = content_number(&tc, &ls, &l->kv, !strcmp(k, "total"));
    }
    if (st)
        return st;
    tb->notes = notes;
    size_t items = 0;
    for (size_t i = 0; i < tb->n_numbers; i++)
        items += !tb->numbers[i].is_total;
    switch (tb->kind) {
    case GRAVRD_TABLE_BALANCE:
        if (!s.bandwidths)
            return berr(b, tb->line, GRAVRD_ERR_INVALID, "table %s: a balance table needs 'bandwidths = ...'",
                        tb->name);
        tb->balance = (gravrd_plan_balance){s.needs, s.n_needs, s.bandwidth, s.bandwidths, s.n_bandwidths,
                                            s.without_fe, s.vars, s.n_vars, s.vcov};
        break;
    case GRAVRD_TABLE_RD:
        if (!n_content)
            return berr(b, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'grid' line", tb->name);
        break;
    case GRAVRD_TABLE_MATCH:
    case GRAVRD_TABLE_REGRESSION:
        if (!n_content)
            return berr(b, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'grid' or 'column' line", tb->name);
        break;
    case GRAVRD_TABLE_MEDIATION:
        if (!n_content)
            return berr(b, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'test' line", tb->name);
        break;
    case GRAVRD_TABLE_SUMMARY:
        if (!n_content)
            return berr(b, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'row' line", tb->name);
        break;
    case GRAVRD_TABLE_NUMBERS:
        if (!items)
            return berr(b, tb->line, GRAVRD_ERR_INVALID, "table %s has no 'item' line", tb->name);
        break;
    }
    return GRAVRD_OK;
}

/* ---- [study] and the definitions ---- */

static gravrd_status build_study(builder *b, const lex_plan *lx)
{
    gravrd_plan_study *sd = &b->plan->study;
    sd->title = sd->reference = "";
    sd->flows = "flows.csv";
    sd->bandwidth = 100.0;
    sd->inference = -1;
    sd->flow = "";
    const gravrd_plan_def *flow = gravrd_plan_find_def(lx->macros, lx->n_macros, "flow");
    if (flow)
        sd->flow = flow->value;
    const char **notes = NULL;
    gravrd_status st = GRAVRD_OK;
    for (size_t i = 0; i < lx->n_study && !st; i++) {
        const char *k = lx->study[i].key, *v = lx->study[i].value;
        int line = lx->study[i].line;
        if (!strcmp(k, "title"))
            sd->title = v;
        else if (!strcmp(k, "reference"))
            sd->reference = v;
        else if (!strcmp(k, "headline")) {
            /* TABLE/COLUMN/TERM, the tables checked once all are known */
            const char *s1 = strchr(v, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
            if (!s1 || !s2 || s1 == v || s2 == s1 + 1 || !s2[1] || strchr(s2 + 1, '/'))
                return berr(b, line, GRAVRD_ERR_INVALID, "[study]: headline must be TABLE/COLUMN/TERM, not '%s'", v);
            sd->headline = v;
        }
        else if (!strcmp(k, "flows")) {
            if (!*v)
                return berr(b, line, GRAVRD_ERR_INVALID, "[study]: flows: name the flows file");
            sd->flows = v;
        } else if (!strcmp(k, "bandwidth"))
            st = parse_km(b, v, line, "bandwidth", &sd->bandwidth);
        else if (!strcmp(k, "cluster")) {
            sd->cluster = !*v || !strcmp(v, "none") ? NULL : v;
            if (sd->cluster)
                st = check_fe_list(b, v, line, "cluster");
        } else if (!strcmp(k, "inference")) {
            st = parse_inference(b, v, line, "[study]: ", &sd->inference);
        } else if (!strcmp(k, "published")) {
            sd->published = !strcmp(v, "embedded")          ? GRAVRD_PLAN_PUBLISHED_EMBEDDED
                            : !*v || !strcmp(v, "none")     ? GRAVRD_PLAN_PUBLISHED_NONE
                                                            : GRAVRD_PLAN_PUBLISHED_FILE;
            sd->published_file = sd->published == GRAVRD_PLAN_PUBLISHED_FILE ? v : NULL;
        } else if (!strcmp(k, "note")) {
            const char **slot = PLAN_PUSH(b->pool, notes, sd->n_notes);
            if (!slot)
                return nomem(b);
            *slot = v;
        } else {
            return berr(b, line, GRAVRD_ERR_INVALID,
                        "[study]: unknown key '%s' (title, reference, headline, published, flows, bandwidth, cluster, inference, note)", k);
        }
    }
    sd->notes = notes;
    return st;
}

static gravrd_status check_defs(builder *b)
{
    const gravrd_plan *p = b->plan;
    for (size_t i = 0; i < p->n_outcomes; i++) {
        const gravrd_plan_def *d = &p->outcomes[i];
        if (!*d->value)
            return berr(b, d->line, GRAVRD_ERR_INVALID, "outcome '%s' has no expression", d->name);
        gravrd_status st = check_expr(b, d->value, d->line, "outcome");
        if (st)
            return st;
    }
    for (size_t i = 0; i < p->n_samples; i++) {
        const gravrd_plan_def *d = &p->samples[i];
        gravrd_status st = *d->value ? check_expr(b, d->value, d->line, "sample") : GRAVRD_OK;
        if (st)
            return st;
    }
    return GRAVRD_OK;
}

gravrd_status plan_build(plan_pool *pool, const lex_plan *lx, gravrd_plan *plan, gravrd_error *err)
{
    builder b = {pool, plan->source, err, plan};
    plan->macros = lx->macros;
    plan->n_macros = lx->n_macros;
    plan->outcomes = lx->outcomes;
    plan->n_outcomes = lx->n_outcomes;
    plan->samples = lx->samples;
    plan->n_samples = lx->n_samples;
    plan->labels = lx->labels;
    plan->n_labels = lx->n_labels;
    gravrd_status st = build_study(&b, lx);
    if (!st)
        st = check_defs(&b);
    if (st)
        return st;
    plan->tables = plan_pool_alloc(pool, lx->n_tables * sizeof *plan->tables);
    if (!plan->tables)
        return nomem(&b);
    for (size_t t = 0; t < lx->n_tables && !st; t++) {
        plan->n_tables = t + 1;    /* tables before t are complete: items refer to them */
        st = build_table(&b, &lx->tables[t], t);
    }
    const char *h = plan->study.headline;
    if (!st && h) {
        /* the headline names a regression table of the study */
        size_t len = (size_t)(strchr(h, '/') - h);
        int found = 0, line = 0;
        for (size_t t = 0; t < plan->n_tables && !found; t++)
            found = strlen(plan->tables[t].name) == len && !strncmp(plan->tables[t].name, h, len) &&
                    plan->tables[t].kind == GRAVRD_TABLE_REGRESSION;
        for (size_t i = 0; i < lx->n_study; i++)
            if (!strcmp(lx->study[i].key, "headline"))
                line = lx->study[i].line;
        if (!found)
            st = berr(&b, line, GRAVRD_ERR_INVALID, "[study]: headline: no regression table '%.*s' in the study",
                      (int)len, h);
    }
    return st;
}
