/* figure2.c - the paper's Figure 2 (gravrd/figures.h): the binned scatter
 * of residual log trade on log distance with a fitted line per group,
 * computed from the flows and drawn as SVG. */
#include "gravrd/figures.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/model_data.h"
#include "gravrd/hdfe.h"
#include "gravrd/svg.h"
#include "report/figures_internal.h"
#include "spatial/panel_residuals.h"
#include "util/strutil.h"

static const char *const DEFAULT_SUBSETS[] = {NULL, "e2w == 1", "w2e == 1"};
static const char *const DEFAULT_LABELS[] = {"(a) Full sample", "(b) East to west trade", "(c) West to east trade"};

void gravrd_figure2_options_init(gravrd_figure2_options *opt)
{
    memset(opt, 0, sizeof *opt);
}

void gravrd_figure2_free(gravrd_figure2 *f)
{
    if (!f)
        return;
    for (size_t p = 0; p < f->n_panels; p++) {
        free(f->panels[p].label);
        free(f->panels[p].subset);
        free(f->panels[p].bins);
    }
    free(f->panels);
    free(f->outcome);
    free(f->distance);
    free(f->treatment);
    free(f->fixed_effects);
    free(f->cluster);
    free(f);
}

/* The options with defaults filled in. */
typedef struct {
    const char *outcome, *distance, *treatment, *fe, *cluster;
    int n_bins;
    double level;
    size_t n_panels;
    const char *const *subsets, *const *labels;
} fig2_settings;

static gravrd_status fig2_settings_get(const gravrd_figure2_options *opt, fig2_settings *s, gravrd_error *err)
{
    gravrd_figure2_options def;
    if (!opt) {
        gravrd_figure2_options_init(&def);
        opt = &def;
    }
    s->outcome = opt->outcome && opt->outcome[0] ? opt->outcome : GRAVRD_FIGURE2_DEFAULT_OUTCOME;
    s->distance = opt->distance && opt->distance[0] ? opt->distance : GRAVRD_FIGURE2_DEFAULT_DISTANCE;
    s->treatment = opt->treatment && opt->treatment[0] ? opt->treatment : GRAVRD_FIGURE2_DEFAULT_TREATMENT;
    s->fe = opt->fixed_effects ? opt->fixed_effects : GRAVRD_FIGURE2_DEFAULT_FE;
    s->cluster = opt->cluster ? opt->cluster : GRAVRD_FIGURE2_DEFAULT_CLUSTER;
    s->n_bins = opt->n_bins ? opt->n_bins : 50;
    s->level = opt->level > 0 ? opt->level : 95;
    if (opt->n_panels) {
        if (!opt->panel_subsets)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 2: %zu panels but no subsets", opt->n_panels);
        s->n_panels = opt->n_panels;
        s->subsets = opt->panel_subsets;
        s->labels = opt->panel_labels;
    } else {
        s->n_panels = 3;
        s->subsets = DEFAULT_SUBSETS;
        s->labels = DEFAULT_LABELS;
    }
    if (s->n_bins < 1 || s->n_bins > 100000)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 2: the number of bins must be in 1..100000, not %d",
                                s->n_bins);
    if (!(s->level > 0 && s->level < 100))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 2: the confidence level must be in (0, 100)");
    return GRAVRD_OK;
}

gravrd_status fig_add_name(char ***names, size_t *n, const char *name, gravrd_error *err)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name))
            return GRAVRD_OK;
    char **nn = realloc(*names, (*n + 1) * sizeof *nn);
    if (!nn)
        return fig_nomem(err);
    *names = nn;
    if (!(nn[*n] = gravrd_strdup(name)))
        return fig_nomem(err);
    (*n)++;
    return GRAVRD_OK;
}

gravrd_status fig_expr_names(const char *text, const char *what, char ***names, size_t *n, gravrd_error *err)
{
    gravrd_expr *e = NULL;
    gravrd_status st = gravrd_expr_parse(text, &e, err);
    if (st) {
        char msg[GRAVRD_ERROR_MSG_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        return gravrd_error_set(err, st, "figure 2: %s: %s", what, msg);
    }
    st = gravrd_expr_variables(e, names, n, err);
    gravrd_expr_free(e);
    return st;
}

gravrd_status fig_fe_names(const char *text, char ***names, size_t *n, gravrd_error *err)
{
    if (!text || !text[0])
        return GRAVRD_OK;
    gravrd_fe_term *t = NULL;
    int nt = 0;
    gravrd_status st = gravrd_fe_list_parse(text, &t, &nt, err);
    for (int q = 0; !st && q < nt; q++)
        for (int v = 0; !st && v < t[q].n_vars; v++)
            st = fig_add_name(names, n, t[q].vars[v], err);
    gravrd_fe_terms_free(t, nt);
    return st;
}

gravrd_status gravrd_figure2_variables(const gravrd_figure2_options *opt, char ***names_out, size_t *n_out,
                                       gravrd_error *err)
{
    *names_out = NULL;
    *n_out = 0;
    fig2_settings s;
    gravrd_status st = fig2_settings_get(opt, &s, err);
    char **names = NULL;
    size_t n = 0;
    if (!st)
        st = fig_expr_names(s.outcome, "outcome", &names, &n, err);
    if (!st)
        st = fig_expr_names(s.distance, "distance", &names, &n, err);
    if (!st)
        st = fig_expr_names(s.treatment, "treatment", &names, &n, err);
    for (size_t p = 0; !st && p < s.n_panels; p++)
        if (s.subsets[p] && s.subsets[p][0])
            st = fig_expr_names(s.subsets[p], "panel subset", &names, &n, err);
    if (!st)
        st = fig_fe_names(s.fe, &names, &n, err);
    if (!st)
        st = fig_fe_names(s.cluster, &names, &n, err);
    if (st) {
        gravrd_strings_free(names, n);
        return st;
    }
    *names_out = names;
    *n_out = n;
    return GRAVRD_OK;
}

static gravrd_status eval_expr(const char *text, const char *what, const gravrd_eval_env *env, double *out_N,
                               char **deparsed, gravrd_error *err)
{
    gravrd_expr *e = NULL;
    gravrd_status st = gravrd_expr_parse(text, &e, err);
    if (!st)
        st = gravrd_expr_eval(e, env, out_N, err);
    if (st) {
        char msg[GRAVRD_ERROR_MSG_LEN];
        snprintf(msg, sizeof msg, "%s", err ? err->message : "");
        gravrd_expr_free(e);
        return gravrd_error_set(err, st, "figure 2: %s: %s", what, msg);
    }
    if (deparsed && !(*deparsed = gravrd_expr_deparse(e)))
        st = fig_nomem(err);
    gravrd_expr_free(e);
    return st;
}

/* Residualises y on the FE over the rows with keep_N[i] (singletons are
 * dropped from keep_N first): res_N[i] for kept rows. abt: the codes of
 * A, B, T when the FE are A^T + B^T (panel_fe_codes), else NULL; then
 * a balanced panel is residualised directly (panel_residuals.h) and
 * *iterations is 0. */
static gravrd_status residualise(int n_fe, int32_t *const *codes_QN, const panel_abt *abt, size_t N,
                                 const double *y_N, uint8_t *keep_N, double *res_N, size_t *n_singletons,
                                 int *iterations, const gravrd_figure2_options *opt, gravrd_error *err)
{
    *n_singletons = 0;
    *iterations = 0;
    if (n_fe == 0) {
        for (size_t i = 0; i < N; i++)
            if (keep_N[i])
                res_N[i] = y_N[i];
        return GRAVRD_OK;
    }
    gravrd_status st = gravrd_fe_drop_singletons(n_fe, N, (const int32_t *const *)codes_QN, keep_N, n_singletons, err);
    if (st)
        return st;
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        n += keep_N[i];
    if (!n)
        return GRAVRD_OK;
    if (abt) {
        int direct = 0;
        if ((st = panel_residualise_two_way(N, abt, keep_N, y_N, res_N, &direct, err)))
            return st;
        if (direct)
            return GRAVRD_OK;
    }
    int32_t **codes_k = calloc((size_t)n_fe, sizeof *codes_k);
    double *y_k = malloc(n * sizeof *y_k);
    gravrd_fe *fe = NULL;
    if (!codes_k || !y_k) {
        st = fig_nomem(err);
        goto done;
    }
    for (int q = 0; q < n_fe; q++) {
        if (!(codes_k[q] = malloc(n * sizeof **codes_k))) {
            st = fig_nomem(err);
            goto done;
        }
        for (size_t i = 0, k = 0; i < N; i++)
            if (keep_N[i])
                codes_k[q][k++] = codes_QN[q][i];
    }
    for (size_t i = 0, k = 0; i < N; i++)
        if (keep_N[i])
            y_k[k++] = y_N[i];
    if ((st = gravrd_fe_create(n_fe, n, (const int32_t *const *)codes_k, &fe, err)))
        goto done;
    gravrd_demean_options dopt = {opt ? opt->tol : 0, opt ? opt->max_iter : 0, opt ? opt->threads : 0};
    gravrd_demean_report rep = {0};
    if ((st = gravrd_demean(fe, y_k, 1, &dopt, &rep, err)))
        goto done;
    *iterations = rep.iterations;
    for (size_t i = 0, k = 0; i < N; i++)
        if (keep_N[i])
            res_N[i] = y_k[k++];
done:
    gravrd_fe_free(fe);
    if (codes_k)
        for (int q = 0; q < n_fe; q++)
            free(codes_k[q]);
    free(codes_k);
    free(y_k);
    return st;
}

/* 1 if no level of any FE has rows both inside and outside the subset
 * (among the rows with base_N): then the residualisation separates. */
static int subset_is_closed(int n_fe, int32_t *const *codes_QN, const int32_t *n_levels_Q, size_t N,
                            const uint8_t *base_N, const uint8_t *in_N, uint8_t *seen)
{
    for (int q = 0; q < n_fe; q++) {
        /* seen[level]: bit 1 inside, bit 2 outside */
        memset(seen, 0, (size_t)n_levels_Q[q]);
        for (size_t i = 0; i < N; i++)
            if (base_N[i]) {
                uint8_t *s = &seen[codes_QN[q][i]];
                *s |= in_N[i] ? 1 : 2;
                if (*s == 3)
                    return 0;
            }
    }
    return 1;
}

static gravrd_status fit_group(size_t N, const uint8_t *keep_N, const double *x_N, const double *y_N,
                               const double *t_N, int group, const int32_t *cl_N, int32_t n_cl, double level,
                               double *work_G2, gravrd_figure2_fit *fit)
{
    memset(fit, 0, sizeof *fit);
    fit->intercept = fit->slope = fit->crit = NAN;
    fit->x_lo = fit->x_hi = NAN;
    for (int k = 0; k < 4; k++)
        fit->vcov[k] = NAN;
    size_t n = 0;
    double sx = 0, sy = 0, lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < N; i++)
        if (keep_N[i] && (t_N[i] != 0) == group) {
            n++;
            sx += x_N[i];
            sy += y_N[i];
            lo = fmin(lo, x_N[i]);
            hi = fmax(hi, x_N[i]);
        }
    fit->n = n;
    if (!n)
        return GRAVRD_OK;
    fit->x_lo = lo;
    fit->x_hi = hi;
    double mx = sx / (double)n, my = sy / (double)n, sxx = 0, sxy = 0;
    for (size_t i = 0; i < N; i++)
        if (keep_N[i] && (t_N[i] != 0) == group) {
            double dx = x_N[i] - mx;
            sxx += dx * dx;
            sxy += dx * (y_N[i] - my);
        }
    if (n < 3 || !(sxx > 0))
        return GRAVRD_OK;
    const double slope = sxy / sxx, intercept = my - slope * mx;
    fit->slope = slope;
    fit->intercept = intercept;
    /* (X'X)^-1 for X = [1, x]: with centred sums,
     * [[1/n + mx^2/sxx, -mx/sxx], [-mx/sxx, 1/sxx]] */
    const double b00 = 1.0 / (double)n + mx * mx / sxx, b01 = -mx / sxx, b11 = 1.0 / sxx;
    double df;
    if (cl_N) {
        /* scores by cluster: s_g = sum (e, x e) */
        memset(work_G2, 0, 2 * (size_t)n_cl * sizeof *work_G2);
        for (size_t i = 0; i < N; i++)
            if (keep_N[i] && (t_N[i] != 0) == group) {
                double e = y_N[i] - intercept - slope * x_N[i];
                work_G2[2 * cl_N[i]] += e;
                work_G2[2 * cl_N[i] + 1] += x_N[i] * e;
            }
        /* the meat, each cluster once (s[0] = NaN marks it as counted) */
        size_t G = 0;
        double m00 = 0, m01 = 0, m11 = 0;
        for (size_t i = 0; i < N; i++)
            if (keep_N[i] && (t_N[i] != 0) == group) {
                double *s = &work_G2[2 * cl_N[i]];
                if (isnan(s[0]))
                    continue; /* already counted */
                m00 += s[0] * s[0];
                m01 += s[0] * s[1];
                m11 += s[1] * s[1];
                s[0] = NAN;
                G++;
            }
        fit->n_clusters = G;
        if (G < 2)
            return GRAVRD_OK;
        double c = (double)G / (double)(G - 1) * ((double)n - 1) / ((double)n - 2);
        /* V = c B M B */
        double bm00 = b00 * m00 + b01 * m01, bm01 = b00 * m01 + b01 * m11;
        double bm10 = b01 * m00 + b11 * m01, bm11 = b01 * m01 + b11 * m11;
        fit->vcov[0] = c * (bm00 * b00 + bm01 * b01);
        fit->vcov[1] = c * (bm00 * b01 + bm01 * b11);
        fit->vcov[2] = c * (bm10 * b00 + bm11 * b01);
        fit->vcov[3] = c * (bm10 * b01 + bm11 * b11);
        fit->vcov[2] = fit->vcov[1]; /* symmetric by construction; avoid rounding asymmetry */
        df = (double)G - 1;
    } else {
        double rss = 0;
        for (size_t i = 0; i < N; i++)
            if (keep_N[i] && (t_N[i] != 0) == group) {
                double e = y_N[i] - intercept - slope * x_N[i];
                rss += e * e;
            }
        double s2 = rss / ((double)n - 2);
        fit->vcov[0] = s2 * b00;
        fit->vcov[1] = fit->vcov[2] = s2 * b01;
        fit->vcov[3] = s2 * b11;
        df = (double)n - 2;
    }
    fit->crit = gsl_cdf_tdist_Pinv(1 - (1 - level / 100) / 2, df);
    return GRAVRD_OK;
}

void gravrd_figure2_fit_at(const gravrd_figure2_fit *fit, double x, double *yhat, double *se)
{
    *yhat = fit->intercept + fit->slope * x;
    double v = fit->vcov[0] + 2 * x * fit->vcov[1] + x * x * fit->vcov[3];
    *se = v >= 0 ? sqrt(v) : NAN;
}

static void bin_panel(size_t N, const uint8_t *keep_N, const double *x_N, const double *y_N, const double *t_N,
                      gravrd_figure2_panel *p)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < N; i++)
        if (keep_N[i]) {
            lo = fmin(lo, x_N[i]);
            hi = fmax(hi, x_N[i]);
        }
    p->x_lo = lo;
    p->x_hi = hi;
    const int nb = p->n_bins;
    for (int b = 0; b < nb; b++) {
        gravrd_figure2_bin *bin = &p->bins[b];
        bin->lo = lo + (hi - lo) * b / nb;
        bin->hi = b == nb - 1 ? hi : lo + (hi - lo) * (b + 1) / nb;
        for (int g = 0; g < 2; g++) {
            bin->n[g] = 0;
            bin->x_mean[g] = bin->y_mean[g] = 0;
        }
    }
    for (size_t i = 0; i < N; i++)
        if (keep_N[i]) {
            int b = hi > lo ? (int)floor((x_N[i] - lo) / (hi - lo) * nb) : 0;
            if (b >= nb)
                b = nb - 1;
            if (b < 0)
                b = 0;
            int g = t_N[i] != 0;
            gravrd_figure2_bin *bin = &p->bins[b];
            bin->n[g]++;
            bin->x_mean[g] += x_N[i];
            bin->y_mean[g] += y_N[i];
        }
    for (int b = 0; b < nb; b++)
        for (int g = 0; g < 2; g++) {
            gravrd_figure2_bin *bin = &p->bins[b];
            if (bin->n[g]) {
                bin->x_mean[g] /= (double)bin->n[g];
                bin->y_mean[g] /= (double)bin->n[g];
            } else
                bin->x_mean[g] = bin->y_mean[g] = NAN;
        }
}

gravrd_status gravrd_figure2_compute(const gravrd_frame *frame, const gravrd_figure2_options *opt,
                                     gravrd_figure2 **out, gravrd_error *err)
{
    *out = NULL;
    if (!frame)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 2: no data");
    fig2_settings s;
    gravrd_status st = fig2_settings_get(opt, &s, err);
    if (st)
        return st;
    const size_t N = frame->n_rows, M = N ? N : 1;
    gravrd_figure2 *f = calloc(1, sizeof *f);
    double *y = malloc(M * sizeof *y), *x = malloc(M * sizeof *x), *t = malloc(M * sizeof *t);
    double *tmp = malloc(M * sizeof *tmp), *res_all = malloc(M * sizeof *res_all), *res_p = malloc(M * sizeof *res_p);
    uint8_t *valid = malloc(M), *base = malloc(M), *in = malloc(M), *keep = malloc(M), *seen = NULL;
    gravrd_fe_term *fe_terms = NULL, *cl_terms = NULL;
    int n_fe = 0, n_cl_terms = 0;
    int32_t **codes = NULL, *n_levels = NULL, *cl = NULL, n_cl = 0;
    panel_abt abt;
    memset(&abt, 0, sizeof abt);
    int two_way = 0;
    double *work = NULL;
    if (!f || !y || !x || !t || !tmp || !res_all || !res_p || !valid || !base || !in || !keep) {
        st = fig_nomem(err);
        goto done;
    }
    f->level = s.level;
    gravrd_eval_env env = {frame, opt && opt->env ? opt->env->call : NULL, opt && opt->env ? opt->env->user : NULL};
    if ((st = eval_expr(s.outcome, "outcome", &env, y, &f->outcome, err)) ||
        (st = eval_expr(s.distance, "distance", &env, x, &f->distance, err)) ||
        (st = eval_expr(s.treatment, "treatment", &env, t, &f->treatment, err)))
        goto done;
    if (!(f->fixed_effects = gravrd_strdup(s.fe)) || !(f->cluster = gravrd_strdup(s.cluster))) {
        st = fig_nomem(err);
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        valid[i] = isfinite(y[i]) && isfinite(x[i]) && !isnan(t[i]);

    /* fixed effects and clusters */
    if (s.fe[0]) {
        if ((st = gravrd_fe_list_parse(s.fe, &fe_terms, &n_fe, err)))
            goto done;
        codes = calloc((size_t)n_fe, sizeof *codes);
        n_levels = calloc((size_t)n_fe, sizeof *n_levels);
        if (!codes || !n_levels) {
            st = fig_nomem(err);
            goto done;
        }
        int32_t most = 1;
        for (int q = 0; q < n_fe; q++)
            if (!(codes[q] = malloc(M * sizeof **codes))) {
                st = fig_nomem(err);
                goto done;
            }
        /* A^T + B^T: the single columns' codes are kept for the direct path */
        if ((st = panel_fe_codes(frame, fe_terms, n_fe, codes, n_levels, &abt, &two_way, err)))
            goto done;
        for (int q = 0; q < n_fe; q++) {
            if (n_levels[q] > most)
                most = n_levels[q];
            for (size_t i = 0; i < N; i++)
                if (codes[q][i] < 0)
                    valid[i] = 0;
        }
        if (!(seen = malloc((size_t)most))) {
            st = fig_nomem(err);
            goto done;
        }
    }
    if (s.cluster[0]) {
        if ((st = gravrd_fe_list_parse(s.cluster, &cl_terms, &n_cl_terms, err)))
            goto done;
        if (n_cl_terms != 1) {
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                  "figure 2: the fits are clustered one way: give one cluster variable (a or a^b), "
                                  "not '%s'", s.cluster);
            goto done;
        }
        if (!(cl = malloc(M * sizeof *cl))) {
            st = fig_nomem(err);
            goto done;
        }
        if ((st = model_group_codes(frame, cl_terms[0].vars, cl_terms[0].n_vars, "cluster", cl, &n_cl, err)))
            goto done;
        for (size_t i = 0; i < N; i++)
            if (cl[i] < 0)
                valid[i] = 0;
        if (!(work = malloc(2 * (size_t)(n_cl ? n_cl : 1) * sizeof *work))) {
            st = fig_nomem(err);
            goto done;
        }
    }

    /* panels: subsets, then the base rows (valid rows in some panel),
     * residualised once */
    f->panels = calloc(s.n_panels, sizeof *f->panels);
    if (!f->panels) {
        st = fig_nomem(err);
        goto done;
    }
    f->n_panels = s.n_panels;
    uint8_t **in_p = calloc(s.n_panels, sizeof *in_p);
    if (!in_p) {
        st = fig_nomem(err);
        goto done;
    }
    memset(base, 0, M);
    for (size_t p = 0; p < s.n_panels && !st; p++) {
        gravrd_figure2_panel *pn = &f->panels[p];
        const char *sub = s.subsets[p] && s.subsets[p][0] ? s.subsets[p] : NULL;
        pn->n_bins = s.n_bins;
        if (!(pn->bins = calloc((size_t)s.n_bins, sizeof *pn->bins)) || !(in_p[p] = malloc(M))) {
            st = fig_nomem(err);
            break;
        }
        if (sub) {
            if ((st = eval_expr(sub, "panel subset", &env, tmp, &pn->subset, err)))
                break;
            for (size_t i = 0; i < N; i++)
                in_p[p][i] = !isnan(tmp[i]) && tmp[i] != 0;
        } else
            memset(in_p[p], 1, M);
        const char *label = s.labels && s.labels[p] ? s.labels[p] : sub ? sub : "all rows";
        if (!(pn->label = gravrd_strdup(label))) {
            st = fig_nomem(err);
            break;
        }
        for (size_t i = 0; i < N; i++)
            if (in_p[p][i] && valid[i])
                base[i] = 1;
    }
    if (!st) {
        memcpy(keep, base, M);
        size_t n_single = 0;
        int iters = 0;
        st = residualise(n_fe, codes, two_way ? &abt : NULL, N, y, keep, res_all, &n_single, &iters, opt, err);
        /* keep: base rows that survive the singleton rule */
        for (size_t p = 0; p < s.n_panels && !st; p++) {
            gravrd_figure2_panel *pn = &f->panels[p];
            size_t n_sub = 0, n_valid = 0;
            int all = 1;
            for (size_t i = 0; i < N; i++) {
                n_sub += in_p[p][i];
                n_valid += in_p[p][i] && valid[i];
                if (base[i] && !in_p[p][i])
                    all = 0;
            }
            pn->n_dropped_missing = n_sub - n_valid;
            const double *res;
            uint8_t *rows = in;
            if (all || subset_is_closed(n_fe, codes, n_levels, N, base, in_p[p], seen)) {
                pn->shared_residuals = !all;
                pn->demean_iterations = iters;
                for (size_t i = 0; i < N; i++)
                    rows[i] = keep[i] && in_p[p][i];
                res = res_all;
            } else {
                for (size_t i = 0; i < N; i++)
                    rows[i] = valid[i] && in_p[p][i];
                size_t ns = 0;
                if ((st = residualise(n_fe, codes, two_way ? &abt : NULL, N, y, rows, res_p, &ns,
                                      &pn->demean_iterations, opt, err)))
                    break;
                res = res_p;
            }
            size_t n_rows = 0;
            for (size_t i = 0; i < N; i++)
                n_rows += rows[i];
            pn->n_rows = n_rows;
            pn->n_dropped_singletons = n_valid - n_rows;
            if (!n_rows) {
                st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                                      "figure 2: panel '%s' has no rows (subset, missing values, singletons)",
                                      pn->label);
                break;
            }
            bin_panel(N, rows, x, res, t, pn);
            for (int g = 0; g < 2 && !st; g++)
                st = fit_group(N, rows, x, res, t, g, cl, n_cl, s.level, work, &pn->fit[g]);
        }
    }
    for (size_t p = 0; p < s.n_panels; p++)
        free(in_p[p]);
    free(in_p);
done:
    if (st) {
        gravrd_figure2_free(f);
        f = NULL;
    }
    *out = f;
    free(y);
    free(x);
    free(t);
    free(tmp);
    free(res_all);
    free(res_p);
    free(valid);
    free(base);
    free(in);
    free(keep);
    free(seen);
    free(work);
    free(cl);
    if (codes)
        for (int q = 0; q < n_fe; q++)
            free(codes[q]);
    free(codes);
    free(n_levels);
    panel_abt_free(&abt);
    gravrd_fe_terms_free(fe_terms, n_fe);
    gravrd_fe_terms_free(cl_terms, n_cl_terms);
    return st;
}

enum { FIT_POINTS = 41 };

#define PARTNER_COLOUR "#1f77b4"
#define OTHER_COLOUR "#d62728"
#define OTHER_BAND "#ff8fab"

gravrd_status gravrd_figure2_svg(const gravrd_figure2 *f, size_t panel, const char *title, const char *path,
                                 gravrd_error *err)
{
    if (!f || !path || panel >= f->n_panels)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 2: no data, no path or no panel %zu", panel);
    const gravrd_figure2_panel *p = &f->panels[panel];
    gravrd_svg *g = gravrd_svg_new(640, 460);
    const size_t nb = (size_t)p->n_bins;
    double *bx = malloc(nb * sizeof *bx), *by = malloc(nb * sizeof *by);
    gravrd_status st = GRAVRD_OK;
    if (!g || !bx || !by) {
        st = fig_nomem(err);
        goto done;
    }
    char ylabel[512], xlabel[300];
    snprintf(ylabel, sizeof ylabel, "%s%s", f->fixed_effects[0] ? "residual " : "", f->outcome);
    snprintf(xlabel, sizeof xlabel, "%s", f->distance);
    if ((st = gravrd_svg_title(g, title ? title : p->label, err)) ||
        (st = gravrd_svg_axis_labels(g, xlabel, ylabel, err)) ||
        (st = gravrd_svg_legend_position(g, "bottom-left", err)))
        goto done;
    static const char *const point_labels[2] = {"other pairs: bin means", "partnership pairs: bin means"};
    static const char *const fit_labels[2] = {"other pairs: linear fit", "partnership pairs: linear fit"};
    char band_label[64];
    snprintf(band_label, sizeof band_label, "%g%% confidence bands", f->level);
    /* bands, then lines, then points; other pairs first */
    for (int pass = 0; pass < 2; pass++)
        for (int grp = 0; grp < 2; grp++) {
            const gravrd_figure2_fit *fit = &p->fit[grp];
            if (!(fit->n >= 3 && isfinite(fit->slope)))
                continue;
            double cx[FIT_POINTS], cy[FIT_POINTS], lo[FIT_POINTS], hi[FIT_POINTS];
            for (int k = 0; k < FIT_POINTS; k++) {
                double se;
                cx[k] = fit->x_lo + (fit->x_hi - fit->x_lo) * k / (FIT_POINTS - 1);
                gravrd_figure2_fit_at(fit, cx[k], &cy[k], &se);
                lo[k] = isfinite(se) && isfinite(fit->crit) ? cy[k] - fit->crit * se : NAN;
                hi[k] = isfinite(se) && isfinite(fit->crit) ? cy[k] + fit->crit * se : NAN;
            }
            const char *colour = grp ? PARTNER_COLOUR : OTHER_COLOUR;
            if (pass == 0)
                st = gravrd_svg_band(g, FIT_POINTS, cx, lo, hi,
                                     &(gravrd_svg_style){.fill = grp ? PARTNER_COLOUR : OTHER_BAND,
                                                         .opacity = grp ? 0.22 : 0.35,
                                                         .label = grp ? NULL : band_label},
                                     err);
            else
                st = gravrd_svg_line(g, FIT_POINTS, cx, cy,
                                     &(gravrd_svg_style){.stroke = colour, .stroke_width = 2, .label = fit_labels[grp]},
                                     err);
            if (st)
                goto done;
        }
    for (int grp = 0; grp < 2; grp++) {
        size_t m = 0;
        for (size_t b = 0; b < nb; b++)
            if (p->bins[b].n[grp]) {
                bx[m] = p->bins[b].x_mean[grp];
                by[m] = p->bins[b].y_mean[grp];
                m++;
            }
        const char *colour = grp ? PARTNER_COLOUR : OTHER_COLOUR;
        if ((st = gravrd_svg_points(g, m, bx, by,
                                    &(gravrd_svg_style){.fill = colour, .stroke = "white", .stroke_width = 0.6,
                                                        .radius = 4, .marker = grp ? "circle" : "square",
                                                        .label = m ? point_labels[grp] : NULL},
                                    err)))
            goto done;
    }
    st = gravrd_svg_save(g, path, err);
done:
    gravrd_svg_free(g);
    free(bx);
    free(by);
    return st;
}
