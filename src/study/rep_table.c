/* rep_table.c - the bookkeeping of a run's tables: progress, template
 * filling ({outcome}, {sample.ATTR}, {column.ATTR}, ...), published values
 * and truths through published.c, labels, notes, errors, panels, and
 * freeing results. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gravrd/formula.h"
#include "study/rep_run.h"

/* Monotonic wall time in seconds. */
double rep_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The library never prints: progress goes to the caller's callback. */
int rep_split_threads(const rep_run *r, size_t n_jobs, int *inner)
{
    int parallel = r->opt->threads > 1 ? r->opt->threads : 1;
    if ((size_t)parallel > n_jobs)
        parallel = n_jobs ? (int)n_jobs : 1;
    *inner = parallel > 1 ? 1 : r->opt->threads;
    return parallel;
}

void rep_progress(rep_run *r, const char *what)
{
    if (!r->opt->progress)
        return;
    gravrd_progress pr = {r->table_name, r->table_index, r->n_tables_run, r->models_done, r->models_total,
                          rep_now() - r->t0, what};
    r->opt->progress(r->opt->progress_user, &pr);
}

/* The total grows when a table fits more models than it announced. */
void rep_model_done(rep_run *r, size_t n)
{
    r->models_done += n;
    if (r->models_done > r->models_total)
        r->models_total = r->models_done;
    rep_progress(r, "model");
}

/* ---- templates ---- */

static char *fill_depth(const char *tmpl, const rep_ctx *ctx, int *missing, int depth)
{
    if (depth > 8) {
        *missing = 1;
        return NULL;
    }
    size_t cap = strlen(tmpl) + 64, len = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    for (const char *c = tmpl; *c;) {
        if (*c != '{') {
            if (len + 2 > cap) {
                char *g = realloc(s, cap *= 2);
                if (!g) {
                    free(s);
                    return NULL;
                }
                s = g;
            }
            s[len++] = *c++;
            continue;
        }
        const char *close = strchr(c, '}');
        if (!close) {
            free(s);
            *missing = 1;
            return NULL;
        }
        char name[128];
        size_t nl = (size_t)(close - c - 1);
        if (nl >= sizeof name)
            nl = sizeof name - 1;
        memcpy(name, c + 1, nl);
        name[nl] = '\0';
        const char *put = NULL;
        if (!strcmp(name, "outcome"))
            put = ctx->outcome ? ctx->outcome->name : NULL;
        else if (!strcmp(name, "sample"))
            put = ctx->sample_name;
        else if (!strcmp(name, "column"))
            put = ctx->column_name;
        else if (!strcmp(name, "coef"))
            put = ctx->coef;
        else if (!strncmp(name, "outcome.", 8))
            put = ctx->outcome ? plan_attr(ctx->outcome->attrs, ctx->outcome->n_attrs, name + 8) : NULL;
        else if (!strncmp(name, "sample.", 7))
            put = ctx->sample ? plan_attr(ctx->sample->attrs, ctx->sample->n_attrs, name + 7) : NULL;
        else if (!strncmp(name, "column.", 7))
            put = plan_attr(ctx->attrs, ctx->n_attrs, name + 7);
        if (!put) {
            free(s);
            *missing = 1;
            return NULL;
        }
        char *sub = fill_depth(put, ctx, missing, depth + 1);
        if (!sub) {
            free(s);
            return NULL;
        }
        size_t sl = strlen(sub);
        if (len + sl + 1 > cap) {
            cap = 2 * (len + sl + 1);
            char *g = realloc(s, cap);
            if (!g) {
                free(sub);
                free(s);
                return NULL;
            }
            s = g;
        }
        memcpy(s + len, sub, sl);
        len += sl;
        free(sub);
        c = close + 1;
    }
    s[len] = '\0';
    return s;
}

/* Placeholders without a value give NULL, never an error. */
char *rep_fill(const char *tmpl, const rep_ctx *ctx, int *missing)
{
    *missing = 0;
    return fill_depth(tmpl, ctx, missing, 0);
}

/* The expression on a one-row frame holding each variable's value. */
gravrd_status rep_eval_scalar(const char *text, rep_scalar_fn fn, void *user, double *value, gravrd_error *err)
{
    *value = NAN;
    gravrd_expr *x = NULL;
    gravrd_status st = gravrd_expr_parse(text, &x, err);
    if (st)
        return st;
    char **names = NULL;
    size_t n = 0;
    gravrd_frame *f = NULL;
    if ((st = gravrd_expr_variables(x, &names, &n, err)))
        goto done;
    f = gravrd_frame_new(1, "");
    if (!f) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n && !st; i++) {
        double v = NAN;
        if (!fn || !fn(user, names[i], &v)) {
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "'%s' is not known", names[i]);
            break;
        }
        double *col = malloc(sizeof *col);
        if (!col) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            break;
        }
        *col = v;
        st = gravrd_frame_add_numeric(f, names[i], col, err);
    }
    if (!st) {
        gravrd_eval_env env = {f, NULL, NULL};
        st = gravrd_expr_eval(x, &env, value, err);
    }
done:
    gravrd_frame_free(f);
    gravrd_strings_free(names, n);
    gravrd_expr_free(x);
    return st;
}

typedef struct {
    rep_run *r;
    rep_scalar_fn extra;
    void *user;
} truth_lookup;

/* A truth expression's variable: an extra scalar, else a truth.json path. */
static int truth_scalar(void *user, const char *name, double *value)
{
    truth_lookup *tl = user;
    if (tl->extra && tl->extra(tl->user, name, value))
        return 1;
    return rep_truth_number(tl->r->sources, name, value);
}

/* No truth.json, a missing placeholder or path, a non-finite value: NaN. */
double rep_truth(rep_run *r, const char *tmpl, const rep_ctx *ctx, rep_scalar_fn extra, void *user)
{
    if (!tmpl || !rep_sources_has_truth(r->sources))
        return NAN;
    int missing;
    char *text = rep_fill(tmpl, ctx, &missing);
    if (!text)
        return NAN;
    truth_lookup tl = {r, extra, user};
    double v = NAN;
    gravrd_error e = {0};
    if (rep_eval_scalar(text, truth_scalar, &tl, &v, &e))
        v = NAN;
    free(text);
    return isfinite(v) ? v : NAN;
}

/* The published path of a template (malloc'ed), NULL when it has none. */
static char *pub_path(const char *tmpl, const rep_ctx *ctx)
{
    int missing;
    return tmpl ? rep_fill(tmpl, ctx, &missing) : NULL;
}

void rep_pub_pair(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *est, double *se)
{
    char *path = pub_path(tmpl, ctx);
    rep_published_pair(r->sources, path, est, se);
    free(path);
}

void rep_pub_range(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *lo, double *hi)
{
    char *path = pub_path(tmpl, ctx);
    rep_published_range(r->sources, path, lo, hi);
    free(path);
}

double rep_pub_number(rep_run *r, const char *tmpl, const rep_ctx *ctx)
{
    char *path = pub_path(tmpl, ctx);
    double v = rep_published_number(r->sources, path);
    free(path);
    return v;
}

int rep_pub_row(rep_run *r, const char *tmpl, const rep_ctx *ctx, double out[8])
{
    char *path = pub_path(tmpl, ctx);
    int has = rep_published_row(r->sources, path, out);
    free(path);
    return has;
}

void rep_pub_item(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *value, double *lo, double *hi)
{
    char *path = pub_path(tmpl, ctx);
    rep_published_item(r->sources, path, value, lo, hi);
    free(path);
}

/* [labels] are compared ignoring spaces. */
const char *rep_label(const gravrd_plan *plan, const char *term)
{
    for (size_t i = 0; i < plan->n_labels; i++)
        if (plan_same_term(plan->labels[i].name, term))
            return plan->labels[i].value;
    return term;
}

/* Appends a copy of s. */
static gravrd_status push_string(char ***arr, size_t *n, const char *s)
{
    char **g = realloc(*arr, (*n + 1) * sizeof *g);
    if (!g)
        return GRAVRD_ERR_NOMEM;
    *arr = g;
    if (!(g[*n] = plan_strdup(s)))
        return GRAVRD_ERR_NOMEM;
    (*n)++;
    return GRAVRD_OK;
}

/* Notes are kept once each, in first-seen order. */
gravrd_status rep_add_note(gravrd_rep_table *t, const char *note)
{
    for (size_t i = 0; i < t->n_notes; i++)
        if (!strcmp(t->notes[i], note))
            return GRAVRD_OK;
    return push_string(&t->notes, &t->n_notes, note);
}

/* The first error is also the table's error. */
gravrd_status rep_add_error(gravrd_rep_table *t, const char *msg)
{
    if (!t->error && !(t->error = plan_strdup(msg)))
        return GRAVRD_ERR_NOMEM;
    return push_string(&t->errors, &t->n_errors, msg);
}

/* Every panel of the table, in file order, columns or not. */
gravrd_status rep_add_panels(gravrd_rep_table *out, const gravrd_plan_table *tb)
{
    out->panels = calloc(tb->n_panels + 1, sizeof *out->panels);
    if (!out->panels)
        return GRAVRD_ERR_NOMEM;
    for (size_t i = 0; i < tb->n_panels; i++) {
        gravrd_rep_panel *p = &out->panels[out->n_panels++];
        p->name = plan_strdup(tb->panels[i].name);
        p->title = plan_strdup(tb->panels[i].title);
        if (!p->name || !p->title)
            return GRAVRD_ERR_NOMEM;
    }
    return GRAVRD_OK;
}

/* Line 0 means no line. */
char *rep_line_message(const rep_run *r, int line, const char *msg)
{
    if (line > 0)
        return plan_format("%s:%d: %s", r->plan->source, line, msg);
    return plan_strdup(msg);
}

/* Frees a column's fields, not the column. */
void rep_column_free(gravrd_rep_column *c)
{
    free(c->label);
    free(c->name);
    free(c->panel);
    free(c->group);
    free(c->outcome);
    free(c->outcome_key);
    free(c->sample);
    free(c->sample_label);
    free(c->formula);
    free(c->subset);
    free(c->vcov);
    free(c->solver);
    free(c->error);
    for (int q = 0; q < c->n_fe; q++) {
        free(c->fe[q]);
        free(c->fe_labels[q]);
    }
    free(c->fe);
    free(c->fe_labels);
    for (int q = 0; q < c->n_controls; q++) {
        free(c->controls[q]);
        free(c->control_labels[q]);
    }
    free(c->controls);
    free(c->control_labels);
    for (int k = 0; k < c->n_coefs; k++) {
        free(c->coefs[k].label);
        free(c->coefs[k].key);
    }
    free(c->coefs);
}

/* Frees a table's fields, not the table. */
void rep_table_free(gravrd_rep_table *t)
{
    free(t->name);
    free(t->title);
    free(t->paper);
    free(t->error);
    plan_strings_free(t->notes, t->n_notes);
    plan_strings_free(t->errors, t->n_errors);
    for (size_t i = 0; i < t->n_panels; i++) {
        free(t->panels[i].name);
        free(t->panels[i].title);
    }
    free(t->panels);
    for (size_t i = 0; i < t->n_columns; i++)
        rep_column_free(&t->columns[i]);
    free(t->columns);
    for (size_t i = 0; i < t->n_rows; i++) {
        gravrd_rep_row *w = &t->rows[i];
        free(w->panel);
        free(w->variable);
        free(w->label);
        free(w->sample);
        free(w->sample_label);
        free(w->level);
        free(w->error);
    }
    free(t->rows);
    for (size_t i = 0; i < t->n_tests; i++) {
        gravrd_rep_test *x = &t->tests[i];
        free(x->label);
        free(x->coefficient);
        free(x->base);
        free(x->mediated);
        free(x->error);
    }
    free(t->tests);
    for (size_t i = 0; i < t->n_items; i++) {
        gravrd_rep_item *x = &t->items[i];
        free(x->name);
        free(x->label);
        free(x->unit);
        free(x->formula);
        free(x->error);
    }
    free(t->items);
}

