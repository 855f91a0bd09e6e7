/* run_numbers.c - numbers tables: totals of the flows and items, numbers
 * derived from them and from earlier tables' estimates
 * (`TABLE/COLUMN/TERM[/se|/t|/p]`), with their published values and truths. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study/run.h"

typedef struct {
    rep_run *r;
    const gravrd_plan_table *tb;
    const gravrd_plan_number *item;     /* the item being evaluated */
    const char **total_names;
    double *total_values;
    size_t n_totals;
    char *error;
} numbers_ctx;

static const gravrd_rep_table *find_rep_table(const rep_run *r, const char *name)
{
    for (size_t t = 0; t < r->rep->n_tables; t++)
        if (!strcmp(r->rep->tables[t].name, name))
            return &r->rep->tables[t];
    return NULL;
}

/* A variable of an item: a total computed before it, or a reference to
 * an estimate of a table run earlier. A reference that fails records why. */
static int numbers_scalar(void *user, const char *name, double *value)
{
    numbers_ctx *nc = user;
    for (size_t i = 0; i < nc->n_totals; i++)
        if (!strcmp(nc->total_names[i], name)) {
            *value = nc->total_values[i];
            return 1;
        }
    const gravrd_plan_ref *ref = NULL;
    for (size_t i = 0; nc->item && i < nc->item->n_refs && !ref; i++)
        if (!strcmp(nc->item->refs[i].text, name))
            ref = &nc->item->refs[i];
    if (!ref)
        return 0;
    const char *tname = nc->r->plan->tables[ref->table].name;
    const gravrd_rep_table *t = find_rep_table(nc->r, tname);
    char msg[2048];
    if (!t) {
        snprintf(msg, sizeof msg, "table %s was not run", tname);
        goto fail;
    }
    for (size_t c = 0; c < t->n_columns; c++) {
        const gravrd_rep_column *col = &t->columns[c];
        if (strcmp(col->name, ref->column))
            continue;
        if (col->error) {
            snprintf(msg, sizeof msg, "column %s of table %s failed", ref->column, tname);
            goto fail;
        }
        for (int k = 0; k < col->n_coefs; k++)
            if (plan_same_term(col->coefs[k].key, ref->term)) {
                const gravrd_rep_coef *cf = &col->coefs[k];
                *value = ref->stat == GRAVRD_PLAN_REF_SE  ? cf->se
                         : ref->stat == GRAVRD_PLAN_REF_T ? cf->t
                         : ref->stat == GRAVRD_PLAN_REF_P ? cf->p
                                                          : cf->estimate;
                return 1;
            }
        snprintf(msg, sizeof msg, "column %s of table %s has no coefficient '%s' (it shows:", ref->column, tname,
                 ref->term);
        for (int k = 0; k < col->n_coefs && strlen(msg) < 1800; k++)
            snprintf(msg + strlen(msg), sizeof msg - strlen(msg), " %.100s", col->coefs[k].key);
        snprintf(msg + strlen(msg), sizeof msg - strlen(msg), ")");
        goto fail;
    }
    snprintf(msg, sizeof msg, "table %s has no column '%s'", tname, ref->column);
fail:
    if (!nc->error)
        nc->error = plan_strdup(msg);
    return 0;
}

/* The sum of a total's expression over the flow rows where its subset holds. */
static gravrd_status number_total(rep_run *r, const gravrd_plan_table *tb, const gravrd_plan_number *e, double *total,
                                  gravrd_error *err)
{
    *total = NAN;
    gravrd_study *study = NULL;
    const gravrd_frame *flows = NULL, *f = NULL;
    char **names = NULL;
    size_t n_names = 0;
    const char *subset = e->subset;
    gravrd_status st = rep_check_needs(r, tb, e->at.needs, e->at.n_needs, 1, err);
    if (!st)
        st = rep_get_study(r, e->bandwidth, &study, err);
    if (!st)
        st = rep_get_flows(r, &flows, err);
    if (!st)
        st = rep_expr_names(e->expr, &names, &n_names, err);
    if (!st && subset)
        st = rep_expr_names(subset, &names, &n_names, err);
    for (size_t i = 0; i < n_names && !st; i++)
        if (!rep_known_variable(r, study, names[i], NULL))
            st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s:%d: table %s: unknown variable '%s'", r->plan->source,
                                  e->at.line, tb->name, names[i]);
    if (!st)
        st = rep_flow_frame(r, e->bandwidth, names, n_names, &f, err);
    if (!st) {
        size_t N = f->n_rows;
        double *v = malloc((N ? N : 1) * sizeof *v), *keep = malloc((N ? N : 1) * sizeof *keep);
        if (!v || !keep)
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        if (!st)
            st = rep_eval_on(f, study, e->expr, v, err);
        if (!st && subset)
            st = rep_eval_on(f, study, subset, keep, err);
        if (!st) {
            *total = 0;
            for (size_t i = 0; i < N; i++)
                if ((!subset || keep[i] == 1) && isfinite(v[i]))
                    *total += v[i];
        }
        free(v);
        free(keep);
    }
    gravrd_strings_free(names, n_names);
    return st;
}

gravrd_status run_numbers(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    numbers_ctx nc = {r, tb, NULL, NULL, NULL, 0, NULL};
    gravrd_status st = GRAVRD_OK;
    out->items = calloc(tb->n_numbers + 1, sizeof *out->items);
    nc.total_names = calloc(tb->n_numbers + 1, sizeof *nc.total_names);
    nc.total_values = calloc(tb->n_numbers + 1, sizeof *nc.total_values);
    if (!out->items || !nc.total_names || !nc.total_values) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < tb->n_numbers && !st; k++) {
        const gravrd_plan_number *e = &tb->numbers[k];
        if (e->is_total) {
            double total;
            gravrd_error e2 = {0};
            if (number_total(r, tb, e, &total, &e2) && rep_add_error(out, e2.message))
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            nc.total_names[nc.n_totals] = e->name;
            nc.total_values[nc.n_totals++] = total;
            continue;
        }
        gravrd_rep_item *it = &out->items[out->n_items++];
        it->line = e->at.line;
        it->name = plan_strdup(e->name);
        it->label = plan_strdup(e->label);
        it->unit = plan_strdup(e->unit);
        it->formula = plan_strdup(e->expr);
        nc.item = e;
        rep_ctx ctx = {NULL, NULL, "all", e->at.attrs, e->at.n_attrs, e->name, NULL};
        rep_pub_item(r, e->published, &ctx, &it->published, &it->pub_lo, &it->pub_hi);
        it->truth = rep_truth(r, e->truth, &ctx, numbers_scalar, &nc);
        free(nc.error);
        nc.error = NULL;
        gravrd_error e2 = {0};
        double v = NAN;
        if (rep_eval_scalar(e->expr, numbers_scalar, &nc, &v, &e2) || !isfinite(v)) {
            char *msg = plan_format("%s:%d: table %s: item %s: %s", r->plan->source, e->at.line, tb->name, e->name,
                                    nc.error ? nc.error : e2.message[0] ? e2.message : "not a finite number");
            it->error = msg;
            it->value = NAN;
            if (!msg || rep_add_error(out, msg))
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        } else {
            it->value = v;
        }
        free(nc.error);
        nc.error = NULL;
    }
done:
    free(nc.total_names);
    free(nc.total_values);
    free(nc.error);
    return st;
}
