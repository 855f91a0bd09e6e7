/* bandwidth.c - the MSE-optimal common bandwidth of a local polynomial RD
 * ("mserd"), following the steps of rdrobust's rdbwselect (Calonico,
 * Cattaneo and Titiunik 2014; Calonico, Cattaneo and Farrell 2020) with
 * cluster-robust (CR1) variance terms. Written from the published method
 * and the package documentation; see docs/spatial.md for the differences. */
#include "gravrd/rd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rd_internal.h"

/* Variance, bias and regularisation constants of one side for a fit of
 * order o estimating the derivative of order nu, its leading bias term
 * estimated by a fit of order o_B at bandwidth h_B; variance terms at the
 * pilot h_V. The optimal bandwidth for that step is
 * ((V_l + V_r) / ((B_r - B_l)^2 + R_l + R_r))^(1/(2o+3)). */
typedef struct {
    double V, B, R;
} bw_terms;

static gravrd_status side_terms(const gravrd_rd_data *d, int side, gravrd_kernel kernel, int o, int nu, int o_B,
                                double h_V, double h_B, int regularise, bw_terms *out, gravrd_error *err)
{
    const int k = o + 1, kB = o_B + 1;
    rd_window wv, wb;
    memset(&wb, 0, sizeof wb);
    double Ginv[RD_K_MAX * RD_K_MAX], gamma[RD_K_MAX], V[RD_K_MAX * RD_K_MAX];
    double GinvB[RD_K_MAX * RD_K_MAX], gammaB[RD_K_MAX], VB[RD_K_MAX * RD_K_MAX];
    double *S = NULL, *res = NULL;
    const char *where = side > 0 ? "treated" : "control";
    gravrd_status st = rd_window_build(d, side, h_V, kernel, &wv, err);
    if (st)
        return st;
    if ((st = rd_window_build(d, side, h_B, kernel, &wb, err)))
        goto done;
    if (rd_window_distinct(d, &wv, wv.kw) < (size_t)k || rd_window_distinct(d, &wb, wb.kw) < (size_t)kB) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                              "rd bandwidth: too few distinct values of the running variable on the %s side for the "
                              "pilot fits (order %d within %g, order %d within %g)",
                              where, o, h_V, o_B, h_B);
        goto done;
    }
    if (rd_polyfit(d, &wv, wv.u, wv.kw, k, Ginv, gamma) || rd_polyfit(d, &wb, wb.u, wb.kw, kB, GinvB, gammaB)) {
        st = gravrd_error_set(err, GRAVRD_ERR_NUMERIC, "rd bandwidth: singular pilot fit on the %s side", where);
        goto done;
    }
    size_t mmax = wv.m > wb.m ? wv.m : wb.m;
    S = malloc((mmax ? mmax : 1) * (size_t)(kB > k ? kB : k) * sizeof *S);
    res = malloc((mmax ? mmax : 1) * sizeof *res);
    if (!S || !res) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    /* variance of the nu-th coefficient of the order-o fit at h_V, and the
     * bias constant [Ginv * sum kw t u^(o+1)]_nu (scaled units) */
    double v[RD_K_MAX] = {0};
    for (size_t r = 0; r < wv.m; r++) {
        double t = 1, fit = 0, uo1 = pow(wv.u[r], o + 1);
        for (int a = 0; a < k; a++) {
            S[(size_t)a * wv.m + r] = t * wv.kw[r];
            v[a] += t * wv.kw[r] * uo1;
            fit += gamma[a] * t;
            t *= wv.u[r];
        }
        res[r] = d->y_N[wv.idx[r]] - fit;
    }
    if ((st = rd_sandwich(d, &wv, S, k, res, Ginv, k, V, NULL, err)))
        goto done;
    double bconst = 0;
    for (int a = 0; a < k; a++)
        bconst += Ginv[nu * k + a] * v[a];
    /* the order-(o+1) coefficient from the order-o_B fit at h_B (raw units) */
    double scale_B = pow(h_B, o + 1), beta = gammaB[o + 1] / scale_B, var_beta = 0;
    if (regularise) {
        for (size_t r = 0; r < wb.m; r++) {
            double t = 1, fit = 0;
            for (int a = 0; a < kB; a++) {
                S[(size_t)a * wb.m + r] = t * wb.kw[r];
                fit += gammaB[a] * t;
                t *= wb.u[r];
            }
            res[r] = d->y_N[wb.idx[r]] - fit;
        }
        if ((st = rd_sandwich(d, &wb, S, kB, res, GinvB, kB, VB, NULL, err)))
            goto done;
        var_beta = VB[(o + 1) * kB + (o + 1)] / (scale_B * scale_B);
    }
    out->V = (2.0 * nu + 1) * h_V * V[nu * k + nu];
    out->B = sqrt(2.0 * (o + 1 - nu)) * bconst * beta;
    out->R = regularise ? 2.0 * (o + 1 - nu) * 3 * bconst * bconst * var_beta : 0;
    if (!isfinite(out->V) || !isfinite(out->B) || !isfinite(out->R))
        st = gravrd_error_set(err, GRAVRD_ERR_NUMERIC,
                              "rd bandwidth: non-finite variance or bias term on the %s side (too few clusters?)",
                              where);
done:
    free(S);
    free(res);
    rd_window_free(&wv);
    rd_window_free(&wb);
    return st;
}

static double step_bandwidth(const bw_terms *l, const bw_terms *r, int o, double bw_max)
{
    double den = (r->B - l->B) * (r->B - l->B) + l->R + r->R;
    double h = pow((l->V + r->V) / den, 1.0 / (2.0 * o + 3));
    if (!(h > 0) || !isfinite(h) || h > bw_max)
        h = bw_max;
    return h;
}

/* R's quantile type 2 (inverse of the empirical CDF, averaging at
 * discontinuities) on sorted values. */
static double quantile2(const double *v, size_t n, double prob)
{
    double np = (double)n * prob;
    size_t j = (size_t)floor(np);
    double g = np - (double)j;
    if (j == 0)
        return v[0];
    if (j >= n)
        return v[n - 1];
    return g > 1e-12 ? v[j] : 0.5 * (v[j - 1] + v[j]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

gravrd_status gravrd_rd_bwselect(const gravrd_rd_data *d, const gravrd_rd_options *opt_in, gravrd_rd_bandwidth *out,
                                 gravrd_error *err)
{
    gravrd_rd_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        gravrd_rd_options_init(&opt);
    memset(out, 0, sizeof *out);
    if (!d || (d->n && (!d->x_N || !d->y_N)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd bandwidth: no data");
    if (opt.p < 0 || opt.q <= opt.p || opt.q + 2 > GRAVRD_RD_MAX_ORDER)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "rd bandwidth: orders must satisfy 0 <= p < q <= %d (p %d, q %d)",
                                GRAVRD_RD_MAX_ORDER - 2, opt.p, opt.q);
    if (opt.bwcheck < 0)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd bandwidth: bwcheck must be >= 0");
    /* observations with positive weight; sorted x overall and distances by side */
    const double c = d->cutoff;
    double *xs = malloc((d->n ? d->n : 1) * sizeof *xs), *dl = malloc((d->n ? d->n : 1) * sizeof *dl),
           *dr = malloc((d->n ? d->n : 1) * sizeof *dr);
    gravrd_status st = GRAVRD_OK;
    if (!xs || !dl || !dr) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t n = 0, nl = 0, nr = 0;
    double sum = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (d->weight_N && !(d->weight_N[i] > 0))
            continue;
        double x = d->x_N[i];
        if (!isfinite(x) || !isfinite(d->y_N[i])) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "rd bandwidth: observation %zu is not finite", i + 1);
            goto done;
        }
        xs[n++] = x;
        sum += x;
        if (x < c)
            dl[nl++] = c - x;
        else
            dr[nr++] = x - c;
    }
    qsort(xs, n, sizeof *xs, cmp_double);
    qsort(dl, nl, sizeof *dl, cmp_double);
    qsort(dr, nr, sizeof *dr, cmp_double);
    size_t ul = 0, ur = 0;
    for (size_t i = 0; i < nl; i++)
        if (i == 0 || dl[i] != dl[i - 1])
            dl[ul++] = dl[i];
    for (size_t i = 0; i < nr; i++)
        if (i == 0 || dr[i] != dr[i - 1])
            dr[ur++] = dr[i];
    const size_t need = (size_t)opt.q + 4; /* an order q+2 fit over a whole side, whose farthest point may get weight 0 */
    if (ul < need || ur < need) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                              "rd bandwidth: %zu distinct values of the running variable on the control side and %zu "
                              "on the treated side; the bandwidth selector needs at least %zu on each",
                              ul, ur, need);
        goto done;
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (xs[i] - mean) * (xs[i] - mean);
    double sd = sqrt(ss / ((double)n - 1));
    double iqr = quantile2(xs, n, 0.75) - quantile2(xs, n, 0.25);
    double spread = iqr > 0 && iqr / 1.349 < sd ? iqr / 1.349 : sd;
    double ck = opt.kernel == GRAVRD_KERNEL_EPANECHNIKOV ? 2.34 : opt.kernel == GRAVRD_KERNEL_UNIFORM ? 1.843 : 2.576;
    double range_l = dl[ul - 1], range_r = dr[ur - 1];
    double bw_max = range_l > range_r ? range_l : range_r, bw_min = 0;
    if (opt.bwcheck > 0) {
        size_t kl = (size_t)opt.bwcheck < ul ? (size_t)opt.bwcheck : ul;
        size_t kr = (size_t)opt.bwcheck < ur ? (size_t)opt.bwcheck : ur;
        bw_min = (dl[kl - 1] > dr[kr - 1] ? dl[kl - 1] : dr[kr - 1]) + 1e-8;
    }
    out->n_unique = ul + ur;
    out->bw_max = bw_max;
    out->bw_min = bw_min;
    double cbw = ck * spread * pow((double)(ul + ur), -0.2);
    if (!(cbw > 0) || cbw > bw_max)
        cbw = bw_max;
    if (cbw < bw_min)
        cbw = bw_min;
    out->c_pilot = cbw;

    const int p = opt.p, q = opt.q;
    bw_terms tl, tr;
    /* d: derivative of order q+1 (order q+1 fit, its bias from order q+2 on the whole side) */
    if ((st = side_terms(d, -1, opt.kernel, q + 1, q + 1, q + 2, cbw, range_l, 0, &tl, err)) ||
        (st = side_terms(d, +1, opt.kernel, q + 1, q + 1, q + 2, cbw, range_r, 0, &tr, err)))
        goto done;
    double dbw = step_bandwidth(&tl, &tr, q + 1, bw_max);
    if (dbw < bw_min)
        dbw = bw_min;
    out->d_pilot = dbw;
    /* b: derivative of order p+1 with an order-q fit */
    if ((st = side_terms(d, -1, opt.kernel, q, p + 1, q + 1, cbw, dbw, 1, &tl, err)) ||
        (st = side_terms(d, +1, opt.kernel, q, p + 1, q + 1, cbw, dbw, 1, &tr, err)))
        goto done;
    double bbw = step_bandwidth(&tl, &tr, q, bw_max);
    if (bbw < bw_min)
        bbw = bw_min;
    /* h: the level (nu = 0) with an order-p fit, its bias from order q at b */
    if ((st = side_terms(d, -1, opt.kernel, p, 0, q, cbw, bbw, 1, &tl, err)) ||
        (st = side_terms(d, +1, opt.kernel, p, 0, q, cbw, bbw, 1, &tr, err)))
        goto done;
    double hbw = step_bandwidth(&tl, &tr, p, bw_max);
    if (hbw < bw_min)
        hbw = bw_min;
    out->h = hbw;
    out->b = bbw;
    out->V = tl.V + tr.V;
    out->B = tr.B - tl.B;
    out->R = tl.R + tr.R;
done:
    free(xs);
    free(dl);
    free(dr);
    return st;
}
