/* test_plan.c - the study-file parser: the shipped study (embedded and from
 * studies/), a small good file exercising macros, overrides, outcomes as
 * macros, trailing attributes, settings that apply to the lines after them
 * and term patterns; and each kind of bad file, with the line it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/plan.h"
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
    "item share = `t1/lt.w2e/partner` / abs(`t1/lt.all/log(distance)/se`) * tt ; label = A share ; unit = share\n";

static void test_good_file(void **state)
{
    (void)state;
    gravrd_plan *p = parse_ok(good);
    assert_int_equal(p->n_tables, 2);
    assert_string_equal(gravrd_plan_get(p->study, p->n_study, "bandwidth", NULL, NULL), "50");
    assert_int_equal(p->n_samples, 2);
    assert_string_equal(p->samples[0].value, "");
    assert_string_equal(gravrd_plan_get(p->samples[1].attrs, p->samples[1].n_attrs, "label", NULL, NULL),
                        "West to east");
    /* macros expanded in outcomes and in label names */
    assert_string_equal(p->outcomes[0].value, "log1p(trade)");
    assert_string_equal(p->labels[1].name, "log1p(baidu_index)");
    const gravrd_plan_table *t = gravrd_plan_find_table(p, "t1");
    assert_non_null(t);
    assert_int_equal(t->kind, GRAVRD_TABLE_REGRESSION);
    int line = 0;
    /* a setting's value is everything after '=', continuation lines joined */
    assert_string_equal(gravrd_plan_get(t->settings, t->n_settings, "title", NULL, &line),
                        "A table; with a semicolon in a setting");
    assert_int_equal(line, 24);
    const char *rhs = gravrd_plan_get(t->settings, t->n_settings, "rhs", NULL, &line);
    assert_non_null(strstr(rhs, "partner +"));
    assert_non_null(strstr(rhs, "log(distance)"));
    assert_int_equal(line, 25);
    assert_string_equal(gravrd_plan_get(t->settings, t->n_settings, "fe", NULL, NULL),
                        "exp_city^month + imp_city^month");
    /* entries: panel, grid, column, panel, grid */
    assert_int_equal(t->n_entries, 5);
    const gravrd_plan_entry *grid = &t->entries[1], *col = &t->entries[2], *grid2 = &t->entries[4];
    assert_string_equal(grid->verb, "grid");
    assert_int_equal(grid->line, 32);
    /* the sample setting comes after the first grid: not in its snapshot */
    assert_null(gravrd_plan_get(grid->settings, grid->n_settings, "sample", NULL, NULL));
    assert_string_equal(gravrd_plan_get(col->settings, col->n_settings, "sample", NULL, NULL), "w2e");
    assert_string_equal(gravrd_plan_get(grid2->settings, grid2->n_settings, "sample", NULL, NULL), "w2e");
    /* the column: outcome macro expanded, trailing attributes */
    assert_string_equal(col->arg, "(3)");
    assert_string_equal(col->value, "log1p(trade) ~ partner + partner:covid | exp_city^month + imp_city^month");
    assert_string_equal(gravrd_plan_get(col->settings, col->n_settings, "ref", NULL, NULL), "covid");
    assert_string_equal(gravrd_plan_get(col->settings, col->n_settings, "name", NULL, NULL), "third");
    assert_string_equal(gravrd_plan_get(col->settings, col->n_settings, "bandwidth", NULL, NULL), "75");
    /* the trailing bandwidth is the column's only */
    assert_null(gravrd_plan_get(grid2->settings, grid2->n_settings, "bandwidth", NULL, NULL));
    /* term patterns: partner:* matches interactions, not partner itself */
    assert_string_equal(gravrd_plan_get(col->settings, col->n_settings, "published", "partner:covid", NULL),
                        "x.{column.ref}.interaction");
    assert_null(gravrd_plan_get(col->settings, col->n_settings, "published", "partner", NULL));
    assert_string_equal(gravrd_plan_get(col->settings, col->n_settings, "truth", "partner", NULL),
                        "{outcome.truth}");
    assert_string_equal(gravrd_plan_get(col->settings, col->n_settings, "truth", " partner ", NULL),
                        "{outcome.truth}");
    const gravrd_plan_table *n = gravrd_plan_find_table(p, "n");
    assert_int_equal(n->kind, GRAVRD_TABLE_NUMBERS);
    assert_int_equal(n->n_entries, 2);
    assert_string_equal(n->entries[1].verb, "item");
    assert_string_equal(gravrd_plan_get(n->entries[1].settings, n->entries[1].n_settings, "unit", NULL, NULL),
                        "share");
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
    assert_string_equal(p->tables[0].entries[2].value,
                        "log(trade) ~ partner + partner:covid | exp_city^month + imp_city^month");
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
    const gravrd_plan_table *t5 = gravrd_plan_find_table(p, "table5");
    size_t cols = 0;
    for (size_t e = 0; e < t5->n_entries; e++)
        cols += !strcmp(t5->entries[e].verb, "column");
    assert_int_equal(cols, 11);
    assert_int_equal(gravrd_plan_find_table(p, "tableA30")->kind, GRAVRD_TABLE_RD);
    assert_int_equal(gravrd_plan_find_table(p, "tableA29")->kind, GRAVRD_TABLE_MATCH);
    assert_int_equal(gravrd_plan_find_table(p, "tableA6")->kind, GRAVRD_TABLE_BALANCE);
    assert_int_equal(gravrd_plan_find_table(p, "mediation")->kind, GRAVRD_TABLE_MEDIATION);
    assert_int_equal(gravrd_plan_find_table(p, "table1")->kind, GRAVRD_TABLE_SUMMARY);
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

static char *with_head(const char *rest)
{
    char *s = malloc(strlen(head) + strlen(rest) + 1);
    strcpy(s, head);
    strcat(s, rest);
    return s;
}

#define BAD(rest, code, ...)                                                                                           \
    do {                                                                                                               \
        char *text_ = with_head(rest);                                                                                 \
        parse_bad(text_, code, __VA_ARGS__, NULL);                                                                     \
        free(text_);                                                                                                   \
    } while (0)

static void test_bad_files(void **state)
{
    (void)state;
    /* unknown section, and a line before any section */
    BAD("[tabel x]\nkind = regression\n", GRAVRD_ERR_INVALID, "t.study:6:", "unknown section '[tabel x]'");
    parse_bad("kind = regression\n", GRAVRD_ERR_PARSE, "t.study:1:", "before any section", NULL);
    /* unknown key (option) for the kind, and a key of another kind */
    BAD("[table x]\nkind = regression\nrsh = partner\ngrid = lt x all\n", GRAVRD_ERR_INVALID, "t.study:8:",
        "unknown key 'rsh'", "table x");
    BAD("[table x]\nkind = summary\nbandwidths = 50\nrow trade = Trade\n", GRAVRD_ERR_INVALID, "t.study:8:",
        "unknown key 'bandwidths' for a summary table");
    BAD("[table x]\nkind = regression\nrhs = partner\ngrid = lt x all ; colour = red\n", GRAVRD_ERR_INVALID,
        "t.study:9:", "unknown attribute 'colour'");
    /* unknown kind; kind not first; missing kind */
    BAD("[table x]\nkind = regresion\n", GRAVRD_ERR_INVALID, "t.study:7:", "unknown kind 'regresion'");
    BAD("[table x]\ntitle = T\nkind = regression\n", GRAVRD_ERR_INVALID, "t.study:7:", "first line");
    BAD("[table x]\n[table y]\nkind = numbers\n", GRAVRD_ERR_INVALID, "t.study:6:", "table x is empty");
    /* unknown macro, unknown sample, unknown outcome */
    BAD("[table x]\nkind = regression\nrhs = ${rhs}\n", GRAVRD_ERR_INVALID, "t.study:8:", "unknown macro '${rhs}'");
    BAD("[table x]\nkind = regression\nrhs = partner\nsample = e2w\ngrid = lt\n", GRAVRD_ERR_INVALID, "t.study:9:",
        "unknown sample 'e2w'");
    BAD("[table x]\nkind = regression\nrhs = partner\ngrid = lt, ld x all\n", GRAVRD_ERR_INVALID, "t.study:9:",
        "unknown outcome 'ld'");
    BAD("[table x]\nkind = regression\nrhs = partner\ngrid = lt x all, e2w\n", GRAVRD_ERR_INVALID, "t.study:9:",
        "unknown sample 'e2w'");
    /* formula and expression syntax */
    BAD("[table x]\nkind = regression\ncolumn (1) = lt ~ partner + | fe\n", GRAVRD_ERR_PARSE, "t.study:8:",
        "column");
    BAD("[table x]\nkind = summary\nrow log(trade = Trade\n", GRAVRD_ERR_PARSE, "t.study:8:", "row");
    BAD("[table x]\nkind = regression\nrhs = partner\nsubset = w2e == \ngrid = lt\n", GRAVRD_ERR_PARSE,
        "t.study:9:", "subset");
    /* values */
    BAD("[table x]\nkind = regression\nbandwidth = -5\n", GRAVRD_ERR_INVALID, "t.study:8:", "bandwidth");
    BAD("[table x]\nkind = rd\nbandwidths = 60, x\n", GRAVRD_ERR_INVALID, "t.study:8:", "bandwidths");
    BAD("[table x]\nkind = regression\nlevel = months\n", GRAVRD_ERR_INVALID, "t.study:8:", "level");
    BAD("[table x]\nkind = regression\npublished partner = a.{outcom}\n", GRAVRD_ERR_INVALID, "t.study:8:",
        "placeholder '{outcom}'");
    BAD("[table x]\nkind = regression\npublished_stat fstat = a.b\n", GRAVRD_ERR_INVALID, "t.study:8:", "fstat");
    BAD("[table x]\nkind = regression\npublished = a.b\n", GRAVRD_ERR_INVALID, "t.study:8:", "needs an argument");
    /* duplicates */
    BAD("[table x]\nkind = numbers\nitem a = 1\n[table x]\nkind = numbers\nitem a = 1\n", GRAVRD_ERR_INVALID,
        "t.study:9:", "table 'x' is defined twice");
    BAD("[table x]\nkind = regression\nrhs = partner\ngrid = lt x all\ncolumn lt.all = lt ~ partner\n",
        GRAVRD_ERR_INVALID, "t.study:10:", "two columns are named 'lt.all'");
    parse_bad("[outcomes]\na = x\n[macros]\na = y\n", GRAVRD_ERR_INVALID, "t.study:4:", "defined twice", NULL);
    /* a grid without rhs; a content line without '=' */
    BAD("[table x]\nkind = regression\ngrid = lt x all\n", GRAVRD_ERR_INVALID, "t.study:8:", "rhs");
    BAD("[table x]\nkind = regression\ngrid lt x all\n", GRAVRD_ERR_PARSE, "t.study:8:", "expected 'key = value'");
    /* numbers: references to unknown tables and totals */
    BAD("[table x]\nkind = numbers\nitem a = `table9/c/partner`\n", GRAVRD_ERR_INVALID, "t.study:8:",
        "table 'table9'");
    BAD("[table x]\nkind = numbers\nitem a = 2 * total_trade\n", GRAVRD_ERR_INVALID, "t.study:8:", "total_trade");
    /* a kind that needs more */
    BAD("[table x]\nkind = mediation\ncoefficient = partner\ntest A = lt ~ partner + m\n", GRAVRD_ERR_INVALID,
        "t.study:6:", "base");
    BAD("[table x]\nkind = match\nrhs = partner\ngrid = lt x all\n", GRAVRD_ERR_INVALID, "t.study:6:", "match");
    /* no tables at all */
    parse_bad("[study]\ntitle = x\n", GRAVRD_ERR_INVALID, "no [table", NULL);
    /* [study] keys */
    parse_bad("[study]\ntitel = x\n[table x]\nkind = numbers\nitem a = 1\n", GRAVRD_ERR_INVALID, "t.study:2:",
        "unknown key 'titel'", NULL);
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
        cmocka_unit_test(test_bad_file_on_disk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
