/* table_json.c - a replication table as JSON (NAME.json; layout:
 * docs/study-file.md, "Table JSON") and the index OUT/replication.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gravrd/inference.h"
#include "report/table_internal.h"
#include "report/write_util.h"
#include "table/table_names.h"

/* "key": a JSON object key and its colon. */
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
    int in = tw_truth_in_ci(c);
    fputs(in < 0 ? "null" : in ? "true" : "false", f);
    if (c->alt_method >= 0) {
        /* the table's `inference` method beside the clustered result */
        fputs(",\"inference\":{\"method\":", f);
        report_json_string(f, gravrd_inference_name((gravrd_inference)c->alt_method));
        fputs(",\"se\":", f);
        report_json_number(f, c->alt_se);
        fputs(",\"p\":", f);
        report_json_number(f, c->alt_p);
        fputs(",\"ci\":[", f);
        report_json_number(f, c->alt_lo);
        fputc(',', f);
        report_json_number(f, c->alt_hi);
        fputs("]}", f);
    }
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

void table_write_json(FILE *f, const gravrd_rep_table *t)
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
    report_json_string(f, tw_status_name(t->status));
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

/* ---- the index, OUT/replication.json ---- */

/* Written to a temporary file and renamed into place, as the tables are:
 * a reader never sees half an index. */
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
    if (rep->headline) {
        fputs(",\"headline\":", f);
        report_json_string(f, rep->headline);
    }
    if (rep->counterfactual) {
        fputs(",\"counterfactual\":", f);
        report_json_string(f, rep->counterfactual);
    }
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
        report_json_string(f, tw_status_name(t->status));
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
