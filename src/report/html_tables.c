/* html_tables.c - the tables of the HTML report: one <section class="tbl">
 * per table of replication.json, rendered from the table's JSON
 * (docs/study-file.md, "Table JSON") by kind: regression (also balance,
 * match, rd), summary, mediation, numbers. Each estimate shows our number,
 * the paper's published number and, when present, the planted truth with a
 * tick or a cross. */
#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html_tables.h"
#include "html_util.h"

#define TICK "&#10003;"  /* check mark */
#define CROSS "&#10007;" /* ballot x */

/* ---- small helpers ---- */

static int str_eq(const char *a, const char *b)
{
    return a && b && !strcmp(a, b);
}

static void write_num_cell(FILE *out, double v, int decimals)
{
    char b[64];
    fputs("<td>", out);
    fputs(hfmt(b, v, decimals), out);
    fputs("</td>", out);
}

/* Coefficient key of a coefficient object: "key", else "name". */
static const char *coef_key(const json_t *c)
{
    const char *k = jr_str(c, "key");
    return k ? k : jr_str(c, "name");
}

static const json_t *find_coef(const json_t *col, const char *key)
{
    const json_t *cs = jr_arr(col, "coefficients");
    for (size_t i = 0; cs && i < json_array_size(cs); i++)
        if (str_eq(coef_key(json_array_get(cs, i)), key))
            return json_array_get(cs, i);
    return NULL;
}

/* 1 / 0 whether the truth lies in the interval, -1 unknown. Prefers the
 * interval [ci_lo, ci_hi]; else the table's truth_in_ci. */
static int truth_in(const json_t *c, double truth)
{
    double lo = jr_num(c, "ci_lo"), hi = jr_num(c, "ci_hi");
    if (isfinite(truth) && isfinite(lo) && isfinite(hi))
        return lo <= truth && truth <= hi;
    return jr_bool(c, "truth_in_ci");
}

/* Distinct strings in order of first appearance (pointers into the JSON). */
typedef struct {
    const char **s;
    size_t n, cap;
} str_set;

static int set_add(str_set *set, const char *s)
{
    if (!s)
        return 0;
    for (size_t i = 0; i < set->n; i++)
        if (!strcmp(set->s[i], s))
            return 0;
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 16;
        const char **ns = realloc(set->s, cap * sizeof *ns);
        if (!ns)
            return -1;
        set->s = ns;
        set->cap = cap;
    }
    set->s[set->n++] = s;
    return 0;
}

/* The printed name of a column's control i: control_labels[i] when
 * present, else controls[i]. */
static const char *control_name(const json_t *col, size_t i)
{
    const json_t *ctl = jr_arr(col, "controls"), *lab = jr_arr(col, "control_labels");
    if (lab && i < json_array_size(lab) && json_is_string(json_array_get(lab, i)))
        return json_string_value(json_array_get(lab, i));
    if (ctl && i < json_array_size(ctl) && json_is_string(json_array_get(ctl, i)))
        return json_string_value(json_array_get(ctl, i));
    return NULL;
}

static int has_control(const json_t *col, const char *name)
{
    const json_t *ctl = jr_arr(col, "controls");
    for (size_t i = 0; ctl && i < json_array_size(ctl); i++)
        if (str_eq(control_name(col, i), name))
            return 1;
    return 0;
}

/* A published estimate (number) or range ([low, high]) of a coefficient. */
static int published_range(const json_t *pub, double *lo, double *hi)
{
    const json_t *r = json_is_object(pub) ? jr_arr(pub, "range") : NULL;
    if (!r || json_array_size(r) != 2 || !json_is_number(json_array_get(r, 0)) || !json_is_number(json_array_get(r, 1)))
        return 0;
    *lo = json_number_value(json_array_get(r, 0));
    *hi = json_number_value(json_array_get(r, 1));
    return 1;
}

static int in_str_array(const json_t *arr, const char *s)
{
    for (size_t i = 0; arr && i < json_array_size(arr); i++)
        if (json_is_string(json_array_get(arr, i)) && !strcmp(json_string_value(json_array_get(arr, i)), s))
            return 1;
    return 0;
}

/* ---- kind regression / balance / match / rd ---- */

typedef struct {
    const json_t **cols;
    size_t n;
} col_group;

/* A header row of spanning cells: runs of equal `key` values. */
static void header_span_row(FILE *out, const col_group *g, const char *key, const char *cls)
{
    int any = 0;
    for (size_t j = 0; j < g->n; j++)
        if (jr_str(g->cols[j], key))
            any = 1;
    if (!any)
        return;
    fprintf(out, "<tr class=\"%s\"><th></th><th></th>", cls);
    size_t j = 0;
    while (j < g->n) {
        const char *v = jr_str(g->cols[j], key);
        size_t k = j + 1;
        while (k < g->n && ((v == NULL && jr_str(g->cols[k], key) == NULL) || str_eq(v, jr_str(g->cols[k], key))))
            k++;
        fprintf(out, "<th colspan=\"%zu\">", k - j);
        html_esc(out, v ? v : "");
        fputs("</th>", out);
        j = k;
    }
    fputs("</tr>\n", out);
}

static void estimate_cell(FILE *out, const json_t *col, const json_t *c)
{
    char b[64];
    if (jr_str(col, "error")) {
        fputs("<td class=\"fail\" title=\"", out);
        html_esc(out, jr_str(col, "error"));
        fputs("\">failed</td>", out);
        return;
    }
    if (!c) {
        fputs("<td></td>", out);
        return;
    }
    double est = jr_num(c, "estimate");
    fprintf(out, "<td>%s<sup class=\"stars\">%s</sup></td>", hfmt(b, est, 3), isfinite(est) ? hstars(jr_num(c, "p")) : "");
}

static void regression_group(FILE *out, const json_t *table, const col_group *g, int show_truth,
                             gravrd_html_summary *sum, int *ok)
{
    const int is_rd = str_eq(jr_str(table, "kind"), "rd");
    str_set keys = {0}, controls = {0}, fes = {0};
    for (size_t j = 0; j < g->n; j++) {
        const json_t *cs = jr_arr(g->cols[j], "coefficients");
        for (size_t i = 0; cs && i < json_array_size(cs); i++)
            if (set_add(&keys, coef_key(json_array_get(cs, i))))
                *ok = 0;
        const json_t *ctl = jr_arr(g->cols[j], "controls");
        for (size_t i = 0; ctl && i < json_array_size(ctl); i++)
            if (set_add(&controls, control_name(g->cols[j], i)))
                *ok = 0;
        const json_t *fl = jr_arr(g->cols[j], "fe_labels");
        if (!fl || !json_array_size(fl))
            fl = jr_arr(g->cols[j], "fe");
        for (size_t i = 0; fl && i < json_array_size(fl); i++)
            if (json_is_string(json_array_get(fl, i)) && set_add(&fes, json_string_value(json_array_get(fl, i))))
                *ok = 0;
    }
    fputs("<div class=\"scroll\"><table class=\"result\">\n<thead>\n", out);
    header_span_row(out, g, "group", "grp");
    /* the sample row, unless every column's label already is its sample */
    int sample_is_label = 1;
    for (size_t j = 0; j < g->n; j++)
        if (!str_eq(jr_str(g->cols[j], "sample_label"), jr_str(g->cols[j], "label")))
            sample_is_label = 0;
    if (!sample_is_label)
        header_span_row(out, g, "sample_label", "smp");
    fputs("<tr class=\"lab\"><th></th><th></th>", out);
    for (size_t j = 0; j < g->n; j++) {
        const char *label = jr_str(g->cols[j], "label"), *formula = jr_str(g->cols[j], "formula");
        fputs("<th", out);
        if (formula) {
            fputs(" title=\"", out);
            html_esc(out, formula);
            if (jr_str(g->cols[j], "subset")) {
                fputs(" [subset: ", out);
                html_esc(out, jr_str(g->cols[j], "subset"));
                fputs("]", out);
            }
            fputs("\"", out);
        }
        fputs(">", out);
        html_esc(out, label ? label : jr_str(g->cols[j], "name"));
        fputs("</th>", out);
    }
    fputs("</tr>\n</thead>\n<tbody>\n", out);
    char b[64], b2[64];
    for (size_t r = 0; r < keys.n; r++) {
        const char *key = keys.s[r], *name = NULL;
        int any_pub = 0, any_truth = 0, any_bc = 0;
        const char *alt_method = NULL; /* the study's `inference` method, when the row has one */
        for (size_t j = 0; j < g->n; j++) {
            const json_t *c = find_coef(g->cols[j], key);
            if (!c)
                continue;
            if (!name)
                name = jr_str(c, "name");
            const json_t *pub = jr_get(c, "published");
            double rlo, rhi;
            if (json_is_object(pub) && (isfinite(jr_num(pub, "estimate")) || published_range(pub, &rlo, &rhi)))
                any_pub = 1;
            if (show_truth && isfinite(jr_num(c, "truth")))
                any_truth = 1;
            if (is_rd && isfinite(jr_num(c, "estimate_bc")))
                any_bc = 1;
            if (!alt_method && jr_get(c, "inference"))
                alt_method = jr_str(jr_get(c, "inference"), "method");
        }
        int n_sub = 2 + any_pub + any_truth + any_bc + (alt_method != NULL);
        fprintf(out, "<tr class=\"est\"><th class=\"row\" rowspan=\"%d\"", n_sub);
        if (name && strcmp(name, key)) {
            fputs(" title=\"", out);
            html_esc(out, key);
            fputs("\"", out);
        }
        fputs(">", out);
        html_esc(out, name ? name : key);
        fputs("</th><td class=\"src\">gravrd</td>", out);
        for (size_t j = 0; j < g->n; j++)
            estimate_cell(out, g->cols[j], find_coef(g->cols[j], key));
        fputs("</tr>\n<tr class=\"se\"><td class=\"src\"></td>", out);
        for (size_t j = 0; j < g->n; j++) {
            const json_t *c = find_coef(g->cols[j], key);
            double se = c ? jr_num(c, "se") : NAN;
            if (isfinite(se))
                fprintf(out, "<td>(%s)</td>", hfmt(b, se, 3));
            else
                fputs("<td></td>", out);
        }
        fputs("</tr>\n", out);
        if (alt_method) {
            /* the study's `inference` method beside the clustered result */
            fputs("<tr class=\"alt\"><td class=\"src\">", out);
            html_esc(out, alt_method);
            fputs("</td>", out);
            for (size_t j = 0; j < g->n; j++) {
                const json_t *c = find_coef(g->cols[j], key), *inf = c ? jr_get(c, "inference") : NULL;
                const json_t *ci = inf ? jr_get(inf, "ci") : NULL;
                double p = inf ? jr_num(inf, "p") : NAN;
                double lo = json_is_array(ci) ? json_number_value(json_array_get(ci, 0)) : NAN;
                double hi = json_is_array(ci) ? json_number_value(json_array_get(ci, 1)) : NAN;
                if (!isfinite(p)) {
                    fputs("<td></td>", out);
                    continue;
                }
                fprintf(out, "<td title=\"p-value and 95%% interval with %s inference\">p %s [", alt_method,
                        hfmt(b, p, 3));
                fprintf(out, "%s, ", hfmt(b, lo, 3));
                fprintf(out, "%s]</td>", hfmt(b2, hi, 3));
            }
            fputs("</tr>\n", out);
        }
        if (any_pub) {
            fputs("<tr class=\"paper\"><td class=\"src\">paper</td>", out);
            for (size_t j = 0; j < g->n; j++) {
                const json_t *c = find_coef(g->cols[j], key), *pub = c ? jr_get(c, "published") : NULL;
                double pe = pub ? jr_num(pub, "estimate") : NAN, ps = pub ? jr_num(pub, "se") : NAN, rlo, rhi;
                if (isfinite(pe)) {
                    sum->published++;
                    fprintf(out, "<td>%s", hfmt(b, pe, 3));
                    if (isfinite(ps))
                        fprintf(out, " (%s)", hfmt(b2, ps, 3));
                    fputs("</td>", out);
                } else if (published_range(pub, &rlo, &rhi)) {
                    sum->published++;
                    fprintf(out, "<td title=\"the paper gives a range\">%s to ", hfmt(b, rlo, 3));
                    fprintf(out, "%s</td>", hfmt(b2, rhi, 3));
                } else
                    fputs("<td></td>", out);
            }
            fputs("</tr>\n", out);
        }
        if (any_truth) {
            fputs("<tr class=\"truth\"><td class=\"src\">truth</td>", out);
            for (size_t j = 0; j < g->n; j++) {
                const json_t *c = find_coef(g->cols[j], key);
                double tv = c ? jr_num(c, "truth") : NAN;
                if (!isfinite(tv)) {
                    fputs("<td></td>", out);
                    continue;
                }
                int in = jr_str(g->cols[j], "error") ? -1 : truth_in(c, tv);
                if (in >= 0) {
                    sum->truth_checked++;
                    sum->truth_covered += in == 1;
                }
                double lo = jr_num(c, "ci_lo"), hi = jr_num(c, "ci_hi");
                fprintf(out, "<td class=\"%s\"", in == 1 ? "in" : in == 0 ? "out" : "unk");
                if (isfinite(lo) && isfinite(hi))
                    fprintf(out, " title=\"95%% interval [%s, %s]\"", hfmt(b, lo, 4), hfmt(b2, hi, 4));
                fprintf(out, ">%s <span class=\"mark\">%s</span></td>", hfmt(b, tv, 3),
                        in == 1 ? TICK : in == 0 ? CROSS : "?");
            }
            fputs("</tr>\n", out);
        }
        if (any_bc) {
            fputs("<tr class=\"bc\"><td class=\"src\">robust</td>", out);
            for (size_t j = 0; j < g->n; j++) {
                const json_t *c = find_coef(g->cols[j], key);
                double e = c ? jr_num(c, "estimate_bc") : NAN;
                if (!isfinite(e)) {
                    fputs("<td></td>", out);
                    continue;
                }
                fprintf(out, "<td title=\"bias-corrected estimate and robust 95%% interval\">%s [%s, ", hfmt(b, e, 3),
                        hfmt(b2, jr_num(c, "ci_lo_robust"), 3));
                fprintf(out, "%s]</td>", hfmt(b, jr_num(c, "ci_hi_robust"), 3));
            }
            fputs("</tr>\n", out);
        }
    }
    /* controls and fixed effects as Yes rows */
    for (size_t r = 0; r < controls.n; r++) {
        fputs("<tr class=\"yes first\"><th class=\"row\" colspan=\"2\">", out);
        html_esc(out, controls.s[r]);
        fputs("</th>", out);
        for (size_t j = 0; j < g->n; j++)
            fprintf(out, "<td>%s</td>", has_control(g->cols[j], controls.s[r]) ? "Yes" : "");
        fputs("</tr>\n", out);
    }
    for (size_t r = 0; r < fes.n; r++) {
        fprintf(out, "<tr class=\"yes%s\"><th class=\"row\" colspan=\"2\">", r == 0 && !controls.n ? " first" : "");
        html_esc(out, fes.s[r]);
        fputs("</th>", out);
        for (size_t j = 0; j < g->n; j++) {
            const json_t *fl = jr_arr(g->cols[j], "fe_labels");
            if (!fl || !json_array_size(fl))
                fl = jr_arr(g->cols[j], "fe");
            fprintf(out, "<td>%s</td>", in_str_array(fl, fes.s[r]) ? "Yes" : "");
        }
        fputs("</tr>\n", out);
    }
    /* statistics, each with the published value beneath when there is one */
    static const struct {
        const char *key, *pub_key, *label;
        int decimals;
    } stats[] = {
        {"bandwidth_km", NULL, "Segment bandwidth (km)", 0},
        {"nobs", "nobs", "Observations", 0},
        {"adj_r2", "adj_r2", "Adjusted R\xc2\xb2", 3},
        {"wald_f", "f", "F", 2},
        {"n_clusters", NULL, "Clusters", 0},
    };
    for (size_t s = 0; s < sizeof stats / sizeof stats[0]; s++) {
        int any = 0, any_pub = 0;
        for (size_t j = 0; j < g->n; j++) {
            if (isfinite(jr_num(g->cols[j], stats[s].key)))
                any = 1;
            const json_t *pub = jr_get(g->cols[j], "published");
            if (stats[s].pub_key && json_is_object(pub) && isfinite(jr_num(pub, stats[s].pub_key)))
                any_pub = 1;
        }
        if (!any && !any_pub)
            continue;
        fprintf(out, "<tr class=\"stat%s\"><th class=\"row\" rowspan=\"%d\">%s</th><td class=\"src\">gravrd</td>",
                s == 0 || (s == 1 && !any) ? " first" : "", 1 + any_pub, stats[s].label);
        for (size_t j = 0; j < g->n; j++)
            write_num_cell(out, jr_num(g->cols[j], stats[s].key), stats[s].decimals);
        fputs("</tr>\n", out);
        if (any_pub) {
            fputs("<tr class=\"paper\"><td class=\"src\">paper</td>", out);
            for (size_t j = 0; j < g->n; j++) {
                const json_t *pub = jr_get(g->cols[j], "published");
                write_num_cell(out, json_is_object(pub) ? jr_num(pub, stats[s].pub_key) : NAN,
                               stats[s].decimals);
            }
            fputs("</tr>\n", out);
        }
    }
    int any_vcov = 0;
    for (size_t j = 0; j < g->n; j++)
        any_vcov |= jr_str(g->cols[j], "vcov") != NULL;
    if (any_vcov) {
        fputs("<tr class=\"small\"><th class=\"row\" colspan=\"2\">Standard errors</th>", out);
        for (size_t j = 0; j < g->n; j++) {
            fputs("<td>", out);
            html_esc(out, jr_str(g->cols[j], "vcov"));
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table></div>\n", out);
    free(keys.s);
    free(controls.s);
    free(fes.s);
}

static int render_regression(FILE *out, const json_t *table, int show_truth, gravrd_html_summary *sum)
{
    const json_t *cols = jr_arr(table, "columns"), *panels = jr_arr(table, "panels");
    if (!cols || !json_array_size(cols)) {
        fputs("<p class=\"err\">This table has no columns.</p>\n", out);
        return 0;
    }
    int ok = 1;
    col_group g = {calloc(json_array_size(cols), sizeof(json_t *)), 0};
    if (!g.cols)
        return 0;
    unsigned char *used = calloc(json_array_size(cols), 1);
    if (!used) {
        free(g.cols);
        return 0;
    }
    for (size_t p = 0; panels && p <= json_array_size(panels); p++) {
        /* panel p, then (p == n) the columns of no listed panel */
        const char *pname = p < json_array_size(panels) ? jr_str(json_array_get(panels, p), "name") : NULL;
        g.n = 0;
        for (size_t j = 0; j < json_array_size(cols); j++) {
            if (used[j])
                continue;
            if (p < json_array_size(panels) ? str_eq(jr_str(json_array_get(cols, j), "panel"), pname) : 1) {
                g.cols[g.n++] = json_array_get(cols, j);
                used[j] = 1;
            }
        }
        if (!g.n)
            continue;
        if (p < json_array_size(panels)) {
            const char *ptitle = jr_str(json_array_get(panels, p), "title");
            fputs("<h4 class=\"panel\">", out);
            if (ptitle && !strncmp(ptitle, "Panel ", 6))
                html_esc(out, ptitle); /* the title names the panel itself */
            else {
                fputs("Panel ", out);
                html_esc(out, pname ? pname : "");
                if (ptitle) {
                    fputs(": ", out);
                    html_esc(out, ptitle);
                }
            }
            fputs("</h4>\n", out);
        }
        regression_group(out, table, &g, show_truth, sum, &ok);
    }
    if (!panels) {
        g.n = 0;
        for (size_t j = 0; j < json_array_size(cols); j++)
            g.cols[g.n++] = json_array_get(cols, j);
        regression_group(out, table, &g, show_truth, sum, &ok);
    }
    free(used);
    free(g.cols);
    return ok;
}

/* ---- kind summary ---- */

static int render_summary(FILE *out, const json_t *table, gravrd_html_summary *sum)
{
    const json_t *rows = jr_arr(table, "rows"), *panels = jr_arr(table, "panels");
    if (!rows || !json_array_size(rows)) {
        fputs("<p class=\"err\">This table has no rows.</p>\n", out);
        return 0;
    }
    static const char *const stat_keys[] = {"n", "mean", "sd", "min", "p25", "p50", "p75", "max"};
    fputs("<div class=\"scroll\"><table class=\"result summary\">\n<thead><tr><th>Variable</th><th>Sample</th>"
          "<th></th><th>Observations</th><th>Mean</th><th>SD</th><th>Min</th><th>P25</th><th>P50</th><th>P75</th>"
          "<th>Max</th></tr></thead>\n<tbody>\n",
          out);
    const char *last_panel = NULL;
    char b[64];
    for (size_t r = 0; r < json_array_size(rows); r++) {
        const json_t *row = json_array_get(rows, r);
        const char *panel = jr_str(row, "panel");
        if (panel && !str_eq(panel, last_panel)) {
            const char *ptitle = NULL;
            for (size_t p = 0; panels && p < json_array_size(panels); p++)
                if (str_eq(jr_str(json_array_get(panels, p), "name"), panel))
                    ptitle = jr_str(json_array_get(panels, p), "title");
            fputs("<tr class=\"panelrow\"><th colspan=\"11\">Panel ", out);
            html_esc(out, panel);
            if (ptitle) {
                fputs(": ", out);
                html_esc(out, ptitle);
            }
            fputs("</th></tr>\n", out);
            last_panel = panel;
        }
        const json_t *pub = jr_arr(row, "published");
        int has_pub = pub && json_array_size(pub) == 8;
        const char *label = jr_str(row, "label");
        fprintf(out, "<tr class=\"est first\"><th class=\"row\" rowspan=\"%d\"", 1 + has_pub);
        if (jr_str(row, "variable")) {
            fputs(" title=\"", out);
            html_esc(out, jr_str(row, "variable"));
            if (jr_str(row, "level")) {
                fputs(" (level: ", out);
                html_esc(out, jr_str(row, "level"));
                fputs(")", out);
            }
            fputs("\"", out);
        }
        fputs(">", out);
        html_esc(out, label ? label : jr_str(row, "variable"));
        fprintf(out, "</th><td rowspan=\"%d\">", 1 + has_pub);
        html_esc(out, jr_str(row, "sample_label") ? jr_str(row, "sample_label") : jr_str(row, "sample"));
        fputs("</td><td class=\"src\">gravrd</td>", out);
        for (int k = 0; k < 8; k++)
            fprintf(out, "<td>%s</td>", hfmt_stat(b, jr_num(row, stat_keys[k])));
        fputs("</tr>\n", out);
        if (has_pub) {
            sum->published++;
            fputs("<tr class=\"paper\"><td class=\"src\">paper</td>", out);
            for (int k = 0; k < 8; k++)
                fprintf(out, "<td>%s</td>", hfmt_stat(b, jr_number(json_array_get(pub, (size_t)k))));
            fputs("</tr>\n", out);
        }
    }
    fputs("</tbody></table></div>\n", out);
    return 1;
}

/* ---- kind mediation ---- */

static int render_mediation(FILE *out, const json_t *table, int show_truth, gravrd_html_summary *sum)
{
    const json_t *tests = jr_arr(table, "tests");
    if (!tests || !json_array_size(tests)) {
        fputs("<p class=\"err\">This table has no tests.</p>\n", out);
        return 0;
    }
    int any_boot = 0, any_truth = 0;
    for (size_t i = 0; i < json_array_size(tests); i++) {
        any_boot |= jr_num(json_array_get(tests, i), "bootstrap_reps") > 0;
        any_truth |= show_truth && isfinite(jr_num(json_array_get(tests, i), "truth"));
    }
    fputs("<div class=\"scroll\"><table class=\"result mediation\">\n<thead><tr><th>Mediator</th><th>Coefficient</th>"
          "<th>Without mediator</th><th>With mediator</th><th>Difference</th><th>S.E.</th><th>p</th>",
          out);
    if (any_boot)
        fputs("<th>Bootstrap S.E.</th><th>Bootstrap p</th>", out);
    if (any_truth)
        fputs("<th>truth</th>", out);
    fputs("<th>Clusters</th><th>Observations</th></tr></thead>\n<tbody>\n", out);
    char b[64], b2[64];
    for (size_t i = 0; i < json_array_size(tests); i++) {
        const json_t *t = json_array_get(tests, i);
        fputs("<tr class=\"first\"><th class=\"row\">", out);
        html_esc(out, jr_str(t, "label"));
        fputs("</th><td>", out);
        html_esc(out, jr_str(t, "coefficient"));
        fputs("</td>", out);
        const json_t *pub = jr_get(t, "published");
        double pb = json_is_object(pub) ? jr_num(pub, "base") : NAN;
        double pm = json_is_object(pub) ? jr_num(pub, "mediated") : NAN;
        if (jr_str(t, "error")) {
            fprintf(out, "<td class=\"fail\" colspan=\"%d\">failed: ", 5 + 2 * any_boot + any_truth + 2);
            html_esc(out, jr_str(t, "error"));
            fputs("</td></tr>\n", out);
            continue;
        }
        /* ours, with the paper's estimates beneath when published */
        fprintf(out, "<td>%s", hfmt(b, jr_num(t, "base_estimate"), 3));
        if (isfinite(pb)) {
            sum->published++;
            fprintf(out, "<br><span class=\"pub\">paper %s</span>", hfmt(b2, pb, 3));
        }
        fprintf(out, "</td><td>%s", hfmt(b, jr_num(t, "mediated_estimate"), 3));
        if (isfinite(pm)) {
            sum->published++;
            fprintf(out, "<br><span class=\"pub\">paper %s</span>", hfmt(b2, pm, 3));
        }
        fputs("</td>", out);
        double d = jr_num(t, "difference"), se = jr_num(t, "se"), p = jr_num(t, "p");
        fprintf(out, "<td>%s<sup class=\"stars\">%s</sup>", hfmt(b, d, 4), isfinite(d) ? hstars(p) : "");
        if (isfinite(pb) && isfinite(pm))
            fprintf(out, "<br><span class=\"pub\">paper %s</span>", hfmt(b2, pb - pm, 3));
        fputs("</td>", out);
        write_num_cell(out, se, 4);
        write_num_cell(out, p, 4);
        if (any_boot) {
            write_num_cell(out, jr_num(t, "bootstrap_se"), 4);
            write_num_cell(out, jr_num(t, "bootstrap_p"), 4);
        }
        if (any_truth) {
            double tv = jr_num(t, "truth");
            if (!isfinite(tv))
                fputs("<td></td>", out);
            else {
                double G = jr_num(t, "n_clusters");
                double crit = isfinite(G) && G > 1 ? gsl_cdf_tdist_Pinv(0.975, G - 1) : 1.959963984540054;
                int in = isfinite(d) && isfinite(se) ? fabs(tv - d) <= crit * se : -1;
                if (in >= 0) {
                    sum->truth_checked++;
                    sum->truth_covered += in == 1;
                }
                fprintf(out, "<td class=\"%s\" title=\"95%% interval [%s, ", in == 1 ? "in" : in == 0 ? "out" : "unk",
                        hfmt(b, d - crit * se, 4));
                fprintf(out, "%s]\">%s <span class=\"mark\">%s</span></td>", hfmt(b, d + crit * se, 4),
                        hfmt(b2, tv, 4), in == 1 ? TICK : in == 0 ? CROSS : "?");
            }
        }
        write_num_cell(out, jr_num(t, "n_clusters"), 0);
        write_num_cell(out, jr_num(t, "nobs"), 0);
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table></div>\n", out);
    return 1;
}

/* ---- kind numbers ---- */

static void value_cell(FILE *out, const json_t *v, const char *unit)
{
    char b[64], b2[64];
    int share = str_eq(unit, "share");
    if (json_is_number(v)) {
        if (share)
            fprintf(out, "<td>%s%%</td>", hfmt(b, 100 * json_number_value(v), 1));
        else
            fprintf(out, "<td>%s</td>", hfmt_stat(b, json_number_value(v)));
    } else if (json_is_array(v) && json_array_size(v) == 2 && json_is_number(json_array_get(v, 0)) &&
               json_is_number(json_array_get(v, 1))) {
        if (share)
            fprintf(out, "<td>%s%% to %s%%</td>", hfmt(b, 100 * json_number_value(json_array_get(v, 0)), 1),
                    hfmt(b2, 100 * json_number_value(json_array_get(v, 1)), 1));
        else
            fprintf(out, "<td>%s to %s</td>", hfmt_stat(b, json_number_value(json_array_get(v, 0))),
                    hfmt_stat(b2, json_number_value(json_array_get(v, 1))));
    } else
        fputs("<td></td>", out);
}

static int render_numbers(FILE *out, const json_t *table, int show_truth, gravrd_html_summary *sum)
{
    const json_t *items = jr_arr(table, "items");
    if (!items || !json_array_size(items)) {
        fputs("<p class=\"err\">This table has no items.</p>\n", out);
        return 0;
    }
    int any_truth = 0;
    for (size_t i = 0; i < json_array_size(items); i++)
        any_truth |= show_truth && jr_get(json_array_get(items, i), "truth") &&
                     !json_is_null(jr_get(json_array_get(items, i), "truth"));
    fputs("<div class=\"scroll\"><table class=\"result numbers\">\n<thead><tr><th>Number</th><th>gravrd</th>"
          "<th>paper</th>",
          out);
    if (any_truth)
        fputs("<th>truth</th>", out);
    fputs("<th>Unit</th><th>Computed as</th></tr></thead>\n<tbody>\n", out);
    for (size_t i = 0; i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        const char *unit = jr_str(it, "unit");
        fputs("<tr class=\"first\"><th class=\"row\"", out);
        if (jr_str(it, "name")) {
            fputs(" title=\"", out);
            html_esc(out, jr_str(it, "name"));
            fputs("\"", out);
        }
        fputs(">", out);
        html_esc(out, jr_str(it, "label") ? jr_str(it, "label") : jr_str(it, "name"));
        fputs("</th>", out);
        value_cell(out, jr_get(it, "value"), unit);
        const json_t *pub = jr_get(it, "published");
        if (pub && !json_is_null(pub))
            sum->published++;
        value_cell(out, pub, unit);
        if (any_truth)
            value_cell(out, jr_get(it, "truth"), unit);
        fputs("<td>", out);
        html_esc(out, unit);
        fputs("</td><td class=\"small\">", out);
        html_esc(out, jr_str(it, "formula"));
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table></div>\n", out);
    return 1;
}

/* ---- the section ---- */

static void md_fallback(FILE *out, const char *out_dir, const char *md_file)
{
    if (!md_file)
        return;
    size_t len = strlen(out_dir) + strlen(md_file) + 2;
    char *path = malloc(len);
    if (!path)
        return;
    snprintf(path, len, "%s/%s", out_dir, md_file);
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return;
    fputs("<pre class=\"md\">", out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf - 1, f)) > 0) {
        buf[n] = 0;
        /* NUL bytes inside would cut the escape short; Markdown has none */
        html_esc(out, buf);
    }
    fclose(f);
    fputs("</pre>\n", out);
}

int html_table_section(FILE *out, const char *out_dir, const json_t *entry, const json_t *table,
                       const char *load_error, int show_truth, gravrd_html_summary *sum)
{
    const json_t *src = table ? table : entry;
    const char *name = jr_str(src, "name"), *title = jr_str(src, "title"), *paper = jr_str(src, "paper");
    const char *kind = jr_str(src, "kind");
    if (!name && entry)
        name = jr_str(entry, "name");
    const char *status = entry && jr_str(entry, "status") ? jr_str(entry, "status") : jr_str(table, "status");
    const json_t *files = entry ? jr_get(entry, "files") : NULL;

    /* render into a memory buffer first: the section's state attribute
     * depends on how rendering went */
    char *body = NULL;
    size_t body_len = 0;
    FILE *b = open_memstream(&body, &body_len);
    if (!b)
        return 0;
    int rendered = 0;
    if (!table) {
        fputs("<p class=\"err\">", b);
        html_esc(b, load_error ? load_error : "the table's JSON file is missing");
        fputs("</p>\n", b);
    } else if (str_eq(kind, "regression") || str_eq(kind, "balance") || str_eq(kind, "match") || str_eq(kind, "rd"))
        rendered = render_regression(b, table, show_truth, sum);
    else if (str_eq(kind, "summary"))
        rendered = render_summary(b, table, sum);
    else if (str_eq(kind, "mediation"))
        rendered = render_mediation(b, table, show_truth, sum);
    else if (str_eq(kind, "numbers"))
        rendered = render_numbers(b, table, show_truth, sum);
    else {
        fputs("<p class=\"err\">Unknown table kind '", b);
        html_esc(b, kind ? kind : "(none)");
        fputs("'; its Markdown file follows.</p>\n", b);
        md_fallback(b, out_dir, files ? jr_str(files, "md") : NULL);
    }
    /* notes and errors */
    const json_t *notes = jr_arr(table, "notes"), *errors = jr_arr(table, "errors");
    if (notes && json_array_size(notes)) {
        fputs("<ul class=\"notes\">", b);
        for (size_t i = 0; i < json_array_size(notes); i++)
            if (json_is_string(json_array_get(notes, i))) {
                fputs("<li>", b);
                html_esc(b, json_string_value(json_array_get(notes, i)));
                fputs("</li>", b);
            }
        fputs("</ul>\n", b);
    }
    const char *entry_error = entry ? jr_str(entry, "error") : NULL;
    if ((errors && json_array_size(errors)) || entry_error) {
        fputs("<ul class=\"errors\">", b);
        int listed_entry_error = 0;
        for (size_t i = 0; errors && i < json_array_size(errors); i++)
            if (json_is_string(json_array_get(errors, i))) {
                fputs("<li>", b);
                html_esc(b, json_string_value(json_array_get(errors, i)));
                fputs("</li>", b);
                listed_entry_error |= str_eq(json_string_value(json_array_get(errors, i)), entry_error);
            }
        if (entry_error && !listed_entry_error) {
            fputs("<li>", b);
            html_esc(b, entry_error);
            fputs("</li>", b);
        }
        fputs("</ul>\n", b);
    }
    fclose(b);
    if (str_eq(status, "failed"))
        rendered = 0;

    fprintf(out, "<section class=\"tbl\" id=\"t-");
    html_esc(out, name ? name : "unnamed");
    fprintf(out, "\" data-name=\"");
    html_esc(out, name ? name : "");
    fprintf(out, "\" data-state=\"%s\">\n<h3>", rendered ? "ok" : "failed");
    if (paper && paper[0]) {
        html_esc(out, paper);
        fputs(" &middot; ", out);
    }
    html_esc(out, title ? title : name ? name : "(untitled table)");
    fputs(" <span class=\"status ", out);
    const char *st = status ? status : rendered ? "ok" : "failed";
    html_esc(out, str_eq(st, "ok") || str_eq(st, "partial") ? st : "failed");
    fputs("\">", out);
    html_esc(out, st);
    fputs("</span></h3>\n", out);
    fputs("<p class=\"files\">", out);
    html_esc(out, name ? name : "");
    if (kind) {
        fputs(" &middot; ", out);
        html_esc(out, kind);
    }
    if (json_is_object(files)) {
        fputs(" &middot; files:", out);
        const char *key;
        json_t *file;
        /* in the order of the file (Jansson keeps insertion order) */
        json_object_foreach ((json_t *)files, key, file)
            if (json_is_string(file)) {
                fputs(" <a href=\"", out);
                html_esc(out, json_string_value(file));
                fputs("\">", out);
                html_esc(out, key);
                fputs("</a>", out);
            }
    }
    double models = entry ? jr_num(entry, "models") : NAN, secs = entry ? jr_num(entry, "seconds") : NAN;
    if (isfinite(models))
        fprintf(out, " &middot; %.0f model%s", models, models == 1 ? "" : "s");
    if (isfinite(secs))
        fprintf(out, " in %.1f s", secs);
    fputs("</p>\n", out);
    if (body)
        fwrite(body, 1, body_len, out);
    free(body);
    fputs("</section>\n", out);
    return rendered;
}
