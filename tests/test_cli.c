/* test_cli.c - `gravrd reg` end to end: output shapes and the bad-input
 * contract (one-line error naming what and where, exit code 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/clirun.h"
#include "support/testutil.h"
#include "util/json_read.h"
#include "gravrd/sim.h"

typedef struct {
    char *dir;
    char *panel;  /* a small valid panel */
} fixture;

/* Runs `gravrd reg ARGS`. */
static cli_result run_reg(fixture *fx, const char *args)
{
    size_t len = strlen(args) + 8;
    char *full = malloc(len);
    snprintf(full, len, "reg %s", args);
    cli_result r = cli_run(fx->dir, full);
    free(full);
    return r;
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = testutil_tempdir();
    /* 4 exporters x 3 importers x 4 months; x varies within every FE. */
    size_t cap = 1 << 16, len = 0;
    char *csv = malloc(cap);
    len += (size_t)snprintf(csv + len, cap - len, "exp,imp,month,x,trade,one,pair\n");
    int row = 0;
    for (int e = 0; e < 4; e++)
        for (int i = 0; i < 3; i++)
            for (int m = 0; m < 4; m++, row++)
                len += (size_t)snprintf(csv + len, cap - len, "e%d,i%d,2020-%02d,%d,%d,1,%d\n", e, i, m + 1,
                                        (row * 7) % 11, 100 + (row * 37) % 91 + 10 * e, e * 3 + i);
    fx->panel = testutil_write_temp(fx->dir, "panel.csv", csv);
    free(csv);
    *state = fx;
    return fx->panel ? 0 : -1;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    free(fx->panel);
    testutil_rmdir(fx->dir);
    free(fx);
    return 0;
}

static void expect_success(const cli_result *r)
{
    if (r->status != 0)
        fail_msg("exit %d; stderr: %s", r->status, r->err ? r->err : "(none)");
}

/* The error is one line; a formula syntax error may add the formula and a
 * caret under the position on the two lines after it. */
static void expect_error_lines(fixture *fx, const char *args, const char *must_contain, int max_lines)
{
    size_t len = strlen(args) + 8;
    char *full = malloc(len);
    snprintf(full, len, "reg %s", args);
    cli_expect_error(fx->dir, full, must_contain, max_lines);
    free(full);
}

static void expect_error(fixture *fx, const char *args, const char *must_contain)
{
    expect_error_lines(fx, args, must_contain, 1);
}

/* "FILE REST" (malloc'ed). */
static char *args_for(const char *file, const char *rest)
{
    size_t len = strlen(file) + strlen(rest) + 8;
    char *s = malloc(len);
    snprintf(s, len, "%s %s", file, rest);
    return s;
}

/* Runs `gravrd reg PANEL REST`, which must succeed, and parses its JSON
 * output (caller frees). */
static json_t *reg_json(fixture *fx, const char *rest)
{
    char *args = args_for(fx->panel, rest);
    cli_result r = run_reg(fx, args);
    free(args);
    expect_success(&r);
    json_t *v = NULL;
    gravrd_error err = {0};
    if (jr_parse(r.out, &v, &err))
        fail_msg("output is not JSON: %s", err.message);
    cli_result_free(&r);
    return v;
}

/* The first n keys of an object, in the order of the text, are keys[]. */
static void assert_keys(json_t *obj, const char *const *keys, size_t n)
{
    assert_true(json_is_object(obj));
    size_t j = 0;
    const char *key;
    json_t *value;
    json_object_foreach (obj, key, value) {
        (void)value;
        if (j == n)
            break;
        assert_string_equal(key, keys[j]);
        j++;
    }
    assert_int_equal(j, n);
}

static void test_json_shape(void **state)
{
    fixture *fx = *state;
    json_t *v = reg_json(fx, "'log(trade) ~ x | exp^month + imp' --cluster pair --format json");
    assert_true(json_is_object(v));
    static const char *keys[] = {"model", "outcome", "sample", "formula", "nobs", "dropped", "fixed_effects", "vcov",
                                 "coefficients", "r2", "adj_r2", "within_r2", "rmse", "wald_f", "solver", "iterations",
                                 "seconds"};
    assert_int_equal(json_object_size(v), sizeof keys / sizeof keys[0]);
    assert_keys(v, keys, sizeof keys / sizeof keys[0]);
    assert_string_equal(jr_str(v, "model"), "ols");
    assert_string_equal(jr_str(v, "outcome"), "log(trade)");
    assert_string_equal(jr_str(v, "sample"), "all");
    assert_string_equal(jr_str(v, "vcov"), "cluster: pair");
    assert_true(jr_num(v, "nobs") == 48);
    json_t *fe = json_object_get(v, "fixed_effects");
    assert_int_equal(json_object_size(fe), 2);
    static const char *fkeys[] = {"exp^month", "imp"};
    assert_keys(fe, fkeys, 2);
    assert_true(jr_num(fe, "exp^month") == 16);
    assert_true(jr_num(fe, "imp") == 3);
    static const char *dkeys[] = {"missing", "singletons"};
    assert_keys(json_object_get(v, "dropped"), dkeys, 2);
    const json_t *coefs = jr_arr(v, "coefficients");
    assert_int_equal(json_array_size(coefs), 1);
    static const char *ckeys[] = {"name", "estimate", "se", "t", "p"};
    json_t *c0 = json_array_get(coefs, 0);
    assert_keys(c0, ckeys, 5);
    double est = jr_num(c0, "estimate"), se = jr_num(c0, "se");
    assert_true(se > 0);
    assert_true(fabs(jr_num(c0, "t") - est / se) < 1e-9 * fabs(est / se));
    json_decref(v);
}

static void test_json_array_for_several_outcomes_and_split(void **state)
{
    fixture *fx = *state;
    json_t *v = reg_json(fx, "'c(trade, log(trade)) ~ x | imp' --split exp --format json");
    assert_true(json_is_array(v));
    assert_int_equal(json_array_size(v), 8); /* 4 exporters x 2 outcomes */
    assert_string_equal(jr_str(json_array_get(v, 0), "sample"), "exp=e0");
    assert_string_equal(jr_str(json_array_get(v, 1), "outcome"), "log(trade)");
    assert_true(jr_num(json_array_get(v, 7), "nobs") == 12);
    json_decref(v);
}

static void test_text_and_tables(void **state)
{
    fixture *fx = *state;
    const char *formats[] = {"text", "csv", "md", "tex"};
    const char *marker[] = {"Std. Error", "outcome,sample,term", "| x |", "\\toprule"};
    for (int f = 0; f < 4; f++) {
        char rest[256];
        snprintf(rest, sizeof rest, "'trade ~ x | exp + imp' --vcov hetero --format %s", formats[f]);
        char *args = args_for(fx->panel, rest);
        cli_result r = run_reg(fx, args);
        free(args);
        expect_success(&r);
        if (!strstr(r.out, marker[f]))
            fail_msg("format %s lacks '%s':\n%s", formats[f], marker[f], r.out);
        cli_result_free(&r);
    }
}

static void test_missing_values_warn_or_fail_under_strict(void **state)
{
    fixture *fx = *state;
    char *file = testutil_write_temp(fx->dir, "zeros.csv", "g,x,y\na,1,0\na,2,3\nb,3,5\nb,4,2\nb,1,4\na,5,\n");
    char *args = args_for(file, "'log(y) ~ x | g'");
    cli_result r = run_reg(fx, args);
    expect_success(&r);
    assert_non_null(strstr(r.err, "2 observations removed"));
    cli_result_free(&r);
    free(args);
    args = args_for(file, "'log(y) ~ x | g' --strict");
    expect_error(fx, args, "log(y)");
    free(args);
    free(file);
}

/* `gravrd reg PANEL REST` fails with one line containing must_contain. */
static void expect_panel_error(fixture *fx, const char *rest, const char *must_contain)
{
    char *args = args_for(fx->panel, rest);
    expect_error(fx, args, must_contain);
    free(args);
}

static void test_bad_inputs(void **state)
{
    fixture *fx = *state;
    char *args;
    expect_error(fx, "/nonexistent/flows.csv 'y ~ x'", "/nonexistent/flows.csv");

    char *ragged = testutil_write_temp(fx->dir, "ragged.csv", "a,b\n1,2\n3\n");
    args = args_for(ragged, "'a ~ b'");
    expect_error(fx, args, "ragged.csv:3");
    free(args);
    free(ragged);

    char *text = testutil_write_temp(fx->dir, "text.csv", "y,x\n1,2\n2,3\n3,abc\n4,5\n");
    args = args_for(text, "'y ~ x'");
    expect_error(fx, args, "data row 3");
    free(args);
    free(text);

    expect_panel_error(fx, "'trade ~ zz | exp'", "unknown variable 'zz'");
    expect_panel_error(fx, "'trade ~ x | exp' --cluster nope", "unknown variable 'nope'");
    args = args_for(fx->panel, "'trade ~ x + | exp'");
    expect_error_lines(fx, args, "position", 3);
    free(args);
    expect_panel_error(fx, "'trade ~ x | exp' --cluster one", "only one level");
    expect_panel_error(fx, "'trade ~ x | exp' --subset 'x > 100'", "no rows left after --subset");
    expect_panel_error(fx, "'trade ~ one | exp'", "collinear with the fixed effects");
    expect_panel_error(fx, "'trade ~ x' --frobnicate", "unknown option '--frobnicate'");
    expect_panel_error(fx, "'trade ~ x' --format xml", "--format must be one of text, json, csv, md, tex, not 'xml'");
    expect_panel_error(fx, "'trade ~ x' --solver fast", "--solver must be auto or general, not 'fast'");
}

/* --solver: the balanced panel with a pair-level regressor goes through the
 * collapse by default and through the general demeaning with --solver
 * general, with the same numbers. */
static double solver_estimate(fixture *fx, const char *solver, char *solver_out, size_t cap)
{
    char rest[256];
    snprintf(rest, sizeof rest,
             "'log(trade) ~ I(pair^2) | exp^month + imp^month' --cluster pair --tol 1e-14 --format json --solver %s",
             solver);
    json_t *v = reg_json(fx, rest);
    snprintf(solver_out, cap, "%s", jr_str(v, "solver"));
    double b = jr_num(json_array_get(jr_arr(v, "coefficients"), 0), "estimate");
    json_decref(v);
    return b;
}

static void test_solver_option(void **state)
{
    fixture *fx = *state;
    char a[32], g[32];
    double ba = solver_estimate(fx, "auto", a, sizeof a), bg = solver_estimate(fx, "general", g, sizeof g);
    assert_string_equal(a, "collapse");
    assert_string_equal(g, "general");
    assert_true(fabs(ba - bg) <= 1e-10 * fabs(bg));
}

/* ---- the option parser of every subcommand (cli/opts.c) ---------------------- */

/* Every option and positional of each subcommand's table, as its help must
 * name them; simulate's simulator parameters come from the library's list
 * (cli_help_names_every_option adds them). */
static const struct {
    const char *command;
    const char *positionals; /* space-separated */
    const char *options;     /* space-separated, without "--" */
} cli_commands[] = {
    {"reg", "DATA FORMULA",
     "subset split vcov cluster ssc strict keep-singletons solver tol maxiter threads format study bandwidth match "
     "out boot boot-reps boot-weights boot-type boot-param boot-seed boot-level ri ri-reps ri-seed ri-scheme ri-out"},
    {"match", "FLOWS", "study bandwidth cross-province out format"},
    {"balance", "", "study bandwidth vars vcov format out"},
    {"rd", "FLOWS",
     "study outcome direction subset bandwidths no-select side radius cross-province fe no-fe kernel level plot "
     "plot-bandwidth bins format out"},
    {"replicate", "", "data out study flow macro bootstrap seed threads only list no-report quiet"},
    {"report", "", "out data figures flows outcome bins no-rd-plots threads title"},
    {"segments", "CITIES.csv", "bandwidth by format out"},
    {"simulate", "", "out force seed months start params cities partnerships"},
};

/* Fails unless the help text has an entry line for option `name`
 * ("  --name ..."). */
static void expect_help_names_option(const char *command, const char *help, const char *name)
{
    char line[160];
    snprintf(line, sizeof line, "\n  --%s ", name);
    if (!strstr(help, line))
        fail_msg("gravrd %s --help does not list --%s:\n%s", command, name, help);
}

/* Checks each space-separated word of names with check (help, word). */
static void for_each_word(const char *names, const char *command, const char *help,
                          void (*check)(const char *, const char *, const char *))
{
    char word[96];
    for (const char *p = names; *p;) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        if (!len)
            break;
        snprintf(word, sizeof word, "%.*s", (int)len, p);
        check(command, help, word);
        p += len;
    }
}

/* Fails unless positional `name` has its line in the help. */
static void expect_help_names_positional(const char *command, const char *help, const char *name)
{
    char line[160];
    snprintf(line, sizeof line, "\n  %s ", name);
    if (!strstr(help, line))
        fail_msg("gravrd %s --help does not describe %s:\n%s", command, name, help);
}

/* `gravrd CMD --help` and `-h`: exit 0, the same complete text on stdout
 * (usage line, every positional and option of the table), nothing on
 * stderr; also with the required arguments missing. */
/* The wild bootstrap from the command line: 12 pair clusters, so the
 * 4,096 sign vectors are enumerated; the JSON and text outputs carry the
 * bootstrap, and the errors that need the data name what is wrong. */
static void test_wild_bootstrap(void **state)
{
    fixture *fx = *state;
    char *args = args_for(fx->panel, "'trade ~ x | exp + month' --cluster pair --boot wild --format json");
    cli_result r = run_reg(fx, args);
    free(args);
    expect_success(&r);
    assert_non_null(strstr(r.out, "\"bootstrap\":{\"type\":\"wcr\",\"weights\":\"rademacher\",\"reps\":4096,"
                                  "\"enumerated\":true,\"clusters\":12,"));
    assert_non_null(strstr(r.out, "\"ci\":["));
    cli_result_free(&r);
    args = args_for(fx->panel, "'trade ~ x | exp + month' --cluster pair --boot wild --boot-type wcu --boot-reps 99 "
                               "--boot-weights webb");
    r = run_reg(fx, args);
    free(args);
    expect_success(&r);
    assert_non_null(strstr(r.out, "Wild cluster bootstrap (WCU, webb weights, 99 draws, 12 clusters):"));
    assert_non_null(strstr(r.out, "95% CI ["));
    cli_result_free(&r);
    args = args_for(fx->panel, "'trade ~ x | exp' --cluster pair --boot wild --format csv");
    r = run_reg(fx, args);
    free(args);
    expect_success(&r);
    assert_non_null(strstr(r.out, ",vcov,boot_p,boot_ci_lo,boot_ci_hi\n"));
    cli_result_free(&r);
    static const struct {
        const char *rest, *message;
    } bad[] = {
        {"'trade ~ x | exp' --cluster one --boot wild", "cluster variable 'one' has only one level"},
        {"'trade ~ x | exp' --cluster pair --boot wild --boot-param zz",
         "--boot-param: 'zz' is not a coefficient of the model (its coefficients: x)"},
        {"'trade ~ x | exp' --cluster 'exp + imp' --boot wild", "--boot wild needs one-way clustering"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        char *a = args_for(fx->panel, bad[k].rest);
        expect_error(fx, a, bad[k].message);
        free(a);
    }
}

static void test_help_of_every_command(void **state)
{
    fixture *fx = *state;
    for (size_t c = 0; c < sizeof cli_commands / sizeof cli_commands[0]; c++) {
        const char *cmd = cli_commands[c].command;
        char args[128];
        snprintf(args, sizeof args, "%s --help", cmd);
        cli_result r = cli_run(fx->dir, args);
        if (r.status != 0 || !r.out || (r.err && *r.err))
            fail_msg("gravrd %s --help: exit %d, stderr: %s", cmd, r.status, r.err ? r.err : "");
        char usage[64];
        snprintf(usage, sizeof usage, "usage: gravrd %s ", cmd);
        assert_non_null(strstr(r.out, usage));
        assert_non_null(strstr(r.out, "\n  -h, --help "));
        for_each_word(cli_commands[c].options, cmd, r.out, expect_help_names_option);
        for_each_word(cli_commands[c].positionals, cmd, r.out, expect_help_names_positional);
        if (!strcmp(cmd, "simulate"))
            for (size_t i = 0; i < gravrd_sim_param_count(); i++) {
                char name[96];
                snprintf(name, sizeof name, "%s", gravrd_sim_param_name(i));
                for (char *s = name; *s; s++)
                    if (*s == '_')
                        *s = '-';
                expect_help_names_option(cmd, r.out, name);
            }
        snprintf(args, sizeof args, "%s -h", cmd);
        cli_result h = cli_run(fx->dir, args);
        assert_int_equal(h.status, 0);
        assert_string_equal(h.out, r.out);
        cli_result_free(&h);
        cli_result_free(&r);
    }
}

/* The parser's errors: for every subcommand, an unknown option, a repeated
 * option, a missing value, an out-of-range number and a bad choice (where
 * the command has such an option; balance and segments take no number but
 * a list, simulate no choice and checks its parameters in the library)
 * each exit 2 with one line on stderr, "gravrd CMD: " and the option. */
static void test_option_errors_of_every_command(void **state)
{
    fixture *fx = *state;
    static const struct {
        const char *args, *message;
    } cases[] = {
        {"reg d.csv 'y ~ x' --tool 1", "gravrd reg: unknown option '--tool' (see gravrd reg --help)"},
        {"reg d.csv 'y ~ x' --cluster a --cluster b", "gravrd reg: --cluster given twice"},
        {"reg d.csv 'y ~ x' --cluster", "gravrd reg: --cluster needs a value"},
        {"reg d.csv 'y ~ x' --cluster --strict", "gravrd reg: --cluster needs a value"},
        {"reg d.csv 'y ~ x' --tol x", "gravrd reg: --tol must be a number in (0, 1), not 'x'"},
        {"reg d.csv 'y ~ x' --tol=1", "gravrd reg: --tol must be a number in (0, 1), not '1'"},
        {"reg d.csv 'y ~ x' --maxiter 0", "gravrd reg: --maxiter must be a positive integer, not '0'"},
        {"reg d.csv 'y ~ x' --format xml", "gravrd reg: --format must be one of text, json, csv, md, tex, not 'xml'"},
        {"reg d.csv 'y ~ x' --strict=1", "gravrd reg: --strict takes no value"},
        {"reg d.csv", "gravrd reg: FORMULA is required (see gravrd reg --help)"},
        {"reg d.csv 'y ~ x' --boot wild", "gravrd reg: --boot wild needs --cluster VAR (it draws one weight per cluster)"},
        {"reg d.csv 'y ~ x' --boot bad", "gravrd reg: --boot must be wild, not 'bad'"},
        {"reg d.csv 'y ~ x' --boot wild --cluster a --boot-reps 0",
         "gravrd reg: --boot-reps must be a positive integer, not '0'"},
        {"reg d.csv 'y ~ x' --cluster a --boot-reps 99", "gravrd reg: --boot-reps needs --boot wild"},
        {"reg d.csv 'y ~ x' --cluster a --boot-param x", "gravrd reg: --boot-param needs --boot wild"},
        {"reg d.csv 'y ~ x' --boot wild --cluster a --boot-weights normal",
         "gravrd reg: --boot-weights must be one of rademacher, webb, mammen, not 'normal'"},
        {"reg d.csv 'y ~ x' --boot wild --cluster a --boot-type x", "gravrd reg: --boot-type must be wcr or wcu, not 'x'"},
        {"reg d.csv 'y ~ x' --boot wild --cluster a --boot-level 1",
         "gravrd reg: --boot-level must be a number in (0, 1), not '1'"},
        {"reg d.csv 'y ~ x' --ri partner", "gravrd reg: --ri needs --study DIR (the partnerships to reassign)"},
        {"reg d.csv 'y ~ x' --ri-reps 99", "gravrd reg: --ri-reps needs --ri partner"},
        {"reg d.csv 'y ~ x' --study s --ri partner --ri-reps 0", "gravrd reg: --ri-reps must be a positive integer, not '0'"},
        {"reg d.csv 'y ~ x' --study s --ri partner --ri-scheme city",
         "gravrd reg: --ri-scheme must be program or province, not 'city'"},
        {"reg d.csv 'y ~ x' --study s --ri distance",
         "gravrd reg: --ri: 'distance' is not the study's partnership indicator; only partner (the 0/1 pair indicator) "
         "can be reassigned"},
        {"reg d.csv 'y ~ x' --boot wild --cluster a --boot-seed 0",
         "gravrd reg: --boot-seed must be an integer in 1..2147483647, not '0'"},
        {"reg d.csv y + x", "gravrd reg: unexpected argument '+' (quote the formula)"},
        {"design --worlds 0", "gravrd design: --worlds must be a positive integer, not '0'"},
        {"design --months 0", "gravrd design: --months must be a positive integer, not '0'"},
        {"design --methods pair,bogus",
         "gravrd design: --methods: unknown inference method 'bogus' (pair, segment_pair, dyadic, wild or ri)"},
        {"design --methods ,", "gravrd design: --methods names no method"},
        {"design --boot-reps 0", "gravrd design: --boot-reps must be a positive integer, not '0'"},
        {"design --format xml", "gravrd design: --format must be text or json, not 'xml'"},
        {"design --data /nonexistent-gravrd-dir --worlds 1", "/nonexistent-gravrd-dir/cities.csv"},
        {"match --bogus", "gravrd match: unknown option '--bogus'"},
        {"match --study a --study b", "gravrd match: --study given twice"},
        {"match --study", "gravrd match: --study needs a value"},
        {"match --study d --bandwidth -3", "gravrd match: --bandwidth must be a positive number of km, not '-3'"},
        {"match --study d --format xml", "gravrd match: --format must be text or json, not 'xml'"},
        {"match", "gravrd match: --study DIR is required (see gravrd match --help)"},
        {"balance --bogus", "gravrd balance: unknown option '--bogus'"},
        {"balance --vars a --vars b", "gravrd balance: --vars given twice"},
        {"balance --study d --out", "gravrd balance: --out needs a value"},
        {"balance --study d --vcov cluster", "gravrd balance: --vcov must be hetero or iid, not 'cluster'"},
        {"balance --study d stray", "gravrd balance: unexpected argument 'stray' (see gravrd balance --help)"},
        {"rd --bogus", "gravrd rd: unknown option '--bogus'"},
        {"rd --no-fe --no-fe", "gravrd rd: --no-fe given twice"},
        {"rd --study d --outcome", "gravrd rd: --outcome needs a value"},
        {"rd --study d --outcome y --level 100", "gravrd rd: --level must be a number in (0, 100), not '100'"},
        {"rd --study d --outcome y --bins 1001", "gravrd rd: --bins must be an integer in 1..1000, not '1001'"},
        {"rd --study d --outcome y --kernel box",
         "gravrd rd: --kernel must be one of triangular, epanechnikov, uniform, not 'box'"},
        {"rd --study d --outcome y --fe a --no-fe", "gravrd rd: --fe and --no-fe contradict each other"},
        {"replicate --bogus", "gravrd replicate: unknown option '--bogus'"},
        {"replicate --seed 1 --seed 2", "gravrd replicate: --seed given twice"},
        {"replicate --data", "gravrd replicate: --data needs a value"},
        {"replicate --bootstrap -1", "gravrd replicate: --bootstrap must be an integer in 0..100000, not '-1'"},
        {"replicate --flow log2", "gravrd replicate: --flow must be log1p or log, not 'log2'"},
        {"replicate --macro nothing", "gravrd replicate: --macro must be NAME=VALUE, not 'nothing'"},
        {"report --bogus", "gravrd report: unknown option '--bogus'"},
        {"report --figures --figures", "gravrd report: --figures given twice"},
        {"report --out", "gravrd report: --out needs a value"},
        {"report --out d --threads 257", "gravrd report: --threads must be an integer in 1..256, not '257'"},
        {"report", "gravrd report: --out OUT is required (see gravrd report --help)"},
        {"segments c.csv --bogus", "gravrd segments: unknown option '--bogus'"},
        {"segments c.csv --by none --by province", "gravrd segments: --by given twice"},
        {"segments c.csv --bandwidth", "gravrd segments: --bandwidth needs a value"},
        {"segments c.csv --bandwidth 50 --format xml",
         "gravrd segments: --format must be one of text, csv, json, not 'xml'"},
        {"segments --bandwidth 50", "gravrd segments: CITIES.csv is required (see gravrd segments --help)"},
        {"simulate --bogus-effect 1", "gravrd simulate: unknown option '--bogus-effect'"},
        {"simulate --seed 1 --seed 2", "gravrd simulate: --seed given twice"},
        {"simulate --out", "gravrd simulate: --out needs a value"},
        {"simulate --out nowhere --months 0", "gravrd simulate: months: '0' is not a whole number"},
        {"simulate --force=yes", "gravrd simulate: --force takes no value"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        cli_expect_error(fx->dir, cases[k].args, cases[k].message, 1);
}

/* --opt=value and --opt value mean the same; a repeatable option keeps
 * every value (replicate --macro, checked through --list). */
static void test_option_forms(void **state)
{
    fixture *fx = *state;
    char *a = args_for(fx->panel, "'trade ~ x | exp' --vcov=hetero --format=json --tol=1e-12");
    char *b = args_for(fx->panel, "'trade ~ x | exp' --vcov hetero --format json --tol 1e-12");
    cli_result ra = run_reg(fx, a), rb = run_reg(fx, b);
    expect_success(&ra);
    expect_success(&rb);
    /* the outputs differ only in the timing */
    const char *ta = strstr(ra.out, "\"seconds\""), *tb = strstr(rb.out, "\"seconds\"");
    assert_non_null(ta);
    assert_non_null(tb);
    assert_int_equal(ta - ra.out, tb - rb.out);
    assert_memory_equal(ra.out, rb.out, (size_t)(ta - ra.out));
    cli_result_free(&ra);
    cli_result_free(&rb);
    free(a);
    free(b);
    cli_result r = cli_run(fx->dir, "replicate --list --macro main=partner --macro flow=log");
    expect_success(&r);
    assert_non_null(strstr(r.out, "table"));
    cli_result_free(&r);
    /* the second --macro reaches the study file */
    cli_expect_error(fx->dir, "replicate --list --macro main=partner --macro nope=1", "no macro 'nope'", 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_shape),
        cmocka_unit_test(test_solver_option),
        cmocka_unit_test(test_json_array_for_several_outcomes_and_split),
        cmocka_unit_test(test_text_and_tables),
        cmocka_unit_test(test_missing_values_warn_or_fail_under_strict),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_wild_bootstrap),
        cmocka_unit_test(test_help_of_every_command),
        cmocka_unit_test(test_option_errors_of_every_command),
        cmocka_unit_test(test_option_forms),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
