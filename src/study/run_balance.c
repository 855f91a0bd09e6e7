/* run_balance.c - the balance table: the pair-level regressions of
 * partner on observables within segment pairs (gravrd_study_balance), one
 * column per bandwidth, after the model without segment FE ("none"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "study/rep_column.h"
#include "study/run.h"

gravrd_status run_balance(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out, gravrd_error *err)
{
    const gravrd_plan_balance *bs = &tb->balance;
    gravrd_status st = rep_check_needs(r, tb, bs->needs, bs->n_needs, 0, err);
    if (st)
        return st;
    gravrd_study *study = NULL;
    if ((st = rep_get_study(r, bs->bandwidth, &study, err)))
        return st;
    gravrd_balance_options bo = {0};
    bo.bandwidths_km = bs->bandwidths;
    bo.n_bandwidths = bs->n_bandwidths;
    bo.without_fe = bs->without_fe;
    bo.vars = bs->vars;
    bo.n_vars = bs->n_vars;
    bo.vcov = bs->vcov == GRAVRD_PLAN_VCOV_IID ? GRAVRD_VCOV_IID : GRAVRD_VCOV_HETERO;
    const char *extra[] = {"east_city", "west_city", NULL};
    for (size_t i = 0; i < bs->n_vars && !st; i++)
        st = rep_check_expr_vars(r, study, tb, tb->line, bs->vars[i], extra, err);
    gravrd_reg_results *res = NULL;
    if (!st)
        st = gravrd_study_balance(study, &bo, &res, err);
    rep_model_done(r, bs->n_bandwidths + (size_t)bs->without_fe);
    if (st)
        goto done;
    out->columns = calloc((size_t)res->n + 1, sizeof *out->columns);
    if (!out->columns) {
        st = NOMEM(err);
        goto done;
    }
    rep_ctx ctx = {NULL, NULL, "pairs", NULL, 0, NULL, NULL};
    for (int j = 0; j < res->n && !st; j++) {
        int none = j == 0 && bs->without_fe;
        double bw = none ? NAN : bs->bandwidths[j - bs->without_fe];
        char label[64], name[64];
        if (none) {
            snprintf(label, sizeof label, "No segment FE");
            snprintf(name, sizeof name, "none");
        } else {
            snprintf(label, sizeof label, "d = %g km", bw);
            snprintf(name, sizeof name, "%gkm", bw);
        }
        rep_column_desc d = {tb->line, label, name, NULL, "partner", "partner", NULL, "pairs", "east-west pairs",
                             NULL, res->results[j].formula, bw, NAN};
        ctx.column_name = name;
        gravrd_rep_column *col = &out->columns[out->n_columns++];
        if (rep_column_init(&d, col) || rep_column_fill(r, NULL, &ctx, &res->results[j], col))
            st = NOMEM(err);
    }
    for (int w = 0; res && w < res->n_warnings && !st; w++)
        if (rep_add_note(out, res->warnings[w]))
            st = NOMEM(err);
done:
    gravrd_reg_results_free(res);
    return st;
}
