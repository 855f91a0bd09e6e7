/* rd_report.c - local linear RD results as text, JSON or CSV. */
#include <math.h>
#include <string.h>

#include "gravrd/rd.h"
#include "report/write_util.h"

static void json_estimate(FILE *out, const gravrd_rd_estimate *e)
{
    fputs("{\"h\":", out);
    report_json_number(out, e->h);
    fputs(",\"b\":", out);
    report_json_number(out, e->b);
    fputs(",\"estimate\":", out);
    report_json_number(out, e->estimate);
    fputs(",\"se\":", out);
    report_json_number(out, e->se);
    fputs(",\"z\":", out);
    report_json_number(out, e->z);
    fputs(",\"p\":", out);
    report_json_number(out, e->p_value);
    fputs(",\"ci\":[", out);
    report_json_number(out, e->ci_lo);
    fputc(',', out);
    report_json_number(out, e->ci_hi);
    fputs("],\"estimate_bc\":", out);
    report_json_number(out, e->estimate_bc);
    fputs(",\"se_robust\":", out);
    report_json_number(out, e->se_robust);
    fputs(",\"p_robust\":", out);
    report_json_number(out, e->p_robust);
    fputs(",\"ci_robust\":[", out);
    report_json_number(out, e->ci_lo_robust);
    fputc(',', out);
    report_json_number(out, e->ci_hi_robust);
    fprintf(out, "],\"n_left\":%zu,\"n_right\":%zu,\"clusters_left\":%zu,\"clusters_right\":%zu", e->left.n,
            e->right.n, e->left.n_clusters, e->right.n_clusters);
    fputs(",\"slope_left\":", out);
    report_json_number(out, e->left.n ? e->left.beta[1] : NAN);
    fputs(",\"slope_right\":", out);
    report_json_number(out, e->right.n ? e->right.beta[1] : NAN);
    fputc('}', out);
}

static void write_json(FILE *out, const gravrd_rd_result *r)
{
    fputs("{\"model\":\"local polynomial rd\",\"outcome\":", out);
    report_json_string(out, r->outcome);
    fputs(",\"subset\":", out);
    if (r->subset)
        report_json_string(out, r->subset);
    else
        fputs("null", out);
    fputs(",\"fixed_effects\":", out);
    report_json_string(out, r->fixed_effects);
    fputs(",\"side\":", out);
    report_json_string(out, gravrd_rd_side_name(r->side));
    fprintf(out, ",\"same_province\":%s,\"radius_km\":", r->cross_province ? "false" : "true");
    report_json_number(out, r->radius_km);
    fputs(",\"kernel\":", out);
    report_json_string(out, gravrd_kernel_name(r->rd.kernel));
    fprintf(out, ",\"p\":%d,\"q\":%d,\"level\":", r->rd.p, r->rd.q);
    report_json_number(out, r->rd.level);
    fprintf(out,
            ",\"vcov\":\"cluster: pair\",\"rows\":%zu,\"dropped\":{\"missing\":%zu,\"singletons\":%zu},"
            "\"pairs\":%zu,\"treated_pairs\":%zu,\"treated_pairs_used\":%zu,\"observations\":%zu,\"clusters\":%zu,"
            "\"bandwidths\":[",
            r->n_rows, r->n_dropped_missing, r->n_dropped_singletons, r->n_pairs, r->n_treated, r->n_treated_used,
            r->n_obs, r->n_clusters);
    for (size_t b = 0; b < r->n_bandwidths; b++) {
        if (b)
            fputc(',', out);
        json_estimate(out, &r->by_bandwidth[b]);
    }
    fputs("],\"optimal\":", out);
    if (r->has_optimal) {
        const gravrd_rd_bandwidth *bw = &r->optimal_bw;
        fputs("{\"bwselect\":\"mserd\",\"c_pilot\":", out);
        report_json_number(out, bw->c_pilot);
        fputs(",\"d_pilot\":", out);
        report_json_number(out, bw->d_pilot);
        fputs(",\"bw_min\":", out);
        report_json_number(out, bw->bw_min);
        fputs(",\"bw_max\":", out);
        report_json_number(out, bw->bw_max);
        fputs(",\"estimate\":", out);
        json_estimate(out, &r->optimal);
        fputc('}', out);
    } else
        fputs("null", out);
    fputs(",\"warnings\":[", out);
    for (int w = 0; w < r->n_warnings; w++) {
        if (w)
            fputc(',', out);
        report_json_string(out, r->warnings[w]);
    }
    fputs("]}\n", out);
}

static void csv_row(FILE *out, const char *kind, const gravrd_rd_estimate *e)
{
    const double v[] = {e->h, e->b, e->estimate, e->se, e->p_value, e->ci_lo, e->ci_hi,
                        e->estimate_bc, e->se_robust, e->p_robust, e->ci_lo_robust, e->ci_hi_robust};
    fputs(kind, out);
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
        fputc(',', out);
        report_csv_number(out, v[k]);
    }
    fprintf(out, ",%zu,%zu,%zu,%zu\n", e->left.n, e->right.n, e->left.n_clusters, e->right.n_clusters);
}

static void write_csv(FILE *out, const gravrd_rd_result *r)
{
    fputs("bandwidth,h,b,estimate,se,p,ci_lo,ci_hi,estimate_bc,se_robust,p_robust,ci_lo_robust,ci_hi_robust,"
          "n_left,n_right,clusters_left,clusters_right\n",
          out);
    for (size_t b = 0; b < r->n_bandwidths; b++)
        csv_row(out, "given", &r->by_bandwidth[b]);
    if (r->has_optimal)
        csv_row(out, "mserd", &r->optimal);
}

static void text_row(FILE *out, const gravrd_rd_estimate *e)
{
    if (!isfinite(e->estimate)) {
        fprintf(out, "%8.1f   %s\n", e->h, "(no estimate: too few observations, see notes)");
        return;
    }
    fprintf(out, "%8.1f %10.5f %10.5f %8.4f %6zu %6zu %6zu   [%9.5f, %9.5f]   %10.5f   [%9.5f, %9.5f]\n", e->h,
            e->estimate, e->se, e->p_value, e->left.n, e->right.n, e->left.n_clusters + e->right.n_clusters,
            e->ci_lo, e->ci_hi, e->estimate_bc, e->ci_lo_robust, e->ci_hi_robust);
}

static void write_text(FILE *out, const gravrd_rd_result *r)
{
    const char *centre = r->side == GRAVRD_RD_SIDE_IMPORTER ? "j" : "i";
    fprintf(out, "Local %s RD, Dep. Var.: %s", r->rd.p == 1 ? "linear" : "polynomial", r->outcome);
    if (r->subset)
        fprintf(out, " (subset: %s)", r->subset);
    fputc('\n', out);
    if (r->side == GRAVRD_RD_SIDE_BOTH)
        fputs("Running variable: +distance(i,k) for treated ij vs -distance(i,k) for control kj (k near the "
              "exporter i),\n  and +distance(j,l) for ij vs -distance(j,l) for il (l near the importer j)\n",
              out);
    else if (r->side == GRAVRD_RD_SIDE_IMPORTER)
        fputs("Running variable: +distance(j,l) for the treated pair ij, -distance(j,l) for the control il "
              "(l near the importer j)\n",
              out);
    else
        fputs("Running variable: +distance(i,k) for the treated pair ij, -distance(i,k) for the control kj "
              "(k near the exporter i)\n",
              out);
    fprintf(out, "  neighbours of %s within %g km%s\n", r->side == GRAVRD_RD_SIDE_BOTH ? "i and j" : centre,
            r->radius_km, r->cross_province ? "" : " in the same province");
    if (r->fixed_effects[0])
        fprintf(out, "Outcome residualised on %s: %zu rows (dropped: %zu missing, %zu singletons)\n",
                r->fixed_effects, r->n_rows, r->n_dropped_missing, r->n_dropped_singletons);
    else
        fprintf(out, "Outcome not residualised: %zu rows (dropped: %zu missing)\n", r->n_rows, r->n_dropped_missing);
    fprintf(out,
            "Sample: %zu treated pairs (%zu with a neighbour), %zu observations (%zu comparisons), %zu pairs "
            "(clusters)\n",
            r->n_treated, r->n_treated_used, r->n_obs, r->n_obs / 2, r->n_clusters);
    fprintf(out, "Kernel: %s, p = %d, bias correction q = %d; standard errors clustered by pair (CR1); %g%% "
                 "intervals\n\n",
            gravrd_kernel_name(r->rd.kernel), r->rd.p, r->rd.q, r->rd.level);
    const char *header = "  h (km)   estimate   std.err.  p-value  n ctl  n trt  pairs   conventional CI"
                         "           bias-corr.   robust CI\n";
    if (r->n_bandwidths) {
        fputs(header, out);
        for (size_t b = 0; b < r->n_bandwidths; b++)
            text_row(out, &r->by_bandwidth[b]);
        fputs("(with a given h, the bias correction uses b = h: the local quadratic fit)\n", out);
    }
    if (r->has_optimal) {
        const gravrd_rd_bandwidth *bw = &r->optimal_bw;
        const gravrd_rd_estimate *e = &r->optimal;
        fprintf(out, "\nMSE-optimal bandwidth (mserd): h = %.1f km, bias bandwidth b = %.1f km (pilots: c = %.1f, "
                     "d = %.1f km)\n",
                bw->h, bw->b, bw->c_pilot, bw->d_pilot);
        fputs(header, out);
        text_row(out, e);
        fprintf(out, "Robust bias-corrected: estimate %.5f, robust s.e. %.5f, p = %.4f, %g%% CI [%.5f, %.5f]\n",
                e->estimate_bc, e->se_robust, e->p_robust, r->rd.level, e->ci_lo_robust, e->ci_hi_robust);
    }
}

gravrd_status gravrd_report_rd(FILE *out, const gravrd_rd_result *r, gravrd_format format, gravrd_error *err)
{
    if (!out || !r)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd report: no stream or no results");
    switch (format) {
    case GRAVRD_FORMAT_TEXT:
        write_text(out, r);
        break;
    case GRAVRD_FORMAT_JSON:
        write_json(out, r);
        break;
    case GRAVRD_FORMAT_CSV:
        write_csv(out, r);
        break;
    default:
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd report: use text, json or csv");
    }
    if (ferror(out))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "rd report: write error");
    return GRAVRD_OK;
}
