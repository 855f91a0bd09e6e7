/* gravrd/rd.h - local polynomial regression discontinuity (RD) estimation:
 * the one-sided local polynomial fit, the conventional and the robust
 * bias-corrected estimates at given bandwidths, the MSE-optimal bandwidth
 * ("mserd", in the spirit of rdrobust: Calonico, Cattaneo and Titiunik
 * 2014; Calonico, Cattaneo and Farrell 2020) and binned means for RD plots.
 * Standard errors are cluster-robust (CR1) when clusters are given,
 * heteroskedasticity-robust (HC1) otherwise. See docs/spatial.md ("Local
 * linear RD") for the formulas and where they differ from rdrobust.
 *
 * The spatial RD sample of the paper's Appendix D.2 (running variable =
 * signed distance between a treated pair's city and a neighbouring city),
 * the study-level pipeline (`gravrd rd`), its report and its SVG plot are
 * declared at the end. */
#ifndef GRAVRD_RD_H
#define GRAVRD_RD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gravrd/data.h"
#include "gravrd/error.h"
#include "gravrd/match.h"
#include "gravrd/report.h"
#include "gravrd/study.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest polynomial order of a fit (the bandwidth selector fits order
 * q + 2, so q <= 2 and p <= 1 by default leave room). */
#define GRAVRD_RD_MAX_ORDER 4

typedef enum { GRAVRD_KERNEL_TRIANGULAR = 0, GRAVRD_KERNEL_EPANECHNIKOV, GRAVRD_KERNEL_UNIFORM } gravrd_kernel;

/* K(u): triangular 1-|u|, Epanechnikov 0.75(1-u^2), uniform 0.5, for
 * |u| <= 1 (0 outside). As in rdrobust, an observation enters a fit only if
 * its weight is positive (so |u| = 1 drops out with the triangular kernel). */
double gravrd_kernel_weight(gravrd_kernel kernel, double u);

/* "triangular"/"tri", "epanechnikov"/"epa", "uniform"/"uni". */
gravrd_status gravrd_kernel_parse(const char *name, gravrd_kernel *out, gravrd_error *err);
const char *gravrd_kernel_name(gravrd_kernel kernel);

/* The data of an RD: treated side x >= cutoff ("right"), control side
 * x < cutoff ("left"). */
typedef struct {
    size_t n;
    const double *x_N;          /* running variable, finite */
    const double *y_N;          /* outcome, finite */
    const double *weight_N;     /* weights >= 0 multiplying the kernel (NULL = 1): e.g. the
                                 * number of months behind a pair mean */
    const int32_t *cluster_N;   /* cluster codes 0..n_clusters-1 (NULL = no clusters: HC1) */
    int32_t n_clusters;
    double cutoff;
} gravrd_rd_data;

/* A weighted polynomial fit of y on (x - cutoff)^j, j = 0..p, on one side,
 * with weights K((x - cutoff)/h) * weight. */
typedef struct {
    int p;
    double h;
    double beta[GRAVRD_RD_MAX_ORDER + 1];  /* coefficients on (x - cutoff)^j */
    double vcov[(GRAVRD_RD_MAX_ORDER + 1) * (GRAVRD_RD_MAX_ORDER + 1)]; /* row-major, CR1 / HC1 */
    size_t n;                              /* observations with positive weight */
    size_t n_clusters;                     /* clusters among them (n when not clustered) */
} gravrd_locpoly_fit;

/* side: +1 = treated side (x >= cutoff), -1 = control side (x < cutoff).
 * Errors: GRAVRD_ERR_INVALID for bad arguments, GRAVRD_ERR_EMPTY when fewer
 * than p + 1 distinct x have positive weight. */
gravrd_status gravrd_locpoly(const gravrd_rd_data *d, int side, int p, double h, gravrd_kernel kernel,
                             gravrd_locpoly_fit *out, gravrd_error *err);

typedef struct {
    int p;               /* order of the main fit (default 1: local linear) */
    int q;               /* order of the bias-correction fit (default p + 1) */
    gravrd_kernel kernel;/* default triangular */
    double level;        /* confidence level in percent (default 95) */
    int bwcheck;         /* bandwidths chosen by the selector keep at least this many
                          * distinct x on each side (default 10; 0 = no floor) */
} gravrd_rd_options;

void gravrd_rd_options_init(gravrd_rd_options *opt);

typedef struct {
    double h, b;                          /* main and bias-correction bandwidths */
    /* conventional: intercept difference of the two order-p fits at h */
    double estimate, se, z, p_value, ci_lo, ci_hi;
    /* robust bias-corrected: estimate minus the estimated leading bias
     * (order-q fits at b), with the variance that accounts for it */
    double estimate_bc, se_robust, z_robust, p_robust, ci_lo_robust, ci_hi_robust;
    gravrd_locpoly_fit left, right;       /* the order-p fits at h */
    size_t n_left_b, n_right_b;           /* observations with positive weight at b */
} gravrd_rd_estimate;

/* Estimates at bandwidth h (and bias bandwidth b; b <= 0 means b = h, as
 * rdrobust does when h is given). */
gravrd_status gravrd_rd_estimate_at(const gravrd_rd_data *d, const gravrd_rd_options *opt, double h, double b,
                                    gravrd_rd_estimate *out, gravrd_error *err);

typedef struct {
    double h, b;         /* MSE-optimal common bandwidth and bias-correction bandwidth */
    double c_pilot;      /* pilot bandwidth of the variance terms */
    double d_pilot;      /* pilot bandwidth of the order q+1 derivative */
    double bw_max;       /* largest distance from the cutoff: upper limit of every bandwidth */
    double bw_min;       /* floor keeping opt->bwcheck distinct x on each side */
    size_t n_unique;     /* distinct values of x (mass points) */
    /* the terms of the final step: h = (V / (B^2 + R))^(1/(2p+3)) */
    double V, B, R;
} gravrd_rd_bandwidth;

/* The MSE-optimal common bandwidth ("mserd"): pilot c = C_K min(sd, IQR/1.349)
 * M^(-1/5) (M distinct x), then d (derivative of order q+1), then b, then
 * h, each from estimated variance and bias constants with the
 * regularisation term. Needs at least 5 distinct x on each side. */
gravrd_status gravrd_rd_bwselect(const gravrd_rd_data *d, const gravrd_rd_options *opt, gravrd_rd_bandwidth *out,
                                 gravrd_error *err);

typedef struct {
    double x_lo, x_hi;   /* bin edges */
    double x_mean;       /* weighted mean of x in the bin */
    double y_mean;       /* weighted mean of y */
    double y_se;         /* its cluster-robust standard error (NaN with one cluster) */
    double weight;       /* sum of weights */
    size_t n;            /* observations */
} gravrd_rd_bin;

/* Evenly spaced bins: n_bins on [lo, cutoff) and n_bins on [cutoff, hi]
 * (lo < cutoff < hi); empty bins are left out. *out is malloc'ed. */
gravrd_status gravrd_rd_bins(const gravrd_rd_data *d, double lo, double hi, int n_bins, gravrd_rd_bin **out,
                             size_t *n_out, gravrd_error *err);


/* ---- the spatial RD sample (our version of the paper's Appendix D.2) ----
 *
 * For each treated directed pair ij (i exporter, j importer) and each city
 * k != i within radius_km of i (in i's province unless geo->group_C is
 * NULL) such that kj is a listed, untreated pair: one comparison, two
 * observations: the treated pair ij at x = +distance(i, k) and the control
 * pair kj at x = -distance(i, k) (exporter side). The importer side is the
 * mirror: cities l near j, the treated ij at +distance(j, l) and the
 * control il at -distance(j, l). A pair appears once per comparison it is
 * part of; standard errors are clustered by pair. */

typedef enum {
    GRAVRD_RD_SIDE_EXPORTER = 1,   /* neighbours of the exporter i: controls kj */
    GRAVRD_RD_SIDE_IMPORTER = 2,   /* neighbours of the importer j: controls il */
    GRAVRD_RD_SIDE_BOTH = 3
} gravrd_rd_side;

/* "exporter", "importer", "both". */
gravrd_status gravrd_rd_side_parse(const char *name, gravrd_rd_side *out, gravrd_error *err);
const char *gravrd_rd_side_name(gravrd_rd_side side);

typedef struct {
    size_t n;                      /* observations, two per comparison */
    double *x_N;                   /* +distance for the treated pair, -distance for the control */
    int32_t *pair_N;               /* index into the pair list */
    int32_t *treated_pair_N;       /* the treated pair of the comparison */
    int32_t *neighbour_N;          /* the neighbouring city (k or l) */
    uint8_t *importer_side_N;      /* 0 exporter-side comparison, 1 importer-side */
    size_t n_treated;              /* treated pairs in the list */
    size_t n_treated_used;         /* treated pairs with at least one comparison */
} gravrd_rd_sample;

/* Comparisons are ordered by treated pair (pair-list order), exporter side
 * first, neighbours in city-index order; the treated observation precedes
 * its control. Errors as gravrd_match_build; radius_km must be > 0. */
gravrd_status gravrd_rd_sample_build(const gravrd_geo *geo, const gravrd_pair_list *pairs, double radius_km,
                                     gravrd_rd_side side, gravrd_rd_sample **out, gravrd_error *err);
void gravrd_rd_sample_free(gravrd_rd_sample *s);

/* ---- the whole design on a study (`gravrd rd`) ---- */

#define GRAVRD_RD_DEFAULT_RADIUS_KM 300.0
#define GRAVRD_RD_DEFAULT_FE "exp_city^month + imp_city^month"

typedef struct {
    const char *outcome;           /* expression on the frame, e.g. "log1p(trade)" (required) */
    const char *subset;            /* rows where this expression is true, e.g. "w2e"; NULL = all */
    const char *fixed_effects;     /* the outcome is residualised on these (fixest FE syntax);
                                    * NULL = GRAVRD_RD_DEFAULT_FE, "" = not residualised */
    gravrd_rd_side side;           /* default both (see docs/spatial.md) */
    int cross_province;            /* 1: neighbours in any province */
    double radius_km;              /* neighbours up to this distance enter the sample
                                    * (0 = GRAVRD_RD_DEFAULT_RADIUS_KM) */
    const double *bandwidths_km;   /* estimates at these bandwidths (b = h) */
    size_t n_bandwidths;
    int select_bandwidth;          /* 1: also the MSE-optimal h and the robust CI at (h, b) */
    gravrd_rd_options rd;          /* orders, kernel, level, bwcheck */
    double tol;                    /* demeaning tolerance (0 = default) */
    int max_iter;                  /* 0 = default */
    int threads;                   /* 0 = 1 */
    const gravrd_eval_env *env;    /* functions for the expressions (env->frame ignored); may be NULL */
} gravrd_rd_study_options;

void gravrd_rd_study_options_init(gravrd_rd_study_options *opt);

typedef struct {
    char *outcome;                 /* deparsed outcome */
    char *subset;                  /* deparsed subset or NULL */
    char *fixed_effects;           /* "" when not residualised */
    gravrd_rd_side side;
    int cross_province;
    double radius_km;
    gravrd_rd_options rd;
    size_t n_rows;                 /* frame rows used (subset, finite outcome, FE, no singletons) */
    size_t n_dropped_missing;      /* in the subset, dropped for a missing or non-finite value */
    size_t n_dropped_singletons;
    int demean_iterations;
    size_t n_pairs;                /* directed pairs with at least one row */
    size_t n_treated, n_treated_used;
    size_t n_obs;                  /* RD observations: two per comparison */
    size_t n_clusters;             /* distinct pairs among them */
    size_t n_bandwidths;
    gravrd_rd_estimate *by_bandwidth; /* estimates at opt->bandwidths_km; all NaN where a
                                       * bandwidth has too few observations (see warnings) */
    int has_optimal;
    gravrd_rd_bandwidth optimal_bw;
    gravrd_rd_estimate optimal;
    int n_warnings;
    char **warnings;
    /* the RD data (one row per observation), e.g. for plots */
    double *x_N, *y_N, *w_N;       /* running variable; mean residual of the pair; its rows (months) */
    int32_t *cluster_N;            /* pair, 0..n_clusters-1 */
    gravrd_rd_data data;           /* the arrays above, cutoff 0 */
} gravrd_rd_result;

/* Residualises the outcome on the fixed effects over the rows in the
 * subset (dropping missing values and singletons), averages the residuals
 * of each directed pair over its rows, builds the spatial RD sample from
 * the study's geography and partnerships (pairs come from the frame's
 * exp_city and imp_city), and estimates at each bandwidth and, when asked,
 * at the MSE-optimal one. frame: a study frame (gravrd_study_frame) holding
 * the variables the expressions use. */
gravrd_status gravrd_rd_study(const gravrd_study *study, const gravrd_frame *frame, const gravrd_rd_study_options *opt,
                              gravrd_rd_result **out, gravrd_error *err);
void gravrd_rd_result_free(gravrd_rd_result *r);

/* Writes the results: text (a table by bandwidth, then the MSE-optimal
 * bandwidth), json (one object) or csv (one row per bandwidth, the
 * MSE-optimal last). Other formats are GRAVRD_ERR_INVALID. */
gravrd_status gravrd_report_rd(FILE *out, const gravrd_rd_result *r, gravrd_format format, gravrd_error *err);

typedef struct {
    double h;            /* bandwidth of the two fits (0 = the MSE-optimal one, else the largest) */
    double range_km;     /* plotted x range [-range, range] (0 = max(h, largest bandwidth)) */
    int n_bins;          /* bins per side (0 = 10) */
    const char *title;   /* NULL = a default naming outcome and sample */
} gravrd_rd_plot_options;

/* The RD plot as an SVG file: binned means of the residualised outcome
 * (weighted by rows) with 95% intervals, and the local polynomial fit on
 * each side at h with its pointwise 95% band. */
gravrd_status gravrd_rd_plot(const gravrd_rd_result *r, const gravrd_rd_plot_options *opt, const char *path,
                             gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
