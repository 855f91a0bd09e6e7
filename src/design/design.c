/* design.c - the design check: many simulated worlds on one geography,
 * each fitted with every inference method, summarised as coverage, size,
 * interval length, power and minimum detectable effect.
 *
 * Each world w is simulated twice with the simulator seed seed + w: once
 * with the planted partnership effect and once with every partnership
 * effect switched off (direct, heterogeneous, mediated, categories,
 * concentration ratios). The simulator's draws never depend on effect
 * sizes, so the two are the same world, and the difference of the two
 * estimates is the counterfactual truth of the estimand in that world: what
 * the partnership changed in this regression's coefficient (with log1p on
 * small flows and heterogeneous effects it need not equal the planted
 * average). Coverage is measured against that truth in the effect worlds;
 * size is the rejection rate of b = 0 in the no-effect worlds, whose truth
 * is exactly 0.
 *
 * Worlds are independent: they are fitted concurrently (one thread each,
 * results stored by world number), so the result does not depend on the
 * thread count. */
#include "gravrd/design.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_cdf.h>

#include "gravrd/estimate.h"
#include "gravrd/sim.h"
#include "gravrd/study.h"
#include "util/seedmix.h"
#include "util/strutil.h"

void gravrd_design_options_init(gravrd_design_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->worlds = GRAVRD_DESIGN_DEFAULT_WORLDS;
    opt->months = GRAVRD_DESIGN_DEFAULT_MONTHS;
    opt->effect = NAN;
    opt->threads = 1;
    opt->seed = 1;
    opt->boot_reps = GRAVRD_DESIGN_DEFAULT_BOOT_REPS;
    opt->ri_reps = GRAVRD_DESIGN_DEFAULT_RI_REPS;
    opt->bandwidth_km = 100;
}

/* The study's main models (studies/east-west-partnership.study: ${main}
 * with ${gravity} and ${rd}, outcome ${flow}(trade) = log1p), west to east,
 * where the paper finds its effect. %s is the outcome column. */
enum { MODEL_GRAVITY = 0, MODEL_RD, N_MODELS };
static const char *const model_names[N_MODELS] = {"gravity", "spatial_rd"};
static const char *const model_formulas[N_MODELS] = {
    "log1p(%s) ~ partner + log(distance) | exp_city^month + imp_city^month",
    "log1p(%s) ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp"};
static const char *const design_subset = "direction == \"w2e\"";

/* The t statistic of ri (whose p-value and interval use the coefficient)
 * is the pair-clustered one, as the paper's. */
static const char *method_cluster(gravrd_inference m)
{
    const char *c = gravrd_inference_cluster(m);
    return c ? c : "exp_city^imp_city";
}

enum { KIND_EFFECT = 0, KIND_NULL, N_KINDS };

/* One fit's interval and test of b = 0. */
typedef struct {
    double est, lo, hi, p;
} fit_stat;

typedef struct {
    fit_stat stat[N_MODELS][N_KINDS][GRAVRD_INFERENCE_N];
} world_out;

typedef struct {
    const gravrd_design_options *opt;
    const gravrd_study *study;
    gravrd_sim_params sim_effect, sim_null;
    unsigned methods;
} design_ctx;

/* The frame of world w: the study's variables on the effect world's
 * flows, plus trade0, the same world's trade without effect. */
static gravrd_status world_frame(const design_ctx *ctx, int w, gravrd_frame **out, gravrd_error *err)
{
    *out = NULL;
    static const char *const flow_cols[] = {"exp_city", "imp_city", "month", "direction", "trade"};
    static const char *const names[] = {"exp_city", "imp_city", "month", "direction", "trade",
                                        "partner",  "distance", "seg_exp", "seg_imp"};
    const char *const trade_only[] = {"trade"};
    gravrd_sim_params pe = ctx->sim_effect, p0 = ctx->sim_null;
    pe.seed = p0.seed = ctx->opt->seed + (uint64_t)w;
    gravrd_frame *flows = NULL, *flows0 = NULL, *frame = NULL;
    gravrd_status st = gravrd_sim_flows_frame_columns(&pe, flow_cols, 5, &flows, err);
    if (!st)
        st = gravrd_sim_flows_frame_columns(&p0, trade_only, 1, &flows0, err);
    if (!st)
        st = gravrd_study_frame(ctx->study, flows, names, sizeof names / sizeof names[0], &frame, err);
    if (!st) {
        const gravrd_column *t0 = gravrd_frame_find(flows0, "trade");
        double *v = malloc(frame->n_rows * sizeof *v);
        if (!v || !t0 || flows0->n_rows != frame->n_rows) {
            free(v);
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        } else {
            memcpy(v, t0->num_N, frame->n_rows * sizeof *v);
            st = gravrd_frame_add_numeric(frame, "trade0", v, err);
        }
    }
    gravrd_frame_free(flows);
    gravrd_frame_free(flows0);
    if (st)
        gravrd_frame_free(frame);
    else
        *out = frame;
    return st;
}

/* Fits one model on one outcome with one method and reads partner's
 * estimate, 95% interval and p-value of b = 0. */
static gravrd_status fit_one(const design_ctx *ctx, int w, gravrd_frame *frame, gravrd_reg_cache *cache,
                             gravrd_study_ri *ri, int model, int kind, gravrd_inference method, fit_stat *out,
                             gravrd_error *err)
{
    char formula[256];
    snprintf(formula, sizeof formula, model_formulas[model], kind == KIND_EFFECT ? "trade" : "trade0");
    gravrd_reg_options o;
    gravrd_reg_options_init(&o);
    o.subset = design_subset;
    o.cluster = method_cluster(method);
    o.threads = 1;
    o.cache = cache;
    uint64_t draw_seed = seedmix_draw(ctx->opt->seed, (uint64_t)w) | 1u;
    if (method == GRAVRD_INFERENCE_WILD) {
        o.boot.method = GRAVRD_BOOT_WILD;
        o.boot.reps = ctx->opt->boot_reps;
        o.boot.params = "partner";
        o.boot.seed = draw_seed;
    } else if (method == GRAVRD_INFERENCE_RI) {
        o.ri.reps = ctx->opt->ri_reps;
        o.ri.term = "partner";
        o.ri.draw = gravrd_study_ri_draw;
        o.ri.user = ri;
        o.ri.label = gravrd_ri_scheme_name(GRAVRD_RI_PROGRAM);
        o.ri.seed = draw_seed;
    }
    gravrd_reg_results *res = NULL;
    gravrd_status st = gravrd_reg(frame, formula, &o, &res, err);
    if (st)
        return st;
    const gravrd_reg_result *r = &res->results[0];
    const gravrd_coef *c = NULL;
    for (int k = 0; k < r->n_coef; k++)
        if (!strcmp(r->coefs[k].name, "partner"))
            c = &r->coefs[k];
    if (!c) {
        gravrd_reg_results_free(res);
        return gravrd_error_set(err, GRAVRD_ERR_COLLINEAR, "partner is collinear with the fixed effects");
    }
    out->est = c->estimate;
    if (method == GRAVRD_INFERENCE_WILD && c->boot) {
        out->lo = c->boot->ci_lo;
        out->hi = c->boot->ci_hi;
        out->p = c->boot->p;
    } else if (method == GRAVRD_INFERENCE_RI && c->ri) {
        out->lo = c->ri->ci_lo;
        out->hi = c->ri->ci_hi;
        out->p = c->ri->p;
    } else {
        double crit = gsl_cdf_tdist_Pinv(0.975, r->t_df);
        out->lo = c->estimate - crit * c->se;
        out->hi = c->estimate + crit * c->se;
        out->p = c->p;
    }
    gravrd_reg_results_free(res);
    return GRAVRD_OK;
}

static gravrd_status run_world(const design_ctx *ctx, int w, world_out *out, gravrd_error *err)
{
    gravrd_frame *frame = NULL;
    gravrd_status st = world_frame(ctx, w, &frame, err);
    if (st)
        return st;
    gravrd_reg_cache *cache = gravrd_reg_cache_new(frame);
    gravrd_study_ri *ri = NULL;
    if (!cache)
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    if (!st && (ctx->methods & (1u << GRAVRD_INFERENCE_RI)))
        st = gravrd_study_ri_new(ctx->study, frame, GRAVRD_RI_PROGRAM, seedmix_draw(ctx->opt->seed, (uint64_t)w),
                                 &ri, err);
    for (int m = 0; m < N_MODELS && !st; m++)
        for (int k = 0; k < N_KINDS && !st; k++)
            for (int j = 0; j < GRAVRD_INFERENCE_N && !st; j++)
                if (ctx->methods & (1u << j)) {
                    st = fit_one(ctx, w, frame, cache, ri, m, k, (gravrd_inference)j, &out->stat[m][k][j], err);
                    if (st) {
                        char why[GRAVRD_ERROR_MSG_LEN];
                        snprintf(why, sizeof why, "%s", err->message);
                        gravrd_error_set(err, st, "world %d (seed %llu), %s model, %s inference: %s", w + 1,
                                         (unsigned long long)(ctx->opt->seed + (uint64_t)w), model_names[m],
                                         gravrd_inference_name((gravrd_inference)j), why);
                    }
                }
    gravrd_study_ri_free(ri);
    gravrd_reg_cache_free(cache);
    gravrd_frame_free(frame);
    return st;
}

static gravrd_status check_options(const gravrd_design_options *o, gravrd_error *err)
{
    if (o->worlds < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "--worlds must be at least 1, not %d", o->worlds);
    if (o->months < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "--months must be at least 1, not %d", o->months);
    if (o->boot_reps < 1 || o->ri_reps < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "the replications must be at least 1 (boot %ld, ri %ld)",
                                o->boot_reps, o->ri_reps);
    if (o->methods >= (1u << GRAVRD_INFERENCE_N))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown inference method in the method set");
    if (!isnan(o->effect) && !isfinite(o->effect))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "--effect must be a finite number");
    if (!(o->bandwidth_km > 0) || !isfinite(o->bandwidth_km))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "the bandwidth must be a positive number of km, not %g",
                                o->bandwidth_km);
    return GRAVRD_OK;
}

/* Is a method nominal: coverage in [0.93, 0.97] and size in [0.03, 0.07]? */
static int is_nominal(const gravrd_design_method *d)
{
    return d->coverage >= 0.93 && d->coverage <= 0.97 && d->null_rejection >= 0.03 && d->null_rejection <= 0.07;
}

/* The recommended method: among the nominal methods, the shortest mean
 * interval (every nominal method is honest; the shortest detects most).
 * When none is nominal, the method closest to nominal (the larger of its
 * coverage's and its size's distance from 0.95 and 0.05), and among the
 * methods within one Monte Carlo standard error of that distance (closer
 * than that is noise) the shortest. A wider tolerance would let a method
 * with coverage 0.92 win over nominal ones by being shorter. */
void gravrd_design_recommend(gravrd_design_model *m, double mc_se)
{
    double best = INFINITY, dist[GRAVRD_INFERENCE_N];
    int any_nominal = 0;
    for (int j = 0; j < m->n_methods; j++) {
        const gravrd_design_method *d = &m->methods[j];
        dist[j] = fmax(fabs(d->coverage - 0.95), fabs(d->null_rejection - 0.05));
        best = fmin(best, dist[j]);
        any_nominal |= is_nominal(d);
    }
    m->recommended = 0;
    double shortest = INFINITY;
    for (int j = 0; j < m->n_methods; j++) {
        int eligible = any_nominal ? is_nominal(&m->methods[j]) : dist[j] <= best + mc_se + 1e-12;
        if (eligible && m->methods[j].mean_length < shortest) {
            shortest = m->methods[j].mean_length;
            m->recommended = j;
        }
    }
    m->recommended_nominal = is_nominal(&m->methods[m->recommended]);
}

static void summarise(gravrd_design_result *res, const world_out *worlds, unsigned methods)
{
    const int W = res->worlds;
    const double z975 = gsl_cdf_ugaussian_Pinv(0.975), z80 = gsl_cdf_ugaussian_Pinv(0.80);
    res->mc_se = sqrt(0.95 * 0.05 / W);
    res->n_models = N_MODELS;
    for (int m = 0; m < N_MODELS; m++) {
        gravrd_design_model *dm = &res->models[m];
        snprintf(dm->name, sizeof dm->name, "%s", model_names[m]);
        /* Point estimates are those of any method (the same OLS fit). */
        int first = 0;
        while (!(methods & (1u << first)))
            first++;
        double s = 0, s2 = 0, st = 0, s0 = 0;
        for (int w = 0; w < W; w++) {
            double e = worlds[w].stat[m][KIND_EFFECT][first].est, e0 = worlds[w].stat[m][KIND_NULL][first].est;
            s += e;
            s2 += e * e;
            st += e - e0;
            s0 += e0;
        }
        dm->mean_estimate = s / W;
        dm->sd_estimate = W > 1 ? sqrt(fmax(0, (s2 - s * s / W) / (W - 1))) : 0;
        dm->mean_truth = st / W;
        dm->mean_null_estimate = s0 / W;
        dm->n_methods = 0;
        for (int j = 0; j < GRAVRD_INFERENCE_N; j++) {
            if (!(methods & (1u << j)))
                continue;
            gravrd_design_method *d = &dm->methods[dm->n_methods++];
            d->method = (gravrd_inference)j;
            int cover = 0, reject0 = 0, rejectx = 0, n_len = 0;
            double len = 0;
            for (int w = 0; w < W; w++) {
                const fit_stat *fe = &worlds[w].stat[m][KIND_EFFECT][j], *f0 = &worlds[w].stat[m][KIND_NULL][j];
                double truth = fe->est - worlds[w].stat[m][KIND_NULL][first].est;
                cover += fe->lo <= truth && truth <= fe->hi;
                reject0 += f0->p < 0.05;
                rejectx += fe->p < 0.05;
                if (isfinite(fe->hi - fe->lo)) {
                    len += fe->hi - fe->lo;
                    n_len++;
                }
            }
            d->coverage = (double)cover / W;
            d->null_rejection = (double)reject0 / W;
            d->power = (double)rejectx / W;
            /* An unbounded interval (the bootstrap's or RI's, when the test
             * never rejects) makes the mean length infinite. */
            d->mean_length = n_len == W ? len / W : INFINITY;
            d->mde = d->mean_length * (z975 + z80) / (2 * z975);
        }
        gravrd_design_recommend(dm, res->mc_se);
    }
}

void gravrd_design_free(gravrd_design_result *res)
{
    if (!res)
        return;
    for (int m = 0; m < res->n_models; m++)
        free(res->models[m].formula);
    free(res->geography);
    free(res);
}

gravrd_status gravrd_design_run(const gravrd_design_options *opt, gravrd_design_result **out, gravrd_error *err)
{
    *out = NULL;
    gravrd_status st = check_options(opt, err);
    if (st)
        return st;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    design_ctx ctx = {.opt = opt, .methods = opt->methods ? opt->methods : (1u << GRAVRD_INFERENCE_N) - 1};
    gravrd_study *study = NULL;
    char *c_path = NULL, *p_path = NULL;
    if (opt->data_dir) {
        size_t len = strlen(opt->data_dir) + 32;
        c_path = malloc(len);
        p_path = malloc(len);
        if (!c_path || !p_path) {
            free(c_path);
            free(p_path);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
        snprintf(c_path, len, "%s/cities.csv", opt->data_dir);
        snprintf(p_path, len, "%s/partnerships.csv", opt->data_dir);
        st = gravrd_study_load(opt->data_dir, opt->bandwidth_km, &study, err);
    } else {
        st = gravrd_study_load_default(opt->bandwidth_km, &study, err);
    }
    ctx.study = study;
    gravrd_sim_params_init(&ctx.sim_effect);
    ctx.sim_effect.months = opt->months;
    ctx.sim_effect.cities_path = c_path;
    ctx.sim_effect.partnerships_path = p_path;
    if (!isnan(opt->effect))
        ctx.sim_effect.partner_w2e = opt->effect;
    ctx.sim_null = ctx.sim_effect;
    gravrd_sim_params_effects_off(&ctx.sim_null);
    if (!st)
        st = gravrd_sim_params_validate(&ctx.sim_effect, err);

    const int W = opt->worlds;
    world_out *worlds = st ? NULL : calloc((size_t)W, sizeof *worlds);
    gravrd_error *errs = st ? NULL : calloc((size_t)W, sizeof *errs);
    gravrd_status *codes = st ? NULL : calloc((size_t)W, sizeof *codes);
    if (!st && (!worlds || !errs || !codes))
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    if (!st) {
        int threads = opt->threads > 0 ? opt->threads : 1;
        int failed = 0;
        (void)threads;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
        for (int w = 0; w < W; w++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop)
                continue;
            codes[w] = run_world(&ctx, w, &worlds[w], &errs[w]);
            if (codes[w]) {
#pragma omp atomic write
                failed = 1;
            }
        }
        /* The first failing world in world order, whatever the threads. */
        for (int w = 0; w < W && !st; w++)
            if (codes[w]) {
                st = codes[w];
                *err = errs[w];
            }
    }
    gravrd_design_result *res = NULL;
    if (!st) {
        res = calloc(1, sizeof *res);
        if (!res || !(res->geography = gravrd_strdup(opt->data_dir ? opt->data_dir : "embedded"))) {
            free(res);
            res = NULL;
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
    }
    if (!st) {
        res->worlds = W;
        res->months = opt->months;
        res->effect = ctx.sim_effect.partner_w2e;
        res->seed = opt->seed;
        res->boot_reps = opt->boot_reps;
        res->ri_reps = opt->ri_reps;
        res->bandwidth_km = opt->bandwidth_km;
        summarise(res, worlds, ctx.methods);
        for (int m = 0; m < res->n_models && !st; m++) {
            char f[256];
            snprintf(f, sizeof f, model_formulas[m], "trade");
            if (!(res->models[m].formula = gravrd_strdup(f)))
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        res->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    }
    free(worlds);
    free(errs);
    free(codes);
    free(c_path);
    free(p_path);
    gravrd_study_free(study);
    if (st) {
        gravrd_design_free(res);
        return st;
    }
    *out = res;
    return GRAVRD_OK;
}
