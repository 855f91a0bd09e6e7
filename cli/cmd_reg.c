/* cmd_reg.c - `gravrd reg DATA 'FORMULA' [options]`: read a CSV, estimate,
 * print. All work is done by libgravrd; this file parses arguments and
 * prints results, warnings and errors. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/match.h"
#include "gravrd/report.h"
#include "gravrd/study.h"

static const char reg_usage[] =
    "usage: gravrd reg DATA 'FORMULA' [options]\n"
    "\n"
    "  DATA       CSV file (.csv, .tsv, optionally .gz)\n"
    "  FORMULA    fixest syntax: y ~ x1 + log(x2) + x1:x3 | fe1 + fe2^fe3\n"
    "             several outcomes: c(y1, y2) ~ ...\n"
    "options:\n"
    "  --subset EXPR        estimate on rows where EXPR is true\n"
    "  --split VAR          one estimation per value of VAR\n"
    "  --vcov iid|hetero    variance (default iid; clustered with --cluster)\n"
    "  --cluster VARS       cluster by VAR, a^b, or a + b (multi-way)\n"
    "  --ssc fixest|stata   small-sample corrections (default fixest)\n"
    "  --strict             missing or non-finite values are an error\n"
    "  --keep-singletons    keep singleton observations (dropped by default)\n"
    "  --solver auto|general  auto (default): the exact pair-level collapse when the panel\n"
    "                       allows it (docs/algorithms.md), else the general demeaning;\n"
    "                       general: always the general demeaning (same numbers, slower)\n"
    "  --tol X              demeaning tolerance (default 1e-10)\n"
    "  --maxiter N          demeaning iteration limit (default 100000)\n"
    "  --threads N          threads (results do not depend on it)\n"
    "  --format F           text (default), json, csv, md, tex\n"
    "  --study DIR          join the study's derived variables (partner, distance, pair,\n"
    "                       seg_exp, seg_imp, control_type, exp_/imp_/east_/west_ city\n"
    "                       characteristics, ...; see docs/study-frame.md) onto DATA\n"
    "  --bandwidth KM       segment bandwidth with --study (default 100)\n"
    "  --match KM           with --study: estimate on the spatially matched sample\n"
    "                       (treated pairs and control pairs within KM on both ends,\n"
    "                       see gravrd match --help); adds match_id\n"
    "  --out FILE           write results to FILE instead of standard output\n";

int cmd_reg(int argc, char **argv)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    const char *positional[2] = {NULL, NULL}, *format_name = "text", *out_path = NULL, *value = NULL;
    const char *study_dir = NULL;
    double bandwidth = 100.0;
    int bandwidth_given = 0;
    double match_km = 0;
    int n_positional = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(reg_usage, stdout);
            return 0;
        } else if (!strcmp(arg, "--strict")) {
            opt.strict = 1;
        } else if (!strcmp(arg, "--keep-singletons")) {
            opt.keep_singletons = 1;
        } else if ((r = arg_value(argc, argv, &i, "--subset", &value))) {
            if (r < 0)
                goto missing;
            opt.subset = value;
        } else if ((r = arg_value(argc, argv, &i, "--split", &value))) {
            if (r < 0)
                goto missing;
            opt.split = value;
        } else if ((r = arg_value(argc, argv, &i, "--cluster", &value))) {
            if (r < 0)
                goto missing;
            opt.cluster = value;
        } else if ((r = arg_value(argc, argv, &i, "--vcov", &value))) {
            if (r < 0)
                goto missing;
            if (!strcmp(value, "iid"))
                opt.vcov = GRAVRD_VCOV_IID;
            else if (!strcmp(value, "hetero"))
                opt.vcov = GRAVRD_VCOV_HETERO;
            else {
                fprintf(stderr, "gravrd reg: --vcov must be iid or hetero (use --cluster VARS to cluster), not '%s'\n",
                        value);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--ssc", &value))) {
            if (r < 0)
                goto missing;
            if (!strcmp(value, "fixest"))
                opt.ssc = GRAVRD_SSC_FIXEST;
            else if (!strcmp(value, "stata"))
                opt.ssc = GRAVRD_SSC_STATA;
            else {
                fprintf(stderr, "gravrd reg: --ssc must be fixest or stata, not '%s'\n", value);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--solver", &value))) {
            if (r < 0)
                goto missing;
            if (!strcmp(value, "auto"))
                opt.no_shortcuts = 0;
            else if (!strcmp(value, "general"))
                opt.no_shortcuts = 1;
            else {
                fprintf(stderr, "gravrd reg: --solver must be auto or general, not '%s'\n", value);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--tol", &value))) {
            if (r < 0)
                goto missing;
            if (arg_double(value, &opt.tol) || !(opt.tol > 0 && opt.tol < 1)) {
                fprintf(stderr, "gravrd reg: --tol must be a number in (0, 1), not '%s'\n", value);
                return 2;
            }
        } else if ((r = arg_value(argc, argv, &i, "--maxiter", &value))) {
            long v;
            if (r < 0)
                goto missing;
            if (arg_count("reg", "--maxiter", value, 100000000, &v))
                return 2;
            opt.max_iter = (int)v;
        } else if ((r = arg_value(argc, argv, &i, "--threads", &value))) {
            long v;
            if (r < 0)
                goto missing;
            if (arg_count("reg", "--threads", value, 1024, &v))
                return 2;
            opt.threads = (int)v;
        } else if ((r = arg_value(argc, argv, &i, "--format", &value))) {
            if (r < 0)
                goto missing;
            format_name = value;
        } else if ((r = arg_value(argc, argv, &i, "--study", &value))) {
            if (r < 0)
                goto missing;
            study_dir = value;
        } else if ((r = arg_value(argc, argv, &i, "--bandwidth", &value))) {
            if (r < 0)
                goto missing;
            if (arg_km("reg", "--bandwidth", value, &bandwidth))
                return 2;
            bandwidth_given = 1;
        } else if ((r = arg_value(argc, argv, &i, "--match", &value))) {
            if (r < 0)
                goto missing;
            if (arg_km("reg", "--match", value, &match_km))
                return 2;
        } else if ((r = arg_value(argc, argv, &i, "--out", &value))) {
            if (r < 0)
                goto missing;
            out_path = value;
        } else if (arg[0] == '-' && arg[1] == '-') {
            fprintf(stderr, "gravrd reg: unknown option '%s' (see gravrd reg --help)\n", arg);
            return 2;
        } else if (n_positional < 2) {
            positional[n_positional++] = arg;
        } else {
            fprintf(stderr, "gravrd reg: unexpected argument '%s' (quote the formula)\n", arg);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "gravrd reg: option %s needs a value\n", arg);
        return 2;
    }
    if (n_positional < 2) {
        fputs(reg_usage, stderr);
        return 2;
    }
    gravrd_error err = {0};
    gravrd_format format;
    if (gravrd_format_parse(format_name, &format, &err)) {
        fprintf(stderr, "gravrd reg: %s\n", err.message);
        return 2;
    }
    if (bandwidth_given && !study_dir) {
        fprintf(stderr, "gravrd reg: --bandwidth needs --study DIR\n");
        return 2;
    }
    if (match_km > 0 && !study_dir) {
        fprintf(stderr, "gravrd reg: --match needs --study DIR\n");
        return 2;
    }
    gravrd_study *study = NULL;
    gravrd_eval_env env;
    if (study_dir) {
        if (gravrd_study_load(study_dir, bandwidth, &study, &err)) {
            fprintf(stderr, "gravrd reg: %s\n", err.message);
            return err.code == GRAVRD_ERR_NOMEM ? 1 : 2;
        }
        gravrd_study_env(study, &env);
        opt.env = &env;
    }
    gravrd_frame *frame = NULL;
    if (gravrd_csv_read(positional[0], NULL, &frame, &err)) {
        fprintf(stderr, "gravrd reg: %s\n", err.message);
        gravrd_study_free(study);
        return 2;
    }
    gravrd_status st = GRAVRD_OK;
    if (study) {
        /* Only the columns the model reads are joined: the whole study frame
         * of a full panel would not fit in memory. */
        char **names = NULL;
        size_t n_names = 0;
        gravrd_frame *joined = NULL;
        st = gravrd_reg_variables(positional[1], &opt, &names, &n_names, &err);
        if (!st)
            st = gravrd_study_frame(study, frame, (const char *const *)names, n_names, &joined, &err);
        gravrd_strings_free(names, n_names);
        gravrd_frame_free(frame);
        frame = joined;
    }
    if (!st && match_km > 0) {
        gravrd_match_options mopt = {match_km, 0};
        gravrd_match_summary ms;
        gravrd_frame *matched = NULL;
        st = gravrd_match_frame(study, frame, &mopt, &matched, &ms, &err);
        gravrd_frame_free(frame);
        frame = matched;
        if (!st)
            fprintf(stderr, "note: matched sample within %g km: %zu matches (%zu treated pairs unmatched), %zu control "
                    "entries, %zu rows\n", match_km, ms.n_matches, ms.n_unmatched, ms.n_control_entries, ms.n_rows_out);
    }
    gravrd_reg_results *res = NULL;
    if (!st)
        st = gravrd_reg(frame, positional[1], &opt, &res, &err);
    gravrd_frame_free(frame);
    gravrd_study_free(study);
    if (st) {
        fprintf(stderr, "gravrd reg: %s\n", err.message);
        return st == GRAVRD_ERR_NOMEM ? 1 : 2;
    }
    for (int w = 0; w < res->n_warnings; w++)
        fprintf(stderr, "note: %s\n", res->warnings[w]);
    FILE *out = stdout;
    if (out_path && !(out = fopen(out_path, "w"))) {
        fprintf(stderr, "gravrd reg: cannot write '%s'\n", out_path);
        gravrd_reg_results_free(res);
        return 2;
    }
    st = gravrd_report_reg(out, res, format, &err);
    if (out != stdout && fclose(out) != 0 && !st)
        st = gravrd_error_set(&err, GRAVRD_ERR_IO, "error closing '%s'", out_path);
    gravrd_reg_results_free(res);
    if (st) {
        fprintf(stderr, "gravrd reg: %s\n", err.message);
        return 1;
    }
    return 0;
}
