/* cmd_design.c - `gravrd design`: the design check of a study's geography
 * and partnerships (libgravrd's gravrd_design_run); this file parses the
 * options and writes the table, the JSON and the plot. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gravrd/design.h"
#include "opts.h"

typedef struct {
    const char *data, *methods, *plot, *out;
    int worlds, months, threads, seed, boot_reps, ri_reps, format;
    double effect, bandwidth;
} design_args;

typedef enum { DESIGN_TEXT, DESIGN_JSON } design_format;
static const opt_choice design_format_choices[] = {{"text", DESIGN_TEXT, 0}, {"json", DESIGN_JSON, 0}, {0}};

static const opt_option design_options[] = {
    {OPT_STRING("data", "DIR", design_args, data), .def = "the embedded world",
     .help = "study folder whose cities.csv and partnerships.csv the worlds are simulated on (cities.csv as "
             "gravrd simulate needs it: population and GDP columns)"},
    {OPT_COUNT("worlds", "W", design_args, worlds, 100000), .def = "200", .help = "simulated worlds"},
    {OPT_COUNT("months", "M", design_args, months, 600), .def = "12", .help = "months of each world"},
    {OPT_NUMBER("effect", "X", design_args, effect, -5, 5, OPT_CLOSED), .def = "the study's, 0.1",
     .help = "planted west-to-east partnership effect on log trade"},
    {OPT_STRING("methods", "LIST", design_args, methods), .def = "pair,segment_pair,dyadic,wild,ri",
     .help = "inference methods, comma-separated: pair (clustered by city pair, the paper's), segment_pair, "
             "dyadic (two-way by exporter and importer city), wild (wild cluster bootstrap by segment pair), ri "
             "(randomization inference over placebo partnerships)"},
    {OPT_COUNT("threads", "N", design_args, threads, 1024), .def = "1",
     .help = "worlds fitted at once; results do not depend on it"},
    {OPT_COUNT("seed", "N", design_args, seed, 2000000000), .def = "1", .help = "world w uses simulator seed N + w - 1"},
    {OPT_COUNT("boot-reps", "B", design_args, boot_reps, 1000000), .def = "999",
     .help = "wild bootstrap replications per fit"},
    {OPT_COUNT("ri-reps", "B", design_args, ri_reps, 1000000), .def = "199",
     .help = "placebo reassignments per fit"},
    {OPT_KM("bandwidth", design_args, bandwidth), .def = "100", .help = "segment bandwidth of the spatial RD"},
    {OPT_CHOICE("format", design_args, format, design_format_choices), .def = "text", .help = "output format"},
    {OPT_STRING("out", "FILE", design_args, out), .help = "write the table or JSON to FILE instead of standard output"},
    {OPT_STRING("plot", "FILE.svg", design_args, plot),
     .help = "also draw coverage against null rejection for every model and method"},
};

static const opt_command design_command = {
    .name = "design",
    .about = "Simulates W worlds on the study's geography and partnerships, with the planted\n"
             "effect and without, fits the study's main gravity and spatial-RD models (west to\n"
             "east, log1p trade) and reports, for each inference method, the coverage of the 95%\n"
             "interval, the rejection rate of a true null at 5%, the mean interval length, the\n"
             "power and the minimum detectable effect; it names the method closest to nominal\n"
             "(docs/inference.md#design-check).\n",
    .options = design_options,
    .n_options = OPT_COUNT_OF(design_options),
    .epilog = "example: gravrd design --worlds 200 --months 12 --threads 2 --plot design.svg\n"
              "exit: 0 done, 1 a world could not be fitted, 2 bad input\n",
};

/* The bit set of a comma-separated method list; -1 after printing the error. */
static int parse_methods(const char *text, unsigned *out)
{
    *out = 0;
    char *copy = malloc(strlen(text) + 1);
    if (!copy)
        return -1;
    strcpy(copy, text);
    int rc = 0;
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n && tok[n - 1] == ' ')
            tok[--n] = 0;
        gravrd_inference m;
        gravrd_error err;
        if (gravrd_inference_parse(tok, &m, &err)) {
            opt_error(&design_command, "--methods: %s", err.message);
            rc = -1;
            break;
        }
        *out |= 1u << m;
    }
    if (!rc && !*out) {
        opt_error(&design_command, "--methods names no method");
        rc = -1;
    }
    free(copy);
    return rc;
}

int cmd_design(int argc, char **argv)
{
    design_args a = {.worlds = GRAVRD_DESIGN_DEFAULT_WORLDS, .months = GRAVRD_DESIGN_DEFAULT_MONTHS, .threads = 1,
                     .seed = 1, .boot_reps = GRAVRD_DESIGN_DEFAULT_BOOT_REPS, .ri_reps = GRAVRD_DESIGN_DEFAULT_RI_REPS,
                     .effect = NAN, .bandwidth = 100, .format = DESIGN_TEXT};
    int rc = opt_parse(&design_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    gravrd_design_options opt;
    gravrd_design_options_init(&opt);
    if (a.methods && parse_methods(a.methods, &opt.methods))
        return 2;
    opt.data_dir = a.data;
    opt.worlds = a.worlds;
    opt.months = a.months;
    opt.effect = a.effect;
    opt.threads = a.threads;
    opt.seed = (uint64_t)a.seed;
    opt.boot_reps = a.boot_reps;
    opt.ri_reps = a.ri_reps;
    opt.bandwidth_km = a.bandwidth;
    gravrd_error err = {0};
    gravrd_design_result *res = NULL;
    gravrd_status st = gravrd_design_run(&opt, &res, &err);
    if (st) {
        fprintf(stderr, "gravrd design: %s\n", err.message);
        return st == GRAVRD_ERR_INVALID || st == GRAVRD_ERR_IO || st == GRAVRD_ERR_PARSE || st == GRAVRD_ERR_DATA ? 2
                                                                                                                 : 1;
    }
    /* The table or JSON goes to a temporary file renamed into place, so a
     * failed run leaves no half-written output. */
    char *tmp = NULL;
    FILE *out = stdout;
    if (a.out) {
        size_t len = strlen(a.out) + 8;
        tmp = malloc(len);
        if (tmp)
            snprintf(tmp, len, "%s.tmp", a.out);
        if (!tmp || !(out = fopen(tmp, "w"))) {
            fprintf(stderr, "gravrd design: --out %s: cannot write\n", a.out);
            free(tmp);
            gravrd_design_free(res);
            return 2;
        }
    }
    st = a.format == DESIGN_JSON ? gravrd_design_write_json(res, out, &err) : gravrd_design_write_text(res, out, &err);
    if (a.out) {
        if (fclose(out) && !st)
            st = gravrd_error_set(&err, GRAVRD_ERR_IO, "%s: cannot write", a.out);
        if (!st && rename(tmp, a.out))
            st = gravrd_error_set(&err, GRAVRD_ERR_IO, "%s: cannot write", a.out);
        if (st)
            remove(tmp);
    }
    free(tmp);
    if (!st && a.plot)
        st = gravrd_design_plot(res, a.plot, &err);
    gravrd_design_free(res);
    if (st) {
        fprintf(stderr, "gravrd design: %s\n", err.message);
        return 2;
    }
    return 0;
}
