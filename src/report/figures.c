/* figures.c - the paper's figures (gravrd/figures.h): the map of cities and
 * partnership lines (Figure 1), the binned scatter of residual log trade on
 * log distance (Figure 2), and gravrd_report_figures, which writes them and
 * the RD plots into an output folder with a figures.json index. */
#include "gravrd/figures.h"

#include <errno.h>
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/model_data.h"
#include "gravrd/hdfe.h"
#include "gravrd/rd.h"
#include "gravrd/svg.h"
#include "spatial/panel_residuals.h"
#include "util/strutil.h"

static gravrd_status nomem(gravrd_error *err)
{
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
}

/* ================================================================== */
/* Figure 1                                                            */
/* ================================================================== */

void gravrd_figure1_free(gravrd_figure1 *f)
{
    if (!f)
        return;
    free(f->id_N);
    free(f->lng_N);
    free(f->lat_N);
    free(f->west_N);
    free(f->in_program_N);
    free(f->east_L);
    free(f->west_L);
    free(f);
}

gravrd_status gravrd_figure1_compute(const gravrd_study *study, gravrd_figure1 **out, gravrd_error *err)
{
    *out = NULL;
    if (!study)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 1: no study");
    gravrd_study_geo geo;
    gravrd_study_geography(study, &geo);
    const size_t n = geo.n, n_lines = gravrd_study_n_partnerships(study);
    gravrd_figure1 *f = calloc(1, sizeof *f);
    if (!f)
        return nomem(err);
    size_t m = n ? n : 1, ml = n_lines ? n_lines : 1;
    f->id_N = malloc(m * sizeof *f->id_N);
    f->lng_N = malloc(m * sizeof *f->lng_N);
    f->lat_N = malloc(m * sizeof *f->lat_N);
    f->west_N = malloc(m * sizeof *f->west_N);
    f->in_program_N = malloc(m * sizeof *f->in_program_N);
    f->east_L = malloc(ml * sizeof *f->east_L);
    f->west_L = malloc(ml * sizeof *f->west_L);
    if (!f->id_N || !f->lng_N || !f->lat_N || !f->west_N || !f->in_program_N || !f->east_L || !f->west_L) {
        gravrd_figure1_free(f);
        return nomem(err);
    }
    f->n_cities = n;
    for (size_t i = 0; i < n; i++) {
        f->id_N[i] = geo.id_N[i];
        f->lng_N[i] = geo.lng_N[i];
        f->lat_N[i] = geo.lat_N[i];
        f->west_N[i] = geo.west_N[i];
        f->in_program_N[i] = geo.in_program_N[i];
        if (geo.west_N[i]) {
            f->n_west++;
            f->n_west_program += geo.in_program_N[i] != 0;
        } else {
            f->n_east++;
            f->n_east_program += geo.in_program_N[i] != 0;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (geo.west_N[i])
            continue;
        for (size_t j = 0; j < n; j++) {
            if (!geo.west_N[j] || !gravrd_study_partners(study, i, j))
                continue;
            if (k == n_lines) {
                gravrd_figure1_free(f);
                return gravrd_error_set(err, GRAVRD_ERR_DATA, "figure 1: more partner pairs than partnerships");
            }
            f->east_L[k] = (int32_t)i;
            f->west_L[k] = (int32_t)j;
            k++;
        }
    }
    f->n_lines = k;
    *out = f;
    return GRAVRD_OK;
}

/* Colours of the paper's Figure 1: eastern cities blue squares, western
 * cities green circles, partnerships red dashed lines. */
#define EAST_COLOUR "#1f5fb4"
#define WEST_COLOUR "#2a9d3a"
#define LINE_COLOUR "#d62728"

gravrd_status gravrd_figure1_svg(const gravrd_figure1 *f, const char *title, const char *path, gravrd_error *err)
{
    if (!f || !path)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 1: no data or no path");
    if (!f->n_cities)
        return gravrd_error_set(err, GRAVRD_ERR_EMPTY, "figure 1: no cities");
    double lng0 = INFINITY, lng1 = -INFINITY, lat0 = INFINITY, lat1 = -INFINITY;
    for (size_t i = 0; i < f->n_cities; i++) {
        lng0 = fmin(lng0, f->lng_N[i]);
        lng1 = fmax(lng1, f->lng_N[i]);
        lat0 = fmin(lat0, f->lat_N[i]);
        lat1 = fmax(lat1, f->lat_N[i]);
    }
    /* pad by 4% (at least half a degree); equirectangular with the x scale
     * shrunk by cos(mid latitude) */
    double plng = fmax(0.5, 0.04 * (lng1 - lng0)), plat = fmax(0.5, 0.04 * (lat1 - lat0));
    lng0 -= plng;
    lng1 += plng;
    lat0 -= plat;
    lat1 += plat;
    double coslat = cos((lat0 + lat1) / 2 * 3.14159265358979323846 / 180);
    if (coslat < 0.2)
        coslat = 0.2;
    /* plot area 760 px wide (svg.c: 72 px left, 24 px right margin); height
     * from the aspect, within [300, 1000] px (the longitude range widens
     * when the height would exceed it) */
    const double plot_w = 760;
    double plot_h = plot_w * (lat1 - lat0) / ((lng1 - lng0) * coslat);
    if (plot_h > 1000) {
        double want = (lat1 - lat0) / coslat * plot_w / 1000, mid = (lng0 + lng1) / 2;
        lng0 = mid - want / 2;
        lng1 = mid + want / 2;
        plot_h = 1000;
    } else if (plot_h < 300) {
        double want = 300 * (lng1 - lng0) * coslat / plot_w, mid = (lat0 + lat1) / 2;
        lat0 = mid - want / 2;
        lat1 = mid + want / 2;
        plot_h = 300;
    }
    gravrd_svg *g = gravrd_svg_new(plot_w + 96, plot_h + 44 + 56);
    double *x0 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *x0), *y0 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *y0);
    double *x1 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *x1), *y1 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *y1);
    double *px = malloc(f->n_cities * sizeof *px), *py = malloc(f->n_cities * sizeof *py);
    gravrd_status st = GRAVRD_OK;
    if (!g || !x0 || !y0 || !x1 || !y1 || !px || !py) {
        st = nomem(err);
        goto done;
    }
    char default_title[256];
    snprintf(default_title, sizeof default_title,
             "City partnerships: %zu cities (%zu east, %zu west), %zu partnerships", f->n_cities, f->n_east,
             f->n_west, f->n_lines);
    if ((st = gravrd_svg_title(g, title ? title : default_title, err)) ||
        (st = gravrd_svg_axis_labels(g, "longitude (degrees east)", "latitude (degrees north)", err)) ||
        (st = gravrd_svg_xlim(g, lng0, lng1, err)) || (st = gravrd_svg_ylim(g, lat0, lat1, err)) ||
        (st = gravrd_svg_legend_position(g, "top-left", err)))
        goto done;
    for (size_t k = 0; k < f->n_lines; k++) {
        x0[k] = f->lng_N[f->east_L[k]];
        y0[k] = f->lat_N[f->east_L[k]];
        x1[k] = f->lng_N[f->west_L[k]];
        y1[k] = f->lat_N[f->west_L[k]];
    }
    if ((st = gravrd_svg_segments(g, f->n_lines, x0, y0, x1, y1,
                                  &(gravrd_svg_style){.stroke = LINE_COLOUR, .stroke_width = 1.1, .dash = "5 3",
                                                      .opacity = 0.75, .label = "partnership"},
                                  err)))
        goto done;
    /* markers: four layers (east/west x in the program or not), each city once */
    static const struct {
        int west, program;
        const char *label;
    } layers[] = {
        {0, 0, "eastern city, not in the program"},
        {1, 0, "western city, not in the program"},
        {0, 1, "eastern city in a partnership"},
        {1, 1, "western city in a partnership"},
    };
    for (size_t l = 0; l < 4; l++) {
        size_t m = 0;
        for (size_t i = 0; i < f->n_cities; i++)
            if ((f->west_N[i] != 0) == layers[l].west && (f->in_program_N[i] != 0) == layers[l].program) {
                px[m] = f->lng_N[i];
                py[m] = f->lat_N[i];
                m++;
            }
        const char *colour = layers[l].west ? WEST_COLOUR : EAST_COLOUR;
        gravrd_svg_style style = {.stroke = colour,
                                  .fill = layers[l].program ? colour : "white",
                                  .stroke_width = 1.2,
                                  .radius = layers[l].program ? 4.2 : 3.4,
                                  .marker = layers[l].west ? "circle" : "square",
                                  .label = m ? layers[l].label : NULL};
        if ((st = gravrd_svg_points(g, m, px, py, &style, err)))
            goto done;
    }
    st = gravrd_svg_save(g, path, err);
done:
    gravrd_svg_free(g);
    free(x0);
    free(y0);
    free(x1);
    free(y1);
    free(px);
    free(py);
    return st;
}

/* ================================================================== */
/* Figure 2                                                            */
/* ================================================================== */

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

static gravrd_status add_name(char ***names, size_t *n, const char *name, gravrd_error *err)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*names)[i], name))
            return GRAVRD_OK;
    char **nn = realloc(*names, (*n + 1) * sizeof *nn);
    if (!nn)
        return nomem(err);
    *names = nn;
    if (!(nn[*n] = gravrd_strdup(name)))
        return nomem(err);
    (*n)++;
    return GRAVRD_OK;
}

static gravrd_status expr_names(const char *text, const char *what, char ***names, size_t *n, gravrd_error *err)
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

static gravrd_status fe_names(const char *text, char ***names, size_t *n, gravrd_error *err)
{
    if (!text || !text[0])
        return GRAVRD_OK;
    gravrd_fe_term *t = NULL;
    int nt = 0;
    gravrd_status st = gravrd_fe_list_parse(text, &t, &nt, err);
    for (int q = 0; !st && q < nt; q++)
        for (int v = 0; !st && v < t[q].n_vars; v++)
            st = add_name(names, n, t[q].vars[v], err);
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
        st = expr_names(s.outcome, "outcome", &names, &n, err);
    if (!st)
        st = expr_names(s.distance, "distance", &names, &n, err);
    if (!st)
        st = expr_names(s.treatment, "treatment", &names, &n, err);
    for (size_t p = 0; !st && p < s.n_panels; p++)
        if (s.subsets[p] && s.subsets[p][0])
            st = expr_names(s.subsets[p], "panel subset", &names, &n, err);
    if (!st)
        st = fe_names(s.fe, &names, &n, err);
    if (!st)
        st = fe_names(s.cluster, &names, &n, err);
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
        st = nomem(err);
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
        st = nomem(err);
        goto done;
    }
    for (int q = 0; q < n_fe; q++) {
        if (!(codes_k[q] = malloc(n * sizeof **codes_k))) {
            st = nomem(err);
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
        st = nomem(err);
        goto done;
    }
    f->level = s.level;
    gravrd_eval_env env = {frame, opt && opt->env ? opt->env->call : NULL, opt && opt->env ? opt->env->user : NULL};
    if ((st = eval_expr(s.outcome, "outcome", &env, y, &f->outcome, err)) ||
        (st = eval_expr(s.distance, "distance", &env, x, &f->distance, err)) ||
        (st = eval_expr(s.treatment, "treatment", &env, t, &f->treatment, err)))
        goto done;
    if (!(f->fixed_effects = gravrd_strdup(s.fe)) || !(f->cluster = gravrd_strdup(s.cluster))) {
        st = nomem(err);
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
            st = nomem(err);
            goto done;
        }
        int32_t most = 1;
        for (int q = 0; q < n_fe; q++)
            if (!(codes[q] = malloc(M * sizeof **codes))) {
                st = nomem(err);
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
            st = nomem(err);
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
            st = nomem(err);
            goto done;
        }
        if ((st = model_group_codes(frame, cl_terms[0].vars, cl_terms[0].n_vars, "cluster", cl, &n_cl, err)))
            goto done;
        for (size_t i = 0; i < N; i++)
            if (cl[i] < 0)
                valid[i] = 0;
        if (!(work = malloc(2 * (size_t)(n_cl ? n_cl : 1) * sizeof *work))) {
            st = nomem(err);
            goto done;
        }
    }

    /* panels: subsets, then the base rows (valid rows in some panel),
     * residualised once */
    f->panels = calloc(s.n_panels, sizeof *f->panels);
    if (!f->panels) {
        st = nomem(err);
        goto done;
    }
    f->n_panels = s.n_panels;
    uint8_t **in_p = calloc(s.n_panels, sizeof *in_p);
    if (!in_p) {
        st = nomem(err);
        goto done;
    }
    memset(base, 0, M);
    for (size_t p = 0; p < s.n_panels && !st; p++) {
        gravrd_figure2_panel *pn = &f->panels[p];
        const char *sub = s.subsets[p] && s.subsets[p][0] ? s.subsets[p] : NULL;
        pn->n_bins = s.n_bins;
        if (!(pn->bins = calloc((size_t)s.n_bins, sizeof *pn->bins)) || !(in_p[p] = malloc(M))) {
            st = nomem(err);
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
            st = nomem(err);
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
        st = nomem(err);
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

/* ================================================================== */
/* gravrd_report_figures                                               */
/* ================================================================== */

void gravrd_report_figures_options_init(gravrd_report_figures_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->figure1 = 1;
    opt->figure2 = 1;
    opt->rd_plots = 1;
    gravrd_figure2_options_init(&opt->figure2_opt);
}

/* ---- a small JSON writer for figures.json ---- */

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

typedef struct {
    char id[32], file[48], group[32];
    char *title, *caption;
    char *numbers; /* JSON object text */
} fig_entry;

typedef struct {
    fig_entry *items;
    size_t n, cap;
    char **warnings;
    size_t n_warnings;
} fig_list;

static void fig_list_free(fig_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].title);
        free(l->items[i].caption);
        free(l->items[i].numbers);
    }
    free(l->items);
    gravrd_strings_free(l->warnings, l->n_warnings);
}

/* vasprintf-like: malloc'ed formatted text. */
static char *fmt_alloc(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;
static char *fmt_alloc(const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (s)
        vsnprintf(s, (size_t)len + 1, fmt, ap2);
    va_end(ap2);
    return s;
}

static gravrd_status fig_add(fig_list *l, const char *id, const char *group, char *title, char *caption,
                             char *numbers, gravrd_error *err)
{
    if (!title || !caption || !numbers) {
        free(title);
        free(caption);
        free(numbers);
        return nomem(err);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        fig_entry *ni = realloc(l->items, cap * sizeof *ni);
        if (!ni) {
            free(title);
            free(caption);
            free(numbers);
            return nomem(err);
        }
        l->items = ni;
        l->cap = cap;
    }
    fig_entry *e = &l->items[l->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->file, sizeof e->file, "%s.svg", id);
    snprintf(e->group, sizeof e->group, "%s", group);
    e->title = title;
    e->caption = caption;
    e->numbers = numbers;
    return GRAVRD_OK;
}

static gravrd_status fig_warn(fig_list *l, const char *msg, gravrd_error *err)
{
    char **w = realloc(l->warnings, (l->n_warnings + 1) * sizeof *w);
    if (!w)
        return nomem(err);
    l->warnings = w;
    if (!(w[l->n_warnings] = gravrd_strdup(msg)))
        return nomem(err);
    l->n_warnings++;
    return GRAVRD_OK;
}

static gravrd_status fig_list_write(const fig_list *l, const char *path, gravrd_error *err)
{
    FILE *out = fopen(path, "w");
    if (!out)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fputs("{\n  \"figures\": [", out);
    for (size_t i = 0; i < l->n; i++) {
        const fig_entry *e = &l->items[i];
        fputs(i ? ",\n    {" : "\n    {", out);
        fputs("\"id\": ", out);
        json_str(out, e->id);
        fputs(", \"file\": ", out);
        json_str(out, e->file);
        fputs(", \"group\": ", out);
        json_str(out, e->group);
        fputs(",\n     \"title\": ", out);
        json_str(out, e->title);
        fputs(",\n     \"caption\": ", out);
        json_str(out, e->caption);
        fprintf(out, ",\n     \"numbers\": %s}", e->numbers);
    }
    fputs(l->n ? "\n  ],\n  \"warnings\": [" : "],\n  \"warnings\": [", out);
    for (size_t i = 0; i < l->n_warnings; i++) {
        fputs(i ? ", " : "", out);
        json_str(out, l->warnings[i]);
    }
    fputs("]\n}\n", out);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: write error", path);
    return GRAVRD_OK;
}

/* JSON text of a fit: {"n":..,"clusters":..,"intercept":..,"slope":..,"slope_se":..} */
static char *fit_json(const gravrd_figure2_fit *fit)
{
    char a[40], b[40], c[40];
    snprintf(a, sizeof a, isfinite(fit->intercept) ? "%.10g" : "null", fit->intercept);
    snprintf(b, sizeof b, isfinite(fit->slope) ? "%.10g" : "null", fit->slope);
    snprintf(c, sizeof c, isfinite(fit->vcov[3]) && fit->vcov[3] >= 0 ? "%.10g" : "null",
             isfinite(fit->vcov[3]) && fit->vcov[3] >= 0 ? sqrt(fit->vcov[3]) : 0.0);
    return fmt_alloc("{\"n\": %zu, \"clusters\": %zu, \"intercept\": %s, \"slope\": %s, \"slope_se\": %s}", fit->n,
                     fit->n_clusters, a, b, c);
}

static char *path_join(const char *dir, const char *name)
{
    return fmt_alloc("%s/%s", dir, name);
}

static gravrd_status write_figure1(const gravrd_study *study, const char *out_dir, fig_list *l, gravrd_error *err)
{
    gravrd_figure1 *f = NULL;
    gravrd_status st = gravrd_figure1_compute(study, &f, err);
    if (st)
        return st;
    char *path = path_join(out_dir, "figure1.svg");
    if (!path) {
        gravrd_figure1_free(f);
        return nomem(err);
    }
    st = gravrd_figure1_svg(f, NULL, path, err);
    if (!st)
        st = fig_add(
            l, "figure1", "Figure 1", gravrd_strdup("Figure 1. City partnerships"),
            fmt_alloc("The %zu cities on a longitude-latitude frame: %zu eastern cities (squares; %zu in the "
                      "program, filled) and %zu western cities (circles; %zu in the program, filled). Each of the "
                      "%zu partnerships is a dashed line between its eastern and its western city (paper: 256 "
                      "directed partnership pairs, i.e. 128 partnerships, 56 eastern and 81 western cities).",
                      f->n_cities, f->n_east, f->n_east_program, f->n_west, f->n_west_program, f->n_lines),
            fmt_alloc("{\"cities\": %zu, \"east\": %zu, \"west\": %zu, \"east_in_program\": %zu, "
                      "\"west_in_program\": %zu, \"partnerships\": %zu}",
                      f->n_cities, f->n_east, f->n_west, f->n_east_program, f->n_west_program, f->n_lines),
            err);
    free(path);
    gravrd_figure1_free(f);
    return st;
}

/* Writes Figure 2's panels (computed) and lists them. */
static gravrd_status write_figure2(const gravrd_figure2 *f, const char *out_dir, fig_list *l, gravrd_error *err)
{
    gravrd_status st = GRAVRD_OK;
    for (size_t p = 0; p < f->n_panels && !st; p++) {
        const gravrd_figure2_panel *pn = &f->panels[p];
        char id[32], letter = p < 26 ? (char)('a' + p) : 'z';
        snprintf(id, sizeof id, "figure2%c", letter);
        char *file = fmt_alloc("%s.svg", id), *path = file ? path_join(out_dir, file) : NULL;
        if (!path) {
            free(file);
            st = nomem(err);
            break;
        }
        st = gravrd_figure2_svg(f, p, NULL, path, err);
        free(path);
        free(file);
        if (st)
            break;
        size_t n_bins_used = 0;
        for (int b = 0; b < pn->n_bins; b++)
            n_bins_used += pn->bins[b].n[0] || pn->bins[b].n[1];
        char *fit0 = fit_json(&pn->fit[0]), *fit1 = fit_json(&pn->fit[1]);
        char slope0[40] = "n/a", slope1[40] = "n/a";
        if (isfinite(pn->fit[0].slope))
            snprintf(slope0, sizeof slope0, "%.3f", pn->fit[0].slope);
        if (isfinite(pn->fit[1].slope))
            snprintf(slope1, sizeof slope1, "%.3f", pn->fit[1].slope);
        st = fig_add(
            l, id, "Figure 2", fmt_alloc("Figure 2%c. Gravity: %s", letter, pn->label),
            fmt_alloc("%s (%s) residualised on %s%s, averaged in %d equal-width bins of %s over [%.3f, %.3f] "
                      "(%zu bins with rows), for partnership pairs (blue circles, %zu rows) and other pairs (red "
                      "squares, %zu rows); %zu rows in all%s. Lines: OLS fits on the rows (slope %s for "
                      "partnership pairs, %s for other pairs) with %g%% confidence bands%s%s.",
                      f->outcome, pn->subset ? pn->subset : "all rows", f->fixed_effects[0] ? f->fixed_effects : "nothing",
                      pn->n_dropped_singletons ? " (singletons dropped)" : "", pn->n_bins, f->distance, pn->x_lo,
                      pn->x_hi, n_bins_used, pn->fit[1].n, pn->fit[0].n, pn->n_rows,
                      pn->n_dropped_missing ? " (rows with missing values dropped)" : "", slope1, slope0, f->level,
                      f->cluster[0] ? ", clustered by " : " (iid)", f->cluster[0] ? f->cluster : ""),
            fit0 && fit1
                ? fmt_alloc("{\"rows\": %zu, \"bins\": %d, \"x_lo\": %.10g, \"x_hi\": %.10g, \"partner_fit\": %s, "
                            "\"other_fit\": %s}",
                            pn->n_rows, pn->n_bins, pn->x_lo, pn->x_hi, fit1, fit0)
                : NULL,
            err);
        free(fit0);
        free(fit1);
    }
    return st;
}

/* The RD plots' samples. */
static const struct {
    const char *id, *subset, *label;
} rd_samples[] = {
    {"rd_all", NULL, "both directions"},
    {"rd_e2w", "e2w == 1", "east to west"},
    {"rd_w2e", "w2e == 1", "west to east"},
};
enum { N_RD_PLOTS = sizeof rd_samples / sizeof rd_samples[0] };

/* Writes the RD plots from the studies computed for each sample (rs_S:
 * their status, err_S their errors: a failed one is left out with a
 * warning) and lists them. */
static gravrd_status write_rd_plots(gravrd_rd_result *const *rd_S, const gravrd_status *rs_S,
                                    const gravrd_error *err_S, const char *out_dir, fig_list *l, gravrd_error *err)
{
    gravrd_status st = GRAVRD_OK;
    for (size_t s = 0; s < N_RD_PLOTS && !st; s++) {
        const gravrd_rd_result *r = rd_S[s];
        gravrd_error e2 = {0};
        if (rs_S[s] == GRAVRD_ERR_NOMEM)
            return nomem(err);
        if (rs_S[s]) {
            char msg[GRAVRD_ERROR_MSG_LEN + 80];
            snprintf(msg, sizeof msg, "RD plot %s (%s) left out: %s", rd_samples[s].id, rd_samples[s].label,
                     err_S[s].message);
            st = fig_warn(l, msg, err);
            continue;
        }
        char *file = fmt_alloc("%s.svg", rd_samples[s].id), *path = file ? path_join(out_dir, file) : NULL;
        char *title = fmt_alloc("Local linear RD: %s, %s", r->outcome, rd_samples[s].label);
        if (!path || !title) {
            free(file);
            free(path);
            free(title);
            return nomem(err);
        }
        gravrd_rd_plot_options po = {0};
        gravrd_status rs = gravrd_rd_plot(r, &po, path, &e2);
        if (rs == GRAVRD_ERR_IO || rs == GRAVRD_ERR_NOMEM) {
            gravrd_error_set(err, rs, "%s", e2.message);
            st = rs;
        } else if (rs) {
            char msg[GRAVRD_ERROR_MSG_LEN + 80];
            snprintf(msg, sizeof msg, "RD plot %s (%s) left out: %s", rd_samples[s].id, rd_samples[s].label, e2.message);
            st = fig_warn(l, msg, err);
        } else {
            const gravrd_rd_estimate *est = r->has_optimal ? &r->optimal : NULL;
            double h = est ? est->h : NAN;
            st = fig_add(
                l, rd_samples[s].id, "RD plots", title,
                fmt_alloc("Spatial RD as a local linear regression (the paper's Appendix D.2 and Figure A.2), %s: "
                          "each treated pair against the control pairs formed by cities within %.0f km of its "
                          "exporter in the same province; x = distance to that city, positive for the treated "
                          "pair. Outcome: %s residualised on %s and averaged by pair. Binned means with 95%% "
                          "intervals and the two local linear fits at the MSE-optimal bandwidth h = %.1f km "
                          "(estimate %.4f, s.e. %.4f; %zu observations, %zu treated pairs used).",
                          rd_samples[s].label, r->radius_km, r->outcome, r->fixed_effects, h,
                          est ? est->estimate : NAN, est ? est->se : NAN, r->n_obs, r->n_treated_used),
                est ? fmt_alloc("{\"h\": %.10g, \"estimate\": %.10g, \"se\": %.10g, \"observations\": %zu, "
                                "\"treated_pairs_used\": %zu}",
                                est->h, est->estimate, est->se, r->n_obs, r->n_treated_used)
                    : fmt_alloc("{\"observations\": %zu}", r->n_obs),
                err);
            title = NULL;
        }
        free(title);
        free(file);
        free(path);
    }
    return st;
}

gravrd_status gravrd_report_figures(const gravrd_study *study, const gravrd_frame *flows, const char *out_dir,
                                    const gravrd_report_figures_options *opt_in, gravrd_error *err)
{
    if (!study || !out_dir)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figures: no study or no output folder");
    gravrd_report_figures_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        gravrd_report_figures_options_init(&opt);
    if ((opt.figure2 || opt.rd_plots) && !flows)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figures: Figure 2 and the RD plots need the flows");
    if (!opt.figure2_opt.threads)
        opt.figure2_opt.threads = opt.threads;
    fig_list l;
    memset(&l, 0, sizeof l);
    gravrd_status st = GRAVRD_OK;
    gravrd_frame *frame = NULL;
    gravrd_figure2 *f2 = NULL;
    gravrd_rd_result *rd_S[N_RD_PLOTS] = {NULL};
    char **names = NULL;
    size_t n_names = 0;
    gravrd_eval_env env;
    gravrd_study_env(study, &env);
    if (!opt.figure2_opt.env)
        opt.figure2_opt.env = &env;
    const char *rd_outcome = opt.rd_outcome && opt.rd_outcome[0] ? opt.rd_outcome
                             : opt.figure2_opt.outcome && opt.figure2_opt.outcome[0]
                                 ? opt.figure2_opt.outcome
                                 : GRAVRD_FIGURE2_DEFAULT_OUTCOME;

    if (opt.figure1 && (st = write_figure1(study, out_dir, &l, err)))
        goto done;
    if (opt.figure2 || opt.rd_plots) {
        if ((st = gravrd_figure2_variables(&opt.figure2_opt, &names, &n_names, err)))
            goto done;
        if (opt.rd_plots) {
            if ((st = expr_names(rd_outcome, "RD outcome", &names, &n_names, err)) ||
                (st = fe_names(GRAVRD_RD_DEFAULT_FE, &names, &n_names, err)) ||
                (st = add_name(&names, &n_names, "e2w", err)) || (st = add_name(&names, &n_names, "w2e", err)))
                goto done;
        }
        if ((st = gravrd_study_frame(study, flows, (const char *const *)names, n_names, &frame, err)))
            goto done;
    }
    if (opt.figure2 || opt.rd_plots) {
        /* Figure 2 and the three RD studies are independent: computed
         * side by side (each on one thread when there are several), then
         * written in order. */
        const int n_tasks = 1 + N_RD_PLOTS;
        int outer = opt.threads > 1 ? (opt.threads < n_tasks ? opt.threads : n_tasks) : 1;
        gravrd_figure2_options fo = opt.figure2_opt;
        if (outer > 1)
            fo.threads = 1;
        gravrd_status rs_S[N_RD_PLOTS] = {GRAVRD_OK}, f2st = GRAVRD_OK;
        gravrd_error err_S[N_RD_PLOTS], f2err = {0};
        memset(err_S, 0, sizeof err_S);
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 1) num_threads(outer) if (outer > 1)
#endif
        for (int task = 0; task < n_tasks; task++) {
            if (task == 0) {
                if (opt.figure2)
                    f2st = gravrd_figure2_compute(frame, &fo, &f2, &f2err);
                continue;
            }
            if (!opt.rd_plots)
                continue;
            gravrd_rd_study_options ro;
            gravrd_rd_study_options_init(&ro);
            ro.outcome = rd_outcome;
            ro.subset = rd_samples[task - 1].subset;
            ro.threads = outer > 1 ? 1 : opt.threads;
            ro.env = &env;
            rs_S[task - 1] = gravrd_rd_study(study, frame, &ro, &rd_S[task - 1], &err_S[task - 1]);
        }
        if (opt.figure2 && f2st) {
            st = gravrd_error_set(err, f2st, "%s", f2err.message);
            goto done;
        }
        if (opt.figure2 && (st = write_figure2(f2, out_dir, &l, err)))
            goto done;
        if (opt.rd_plots && (st = write_rd_plots(rd_S, rs_S, err_S, out_dir, &l, err)))
            goto done;
    }
    {
        char *path = path_join(out_dir, "figures.json");
        if (!path) {
            st = nomem(err);
            goto done;
        }
        st = fig_list_write(&l, path, err);
        free(path);
    }
done:
    gravrd_figure2_free(f2);
    for (int k = 0; k < N_RD_PLOTS; k++)
        gravrd_rd_result_free(rd_S[k]);
    gravrd_frame_free(frame);
    gravrd_strings_free(names, n_names);
    fig_list_free(&l);
    return st;
}
