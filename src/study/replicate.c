/* replicate.c - `gravrd replicate`: runs a study file on a study folder.
 *
 * The driver reads flows.csv once (on first use), loads the study at each
 * bandwidth a table asks for (cached), checks each table's files and
 * variables, runs it (replicate_models.c for models; summary and numbers
 * here), maps its numbers to the published values and the planted truths,
 * and writes its files. A failing table is recorded and the next one runs. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "gravrd/figures.h"
#include "gravrd/html.h"
#include "study/replicate_internal.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void gravrd_replicate_options_init(gravrd_replicate_options *opt)
{
    memset(opt, 0, sizeof *opt);
}

void rep_progress(rep_run *r, const char *what)
{
    if (!r->opt->progress)
        return;
    gravrd_progress pr = {r->table_name, r->table_index, r->n_tables_run, r->models_done, r->models_total,
                          now_seconds() - r->t0, what};
    r->opt->progress(r->opt->progress_user, &pr);
}

void rep_model_done(rep_run *r, size_t n)
{
    r->models_done += n;
    if (r->models_done > r->models_total)
        r->models_total = r->models_done;
    rep_progress(r, "model");
}

/* ---- data ---- */

static char *join_path(const char *dir, const char *name)
{
    if (name[0] == '/')
        return plan_strdup(name);
    return plan_format("%s/%s", dir, name);
}

int rep_file_exists(const rep_run *r, const char *name)
{
    char *path = join_path(r->data_dir, name);
    if (!path)
        return 0;
    struct stat sb;
    int ok = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
    free(path);
    return ok;
}

gravrd_status rep_check_needs(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_kv *kv, size_t n_kv,
                              int needs_flows, gravrd_error *err)
{
    const char *base[] = {"cities.csv", "partnerships.csv"};
    for (size_t i = 0; i < 2; i++)
        if (!rep_file_exists(r, base[i]))
            return gravrd_error_set(err, GRAVRD_ERR_IO, "table %s needs %s, which is not in %s", tb->name, base[i],
                                    r->data_dir);
    if (needs_flows && !rep_file_exists(r, r->flows_name))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "table %s needs %s, which is not in %s", tb->name, r->flows_name,
                                r->data_dir);
    for (size_t i = 0; i < n_kv; i++) {
        if (strcmp(kv[i].key, "needs"))
            continue;
        char **files;
        size_t n;
        gravrd_status st = plan_split_list(kv[i].value, ',', &files, &n, err);
        if (st)
            return st;
        for (size_t f = 0; f < n && !st; f++)
            if (!rep_file_exists(r, files[f]))
                st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s:%d: table %s needs %s, which is not in %s",
                                      r->plan->source, kv[i].line, tb->name, files[f], r->data_dir);
        plan_strings_free(files, n);
        if (st)
            return st;
    }
    return GRAVRD_OK;
}

gravrd_status rep_get_study(rep_run *r, double bandwidth, gravrd_study **out, gravrd_error *err)
{
    for (size_t i = 0; i < r->n_studies; i++)
        if (r->studies[i].bandwidth == bandwidth) {
            *out = r->studies[i].study;
            return GRAVRD_OK;
        }
    gravrd_study *s = NULL;
    gravrd_status st = gravrd_study_load(r->data_dir, bandwidth, &s, err);
    if (st)
        return st;
    rep_study_cache *g = realloc(r->studies, (r->n_studies + 1) * sizeof *g);
    if (!g) {
        gravrd_study_free(s);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    r->studies = g;
    g[r->n_studies].bandwidth = bandwidth;
    g[r->n_studies].study = s;
    r->n_studies++;
    *out = s;
    return GRAVRD_OK;
}

gravrd_status rep_get_flows(rep_run *r, const gravrd_frame **out, gravrd_error *err)
{
    *out = NULL;
    if (r->flows) {
        *out = r->flows;
        return GRAVRD_OK;
    }
    if (r->flows_failed)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s", r->flows_error);
    char *path = join_path(r->data_dir, r->flows_name);
    if (!path)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    const char *saved = r->table_name;
    rep_progress(r, "reading flows");
    r->table_name = saved;
    gravrd_status st = gravrd_csv_read(path, NULL, &r->flows, err);
    free(path);
    if (st) {
        r->flows_failed = 1;
        snprintf(r->flows_error, sizeof r->flows_error, "%s", err->message);
        return st;
    }
    r->flows_columns = malloc((r->flows->n_cols ? r->flows->n_cols : 1) * sizeof *r->flows_columns);
    if (!r->flows_columns)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < r->flows->n_cols; c++)
        r->flows_columns[c] = r->flows->cols[c].name;    /* borrowed */
    r->n_flows_columns = r->flows->n_cols;
    *out = r->flows;
    return GRAVRD_OK;
}

gravrd_status rep_flow_frame(rep_run *r, double bandwidth, char *const *names, size_t n_names,
                             const gravrd_frame **out, gravrd_error *err)
{
    *out = NULL;
    gravrd_study *study = NULL;
    const gravrd_frame *flows = NULL;
    gravrd_status st = rep_get_study(r, bandwidth, &study, err);
    if (!st)
        st = rep_get_flows(r, &flows, err);
    if (st)
        return st;
    rep_frame_cache *fc = NULL;
    for (size_t i = 0; i < r->n_frames; i++)
        if (r->frames[i].bandwidth == bandwidth)
            fc = &r->frames[i];
    if (!fc) {
        rep_frame_cache *g = realloc(r->frames, (r->n_frames + 1) * sizeof *g);
        if (!g)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        r->frames = g;
        fc = &g[r->n_frames++];
        fc->bandwidth = bandwidth;
        fc->frame = NULL;
        fc->reg_cache = NULL;
    }
    if (!fc->frame) {
        st = gravrd_study_frame(study, flows, (const char *const *)names, n_names, &fc->frame, err);
        if (!st)
            *out = fc->frame;
        return st;
    }
    /* the variables the frame lacks */
    const char **missing = malloc((n_names ? n_names : 1) * sizeof *missing);
    if (!missing)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    size_t n_missing = 0;
    for (size_t i = 0; i < n_names; i++)
        if (!gravrd_frame_find(fc->frame, names[i]))
            missing[n_missing++] = names[i];
    if (n_missing > 0) {
        gravrd_frame *more = NULL;
        st = gravrd_study_frame(study, flows, missing, n_missing, &more, err);
        for (size_t c = 0; !st && c < more->n_cols; c++) {
            gravrd_column *col = &more->cols[c];
            if (gravrd_frame_find(fc->frame, col->name))
                continue;
            /* move the column's data into the cached frame */
            if (col->type == GRAVRD_COL_NUMERIC) {
                st = gravrd_frame_add_numeric(fc->frame, col->name, col->num_N, err);
                if (!st)
                    col->num_N = NULL;
            } else {
                st = gravrd_frame_add_factor(fc->frame, col->name, col->codes_N, col->levels_L, col->n_levels, err);
                if (!st) {
                    col->codes_N = NULL;
                    col->levels_L = NULL;
                    col->n_levels = 0;
                }
            }
        }
        gravrd_frame_free(more);
    }
    free(missing);
    if (!st)
        *out = fc->frame;
    return st;
}

void rep_release_frames(rep_run *r, int all)
{
    /* the other bandwidths first: their caches borrow from the default's */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->n_frames; i++)
            if ((r->frames[i].bandwidth != r->default_bandwidth) == (pass == 0) && (all || pass == 0)) {
                gravrd_reg_cache_free(r->frames[i].reg_cache);
                r->frames[i].reg_cache = NULL;
                gravrd_frame_free(r->frames[i].frame);
                r->frames[i].frame = NULL;
            }
}

/* Whether a table from t on (among those run) fits a model at this
 * bandwidth: its frame (and the cached inputs) is then kept for it. The
 * robustness tables A.21-A.24 each revisit the 75 and 125 km frames that
 * A.11 built; rebuilding them per table cost about a second each. */
static int bandwidth_used_later(const rep_run *r, const gravrd_plan *plan, const uint8_t *run, size_t t, double bw)
{
    for (; t < plan->n_tables; t++) {
        if (!run[t])
            continue;
        const gravrd_plan_table *tb = &plan->tables[t];
        for (size_t i = 0; i < tb->n_entries; i++)
            if (rep_bandwidth(r, tb->entries[i].settings, tb->entries[i].n_settings) == bw)
                return 1;
    }
    return 0;
}

/* As rep_release_frames(r, 0), keeping the frames later tables use. */
static void release_unused_frames(rep_run *r, const gravrd_plan *plan, const uint8_t *run, size_t next)
{
    for (size_t i = 0; i < r->n_frames; i++)
        if (r->frames[i].frame && r->frames[i].bandwidth != r->default_bandwidth &&
            !bandwidth_used_later(r, plan, run, next, r->frames[i].bandwidth)) {
            gravrd_reg_cache_free(r->frames[i].reg_cache);
            r->frames[i].reg_cache = NULL;
            gravrd_frame_free(r->frames[i].frame);
            r->frames[i].frame = NULL;
        }
}

gravrd_reg_cache *rep_reg_cache(rep_run *r, const gravrd_frame *frame)
{
    for (size_t i = 0; i < r->n_frames; i++)
        if (frame && r->frames[i].frame == frame) {
            if (!r->frames[i].reg_cache) {
                /* A frame at another bandwidth differs from the default one
                 * only in its segment columns: its cache takes outcomes,
                 * codes and samples from the default frame's. */
                gravrd_reg_cache *parent = NULL;
                for (size_t k = 0; k < r->n_frames; k++)
                    if (k != i && r->frames[k].frame && r->frames[k].bandwidth == r->default_bandwidth)
                        parent = rep_reg_cache(r, r->frames[k].frame);
                r->frames[i].reg_cache = parent ? gravrd_reg_cache_new_sharing(frame, parent)
                                                : gravrd_reg_cache_new(frame);
            }
            return r->frames[i].reg_cache;
        }
    return NULL;
}

int rep_known_variable(rep_run *r, const gravrd_study *study, const char *name, const char *const *extra)
{
    for (size_t c = 0; c < r->n_flows_columns; c++)
        if (!strcmp(r->flows_columns[c], name))
            return 1;
    if (extra)
        for (size_t i = 0; extra[i]; i++)
            if (!strcmp(extra[i], name))
                return 1;
    if (!study)
        return 0;
    char **names = NULL;
    size_t n = 0;
    gravrd_error e = {0};
    if (gravrd_study_variables(study, &names, &n, &e))
        return 1;    /* cannot tell: let the estimation report it */
    int found = 0;
    for (size_t i = 0; i < n && !found; i++)
        found = !strcmp(names[i], name);
    gravrd_strings_free(names, n);
    return found;
}

char *rep_line_message(const rep_run *r, int line, const char *msg)
{
    if (line > 0)
        return plan_format("%s:%d: %s", r->plan->source, line, msg);
    return plan_strdup(msg);
}

static gravrd_status check_names(rep_run *r, const gravrd_study *study, const gravrd_plan_table *tb, int line,
                                 char **names, size_t n, const char *const *extra, gravrd_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (!rep_known_variable(r, study, names[i], extra))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "%s:%d: table %s: unknown variable '%s' (not a column of %s nor a variable of "
                                    "the study, see docs/study-frame.md)",
                                    r->plan->source, line, tb->name, names[i], r->flows_name);
    return GRAVRD_OK;
}

gravrd_status rep_check_formula_vars(rep_run *r, const gravrd_study *study, const gravrd_plan_table *tb, int line,
                                     const char *formula, const gravrd_reg_options *ro, const char *const *extra,
                                     gravrd_error *err)
{
    char **names = NULL;
    size_t n = 0;
    gravrd_status st = gravrd_reg_variables(formula, ro, &names, &n, err);
    if (st) {
        char *m = rep_line_message(r, line, err->message);
        if (m) {
            gravrd_error_set(err, st, "%s", m);
            free(m);
        }
        return st;
    }
    st = check_names(r, study, tb, line, names, n, extra, err);
    gravrd_strings_free(names, n);
    return st;
}

gravrd_status rep_check_expr_vars(rep_run *r, const gravrd_study *study, const gravrd_plan_table *tb, int line,
                                  const char *expr, const char *const *extra, gravrd_error *err)
{
    gravrd_expr *x = NULL;
    gravrd_status st = gravrd_expr_parse(expr, &x, err);
    if (st)
        return st;
    char **names = NULL;
    size_t n = 0;
    st = gravrd_expr_variables(x, &names, &n, err);
    gravrd_expr_free(x);
    if (!st)
        st = check_names(r, study, tb, line, names, n, extra, err);
    gravrd_strings_free(names, n);
    return st;
}

/* ---- templates, published values, truths ---- */

static const char *def_attr(const gravrd_plan_def *d, const char *key)
{
    if (!d)
        return NULL;
    return gravrd_plan_get(d->attrs, d->n_attrs, key, NULL, NULL);
}

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
            put = def_attr(ctx->outcome, name + 8);
        else if (!strncmp(name, "sample.", 7))
            put = def_attr(ctx->sample, name + 7);
        else if (!strncmp(name, "column.", 7) && ctx->entry)
            put = gravrd_plan_get(ctx->entry->settings, ctx->entry->n_settings, name + 7, NULL, NULL);
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

char *rep_fill(const char *tmpl, const rep_ctx *ctx, int *missing)
{
    *missing = 0;
    return fill_depth(tmpl, ctx, missing, 0);
}

const json_value *rep_json_path(const json_value *root, const char *path)
{
    if (!root || !path)
        return NULL;
    const json_value *v = root;
    const char *c = path;
    while (*c && v) {
        const char *dot = strchr(c, '.');
        size_t n = dot ? (size_t)(dot - c) : strlen(c);
        char key[256];
        if (n >= sizeof key)
            return NULL;
        memcpy(key, c, n);
        key[n] = '\0';
        if (v->type == JSON_OBJECT) {
            v = json_get(v, key);
        } else if (v->type == JSON_ARRAY) {
            char *end;
            long idx = strtol(key, &end, 10);
            v = (*end || idx < 0 || (size_t)idx >= v->n) ? NULL : v->items[idx];
        } else {
            v = NULL;
        }
        c = dot ? dot + 1 : c + n;
    }
    return v;
}

static const json_value *published_value(rep_run *r, const char *tmpl, const rep_ctx *ctx)
{
    if (!tmpl || !r->paper)
        return NULL;
    int missing;
    char *path = rep_fill(tmpl, ctx, &missing);
    if (!path)
        return NULL;
    const json_value *v = rep_json_path(r->paper, path);
    free(path);
    return v;
}

void rep_published_pair(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *est, double *se)
{
    *est = *se = NAN;
    const json_value *v = published_value(r, tmpl, ctx);
    if (!v)
        return;
    if (v->type == JSON_NUMBER)
        *est = v->number;
    else if (v->type == JSON_ARRAY && v->n >= 1 && v->items[0]->type == JSON_NUMBER) {
        *est = v->items[0]->number;
        if (v->n >= 2 && v->items[1]->type == JSON_NUMBER)
            *se = v->items[1]->number;
    }
}

void rep_published_range(rep_run *r, const char *tmpl, const rep_ctx *ctx, double *lo, double *hi)
{
    *lo = *hi = NAN;
    const json_value *v = published_value(r, tmpl, ctx);
    if (v && v->type == JSON_ARRAY && v->n == 2 && v->items[0]->type == JSON_NUMBER &&
        v->items[1]->type == JSON_NUMBER) {
        *lo = v->items[0]->number;
        *hi = v->items[1]->number;
    }
}

double rep_published_number(rep_run *r, const char *tmpl, const rep_ctx *ctx)
{
    const json_value *v = published_value(r, tmpl, ctx);
    if (v && v->type == JSON_NUMBER)
        return v->number;
    if (v && v->type == JSON_ARRAY && v->n >= 1 && v->items[0]->type == JSON_NUMBER)
        return v->items[0]->number;
    return NAN;
}

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

static int truth_scalar(void *user, const char *name, double *value)
{
    truth_lookup *tl = user;
    if (tl->extra && tl->extra(tl->user, name, value))
        return 1;
    const json_value *v = rep_json_path(tl->r->truth, name);
    if (!v || v->type != JSON_NUMBER)
        return 0;
    *value = v->number;
    return 1;
}

double rep_truth(rep_run *r, const char *tmpl, const rep_ctx *ctx, rep_scalar_fn extra, void *user)
{
    if (!tmpl || !r->truth)
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

const char *rep_label(const gravrd_plan *plan, const char *term)
{
    for (size_t i = 0; i < plan->n_labels; i++)
        if (plan_same_term(plan->labels[i].name, term))
            return plan->labels[i].value;
    return term;
}

char *rep_subset(const gravrd_plan *plan, const gravrd_plan_kv *kv, size_t n, const gravrd_plan_def **sample_def,
                 const char **sample_name)
{
    const char *sname = gravrd_plan_get(kv, n, "sample", NULL, NULL);
    const gravrd_plan_def *sd = sname ? gravrd_plan_find_def(plan->samples, plan->n_samples, sname) : NULL;
    if (sample_def)
        *sample_def = sd;
    if (sample_name)
        *sample_name = sname ? sname : "all";
    const char *a = sd && sd->value[0] ? sd->value : NULL;
    const char *b = gravrd_plan_get(kv, n, "subset", NULL, NULL);
    if (b && !*b)
        b = NULL;
    if (a && b)
        return plan_format("(%s) & (%s)", a, b);
    if (a)
        return plan_strdup(a);
    if (b)
        return plan_strdup(b);
    return NULL;
}

double rep_bandwidth(const rep_run *r, const gravrd_plan_kv *kv, size_t n)
{
    const char *b = gravrd_plan_get(kv, n, "bandwidth", NULL, NULL);
    return b ? strtod(b, NULL) : r->default_bandwidth;
}

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

gravrd_status rep_add_note(gravrd_rep_table *t, const char *note)
{
    for (size_t i = 0; i < t->n_notes; i++)
        if (!strcmp(t->notes[i], note))
            return GRAVRD_OK;
    return push_string(&t->notes, &t->n_notes, note);
}

gravrd_status rep_add_error(gravrd_rep_table *t, const char *msg)
{
    if (!t->error && !(t->error = plan_strdup(msg)))
        return GRAVRD_ERR_NOMEM;
    return push_string(&t->errors, &t->n_errors, msg);
}

/* ---- summary tables ---- */

gravrd_status rep_add_panel(gravrd_rep_table *out, const char *value, const char **name_out)
{
    const char *bar = strchr(value, '|');
    char *name = bar ? plan_strndup(value, (size_t)(bar - value)) : plan_strdup(value);
    char *title = plan_strdup(bar ? bar + 1 : value);
    gravrd_rep_panel *g = realloc(out->panels, (out->n_panels + 1) * sizeof *g);
    if (!name || !title || !g) {
        free(name);
        free(title);
        if (g)
            out->panels = g;
        return GRAVRD_ERR_NOMEM;
    }
    size_t nl = strlen(name);
    while (nl && isspace((unsigned char)name[nl - 1]))
        name[--nl] = '\0';
    char *tt = title;
    while (isspace((unsigned char)*tt))
        tt++;
    memmove(title, tt, strlen(tt) + 1);
    out->panels = g;
    g[out->n_panels].name = name;
    g[out->n_panels].title = title;
    out->n_panels++;
    if (name_out)
        *name_out = name;
    return GRAVRD_OK;
}

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* k-th smallest (0-based) of x[0..n-1], partially reordering x. */
static double select_k(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo])
            swap_d(&x[mid], &x[lo]);
        if (x[hi] < x[lo])
            swap_d(&x[hi], &x[lo]);
        if (x[hi] < x[mid])
            swap_d(&x[hi], &x[mid]);
        double pivot = x[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                swap_d(&x[i], &x[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return x[k];
    }
    return x[k];
}

/* R's type-7 quantile of the n values in x (reordered). *from (0 at the
 * first call) is a position such that x[0..from-1] are the smallest values
 * in order-statistic sense (every one <= every value after them), as
 * select_k leaves them; the selection then runs on x[from..] only, and
 * *from is advanced past position k for the next, larger p. The values
 * returned are order statistics, so they do not depend on it. */
static double quantile7(double *x, size_t n, double p, size_t *from)
{
    double h = (double)(n - 1) * p;
    size_t k = (size_t)floor(h);
    size_t f = *from <= k ? *from : 0;
    double a = select_k(x + f, n - f, k - f);
    *from = k + 1;
    if (k + 1 >= n || h == (double)k)
        return a;
    /* the next order statistic is the smallest value above position k */
    double b = INFINITY;
    for (size_t i = k + 1; i < n; i++)
        if (x[i] < b)
            b = x[i];
    return a + (h - (double)k) * (b - a);
}

static void describe(double *x, size_t n, gravrd_rep_row *row)
{
    row->n = n;
    if (n == 0) {
        row->mean = row->sd = row->min = row->p25 = row->p50 = row->p75 = row->max = NAN;
        return;
    }
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < mn)
            mn = x[i];
        if (x[i] > mx)
            mx = x[i];
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    row->mean = mean;
    row->sd = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
    row->min = mn;
    row->max = mx;
    size_t from = 0;
    row->p25 = quantile7(x, n, 0.25, &from);
    row->p50 = quantile7(x, n, 0.50, &from);
    row->p75 = quantile7(x, n, 0.75, &from);
}

static gravrd_status eval_on(const gravrd_frame *f, const gravrd_study *study, const char *text, double *out_N,
                             gravrd_error *err)
{
    gravrd_expr *x = NULL;
    gravrd_status st = gravrd_expr_parse(text, &x, err);
    if (st)
        return st;
    gravrd_eval_env env;
    gravrd_study_env(study, &env);
    env.frame = f;
    st = gravrd_expr_eval(x, &env, out_N, err);
    gravrd_expr_free(x);
    return st;
}

/* Adds the variables of an expression to names. */
static gravrd_status expr_names(const char *text, char ***names, size_t *n, gravrd_error *err)
{
    gravrd_expr *x = NULL;
    gravrd_status st = gravrd_expr_parse(text, &x, err);
    if (st)
        return st;
    st = gravrd_expr_variables(x, names, n, err);
    gravrd_expr_free(x);
    return st;
}

static gravrd_status summary_row(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_entry *e,
                                 gravrd_rep_row *row, gravrd_error *err)
{
    const char *level = gravrd_plan_get(e->settings, e->n_settings, "level", NULL, NULL);
    if (!level)
        level = "flows";
    row->level = plan_strdup(level);
    const gravrd_plan_def *sd = NULL;
    const char *sname = NULL;
    char *subset = rep_subset(r->plan, e->settings, e->n_settings, &sd, &sname);
    int is_pairs = !strcmp(level, "pairs");
    gravrd_status st = rep_check_needs(r, tb, e->settings, e->n_settings, !is_pairs, err);
    gravrd_study *study = NULL;
    if (!st)
        st = rep_get_study(r, rep_bandwidth(r, e->settings, e->n_settings), &study, err);
    const gravrd_frame *flows = NULL;
    if (!st && !is_pairs)
        st = rep_get_flows(r, &flows, err);
    char **names = NULL;
    size_t n_names = 0;
    if (!st)
        st = expr_names(e->arg, &names, &n_names, err);
    if (!st && subset)
        st = expr_names(subset, &names, &n_names, err);
    const char *extra[] = {"east_city", "west_city", NULL};
    for (size_t i = 0; i < n_names && !st; i++)
        if (!rep_known_variable(r, study, names[i], is_pairs ? extra : NULL))
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                  "%s:%d: table %s: unknown variable '%s' (not a column of %s nor a variable of the "
                                  "study)",
                                  r->plan->source, e->line, tb->name, names[i], r->flows_name);
    if (!st && !strcmp(level, "directed_pairs")) {
        int has_pair = 0;
        for (size_t i = 0; i < n_names; i++)
            has_pair |= !strcmp(names[i], "pair");
        if (!has_pair && push_string(&names, &n_names, "pair"))
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    gravrd_frame *owned = NULL;
    const gravrd_frame *f = NULL;
    if (!st) {
        if (is_pairs) {
            st = gravrd_study_pair_frame(study, NULL, (const char *const *)names, n_names, &owned, err);
            f = owned;
        } else {
            st = rep_flow_frame(r, rep_bandwidth(r, e->settings, e->n_settings), names, n_names, &f, err);
        }
    }
    double *v = NULL, *keep = NULL;
    size_t N = f ? f->n_rows : 0;
    if (!st) {
        v = malloc((N ? N : 1) * sizeof *v);
        keep = malloc((N ? N : 1) * sizeof *keep);
        if (!v || !keep)
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    if (!st)
        st = eval_on(f, study, e->arg, v, err);
    if (!st) {
        if (subset)
            st = eval_on(f, study, subset, keep, err);
        else
            for (size_t i = 0; i < N; i++)
                keep[i] = 1;
    }
    if (!st) {
        size_t m = 0;
        if (!strcmp(level, "directed_pairs")) {
            const gravrd_column *pc = gravrd_frame_find(f, "pair");
            int32_t *code = malloc((N ? N : 1) * sizeof *code), ng = 0;
            if (!code)
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            if (!st)
                st = gravrd_column_group_codes(pc, N, code, &ng, NULL, err);
            double *sum = NULL;
            size_t *cnt = NULL;
            if (!st) {
                sum = calloc((size_t)ng + 1, sizeof *sum);
                cnt = calloc((size_t)ng + 1, sizeof *cnt);
                if (!sum || !cnt)
                    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            }
            if (!st) {
                for (size_t i = 0; i < N; i++)
                    if (keep[i] == 1 && isfinite(v[i]) && code[i] >= 0) {
                        sum[code[i]] += v[i];
                        cnt[code[i]]++;
                    }
                for (int32_t g = 0; g < ng; g++)
                    if (cnt[g])
                        v[m++] = sum[g] / (double)cnt[g];
            }
            free(code);
            free(sum);
            free(cnt);
        } else {
            for (size_t i = 0; i < N; i++)
                if (keep[i] == 1 && isfinite(v[i]))
                    v[m++] = v[i];
        }
        if (!st && m == 0)
            st = gravrd_error_set(err, GRAVRD_ERR_EMPTY, "%s:%d: table %s: empty sample: no observations of %s in sample '%s'",
                                  r->plan->source, e->line, tb->name, e->arg, sname);
        if (!st)
            describe(v, m, row);
    }
    free(v);
    free(keep);
    gravrd_frame_free(owned);
    gravrd_strings_free(names, n_names);
    free(subset);
    return st;
}

static gravrd_status run_summary(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    (void)err;
    const char *panel = NULL;
    for (size_t k = 0; k < tb->n_entries; k++) {
        const gravrd_plan_entry *e = &tb->entries[k];
        if (!strcmp(e->verb, "panel"))
            continue;
        out->n_rows++;
    }
    out->rows = calloc(out->n_rows ? out->n_rows : 1, sizeof *out->rows);
    if (!out->rows)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    size_t i = 0;
    for (size_t k = 0; k < tb->n_entries; k++) {
        const gravrd_plan_entry *e = &tb->entries[k];
        if (!strcmp(e->verb, "panel")) {
            if (rep_add_panel(out, e->value, &panel))
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            continue;
        }
        gravrd_rep_row *row = &out->rows[i++];
        row->line = e->line;
        row->panel = panel ? plan_strdup(panel) : NULL;
        row->variable = plan_strdup(e->arg);
        row->label = plan_strdup(e->value[0] ? e->value : e->arg);
        const gravrd_plan_def *sd = NULL;
        const char *sname = NULL;
        char *sub = rep_subset(r->plan, e->settings, e->n_settings, &sd, &sname);
        free(sub);
        row->sample = plan_strdup(sname);
        const char *sl = def_attr(sd, "label");
        row->sample_label = plan_strdup(sl ? sl : sname);
        for (int m = 0; m < 8; m++)
            row->published[m] = NAN;
        const char *pub = gravrd_plan_get(e->settings, e->n_settings, "published", NULL, NULL);
        rep_ctx ctx = {NULL, sd, sname, e, e->arg, NULL};
        const json_value *pv = published_value(r, pub, &ctx);
        if (pv && pv->type == JSON_ARRAY) {
            row->has_published = 1;
            for (size_t m = 0; m < pv->n && m < 8; m++)
                if (pv->items[m]->type == JSON_NUMBER)
                    row->published[m] = pv->items[m]->number;
        }
        gravrd_error e2 = {0};
        r->table_name = tb->name;
        if (summary_row(r, tb, e, row, &e2)) {
            row->error = plan_strdup(e2.message);
            row->mean = row->sd = row->min = row->p25 = row->p50 = row->p75 = row->max = NAN;
            if (rep_add_error(out, e2.message))
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
    }
    return GRAVRD_OK;
}

/* ---- numbers ---- */

typedef struct {
    rep_run *r;
    const gravrd_plan_table *tb;
    char **total_names;
    double *total_values;
    size_t n_totals;
    char *error;
} numbers_ctx;

static const gravrd_rep_table *find_rep_table(const rep_run *r, const char *name)
{
    for (size_t t = 0; t < r->rep->n_tables; t++)
        if (!strcmp(r->rep->tables[t].name, name))
            return &r->rep->tables[t];
    return NULL;
}

static int numbers_scalar(void *user, const char *name, double *value)
{
    numbers_ctx *nc = user;
    for (size_t i = 0; i < nc->n_totals; i++)
        if (!strcmp(nc->total_names[i], name)) {
            *value = nc->total_values[i];
            return 1;
        }
    const char *s1 = strchr(name, '/');
    if (!s1)
        return 0;
    char tname[256], cname[256], term[512];
    const char *s2 = strchr(s1 + 1, '/');
    if (!s2)
        return 0;
    snprintf(tname, sizeof tname, "%.*s", (int)(s1 - name), name);
    snprintf(cname, sizeof cname, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    snprintf(term, sizeof term, "%s", s2 + 1);
    const char *what = "estimate";
    /* a trailing /se, /t, /p selects the statistic (terms may contain '/') */
    size_t tl = strlen(term);
    if (tl > 3 && !strcmp(term + tl - 3, "/se")) {
        what = "se";
        term[tl - 3] = '\0';
    } else if (tl > 2 && (!strcmp(term + tl - 2, "/t") || !strcmp(term + tl - 2, "/p"))) {
        what = term[tl - 1] == 't' ? "t" : "p";
        term[tl - 2] = '\0';
    }
    const gravrd_rep_table *t = find_rep_table(nc->r, tname);
    char msg[2048];
    if (!t) {
        snprintf(msg, sizeof msg, "table %s was not run", tname);
        goto fail;
    }
    for (size_t c = 0; c < t->n_columns; c++) {
        const gravrd_rep_column *col = &t->columns[c];
        if (strcmp(col->name, cname))
            continue;
        if (col->error) {
            snprintf(msg, sizeof msg, "column %s of table %s failed", cname, tname);
            goto fail;
        }
        for (int k = 0; k < col->n_coefs; k++)
            if (plan_same_term(col->coefs[k].key, term)) {
                const gravrd_rep_coef *cf = &col->coefs[k];
                *value = !strcmp(what, "se") ? cf->se : !strcmp(what, "t") ? cf->t : !strcmp(what, "p") ? cf->p
                                                                                                         : cf->estimate;
                return 1;
            }
        snprintf(msg, sizeof msg, "column %s of table %s has no coefficient '%s' (it shows:", cname, tname, term);
        for (int k = 0; k < col->n_coefs && strlen(msg) < 1800; k++)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " %.100s", col->coefs[k].key);
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), ")");
        goto fail;
    }
    snprintf(msg, sizeof msg, "table %s has no column '%s'", tname, cname);
fail:
    if (!nc->error)
        nc->error = plan_strdup(msg);
    return 0;
}

static gravrd_status run_numbers(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    numbers_ctx nc = {r, tb, NULL, NULL, 0, NULL};
    gravrd_status st = GRAVRD_OK;
    size_t n_items = 0;
    for (size_t k = 0; k < tb->n_entries; k++)
        n_items += !strcmp(tb->entries[k].verb, "item");
    out->items = calloc(n_items ? n_items : 1, sizeof *out->items);
    nc.total_names = calloc(tb->n_entries + 1, sizeof *nc.total_names);
    nc.total_values = calloc(tb->n_entries + 1, sizeof *nc.total_values);
    if (!out->items || !nc.total_names || !nc.total_values) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < tb->n_entries && !st; k++) {
        const gravrd_plan_entry *e = &tb->entries[k];
        if (!strcmp(e->verb, "total")) {
            double total = NAN;
            gravrd_error e2 = {0};
            const gravrd_frame *flows = NULL;
            gravrd_study *study = NULL;
            const gravrd_frame *f = NULL;
            char **names = NULL;
            size_t n_names = 0;
            char *subset = rep_subset(r->plan, e->settings, e->n_settings, NULL, NULL);
            gravrd_status s2 = rep_check_needs(r, tb, e->settings, e->n_settings, 1, &e2);
            if (!s2)
                s2 = rep_get_study(r, rep_bandwidth(r, e->settings, e->n_settings), &study, &e2);
            if (!s2)
                s2 = rep_get_flows(r, &flows, &e2);
            if (!s2)
                s2 = expr_names(e->value, &names, &n_names, &e2);
            if (!s2 && subset)
                s2 = expr_names(subset, &names, &n_names, &e2);
            for (size_t i = 0; i < n_names && !s2; i++)
                if (!rep_known_variable(r, study, names[i], NULL))
                    s2 = gravrd_error_set(&e2, GRAVRD_ERR_INVALID, "%s:%d: table %s: unknown variable '%s'",
                                          r->plan->source, e->line, tb->name, names[i]);
            if (!s2)
                s2 = rep_flow_frame(r, rep_bandwidth(r, e->settings, e->n_settings), names, n_names, &f, &e2);
            if (!s2) {
                size_t N = f->n_rows;
                double *v = malloc((N ? N : 1) * sizeof *v), *keep = malloc((N ? N : 1) * sizeof *keep);
                if (!v || !keep)
                    s2 = gravrd_error_set(&e2, GRAVRD_ERR_NOMEM, "out of memory");
                if (!s2)
                    s2 = eval_on(f, study, e->value, v, &e2);
                if (!s2 && subset)
                    s2 = eval_on(f, study, subset, keep, &e2);
                if (!s2) {
                    total = 0;
                    for (size_t i = 0; i < N; i++)
                        if ((!subset || keep[i] == 1) && isfinite(v[i]))
                            total += v[i];
                }
                free(v);
                free(keep);
            }
            gravrd_strings_free(names, n_names);
            free(subset);
            if (s2 && rep_add_error(out, e2.message))
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            nc.total_names[nc.n_totals] = e->arg;    /* borrowed */
            nc.total_values[nc.n_totals++] = total;
            continue;
        }
        if (strcmp(e->verb, "item"))
            continue;
        gravrd_rep_item *it = &out->items[out->n_items++];
        it->line = e->line;
        it->name = plan_strdup(e->arg);
        const char *label = gravrd_plan_get(e->settings, e->n_settings, "label", NULL, NULL);
        const char *unit = gravrd_plan_get(e->settings, e->n_settings, "unit", NULL, NULL);
        it->label = plan_strdup(label ? label : e->arg);
        it->unit = plan_strdup(unit ? unit : "");
        it->formula = plan_strdup(e->value);
        rep_ctx ctx = {NULL, NULL, "all", e, e->arg, NULL};
        const char *pub = gravrd_plan_get(e->settings, e->n_settings, "published", NULL, NULL);
        it->published = it->pub_lo = it->pub_hi = NAN;
        const json_value *pv = published_value(r, pub, &ctx);
        if (pv && pv->type == JSON_NUMBER)
            it->published = pv->number;
        else if (pv && pv->type == JSON_ARRAY && pv->n == 2 && pv->items[0]->type == JSON_NUMBER &&
                 pv->items[1]->type == JSON_NUMBER) {
            it->pub_lo = pv->items[0]->number;
            it->pub_hi = pv->items[1]->number;
        }
        it->truth = rep_truth(r, gravrd_plan_get(e->settings, e->n_settings, "truth", NULL, NULL), &ctx,
                              numbers_scalar, &nc);
        free(nc.error);
        nc.error = NULL;
        gravrd_error e2 = {0};
        double v = NAN;
        if (rep_eval_scalar(e->value, numbers_scalar, &nc, &v, &e2) || !isfinite(v)) {
            char *msg = plan_format("%s:%d: table %s: item %s: %s", r->plan->source, e->line, tb->name, e->arg,
                                    nc.error ? nc.error : e2.message[0] ? e2.message : "not a finite number");
            it->error = msg;
            it->value = NAN;
            if (!msg || rep_add_error(out, msg))
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        } else {
            it->value = v;
        }
        free(nc.error);
        nc.error = NULL;
    }
done:
    free(nc.total_names);
    free(nc.total_values);
    free(nc.error);
    return st;
}

/* ---- freeing ---- */

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

static void table_free(gravrd_rep_table *t)
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

void gravrd_replication_free(gravrd_replication *rep)
{
    if (!rep)
        return;
    for (size_t t = 0; t < rep->n_tables; t++)
        table_free(&rep->tables[t]);
    free(rep->tables);
    free(rep->study);
    free(rep->study_title);
    free(rep->data_dir);
    free(rep->flow);
    free(rep->report_error);
    free(rep);
}

/* ---- the driver ---- */

static int mkdir_p(const char *path)
{
    char *p = plan_strdup(path);
    if (!p)
        return -1;
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            if (mkdir(p, 0777) && errno != EEXIST) {
                free(p);
                return -1;
            }
            *c = '/';
        }
    int rc = mkdir(p, 0777);
    free(p);
    if (rc && errno != EEXIST)
        return -1;
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

/* Tables referenced by the items of a numbers table. */
static void mark_references(const gravrd_plan *plan, size_t t, uint8_t *run)
{
    const gravrd_plan_table *tb = &plan->tables[t];
    for (size_t k = 0; k < tb->n_entries; k++) {
        if (strcmp(tb->entries[k].verb, "item"))
            continue;
        gravrd_expr *x = NULL;
        gravrd_error e = {0};
        if (gravrd_expr_parse(tb->entries[k].value, &x, &e))
            continue;
        char **names = NULL;
        size_t n = 0;
        if (!gravrd_expr_variables(x, &names, &n, &e))
            for (size_t i = 0; i < n; i++) {
                const char *slash = strchr(names[i], '/');
                if (!slash)
                    continue;
                for (size_t u = 0; u < plan->n_tables; u++)
                    if (strlen(plan->tables[u].name) == (size_t)(slash - names[i]) &&
                        !strncmp(plan->tables[u].name, names[i], (size_t)(slash - names[i])) && !run[u]) {
                        run[u] = 1;
                        mark_references(plan, u, run);
                    }
            }
        gravrd_strings_free(names, n);
        gravrd_expr_free(x);
    }
}

/* Figures and OUT/index.html (the figures engineer's gravrd_report_figures
 * and gravrd_report_html), reusing the flows already read. */
static gravrd_status write_report(rep_run *r, gravrd_error *err)
{
    gravrd_study *study = NULL;
    const gravrd_frame *flows = NULL;
    gravrd_status st = GRAVRD_OK;
    if (rep_file_exists(r, "cities.csv") && rep_file_exists(r, "partnerships.csv") &&
        rep_file_exists(r, r->flows_name) && !rep_get_study(r, r->default_bandwidth, &study, err) &&
        !rep_get_flows(r, &flows, err)) {
        gravrd_report_figures_options fo;
        gravrd_report_figures_options_init(&fo);
        fo.threads = r->opt->threads;
        char *outcome = plan_format("%s(trade)", r->rep->flow && r->rep->flow[0] ? r->rep->flow : "log1p");
        if (!outcome)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        fo.figure2_opt.outcome = outcome;
        st = gravrd_report_figures(study, flows, r->opt->out_dir, &fo, err);
        free(outcome);
        if (st == GRAVRD_ERR_NOMEM)
            return st;
    } else if (!err->message[0]) {
        gravrd_error_set(err, GRAVRD_ERR_IO, "figures: the study folder lacks cities.csv, partnerships.csv or %s",
                         r->flows_name);
    }
    char saved[GRAVRD_ERROR_MSG_LEN];
    snprintf(saved, sizeof saved, "%s", err->message);
    gravrd_html_options ho = {r->opt->data_dir, NULL};
    gravrd_error e2 = {0};
    gravrd_status hs = gravrd_report_html(r->opt->out_dir, &ho, NULL, &e2);
    if (hs == GRAVRD_ERR_NOMEM)
        return hs;
    if (hs)
        gravrd_error_set(err, hs, "%s%s%s", saved, saved[0] ? "; " : "", e2.message);
    return GRAVRD_OK;
}

static gravrd_status run_table(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out)
{
    const gravrd_plan_kv *kv = tb->settings;
    size_t n = tb->n_settings;
    const char *title = gravrd_plan_get(kv, n, "title", NULL, NULL), *paper = gravrd_plan_get(kv, n, "paper", NULL, NULL);
    out->name = plan_strdup(tb->name);
    out->title = plan_strdup(title ? title : tb->name);
    out->paper = plan_strdup(paper ? paper : "");
    out->kind = tb->kind;
    out->has_truth = r->truth != NULL;
    if (!out->name || !out->title || !out->paper)
        return GRAVRD_ERR_NOMEM;
    gravrd_status st = GRAVRD_OK;
    for (size_t i = 0; i < n && !st; i++)
        if (!strcmp(kv[i].key, "note"))
            st = rep_add_note(out, kv[i].value);
    if (tb->kind != GRAVRD_TABLE_SUMMARY && tb->kind != GRAVRD_TABLE_NUMBERS && tb->kind != GRAVRD_TABLE_BALANCE)
        for (size_t i = 0; i < r->plan->n_study && !st; i++)
            if (!strcmp(r->plan->study[i].key, "note"))
                st = rep_add_note(out, r->plan->study[i].value);
    if (st)
        return st;
    size_t models0 = r->models_done;
    double t0 = now_seconds();
    gravrd_error err = {0};
    switch (tb->kind) {
    case GRAVRD_TABLE_SUMMARY: st = run_summary(r, tb, out, &err); break;
    case GRAVRD_TABLE_REGRESSION:
    case GRAVRD_TABLE_MATCH: st = rep_run_regression(r, tb, out, &err); break;
    case GRAVRD_TABLE_BALANCE: st = rep_run_balance(r, tb, out, &err); break;
    case GRAVRD_TABLE_RD: st = rep_run_rd(r, tb, out, &err); break;
    case GRAVRD_TABLE_MEDIATION: st = rep_run_mediation(r, tb, out, &err); break;
    case GRAVRD_TABLE_NUMBERS: st = run_numbers(r, tb, out, &err); break;
    }
    if (st) {
        if (st == GRAVRD_ERR_NOMEM && !err.message[0])
            snprintf(err.message, sizeof err.message, "out of memory");
        if (rep_add_error(out, err.message))
            return GRAVRD_ERR_NOMEM;
    }
    /* status: failed when nothing came out, partial when something failed */
    size_t parts = out->n_columns + out->n_rows + out->n_tests + out->n_items, failed = 0;
    for (size_t i = 0; i < out->n_columns; i++)
        failed += out->columns[i].error != NULL;
    for (size_t i = 0; i < out->n_rows; i++)
        failed += out->rows[i].error != NULL;
    for (size_t i = 0; i < out->n_tests; i++)
        failed += out->tests[i].error != NULL;
    for (size_t i = 0; i < out->n_items; i++)
        failed += out->items[i].error != NULL;
    if (st || parts == 0 || failed == parts)
        out->status = GRAVRD_REP_FAILED;
    else if (failed > 0 || out->n_errors > 0)
        out->status = GRAVRD_REP_PARTIAL;
    else
        out->status = GRAVRD_REP_OK;
    out->models = r->models_done - models0;
    out->seconds = now_seconds() - t0;
    return st == GRAVRD_ERR_NOMEM ? GRAVRD_ERR_NOMEM : GRAVRD_OK;
}

gravrd_status gravrd_replicate(const gravrd_plan *plan, const gravrd_replicate_options *opt,
                               gravrd_replication **out, gravrd_error *err)
{
    *out = NULL;
    if (!opt || !opt->data_dir)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "replicate: no data folder given");
    struct stat sb;
    if (stat(opt->data_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: not a folder (the study folder: cities.csv, "
                                "partnerships.csv, flows.csv, ...)", opt->data_dir);
    uint8_t *run = calloc(plan->n_tables + 1, 1);
    if (!run)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    if (opt->only && opt->n_only > 0) {
        for (size_t i = 0; i < opt->n_only; i++) {
            int found = 0;
            for (size_t t = 0; t < plan->n_tables; t++)
                if (!strcmp(plan->tables[t].name, opt->only[i])) {
                    run[t] = 1;
                    found = 1;
                }
            if (!found) {
                char list[700] = "";
                for (size_t t = 0; t < plan->n_tables && strlen(list) < 600; t++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", t ? ", " : "",
                             plan->tables[t].name);
                free(run);
                return gravrd_error_set(err, GRAVRD_ERR_INVALID, "--only: %s has no table '%s' (tables: %s)",
                                        plan->source, opt->only[i], list);
            }
        }
        for (size_t t = 0; t < plan->n_tables; t++)
            if (run[t])
                mark_references(plan, t, run);
    } else {
        memset(run, 1, plan->n_tables);
    }
    if (opt->out_dir && mkdir_p(opt->out_dir)) {
        free(run);
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create the output folder (%s)", opt->out_dir,
                                strerror(errno));
    }
    rep_run r;
    memset(&r, 0, sizeof r);
    r.plan = plan;
    r.opt = opt;
    r.t0 = now_seconds();
    gravrd_status st = GRAVRD_OK;
    r.data_dir = plan_strdup(opt->data_dir);
    const char *fl = gravrd_plan_get(plan->study, plan->n_study, "flows", NULL, NULL);
    r.flows_name = plan_strdup(fl ? fl : "flows.csv");
    const char *bw = gravrd_plan_get(plan->study, plan->n_study, "bandwidth", NULL, NULL);
    r.default_bandwidth = bw ? strtod(bw, NULL) : 100.0;
    r.default_cluster = gravrd_plan_get(plan->study, plan->n_study, "cluster", NULL, NULL);
    r.rep = calloc(1, sizeof *r.rep);
    if (!r.data_dir || !r.flows_name || !r.rep) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* published numbers and the truth */
    const char *pub = gravrd_plan_get(plan->study, plan->n_study, "published", NULL, NULL);
    if (pub && !strcmp(pub, "embedded")) {
        if ((st = json_parse(gravrd_paper_tables_text(NULL), &r.paper, err)))
            goto done;
    } else if (pub && *pub && strcmp(pub, "none")) {
        char *path = pub[0] == '/' || !plan->dir[0] ? plan_strdup(pub) : plan_format("%s/%s", plan->dir, pub);
        if (!path) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            goto done;
        }
        st = json_parse_file(path, &r.paper, err);
        free(path);
        if (st)
            goto done;
    }
    if (rep_file_exists(&r, "truth.json")) {
        char *path = plan_format("%s/truth.json", r.data_dir);
        gravrd_error e2 = {0};
        if (path && json_parse_file(path, &r.truth, &e2))
            r.truth = NULL;    /* unreadable truth: go on without it */
        free(path);
    }
    gravrd_replication *rep = r.rep;
    rep->study = plan_strdup(plan->dir[0] ? plan->source : "(embedded) east-west-partnership.study");
    const char *title = gravrd_plan_get(plan->study, plan->n_study, "title", NULL, NULL);
    rep->study_title = plan_strdup(title ? title : "");
    rep->data_dir = plan_strdup(opt->data_dir);
    const char *flow = NULL;
    for (size_t i = 0; i < plan->n_macros; i++)
        if (!strcmp(plan->macros[i].name, "flow"))
            flow = plan->macros[i].value;
    rep->flow = plan_strdup(flow ? flow : "");
    rep->has_truth = r.truth != NULL;
    rep->bootstrap = opt->bootstrap;
    rep->tables = calloc(plan->n_tables + 1, sizeof *rep->tables);
    if (!rep->study || !rep->study_title || !rep->data_dir || !rep->flow || !rep->tables) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t t = 0; t < plan->n_tables; t++)
        if (run[t]) {
            r.n_tables_run++;
            r.models_total += rep_count_models(&r, &plan->tables[t]);
        }
    for (size_t t = 0; t < plan->n_tables && !st; t++) {
        if (!run[t])
            continue;
        r.table_index++;
        r.table_name = plan->tables[t].name;
        rep_progress(&r, "table");
        gravrd_rep_table *tab = &rep->tables[rep->n_tables++];
        if (run_table(&r, &plan->tables[t], tab)) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory running table %s", plan->tables[t].name);
            break;
        }
        release_unused_frames(&r, plan, run, t + 1);
        if (tab->status != GRAVRD_REP_OK)
            rep->n_failed++;
        if (opt->out_dir && gravrd_rep_table_write(tab, opt->out_dir, err)) {
            st = err->code;
            break;
        }
    }
    rep->seconds = now_seconds() - r.t0;
    rep->models = r.models_done;
    if (!st && opt->out_dir)
        st = gravrd_replication_write_index(rep, opt->out_dir, err);
    if (!st && opt->out_dir && opt->report) {
        r.table_name = "report";
        rep_progress(&r, "report");
        gravrd_error e2 = {0};
        if (write_report(&r, &e2) == GRAVRD_ERR_NOMEM) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        } else if (e2.message[0] && !(rep->report_error = plan_strdup(e2.message))) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
        rep->seconds = now_seconds() - r.t0;
    }
    r.table_name = NULL;
    rep_progress(&r, "done");
done:
    free(run);
    rep_release_frames(&r, 1);
    free(r.frames);
    gravrd_frame_free(r.flows);
    free(r.flows_columns);
    for (size_t i = 0; i < r.n_studies; i++)
        gravrd_study_free(r.studies[i].study);
    free(r.studies);
    json_free(r.paper);
    json_free(r.truth);
    free(r.data_dir);
    free(r.flows_name);
    if (st) {
        gravrd_replication_free(r.rep);
        return st;
    }
    *out = r.rep;
    return GRAVRD_OK;
}
