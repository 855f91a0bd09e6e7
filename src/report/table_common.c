/* table_common.c - what the four table formats share (table_internal.h):
 * number formats, significance stars, status words, and the column groups
 * (panels) of regression-like tables with their distinct rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/table_internal.h"
#include "table/table_names.h"

/* Number with thousands separators and d decimals into buf. */
const char *tw_fmt_sep(char *buf, size_t n, double x, int d)
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

/* The paper's thresholds (10%, 5%, 1%); "" for a missing p-value. */
const char *tw_stars(double p)
{
    if (!(p >= 0))
        return "";
    return p < 0.01 ? "***" : p < 0.05 ? "**" : p < 0.1 ? "*" : "";
}

/* The status words of the written tables and of the index. */
const char *tw_status_name(gravrd_rep_status s)
{
    return s == GRAVRD_REP_OK ? "ok" : s == GRAVRD_REP_PARTIAL ? "partial" : "failed";
}

/* 1 / 0 whether the simulated truth lies in the interval; -1 when either
 * is unknown (written as null or empty, never as a guess). */
int tw_truth_in_ci(const gravrd_rep_coef *c)
{
    return isfinite(c->truth) && isfinite(c->ci_lo) && isfinite(c->ci_hi) ? c->truth >= c->ci_lo && c->truth <= c->ci_hi
                                                                          : -1;
}

/* Decimals of a summary row: 3 when its largest magnitude is below 20, else
 * 2; one rule, so Markdown and LaTeX print the same digits. */
int tw_summary_decimals(const gravrd_rep_row *w)
{
    double m = fabs(w->max) > fabs(w->min) ? fabs(w->max) : fabs(w->min);
    return isfinite(m) && m < 20 ? 3 : 2;
}

/* ---- column groups (panels) of regression-like tables ---- */

/* The column groups in print order; 0 (and *out NULL) when out of memory,
 * a panel whose column list could not be allocated is left out. */
size_t tw_make_panels(const gravrd_rep_table *t, panel_cols **out)
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

/* Frees what tw_make_panels returned. */
void tw_free_panels(panel_cols *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(p[i].cols);
    free(p);
}

/* The distinct names of one kind over a panel's columns, in order of
 * first appearance, terms compared ignoring whitespace; at most cap. */
size_t tw_collect(const gravrd_rep_table *t, const panel_cols *pc, row_kind kind, const char **keys,
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

/* The column's coefficient whose key is the term key, NULL when none. */
const gravrd_rep_coef *tw_coef_of(const gravrd_rep_column *c, const char *key)
{
    for (int k = 0; k < c->n_coefs; k++)
        if (plan_same_term(c->coefs[k].key, key))
            return &c->coefs[k];
    return NULL;
}

/* 1 when key is among names (terms compared ignoring whitespace). */
int tw_has_name(char *const *names, int n, const char *key)
{
    for (int k = 0; k < n; k++)
        if (plan_same_term(names[k], key))
            return 1;
    return 0;
}

/* RD tables print bandwidths and sides instead of FE rows. */
int tw_is_rd_table(const gravrd_rep_table *t) { return t->kind == GRAVRD_TABLE_RD; }
