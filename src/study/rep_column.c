/* rep_column.c - result columns of the model tables (see rep_column.h). */
#include "study/rep_column.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "gravrd/inference.h"

rep_column_desc rep_column_desc_of(const gravrd_plan_column *c)
{
    const gravrd_plan_def *sd = c->sample.def;
    return (rep_column_desc){c->at.line,
                             c->label,
                             c->name,
                             c->panel,
                             c->group,
                             c->outcome_expr,
                             c->outcome,
                             c->sample.name,
                             sd && sd->label ? sd->label : c->sample.name,
                             c->sample.subset,
                             c->formula,
                             c->bandwidth,
                             c->match_km};
}

rep_ctx rep_column_ctx(const gravrd_plan_column *c)
{
    return (rep_ctx){c->outcome, c->sample.def, c->sample.name, c->at.attrs, c->at.n_attrs, c->name, NULL};
}

gravrd_status rep_column_init(const rep_column_desc *d, gravrd_rep_column *col)
{
    memset(col, 0, sizeof *col);
    col->line = d->line;
    col->label = plan_strdup(d->label);
    col->name = plan_strdup(d->name);
    col->panel = d->panel ? plan_strdup(d->panel) : NULL;
    col->group = plan_strdup(d->group);
    col->outcome = plan_strdup(d->outcome_expr);
    col->outcome_key = d->outcome ? plan_strdup(d->outcome->name) : NULL;
    col->sample = plan_strdup(d->sample_name);
    col->sample_label = plan_strdup(d->sample_label);
    col->formula = d->formula ? plan_strdup(d->formula) : NULL;
    col->subset = d->subset ? plan_strdup(d->subset) : NULL;
    col->bandwidth_km = d->bandwidth;
    col->match_km = d->match_km;
    col->r2 = col->adj_r2 = col->within_r2 = col->wald_f = col->wald_p = NAN;
    col->pub_adj_r2 = col->pub_f = col->pub_nobs = NAN;
    if (!col->label || !col->name || !col->group || !col->outcome || !col->sample || !col->sample_label)
        return GRAVRD_ERR_NOMEM;
    return GRAVRD_OK;
}

gravrd_status rep_column_error(rep_run *r, gravrd_rep_table *out, gravrd_rep_column *col, const char *msg)
{
    char *m = strstr(msg, r->plan->source) == msg ? plan_strdup(msg)
                                                   : plan_format("%s:%d: column %s: %s", r->plan->source, col->line,
                                                                 col->name, msg);
    if (!m)
        return GRAVRD_ERR_NOMEM;
    free(col->error);
    col->error = m;
    return rep_add_error(out, m);
}

/* A term is a coefficient row when a show pattern matches it (no show: all). */
static int shown(const gravrd_plan_column *c, const char *term)
{
    if (!c || !c->show)
        return 1;
    for (size_t i = 0; i < c->n_show; i++)
        if (plan_term_matches(c->show[i], term))
            return 1;
    return 0;
}

/* The 97.5% quantile for 95% intervals: t with df, normal without. */
static double t_crit(double df)
{
    if (!(df > 0) || !isfinite(df))
        return gsl_cdf_ugaussian_Pinv(0.975);
    return gsl_cdf_tdist_Pinv(0.975, df);
}

gravrd_status rep_column_fill(rep_run *r, const gravrd_plan_column *c, const rep_ctx *ctx_in,
                              const gravrd_reg_result *res, gravrd_rep_column *col)
{
    col->nobs = res->nobs;
    col->n_clusters = res->n_clusters_min;
    col->r2 = res->r2;
    col->adj_r2 = res->adj_r2;
    col->within_r2 = res->within_r2;
    col->wald_f = res->wald_f;
    col->wald_p = res->wald_p;
    free(col->solver);
    col->solver = plan_strdup(res->collapsed ? "collapse" : "general");
    col->iterations = res->iterations;
    if (!col->solver)
        return GRAVRD_ERR_NOMEM;
    free(col->vcov);
    col->vcov = plan_strdup(res->vcov_label ? res->vcov_label : "");
    col->fe = calloc((size_t)res->n_fe + 1, sizeof *col->fe);
    col->fe_labels = calloc((size_t)res->n_fe + 1, sizeof *col->fe_labels);
    if (!col->vcov || !col->fe || !col->fe_labels)
        return GRAVRD_ERR_NOMEM;
    for (int q = 0; q < res->n_fe; q++) {
        col->fe[q] = plan_strdup(res->fe_names[q]);
        col->fe_labels[q] = plan_strdup(rep_label(r->plan, res->fe_names[q]));
        col->n_fe++;
        if (!col->fe[q] || !col->fe_labels[q])
            return GRAVRD_ERR_NOMEM;
    }
    col->coefs = calloc((size_t)res->n_coef + 1, sizeof *col->coefs);
    col->controls = calloc((size_t)res->n_coef + 1, sizeof *col->controls);
    col->control_labels = calloc((size_t)res->n_coef + 1, sizeof *col->control_labels);
    if (!col->coefs || !col->controls || !col->control_labels)
        return GRAVRD_ERR_NOMEM;
    rep_ctx ctx = *ctx_in;
    double tc = t_crit(res->t_df);
    for (int k = 0; k < res->n_coef; k++) {
        const gravrd_coef *cf = &res->coefs[k];
        if (!shown(c, cf->name)) {
            col->controls[col->n_controls] = plan_strdup(cf->name);
            col->control_labels[col->n_controls] = plan_strdup(rep_label(r->plan, cf->name));
            if (!col->controls[col->n_controls] || !col->control_labels[col->n_controls])
                return GRAVRD_ERR_NOMEM;
            col->n_controls++;
            continue;
        }
        gravrd_rep_coef *o = &col->coefs[col->n_coefs++];
        o->key = plan_strdup(cf->name);
        o->label = plan_strdup(rep_label(r->plan, cf->name));
        if (!o->key || !o->label)
            return GRAVRD_ERR_NOMEM;
        o->estimate = cf->estimate;
        o->se = cf->se;
        o->t = cf->t;
        o->p = cf->p;
        o->ci_lo = cf->estimate - tc * cf->se;
        o->ci_hi = cf->estimate + tc * cf->se;
        o->pub_lo = o->pub_hi = NAN;
        o->alt_method = -1;
        o->alt_se = o->alt_p = o->alt_lo = o->alt_hi = NAN;
        o->bandwidth_km = o->estimate_bc = o->se_robust = o->ci_lo_robust = o->ci_hi_robust = NAN;
        ctx.coef = cf->name;
        const char *pub = c ? plan_template_for(c->published, c->n_published, cf->name) : NULL;
        const char *truth = c ? plan_template_for(c->truth, c->n_truth, cf->name) : NULL;
        rep_pub_pair(r, pub, &ctx, &o->pub_estimate, &o->pub_se);
        o->truth = rep_truth(r, truth, &ctx, NULL, NULL);
    }
    ctx.coef = NULL;
    col->pub_adj_r2 = rep_pub_number(r, c ? c->published_stat[GRAVRD_PLAN_STAT_ADJ_R2] : NULL, &ctx);
    col->pub_f = rep_pub_number(r, c ? c->published_stat[GRAVRD_PLAN_STAT_F] : NULL, &ctx);
    col->pub_nobs = rep_pub_number(r, c ? c->published_stat[GRAVRD_PLAN_STAT_NOBS] : NULL, &ctx);
    return GRAVRD_OK;
}

/* Copies the `inference` method's p-value and interval of each shown
 * coefficient of a column from its refit. */
void rep_column_take_inference(const gravrd_plan_column *c, const gravrd_reg_result *alt, gravrd_rep_column *col)
{
    gravrd_inference m = (gravrd_inference)c->inference;
    for (int k = 0; k < col->n_coefs; k++) {
        gravrd_rep_coef *o = &col->coefs[k];
        for (int a = 0; a < alt->n_coef; a++) {
            const gravrd_coef *cf = &alt->coefs[a];
            if (strcmp(cf->name, o->key))
                continue;
            if (m == GRAVRD_INFERENCE_WILD || m == GRAVRD_INFERENCE_RI) {
                if (m == GRAVRD_INFERENCE_WILD && !cf->boot)
                    break;
                if (m == GRAVRD_INFERENCE_RI && !cf->ri)
                    break;
                o->alt_p = m == GRAVRD_INFERENCE_WILD ? cf->boot->p : cf->ri->p;
                o->alt_lo = m == GRAVRD_INFERENCE_WILD ? cf->boot->ci_lo : cf->ri->ci_lo;
                o->alt_hi = m == GRAVRD_INFERENCE_WILD ? cf->boot->ci_hi : cf->ri->ci_hi;
            } else {
                double tc = t_crit(alt->t_df);
                o->alt_se = cf->se;
                o->alt_p = cf->p;
                o->alt_lo = cf->estimate - tc * cf->se;
                o->alt_hi = cf->estimate + tc * cf->se;
            }
            o->alt_method = (int)m;
            break;
        }
    }
}
