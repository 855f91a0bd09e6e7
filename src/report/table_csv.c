/* table_csv.c - a replication table as long CSV (NAME.csv): one row per
 * number, with the published value and the simulated truth beside it. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report/table_internal.h"
#include "report/write_util.h"

/* ---- CSV ---- */

void table_write_csv(FILE *f, const gravrd_rep_table *t)
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
            int in = cf ? tw_truth_in_ci(cf) : -1;
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
