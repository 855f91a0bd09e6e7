/* run_ri_figure.c - randomization inference for the study's headline: the
 * headline column's model refitted with the partnerships reassigned 999
 * times (program scheme, gravrd/ri.h), its p-value noted under the table
 * and the placebo distribution drawn as OUT/ri_headline.svg, a histogram
 * with the actual estimate marked. Runs right after the headline's table,
 * while its frame is still cached. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/svg.h"
#include "study/run.h"

#define HEADLINE_RI_REPS 999
#define HEADLINE_RI_BINS 40

/* The histogram of the placebo estimates with the actual one marked. */
static gravrd_status draw(const gravrd_ri_result *ri, double actual, const char *what, const char *path,
                          gravrd_error *err)
{
    double lo = actual, hi = actual;
    long n = 0;
    for (long b = 0; b < ri->reps; b++)
        if (isfinite(ri->placebo_coef_B[b])) {
            lo = fmin(lo, ri->placebo_coef_B[b]);
            hi = fmax(hi, ri->placebo_coef_B[b]);
            n++;
        }
    if (n == 0 || !(hi > lo))
        return GRAVRD_OK; /* nothing to draw */
    double pad = 0.05 * (hi - lo), width = (hi - lo + 2 * pad) / HEADLINE_RI_BINS;
    lo -= pad;
    long count[HEADLINE_RI_BINS] = {0}, top = 0;
    for (long b = 0; b < ri->reps; b++)
        if (isfinite(ri->placebo_coef_B[b])) {
            int k = (int)((ri->placebo_coef_B[b] - lo) / width);
            k = k < 0 ? 0 : k >= HEADLINE_RI_BINS ? HEADLINE_RI_BINS - 1 : k;
            if (++count[k] > top)
                top = count[k];
        }
    gravrd_svg *g = gravrd_svg_new(720, 420);
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    char title[512], label[400];
    snprintf(title, sizeof title, "Randomization inference: %s, %ld placebo partnerships (%s scheme), p = %.3f", what,
             ri->reps, ri->label, ri->p);
    snprintf(label, sizeof label, "actual estimate %.3f", actual);
    gravrd_status st = gravrd_svg_title(g, title, err);
    if (!st)
        st = gravrd_svg_axis_labels(g, "estimate with the partnerships reassigned", "placebo draws", err);
    if (!st)
        st = gravrd_svg_xlim(g, lo, lo + width * HEADLINE_RI_BINS, err);
    if (!st)
        st = gravrd_svg_ylim(g, 0, (double)top * 1.1, err);
    if (!st)
        st = gravrd_svg_legend_position(g, "top-right", err);
    int labelled = 0;
    for (int k = 0; k < HEADLINE_RI_BINS && !st; k++) {
        if (!count[k])
            continue;
        double x[2] = {lo + k * width, lo + (k + 1) * width}, y0[2] = {0, 0}, y1[2] = {(double)count[k],
                                                                                   (double)count[k]};
        st = gravrd_svg_band(g, 2, x, y0, y1,
                             &(gravrd_svg_style){.fill = "#7f9fbf", .opacity = 0.9,
                                                 .label = labelled ? NULL : "placebo estimates"},
                             err);
        labelled = 1;
    }
    if (!st)
        st = gravrd_svg_vline(g, actual, &(gravrd_svg_style){.stroke = "#c62828", .stroke_width = 2, .label = label},
                              err);
    size_t len = strlen(path) + 8;
    char *tmp = st ? NULL : malloc(len);
    if (!st && !tmp)
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    if (!st) {
        snprintf(tmp, len, "%s.tmp", path);
        st = gravrd_svg_save(g, tmp, err);
        if (!st && rename(tmp, path))
            st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write", path);
        if (st)
            remove(tmp);
    }
    free(tmp);
    gravrd_svg_free(g);
    return st;
}

gravrd_status run_headline_ri(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    const char *h = r->plan->study.headline, *s1 = h ? strchr(h, '/') : NULL, *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s2 || strncmp(h, tb->name, (size_t)(s1 - h)) || tb->name[s1 - h] || strcmp(s2 + 1, "partner"))
        return GRAVRD_OK; /* not the headline's table, or not the partnership indicator */
    const gravrd_plan_column *c = NULL;
    for (size_t i = 0; i < tb->n_columns && !c; i++)
        if (strlen(tb->columns[i].name) == (size_t)(s2 - s1 - 1) &&
            !strncmp(tb->columns[i].name, s1 + 1, (size_t)(s2 - s1 - 1)))
            c = &tb->columns[i];
    if (!c || c->level != GRAVRD_PLAN_LEVEL_FLOWS || !isnan(c->match_km))
        return GRAVRD_OK;
    gravrd_error e = {0};
    gravrd_study *study = NULL;
    const gravrd_frame *frame = NULL;
    gravrd_study_ri *ri = NULL;
    gravrd_reg_results *res = NULL;
    char **names = NULL;
    size_t n_names = 0;
    gravrd_eval_env env;
    gravrd_reg_options ro;
    gravrd_reg_options_init(&ro);
    ro.subset = c->sample.subset;
    ro.cluster = c->cluster;
    ro.threads = r->opt->threads;
    gravrd_status st = rep_get_study(r, c->bandwidth, &study, &e);
    if (!st) {
        gravrd_study_env(study, &env);
        ro.env = &env;
        st = gravrd_reg_variables(c->formula, &ro, &names, &n_names, &e);
    }
    if (!st)
        st = rep_flow_frame(r, c->bandwidth, names, n_names, &frame, &e);
    if (!st)
        st = gravrd_study_ri_new(study, frame, GRAVRD_RI_PROGRAM, 1, &ri, &e);
    if (!st) {
        ro.cache = rep_reg_cache(r, frame);
        ro.ri.reps = HEADLINE_RI_REPS;
        ro.ri.term = "partner";
        ro.ri.draw = gravrd_study_ri_draw;
        ro.ri.user = ri;
        ro.ri.label = gravrd_ri_scheme_name(GRAVRD_RI_PROGRAM);
        ro.ri.seed = 1;
        st = gravrd_reg(frame, c->formula, &ro, &res, &e);
    }
    const gravrd_coef *cf = NULL;
    for (int k = 0; !st && k < res->results[0].n_coef && !cf; k++)
        if (!strcmp(res->results[0].coefs[k].name, "partner") && res->results[0].coefs[k].ri)
            cf = &res->results[0].coefs[k];
    char note[GRAVRD_ERROR_MSG_LEN + 160];
    if (st == GRAVRD_ERR_NOMEM) {
        *err = e;
    } else if (st || !cf) {
        snprintf(note, sizeof note, "Randomization inference for the headline (%s) could not be computed: %s", h,
                 st ? e.message : "partner was not estimated");
        st = rep_add_note(out, note) ? gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory") : GRAVRD_OK;
    } else {
        snprintf(note, sizeof note,
                 "Randomization inference for the headline (%s): p = %.3f on the coefficient and %.3f on its t "
                 "statistic over %ld placebo partnerships (program scheme), 95%% interval [%.3f, %.3f]; "
                 "figure ri_headline.svg.",
                 h, cf->ri->p, cf->ri->p_t, cf->ri->reps, cf->ri->ci_lo, cf->ri->ci_hi);
        st = rep_add_note(out, note) ? gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory") : GRAVRD_OK;
        if (!st && r->opt->out_dir) {
            char *path = plan_format("%s/ri_headline.svg", r->opt->out_dir), what[160];
            snprintf(what, sizeof what, "%s, %s", c->outcome_expr, c->sample.name);
            st = path ? draw(cf->ri, cf->estimate, what, path, err)
                      : gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            free(path);
        }
    }
    gravrd_reg_results_free(res);
    gravrd_study_ri_free(ri);
    gravrd_strings_free(names, n_names);
    return st;
}
