/* table_tex.c - a replication table as LaTeX (NAME.tex): booktabs, stars,
 * standard errors in parentheses, "Yes" rows for controls and fixed
 * effects, adjusted R2, F and observations, as the paper prints them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/table_internal.h"

/* LaTeX text: every character special to LaTeX in a label or note. */
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


/* ---- LaTeX ---- */

static void tex_num(FILE *f, double x, int d)
{
    char buf[64];
    if (!isfinite(x))
        return;
    tw_fmt_sep(buf, sizeof buf, x, d);
    if (buf[0] == '-')
        fprintf(f, "$-$%s", buf + 1);
    else
        fputs(buf, f);
}

static void tex_regression(FILE *f, const gravrd_rep_table *t)
{
    panel_cols *pcs;
    size_t np = tw_make_panels(t, &pcs);
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
        size_t nk = tw_collect(t, pc, ROW_COEF, keys, labels, CAP);
        for (size_t k = 0; k < nk; k++) {
            if (!strcmp(keys[k], "partner") || !strncmp(keys[k], "partner:", 8)) {
                fputs("\\textit{", f);
                tex_escape(f, labels[k]);
                fputs("}", f);
            } else {
                tex_escape(f, labels[k]);
            }
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_coef *cf = tw_coef_of(&t->columns[pc->cols[c]], keys[k]);
                fputs(" & ", f);
                if (cf && isfinite(cf->estimate)) {
                    tex_num(f, cf->estimate, 3);
                    if (tw_stars(cf->p)[0])
                        fprintf(f, "$^{%s}$", tw_stars(cf->p));
                }
            }
            fputs(" \\\\\n", f);
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_coef *cf = tw_coef_of(&t->columns[pc->cols[c]], keys[k]);
                fputs(" & ", f);
                if (cf && isfinite(cf->se)) {
                    fputs("(", f);
                    tex_num(f, cf->se, 3);
                    fputs(")", f);
                }
            }
            fputs(" \\\\\n", f);
        }
        size_t nc = tw_collect(t, pc, ROW_CONTROL, keys, labels, CAP);
        for (size_t k = 0; k < nc; k++) {
            tex_escape(f, labels[k]);
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_column *col = &t->columns[pc->cols[c]];
                fprintf(f, " & %s", col->error ? "" : tw_has_name(col->controls, col->n_controls, keys[k]) ? "Yes" : "No");
            }
            fputs(" \\\\\n", f);
        }
        size_t nf = tw_collect(t, pc, ROW_FE, keys, labels, CAP);
        for (size_t k = 0; k < nf; k++) {
            tex_escape(f, labels[k]);
            for (size_t c = 0; c < pc->n; c++) {
                const gravrd_rep_column *col = &t->columns[pc->cols[c]];
                fprintf(f, " & %s", col->error ? "" : tw_has_name(col->fe, col->n_fe, keys[k]) ? "Yes" : "No");
            }
            fputs(" \\\\\n", f);
        }
        if (!tw_is_rd_table(t)) {
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
    tw_free_panels(pcs, np);
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
        int d = tw_summary_decimals(w);
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
        if (tw_stars(x->p)[0])
            fprintf(f, "$^{%s}$", tw_stars(x->p));
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

void table_write_tex(FILE *f, const gravrd_rep_table *t)
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
