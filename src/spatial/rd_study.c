/* rd_study.c - the local linear spatial RD on a study (`gravrd rd`):
 * residualise the outcome on the city-month fixed effects, average the
 * residuals by directed pair, build the comparisons of treated pairs with
 * the control pairs of neighbouring cities, and estimate by bandwidth (see
 * gravrd/rd.h and docs/spatial.md). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/model_data.h"
#include "gravrd/formula.h"
#include "gravrd/hdfe.h"
#include "gravrd/rd.h"
#include "pairs_internal.h"
#include "panel_residuals.h"
#include "util/strutil.h"

void gravrd_rd_study_options_init(gravrd_rd_study_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->side = GRAVRD_RD_SIDE_BOTH;
    opt->select_bandwidth = 1;
    gravrd_rd_options_init(&opt->rd);
}

void gravrd_rd_result_free(gravrd_rd_result *r)
{
    if (!r)
        return;
    free(r->outcome);
    free(r->subset);
    free(r->fixed_effects);
    free(r->by_bandwidth);
    gravrd_strings_free(r->warnings, (size_t)r->n_warnings);
    free(r->x_N);
    free(r->y_N);
    free(r->w_N);
    free(r->cluster_N);
    free(r);
}

static gravrd_status add_warning(gravrd_rd_result *r, gravrd_error *err, const char *fmt, ...)
{
    char buf[GRAVRD_ERROR_MSG_LEN + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **w = realloc(r->warnings, (size_t)(r->n_warnings + 1) * sizeof *w);
    if (!w)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    r->warnings = w;
    if (!(w[r->n_warnings] = gravrd_strdup(buf)))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    r->n_warnings++;
    return GRAVRD_OK;
}

static void nan_estimate(gravrd_rd_estimate *e, double h)
{
    memset(e, 0, sizeof *e);
    e->h = e->b = h;
    e->estimate = e->se = e->z = e->p_value = e->ci_lo = e->ci_hi = NAN;
    e->estimate_bc = e->se_robust = e->z_robust = e->p_robust = e->ci_lo_robust = e->ci_hi_robust = NAN;
}

static gravrd_status eval_expr(const char *text, const char *what, const gravrd_eval_env *env, double *out_N,
                               char **deparsed, gravrd_error *err)
{
    gravrd_expr *e = NULL;
    gravrd_status st = gravrd_expr_parse(text, &e, err);
    if (st) {
        char msg[GRAVRD_ERROR_MSG_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return gravrd_error_set(err, st, "%s: %s", what, msg);
    }
    st = gravrd_expr_eval(e, env, out_N, err);
    if (st) {
        char msg[GRAVRD_ERROR_MSG_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        gravrd_error_set(err, st, "%s: %s", what, msg);
    }
    if (!st && deparsed && !(*deparsed = gravrd_expr_deparse(e)))
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    gravrd_expr_free(e);
    return st;
}

static gravrd_status check_options(const gravrd_rd_study_options *opt, gravrd_error *err)
{
    if (!opt || !opt->outcome || !opt->outcome[0])
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: no outcome");
    if (opt->radius_km < 0 || !isfinite(opt->radius_km))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: the radius must be a positive number of km");
    if (opt->n_bandwidths && !opt->bandwidths_km)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: no bandwidths given");
    for (size_t b = 0; b < opt->n_bandwidths; b++)
        if (!(opt->bandwidths_km[b] > 0 && isfinite(opt->bandwidths_km[b])))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: bandwidth %g is not a positive number of km",
                                    opt->bandwidths_km[b]);
    if (!opt->n_bandwidths && !opt->select_bandwidth)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: give bandwidths or ask for the MSE-optimal one");
    const gravrd_rd_options *o = &opt->rd;
    if (o->p < 0 || o->q <= o->p || o->q + 2 > GRAVRD_RD_MAX_ORDER)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: orders must satisfy 0 <= p < q <= %d (p %d, q %d)",
                                GRAVRD_RD_MAX_ORDER - 2, o->p, o->q);
    if (!(o->level > 0 && o->level < 100))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: the confidence level must be in (0, 100)");
    return GRAVRD_OK;
}

gravrd_status gravrd_rd_study(const gravrd_study *study, const gravrd_frame *frame, const gravrd_rd_study_options *opt,
                              gravrd_rd_result **out, gravrd_error *err)
{
    *out = NULL;
    if (!study || !frame)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: no study or no data");
    gravrd_status st = check_options(opt, err);
    if (st)
        return st;
    const size_t N = frame->n_rows;
    const char *fe_text = opt->fixed_effects ? opt->fixed_effects : GRAVRD_RD_DEFAULT_FE;
    gravrd_rd_result *r = calloc(1, sizeof *r);
    uint8_t *keep = malloc(N ? N : 1);
    double *y = malloc((N ? N : 1) * sizeof *y), *tmp = NULL, *y_k = NULL, *sum_P = NULL, *cnt_P = NULL;
    gravrd_fe_term *terms = NULL;
    int n_terms = 0;
    int32_t **codes = NULL, **codes_k = NULL, *n_levels = NULL;
    panel_abt abt;
    memset(&abt, 0, sizeof abt);
    int two_way = 0;
    gravrd_fe *fe = NULL;
    frame_pairs fp;
    memset(&fp, 0, sizeof fp);
    gravrd_rd_sample *sample = NULL;
    int32_t *code_of_pair = NULL;
    if (!r || !keep || !y) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    r->side = opt->side;
    r->cross_province = opt->cross_province;
    r->radius_km = opt->radius_km > 0 ? opt->radius_km : GRAVRD_RD_DEFAULT_RADIUS_KM;
    r->rd = opt->rd;
    if (!(r->fixed_effects = gravrd_strdup(fe_text))) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }

    /* outcome and subset */
    gravrd_eval_env env = {frame, opt->env ? opt->env->call : NULL, opt->env ? opt->env->user : NULL};
    if ((st = eval_expr(opt->outcome, "outcome", &env, y, &r->outcome, err)))
        goto done;
    size_t n_subset = N;
    memset(keep, 1, N);
    if (opt->subset && opt->subset[0]) {
        if (!(tmp = malloc((N ? N : 1) * sizeof *tmp))) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            goto done;
        }
        if ((st = eval_expr(opt->subset, "subset", &env, tmp, &r->subset, err)))
            goto done;
        n_subset = 0;
        for (size_t i = 0; i < N; i++) {
            keep[i] = !isnan(tmp[i]) && tmp[i] != 0;
            n_subset += keep[i];
        }
    }
    for (size_t i = 0; i < N; i++)
        if (!isfinite(y[i]))
            keep[i] = 0;

    /* fixed effects */
    if (fe_text[0]) {
        if ((st = gravrd_fe_list_parse(fe_text, &terms, &n_terms, err)))
            goto done;
        codes = calloc((size_t)n_terms, sizeof *codes);
        codes_k = calloc((size_t)n_terms, sizeof *codes_k);
        n_levels = calloc((size_t)n_terms, sizeof *n_levels);
        if (!codes || !codes_k || !n_levels) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int q = 0; q < n_terms; q++)
            if (!(codes[q] = malloc((N ? N : 1) * sizeof **codes))) {
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
                goto done;
            }
        /* A^T + B^T: the single columns' codes are kept for the direct path */
        if ((st = panel_fe_codes(frame, terms, n_terms, codes, n_levels, &abt, &two_way, err)))
            goto done;
        for (int q = 0; q < n_terms; q++) {
            for (size_t i = 0; i < N; i++)
                if (codes[q][i] < 0)
                    keep[i] = 0;
        }
    }
    size_t n_kept = 0;
    for (size_t i = 0; i < N; i++)
        n_kept += keep[i];
    r->n_dropped_missing = n_subset - n_kept;
    if (n_terms) {
        size_t dropped = 0;
        if ((st = gravrd_fe_drop_singletons(n_terms, N, (const int32_t *const *)codes, keep, &dropped, err)))
            goto done;
        r->n_dropped_singletons = dropped;
        n_kept -= dropped;
    }
    r->n_rows = n_kept;
    if (!n_kept) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY, "rd: no rows left (subset, missing values of %s, singletons)",
                              r->outcome);
        goto done;
    }

    /* residualise: directly when the FE are A^T + B^T on a balanced panel
     * (panel_residuals.h; no iterations, demean_iterations = 0), else by
     * iterative demeaning */
    int direct = 0;
    if (n_terms) {
        if (two_way && (st = panel_residualise_two_way(N, &abt, keep, y, y, &direct, err)))
            goto done;
        if (direct)
            r->demean_iterations = 0;
    }
    if (n_terms && !direct) {
        if (!(y_k = malloc(n_kept * sizeof *y_k))) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (int q = 0; q < n_terms; q++) {
            if (!(codes_k[q] = malloc(n_kept * sizeof **codes_k))) {
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
                goto done;
            }
            for (size_t i = 0, k = 0; i < N; i++)
                if (keep[i])
                    codes_k[q][k++] = codes[q][i];
        }
        for (size_t i = 0, k = 0; i < N; i++)
            if (keep[i])
                y_k[k++] = y[i];
        if ((st = gravrd_fe_create(n_terms, n_kept, (const int32_t *const *)codes_k, &fe, err)))
            goto done;
        gravrd_demean_options dopt = {opt->tol, opt->max_iter, opt->threads};
        gravrd_demean_report rep = {0};
        if ((st = gravrd_demean(fe, y_k, 1, &dopt, &rep, err)))
            goto done;
        r->demean_iterations = rep.iterations;
        for (size_t i = 0, k = 0; i < N; i++)
            if (keep[i])
                y[i] = y_k[k++];
    }

    /* pair means of the residuals */
    if ((st = frame_pairs_build(study, frame, keep, &fp, err)))
        goto done;
    r->n_pairs = fp.n_pairs;
    sum_P = calloc(fp.n_pairs + 1, sizeof *sum_P);
    cnt_P = calloc(fp.n_pairs + 1, sizeof *cnt_P);
    code_of_pair = malloc((fp.n_pairs + 1) * sizeof *code_of_pair);
    if (!sum_P || !cnt_P || !code_of_pair) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        if (fp.pair_of_row_N[i] >= 0) {
            sum_P[fp.pair_of_row_N[i]] += y[i];
            cnt_P[fp.pair_of_row_N[i]] += 1;
        }

    /* the comparisons */
    gravrd_geo geo;
    study_geo(study, opt->cross_province, &geo);
    gravrd_pair_list pl = {fp.n_pairs, fp.exp_P, fp.imp_P, fp.treated_P};
    if ((st = gravrd_rd_sample_build(&geo, &pl, r->radius_km, opt->side, &sample, err)))
        goto done;
    r->n_treated = sample->n_treated;
    r->n_treated_used = sample->n_treated_used;
    r->n_obs = sample->n;
    if (!sample->n) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                              "rd: none of the %zu treated pairs has a control pair formed by a city within %g km%s",
                              sample->n_treated, r->radius_km, opt->cross_province ? "" : " in the same province");
        goto done;
    }
    const size_t n = sample->n;
    r->x_N = malloc(n * sizeof *r->x_N);
    r->y_N = malloc(n * sizeof *r->y_N);
    r->w_N = malloc(n * sizeof *r->w_N);
    r->cluster_N = malloc(n * sizeof *r->cluster_N);
    if (!r->x_N || !r->y_N || !r->w_N || !r->cluster_N) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t p = 0; p < fp.n_pairs; p++)
        code_of_pair[p] = -1;
    int32_t G = 0;
    for (size_t k = 0; k < n; k++) {
        int32_t p = sample->pair_N[k];
        if (code_of_pair[p] < 0)
            code_of_pair[p] = G++;
        r->x_N[k] = sample->x_N[k];
        r->y_N[k] = sum_P[p] / cnt_P[p];
        r->w_N[k] = cnt_P[p];
        r->cluster_N[k] = code_of_pair[p];
    }
    r->n_clusters = (size_t)G;
    gravrd_rd_data data = {n, r->x_N, r->y_N, r->w_N, r->cluster_N, G, 0.0};
    r->data = data;

    /* estimates */
    r->n_bandwidths = opt->n_bandwidths;
    r->by_bandwidth = calloc(opt->n_bandwidths + 1, sizeof *r->by_bandwidth);
    if (!r->by_bandwidth) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t b = 0; b < opt->n_bandwidths; b++) {
        double h = opt->bandwidths_km[b];
        gravrd_error e2 = {0};
        gravrd_status s2 = gravrd_rd_estimate_at(&r->data, &opt->rd, h, 0, &r->by_bandwidth[b], &e2);
        if (s2 == GRAVRD_ERR_NOMEM) {
            st = gravrd_error_set(err, s2, "%s", e2.message);
            goto done;
        }
        if (s2) {
            nan_estimate(&r->by_bandwidth[b], h);
            if ((st = add_warning(r, err, "h = %g km: no estimate: %s", h, e2.message)))
                goto done;
        }
    }
    if (opt->select_bandwidth) {
        gravrd_error e2 = {0};
        gravrd_status s2 = gravrd_rd_bwselect(&r->data, &opt->rd, &r->optimal_bw, &e2);
        if (!s2)
            s2 = gravrd_rd_estimate_at(&r->data, &opt->rd, r->optimal_bw.h, r->optimal_bw.b, &r->optimal, &e2);
        if (s2 == GRAVRD_ERR_NOMEM) {
            st = gravrd_error_set(err, s2, "%s", e2.message);
            goto done;
        }
        if (s2) {
            if ((st = add_warning(r, err, "no MSE-optimal bandwidth: %s", e2.message)))
                goto done;
        } else
            r->has_optimal = 1;
    }
done:
    free(keep);
    free(y);
    free(tmp);
    free(y_k);
    free(sum_P);
    free(cnt_P);
    free(code_of_pair);
    for (int q = 0; q < n_terms; q++) {
        if (codes)
            free(codes[q]);
        if (codes_k)
            free(codes_k[q]);
    }
    free(codes);
    free(codes_k);
    free(n_levels);
    panel_abt_free(&abt);
    gravrd_fe_terms_free(terms, n_terms);
    gravrd_fe_free(fe);
    frame_pairs_free(&fp);
    gravrd_rd_sample_free(sample);
    if (st) {
        gravrd_rd_result_free(r);
        return st;
    }
    *out = r;
    return GRAVRD_OK;
}
