/* replicate.c - `gravrd replicate`, the driver: runs the tables of a
 * typed study specification in file order (with --only, those asked for
 * and the tables their items refer to), each by its kind's runner
 * (run_*.c), reports progress, keeps the study frames later tables need,
 * writes each table's files and the index, and the figures and report. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "gravrd/figures.h"
#include "gravrd/html.h"
#include "study/run.h"

void gravrd_replicate_options_init(gravrd_replicate_options *opt)
{
    memset(opt, 0, sizeof *opt);
}

void gravrd_replication_free(gravrd_replication *rep)
{
    if (!rep)
        return;
    for (size_t t = 0; t < rep->n_tables; t++)
        rep_table_free(&rep->tables[t]);
    free(rep->tables);
    free(rep->study);
    free(rep->study_title);
    free(rep->data_dir);
    free(rep->flow);
    free(rep->headline);
    free(rep->counterfactual);
    free(rep->report_error);
    free(rep);
}

static int mkdir_p(const char *path)
{
    char *p = plan_strdup(path);
    if (!p)
        return -1;
    for (char *c = p + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            if (mkdir(p, 0777) && errno != EEXIST) {
                free(p);
                return -1;
            }
            *c = '/';
        }
    int rc = mkdir(p, 0777);
    free(p);
    if (rc && errno != EEXIST)
        return -1;
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode) ? 0 : -1;
}

/* Marks the tables the items of table t refer to (and theirs). */
static void mark_references(const gravrd_plan *plan, size_t t, uint8_t *run)
{
    const gravrd_plan_table *tb = &plan->tables[t];
    for (size_t k = 0; k < tb->n_numbers; k++)
        for (size_t i = 0; i < tb->numbers[k].n_refs; i++) {
            size_t u = tb->numbers[k].refs[i].table;
            if (!run[u]) {
                run[u] = 1;
                mark_references(plan, u, run);
            }
        }
}

/* Models a table will fit (for the progress line). */
static size_t count_models(const rep_run *r, const gravrd_plan_table *tb)
{
    switch (tb->kind) {
    case GRAVRD_TABLE_REGRESSION:
    case GRAVRD_TABLE_MATCH: return tb->n_columns;
    case GRAVRD_TABLE_RD: return tb->n_rd_columns;
    case GRAVRD_TABLE_BALANCE: return tb->balance.n_bandwidths + (size_t)tb->balance.without_fe;
    case GRAVRD_TABLE_MEDIATION: return tb->n_tests * (2 + 2 * (size_t)(r->opt->bootstrap > 0 ? r->opt->bootstrap : 0));
    default: return 0;
    }
}

/* Whether a line of the table works on the flows at this bandwidth. */
static int table_uses_bandwidth(const gravrd_plan_table *tb, double bw)
{
    for (size_t i = 0; i < tb->n_columns; i++)
        if (tb->columns[i].bandwidth == bw)
            return 1;
    for (size_t i = 0; i < tb->n_rd_columns; i++)
        if (tb->rd_columns[i].bandwidth == bw)
            return 1;
    for (size_t i = 0; i < tb->n_rows; i++)
        if (tb->rows[i].bandwidth == bw)
            return 1;
    for (size_t i = 0; i < tb->n_tests; i++)
        if (tb->tests[i].bandwidth == bw)
            return 1;
    for (size_t i = 0; i < tb->n_numbers; i++)
        if (tb->numbers[i].bandwidth == bw)
            return 1;
    return 0;
}

/* Frees the frames at other bandwidths than the study's that no table
 * from next on (among those run) uses: the robustness tables A.21-A.24
 * each revisit the 75 and 125 km frames that A.11 built, and rebuilding
 * them per table cost about a second each. */
static void release_unused_frames(rep_run *r, const uint8_t *run, size_t next)
{
    const gravrd_plan *plan = r->plan;
    for (size_t i = 0; i < r->n_frames; i++) {
        double bw = r->frames[i].bandwidth;
        if (!r->frames[i].frame || bw == r->default_bandwidth)
            continue;
        int used = 0;
        for (size_t t = next; t < plan->n_tables && !used; t++)
            used = run[t] && table_uses_bandwidth(&plan->tables[t], bw);
        if (!used)
            rep_release_frame(r, i);
    }
}

/* Figures and OUT/index.html (the figures engineer's gravrd_report_figures
 * and gravrd_report_html), reusing the flows already read. */
static gravrd_status write_report(rep_run *r, gravrd_error *err)
{
    gravrd_study *study = NULL;
    const gravrd_frame *flows = NULL;
    gravrd_status st = GRAVRD_OK;
    if (rep_file_exists(r, "cities.csv") && rep_file_exists(r, "partnerships.csv") &&
        rep_file_exists(r, r->flows_name) && !rep_get_study(r, r->default_bandwidth, &study, err) &&
        !rep_get_flows(r, &flows, err)) {
        gravrd_report_figures_options fo;
        gravrd_report_figures_options_init(&fo);
        fo.threads = r->opt->threads;
        char *outcome = plan_format("%s(trade)", r->rep->flow && r->rep->flow[0] ? r->rep->flow : "log1p");
        if (!outcome)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        fo.figure2_opt.outcome = outcome;
        st = gravrd_report_figures(study, flows, r->opt->out_dir, &fo, err);
        free(outcome);
        if (st == GRAVRD_ERR_NOMEM)
            return st;
    } else if (!err->message[0]) {
        gravrd_error_set(err, GRAVRD_ERR_IO, "figures: the study folder lacks cities.csv, partnerships.csv or %s",
                         r->flows_name);
    }
    char saved[GRAVRD_ERROR_MSG_LEN];
    snprintf(saved, sizeof saved, "%s", err->message);
    gravrd_html_options ho = {r->opt->data_dir, NULL};
    gravrd_error e2 = {0};
    gravrd_status hs = gravrd_report_html(r->opt->out_dir, &ho, NULL, &e2);
    if (hs == GRAVRD_ERR_NOMEM)
        return hs;
    if (hs)
        gravrd_error_set(err, hs, "%s%s%s", saved, saved[0] ? "; " : "", e2.message);
    return GRAVRD_OK;
}

/* Runs one table and sets its status. */
static gravrd_status run_table(rep_run *r, const gravrd_plan_table *tb, gravrd_rep_table *out)
{
    out->name = plan_strdup(tb->name);
    out->title = plan_strdup(tb->title);
    out->paper = plan_strdup(tb->paper);
    out->kind = tb->kind;
    out->has_truth = rep_sources_has_truth(r->sources);
    if (!out->name || !out->title || !out->paper)
        return GRAVRD_ERR_NOMEM;
    gravrd_status st = GRAVRD_OK;
    for (size_t i = 0; i < tb->n_notes && !st; i++)
        st = rep_add_note(out, tb->notes[i]);
    if (tb->kind != GRAVRD_TABLE_SUMMARY && tb->kind != GRAVRD_TABLE_NUMBERS && tb->kind != GRAVRD_TABLE_BALANCE)
        for (size_t i = 0; i < r->plan->study.n_notes && !st; i++)
            st = rep_add_note(out, r->plan->study.notes[i]);
    if (st)
        return st;
    size_t models0 = r->models_done;
    double t0 = rep_now();
    gravrd_error err = {0};
    switch (tb->kind) {
    case GRAVRD_TABLE_SUMMARY: st = run_summary(r, tb, out, &err); break;
    case GRAVRD_TABLE_REGRESSION:
    case GRAVRD_TABLE_MATCH: st = run_regression(r, tb, out, &err); break;
    case GRAVRD_TABLE_BALANCE: st = run_balance(r, tb, out, &err); break;
    case GRAVRD_TABLE_RD: st = run_rd(r, tb, out, &err); break;
    case GRAVRD_TABLE_MEDIATION: st = run_mediation(r, tb, out, &err); break;
    case GRAVRD_TABLE_NUMBERS: st = run_numbers(r, tb, out, &err); break;
    }
    if (st) {
        if (st == GRAVRD_ERR_NOMEM && !err.message[0])
            snprintf(err.message, sizeof err.message, "out of memory");
        if (rep_add_error(out, err.message))
            return GRAVRD_ERR_NOMEM;
    }
    /* status: failed when nothing came out, partial when something failed */
    size_t parts = out->n_columns + out->n_rows + out->n_tests + out->n_items, failed = 0;
    for (size_t i = 0; i < out->n_columns; i++)
        failed += out->columns[i].error != NULL;
    for (size_t i = 0; i < out->n_rows; i++)
        failed += out->rows[i].error != NULL;
    for (size_t i = 0; i < out->n_tests; i++)
        failed += out->tests[i].error != NULL;
    for (size_t i = 0; i < out->n_items; i++)
        failed += out->items[i].error != NULL;
    if (st || parts == 0 || failed == parts)
        out->status = GRAVRD_REP_FAILED;
    else if (failed > 0 || out->n_errors > 0)
        out->status = GRAVRD_REP_PARTIAL;
    else
        out->status = GRAVRD_REP_OK;
    out->models = r->models_done - models0;
    out->seconds = rep_now() - t0;
    return st == GRAVRD_ERR_NOMEM ? GRAVRD_ERR_NOMEM : GRAVRD_OK;
}

gravrd_status gravrd_replicate(const gravrd_plan *plan, const gravrd_replicate_options *opt,
                               gravrd_replication **out, gravrd_error *err)
{
    *out = NULL;
    if (!opt || !opt->data_dir)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "replicate: no data folder given");
    struct stat sb;
    if (stat(opt->data_dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: not a folder (the study folder: cities.csv, "
                                "partnerships.csv, flows.csv, ...)", opt->data_dir);
    uint8_t *run = calloc(plan->n_tables + 1, 1);
    if (!run)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    if (opt->only && opt->n_only > 0) {
        for (size_t i = 0; i < opt->n_only; i++) {
            int found = 0;
            for (size_t t = 0; t < plan->n_tables; t++)
                if (!strcmp(plan->tables[t].name, opt->only[i])) {
                    run[t] = 1;
                    found = 1;
                }
            if (!found) {
                char list[700] = "";
                for (size_t t = 0; t < plan->n_tables && strlen(list) < 600; t++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", t ? ", " : "",
                             plan->tables[t].name);
                free(run);
                return gravrd_error_set(err, GRAVRD_ERR_INVALID, "--only: %s has no table '%s' (tables: %s)",
                                        plan->source, opt->only[i], list);
            }
        }
        for (size_t t = 0; t < plan->n_tables; t++)
            if (run[t])
                mark_references(plan, t, run);
    } else {
        memset(run, 1, plan->n_tables);
    }
    if (opt->out_dir && mkdir_p(opt->out_dir)) {
        free(run);
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create the output folder (%s)", opt->out_dir,
                                strerror(errno));
    }
    /* The world without the partnership first: its estimates define the
     * truths of this run's. */
    gravrd_replication *rep0 = NULL;
    if (opt->counterfactual_dir) {
        gravrd_replicate_options o0 = *opt;
        o0.data_dir = opt->counterfactual_dir;
        o0.out_dir = NULL;
        o0.report = 0;
        o0.counterfactual_dir = NULL;
        o0.progress = NULL;
        gravrd_error e0 = {0};
        gravrd_status s0 = gravrd_replicate(plan, &o0, &rep0, &e0);
        if (s0) {
            free(run);
            return gravrd_error_set(err, s0, "--counterfactual: %s", e0.message);
        }
    }
    rep_run r;
    memset(&r, 0, sizeof r);
    r.plan = plan;
    r.opt = opt;
    r.t0 = rep_now();
    gravrd_status st = GRAVRD_OK;
    r.data_dir = opt->data_dir;
    r.flows_name = plan->study.flows;
    r.default_bandwidth = plan->study.bandwidth;
    r.rep = calloc(1, sizeof *r.rep);
    if (!r.rep) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = rep_sources_load(plan, r.data_dir, &r.sources, err)))
        goto done;
    gravrd_replication *rep = r.rep;
    rep->study = plan_strdup(plan->dir[0] ? plan->source : "(embedded) east-west-partnership.study");
    rep->study_title = plan_strdup(plan->study.title);
    rep->data_dir = plan_strdup(opt->data_dir);
    rep->flow = plan_strdup(plan->study.flow);
    rep->headline = plan->study.headline ? plan_strdup(plan->study.headline) : NULL;
    rep->counterfactual = opt->counterfactual_dir ? plan_strdup(opt->counterfactual_dir) : NULL;
    rep->has_truth = rep_sources_has_truth(r.sources);
    rep->bootstrap = opt->bootstrap;
    rep->tables = calloc(plan->n_tables + 1, sizeof *rep->tables);
    if (!rep->study || !rep->study_title || !rep->data_dir || !rep->flow || !rep->tables ||
        (plan->study.headline && !rep->headline) || (opt->counterfactual_dir && !rep->counterfactual)) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t t = 0; t < plan->n_tables; t++)
        if (run[t]) {
            r.n_tables_run++;
            r.models_total += count_models(&r, &plan->tables[t]);
        }
    for (size_t t = 0; t < plan->n_tables && !st; t++) {
        if (!run[t])
            continue;
        r.table_index++;
        r.table_name = plan->tables[t].name;
        rep_progress(&r, "table");
        gravrd_rep_table *tab = &rep->tables[rep->n_tables++];
        if (run_table(&r, &plan->tables[t], tab)) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory running table %s", plan->tables[t].name);
            break;
        }
        if (plan->tables[t].kind == GRAVRD_TABLE_REGRESSION && (st = run_headline_ri(&r, &plan->tables[t], tab, err)))
            break;
        for (size_t k = 0; rep0 && k < rep0->n_tables; k++)
            if (!strcmp(rep0->tables[k].name, tab->name))
                rep_apply_counterfactual(tab, &rep0->tables[k]);
        release_unused_frames(&r, run, t + 1);
        if (tab->status != GRAVRD_REP_OK)
            rep->n_failed++;
        if (opt->out_dir && gravrd_rep_table_write(tab, opt->out_dir, err)) {
            st = err->code;
            break;
        }
    }
    rep->seconds = rep_now() - r.t0;
    rep->models = r.models_done;
    if (!st && opt->out_dir)
        st = gravrd_replication_write_index(rep, opt->out_dir, err);
    if (!st && opt->out_dir && opt->report) {
        r.table_name = "report";
        rep_progress(&r, "report");
        gravrd_error e2 = {0};
        if (write_report(&r, &e2) == GRAVRD_ERR_NOMEM) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        } else if (e2.message[0] && !(rep->report_error = plan_strdup(e2.message))) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        }
        rep->seconds = rep_now() - r.t0;
    }
    r.table_name = NULL;
    rep_progress(&r, "done");
done:
    free(run);
    gravrd_replication_free(rep0);
    rep_data_free(&r);
    rep_sources_free(r.sources);
    if (st) {
        gravrd_replication_free(r.rep);
        return st;
    }
    *out = r.rep;
    return GRAVRD_OK;
}
