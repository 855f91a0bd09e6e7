/* gravrd/figures.h - the paper's figures, computed from a study and written
 * as SVG (see docs/report.md):
 *
 *   Figure 1: a map of the cities on a longitude-latitude frame, eastern
 *             cities as squares and western cities as circles (filled when
 *             the city is in the program), and one dashed line per
 *             partnership;
 *   Figure 2: the gravity relation as a binned scatter: the outcome (log
 *             trade) residualised on the exporter-city x month and
 *             importer-city x month fixed effects, averaged in 50
 *             equal-width bins of log distance, separately for partnership
 *             and other pairs, with a linear fit and its 95% band for each;
 *             three panels (both directions, east to west, west to east);
 *   RD plots: the local linear spatial RD plots of gravrd_rd_plot.
 *
 * gravrd_report_figures writes all of them into an output folder and lists
 * them in OUT/figures.json, which the HTML report (gravrd/html.h) reads.
 *
 * Typical use (what `gravrd replicate` does at the end):
 *
 *   gravrd_report_figures_options fo;
 *   gravrd_report_figures_options_init(&fo);
 *   gravrd_report_figures(study, flows, out_dir, &fo, &err);
 *   gravrd_report_html(out_dir, data_dir, NULL, &err);
 */
#ifndef GRAVRD_FIGURES_H
#define GRAVRD_FIGURES_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/error.h"
#include "gravrd/formula.h"
#include "gravrd/study.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Figure 1: the map ---- */

typedef struct {
    size_t n_cities;
    int64_t *id_N;              /* city_id, cities.csv order */
    double *lng_N, *lat_N;
    int8_t *west_N;             /* 0 east, 1 west */
    uint8_t *in_program_N;      /* 1 if the city is in some partnership */
    size_t n_east, n_west, n_east_program, n_west_program;
    size_t n_lines;             /* partnerships (undirected east-west pairs) */
    int32_t *east_L, *west_L;   /* city indexes (into the _N arrays) of each partnership,
                                 * ordered by (east index, west index) */
} gravrd_figure1;

/* The cities and partnership lines of a study. */
gravrd_status gravrd_figure1_compute(const gravrd_study *study, gravrd_figure1 **out, gravrd_error *err);
void gravrd_figure1_free(gravrd_figure1 *f);

/* The map as an SVG file: longitude (x) and latitude (y) in degrees, the
 * x scale shrunk by cos(mean latitude) so that distances look right near
 * the middle of the map; lines first, then one marker per city. title NULL
 * = a default naming the counts. */
gravrd_status gravrd_figure1_svg(const gravrd_figure1 *f, const char *title, const char *path, gravrd_error *err);

/* ---- Figure 2: binned scatter of the gravity relation ---- */

#define GRAVRD_FIGURE2_DEFAULT_OUTCOME "log1p(trade)"
#define GRAVRD_FIGURE2_DEFAULT_DISTANCE "log(distance)"
#define GRAVRD_FIGURE2_DEFAULT_TREATMENT "partner"
#define GRAVRD_FIGURE2_DEFAULT_FE "exp_city^month + imp_city^month"
#define GRAVRD_FIGURE2_DEFAULT_CLUSTER "exp_city^imp_city"

typedef struct {
    const char *outcome;        /* expression; NULL = GRAVRD_FIGURE2_DEFAULT_OUTCOME */
    const char *distance;       /* x axis; NULL = GRAVRD_FIGURE2_DEFAULT_DISTANCE */
    const char *treatment;      /* non-zero = partnership pair; NULL = "partner" */
    const char *fixed_effects;  /* the outcome is residualised on these (fixest FE syntax);
                                 * NULL = GRAVRD_FIGURE2_DEFAULT_FE, "" = not residualised */
    const char *cluster;        /* variance of the fits clustered by this (one term, a^b allowed);
                                 * NULL = GRAVRD_FIGURE2_DEFAULT_CLUSTER, "" = iid */
    int n_bins;                 /* equal-width bins of the distance (0 = 50) */
    double level;               /* confidence level of the bands in percent (0 = 95) */
    size_t n_panels;            /* 0 = the paper's three panels: all rows, e2w, w2e */
    const char *const *panel_subsets; /* n_panels expressions; a NULL or "" entry = all rows */
    const char *const *panel_labels;  /* n_panels labels (NULL = the subsets) */
    double tol;                 /* demeaning tolerance (0 = default) */
    int max_iter;               /* 0 = default */
    int threads;                /* 0 = 1 */
    const gravrd_eval_env *env; /* functions for the expressions (env->frame ignored); may be NULL */
} gravrd_figure2_options;

void gravrd_figure2_options_init(gravrd_figure2_options *opt);

/* Group 0: other pairs (treatment == 0); group 1: partnership pairs. */
typedef struct {
    double lo, hi;              /* bin edges on the distance scale */
    size_t n[2];                /* rows in the bin by group */
    double x_mean[2], y_mean[2];/* means over those rows (NaN when empty) */
} gravrd_figure2_bin;

/* The OLS line y = intercept + slope x over a group's rows, with the
 * variance of (intercept, slope): clustered CR1 with fixest's small-sample
 * factor (G/(G-1)) (n-1)/(n-2) when clustered, else iid s^2 (X'X)^-1. The
 * band at x is yhat(x) +- crit * se(yhat(x)); crit is the t quantile on
 * G - 1 (clustered) or n - 2 degrees of freedom. */
typedef struct {
    size_t n;
    size_t n_clusters;          /* 0 when not clustered */
    double intercept, slope;
    double vcov[4];             /* row-major over (intercept, slope) */
    double crit;
    double x_lo, x_hi;          /* range of x in the group */
} gravrd_figure2_fit;

/* yhat(x) and its standard error under a fit. */
void gravrd_figure2_fit_at(const gravrd_figure2_fit *fit, double x, double *yhat, double *se);

typedef struct {
    char *label;
    char *subset;               /* deparsed subset, NULL = all rows */
    size_t n_rows;              /* rows used: subset, finite outcome/distance/treatment, FE, no singletons */
    size_t n_dropped_missing;   /* rows of the subset dropped for a missing or non-finite value */
    size_t n_dropped_singletons;
    int demean_iterations;
    int shared_residuals;       /* 1: residuals taken from the all-rows fit (the subset is a union of
                                 * whole FE levels, so residualising on it alone gives the same) */
    double x_lo, x_hi;          /* range of the distance over the rows: the binned range */
    int n_bins;
    gravrd_figure2_bin *bins;   /* n_bins, in order */
    gravrd_figure2_fit fit[2];  /* [0] other pairs, [1] partnership pairs (n = 0 when the group is empty) */
} gravrd_figure2_panel;

typedef struct {
    char *outcome, *distance, *treatment, *fixed_effects, *cluster; /* as used (deparsed) */
    double level;
    size_t n_panels;
    gravrd_figure2_panel *panels;
} gravrd_figure2;

/* Computes the panels on a frame holding the variables the expressions use
 * (a study frame: gravrd_study_frame with gravrd_figure2_variables). Within
 * each panel's rows the outcome is residualised on the fixed effects
 * (singletons dropped repeatedly), rows are put in n_bins equal-width bins
 * of the distance over [min, max] of the panel (bin k holds
 * floor((x - min) / (max - min) * n_bins), the maximum in the last bin),
 * and the residuals are averaged by bin and group. Errors: bad expressions,
 * a panel with no rows. */
gravrd_status gravrd_figure2_compute(const gravrd_frame *frame, const gravrd_figure2_options *opt,
                                     gravrd_figure2 **out, gravrd_error *err);
void gravrd_figure2_free(gravrd_figure2 *f);

/* The column names the computation reads (variables of the outcome,
 * distance, treatment, panel subsets, FE and cluster), each once;
 * malloc'ed, free with gravrd_strings_free. */
gravrd_status gravrd_figure2_variables(const gravrd_figure2_options *opt, char ***names, size_t *n,
                                       gravrd_error *err);

/* One panel as an SVG file: the bin means of both groups (partnership pairs:
 * blue circles, other pairs: red squares) and each group's fit with its
 * band over the group's range. title NULL = the panel label. */
gravrd_status gravrd_figure2_svg(const gravrd_figure2 *f, size_t panel, const char *title, const char *path,
                                 gravrd_error *err);

/* ---- everything into a folder ---- */

typedef struct {
    int figure1;                      /* default 1 */
    int figure2;                      /* default 1 */
    gravrd_figure2_options figure2_opt;
    int rd_plots;                     /* default 1: local linear RD plots (gravrd_rd_study, exporter
                                       * side, default FE, plotted at the MSE-optimal bandwidth) of
                                       * rd_outcome in the three samples */
    const char *rd_outcome;           /* NULL = the Figure 2 outcome */
    int threads;                      /* 0 = 1; used where figure2_opt.threads is 0 */
} gravrd_report_figures_options;

void gravrd_report_figures_options_init(gravrd_report_figures_options *opt);

/* Writes into out_dir (which must exist): figure1.svg; figure2a.svg,
 * figure2b.svg, figure2c.svg (one per panel: a, b, c, ...); rd_all.svg,
 * rd_e2w.svg, rd_w2e.svg; and figures.json:
 *
 *   {"figures": [{"id": "figure2a", "file": "figure2a.svg", "group": "Figure 2",
 *                 "title": "...", "caption": "...", "numbers": {...}}, ...],
 *    "warnings": ["..."]}
 *
 * flows: the flows as read (exp_city, imp_city, month and the outcome's
 * columns); the study frame is built here with only the columns needed.
 * An RD plot that cannot be made (e.g. too few comparisons) is left out
 * with a warning in figures.json; any other failure is an error. */
gravrd_status gravrd_report_figures(const gravrd_study *study, const gravrd_frame *flows, const char *out_dir,
                                    const gravrd_report_figures_options *opt, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
