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

#include "args.h"
#include "commands.h"
#include "gravrd/plan.h"

static const char replicate_usage[] =
    "usage: gravrd replicate --data DIR --out OUT [options]\n"
    "\n"
    "Runs a whole study (every table of a study file) on a study folder and\n"
    "writes each table as OUT/NAME.md, .tex, .csv and .json, and the index\n"
    "OUT/replication.json (docs/replicate.md, docs/study-file.md).\n"
    "\n"
    "options:\n"
    "  --data DIR          the study folder (cities.csv, partnerships.csv, flows.csv,\n"
    "                      migration.csv; truth.json when simulated)\n"
    "  --out OUT           output folder (created if needed)\n"
    "  --study FILE        study file (default: the embedded\n"
    "                      studies/east-west-partnership.study)\n"
    "  --flow log1p|log    how flows become logs: log1p keeps zeros (default),\n"
    "                      log uses positive flows only (sets the macro ${flow})\n"
    "  --macro NAME=VALUE  override another macro of the study file\n"
    "  --bootstrap B       also a pairs cluster bootstrap (B replications) of the\n"
    "                      mediation tests\n"
    "  --seed N            bootstrap seed (default 20240523)\n"
    "  --threads N         models fitted at the same time (default: the number of\n"
    "                      processors; results do not depend on it)\n"
    "  --only T1,T2,...    run only these tables (and the tables they refer to)\n"
    "  --list              list the study's tables and exit\n"
    "  --no-report         tables only: no figures and no OUT/index.html\n"
    "                      (gravrd report --out OUT --figures makes them later)\n"
    "  --quiet             no progress line\n"
    "\n"
    "Exit code: 0 every table succeeded, 1 a table failed (the others still ran),\n"
    "2 bad usage or a bad study file.\n";

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
    const char *data = NULL, *out = NULL, *study = NULL, *value = NULL, *only = NULL;
    gravrd_plan_macro macros[32];
    size_t n_macros = 0;
    gravrd_replicate_options opt;
    gravrd_replicate_options_init(&opt);
    int list = 0, quiet = 0, no_report = 0;
    for (int i = 1; i < argc; i++) {
        int r;
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            fputs(replicate_usage, stdout);
            return 0;
        } else if (!strcmp(arg, "--list")) {
            list = 1;
        } else if (!strcmp(arg, "--quiet")) {
            quiet = 1;
        } else if (!strcmp(arg, "--no-report")) {
            no_report = 1;
        } else if ((r = arg_value(argc, argv, &i, "--data", &value))) {
            if (r < 0)
                goto missing;
            data = value;
        } else if ((r = arg_value(argc, argv, &i, "--out", &value))) {
            if (r < 0)
                goto missing;
            out = value;
        } else if ((r = arg_value(argc, argv, &i, "--study", &value))) {
            if (r < 0)
                goto missing;
            study = value;
        } else if ((r = arg_value(argc, argv, &i, "--flow", &value))) {
            if (r < 0)
                goto missing;
            if (strcmp(value, "log1p") && strcmp(value, "log")) {
                fprintf(stderr, "gravrd replicate: --flow must be log1p or log, not '%s'\n", value);
                return 2;
            }
            if (n_macros < 32)
                macros[n_macros++] = (gravrd_plan_macro){"flow", value};
        } else if ((r = arg_value(argc, argv, &i, "--macro", &value))) {
            if (r < 0)
                goto missing;
            const char *eq = strchr(value, '=');
            if (!eq || eq == value || n_macros >= 32) {
                fprintf(stderr, "gravrd replicate: --macro takes NAME=VALUE, not '%s'\n", value);
                return 2;
            }
            /* split in place: argv strings are writable */
            char *name = (char *)value;
            name[eq - value] = '\0';
            macros[n_macros++] = (gravrd_plan_macro){name, eq + 1};
        } else if ((r = arg_value(argc, argv, &i, "--bootstrap", &value))) {
            long v;
            if (r < 0)
                goto missing;
            if (arg_int(value, 0, 100000, &v)) {
                fprintf(stderr, "gravrd replicate: --bootstrap must be a number of replications >= 0, not '%s'\n",
                        value);
                return 2;
            }
            opt.bootstrap = (int)v;
        } else if ((r = arg_value(argc, argv, &i, "--seed", &value))) {
            long v;
            if (r < 0)
                goto missing;
            if (arg_count("replicate", "--seed", value, 2147483647L, &v))
                return 2;
            opt.seed = (uint64_t)v;
        } else if ((r = arg_value(argc, argv, &i, "--threads", &value))) {
            long v;
            if (r < 0)
                goto missing;
            if (arg_count("replicate", "--threads", value, 1024, &v))
                return 2;
            opt.threads = (int)v;
        } else if ((r = arg_value(argc, argv, &i, "--only", &value))) {
            if (r < 0)
                goto missing;
            only = value;
        } else {
            fprintf(stderr, "gravrd replicate: unknown option '%s' (see gravrd replicate --help)\n", arg);
            return 2;
        }
        continue;
    missing:
        fprintf(stderr, "gravrd replicate: option %s needs a value\n", arg);
        return 2;
    }
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
        fprintf(stderr, "gravrd replicate: %s is required\n\n%s", !data ? "--data DIR" : "--out OUT",
                replicate_usage);
        gravrd_plan_free(plan);
        return 2;
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
