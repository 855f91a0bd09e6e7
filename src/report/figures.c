/* figures.c - gravrd_report_figures (gravrd/figures.h): writes Figure 1
 * (figure1.c), Figure 2 (figure2.c) and the RD plots into an output folder
 * with a figures.json index. */
#include "gravrd/figures.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/rd.h"
#include "report/figures_internal.h"
#include "util/strutil.h"

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
        return fig_nomem(err);
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        fig_entry *ni = realloc(l->items, cap * sizeof *ni);
        if (!ni) {
            free(title);
            free(caption);
            free(numbers);
            return fig_nomem(err);
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
        return fig_nomem(err);
    l->warnings = w;
    if (!(w[l->n_warnings] = gravrd_strdup(msg)))
        return fig_nomem(err);
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
        return fig_nomem(err);
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
            st = fig_nomem(err);
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
            return fig_nomem(err);
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
            return fig_nomem(err);
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
            if ((st = fig_expr_names(rd_outcome, "RD outcome", &names, &n_names, err)) ||
                (st = fig_fe_names(GRAVRD_RD_DEFAULT_FE, &names, &n_names, err)) ||
                (st = fig_add_name(&names, &n_names, "e2w", err)) || (st = fig_add_name(&names, &n_names, "w2e", err)))
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
            st = fig_nomem(err);
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
