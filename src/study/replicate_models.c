/* replicate_models.c - the model tables of `gravrd replicate`: regression
 * and spatial-matching tables (columns batched into one gravrd_reg call
 * with c(y1, y2, ...) where they share everything but the outcome), the
 * balance table, local linear RD tables and mediation tests (both models
 * on identical rows, gravrd_suest_difference, optional pairs cluster
 * bootstrap). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "gravrd/match.h"
#include "gravrd/rd.h"
#include "gravrd/spatial.h"
#include "study/replicate_internal.h"

#define NOMEM(err) gravrd_error_set((err), GRAVRD_ERR_NOMEM, "out of memory")

/* ---- columns of regression, match and rd tables ---- */

typedef struct {
    const gravrd_plan_entry *e;
    char *label, *name, *group;
    const char *panel;
    const gravrd_plan_def *outcome;    /* NULL for a column whose outcome is not in [outcomes] */
    const gravrd_plan_def *sample;
    const char *sample_name;
    char *outcome_expr;                /* the outcome as written */
    char *formula;                     /* regression: the whole formula */
    char *rhsfe;                       /* regression: what follows '~' */
    char *subset;
    int level_pairs;
    double bandwidth, match_km;
    const char *cluster;               /* NULL = not clustered */
    const char *vcov;                  /* iid | hetero | NULL */
} colspec;

static void colspecs_free(colspec *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(c[i].label);
        free(c[i].name);
        free(c[i].group);
        free(c[i].outcome_expr);
        free(c[i].formula);
        free(c[i].rhsfe);
        free(c[i].subset);
    }
    free(c);
}

static const char *attr(const gravrd_plan_def *d, const char *key)
{
    return d ? gravrd_plan_get(d->attrs, d->n_attrs, key, NULL, NULL) : NULL;
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

static const char *line_cluster(const rep_run *r, const gravrd_plan_entry *e)
{
    const char *c = gravrd_plan_get(e->settings, e->n_settings, "cluster", NULL, NULL);
    if (!c)
        c = r->default_cluster;
    if (c && (!*c || !strcmp(c, "none")))
        c = NULL;
    return c;
}

static gravrd_status fill_spec_common(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_entry *e,
                                      colspec *c, gravrd_error *err)
{
    c->e = e;
    c->subset = rep_subset(r->plan, e->settings, e->n_settings, &c->sample, &c->sample_name);
    const char *level = gravrd_plan_get(e->settings, e->n_settings, "level", NULL, NULL);
    c->level_pairs = level && !strcmp(level, "pairs");
    c->bandwidth = rep_bandwidth(r, e->settings, e->n_settings);
    const char *m = gravrd_plan_get(e->settings, e->n_settings, "match", NULL, NULL);
    c->match_km = tb->kind == GRAVRD_TABLE_MATCH && m ? strtod(m, NULL) : NAN;
    c->cluster = line_cluster(r, e);
    c->vcov = gravrd_plan_get(e->settings, e->n_settings, "vcov", NULL, NULL);
    return GRAVRD_OK;
    (void)err;
}

/* Expands grids and explicit columns; adds the panels to out. */
static gravrd_status expand_columns(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, colspec **cols_out,
                                    size_t *n_out, gravrd_error *err)
{
    colspec *cols = NULL;
    size_t n = 0;
    const char *panel = NULL;
    gravrd_status st = GRAVRD_OK;
    for (size_t k = 0; k < tb->n_entries && !st; k++) {
        const gravrd_plan_entry *e = &tb->entries[k];
        if (!strcmp(e->verb, "panel")) {
            if (rep_add_panel(out, e->value, &panel))
                st = NOMEM(err);
            continue;
        }
        const char *group = gravrd_plan_get(e->settings, e->n_settings, "group", NULL, NULL);
        if (!strcmp(e->verb, "grid")) {
            char **outs = NULL, **samples = NULL;
            size_t n_outs = 0, n_samples = 0;
            const char *value = e->value;
            const char *x = NULL;
            for (const char *c = value; *c; c++)
                if (*c == 'x' && (c == value || isspace((unsigned char)c[-1])) && isspace((unsigned char)c[1])) {
                    x = c;
                    break;
                }
            if (x) {
                char *left = plan_strndup(value, (size_t)(x - value));
                st = left ? plan_split_list(left, ',', &outs, &n_outs, err) : NOMEM(err);
                free(left);
                if (!st)
                    st = plan_split_list(x + 1, ',', &samples, &n_samples, err);
            } else {
                st = plan_split_list(value, ',', &outs, &n_outs, err);
            }
            size_t ns = n_samples ? n_samples : 1;
            colspec *g = st ? NULL : realloc(cols, (n + n_outs * ns) * sizeof *g);
            if (!st && !g)
                st = NOMEM(err);
            if (g)
                cols = g;
            const char *tmpl = gravrd_plan_get(e->settings, e->n_settings, "name", NULL, NULL);
            for (size_t o = 0; o < n_outs && !st; o++)
                for (size_t s = 0; s < ns && !st; s++) {
                    colspec *c = &cols[n++];
                    memset(c, 0, sizeof *c);
                    fill_spec_common(r, tb, e, c, err);
                    if (n_samples) {
                        free(c->subset);
                        /* the grid's sample replaces the sample setting */
                        const gravrd_plan_def *sd =
                            gravrd_plan_find_def(r->plan->samples, r->plan->n_samples, samples[s]);
                        c->sample = sd;
                        c->sample_name = sd->name;
                        const char *sub = gravrd_plan_get(e->settings, e->n_settings, "subset", NULL, NULL);
                        if (sub && !*sub)
                            sub = NULL;
                        if (sd->value[0] && sub)
                            c->subset = plan_format("(%s) & (%s)", sd->value, sub);
                        else if (sd->value[0])
                            c->subset = plan_strdup(sd->value);
                        else
                            c->subset = sub ? plan_strdup(sub) : NULL;
                    }
                    c->outcome = gravrd_plan_find_def(r->plan->outcomes, r->plan->n_outcomes, outs[o]);
                    c->panel = panel;
                    c->outcome_expr = plan_strdup(c->outcome->value);
                    c->name = plan_grid_name(tmpl ? tmpl : "{outcome}.{sample}", outs[o], c->sample_name);
                    const char *olabel = attr(c->outcome, "label");
                    const char *slabel = attr(c->sample, "label");
                    if (!olabel)
                        olabel = c->outcome->name;
                    if (!slabel)
                        slabel = c->sample_name;
                    if (n_samples > 1) {
                        c->label = plan_strdup(slabel);
                        c->group = plan_strdup(group ? group : olabel);
                    } else {
                        c->label = plan_strdup(olabel);
                        c->group = plan_strdup(group ? group : slabel);
                    }
                    if (tb->kind != GRAVRD_TABLE_RD) {
                        const char *rhs = gravrd_plan_get(e->settings, e->n_settings, "rhs", NULL, NULL);
                        const char *fe = gravrd_plan_get(e->settings, e->n_settings, "fe", NULL, NULL);
                        c->rhsfe = fe && *fe ? plan_format("%s | %s", rhs, fe) : plan_strdup(rhs);
                        c->formula = c->rhsfe ? plan_format("%s ~ %s", c->outcome_expr, c->rhsfe) : NULL;
                        if (!c->formula)
                            st = NOMEM(err);
                    }
                    if (!c->name || !c->label || !c->group || !c->outcome_expr)
                        st = NOMEM(err);
                }
            plan_strings_free(outs, n_outs);
            plan_strings_free(samples, n_samples);
        } else if (!strcmp(e->verb, "column")) {
            colspec *g = realloc(cols, (n + 1) * sizeof *g);
            if (!g) {
                st = NOMEM(err);
                break;
            }
            cols = g;
            colspec *c = &cols[n++];
            memset(c, 0, sizeof *c);
            fill_spec_common(r, tb, e, c, err);
            c->panel = panel;
            const char *given = gravrd_plan_get(e->settings, e->n_settings, "name", NULL, NULL);
            c->name = plan_strdup(given ? given : e->arg);
            c->label = plan_strdup(e->arg);
            c->formula = plan_strdup(e->value);
            const char *tilde = strchr(e->value, '~');
            c->rhsfe = plan_strdup(tilde ? tilde + 1 : "");
            c->outcome_expr = tilde ? plan_strndup(e->value, (size_t)(tilde - e->value)) : plan_strdup("");
            if (!c->name || !c->label || !c->formula || !c->rhsfe || !c->outcome_expr) {
                st = NOMEM(err);
                break;
            }
            char *dep = deparse_text(c->outcome_expr);
            c->outcome = dep ? match_outcome(r->plan, dep) : NULL;
            const char *olabel = c->outcome ? attr(c->outcome, "label") : NULL;
            c->group = plan_strdup(group ? group : olabel ? olabel : dep ? dep : "");
            free(dep);
            if (!c->group)
                st = NOMEM(err);
        }
    }
    if (st) {
        colspecs_free(cols, n);
        return st;
    }
    *cols_out = cols;
    *n_out = n;
    return GRAVRD_OK;
}

/* Descriptive fields of a result column from its spec. */
static gravrd_status init_column(const colspec *c, gravrd_rep_column *col)
{
    memset(col, 0, sizeof *col);
    col->line = c->e->line;
    col->label = plan_strdup(c->label);
    col->name = plan_strdup(c->name);
    col->panel = c->panel ? plan_strdup(c->panel) : NULL;
    col->group = plan_strdup(c->group);
    col->outcome = plan_strdup(c->outcome_expr);
    col->outcome_key = c->outcome ? plan_strdup(c->outcome->name) : NULL;
    col->sample = plan_strdup(c->sample_name);
    const char *sl = attr(c->sample, "label");
    col->sample_label = plan_strdup(sl ? sl : c->sample_name);
    col->formula = c->formula ? plan_strdup(c->formula) : NULL;
    col->subset = c->subset ? plan_strdup(c->subset) : NULL;
    col->bandwidth_km = c->bandwidth;
    col->match_km = c->match_km;
    col->nobs = 0;
    col->r2 = col->adj_r2 = col->within_r2 = col->wald_f = col->wald_p = NAN;
    col->pub_adj_r2 = col->pub_f = col->pub_nobs = NAN;
    if (!col->label || !col->name || !col->group || !col->outcome || !col->sample || !col->sample_label)
        return GRAVRD_ERR_NOMEM;
    return GRAVRD_OK;
}

static gravrd_status column_error(rep_run *r, gravrd_rep_table *out, gravrd_rep_column *col, const char *msg)
{
    char *m = strstr(msg, r->plan->source) == msg ? plan_strdup(msg)
                                                   : plan_format("%s:%d: column %s: %s", r->plan->source, col->line,
                                                                 col->name, msg);
    if (!m)
        return GRAVRD_ERR_NOMEM;
    free(col->error);
    col->error = m;
    return rep_add_error(out, m);
}

static int shown(const gravrd_plan_entry *e, const char *term)
{
    const char *show = gravrd_plan_get(e->settings, e->n_settings, "show", NULL, NULL);
    if (!show)
        return 1;
    char **items = NULL;
    size_t n = 0;
    gravrd_error err = {0};
    if (plan_split_list(show, ',', &items, &n, &err))
        return 1;
    int yes = 0;
    for (size_t i = 0; i < n && !yes; i++)
        yes = plan_term_matches(items[i], term);
    plan_strings_free(items, n);
    return yes;
}

static double t_crit(double df)
{
    if (!(df > 0) || !isfinite(df))
        return gsl_cdf_ugaussian_Pinv(0.975);
    return gsl_cdf_tdist_Pinv(0.975, df);
}

/* Fills a result column from a gravrd_reg result. */
static gravrd_status fill_from_result(rep_run *r, const colspec *c, const gravrd_reg_result *res,
                                      gravrd_rep_column *col)
{
    const gravrd_plan_entry *e = c->e;
    col->nobs = res->nobs;
    col->n_clusters = res->n_clusters_min;
    col->r2 = res->r2;
    col->adj_r2 = res->adj_r2;
    col->within_r2 = res->within_r2;
    col->wald_f = res->wald_f;
    col->wald_p = res->wald_p;
    free(col->solver);
    col->solver = plan_strdup(res->collapsed ? "collapse" : "general");
    col->iterations = res->iterations;
    if (!col->solver)
        return GRAVRD_ERR_NOMEM;
    free(col->vcov);
    col->vcov = plan_strdup(res->vcov_label ? res->vcov_label : "");
    col->fe = calloc((size_t)res->n_fe + 1, sizeof *col->fe);
    col->fe_labels = calloc((size_t)res->n_fe + 1, sizeof *col->fe_labels);
    if (!col->vcov || !col->fe || !col->fe_labels)
        return GRAVRD_ERR_NOMEM;
    for (int q = 0; q < res->n_fe; q++) {
        col->fe[q] = plan_strdup(res->fe_names[q]);
        col->fe_labels[q] = plan_strdup(rep_label(r->plan, res->fe_names[q]));
        col->n_fe++;
        if (!col->fe[q] || !col->fe_labels[q])
            return GRAVRD_ERR_NOMEM;
    }
    col->coefs = calloc((size_t)res->n_coef + 1, sizeof *col->coefs);
    col->controls = calloc((size_t)res->n_coef + 1, sizeof *col->controls);
    col->control_labels = calloc((size_t)res->n_coef + 1, sizeof *col->control_labels);
    if (!col->coefs || !col->controls || !col->control_labels)
        return GRAVRD_ERR_NOMEM;
    rep_ctx ctx = {c->outcome, c->sample, c->sample_name, e, c->name, NULL};
    double tc = t_crit(res->t_df);
    for (int k = 0; k < res->n_coef; k++) {
        const gravrd_coef *cf = &res->coefs[k];
        if (!shown(e, cf->name)) {
            col->controls[col->n_controls] = plan_strdup(cf->name);
            col->control_labels[col->n_controls] = plan_strdup(rep_label(r->plan, cf->name));
            if (!col->controls[col->n_controls] || !col->control_labels[col->n_controls])
                return GRAVRD_ERR_NOMEM;
            col->n_controls++;
            continue;
        }
        gravrd_rep_coef *o = &col->coefs[col->n_coefs++];
        o->key = plan_strdup(cf->name);
        o->label = plan_strdup(rep_label(r->plan, cf->name));
        if (!o->key || !o->label)
            return GRAVRD_ERR_NOMEM;
        o->estimate = cf->estimate;
        o->se = cf->se;
        o->t = cf->t;
        o->p = cf->p;
        o->ci_lo = cf->estimate - tc * cf->se;
        o->ci_hi = cf->estimate + tc * cf->se;
        o->pub_lo = o->pub_hi = NAN;
        o->bandwidth_km = o->estimate_bc = o->se_robust = o->ci_lo_robust = o->ci_hi_robust = NAN;
        ctx.coef = cf->name;
        rep_published_pair(r, gravrd_plan_get(e->settings, e->n_settings, "published", cf->name, NULL), &ctx,
                           &o->pub_estimate, &o->pub_se);
        o->truth = rep_truth(r, gravrd_plan_get(e->settings, e->n_settings, "truth", cf->name, NULL), &ctx, NULL, NULL);
    }
    ctx.coef = NULL;
    col->pub_adj_r2 = rep_published_number(r, gravrd_plan_get(e->settings, e->n_settings, "published_stat", "adj_r2",
                                                               NULL), &ctx);
    col->pub_f = rep_published_number(r, gravrd_plan_get(e->settings, e->n_settings, "published_stat", "f", NULL),
                                      &ctx);
    col->pub_nobs = rep_published_number(r, gravrd_plan_get(e->settings, e->n_settings, "published_stat", "nobs",
                                                            NULL), &ctx);
    return GRAVRD_OK;
}

static void reg_options(const colspec *c, gravrd_reg_options *ro, const gravrd_eval_env *env, int threads)
{
    gravrd_reg_options_init(ro);
    ro->subset = c->subset;
    ro->cluster = c->cluster;
    if (!c->cluster && c->vcov)
        ro->vcov = !strcmp(c->vcov, "hetero") ? GRAVRD_VCOV_HETERO : GRAVRD_VCOV_IID;
    ro->env = env;
    ro->threads = threads;
}

static int same_str(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return !strcmp(a, b);
}

/* The formula of a batch: c(y1, y2, ...) ~ rhs | fe, or the column's own. */
static char *batch_formula(const colspec *cols, const size_t *idx, size_t m)
{
    const colspec *c0 = &cols[idx[0]];
    if (m == 1)
        return plan_strdup(c0->formula);
    size_t len = 16 + strlen(c0->rhsfe);
    for (size_t i = 0; i < m; i++)
        len += strlen(cols[idx[i]].outcome_expr) + 2;
    char *formula = malloc(len);
    if (formula) {
        strcpy(formula, "c(");
        for (size_t i = 0; i < m; i++) {
            if (i)
                strcat(formula, ", ");
            strcat(formula, cols[idx[i]].outcome_expr);
        }
        strcat(formula, ") ~ ");
        strcat(formula, c0->rhsfe);
    }
    return formula;
}

/* Columns idx[0..m-1] sharing rhs/fe/subset/cluster, fitted in one call. */
typedef struct {
    size_t *idx;
    size_t m;
    gravrd_reg_results *res;
    gravrd_status st;
    gravrd_error err;
} batch_job;

static void fit_job(rep_run *r, const colspec *cols, batch_job *job, const gravrd_frame *frame,
                    const gravrd_eval_env *env, int threads, gravrd_reg_cache *cache)
{
    char *formula = batch_formula(cols, job->idx, job->m);
    if (!formula) {
        job->st = NOMEM(&job->err);
        return;
    }
    gravrd_reg_options ro;
    reg_options(&cols[job->idx[0]], &ro, env, threads);
    ro.cache = cache;
    job->st = gravrd_reg(frame, formula, &ro, &job->res, &job->err);
    free(formula);
    (void)r;
}

/* Records a fitted batch in the table (columns, notes, errors). */
static gravrd_status take_job(rep_run *r, gravrd_rep_table *out, colspec *cols, batch_job *job, gravrd_error *err)
{
    gravrd_status st = GRAVRD_OK;
    if (job->st == GRAVRD_ERR_NOMEM) {
        *err = job->err;
        return job->st;
    }
    if (job->st) {
        char msg[GRAVRD_ERROR_MSG_LEN + 32];
        snprintf(msg, sizeof msg, "%s%s", job->st == GRAVRD_ERR_EMPTY ? "empty sample: " : "", job->err.message);
        for (size_t i = 0; i < job->m && !st; i++)
            st = column_error(r, out, &out->columns[job->idx[i]], msg) ? NOMEM(err) : GRAVRD_OK;
        return st;
    }
    for (size_t i = 0; i < job->m && !st; i++) {
        if ((int)i >= job->res->n) {
            st = column_error(r, out, &out->columns[job->idx[i]], "no result") ? NOMEM(err) : GRAVRD_OK;
            continue;
        }
        if (fill_from_result(r, &cols[job->idx[i]], &job->res->results[i], &out->columns[job->idx[i]]))
            st = NOMEM(err);
    }
    for (int w = 0; w < job->res->n_warnings && !st; w++) {
        /* rows dropped for missing values are visible in the observation counts */
        if (strstr(job->res->warnings[w], "removed because of missing"))
            continue;
        if (rep_add_note(out, job->res->warnings[w]))
            st = NOMEM(err);
    }
    return st;
}

/* Fits the jobs, up to `parallel` at a time (each gravrd_reg then on one
 * thread); a batch of several columns that fails is refitted column by
 * column so the error lands on the column that causes it. */
static gravrd_status run_jobs(rep_run *r, gravrd_rep_table *out, colspec *cols, batch_job *jobs, size_t n_jobs,
                              const gravrd_frame *frame, const gravrd_eval_env *env, gravrd_error *err)
{
    int parallel = r->opt->threads > 1 ? r->opt->threads : 1;
    if ((size_t)parallel > n_jobs)
        parallel = (int)n_jobs;
    int inner = parallel > 1 ? 1 : r->opt->threads;
    /* Jobs share their outcomes, regressors, FE and clusters: one cache for
     * all of them (the flow frame's, which lives across tables, or one for
     * this group on a table's own frame). */
    gravrd_reg_cache *local = NULL, *cache = rep_reg_cache(r, frame);
    if (!cache && n_jobs > 1)
        cache = local = gravrd_reg_cache_new(frame);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(parallel) if (parallel > 1)
#endif
    for (long b = 0; b < (long)n_jobs; b++) {
        fit_job(r, cols, &jobs[b], frame, env, inner, cache);
#ifdef _OPENMP
#pragma omp critical(gravrd_replicate_progress)
#endif
        rep_model_done(r, jobs[b].m);
    }
    gravrd_status st = GRAVRD_OK;
    for (size_t b = 0; b < n_jobs && !st; b++) {
        batch_job *job = &jobs[b];
        if (job->st && job->st != GRAVRD_ERR_NOMEM && job->m > 1) {
            for (size_t i = 0; i < job->m && !st; i++) {
                batch_job one = {job->idx + i, 1, NULL, GRAVRD_OK, {0}};
                fit_job(r, cols, &one, frame, env, r->opt->threads, cache);
                st = take_job(r, out, cols, &one, err);
                gravrd_reg_results_free(one.res);
            }
        } else {
            st = take_job(r, out, cols, job, err);
        }
    }
    gravrd_reg_cache_free(local);
    return st;
}

static gravrd_status add_names(char ***names, size_t *n, char **more, size_t n_more)
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

gravrd_status rep_run_regression(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    colspec *cols = NULL;
    size_t n = 0;
    gravrd_status st = expand_columns(r, tb, out, &cols, &n, err);
    if (st)
        return st;
    out->columns = calloc(n ? n : 1, sizeof *out->columns);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    uint8_t *done = calloc(n ? n : 1, 1), *ok = calloc(n ? n : 1, 1);
    if (!out->columns || !idx || !done || !ok) {
        st = NOMEM(err);
        goto end;
    }
    out->n_columns = n;
    for (size_t i = 0; i < n && !st; i++)
        if (init_column(&cols[i], &out->columns[i]))
            st = NOMEM(err);
    /* frames: one per (level, bandwidth, matching distance) */
    for (size_t i = 0; i < n && !st; i++) {
        if (done[i])
            continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && cols[j].level_pairs == cols[i].level_pairs && cols[j].bandwidth == cols[i].bandwidth &&
                ((isnan(cols[j].match_km) && isnan(cols[i].match_km)) || cols[j].match_km == cols[i].match_km)) {
                idx[m++] = j;
                done[j] = 1;
            }
        gravrd_study *study = NULL;
        const gravrd_frame *flows = NULL;
        gravrd_error e2 = {0};
        gravrd_status gs = rep_get_study(r, cols[i].bandwidth, &study, &e2);
        char **names = NULL;
        size_t n_names = 0;
        const char *extra_pairs[] = {"east_city", "west_city", NULL};
        const char *extra_match[] = {"match_id", "match_treated", NULL};
        const char *const *extra = cols[i].level_pairs ? extra_pairs : isnan(cols[i].match_km) ? NULL : extra_match;
        gravrd_eval_env env;
        if (!gs)
            gravrd_study_env(study, &env);
        size_t n_ok = 0;
        for (size_t a = 0; a < m; a++) {
            colspec *c = &cols[idx[a]];
            gravrd_rep_column *col = &out->columns[idx[a]];
            gravrd_status cs = gs;
            gravrd_error ce = e2;
            if (!cs)
                cs = rep_check_needs(r, tb, c->e->settings, c->e->n_settings, !c->level_pairs, &ce);
            if (!cs && !c->level_pairs)
                cs = rep_get_flows(r, &flows, &ce);
            gravrd_reg_options ro;
            reg_options(c, &ro, &env, r->opt->threads);
            if (!cs)
                cs = rep_check_formula_vars(r, study, tb, c->e->line, c->formula, &ro, extra, &ce);
            char **vn = NULL;
            size_t nv = 0;
            if (!cs)
                cs = gravrd_reg_variables(c->formula, &ro, &vn, &nv, &ce);
            if (!cs && add_names(&names, &n_names, vn, nv))
                cs = NOMEM(&ce);
            gravrd_strings_free(vn, nv);
            if (cs == GRAVRD_ERR_NOMEM) {
                st = NOMEM(err);
                break;
            }
            if (cs) {
                if (column_error(r, out, col, ce.message)) {
                    st = NOMEM(err);
                    break;
                }
                rep_model_done(r, 1);
                continue;
            }
            ok[idx[a]] = 1;
            n_ok++;
        }
        gravrd_frame *owned = NULL;       /* pair-level and matched frames; flow frames are the cache's */
        const gravrd_frame *frame = NULL;
        if (!st && n_ok > 0) {
            gravrd_status fs;
            if (cols[i].level_pairs) {
                fs = gravrd_study_pair_frame(study, NULL, (const char *const *)names, n_names, &owned, &e2);
                frame = owned;
            } else if (isnan(cols[i].match_km)) {
                fs = rep_flow_frame(r, cols[i].bandwidth, names, n_names, &frame, &e2);
            } else {
                /* matching stacks every column of its input: give it only these */
                fs = gravrd_study_frame(study, flows, (const char *const *)names, n_names, &owned, &e2);
                frame = owned;
            }
            if (!fs && !isnan(cols[i].match_km)) {
                gravrd_match_options mo = {cols[i].match_km, 0};
                gravrd_match_summary ms;
                gravrd_frame *matched = NULL;
                fs = gravrd_match_frame(study, frame, &mo, &matched, &ms, &e2);
                gravrd_frame_free(owned);
                owned = matched;
                frame = matched;
                if (!fs) {
                    char note[256];
                    snprintf(note, sizeof note,
                             "Matched sample within %g km: %zu matches (%zu treated pairs unmatched), %zu control "
                             "entries, %zu rows.",
                             cols[i].match_km, ms.n_matches, ms.n_unmatched, ms.n_control_entries, ms.n_rows_out);
                    if (rep_add_note(out, note))
                        fs = NOMEM(&e2);
                }
            }
            if (fs) {
                if (fs == GRAVRD_ERR_NOMEM)
                    st = NOMEM(err);
                for (size_t a = 0; a < m && !st; a++)
                    if (ok[idx[a]]) {
                        ok[idx[a]] = 0;
                        if (column_error(r, out, &out->columns[idx[a]], e2.message))
                            st = NOMEM(err);
                        rep_model_done(r, 1);
                    }
            }
        }
        /* batches: same rhs/fe, subset, cluster, vcov */
        size_t *batch = malloc((m ? m : 1) * sizeof *batch);
        batch_job *jobs = calloc(m ? m : 1, sizeof *jobs);
        uint8_t *used = calloc(m ? m : 1, 1);
        size_t n_jobs = 0, nb_total = 0;
        if (!batch || !used || !jobs)
            st = NOMEM(err);
        for (size_t a = 0; a < m && !st; a++) {
            colspec *ca = &cols[idx[a]];
            if (used[a] || !ok[idx[a]])
                continue;
            batch_job *job = &jobs[n_jobs++];
            job->idx = batch + nb_total;
            for (size_t b = a; b < m; b++) {
                colspec *cb = &cols[idx[b]];
                if (used[b] || !ok[idx[b]])
                    continue;
                if (!plan_same_term(ca->rhsfe, cb->rhsfe) || !same_str(ca->subset, cb->subset) ||
                    !same_str(ca->cluster, cb->cluster) || !same_str(ca->vcov, cb->vcov))
                    continue;
                int dup = 0;    /* the same outcome twice: it gets its own batch */
                for (size_t k = 0; k < job->m && !dup; k++)
                    dup = plan_same_term(cols[job->idx[k]].outcome_expr, cb->outcome_expr);
                if (dup)
                    continue;
                job->idx[job->m++] = idx[b];
                used[b] = 1;
            }
            nb_total += job->m;
        }
        r->table_name = tb->name;
        if (!st && n_jobs > 0)
            st = run_jobs(r, out, cols, jobs, n_jobs, frame, &env, err);
        for (size_t b = 0; jobs && b < n_jobs; b++)
            gravrd_reg_results_free(jobs[b].res);
        free(jobs);
        free(batch);
        free(used);
        gravrd_frame_free(owned);
        gravrd_strings_free(names, n_names);
    }
end:
    free(idx);
    free(done);
    free(ok);
    colspecs_free(cols, n);
    return st;
}

/* ---- balance ---- */

gravrd_status rep_run_balance(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    const gravrd_plan_kv *kv = tb->settings;
    size_t nk = tb->n_settings;
    gravrd_status st = rep_check_needs(r, tb, kv, nk, 0, err);
    if (st)
        return st;
    gravrd_study *study = NULL;
    if ((st = rep_get_study(r, rep_bandwidth(r, kv, nk), &study, err)))
        return st;
    char **items = NULL, **vars = NULL;
    size_t n_items = 0, n_vars = 0;
    double *bws = NULL;
    gravrd_balance_options bo = {0};
    gravrd_reg_results *res = NULL;
    st = plan_split_list(gravrd_plan_get(kv, nk, "bandwidths", NULL, NULL), ',', &items, &n_items, err);
    const char *vtext = gravrd_plan_get(kv, nk, "vars", NULL, NULL);
    if (!st && vtext)
        st = plan_split_list(vtext, ',', &vars, &n_vars, err);
    if (!st && !(bws = malloc((n_items + 1) * sizeof *bws)))
        st = NOMEM(err);
    if (st)
        goto done;
    for (size_t i = 0; i < n_items; i++) {
        if (!strcmp(items[i], "none"))
            bo.without_fe = 1;
        else
            bws[bo.n_bandwidths++] = strtod(items[i], NULL);
    }
    bo.bandwidths_km = bws;
    bo.vars = (const char *const *)vars;
    bo.n_vars = n_vars;
    const char *vc = gravrd_plan_get(kv, nk, "vcov", NULL, NULL);
    bo.vcov = vc && !strcmp(vc, "iid") ? GRAVRD_VCOV_IID : GRAVRD_VCOV_HETERO;
    for (size_t i = 0; i < n_vars && !st; i++) {
        const char *extra[] = {"east_city", "west_city", NULL};
        st = rep_check_expr_vars(r, study, tb, tb->line, vars[i], extra, err);
    }
    if (!st)
        st = gravrd_study_balance(study, &bo, &res, err);
    rep_model_done(r, (size_t)(bo.n_bandwidths + (size_t)bo.without_fe));
    if (st)
        goto done;
    out->columns = calloc((size_t)res->n + 1, sizeof *out->columns);
    if (!out->columns) {
        st = NOMEM(err);
        goto done;
    }
    /* a spec carrying the table's settings for labels and templates */
    gravrd_plan_entry pseudo = {"column", "", "", tb->line, (gravrd_plan_kv *)kv, nk};
    for (int j = 0; j < res->n && !st; j++) {
        colspec c = {0};
        c.e = &pseudo;
        c.sample_name = "pairs";
        c.bandwidth = j == 0 && bo.without_fe ? NAN : bws[j - bo.without_fe];
        c.match_km = NAN;
        char label[64], name[64];
        if (j == 0 && bo.without_fe) {
            snprintf(label, sizeof label, "No segment FE");
            snprintf(name, sizeof name, "none");
        } else {
            snprintf(label, sizeof label, "d = %g km", c.bandwidth);
            snprintf(name, sizeof name, "%gkm", c.bandwidth);
        }
        c.label = label;
        c.name = name;
        c.group = (char *)"partner";
        c.outcome_expr = (char *)"partner";
        c.formula = res->results[j].formula;
        gravrd_rep_column *col = &out->columns[out->n_columns++];
        if (init_column(&c, col) || fill_from_result(r, &c, &res->results[j], col))
            st = NOMEM(err);
        free(col->sample_label);
        col->sample_label = plan_strdup("east-west pairs");
    }
    for (int w = 0; res && w < res->n_warnings && !st; w++)
        if (rep_add_note(out, res->warnings[w]))
            st = NOMEM(err);
done:
    gravrd_reg_results_free(res);
    plan_strings_free(items, n_items);
    plan_strings_free(vars, n_vars);
    free(bws);
    return st;
}

/* ---- local linear RD ---- */

/* One RD column: prepared sequentially (checks, cached study and flows),
 * computed in parallel, recorded sequentially. */
typedef struct {
    gravrd_status st;
    gravrd_error err;
    gravrd_study *study;
    const gravrd_frame *frame;     /* the cache's */
    char *formula;
    double *bws;
    size_t n_bws;
    char **names;
    size_t n_names;
    gravrd_rd_result *rd;
} rd_job;

static void rd_compute(rep_run *r, const colspec *c, rd_job *job, int threads)
{
    const gravrd_plan_entry *e = c->e;
    const gravrd_frame *frame = job->frame;
    gravrd_eval_env env;
    gravrd_study_env(job->study, &env);
    (void)r;
    {
        const char *fe = gravrd_plan_get(e->settings, e->n_settings, "fe", NULL, NULL);
        gravrd_rd_study_options ro;
        gravrd_rd_study_options_init(&ro);
        ro.outcome = c->outcome_expr;
        ro.subset = c->subset;
        ro.fixed_effects = fe ? fe : "";
        const char *side = gravrd_plan_get(e->settings, e->n_settings, "side", NULL, NULL);
        ro.side = !side || !strcmp(side, "exporter") ? GRAVRD_RD_SIDE_EXPORTER
                  : !strcmp(side, "importer")         ? GRAVRD_RD_SIDE_IMPORTER
                                                      : GRAVRD_RD_SIDE_BOTH;
        const char *radius = gravrd_plan_get(e->settings, e->n_settings, "radius", NULL, NULL);
        double maxbw = 0;
        for (size_t b = 0; b < job->n_bws; b++)
            if (job->bws[b] > maxbw)
                maxbw = job->bws[b];
        ro.radius_km = radius ? strtod(radius, NULL) : maxbw;
        ro.bandwidths_km = job->bws;
        ro.n_bandwidths = job->n_bws;
        const char *optimal = gravrd_plan_get(e->settings, e->n_settings, "optimal", NULL, NULL);
        ro.select_bandwidth = optimal && !strcmp(optimal, "yes");
        ro.threads = threads;
        ro.env = &env;
        job->st = gravrd_rd_study(job->study, frame, &ro, &job->rd, &job->err);
    }
}

static gravrd_status rd_record(rep_run *r, const colspec *c, rd_job *job, gravrd_rep_table *out,
                               gravrd_rep_column *col, gravrd_error *err)
{
    const gravrd_plan_entry *e = c->e;
    gravrd_rd_result *rd = job->rd;
    if (job->st == GRAVRD_ERR_NOMEM)
        return NOMEM(err);
    if (job->st)
        return column_error(r, out, col, job->err.message) ? NOMEM(err) : GRAVRD_OK;
    gravrd_status st = GRAVRD_OK;
    col->nobs = rd->n_obs;
    col->n_clusters = rd->n_clusters;
    free(col->vcov);
    col->vcov = plan_strdup("cluster: pair (RD)");
    free(col->formula);
    col->formula = plan_format("RD of %s (residualised on %s), side %s", rd->outcome,
                               rd->fixed_effects[0] ? rd->fixed_effects : "nothing", gravrd_rd_side_name(rd->side));
    size_t nc = rd->n_bandwidths + (size_t)(rd->has_optimal != 0);
    col->coefs = calloc(nc + 1, sizeof *col->coefs);
    if (!col->vcov || !col->formula || !col->coefs)
        return NOMEM(err);
    rep_ctx ctx = {c->outcome, c->sample, c->sample_name, e, c->name, "rd"};
    for (size_t b = 0; b < nc && !st; b++) {
        const gravrd_rd_estimate *est = b < rd->n_bandwidths ? &rd->by_bandwidth[b] : &rd->optimal;
        gravrd_rep_coef *o = &col->coefs[col->n_coefs++];
        int opt_row = b >= rd->n_bandwidths;
        o->key = opt_row ? plan_strdup("rd_opt") : plan_format("rd_h%g", rd->by_bandwidth[b].h);
        o->label = opt_row ? plan_format("h = %.0f km (MSE-optimal)", est->h) : plan_format("h = %g km", est->h);
        if (!o->key || !o->label)
            return NOMEM(err);
        o->is_rd = 1;
        o->bandwidth_km = est->h;
        o->estimate = est->estimate;
        o->se = est->se;
        o->t = est->z;
        o->p = est->p_value;
        o->ci_lo = est->ci_lo;
        o->ci_hi = est->ci_hi;
        o->estimate_bc = est->estimate_bc;
        o->se_robust = est->se_robust;
        o->ci_lo_robust = est->ci_lo_robust;
        o->ci_hi_robust = est->ci_hi_robust;
        o->n_left = est->left.n;
        o->n_right = est->right.n;
        o->n_clusters = est->left.n_clusters + est->right.n_clusters;
        o->pub_estimate = o->pub_se = NAN;
        rep_published_pair(r, gravrd_plan_get(e->settings, e->n_settings, "published", "rd", NULL), &ctx,
                           &o->pub_estimate, &o->pub_se);
        rep_published_range(r, gravrd_plan_get(e->settings, e->n_settings, "published_range", "rd", NULL), &ctx,
                            &o->pub_lo, &o->pub_hi);
        o->truth = rep_truth(r, gravrd_plan_get(e->settings, e->n_settings, "truth", "rd", NULL), &ctx, NULL, NULL);
    }
    for (int w = 0; w < rd->n_warnings && !st; w++)
        if (rep_add_note(out, rd->warnings[w]))
            st = NOMEM(err);
    return st;
}

gravrd_status rep_run_rd(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    colspec *cols = NULL;
    size_t n = 0;
    gravrd_status st = expand_columns(r, tb, out, &cols, &n, err);
    if (st)
        return st;
    out->columns = calloc(n ? n : 1, sizeof *out->columns);
    rd_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!out->columns || !jobs) {
        free(jobs);
        colspecs_free(cols, n);
        return NOMEM(err);
    }
    out->n_columns = n;
    for (size_t i = 0; i < n && !st; i++)
        if (init_column(&cols[i], &out->columns[i]))
            st = NOMEM(err);
    /* sequential: checks, the cached study and flows, the variables */
    size_t n_ready = 0;
    for (size_t i = 0; i < n && !st; i++) {
        colspec *c = &cols[i];
        const gravrd_plan_entry *e = c->e;
        rd_job *job = &jobs[i];
        const gravrd_frame *flows = NULL;
        const char *fe = gravrd_plan_get(e->settings, e->n_settings, "fe", NULL, NULL);
        job->formula = plan_format("%s ~ 1%s%s", c->outcome_expr, fe && *fe ? " | " : "", fe && *fe ? fe : "");
        if (!job->formula) {
            st = NOMEM(err);
            break;
        }
        job->st = gravrd_parse_bandwidths(gravrd_plan_get(e->settings, e->n_settings, "bandwidths", NULL, NULL),
                                          &job->bws, &job->n_bws, &job->err);
        if (!job->st)
            job->st = rep_check_needs(r, tb, e->settings, e->n_settings, 1, &job->err);
        if (!job->st)
            job->st = rep_get_study(r, c->bandwidth, &job->study, &job->err);
        if (!job->st)
            job->st = rep_get_flows(r, &flows, &job->err);
        if (!job->st) {
            gravrd_eval_env env;
            gravrd_reg_options ro;
            gravrd_study_env(job->study, &env);
            gravrd_reg_options_init(&ro);
            ro.subset = c->subset;
            ro.env = &env;
            job->st = rep_check_formula_vars(r, job->study, tb, e->line, job->formula, &ro, NULL, &job->err);
            if (!job->st)
                job->st = gravrd_reg_variables(job->formula, &ro, &job->names, &job->n_names, &job->err);
            if (!job->st)
                job->st = rep_flow_frame(r, c->bandwidth, job->names, job->n_names, &job->frame, &job->err);
        }
        if (job->st == GRAVRD_ERR_NOMEM)
            st = NOMEM(err);
        n_ready += !job->st;
    }
    int parallel = r->opt->threads > 1 ? r->opt->threads : 1;
    if ((size_t)parallel > n_ready)
        parallel = n_ready ? (int)n_ready : 1;
    int inner = parallel > 1 ? 1 : r->opt->threads;
    if (!st) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(parallel) if (parallel > 1)
#endif
        for (long i = 0; i < (long)n; i++) {
            if (!jobs[i].st)
                rd_compute(r, &cols[i], &jobs[i], inner);
#ifdef _OPENMP
#pragma omp critical(gravrd_replicate_progress)
#endif
            rep_model_done(r, 1);
        }
    }
    for (size_t i = 0; i < n && !st; i++)
        st = rd_record(r, &cols[i], &jobs[i], out, &out->columns[i], err);
    for (size_t i = 0; i < n; i++) {
        gravrd_rd_result_free(jobs[i].rd);
        gravrd_strings_free(jobs[i].names, jobs[i].n_names);
        free(jobs[i].bws);
        free(jobs[i].formula);
    }
    free(jobs);
    colspecs_free(cols, n);
    return st;
}

/* ---- mediation ---- */

/* splitmix64: the bootstrap's random numbers (deterministic for a seed). */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Rows where every variable of both formulas is usable (outcomes and
 * terms finite, FE and cluster not missing) and the subset holds. */
/* The values of x on f: the cache's when there is one (the flow frame's:
 * outcomes and regressors evaluated by earlier tables), else evaluated into
 * buf. */
static gravrd_status values_of(gravrd_reg_cache *cache, const gravrd_expr *x, const gravrd_eval_env *env, double *buf,
                               const double **out, gravrd_error *err)
{
    if (cache) {
        char *text = gravrd_expr_deparse(x);
        if (!text)
            return NOMEM(err);
        gravrd_status st = gravrd_reg_cache_eval(cache, text, env, out, err);
        free(text);
        return st;
    }
    *out = buf;
    return gravrd_expr_eval(x, env, buf, err);
}

static gravrd_status common_rows(const gravrd_frame *f, gravrd_reg_cache *cache, const gravrd_eval_env *env_in,
                                 const char *const *formulas, size_t n_formulas, const char *subset,
                                 const char *cluster, uint8_t *keep_N, gravrd_error *err)
{
    size_t N = f->n_rows;
    gravrd_eval_env env = *env_in;
    env.frame = f;
    double *buf = malloc((N ? N : 1) * sizeof *buf);
    const double *v = NULL;
    if (!buf)
        return NOMEM(err);
    gravrd_status st = GRAVRD_OK;
    for (size_t i = 0; i < N; i++)
        keep_N[i] = 1;
    if (subset) {
        gravrd_expr *x = NULL;
        st = gravrd_expr_parse(subset, &x, err);
        if (!st)
            st = values_of(cache, x, &env, buf, &v, err);
        gravrd_expr_free(x);
        for (size_t i = 0; i < N && !st; i++)
            keep_N[i] = v[i] == 1;
    }
    for (size_t k = 0; k < n_formulas && !st; k++) {
        gravrd_formula *fm = NULL;
        if ((st = gravrd_formula_parse(formulas[k], &fm, err)))
            break;
        for (int o = 0; o < fm->n_outcomes && !st; o++) {
            st = values_of(cache, fm->outcomes[o], &env, buf, &v, err);
            for (size_t i = 0; i < N && !st; i++)
                keep_N[i] &= isfinite(v[i]) != 0;
        }
        for (int t = 0; t < fm->n_terms && !st; t++)
            for (int q = 0; q < fm->terms[t].n_factors && !st; q++) {
                st = values_of(cache, fm->terms[t].factors[q], &env, buf, &v, err);
                for (size_t i = 0; i < N && !st; i++)
                    keep_N[i] &= isfinite(v[i]) != 0;
            }
        for (int q = 0; q < fm->n_fes && !st; q++)
            for (int a = 0; a < fm->fes[q].n_vars; a++) {
                const gravrd_column *c = gravrd_frame_find(f, fm->fes[q].vars[a]);
                if (!c)
                    continue;
                for (size_t i = 0; i < N; i++)
                    keep_N[i] &= c->type == GRAVRD_COL_FACTOR ? c->codes_N[i] >= 0 : !isnan(c->num_N[i]);
            }
        gravrd_formula_free(fm);
    }
    if (!st && cluster) {
        const gravrd_column *c = gravrd_frame_find(f, cluster);
        if (c)
            for (size_t i = 0; i < N; i++)
                keep_N[i] &= c->type == GRAVRD_COL_FACTOR ? c->codes_N[i] >= 0 : !isnan(c->num_N[i]);
    }
    free(buf);
    return st;
}

/* A frame of the rows rows[0..n-1] (with repetition), every column. */
static gravrd_frame *gather(const gravrd_frame *f, const size_t *rows, size_t n)
{
    gravrd_frame *g = gravrd_frame_new(n, f->source ? f->source : "");
    if (!g)
        return NULL;
    gravrd_error e = {0};
    for (size_t c = 0; c < f->n_cols; c++) {
        const gravrd_column *col = &f->cols[c];
        if (col->type == GRAVRD_COL_NUMERIC) {
            double *v = malloc((n ? n : 1) * sizeof *v);
            if (!v)
                goto fail;
            for (size_t i = 0; i < n; i++)
                v[i] = col->num_N[rows[i]];
            if (gravrd_frame_add_numeric(g, col->name, v, &e))
                goto fail;
        } else {
            int32_t *codes = malloc((n ? n : 1) * sizeof *codes);
            char **levels = calloc((size_t)col->n_levels + 1, sizeof *levels);
            if (!codes || !levels) {
                free(codes);
                free(levels);
                goto fail;
            }
            for (size_t i = 0; i < n; i++)
                codes[i] = col->codes_N[rows[i]];
            for (int32_t l = 0; l < col->n_levels; l++)
                if (!(levels[l] = plan_strdup(col->levels_L[l]))) {
                    gravrd_strings_free(levels, (size_t)l);
                    free(codes);
                    goto fail;
                }
            if (gravrd_frame_add_factor(g, col->name, codes, levels, col->n_levels, &e))
                goto fail;
        }
    }
    return g;
fail:
    gravrd_frame_free(g);
    return NULL;
}

static const gravrd_coef *find_coef(const gravrd_reg_result *res, const char *name)
{
    for (int k = 0; k < res->n_coef; k++)
        if (plan_same_term(res->coefs[k].name, name))
            return &res->coefs[k];
    return NULL;
}

/* Pairs cluster bootstrap of the coefficient change: B resamples of the
 * clusters with replacement, both models refitted (iid variance, which is
 * not used) on each; returns the standard deviation of the differences. */
static gravrd_status bootstrap_difference(rep_run *r, const gravrd_frame *f, const char *cluster, const char *f_base,
                                          const char *f_test, const char *coef, const gravrd_eval_env *env,
                                          int keep_singletons, int threads, uint64_t seed, int *reps_ok, double *sd,
                                          gravrd_error *err)
{
    *reps_ok = 0;
    *sd = NAN;
    size_t N = f->n_rows;
    const gravrd_column *cc = gravrd_frame_find(f, cluster);
    if (!cc)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "bootstrap: no cluster variable '%s'", cluster);
    int32_t *code = malloc((N ? N : 1) * sizeof *code), G = 0;
    if (!code)
        return NOMEM(err);
    gravrd_status st = gravrd_column_group_codes(cc, N, code, &G, NULL, err);
    size_t *start = NULL, *rows_by = NULL, *rows = NULL;
    double *diffs = NULL;
    if (!st) {
        start = calloc((size_t)G + 1, sizeof *start);
        rows_by = malloc((N ? N : 1) * sizeof *rows_by);
        rows = malloc((2 * N + 1) * sizeof *rows);
        diffs = malloc(((size_t)r->opt->bootstrap + 1) * sizeof *diffs);
        if (!start || !rows_by || !rows || !diffs)
            st = NOMEM(err);
    }
    if (!st) {
        for (size_t i = 0; i < N; i++)
            start[code[i] + 1]++;
        for (int32_t g = 0; g < G; g++)
            start[g + 1] += start[g];
        size_t *fill = malloc(((size_t)G + 1) * sizeof *fill);
        if (!fill)
            st = NOMEM(err);
        else {
            memcpy(fill, start, ((size_t)G + 1) * sizeof *fill);
            for (size_t i = 0; i < N; i++)
                rows_by[fill[code[i]]++] = i;
            free(fill);
        }
    }
    size_t cap = 2 * N + 1;
    for (int b = 0; b < r->opt->bootstrap && !st; b++) {
        size_t n = 0;
        for (int32_t k = 0; k < G && !st; k++) {
            int32_t g = (int32_t)((double)(splitmix64(&seed) >> 11) * 0x1.0p-53 * (double)G);
            size_t len = start[g + 1] - start[g];
            if (n + len > cap) {
                size_t *grown = realloc(rows, (2 * (n + len)) * sizeof *grown);
                if (!grown) {
                    st = NOMEM(err);
                    break;
                }
                rows = grown;
                cap = 2 * (n + len);
            }
            memcpy(rows + n, rows_by + start[g], len * sizeof *rows);
            n += len;
        }
        if (st)
            break;
        gravrd_frame *bf = gather(f, rows, n);
        if (!bf) {
            st = NOMEM(err);
            break;
        }
        gravrd_reg_options ro;
        gravrd_reg_options_init(&ro);
        ro.env = env;
        ro.threads = threads;
        ro.keep_singletons = keep_singletons;
        ro.cache = gravrd_reg_cache_new(bf); /* the two models share outcome, codes and rows */
        gravrd_reg_results *ra = NULL, *rb = NULL;
        gravrd_error e2 = {0};
        int ok = !gravrd_reg(bf, f_base, &ro, &ra, &e2) && !gravrd_reg(bf, f_test, &ro, &rb, &e2);
        gravrd_reg_cache_free(ro.cache);
        if (ok) {
            const gravrd_coef *ca = find_coef(&ra->results[0], coef), *cb = find_coef(&rb->results[0], coef);
            if (ca && cb && isfinite(ca->estimate) && isfinite(cb->estimate))
                diffs[(*reps_ok)++] = ca->estimate - cb->estimate;
        }
        gravrd_reg_results_free(ra);
        gravrd_reg_results_free(rb);
        gravrd_frame_free(bf);
#ifdef _OPENMP
#pragma omp critical(gravrd_replicate_progress)
#endif
        {
            rep_progress(r, "bootstrap");
            rep_model_done(r, 2);
        }
    }
    if (!st && *reps_ok >= 2) {
        double mean = 0, ss = 0;
        for (int b = 0; b < *reps_ok; b++)
            mean += diffs[b];
        mean /= *reps_ok;
        for (int b = 0; b < *reps_ok; b++)
            ss += (diffs[b] - mean) * (diffs[b] - mean);
        *sd = sqrt(ss / (*reps_ok - 1));
    }
    free(code);
    free(start);
    free(rows_by);
    free(rows);
    free(diffs);
    return st;
}

static int same_fe(const char *fa, const char *fb)
{
    const char *a = strchr(fa, '|'), *b = strchr(fb, '|');
    if (!a || !b)
        return !a && !b;
    return plan_same_term(a, b);
}

/* One mediation test: prepared sequentially, computed in parallel. */
typedef struct {
    const gravrd_plan_entry *e;
    gravrd_rep_test *t;
    gravrd_status st;
    gravrd_error err;
    gravrd_study *study;
    const gravrd_frame *frame;     /* the cache's */
    gravrd_reg_cache *cache;       /* the frame's (shared, thread-safe) */
    char *subset;
    const char *cluster;
    char **names;
    size_t n_names;
    uint64_t seed;
} med_job;

/* A new frame with the named columns of f (those it has) on the rows where keep_N is set. */
static gravrd_frame *select_rows(const gravrd_frame *f, char *const *names, size_t n_names, const uint8_t *keep_N)
{
    gravrd_frame *part = gravrd_frame_new(f->n_rows, f->source ? f->source : "");
    if (!part)
        return NULL;
    gravrd_error e = {0};
    for (size_t i = 0; i < n_names; i++) {
        const gravrd_column *c = gravrd_frame_find(f, names[i]);
        if (!c || gravrd_frame_find(part, names[i]))
            continue;
        /* borrow the data: part is only filtered (copied) below, then released */
        gravrd_status st = c->type == GRAVRD_COL_NUMERIC
                               ? gravrd_frame_add_numeric(part, c->name, c->num_N, &e)
                               : gravrd_frame_add_factor(part, c->name, c->codes_N, c->levels_L, c->n_levels, &e);
        if (st)
            break;
    }
    gravrd_frame *out = gravrd_frame_filter(part, keep_N);
    /* give the borrowed data back before freeing */
    for (size_t c = 0; c < part->n_cols; c++) {
        part->cols[c].num_N = NULL;
        part->cols[c].codes_N = NULL;
        part->cols[c].levels_L = NULL;
        part->cols[c].n_levels = 0;
    }
    gravrd_frame_free(part);
    return out;
}

static void med_compute(rep_run *r, med_job *job, int threads)
{
    const gravrd_plan_entry *e = job->e;
    gravrd_rep_test *t = job->t;
    const char *coef = t->coefficient, *base = t->base;
    gravrd_frame *same = NULL;
    uint8_t *keep = NULL;
    gravrd_reg_results *ra = NULL, *rb = NULL;
    gravrd_eval_env env;
    gravrd_study_env(job->study, &env);
    gravrd_reg_options ro;
    gravrd_reg_options_init(&ro);
    ro.cluster = job->cluster;
    ro.env = &env;
    ro.threads = threads;
    gravrd_error *ce = &job->err;
    const gravrd_frame *frame = job->frame;
    gravrd_status cs = GRAVRD_OK;
    if (!(keep = malloc(frame->n_rows ? frame->n_rows : 1)))
        cs = NOMEM(ce);
    const char *fs[2] = {base, e->value};
    if (!cs)
        cs = common_rows(frame, job->cache, &env, fs, 2, job->subset, job->cluster, keep, ce);
    if (!cs) {
        size_t kept = 0;
        for (size_t i = 0; i < frame->n_rows; i++)
            kept += keep[i];
        if (kept == 0)
            cs = gravrd_error_set(ce, GRAVRD_ERR_EMPTY, "no rows where both models' variables are usable");
        else if (!(same = select_rows(frame, job->names, job->n_names, keep)))
            cs = NOMEM(ce);
    }
    int keep_single = !same_fe(base, e->value);
    if (!cs) {
        /* the two models share their outcome, most regressors and the FE */
        gravrd_reg_cache *pair_cache = gravrd_reg_cache_new(same);
        gravrd_reg_options mo = ro;
        mo.keep_scores = 1;
        mo.keep_singletons = keep_single;
        mo.cache = pair_cache;
        cs = gravrd_reg(same, base, &mo, &ra, ce);
        if (!cs)
            cs = gravrd_reg(same, e->value, &mo, &rb, ce);
        gravrd_reg_cache_free(pair_cache);
    }
#ifdef _OPENMP
#pragma omp critical(gravrd_replicate_progress)
#endif
    rep_model_done(r, 2);
    gravrd_suest_result sr;
    if (!cs)
        cs = gravrd_suest_difference(&ra->results[0], coef, &rb->results[0], coef, &sr, ce);
    if (!cs) {
        t->base_estimate = find_coef(&ra->results[0], coef)->estimate;
        t->mediated_estimate = find_coef(&rb->results[0], coef)->estimate;
        t->difference = sr.difference;
        t->se = sr.se;
        t->t = sr.t;
        t->p = sr.p;
        t->n_clusters = sr.n_clusters;
        t->nobs = ra->results[0].nobs;
        if (r->opt->bootstrap > 0 && job->cluster) {
            cs = bootstrap_difference(r, same, job->cluster, base, e->value, coef, &env, keep_single, threads,
                                      job->seed, &t->bootstrap_reps, &t->bootstrap_se, ce);
            if (!cs && isfinite(t->bootstrap_se) && t->bootstrap_se > 0)
                t->bootstrap_p = 2 * gsl_cdf_ugaussian_Q(fabs(t->difference) / t->bootstrap_se);
        }
    }
    job->st = cs;
    gravrd_reg_results_free(ra);
    gravrd_reg_results_free(rb);
    gravrd_frame_free(same);
    free(keep);
}

gravrd_status rep_run_mediation(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    size_t n = 0;
    for (size_t k = 0; k < tb->n_entries; k++)
        n += !strcmp(tb->entries[k].verb, "test");
    out->tests = calloc(n ? n : 1, sizeof *out->tests);
    med_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!out->tests || !jobs) {
        free(jobs);
        return NOMEM(err);
    }
    gravrd_status st = GRAVRD_OK;
    uint64_t seed = r->opt->seed ? r->opt->seed : 20240523u;
    size_t n_ready = 0;
    /* sequential: the test's fields, checks, the cached study and flows */
    for (size_t k = 0; k < tb->n_entries && !st; k++) {
        const gravrd_plan_entry *e = &tb->entries[k];
        if (strcmp(e->verb, "test"))
            continue;
        med_job *job = &jobs[out->n_tests];
        gravrd_rep_test *t = &out->tests[out->n_tests++];
        job->e = e;
        job->t = t;
        job->seed = seed + 0x9e3779b97f4a7c15ULL * out->n_tests;    /* one stream per test */
        const char *coef = gravrd_plan_get(e->settings, e->n_settings, "coefficient", NULL, NULL);
        const char *base = gravrd_plan_get(e->settings, e->n_settings, "base", NULL, NULL);
        t->line = e->line;
        t->label = plan_strdup(e->arg);
        t->coefficient = plan_strdup(coef);
        t->base = plan_strdup(base);
        t->mediated = plan_strdup(e->value);
        t->base_estimate = t->mediated_estimate = t->difference = t->se = t->t = t->p = NAN;
        t->bootstrap_se = t->bootstrap_p = NAN;
        if (!t->label || !t->coefficient || !t->base || !t->mediated) {
            st = NOMEM(err);
            break;
        }
        const gravrd_plan_def *sd = NULL;
        const char *sname = NULL;
        job->subset = rep_subset(r->plan, e->settings, e->n_settings, &sd, &sname);
        rep_ctx ctx = {NULL, sd, sname, e, e->arg, coef};
        t->truth = rep_truth(r, gravrd_plan_get(e->settings, e->n_settings, "truth", NULL, NULL), &ctx, NULL, NULL);
        t->pub_base = rep_published_number(r, gravrd_plan_get(e->settings, e->n_settings, "published_stat", "base",
                                                              NULL), &ctx);
        t->pub_mediated = rep_published_number(
            r, gravrd_plan_get(e->settings, e->n_settings, "published_stat", "mediated", NULL), &ctx);
        job->cluster = line_cluster(r, e);
        gravrd_error *ce = &job->err;
        const gravrd_frame *flows = NULL;
        gravrd_status cs = rep_check_needs(r, tb, e->settings, e->n_settings, 1, ce);
        if (!cs)
            cs = rep_get_study(r, rep_bandwidth(r, e->settings, e->n_settings), &job->study, ce);
        if (!cs)
            cs = rep_get_flows(r, &flows, ce);
        gravrd_eval_env env;
        gravrd_reg_options ro;
        if (!cs) {
            gravrd_study_env(job->study, &env);
            gravrd_reg_options_init(&ro);
            ro.subset = job->subset;
            ro.cluster = job->cluster;
            ro.env = &env;
            cs = rep_check_formula_vars(r, job->study, tb, e->line, base, &ro, NULL, ce);
        }
        if (!cs)
            cs = rep_check_formula_vars(r, job->study, tb, e->line, e->value, &ro, NULL, ce);
        char **vn = NULL;
        size_t nv = 0;
        if (!cs)
            cs = gravrd_reg_variables(base, &ro, &job->names, &job->n_names, ce);
        if (!cs)
            cs = gravrd_reg_variables(e->value, &ro, &vn, &nv, ce);
        if (!cs && add_names(&job->names, &job->n_names, vn, nv))
            cs = NOMEM(ce);
        gravrd_strings_free(vn, nv);
        if (!cs)
            cs = rep_flow_frame(r, rep_bandwidth(r, e->settings, e->n_settings), job->names, job->n_names,
                                &job->frame, ce);
        if (!cs) /* created here, before the parallel part */
            job->cache = rep_reg_cache(r, job->frame);
        if (cs == GRAVRD_ERR_NOMEM)
            st = NOMEM(err);
        job->st = cs;
        n_ready += !cs;
    }
    int parallel = r->opt->threads > 1 ? r->opt->threads : 1;
    if ((size_t)parallel > n_ready)
        parallel = n_ready ? (int)n_ready : 1;
    int inner = parallel > 1 ? 1 : r->opt->threads;
    if (!st) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(parallel) if (parallel > 1)
#endif
        for (long i = 0; i < (long)out->n_tests; i++)
            if (!jobs[i].st)
                med_compute(r, &jobs[i], inner);
    }
    for (size_t i = 0; i < out->n_tests && !st; i++) {
        med_job *job = &jobs[i];
        if (job->st == GRAVRD_ERR_NOMEM)
            st = NOMEM(err);
        else if (job->st) {
            const char *msg = job->err.message;
            char *m = strstr(msg, r->plan->source) == msg
                          ? plan_strdup(msg)
                          : plan_format("%s:%d: test %s: %s", r->plan->source, job->e->line, job->e->arg, msg);
            job->t->error = m;
            if (!m || rep_add_error(out, m))
                st = NOMEM(err);
        }
    }
    for (size_t i = 0; i < out->n_tests; i++) {
        free(jobs[i].subset);
        gravrd_strings_free(jobs[i].names, jobs[i].n_names);
    }
    free(jobs);
    if (!st && r->opt->bootstrap > 0) {
        char note[200];
        snprintf(note, sizeof note,
                 "Bootstrap: %d resamples of the clusters with replacement, both models refitted on each; p-value "
                 "from the normal approximation with the bootstrap standard error.",
                 r->opt->bootstrap);
        if (rep_add_note(out, note))
            st = NOMEM(err);
    }
    return st;
}

size_t rep_count_models(const rep_run *r, const gravrd_plan_table *tb)
{
    size_t n = 0;
    switch (tb->kind) {
    case GRAVRD_TABLE_REGRESSION:
    case GRAVRD_TABLE_MATCH:
    case GRAVRD_TABLE_RD:
        for (size_t k = 0; k < tb->n_entries; k++) {
            const gravrd_plan_entry *e = &tb->entries[k];
            if (!strcmp(e->verb, "column"))
                n++;
            else if (!strcmp(e->verb, "grid")) {
                size_t outs = 1, samples = 1;
                const char *x = NULL;
                for (const char *c = e->value; *c; c++) {
                    if (*c == ',' && !x)
                        outs++;
                    if (*c == 'x' && c > e->value && isspace((unsigned char)c[-1]) && isspace((unsigned char)c[1]))
                        x = c;
                    else if (*c == ',' && x)
                        samples++;
                }
                n += outs * samples;
            }
        }
        break;
    case GRAVRD_TABLE_BALANCE: {
        const char *b = gravrd_plan_get(tb->settings, tb->n_settings, "bandwidths", NULL, NULL);
        n = 1;
        for (const char *c = b ? b : ""; *c; c++)
            n += *c == ',';
        break;
    }
    case GRAVRD_TABLE_MEDIATION:
        for (size_t k = 0; k < tb->n_entries; k++)
            if (!strcmp(tb->entries[k].verb, "test"))
                n += 2 + 2 * (size_t)(r->opt->bootstrap > 0 ? r->opt->bootstrap : 0);
        break;
    default: break;
    }
    return n;
}
