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
 * signed distance between a treated pair's city and a neighbouring city)
 * and the study-level pipeline (`gravrd rd`) are declared at the end. */
#ifndef GRAVRD_RD_H
#define GRAVRD_RD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gravrd/data.h"
#include "gravrd/error.h"
#include "gravrd/report.h"

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

#ifdef __cplusplus
}
#endif
#endif
