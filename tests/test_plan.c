/* test_plan.c - the study-file parser and its typed specification: the
 * shipped study (embedded and from studies/), a small good file exercising
 * macros, overrides, outcomes as macros, trailing attributes, settings that
 * apply to the lines after them and term patterns; and a table of bad
 * files, one per error a study file can hold that does not depend on the
 * data, each with the FILE:LINE: its message must name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/inference.h"
#include "gravrd/plan.h"
#include "study/plan_internal.h"
#include "support/testutil.h"

static gravrd_plan *parse_ok(const char *text)
{
    gravrd_plan *p = NULL;
    gravrd_error err = {0};
    gravrd_status st = gravrd_plan_parse(text, strlen(text), "t.study", NULL, 0, &p, &err);
    if (st)
        fprintf(stderr, "unexpected error: %s\n", err.message);
    assert_int_equal(st, GRAVRD_OK);
    assert_non_null(p);
    return p;
}

/* Parses text that must fail; the message must contain each of the
 * NULL-terminated fragments. */
static void parse_bad(const char *text, gravrd_status want, ...)
{
    gravrd_plan *p = NULL;
    gravrd_error err = {0};
    gravrd_status st = gravrd_plan_parse(text, strlen(text), "t.study", NULL, 0, &p, &err);
    if (st == GRAVRD_OK)
        fprintf(stderr, "expected an error for:\n%s\n", text);
    assert_int_not_equal(st, GRAVRD_OK);
    assert_null(p);
    if (want)
        assert_int_equal(st, want);
    va_list ap;
    va_start(ap, want);
    for (const char *frag; (frag = va_arg(ap, const char *));) {
        if (!strstr(err.message, frag))
            fprintf(stderr, "message '%s' lacks '%s'\n", err.message, frag);
        assert_non_null(strstr(err.message, frag));
    }
    va_end(ap);
}

static const char good[] =
    "# a small study\n"
    "[study]\n"
    "title = Small\n"
    "bandwidth = 50\n"
    "cluster = pair\n"
    "\n"
    "[macros]\n"
    "flow = log1p\n"
    "fe = exp_city^month + imp_city^month   # comment after a space\n"
    "\n"
    "[samples]\n"
    "all = ; label = Everything\n"
    "w2e = w2e == 1 ; label = West to east\n"
    "\n"
    "[outcomes]\n"
    "lt = ${flow}(trade) ; label = log(trade) ; truth = parameters.partner_{sample}\n"
    "\n"
    "[labels]\n"
    "partner = Partnership pair\n"
    "${flow}(baidu_index) = log(Baidu)\n"
    "\n"
    "[table t1]\n"
    "kind = regression\n"
    "title = A table; with a semicolon in a setting\n"
    "rhs = partner + \\\n"
    "      log(distance)\n"
    "fe = ${fe}\n"
    "show = partner, partner:*\n"
    "published partner:* = x.{column.ref}.interaction\n"
    "truth partner = {outcome.truth}\n"
    "panel = A | First panel\n"
    "grid = lt x all, w2e\n"
    "sample = w2e\n"
    "column (3) = ${lt} ~ partner + partner:covid | ${fe} ; ref = covid ; name = third ; bandwidth = 75\n"
    "panel = B\n"
    "grid = lt ; name = {outcome}.again\n"
    "\n"
    "[table n]\n"
    "kind = numbers\n"
    "total tt = trade ; subset = partner == 1\n"
    "item share = `t1/lt.w2e/partner` / abs(`t1/lt.all/partner/se`) * tt ; label = A share ; unit = share\n";

static void test_good_file(void **state)
{
    (void)state;
    gravrd_plan *p = parse_ok(good);
    assert_int_equal(p->n_tables, 2);
    assert_true(p->study.bandwidth == 50);
    assert_string_equal(p->study.cluster, "pair");
    assert_string_equal(p->study.title, "Small");
    assert_string_equal(p->study.flows, "flows.csv");
    assert_string_equal(p->study.flow, "log1p");
    assert_int_equal(p->study.published, GRAVRD_PLAN_PUBLISHED_NONE);
    assert_int_equal(p->n_samples, 2);
    assert_string_equal(p->samples[0].value, "");
    assert_string_equal(p->samples[1].label, "West to east");
    /* macros expanded in outcomes and in label names */
    assert_string_equal(p->outcomes[0].value, "log1p(trade)");
    assert_string_equal(plan_attr(p->outcomes[0].attrs, p->outcomes[0].n_attrs, "truth"), "parameters.partner_{sample}");
    assert_string_equal(p->labels[1].name, "log1p(baidu_index)");
    const gravrd_plan_table *t = gravrd_plan_find_table(p, "t1");
    assert_non_null(t);
    assert_int_equal(t->kind, GRAVRD_TABLE_REGRESSION);
    /* a setting's value is everything after '=', continuation lines joined */
    assert_string_equal(t->title, "A table; with a semicolon in a setting");
    assert_string_equal(t->paper, "");
    assert_int_equal(t->n_panels, 2);
    assert_string_equal(t->panels[0].name, "A");
    assert_string_equal(t->panels[0].title, "First panel");
    assert_string_equal(t->panels[1].title, "B");
    /* columns: the grid's two, the explicit one, the second grid's */
    assert_int_equal(t->n_columns, 4);
    const gravrd_plan_column *all = &t->columns[0], *w2e = &t->columns[1], *col = &t->columns[2],
                             *again = &t->columns[3];
    assert_string_equal(all->name, "lt.all");
    assert_int_equal(all->at.line, 32);
    assert_string_equal(all->panel, "A");
    /* continuation lines are joined with a space */
    assert_non_null(strstr(all->formula, "log1p(trade) ~ partner +"));
    assert_non_null(strstr(all->formula, "log(distance) | exp_city^month + imp_city^month"));
    assert_string_equal(all->label, "Everything");
    assert_string_equal(all->group, "log(trade)");
    assert_null(all->sample.subset);
    assert_string_equal(w2e->sample.subset, "w2e == 1");
    assert_true(all->bandwidth == 50 && isnan(all->match_km));
    assert_string_equal(all->cluster, "pair");
    assert_int_equal(all->level, GRAVRD_PLAN_LEVEL_FLOWS);
    assert_int_equal(all->vcov, GRAVRD_PLAN_VCOV_DEFAULT);
    assert_int_equal(all->n_show, 2);
    assert_string_equal(all->show[1], "partner:*");
    /* the sample setting comes after the first grid: not in its columns */
    assert_string_equal(all->sample.name, "all");
    assert_string_equal(col->sample.name, "w2e");
    assert_string_equal(again->sample.name, "w2e");
    /* the column: outcome macro expanded, trailing attributes */
    assert_string_equal(col->label, "(3)");
    assert_string_equal(col->name, "third");
    assert_string_equal(col->formula, "log1p(trade) ~ partner + partner:covid | exp_city^month + imp_city^month");
    assert_ptr_equal(col->outcome, &p->outcomes[0]);
    assert_string_equal(col->group, "log(trade)");
    assert_string_equal(plan_attr(col->at.attrs, col->at.n_attrs, "ref"), "covid");
    assert_true(col->bandwidth == 75);
    /* the trailing bandwidth is the column's only */
    assert_true(again->bandwidth == 50);
    assert_string_equal(again->name, "lt.again");
    assert_string_equal(again->panel, "B");
    /* term patterns: partner:* matches interactions, not partner itself */
    assert_string_equal(plan_template_for(col->published, col->n_published, "partner:covid"),
                        "x.{column.ref}.interaction");
    assert_null(plan_template_for(col->published, col->n_published, "partner"));
    assert_string_equal(plan_template_for(col->truth, col->n_truth, "partner"), "{outcome.truth}");
    assert_string_equal(plan_template_for(col->truth, col->n_truth, " partner "), "{outcome.truth}");
    const gravrd_plan_table *n = gravrd_plan_find_table(p, "n");
    assert_int_equal(n->kind, GRAVRD_TABLE_NUMBERS);
    assert_int_equal(n->n_numbers, 2);
    assert_true(n->numbers[0].is_total);
    assert_string_equal(n->numbers[0].subset, "partner == 1");
    const gravrd_plan_number *item = &n->numbers[1];
    assert_false(item->is_total);
    assert_string_equal(item->unit, "share");
    assert_string_equal(item->label, "A share");
    assert_int_equal(item->n_refs, 2);
    assert_int_equal(item->refs[0].table, 0);
    assert_string_equal(item->refs[0].column, "lt.w2e");
    assert_int_equal(item->refs[0].stat, GRAVRD_PLAN_REF_ESTIMATE);
    assert_string_equal(item->refs[1].term, "partner");
    assert_int_equal(item->refs[1].stat, GRAVRD_PLAN_REF_SE);
    assert_null(gravrd_plan_find_table(p, "nope"));
    gravrd_plan_free(p);
}

static void test_override(void **state)
{
    (void)state;
    gravrd_plan_macro ov[] = {{"flow", "log"}};
    gravrd_plan *p = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_plan_parse(good, strlen(good), "t.study", ov, 1, &p, &err), GRAVRD_OK);
    assert_string_equal(p->outcomes[0].value, "log(trade)");
    assert_string_equal(p->tables[0].columns[2].formula,
                        "log(trade) ~ partner + partner:covid | exp_city^month + imp_city^month");
    assert_string_equal(p->study.flow, "log");
    gravrd_plan_free(p);
    gravrd_plan_macro bad[] = {{"flwo", "log"}};
    assert_int_not_equal(gravrd_plan_parse(good, strlen(good), "t.study", bad, 1, &p, &err), GRAVRD_OK);
    assert_non_null(strstr(err.message, "flwo"));
}

static void check_shipped(const gravrd_plan *p)
{
    const char *want[] = {"table1", "table2", "table3", "table4", "table5", "table6", "mediation", "table7", "numbers",
                          "tableA5", "tableA6", "tableA9", "tableA10", "tableA11", "tableA12", "tableA13",
                          "tableA21", "tableA22", "tableA23", "tableA24", "tableA29", "tableA30", "tableA31"};
    assert_int_equal(p->n_tables, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_string_equal(p->tables[i].name, want[i]);
    assert_int_equal(gravrd_plan_find_table(p, "table5")->n_columns, 11);
    const gravrd_plan_table *a30 = gravrd_plan_find_table(p, "tableA30");
    assert_int_equal(a30->n_rd_columns, 6);
    assert_int_equal(a30->rd_columns[0].n_bandwidths, 8);
    assert_true(a30->rd_columns[0].radius == 130);
    assert_int_equal(a30->rd_columns[0].side, GRAVRD_PLAN_SIDE_EXPORTER);
    const gravrd_plan_table *a6 = gravrd_plan_find_table(p, "tableA6");
    assert_true(a6->balance.without_fe && a6->balance.n_bandwidths == 5);
    assert_int_equal(a6->balance.vcov, GRAVRD_PLAN_VCOV_HETERO);
    assert_int_equal(p->study.published, GRAVRD_PLAN_PUBLISHED_EMBEDDED);
    assert_int_equal(p->study.n_notes, 1);
    assert_int_equal(gravrd_plan_find_table(p, "tableA30")->kind, GRAVRD_TABLE_RD);
    assert_int_equal(gravrd_plan_find_table(p, "tableA29")->kind, GRAVRD_TABLE_MATCH);
    assert_int_equal(gravrd_plan_find_table(p, "tableA6")->kind, GRAVRD_TABLE_BALANCE);
    assert_int_equal(gravrd_plan_find_table(p, "mediation")->kind, GRAVRD_TABLE_MEDIATION);
    assert_int_equal(gravrd_plan_find_table(p, "table1")->kind, GRAVRD_TABLE_SUMMARY);
    /* every regression table shows dyadic inference beside the paper's
     * ([study] inference = dyadic) */
    assert_int_equal(p->study.inference, GRAVRD_INFERENCE_DYADIC);
    const gravrd_plan_table *t3 = gravrd_plan_find_table(p, "table3"), *t2 = gravrd_plan_find_table(p, "table2");
    for (size_t c = 0; c < t3->n_columns; c++)
        assert_int_equal(t3->columns[c].inference, GRAVRD_INFERENCE_DYADIC);
    assert_int_equal(t2->columns[0].inference, GRAVRD_INFERENCE_DYADIC);
    assert_string_equal(p->study.headline, "table3/log_trade.w2e/partner");
}

static void test_shipped_study(void **state)
{
    (void)state;
    gravrd_plan *p = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_plan_load(NULL, NULL, 0, &p, &err), GRAVRD_OK);
    check_shipped(p);
    assert_string_equal(p->dir, "");
    gravrd_plan_free(p);
    assert_int_equal(gravrd_plan_load(GRAVRD_SOURCE_DIR "/studies/east-west-partnership.study", NULL, 0, &p, &err),
                     GRAVRD_OK);
    check_shipped(p);
    gravrd_plan_free(p);
    /* the embedded copy is the file */
    size_t len;
    const char *text = gravrd_default_study_text(&len);
    char *file = testutil_read_file(GRAVRD_SOURCE_DIR "/studies/east-west-partnership.study", NULL);
    assert_non_null(file);
    assert_int_equal(strlen(file), len);
    assert_memory_equal(file, text, len);
    free(file);
    assert_non_null(strstr(gravrd_paper_tables_text(NULL), "table3_spatial_rd"));
    /* --flow log reaches every table through ${flow} */
    gravrd_plan_macro ov[] = {{"flow", "log"}};
    assert_int_equal(gravrd_plan_load(NULL, ov, 1, &p, &err), GRAVRD_OK);
    const gravrd_plan_def *lt = gravrd_plan_find_def(p->outcomes, p->n_outcomes, "log_trade");
    assert_string_equal(lt->value, "log(trade)");
    gravrd_plan_free(p);
    assert_int_equal(gravrd_plan_load("/nonexistent/x.study", NULL, 0, &p, &err), GRAVRD_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/x.study"));
}

static const char head[] = "[samples]\nall =\nw2e = w2e == 1\n[outcomes]\nlt = log1p(trade)\n";
/* head has 5 lines: a table header at line 6, kind at 7, the next line 8 */

/* A bad study file: rest, after head unless bare; the message must hold
 * where ("t.study:LINE:") and what. */
typedef struct {
    int bare;
    const char *rest, *where, *what;
} bad_case;

#define REG "[table x]\nkind = regression\n"
#define RD "[table x]\nkind = rd\n"
#define MED "[table x]\nkind = mediation\n"
#define NUM "[table x]\nkind = numbers\n"
#define ANY "[table z]\nkind = numbers\nitem a = 1\n"
#define EARLIER "[table r]\nkind = regression\nrhs = partner\nshow = partner\ngrid = lt x all\n"

static const bad_case bad_cases[] = {
    /* ---- lexical: sections, lines, keys, macros ---- */
    {0, "[tabel x]\nkind = regression\n", "t.study:6:", "unknown section '[tabel x]'"},
    {1, "kind = regression\n", "t.study:1:", "before any section"},
    {0, "[table x\nkind = numbers\n", "t.study:6:", "must end with ']'"},
    {0, "[table a/b]\nkind = numbers\n", "t.study:6:", "table name 'a/b'"},
    {0, "[table]\nkind = numbers\n", "t.study:6:", "[table] needs a name"},
    {0, REG "rsh = partner\ngrid = lt x all\n", "t.study:8:", "unknown key 'rsh'"},
    {0, "[table x]\nkind = summary\nbandwidths = 50\nrow trade = Trade\n", "t.study:8:",
     "unknown key 'bandwidths' for a summary table"},
    {0, REG "rhs = partner\ngrid = lt x all ; colour = red\n", "t.study:9:", "unknown attribute 'colour'"},
    {0, REG "rhs = partner\ngrid = lt x all ; note = x\n", "t.study:9:", "a setting of the whole table"},
    {0, REG "rhs = partner\ngrid = lt x all ; colour\n", "t.study:9:", "expected '; key = value'"},
    {0, "[table x]\nkind = regresion\n", "t.study:7:", "unknown kind 'regresion'"},
    {0, "[table x]\ntitle = T\nkind = regression\n", "t.study:7:", "first line of a table must be 'kind"},
    {0, NUM "kind = numbers\n", "t.study:8:", "'kind' must be the first line"},
    {0, "[table x]\n[table y]\nkind = numbers\n", "t.study:6:", "table x is empty"},
    {0, NUM "item a = 1\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:9:", "table 'x' is defined twice"},
    {0, REG "rhs = ${rhs}\n", "t.study:8:", "unknown macro '${rhs}'"},
    {0, REG "rhs = ${main\n", "t.study:8:", "'${' without a closing '}'"},
    {0, "[macros]\na = ${a}\n", "t.study:7:", "nested too deeply"},
    {0, REG "grid lt x all\n", "t.study:8:", "expected 'key = value'"},
    {0, REG "name = x\n", "t.study:8:", "belongs to one line"},
    {0, REG "published = a.b\n", "t.study:8:", "needs an argument"},
    {0, REG "column = lt ~ partner\n", "t.study:8:", "needs an argument"},
    {0, REG "rhs partner = x\n", "t.study:8:", "takes no argument"},
    {0, "[table x]\nkind = summary\npublished trade = a.b\n", "t.study:8:", "takes no argument"},
    {1, "[study]\ntitel = x\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:", "unknown key 'titel'"},
    {1, "[study]\ntitle\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:", "expected 'key = value'"},
    {1, "[study]\ntitle = x\n", "t.study: ", "no [table"},
    {0, "[samples]\nall = x == 1\n", "t.study:7:", "'all' is defined twice"},
    {1, "[outcomes]\na = x\n[macros]\na = y\n", "t.study:4:", "share one name space"},
    {0, "[samples]\nw 2 = x\n", "t.study:7:", "not a valid name"},
    {0, "[samples]\n= x\n", "t.study:7:", "a definition without a name"},
    {0, "[samples]\nfoo = x == 1 ; = y\n", "t.study:7:", "an attribute without a name"},
    {1, "[study]\ntitle main = x\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:", "unknown key 'title main'"},
    {0, "[samples]\nfoo\n", "t.study:7:", "expected 'name = value'"},
    {0, "[samples]\nfoo = x == 1 ; bar\n", "t.study:7:", "expected '; attribute = value'"},
    /* ---- definitions and [study] values ---- */
    {0, "[outcomes]\nempty =\n" ANY, "t.study:7:", "outcome 'empty' has no expression"},
    {0, "[outcomes]\nbad = log(\n" ANY, "t.study:7:", "outcome:"},
    {0, "[samples]\nbad = x ==\n" ANY, "t.study:7:", "sample:"},
    {1, "[study]\nbandwidth = wide\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:", "bandwidth must be"},
    {1, "[study]\ncluster = a +\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:", "cluster:"},
    {1, "[study]\nflows =\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:", "flows: name the flows file"},
    {1, "[study]\ninference = maybe\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:",
     "[study]: inference must be pair, segment_pair, dyadic, wild, ri or none, not 'maybe'"},
    /* ---- settings ---- */
    {0, REG "rhs = partner\nsample = e2w\ngrid = lt\n", "t.study:9:", "unknown sample 'e2w'"},
    {0, REG "rhs = partner\nsubset = w2e == \ngrid = lt\n", "t.study:9:", "subset:"},
    {0, REG "rhs = partner +\n", "t.study:8:", "rhs:"},
    {0, REG "rhs =\n", "t.study:8:", "rhs: give the right-hand side"},
    {0, REG "fe = a +\n", "t.study:8:", "fe:"},
    {0, REG "cluster = a +\n", "t.study:8:", "cluster:"},
    {0, REG "bandwidth = -5\n", "t.study:8:", "bandwidth must be a positive number"},
    {0, "[table x]\nkind = match\nmatch = zero\n", "t.study:8:", "match must be a positive number"},
    {0, RD "radius = -1\n", "t.study:8:", "radius must be a positive number"},
    {0, RD "bandwidths = 60, x\n", "t.study:8:", "each of bandwidths"},
    {0, RD "bandwidths = ,\n", "t.study:8:", "at least one bandwidth"},
    {0, RD "bandwidths = none, 60\n", "t.study:8:", "only for balance tables"},
    {0, RD "bandwidths = 60, 60\n", "t.study:8:", "60 km is given twice"},
    {0, "[table x]\nkind = balance\nbandwidths = 50, none\n", "t.study:8:", "'none' must come first"},
    {0, REG "level = months\n", "t.study:8:", "level must be flows, pairs, not 'months'"},
    {0, REG "level = directed_pairs\n", "t.study:8:", "level must be flows, pairs, not"},
    {0, REG "vcov = robust\n", "t.study:8:", "vcov must be iid or hetero"},
    {0, REG "inference = bootstrap\n", "t.study:8:",
     "inference must be pair, segment_pair, dyadic, wild, ri or none, not 'bootstrap'"},
    {0, RD "inference = dyadic\n", "t.study:8:", "unknown key 'inference' for a rd table"},
    {1, "[study]\nheadline = table3/partner\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:",
     "headline must be TABLE/COLUMN/TERM, not 'table3/partner'"},
    {1, "[study]\nheadline = t9/c/partner\n[table x]\nkind = numbers\nitem a = 1\n", "t.study:2:",
     "headline: no regression table 't9' in the study"},
    {0, RD "side = left\n", "t.study:8:", "side must be exporter, importer or both"},
    {0, RD "optimal = maybe\n", "t.study:8:", "optimal must be yes or no"},
    {0, REG "show = part*ner\n", "t.study:8:", "'*' may only end a pattern"},
    {0, REG "published pa*r = a.b\n", "t.study:8:", "'*' may only end a pattern"},
    {0, REG "published partner = a.{outcom}\n", "t.study:8:", "placeholder '{outcom}'"},
    {0, REG "published partner = a.{outcome\n", "t.study:8:", "without a closing '}'"},
    {0, REG "truth partner = a +\n", "t.study:8:", "truth:"},
    {0, REG "published_stat fstat = a.b\n", "t.study:8:", "unknown statistic 'fstat'"},
    {0, REG "published_stat base = a.b\n", "t.study:8:", "unknown statistic 'base'"},
    {0, MED "published_stat adj_r2 = a.b\n", "t.study:8:", "unknown statistic 'adj_r2'"},
    {0, REG "needs = ,\n", "t.study:8:", "needs: name at least one file"},
    {0, MED "coefficient =\n", "t.study:8:", "coefficient: name the term"},
    {0, MED "base = lt ~\n", "t.study:8:", "base:"},
    {0, "[table x]\nkind = balance\nbandwidths = 50\nvars = a +\n", "t.study:9:", "vars:"},
    {0, REG "rhs = partner\ngrid = lt x all ; name =\n", "t.study:9:", "name: give a name"},
    /* ---- content lines ---- */
    {0, REG "rhs = partner\ngrid = lt, ld x all\n", "t.study:9:", "unknown outcome 'ld'"},
    {0, REG "rhs = partner\ngrid = lt x all, e2w\n", "t.study:9:", "unknown sample 'e2w'"},
    {0, REG "rhs = partner\ngrid = x all\n", "t.study:9:", "no outcome before 'x'"},
    {0, REG "rhs = partner\ngrid = lt x ,\n", "t.study:9:", "no sample after 'x'"},
    {0, REG "grid = lt x all\n", "t.study:8:", "grid needs 'rhs = ...'"},
    {0, REG "rhs = partner\ngrid = lt x all\ncolumn lt.all = lt ~ partner\n", "t.study:10:",
     "two columns are named 'lt.all'"},
    {0, REG "column (1) = lt ~ partner + | fe\n", "t.study:8:", "column:"},
    {0, REG "panel =\n", "t.study:8:", "panel needs a name"},
    {0, "[table x]\nkind = match\nrhs = partner\ngrid = lt x all\n", "t.study:9:", "needs 'match = KM'"},
    {0, "[table x]\nkind = match\ncolumn (1) = lt ~ partner\nmatch = 50\n", "t.study:8:", "needs 'match = KM'"},
    {0, RD "grid = lt x all\nbandwidths = 50\n", "t.study:8:", "needs 'bandwidths = ...' before"},
    {0, "[table x]\nkind = summary\nrow log(trade = Trade\n", "t.study:8:", "row:"},
    {0, MED "coefficient = partner\ntest A = lt ~ partner + m\n", "t.study:9:", "needs 'base = FORMULA'"},
    {0, MED "base = lt ~ partner\ntest A = lt ~ partner + m\n", "t.study:9:", "needs 'coefficient = TERM'"},
    {0, MED "coefficient = partner\nbase = lt ~ x\ntest A = lt ~ partner + m\n", "t.study:10:",
     "coefficient 'partner' is not a term of the base model"},
    {0, MED "coefficient = partner\nbase = lt ~ partner\ntest A = lt ~ m\n", "t.study:10:",
     "is not a term of the test's model"},
    {0, MED "coefficient = partner\nbase = lt ~ partner\ntest A = lt ~ partner +\n", "t.study:10:", "test:"},
    {0, NUM "item a = `table9/c/partner`\n", "t.study:8:", "table 'table9'"},
    {0, EARLIER NUM "item a = `r/lt.all`\n", "t.study:13:", "expected TABLE/COLUMN/COEFFICIENT"},
    {0, EARLIER NUM "item a = `r/lt.w2e/partner`\n", "t.study:13:", "table r has no column 'lt.w2e'"},
    {0, EARLIER NUM "item a = `r/lt.all/log(distance)`\n", "t.study:13:", "does not show 'log(distance)'"},
    {0, NUM "item a = 2 * total_trade\n", "t.study:8:", "'total_trade', which is neither a 'total'"},
    {0, NUM "item a = 1 +\n", "t.study:8:", "item:"},
    {0, NUM "total t = trade +\nitem a = t\n", "t.study:8:", "total:"},
    /* ---- a kind that needs more ---- */
    {0, REG "rhs = partner\n", "t.study:6:", "has no 'grid' or 'column' line"},
    {0, "[table x]\nkind = summary\nlevel = pairs\n", "t.study:6:", "has no 'row' line"},
    {0, MED "coefficient = partner\n", "t.study:6:", "has no 'test' line"},
    {0, RD "bandwidths = 50\n", "t.study:6:", "has no 'grid' line"},
    {0, NUM "total t = trade\n", "t.study:6:", "has no 'item' line"},
    {0, "[table x]\nkind = balance\nvcov = hetero\n", "t.study:6:", "needs 'bandwidths = ...'"},
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        char *text = malloc(strlen(head) + strlen(c->rest) + 1);
        assert_non_null(text);
        strcpy(text, c->bare ? "" : head);
        strcat(text, c->rest);
        gravrd_plan *p = NULL;
        gravrd_error err = {0};
        gravrd_status st = gravrd_plan_parse(text, strlen(text), "t.study", NULL, 0, &p, &err);
        int ok = st != GRAVRD_OK && !p && strstr(err.message, c->where) == err.message && strstr(err.message, c->what);
        if (!ok)
            fprintf(stderr, "bad case %zu:\n%s\nwant '%s' ... '%s', got '%s'\n", i, c->rest, c->where, c->what,
                    st ? err.message : "no error");
        gravrd_plan_free(p);
        free(text);
        assert_true(ok);
    }
    /* the codes: syntax is a parse error, a bad value an invalid one */
    parse_bad("[samples]\nall =\n[table x]\nkind = regression\ncolumn (1) = lt ~ partner + | fe\n", GRAVRD_ERR_PARSE,
              "t.study:5:", NULL);
    parse_bad("[table x]\nkind = regresion\n", GRAVRD_ERR_INVALID, "t.study:2:", NULL);
}

/* [study] inference is the default of every regression table, which may
 * override it (`none` included); other kinds of table take none. */
static void test_study_inference(void **state)
{
    (void)state;
    gravrd_plan *p = parse_ok("[study]\ninference = segment_pair\n[samples]\nall =\n[outcomes]\nlt = log1p(trade)\n"
                              "[table a]\nkind = regression\nrhs = partner\ngrid = lt x all\n"
                              "[table b]\nkind = regression\nrhs = partner\ninference = none\ngrid = lt x all\n"
                              "[table c]\nkind = regression\nrhs = partner\ninference = wild\ngrid = lt x all\n");
    assert_int_equal(p->study.inference, GRAVRD_INFERENCE_SEGMENT_PAIR);
    assert_int_equal(gravrd_plan_find_table(p, "a")->columns[0].inference, GRAVRD_INFERENCE_SEGMENT_PAIR);
    assert_int_equal(gravrd_plan_find_table(p, "b")->columns[0].inference, -1);
    assert_int_equal(gravrd_plan_find_table(p, "c")->columns[0].inference, GRAVRD_INFERENCE_WILD);
    gravrd_plan_free(p);
    p = parse_ok("[samples]\nall =\n[outcomes]\nlt = log1p(trade)\n[table a]\nkind = regression\nrhs = partner\n"
                 "grid = lt x all\n");
    assert_int_equal(p->study.inference, -1);
    assert_int_equal(gravrd_plan_find_table(p, "a")->columns[0].inference, -1);
    gravrd_plan_free(p);
}

static void test_bad_file_on_disk(void **state)
{
    (void)state;
    char *dir = testutil_tempdir();
    char *path = testutil_write_temp(dir, "bad.study", "[table x]\nkind = regression\nfe = a +\n");
    gravrd_plan *p = NULL;
    gravrd_error err = {0};
    assert_int_not_equal(gravrd_plan_load(path, NULL, 0, &p, &err), GRAVRD_OK);
    char want[1024];
    snprintf(want, sizeof want, "%s:3:", path);
    assert_non_null(strstr(err.message, want));
    free(path);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_override),
        cmocka_unit_test(test_shipped_study),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_study_inference),
        cmocka_unit_test(test_bad_file_on_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
