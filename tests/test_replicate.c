/* test_replicate.c - gravrd replicate end to end on a small simulated world
 * (seed 1, 12 months, 229,680 flow rows): every table of the shipped study
 * runs and writes its four files and the index; the west-to-east spatial-RD
 * estimate of Table 3 covers the planted 0.10 (seed 1 does; over seeds 1-40
 * the interval covers in the share reported in docs/replicate.md); the
 * mediation test equals gravrd_suest_difference on the same two models;
 * the bootstrap is reproducible; the bad-input rules (a missing file names
 * itself and the table, an unknown variable names the study line, an empty
 * sample, --only with an unknown table) and the CLI's exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <gsl/gsl_cdf.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/inference.h"
#include "gravrd/plan.h"
#include "gravrd/sim.h"
#include "gravrd/study.h"
#include "support/testutil.h"
#include "util/json_read.h"

static char *g_dir, *g_world;
static gravrd_replication *g_rep;    /* the whole study on the world, computed once */

static int setup(void **state)
{
    (void)state;
    g_dir = testutil_tempdir();
    if (!g_dir)
        return -1;
    g_world = testutil_path(g_dir, "world");
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    p.seed = 1;
    p.months = 12;
    gravrd_error err = {0};
    if (gravrd_sim_write(&p, g_world, 0, &err)) {
        fprintf(stderr, "simulate: %s\n", err.message);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gravrd_replication_free(g_rep);
    free(g_world);
    testutil_rmdir(g_dir);
    return 0;
}

static const gravrd_rep_table *table_of(const gravrd_replication *rep, const char *name)
{
    for (size_t t = 0; t < rep->n_tables; t++)
        if (!strcmp(rep->tables[t].name, name))
            return &rep->tables[t];
    return NULL;
}

static const gravrd_rep_column *column_of(const gravrd_rep_table *t, const char *name)
{
    for (size_t c = 0; c < t->n_columns; c++)
        if (!strcmp(t->columns[c].name, name))
            return &t->columns[c];
    return NULL;
}

static const gravrd_rep_coef *coef_of(const gravrd_rep_column *c, const char *key)
{
    for (int k = 0; k < c->n_coefs; k++)
        if (!strcmp(c->coefs[k].key, key))
            return &c->coefs[k];
    return NULL;
}

static int file_nonempty(const char *dir, const char *name)
{
    char *p = testutil_path(dir, name);
    struct stat sb;
    int ok = p && stat(p, &sb) == 0 && sb.st_size > 0;
    free(p);
    return ok;
}

static gravrd_replication *run(const char *study_text, const char *data, const char *out, const char *const *only,
                               size_t n_only, int bootstrap, const char *flow, gravrd_status want, char *msg,
                               size_t msg_len)
{
    gravrd_plan *plan = NULL;
    gravrd_error err = {0};
    gravrd_plan_macro ov[] = {{"flow", flow}};
    gravrd_status st = study_text ? gravrd_plan_parse(study_text, strlen(study_text), "my.study", NULL, 0, &plan, &err)
                                  : gravrd_plan_load(NULL, ov, flow ? 1 : 0, &plan, &err);
    if (st)
        fprintf(stderr, "plan: %s\n", err.message);
    assert_int_equal(st, GRAVRD_OK);
    gravrd_replicate_options opt;
    gravrd_replicate_options_init(&opt);
    opt.data_dir = data;
    opt.out_dir = out;
    opt.threads = 2;
    opt.only = only;
    opt.n_only = n_only;
    opt.bootstrap = bootstrap;
    gravrd_replication *rep = NULL;
    st = gravrd_replicate(plan, &opt, &rep, &err);
    gravrd_plan_free(plan);
    if (st != want)
        fprintf(stderr, "replicate: %s\n", err.message);
    assert_int_equal(st, want);
    if (msg)
        snprintf(msg, msg_len, "%s", err.message);
    return rep;
}

static void test_whole_study(void **state)
{
    (void)state;
    char *out = testutil_path(g_dir, "out");
    g_rep = run(NULL, g_world, out, NULL, 0, 0, NULL, GRAVRD_OK, NULL, 0);
    for (size_t t = 0; t < g_rep->n_tables; t++)
        if (g_rep->tables[t].status != GRAVRD_REP_OK)
            fprintf(stderr, "table %s: %s\n", g_rep->tables[t].name, g_rep->tables[t].error);
    assert_int_equal(g_rep->n_failed, 0);
    assert_int_equal(g_rep->n_tables, 23);
    assert_true(g_rep->has_truth);
    assert_true(g_rep->models > 150);
    /* every table's four files and the index */
    const char *ext[] = {"md", "tex", "csv", "json"};
    for (size_t t = 0; t < g_rep->n_tables; t++)
        for (int k = 0; k < 4; k++) {
            char name[128];
            snprintf(name, sizeof name, "%s.%s", g_rep->tables[t].name, ext[k]);
            if (!file_nonempty(out, name))
                fprintf(stderr, "missing %s\n", name);
            assert_true(file_nonempty(out, name));
        }
    char *index = testutil_path(out, "replication.json");
    json_t *v = NULL;
    gravrd_error err = {0};
    assert_int_equal(jr_parse_file(index, &v, &err), GRAVRD_OK);
    assert_string_equal(jr_str(v, "status"), "ok");
    const json_t *tables = jr_get(v, "tables");
    assert_int_equal(json_array_size(tables), 23);
    assert_string_equal(jr_str(json_array_get(tables, 2), "name"), "table3");
    assert_string_equal(jr_str(v, "headline"), "table3/log_trade.w2e/partner");
    json_decref(v);
    free(index);
    /* the headline's randomization inference: a note under Table 3 with a
     * p-value in (0, 1], and the histogram */
    const gravrd_rep_table *t3 = table_of(g_rep, "table3");
    const char *ri_note = NULL;
    for (size_t k = 0; k < t3->n_notes; k++)
        if (strstr(t3->notes[k], "Randomization inference for the headline"))
            ri_note = t3->notes[k];
    assert_non_null(ri_note);
    double ri_p = -1;
    assert_int_equal(sscanf(strstr(ri_note, "p = "), "p = %lf", &ri_p), 1);
    assert_true(ri_p > 0 && ri_p <= 1);
    assert_true(file_nonempty(out, "ri_headline.svg"));
    /* each table's JSON parses; the balanced-panel tables go through the
     * exact collapse (docs/replicate.md lists what does not) */
    static const char *const collapsed[] = {"table4", "tableA9", "tableA10", "tableA11", "tableA13", "tableA21", NULL};
    for (size_t t = 0; t < g_rep->n_tables; t++) {
        char name[128];
        snprintf(name, sizeof name, "%s.json", g_rep->tables[t].name);
        char *p = testutil_path(out, name);
        assert_int_equal(jr_parse_file(p, &v, &err), GRAVRD_OK);
        assert_string_equal(jr_str(v, "name"), g_rep->tables[t].name);
        for (int k = 0; collapsed[k]; k++) {
            if (strcmp(collapsed[k], g_rep->tables[t].name))
                continue;
            const json_t *cols = jr_get(v, "columns");
            assert_true(json_array_size(cols) > 0);
            for (size_t c = 0; c < json_array_size(cols); c++)
                assert_string_equal(jr_str(json_array_get(cols, c), "solver"), "collapse");
        }
        json_decref(v);
        free(p);
    }
    free(out);
}

/* The main estimate: Table 3, log1p(trade), west to east, partner. With
 * seed 1 and 12 months the 95% interval holds the planted 0.10. */
static void test_rd_covers_truth(void **state)
{
    (void)state;
    assert_non_null(g_rep);
    const gravrd_rep_table *t3 = table_of(g_rep, "table3");
    const gravrd_rep_column *c = column_of(t3, "log_trade.w2e");
    assert_non_null(c);
    assert_null(c->error);
    assert_int_equal(c->nobs, 87 * 110 * 12);
    assert_string_equal(c->outcome, "log1p(trade)");
    const gravrd_rep_coef *b = coef_of(c, "partner");
    assert_non_null(b);
    assert_true(fabs(b->truth - 0.10) < 1e-12);
    assert_true(b->ci_lo < b->estimate && b->estimate < b->ci_hi);
    assert_true(b->ci_lo <= b->truth && b->truth <= b->ci_hi);
    /* published values mapped from paper_tables.json */
    assert_true(fabs(b->pub_estimate - 0.100) < 1e-12);
    assert_true(fabs(b->pub_se - 0.028) < 1e-12);
    assert_true(fabs(c->pub_adj_r2 - 0.935) < 1e-12);
    /* log(distance) is a control row, the FE are listed */
    assert_int_equal(c->n_controls, 1);
    assert_string_equal(c->controls[0], "log(distance)");
    assert_int_equal(c->n_fe, 3);
    /* the both-directions column has no truth */
    const gravrd_rep_coef *bb = coef_of(column_of(t3, "log_trade.both"), "partner");
    assert_true(isnan(bb->truth));
    /* gravity shows log(distance) as a coefficient */
    const gravrd_rep_column *g = column_of(table_of(g_rep, "table2"), "log_trade.w2e");
    assert_non_null(coef_of(g, "log(distance)"));
    assert_true(coef_of(g, "log(distance)")->estimate < 0);
}

static void test_other_tables(void **state)
{
    (void)state;
    assert_non_null(g_rep);
    /* Table 1: full-sample trade has every row; 9,570 pairs */
    const gravrd_rep_table *t1 = table_of(g_rep, "table1");
    int seen_trade = 0, seen_distance = 0;
    for (size_t i = 0; i < t1->n_rows; i++) {
        const gravrd_rep_row *w = &t1->rows[i];
        assert_null(w->error);
        if (!strcmp(w->variable, "trade") && !strcmp(w->sample, "both")) {
            assert_int_equal(w->n, 229680);
            assert_true(w->min <= w->p25 && w->p25 <= w->p50 && w->p50 <= w->p75 && w->p75 <= w->max);
            assert_true(w->has_published);
            seen_trade = 1;
        }
        if (!strcmp(w->variable, "distance")) {
            assert_int_equal(w->n, 9570);
            seen_distance = 1;
        }
        if (!strcmp(w->variable, "partner"))
            assert_int_equal(w->n, 19140);
    }
    assert_true(seen_trade && seen_distance);
    /* Table 5: eleven columns with an interaction each */
    const gravrd_rep_table *t5 = table_of(g_rep, "table5");
    assert_int_equal(t5->n_columns, 11);
    /* a 12-month world (2017) has no COVID months: column (11)'s interaction
     * is collinear and removed, with a note */
    assert_int_equal(t5->columns[10].n_coefs, 1);
    int noted = 0;
    for (size_t i = 0; i < t5->n_notes; i++)
        noted |= strstr(t5->notes[i], "partner:covid") && strstr(t5->notes[i], "collinear");
    assert_true(noted);
    for (size_t c = 0; c < 10; c++) {
        assert_int_equal(t5->columns[c].n_coefs, 2);
        assert_true(isfinite(t5->columns[c].coefs[1].estimate));
        assert_true(isfinite(t5->columns[c].coefs[1].pub_estimate));
    }
    /* Table 6: pair level column on the 9,570 east-west pairs, less those
     * alone in their segment pair (singletons of the segment-pair FE) */
    const gravrd_rep_column *a1 = column_of(table_of(g_rep, "table6"), "(1)");
    assert_true(a1->nobs > 7000 && a1->nobs < 9570);
    assert_true(fabs(coef_of(a1, "partner")->truth - 0.528) < 1e-12);
    /* RD: eight bandwidths */
    const gravrd_rep_column *rd = column_of(table_of(g_rep, "tableA30"), "log_trade.w2e");
    assert_int_equal(rd->n_coefs, 8);
    assert_true(rd->coefs[0].is_rd);
    assert_true(fabs(rd->coefs[0].bandwidth_km - 60) < 1e-12);
    assert_true(isfinite(rd->coefs[7].estimate));
    assert_true(fabs(rd->coefs[0].pub_lo - 0.06) < 1e-12);
    /* balance: six columns; matching has the matched sample */
    assert_int_equal(table_of(g_rep, "tableA6")->n_columns, 6);
    assert_int_equal(table_of(g_rep, "tableA29")->n_columns, 12);
    assert_int_equal(table_of(g_rep, "tableA11")->n_columns, 24);
    /* numbers */
    const gravrd_rep_table *nb = table_of(g_rep, "numbers");
    assert_int_equal(nb->n_items, 4);
    for (size_t i = 0; i < nb->n_items; i++)
        assert_true(isfinite(nb->items[i].value));
    assert_true(fabs(nb->items[0].published - 0.144) < 1e-12);
    double want = coef_of(column_of(table_of(g_rep, "table3"), "log_trade.both"), "partner")->estimate /
                  fabs(coef_of(column_of(table_of(g_rep, "table2"), "log_trade.both"), "log(distance)")->estimate);
    assert_true(fabs(nb->items[0].value - want) < 1e-12);
}

/* The mediation test equals gravrd_suest_difference on the two models
 * fitted here on the same rows (west to east; every variable is finite). */
static void test_mediation_matches_suest(void **state)
{
    (void)state;
    assert_non_null(g_rep);
    const gravrd_rep_table *m = table_of(g_rep, "mediation");
    assert_int_equal(m->n_tests, 3);
    const gravrd_rep_test *t = &m->tests[0];
    assert_string_equal(t->label, "Migration");
    gravrd_error err = {0};
    gravrd_study *study = NULL;
    assert_int_equal(gravrd_study_load(g_world, 100, &study, &err), GRAVRD_OK);
    char *fp = testutil_path(g_world, "flows.csv");
    gravrd_frame *flows = NULL, *frame = NULL, *w2e = NULL;
    assert_int_equal(gravrd_csv_read(fp, NULL, &flows, &err), GRAVRD_OK);
    const char *names[] = {"trade", "partner", "pre_cny_mean", "distance", "month", "seg_exp", "seg_imp", "pair", "w2e"};
    assert_int_equal(gravrd_study_frame(study, flows, names, 9, &frame, &err), GRAVRD_OK);
    const gravrd_column *w = gravrd_frame_find(frame, "w2e");
    uint8_t *keep = malloc(frame->n_rows);
    for (size_t i = 0; i < frame->n_rows; i++)
        keep[i] = w->num_N[i] == 1;
    w2e = gravrd_frame_filter(frame, keep);
    free(keep);
    const char *fa = "log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp";
    const char *fb =
        "log1p(trade) ~ partner + pre_cny_mean + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp";
    gravrd_reg_options ro;
    gravrd_reg_options_init(&ro);
    ro.cluster = "pair";
    ro.keep_scores = 1;
    gravrd_reg_results *ra = NULL, *rb = NULL;
    assert_int_equal(gravrd_reg(w2e, fa, &ro, &ra, &err), GRAVRD_OK);
    assert_int_equal(gravrd_reg(w2e, fb, &ro, &rb, &err), GRAVRD_OK);
    gravrd_suest_result sr;
    assert_int_equal(gravrd_suest_difference(&ra->results[0], "partner", &rb->results[0], "partner", &sr, &err),
                     GRAVRD_OK);
    assert_true(fabs(t->difference - sr.difference) <= 1e-9 * fabs(sr.difference) + 1e-12);
    assert_true(fabs(t->se - sr.se) <= 1e-9 * sr.se);
    assert_true(fabs(t->p - sr.p) <= 1e-8);
    assert_true(fabs(t->base_estimate - ra->results[0].coefs[0].estimate) < 1e-9);
    assert_int_equal(t->nobs, ra->results[0].nobs);
    /* the base model is Table 3's west-to-east column */
    const gravrd_rep_coef *b3 = coef_of(column_of(table_of(g_rep, "table3"), "log_trade.w2e"), "partner");
    assert_true(fabs(b3->estimate - t->base_estimate) < 1e-9);
    assert_true(fabs(t->truth - 0.004752) < 1e-9);
    /* beside it, Table 3's `inference = dyadic`: two-way clustered by the
     * exporter and the importer city, as a direct fit gives it */
    gravrd_reg_options rd;
    gravrd_reg_options_init(&rd);
    rd.cluster = "exp_city + imp_city";
    gravrd_reg_results *r2 = NULL;
    assert_int_equal(gravrd_reg(w2e, fa, &rd, &r2, &err), GRAVRD_OK);
    const gravrd_coef *d = &r2->results[0].coefs[0];
    assert_int_equal(b3->alt_method, GRAVRD_INFERENCE_DYADIC);
    assert_true(fabs(b3->alt_se - d->se) <= 1e-9 * d->se);
    assert_true(fabs(b3->alt_p - d->p) <= 1e-9);
    assert_true(fabs(b3->se - ra->results[0].coefs[0].se) <= 1e-9 * b3->se); /* the paper's stays */
    assert_true(b3->alt_se != b3->se);
    assert_true(b3->alt_lo < d->estimate && d->estimate < b3->alt_hi);
    assert_true(fabs((b3->alt_hi - b3->alt_lo) / (2 * d->se) - gsl_cdf_tdist_Pinv(0.975, r2->results[0].t_df)) < 1e-9);
    gravrd_reg_results_free(r2);
    gravrd_reg_results_free(ra);
    gravrd_reg_results_free(rb);
    gravrd_frame_free(w2e);
    gravrd_frame_free(frame);
    gravrd_frame_free(flows);
    gravrd_study_free(study);
    free(fp);
}

/* --counterfactual: every truth is our estimate minus the estimate on the
 * same world without the partnership, table by table. */
static void test_counterfactual(void **state)
{
    (void)state;
    char *world0 = testutil_path(g_dir, "world0");
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    p.seed = 1;
    p.months = 12;
    gravrd_sim_params_effects_off(&p);
    assert_true(p.partner_w2e == 0 && p.migration_effect == 0 && p.het[0] == 0);
    gravrd_error err = {0};
    assert_int_equal(gravrd_sim_write(&p, world0, 0, &err), GRAVRD_OK);
    const char *only[] = {"table3", "mediation", "table6"};
    gravrd_replication *r0 = run(NULL, world0, NULL, only, 3, 0, NULL, GRAVRD_OK, NULL, 0);
    gravrd_plan *plan = NULL;
    assert_int_equal(gravrd_plan_load(NULL, NULL, 0, &plan, &err), GRAVRD_OK);
    gravrd_replicate_options opt;
    gravrd_replicate_options_init(&opt);
    opt.data_dir = g_world;
    opt.counterfactual_dir = world0;
    opt.only = only;
    opt.n_only = 3;
    opt.threads = 2;
    gravrd_replication *rc = NULL;
    assert_int_equal(gravrd_replicate(plan, &opt, &rc, &err), GRAVRD_OK);
    assert_string_equal(rc->counterfactual, world0);
    int checked = 0, structural = 0;
    const char *tables[] = {"table3", "mediation", "table6"};
    for (int t = 0; t < 3; t++) {
        const gravrd_rep_table *a = table_of(g_rep, tables[t]), *b = table_of(r0, tables[t]),
                               *c = table_of(rc, tables[t]);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        for (size_t i = 0; i < c->n_columns; i++)
            for (int k = 0; k < c->columns[i].n_coefs; k++) {
                const gravrd_rep_coef *o = &c->columns[i].coefs[k];
                const gravrd_rep_coef *oa = coef_of(&a->columns[i], o->key), *ob = coef_of(&b->columns[i], o->key);
                /* the estimates are this world's; only the truths change */
                assert_true(o->estimate == oa->estimate);
                if (!isfinite(oa->truth)) {
                    assert_false(isfinite(o->truth));
                    continue;
                }
                if (!strstr(o->key, "partner")) {
                    /* a mediator's coefficient: a structural parameter keeps its planted truth */
                    assert_true(o->truth == oa->truth);
                    structural++;
                    continue;
                }
                assert_true(fabs(o->truth - (oa->estimate - ob->estimate)) < 1e-12);
                checked++;
            }
        for (size_t i = 0; i < c->n_tests; i++)
            if (isfinite(a->tests[i].truth)) {
                assert_true(fabs(c->tests[i].truth - (a->tests[i].difference - b->tests[i].difference)) < 1e-12);
                checked++;
            }
    }
    assert_true(checked >= 10);
    assert_true(structural >= 2);
    /* the west-to-east partner truth is near the planted 0.10, not equal */
    const gravrd_rep_coef *w = coef_of(column_of(table_of(rc, "table3"), "log_trade.w2e"), "partner");
    assert_true(fabs(w->truth - 0.10) < 0.03 && w->truth != 0.10);
    gravrd_replication_free(rc);
    gravrd_replication_free(r0);
    /* a folder that is not there: an error naming it */
    opt.counterfactual_dir = "/nonexistent-gravrd-world0";
    assert_int_equal(gravrd_replicate(plan, &opt, &rc, &err), GRAVRD_ERR_IO);
    assert_non_null(strstr(err.message, "--counterfactual: /nonexistent-gravrd-world0"));
    gravrd_plan_free(plan);
    free(world0);
}

static void test_bootstrap(void **state)
{
    (void)state;
    const char *only[] = {"mediation"};
    gravrd_replication *a = run(NULL, g_world, NULL, only, 1, 4, NULL, GRAVRD_OK, NULL, 0);
    gravrd_replication *b = run(NULL, g_world, NULL, only, 1, 4, NULL, GRAVRD_OK, NULL, 0);
    assert_int_equal(a->n_tables, 1);
    const gravrd_rep_test *ta = &a->tables[0].tests[0], *tb = &b->tables[0].tests[0];
    assert_int_equal(ta->bootstrap_reps, 4);
    assert_true(isfinite(ta->bootstrap_se) && ta->bootstrap_se > 0);
    assert_true(ta->bootstrap_se == tb->bootstrap_se);
    assert_true(a->models == 3 * (2 + 2 * 4));
    gravrd_replication_free(a);
    gravrd_replication_free(b);
}

static void test_flow_log(void **state)
{
    (void)state;
    const char *only[] = {"table3"};
    gravrd_replication *r = run(NULL, g_world, NULL, only, 1, 0, "log", GRAVRD_OK, NULL, 0);
    const gravrd_rep_column *c = column_of(&r->tables[0], "log_trade.w2e");
    assert_string_equal(c->outcome, "log(trade)");
    assert_true(c->nobs < 87 * 110 * 12);    /* zero cells drop out */
    assert_string_equal(r->flow, "log");
    gravrd_replication_free(r);
}

/* A folder with some files of the world: symlinks. */
static char *partial_world(const char *name, const char *const *files, size_t n)
{
    char *dir = testutil_path(g_dir, name);
    mkdir(dir, 0777);
    for (size_t i = 0; i < n; i++) {
        char *src = testutil_path(g_world, files[i]), *dst = testutil_path(dir, files[i]);
        assert_int_equal(symlink(src, dst), 0);
        free(src);
        free(dst);
    }
    return dir;
}

static void test_missing_files(void **state)
{
    (void)state;
    const char *files[] = {"cities.csv", "partnerships.csv", "flows.csv", "truth.json"};
    char *nomig = partial_world("nomig", files, 4);
    const char *only[] = {"table6", "tableA6", "table1"};
    gravrd_replication *r = run(NULL, nomig, NULL, only, 3, 0, NULL, GRAVRD_OK, NULL, 0);
    const gravrd_rep_table *t6 = table_of(r, "table6"), *a6 = table_of(r, "tableA6"), *t1 = table_of(r, "table1");
    assert_int_equal(t6->status, GRAVRD_REP_FAILED);
    assert_non_null(strstr(t6->error, "table table6 needs migration.csv"));
    assert_non_null(strstr(t6->error, "east-west-partnership.study:"));
    assert_int_equal(a6->status, GRAVRD_REP_OK);
    assert_int_equal(t1->status, GRAVRD_REP_PARTIAL);
    assert_non_null(strstr(t1->error, "migration.csv"));
    assert_int_equal(r->n_failed, 2);
    gravrd_replication_free(r);
    free(nomig);

    const char *files2[] = {"cities.csv", "partnerships.csv", "migration.csv"};
    char *noflows = partial_world("noflows", files2, 3);
    const char *only2[] = {"table3", "tableA6"};
    r = run(NULL, noflows, NULL, only2, 2, 0, NULL, GRAVRD_OK, NULL, 0);
    const gravrd_rep_table *t3 = table_of(r, "table3");
    assert_int_equal(t3->status, GRAVRD_REP_FAILED);
    assert_non_null(strstr(t3->error, "table table3 needs flows.csv"));
    assert_int_equal(table_of(r, "tableA6")->status, GRAVRD_REP_OK);
    assert_false(r->has_truth);
    gravrd_replication_free(r);
    free(noflows);
}

static const char my_study[] = "[samples]\n"                                               /* 1 */
                               "w2e = w2e == 1\n"                                          /* 2 */
                               "none = w2e == 2\n"                                         /* 3 */
                               "[outcomes]\n"                                              /* 4 */
                               "lt = log1p(trade)\n"                                       /* 5 */
                               "[table good]\n"                                            /* 6 */
                               "kind = regression\n"                                       /* 7 */
                               "rhs = partner + log(distance)\n"                           /* 8 */
                               "fe = exp_city^month + imp_city^month\n"                    /* 9 */
                               "grid = lt x w2e\n"                                         /* 10 */
                               "[table typo]\n"                                            /* 11 */
                               "kind = regression\n"                                       /* 12 */
                               "rhs = partner + log(distanse)\n"                           /* 13 */
                               "fe = exp_city^month + imp_city^month\n"                    /* 14 */
                               "grid = lt x w2e\n"                                         /* 15 */
                               "[table empty]\n"                                           /* 16 */
                               "kind = regression\n"                                       /* 17 */
                               "rhs = partner\n"                                           /* 18 */
                               "fe = exp_city^month\n"                                     /* 19 */
                               "grid = lt x none\n"                                        /* 20 */
                               "[table emptyrow]\n"                                        /* 21 */
                               "kind = summary\n"                                          /* 22 */
                               "sample = none\n"                                           /* 23 */
                               "row trade = Trade\n";                                      /* 24 */

static void test_bad_tables(void **state)
{
    (void)state;
    gravrd_replication *r = run(my_study, g_world, NULL, NULL, 0, 0, NULL, GRAVRD_OK, NULL, 0);
    assert_int_equal(r->n_tables, 4);
    assert_int_equal(table_of(r, "good")->status, GRAVRD_REP_OK);
    const gravrd_rep_table *typo = table_of(r, "typo"), *empty = table_of(r, "empty"),
                           *erow = table_of(r, "emptyrow");
    assert_int_equal(typo->status, GRAVRD_REP_FAILED);
    assert_non_null(strstr(typo->error, "my.study:15:"));
    assert_non_null(strstr(typo->error, "unknown variable 'distanse'"));
    assert_int_equal(empty->status, GRAVRD_REP_FAILED);
    assert_non_null(strstr(empty->error, "my.study:20:"));
    assert_non_null(strstr(empty->error, "empty sample"));
    assert_int_equal(erow->status, GRAVRD_REP_FAILED);
    assert_non_null(strstr(erow->error, "my.study:24:"));
    assert_non_null(strstr(erow->error, "empty sample"));
    assert_int_equal(r->n_failed, 3);
    gravrd_replication_free(r);
    /* --only with a table the study does not have */
    char msg[GRAVRD_ERROR_MSG_LEN];
    const char *only[] = {"table99"};
    r = run(my_study, g_world, NULL, only, 1, 0, NULL, GRAVRD_ERR_INVALID, msg, sizeof msg);
    assert_null(r);
    assert_non_null(strstr(msg, "table99"));
    /* a data folder that does not exist */
    r = run(my_study, "/nonexistent/folder", NULL, NULL, 0, 0, NULL, GRAVRD_ERR_IO, msg, sizeof msg);
    assert_null(r);
    assert_non_null(strstr(msg, "/nonexistent/folder"));
}

/* Runs the CLI; returns the exit code; stderr in *err_text (malloc'ed). */
static int cli(const char *args, char **err_text)
{
    char *errf = testutil_path(g_dir, "stderr.txt");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s >/dev/null 2>%s", GRAVRD_CLI_PATH, args, errf);
    int st = system(cmd);
    *err_text = testutil_read_file(errf, NULL);
    free(errf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state)
{
    (void)state;
    char *e = NULL, args[2048];
    char *bad = testutil_write_temp(g_dir, "bad.study", "[table x]\nkind = regression\nrhs = partner +\n");
    snprintf(args, sizeof args, "replicate --data %s --out %s/o1 --study %s", g_world, g_dir, bad);
    assert_int_equal(cli(args, &e), 2);
    char want[1024];
    snprintf(want, sizeof want, "%s:3:", bad);
    assert_non_null(strstr(e, want));
    free(e);
    char *mine = testutil_write_temp(g_dir, "my.study", my_study);
    snprintf(args, sizeof args, "replicate --data %s --out %s/o2 --study %s --quiet --no-report", g_world, g_dir, mine);
    assert_int_equal(cli(args, &e), 1);
    assert_non_null(strstr(e, "table typo failed"));
    assert_non_null(strstr(e, "3 of 4 tables failed"));
    free(e);
    snprintf(args, sizeof args, "replicate --data %s --out %s/o3 --study %s --only good --quiet --no-report",
             g_world, g_dir, mine);
    assert_int_equal(cli(args, &e), 0);
    free(e);
    snprintf(args, sizeof args, "replicate --data %s --out %s/o4 --flow log2", g_world, g_dir);
    assert_int_equal(cli(args, &e), 2);
    assert_non_null(strstr(e, "--flow"));
    free(e);
    snprintf(args, sizeof args, "replicate --data %s --out %s/o5 --only nope", g_world, g_dir);
    assert_int_equal(cli(args, &e), 2);
    assert_non_null(strstr(e, "nope"));
    free(e);
    snprintf(args, sizeof args, "replicate --data %s --out %s/o6 --bogus", g_world, g_dir);
    assert_int_equal(cli(args, &e), 2);
    free(e);
    free(bad);
    free(mine);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_whole_study),
        cmocka_unit_test(test_rd_covers_truth),
        cmocka_unit_test(test_other_tables),
        cmocka_unit_test(test_mediation_matches_suest),
        cmocka_unit_test(test_counterfactual),
        cmocka_unit_test(test_bootstrap),
        cmocka_unit_test(test_flow_log),
        cmocka_unit_test(test_missing_files),
        cmocka_unit_test(test_bad_tables),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
