/* main.c - the gravrd command: dispatches to subcommands (see commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int, char **);
    const char *help;
} commands[] = {
    {"reg", cmd_reg, "least squares with high-dimensional fixed effects"},
    {"simulate", cmd_simulate, "write a simulated study folder (the embedded default world)"},
    {"segments", cmd_segments, "group nearby cities into segments (complete linkage, within provinces)"},
    {"balance", cmd_balance, "balance of pair observables between treated and control pairs (Table A.6)"},
    {"match", cmd_match, "spatially matched sample: treated pairs and nearby control pairs"},
    {"rd", cmd_rd, "local linear spatial RD by bandwidth, MSE-optimal bandwidth, RD plot"},
    {"replicate", cmd_replicate, "run a whole study (every table of a study file) on a study folder"},
    {"report", cmd_report, "the self-contained HTML report (and figures) of a replication folder"},
    {"design", cmd_design, "design check: which inference method gives honest intervals on this geography"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: gravrd COMMAND [options]   (gravrd COMMAND --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gravrd: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
