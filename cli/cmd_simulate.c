/* cmd_simulate.c - `gravrd simulate --out DIR [options]`: write the simulated
 * study folder. All work is done by libgravrd (gravrd/sim.h); this file parses
 * arguments and reports. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "gravrd/sim.h"
#include "opts.h"

/* The most simulator parameters the command line takes; gravrd_sim_param_count
 * is checked against it. */
#define SIMULATE_MAX_PARAMS 64

/* The command line of simulate: what opt_parse fills. The simulator
 * parameters stay text: gravrd_sim_param_set checks them (as it does those
 * of a --params file). */
typedef struct {
    const char *out, *params, *cities, *partnerships, *seed, *months, *start;
    int force, no_effects;
    const char *values[SIMULATE_MAX_PARAMS]; /* by the library's parameter index */
} simulate_args;

/* The fixed options; simulate_table appends one --NAME per other simulator
 * parameter, from the library's list, so the table follows the library. */
static const opt_option simulate_fixed_options[] = {
    {OPT_STRING("out", "DIR", simulate_args, out), .required = 1, .help = "output folder (must not exist or be empty)"},
    {OPT_FLAG("force", simulate_args, force), .help = "write into a non-empty DIR, replacing those five files"},
    {OPT_FLAG("no-effects", simulate_args, no_effects),
     .help = "every partnership effect 0 (after --params and --NAME): the same world, seed for seed, without the "
             "partnership, for gravrd replicate --counterfactual"},
    {OPT_STRING("seed", "N", simulate_args, seed), .def = "1", .help = "random seed"},
    {OPT_STRING("months", "N", simulate_args, months), .def = "60", .help = "number of months"},
    {OPT_STRING("start", "YYYY-MM", simulate_args, start), .def = "2017-01", .help = "first month"},
    {OPT_STRING("params", "FILE", simulate_args, params), .help = "parameter file: 'name = value' lines, '#' comments"},
    {OPT_STRING("cities", "FILE", simulate_args, cities), .def = "the project's data/cities.csv",
     .help = "city table"},
    {OPT_STRING("partnerships", "FILE", simulate_args, partnerships), .def = "data/partnerships.csv",
     .help = "partnership pairs"},
    {OPT_SECTION("simulator parameters, --NAME X (explicit options override --params):")},
};

/* simulate's whole table: the fixed options, then the parameters. */
typedef struct {
    opt_option options[OPT_COUNT_OF(simulate_fixed_options) + SIMULATE_MAX_PARAMS];
    char names[SIMULATE_MAX_PARAMS][64];
    opt_command command;
} simulate_table;

/* The parameters with their own fixed option above. */
static int simulate_is_fixed(const char *param)
{
    return !strcmp(param, "seed") || !strcmp(param, "months") || !strcmp(param, "start");
}

/* Fills t from the library's parameter list; -1 when the list does not fit. */
static int simulate_table_build(simulate_table *t)
{
    size_t n = OPT_COUNT_OF(simulate_fixed_options);
    if (gravrd_sim_param_count() > SIMULATE_MAX_PARAMS)
        return -1;
    memcpy(t->options, simulate_fixed_options, sizeof simulate_fixed_options);
    for (size_t i = 0; i < gravrd_sim_param_count(); i++) {
        const char *param = gravrd_sim_param_name(i);
        if (simulate_is_fixed(param))
            continue;
        if (strlen(param) >= sizeof t->names[i])
            return -1;
        /* --partner-w2e for partner_w2e (gravrd_sim_param_set takes both) */
        char *name = t->names[i];
        size_t c = 0;
        for (; param[c]; c++)
            name[c] = param[c] == '_' ? '-' : param[c];
        name[c] = '\0';
        t->options[n++] = (opt_option){.name = name,
                                       .kind = OPT_KIND_STRING,
                                       .metavar = "X",
                                       .offset = offsetof(simulate_args, values) + i * sizeof(const char *),
                                       .help = gravrd_sim_param_help(i)};
    }
    t->command = (opt_command){
        .name = "simulate",
        .about = "Writes cities.csv, partnerships.csv, flows.csv, migration.csv and truth.json\n"
                 "(a calibrated simulation of the study's world; see docs/simulator.md).\n",
        .options = t->options,
        .n_options = n,
    };
    return 0;
}

/* Prints "gravrd simulate: MSG" and returns 2 (bad input). */
static int fail(const char *msg)
{
    fprintf(stderr, "gravrd simulate: %s\n", msg);
    return 2;
}

/* Sets parameter name to value when given; non-zero (the exit code) after
 * printing the library's error. */
static int simulate_set(gravrd_sim_params *p, const char *name, const char *value)
{
    gravrd_error err;
    gravrd_error_clear(&err);
    if (value && gravrd_sim_param_set(p, name, value, &err) != GRAVRD_OK)
        return fail(err.message);
    return 0;
}

int cmd_simulate(int argc, char **argv)
{
    simulate_table t;
    if (simulate_table_build(&t))
        return fail("internal error: the simulator's parameters do not fit the command line table");
    simulate_args a = {0};
    int rc = opt_parse(&t.command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    if (!*a.out)
        return fail("--out needs a folder name");
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    gravrd_error err;
    gravrd_error_clear(&err);
    /* the parameter file first, so that explicit options override it */
    if (a.params && gravrd_sim_params_load(&p, a.params, &err) != GRAVRD_OK)
        return fail(err.message);
    if ((rc = simulate_set(&p, "seed", a.seed)) || (rc = simulate_set(&p, "months", a.months)) ||
        (rc = simulate_set(&p, "start", a.start)))
        return rc;
    for (size_t i = 0; i < gravrd_sim_param_count(); i++)
        if ((rc = simulate_set(&p, gravrd_sim_param_name(i), a.values[i])))
            return rc;
    if (a.cities)
        p.cities_path = a.cities;
    if (a.partnerships)
        p.partnerships_path = a.partnerships;
    const char *out_dir = a.out;
    if (a.no_effects)
        gravrd_sim_params_effects_off(&p);
    int force = a.force;
    if (gravrd_sim_params_validate(&p, &err) != GRAVRD_OK)
        return fail(err.message);
    gravrd_status st = gravrd_sim_write(&p, out_dir, force, &err);
    if (st != GRAVRD_OK) {
        fprintf(stderr, "gravrd simulate: %s\n", err.message);
        return st == GRAVRD_ERR_NOMEM || st == GRAVRD_ERR_NUMERIC ? 1 : 2;
    }
    printf("gravrd simulate: wrote %s (seed %llu, %d months from %04d-%02d)\n", out_dir,
           (unsigned long long)p.seed, p.months, p.start_year, p.start_month);
    return 0;
}
