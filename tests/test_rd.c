/* test_rd.c - the local polynomial RD against weighted least squares solved
 * directly (normal equations by Gaussian elimination, cluster sums by
 * brute force), the bias correction against its closed form, invariances
 * of the bandwidth selector, binned means, and bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gravrd/data.h"
#include "gravrd/rd.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"
#include "support/clirun.h"
#include "support/testutil.h"
#include "support/xmlcheck.h"

#define TOL 1e-10

static void assert_close(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * (1 + fabs(want))))
        fail_msg("got %.15g, want %.15g", got, want);
}

/* ---- direct weighted least squares (test-side reference) ---- */

/* Solves A z = r (k x k, row-major) by Gaussian elimination with partial
 * pivoting; A and r are destroyed. */
static void gauss_solve(double *A, double *r, int k)
{
    for (int c = 0; c < k; c++) {
        int piv = c;
        for (int i = c + 1; i < k; i++)
            if (fabs(A[i * k + c]) > fabs(A[piv * k + c]))
                piv = i;
        for (int j = 0; j < k; j++) {
            double t = A[c * k + j];
            A[c * k + j] = A[piv * k + j];
            A[piv * k + j] = t;
        }
        double t = r[c];
        r[c] = r[piv];
        r[piv] = t;
        for (int i = c + 1; i < k; i++) {
            double f = A[i * k + c] / A[c * k + c];
            for (int j = c; j < k; j++)
                A[i * k + j] -= f * A[c * k + j];
            r[i] -= f * r[c];
        }
    }
    for (int c = k - 1; c >= 0; c--) {
        for (int j = c + 1; j < k; j++)
            r[c] -= A[c * k + j] * r[j];
        r[c] /= A[c * k + c];
    }
}

/* Inverse of a k x k matrix column by column. */
static void invert(const double *A, double *Ainv, int k)
{
    for (int col = 0; col < k; col++) {
        double M[16], e[4] = {0};
        memcpy(M, A, sizeof(double) * (size_t)(k * k));
        e[col] = 1;
        gauss_solve(M, e, k);
        for (int i = 0; i < k; i++)
            Ainv[i * k + col] = e[i];
    }
}

typedef struct {
    double beta[4];
    double V[16];   /* CR1 (clusters) or HC1 */
    double Ginv[16];
    int n;
} direct_fit;

/* WLS of y on (x-c)^j, j < k, over side with triangular weights at h times
 * w; CR1 variance with explicit cluster sums. */
static void direct_wls(int n, const double *x, const double *y, const double *w, const int32_t *cl, double c,
                       int side, double h, int k, direct_fit *out)
{
    double A[16] = {0}, r[4] = {0};
    int m = 0;
    for (int i = 0; i < n; i++) {
        double dx = x[i] - c;
        if ((side > 0) != (dx >= 0))
            continue;
        double u = fabs(dx / h), wt = (u < 1 ? 1 - u : 0) * (w ? w[i] : 1);
        if (wt <= 0)
            continue;
        m++;
        for (int a = 0; a < k; a++) {
            r[a] += wt * pow(dx, a) * y[i];
            for (int b = 0; b < k; b++)
                A[a * k + b] += wt * pow(dx, a + b);
        }
    }
    invert(A, out->Ginv, k);
    for (int a = 0; a < k; a++) {
        out->beta[a] = 0;
        for (int b = 0; b < k; b++)
            out->beta[a] += out->Ginv[a * k + b] * r[b];
    }
    /* meat: clusters by brute force */
    double M[16] = {0};
    int G = 0, done[64] = {0};
    for (int i = 0; i < n; i++) {
        double dx = x[i] - c;
        if ((side > 0) != (dx >= 0) || done[i])
            continue;
        double ui = fabs(dx / h);
        if (ui >= 1 || (w && w[i] <= 0))
            continue;
        double s[4] = {0};
        for (int j = i; j < n; j++) {
            double dj = x[j] - c;
            if ((side > 0) != (dj >= 0) || done[j])
                continue;
            if (cl ? cl[j] != cl[i] : j != i)
                continue;
            double u = fabs(dj / h), wt = (u < 1 ? 1 - u : 0) * (w ? w[j] : 1);
            if (wt <= 0)
                continue;
            done[j] = 1;
            double fit = 0;
            for (int a = 0; a < k; a++)
                fit += out->beta[a] * pow(dj, a);
            for (int a = 0; a < k; a++)
                s[a] += pow(dj, a) * wt * (y[j] - fit);
        }
        G++;
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
                M[a * k + b] += s[a] * s[b];
    }
    double f = cl ? (m - 1.0) / (m - k) * G / (G - 1.0) : (double)m / (m - k);
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double v = 0;
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                    v += out->Ginv[a * k + i] * M[i * k + j] * out->Ginv[j * k + b];
            out->V[a * k + b] = f * v;
        }
    out->n = m;
}

/* A small hand-made example: 14 observations, 8 clusters, weights. */
enum { N_SMALL = 14 };
static const double XS[N_SMALL] = {-9.5, -8, -6.5, -5, -3.2, -2, -1, 0.5, 1.5, 3, 4.4, 6, 7.5, 9};
static const double YS[N_SMALL] = {0.2, 0.5, 0.1, 0.7, 0.4, 0.9, 0.6, 2.1, 1.7, 2.4, 2.0, 2.8, 2.2, 3.1};
static const double WS[N_SMALL] = {1, 2, 1, 1, 3, 1, 2, 1, 1, 2, 1, 1, 3, 1};
static const int32_t CS[N_SMALL] = {0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 5, 6, 7, 7};

static gravrd_rd_data small_data(int with_clusters, int with_weights)
{
    gravrd_rd_data d = {N_SMALL, XS, YS, with_weights ? WS : NULL, with_clusters ? CS : NULL, 8, 0.0};
    return d;
}

static void test_locpoly_equals_direct_wls(void **state)
{
    (void)state;
    gravrd_error err = {0};
    for (int variant = 0; variant < 4; variant++) {
        int cl = variant & 1, wt = (variant >> 1) & 1;
        gravrd_rd_data d = small_data(cl, wt);
        for (int side = -1; side <= 1; side += 2)
            for (int p = 1; p <= 2; p++) {
                double h = 8.7;
                gravrd_locpoly_fit fit;
                assert_int_equal(gravrd_locpoly(&d, side, p, h, GRAVRD_KERNEL_TRIANGULAR, &fit, &err), GRAVRD_OK);
                direct_fit ref;
                direct_wls(N_SMALL, XS, YS, wt ? WS : NULL, cl ? CS : NULL, 0.0, side, h, p + 1, &ref);
                assert_int_equal((int)fit.n, ref.n);
                for (int a = 0; a <= p; a++) {
                    assert_close(fit.beta[a], ref.beta[a], TOL);
                    for (int b = 0; b <= p; b++)
                        assert_close(fit.vcov[a * (p + 1) + b], ref.V[a * (p + 1) + b], 1e-9);
                }
            }
    }
}

static void test_estimate_is_difference_of_intercepts(void **state)
{
    (void)state;
    gravrd_error err = {0};
    gravrd_rd_data d = small_data(1, 1);
    gravrd_rd_options opt;
    gravrd_rd_options_init(&opt);
    gravrd_rd_estimate e;
    assert_int_equal(gravrd_rd_estimate_at(&d, &opt, 9.0, 0, &e, &err), GRAVRD_OK);
    direct_fit l, r;
    direct_wls(N_SMALL, XS, YS, WS, CS, 0.0, -1, 9.0, 2, &l);
    direct_wls(N_SMALL, XS, YS, WS, CS, 0.0, +1, 9.0, 2, &r);
    assert_close(e.estimate, r.beta[0] - l.beta[0], TOL);
    assert_close(e.se, sqrt(r.V[0] + l.V[0]), 1e-9);
    assert_close(e.ci_hi - e.ci_lo, 2 * 1.959963984540054 * e.se, 1e-9);
    /* with b = h the bias-corrected estimate is the local quadratic
     * intercept and its robust variance the quadratic fit's variance */
    direct_wls(N_SMALL, XS, YS, WS, CS, 0.0, -1, 9.0, 3, &l);
    direct_wls(N_SMALL, XS, YS, WS, CS, 0.0, +1, 9.0, 3, &r);
    assert_close(e.b, 9.0, 0);
    assert_close(e.estimate_bc, r.beta[0] - l.beta[0], 1e-9);
    assert_close(e.se_robust, sqrt(r.V[0] + l.V[0]), 1e-8);
}

/* tau_bc = tau - sum over sides of h^(p+1) [Ginv_p L]_0 beta_q[p+1], with
 * L = sum W_h (x-c)^j ((x-c)/h)^(p+1): the closed form of the bias
 * correction, computed here in raw units. */
static double bc_side(const double *x, const double *y, const double *w, int n, int side, double h, double b)
{
    direct_fit fp, fq;
    direct_wls(n, x, y, w, NULL, 0.0, side, h, 2, &fp);
    direct_wls(n, x, y, w, NULL, 0.0, side, b, 3, &fq);
    double L[2] = {0};
    for (int i = 0; i < n; i++) {
        double dx = x[i];
        if ((side > 0) != (dx >= 0))
            continue;
        double u = fabs(dx / h), wt = (u < 1 ? 1 - u : 0) * (w ? w[i] : 1);
        L[0] += wt * pow(dx / h, 2);
        L[1] += wt * dx * pow(dx / h, 2);
    }
    double c0 = fp.Ginv[0] * L[0] + fp.Ginv[1] * L[1];
    return fp.beta[0] - h * h * c0 * fq.beta[2];
}

static void test_bias_correction_closed_form(void **state)
{
    (void)state;
    gravrd_error err = {0};
    gravrd_rd_data d = small_data(0, 1);
    gravrd_rd_options opt;
    gravrd_rd_options_init(&opt);
    double hs[] = {6.0, 9.0, 8.0}, bs[] = {9.5, 6.5, 8.0};
    for (int t = 0; t < 3; t++) {
        gravrd_rd_estimate e;
        assert_int_equal(gravrd_rd_estimate_at(&d, &opt, hs[t], bs[t], &e, &err), GRAVRD_OK);
        double want = bc_side(XS, YS, WS, N_SMALL, +1, hs[t], bs[t]) - bc_side(XS, YS, WS, N_SMALL, -1, hs[t], bs[t]);
        assert_close(e.estimate_bc, want, 1e-9);
        assert_true(e.se_robust > 0 && isfinite(e.se_robust));
    }
}

static void test_exact_jump_recovered(void **state)
{
    (void)state;
    gravrd_error err = {0};
    double x[40], y[40];
    int32_t cl[40];
    for (int i = 0; i < 40; i++) {
        x[i] = -10 + 0.5 * i + 0.25;
        y[i] = 1 + 0.3 * x[i] + (x[i] >= 0 ? 2 : 0);
        cl[i] = i / 3;
    }
    gravrd_rd_data d = {40, x, y, NULL, cl, 14, 0.0};
    gravrd_rd_estimate e;
    assert_int_equal(gravrd_rd_estimate_at(&d, NULL, 7, 0, &e, &err), GRAVRD_OK);
    assert_close(e.estimate, 2, 1e-10);
    assert_close(e.estimate_bc, 2, 1e-10);
    assert_close(e.right.beta[1], 0.3, 1e-10);
    assert_true(e.se < 1e-10);
}

/* A pair-month panel collapsed to pair means with the months as weights
 * gives the same estimate and the same cluster scores. */
static void test_weights_equal_replicated_rows(void **state)
{
    (void)state;
    gravrd_error err = {0};
    double x2[2 * N_SMALL], y2[2 * N_SMALL];
    int32_t c2[2 * N_SMALL];
    for (int i = 0; i < N_SMALL; i++)
        for (int r = 0; r < 2; r++) {
            x2[2 * i + r] = XS[i];
            y2[2 * i + r] = YS[i] + (r ? 0.3 : -0.3); /* months around the pair mean */
            c2[2 * i + r] = CS[i];
        }
    double w2[N_SMALL];
    for (int i = 0; i < N_SMALL; i++)
        w2[i] = 2;
    gravrd_rd_data wide = {2 * N_SMALL, x2, y2, NULL, c2, 8, 0.0};
    gravrd_rd_data mean = {N_SMALL, XS, YS, w2, CS, 8, 0.0};
    gravrd_rd_estimate a, b;
    assert_int_equal(gravrd_rd_estimate_at(&wide, NULL, 9.0, 0, &a, &err), GRAVRD_OK);
    assert_int_equal(gravrd_rd_estimate_at(&mean, NULL, 9.0, 0, &b, &err), GRAVRD_OK);
    assert_close(a.estimate, b.estimate, 1e-12);
    assert_close(a.estimate_bc, b.estimate_bc, 1e-12);
    /* the CR1 factors differ only through (n-1)/(n-k) */
    double na = (double)(a.left.n), nb = (double)(b.left.n);
    double ratio_l = ((na - 1) / (na - 2)) / ((nb - 1) / (nb - 2));
    assert_close(a.left.vcov[0], b.left.vcov[0] * ratio_l, 1e-9);
}

/* Deterministic pseudo-random numbers for the selector tests. */
static double lcg_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
}

static double lcg_normal(uint64_t *s)
{
    double u1 = lcg_uniform(s), u2 = lcg_uniform(s);
    return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

enum { N_SIM = 600 };

static void simulate(double *x, double *y, int32_t *cl, double curvature, double xscale, double yscale)
{
    uint64_t s = 42;
    for (int i = 0; i < N_SIM; i++) {
        double u = 2 * lcg_uniform(&s) - 1;
        x[i] = xscale * u;
        y[i] = yscale * (0.5 * (u >= 0) + 0.4 * u + curvature * u * u * u + 0.3 * lcg_normal(&s));
        cl[i] = i / 2;
    }
}

static void test_bandwidth_selector(void **state)
{
    (void)state;
    gravrd_error err = {0};
    static double x[N_SIM], y[N_SIM], x2[N_SIM], y2[N_SIM];
    static int32_t cl[N_SIM];
    gravrd_rd_options opt;
    gravrd_rd_options_init(&opt);

    simulate(x, y, cl, 1.0, 1.0, 1.0);
    gravrd_rd_data d = {N_SIM, x, y, NULL, cl, N_SIM / 2, 0.0};
    gravrd_rd_bandwidth bw;
    assert_int_equal(gravrd_rd_bwselect(&d, &opt, &bw, &err), GRAVRD_OK);
    assert_true(bw.h > bw.bw_min && bw.h <= bw.bw_max);
    assert_true(bw.b > 0 && bw.b <= bw.bw_max);
    assert_true(bw.c_pilot > 0 && bw.d_pilot > 0);
    assert_int_equal((int)bw.n_unique, N_SIM);
    gravrd_rd_estimate e;
    assert_int_equal(gravrd_rd_estimate_at(&d, &opt, bw.h, bw.b, &e, &err), GRAVRD_OK);
    assert_true(e.ci_lo_robust < 0.5 && 0.5 < e.ci_hi_robust);
    assert_true(e.se_robust > e.se);

    /* units: x in other units scales every bandwidth; y scale leaves them */
    simulate(x2, y2, cl, 1.0, 100.0, 1.0);
    gravrd_rd_data d2 = {N_SIM, x2, y2, NULL, cl, N_SIM / 2, 0.0};
    gravrd_rd_bandwidth bw2;
    assert_int_equal(gravrd_rd_bwselect(&d2, &opt, &bw2, &err), GRAVRD_OK);
    assert_close(bw2.h, 100 * bw.h, 1e-6);
    assert_close(bw2.b, 100 * bw.b, 1e-6);
    simulate(x2, y2, cl, 1.0, 1.0, 7.0);
    assert_int_equal(gravrd_rd_bwselect(&d2, &opt, &bw2, &err), GRAVRD_OK);
    assert_close(bw2.h, bw.h, 1e-6);

    /* more curvature, smaller bandwidth */
    simulate(x2, y2, cl, 6.0, 1.0, 1.0);
    assert_int_equal(gravrd_rd_bwselect(&d2, &opt, &bw2, &err), GRAVRD_OK);
    assert_true(bw2.h < bw.h);

    /* too few distinct values */
    gravrd_rd_data tiny = {8, x, y, NULL, NULL, 0, 0.0};
    assert_int_equal(gravrd_rd_bwselect(&tiny, &opt, &bw, &err), GRAVRD_ERR_EMPTY);
}

/* the rdrobust reference case: 500 observations, 120 clusters, weights, mass points */
enum { N_REF = 500, G_REF = 120 };
static void rdrobust_case(double *x, double *y, double *w, int32_t *cl)
{
    uint64_t s = 2024;
    double ce[G_REF];
    for (int g = 0; g < G_REF; g++)
        ce[g] = 0.3 * lcg_normal(&s);
    for (int i = 0; i < N_REF; i++) {
        double u = 2 * lcg_uniform(&s) - 1;
        x[i] = round(u * 1200) / 10;
        cl[i] = (int32_t)(lcg_uniform(&s) * G_REF);
        w[i] = 1 + floor(lcg_uniform(&s) * 12);
        y[i] = 0.3 * (x[i] >= 0) + 0.002 * x[i] + 0.3 * (x[i] / 100) * (x[i] / 100) + ce[cl[i]] + 0.5 * lcg_normal(&s);
    }
}

/* Reference values from rdrobust (Python package, rdpackages/rdrobust at
 * commit 34aac07) on the data above, run once by hand:
 *   rdrobust(y, x, cluster=cl, weights=w)               # mserd, CR1
 *   rdrobust(y, x, cluster=cl, weights=w, h=50)
 *   rdrobust(y, x, cluster=cl, weights=w, h=60, b=40)
 * (default p = 1, q = 2, triangular kernel, masspoints "adjust"). */
static void test_matches_rdrobust(void **state)
{
    (void)state;
    static double x[N_REF], y[N_REF], w[N_REF];
    static int32_t cl[N_REF];
    rdrobust_case(x, y, w, cl);
    gravrd_rd_data d = {N_REF, x, y, w, cl, G_REF, 0.0};
    gravrd_rd_options opt;
    gravrd_rd_options_init(&opt);
    opt.bwcheck = 0; /* rdrobust applies no floor when fewer than 20% of x are repeated */
    gravrd_error err = {0};
    gravrd_rd_bandwidth bw;
    assert_int_equal(gravrd_rd_bwselect(&d, &opt, &bw, &err), GRAVRD_OK);
    assert_close(bw.h, 32.8744225296891, 1e-9);
    assert_close(bw.b, 60.8034741178401, 1e-9);
    static const struct {
        double h, b, tau, se, bc, se_rb;
        size_t nl, nr;
    } ref[] = {
        {32.8744225296891, 60.8034741178401, -0.235846169858571, 0.175413107746327, -0.299633416326571,
         0.203047281620574, 61, 75},
        {50, 50, -0.0621812400525515, 0.151560456530552, -0.36338087871612, 0.205149197865633, 98, 105},
        {60, 40, -0.0260713931143138, 0.146599307405748, -0.946637105623617, 0.299788811967704, 118, 121},
    };
    for (size_t t = 0; t < sizeof ref / sizeof ref[0]; t++) {
        gravrd_rd_estimate e;
        assert_int_equal(gravrd_rd_estimate_at(&d, &opt, ref[t].h, ref[t].b, &e, &err), GRAVRD_OK);
        assert_close(e.estimate, ref[t].tau, 1e-9);
        assert_close(e.se, ref[t].se, 1e-9);
        assert_close(e.estimate_bc, ref[t].bc, 1e-9);
        assert_close(e.se_robust, ref[t].se_rb, 1e-9);
        assert_int_equal((int)e.left.n, (int)ref[t].nl);
        assert_int_equal((int)e.right.n, (int)ref[t].nr);
    }
}

static void test_bins(void **state)
{
    (void)state;
    gravrd_error err = {0};
    double x[] = {-3.5, -3, -1.5, -0.5, 0, 0.2, 1.5, 2.5, 9};
    double y[] = {1, 3, 2, 4, 5, 7, 6, 8, 100};
    double w[] = {1, 1, 1, 3, 1, 1, 1, 1, 1};
    gravrd_rd_data d = {9, x, y, w, NULL, 0, 0.0};
    gravrd_rd_bin *bins = NULL;
    size_t n = 0;
    assert_int_equal(gravrd_rd_bins(&d, -4, 4, 2, &bins, &n, &err), GRAVRD_OK);
    assert_int_equal((int)n, 4);
    assert_close(bins[0].x_lo, -4, 0);
    assert_close(bins[0].x_hi, -2, 1e-15);
    assert_close(bins[0].y_mean, 2, 1e-15);
    assert_int_equal((int)bins[1].n, 2);
    assert_close(bins[1].y_mean, (2 + 12) / 4.0, 1e-15);
    assert_close(bins[1].x_mean, (-1.5 - 1.5) / 4.0, 1e-15);
    assert_close(bins[2].y_mean, 6, 1e-15); /* 0, 0.2, 1.5: cutoff goes right */
    assert_close(bins[3].y_mean, 8, 1e-15); /* 9 is outside [.., 4] */
    assert_true(isnan(bins[3].y_se));
    /* two observations: se of the mean sqrt(2/1 * sum (w e)^2)/sum w */
    assert_close(bins[0].y_se, sqrt(2.0 * (1 + 1)) / 2, 1e-15);
    free(bins);
    assert_int_equal(gravrd_rd_bins(&d, 1, 4, 2, &bins, &n, &err), GRAVRD_ERR_INVALID);
}


/* ---- the spatial RD sample and the study pipeline ---- */

/* A hand-built study. East, province A: the treated city E0 at (30, 110) and
 * twelve cities due north of it at known distances (a meridian arc of
 * d / R radians is exactly d km); east, province B: EB 20 km east of E0
 * (never a neighbour). West, province C: W0 at (30, 100), partner of E0;
 * W1 and W2 due north of W0 at 40 and 80 km; WF far away (35, 95). */
enum { N_NEAR = 12 };
static const double D_NEAR[N_NEAR] = {12, 25, 33, 41, 55, 62, 78, 85, 99, 110, 130, 150};
static const double D_WEST[2] = {40, 80};
#define TAU 0.25

static double lat_north(double lat0, double km)
{
    return lat0 + km / GRAVRD_EARTH_RADIUS_KM * 180 / 3.14159265358979323846;
}

/* ids: E0 = 1, near cities 2..13, EB = 14, W0 = 21, W1 = 22, W2 = 23, WF = 24 */
static char *write_rd_study(void)
{
    char *dir = testutil_tempdir();
    assert_non_null(dir);
    static char buf[1 << 16];
    int len = snprintf(buf, sizeof buf, "city_id,province_en,region,lat,lng\n1,A,east,30,110\n");
    for (int k = 0; k < N_NEAR; k++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%d,A,east,%.12f,110\n", k + 2, lat_north(30, D_NEAR[k]));
    len += snprintf(buf + len, sizeof buf - (size_t)len, "14,B,east,30,110.2\n21,C,west,30,100\n");
    for (int l = 0; l < 2; l++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%d,C,west,%.12f,100\n", 22 + l, lat_north(30, D_WEST[l]));
    snprintf(buf + len, sizeof buf - (size_t)len, "24,C,west,35,95\n");
    free(testutil_write_temp(dir, "cities.csv", buf));
    free(testutil_write_temp(dir, "partnerships.csv", "east_city,west_city\n1,21\n"));
    /* y: E0 -> W0 is 1 + TAU; controls Ek -> W0 are 1 + 0.002 d(E0, Ek) and
     * E0 -> Wl are 1 + 0.002 d(W0, Wl) (exactly linear on the control
     * side); everything else 3. Two months, +-0.1 around the pair value. */
    len = snprintf(buf, sizeof buf, "exp_city,imp_city,month,y\n");
    int east[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}, west[] = {21, 22, 23, 24};
    for (int dir2 = 0; dir2 < 2; dir2++)
        for (int a = 0; a < 14; a++)
            for (int b = 0; b < 4; b++) {
                int e = east[a], w = west[b];
                double v = 3;
                if (dir2 == 0 && e == 1 && w == 21)
                    v = 1 + TAU;
                else if (dir2 == 0 && w == 21 && e >= 2 && e <= 13)
                    v = 1 + 0.002 * D_NEAR[e - 2];
                else if (dir2 == 0 && e == 1 && (w == 22 || w == 23))
                    v = 1 + 0.002 * D_WEST[w - 22];
                for (int m = 1; m <= 2; m++)
                    len += snprintf(buf + len, sizeof buf - (size_t)len, "%d,%d,2017-0%d,%.6f\n", dir2 ? w : e,
                                    dir2 ? e : w, m, v + (m == 1 ? -0.1 : 0.1));
            }
    free(testutil_write_temp(dir, "flows.csv", buf));
    return dir;
}

static void test_spatial_rd_sample(void **state)
{
    (void)state;
    char *dir = write_rd_study();
    gravrd_error err = {0};
    gravrd_study *study = NULL;
    assert_int_equal(gravrd_study_load(dir, 100, &study, &err), GRAVRD_OK);
    gravrd_study_geo g;
    gravrd_study_geography(study, &g);
    /* pairs: every east-west pair, e2w */
    int32_t exp[64], imp[64];
    uint8_t tr[64];
    size_t np = 0;
    for (size_t i = 0; i < g.n; i++)
        for (size_t j = 0; j < g.n; j++)
            if (g.west_N[i] == 0 && g.west_N[j] == 1) {
                exp[np] = (int32_t)i;
                imp[np] = (int32_t)j;
                tr[np++] = (uint8_t)gravrd_study_partners(study, i, j);
            }
    assert_int_equal((int)np, 14 * 4);
    gravrd_geo geo = {g.n, g.lat_N, g.lng_N, g.province_N};
    gravrd_pair_list pl = {np, exp, imp, tr};
    gravrd_rd_sample *s = NULL;
    assert_int_equal(gravrd_rd_sample_build(&geo, &pl, 100, GRAVRD_RD_SIDE_EXPORTER, &s, &err), GRAVRD_OK);
    /* neighbours of E0 within 100 km in province A: 9 (EB is in province B) */
    assert_int_equal((int)s->n, 2 * 9);
    assert_int_equal((int)s->n_treated, 1);
    assert_int_equal((int)s->n_treated_used, 1);
    for (size_t k = 0; k < s->n; k += 2) {
        assert_close(s->x_N[k], D_NEAR[k / 2], 1e-6);
        assert_close(s->x_N[k + 1], -D_NEAR[k / 2], 1e-6);
        assert_int_equal(s->pair_N[k], s->treated_pair_N[k]);
        assert_true(tr[s->pair_N[k]] && !tr[s->pair_N[k + 1]]);
        /* the control is Ek -> W0: same importer */
        assert_int_equal(imp[s->pair_N[k + 1]], imp[s->pair_N[k]]);
        assert_int_equal(exp[s->pair_N[k + 1]], s->neighbour_N[k]);
    }
    gravrd_rd_sample_free(s);
    assert_int_equal(gravrd_rd_sample_build(&geo, &pl, 100, GRAVRD_RD_SIDE_IMPORTER, &s, &err), GRAVRD_OK);
    assert_int_equal((int)s->n, 2 * 2); /* W1 and W2; WF is 600 km away */
    assert_int_equal(exp[s->pair_N[1]], exp[s->pair_N[0]]);
    assert_int_equal(s->importer_side_N[0], 1);
    gravrd_rd_sample_free(s);
    geo.group_C = NULL; /* across provinces EB (20 km) joins */
    assert_int_equal(gravrd_rd_sample_build(&geo, &pl, 100, GRAVRD_RD_SIDE_BOTH, &s, &err), GRAVRD_OK);
    assert_int_equal((int)s->n, 2 * (9 + 1 + 2));
    gravrd_rd_sample_free(s);
    assert_int_equal(gravrd_rd_sample_build(&geo, &pl, 0, GRAVRD_RD_SIDE_BOTH, &s, &err), GRAVRD_ERR_INVALID);
    gravrd_study_free(study);
    testutil_rmdir(dir);
}

static void test_spatial_rd_pipeline(void **state)
{
    (void)state;
    char *dir = write_rd_study();
    gravrd_error err = {0};
    gravrd_study *study = NULL;
    assert_int_equal(gravrd_study_load(dir, 100, &study, &err), GRAVRD_OK);
    char *path = testutil_path(dir, "flows.csv");
    gravrd_frame *flows = NULL, *frame = NULL;
    assert_int_equal(gravrd_csv_read(path, NULL, &flows, &err), GRAVRD_OK);
    const char *names[] = {"y", "e2w", "month"};
    assert_int_equal(gravrd_study_frame(study, flows, names, 3, &frame, &err), GRAVRD_OK);
    gravrd_rd_study_options opt;
    gravrd_rd_study_options_init(&opt);
    double bws[] = {60, 100, 200, 20};
    opt.outcome = "y";
    opt.subset = "e2w";
    opt.fixed_effects = "";
    opt.bandwidths_km = bws;
    opt.n_bandwidths = 4;
    opt.side = GRAVRD_RD_SIDE_BOTH;
    gravrd_rd_result *r = NULL;
    assert_int_equal(gravrd_rd_study(study, frame, &opt, &r, &err), GRAVRD_OK);
    assert_int_equal((int)r->n_rows, 14 * 4 * 2);
    assert_int_equal((int)r->n_treated, 1);
    assert_int_equal((int)r->n_obs, 2 * (N_NEAR + 2));
    assert_int_equal((int)r->n_clusters, 1 + N_NEAR + 2);
    /* the control side is exactly linear in the distance and the treated
     * side constant: every bandwidth recovers TAU */
    for (int b = 0; b < 3; b++) {
        assert_close(r->by_bandwidth[b].estimate, TAU, 1e-9);
        assert_close(r->by_bandwidth[b].estimate_bc, TAU, 1e-9);
    }
    /* within 60 km: 12, 25, 33, 41, 55 and 40 (W1) on each side */
    assert_int_equal((int)r->by_bandwidth[0].left.n, 6);
    assert_int_equal((int)r->by_bandwidth[0].right.n, 6);
    /* the pair means carry the two months as weights */
    assert_close(r->w_N[0], 2, 0);
    /* 20 km leaves one observation a side: no estimate, a note */
    assert_true(isnan(r->by_bandwidth[3].estimate));
    assert_true(r->n_warnings >= 1);
    assert_non_null(strstr(r->warnings[0], "h = 20 km"));

    /* the report in every format, and the plot as well-formed SVG */
    for (int f = 0; f < 3; f++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        gravrd_format fmt = f == 0 ? GRAVRD_FORMAT_TEXT : f == 1 ? GRAVRD_FORMAT_JSON : GRAVRD_FORMAT_CSV;
        assert_int_equal(gravrd_report_rd(mem, r, fmt, &err), GRAVRD_OK);
        fclose(mem);
        assert_true(len > 100);
        if (f == 1)
            assert_non_null(strstr(buf, "\"estimate\":0.25"));
        free(buf);
    }
    assert_int_equal(gravrd_report_rd(stdout, r, GRAVRD_FORMAT_LATEX, &err), GRAVRD_ERR_INVALID);
    char *svg = testutil_path(dir, "rd.svg");
    gravrd_rd_plot_options popt = {100, 0, 5, NULL};
    assert_int_equal(gravrd_rd_plot(r, &popt, svg, &err), GRAVRD_OK);
    char *doc = testutil_read_file(svg, NULL);
    assert_non_null(doc);
    xml_check x;
    int ok = xml_well_formed(doc, &x);
    if (!ok)
        print_error("XML error: %s\n", x.error);
    assert_true(ok);
    assert_string_equal(x.root, "svg");
    assert_int_equal(xml_count(&x, "polyline"), 2); /* the two fits */
    assert_true(xml_count(&x, "circle") >= 4);       /* binned means (+ legend) */
    free(doc);
    free(svg);
    gravrd_rd_result_free(r);

    /* residualised on the city-month FE (the default), exporter side: runs,
     * and a subset without rows is an error */
    const char *names2[] = {"y", "e2w", "w2e", "month"};
    gravrd_frame_free(frame);
    assert_int_equal(gravrd_study_frame(study, flows, names2, 4, &frame, &err), GRAVRD_OK);
    opt.fixed_effects = NULL;
    opt.side = GRAVRD_RD_SIDE_EXPORTER;
    opt.n_bandwidths = 2;
    assert_int_equal(gravrd_rd_study(study, frame, &opt, &r, &err), GRAVRD_OK);
    /* a balanced panel: residualised directly (src/spatial/panel_residuals.c),
     * no demeaning iterations */
    assert_true(r->n_rows > 0 && r->demean_iterations == 0);
    assert_true(isfinite(r->by_bandwidth[1].estimate));
    /* the same FE space spelled so that the direct path does not apply
     * (a third, nested term): iterative demeaning at a tight tolerance gives
     * the same RD data and estimates */
    gravrd_rd_result *r2 = NULL;
    opt.fixed_effects = "exp_city^month + imp_city^month + month";
    opt.tol = 1e-14;
    assert_int_equal(gravrd_rd_study(study, frame, &opt, &r2, &err), GRAVRD_OK);
    assert_true(r2->demean_iterations >= 1);
    assert_int_equal((int)r2->n_obs, (int)r->n_obs);
    assert_int_equal((int)r2->n_rows, (int)r->n_rows);
    double y_scale = 0;
    for (size_t k = 0; k < r->n_obs; k++)
        y_scale = fmax(y_scale, fabs(r2->y_N[k]));
    assert_true(y_scale > 0);
    for (size_t k = 0; k < r->n_obs; k++) {
        assert_close(r->x_N[k], r2->x_N[k], 0);
        assert_close(r->w_N[k], r2->w_N[k], 0);
        if (!(fabs(r->y_N[k] - r2->y_N[k]) <= 1e-10 * y_scale))
            fail_msg("RD datum %zu: direct %.15g, iterative %.15g", k, r->y_N[k], r2->y_N[k]);
    }
    for (int b = 0; b < 2; b++) {
        const gravrd_rd_estimate *e1 = &r->by_bandwidth[b], *e2 = &r2->by_bandwidth[b];
        assert_int_equal(isnan(e1->estimate), isnan(e2->estimate)); /* 60 km: too few observations */
        if (!isnan(e1->estimate))
            assert_close(e1->estimate, e2->estimate, 1e-10);
        assert_int_equal(isnan(e1->se), isnan(e2->se)); /* NaN with one cluster a side */
        if (!isnan(e1->se))
            assert_close(e1->se, e2->se, 1e-10);
    }
    gravrd_rd_result_free(r2);
    opt.fixed_effects = NULL;
    opt.tol = 0;
    gravrd_rd_result_free(r);
    opt.subset = "e2w & w2e";
    assert_int_equal(gravrd_rd_study(study, frame, &opt, &r, &err), GRAVRD_ERR_EMPTY);
    opt.subset = "e2w";
    opt.outcome = "nosuchvar";
    assert_int_equal(gravrd_rd_study(study, frame, &opt, &r, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "nosuchvar"));

    gravrd_frame_free(frame);
    gravrd_frame_free(flows);
    free(path);
    gravrd_study_free(study);
    testutil_rmdir(dir);
}

static void test_bad_input(void **state)
{
    (void)state;
    gravrd_error err = {0};
    double x[] = {-1, -0.5, 0.5, NAN}, y[] = {1, 2, 3, 4};
    int32_t cl[] = {0, 1, 2, 7};
    gravrd_rd_data d = {4, x, y, NULL, NULL, 0, 0.0};
    gravrd_locpoly_fit f;
    assert_int_equal(gravrd_locpoly(&d, 1, 1, 2, GRAVRD_KERNEL_TRIANGULAR, &f, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "observation 4"));
    x[3] = 1;
    d.cluster_N = cl;
    d.n_clusters = 3;
    assert_int_equal(gravrd_locpoly(&d, 1, 1, 2, GRAVRD_KERNEL_TRIANGULAR, &f, &err), GRAVRD_ERR_DATA);
    cl[3] = 2;
    assert_int_equal(gravrd_locpoly(&d, 1, 1, 0, GRAVRD_KERNEL_TRIANGULAR, &f, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_locpoly(&d, 1, 2, 2, GRAVRD_KERNEL_TRIANGULAR, &f, &err), GRAVRD_ERR_EMPTY);
    assert_non_null(strstr(err.message, "treated"));
    gravrd_rd_estimate e;
    gravrd_rd_options opt;
    gravrd_rd_options_init(&opt);
    opt.q = 1;
    assert_int_equal(gravrd_rd_estimate_at(&d, &opt, 2, 0, &e, &err), GRAVRD_ERR_INVALID);
    gravrd_kernel k;
    assert_int_equal(gravrd_kernel_parse("gaussian", &k, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_kernel_parse("epa", &k, &err), GRAVRD_OK);
    assert_close(gravrd_kernel_weight(GRAVRD_KERNEL_TRIANGULAR, 1.0), 0, 0);
    assert_close(gravrd_kernel_weight(GRAVRD_KERNEL_UNIFORM, -1.0), 0.5, 0);
}


/* ---- the command ---- */

static void test_rd_command(void **state)
{
    (void)state;
    char *dir = write_rd_study();
    char args[2048];
    snprintf(args, sizeof args,
             "rd --study %s --outcome y --direction e2w --no-fe --bandwidths 60,100,150 --plot %s/p.svg", dir, dir);
    cli_result r = cli_run(dir, args);
    if (r.status != 0)
        fail_msg("gravrd rd: %s", r.err);
    assert_non_null(strstr(r.out, "Local linear RD, Dep. Var.: y (subset: e2w)"));
    assert_non_null(strstr(r.out, "   100.0    0.25000"));
    /* one treated pair: one cluster on the treated side, no variance and so
     * no MSE-optimal bandwidth, said on stderr */
    assert_non_null(strstr(r.err, "note: no MSE-optimal bandwidth"));
    cli_result_free(&r);
    char *svg = testutil_path(dir, "p.svg");
    char *doc = testutil_read_file(svg, NULL);
    xml_check x;
    assert_non_null(doc);
    assert_true(xml_well_formed(doc, &x));
    free(doc);
    free(svg);
    snprintf(args, sizeof args, "rd --study %s --outcome y --direction e2w --no-fe --side exporter --format csv", dir);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "bandwidth,h,b,estimate,se,"));
    assert_non_null(strstr(r.out, "\ngiven,100,100,0.2"));
    cli_result_free(&r);
    snprintf(args, sizeof args, "rd --study %s --outcome y --direction e2w --no-select --bandwidths 100 --format json",
             dir);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"optimal\":null"));
    assert_non_null(strstr(r.out, "\"side\":\"both\""));
    cli_result_free(&r);
    snprintf(args, sizeof args, "rd --study %s", dir);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 2); /* no outcome: usage */
    cli_result_free(&r);
    snprintf(args, sizeof args, "rd --study %s --outcome y --direction up", dir);
    cli_expect_error(dir, args, "--direction", 1);
    snprintf(args, sizeof args, "rd --study %s --outcome y --bandwidths 60,-5", dir);
    cli_expect_error(dir, args, "-5", 1);
    snprintf(args, sizeof args, "rd --study %s --outcome y --side north", dir);
    cli_expect_error(dir, args, "north", 1);
    snprintf(args, sizeof args, "rd --study %s --outcome 'log(nosuch)'", dir);
    cli_expect_error(dir, args, "nosuch", 1);
    snprintf(args, sizeof args, "rd --study %s --outcome y --format tex", dir);
    cli_expect_error(dir, args, "--format", 1);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locpoly_equals_direct_wls),
        cmocka_unit_test(test_estimate_is_difference_of_intercepts),
        cmocka_unit_test(test_bias_correction_closed_form),
        cmocka_unit_test(test_exact_jump_recovered),
        cmocka_unit_test(test_weights_equal_replicated_rows),
        cmocka_unit_test(test_bandwidth_selector),
        cmocka_unit_test(test_matches_rdrobust),
        cmocka_unit_test(test_bins),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_spatial_rd_sample),
        cmocka_unit_test(test_spatial_rd_pipeline),
        cmocka_unit_test(test_rd_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
