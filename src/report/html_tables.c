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

#include "html_internal.h"

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
static const char *coef_key(const json_value *c)
{
    const char *k = hj_str(c, "key");
    return k ? k : hj_str(c, "name");
}

static const json_value *find_coef(const json_value *col, const char *key)
{
    const json_value *cs = hj_arr(col, "coefficients");
    for (size_t i = 0; cs && i < cs->n; i++)
        if (str_eq(coef_key(cs->items[i]), key))
            return cs->items[i];
    return NULL;
}

/* 1 / 0 whether the truth lies in the interval, -1 unknown. Prefers the
 * interval [ci_lo, ci_hi]; else the table's truth_in_ci. */
static int truth_in(const json_value *c, double truth)
{
    double lo = hj_num(c, "ci_lo"), hi = hj_num(c, "ci_hi");
    if (isfinite(truth) && isfinite(lo) && isfinite(hi))
        return lo <= truth && truth <= hi;
    return hj_bool(c, "truth_in_ci");
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
static const char *control_name(const json_value *col, size_t i)
{
    const json_value *ctl = hj_arr(col, "controls"), *lab = hj_arr(col, "control_labels");
    if (lab && i < lab->n && lab->items[i]->type == JSON_STRING)
        return lab->items[i]->string;
    if (ctl && i < ctl->n && ctl->items[i]->type == JSON_STRING)
        return ctl->items[i]->string;
    return NULL;
}

static int has_control(const json_value *col, const char *name)
{
    const json_value *ctl = hj_arr(col, "controls");
    for (size_t i = 0; ctl && i < ctl->n; i++)
        if (str_eq(control_name(col, i), name))
            return 1;
    return 0;
}

/* A published estimate (number) or range ([low, high]) of a coefficient. */
static int published_range(const json_value *pub, double *lo, double *hi)
{
    const json_value *r = pub && pub->type == JSON_OBJECT ? hj_arr(pub, "range") : NULL;
    if (!r || r->n != 2 || r->items[0]->type != JSON_NUMBER || r->items[1]->type != JSON_NUMBER)
        return 0;
    *lo = r->items[0]->number;
    *hi = r->items[1]->number;
    return 1;
}

static int in_str_array(const json_value *arr, const char *s)
{
    for (size_t i = 0; arr && i < arr->n; i++)
        if (arr->items[i]->type == JSON_STRING && !strcmp(arr->items[i]->string, s))
            return 1;
    return 0;
}

/* ---- kind regression / balance / match / rd ---- */

typedef struct {
    const json_value **cols;
    size_t n;
} col_group;

/* A header row of spanning cells: runs of equal `key` values. */
static void header_span_row(FILE *out, const col_group *g, const char *key, const char *cls)
{
    int any = 0;
    for (size_t j = 0; j < g->n; j++)
        if (hj_str(g->cols[j], key))
            any = 1;
    if (!any)
        return;
    fprintf(out, "<tr class=\"%s\"><th></th><th></th>", cls);
    size_t j = 0;
    while (j < g->n) {
        const char *v = hj_str(g->cols[j], key);
        size_t k = j + 1;
        while (k < g->n && ((v == NULL && hj_str(g->cols[k], key) == NULL) || str_eq(v, hj_str(g->cols[k], key))))
            k++;
        fprintf(out, "<th colspan=\"%zu\">", k - j);
        html_esc(out, v ? v : "");
        fputs("</th>", out);
        j = k;
    }
    fputs("</tr>\n", out);
}

static void estimate_cell(FILE *out, const json_value *col, const json_value *c)
{
    char b[64];
    if (hj_str(col, "error")) {
        fputs("<td class=\"fail\" title=\"", out);
        html_esc(out, hj_str(col, "error"));
        fputs("\">failed</td>", out);
        return;
    }
    if (!c) {
        fputs("<td></td>", out);
        return;
    }
    double est = hj_num(c, "estimate");
    fprintf(out, "<td>%s<sup class=\"stars\">%s</sup></td>", hfmt(b, est, 3), isfinite(est) ? hstars(hj_num(c, "p")) : "");
}

static void regression_group(FILE *out, const json_value *table, const col_group *g, int show_truth,
                             gravrd_html_summary *sum, int *ok)
{
    const int is_rd = str_eq(hj_str(table, "kind"), "rd");
    str_set keys = {0}, controls = {0}, fes = {0};
    for (size_t j = 0; j < g->n; j++) {
        const json_value *cs = hj_arr(g->cols[j], "coefficients");
        for (size_t i = 0; cs && i < cs->n; i++)
            if (set_add(&keys, coef_key(cs->items[i])))
                *ok = 0;
        const json_value *ctl = hj_arr(g->cols[j], "controls");
        for (size_t i = 0; ctl && i < ctl->n; i++)
            if (set_add(&controls, control_name(g->cols[j], i)))
                *ok = 0;
        const json_value *fl = hj_arr(g->cols[j], "fe_labels");
        if (!fl || !fl->n)
            fl = hj_arr(g->cols[j], "fe");
        for (size_t i = 0; fl && i < fl->n; i++)
            if (fl->items[i]->type == JSON_STRING && set_add(&fes, fl->items[i]->string))
                *ok = 0;
    }
    fputs("<div class=\"scroll\"><table class=\"result\">\n<thead>\n", out);
    header_span_row(out, g, "group", "grp");
    /* the sample row, unless every column's label already is its sample */
    int sample_is_label = 1;
    for (size_t j = 0; j < g->n; j++)
        if (!str_eq(hj_str(g->cols[j], "sample_label"), hj_str(g->cols[j], "label")))
            sample_is_label = 0;
    if (!sample_is_label)
        header_span_row(out, g, "sample_label", "smp");
    fputs("<tr class=\"lab\"><th></th><th></th>", out);
    for (size_t j = 0; j < g->n; j++) {
        const char *label = hj_str(g->cols[j], "label"), *formula = hj_str(g->cols[j], "formula");
        fputs("<th", out);
        if (formula) {
            fputs(" title=\"", out);
            html_esc(out, formula);
            if (hj_str(g->cols[j], "subset")) {
                fputs(" [subset: ", out);
                html_esc(out, hj_str(g->cols[j], "subset"));
                fputs("]", out);
            }
            fputs("\"", out);
        }
        fputs(">", out);
        html_esc(out, label ? label : hj_str(g->cols[j], "name"));
        fputs("</th>", out);
    }
    fputs("</tr>\n</thead>\n<tbody>\n", out);
    char b[64], b2[64];
    for (size_t r = 0; r < keys.n; r++) {
        const char *key = keys.s[r], *name = NULL;
        int any_pub = 0, any_truth = 0, any_bc = 0;
        for (size_t j = 0; j < g->n; j++) {
            const json_value *c = find_coef(g->cols[j], key);
            if (!c)
                continue;
            if (!name)
                name = hj_str(c, "name");
            const json_value *pub = hj_get(c, "published");
            double rlo, rhi;
            if (pub && pub->type == JSON_OBJECT && (isfinite(hj_num(pub, "estimate")) || published_range(pub, &rlo, &rhi)))
                any_pub = 1;
            if (show_truth && isfinite(hj_num(c, "truth")))
                any_truth = 1;
            if (is_rd && isfinite(hj_num(c, "estimate_bc")))
                any_bc = 1;
        }
        int n_sub = 2 + any_pub + any_truth + any_bc;
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
            const json_value *c = find_coef(g->cols[j], key);
            double se = c ? hj_num(c, "se") : NAN;
            if (isfinite(se))
                fprintf(out, "<td>(%s)</td>", hfmt(b, se, 3));
            else
                fputs("<td></td>", out);
        }
        fputs("</tr>\n", out);
        if (any_pub) {
            fputs("<tr class=\"paper\"><td class=\"src\">paper</td>", out);
            for (size_t j = 0; j < g->n; j++) {
                const json_value *c = find_coef(g->cols[j], key), *pub = c ? hj_get(c, "published") : NULL;
                double pe = pub ? hj_num(pub, "estimate") : NAN, ps = pub ? hj_num(pub, "se") : NAN, rlo, rhi;
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
                const json_value *c = find_coef(g->cols[j], key);
                double tv = c ? hj_num(c, "truth") : NAN;
                if (!isfinite(tv)) {
                    fputs("<td></td>", out);
                    continue;
                }
                int in = hj_str(g->cols[j], "error") ? -1 : truth_in(c, tv);
                if (in >= 0) {
                    sum->truth_checked++;
                    sum->truth_covered += in == 1;
                }
                double lo = hj_num(c, "ci_lo"), hi = hj_num(c, "ci_hi");
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
                const json_value *c = find_coef(g->cols[j], key);
                double e = c ? hj_num(c, "estimate_bc") : NAN;
                if (!isfinite(e)) {
                    fputs("<td></td>", out);
                    continue;
                }
                fprintf(out, "<td title=\"bias-corrected estimate and robust 95%% interval\">%s [%s, ", hfmt(b, e, 3),
                        hfmt(b2, hj_num(c, "ci_lo_robust"), 3));
                fprintf(out, "%s]</td>", hfmt(b, hj_num(c, "ci_hi_robust"), 3));
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
            const json_value *fl = hj_arr(g->cols[j], "fe_labels");
            if (!fl || !fl->n)
                fl = hj_arr(g->cols[j], "fe");
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
            if (isfinite(hj_num(g->cols[j], stats[s].key)))
                any = 1;
            const json_value *pub = hj_get(g->cols[j], "published");
            if (stats[s].pub_key && pub && pub->type == JSON_OBJECT && isfinite(hj_num(pub, stats[s].pub_key)))
                any_pub = 1;
        }
        if (!any && !any_pub)
            continue;
        fprintf(out, "<tr class=\"stat%s\"><th class=\"row\" rowspan=\"%d\">%s</th><td class=\"src\">gravrd</td>",
                s == 0 || (s == 1 && !any) ? " first" : "", 1 + any_pub, stats[s].label);
        for (size_t j = 0; j < g->n; j++)
            write_num_cell(out, hj_num(g->cols[j], stats[s].key), stats[s].decimals);
        fputs("</tr>\n", out);
        if (any_pub) {
            fputs("<tr class=\"paper\"><td class=\"src\">paper</td>", out);
            for (size_t j = 0; j < g->n; j++) {
                const json_value *pub = hj_get(g->cols[j], "published");
                write_num_cell(out, pub && pub->type == JSON_OBJECT ? hj_num(pub, stats[s].pub_key) : NAN,
                               stats[s].decimals);
            }
            fputs("</tr>\n", out);
        }
    }
    int any_vcov = 0;
    for (size_t j = 0; j < g->n; j++)
        any_vcov |= hj_str(g->cols[j], "vcov") != NULL;
    if (any_vcov) {
        fputs("<tr class=\"small\"><th class=\"row\" colspan=\"2\">Standard errors</th>", out);
        for (size_t j = 0; j < g->n; j++) {
            fputs("<td>", out);
            html_esc(out, hj_str(g->cols[j], "vcov"));
            fputs("</td>", out);
        }
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table></div>\n", out);
    free(keys.s);
    free(controls.s);
    free(fes.s);
}

static int render_regression(FILE *out, const json_value *table, int show_truth, gravrd_html_summary *sum)
{
    const json_value *cols = hj_arr(table, "columns"), *panels = hj_arr(table, "panels");
    if (!cols || !cols->n) {
        fputs("<p class=\"err\">This table has no columns.</p>\n", out);
        return 0;
    }
    int ok = 1;
    col_group g = {calloc(cols->n, sizeof(json_value *)), 0};
    if (!g.cols)
        return 0;
    unsigned char *used = calloc(cols->n, 1);
    if (!used) {
        free(g.cols);
        return 0;
    }
    for (size_t p = 0; panels && p <= panels->n; p++) {
        /* panel p, then (p == n) the columns of no listed panel */
        const char *pname = p < panels->n ? hj_str(panels->items[p], "name") : NULL;
        g.n = 0;
        for (size_t j = 0; j < cols->n; j++) {
            if (used[j])
                continue;
            if (p < panels->n ? str_eq(hj_str(cols->items[j], "panel"), pname) : 1) {
                g.cols[g.n++] = cols->items[j];
                used[j] = 1;
            }
        }
        if (!g.n)
            continue;
        if (p < panels->n) {
            const char *ptitle = hj_str(panels->items[p], "title");
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
        for (size_t j = 0; j < cols->n; j++)
            g.cols[g.n++] = cols->items[j];
        regression_group(out, table, &g, show_truth, sum, &ok);
    }
    free(used);
    free(g.cols);
    return ok;
}

/* ---- kind summary ---- */

static int render_summary(FILE *out, const json_value *table, gravrd_html_summary *sum)
{
    const json_value *rows = hj_arr(table, "rows"), *panels = hj_arr(table, "panels");
    if (!rows || !rows->n) {
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
    for (size_t r = 0; r < rows->n; r++) {
        const json_value *row = rows->items[r];
        const char *panel = hj_str(row, "panel");
        if (panel && !str_eq(panel, last_panel)) {
            const char *ptitle = NULL;
            for (size_t p = 0; panels && p < panels->n; p++)
                if (str_eq(hj_str(panels->items[p], "name"), panel))
                    ptitle = hj_str(panels->items[p], "title");
            fputs("<tr class=\"panelrow\"><th colspan=\"11\">Panel ", out);
            html_esc(out, panel);
            if (ptitle) {
                fputs(": ", out);
                html_esc(out, ptitle);
            }
            fputs("</th></tr>\n", out);
            last_panel = panel;
        }
        const json_value *pub = hj_arr(row, "published");
        int has_pub = pub && pub->n == 8;
        const char *label = hj_str(row, "label");
        fprintf(out, "<tr class=\"est first\"><th class=\"row\" rowspan=\"%d\"", 1 + has_pub);
        if (hj_str(row, "variable")) {
            fputs(" title=\"", out);
            html_esc(out, hj_str(row, "variable"));
            if (hj_str(row, "level")) {
                fputs(" (level: ", out);
                html_esc(out, hj_str(row, "level"));
                fputs(")", out);
            }
            fputs("\"", out);
        }
        fputs(">", out);
        html_esc(out, label ? label : hj_str(row, "variable"));
        fprintf(out, "</th><td rowspan=\"%d\">", 1 + has_pub);
        html_esc(out, hj_str(row, "sample_label") ? hj_str(row, "sample_label") : hj_str(row, "sample"));
        fputs("</td><td class=\"src\">gravrd</td>", out);
        for (int k = 0; k < 8; k++)
            fprintf(out, "<td>%s</td>", hfmt_stat(b, hj_num(row, stat_keys[k])));
        fputs("</tr>\n", out);
        if (has_pub) {
            sum->published++;
            fputs("<tr class=\"paper\"><td class=\"src\">paper</td>", out);
            for (int k = 0; k < 8; k++)
                fprintf(out, "<td>%s</td>",
                        hfmt_stat(b, pub->items[k]->type == JSON_NUMBER ? pub->items[k]->number : NAN));
            fputs("</tr>\n", out);
        }
    }
    fputs("</tbody></table></div>\n", out);
    return 1;
}

/* ---- kind mediation ---- */

static int render_mediation(FILE *out, const json_value *table, int show_truth, gravrd_html_summary *sum)
{
    const json_value *tests = hj_arr(table, "tests");
    if (!tests || !tests->n) {
        fputs("<p class=\"err\">This table has no tests.</p>\n", out);
        return 0;
    }
    int any_boot = 0, any_truth = 0;
    for (size_t i = 0; i < tests->n; i++) {
        any_boot |= hj_num(tests->items[i], "bootstrap_reps") > 0;
        any_truth |= show_truth && isfinite(hj_num(tests->items[i], "truth"));
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
    for (size_t i = 0; i < tests->n; i++) {
        const json_value *t = tests->items[i];
        fputs("<tr class=\"first\"><th class=\"row\">", out);
        html_esc(out, hj_str(t, "label"));
        fputs("</th><td>", out);
        html_esc(out, hj_str(t, "coefficient"));
        fputs("</td>", out);
        const json_value *pub = hj_get(t, "published");
        double pb = pub && pub->type == JSON_OBJECT ? hj_num(pub, "base") : NAN;
        double pm = pub && pub->type == JSON_OBJECT ? hj_num(pub, "mediated") : NAN;
        if (hj_str(t, "error")) {
            fprintf(out, "<td class=\"fail\" colspan=\"%d\">failed: ", 5 + 2 * any_boot + any_truth + 2);
            html_esc(out, hj_str(t, "error"));
            fputs("</td></tr>\n", out);
            continue;
        }
        /* ours, with the paper's estimates beneath when published */
        fprintf(out, "<td>%s", hfmt(b, hj_num(t, "base_estimate"), 3));
        if (isfinite(pb)) {
            sum->published++;
            fprintf(out, "<br><span class=\"pub\">paper %s</span>", hfmt(b2, pb, 3));
        }
        fprintf(out, "</td><td>%s", hfmt(b, hj_num(t, "mediated_estimate"), 3));
        if (isfinite(pm)) {
            sum->published++;
            fprintf(out, "<br><span class=\"pub\">paper %s</span>", hfmt(b2, pm, 3));
        }
        fputs("</td>", out);
        double d = hj_num(t, "difference"), se = hj_num(t, "se"), p = hj_num(t, "p");
        fprintf(out, "<td>%s<sup class=\"stars\">%s</sup>", hfmt(b, d, 4), isfinite(d) ? hstars(p) : "");
        if (isfinite(pb) && isfinite(pm))
            fprintf(out, "<br><span class=\"pub\">paper %s</span>", hfmt(b2, pb - pm, 3));
        fputs("</td>", out);
        write_num_cell(out, se, 4);
        write_num_cell(out, p, 4);
        if (any_boot) {
            write_num_cell(out, hj_num(t, "bootstrap_se"), 4);
            write_num_cell(out, hj_num(t, "bootstrap_p"), 4);
        }
        if (any_truth) {
            double tv = hj_num(t, "truth");
            if (!isfinite(tv))
                fputs("<td></td>", out);
            else {
                double G = hj_num(t, "n_clusters");
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
        write_num_cell(out, hj_num(t, "n_clusters"), 0);
        write_num_cell(out, hj_num(t, "nobs"), 0);
        fputs("</tr>\n", out);
    }
    fputs("</tbody></table></div>\n", out);
    return 1;
}

/* ---- kind numbers ---- */

static void value_cell(FILE *out, const json_value *v, const char *unit)
{
    char b[64], b2[64];
    int share = str_eq(unit, "share");
    if (v && v->type == JSON_NUMBER) {
        if (share)
            fprintf(out, "<td>%s%%</td>", hfmt(b, 100 * v->number, 1));
        else
            fprintf(out, "<td>%s</td>", hfmt_stat(b, v->number));
    } else if (v && v->type == JSON_ARRAY && v->n == 2 && v->items[0]->type == JSON_NUMBER &&
               v->items[1]->type == JSON_NUMBER) {
        if (share)
            fprintf(out, "<td>%s%% to %s%%</td>", hfmt(b, 100 * v->items[0]->number, 1),
                    hfmt(b2, 100 * v->items[1]->number, 1));
        else
            fprintf(out, "<td>%s to %s</td>", hfmt_stat(b, v->items[0]->number), hfmt_stat(b2, v->items[1]->number));
    } else
        fputs("<td></td>", out);
}

static int render_numbers(FILE *out, const json_value *table, int show_truth, gravrd_html_summary *sum)
{
    const json_value *items = hj_arr(table, "items");
    if (!items || !items->n) {
        fputs("<p class=\"err\">This table has no items.</p>\n", out);
        return 0;
    }
    int any_truth = 0;
    for (size_t i = 0; i < items->n; i++)
        any_truth |= show_truth && hj_get(items->items[i], "truth") &&
                     hj_get(items->items[i], "truth")->type != JSON_NULL;
    fputs("<div class=\"scroll\"><table class=\"result numbers\">\n<thead><tr><th>Number</th><th>gravrd</th>"
          "<th>paper</th>",
          out);
    if (any_truth)
        fputs("<th>truth</th>", out);
    fputs("<th>Unit</th><th>Computed as</th></tr></thead>\n<tbody>\n", out);
    for (size_t i = 0; i < items->n; i++) {
        const json_value *it = items->items[i];
        const char *unit = hj_str(it, "unit");
        fputs("<tr class=\"first\"><th class=\"row\"", out);
        if (hj_str(it, "name")) {
            fputs(" title=\"", out);
            html_esc(out, hj_str(it, "name"));
            fputs("\"", out);
        }
        fputs(">", out);
        html_esc(out, hj_str(it, "label") ? hj_str(it, "label") : hj_str(it, "name"));
        fputs("</th>", out);
        value_cell(out, hj_get(it, "value"), unit);
        const json_value *pub = hj_get(it, "published");
        if (pub && pub->type != JSON_NULL)
            sum->published++;
        value_cell(out, pub, unit);
        if (any_truth)
            value_cell(out, hj_get(it, "truth"), unit);
        fputs("<td>", out);
        html_esc(out, unit);
        fputs("</td><td class=\"small\">", out);
        html_esc(out, hj_str(it, "formula"));
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

int html_table_section(FILE *out, const char *out_dir, const json_value *entry, const json_value *table,
                       const char *load_error, int show_truth, gravrd_html_summary *sum)
{
    const json_value *src = table ? table : entry;
    const char *name = hj_str(src, "name"), *title = hj_str(src, "title"), *paper = hj_str(src, "paper");
    const char *kind = hj_str(src, "kind");
    if (!name && entry)
        name = hj_str(entry, "name");
    const char *status = entry && hj_str(entry, "status") ? hj_str(entry, "status") : hj_str(table, "status");
    const json_value *files = entry ? hj_get(entry, "files") : NULL;

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
        md_fallback(b, out_dir, files ? hj_str(files, "md") : NULL);
    }
    /* notes and errors */
    const json_value *notes = hj_arr(table, "notes"), *errors = hj_arr(table, "errors");
    if (notes && notes->n) {
        fputs("<ul class=\"notes\">", b);
        for (size_t i = 0; i < notes->n; i++)
            if (notes->items[i]->type == JSON_STRING) {
                fputs("<li>", b);
                html_esc(b, notes->items[i]->string);
                fputs("</li>", b);
            }
        fputs("</ul>\n", b);
    }
    const char *entry_error = entry ? hj_str(entry, "error") : NULL;
    if ((errors && errors->n) || entry_error) {
        fputs("<ul class=\"errors\">", b);
        int listed_entry_error = 0;
        for (size_t i = 0; errors && i < errors->n; i++)
            if (errors->items[i]->type == JSON_STRING) {
                fputs("<li>", b);
                html_esc(b, errors->items[i]->string);
                fputs("</li>", b);
                listed_entry_error |= str_eq(errors->items[i]->string, entry_error);
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
    if (files && files->type == JSON_OBJECT) {
        fputs(" &middot; files:", out);
        for (size_t i = 0; i < files->n; i++)
            if (files->items[i]->type == JSON_STRING) {
                fputs(" <a href=\"", out);
                html_esc(out, files->items[i]->string);
                fputs("\">", out);
                html_esc(out, files->keys[i]);
                fputs("</a>", out);
            }
    }
    double models = entry ? hj_num(entry, "models") : NAN, secs = entry ? hj_num(entry, "seconds") : NAN;
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
