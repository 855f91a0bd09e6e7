/* design_write.c - the design check's result as text, JSON and an SVG
 * calibration plot (coverage against null rejection, one point per model
 * and method, the nominal box and the Monte Carlo error bars), for the
 * command line and the study report. */
#include "gravrd/design.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/svg.h"

static const char *const model_titles[] = {"Gravity", "Spatial RD"};

static const char *model_title(const gravrd_design_model *m)
{
    return !strcmp(m->name, "gravity") ? model_titles[0] : model_titles[1];
}

gravrd_status gravrd_design_write_text(const gravrd_design_result *r, FILE *out, gravrd_error *err)
{
    fprintf(out, "Design check: %s geography, %d worlds of %d months, planted west-to-east effect %g, seeds %llu-%llu\n",
            r->geography, r->worlds, r->months, r->effect, (unsigned long long)r->seed,
            (unsigned long long)(r->seed + (uint64_t)r->worlds - 1));
    fprintf(out,
            "Truth of each world: its estimate minus that of the same world without the effect. Monte Carlo SE of a "
            "95%% coverage: %.3f.\nwild: WCR Rademacher bootstrap by segment pair, %ld replications; ri: %ld placebo "
            "reassignments (program scheme).\n",
            r->mc_se, r->boot_reps, r->ri_reps);
    for (int m = 0; m < r->n_models; m++) {
        const gravrd_design_model *dm = &r->models[m];
        fprintf(out, "\n%s: %s, west to east\n", model_title(dm), dm->formula);
        fprintf(out, "  mean estimate %.4f (sd %.4f over worlds), mean truth %.4f, mean estimate without effect %.4f\n",
                dm->mean_estimate, dm->sd_estimate, dm->mean_truth, dm->mean_null_estimate);
        fprintf(out, "  %-13s %9s %10s %12s %7s %7s\n", "method", "coverage", "null rej.", "mean length", "power",
                "MDE");
        for (int j = 0; j < dm->n_methods; j++) {
            const gravrd_design_method *d = &dm->methods[j];
            fprintf(out, "  %-13s %9.3f %10.3f %12.4f %7.3f %7.4f%s\n", gravrd_inference_name(d->method), d->coverage,
                    d->null_rejection, d->mean_length, d->power, d->mde, j == dm->recommended ? "  <- recommended" : "");
        }
        const gravrd_design_method *rec = &dm->methods[dm->recommended];
        fprintf(out, "  recommended: %s (coverage %.3f, null rejection %.3f)%s\n", gravrd_inference_name(rec->method),
                rec->coverage, rec->null_rejection,
                dm->recommended_nominal ? "" : "; outside [0.93, 0.97] x [0.03, 0.07]: no method is nominal here");
    }
    fprintf(out, "\n%.1f s\n", r->seconds);
    if (ferror(out))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "cannot write the design check");
    return GRAVRD_OK;
}

/* A number, or null when it is not finite (JSON has no infinity). */
static void json_num(FILE *out, double v)
{
    if (isfinite(v))
        fprintf(out, "%.17g", v);
    else
        fputs("null", out);
}

static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

gravrd_status gravrd_design_write_json(const gravrd_design_result *r, FILE *out, gravrd_error *err)
{
    fputs("{\"geography\": ", out);
    json_str(out, r->geography);
    fprintf(out, ", \"worlds\": %d, \"months\": %d, \"effect\": ", r->worlds, r->months);
    json_num(out, r->effect);
    fprintf(out, ", \"seed\": %llu, \"boot_reps\": %ld, \"ri_reps\": %ld, \"bandwidth_km\": ",
            (unsigned long long)r->seed, r->boot_reps, r->ri_reps);
    json_num(out, r->bandwidth_km);
    fputs(", \"mc_se\": ", out);
    json_num(out, r->mc_se);
    fputs(", \"models\": [", out);
    for (int m = 0; m < r->n_models; m++) {
        const gravrd_design_model *dm = &r->models[m];
        fputs(m ? ", {\"model\": " : "{\"model\": ", out);
        json_str(out, dm->name);
        fputs(", \"formula\": ", out);
        json_str(out, dm->formula);
        fputs(", \"subset\": \"direction == \\\"w2e\\\"\", \"mean_estimate\": ", out);
        json_num(out, dm->mean_estimate);
        fputs(", \"sd_estimate\": ", out);
        json_num(out, dm->sd_estimate);
        fputs(", \"mean_truth\": ", out);
        json_num(out, dm->mean_truth);
        fputs(", \"mean_null_estimate\": ", out);
        json_num(out, dm->mean_null_estimate);
        fputs(", \"methods\": [", out);
        for (int j = 0; j < dm->n_methods; j++) {
            const gravrd_design_method *d = &dm->methods[j];
            fputs(j ? ", {\"method\": " : "{\"method\": ", out);
            json_str(out, gravrd_inference_name(d->method));
            const char *keys[] = {"coverage", "null_rejection", "mean_length", "power", "mde"};
            const double vals[] = {d->coverage, d->null_rejection, d->mean_length, d->power, d->mde};
            for (int k = 0; k < 5; k++) {
                fprintf(out, ", \"%s\": ", keys[k]);
                json_num(out, vals[k]);
            }
            fputc('}', out);
        }
        fputs("], \"recommended\": ", out);
        json_str(out, gravrd_inference_name(dm->methods[dm->recommended].method));
        fprintf(out, ", \"recommended_nominal\": %s}", dm->recommended_nominal ? "true" : "false");
    }
    fputs("], \"seconds\": ", out);
    json_num(out, r->seconds);
    fputs("}\n", out);
    if (ferror(out))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "cannot write the design check");
    return GRAVRD_OK;
}

/* Draws the plot into g. */
static gravrd_status plot_layers(const gravrd_design_result *r, gravrd_svg *g, gravrd_error *err)
{
    static const char *const colours[] = {"#1f77b4", "#d62728"};
    static const char *const markers[] = {"circle", "square"};
    double x_hi = 0.12, y_lo = 0.85;
    for (int m = 0; m < r->n_models; m++)
        for (int j = 0; j < r->models[m].n_methods; j++) {
            x_hi = fmax(x_hi, r->models[m].methods[j].null_rejection + 0.03);
            y_lo = fmin(y_lo, r->models[m].methods[j].coverage - 0.03);
        }
    x_hi = fmin(1, x_hi);
    y_lo = fmax(0, y_lo);
    const double half = 1.96 * r->mc_se;
    gravrd_status st;
    char title[160];
    snprintf(title, sizeof title, "Can these intervals be trusted? %d simulated worlds of %d months", r->worlds,
             r->months);
    const double bx[] = {0.03, 0.07}, blo[] = {0.93, 0.93}, bhi[] = {0.97, 0.97};
    if ((st = gravrd_svg_title(g, title, err)) ||
        (st = gravrd_svg_axis_labels(g, "rejection rate of a true null at 5%", "coverage of the 95% interval",
                                     err)) ||
        (st = gravrd_svg_xlim(g, 0, x_hi, err)) || (st = gravrd_svg_ylim(g, y_lo, 1, err)) ||
        (st = gravrd_svg_legend_position(g, "bottom-left", err)) ||
        (st = gravrd_svg_band(g, 2, bx, blo, bhi,
                              &(gravrd_svg_style){.fill = "#2ca02c", .label = "nominal +- 0.02"}, err)) ||
        (st = gravrd_svg_hline(g, 0.95, &(gravrd_svg_style){.stroke = "#2ca02c", .dash = "4 3"}, err)) ||
        (st = gravrd_svg_vline(g, 0.05, &(gravrd_svg_style){.stroke = "#2ca02c", .dash = "4 3"}, err)))
        return st;
    for (int m = 0; m < r->n_models; m++) {
        const gravrd_design_model *dm = &r->models[m];
        for (int j = 0; j < dm->n_methods; j++) {
            const gravrd_design_method *d = &dm->methods[j];
            double x = d->null_rejection, y = d->coverage;
            const double x0[] = {x - half, x}, y0[] = {y, y - half}, x1[] = {x + half, x}, y1[] = {y, y + half};
            char label[64];
            snprintf(label, sizeof label, "%s%s", gravrd_inference_name(d->method), j == dm->recommended ? " *" : "");
            if ((st = gravrd_svg_segments(g, 2, x0, y0, x1, y1,
                                          &(gravrd_svg_style){.stroke = colours[m], .opacity = 0.5}, err)) ||
                (st = gravrd_svg_points(g, 1, &x, &y,
                                        &(gravrd_svg_style){.fill = colours[m], .marker = markers[m],
                                                            .radius = 4, .label = j ? NULL : model_title(dm)},
                                        err)) ||
                /* labels alternate above and below, so neighbours do not overlap */
                (st = gravrd_svg_text(g, x + 0.004, y + (j % 2 ? -0.008 : 0.004), label,
                                      &(gravrd_svg_style){.fill = colours[m], .anchor = "start", .font_size = 11},
                                      err)))
                return st;
        }
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_design_plot(const gravrd_design_result *r, const char *path, gravrd_error *err)
{
    gravrd_svg *g = gravrd_svg_new(720, 480);
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    gravrd_status st = plot_layers(r, g, err);
    size_t len = strlen(path) + 8;
    char *tmp = st ? NULL : malloc(len);
    if (!st && !tmp)
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    if (!st) {
        snprintf(tmp, len, "%s.tmp", path);
        if (!(st = gravrd_svg_save(g, tmp, err)) && rename(tmp, path)) {
            remove(tmp);
            st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write the plot", path);
        } else if (st) {
            remove(tmp);
        }
    }
    free(tmp);
    gravrd_svg_free(g);
    return st;
}
