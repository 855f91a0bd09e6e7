/* run_rd.c - local linear spatial RD tables (gravrd_rd_study): one
 * column per grid cell, a coefficient row per bandwidth (and the
 * MSE-optimal one); columns are prepared in order, run in parallel and
 * recorded in order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/rd.h"
#include "study/rep_column.h"
#include "study/run.h"

/* One RD column: prepared sequentially (checks, cached study and flows),
 * computed in parallel, recorded sequentially. */
typedef struct {
    gravrd_status st;
    gravrd_error err;
    gravrd_study *study;
    const gravrd_frame *frame;     /* the cache's */
    char **names;
    size_t n_names;
    gravrd_rd_result *rd;
} rd_job;

/* Runs one column's RD (in parallel with the others). */
static void rd_compute(const gravrd_plan_rd_column *c, rd_job *job, int threads)
{
    static const gravrd_rd_side sides[] = {GRAVRD_RD_SIDE_EXPORTER, GRAVRD_RD_SIDE_IMPORTER, GRAVRD_RD_SIDE_BOTH};
    gravrd_eval_env env;
    gravrd_study_env(job->study, &env);
    gravrd_rd_study_options ro;
    gravrd_rd_study_options_init(&ro);
    ro.outcome = c->outcome_expr;
    ro.subset = c->sample.subset;
    ro.fixed_effects = c->fe;
    ro.side = sides[c->side];
    ro.radius_km = c->radius;
    ro.bandwidths_km = c->bandwidths;
    ro.n_bandwidths = c->n_bandwidths;
    ro.select_bandwidth = c->optimal;
    ro.threads = threads;
    ro.env = &env;
    job->st = gravrd_rd_study(job->study, job->frame, &ro, &job->rd, &job->err);
}

/* Records one column's RD: a coefficient row per bandwidth. */
static gravrd_status rd_record(rep_run *r, const gravrd_plan_rd_column *c, rd_job *job, gravrd_rep_table *out,
                               gravrd_rep_column *col, gravrd_error *err)
{
    gravrd_rd_result *rd = job->rd;
    if (job->st == GRAVRD_ERR_NOMEM)
        return NOMEM(err);
    if (job->st)
        return rep_column_error(r, out, col, job->err.message) ? NOMEM(err) : GRAVRD_OK;
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
    rep_ctx ctx = {c->outcome, c->sample.def, c->sample.name, c->at.attrs, c->at.n_attrs, c->name, "rd"};
    for (size_t b = 0; b < nc && !st; b++) {
        const gravrd_rd_estimate *est = b < rd->n_bandwidths ? &rd->by_bandwidth[b] : &rd->optimal;
        gravrd_rep_coef *o = &col->coefs[col->n_coefs++];
        int opt_row = b >= rd->n_bandwidths;
        o->key = opt_row ? plan_strdup("rd_opt") : plan_format("rd_h%g", rd->by_bandwidth[b].h);
        o->label = opt_row ? plan_format("h = %.0f km (MSE-optimal)", est->h) : plan_format("h = %g km", est->h);
        if (!o->key || !o->label)
            return NOMEM(err);
        o->is_rd = 1;
        o->alt_method = -1;
        o->alt_se = o->alt_p = o->alt_lo = o->alt_hi = NAN;
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
        rep_pub_pair(r, c->published, &ctx, &o->pub_estimate, &o->pub_se);
        rep_pub_range(r, c->published_range, &ctx, &o->pub_lo, &o->pub_hi);
        o->truth = rep_truth(r, c->truth, &ctx, NULL, NULL);
    }
    for (int w = 0; w < rd->n_warnings && !st; w++)
        if (rep_add_note(out, rd->warnings[w]))
            st = NOMEM(err);
    return st;
}

gravrd_status run_rd(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    const gravrd_plan_rd_column *cols = tb->rd_columns;
    size_t n = tb->n_rd_columns;
    gravrd_status st = GRAVRD_OK;
    if (rep_add_panels(out, tb))
        return NOMEM(err);
    out->columns = calloc(n ? n : 1, sizeof *out->columns);
    rd_job *jobs = calloc(n ? n : 1, sizeof *jobs);
    if (!out->columns || !jobs) {
        free(jobs);
        return NOMEM(err);
    }
    out->n_columns = n;
    for (size_t i = 0; i < n && !st; i++) {
        const gravrd_plan_rd_column *c = &cols[i];
        const gravrd_plan_def *sd = c->sample.def;
        /* the formula is the RD's description, written once it has run */
        rep_column_desc d = {c->at.line, c->label, c->name, c->panel, c->group, c->outcome_expr, c->outcome,
                             c->sample.name, sd && sd->label ? sd->label : c->sample.name, c->sample.subset, NULL,
                             c->bandwidth, NAN};
        if (rep_column_init(&d, &out->columns[i]))
            st = NOMEM(err);
    }
    /* sequential: checks, the cached study and flows, the variables */
    size_t n_ready = 0;
    for (size_t i = 0; i < n && !st; i++) {
        const gravrd_plan_rd_column *c = &cols[i];
        rd_job *job = &jobs[i];
        const gravrd_frame *flows = NULL;
        job->st = rep_check_needs(r, tb, c->at.needs, c->at.n_needs, 1, &job->err);
        if (!job->st)
            job->st = rep_get_study(r, c->bandwidth, &job->study, &job->err);
        if (!job->st)
            job->st = rep_get_flows(r, &flows, &job->err);
        if (!job->st) {
            gravrd_eval_env env;
            gravrd_reg_options ro;
            gravrd_study_env(job->study, &env);
            gravrd_reg_options_init(&ro);
            ro.subset = c->sample.subset;
            ro.env = &env;
            job->st = rep_check_formula_vars(r, job->study, tb, c->at.line, c->model, &ro, NULL, &job->err);
            if (!job->st)
                job->st = gravrd_reg_variables(c->model, &ro, &job->names, &job->n_names, &job->err);
            if (!job->st)
                job->st = rep_flow_frame(r, c->bandwidth, job->names, job->n_names, &job->frame, &job->err);
        }
        if (job->st == GRAVRD_ERR_NOMEM)
            st = NOMEM(err);
        n_ready += !job->st;
    }
    int inner;
    int parallel = rep_split_threads(r, n_ready, &inner);
    if (!st) {
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(parallel) if (parallel > 1)
#endif
        for (long i = 0; i < (long)n; i++) {
            if (!jobs[i].st)
                rd_compute(&cols[i], &jobs[i], inner);
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
    }
    free(jobs);
    return st;
}

