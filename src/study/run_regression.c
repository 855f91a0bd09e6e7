/* run_regression.c - regression and spatial-matching tables: columns are
 * grouped by frame (level, bandwidth, matching distance), and within a
 * frame those sharing everything but the outcome are fitted in one
 * gravrd_reg call with c(y1, y2, ...); groups run in parallel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/inference.h"
#include "gravrd/match.h"
#include "study/rep_column.h"
#include "study/run.h"

/* The estimator's options of a column (subset, cluster or vcov). */
static void reg_options(const gravrd_plan_column *c, gravrd_reg_options *ro, const gravrd_eval_env *env, int threads)
{
    gravrd_reg_options_init(ro);
    ro->subset = c->sample.subset;
    ro->cluster = c->cluster;
    if (!c->cluster && c->vcov != GRAVRD_PLAN_VCOV_DEFAULT)
        ro->vcov = c->vcov == GRAVRD_PLAN_VCOV_HETERO ? GRAVRD_VCOV_HETERO : GRAVRD_VCOV_IID;
    ro->env = env;
    ro->threads = threads;
}

/* The options of a column's `inference` method: ro (the column's own)
 * with the method's clustering, bootstrap or reassignments (ri: the
 * study's placebo partnerships, program scheme). Replications: reg's
 * defaults (9,999 bootstrap draws, 999 reassignments), seed 1. */
static void alt_options(const gravrd_plan_column *c, gravrd_reg_options *ro, gravrd_study_ri *ri)
{
    gravrd_inference m = (gravrd_inference)c->inference;
    const char *cluster = gravrd_inference_cluster(m);
    if (cluster) {
        ro->cluster = cluster;
        ro->vcov = GRAVRD_VCOV_CLUSTER;
    }
    if (m == GRAVRD_INFERENCE_WILD) {
        ro->boot.method = GRAVRD_BOOT_WILD;
        ro->boot.seed = 1;
    } else if (m == GRAVRD_INFERENCE_RI) {
        ro->ri.reps = 999;
        ro->ri.term = "partner";
        ro->ri.draw = gravrd_study_ri_draw;
        ro->ri.user = ri;
        ro->ri.label = gravrd_ri_scheme_name(GRAVRD_RI_PROGRAM);
        ro->ri.seed = 1;
    }
}

/* Equal strings, or both NULL. */
static int same_str(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return !strcmp(a, b);
}

/* The formula of a batch: c(y1, y2, ...) ~ rhs | fe, or the column's own. */
static char *batch_formula(const gravrd_plan_column *cols, const size_t *idx, size_t m)
{
    const gravrd_plan_column *c0 = &cols[idx[0]];
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
    /* with `inference`: each column refitted with the method (m entries),
     * or, for a method that is a clustering, the batch refitted at once
     * (alt_batch, one result per column) */
    gravrd_reg_results **alt;
    gravrd_reg_results *alt_batch;
    gravrd_status alt_st;
    gravrd_error alt_err;
} batch_job;

/* Fits columns idx[0..m-1] in one call (their outcomes batched, see
 * batch_formula), with the columns' own options or, with alt, with their
 * `inference` method's. */
static gravrd_status fit_batch(const gravrd_plan_column *cols, const size_t *idx, size_t m, const gravrd_frame *frame,
                               const gravrd_eval_env *env, int threads, gravrd_reg_cache *cache, gravrd_study_ri *ri,
                               int alt, gravrd_reg_results **res, gravrd_error *err)
{
    char *formula = batch_formula(cols, idx, m);
    if (!formula)
        return NOMEM(err);
    gravrd_reg_options ro;
    reg_options(&cols[idx[0]], &ro, env, threads);
    ro.cache = cache;
    if (alt)
        alt_options(&cols[idx[0]], &ro, ri);
    gravrd_status st = gravrd_reg(frame, formula, &ro, res, err);
    free(formula);
    return st;
}

/* The `inference` refits of a fitted batch: a clustering refits the
 * batch in one call, as the fit itself (one demeaning of all its outcomes,
 * not one per column); the bootstrap and the reassignments are of one
 * model each, column by column. */
static void fit_alt(const gravrd_plan_column *cols, batch_job *job, const gravrd_frame *frame,
                    const gravrd_eval_env *env, int threads, gravrd_reg_cache *cache, gravrd_study_ri *ri)
{
    gravrd_inference method = (gravrd_inference)cols[job->idx[0]].inference;
    if (method != GRAVRD_INFERENCE_WILD && method != GRAVRD_INFERENCE_RI) {
        job->alt_st = fit_batch(cols, job->idx, job->m, frame, env, threads, cache, ri, 1, &job->alt_batch,
                                &job->alt_err);
        return;
    }
    if (!(job->alt = calloc(job->m, sizeof *job->alt))) {
        job->alt_st = NOMEM(&job->alt_err);
        return;
    }
    for (size_t i = 0; i < job->m && !job->alt_st; i++)
        job->alt_st = fit_batch(cols, job->idx + i, 1, frame, env, threads, cache, ri, 1, &job->alt[i],
                                &job->alt_err);
}

static void fit_job(rep_run *r, const gravrd_plan_column *cols, batch_job *job, const gravrd_frame *frame,
                    const gravrd_eval_env *env, int threads, gravrd_reg_cache *cache, gravrd_study_ri *ri)
{
    job->st = fit_batch(cols, job->idx, job->m, frame, env, threads, cache, ri, 0, &job->res, &job->err);
    if (!job->st && cols[job->idx[0]].inference >= 0)
        fit_alt(cols, job, frame, env, threads, cache, ri);
    (void)r;
}

static void free_job(batch_job *job)
{
    gravrd_reg_results_free(job->res);
    for (size_t i = 0; job->alt && i < job->m; i++)
        gravrd_reg_results_free(job->alt[i]);
    free(job->alt);
    gravrd_reg_results_free(job->alt_batch);
}


/* Records a fitted batch in the table (columns, notes, errors). */
static gravrd_status take_job(rep_run *r, gravrd_rep_table *out, const gravrd_plan_column *cols, batch_job *job,
                              gravrd_error *err)
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
            st = rep_column_error(r, out, &out->columns[job->idx[i]], msg) ? NOMEM(err) : GRAVRD_OK;
        return st;
    }
    for (size_t i = 0; i < job->m && !st; i++) {
        if ((int)i >= job->res->n) {
            st = rep_column_error(r, out, &out->columns[job->idx[i]], "no result") ? NOMEM(err) : GRAVRD_OK;
            continue;
        }
        const gravrd_plan_column *c = &cols[job->idx[i]];
        rep_ctx ctx = rep_column_ctx(c);
        if (rep_column_fill(r, c, &ctx, &job->res->results[i], &out->columns[job->idx[i]]))
            st = NOMEM(err);
        else if (job->alt && job->alt[i] && job->alt[i]->n > 0)
            rep_column_take_inference(c, &job->alt[i]->results[0], &out->columns[job->idx[i]]);
        else if (job->alt_batch && (int)i < job->alt_batch->n)
            rep_column_take_inference(c, &job->alt_batch->results[i], &out->columns[job->idx[i]]);
    }
    if (!st && job->alt_st) {
        char note[GRAVRD_ERROR_MSG_LEN + 64];
        snprintf(note, sizeof note, "inference = %s could not be computed: %s",
                 gravrd_inference_name((gravrd_inference)cols[job->idx[0]].inference), job->alt_err.message);
        if (rep_add_note(out, note))
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
static gravrd_status run_jobs(rep_run *r, gravrd_rep_table *out, const gravrd_plan_column *cols, batch_job *jobs,
                              size_t n_jobs, const gravrd_frame *frame, const gravrd_eval_env *env,
                              gravrd_study_ri *ri, gravrd_error *err)
{
    int inner;
    int parallel = rep_split_threads(r, n_jobs, &inner);
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
        fit_job(r, cols, &jobs[b], frame, env, inner, cache, ri);
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
                batch_job one = {.idx = job->idx + i, .m = 1};
                fit_job(r, cols, &one, frame, env, r->opt->threads, cache, ri);
                st = take_job(r, out, cols, &one, err);
                free_job(&one);
            }
        } else {
            st = take_job(r, out, cols, job, err);
        }
    }
    gravrd_reg_cache_free(local);
    return st;
}

gravrd_status run_regression(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    const gravrd_plan_column *cols = tb->columns;
    size_t n = tb->n_columns;
    gravrd_status st = GRAVRD_OK;
    if (rep_add_panels(out, tb))
        return NOMEM(err);
    out->columns = calloc(n ? n : 1, sizeof *out->columns);
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    uint8_t *done = calloc(n ? n : 1, 1), *ok = calloc(n ? n : 1, 1);
    if (!out->columns || !idx || !done || !ok) {
        st = NOMEM(err);
        goto end;
    }
    out->n_columns = n;
    for (size_t i = 0; i < n && !st; i++) {
        rep_column_desc d = rep_column_desc_of(&cols[i]);
        if (rep_column_init(&d, &out->columns[i]))
            st = NOMEM(err);
    }
    /* frames: one per (level, bandwidth, matching distance) */
    for (size_t i = 0; i < n && !st; i++) {
        if (done[i])
            continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && cols[j].level == cols[i].level && cols[j].bandwidth == cols[i].bandwidth &&
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
        int pairs = cols[i].level == GRAVRD_PLAN_LEVEL_PAIRS;
        const char *const *extra = pairs ? extra_pairs : isnan(cols[i].match_km) ? NULL : extra_match;
        gravrd_eval_env env;
        if (!gs)
            gravrd_study_env(study, &env);
        size_t n_ok = 0;
        for (size_t a = 0; a < m; a++) {
            const gravrd_plan_column *c = &cols[idx[a]];
            gravrd_rep_column *col = &out->columns[idx[a]];
            gravrd_status cs = gs;
            gravrd_error ce = e2;
            if (!cs)
                cs = rep_check_needs(r, tb, c->at.needs, c->at.n_needs, c->level != GRAVRD_PLAN_LEVEL_PAIRS, &ce);
            if (!cs && c->level != GRAVRD_PLAN_LEVEL_PAIRS)
                cs = rep_get_flows(r, &flows, &ce);
            gravrd_reg_options ro;
            reg_options(c, &ro, &env, r->opt->threads);
            if (!cs)
                cs = rep_check_formula_vars(r, study, tb, c->at.line, c->formula, &ro, extra, &ce);
            char **vn = NULL;
            size_t nv = 0;
            if (!cs)
                cs = gravrd_reg_variables(c->formula, &ro, &vn, &nv, &ce);
            if (!cs && rep_add_names(&names, &n_names, vn, nv))
                cs = NOMEM(&ce);
            gravrd_strings_free(vn, nv);
            vn = NULL;
            nv = 0;
            if (!cs && c->inference >= 0) {
                /* the method's cluster variables too */
                alt_options(c, &ro, NULL);
                cs = gravrd_reg_variables(c->formula, &ro, &vn, &nv, &ce);
                if (!cs && rep_add_names(&names, &n_names, vn, nv))
                    cs = NOMEM(&ce);
                gravrd_strings_free(vn, nv);
            }
            if (cs == GRAVRD_ERR_NOMEM) {
                st = NOMEM(err);
                break;
            }
            if (cs) {
                if (rep_column_error(r, out, col, ce.message)) {
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
            if ((cols[i].level == GRAVRD_PLAN_LEVEL_PAIRS)) {
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
                        if (rep_column_error(r, out, &out->columns[idx[a]], e2.message))
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
            const gravrd_plan_column *ca = &cols[idx[a]];
            if (used[a] || !ok[idx[a]])
                continue;
            batch_job *job = &jobs[n_jobs++];
            job->idx = batch + nb_total;
            for (size_t b = a; b < m; b++) {
                const gravrd_plan_column *cb = &cols[idx[b]];
                if (used[b] || !ok[idx[b]])
                    continue;
                if (!plan_same_term(ca->rhsfe, cb->rhsfe) || !same_str(ca->sample.subset, cb->sample.subset) ||
                    !same_str(ca->cluster, cb->cluster) || ca->vcov != cb->vcov || ca->inference != cb->inference)
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
        /* placebo partnerships for `inference = ri`, shared by the jobs */
        gravrd_study_ri *ri = NULL;
        int any_ri = 0;
        for (size_t a = 0; a < m; a++)
            any_ri |= ok[idx[a]] && cols[idx[a]].inference == GRAVRD_INFERENCE_RI;
        if (!st && n_jobs > 0 && any_ri) {
            gravrd_error re;
            gravrd_status rs = gravrd_study_ri_new(study, frame, GRAVRD_RI_PROGRAM, 1, &ri, &re);
            if (rs == GRAVRD_ERR_NOMEM)
                st = NOMEM(err);
            else if (rs && rep_add_note(out, re.message))
                st = NOMEM(err);
        }
        if (!st && n_jobs > 0)
            st = run_jobs(r, out, cols, jobs, n_jobs, frame, &env, ri, err);
        gravrd_study_ri_free(ri);
        for (size_t b = 0; jobs && b < n_jobs; b++)
            free_job(&jobs[b]);
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
    return st;
}

