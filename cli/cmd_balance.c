/* cmd_balance.c - `gravrd balance --study DIR`: the paper's Table A.6. For
 * east-west pairs, partner is regressed on log distance, the GDP difference
 * and any named columns, without and with segment-pair fixed effects
 * (libgravrd's gravrd_study_balance); prints each coefficient and the joint
 * Wald F with its p-value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gravrd/report.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"
#include "opts.h"

/* The command line of balance: what opt_parse fills from balance_options. */
typedef struct {
    const char *study, *bandwidths, *vars, *out;
    int vcov, format;
} balance_args;

/* hetero first: the default, a linear probability model. */
static const opt_choice balance_vcov_choices[] = {{"hetero", GRAVRD_VCOV_HETERO, 0}, {"iid", GRAVRD_VCOV_IID, 0}, {0}};

/* The names gravrd_format_parse accepts; aliases are not listed. */
static const opt_choice balance_format_choices[] = {
    {"text", GRAVRD_FORMAT_TEXT, 0}, {"json", GRAVRD_FORMAT_JSON, 0},         {"csv", GRAVRD_FORMAT_CSV, 0},
    {"md", GRAVRD_FORMAT_MARKDOWN, 0}, {"markdown", GRAVRD_FORMAT_MARKDOWN, 1}, {"tex", GRAVRD_FORMAT_LATEX, 0},
    {"latex", GRAVRD_FORMAT_LATEX, 1}, {0}};

/* --bandwidth stays text: gravrd_parse_bandwidths reads the list. */
static const opt_option balance_options[] = {
    {OPT_STRING("study", "DIR", balance_args, study), .required = 1,
     .help = "study folder (cities.csv, partnerships.csv, migration.csv)"},
    {OPT_STRING("bandwidth", "KM,...", balance_args, bandwidths), .def = "100", .help = "segment bandwidths in km"},
    {OPT_STRING("vars", "A,B,...", balance_args, vars),
     .help = "further pair-level regressors: any study variable or expression, e.g. "
             "west_minority_share,log(east_population_2020_10k)"},
    {OPT_CHOICE("vcov", balance_args, vcov, balance_vcov_choices), .def = "hetero: a linear probability model",
     .help = "variance"},
    {OPT_CHOICE("format", balance_args, format, balance_format_choices), .def = "text", .help = "output format"},
    {OPT_STRING("out", "FILE", balance_args, out), .help = "write to FILE instead of standard output"},
};

/* Everything balance --help shows and opt_parse accepts. */
static const opt_command balance_command = {
    .name = "balance",
    .about = "One row per east-west pair (undirected): partner ~ log(distance) + gdp_diff\n"
             "[+ VARS], first without segment fixed effects, then with seg_east^seg_west\n"
             "fixed effects at each bandwidth (the paper's Table A.6). Within a bandwidth\n"
             "that balances the design, the observables should not predict partner:\n"
             "a small joint Wald F and a large p-value.\n",
    .options = balance_options,
    .n_options = OPT_COUNT_OF(balance_options),
};

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
    balance_args a = {.bandwidths = "100", .vcov = GRAVRD_VCOV_HETERO, .format = GRAVRD_FORMAT_TEXT};
    int rc = opt_parse(&balance_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    const char *dir = a.study, *bw_text = a.bandwidths, *vars_text = a.vars, *out_path = a.out;
    const gravrd_format format = (gravrd_format)a.format;
    const char *vcov = a.vcov == GRAVRD_VCOV_HETERO ? "hetero" : "iid";
    gravrd_balance_options bo = {0};
    bo.vcov = (gravrd_vcov_type)a.vcov;
    gravrd_error err = {0};
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
    rc = 0;
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
