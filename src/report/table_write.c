/* table_write.c - the files of `gravrd replicate`: every table as Markdown,
 * LaTeX (booktabs, stars, standard errors in parentheses, "Yes" rows for
 * controls and fixed effects, adjusted R2, F and observations, as the paper
 * prints them), long CSV and JSON (layout: docs/study-file.md, "Table
 * JSON"), and OUT/replication.json, the index. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/plan.h"
#include "table/table_names.h"
#include "report/write_util.h"

/* ---- formatting ---- */

static void j_key(FILE *f, const char *k)
{
    report_json_string(f, k);
    fputc(':', f);
}

/* "k0":"v0","k1":"v1",... (the first fields of an object: no leading comma). */
static void j_string_fields(FILE *f, const char *const *keys, const char *const *values, int n)
{
    for (int k = 0; k < n; k++) {
        if (k)
            fputc(',', f);
        j_key(f, keys[k]);
        report_json_string(f, values[k]);
    }
}

/* ,"k0":v0,"k1":v1,... (fields after others: each with its leading comma). */
static void j_number_fields(FILE *f, const char *const *keys, const double *values, int n)
{
    for (int k = 0; k < n; k++) {
        fputc(',', f);
        j_key(f, keys[k]);
        report_json_number(f, values[k]);
    }
}

/* {"k0":v0,...} when some value is known (finite), else null: the
 * published numbers of a column or test. */
static void j_known_object(FILE *f, const char *const *keys, const double *values, int n)
{
    int known = 0;
    for (int k = 0; k < n; k++)
        known |= isfinite(values[k]) != 0;
    if (!known) {
        fputs("null", f);
        return;
    }
    fputc('{', f);
    for (int k = 0; k < n; k++) {
        if (k)
            fputc(',', f);
        j_key(f, keys[k]);
        report_json_number(f, values[k]);
    }
    fputc('}', f);
}

/* Number with thousands separators and d decimals into buf. */
static const char *fmt_sep(char *buf, size_t n, double x, int d)
{
    if (!isfinite(x)) {
        snprintf(buf, n, "-");
        return buf;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", d, fabs(x));
    const char *dot = strchr(raw, '.');
    size_t int_len = dot ? (size_t)(dot - raw) : strlen(raw);
    size_t o = 0;
    if (x < 0 && strspn(raw, "0.") != strlen(raw) && o + 1 < n)
        buf[o++] = '-';
    for (size_t i = 0; i < int_len && o + 2 < n; i++) {
        if (i > 0 && (int_len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    if (dot)
        for (const char *c = dot; *c && o + 1 < n; c++)
            buf[o++] = *c;
    buf[o] = '\0';
    return buf;
}

static const char *stars(double p)
{
    if (!(p >= 0))
        return "";
    return p < 0.01 ? "***" : p < 0.05 ? "**" : p < 0.1 ? "*" : "";
}

static void tex_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '_': fputs("\\_", f); break;
        case '%': fputs("\\%", f); break;
        case '&': fputs("\\&", f); break;
        case '#': fputs("\\#", f); break;
        case '$': fputs("\\$", f); break;
        case '{': fputs("\\{", f); break;
        case '}': fputs("\\}", f); break;
        case '~': fputs("\\textasciitilde{}", f); break;
        case '^': fputs("\\^{}", f); break;
        case '\\': fputs("\\textbackslash{}", f); break;
        case '<': fputs("\\textless{}", f); break;
        case '>': fputs("\\textgreater{}", f); break;
        case '|': fputs("\\textbar{}", f); break;
        default: fputc(*s, f);
        }
    }
}

static void md_escape(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else if (*s == '\n')
            fputc(' ', f);
        else
            fputc(*s, f);
    }
}

static const char *status_name(gravrd_rep_status s)
{
    return s == GRAVRD_REP_OK ? "ok" : s == GRAVRD_REP_PARTIAL ? "partial" : "failed";
}

static int truth_in_ci(const gravrd_rep_coef *c)
{
    return isfinite(c->truth) && isfinite(c->ci_lo) && isfinite(c->ci_hi) ? c->truth >= c->ci_lo && c->truth <= c->ci_hi
                                                                          : -1;
}

/* ---- column groups (panels) of regression-like tables ---- */

typedef struct {
    const char *panel;       /* NULL: no panel */
    const char *title;
    size_t *cols;
    size_t n;
} panel_cols;

static size_t make_panels(const gravrd_rep_table *t, panel_cols **out)
{
    panel_cols *p = calloc(t->n_panels + 1, sizeof *p);
    size_t np = 0;
    if (!p) {
        *out = NULL;
        return 0;
    }
    /* columns without a panel first, then by panel in order */
    for (size_t k = 0; k <= t->n_panels; k++) {
        const char *name = k == 0 ? NULL : t->panels[k - 1].name;
        panel_cols *pc = &p[np];
        pc->panel = name;
        pc->title = k == 0 ? NULL : t->panels[k - 1].title;
        pc->cols = malloc((t->n_columns + 1) * sizeof *pc->cols);
        pc->n = 0;
        if (!pc->cols)
            continue;
        for (size_t c = 0; c < t->n_columns; c++) {
            const char *cp = t->columns[c].panel;
            if ((!name && !cp) || (name && cp && !strcmp(name, cp)))
                pc->cols[pc->n++] = c;
        }
        if (pc->n)
            np++;
        else
            free(pc->cols);
    }
    *out = p;
    return np;
}

static void free_panels(panel_cols *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i].cols);
    free(p);
}

/* distinct names over the panel's columns (coefficient keys, controls, FE) */
typedef enum { ROW_COEF, ROW_CONTROL, ROW_FE } row_kind;

static size_t collect(const gravrd_rep_table *t, const panel_cols *pc, row_kind kind, const char **keys,
                      const char **labels, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < pc->n; i++) {
        const gravrd_rep_column *c = &t->columns[pc->cols[i]];
        int m = kind == ROW_COEF ? c->n_coefs : kind == ROW_CONTROL ? c->n_controls : c->n_fe;
        for (int k = 0; k < m; k++) {
            const char *key = kind == ROW_COEF ? c->coefs[k].key : kind == ROW_CONTROL ? c->controls[k] : c->fe[k];
            const char *lab = kind == ROW_COEF      ? c->coefs[k].label
                              : kind == ROW_CONTROL ? c->control_labels[k]
                                                    : c->fe_labels[k];
            int seen = 0;
            for (size_t j = 0; j < n && !seen; j++)
                seen = plan_same_term(keys[j], key);
            if (!seen && n < cap) {
                keys[n] = key;
                labels[n] = lab;
                n++;
            }
        }
    }
    return n;
}

static const gravrd_rep_coef *coef_of(const gravrd_rep_column *c, const char *key)
{
    for (int k = 0; k < c->n_coefs; k++)
        if (plan_same_term(c->coefs[k].key, key))
            return &c->coefs[k];
    return NULL;
}

static int has_name(char *const *names, int n, const char *key)
{
    for (int k = 0; k < n; k++)
        if (plan_same_term(names[k], key))
            return 1;
    return 0;
}

static int is_rd_table(const gravrd_rep_table *t) { return t->kind == GRAVRD_TABLE_RD; }

/* ---- Markdown ---- */

static void md_regression(FILE *f, const gravrd_rep_table *t)
{
    panel_cols *pcs;
    size_t np = make_panels(t, &pcs);
    enum { CAP = 128 };
    const char *keys[CAP], *labels[CAP];
    char buf[64], buf2[64];
    for (size_t p = 0; p < np; p++) {
        const panel_cols *pc = &pcs[p];
        if (pc->title)
            fprintf(f, "\n**Panel %s%s%s**\n", pc->panel, strcmp(pc->panel, pc->title) ? ": " : "",
                    strcmp(pc->panel, pc->title) ? pc->title : "");
        fputs("\n|", f);
        for (size_t i = 0; i < pc->n; i++) {
            fputs(" | ", f);
            md_escape(f, t->columns[pc->cols[i]].label);
        }
        fputs(" |\n|---", f);
        for (size_t i = 0; i < pc->n; i++)
            fputs("|---:", f);
        fputs("|\n| *Dependent variable*", f);
        for (size_t i = 0; i < pc->n; i++) {
            fputs(" | ", f);
            md_escape(f, t->columns[pc->cols[i]].group);
        }
        fputs(" |\n", f);
        int differ = 0;
        for (size_t i = 0; i < pc->n; i++)
            differ |= strcmp(t->columns[pc->cols[i]].label, t->columns[pc->cols[i]].sample_label) != 0;
        if (differ) {
            fputs("| *Sample*", f);
            for (size_t i = 0; i < pc->n; i++) {
                fputs(" | ", f);
                md_escape(f, t->columns[pc->cols[i]].sample_label);
            }
            fputs(" |\n", f);
        }
        size_t nk = collect(t, pc, ROW_COEF, keys, labels, CAP);
        for (size_t k = 0; k < nk; k++) {
            int any_pub = 0, any_truth = 0;
            fputs("| ", f);
            md_escape(f, labels[k]);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                const gravrd_rep_coef *cf = coef_of(c, keys[k]);
                if (c->error)
                    fputs(" | failed", f);
                else if (cf && isfinite(cf->estimate))
                    fprintf(f, " | %.3f%s", cf->estimate, stars(cf->p));
                else
                    fputs(" | ", f);
                if (cf && (isfinite(cf->pub_estimate) || isfinite(cf->pub_lo)))
                    any_pub = 1;
                if (cf && isfinite(cf->truth))
                    any_truth = 1;
            }
            fputs(" |\n|", f);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_coef *cf = coef_of(&t->columns[pc->cols[i]], keys[k]);
                if (cf && isfinite(cf->se))
                    fprintf(f, " | (%.3f)", cf->se);
                else
                    fputs(" | ", f);
            }
            fputs(" |\n", f);
            if (any_pub) {
                fputs("| *paper*", f);
                for (size_t i = 0; i < pc->n; i++) {
                    const gravrd_rep_coef *cf = coef_of(&t->columns[pc->cols[i]], keys[k]);
                    if (cf && isfinite(cf->pub_estimate) && isfinite(cf->pub_se))
                        fprintf(f, " | *%.3f (%.3f)*", cf->pub_estimate, cf->pub_se);
                    else if (cf && isfinite(cf->pub_estimate))
                        fprintf(f, " | *%.3f*", cf->pub_estimate);
                    else if (cf && isfinite(cf->pub_lo))
                        fprintf(f, " | *%.2f to %.2f*", cf->pub_lo, cf->pub_hi);
                    else
                        fputs(" | ", f);
                }
                fputs(" |\n", f);
            }
            if (any_truth) {
                fputs("| *truth (in 95% CI?)*", f);
                for (size_t i = 0; i < pc->n; i++) {
                    const gravrd_rep_coef *cf = coef_of(&t->columns[pc->cols[i]], keys[k]);
                    if (cf && isfinite(cf->truth)) {
                        int in = truth_in_ci(cf);
                        fprintf(f, " | *%.3f %s*", cf->truth, in < 0 ? "" : in ? "yes" : "no");
                    } else
                        fputs(" | ", f);
                }
                fputs(" |\n", f);
            }
        }
        size_t nc = collect(t, pc, ROW_CONTROL, keys, labels, CAP);
        for (size_t k = 0; k < nc; k++) {
            fputs("| ", f);
            md_escape(f, labels[k]);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                fprintf(f, " | %s", c->error ? "" : has_name(c->controls, c->n_controls, keys[k]) ? "Yes" : "No");
            }
            fputs(" |\n", f);
        }
        size_t nf = collect(t, pc, ROW_FE, keys, labels, CAP);
        for (size_t k = 0; k < nf; k++) {
            fputs("| ", f);
            md_escape(f, labels[k]);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                fprintf(f, " | %s", c->error ? "" : has_name(c->fe, c->n_fe, keys[k]) ? "Yes" : "No");
            }
            fputs(" |\n", f);
        }
        if (!is_rd_table(t)) {
            fputs("| Adjusted R² ", f);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                if (isfinite(c->adj_r2))
                    fprintf(f, " | %.3f", c->adj_r2);
                else
                    fputs(" | ", f);
                if (isfinite(c->pub_adj_r2))
                    fprintf(f, " *(%.3f)*", c->pub_adj_r2);
            }
            fputs(" |\n| F-statistic", f);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                fprintf(f, " | %s", isfinite(c->wald_f) ? fmt_sep(buf, sizeof buf, c->wald_f, 2) : "");
                if (isfinite(c->pub_f))
                    fprintf(f, " *(%s)*", fmt_sep(buf2, sizeof buf2, c->pub_f, 2));
            }
            fputs(" |\n", f);
        }
        fputs("| Observations", f);
        for (size_t i = 0; i < pc->n; i++) {
            const gravrd_rep_column *c = &t->columns[pc->cols[i]];
            fprintf(f, " | %s", c->error ? "" : fmt_sep(buf, sizeof buf, (double)c->nobs, 0));
            if (isfinite(c->pub_nobs))
                fprintf(f, " *(%s)*", fmt_sep(buf2, sizeof buf2, c->pub_nobs, 0));
        }
        fputs(" |\n", f);
        if (is_rd_table(t)) {
            fputs("| Clusters (pairs)", f);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                fprintf(f, " | %s", c->error ? "" : fmt_sep(buf, sizeof buf, (double)c->n_clusters, 0));
            }
            fputs(" |\n", f);
        }
    }
    free_panels(pcs, np);
    fputs("\nStandard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01. Published values (where the paper "
          "gives them) in italics in parentheses or on *paper* rows.\n",
          f);
}

static int summary_decimals(const gravrd_rep_row *w)
{
    double m = fabs(w->max) > fabs(w->min) ? fabs(w->max) : fabs(w->min);
    return isfinite(m) && m < 20 ? 3 : 2;
}

static void md_summary(FILE *f, const gravrd_rep_table *t)
{
    char b[8][64];
    const char *panel = "";
    for (size_t i = 0; i < t->n_rows; i++) {
        const gravrd_rep_row *w = &t->rows[i];
        const char *wp = w->panel ? w->panel : "";
        if (i == 0 || strcmp(wp, panel)) {
            panel = wp;
            const char *title = NULL;
            for (size_t k = 0; k < t->n_panels; k++)
                if (!strcmp(t->panels[k].name, wp))
                    title = t->panels[k].title;
            if (title)
                fprintf(f, "\n**Panel %s: %s**\n", wp, title);
            fputs("\n| Variable | Sample | Level | Observations | Mean | SD | Min | P25 | P50 | P75 | Max |\n"
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
                  f);
        }
        int d = summary_decimals(w);
        fputs("| ", f);
        md_escape(f, w->label);
        fputs(" | ", f);
        md_escape(f, w->sample_label);
        fprintf(f, " | %s", w->level);
        if (w->error) {
            fputs(" | failed | | | | | | | |\n", f);
            continue;
        }
        double v[8] = {(double)w->n, w->mean, w->sd, w->min, w->p25, w->p50, w->p75, w->max};
        for (int k = 0; k < 8; k++)
            fprintf(f, " | %s", fmt_sep(b[k], sizeof b[k], v[k], k == 0 ? 0 : d));
        fputs(" |\n", f);
        if (w->has_published) {
            fputs("| *paper* | | ", f);
            for (int k = 0; k < 8; k++)
                fprintf(f, " | *%s*", fmt_sep(b[k], sizeof b[k], w->published[k], k == 0 ? 0 : d));
            fputs(" |\n", f);
        }
    }
}

static void md_mediation(FILE *f, const gravrd_rep_table *t)
{
    fputs("\n| Mediator | Without mediator | With mediator | Difference | SE | t | p | Bootstrap SE | Truth | Paper "
          "(without → with) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
          f);
    for (size_t i = 0; i < t->n_tests; i++) {
        const gravrd_rep_test *x = &t->tests[i];
        fputs("| ", f);
        md_escape(f, x->label);
        if (x->error) {
            fputs(" | failed | | | | | | | | |\n", f);
            continue;
        }
        fprintf(f, " | %.4f | %.4f | %.4f%s | %.4f | %.2f | %.4f | ", x->base_estimate, x->mediated_estimate,
                x->difference, stars(x->p), x->se, x->t, x->p);
        if (isfinite(x->bootstrap_se))
            fprintf(f, "%.4f (B = %d)", x->bootstrap_se, x->bootstrap_reps);
        fputs(" | ", f);
        if (isfinite(x->truth))
            fprintf(f, "%.4f", x->truth);
        fputs(" | ", f);
        if (isfinite(x->pub_base) && isfinite(x->pub_mediated))
            fprintf(f, "%.3f → %.3f", x->pub_base, x->pub_mediated);
        fputs(" |\n", f);
    }
}

static void md_numbers(FILE *f, const gravrd_rep_table *t)
{
    fputs("\n| Number | Value | Unit | Paper | Truth |\n|---|---:|---|---:|---:|\n", f);
    for (size_t i = 0; i < t->n_items; i++) {
        const gravrd_rep_item *x = &t->items[i];
        fputs("| ", f);
        md_escape(f, x->label);
        if (x->error)
            fputs(" | failed", f);
        else
            fprintf(f, " | %.4g", x->value);
        fputs(" | ", f);
        md_escape(f, x->unit);
        fputs(" | ", f);
        if (isfinite(x->published))
            fprintf(f, "%.4g", x->published);
        else if (isfinite(x->pub_lo))
            fprintf(f, "%.4g to %.4g", x->pub_lo, x->pub_hi);
        fputs(" | ", f);
        if (isfinite(x->truth))
            fprintf(f, "%.4g", x->truth);
        fputs(" |\n", f);
    }
}

static void write_md(FILE *f, const gravrd_rep_table *t)
{
    fprintf(f, "## ");
    if (t->paper[0])
        fprintf(f, "%s. ", t->paper);
    md_escape(f, t->title);
    fprintf(f, "\n\n`%s` (%s) - status: %s\n", t->name, gravrd_table_kind_name(t->kind), status_name(t->status));
    switch (t->kind) {
    case GRAVRD_TABLE_SUMMARY: md_summary(f, t); break;
    case GRAVRD_TABLE_MEDIATION: md_mediation(f, t); break;
    case GRAVRD_TABLE_NUMBERS: md_numbers(f, t); break;
    default: md_regression(f, t); break;
    }
    if (t->n_notes) {
        fputs("\nNotes:\n", f);
        for (size_t i = 0; i < t->n_notes; i++) {
            fputs("- ", f);
            md_escape(f, t->notes[i]);
            fputc('\n', f);
        }
    }
    if (t->n_errors) {
        fputs("\nErrors:\n", f);
        for (size_t i = 0; i < t->n_errors; i++) {
            fputs("- ", f);
            md_escape(f, t->errors[i]);
            fputc('\n', f);
        }
    }
}

/* ---- LaTeX ---- */

static void tex_num(FILE *f, double x, int d)
{
    char buf[64];
    if (!isfinite(x))
        return;
    fmt_sep(buf, sizeof buf, x, d);
    if (buf[0] == '-')
        fprintf(f, "$-$%s", buf + 1);
    else
        fputs(buf, f);
}

static void tex_regression(FILE *f, const gravrd_rep_table *t)
{
    panel_cols *pcs;
    size_t np = make_panels(t, &pcs);
    size_t width = 1;
    for (size_t p = 0; p < np; p++)
        if (pcs[p].n > width)
            width = pcs[p].n;
    enum { CAP = 128 };
    const char *keys[CAP], *labels[CAP];
    fprintf(f, "\\begin{tabular}{l*{%zu}{c}}\n\\toprule\n", width);
    for (size_t p = 0; p < np; p++) {
        const panel_cols *pc = &pcs[p];
        if (p > 0)
            fputs("\\midrule\n", f);
        if (pc->title) {
            fprintf(f, "\\multicolumn{%zu}{l}{\\textit{Panel ", width + 1);
            tex_escape(f, pc->panel);
            if (strcmp(pc->panel, pc->title)) {
                fputs(": ", f);
                tex_escape(f, pc->title);
            }
            fputs("}} \\\\\n", f);
        }
        /* spanning group headers */
        fputs("Dependent variable", f);
        size_t i = 0;
        char cmid[1024] = "";
        while (i < pc->n) {
            size_t j = i;
            while (j + 1 < pc->n && !strcmp(t->columns[pc->cols[j + 1]].group, t->columns[pc->cols[i]].group))
                j++;
            fprintf(f, " & \\multicolumn{%zu}{c}{", j - i + 1);
            tex_escape(f, t->columns[pc->cols[i]].group);
            fputs("}", f);
            if (j > i && strlen(cmid) < 900)
                snprintf(cmid + strlen(cmid), sizeof cmid - strlen(cmid), "\\cmidrule(lr){%zu-%zu}", i + 2, j + 2);
            i = j + 1;
        }
        fputs(" \\\\\n", f);
        if (cmid[0])
            fprintf(f, "%s\n", cmid);
        for (size_t k = 0; k < pc->n; k++) {
            fputs(" & ", f);
            tex_escape(f, t->columns[pc->cols[k]].label);
        }
        fputs(" \\\\\n\\midrule\n", f);
        size_t nk = collect(t, pc, ROW_COEF, keys, labels, CAP);
        for (size_t k = 0; k < nk; k++) {
            if (!strcmp(keys[k], "partner") || !strncmp(keys[k], "partner:", 8)) {
                fputs("\\textit{", f);
                tex_escape(f, labels[k]);
                fputs("}", f);
            } else {
                tex_escape(f, labels[k]);
            }
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_coef *cf = coef_of(&t->columns[pc->cols[c]], keys[k]);
                fputs(" & ", f);
                if (cf && isfinite(cf->estimate)) {
                    tex_num(f, cf->estimate, 3);
                    if (stars(cf->p)[0])
                        fprintf(f, "$^{%s}$", stars(cf->p));
                }
            }
            fputs(" \\\\\n", f);
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_coef *cf = coef_of(&t->columns[pc->cols[c]], keys[k]);
                fputs(" & ", f);
                if (cf && isfinite(cf->se)) {
                    fputs("(", f);
                    tex_num(f, cf->se, 3);
                    fputs(")", f);
                }
            }
            fputs(" \\\\\n", f);
        }
        size_t nc = collect(t, pc, ROW_CONTROL, keys, labels, CAP);
        for (size_t k = 0; k < nc; k++) {
            tex_escape(f, labels[k]);
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_column *col = &t->columns[pc->cols[c]];
                fprintf(f, " & %s", col->error ? "" : has_name(col->controls, col->n_controls, keys[k]) ? "Yes" : "No");
            }
            fputs(" \\\\\n", f);
        }
        size_t nf = collect(t, pc, ROW_FE, keys, labels, CAP);
        for (size_t k = 0; k < nf; k++) {
            tex_escape(f, labels[k]);
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_column *col = &t->columns[pc->cols[c]];
                fprintf(f, " & %s", col->error ? "" : has_name(col->fe, col->n_fe, keys[k]) ? "Yes" : "No");
            }
            fputs(" \\\\\n", f);
        }
        if (!is_rd_table(t)) {
            fputs("Adjusted $R^2$", f);
            for (size_t c = 0; c < pc->n; c++) {
                fputs(" & ", f);
                tex_num(f, t->columns[pc->cols[c]].adj_r2, 3);
            }
            fputs(" \\\\\n$F$-statistic", f);
            for (size_t c = 0; c < pc->n; c++) {
                fputs(" & ", f);
                tex_num(f, t->columns[pc->cols[c]].wald_f, 2);
            }
            fputs(" \\\\\n", f);
        }
        fputs("Observations", f);
        for (size_t c = 0; c < pc->n; c++) {
            const gravrd_rep_column *col = &t->columns[pc->cols[c]];
            fputs(" & ", f);
            if (!col->error)
                tex_num(f, (double)col->nobs, 0);
        }
        fputs(" \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", f);
    free_panels(pcs, np);
}

static void tex_summary(FILE *f, const gravrd_rep_table *t)
{
    fputs("\\begin{tabular}{lrrrrrrrr}\n\\toprule\nVariable & Observations & Mean & SD & Min & P25 & P50 & P75 & Max "
          "\\\\\n\\midrule\n",
          f);
    const char *panel = NULL;
    for (size_t i = 0; i < t->n_rows; i++) {
        const gravrd_rep_row *w = &t->rows[i];
        if (w->panel && (!panel || strcmp(panel, w->panel))) {
            panel = w->panel;
            for (size_t k = 0; k < t->n_panels; k++)
                if (!strcmp(t->panels[k].name, panel)) {
                    fputs("\\multicolumn{9}{l}{Panel ", f);
                    tex_escape(f, panel);
                    fputs(": ", f);
                    tex_escape(f, t->panels[k].title);
                    fputs("} \\\\\n", f);
                }
        }
        fputs("\\textit{", f);
        tex_escape(f, w->label);
        fputs("}", f);
        if (w->error) {
            fputs(" & \\multicolumn{8}{c}{failed} \\\\\n", f);
            continue;
        }
        int d = summary_decimals(w);
        double v[8] = {(double)w->n, w->mean, w->sd, w->min, w->p25, w->p50, w->p75, w->max};
        for (int k = 0; k < 8; k++) {
            fputs(" & ", f);
            tex_num(f, v[k], k == 0 ? 0 : d);
        }
        fputs(" \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", f);
}

static void tex_mediation(FILE *f, const gravrd_rep_table *t)
{
    fputs("\\begin{tabular}{lrrrrr}\n\\toprule\nMediator & Without & With & Difference & SE & $p$ \\\\\n\\midrule\n", f);
    for (size_t i = 0; i < t->n_tests; i++) {
        const gravrd_rep_test *x = &t->tests[i];
        tex_escape(f, x->label);
        if (x->error) {
            fputs(" & \\multicolumn{5}{c}{failed} \\\\\n", f);
            continue;
        }
        fputs(" & ", f);
        tex_num(f, x->base_estimate, 3);
        fputs(" & ", f);
        tex_num(f, x->mediated_estimate, 3);
        fputs(" & ", f);
        tex_num(f, x->difference, 4);
        if (stars(x->p)[0])
            fprintf(f, "$^{%s}$", stars(x->p));
        fputs(" & ", f);
        tex_num(f, x->se, 4);
        fputs(" & ", f);
        tex_num(f, x->p, 4);
        fputs(" \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", f);
}

static void tex_numbers(FILE *f, const gravrd_rep_table *t)
{
    fputs("\\begin{tabular}{lrl}\n\\toprule\nNumber & Value & Unit \\\\\n\\midrule\n", f);
    for (size_t i = 0; i < t->n_items; i++) {
        const gravrd_rep_item *x = &t->items[i];
        tex_escape(f, x->label);
        fputs(" & ", f);
        if (!x->error)
            tex_num(f, x->value, 3);
        fputs(" & ", f);
        tex_escape(f, x->unit);
        fputs(" \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", f);
}

static void write_tex(FILE *f, const gravrd_rep_table *t)
{
    fprintf(f, "%% %s: generated by gravrd replicate; needs \\usepackage{booktabs}\n", t->name);
    fputs("\\begin{table}[htbp]\n\\centering\n\\caption{", f);
    if (t->paper[0]) {
        tex_escape(f, t->paper);
        fputs(". ", f);
    }
    tex_escape(f, t->title);
    fprintf(f, "}\n\\label{tab:%s}\n\\small\n", t->name);
    switch (t->kind) {
    case GRAVRD_TABLE_SUMMARY: tex_summary(f, t); break;
    case GRAVRD_TABLE_MEDIATION: tex_mediation(f, t); break;
    case GRAVRD_TABLE_NUMBERS: tex_numbers(f, t); break;
    default: tex_regression(f, t); break;
    }
    if (t->n_notes || t->n_errors) {
        fputs("\\par\\medskip\\footnotesize\\raggedright \\textit{Notes.} ", f);
        for (size_t i = 0; i < t->n_notes; i++) {
            tex_escape(f, t->notes[i]);
            fputc(' ', f);
        }
        for (size_t i = 0; i < t->n_errors; i++) {
            fputs("\\textbf{Error:} ", f);
            tex_escape(f, t->errors[i]);
            fputc(' ', f);
        }
        fputc('\n', f);
    }
    fputs("\\end{table}\n", f);
}

/* ---- CSV ---- */

static void write_csv(FILE *f, const gravrd_rep_table *t)
{
    switch (t->kind) {
    case GRAVRD_TABLE_SUMMARY:
        fputs("table,panel,variable,label,sample,level,n,mean,sd,min,p25,p50,p75,max,published_n,published_mean,"
              "published_sd,published_min,published_p25,published_p50,published_p75,published_max,error\n",
              f);
        for (size_t i = 0; i < t->n_rows; i++) {
            const gravrd_rep_row *w = &t->rows[i];
            const char *s[] = {t->name, w->panel, w->variable, w->label, w->sample, w->level};
            for (int k = 0; k < 6; k++) {
                if (k)
                    fputc(',', f);
                report_csv_field(f, s[k]);
            }
            double v[8] = {w->error ? NAN : (double)w->n, w->mean, w->sd, w->min, w->p25, w->p50, w->p75, w->max};
            for (int k = 0; k < 8; k++) {
                fputc(',', f);
                report_csv_number(f, v[k]);
            }
            for (int k = 0; k < 8; k++) {
                fputc(',', f);
                if (w->has_published)
                    report_csv_number(f, w->published[k]);
            }
            fputc(',', f);
            report_csv_field(f, w->error);
            fputc('\n', f);
        }
        return;
    case GRAVRD_TABLE_MEDIATION:
        fputs("table,test,coefficient,base_estimate,mediated_estimate,difference,se,t,p,nobs,n_clusters,"
              "bootstrap_reps,bootstrap_se,bootstrap_p,truth,published_base,published_mediated,error\n",
              f);
        for (size_t i = 0; i < t->n_tests; i++) {
            const gravrd_rep_test *x = &t->tests[i];
            report_csv_field(f, t->name);
            fputc(',', f);
            report_csv_field(f, x->label);
            fputc(',', f);
            report_csv_field(f, x->coefficient);
            double v[] = {x->base_estimate, x->mediated_estimate, x->difference, x->se, x->t, x->p,
                          x->error ? NAN : (double)x->nobs, x->error ? NAN : (double)x->n_clusters,
                          (double)x->bootstrap_reps, x->bootstrap_se, x->bootstrap_p, x->truth, x->pub_base,
                          x->pub_mediated};
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                fputc(',', f);
                report_csv_number(f, v[k]);
            }
            fputc(',', f);
            report_csv_field(f, x->error);
            fputc('\n', f);
        }
        return;
    case GRAVRD_TABLE_NUMBERS:
        fputs("table,name,label,value,unit,published,published_lo,published_hi,truth,formula,error\n", f);
        for (size_t i = 0; i < t->n_items; i++) {
            const gravrd_rep_item *x = &t->items[i];
            report_csv_field(f, t->name);
            fputc(',', f);
            report_csv_field(f, x->name);
            fputc(',', f);
            report_csv_field(f, x->label);
            fputc(',', f);
            report_csv_number(f, x->value);
            fputc(',', f);
            report_csv_field(f, x->unit);
            double v[] = {x->published, x->pub_lo, x->pub_hi, x->truth};
            for (size_t k = 0; k < 4; k++) {
                fputc(',', f);
                report_csv_number(f, v[k]);
            }
            fputc(',', f);
            report_csv_field(f, x->formula);
            fputc(',', f);
            report_csv_field(f, x->error);
            fputc('\n', f);
        }
        return;
    default: break;
    }
    fputs("table,panel,column,label,group,outcome,sample,term,row_label,estimate,se,t,p,ci_lo,ci_hi,"
          "published_estimate,published_se,published_lo,published_hi,truth,truth_in_ci,nobs,adj_r2,wald_f,"
          "bandwidth_km,error\n",
          f);
    for (size_t c = 0; c < t->n_columns; c++) {
        const gravrd_rep_column *col = &t->columns[c];
        int rows = col->n_coefs > 0 ? col->n_coefs : 1;
        for (int k = 0; k < rows; k++) {
            const gravrd_rep_coef *cf = k < col->n_coefs ? &col->coefs[k] : NULL;
            const char *s[] = {t->name, col->panel, col->name, col->label, col->group, col->outcome, col->sample,
                               cf ? cf->key : NULL, cf ? cf->label : NULL};
            for (int m = 0; m < 9; m++) {
                if (m)
                    fputc(',', f);
                report_csv_field(f, s[m]);
            }
            double v[11] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
            if (cf) {
                double w[] = {cf->estimate, cf->se, cf->t, cf->p, cf->ci_lo, cf->ci_hi, cf->pub_estimate, cf->pub_se,
                              cf->pub_lo, cf->pub_hi, cf->truth};
                memcpy(v, w, sizeof v);
            }
            for (int m = 0; m < 11; m++) {
                fputc(',', f);
                report_csv_number(f, v[m]);
            }
            fputc(',', f);
            int in = cf ? truth_in_ci(cf) : -1;
            if (in >= 0)
                fputs(in ? "true" : "false", f);
            double s2[] = {col->error ? NAN : (double)col->nobs, col->adj_r2, col->wald_f,
                           cf && cf->is_rd ? cf->bandwidth_km : col->bandwidth_km};
            for (int m = 0; m < 4; m++) {
                fputc(',', f);
                report_csv_number(f, s2[m]);
            }
            fputc(',', f);
            report_csv_field(f, col->error);
            fputc('\n', f);
        }
    }
}

/* ---- JSON ---- */

static void j_strings(FILE *f, char *const *s, size_t n)
{
    fputc('[', f);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', f);
        report_json_string(f, s[i]);
    }
    fputc(']', f);
}

static void json_coef(FILE *f, const gravrd_rep_coef *c)
{
    fputc('{', f);
    j_key(f, "name");
    report_json_string(f, c->label);
    fputc(',', f);
    j_key(f, "key");
    report_json_string(f, c->key);
    const char *names[] = {"estimate", "se", "t", "p", "ci_lo", "ci_hi"};
    double v[] = {c->estimate, c->se, c->t, c->p, c->ci_lo, c->ci_hi};
    j_number_fields(f, names, v, 6);
    fputs(",\"published\":", f);
    if (isfinite(c->pub_estimate)) {
        fputs("{\"estimate\":", f);
        report_json_number(f, c->pub_estimate);
        fputs(",\"se\":", f);
        report_json_number(f, c->pub_se);
        fputc('}', f);
    } else if (isfinite(c->pub_lo)) {
        fputs("{\"estimate\":null,\"se\":null,\"range\":[", f);
        report_json_number(f, c->pub_lo);
        fputc(',', f);
        report_json_number(f, c->pub_hi);
        fputs("]}", f);
    } else {
        fputs("null", f);
    }
    fputs(",\"truth\":", f);
    report_json_number(f, c->truth);
    fputs(",\"truth_in_ci\":", f);
    int in = truth_in_ci(c);
    fputs(in < 0 ? "null" : in ? "true" : "false", f);
    if (c->is_rd) {
        const char *rn[] = {"bandwidth_km", "estimate_bc", "se_robust", "ci_lo_robust", "ci_hi_robust"};
        double rv[] = {c->bandwidth_km, c->estimate_bc, c->se_robust, c->ci_lo_robust, c->ci_hi_robust};
        j_number_fields(f, rn, rv, 5);
        fprintf(f, ",\"n_left\":%zu,\"n_right\":%zu,\"n_clusters\":%zu", c->n_left, c->n_right, c->n_clusters);
    }
    fputc('}', f);
}

static void json_column(FILE *f, const gravrd_rep_column *c)
{
    fputc('{', f);
    const char *sk[] = {"label", "name", "panel", "group", "outcome", "outcome_key", "sample", "sample_label",
                        "formula", "subset"};
    const char *sv[] = {c->label, c->name, c->panel, c->group, c->outcome, c->outcome_key, c->sample, c->sample_label,
                        c->formula, c->subset};
    j_string_fields(f, sk, sv, 10);
    fprintf(f, ",\"line\":%d,\"nobs\":", c->line);
    if (c->error)
        fputs("null", f);
    else
        fprintf(f, "%zu", c->nobs);
    const char *nk[] = {"r2", "adj_r2", "within_r2", "wald_f", "wald_p", "bandwidth_km", "match_km"};
    double nv[] = {c->r2, c->adj_r2, c->within_r2, c->wald_f, c->wald_p, c->bandwidth_km, c->match_km};
    j_number_fields(f, nk, nv, 7);
    fputs(",\"fe\":", f);
    j_strings(f, c->fe, (size_t)c->n_fe);
    fputs(",\"fe_labels\":", f);
    j_strings(f, c->fe_labels, (size_t)c->n_fe);
    fputs(",\"controls\":", f);
    j_strings(f, c->controls, (size_t)c->n_controls);
    fputs(",\"control_labels\":", f);
    j_strings(f, c->control_labels, (size_t)c->n_controls);
    fputs(",\"vcov\":", f);
    report_json_string(f, c->vcov);
    fputs(",\"solver\":", f);
    if (c->solver && !c->error)
        report_json_string(f, c->solver);
    else
        fputs("null", f);
    fprintf(f, ",\"iterations\":%d,\"n_clusters\":%zu,\"published\":", c->error ? 0 : c->iterations, c->n_clusters);
    const char *pk[] = {"adj_r2", "f", "nobs"};
    const double pv[] = {c->pub_adj_r2, c->pub_f, c->pub_nobs};
    j_known_object(f, pk, pv, 3);
    fputs(",\"error\":", f);
    report_json_string(f, c->error);
    fputs(",\"coefficients\":[", f);
    for (int k = 0; k < c->n_coefs; k++) {
        if (k)
            fputc(',', f);
        json_coef(f, &c->coefs[k]);
    }
    fputs("]}", f);
}

static void write_json(FILE *f, const gravrd_rep_table *t)
{
    fputc('{', f);
    j_key(f, "name");
    report_json_string(f, t->name);
    fputs(",\"title\":", f);
    report_json_string(f, t->title);
    fputs(",\"paper\":", f);
    report_json_string(f, t->paper);
    fputs(",\"kind\":", f);
    report_json_string(f, gravrd_table_kind_name(t->kind));
    fputs(",\"status\":", f);
    report_json_string(f, status_name(t->status));
    fputs(",\"notes\":", f);
    j_strings(f, t->notes, t->n_notes);
    fputs(",\"errors\":", f);
    j_strings(f, t->errors, t->n_errors);
    fprintf(f, ",\"has_truth\":%s,\"models\":%zu,\"seconds\":", t->has_truth ? "true" : "false", t->models);
    report_json_number(f, t->seconds);
    fputs(",\"panels\":[", f);
    for (size_t i = 0; i < t->n_panels; i++) {
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        report_json_string(f, t->panels[i].name);
        fputs(",\"title\":", f);
        report_json_string(f, t->panels[i].title);
        fputc('}', f);
    }
    fputc(']', f);
    switch (t->kind) {
    case GRAVRD_TABLE_SUMMARY:
        fputs(",\"rows\":[", f);
        for (size_t i = 0; i < t->n_rows; i++) {
            const gravrd_rep_row *w = &t->rows[i];
            fputs(i ? ",{" : "{", f);
            const char *sk[] = {"panel", "variable", "label", "sample", "sample_label", "level", "error"};
            const char *sv[] = {w->panel, w->variable, w->label, w->sample, w->sample_label, w->level, w->error};
            j_string_fields(f, sk, sv, 7);
            fprintf(f, ",\"line\":%d,\"n\":", w->line);
            if (w->error)
                fputs("null", f);
            else
                fprintf(f, "%zu", w->n);
            const char *nk[] = {"mean", "sd", "min", "p25", "p50", "p75", "max"};
            double nv[] = {w->mean, w->sd, w->min, w->p25, w->p50, w->p75, w->max};
            j_number_fields(f, nk, nv, 7);
            fputs(",\"published\":", f);
            if (w->has_published) {
                fputc('[', f);
                for (int k = 0; k < 8; k++) {
                    if (k)
                        fputc(',', f);
                    report_json_number(f, w->published[k]);
                }
                fputc(']', f);
            } else {
                fputs("null", f);
            }
            fputc('}', f);
        }
        fputc(']', f);
        break;
    case GRAVRD_TABLE_MEDIATION:
        fputs(",\"tests\":[", f);
        for (size_t i = 0; i < t->n_tests; i++) {
            const gravrd_rep_test *x = &t->tests[i];
            fputs(i ? ",{" : "{", f);
            const char *sk[] = {"label", "coefficient", "base", "mediated", "error"};
            const char *sv[] = {x->label, x->coefficient, x->base, x->mediated, x->error};
            j_string_fields(f, sk, sv, 5);
            const char *nk[] = {"base_estimate", "mediated_estimate", "difference", "se", "t", "p", "bootstrap_se",
                                "bootstrap_p", "truth"};
            double nv[] = {x->base_estimate, x->mediated_estimate, x->difference, x->se, x->t, x->p,
                           x->bootstrap_se, x->bootstrap_p, x->truth};
            j_number_fields(f, nk, nv, 9);
            fprintf(f, ",\"line\":%d,\"nobs\":%zu,\"n_clusters\":%ld,\"bootstrap_reps\":%d,\"published\":", x->line,
                    x->nobs, (long)x->n_clusters, x->bootstrap_reps);
            const char *pk[] = {"base", "mediated"};
            const double pv[] = {x->pub_base, x->pub_mediated};
            j_known_object(f, pk, pv, 2);
            fputc('}', f);
        }
        fputc(']', f);
        break;
    case GRAVRD_TABLE_NUMBERS:
        fputs(",\"items\":[", f);
        for (size_t i = 0; i < t->n_items; i++) {
            const gravrd_rep_item *x = &t->items[i];
            fputs(i ? ",{" : "{", f);
            const char *sk[] = {"name", "label", "unit", "formula", "error"};
            const char *sv[] = {x->name, x->label, x->unit, x->formula, x->error};
            j_string_fields(f, sk, sv, 5);
            fprintf(f, ",\"line\":%d,\"value\":", x->line);
            report_json_number(f, x->value);
            fputs(",\"published\":", f);
            if (isfinite(x->published))
                report_json_number(f, x->published);
            else if (isfinite(x->pub_lo)) {
                fputc('[', f);
                report_json_number(f, x->pub_lo);
                fputc(',', f);
                report_json_number(f, x->pub_hi);
                fputc(']', f);
            } else
                fputs("null", f);
            fputs(",\"truth\":", f);
            report_json_number(f, x->truth);
            fputc('}', f);
        }
        fputc(']', f);
        break;
    default:
        fputs(",\"columns\":[", f);
        for (size_t i = 0; i < t->n_columns; i++) {
            if (i)
                fputc(',', f);
            json_column(f, &t->columns[i]);
        }
        fputc(']', f);
        break;
    }
    fputs("}\n", f);
}

/* ---- files ---- */

static gravrd_status write_file(const char *dir, const char *name, const char *ext, const gravrd_rep_table *t,
                                void (*fn)(FILE *, const gravrd_rep_table *), gravrd_error *err)
{
    char *path = plan_format("%s/%s.%s", dir, name, ext);
    char *tmp = plan_format("%s/.%s.%s.tmp", dir, name, ext);
    if (!path || !tmp) {
        free(path);
        free(tmp);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    FILE *f = fopen(tmp, "w");
    gravrd_status st = GRAVRD_OK;
    if (!f)
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write", tmp);
    else {
        fn(f, t);
        int bad = ferror(f);
        if (fclose(f) || bad)
            st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: error writing", tmp);
        else if (rename(tmp, path))
            st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot move into place", path);
        if (st)
            remove(tmp);
    }
    free(path);
    free(tmp);
    return st;
}

gravrd_status gravrd_rep_table_write(const gravrd_rep_table *t, const char *out_dir, gravrd_error *err)
{
    gravrd_status st;
    if ((st = write_file(out_dir, t->name, "md", t, write_md, err)) ||
        (st = write_file(out_dir, t->name, "tex", t, write_tex, err)) ||
        (st = write_file(out_dir, t->name, "csv", t, write_csv, err)) ||
        (st = write_file(out_dir, t->name, "json", t, write_json, err)))
        return st;
    return GRAVRD_OK;
}

gravrd_status gravrd_replication_write_index(const gravrd_replication *rep, const char *out_dir, gravrd_error *err)
{
    char *path = plan_format("%s/replication.json", out_dir);
    char *tmp = plan_format("%s/.replication.json.tmp", out_dir);
    if (!path || !tmp) {
        free(path);
        free(tmp);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    FILE *f = fopen(tmp, "w");
    gravrd_status st = GRAVRD_OK;
    if (!f) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write", tmp);
        goto done;
    }
    fputs("{\"generator\":\"gravrd replicate\",\"version\":\"0.1.0\",\"study\":", f);
    report_json_string(f, rep->study);
    fputs(",\"study_title\":", f);
    report_json_string(f, rep->study_title);
    fputs(",\"data\":", f);
    report_json_string(f, rep->data_dir);
    fputs(",\"flow\":", f);
    report_json_string(f, rep->flow);
    fprintf(f, ",\"has_truth\":%s,\"bootstrap\":%d,\"seconds\":", rep->has_truth ? "true" : "false", rep->bootstrap);
    report_json_number(f, rep->seconds);
    fprintf(f, ",\"models\":%zu,\"status\":\"%s\",\"tables\":[\n", rep->models, rep->n_failed ? "failed" : "ok");
    for (size_t i = 0; i < rep->n_tables; i++) {
        const gravrd_rep_table *t = &rep->tables[i];
        fputs(i ? ",\n{\"name\":" : "{\"name\":", f);
        report_json_string(f, t->name);
        fputs(",\"title\":", f);
        report_json_string(f, t->title);
        fputs(",\"paper\":", f);
        report_json_string(f, t->paper);
        fputs(",\"kind\":", f);
        report_json_string(f, gravrd_table_kind_name(t->kind));
        fputs(",\"files\":{", f);
        const char *ext[] = {"md", "tex", "csv", "json"};
        for (int k = 0; k < 4; k++) {
            if (k)
                fputc(',', f);
            j_key(f, ext[k]);
            fprintf(f, "\"%s.%s\"", t->name, ext[k]);
        }
        fputs("},\"status\":", f);
        report_json_string(f, status_name(t->status));
        fputs(",\"error\":", f);
        report_json_string(f, t->error);
        fprintf(f, ",\"models\":%zu,\"seconds\":", t->models);
        report_json_number(f, t->seconds);
        fputc('}', f);
    }
    fputs("\n]}\n", f);
    int bad = ferror(f);
    if (fclose(f) || bad)
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: error writing", tmp);
    else if (rename(tmp, path))
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot move into place", path);
done:
    free(path);
    free(tmp);
    return st;
}
