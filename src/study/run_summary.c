/* run_summary.c - summary tables: n, mean, SD, min, quartiles (R type 7)
 * and max of an expression over the rows of a level (flows, east-west
 * pairs, or directed pairs averaged over their months) and a sample. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study/run.h"

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* k-th smallest (0-based) of x[0..n-1], partially reordering x. */
static double select_k(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (hi > lo) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo])
            swap_d(&x[mid], &x[lo]);
        if (x[hi] < x[lo])
            swap_d(&x[hi], &x[lo]);
        if (x[hi] < x[mid])
            swap_d(&x[hi], &x[mid]);
        double pivot = x[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                swap_d(&x[i], &x[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return x[k];
    }
    return x[k];
}

/* R's type-7 quantile of the n values in x (reordered). *from (0 at the
 * first call) is a position such that x[0..from-1] are the smallest values
 * in order-statistic sense (every one <= every value after them), as
 * select_k leaves them; the selection then runs on x[from..] only, and
 * *from is advanced past position k for the next, larger p. The values
 * returned are order statistics, so they do not depend on it. */
static double quantile7(double *x, size_t n, double p, size_t *from)
{
    double h = (double)(n - 1) * p;
    size_t k = (size_t)floor(h);
    size_t f = *from <= k ? *from : 0;
    double a = select_k(x + f, n - f, k - f);
    *from = k + 1;
    if (k + 1 >= n || h == (double)k)
        return a;
    /* the next order statistic is the smallest value above position k */
    double b = INFINITY;
    for (size_t i = k + 1; i < n; i++)
        if (x[i] < b)
            b = x[i];
    return a + (h - (double)k) * (b - a);
}

static void describe(double *x, size_t n, gravrd_rep_row *row)
{
    row->n = n;
    if (n == 0) {
        row->mean = row->sd = row->min = row->p25 = row->p50 = row->p75 = row->max = NAN;
        return;
    }
    double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        sum += x[i];
        if (x[i] < mn)
            mn = x[i];
        if (x[i] > mx)
            mx = x[i];
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    row->mean = mean;
    row->sd = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
    row->min = mn;
    row->max = mx;
    size_t from = 0;
    row->p25 = quantile7(x, n, 0.25, &from);
    row->p50 = quantile7(x, n, 0.50, &from);
    row->p75 = quantile7(x, n, 0.75, &from);
}

/* The statistics of one row over its level's rows. */
static gravrd_status summary_row(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_row *e,
                                 gravrd_rep_row *row, gravrd_error *err)
{
    const char *subset = e->sample.subset, *sname = e->sample.name;
    int is_pairs = e->level == GRAVRD_PLAN_LEVEL_PAIRS, directed = e->level == GRAVRD_PLAN_LEVEL_DIRECTED_PAIRS;
    gravrd_status st = rep_check_needs(r, tb, e->at.needs, e->at.n_needs, !is_pairs, err);
    gravrd_study *study = NULL;
    if (!st)
        st = rep_get_study(r, e->bandwidth, &study, err);
    const gravrd_frame *flows = NULL;
    if (!st && !is_pairs)
        st = rep_get_flows(r, &flows, err);
    char **names = NULL;
    size_t n_names = 0;
    if (!st)
        st = rep_expr_names(e->expr, &names, &n_names, err);
    if (!st && subset)
        st = rep_expr_names(subset, &names, &n_names, err);
    const char *extra[] = {"east_city", "west_city", NULL};
    for (size_t i = 0; i < n_names && !st; i++)
        if (!rep_known_variable(r, study, names[i], is_pairs ? extra : NULL))
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                  "%s:%d: table %s: unknown variable '%s' (not a column of %s nor a variable of the "
                                  "study)",
                                  r->plan->source, e->at.line, tb->name, names[i], r->flows_name);
    if (!st && directed) {
        int has_pair = 0;
        for (size_t i = 0; i < n_names; i++)
            has_pair |= !strcmp(names[i], "pair");
        char *pair[] = {"pair"};
        if (!has_pair && rep_add_names(&names, &n_names, pair, 1))
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    gravrd_frame *owned = NULL;
    const gravrd_frame *f = NULL;
    if (!st) {
        if (is_pairs) {
            st = gravrd_study_pair_frame(study, NULL, (const char *const *)names, n_names, &owned, err);
            f = owned;
        } else {
            st = rep_flow_frame(r, e->bandwidth, names, n_names, &f, err);
        }
    }
    double *v = NULL, *keep = NULL;
    size_t N = f ? f->n_rows : 0;
    if (!st) {
        v = malloc((N ? N : 1) * sizeof *v);
        keep = malloc((N ? N : 1) * sizeof *keep);
        if (!v || !keep)
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    if (!st)
        st = rep_eval_on(f, study, e->expr, v, err);
    if (!st) {
        if (subset)
            st = rep_eval_on(f, study, subset, keep, err);
        else
            for (size_t i = 0; i < N; i++)
                keep[i] = 1;
    }
    if (!st) {
        size_t m = 0;
        if (directed) {
            const gravrd_column *pc = gravrd_frame_find(f, "pair");
            int32_t *code = malloc((N ? N : 1) * sizeof *code), ng = 0;
            if (!code)
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            if (!st)
                st = gravrd_column_group_codes(pc, N, code, &ng, NULL, err);
            double *sum = NULL;
            size_t *cnt = NULL;
            if (!st) {
                sum = calloc((size_t)ng + 1, sizeof *sum);
                cnt = calloc((size_t)ng + 1, sizeof *cnt);
                if (!sum || !cnt)
                    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            }
            if (!st) {
                for (size_t i = 0; i < N; i++)
                    if (keep[i] == 1 && isfinite(v[i]) && code[i] >= 0) {
                        sum[code[i]] += v[i];
                        cnt[code[i]]++;
                    }
                for (int32_t g = 0; g < ng; g++)
                    if (cnt[g])
                        v[m++] = sum[g] / (double)cnt[g];
            }
            free(code);
            free(sum);
            free(cnt);
        } else {
            for (size_t i = 0; i < N; i++)
                if (keep[i] == 1 && isfinite(v[i]))
                    v[m++] = v[i];
        }
        if (!st && m == 0)
            st = gravrd_error_set(err, GRAVRD_ERR_EMPTY,
                                  "%s:%d: table %s: empty sample: no observations of %s in sample '%s'",
                                  r->plan->source, e->at.line, tb->name, e->expr, sname);
        if (!st)
            describe(v, m, row);
    }
    free(v);
    free(keep);
    gravrd_frame_free(owned);
    gravrd_strings_free(names, n_names);
    return st;
}

gravrd_status run_summary(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    if (rep_add_panels(out, tb))
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    out->rows = calloc(tb->n_rows ? tb->n_rows : 1, sizeof *out->rows);
    if (!out->rows)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    out->n_rows = tb->n_rows;
    for (size_t i = 0; i < tb->n_rows; i++) {
        const gravrd_plan_row *e = &tb->rows[i];
        gravrd_rep_row *row = &out->rows[i];
        const gravrd_plan_def *sd = e->sample.def;
        row->line = e->at.line;
        row->panel = e->panel ? plan_strdup(e->panel) : NULL;
        row->variable = plan_strdup(e->expr);
        row->label = plan_strdup(e->label);
        row->sample = plan_strdup(e->sample.name);
        row->sample_label = plan_strdup(sd && sd->label ? sd->label : e->sample.name);
        row->level = plan_strdup(gravrd_plan_level_name(e->level));
        rep_ctx ctx = {NULL, sd, e->sample.name, e->at.attrs, e->at.n_attrs, e->expr, NULL};
        row->has_published = rep_pub_row(r, e->published, &ctx, row->published);
        gravrd_error e2 = {0};
        r->table_name = tb->name;
        if (summary_row(r, tb, e, row, &e2)) {
            row->error = plan_strdup(e2.message);
            row->mean = row->sd = row->min = row->p25 = row->p50 = row->p75 = row->max = NAN;
            if (rep_add_error(out, e2.message))
                return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
    }
    return GRAVRD_OK;
}

