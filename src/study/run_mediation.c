/* run_mediation.c - mediation tests: does adding a mediator change a
 * coefficient? Both models on identical rows, the variance of the
 * difference from their stacked scores (gravrd_suest_difference), and an
 * optional pairs cluster bootstrap. Tests are prepared in order and run in
 * parallel. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "gravrd/formula.h"
#include "study/run.h"

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
    const gravrd_plan_test *e;
    gravrd_rep_test *t;
    gravrd_status st;
    gravrd_error err;
    gravrd_study *study;
    const gravrd_frame *frame;     /* the cache's */
    gravrd_reg_cache *cache;       /* the frame's (shared, thread-safe) */
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

/* Fits both models of a test on the same rows, the suest difference and the bootstrap. */
static void med_compute(rep_run *r, med_job *job, int threads)
{
    const gravrd_plan_test *e = job->e;
    gravrd_rep_test *t = job->t;
    const char *coef = t->coefficient, *base = t->base;
    gravrd_frame *same = NULL;
    uint8_t *keep = NULL;
    gravrd_reg_results *ra = NULL, *rb = NULL;
    gravrd_eval_env env;
    gravrd_study_env(job->study, &env);
    gravrd_reg_options ro;
    gravrd_reg_options_init(&ro);
    ro.cluster = e->cluster;
    ro.env = &env;
    ro.threads = threads;
    gravrd_error *ce = &job->err;
    const gravrd_frame *frame = job->frame;
    gravrd_status cs = GRAVRD_OK;
    if (!(keep = malloc(frame->n_rows ? frame->n_rows : 1)))
        cs = NOMEM(ce);
    const char *fs[2] = {base, e->formula};
    if (!cs)
        cs = common_rows(frame, job->cache, &env, fs, 2, e->sample.subset, e->cluster, keep, ce);
    if (!cs) {
        size_t kept = 0;
        for (size_t i = 0; i < frame->n_rows; i++)
            kept += keep[i];
        if (kept == 0)
            cs = gravrd_error_set(ce, GRAVRD_ERR_EMPTY, "no rows where both models' variables are usable");
        else if (!(same = select_rows(frame, job->names, job->n_names, keep)))
            cs = NOMEM(ce);
    }
    int keep_single = !same_fe(base, e->formula);
    if (!cs) {
        /* the two models share their outcome, most regressors and the FE */
        gravrd_reg_cache *pair_cache = gravrd_reg_cache_new(same);
        gravrd_reg_options mo = ro;
        mo.keep_scores = 1;
        mo.keep_singletons = keep_single;
        mo.cache = pair_cache;
        cs = gravrd_reg(same, base, &mo, &ra, ce);
        if (!cs)
            cs = gravrd_reg(same, e->formula, &mo, &rb, ce);
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
        if (r->opt->bootstrap > 0 && e->cluster) {
            cs = bootstrap_difference(r, same, e->cluster, base, e->formula, coef, &env, keep_single, threads,
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

gravrd_status run_mediation(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    size_t n = tb->n_tests;
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
    for (size_t k = 0; k < n && !st; k++) {
        const gravrd_plan_test *e = &tb->tests[k];
        med_job *job = &jobs[out->n_tests];
        gravrd_rep_test *t = &out->tests[out->n_tests++];
        job->e = e;
        job->t = t;
        job->seed = seed + 0x9e3779b97f4a7c15ULL * out->n_tests;    /* one stream per test */
        t->line = e->at.line;
        t->label = plan_strdup(e->label);
        t->coefficient = plan_strdup(e->coefficient);
        t->base = plan_strdup(e->base);
        t->mediated = plan_strdup(e->formula);
        t->base_estimate = t->mediated_estimate = t->difference = t->se = t->t = t->p = NAN;
        t->bootstrap_se = t->bootstrap_p = NAN;
        if (!t->label || !t->coefficient || !t->base || !t->mediated) {
            st = NOMEM(err);
            break;
        }
        rep_ctx ctx = {NULL, e->sample.def, e->sample.name, e->at.attrs, e->at.n_attrs, e->label, e->coefficient};
        t->truth = rep_truth(r, e->truth, &ctx, NULL, NULL);
        t->pub_base = rep_pub_number(r, e->published_base, &ctx);
        t->pub_mediated = rep_pub_number(r, e->published_mediated, &ctx);
        gravrd_error *ce = &job->err;
        const gravrd_frame *flows = NULL;
        gravrd_status cs = rep_check_needs(r, tb, e->at.needs, e->at.n_needs, 1, ce);
        if (!cs)
            cs = rep_get_study(r, e->bandwidth, &job->study, ce);
        if (!cs)
            cs = rep_get_flows(r, &flows, ce);
        gravrd_eval_env env;
        gravrd_reg_options ro;
        if (!cs) {
            gravrd_study_env(job->study, &env);
            gravrd_reg_options_init(&ro);
            ro.subset = e->sample.subset;
            ro.cluster = e->cluster;
            ro.env = &env;
            cs = rep_check_formula_vars(r, job->study, tb, e->at.line, e->base, &ro, NULL, ce);
        }
        if (!cs)
            cs = rep_check_formula_vars(r, job->study, tb, e->at.line, e->formula, &ro, NULL, ce);
        char **vn = NULL;
        size_t nv = 0;
        if (!cs)
            cs = gravrd_reg_variables(e->base, &ro, &job->names, &job->n_names, ce);
        if (!cs)
            cs = gravrd_reg_variables(e->formula, &ro, &vn, &nv, ce);
        if (!cs && rep_add_names(&job->names, &job->n_names, vn, nv))
            cs = NOMEM(ce);
        gravrd_strings_free(vn, nv);
        if (!cs)
            cs = rep_flow_frame(r, e->bandwidth, job->names, job->n_names, &job->frame, ce);
        if (!cs) /* created here, before the parallel part */
            job->cache = rep_reg_cache(r, job->frame);
        if (cs == GRAVRD_ERR_NOMEM)
            st = NOMEM(err);
        job->st = cs;
        n_ready += !cs;
    }
    int inner;
    int parallel = rep_split_threads(r, n_ready, &inner);
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
                          : plan_format("%s:%d: test %s: %s", r->plan->source, job->e->at.line, job->e->label, msg);
            job->t->error = m;
            if (!m || rep_add_error(out, m))
                st = NOMEM(err);
        }
    }
    for (size_t i = 0; i < out->n_tests; i++)
        gravrd_strings_free(jobs[i].names, jobs[i].n_names);
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

