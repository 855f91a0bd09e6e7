/* cmd_rd.c - `gravrd rd [FLOWS] --study DIR --outcome EXPR ...`: the local
 * linear spatial RD (libgravrd's gravrd_rd_study): estimates by bandwidth,
 * the MSE-optimal bandwidth with the robust bias-corrected interval, and an
 * SVG RD plot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gravrd/data.h"
#include "gravrd/formula.h"
#include "gravrd/rd.h"
#include "gravrd/report.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"

static const char rd_usage[] =
    "usage: gravrd rd [FLOWS] --study DIR --outcome EXPR [options]\n"
    "\n"
    "Local linear spatial RD (docs/spatial.md): for each treated pair ij and each\n"
    "city k near the exporter i (same province), the treated pair ij enters at\n"
    "x = +distance(i,k) and the control pair kj at x = -distance(i,k); and, the\n"
    "mirror, for each city l near the importer j, ij at +distance(j,l) and il at\n"
    "-distance(j,l). The outcome is residualised on exporter-month and\n"
    "importer-month fixed effects and averaged by pair; a local linear fit with a\n"
    "triangular kernel on each side gives the jump at 0, with standard errors\n"
    "clustered by pair.\n"
    "\n"
    "  FLOWS                flows file (default DIR/flows.csv)\n"
    "options:\n"
    "  --study DIR          study folder (cities.csv, partnerships.csv, ...)\n"
    "  --outcome EXPR       outcome, e.g. 'log1p(trade)' (required)\n"
    "  --direction D        w2e or e2w (the study's direction dummies)\n"
    "  --subset EXPR        rows where EXPR is true (combined with --direction)\n"
    "  --bandwidths KM,...  estimates at these bandwidths (default 60,70,...,130)\n"
    "  --no-select          skip the MSE-optimal bandwidth\n"
    "  --side S             both (default), exporter (only neighbours k of i,\n"
    "                       controls kj) or importer (only neighbours l of j, il)\n"
    "  --radius KM          neighbours up to KM enter the sample (default 300)\n"
    "  --cross-province     neighbours may lie in another province\n"
    "  --fe 'FE'            residualise on these fixed effects\n"
    "                       (default 'exp_city^month + imp_city^month')\n"
    "  --no-fe              do not residualise\n"
    "  --kernel K           triangular (default), epanechnikov or uniform\n"
    "  --level PCT          confidence level (default 95)\n"
    "  --plot FILE.svg      write the RD plot (binned means and the two fits)\n"
    "  --plot-bandwidth KM  bandwidth of the plotted fits (default: MSE-optimal)\n"
    "  --bins N             bins per side in the plot (default 10)\n"
    "  --format F           text (default), json or csv\n"
    "  --out FILE           write results to FILE instead of standard output\n";

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
    const char *study_dir = NULL, *flows_path = NULL, *direction = NULL, *subset = NULL, *bandwidths = NULL;
    const char *plot_path = NULL, *format_name = "text", *out_path = NULL, *value = NULL;
    double plot_h = 0;
    long bins = 0;
    gravrd_error err = {0};
    for (int i = 1; i < argc; i++) {
        int r;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(rd_usage, stdout);
            return 0;
        } else if (!strcmp(arg, "--cross-province")) {
            opt.cross_province = 1;
        } else if (!strcmp(arg, "--no-select")) {
            opt.select_bandwidth = 0;
        } else if (!strcmp(arg, "--no-fe")) {
            opt.fixed_effects = "";
        } else if ((r = arg_value(argc, argv, &i, "--study", &value))) {
            if (r < 0)
                goto missing;
            study_dir = value;
        } else if ((r = arg_value(argc, argv, &i, "--outcome", &value))) {
            if (r < 0)
                goto missing;
            opt.outcome = value;
        } else if ((r = arg_value(argc, argv, &i, "--direction", &value))) {
            if (r < 0)
                goto missing;
            if (strcmp(value, "w2e") && strcmp(value, "e2w")) {
                fprintf(stderr, "gravrd rd: --direction must be w2e or e2w, not '%s'\n", value);
                return 2;
            }
            direction = value;
        } else if ((r = arg_value(argc, argv, &i, "--subset", &value))) {
            if (r < 0)
                goto missing;
            subset = value;
        } else if ((r = arg_value(argc, argv, &i, "--bandwidths", &value))) {
            if (r < 0)
                goto missing;
            bandwidths = value;
        } else if ((r = arg_value(argc, argv, &i, "--side", &value))) {
            if (r < 0)
                goto missing;
            if (gravrd_rd_side_parse(value, &opt.side, &err)) {
                fprintf(stderr, "gravrd rd: --side: %s\n", err.message);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--radius", &value))) {
            if (r < 0)
                goto missing;
            if (arg_km("rd", "--radius", value, &opt.radius_km))
                return 2;
        } else if ((r = arg_value(argc, argv, &i, "--fe", &value))) {
            if (r < 0)
                goto missing;
            opt.fixed_effects = value;
        } else if ((r = arg_value(argc, argv, &i, "--kernel", &value))) {
            if (r < 0)
                goto missing;
            if (gravrd_kernel_parse(value, &opt.rd.kernel, &err)) {
                fprintf(stderr, "gravrd rd: --kernel: %s\n", err.message);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--level", &value))) {
            if (r < 0)
                goto missing;
            if (arg_double(value, &opt.rd.level) || !(opt.rd.level > 0 && opt.rd.level < 100)) {
                fprintf(stderr, "gravrd rd: --level must be a percentage in (0, 100), not '%s'\n", value);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--plot", &value))) {
            if (r < 0)
                goto missing;
            plot_path = value;
        } else if ((r = arg_value(argc, argv, &i, "--plot-bandwidth", &value))) {
            if (r < 0)
                goto missing;
            if (arg_km("rd", "--plot-bandwidth", value, &plot_h))
                return 2;
        } else if ((r = arg_value(argc, argv, &i, "--bins", &value))) {
            if (r < 0)
                goto missing;
            if (arg_int(value, 1, 1000, &bins)) {
                fprintf(stderr, "gravrd rd: --bins must be an integer in 1..1000, not '%s'\n", value);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--format", &value))) {
            if (r < 0)
                goto missing;
            format_name = value;
        } else if ((r = arg_value(argc, argv, &i, "--out", &value))) {
            if (r < 0)
                goto missing;
            out_path = value;
        } else if (arg[0] == '-' && arg[1] == '-') {
            fprintf(stderr, "gravrd rd: unknown option '%s' (see gravrd rd --help)\n", arg);
            return 2;
        } else if (!flows_path) {
            flows_path = arg;
        } else {
            fprintf(stderr, "gravrd rd: unexpected argument '%s'\n", arg);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "gravrd rd: option %s needs a value\n", arg);
        return 2;
    }
    if (!study_dir || !opt.outcome) {
        fputs(rd_usage, stderr);
        return 2;
    }
    gravrd_format format;
    if (gravrd_format_parse(format_name, &format, &err) ||
        (format != GRAVRD_FORMAT_TEXT && format != GRAVRD_FORMAT_JSON && format != GRAVRD_FORMAT_CSV)) {
        fprintf(stderr, "gravrd rd: --format must be text, json or csv, not '%s'\n", format_name);
        return 2;
    }
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
        gravrd_rd_plot_options popt = {plot_h, 0, (int)bins, NULL};
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
