/* rd_plot.c - the RD plot of a local polynomial spatial RD as SVG: binned
 * means with 95% intervals and the fit on each side with its band. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/rd.h"
#include "gravrd/svg.h"

enum { CURVE_POINTS = 61 };

/* Fitted value and its standard error at x (distance from the cutoff). */
static void fit_at(const gravrd_locpoly_fit *f, double x, double *yhat, double *se)
{
    const int k = f->p + 1;
    double r[GRAVRD_RD_MAX_ORDER + 1], t = 1, y = 0, v = 0;
    for (int a = 0; a < k; a++) {
        r[a] = t;
        y += f->beta[a] * t;
        t *= x;
    }
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++)
            v += r[a] * f->vcov[a * k + b] * r[b];
    *yhat = y;
    *se = v > 0 ? sqrt(v) : 0;
}

gravrd_status gravrd_rd_plot(const gravrd_rd_result *r, const gravrd_rd_plot_options *opt_in, const char *path,
                             gravrd_error *err)
{
    gravrd_rd_plot_options opt;
    if (opt_in)
        opt = *opt_in;
    else
        memset(&opt, 0, sizeof opt);
    if (!r || !path)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd plot: no results or no path");
    double largest = 0;
    for (size_t b = 0; b < r->n_bandwidths; b++)
        if (r->by_bandwidth[b].h > largest)
            largest = r->by_bandwidth[b].h;
    double h = opt.h > 0 ? opt.h : r->has_optimal ? r->optimal_bw.h : largest;
    if (!(h > 0 && isfinite(h)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd plot: no bandwidth for the fits");
    double range = opt.range_km > 0 ? opt.range_km : (h > largest ? h : largest);
    int n_bins = opt.n_bins > 0 ? opt.n_bins : 10;
    double z = gsl_cdf_ugaussian_Pinv(0.975);

    gravrd_locpoly_fit side_fit[2];
    gravrd_status st = gravrd_locpoly(&r->data, -1, r->rd.p, h, r->rd.kernel, &side_fit[0], err);
    if (!st)
        st = gravrd_locpoly(&r->data, +1, r->rd.p, h, r->rd.kernel, &side_fit[1], err);
    if (st)
        return st;
    gravrd_rd_bin *bins = NULL;
    size_t n_b = 0;
    if ((st = gravrd_rd_bins(&r->data, -range, range, n_bins, &bins, &n_b, err)))
        return st;

    gravrd_svg *g = gravrd_svg_new(760, 500);
    double *bx = malloc((n_b ? n_b : 1) * sizeof *bx), *by = malloc((n_b ? n_b : 1) * sizeof *by);
    double *blo = malloc((n_b ? n_b : 1) * sizeof *blo), *bhi = malloc((n_b ? n_b : 1) * sizeof *bhi);
    if (!g || !bx || !by || !blo || !bhi) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < n_b; k++) {
        bx[k] = bins[k].x_mean;
        by[k] = bins[k].y_mean;
        blo[k] = isfinite(bins[k].y_se) ? by[k] - z * bins[k].y_se : NAN;
        bhi[k] = isfinite(bins[k].y_se) ? by[k] + z * bins[k].y_se : NAN;
    }
    char title[512], ylabel[300];
    const gravrd_rd_estimate *e = NULL;
    for (size_t b = 0; b < r->n_bandwidths; b++)
        if (r->by_bandwidth[b].h == h)
            e = &r->by_bandwidth[b];
    if (r->has_optimal && r->optimal.h == h)
        e = &r->optimal;
    if (opt.title)
        snprintf(title, sizeof title, "%s", opt.title);
    else if (e && isfinite(e->estimate))
        snprintf(title, sizeof title, "Local %s RD: %s%s%s%s, h = %.0f km: %.3f (s.e. %.3f)",
                 r->rd.p == 1 ? "linear" : "polynomial", r->outcome, r->subset ? " [" : "", r->subset ? r->subset : "",
                 r->subset ? "]" : "", h, e->estimate, e->se);
    else
        snprintf(title, sizeof title, "Local %s RD: %s%s%s%s, h = %.0f km", r->rd.p == 1 ? "linear" : "polynomial",
                 r->outcome, r->subset ? " [" : "", r->subset ? r->subset : "", r->subset ? "]" : "", h);
    snprintf(ylabel, sizeof ylabel, "%s%s%s", r->fixed_effects[0] ? "residual " : "", r->outcome,
             r->fixed_effects[0] ? " (pair mean)" : "");
    if ((st = gravrd_svg_title(g, title, err)) ||
        (st = gravrd_svg_axis_labels(g, "distance to the neighbouring city (km): control pairs < 0 < treated pairs",
                                     ylabel, err)) ||
        (st = gravrd_svg_xlim(g, -range * 1.04, range * 1.04, err)))
        goto done;
    /* fits and bands, one per side */
    for (int s = 0; s < 2; s++) {
        double cx[CURVE_POINTS], cy[CURVE_POINTS], clo[CURVE_POINTS], chi[CURVE_POINTS];
        for (int k = 0; k < CURVE_POINTS; k++) {
            double t = (double)k / (CURVE_POINTS - 1), se;
            cx[k] = s ? t * h : -h + t * h;
            fit_at(&side_fit[s], cx[k], &cy[k], &se);
            clo[k] = cy[k] - z * se;
            chi[k] = cy[k] + z * se;
        }
        const char *colour = s ? "#d62728" : "#1f77b4";
        if ((st = gravrd_svg_band(g, CURVE_POINTS, cx, clo, chi,
                                  &(gravrd_svg_style){.fill = colour, .opacity = 0.18,
                                                      .label = s ? NULL : "95% band of the fits"},
                                  err)) ||
            (st = gravrd_svg_line(g, CURVE_POINTS, cx, cy,
                                  &(gravrd_svg_style){.stroke = colour, .stroke_width = 2.5,
                                                      .label = s ? "local linear fit, treated side"
                                                                 : "local linear fit, control side"},
                                  err)))
            goto done;
    }
    if ((st = gravrd_svg_segments(g, n_b, bx, blo, bx, bhi, &(gravrd_svg_style){.stroke = "#555"}, err)) ||
        (st = gravrd_svg_points(g, n_b, bx, by,
                                &(gravrd_svg_style){.fill = "#222", .radius = 4, .label = "binned means (95% CI)"},
                                err)) ||
        (st = gravrd_svg_vline(g, 0, &(gravrd_svg_style){.stroke = "#555", .dash = "5 4"}, err)) ||
        (st = gravrd_svg_hline(g, 0, &(gravrd_svg_style){.stroke = "#bbb"}, err)))
        goto done;
    st = gravrd_svg_save(g, path, err);
done:
    gravrd_svg_free(g);
    free(bins);
    free(bx);
    free(by);
    free(blo);
    free(bhi);
    return st;
}
