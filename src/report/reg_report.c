/* reg_report.c - regression results as text, JSON, CSV, Markdown, LaTeX. */
#include "gravrd/report.h"
#include "report/write_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

gravrd_status gravrd_format_parse(const char *name, gravrd_format *out, gravrd_error *err)
{
    static const struct {
        const char *name;
        gravrd_format format;
    } names[] = {{"text", GRAVRD_FORMAT_TEXT}, {"json", GRAVRD_FORMAT_JSON},         {"csv", GRAVRD_FORMAT_CSV},
                 {"md", GRAVRD_FORMAT_MARKDOWN}, {"markdown", GRAVRD_FORMAT_MARKDOWN}, {"tex", GRAVRD_FORMAT_LATEX},
                 {"latex", GRAVRD_FORMAT_LATEX}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *out = names[i].format;
            return GRAVRD_OK;
        }
    return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown format '%s' (use text, json, csv, md or tex)", name);
}

static void write_json_one(FILE *out, const gravrd_reg_result *r)
{
    fputs("{\"model\":\"ols\",\"outcome\":", out);
    report_json_string(out, r->outcome);
    fputs(",\"sample\":", out);
    report_json_string(out, r->sample);
    fputs(",\"formula\":", out);
    report_json_string(out, r->formula);
    fprintf(out, ",\"nobs\":%zu,\"dropped\":{\"missing\":%zu,\"singletons\":%zu},\"fixed_effects\":{", r->nobs,
            r->dropped_missing, r->dropped_singletons);
    for (int q = 0; q < r->n_fe; q++) {
        if (q)
            fputc(',', out);
        report_json_string(out, r->fe_names[q]);
        fprintf(out, ":%d", (int)r->fe_levels[q]);
    }
    fputs("},\"vcov\":", out);
    report_json_string(out, r->vcov_label);
    fputs(",\"coefficients\":[", out);
    for (int a = 0; a < r->n_coef; a++) {
        const gravrd_coef *c = &r->coefs[a];
        fputs(a ? ",{\"name\":" : "{\"name\":", out);
        report_json_string(out, c->name);
        fputs(",\"estimate\":", out);
        report_json_number(out, c->estimate);
        fputs(",\"se\":", out);
        report_json_number(out, c->se);
        fputs(",\"t\":", out);
        report_json_number(out, c->t);
        fputs(",\"p\":", out);
        report_json_number(out, c->p);
        if (c->boot) {
            const gravrd_boot_result *b = c->boot;
            fprintf(out, ",\"bootstrap\":{\"type\":\"%s\",\"weights\":\"%s\",\"reps\":%ld,\"enumerated\":%s,"
                         "\"clusters\":%d,\"level\":",
                    gravrd_boot_type_name(b->type), gravrd_boot_weights_name(b->weights), b->reps,
                    b->enumerated ? "true" : "false", (int)b->n_clusters);
            fprintf(out, "%.10g,\"p\":", b->level); /* a setting: as given, not to 17 digits */
            report_json_number(out, b->p);
            fputs(",\"ci\":[", out);
            report_json_number(out, b->ci_lo);
            fputc(',', out);
            report_json_number(out, b->ci_hi);
            fputs("]}", out);
        }
        if (c->ri) {
            const gravrd_ri_result *ri = c->ri;
            double mean = 0, sd = 0;
            long m = 0;
            for (long b = 0; b < ri->reps; b++)
                if (isfinite(ri->placebo_coef_B[b])) {
                    mean += ri->placebo_coef_B[b];
                    m++;
                }
            mean = m ? mean / (double)m : NAN;
            for (long b = 0; b < ri->reps; b++)
                if (isfinite(ri->placebo_coef_B[b]))
                    sd += (ri->placebo_coef_B[b] - mean) * (ri->placebo_coef_B[b] - mean);
            sd = m > 1 ? sqrt(sd / (double)(m - 1)) : NAN;
            fputs(",\"ri\":{\"scheme\":", out);
            report_json_string(out, ri->label);
            fprintf(out, ",\"reps\":%ld,\"seed\":%llu,\"estimable\":%ld,\"p\":", ri->reps,
                    (unsigned long long)ri->seed, m);
            report_json_number(out, ri->p);
            fputs(",\"p_t\":", out);
            report_json_number(out, ri->p_t);
            fputs(",\"ci\":[", out);
            report_json_number(out, ri->ci_lo);
            fputc(',', out);
            report_json_number(out, ri->ci_hi);
            fputs("],\"placebo_mean\":", out);
            report_json_number(out, mean);
            fputs(",\"placebo_sd\":", out);
            report_json_number(out, sd);
            fputc('}', out);
        }
        fputc('}', out);
    }
    fputs("],\"r2\":", out);
    report_json_number(out, r->r2);
    fputs(",\"adj_r2\":", out);
    report_json_number(out, r->adj_r2);
    fputs(",\"within_r2\":", out);
    report_json_number(out, r->within_r2);
    fputs(",\"rmse\":", out);
    report_json_number(out, r->rmse);
    fputs(",\"wald_f\":", out);
    report_json_number(out, r->wald_f);
    fprintf(out, ",\"solver\":\"%s\",\"iterations\":%d,\"seconds\":", r->collapsed ? "collapse" : "general",
            r->iterations);
    report_json_number(out, r->seconds);
    fputc('}', out);
}

static const char *stars(double p)
{
    if (!(p >= 0))
        return "";
    return p < 0.001 ? "***" : p < 0.01 ? "**" : p < 0.05 ? "*" : p < 0.1 ? "." : "";
}

static const char *tex_stars(double p)
{
    if (!(p >= 0))
        return "";
    return p < 0.01 ? "^{***}" : p < 0.05 ? "^{**}" : p < 0.1 ? "^{*}" : "";
}

static void write_text_one(FILE *out, const gravrd_reg_result *r)
{
    fprintf(out, "OLS estimation, Dep. Var.: %s\n", r->outcome);
    fprintf(out, "Sample: %s\n", r->sample);
    fprintf(out, "Observations: %zu", r->nobs);
    if (r->dropped_missing || r->dropped_singletons)
        fprintf(out, " (dropped: %zu missing, %zu singletons)", r->dropped_missing, r->dropped_singletons);
    fputc('\n', out);
    if (r->n_fe > 0) {
        fputs("Fixed-effects:", out);
        for (int q = 0; q < r->n_fe; q++)
            fprintf(out, "%s %s: %d", q ? "," : "", r->fe_names[q], (int)r->fe_levels[q]);
        fputc('\n', out);
    }
    fprintf(out, "Standard-errors: %s\n", r->vcov_label);
    int width = 8;
    for (int a = 0; a < r->n_coef; a++)
        if ((int)strlen(r->coefs[a].name) > width)
            width = (int)strlen(r->coefs[a].name);
    fprintf(out, "%-*s %12s %12s %10s %11s\n", width, "", "Estimate", "Std. Error", "t value", "Pr(>|t|)");
    for (int a = 0; a < r->n_coef; a++) {
        const gravrd_coef *c = &r->coefs[a];
        fprintf(out, "%-*s %12.6g %12.6g %10.6g %11.5g %s\n", width, c->name, c->estimate, c->se, c->t, c->p,
                stars(c->p));
    }
    for (int a = 0, first = 1; a < r->n_coef; a++) {
        const gravrd_boot_result *b = r->coefs[a].boot;
        if (!b)
            continue;
        if (first)
            fprintf(out, "Wild cluster bootstrap (%s, %s weights, %ld %s, %d clusters):\n",
                    b->type == GRAVRD_BOOT_WCU ? "WCU" : "WCR, null imposed", gravrd_boot_weights_name(b->weights),
                    b->reps, b->enumerated ? "sign vectors, all enumerated" : "draws", (int)b->n_clusters);
        first = 0;
        fprintf(out, "%-*s   p = %.4g   %g%% CI [%.6g, %.6g]\n", width, r->coefs[a].name, b->p, 100 * b->level,
                b->ci_lo, b->ci_hi);
    }
    for (int a = 0; a < r->n_coef; a++) {
        const gravrd_ri_result *ri = r->coefs[a].ri;
        if (ri)
            fprintf(out, "Randomization inference (%s scheme, %ld reassignments, seed %llu): %s   p = %.4g (estimate), "
                         "%.4g (t)   95%% CI [%.6g, %.6g]\n",
                    ri->label, ri->reps, (unsigned long long)ri->seed, r->coefs[a].name, ri->p, ri->p_t, ri->ci_lo,
                    ri->ci_hi);
    }
    if (r->n_collinear > 0) {
        fputs("Removed (collinear):", out);
        for (int a = 0; a < r->n_collinear; a++)
            fprintf(out, " %s", r->collinear[a]);
        fputc('\n', out);
    }
    fputs("---\nSignif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1\n", out);
    fprintf(out, "RMSE: %.6g   Adj. R2: %.6g   R2: %.6g", r->rmse, r->adj_r2, r->r2);
    if (isfinite(r->within_r2))
        fprintf(out, "   Within R2: %.6g", r->within_r2);
    fputc('\n', out);
    if (r->wald_df1 > 0)
        fprintf(out, "Wald (joint nullity): F = %.6g, p = %.4g, on %d and %.0f DoF\n", r->wald_f, r->wald_p,
                r->wald_df1, r->wald_df2);
    fprintf(out, "Iterations: %d%s   Time: %.3f s\n", r->iterations,
            r->collapsed ? " (exact pair-level collapse, docs/algorithms.md)" : "", r->seconds);
}

/* 1 if some coefficient of some result was bootstrapped. */
static int any_boot(const gravrd_reg_results *res)
{
    for (int j = 0; j < res->n; j++)
        for (int a = 0; a < res->results[j].n_coef; a++)
            if (res->results[j].coefs[a].boot)
                return 1;
    return 0;
}

/* The bootstrap columns appear only when something was bootstrapped, so
 * the file of a model without bootstrap keeps its columns. */
static void write_csv(FILE *out, const gravrd_reg_results *res)
{
    const int boot = any_boot(res);
    fputs(boot ? "outcome,sample,term,estimate,se,t,p,nobs,r2,adj_r2,within_r2,rmse,wald_f,vcov,boot_p,boot_ci_lo,"
                 "boot_ci_hi\n"
               : "outcome,sample,term,estimate,se,t,p,nobs,r2,adj_r2,within_r2,rmse,wald_f,vcov\n",
          out);
    for (int j = 0; j < res->n; j++) {
        const gravrd_reg_result *r = &res->results[j];
        for (int a = 0; a < r->n_coef; a++) {
            const gravrd_coef *c = &r->coefs[a];
            report_csv_field(out, r->outcome);
            fputc(',', out);
            report_csv_field(out, r->sample);
            fputc(',', out);
            report_csv_field(out, c->name);
            double v[] = {c->estimate, c->se, c->t, c->p};
            for (int m = 0; m < 4; m++) {
                fputc(',', out);
                report_csv_number(out, v[m]);
            }
            fprintf(out, ",%zu", r->nobs);
            double s[] = {r->r2, r->adj_r2, r->within_r2, r->rmse, r->wald_f};
            for (int m = 0; m < 5; m++) {
                fputc(',', out);
                report_csv_number(out, s[m]);
            }
            fputc(',', out);
            report_csv_field(out, r->vcov_label);
            if (boot) {
                double b[] = {NAN, NAN, NAN};
                if (c->boot) {
                    b[0] = c->boot->p;
                    b[1] = c->boot->ci_lo;
                    b[2] = c->boot->ci_hi;
                }
                for (int m = 0; m < 3; m++) {
                    fputc(',', out);
                    report_csv_number(out, b[m]);
                }
            }
            fputc('\n', out);
        }
    }
}

/* Distinct coefficient names over all results, in order of first use. */
static int collect_terms(const gravrd_reg_results *res, const char **terms, int cap)
{
    int n = 0;
    for (int j = 0; j < res->n; j++)
        for (int a = 0; a < res->results[j].n_coef; a++) {
            const char *name = res->results[j].coefs[a].name;
            int seen = 0;
            for (int m = 0; m < n && !seen; m++)
                seen = !strcmp(terms[m], name);
            if (!seen && n < cap)
                terms[n++] = name;
        }
    return n;
}

static const gravrd_coef *find_coef(const gravrd_reg_result *r, const char *name)
{
    for (int a = 0; a < r->n_coef; a++)
        if (!strcmp(r->coefs[a].name, name))
            return &r->coefs[a];
    return NULL;
}

static int collect_fes(const gravrd_reg_results *res, const char **fes, int cap)
{
    int n = 0;
    for (int j = 0; j < res->n; j++)
        for (int q = 0; q < res->results[j].n_fe; q++) {
            const char *name = res->results[j].fe_names[q];
            int seen = 0;
            for (int m = 0; m < n && !seen; m++)
                seen = !strcmp(fes[m], name);
            if (!seen && n < cap)
                fes[n++] = name;
        }
    return n;
}

static int has_fe(const gravrd_reg_result *r, const char *name)
{
    for (int q = 0; q < r->n_fe; q++)
        if (!strcmp(r->fe_names[q], name))
            return 1;
    return 0;
}

/* Markdown and LaTeX share one layout; only the decorations differ. */
static void write_table(FILE *out, const gravrd_reg_results *res, int latex)
{
    enum { CAP = 256 };
    const char *terms[CAP], *fes[CAP];
    int n_terms = collect_terms(res, terms, CAP), n_fes = collect_fes(res, fes, CAP);
    const char *sep = latex ? " & " : " | ", *end = latex ? " \\\\\n" : " |\n", *start = latex ? "" : "| ";
    if (latex) {
        fprintf(out, "\\begin{tabular}{l");
        for (int j = 0; j < res->n; j++)
            fputc('c', out);
        fputs("}\n\\toprule\n", out);
    }
    fputs(start, out);
    for (int j = 0; j < res->n; j++)
        fprintf(out, "%s(%d)", sep, j + 1);
    fputs(end, out);
    fputs(start, out);
    fputs(latex ? "Outcome" : "outcome", out);
    for (int j = 0; j < res->n; j++)
        fprintf(out, "%s%s", sep, res->results[j].outcome);
    fputs(end, out);
    fputs(start, out);
    fputs("Sample", out);
    for (int j = 0; j < res->n; j++)
        fprintf(out, "%s%s", sep, res->results[j].sample);
    fputs(end, out);
    if (latex)
        fputs("\\midrule\n", out);
    else {
        fputs("|---", out);
        for (int j = 0; j < res->n; j++)
            fputs("|---", out);
        fputs("|\n", out);
    }
    for (int t = 0; t < n_terms; t++) {
        fprintf(out, "%s%s", start, terms[t]);
        for (int j = 0; j < res->n; j++) {
            const gravrd_coef *c = find_coef(&res->results[j], terms[t]);
            if (!c)
                fputs(sep, out);
            else if (latex)
                fprintf(out, "%s$%.3f%s$", sep, c->estimate, tex_stars(c->p));
            else
                fprintf(out, "%s%.3f%s", sep, c->estimate, stars(c->p));
        }
        fputs(end, out);
        fputs(start, out);
        for (int j = 0; j < res->n; j++) {
            const gravrd_coef *c = find_coef(&res->results[j], terms[t]);
            if (c)
                fprintf(out, "%s(%.3f)", sep, c->se);
            else
                fputs(sep, out);
        }
        fputs(end, out);
        int boot_row = 0;
        for (int j = 0; j < res->n; j++) {
            const gravrd_coef *c = find_coef(&res->results[j], terms[t]);
            boot_row |= c && c->boot;
        }
        if (!boot_row)
            continue;
        /* The wild bootstrap's interval under the standard error. */
        fputs(start, out);
        for (int j = 0; j < res->n; j++) {
            const gravrd_coef *c = find_coef(&res->results[j], terms[t]);
            if (c && c->boot)
                fprintf(out, "%s[%.3f, %.3f]", sep, c->boot->ci_lo, c->boot->ci_hi);
            else
                fputs(sep, out);
        }
        fputs(end, out);
    }
    if (latex)
        fputs("\\midrule\n", out);
    for (int q = 0; q < n_fes; q++) {
        fprintf(out, "%s%s FE", start, fes[q]);
        for (int j = 0; j < res->n; j++)
            fprintf(out, "%s%s", sep, has_fe(&res->results[j], fes[q]) ? "Yes" : "No");
        fputs(end, out);
    }
    fprintf(out, "%sObservations", start);
    for (int j = 0; j < res->n; j++)
        fprintf(out, "%s%zu", sep, res->results[j].nobs);
    fputs(end, out);
    fprintf(out, "%sR2", start);
    for (int j = 0; j < res->n; j++)
        fprintf(out, "%s%.3f", sep, res->results[j].r2);
    fputs(end, out);
    fprintf(out, "%sAdjusted R2", start);
    for (int j = 0; j < res->n; j++)
        fprintf(out, "%s%.3f", sep, res->results[j].adj_r2);
    fputs(end, out);
    fprintf(out, "%sWithin R2", start);
    for (int j = 0; j < res->n; j++) {
        if (isfinite(res->results[j].within_r2))
            fprintf(out, "%s%.3f", sep, res->results[j].within_r2);
        else
            fputs(sep, out);
    }
    fputs(end, out);
    fprintf(out, "%sF-statistic", start);
    for (int j = 0; j < res->n; j++)
        fprintf(out, "%s%.2f", sep, res->results[j].wald_f);
    fputs(end, out);
    if (latex)
        fputs("\\bottomrule\n\\end{tabular}\n", out);
    if (res->n > 0)
        fprintf(out, latex ? "%% Standard errors in parentheses (%s). * p<0.1, ** p<0.05, *** p<0.01.\n"
                           : "\nStandard errors in parentheses (%s). . p<0.1, * p<0.05, ** p<0.01, *** p<0.001.\n",
                res->results[0].vcov_label);
    if (any_boot(res))
        fprintf(out, latex ? "%% In brackets: the wild cluster bootstrap's interval (test inversion).\n"
                           : "In brackets: the wild cluster bootstrap's interval (test inversion).\n");
}

gravrd_status gravrd_report_reg(FILE *out, const gravrd_reg_results *res, gravrd_format format, gravrd_error *err)
{
    switch (format) {
    case GRAVRD_FORMAT_JSON:
        if (res->n != 1)
            fputc('[', out);
        for (int j = 0; j < res->n; j++) {
            if (j)
                fputc(',', out);
            write_json_one(out, &res->results[j]);
        }
        if (res->n != 1)
            fputc(']', out);
        fputc('\n', out);
        break;
    case GRAVRD_FORMAT_TEXT:
        for (int j = 0; j < res->n; j++) {
            if (j)
                fputc('\n', out);
            write_text_one(out, &res->results[j]);
        }
        break;
    case GRAVRD_FORMAT_CSV: write_csv(out, res); break;
    case GRAVRD_FORMAT_MARKDOWN: write_table(out, res, 0); break;
    case GRAVRD_FORMAT_LATEX: write_table(out, res, 1); break;
    }
    if (ferror(out))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "error writing the results");
    return GRAVRD_OK;
}

gravrd_status gravrd_report_ri_csv(const char *path, const gravrd_reg_results *res, gravrd_error *err)
{
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    if (!tmp)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    snprintf(tmp, len, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        free(tmp);
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write", path);
    }
    fputs("outcome,sample,term,draw,estimate,t\n", f);
    for (int j = 0; j < res->n; j++) {
        const gravrd_reg_result *r = &res->results[j];
        for (int a = 0; a < r->n_coef; a++) {
            const gravrd_ri_result *ri = r->coefs[a].ri;
            for (long b = 0; ri && b < ri->reps; b++) {
                report_csv_field(f, r->outcome);
                fputc(',', f);
                report_csv_field(f, r->sample);
                fputc(',', f);
                report_csv_field(f, r->coefs[a].name);
                fprintf(f, ",%ld,", b + 1);
                report_csv_number(f, ri->placebo_coef_B[b]);
                fputc(',', f);
                report_csv_number(f, ri->placebo_t_B[b]);
                fputc('\n', f);
            }
        }
    }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        free(tmp);
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write", path);
    }
    free(tmp);
    return GRAVRD_OK;
}
