/* cmd_balance.c - `gravrd balance --study DIR`: the paper's Table A.6. For
 * east-west pairs, partner is regressed on log distance, the GDP difference
 * and any named columns, without and with segment-pair fixed effects
 * (libgravrd's gravrd_study_balance); prints each coefficient and the joint
 * Wald F with its p-value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gravrd/report.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"

static const char balance_usage[] =
    "usage: gravrd balance --study DIR [options]\n"
    "\n"
    "One row per east-west pair (undirected): partner ~ log(distance) + gdp_diff\n"
    "[+ VARS], first without segment fixed effects, then with seg_east^seg_west\n"
    "fixed effects at each bandwidth (the paper's Table A.6). Within a bandwidth\n"
    "that balances the design, the observables should not predict partner:\n"
    "a small joint Wald F and a large p-value.\n"
    "\n"
    "options:\n"
    "  --study DIR          study folder (cities.csv, partnerships.csv, migration.csv)\n"
    "  --bandwidth KM,...   segment bandwidths in km (default 100)\n"
    "  --vars A,B,...       further pair-level regressors: any study variable or\n"
    "                       expression, e.g. west_minority_share,log(east_population_2020_10k)\n"
    "  --vcov hetero|iid    variance (default hetero: a linear probability model)\n"
    "  --format F           text (default), json, csv, md, tex\n"
    "  --out FILE           write to FILE instead of standard output\n";

/* Splits at commas outside parentheses, so log(a, b)-style calls survive. */
static char **split_vars(const char *text, size_t *n)
{
    size_t cap = 1, len = strlen(text);
    for (size_t i = 0; i < len; i++)
        cap += text[i] == ',';
    char **out = calloc(cap, sizeof *out);
    if (!out)
        return NULL;
    *n = 0;
    int depth = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        char ch = text[i];
        if (ch == '(')
            depth++;
        else if (ch == ')')
            depth--;
        if (ch == '\0' || (ch == ',' && depth == 0)) {
            size_t a = start, b = i;
            while (a < b && text[a] == ' ')
                a++;
            while (b > a && text[b - 1] == ' ')
                b--;
            if (b > a) {
                if (!(out[*n] = malloc(b - a + 1))) {
                    for (size_t k = 0; k < *n; k++)
                        free(out[k]);
                    free(out);
                    return NULL;
                }
                memcpy(out[*n], text + a, b - a);
                out[(*n)++][b - a] = '\0';
            }
            start = i + 1;
        }
    }
    return out;
}

static const char *stars(double p)
{
    return p < 0.01 ? "***" : p < 0.05 ? "**" : p < 0.1 ? "*" : "";
}

static void write_text(FILE *out, const gravrd_reg_results *res, const gravrd_study *study, const char *vcov)
{
    const int W = 24;
    fprintf(out, "Balance: partner on pair observables, one row per east-west pair (%zu partnerships)\n\n",
            gravrd_study_n_partnerships(study));
    fprintf(out, "%-24s", "");
    for (int j = 0; j < res->n; j++)
        fprintf(out, " %*s", W, res->results[j].sample);
    fputc('\n', out);
    /* Rows: the coefficients in order of first appearance (no intercept). */
    for (int j = 0; j < res->n; j++)
        for (int a = 0; a < res->results[j].n_coef; a++) {
            const char *name = res->results[j].coefs[a].name;
            int seen = !strcmp(name, "(Intercept)");
            for (int k = 0; k < j && !seen; k++)
                for (int b = 0; b < res->results[k].n_coef && !seen; b++)
                    seen = !strcmp(res->results[k].coefs[b].name, name);
            for (int b = 0; b < a && !seen; b++)
                seen = !strcmp(res->results[j].coefs[b].name, name);
            if (seen)
                continue;
            fprintf(out, "%-24s", name);
            for (int k = 0; k < res->n; k++) {
                char cell[64] = "(collinear)";
                for (int b = 0; b < res->results[k].n_coef; b++) {
                    const gravrd_coef *c = &res->results[k].coefs[b];
                    if (!strcmp(c->name, name))
                        snprintf(cell, sizeof cell, "%.4g%s (%.3g)", c->estimate, stars(c->p), c->se);
                }
                fprintf(out, " %*s", W, cell);
            }
            fputc('\n', out);
        }
    fprintf(out, "%-24s", "joint Wald F");
    for (int j = 0; j < res->n; j++)
        fprintf(out, " %*.4g", W, res->results[j].wald_f);
    fprintf(out, "\n%-24s", "p-value");
    for (int j = 0; j < res->n; j++)
        fprintf(out, " %*.4g", W, res->results[j].wald_p);
    fprintf(out, "\n%-24s", "pairs used");
    for (int j = 0; j < res->n; j++)
        fprintf(out, " %*zu", W, res->results[j].nobs);
    fprintf(out, "\n%-24s", "segment pairs (FE)");
    for (int j = 0; j < res->n; j++) {
        if (res->results[j].n_fe > 0)
            fprintf(out, " %*d", W, (int)res->results[j].fe_levels[0]);
        else
            fprintf(out, " %*s", W, "-");
    }
    fprintf(out, "\n%-24s", "R2");
    for (int j = 0; j < res->n; j++)
        fprintf(out, " %*.4f", W, res->results[j].r2);
    fprintf(out, "\n\nStandard errors (%s) in parentheses; * p<0.1, ** p<0.05, *** p<0.01.\n", vcov);
    fputs("With segment FE, pairs alone in their segment pair carry no within variation and are dropped.\n", out);
}

int cmd_balance(int argc, char **argv)
{
    const char *dir = NULL, *bw_text = "100", *vars_text = NULL, *format_name = "text", *out_path = NULL;
    const char *vcov = "hetero", *value;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(balance_usage, stdout);
            return 0;
        } else if ((r = arg_value(argc, argv, &i, "--study", &value))) {
            if (r < 0)
                goto missing;
            dir = value;
        } else if ((r = arg_value(argc, argv, &i, "--bandwidth", &value))) {
            if (r < 0)
                goto missing;
            bw_text = value;
        } else if ((r = arg_value(argc, argv, &i, "--vars", &value))) {
            if (r < 0)
                goto missing;
            vars_text = value;
        } else if ((r = arg_value(argc, argv, &i, "--vcov", &value))) {
            if (r < 0)
                goto missing;
            vcov = value;
        } else if ((r = arg_value(argc, argv, &i, "--format", &value))) {
            if (r < 0)
                goto missing;
            format_name = value;
        } else if ((r = arg_value(argc, argv, &i, "--out", &value))) {
            if (r < 0)
                goto missing;
            out_path = value;
        } else {
            fprintf(stderr, "gravrd balance: unknown argument '%s' (see gravrd balance --help)\n", arg);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "gravrd balance: option %s needs a value\n", arg);
        return 2;
    }
    if (!dir) {
        fputs(balance_usage, stderr);
        return 2;
    }
    gravrd_balance_options bo = {0};
    if (!strcmp(vcov, "hetero"))
        bo.vcov = GRAVRD_VCOV_HETERO;
    else if (!strcmp(vcov, "iid"))
        bo.vcov = GRAVRD_VCOV_IID;
    else {
        fprintf(stderr, "gravrd balance: --vcov must be hetero or iid, not '%s'\n", vcov);
        return 2;
    }
    gravrd_error err = {0};
    gravrd_format format;
    if (gravrd_format_parse(format_name, &format, &err)) {
        fprintf(stderr, "gravrd balance: %s\n", err.message);
        return 2;
    }
    double *bw = NULL;
    size_t n_bw = 0;
    if (gravrd_parse_bandwidths(bw_text, &bw, &n_bw, &err)) {
        fprintf(stderr, "gravrd balance: --bandwidth: %s\n", err.message);
        return 2;
    }
    char **vars = NULL;
    size_t n_vars = 0;
    if (vars_text && !(vars = split_vars(vars_text, &n_vars))) {
        fprintf(stderr, "gravrd balance: out of memory\n");
        free(bw);
        return 1;
    }
    int rc = 0;
    gravrd_study *study = NULL;
    gravrd_reg_results *res = NULL;
    /* The study's own segments use the first bandwidth; the balance rebuilds
     * them at each. */
    if (gravrd_study_load(dir, bw[0], &study, &err)) {
        fprintf(stderr, "gravrd balance: %s\n", err.message);
        rc = err.code == GRAVRD_ERR_NOMEM ? 1 : 2;
        goto done;
    }
    bo.bandwidths_km = bw;
    bo.n_bandwidths = n_bw;
    bo.without_fe = 1;
    bo.vars = (const char *const *)vars;
    bo.n_vars = n_vars;
    if (gravrd_study_balance(study, &bo, &res, &err)) {
        fprintf(stderr, "gravrd balance: %s\n", err.message);
        rc = err.code == GRAVRD_ERR_NOMEM ? 1 : 2;
        goto done;
    }
    for (int w = 0; w < res->n_warnings; w++)
        fprintf(stderr, "note: %s\n", res->warnings[w]);
    FILE *out = out_path ? fopen(out_path, "w") : stdout;
    if (!out) {
        fprintf(stderr, "gravrd balance: cannot write '%s'\n", out_path);
        rc = 2;
        goto done;
    }
    if (format == GRAVRD_FORMAT_TEXT)
        write_text(out, res, study, vcov);
    else if (gravrd_report_reg(out, res, format, &err)) {
        fprintf(stderr, "gravrd balance: %s\n", err.message);
        rc = 1;
    }
    if (out != stdout && fclose(out) != 0 && !rc) {
        fprintf(stderr, "gravrd balance: error writing '%s'\n", out_path);
        rc = 1;
    }
done:
    gravrd_reg_results_free(res);
    gravrd_study_free(study);
    if (vars)
        gravrd_strings_free(vars, n_vars);
    free(bw);
    return rc;
}
