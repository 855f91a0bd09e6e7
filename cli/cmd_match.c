/* cmd_match.c - `gravrd match --study DIR --bandwidth KM [FLOWS] [--out FILE]`:
 * builds the spatially matched sample (libgravrd's gravrd_match_frame),
 * prints a summary and can write the stacked sample as CSV. Estimation on
 * the sample is `gravrd reg FLOWS 'FORMULA' --study DIR --match KM`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gravrd/data.h"
#include "gravrd/match.h"
#include "gravrd/study.h"

static const char match_usage[] =
    "usage: gravrd match --study DIR --bandwidth KM [FLOWS] [options]\n"
    "\n"
    "Spatial matching (docs/spatial.md): for each treated pair ij, the control\n"
    "pairs kl with k within KM of i and l within KM of j (k in i's province and\n"
    "l in j's), treated pairs excluded. The sample stacks every match's pairs\n"
    "with all their months, so a control pair near several treated pairs appears\n"
    "once per match; match_id numbers the matches. Estimate on it with\n"
    "  gravrd reg FLOWS 'log1p(trade) ~ partner | exp_city^month + imp_city^month' \\\n"
    "      --study DIR --match KM --cluster pair\n"
    "\n"
    "  FLOWS                flows file (default DIR/flows.csv)\n"
    "options:\n"
    "  --study DIR          study folder (cities.csv, partnerships.csv, ...)\n"
    "  --bandwidth KM       matching distance d in km (default 100)\n"
    "  --cross-province     neighbours may lie in another province\n"
    "  --out FILE.csv       write the matched sample (flows columns, pair, partner,\n"
    "                       distance, e2w, w2e, match_id, match_treated)\n"
    "  --format F           summary as text (default) or json\n";

static void write_summary(FILE *out, const gravrd_match_summary *s, int cross, int json)
{
    double mean = s->n_matches ? (double)s->n_control_entries / (double)s->n_matches : 0;
    if (json) {
        fprintf(out,
                "{\"bandwidth_km\":%.17g,\"same_province\":%s,\"pairs\":%zu,\"treated_pairs\":%zu,"
                "\"matches\":%zu,\"unmatched\":%zu,\"control_entries\":%zu,\"distinct_controls\":%zu,"
                "\"controls_per_match_mean\":%.17g,\"controls_per_match_max\":%zu,\"rows_in\":%zu,"
                "\"rows_out\":%zu}\n",
                s->bandwidth_km, cross ? "false" : "true", s->n_pairs, s->n_treated, s->n_matches, s->n_unmatched,
                s->n_control_entries, s->n_distinct_controls, mean, s->max_controls, s->n_rows_in, s->n_rows_out);
        return;
    }
    fprintf(out, "Spatial matching within %g km (%s)\n", s->bandwidth_km,
            cross ? "neighbours in any province" : "neighbours in the same province");
    fprintf(out, "  directed pairs in the flows          %10zu\n", s->n_pairs);
    fprintf(out, "  treated pairs                        %10zu\n", s->n_treated);
    fprintf(out, "  matched (at least one control)       %10zu\n", s->n_matches);
    fprintf(out, "  unmatched (no control within %g km) %*zu\n", s->bandwidth_km, 9, s->n_unmatched);
    fprintf(out, "  control entries (once per match)     %10zu\n", s->n_control_entries);
    fprintf(out, "  distinct control pairs               %10zu\n", s->n_distinct_controls);
    fprintf(out, "  controls per match: mean %.2f, max %zu\n", mean, s->max_controls);
    fprintf(out, "  rows: %zu in the flows, %zu in the matched sample\n", s->n_rows_in, s->n_rows_out);
}

int cmd_match(int argc, char **argv)
{
    const char *study_dir = NULL, *flows_path = NULL, *out_path = NULL, *format = "text", *value = NULL;
    double bandwidth = 100;
    int cross = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(match_usage, stdout);
            return 0;
        } else if (!strcmp(arg, "--cross-province")) {
            cross = 1;
        } else if ((r = arg_value(argc, argv, &i, "--study", &value))) {
            if (r < 0)
                goto missing;
            study_dir = value;
        } else if ((r = arg_value(argc, argv, &i, "--bandwidth", &value))) {
            if (r < 0)
                goto missing;
            if (arg_km("match", "--bandwidth", value, &bandwidth))
                return 2;
        } else if ((r = arg_value(argc, argv, &i, "--out", &value))) {
            if (r < 0)
                goto missing;
            out_path = value;
        } else if ((r = arg_value(argc, argv, &i, "--format", &value))) {
            if (r < 0)
                goto missing;
            if (strcmp(value, "text") && strcmp(value, "json")) {
                fprintf(stderr, "gravrd match: --format must be text or json, not '%s'\n", value);
                return 2;
            }
            format = value;
        } else if (arg[0] == '-' && arg[1] == '-') {
            fprintf(stderr, "gravrd match: unknown option '%s' (see gravrd match --help)\n", arg);
            return 2;
        } else if (!flows_path) {
            flows_path = arg;
        } else {
            fprintf(stderr, "gravrd match: unexpected argument '%s'\n", arg);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "gravrd match: option %s needs a value\n", arg);
        return 2;
    }
    if (!study_dir) {
        fputs(match_usage, stderr);
        return 2;
    }
    gravrd_error err = {0};
    gravrd_study *study = NULL;
    if (gravrd_study_load(study_dir, bandwidth, &study, &err)) {
        fprintf(stderr, "gravrd match: %s\n", err.message);
        return err.code == GRAVRD_ERR_NOMEM ? 1 : 2;
    }
    char *default_flows = NULL;
    if (!flows_path) {
        size_t len = strlen(study_dir) + sizeof "/flows.csv";
        if (!(default_flows = malloc(len))) {
            gravrd_study_free(study);
            fprintf(stderr, "gravrd match: out of memory\n");
            return 1;
        }
        snprintf(default_flows, len, "%s/flows.csv", study_dir);
        flows_path = default_flows;
    }
    gravrd_frame *flows = NULL, *joined = NULL, *matched = NULL;
    gravrd_status st = gravrd_csv_read(flows_path, NULL, &flows, &err);
    if (!st) {
        /* every flows column plus the pair-level variables worth keeping */
        static const char *const extra[] = {"pair", "partner", "distance", "e2w", "w2e"};
        size_t n_names = flows->n_cols + sizeof extra / sizeof extra[0];
        const char **names = malloc(n_names * sizeof *names);
        if (!names)
            st = gravrd_error_set(&err, GRAVRD_ERR_NOMEM, "out of memory");
        else {
            for (size_t c = 0; c < flows->n_cols; c++)
                names[c] = flows->cols[c].name;
            for (size_t k = 0; k < sizeof extra / sizeof extra[0]; k++)
                names[flows->n_cols + k] = extra[k];
            st = gravrd_study_frame(study, flows, names, n_names, &joined, &err);
            free(names);
        }
    }
    gravrd_frame_free(flows);
    gravrd_match_summary summary;
    if (!st) {
        gravrd_match_options mopt = {bandwidth, cross};
        st = gravrd_match_frame(study, joined, &mopt, &matched, &summary, &err);
    }
    gravrd_frame_free(joined);
    if (!st && out_path)
        st = gravrd_csv_write(out_path, matched, &err);
    gravrd_frame_free(matched);
    gravrd_study_free(study);
    free(default_flows);
    if (st) {
        fprintf(stderr, "gravrd match: %s\n", err.message);
        return st == GRAVRD_ERR_NOMEM ? 1 : 2;
    }
    write_summary(stdout, &summary, cross, !strcmp(format, "json"));
    if (out_path && strcmp(format, "json"))
        printf("  written to %s\n", out_path);
    return 0;
}
