/* cmd_replicate.c - `gravrd replicate --data DIR --out OUT [options]`: runs
 * a study file (default: the embedded east-west-partnership.study) on a
 * study folder and writes every table. All work is done by libgravrd
 * (gravrd/plan.h); this file parses arguments and prints progress. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "commands.h"
#include "gravrd/plan.h"
#include "opts.h"

/* The command line of replicate: what opt_parse fills from replicate_options. */
typedef struct {
    const char *data, *out, *study, *only, *counterfactual;
    int flow, bootstrap, seed, threads, list, no_report, quiet; /* flow -1: not given */
    opt_list macros;
} replicate_args;

/* the values of the study file's ${flow} macro */
static const opt_choice replicate_flow_choices[] = {{"log1p", 0, 0}, {"log", 1, 0}, {0}};
/* by replicate_flow_choices value */
static const char *const replicate_flow_names[] = {"log1p", "log"};

/* --data and --out are required unless --list: checked after parsing. */
static const opt_option replicate_options[] = {
    {OPT_STRING("data", "DIR", replicate_args, data),
     .help = "the study folder (cities.csv, partnerships.csv, flows.csv, migration.csv; truth.json when simulated)"},
    {OPT_STRING("out", "OUT", replicate_args, out), .help = "output folder (created if needed)"},
    {OPT_STRING("study", "FILE", replicate_args, study),
     .def = "the embedded studies/east-west-partnership.study", .help = "study file"},
    {OPT_CHOICE("flow", replicate_args, flow, replicate_flow_choices), .def = "log1p",
     .help = "how flows become logs: log1p keeps zeros, log uses positive flows only (sets the macro ${flow})"},
    {OPT_LIST("macro", "NAME=VALUE", replicate_args, macros), .help = "override another macro of the study file"},
    {OPT_INT("bootstrap", "B", replicate_args, bootstrap, 0, 100000),
     .help = "also a pairs cluster bootstrap (B replications) of the mediation tests"},
    {OPT_COUNT("seed", "N", replicate_args, seed, 2147483647L), .def = "20240523", .help = "bootstrap seed"},
    {OPT_COUNT("threads", "N", replicate_args, threads, 1024), .def = "the number of processors",
     .help = "models fitted at the same time (results do not depend on it)"},
    {OPT_STRING("only", "T1,T2,...", replicate_args, only),
     .help = "run only these tables (and the tables they refer to)"},
    {OPT_STRING("counterfactual", "DIR0", replicate_args, counterfactual),
     .help = "the same world without the partnership (gravrd simulate --seed N --no-effects): every truth becomes "
             "our estimate minus the estimate on DIR0 (runs the study twice)"},
    {OPT_FLAG("list", replicate_args, list), .help = "list the study's tables and exit"},
    {OPT_FLAG("no-report", replicate_args, no_report),
     .help = "tables only: no figures and no OUT/index.html (gravrd report --out OUT --figures makes them later)"},
    {OPT_FLAG("quiet", replicate_args, quiet), .help = "no progress line"},
};

/* Everything replicate --help shows and opt_parse accepts. */
static const opt_command replicate_command = {
    .name = "replicate",
    .synopsis = "--data DIR --out OUT [options]",
    .about = "Runs a whole study (every table of a study file) on a study folder and\n"
             "writes each table as OUT/NAME.md, .tex, .csv and .json, and the index\n"
             "OUT/replication.json (docs/replicate.md, docs/study-file.md).\n",
    .options = replicate_options,
    .n_options = OPT_COUNT_OF(replicate_options),
    .epilog = "Exit code: 0 every table succeeded, 1 a table failed (the others still ran),\n"
              "2 bad usage or a bad study file.\n",
};

typedef struct {
    int tty;
    int quiet;
    size_t last_table;
    double last_print;
} progress_state;

static void progress(void *user, const gravrd_progress *p)
{
    progress_state *ps = user;
    if (ps->quiet)
        return;
    if (!strcmp(p->what, "done")) {
        if (ps->tty)
            fputs("\r\033[K", stderr);
        return;
    }
    if (ps->tty) {
        if (strcmp(p->what, "table") && p->seconds - ps->last_print < 0.1)
            return;
        ps->last_print = p->seconds;
        fprintf(stderr, "\r\033[K[%2zu/%zu] %-10s models %zu/%zu  %.1f s%s", p->table_index, p->n_tables,
                p->table ? p->table : "", p->models_done, p->models_total, p->seconds,
                !strcmp(p->what, "reading flows") ? "  (reading flows)"
                : !strcmp(p->what, "bootstrap")   ? "  (bootstrap)"
                : !strcmp(p->what, "report")      ? "  (figures and index.html)"
                                                  : "");
        fflush(stderr);
    } else if (!strcmp(p->what, "table") && p->table_index != ps->last_table) {
        ps->last_table = p->table_index;
        fprintf(stderr, "[%2zu/%zu] %-10s models %zu/%zu  %.1f s\n", p->table_index, p->n_tables,
                p->table ? p->table : "", p->models_done, p->models_total, p->seconds);
    }
}

int cmd_replicate(int argc, char **argv)
{
    gravrd_replicate_options opt;
    gravrd_replicate_options_init(&opt);
    replicate_args a = {.flow = -1, .bootstrap = opt.bootstrap, .seed = (int)opt.seed, .threads = opt.threads};
    int rc = opt_parse(&replicate_command, argc, argv, &a);
    if (rc != OPT_RUN)
        return rc;
    /* ${flow} first: gravrd_plan_load takes the first override of a name */
    gravrd_plan_macro macros[OPT_LIST_MAX + 1];
    size_t n_macros = 0;
    if (a.flow >= 0)
        macros[n_macros++] = (gravrd_plan_macro){"flow", replicate_flow_names[a.flow]};
    for (size_t m = 0; m < a.macros.n; m++) {
        const char *value = a.macros.items[m], *eq = strchr(value, '=');
        if (!eq || eq == value)
            return opt_error(&replicate_command, "--macro must be NAME=VALUE, not '%s'", value);
        /* split in place: argv strings are writable */
        char *name = (char *)value;
        name[eq - value] = '\0';
        if (a.flow >= 0 && !strcmp(name, "flow"))
            return opt_error(&replicate_command, "--flow and --macro flow=... both set ${flow}");
        macros[n_macros++] = (gravrd_plan_macro){name, eq + 1};
    }
    opt.bootstrap = a.bootstrap;
    opt.seed = (uint64_t)a.seed;
    opt.counterfactual_dir = a.counterfactual;
    opt.threads = a.threads;
    const char *data = a.data, *out = a.out, *study = a.study, *only = a.only;
    const int list = a.list, quiet = a.quiet, no_report = a.no_report;
    gravrd_error err = {0};
    gravrd_plan *plan = NULL;
    if (gravrd_plan_load(study, macros, n_macros, &plan, &err)) {
        fprintf(stderr, "gravrd replicate: %s\n", err.message);
        return err.code == GRAVRD_ERR_NOMEM ? 1 : 2;
    }
    if (list) {
        for (size_t t = 0; t < plan->n_tables; t++) {
            const gravrd_plan_table *tb = &plan->tables[t];
            const char *paper = tb->paper;
            const char *title = tb->title;
            printf("%-12s %-11s %-12s %s\n", tb->name, gravrd_table_kind_name(tb->kind), paper ? paper : "",
                   title ? title : "");
        }
        gravrd_plan_free(plan);
        return 0;
    }
    if (!data || !out) {
        gravrd_plan_free(plan);
        return opt_error(&replicate_command, "%s is required (see gravrd replicate --help)",
                         !data ? "--data DIR" : "--out OUT");
    }
    /* --only list */
    char *only_copy = NULL;
    const char *only_items[256];
    size_t n_only = 0;
    if (only) {
        only_copy = malloc(strlen(only) + 1);
        if (!only_copy) {
            gravrd_plan_free(plan);
            return 1;
        }
        strcpy(only_copy, only);
        for (char *tok = strtok(only_copy, ","); tok && n_only < 256; tok = strtok(NULL, ",")) {
            while (*tok == ' ')
                tok++;
            if (*tok)
                only_items[n_only++] = tok;
        }
        opt.only = only_items;
        opt.n_only = n_only;
    }
    if (opt.threads == 0) {
        long cpus = 1;
#ifdef _SC_NPROCESSORS_ONLN
        cpus = sysconf(_SC_NPROCESSORS_ONLN);
#endif
        opt.threads = cpus > 1 ? (int)(cpus < 64 ? cpus : 64) : 1;
    }
    progress_state ps = {isatty(fileno(stderr)), quiet, 0, -1};
    opt.data_dir = data;
    opt.out_dir = out;
    opt.progress = progress;
    opt.progress_user = &ps;
    opt.report = !no_report;
    gravrd_replication *rep = NULL;
#ifdef __GLIBC__
    /* Every model allocates and frees arrays of the panel's length (tens of
     * MB). glibc would hand them to mmap and back to the kernel each time,
     * and the kernel zero-fills every page again on the next model: that was
     * 4 of 23 s of the default world's run (1.5 million page faults). Keep
     * freed memory in the heap for reuse; peak memory stays the same. */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
    gravrd_status st = gravrd_replicate(plan, &opt, &rep, &err);
    free(only_copy);
    gravrd_plan_free(plan);
    if (st) {
        fprintf(stderr, "gravrd replicate: %s\n", err.message);
        return st == GRAVRD_ERR_NOMEM ? 1 : 2;
    }
    for (size_t t = 0; t < rep->n_tables; t++) {
        const gravrd_rep_table *tab = &rep->tables[t];
        if (tab->status == GRAVRD_REP_OK)
            continue;
        fprintf(stderr, "gravrd replicate: table %s %s:", tab->name,
                tab->status == GRAVRD_REP_FAILED ? "failed" : "partly failed");
        if (tab->n_errors == 1)
            fprintf(stderr, " %s\n", tab->errors[0]);
        else {
            fputc('\n', stderr);
            for (size_t k = 0; k < tab->n_errors && k < 5; k++)
                fprintf(stderr, "  %s\n", tab->errors[k]);
            if (tab->n_errors > 5)
                fprintf(stderr, "  ... (%zu errors; see %s/%s.json)\n", tab->n_errors, out, tab->name);
        }
    }
    fprintf(stderr, "gravrd replicate: %zu tables%s, %zu models in %.1f s; wrote %s/replication.json\n",
            rep->n_tables, rep->n_failed ? "" : ", all ok", rep->models, rep->seconds, out);
    if (rep->n_failed)
        fprintf(stderr, "gravrd replicate: %zu of %zu tables failed\n", rep->n_failed, rep->n_tables);
    if (rep->report_error)
        fprintf(stderr, "gravrd replicate: report: %s\n", rep->report_error);
    else if (opt.report)
        printf("%s/index.html\n", out);
    int code = rep->n_failed || rep->report_error ? 1 : 0;
    gravrd_replication_free(rep);
    return code;
}
