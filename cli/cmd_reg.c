/* cmd_reg.c - `gravrd reg DATA 'FORMULA' [options]`: read a CSV, estimate,
 * print. All work is done by libgravrd; this file parses arguments and
 * prints results, warnings and errors. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/match.h"
#include "gravrd/report.h"
#include "gravrd/study.h"
#include "opts.h"

/* The command line of reg: what opt_parse fills from reg_options. */
typedef struct {
    const char *data, *formula, *subset, *split, *cluster, *study, *out;
    int vcov, ssc, solver, strict, keep_singletons, maxiter, threads, format;
    double tol, bandwidth, match_km; /* bandwidth 0: not given (100 km) */
    /* The bootstrap's settings; -1, 0 or NULL: not given. */
    int boot, boot_reps, boot_weights, boot_type, boot_seed;
    const char *boot_param;
    double boot_level;
    /* Randomization inference; 0, -1 or NULL: not given. */
    const char *ri, *ri_out;
    int ri_reps, ri_seed, ri_scheme;
} reg_args;

/* Values of the library's enums, copied into gravrd_reg_options. */
static const opt_choice reg_vcov_choices[] = {{"iid", GRAVRD_VCOV_IID, 0}, {"hetero", GRAVRD_VCOV_HETERO, 0}, {0}};
static const opt_choice reg_ssc_choices[] = {{"fixest", GRAVRD_SSC_FIXEST, 0}, {"stata", GRAVRD_SSC_STATA, 0}, {0}};
/* the value is gravrd_reg_options.no_shortcuts */
static const opt_choice reg_solver_choices[] = {{"auto", 0, 0}, {"general", 1, 0}, {0}};

static const opt_choice reg_boot_choices[] = {{"wild", GRAVRD_BOOT_WILD, 0}, {0}};
static const opt_choice reg_boot_weights_choices[] = {{"rademacher", GRAVRD_BOOT_RADEMACHER, 0},
                                                      {"webb", GRAVRD_BOOT_WEBB, 0},
                                                      {"mammen", GRAVRD_BOOT_MAMMEN, 0},
                                                      {0}};
static const opt_choice reg_boot_type_choices[] = {{"wcr", GRAVRD_BOOT_WCR, 0}, {"wcu", GRAVRD_BOOT_WCU, 0}, {0}};

static const opt_choice reg_ri_scheme_choices[] = {
    {"program", GRAVRD_RI_PROGRAM, 0}, {"province", GRAVRD_RI_PROVINCE, 0}, {0}};

/* The names gravrd_format_parse accepts; aliases are not listed. */
static const opt_choice reg_format_choices[] = {
    {"text", GRAVRD_FORMAT_TEXT, 0}, {"json", GRAVRD_FORMAT_JSON, 0},         {"csv", GRAVRD_FORMAT_CSV, 0},
    {"md", GRAVRD_FORMAT_MARKDOWN, 0}, {"markdown", GRAVRD_FORMAT_MARKDOWN, 1}, {"tex", GRAVRD_FORMAT_LATEX, 0},
    {"latex", GRAVRD_FORMAT_LATEX, 1}, {0}};

/* Both required; the formula must be one argument (quoted). */
static const opt_positional reg_positionals[] = {
    {"DATA", OPT_AT(reg_args, data, const char *), 1, "CSV file (.csv, .tsv, optionally .gz)"},
    {"FORMULA", OPT_AT(reg_args, formula, const char *), 1,
     "fixest syntax, quoted: 'y ~ x1 + log(x2) + x1:x3 | fe1 + fe2^fe3'; several outcomes: 'c(y1, y2) ~ ...'"},
};

/* reg's options, in help order; defaults from gravrd_reg_options_init. */
static const opt_option reg_options[] = {
    {OPT_STRING("subset", "EXPR", reg_args, subset), .help = "estimate on rows where EXPR is true"},
    {OPT_STRING("split", "VAR", reg_args, split), .help = "one estimation per value of VAR"},
    {OPT_CHOICE("vcov", reg_args, vcov, reg_vcov_choices), .def = "iid", .hint = "use --cluster VARS to cluster",
     .help = "variance; clustered with --cluster"},
    {OPT_STRING("cluster", "VARS", reg_args, cluster), .help = "cluster by VAR, a^b, or a + b (multi-way)"},
    {OPT_CHOICE("ssc", reg_args, ssc, reg_ssc_choices), .def = "fixest", .help = "small-sample corrections"},
    {OPT_FLAG("strict", reg_args, strict), .help = "missing or non-finite values are an error"},
    {OPT_FLAG("keep-singletons", reg_args, keep_singletons),
     .help = "keep singleton observations (dropped by default)"},
    {OPT_CHOICE("solver", reg_args, solver, reg_solver_choices), .def = "auto",
     .help = "auto: the exact pair-level collapse when the panel allows it (docs/algorithms.md), else the general "
             "demeaning; general: always the general demeaning (same numbers, slower)"},
    {OPT_NUMBER("tol", "X", reg_args, tol, 0, 1, OPT_OPEN), .def = "1e-10", .help = "demeaning tolerance"},
    {OPT_COUNT("maxiter", "N", reg_args, maxiter, 100000000), .def = "100000", .help = "demeaning iteration limit"},
    {OPT_COUNT("threads", "N", reg_args, threads, 1024), .help = "threads (results do not depend on it)"},
    {OPT_CHOICE("format", reg_args, format, reg_format_choices), .def = "text", .help = "output format"},
    {OPT_STRING("study", "DIR", reg_args, study),
     .help = "join the study's derived variables (partner, distance, pair, seg_exp, seg_imp, control_type, "
             "exp_/imp_/east_/west_ city characteristics, ...; see docs/study-frame.md) onto DATA"},
    {OPT_KM("bandwidth", reg_args, bandwidth), .def = "100", .help = "segment bandwidth with --study"},
    {OPT_KM("match", reg_args, match_km),
     .help = "with --study: estimate on the spatially matched sample (treated pairs and control pairs within KM "
             "on both ends, see gravrd match --help); adds match_id"},
    {OPT_STRING("out", "FILE", reg_args, out), .help = "write results to FILE instead of standard output"},
    {OPT_SECTION("Wild cluster bootstrap (docs/inference.md):")},
    {OPT_CHOICE("boot", reg_args, boot, reg_boot_choices),
     .help = "wild cluster bootstrap p-values and intervals of the coefficients, by the clusters of --cluster "
             "VAR (one-way); the FE model is not re-estimated per draw"},
    {OPT_COUNT("boot-reps", "B", reg_args, boot_reps, 100000000), .def = "9999",
     .help = "replications; with Rademacher weights and B >= 2^G all 2^G sign vectors are enumerated (exact)"},
    {OPT_CHOICE("boot-weights", reg_args, boot_weights, reg_boot_weights_choices), .def = "rademacher",
     .help = "auxiliary weights per cluster"},
    {OPT_CHOICE("boot-type", reg_args, boot_type, reg_boot_type_choices), .def = "wcr",
     .help = "wcr: residuals with the null imposed (boottest, fwildclusterboot); wcu: unrestricted"},
    {OPT_STRING("boot-param", "NAME[,NAME]", reg_args, boot_param), .def = "every coefficient",
     .help = "the coefficients to bootstrap"},
    {OPT_INT("boot-seed", "N", reg_args, boot_seed, 1, 2147483647), .def = "1", .help = "seed of the weights"},
    {OPT_NUMBER("boot-level", "X", reg_args, boot_level, 0, 1, OPT_OPEN), .def = "0.95",
     .help = "level of the bootstrap interval"},
    {OPT_SECTION("Randomization inference over placebo partnerships (docs/inference.md), with --study:")},
    {OPT_STRING("ri", "partner", reg_args, ri),
     .help = "refit the model with the study's partnerships reassigned --ri-reps times; reports the RI p-values "
             "of the partner coefficient and of its t statistic"},
    {OPT_COUNT("ri-reps", "B", reg_args, ri_reps, 10000000), .def = "999", .help = "reassignments"},
    {OPT_INT("ri-seed", "N", reg_args, ri_seed, 1, 2147483647), .def = "1", .help = "seed of the reassignments"},
    {OPT_CHOICE("ri-scheme", reg_args, ri_scheme, reg_ri_scheme_choices), .def = "program",
     .help = "program: each eastern program city keeps its number of partners, drawn among the western program "
             "cities; province: drawn among the western program cities of its real partners' provinces"},
    {OPT_STRING("ri-out", "FILE", reg_args, ri_out),
     .help = "write the placebo distribution (draw, coefficient, t) as CSV"},
};

/* Everything reg --help shows and opt_parse accepts. */
static const opt_command reg_command = {
    .name = "reg",
    .positionals = reg_positionals,
    .n_positionals = OPT_COUNT_OF(reg_positionals),
    .options = reg_options,
    .n_options = OPT_COUNT_OF(reg_options),
    .extra_hint = "quote the formula",
};

int cmd_reg(int argc, char **argv)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    reg_args a = {.vcov = (int)opt.vcov, .ssc = (int)opt.ssc, .solver = opt.no_shortcuts, .maxiter = opt.max_iter,
                  .threads = opt.threads, .format = GRAVRD_FORMAT_TEXT, .tol = opt.tol,
                  .boot = -1, .boot_weights = -1, .boot_type = -1, .ri_scheme = -1};
    int rc = opt_parse(&reg_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    if (a.boot < 0) {
        const char *given = a.boot_reps         ? "--boot-reps"
                            : a.boot_weights >= 0 ? "--boot-weights"
                            : a.boot_type >= 0    ? "--boot-type"
                            : a.boot_param        ? "--boot-param"
                            : a.boot_seed         ? "--boot-seed"
                            : a.boot_level > 0    ? "--boot-level"
                                                  : NULL;
        if (given)
            return opt_error(&reg_command, "%s needs --boot wild", given);
    } else {
        if (!a.cluster)
            return opt_error(&reg_command, "--boot wild needs --cluster VAR (it draws one weight per cluster)");
        opt.boot.method = (gravrd_boot_method)a.boot;
        if (a.boot_reps)
            opt.boot.reps = a.boot_reps;
        if (a.boot_weights >= 0)
            opt.boot.weights = (gravrd_boot_weights)a.boot_weights;
        if (a.boot_type >= 0)
            opt.boot.type = (gravrd_boot_type)a.boot_type;
        if (a.boot_seed)
            opt.boot.seed = (uint64_t)a.boot_seed;
        if (a.boot_level > 0)
            opt.boot.level = a.boot_level;
        opt.boot.params = a.boot_param;
    }
    if (!a.ri) {
        const char *given = a.ri_reps ? "--ri-reps" : a.ri_seed ? "--ri-seed" : a.ri_scheme >= 0 ? "--ri-scheme"
                            : a.ri_out ? "--ri-out" : NULL;
        if (given)
            return opt_error(&reg_command, "%s needs --ri partner", given);
    } else {
        if (!a.study)
            return opt_error(&reg_command, "--ri needs --study DIR (the partnerships to reassign)");
        if (strcmp(a.ri, "partner") != 0)
            return opt_error(&reg_command,
                             "--ri: '%s' is not the study's partnership indicator; only partner (the 0/1 pair "
                             "indicator) can be reassigned",
                             a.ri);
    }
    if (a.bandwidth > 0 && !a.study)
        return opt_error(&reg_command, "--bandwidth needs --study DIR");
    if (a.match_km > 0 && !a.study)
        return opt_error(&reg_command, "--match needs --study DIR");
    opt.subset = a.subset;
    opt.split = a.split;
    opt.cluster = a.cluster;
    opt.vcov = (gravrd_vcov_type)a.vcov;
    opt.ssc = (gravrd_ssc_rule)a.ssc;
    opt.no_shortcuts = a.solver;
    opt.strict = a.strict;
    opt.keep_singletons = a.keep_singletons;
    opt.tol = a.tol;
    opt.max_iter = a.maxiter;
    opt.threads = a.threads;
    const gravrd_format format = (gravrd_format)a.format;
    const char *study_dir = a.study, *out_path = a.out;
    const double bandwidth = a.bandwidth > 0 ? a.bandwidth : 100.0, match_km = a.match_km;
    gravrd_error err = {0};
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
    if (gravrd_csv_read(a.data, NULL, &frame, &err)) {
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
        st = gravrd_reg_variables(a.formula, &opt, &names, &n_names, &err);
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
    gravrd_study_ri *ri = NULL;
    const gravrd_ri_scheme scheme = a.ri_scheme >= 0 ? (gravrd_ri_scheme)a.ri_scheme : GRAVRD_RI_PROGRAM;
    if (!st && a.ri) {
        st = gravrd_study_ri_new(study, frame, scheme, (uint64_t)(a.ri_seed ? a.ri_seed : 1), &ri, &err);
        opt.ri.reps = a.ri_reps ? a.ri_reps : 999;
        opt.ri.term = a.ri;
        opt.ri.draw = gravrd_study_ri_draw;
        opt.ri.user = ri;
        opt.ri.label = gravrd_ri_scheme_name(scheme);
        opt.ri.seed = (uint64_t)(a.ri_seed ? a.ri_seed : 1);
    }
    gravrd_reg_results *res = NULL;
    if (!st)
        st = gravrd_reg(frame, a.formula, &opt, &res, &err);
    gravrd_study_ri_free(ri);
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
    if (!st && a.ri_out)
        st = gravrd_report_ri_csv(a.ri_out, res, &err);
    if (out != stdout && fclose(out) != 0 && !st)
        st = gravrd_error_set(&err, GRAVRD_ERR_IO, "error closing '%s'", out_path);
    gravrd_reg_results_free(res);
    if (st) {
        fprintf(stderr, "gravrd reg: %s\n", err.message);
        return 1;
    }
    return 0;
}
