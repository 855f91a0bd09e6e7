/* cmd_match.c - `gravrd match --study DIR --bandwidth KM [FLOWS] [--out FILE]`:
 * builds the spatially matched sample (libgravrd's gravrd_match_frame),
 * prints a summary and can write the stacked sample as CSV. Estimation on
 * the sample is `gravrd reg FLOWS 'FORMULA' --study DIR --match KM`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gravrd/data.h"
#include "gravrd/match.h"
#include "gravrd/study.h"
#include "opts.h"

/* The command line of match: what opt_parse fills from match_options. */
typedef struct {
    const char *flows, *study, *out;
    double bandwidth;
    int cross_province, json;
} match_args;

/* The value is match_args.json. */
static const opt_choice match_format_choices[] = {{"text", 0, 0}, {"json", 1, 0}, {0}};

/* FLOWS is optional: DIR/flows.csv by default. */
static const opt_positional match_positionals[] = {
    {"FLOWS", OPT_AT(match_args, flows, const char *), 0, "flows file (default DIR/flows.csv)"},
};

/* match's options, in help order. */
static const opt_option match_options[] = {
    {OPT_STRING("study", "DIR", match_args, study), .required = 1,
     .help = "study folder (cities.csv, partnerships.csv, ...)"},
    {OPT_KM("bandwidth", match_args, bandwidth), .def = "100", .help = "matching distance d in km"},
    {OPT_FLAG("cross-province", match_args, cross_province), .help = "neighbours may lie in another province"},
    {OPT_STRING("out", "FILE.csv", match_args, out),
     .help = "write the matched sample (flows columns, pair, partner, distance, e2w, w2e, match_id, "
             "match_treated)"},
    {OPT_CHOICE("format", match_args, json, match_format_choices), .def = "text", .help = "summary format"},
};

/* Everything match --help shows and opt_parse accepts. */
static const opt_command match_command = {
    .name = "match",
    .about = "Spatial matching (docs/spatial.md): for each treated pair ij, the control\n"
             "pairs kl with k within KM of i and l within KM of j (k in i's province and\n"
             "l in j's), treated pairs excluded. The sample stacks every match's pairs\n"
             "with all their months, so a control pair near several treated pairs appears\n"
             "once per match; match_id numbers the matches. Estimate on it with\n"
             "  gravrd reg FLOWS 'log1p(trade) ~ partner | exp_city^month + imp_city^month' \\\n"
             "      --study DIR --match KM --cluster pair\n",
    .positionals = match_positionals,
    .n_positionals = OPT_COUNT_OF(match_positionals),
    .options = match_options,
    .n_options = OPT_COUNT_OF(match_options),
};

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
    match_args a = {.bandwidth = 100};
    int rc = opt_parse(&match_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    const char *study_dir = a.study, *flows_path = a.flows, *out_path = a.out;
    const double bandwidth = a.bandwidth;
    const int cross = a.cross_province;
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
    write_summary(stdout, &summary, cross, a.json);
    if (out_path && !a.json)
        printf("  written to %s\n", out_path);
    return 0;
}
