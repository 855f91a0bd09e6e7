/* rd.c - local polynomial RD: one-sided weighted fits, the conventional
 * and robust bias-corrected estimates with cluster-robust variances, and
 * binned means (see gravrd/rd.h and docs/spatial.md). */
#include "gravrd/rd.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/linalg.h"
#include "rd_internal.h"

double gravrd_kernel_weight(gravrd_kernel kernel, double u)
{
    double a = fabs(u);
    if (!(a <= 1))
        return 0;
    switch (kernel) {
    case GRAVRD_KERNEL_EPANECHNIKOV:
        return 0.75 * (1 - u * u);
    case GRAVRD_KERNEL_UNIFORM:
        return 0.5;
    case GRAVRD_KERNEL_TRIANGULAR:
    default:
        return 1 - a;
    }
}

gravrd_status gravrd_kernel_parse(const char *name, gravrd_kernel *out, gravrd_error *err)
{
    if (name && (!strcmp(name, "triangular") || !strcmp(name, "tri")))
        *out = GRAVRD_KERNEL_TRIANGULAR;
    else if (name && (!strcmp(name, "epanechnikov") || !strcmp(name, "epa")))
        *out = GRAVRD_KERNEL_EPANECHNIKOV;
    else if (name && (!strcmp(name, "uniform") || !strcmp(name, "uni")))
        *out = GRAVRD_KERNEL_UNIFORM;
    else
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown kernel '%s' (use triangular, epanechnikov or uniform)",
                                name ? name : "");
    return GRAVRD_OK;
}

const char *gravrd_kernel_name(gravrd_kernel kernel)
{
    switch (kernel) {
    case GRAVRD_KERNEL_EPANECHNIKOV:
        return "epanechnikov";
    case GRAVRD_KERNEL_UNIFORM:
        return "uniform";
    default:
        return "triangular";
    }
}

void gravrd_rd_options_init(gravrd_rd_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->p = 1;
    opt->q = 2;
    opt->kernel = GRAVRD_KERNEL_TRIANGULAR;
    opt->level = 95;
    opt->bwcheck = 10;
}

/* ---- internals shared with bandwidth.c ---- */

gravrd_status rd_window_build(const gravrd_rd_data *d, int side, double h, gravrd_kernel kernel, rd_window *w,
                              gravrd_error *err)
{
    memset(w, 0, sizeof *w);
    size_t m = 0;
    for (size_t i = 0; i < d->n; i++) {
        double dx = d->x_N[i] - d->cutoff;
        if ((side > 0) != (dx >= 0))
            continue;
        double kw = gravrd_kernel_weight(kernel, dx / h) * (d->weight_N ? d->weight_N[i] : 1.0);
        if (kw > 0)
            m++;
    }
    w->idx = malloc((m ? m : 1) * sizeof *w->idx);
    w->u = malloc((m ? m : 1) * sizeof *w->u);
    w->kw = malloc((m ? m : 1) * sizeof *w->kw);
    if (!w->idx || !w->u || !w->kw) {
        rd_window_free(w);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < d->n; i++) {
        double dx = d->x_N[i] - d->cutoff;
        if ((side > 0) != (dx >= 0))
            continue;
        double kw = gravrd_kernel_weight(kernel, dx / h) * (d->weight_N ? d->weight_N[i] : 1.0);
        if (kw > 0) {
            w->idx[w->m] = i;
            w->u[w->m] = dx / h;
            w->kw[w->m] = kw;
            w->m++;
        }
    }
    return GRAVRD_OK;
}

void rd_window_free(rd_window *w)
{
    free(w->idx);
    free(w->u);
    free(w->kw);
    memset(w, 0, sizeof *w);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

size_t rd_window_distinct(const gravrd_rd_data *d, const rd_window *w, const double *kw)
{
    double *v = malloc((w->m ? w->m : 1) * sizeof *v);
    if (!v)
        return 0;
    size_t n = 0, distinct = 0;
    for (size_t r = 0; r < w->m; r++)
        if (kw[r] > 0)
            v[n++] = d->x_N[w->idx[r]];
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t r = 0; r < n; r++)
        if (r == 0 || v[r] != v[r - 1])
            distinct++;
    free(v);
    return distinct;
}

int rd_polyfit(const gravrd_rd_data *d, const rd_window *w, const double *u, const double *kw, int k, double *Ginv,
               double *gamma)
{
    double G[RD_K_MAX * RD_K_MAX] = {0}, g[RD_K_MAX] = {0}, t[2 * RD_K_MAX];
    for (size_t r = 0; r < w->m; r++) {
        if (!(kw[r] > 0))
            continue;
        double y = d->y_N[w->idx[r]];
        t[0] = 1;
        for (int j = 1; j < 2 * k - 1; j++)
            t[j] = t[j - 1] * u[r];
        for (int a = 0; a < k; a++) {
            g[a] += kw[r] * t[a] * y;
            for (int b = 0; b <= a; b++)
                G[a * k + b] += kw[r] * t[a + b];
        }
    }
    for (int a = 0; a < k; a++)
        for (int b = 0; b < a; b++)
            G[b * k + a] = G[a * k + b];
    memcpy(Ginv, G, (size_t)(k * k) * sizeof *G);
    if (linalg_spd_inverse(Ginv, k))
        return 1;
    for (int a = 0; a < k; a++) {
        gamma[a] = 0;
        for (int b = 0; b < k; b++)
            gamma[a] += Ginv[a * k + b] * g[b];
        if (!isfinite(gamma[a]))
            return 1;
    }
    return 0;
}

gravrd_status rd_sandwich(const gravrd_rd_data *d, const rd_window *w, const double *S, int k, const double *res,
                          const double *Ginv, int k_df, double *V, size_t *n_clusters, gravrd_error *err)
{
    double M[RD_K_MAX * RD_K_MAX] = {0};
    size_t m = w->m, G = 0;
    if (d->cluster_N) {
        double *score = calloc((size_t)d->n_clusters * (size_t)k + 1, sizeof *score);
        unsigned char *seen = calloc((size_t)d->n_clusters + 1, 1);
        if (!score || !seen) {
            free(score);
            free(seen);
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
        for (size_t r = 0; r < m; r++) {
            int32_t c = d->cluster_N[w->idx[r]];
            if (!seen[c]) {
                seen[c] = 1;
                G++;
            }
            for (int a = 0; a < k; a++)
                score[(size_t)c * (size_t)k + (size_t)a] += S[(size_t)a * m + r] * res[r];
        }
        for (int32_t c = 0; c < d->n_clusters; c++) {
            if (!seen[c])
                continue;
            const double *s = score + (size_t)c * (size_t)k;
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++)
                    M[a * k + b] += s[a] * s[b];
        }
        free(score);
        free(seen);
    } else {
        G = m;
        for (size_t r = 0; r < m; r++)
            for (int a = 0; a < k; a++)
                for (int b = 0; b < k; b++)
                    M[a * k + b] += S[(size_t)a * m + r] * S[(size_t)b * m + r] * res[r] * res[r];
    }
    double factor;
    if ((double)m <= (double)k_df || G < 2)
        factor = NAN;
    else if (d->cluster_N)
        factor = ((double)m - 1) / ((double)m - k_df) * (double)G / ((double)G - 1);
    else
        factor = (double)m / ((double)m - k_df);
    double T[RD_K_MAX * RD_K_MAX] = {0};
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
            for (int c = 0; c < k; c++)
                T[a * k + b] += Ginv[a * k + c] * M[c * k + b];
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            double v = 0;
            for (int c = 0; c < k; c++)
                v += T[a * k + c] * Ginv[c * k + b];
            V[a * k + b] = factor * v;
        }
    if (n_clusters)
        *n_clusters = G;
    return GRAVRD_OK;
}

/* ---- public API ---- */

static gravrd_status check_data(const gravrd_rd_data *d, gravrd_error *err)
{
    if (!d || (d->n && (!d->x_N || !d->y_N)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: no data");
    if (!isfinite(d->cutoff))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: the cutoff must be finite");
    if (d->cluster_N && d->n_clusters < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: cluster codes given without a number of clusters");
    for (size_t i = 0; i < d->n; i++) {
        if (!isfinite(d->x_N[i]) || !isfinite(d->y_N[i]))
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "rd: observation %zu: non-finite running variable or outcome",
                                    i + 1);
        if (d->weight_N && !(d->weight_N[i] >= 0 && isfinite(d->weight_N[i])))
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "rd: observation %zu: weight must be finite and >= 0", i + 1);
        if (d->cluster_N && (d->cluster_N[i] < 0 || d->cluster_N[i] >= d->n_clusters))
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "rd: observation %zu: cluster code %d outside 0..%d", i + 1,
                                    (int)d->cluster_N[i], (int)d->n_clusters - 1);
    }
    return GRAVRD_OK;
}

static const char *side_name(int side)
{
    return side > 0 ? "treated (x >= cutoff)" : "control (x < cutoff)";
}

/* Fit of order p on one side at h into out (raw units); the window is
 * returned for callers that need residuals. */
static gravrd_status locpoly_window(const gravrd_rd_data *d, int side, int p, double h, gravrd_kernel kernel,
                                    gravrd_locpoly_fit *out, gravrd_error *err)
{
    const int k = p + 1;
    rd_window w;
    gravrd_status st = rd_window_build(d, side, h, kernel, &w, err);
    if (st)
        return st;
    double Ginv[RD_K_MAX * RD_K_MAX], gamma[RD_K_MAX], V[RD_K_MAX * RD_K_MAX];
    double *S = NULL, *res = NULL;
    size_t distinct = rd_window_distinct(d, &w, w.kw);
    if (distinct < (size_t)k) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                              "rd: %zu distinct values of the running variable on the %s side within bandwidth %g; "
                              "a fit of order %d needs %d",
                              distinct, side_name(side), h, p, k);
        goto done;
    }
    if (rd_polyfit(d, &w, w.u, w.kw, k, Ginv, gamma)) {
        st = gravrd_error_set(err, GRAVRD_ERR_NUMERIC, "rd: singular local polynomial fit on the %s side at bandwidth %g",
                              side_name(side), h);
        goto done;
    }
    S = malloc((w.m ? w.m : 1) * (size_t)k * sizeof *S);
    res = malloc((w.m ? w.m : 1) * sizeof *res);
    if (!S || !res) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < w.m; r++) {
        double t = 1, fit = 0;
        for (int a = 0; a < k; a++) {
            S[(size_t)a * w.m + r] = t * w.kw[r];
            fit += gamma[a] * t;
            t *= w.u[r];
        }
        res[r] = d->y_N[w.idx[r]] - fit;
    }
    size_t G = 0;
    if ((st = rd_sandwich(d, &w, S, k, res, Ginv, k, V, &G, err)))
        goto done;
    memset(out, 0, sizeof *out);
    out->p = p;
    out->h = h;
    out->n = w.m;
    out->n_clusters = G;
    for (int a = 0; a < k; a++) {
        out->beta[a] = gamma[a] / pow(h, a);
        for (int b = 0; b < k; b++)
            out->vcov[a * k + b] = V[a * k + b] / (pow(h, a) * pow(h, b));
    }
done:
    free(S);
    free(res);
    rd_window_free(&w);
    return st;
}

gravrd_status gravrd_locpoly(const gravrd_rd_data *d, int side, int p, double h, gravrd_kernel kernel,
                             gravrd_locpoly_fit *out, gravrd_error *err)
{
    gravrd_status st = check_data(d, err);
    if (st)
        return st;
    if (p < 0 || p > GRAVRD_RD_MAX_ORDER)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: polynomial order must be in 0..%d, not %d",
                                GRAVRD_RD_MAX_ORDER, p);
    if (!(h > 0 && isfinite(h)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: bandwidth must be positive, not %g", h);
    if (side != 1 && side != -1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: side must be +1 or -1");
    return locpoly_window(d, side, p, h, kernel, out, err);
}

/* The bias-corrected intercept and its robust variance on one side: the
 * order-p fit at h minus h^(p+1) * (the p-fit's bias constant) * (the
 * order-q fit's coefficient of order p+1 at b), written as one linear
 * smoother Q so that its variance (with the order-q residuals) accounts
 * for the estimated bias. */
static gravrd_status bias_corrected_side(const gravrd_rd_data *d, const gravrd_rd_options *opt, int side, double h,
                                         double b, double *tau_bc, double *var_rb, size_t *n_b, size_t *n_union,
                                         size_t *g_union, gravrd_error *err)
{
    const int p = opt->p, q = opt->q, kp = p + 1, kq = q + 1;
    double H = h > b ? h : b;
    rd_window w;
    gravrd_status st = rd_window_build(d, side, H, opt->kernel, &w, err);
    if (st)
        return st;
    size_t m = w.m;
    double *wh = malloc((m ? m : 1) * sizeof *wh), *wb = malloc((m ? m : 1) * sizeof *wb);
    double *uh = malloc((m ? m : 1) * sizeof *uh), *ub = malloc((m ? m : 1) * sizeof *ub);
    double *Q = malloc((m ? m : 1) * (size_t)kp * sizeof *Q), *res = malloc((m ? m : 1) * sizeof *res);
    double Gp[RD_K_MAX * RD_K_MAX], gp[RD_K_MAX], Gq[RD_K_MAX * RD_K_MAX], gq[RD_K_MAX];
    double V[RD_K_MAX * RD_K_MAX], L[RD_K_MAX] = {0};
    if (!wh || !wb || !uh || !ub || !Q || !res) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t nb = 0;
    for (size_t r = 0; r < m; r++) {
        double dx = d->x_N[w.idx[r]] - d->cutoff, wt = d->weight_N ? d->weight_N[w.idx[r]] : 1.0;
        uh[r] = dx / h;
        ub[r] = dx / b;
        wh[r] = gravrd_kernel_weight(opt->kernel, uh[r]) * wt;
        wb[r] = gravrd_kernel_weight(opt->kernel, ub[r]) * wt;
        nb += wb[r] > 0;
    }
    size_t distinct = rd_window_distinct(d, &w, wb);
    if (distinct < (size_t)kq) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                              "rd: %zu distinct values of the running variable on the %s side within bandwidth %g; "
                              "the bias correction (order %d) needs %d",
                              distinct, side_name(side), b, q, kq);
        goto done;
    }
    if (rd_polyfit(d, &w, uh, wh, kp, Gp, gp) || rd_polyfit(d, &w, ub, wb, kq, Gq, gq)) {
        st = gravrd_error_set(err, GRAVRD_ERR_NUMERIC, "rd: singular local polynomial fit on the %s side (h %g, b %g)",
                              side_name(side), h, b);
        goto done;
    }
    /* L_j = sum wh u^j u^(p+1) (scaled units) */
    for (size_t r = 0; r < m; r++) {
        double t = 1, up1 = pow(uh[r], p + 1);
        for (int j = 0; j < kp; j++) {
            L[j] += wh[r] * t * up1;
            t *= uh[r];
        }
    }
    double rho_p1 = pow(h / b, p + 1);
    double est = 0;
    for (size_t r = 0; r < m; r++) {
        /* a = [Gq s]_{p+1} * wb, s_j = ub^j */
        double s[RD_K_MAX], t = 1, a = 0, fit_q = 0;
        for (int j = 0; j < kq; j++) {
            s[j] = t;
            fit_q += gq[j] * t;
            t *= ub[r];
        }
        for (int j = 0; j < kq; j++)
            a += Gq[(p + 1) * kq + j] * s[j];
        a *= wb[r];
        t = 1;
        for (int j = 0; j < kp; j++) {
            Q[(size_t)j * m + r] = t * wh[r] - rho_p1 * L[j] * a;
            t *= uh[r];
        }
        res[r] = d->y_N[w.idx[r]] - fit_q;
    }
    /* intercept of Gp * Q'y */
    for (int j = 0; j < kp; j++) {
        double qy = 0;
        for (size_t r = 0; r < m; r++)
            qy += Q[(size_t)j * m + r] * d->y_N[w.idx[r]];
        est += Gp[j] * qy;
    }
    if ((st = rd_sandwich(d, &w, Q, kp, res, Gp, kq, V, g_union, err)))
        goto done;
    *tau_bc = est;
    *var_rb = V[0];
    *n_b = nb;
    *n_union = m;
done:
    free(wh);
    free(wb);
    free(uh);
    free(ub);
    free(Q);
    free(res);
    rd_window_free(&w);
    return st;
}

static double small_sample_factor(size_t n, size_t g, int k, int clustered)
{
    if ((double)n <= k || g < 2)
        return NAN;
    return clustered ? ((double)n - 1) / ((double)n - k) * (double)g / ((double)g - 1) : (double)n / ((double)n - k);
}

static void rescale_factor(gravrd_locpoly_fit *f, size_t n, size_t g, int clustered)
{
    const int k = f->p + 1;
    double r = small_sample_factor(n, g, k, clustered) / small_sample_factor(f->n, f->n_clusters, k, clustered);
    for (int a = 0; a < k * k; a++)
        f->vcov[a] *= r;
}

static double normal_p(double z)
{
    return isfinite(z) ? 2 * gsl_cdf_ugaussian_Q(fabs(z)) : NAN;
}

gravrd_status gravrd_rd_estimate_at(const gravrd_rd_data *d, const gravrd_rd_options *opt_in, double h, double b,
                                    gravrd_rd_estimate *out, gravrd_error *err)
{
    gravrd_rd_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        gravrd_rd_options_init(&opt);
    gravrd_status st = check_data(d, err);
    if (st)
        return st;
    if (opt.p < 0 || opt.q <= opt.p || opt.q > GRAVRD_RD_MAX_ORDER - 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: orders must satisfy 0 <= p < q <= %d (p %d, q %d)",
                                GRAVRD_RD_MAX_ORDER - 1, opt.p, opt.q);
    if (!(opt.level > 0 && opt.level < 100))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: confidence level must be in (0, 100), not %g", opt.level);
    if (!(h > 0 && isfinite(h)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: bandwidth must be positive, not %g", h);
    if (!(b > 0))
        b = h;
    if (!isfinite(b))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd: bias bandwidth must be finite");
    memset(out, 0, sizeof *out);
    out->h = h;
    out->b = b;
    if ((st = locpoly_window(d, -1, opt.p, h, opt.kernel, &out->left, err)) ||
        (st = locpoly_window(d, +1, opt.p, h, opt.kernel, &out->right, err)))
        return st;
    double bc_l, bc_r, v_l, v_r;
    size_t nu_l, nu_r, gu_l, gu_r;
    if ((st = bias_corrected_side(d, &opt, -1, h, b, &bc_l, &v_l, &out->n_left_b, &nu_l, &gu_l, err)) ||
        (st = bias_corrected_side(d, &opt, +1, h, b, &bc_r, &v_r, &out->n_right_b, &nu_r, &gu_r, err)))
        return st;
    /* As rdrobust, the small-sample factor of the conventional variance
     * counts the observations and clusters within max(h, b). */
    if (b > h) {
        rescale_factor(&out->left, nu_l, gu_l, d->cluster_N != NULL);
        rescale_factor(&out->right, nu_r, gu_r, d->cluster_N != NULL);
    }
    double zq = gsl_cdf_ugaussian_Pinv(1 - (1 - opt.level / 100) / 2);
    out->estimate = out->right.beta[0] - out->left.beta[0];
    out->se = sqrt(out->right.vcov[0] + out->left.vcov[0]);
    out->z = out->estimate / out->se;
    out->p_value = normal_p(out->z);
    out->ci_lo = out->estimate - zq * out->se;
    out->ci_hi = out->estimate + zq * out->se;
    out->estimate_bc = bc_r - bc_l;
    out->se_robust = sqrt(v_r + v_l);
    out->z_robust = out->estimate_bc / out->se_robust;
    out->p_robust = normal_p(out->z_robust);
    out->ci_lo_robust = out->estimate_bc - zq * out->se_robust;
    out->ci_hi_robust = out->estimate_bc + zq * out->se_robust;
    return GRAVRD_OK;
}

/* ---- binned means ---- */

typedef struct {
    int32_t cluster;
    size_t row;
} bin_member;

static int cmp_member(const void *a, const void *b)
{
    const bin_member *x = a, *y = b;
    if (x->cluster != y->cluster)
        return (x->cluster > y->cluster) - (x->cluster < y->cluster);
    return (x->row > y->row) - (x->row < y->row);
}

gravrd_status gravrd_rd_bins(const gravrd_rd_data *d, double lo, double hi, int n_bins, gravrd_rd_bin **out,
                             size_t *n_out, gravrd_error *err)
{
    *out = NULL;
    *n_out = 0;
    gravrd_status st = check_data(d, err);
    if (st)
        return st;
    if (!(isfinite(lo) && isfinite(hi) && lo < d->cutoff && d->cutoff < hi))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd bins: need lo < cutoff < hi");
    if (n_bins < 1 || n_bins > 100000)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd bins: number of bins per side must be in 1..100000");
    size_t nb = 2 * (size_t)n_bins;
    size_t *count = calloc(nb + 1, sizeof *count), *start = calloc(nb + 2, sizeof *start);
    bin_member *members = malloc((d->n ? d->n : 1) * sizeof *members);
    int32_t *bin_of = malloc((d->n ? d->n : 1) * sizeof *bin_of);
    gravrd_rd_bin *bins = calloc(nb, sizeof *bins);
    if (!count || !start || !members || !bin_of || !bins) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    double wl = (d->cutoff - lo) / n_bins, wr = (hi - d->cutoff) / n_bins;
    for (size_t i = 0; i < d->n; i++) {
        double x = d->x_N[i], wt = d->weight_N ? d->weight_N[i] : 1.0;
        long k = -1;
        if (wt > 0 && x >= lo && x < d->cutoff) {
            k = (long)floor((x - lo) / wl);
            if (k >= n_bins)
                k = n_bins - 1;
        } else if (wt > 0 && x >= d->cutoff && x <= hi) {
            k = n_bins + (long)floor((x - d->cutoff) / wr);
            if (k >= 2 * n_bins)
                k = 2 * n_bins - 1;
        }
        bin_of[i] = (int32_t)k;
        if (k >= 0)
            count[k]++;
    }
    for (size_t k = 0; k < nb; k++)
        start[k + 1] = start[k] + count[k];
    memset(count, 0, (nb + 1) * sizeof *count);
    for (size_t i = 0; i < d->n; i++)
        if (bin_of[i] >= 0) {
            size_t k = (size_t)bin_of[i];
            members[start[k] + count[k]++] = (bin_member){d->cluster_N ? d->cluster_N[i] : (int32_t)0, i};
        }
    size_t n_kept = 0;
    for (size_t k = 0; k < nb; k++) {
        if (!count[k])
            continue;
        bin_member *mb = members + start[k];
        size_t cnt = count[k];
        if (d->cluster_N)
            qsort(mb, cnt, sizeof *mb, cmp_member);
        double sw = 0, swx = 0, swy = 0;
        for (size_t r = 0; r < cnt; r++) {
            size_t i = mb[r].row;
            double wt = d->weight_N ? d->weight_N[i] : 1.0;
            sw += wt;
            swx += wt * d->x_N[i];
            swy += wt * d->y_N[i];
        }
        double ybar = swy / sw, ss = 0;
        size_t G = 0;
        for (size_t r = 0; r < cnt;) {
            double s = 0;
            size_t r2 = r;
            do {
                size_t i = mb[r2].row;
                s += (d->weight_N ? d->weight_N[i] : 1.0) * (d->y_N[i] - ybar);
                r2++;
            } while (d->cluster_N && r2 < cnt && mb[r2].cluster == mb[r].cluster);
            ss += s * s;
            G++;
            r = r2;
        }
        gravrd_rd_bin *bin = &bins[n_kept++];
        bin->x_lo = k < (size_t)n_bins ? lo + (double)k * wl : d->cutoff + (double)(k - (size_t)n_bins) * wr;
        bin->x_hi = bin->x_lo + (k < (size_t)n_bins ? wl : wr);
        bin->x_mean = swx / sw;
        bin->y_mean = ybar;
        bin->y_se = G > 1 ? sqrt((double)G / ((double)G - 1) * ss) / sw : NAN;
        bin->weight = sw;
        bin->n = cnt;
    }
    *out = bins;
    *n_out = n_kept;
    bins = NULL;
done:
    free(count);
    free(start);
    free(members);
    free(bin_of);
    free(bins);
    return st;
}
