/* cmd_report.c - `gravrd report --out OUT`: (re)builds OUT/index.html, the
 * self-contained replication report, from the files `gravrd replicate`
 * leaves in OUT; with --figures, first (re)computes the figures from the
 * study folder (libgravrd's gravrd_report_figures and gravrd_report_html). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "args.h"
#include "commands.h"
#include "gravrd/figures.h"
#include "gravrd/html.h"
#include "gravrd/study.h"

static const char report_usage[] =
    "usage: gravrd report --out OUT [options]\n"
    "\n"
    "Writes OUT/index.html: one self-contained page (no network) with every table\n"
    "listed in OUT/replication.json (our estimates, the paper's published numbers\n"
    "and, on simulated data, the planted truth marked by whether it lies in our 95%\n"
    "interval) and every figure in OUT (OUT/figures.json and the SVG files).\n"
    "See docs/report.md.\n"
    "\n"
    "options:\n"
    "  --out OUT           the output folder of gravrd replicate (required)\n"
    "  --data DIR          the study folder (default: the one named in\n"
    "                      OUT/replication.json); its truth.json is described\n"
    "  --figures           first write the figures into OUT: Figure 1 (map),\n"
    "                      Figure 2 (binned scatter, three panels), RD plots, and\n"
    "                      OUT/figures.json; needs the study folder (cities.csv,\n"
    "                      partnerships.csv and the flows)\n"
    "  --flows FILE        flows for --figures (default DIR/flows.csv)\n"
    "  --outcome EXPR      outcome of Figure 2 and the RD plots (default log1p(trade))\n"
    "  --bins N            bins of Figure 2 (default 50)\n"
    "  --no-rd-plots       --figures without the RD plots\n"
    "  --threads N         threads for the demeaning (default 1)\n"
    "  --title TEXT        page title\n"
    "\n"
    "Exit code: 0 when every table rendered, 1 when some table failed, 2 bad input.\n";

int cmd_report(int argc, char **argv)
{
    const char *out_dir = NULL, *data_dir = NULL, *flows_path = NULL, *outcome = NULL, *title = NULL, *value;
    int figures = 0, rd_plots = 1;
    long threads = 1, bins = 50;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(report_usage, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--figures")) {
            figures = 1;
            continue;
        }
        if (!strcmp(argv[i], "--no-rd-plots")) {
            rd_plots = 0;
            continue;
        }
        const char *names[] = {"--out", "--data", "--flows", "--outcome", "--title", "--threads", "--bins"};
        int matched = 0;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !matched; k++) {
            if ((r = arg_value(argc, argv, &i, names[k], &value)) < 0) {
                fprintf(stderr, "gravrd report: %s needs a value\n", names[k]);
                return 2;
            }
            if (!r)
                continue;
            matched = 1;
            switch (k) {
            case 0: out_dir = value; break;
            case 1: data_dir = value; break;
            case 2: flows_path = value; break;
            case 3: outcome = value; break;
            case 4: title = value; break;
            case 5:
                if (arg_int(value, 1, 256, &threads)) {
                    fprintf(stderr, "gravrd report: --threads must be an integer in 1..256, not '%s'\n", value);
                    return 2;
                }
                break;
            case 6:
                if (arg_int(value, 1, 100000, &bins)) {
                    fprintf(stderr, "gravrd report: --bins must be an integer in 1..100000, not '%s'\n", value);
                    return 2;
                }
                break;
            }
        }
        if (!matched) {
            fprintf(stderr, "gravrd report: unknown argument '%s'\n%s", argv[i], report_usage);
            return 2;
        }
    }
    if (!out_dir) {
        fprintf(stderr, "gravrd report: --out OUT is required\n%s", report_usage);
        return 2;
    }
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
            fo.threads = (int)threads;
            fo.figure2_opt.outcome = outcome;
            fo.figure2_opt.n_bins = (int)bins;
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
