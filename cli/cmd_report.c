/* cmd_report.c - `gravrd report --out OUT`: (re)builds OUT/index.html, the
 * self-contained replication report, from the files `gravrd replicate`
 * leaves in OUT; with --figures, first (re)computes the figures from the
 * study folder (libgravrd's gravrd_report_figures and gravrd_report_html). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "commands.h"
#include "gravrd/figures.h"
#include "gravrd/html.h"
#include "gravrd/study.h"
#include "opts.h"

/* The command line of report: what opt_parse fills from report_options. */
typedef struct {
    const char *out, *data, *flows, *outcome, *title;
    int figures, no_rd_plots, bins, threads;
} report_args;

/* report's options, in help order. */
static const opt_option report_options[] = {
    {OPT_STRING("out", "OUT", report_args, out), .required = 1, .help = "the output folder of gravrd replicate"},
    {OPT_STRING("data", "DIR", report_args, data), .def = "the one named in OUT/replication.json",
     .help = "the study folder; its truth.json is described"},
    {OPT_FLAG("figures", report_args, figures),
     .help = "first write the figures into OUT: Figure 1 (map), Figure 2 (binned scatter, three panels), RD plots, "
             "and OUT/figures.json; needs the study folder (cities.csv, partnerships.csv and the flows)"},
    {OPT_STRING("flows", "FILE", report_args, flows), .def = "DIR/flows.csv", .help = "flows for --figures"},
    {OPT_STRING("outcome", "EXPR", report_args, outcome), .def = "log1p(trade)",
     .help = "outcome of Figure 2 and the RD plots"},
    {OPT_INT("bins", "N", report_args, bins, 1, 100000), .def = "50", .help = "bins of Figure 2"},
    {OPT_FLAG("no-rd-plots", report_args, no_rd_plots), .help = "--figures without the RD plots"},
    {OPT_INT("threads", "N", report_args, threads, 1, 256), .def = "1", .help = "threads for the demeaning"},
    {OPT_STRING("title", "TEXT", report_args, title), .help = "page title"},
};

/* Everything report --help shows and opt_parse accepts. */
static const opt_command report_command = {
    .name = "report",
    .about = "Writes OUT/index.html: one self-contained page (no network) with every table\n"
             "listed in OUT/replication.json (our estimates, the paper's published numbers\n"
             "and, on simulated data, the planted truth marked by whether it lies in our 95%\n"
             "interval) and every figure in OUT (OUT/figures.json and the SVG files).\n"
             "See docs/report.md.\n",
    .options = report_options,
    .n_options = OPT_COUNT_OF(report_options),
    .epilog = "Exit code: 0 when every table rendered, 1 when some table failed, 2 bad input.\n",
};

int cmd_report(int argc, char **argv)
{
    report_args a = {.bins = 50, .threads = 1};
    int rc = opt_parse(&report_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    const char *out_dir = a.out, *data_dir = a.data, *flows_path = a.flows, *outcome = a.outcome, *title = a.title;
    const int figures = a.figures, rd_plots = !a.no_rd_plots, threads = a.threads, bins = a.bins;
    struct stat sb;
    if (stat(out_dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "gravrd report: %s is not a folder\n", out_dir);
        return 2;
    }
    gravrd_error err = {0};
    if (figures) {
        if (!data_dir) {
            fprintf(stderr, "gravrd report: --figures needs --data DIR (the study folder)\n");
            return 2;
        }
        char default_flows[4096];
        if (!flows_path) {
            snprintf(default_flows, sizeof default_flows, "%s/flows.csv", data_dir);
            flows_path = default_flows;
        }
        gravrd_study *study = NULL;
        gravrd_frame *flows = NULL;
        gravrd_status st = gravrd_study_load(data_dir, 100.0, &study, &err);
        if (!st)
            st = gravrd_csv_read(flows_path, NULL, &flows, &err);
        if (!st) {
            gravrd_report_figures_options fo;
            gravrd_report_figures_options_init(&fo);
            fo.rd_plots = rd_plots;
            fo.threads = threads;
            fo.figure2_opt.outcome = outcome;
            fo.figure2_opt.n_bins = bins;
            st = gravrd_report_figures(study, flows, out_dir, &fo, &err);
        }
        gravrd_frame_free(flows);
        gravrd_study_free(study);
        if (st) {
            fprintf(stderr, "gravrd report: %s\n", err.message);
            return st == GRAVRD_ERR_NOMEM || st == GRAVRD_ERR_CONVERGENCE ? 1 : 2;
        }
    }
    gravrd_html_options ho = {data_dir, title};
    gravrd_html_summary sum;
    gravrd_status st = gravrd_report_html(out_dir, &ho, &sum, &err);
    if (st) {
        fprintf(stderr, "gravrd report: %s\n", err.message);
        return 2;
    }
    printf("gravrd report: wrote %s/index.html: %zu tables (%zu rendered, %zu failed), %zu figures", out_dir,
           sum.tables_listed, sum.tables_rendered, sum.tables_failed, sum.figures_inlined);
    if (sum.truth_checked)
        printf(", planted values in our 95%% interval: %zu of %zu", sum.truth_covered, sum.truth_checked);
    printf("\n");
    return sum.tables_failed || sum.figures_inlined < sum.figures_listed ? 1 : 0;
}
