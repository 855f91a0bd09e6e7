/* cmd_rd.c - `gravrd rd [FLOWS] --study DIR --outcome EXPR ...`: the local
 * linear spatial RD (libgravrd's gravrd_rd_study): estimates by bandwidth,
 * the MSE-optimal bandwidth with the robust bias-corrected interval, and an
 * SVG RD plot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gravrd/data.h"
#include "gravrd/formula.h"
#include "gravrd/rd.h"
#include "gravrd/report.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"
#include "opts.h"

/* The command line of rd: what opt_parse fills from rd_options. */
typedef struct {
    const char *flows, *study, *outcome, *subset, *bandwidths, *fe, *plot, *out;
    int direction, no_select, side, cross_province, no_fe, kernel, bins, format; /* direction -1: none */
    double radius, level, plot_bandwidth;
} rd_args;

/* direction: the study's dummies, named in the subset expression */
static const opt_choice rd_direction_choices[] = {{"w2e", 0, 0}, {"e2w", 1, 0}, {0}};
/* by rd_direction_choices value */
static const char *const rd_direction_names[] = {"w2e", "e2w"};

/* The names gravrd_rd_side_parse and gravrd_kernel_parse accept. */
static const opt_choice rd_side_choices[] = {
    {"both", GRAVRD_RD_SIDE_BOTH, 0}, {"exporter", GRAVRD_RD_SIDE_EXPORTER, 0}, {"importer", GRAVRD_RD_SIDE_IMPORTER, 0},
    {0}};
/* tri, epa and uni are aliases gravrd_kernel_parse accepts. */
static const opt_choice rd_kernel_choices[] = {
    {"triangular", GRAVRD_KERNEL_TRIANGULAR, 0},     {"tri", GRAVRD_KERNEL_TRIANGULAR, 1},
    {"epanechnikov", GRAVRD_KERNEL_EPANECHNIKOV, 0}, {"epa", GRAVRD_KERNEL_EPANECHNIKOV, 1},
    {"uniform", GRAVRD_KERNEL_UNIFORM, 0},           {"uni", GRAVRD_KERNEL_UNIFORM, 1},
    {0}};
/* gravrd_report_rd writes these three */
static const opt_choice rd_format_choices[] = {
    {"text", GRAVRD_FORMAT_TEXT, 0}, {"json", GRAVRD_FORMAT_JSON, 0}, {"csv", GRAVRD_FORMAT_CSV, 0}, {0}};

/* FLOWS is optional: DIR/flows.csv by default. */
static const opt_positional rd_positionals[] = {
    {"FLOWS", OPT_AT(rd_args, flows, const char *), 0, "flows file (default DIR/flows.csv)"},
};

/* --bandwidths stays text: gravrd_parse_bandwidths reads the list. */
static const opt_option rd_options[] = {
    {OPT_STRING("study", "DIR", rd_args, study), .required = 1,
     .help = "study folder (cities.csv, partnerships.csv, ...)"},
    {OPT_STRING("outcome", "EXPR", rd_args, outcome), .required = 1, .help = "outcome, e.g. 'log1p(trade)'"},
    {OPT_CHOICE("direction", rd_args, direction, rd_direction_choices), .help = "the study's direction dummies"},
    {OPT_STRING("subset", "EXPR", rd_args, subset), .help = "rows where EXPR is true (combined with --direction)"},
    {OPT_STRING("bandwidths", "KM,...", rd_args, bandwidths), .def = "60,70,...,130",
     .help = "estimates at these bandwidths"},
    {OPT_FLAG("no-select", rd_args, no_select), .help = "skip the MSE-optimal bandwidth"},
    {OPT_CHOICE("side", rd_args, side, rd_side_choices), .def = "both",
     .help = "both sides, exporter (only neighbours k of i, controls kj) or importer (only neighbours l of j, il)"},
    {OPT_KM("radius", rd_args, radius), .def = "300", .help = "neighbours up to KM enter the sample"},
    {OPT_FLAG("cross-province", rd_args, cross_province), .help = "neighbours may lie in another province"},
    {OPT_STRING("fe", "'FE'", rd_args, fe), .def = "'exp_city^month + imp_city^month'",
     .help = "residualise on these fixed effects"},
    {OPT_FLAG("no-fe", rd_args, no_fe), .help = "do not residualise"},
    {OPT_CHOICE("kernel", rd_args, kernel, rd_kernel_choices), .def = "triangular", .help = "kernel"},
    {OPT_NUMBER("level", "PCT", rd_args, level, 0, 100, OPT_OPEN), .def = "95", .help = "confidence level"},
    {OPT_STRING("plot", "FILE.svg", rd_args, plot), .help = "write the RD plot (binned means and the two fits)"},
    {OPT_KM("plot-bandwidth", rd_args, plot_bandwidth), .def = "MSE-optimal", .help = "bandwidth of the plotted fits"},
    {OPT_INT("bins", "N", rd_args, bins, 1, 1000), .def = "10", .help = "bins per side in the plot"},
    {OPT_CHOICE("format", rd_args, format, rd_format_choices), .def = "text", .help = "output format"},
    {OPT_STRING("out", "FILE", rd_args, out), .help = "write results to FILE instead of standard output"},
};

/* Everything rd --help shows and opt_parse accepts. */
static const opt_command rd_command = {
    .name = "rd",
    .about = "Local linear spatial RD (docs/spatial.md): for each treated pair ij and each\n"
             "city k near the exporter i (same province), the treated pair ij enters at\n"
             "x = +distance(i,k) and the control pair kj at x = -distance(i,k); and, the\n"
             "mirror, for each city l near the importer j, ij at +distance(j,l) and il at\n"
             "-distance(j,l). The outcome is residualised on exporter-month and\n"
             "importer-month fixed effects and averaged by pair; a local linear fit with a\n"
             "triangular kernel on each side gives the jump at 0, with standard errors\n"
             "clustered by pair.\n",
    .positionals = rd_positionals,
    .n_positionals = OPT_COUNT_OF(rd_positionals),
    .options = rd_options,
    .n_options = OPT_COUNT_OF(rd_options),
};

/* Appends the variables of an expression to names (no duplicates). */
static gravrd_status add_vars(const char *text, char ***names, size_t *n, gravrd_error *err)
{
    gravrd_expr *e = NULL;
    gravrd_status st = gravrd_expr_parse(text, &e, err);
    if (!st)
        st = gravrd_expr_variables(e, names, n, err);
    gravrd_expr_free(e);
    return st;
}

/* Appends a copy of name unless present; -1 when out of memory. */
static int add_name(char ***names, size_t *n, const char *name)
{
    for (size_t k = 0; k < *n; k++)
        if (!strcmp((*names)[k], name))
            return 0;
    char **grown = realloc(*names, (*n + 1) * sizeof *grown);
    if (!grown)
        return -1;
    *names = grown;
    if (!(grown[*n] = strdup(name)))
        return -1;
    (*n)++;
    return 0;
}

int cmd_rd(int argc, char **argv)
{
    gravrd_rd_study_options opt;
    gravrd_rd_study_options_init(&opt);
    rd_args a = {.direction = -1, .side = (int)opt.side, .kernel = (int)opt.rd.kernel, .format = GRAVRD_FORMAT_TEXT,
                 .radius = opt.radius_km, .level = opt.rd.level};
    int rc = opt_parse(&rd_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    if (a.fe && a.no_fe)
        return opt_error(&rd_command, "--fe and --no-fe contradict each other");
    opt.outcome = a.outcome;
    opt.select_bandwidth = !a.no_select;
    opt.side = (gravrd_rd_side)a.side;
    opt.radius_km = a.radius;
    opt.cross_province = a.cross_province;
    opt.fixed_effects = a.no_fe ? "" : a.fe;
    opt.rd.kernel = (gravrd_kernel)a.kernel;
    opt.rd.level = a.level;
    const char *study_dir = a.study, *flows_path = a.flows, *subset = a.subset, *bandwidths = a.bandwidths;
    const char *direction = a.direction >= 0 ? rd_direction_names[a.direction] : NULL;
    const char *plot_path = a.plot, *out_path = a.out;
    const gravrd_format format = (gravrd_format)a.format;
    const double plot_h = a.plot_bandwidth;
    const int bins = a.bins;
    gravrd_error err = {0};
    double *bw = NULL;
    size_t n_bw = 0;
    if (gravrd_parse_bandwidths(bandwidths ? bandwidths : "60,70,80,90,100,110,120,130", &bw, &n_bw, &err)) {
        fprintf(stderr, "gravrd rd: --bandwidths: %s\n", err.message);
        return 2;
    }
    opt.bandwidths_km = bw;
    opt.n_bandwidths = n_bw;
    /* --direction and --subset combine into one subset expression */
    char *subset_text = NULL;
    if (direction || subset) {
        size_t len = (direction ? strlen(direction) : 0) + (subset ? strlen(subset) : 0) + 16;
        if (!(subset_text = malloc(len))) {
            free(bw);
            fprintf(stderr, "gravrd rd: out of memory\n");
            return 1;
        }
        if (direction && subset)
            snprintf(subset_text, len, "%s & (%s)", direction, subset);
        else
            snprintf(subset_text, len, "%s", direction ? direction : subset);
        opt.subset = subset_text;
    }

    int code = 2;
    gravrd_study *study = NULL;
    gravrd_frame *flows = NULL, *frame = NULL;
    gravrd_rd_result *res = NULL;
    char **names = NULL, *default_flows = NULL;
    size_t n_names = 0;
    gravrd_eval_env env;
    gravrd_status st = gravrd_study_load(study_dir, 100.0, &study, &err);
    if (st)
        goto fail;
    gravrd_study_env(study, &env);
    opt.env = &env;
    if (!flows_path) {
        size_t len = strlen(study_dir) + sizeof "/flows.csv";
        if (!(default_flows = malloc(len))) {
            st = gravrd_error_set(&err, GRAVRD_ERR_NOMEM, "out of memory");
            goto fail;
        }
        snprintf(default_flows, len, "%s/flows.csv", study_dir);
        flows_path = default_flows;
    }
    /* only the variables the outcome, the subset and the fixed effects use */
    if ((st = add_vars(opt.outcome, &names, &n_names, &err)) ||
        (opt.subset && (st = add_vars(opt.subset, &names, &n_names, &err))))
        goto fail;
    const char *fe_text = opt.fixed_effects ? opt.fixed_effects : GRAVRD_RD_DEFAULT_FE;
    if (fe_text[0]) {
        gravrd_fe_term *terms = NULL;
        int n_terms = 0;
        if ((st = gravrd_fe_list_parse(fe_text, &terms, &n_terms, &err)))
            goto fail;
        int fail = 0;
        for (int q = 0; q < n_terms && !fail; q++)
            for (int v = 0; v < terms[q].n_vars && !fail; v++)
                fail = add_name(&names, &n_names, terms[q].vars[v]);
        gravrd_fe_terms_free(terms, n_terms);
        if (fail) {
            st = gravrd_error_set(&err, GRAVRD_ERR_NOMEM, "out of memory");
            goto fail;
        }
    }
    if ((st = gravrd_csv_read(flows_path, NULL, &flows, &err)) ||
        (st = gravrd_study_frame(study, flows, (const char *const *)names, n_names, &frame, &err)))
        goto fail;
    gravrd_frame_free(flows);
    flows = NULL;
    if ((st = gravrd_rd_study(study, frame, &opt, &res, &err)))
        goto fail;
    for (int w = 0; w < res->n_warnings; w++)
        fprintf(stderr, "note: %s\n", res->warnings[w]);
    if (plot_path) {
        gravrd_rd_plot_options popt = {plot_h, 0, bins, NULL};
        if ((st = gravrd_rd_plot(res, &popt, plot_path, &err)))
            goto fail;
    }
    FILE *out = stdout;
    if (out_path && !(out = fopen(out_path, "w"))) {
        st = gravrd_error_set(&err, GRAVRD_ERR_IO, "cannot write '%s'", out_path);
        goto fail;
    }
    st = gravrd_report_rd(out, res, format, &err);
    if (out != stdout && fclose(out) != 0 && !st)
        st = gravrd_error_set(&err, GRAVRD_ERR_IO, "error closing '%s'", out_path);
    if (st) {
        code = 1;
        goto fail;
    }
    code = 0;
    goto done;
fail:
    if (st == GRAVRD_ERR_NOMEM)
        code = 1;
    fprintf(stderr, "gravrd rd: %s\n", err.message);
done:
    gravrd_rd_result_free(res);
    gravrd_frame_free(frame);
    gravrd_frame_free(flows);
    gravrd_study_free(study);
    gravrd_strings_free(names, n_names);
    free(default_flows);
    free(subset_text);
    free(bw);
    return code;
}
