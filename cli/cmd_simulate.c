/* cmd_simulate.c - `gravrd simulate --out DIR [options]`: write the simulated
 * study folder. All work is done by libgravrd (gravrd/sim.h); this file parses
 * arguments and reports. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "gravrd/sim.h"

static void simulate_usage(FILE *out)
{
    fprintf(out,
            "usage: gravrd simulate --out DIR [options]\n"
            "\n"
            "Writes cities.csv, partnerships.csv, flows.csv, migration.csv and truth.json\n"
            "(a calibrated simulation of the study's world; see docs/simulator.md).\n"
            "\n"
            "options:\n"
            "  --out DIR             output folder (must not exist or be empty)\n"
            "  --force               write into a non-empty DIR, replacing those five files\n"
            "  --seed N              random seed (default 1)\n"
            "  --months N            number of months (default 60)\n"
            "  --start YYYY-MM       first month (default 2017-01)\n"
            "  --params FILE         parameter file: 'name = value' lines, '#' comments\n"
            "  --cities FILE         city table (default: the project's data/cities.csv)\n"
            "  --partnerships FILE   partnership pairs (default: data/partnerships.csv)\n"
            "  --NAME VALUE          set parameter NAME (explicit options override --params):\n");
    for (size_t i = 0; i < gravrd_sim_param_count(); i++) {
        const char *name = gravrd_sim_param_name(i);
        if (!strcmp(name, "seed") || !strcmp(name, "months") || !strcmp(name, "start"))
            continue;
        char opt[64];
        snprintf(opt, sizeof opt, "--%s", name);
        for (char *s = opt + 2; *s; s++)
            if (*s == '_')
                *s = '-';
        fprintf(out, "    %-32s %s\n", opt, gravrd_sim_param_help(i));
    }
}

static int fail(const char *msg)
{
    fprintf(stderr, "gravrd simulate: %s\n", msg);
    return 2;
}

int cmd_simulate(int argc, char **argv)
{
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    gravrd_error err;
    gravrd_error_clear(&err);
    const char *out_dir = NULL, *params_file = NULL, *value = NULL;
    int force = 0;
    char msg[GRAVRD_ERROR_MSG_LEN + 64];

    /* first pass: the parameter file, so explicit options override it */
    for (int i = 1; i < argc; i++) {
        int r = arg_value(argc, argv, &i, "--params", &value);
        if (r < 0)
            return fail("--params needs a file name");
        if (r > 0)
            params_file = value;
    }
    if (params_file && gravrd_sim_params_load(&p, params_file, &err) != GRAVRD_OK)
        return fail(err.message);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int r;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            simulate_usage(stdout);
            return 0;
        }
        if (!strcmp(arg, "--force")) {
            force = 1;
            continue;
        }
        if ((r = arg_value(argc, argv, &i, "--params", &value)) != 0)
            continue; /* handled above */
        if ((r = arg_value(argc, argv, &i, "--out", &value)) != 0) {
            if (r < 0 || !*value)
                return fail("--out needs a folder name");
            out_dir = value;
            continue;
        }
        if ((r = arg_value(argc, argv, &i, "--cities", &value)) != 0) {
            if (r < 0)
                return fail("--cities needs a file name");
            p.cities_path = value;
            continue;
        }
        if ((r = arg_value(argc, argv, &i, "--partnerships", &value)) != 0) {
            if (r < 0)
                return fail("--partnerships needs a file name");
            p.partnerships_path = value;
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            snprintf(msg, sizeof msg, "unexpected argument '%s' (see gravrd simulate --help)", arg);
            return fail(msg);
        }
        /* --NAME VALUE or --NAME=VALUE for any simulator parameter */
        char name[128];
        const char *eq = strchr(arg + 2, '=');
        size_t len = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
        if (len >= sizeof name) {
            snprintf(msg, sizeof msg, "unknown option '%.100s'", arg);
            return fail(msg);
        }
        memcpy(name, arg + 2, len);
        name[len] = '\0';
        int known = 0;
        for (size_t k = 0; k < gravrd_sim_param_count(); k++) {
            const char *a = gravrd_sim_param_name(k), *b = name;
            for (; *a && *b; a++, b++)
                if (!(*a == *b || (*a == '_' && *b == '-')))
                    break;
            if (!*a && !*b)
                known = 1;
        }
        if (!known) {
            snprintf(msg, sizeof msg, "unknown option '%s' (see gravrd simulate --help)", arg);
            return fail(msg);
        }
        if (eq)
            value = eq + 1;
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            snprintf(msg, sizeof msg, "%s needs a value", arg);
            return fail(msg);
        }
        if (gravrd_sim_param_set(&p, name, value, &err) != GRAVRD_OK)
            return fail(err.message);
    }
    if (!out_dir)
        return fail("--out DIR is required (see gravrd simulate --help)");
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
