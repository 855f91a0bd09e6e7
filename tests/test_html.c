/* test_html.c - the HTML report (gravrd/html.h, `gravrd report`): a
 * replication folder made of the figures of a small simulated world
 * (gravrd_report_figures) and hand-written table JSON files of every kind
 * (docs/study-file.md, "Table JSON"); the page holds every table of
 * replication.json and every figure, shows published numbers and planted
 * values with ticks and crosses, has unique ids and loads nothing; and it
 * renders in headless Chromium without console errors (the page's script
 * counts what rendered into attributes of <body>, read back from
 * Chromium's --dump-dom). Chromium is required: `make test` installs it
 * (Debian's chromium, DEB_TEST_PACKAGES in the Makefile); a missing browser
 * fails the test. GRAVRD_CHROMIUM may name another binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gravrd/design.h"
#include "gravrd/figures.h"
#include "gravrd/html.h"
#include "gravrd/sim.h"
#include "gravrd/study.h"
#include "support/testutil.h"
#include "util/json_read.h"

/* ---- the replication folder ---- */

static const char REPLICATION_JSON[] =
    "{\"generator\": \"gravrd replicate\", \"version\": \"0.1.0\", \"study\": \"(embedded) east-west-partnership.study\",\n"
    " \"study_title\": \"East-West partnership <test> & co\", \"data\": \"DATA\", \"flow\": \"log1p\",\n"
    " \"has_truth\": true, \"bootstrap\": 0, \"seconds\": 1.5, \"models\": 9, \"status\": \"failed\",\n"
    " \"tables\": [\n"
    "  {\"name\": \"table1\", \"title\": \"Summary statistics\", \"paper\": \"Table 1\", \"kind\": \"summary\",\n"
    "   \"files\": {\"md\": \"table1.md\", \"json\": \"table1.json\"}, \"status\": \"ok\", \"error\": null, \"models\": 0, \"seconds\": 0.1},\n"
    "  {\"name\": \"table2\", \"title\": \"Gravity regression\", \"paper\": \"Table 2\", \"kind\": \"regression\",\n"
    "   \"files\": {\"json\": \"table2.json\"}, \"status\": \"ok\", \"error\": null, \"models\": 2, \"seconds\": 0.4},\n"
    "  {\"name\": \"table6\", \"title\": \"Mechanisms\", \"paper\": \"Table 6\", \"kind\": \"regression\",\n"
    "   \"status\": \"partial\", \"error\": \"column (3): empty sample\", \"models\": 3, \"seconds\": 0.3},\n"
    "  {\"name\": \"tableA30\", \"title\": \"Local linear RD\", \"paper\": \"Table A.30\", \"kind\": \"rd\",\n"
    "   \"status\": \"ok\", \"models\": 1, \"seconds\": 0.2},\n"
    "  {\"name\": \"mediation\", \"title\": \"Mediation tests\", \"paper\": \"\", \"kind\": \"mediation\", \"status\": \"ok\"},\n"
    "  {\"name\": \"numbers\", \"title\": \"Back-of-envelope numbers\", \"paper\": \"Section 5.1\", \"kind\": \"numbers\", \"status\": \"ok\"},\n"
    "  {\"name\": \"tableA13\", \"title\": \"One treated pair per segment pair\", \"paper\": \"Table A.13\", \"kind\": \"regression\",\n"
    "   \"status\": \"failed\", \"error\": \"data folder has no flows.csv\"},\n"
    "  {\"name\": \"tableA5\", \"title\": \"Province-pair FE\", \"paper\": \"Table A.5\", \"kind\": \"regression\", \"status\": \"ok\"}\n"
    " ]}\n";

static const char TABLE1_JSON[] =
    "{\"name\": \"table1\", \"title\": \"Summary statistics\", \"paper\": \"Table 1\", \"kind\": \"summary\", \"status\": \"ok\",\n"
    " \"notes\": [\"Quantiles are R's type 7.\"], \"errors\": [], \"has_truth\": true,\n"
    " \"panels\": [{\"name\": \"A\", \"title\": \"City partnerships\"}, {\"name\": \"B\", \"title\": \"Trade flows\"}],\n"
    " \"rows\": [\n"
    "  {\"panel\": \"A\", \"variable\": \"partner\", \"label\": \"Partnership pair\", \"sample\": \"pairs\", \"sample_label\": \"Directed pairs\",\n"
    "   \"level\": \"directed_pairs\", \"n\": 19140, \"mean\": 0.0099, \"sd\": 0.099, \"min\": 0, \"p25\": 0, \"p50\": 0, \"p75\": 0, \"max\": 1,\n"
    "   \"published\": [19140, 0.013, 0.115, 0, 0, 0, 0, 1]},\n"
    "  {\"panel\": \"B\", \"variable\": \"trade\", \"label\": \"Trade amount\", \"sample\": \"full\", \"sample_label\": \"Full sample\",\n"
    "   \"level\": \"flows\", \"n\": 57420, \"mean\": 6710610.75, \"sd\": 35489376.75, \"min\": 0, \"p25\": 81174.18,\n"
    "   \"p50\": 455479.42, \"p75\": 1298604.85, \"max\": 3330035240.52, \"published\": null}\n"
    " ]}\n";

/* one coefficient object */
#define COEF(name, key, est, se, p, lo, hi, pub, truth, in)                                                          \
    "{\"name\": \"" name "\", \"key\": \"" key "\", \"estimate\": " est ", \"se\": " se ", \"t\": 2.0, \"p\": " p \
    ", \"ci_lo\": " lo ", \"ci_hi\": " hi ", \"published\": " pub ", \"truth\": " truth ", \"truth_in_ci\": " in "}"

static const char TABLE2_JSON[] =
    "{\"name\": \"table2\", \"title\": \"Gravity regression\", \"paper\": \"Table 2\", \"kind\": \"regression\", \"status\": \"ok\",\n"
    " \"notes\": [\"Standard errors clustered by directed city pair.\"], \"errors\": [], \"has_truth\": true, \"panels\": [],\n"
    " \"columns\": [\n"
    "  {\"label\": \"(1)\", \"name\": \"log_trade.both\", \"panel\": null, \"group\": \"log(trade)\", \"outcome\": \"log1p(trade)\",\n"
    "   \"outcome_key\": \"log_trade\", \"sample\": \"both\", \"sample_label\": \"Both directions\",\n"
    "   \"formula\": \"log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month\", \"subset\": null,\n"
    "   \"nobs\": 57420, \"r2\": 0.96, \"adj_r2\": 0.958, \"within_r2\": 0.01, \"wald_f\": 1234.5, \"wald_p\": 0,\n"
    "   \"fe\": [\"exp_city^month\", \"imp_city^month\"], \"fe_labels\": [\"Exp. city-month FEs\", \"Imp. city-month FEs\"],\n"
    "   \"controls\": [], \"vcov\": \"cluster: pair\", \"n_clusters\": 19140, \"bandwidth_km\": null,\n"
    "   \"published\": {\"adj_r2\": 0.963, \"f\": 2653.68, \"nobs\": 1148400}, \"error\": null,\n"
    "   \"coefficients\": [" COEF("Partnership pair", "partner", "0.0612", "0.0181", "0.0007", "0.0257", "0.0967",
                                 "{\"estimate\": 0.056, \"se\": 0.018}", "0.05", "true") ",\n"
    "     " COEF("Log distance", "log(distance)", "-0.3311", "0.0052", "0", "-0.3413", "-0.3209",
                 "{\"estimate\": -0.334, \"se\": 0.005}", "-0.33", "true") "]},\n"
    "  {\"label\": \"(2)\", \"name\": \"log_trade.w2e\", \"panel\": null, \"group\": \"log(trade)\", \"outcome\": \"log1p(trade)\",\n"
    "   \"outcome_key\": \"log_trade\", \"sample\": \"w2e\", \"sample_label\": \"West to east\",\n"
    "   \"formula\": \"log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month\", \"subset\": \"w2e == 1\",\n"
    "   \"nobs\": 28710, \"r2\": 0.93, \"adj_r2\": 0.929, \"within_r2\": 0.01, \"wald_f\": 1133.8, \"wald_p\": 0,\n"
    "   \"fe\": [\"exp_city^month\", \"imp_city^month\"], \"fe_labels\": [\"Exp. city-month FEs\", \"Imp. city-month FEs\"],\n"
    "   \"controls\": [], \"vcov\": \"cluster: pair\", \"n_clusters\": 9570, \"bandwidth_km\": null,\n"
    "   \"published\": {\"adj_r2\": 0.929, \"f\": 1133.8, \"nobs\": 574200}, \"error\": null,\n"
    "   \"coefficients\": [" COEF("Partnership pair", "partner", "0.1190", "0.0340", "0.0005", "0.0524", "0.1856",
                                 "{\"estimate\": 0.119, \"se\": 0.034}", "0.3", "false") "]}\n"
    " ]}\n";

static const char TABLE6_JSON[] =
    "{\"name\": \"table6\", \"title\": \"Mechanisms\", \"paper\": \"Table 6\", \"kind\": \"regression\", \"status\": \"partial\",\n"
    " \"notes\": [], \"errors\": [\"column (3): empty sample\"], \"has_truth\": true,\n"
    " \"panels\": [{\"name\": \"A\", \"title\": \"Partnership and the mediators\"}, {\"name\": \"B\", \"title\": \"With the mediators\"}],\n"
    " \"columns\": [\n"
    "  {\"label\": \"(1)\", \"name\": \"a1\", \"panel\": \"A\", \"group\": \"Pre-CNY traffic\", \"sample_label\": \"Pairs\",\n"
    "   \"nobs\": 19140, \"adj_r2\": 0.4, \"fe\": [\"exp_city\", \"imp_city\", \"seg_exp^seg_imp\"], \"controls\": [\"log(distance)\"],\n"
    "   \"control_labels\": [\"Log distance\"],\n"
    "   \"bandwidth_km\": 100, \"published\": null, \"error\": null,\n"
    "   \"coefficients\": [" COEF("Partnership pair", "partner", "0.51", "0.16", "0.002", "0.2", "0.82",
                                 "{\"estimate\": 0.528, \"se\": 0.162}", "0.528", "true") "]},\n"
    "  {\"label\": \"(2)\", \"name\": \"b3\", \"panel\": \"B\", \"group\": \"log(trade)\", \"sample_label\": \"West to east\",\n"
    "   \"nobs\": 28710, \"adj_r2\": 0.93, \"fe\": [\"exp_city^month\"], \"controls\": [\"log(distance)\"], \"bandwidth_km\": 100,\n"
    "   \"control_labels\": [\"Log distance\"],\n"
    "   \"published\": null, \"error\": null,\n"
    "   \"coefficients\": [" COEF("Partnership pair", "partner", "0.055", "0.019", "0.004", "0.018", "0.092", "null",
                                 "null", "null") ",\n"
    "     " COEF("Pre-CNY traffic ratio", "pre_cny_mean", "0.0091", "0.0012", "0", "0.0067", "0.0115",
                 "{\"estimate\": 0.009, \"se\": 0.001}", "0.009", "true") "]},\n"
    "  {\"label\": \"(3)\", \"name\": \"b4\", \"panel\": \"B\", \"group\": \"log(trade)\", \"sample_label\": \"West to east\",\n"
    "   \"nobs\": null, \"adj_r2\": null, \"fe\": [], \"controls\": [], \"published\": null, \"error\": \"empty sample\",\n"
    "   \"coefficients\": []}\n"
    " ]}\n";

static const char TABLEA30_JSON[] =
    "{\"name\": \"tableA30\", \"title\": \"Local linear RD\", \"paper\": \"Table A.30\", \"kind\": \"rd\", \"status\": \"ok\",\n"
    " \"notes\": [], \"errors\": [], \"has_truth\": true, \"panels\": [],\n"
    " \"columns\": [{\"label\": \"(1)\", \"name\": \"rd.w2e\", \"group\": \"log(trade)\", \"sample_label\": \"West to east\", \"nobs\": 1972,\n"
    "   \"published\": null, \"error\": null, \"vcov\": \"cluster: pair\",\n"
    "   \"coefficients\": [{\"name\": \"h = 60 km\", \"key\": \"rd_h60\", \"estimate\": 0.07, \"se\": 0.03, \"p\": 0.02,\n"
    "     \"ci_lo\": 0.011, \"ci_hi\": 0.129, \"published\": {\"estimate\": null, \"se\": null, \"range\": [0.03, 0.04]}, \"truth\": 0.1, \"truth_in_ci\": true, \"bandwidth_km\": 60,\n"
    "     \"n_left\": 812, \"n_right\": 640, \"n_clusters\": 900, \"estimate_bc\": 0.072, \"se_robust\": 0.035,\n"
    "     \"ci_lo_robust\": 0.003, \"ci_hi_robust\": 0.141}]}]}\n";

static const char MEDIATION_JSON[] =
    "{\"name\": \"mediation\", \"title\": \"Mediation tests\", \"paper\": \"\", \"kind\": \"mediation\", \"status\": \"ok\",\n"
    " \"notes\": [], \"errors\": [], \"has_truth\": true,\n"
    " \"tests\": [{\"label\": \"Migration\", \"coefficient\": \"partner\", \"base\": \"table6.(3)base\", \"mediated\": \"table6.(3)\",\n"
    "   \"base_estimate\": 0.10, \"mediated_estimate\": 0.055, \"difference\": 0.045, \"se\": 0.011, \"t\": 4.1, \"p\": 0.0001,\n"
    "   \"n_clusters\": 9570, \"nobs\": 574200, \"bootstrap_reps\": 0, \"bootstrap_se\": null, \"bootstrap_p\": null,\n"
    "   \"truth\": 0.0048, \"published\": {\"base\": 0.1, \"mediated\": 0.055}},\n"
    "  {\"label\": \"Search\", \"coefficient\": \"partner\", \"error\": \"the two models' samples differ\", \"truth\": null}]}\n";

static const char NUMBERS_JSON[] =
    "{\"name\": \"numbers\", \"title\": \"Back-of-envelope numbers\", \"paper\": \"Section 5.1\", \"kind\": \"numbers\",\n"
    " \"status\": \"ok\", \"notes\": [], \"errors\": [], \"has_truth\": true,\n"
    " \"items\": [{\"name\": \"distance_equivalent.both\", \"label\": \"Distance-equivalent reduction, both directions\",\n"
    "   \"value\": 0.152, \"published\": 0.144, \"unit\": \"share\", \"formula\": \"table3 partner / |table2 log(distance)|\",\n"
    "   \"truth\": null},\n"
    "  {\"name\": \"extra_trade\", \"label\": \"Extra trade over the sample period\", \"value\": 2.4e9,\n"
    "   \"published\": [2e9, 3e9], \"unit\": \"yuan\", \"formula\": \"...\", \"truth\": null}]}\n";

static const char TABLEA13_JSON[] =
    "{\"name\": \"tableA13\", \"title\": \"One treated pair per segment pair\", \"paper\": \"Table A.13\", \"kind\": \"regression\",\n"
    " \"status\": \"failed\", \"notes\": [], \"errors\": [\"data folder has no flows.csv\"], \"has_truth\": true, \"panels\": [],\n"
    " \"columns\": []}\n";

/* tableA5.json: malformed */
static const char TABLEA5_JSON[] = "{\"name\": \"tableA5\", \"kind\": \"regression\", \"columns\": [\n";

enum { N_TABLES = 8, N_RENDERED = 6, N_FAILED = 2, N_FIGURES = 7 };

typedef struct {
    char *dir, *world, *out;
} fixture;

static char *replace_all(const char *text, const char *pat, const char *with)
{
    size_t n = 0, lp = strlen(pat), lw = strlen(with);
    for (const char *p = strstr(text, pat); p; p = strstr(p + lp, pat))
        n++;
    char *res = malloc(strlen(text) + n * lw + 1), *o = res;
    assert_non_null(res);
    const char *p = text, *q;
    while ((q = strstr(p, pat))) {
        memcpy(o, p, (size_t)(q - p));
        o += q - p;
        memcpy(o, with, lw);
        o += lw;
        p = q + lp;
    }
    strcpy(o, p);
    return res;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char *p = testutil_write_temp(dir, name, text);
    assert_non_null(p);
    free(p);
}

static int setup_folder(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    char *tmp = testutil_tempdir(), cwd[PATH_MAX], abs_dir[2 * PATH_MAX];
    if (!tmp || !getcwd(cwd, sizeof cwd))
        return -1;
    /* Chromium needs an absolute file:// address */
    snprintf(abs_dir, sizeof abs_dir, "%s%s%s", tmp[0] == '/' ? "" : cwd, tmp[0] == '/' ? "" : "/", tmp);
    fx->dir = strdup(abs_dir);
    free(tmp);
    fx->world = testutil_path(fx->dir, "world");
    fx->out = testutil_path(fx->dir, "out");
    gravrd_sim_params sp;
    gravrd_sim_params_init(&sp);
    sp.months = 3;
    gravrd_error err = {0};
    if (gravrd_sim_write(&sp, fx->world, 0, &err) || mkdir(fx->out, 0755))
        return -1;
    gravrd_study *study = NULL;
    gravrd_frame *flows = NULL;
    char *fp = testutil_path(fx->world, "flows.csv");
    gravrd_status st = gravrd_study_load(fx->world, 100.0, &study, &err);
    if (!st)
        st = gravrd_csv_read(fp, NULL, &flows, &err);
    if (!st)
        st = gravrd_report_figures(study, flows, fx->out, NULL, &err);
    free(fp);
    gravrd_frame_free(flows);
    gravrd_study_free(study);
    if (st) {
        fprintf(stderr, "setup: %s\n", err.message);
        return -1;
    }
    char *rep = replace_all(REPLICATION_JSON, "DATA", fx->world);
    write_text(fx->out, "replication.json", rep);
    free(rep);
    write_text(fx->out, "table1.json", TABLE1_JSON);
    write_text(fx->out, "table1.md", "| a | b |\n|---|---|\n");
    write_text(fx->out, "table2.json", TABLE2_JSON);
    write_text(fx->out, "table6.json", TABLE6_JSON);
    write_text(fx->out, "tableA30.json", TABLEA30_JSON);
    write_text(fx->out, "mediation.json", MEDIATION_JSON);
    write_text(fx->out, "numbers.json", NUMBERS_JSON);
    write_text(fx->out, "tableA13.json", TABLEA13_JSON);
    write_text(fx->out, "tableA5.json", TABLEA5_JSON);
    *state = fx;
    return 0;
}

static int teardown_folder(void **state)
{
    fixture *fx = *state;
    free(fx->world);
    free(fx->out);
    testutil_rmdir(fx->dir);
    free(fx);
    return 0;
}

static char *build_page(const fixture *fx, gravrd_html_summary *sum)
{
    gravrd_error err = {0};
    if (gravrd_report_html(fx->out, NULL, sum, &err))
        fail_msg("%s", err.message);
    char *path = testutil_path(fx->out, "index.html");
    char *html = testutil_read_file(path, NULL);
    assert_non_null(html);
    free(path);
    return html;
}

static int count_sub(const char *text, const char *pat)
{
    int n = 0;
    size_t len = strlen(pat);
    for (const char *p = strstr(text, pat); p; p = strstr(p + len, pat))
        n++;
    return n;
}

/* ---- the page's content ---- */

static void test_page_holds_every_table_and_figure(void **state)
{
    fixture *fx = *state;
    gravrd_html_summary sum;
    char *html = build_page(fx, &sum);
    assert_int_equal(sum.tables_listed, N_TABLES);
    assert_int_equal(sum.tables_rendered, N_RENDERED);
    assert_int_equal(sum.tables_failed, N_FAILED);
    assert_int_equal(sum.figures_listed, N_FIGURES);
    assert_int_equal(sum.figures_inlined, N_FIGURES);

    /* every table of replication.json, in order, with its state */
    static const char *const names[N_TABLES] = {"table1", "table2", "table6", "tableA30",
                                                "mediation", "numbers", "tableA13", "tableA5"};
    const char *prev = html;
    for (int k = 0; k < N_TABLES; k++) {
        char pat[80];
        snprintf(pat, sizeof pat, "<section class=\"tbl\" id=\"t-%s\" data-name=\"%s\" data-state=\"%s\">", names[k],
                 names[k], k < N_RENDERED ? "ok" : "failed");
        const char *at = strstr(html, pat);
        if (!at)
            fail_msg("no section %s", pat);
        assert_true(at > prev);
        prev = at;
        snprintf(pat, sizeof pat, "<a href=\"#t-%s\">", names[k]);
        assert_non_null(strstr(html, pat)); /* contents */
    }
    assert_int_equal(count_sub(html, "<section class=\"tbl\""), N_TABLES);
    assert_int_equal(count_sub(html, "<table class=\"result"), N_RENDERED + 1); /* table6: two panels */
    assert_non_null(strstr(html, "<body data-tables-listed=\"8\" data-figures-listed=\"7\""));
    /* figures: each inlined once, in figures.json order, with its caption */
    assert_int_equal(count_sub(html, "<figure class=\"fig\""), N_FIGURES);
    assert_int_equal(count_sub(html, "<svg "), N_FIGURES);
    assert_int_equal(count_sub(html, "</svg>"), N_FIGURES);
    assert_null(strstr(html, "<?xml"));
    const char *f1 = strstr(html, "data-file=\"figure1.svg\""), *f2 = strstr(html, "data-file=\"figure2c.svg\"");
    const char *f3 = strstr(html, "data-file=\"rd_w2e.svg\"");
    assert_true(f1 && f2 && f3 && f1 < f2 && f2 < f3);
    assert_non_null(strstr(html, "Figure 2c. Gravity: (c) West to east trade"));

    /* numbers: ours with stars and SE, the paper's, the truth with a mark */
    assert_non_null(strstr(html, "<td>0.061<sup class=\"stars\">***</sup></td>"));
    assert_non_null(strstr(html, "<td>(0.018)</td>"));
    assert_non_null(strstr(html, "<td>0.056 (0.018)</td>"));
    assert_non_null(strstr(html, "<td class=\"in\" title=\"95% interval [0.0257, 0.0967]\">0.050 <span class=\"mark\">&#10003;</span></td>"));
    assert_non_null(strstr(html, "<td class=\"out\" title=\"95% interval [0.0524, 0.1856]\">0.300 <span class=\"mark\">&#10007;</span></td>"));
    assert_non_null(strstr(html, "<td>1,148,400</td>"));       /* published observations */
    assert_non_null(strstr(html, "<td>3,330,035,240.52</td>")); /* Table 1 max, as the paper prints it */
    assert_non_null(strstr(html, "Exp. city-month FEs"));
    assert_non_null(strstr(html, "<td class=\"fail\" title=\"empty sample\">failed</td>"));
    assert_non_null(strstr(html, "Panel B: With the mediators"));
    assert_non_null(strstr(html, "0.072 [0.003, 0.141]"));      /* RD robust interval */
    assert_non_null(strstr(html, "<td title=\"the paper gives a range\">0.030 to 0.040</td>"));
    assert_non_null(strstr(html, "<th class=\"row\" colspan=\"2\">Log distance</th><td>Yes</td></tr>"));
    assert_null(strstr(html, "<th class=\"row\" colspan=\"2\">log(distance)</th>"));
    assert_non_null(strstr(html, "<td>0.100<br><span class=\"pub\">paper 0.100</span></td>"));
    assert_non_null(strstr(html, "<span class=\"pub\">paper 0.045</span>"));
    assert_non_null(strstr(html, "failed: the two models&#39; samples differ"));
    assert_non_null(strstr(html, "15.2%"));                     /* a share */
    assert_non_null(strstr(html, "14.4%"));
    assert_non_null(strstr(html, "2,000,000,000 to 3,000,000,000"));
    assert_non_null(strstr(html, "data folder has no flows.csv"));
    assert_non_null(strstr(html, "tableA5.json:"));             /* the parse error names the file */
    /* planted values: table2 (1) x2, (2); table6 (1), (2); A30; mediation */
    assert_int_equal(sum.truth_checked, 7);
    assert_int_equal(sum.truth_covered, 5); /* table2 (2) and the mediation test miss */
    assert_non_null(strstr(html, "7 estimates carry one; 5 of them (71%)"));
    assert_int_equal(count_sub(html, "&#10007;</span></td>"), 2);
    /* escaping */
    assert_non_null(strstr(html, "East-West partnership &lt;test&gt; &amp; co"));
    assert_null(strstr(html, "<test>"));
    free(html);
}

/* Nothing is loaded from anywhere: no external references, and ids are
 * unique across the inlined figures. */
static void test_page_is_self_contained(void **state)
{
    fixture *fx = *state;
    char *html = build_page(fx, NULL);
    static const char *const forbidden[] = {"<link", "src=", "@import", "<iframe", "<object", "<embed", "<img"};
    for (size_t k = 0; k < sizeof forbidden / sizeof forbidden[0]; k++)
        if (strstr(html, forbidden[k]))
            fail_msg("the page has %s", forbidden[k]);
    /* the only http address is the SVG namespace name */
    for (const char *p = strstr(html, "http:"); p; p = strstr(p + 5, "http:"))
        if (strncmp(p, "http://www.w3.org/2000/svg\"", 27))
            fail_msg("an address in the page: %.60s", p);
    assert_null(strstr(html, "https:"));
    assert_null(strstr(html, "=\"//"));
    for (const char *p = strstr(html, "url("); p; p = strstr(p + 4, "url("))
        assert_int_equal(p[4], '#');
    assert_non_null(strstr(html, "Content-Security-Policy\" content=\"default-src 'none'"));
    /* unique ids; every url(#id) points at one of them */
    size_t n_ids = 0;
    char **ids = NULL;
    for (const char *p = strstr(html, " id=\""); p; p = strstr(p + 5, " id=\"")) {
        const char *s = p + 5, *e = strchr(s, '"');
        assert_non_null(e);
        char *id = strndup(s, (size_t)(e - s));
        for (size_t i = 0; i < n_ids; i++)
            if (!strcmp(ids[i], id))
                fail_msg("id %s appears twice", id);
        ids = realloc(ids, (n_ids + 1) * sizeof *ids);
        ids[n_ids++] = id;
    }
    int refs = 0;
    for (const char *p = strstr(html, "url(#"); p; p = strstr(p + 5, "url(#")) {
        const char *s = p + 5, *e = strchr(s, ')');
        int found = 0;
        for (size_t i = 0; i < n_ids; i++)
            found |= strlen(ids[i]) == (size_t)(e - s) && !strncmp(ids[i], s, (size_t)(e - s));
        assert_true(found);
        refs++;
    }
    assert_int_equal(refs, N_FIGURES); /* each figure's clip path */
    for (size_t i = 0; i < n_ids; i++)
        free(ids[i]);
    free(ids);
    free(html);
}

static void test_without_replication_json(void **state)
{
    (void)state;
    char *dir = testutil_tempdir();
    write_text(dir, "extra.svg",
               "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
               "<g><rect id=\"r\" width=\"5\" height=\"5\"/></g></svg>\n");
    write_text(dir, "broken.svg", "not an svg");
    gravrd_html_summary sum;
    gravrd_error err = {0};
    assert_int_equal(gravrd_report_html(dir, NULL, &sum, &err), GRAVRD_OK);
    assert_int_equal(sum.tables_listed, 0);
    assert_int_equal(sum.figures_listed, 2);
    assert_int_equal(sum.figures_inlined, 1);
    char *path = testutil_path(dir, "index.html");
    char *html = testutil_read_file(path, NULL);
    assert_non_null(strstr(html, "No replication.json"));
    assert_non_null(strstr(html, "<rect id=\"f2-r\""));
    assert_non_null(strstr(html, "broken.svg is not an SVG document"));
    free(html);
    /* a malformed replication.json is an error naming it; index.html stays */
    write_text(dir, "replication.json", "{\"tables\": [");
    assert_int_equal(gravrd_report_html(dir, NULL, &sum, &err), GRAVRD_ERR_PARSE);
    assert_non_null(strstr(err.message, "replication.json"));
    html = testutil_read_file(path, NULL);
    assert_non_null(strstr(html, "No replication.json"));
    free(html);
    free(path);
    assert_int_equal(gravrd_report_html("/nonexistent/gravrd", NULL, &sum, &err), GRAVRD_ERR_IO);
    testutil_rmdir(dir);
}

/* ---- the CLI ---- */

static int run(const char *cmd)
{
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli(void **state)
{
    fixture *fx = *state;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s report --out %s > %s/cli.out 2>&1", GRAVRD_CLI_PATH, fx->out, fx->dir);
    assert_int_equal(run(cmd), 1); /* two tables failed */
    char *p = testutil_path(fx->dir, "cli.out");
    char *text = testutil_read_file(p, NULL);
    assert_non_null(strstr(text, "8 tables (6 rendered, 2 failed), 7 figures, planted values in our 95% interval: 5 of 7"));
    free(text);
    snprintf(cmd, sizeof cmd, "%s report > %s/cli.out 2>&1", GRAVRD_CLI_PATH, fx->dir);
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s report --out %s/nonexistent > %s/cli.out 2>&1", GRAVRD_CLI_PATH, fx->dir, fx->dir);
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s report --out %s --figures > %s/cli.out 2>&1", GRAVRD_CLI_PATH, fx->out, fx->dir);
    assert_int_equal(run(cmd), 2); /* --figures needs --data */
    text = testutil_read_file(p, NULL);
    assert_non_null(strstr(text, "--data"));
    free(text);
    /* --figures rewrites the figures from the study folder */
    char *f1 = testutil_path(fx->out, "figure1.svg");
    remove(f1);
    snprintf(cmd, sizeof cmd, "%s report --out %s --data %s --figures --no-rd-plots > %s/cli.out 2>&1", GRAVRD_CLI_PATH,
             fx->out, fx->world, fx->dir);
    assert_int_equal(run(cmd), 1);
    struct stat sb;
    assert_int_equal(stat(f1, &sb), 0);
    free(f1);
    free(p);
    /* back to the full figure set for the other tests */
    snprintf(cmd, sizeof cmd, "%s report --out %s --data %s --figures > %s/cli.out 2>&1", GRAVRD_CLI_PATH, fx->out,
             fx->world, fx->dir);
    assert_int_equal(run(cmd), 1);
}

/* ---- headless Chromium ---- */

static char *find_chromium(void)
{
    const char *env = getenv("GRAVRD_CHROMIUM");
    if (env && env[0])
        return strdup(env);
    static const char *const names[] = {"chromium", "chromium-browser", "google-chrome"};
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *p = path;
        while (*p) {
            size_t len = strcspn(p, ":");
            char cand[PATH_MAX];
            snprintf(cand, sizeof cand, "%.*s/%s", (int)len, p, names[k]);
            if (access(cand, X_OK) == 0)
                return strdup(cand);
            p += len;
            if (*p == ':')
                p++;
        }
    }
    return NULL;
}

/* Loads the page in headless Chromium and returns the dumped DOM. */
static char *chromium_dom(const char *chromium, const char *work, const char *page, double *seconds)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "timeout 180 '%s' --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
             "--disable-background-networking --disable-component-update --disable-sync "
             "--user-data-dir='%s/chromium-profile' --dump-dom 'file://%s' > '%s/dom.html' 2> '%s/chromium.log'",
             chromium, work, page, work, work);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = run(cmd);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    char *dom_path = testutil_path(work, "dom.html");
    char *dom = testutil_read_file(dom_path, NULL);
    free(dom_path);
    if (rc != 0 || !dom || !strstr(dom, "</html>")) {
        char *log_path = testutil_path(work, "chromium.log");
        char *log = testutil_read_file(log_path, NULL);
        fail_msg("chromium exited with %d and dumped %s; its log:\n%.3000s", rc, dom ? "an incomplete DOM" : "nothing",
                 log ? log : "(none)");
    }
    return dom;
}

static long body_attr(const char *dom, const char *name)
{
    const char *body = strstr(dom, "<body");
    assert_non_null(body);
    const char *end = strchr(body, '>');
    char pat[64];
    snprintf(pat, sizeof pat, " %s=\"", name);
    const char *p = strstr(body, pat);
    if (!p || p > end)
        fail_msg("<body> has no %s: %.400s", name, body);
    return strtol(p + strlen(pat), NULL, 10);
}

static void test_chromium_renders_without_errors(void **state)
{
    fixture *fx = *state;
    char *chromium = find_chromium();
    if (!chromium)
        fail_msg("headless Chromium is needed for this test and was not found in PATH: install Debian's "
                 "chromium (make test does: DEB_TEST_PACKAGES in the Makefile) or set GRAVRD_CHROMIUM");
    gravrd_html_summary sum;
    char *html = build_page(fx, &sum);
    char *page = testutil_path(fx->out, "index.html");
    double secs;
    char *dom = chromium_dom(chromium, fx->dir, page, &secs);
    print_message("chromium --dump-dom took %.2f s\n", secs);
    assert_non_null(strstr(dom, "data-report=\"complete\""));
    long errors = body_attr(dom, "data-errors");
    if (errors) {
        const char *pe = strstr(dom, "<pre id=\"page-errors\">");
        fail_msg("%ld errors in the page: %.1000s", errors, pe ? pe : "");
    }
    assert_int_equal(body_attr(dom, "data-tables-listed"), N_TABLES);
    assert_int_equal(body_attr(dom, "data-tables-rendered"), N_RENDERED);
    assert_int_equal(body_attr(dom, "data-tables-failed"), N_FAILED);
    assert_int_equal(body_attr(dom, "data-figures-listed"), N_FIGURES);
    assert_int_equal(body_attr(dom, "data-figures-rendered"), N_FIGURES);
    assert_int_equal(body_attr(dom, "data-resources"), 0);

    /* the check can fail: a page with a script error, a console.error and
     * an external image is caught */
    char *bad = replace_all(html, "<footer>",
                            "<script>console.error('planted');</script><script>noSuchFunction();</script>"
                            "<img alt=\"\" src=\"http://192.0.2.1/x.png\"><footer>");
    write_text(fx->out, "bad.html", bad);
    char *bad_page = testutil_path(fx->out, "bad.html");
    char *bad_dom = chromium_dom(chromium, fx->dir, bad_page, &secs);
    assert_true(body_attr(bad_dom, "data-errors") >= 3);
    assert_non_null(strstr(bad_dom, "planted"));
    remove(bad_page);
    free(bad_page);
    free(bad_dom);
    free(bad);
    free(dom);
    free(page);
    free(html);
    free(chromium);
}

/* The real thing: `gravrd replicate` on the small world writes
 * index.html (through gravrd_report_figures and gravrd_report_html); every
 * table of its replication.json is on the page and Chromium renders it all
 * without errors. */
static void test_chromium_on_replicate_output(void **state)
{
    fixture *fx = *state;
    char *chromium = find_chromium();
    if (!chromium)
        fail_msg("headless Chromium is needed for this test and was not found in PATH: install Debian's "
                 "chromium (make test does: DEB_TEST_PACKAGES in the Makefile) or set GRAVRD_CHROMIUM");
    char *out2 = testutil_path(fx->dir, "replicated"), cmd[8192];
    snprintf(cmd, sizeof cmd, "%s replicate --data '%s' --out '%s' --quiet --threads 1 > '%s/replicate.out' 2>&1",
             GRAVRD_CLI_PATH, fx->world, out2, fx->dir);
    int rc = run(cmd);
    if (rc != 0) {
        char *lp = testutil_path(fx->dir, "replicate.out");
        char *log = testutil_read_file(lp, NULL);
        fail_msg("gravrd replicate exited with %d:\n%.3000s", rc, log ? log : "");
    }
    char *rp = testutil_path(out2, "replication.json");
    json_t *rep = NULL;
    gravrd_error err = {0};
    if (jr_parse_file(rp, &rep, &err))
        fail_msg("%s", err.message);
    char *page = testutil_path(out2, "index.html");
    char *html = testutil_read_file(page, NULL);
    assert_non_null(html);
    /* every table of replication.json has its section on the page, in order */
    const json_t *tables = jr_get(rep, "tables");
    assert_non_null(tables);
    long n_tables = (long)json_array_size(tables);
    const char *prev = html;
    for (size_t k = 0; k < json_array_size(tables); k++) {
        const char *name = jr_str(json_array_get(tables, k), "name");
        assert_non_null(name);
        char pat[200];
        snprintf(pat, sizeof pat, "<section class=\"tbl\" id=\"t-%s\" data-name=\"%s\" data-state=\"ok\">", name, name);
        const char *at = strstr(html, pat);
        if (!at || at < prev)
            fail_msg("no section (in order, state ok) for table %s", name);
        prev = at;
    }
    assert_true(n_tables >= 20); /* the shipped study: Tables 1-7 and the appendix tables */
    assert_int_equal(count_sub(html, "<section class=\"tbl\""), n_tables);
    double secs;
    char *dom = chromium_dom(chromium, fx->dir, page, &secs);
    print_message("chromium --dump-dom of the replicated report (%ld tables) took %.2f s\n", n_tables, secs);
    assert_non_null(strstr(dom, "data-report=\"complete\""));
    long errors = body_attr(dom, "data-errors");
    if (errors) {
        const char *pe = strstr(dom, "<pre id=\"page-errors\">");
        fail_msg("%ld errors in the page: %.1000s", errors, pe ? pe : "");
    }
    assert_int_equal(body_attr(dom, "data-tables-listed"), n_tables);
    assert_int_equal(body_attr(dom, "data-tables-rendered"), n_tables); /* a simulated world: all ok */
    assert_int_equal(body_attr(dom, "data-tables-failed"), 0);
    /* the study's figures and the headline's randomization-inference histogram */
    assert_int_equal(body_attr(dom, "data-figures-listed"), N_FIGURES + 1);
    assert_int_equal(body_attr(dom, "data-figures-rendered"), N_FIGURES + 1);
    assert_non_null(strstr(dom, "data-file=\"ri_headline.svg\""));
    assert_int_equal(body_attr(dom, "data-resources"), 0);
    free(dom);
    free(html);
    free(page);
    json_decref(rep);
    free(rp);
    free(out2);
    free(chromium);
}

/* The headline (the study's `headline` estimate, the paper-style interval
 * beside the `inference` method's) and the section "Can these intervals be
 * trusted?" from a design check's design.json and design.svg. */
static void test_headline_and_trust(void **state)
{
    (void)state;
    char *dir = testutil_tempdir();
    write_text(dir, "replication.json",
               "{\"study_title\": \"t\", \"data\": \"none\", \"headline\": \"tableh/log_trade.w2e/partner\",\n"
               " \"tables\": [{\"name\": \"tableh\", \"title\": \"Spatial RD\", \"paper\": \"Table 3\", \"kind\": "
               "\"regression\", \"status\": \"ok\"}]}\n");
    write_text(dir, "tableh.json",
               "{\"name\": \"tableh\", \"title\": \"Spatial RD\", \"paper\": \"Table 3\", \"kind\": \"regression\",\n"
               " \"status\": \"ok\", \"notes\": [], \"errors\": [], \"has_truth\": true, \"panels\": [],\n"
               " \"columns\": [{\"label\": \"(3)\", \"name\": \"log_trade.w2e\", \"outcome\": \"log1p(trade)\",\n"
               "   \"sample\": \"w2e\", \"nobs\": 100, \"vcov\": \"cluster: pair\", \"error\": null, \"fe\": [],\n"
               "   \"coefficients\": [{\"name\": \"Partnership pair\", \"key\": \"partner\", \"estimate\": 0.131,\n"
               "     \"se\": 0.058, \"t\": 2.2, \"p\": 0.025, \"ci_lo\": 0.017, \"ci_hi\": 0.245, \"published\": null,\n"
               "     \"truth\": 0.1, \"truth_in_ci\": true,\n"
               "     \"inference\": {\"method\": \"dyadic\", \"se\": 0.059, \"p\": 0.03, \"ci\": [0.013, 0.249]}}]}]}\n");
    gravrd_error err = {0};
    assert_int_equal(gravrd_report_html(dir, NULL, NULL, &err), GRAVRD_OK);
    char *path = testutil_path(dir, "index.html");
    char *html = testutil_read_file(path, NULL);
    assert_non_null(html);
    assert_non_null(strstr(html, "<section id=\"headline\""));
    assert_non_null(strstr(html, "Clustered as the paper (cluster: pair): SE 0.058, p = 0.025, 95% interval "
                                 "[0.017, 0.245]"));
    assert_non_null(strstr(html, "With <b>dyadic</b> inference"));
    assert_non_null(strstr(html, "SE 0.059, p = 0.030, 95% interval [0.013, 0.249]"));
    /* the table shows the method's row under the estimate */
    assert_non_null(strstr(html, "<tr class=\"alt\"><td class=\"src\">dyadic</td>"));
    assert_non_null(strstr(html, ">p 0.030 [0.013, 0.249]</td>"));
    /* no design check yet: the section says how to make one */
    assert_non_null(strstr(html, "<h2 id=\"trust\">Can these intervals be trusted?</h2>"));
    assert_non_null(strstr(html, "No design check in this folder"));
    free(html);

    gravrd_design_options o;
    gravrd_design_options_init(&o);
    o.worlds = 2;
    o.months = 2;
    o.methods = (1u << GRAVRD_INFERENCE_PAIR) | (1u << GRAVRD_INFERENCE_DYADIC);
    gravrd_design_result *res = NULL;
    assert_int_equal(gravrd_design_run(&o, &res, &err), GRAVRD_OK);
    char *dj = testutil_path(dir, "design.json"), *ds = testutil_path(dir, "design.svg");
    FILE *f = fopen(dj, "w");
    assert_non_null(f);
    assert_int_equal(gravrd_design_write_json(res, f, &err), GRAVRD_OK);
    fclose(f);
    assert_int_equal(gravrd_design_plot(res, ds, &err), GRAVRD_OK);
    gravrd_html_summary sum;
    assert_int_equal(gravrd_report_html(dir, NULL, &sum, &err), GRAVRD_OK);
    html = testutil_read_file(path, NULL);
    assert_non_null(html);
    assert_null(strstr(html, "No design check in this folder"));
    assert_non_null(strstr(html, "The design check simulated 2 worlds of 2 months on the embedded geography"));
    assert_int_equal(count_sub(html, "<table class=\"design\">"), 2);
    const char *rec = gravrd_inference_name(res->models[1].methods[res->models[1].recommended].method);
    char pat[96];
    snprintf(pat, sizeof pat, "<tr class=\"rec\"><td>%s (recommended)</td>", rec);
    assert_non_null(strstr(html, pat));
    /* the plot is inlined in the section, once, and is not a figure */
    assert_int_equal(count_sub(html, "<figure class=\"trust\" id=\"design-plot\"><svg"), 1);
    assert_int_equal(sum.figures_listed, 0);
    free(html);
    gravrd_design_free(res);
    free(dj);
    free(ds);
    free(path);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_holds_every_table_and_figure),
        cmocka_unit_test(test_page_is_self_contained),
        cmocka_unit_test(test_without_replication_json),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_headline_and_trust),
        cmocka_unit_test(test_chromium_renders_without_errors),
        cmocka_unit_test(test_chromium_on_replicate_output),
    };
    return cmocka_run_group_tests(tests, setup_folder, teardown_folder);
}
