/* rep_data.c - the data side of a run: the flows (read once), the study at
 * each bandwidth, the study frames of the flows (one per bandwidth, grown
 * with the variables asked for) and their regression caches, the files a
 * line needs and the variables a formula uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "gravrd/formula.h"
#include "study/rep_run.h"

/* name inside dir, unless name is absolute. */
static char *join_path(const char *dir, const char *name)
{
    if (name[0] == '/')
        return plan_strdup(name);
    return plan_format("%s/%s", dir, name);
}

/* A regular file of the data folder. */
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

/* The base files first, then the flows, then the line's needs in file order: the first missing one is reported. */
gravrd_status rep_check_needs(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_need *needs, size_t n_needs,
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
    for (size_t i = 0; i < n_needs; i++)
        if (!rep_file_exists(r, needs[i].file))
            return gravrd_error_set(err, GRAVRD_ERR_IO, "%s:%d: table %s needs %s, which is not in %s",
                                    r->plan->source, needs[i].line, tb->name, needs[i].file, r->data_dir);
    return GRAVRD_OK;
}

/* One study per bandwidth, loaded on first use and kept for the run. */
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

/* Read once; a failure is remembered so later tables report it without rereading. */
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

/* Grows the bandwidth's cached frame by the variables it lacks (moved, not copied). */
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

/* The frame goes with its cache, which borrows from it. */
void rep_release_frame(rep_run *r, size_t i)
{
    gravrd_reg_cache_free(r->frames[i].reg_cache);
    r->frames[i].reg_cache = NULL;
    gravrd_frame_free(r->frames[i].frame);
    r->frames[i].frame = NULL;
}

/* Other bandwidths first: their caches borrow from the default frame's. */
void rep_release_frames(rep_run *r)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < r->n_frames; i++)
            if ((r->frames[i].bandwidth != r->default_bandwidth) == (pass == 0))
                rep_release_frame(r, i);
}

/* Everything rep_data.c cached during the run. */
void rep_data_free(rep_run *r)
{
    rep_release_frames(r);
    free(r->frames);
    gravrd_frame_free(r->flows);
    free(r->flows_columns);
    for (size_t i = 0; i < r->n_studies; i++)
        gravrd_study_free(r->studies[i].study);
    free(r->studies);
}

/* Made on first use; at another bandwidth it shares the default frame's inputs. */
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

/* Flows columns, then the extra names, then the study's derived variables. */
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

/* The first unknown variable, named with the study line. */
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

/* A formula the estimator cannot read is reported at the study line too. */
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

/* The variables of an expression, checked as check_names does. */
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

/* Adds the variables of an expression to names. */
gravrd_status rep_expr_names(const char *text, char ***names, size_t *n, gravrd_error *err)
{
    gravrd_expr *x = NULL;
    gravrd_status st = gravrd_expr_parse(text, &x, err);
    if (st)
        return st;
    st = gravrd_expr_variables(x, names, n, err);
    gravrd_expr_free(x);
    return st;
}

/* Names as a set, in first-seen order. */
gravrd_status rep_add_names(char ***names, size_t *n, char **more, size_t n_more)
{
    for (size_t i = 0; i < n_more; i++) {
        int seen = 0;
        for (size_t j = 0; j < *n && !seen; j++)
            seen = !strcmp((*names)[j], more[i]);
        if (seen)
            continue;
        char **g = realloc(*names, (*n + 1) * sizeof *g);
        if (!g)
            return GRAVRD_ERR_NOMEM;
        *names = g;
        if (!(g[*n] = plan_strdup(more[i])))
            return GRAVRD_ERR_NOMEM;
        (*n)++;
    }
    return GRAVRD_OK;
}


/* Evaluates an expression on f (the study's functions available). */
gravrd_status rep_eval_on(const gravrd_frame *f, const gravrd_study *study, const char *text, double *out_N,
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

