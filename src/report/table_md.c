/* table_md.c - a replication table as Markdown (NAME.md): one pipe table
 * per panel, estimates with stars and standard errors, notes and errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "gravrd/inference.h"
#include "report/table_internal.h"
#include "table/table_names.h"

/* Markdown table cells: a "|" would end the cell, a newline the row. */
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


/* ---- Markdown ---- */

static void md_regression(FILE *f, const gravrd_rep_table *t)
{
    panel_cols *pcs;
    size_t np = tw_make_panels(t, &pcs);
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
        size_t nk = tw_collect(t, pc, ROW_COEF, keys, labels, CAP);
        for (size_t k = 0; k < nk; k++) {
            int any_pub = 0, any_truth = 0;
            fputs("| ", f);
            md_escape(f, labels[k]);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                const gravrd_rep_coef *cf = tw_coef_of(c, keys[k]);
                if (c->error)
                    fputs(" | failed", f);
                else if (cf && isfinite(cf->estimate))
                    fprintf(f, " | %.3f%s", cf->estimate, tw_stars(cf->p));
                else
                    fputs(" | ", f);
                if (cf && (isfinite(cf->pub_estimate) || isfinite(cf->pub_lo)))
                    any_pub = 1;
                if (cf && isfinite(cf->truth))
                    any_truth = 1;
            }
            fputs(" |\n|", f);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_coef *cf = tw_coef_of(&t->columns[pc->cols[i]], keys[k]);
                if (cf && isfinite(cf->se))
                    fprintf(f, " | (%.3f)", cf->se);
                else
                    fputs(" | ", f);
            }
            fputs(" |\n", f);
            int alt = -1;
            for (size_t i = 0; i < pc->n && alt < 0; i++) {
                const gravrd_rep_coef *cf = tw_coef_of(&t->columns[pc->cols[i]], keys[k]);
                if (cf)
                    alt = cf->alt_method;
            }
            if (alt >= 0) {
                fprintf(f, "| *%s: p [95%% CI]*", gravrd_inference_name((gravrd_inference)alt));
                for (size_t i = 0; i < pc->n; i++) {
                    const gravrd_rep_coef *cf = tw_coef_of(&t->columns[pc->cols[i]], keys[k]);
                    if (cf && cf->alt_method >= 0 && isfinite(cf->alt_p))
                        fprintf(f, " | *%.3f [%.3f, %.3f]*", cf->alt_p, cf->alt_lo, cf->alt_hi);
                    else
                        fputs(" | ", f);
                }
                fputs(" |\n", f);
            }
            if (any_pub) {
                fputs("| *paper*", f);
                for (size_t i = 0; i < pc->n; i++) {
                    const gravrd_rep_coef *cf = tw_coef_of(&t->columns[pc->cols[i]], keys[k]);
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
                    const gravrd_rep_coef *cf = tw_coef_of(&t->columns[pc->cols[i]], keys[k]);
                    if (cf && isfinite(cf->truth)) {
                        int in = tw_truth_in_ci(cf);
                        fprintf(f, " | *%.3f %s*", cf->truth, in < 0 ? "" : in ? "yes" : "no");
                    } else
                        fputs(" | ", f);
                }
                fputs(" |\n", f);
            }
        }
        size_t nc = tw_collect(t, pc, ROW_CONTROL, keys, labels, CAP);
        for (size_t k = 0; k < nc; k++) {
            fputs("| ", f);
            md_escape(f, labels[k]);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                fprintf(f, " | %s", c->error ? "" : tw_has_name(c->controls, c->n_controls, keys[k]) ? "Yes" : "No");
            }
            fputs(" |\n", f);
        }
        size_t nf = tw_collect(t, pc, ROW_FE, keys, labels, CAP);
        for (size_t k = 0; k < nf; k++) {
            fputs("| ", f);
            md_escape(f, labels[k]);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                fprintf(f, " | %s", c->error ? "" : tw_has_name(c->fe, c->n_fe, keys[k]) ? "Yes" : "No");
            }
            fputs(" |\n", f);
        }
        if (!tw_is_rd_table(t)) {
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
                fprintf(f, " | %s", isfinite(c->wald_f) ? tw_fmt_sep(buf, sizeof buf, c->wald_f, 2) : "");
                if (isfinite(c->pub_f))
                    fprintf(f, " *(%s)*", tw_fmt_sep(buf2, sizeof buf2, c->pub_f, 2));
            }
            fputs(" |\n", f);
        }
        fputs("| Observations", f);
        for (size_t i = 0; i < pc->n; i++) {
            const gravrd_rep_column *c = &t->columns[pc->cols[i]];
            fprintf(f, " | %s", c->error ? "" : tw_fmt_sep(buf, sizeof buf, (double)c->nobs, 0));
            if (isfinite(c->pub_nobs))
                fprintf(f, " *(%s)*", tw_fmt_sep(buf2, sizeof buf2, c->pub_nobs, 0));
        }
        fputs(" |\n", f);
        if (tw_is_rd_table(t)) {
            fputs("| Clusters (pairs)", f);
            for (size_t i = 0; i < pc->n; i++) {
                const gravrd_rep_column *c = &t->columns[pc->cols[i]];
                fprintf(f, " | %s", c->error ? "" : tw_fmt_sep(buf, sizeof buf, (double)c->n_clusters, 0));
            }
            fputs(" |\n", f);
        }
    }
    tw_free_panels(pcs, np);
    fputs("\nStandard errors in parentheses; * p<0.10, ** p<0.05, *** p<0.01. Published values (where the paper "
          "gives them) in italics in parentheses or on *paper* rows.\n",
          f);
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
        int d = tw_summary_decimals(w);
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
            fprintf(f, " | %s", tw_fmt_sep(b[k], sizeof b[k], v[k], k == 0 ? 0 : d));
        fputs(" |\n", f);
        if (w->has_published) {
            fputs("| *paper* | | ", f);
            for (int k = 0; k < 8; k++)
                fprintf(f, " | *%s*", tw_fmt_sep(b[k], sizeof b[k], w->published[k], k == 0 ? 0 : d));
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
                x->difference, tw_stars(x->p), x->se, x->t, x->p);
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

void table_write_md(FILE *f, const gravrd_rep_table *t)
{
    fprintf(f, "## ");
    if (t->paper[0])
        fprintf(f, "%s. ", t->paper);
    md_escape(f, t->title);
    fprintf(f, "\n\n`%s` (%s) - status: %s\n", t->name, gravrd_table_kind_name(t->kind), tw_status_name(t->status));
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
