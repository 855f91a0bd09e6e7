/* test_sim.c - the simulator (gravrd/sim.h) and `gravrd simulate`. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <gsl/gsl_cdf.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/sim.h"

static char tmp_root[256];

static int setup(void **state)
{
    (void)state;
    snprintf(tmp_root, sizeof tmp_root, "/tmp/gravrd_test_sim_XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
    return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t n, const char *a, const char *b)
{
    if (b)
        snprintf(buf, n, "%s/%s/%s", tmp_root, a, b);
    else
        snprintf(buf, n, "%s/%s", tmp_root, a);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            (!prefix || !strncmp(e->d_name, prefix, strlen(prefix))))
            n++;
    closedir(d);
    return n;
}

static void small_params(gravrd_sim_params *p, int months)
{
    gravrd_sim_params_init(p);
    p->months = months;
}

/* ---- parameters ---------------------------------------------------------------- */

static void test_defaults_and_set(void **state)
{
    (void)state;
    gravrd_sim_params p;
    gravrd_error err;
    gravrd_sim_params_init(&p);
    assert_true(fabs(p.partner_w2e - 0.10) < 1e-12);
    assert_true(p.partner_e2w == 0.0);
    assert_true(fabs(p.deals_w2e - 0.06) < 1e-12);
    assert_true(fabs(p.cat[GRAVRD_SIM_CAT_FOOD] - 0.120) < 1e-12);
    assert_true(p.seller_cr_effect == 0.0 && p.buyer_cr_effect == 0.0);
    assert_true(p.covid_interaction == 0.0 && p.december_interaction == 0.0);
    assert_int_equal(p.months, 60);
    assert_int_equal(p.start_year, 2017);
    assert_int_equal(gravrd_sim_params_validate(&p, &err), GRAVRD_OK);

    assert_int_equal(gravrd_sim_param_set(&p, "partner-w2e", "0.25", &err), GRAVRD_OK);
    assert_true(fabs(p.partner_w2e - 0.25) < 1e-12);
    assert_int_equal(gravrd_sim_param_set(&p, "start", "2018-03", &err), GRAVRD_OK);
    assert_int_equal(p.start_year, 2018);
    assert_int_equal(p.start_month, 3);
    assert_int_equal(gravrd_sim_param_set(&p, "seed", "18446744073709551615", &err), GRAVRD_OK);
    assert_true(p.seed == UINT64_MAX);

    assert_int_equal(gravrd_sim_param_set(&p, "no_such_effect", "1", &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "no_such_effect"));
    assert_int_equal(gravrd_sim_param_set(&p, "months", "-3", &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_sim_param_set(&p, "months", "2.5", &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_sim_param_set(&p, "start", "2017-13", &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_sim_param_set(&p, "seed", "-1", &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_sim_param_set(&p, "partner_w2e", "0.1x", &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_sim_param_set(&p, "ar1", "1.5", &err), GRAVRD_ERR_INVALID);
    /* failed sets leave the value alone */
    assert_true(fabs(p.partner_w2e - 0.25) < 1e-12);
    assert_int_equal(p.months, 60);

    /* the calendar ends in 2030-12 */
    gravrd_sim_params_init(&p);
    p.start_year = 2030;
    p.months = 13;
    assert_int_equal(gravrd_sim_params_validate(&p, &err), GRAVRD_ERR_INVALID);
    p.months = 0;
    assert_int_equal(gravrd_sim_params_validate(&p, &err), GRAVRD_ERR_INVALID);
}

static void test_params_file(void **state)
{
    (void)state;
    char path[512];
    gravrd_sim_params p;
    gravrd_error err;
    path_in(path, sizeof path, "good.params", NULL);
    write_text(path, "# effects\n\npartner_w2e = 0.3\n  cat-food=0.5  \nseed = 7\n");
    gravrd_sim_params_init(&p);
    assert_int_equal(gravrd_sim_params_load(&p, path, &err), GRAVRD_OK);
    assert_true(fabs(p.partner_w2e - 0.3) < 1e-12);
    assert_true(fabs(p.cat[GRAVRD_SIM_CAT_FOOD] - 0.5) < 1e-12);
    assert_true(p.seed == 7);

    path_in(path, sizeof path, "bad.params", NULL);
    write_text(path, "partner_w2e = 0.3\n# fine\nwibble = 2\n");
    assert_int_equal(gravrd_sim_params_load(&p, path, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "bad.params:3"));
    assert_non_null(strstr(err.message, "wibble"));

    write_text(path, "partner_w2e 0.3\n");
    assert_int_equal(gravrd_sim_params_load(&p, path, &err), GRAVRD_ERR_PARSE);
    assert_non_null(strstr(err.message, "bad.params:1"));

    path_in(path, sizeof path, "missing.params", NULL);
    assert_int_equal(gravrd_sim_params_load(&p, path, &err), GRAVRD_ERR_IO);
}

/* ---- writing ------------------------------------------------------------------- */

static const char *const files[] = {"cities.csv", "partnerships.csv", "flows.csv", "migration.csv",
                                    "truth.json"};

static void test_write_contents(void **state)
{
    (void)state;
    char dir[512], path[600];
    gravrd_sim_params p;
    gravrd_error err;
    small_params(&p, 3);
    path_in(dir, sizeof dir, "w1/nested", NULL); /* parent folders are created */
    assert_int_equal(gravrd_sim_write(&p, dir, 0, &err), GRAVRD_OK);
    for (size_t i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        assert_int_equal(access(path, R_OK), 0);
    }
    char parent[512];
    path_in(parent, sizeof parent, "w1", NULL);
    assert_int_equal(count_entries(parent, ".nested.tmp"), 0);

    gravrd_frame *f = NULL;
    snprintf(path, sizeof path, "%s/flows.csv", dir);
    assert_int_equal(gravrd_csv_read(path, NULL, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, (size_t)19140 * 3);
    const gravrd_column *trade = gravrd_frame_find(f, "trade"), *deals = gravrd_frame_find(f, "deals"),
                        *scr = gravrd_frame_find(f, "seller_cr"), *bcr = gravrd_frame_find(f, "buyer_cr"),
                        *month = gravrd_frame_find(f, "month"), *dir_c = gravrd_frame_find(f, "direction"),
                        *partner = gravrd_frame_find(f, "partner"), *baidu = gravrd_frame_find(f, "baidu_index");
    const char *cats[] = {"trade_clothing", "trade_food", "trade_household", "trade_electronics",
                          "trade_healthcare", "trade_other"};
    const gravrd_column *cat[6];
    for (int c = 0; c < 6; c++) {
        cat[c] = gravrd_frame_find(f, cats[c]);
        assert_non_null(cat[c]);
    }
    assert_non_null(trade);
    assert_non_null(deals);
    assert_non_null(scr);
    assert_non_null(bcr);
    assert_non_null(partner);
    assert_non_null(baidu);
    assert_non_null(month);
    assert_int_equal(month->type, GRAVRD_COL_FACTOR);
    assert_int_equal(month->n_levels, 3);
    assert_string_equal(month->levels_L[0], "2017-01");
    assert_string_equal(month->levels_L[2], "2017-03");
    assert_int_equal(dir_c->n_levels, 2);
    size_t zeros = 0, n_partner = 0;
    for (size_t i = 0; i < f->n_rows; i++) {
        double t = trade->num_N[i];
        assert_true(t >= 0);
        long long sum = 0;
        for (int c = 0; c < 6; c++) {
            assert_true(cat[c]->num_N[i] >= 0);
            sum += llround(cat[c]->num_N[i] * 100);
        }
        assert_true(sum == llround(t * 100)); /* categories add up, to the cent */
        if (t == 0) {
            zeros++;
            assert_true(isnan(scr->num_N[i]) && isnan(bcr->num_N[i]));
            assert_true(deals->num_N[i] == 0);
        } else {
            assert_true(scr->num_N[i] >= 0 && scr->num_N[i] <= 100);
            assert_true(bcr->num_N[i] >= 0 && bcr->num_N[i] <= 100);
            assert_true(deals->num_N[i] >= 1);
        }
        assert_true(baidu->num_N[i] >= 0 && baidu->num_N[i] == floor(baidu->num_N[i]));
        n_partner += partner->num_N[i] == 1;
    }
    /* a few zeros, not many; 95 partnerships x 2 directions x 3 months */
    assert_true(zeros > 0 && zeros < f->n_rows / 20);
    assert_int_equal(n_partner, (size_t)95 * 2 * 3);
    gravrd_frame_free(f);

    snprintf(path, sizeof path, "%s/migration.csv", dir);
    assert_int_equal(gravrd_csv_read(path, NULL, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, (size_t)87 * 110);
    gravrd_frame_free(f);
    snprintf(path, sizeof path, "%s/cities.csv", dir);
    assert_int_equal(gravrd_csv_read(path, NULL, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, (size_t)197);
    const gravrd_column *gdp = gravrd_frame_find(f, "gdp_2018_100m_yuan"), *ms = gravrd_frame_find(f, "minority_share");
    assert_non_null(gdp);
    assert_non_null(ms);
    for (size_t i = 0; i < f->n_rows; i++) {
        assert_true(gdp->num_N[i] > 0);
        assert_true(ms->num_N[i] >= 0 && ms->num_N[i] <= 100);
    }
    assert_true(fabs(gdp->num_N[0] - 30320.00) < 1e-9); /* Beijing's real figure kept */
    gravrd_frame_free(f);

    size_t len;
    snprintf(path, sizeof path, "%s/truth.json", dir);
    char *truth = slurp(path, &len);
    assert_non_null(truth);
    assert_non_null(strstr(truth, "\"seed\": 1,"));
    assert_non_null(strstr(truth, "\"partner_w2e\": 0.1,"));
    assert_non_null(strstr(truth, "gsl_rng_mt19937"));
    assert_non_null(strstr(truth, "\"n_flow_rows\": 57420,"));
    free(truth);
}

static void test_deterministic(void **state)
{
    (void)state;
    char d1[512], d2[512], d3[512], path[600];
    gravrd_sim_params p;
    gravrd_error err;
    small_params(&p, 2);
    p.seed = 42;
    path_in(d1, sizeof d1, "same1", NULL);
    path_in(d2, sizeof d2, "same2", NULL);
    path_in(d3, sizeof d3, "other", NULL);
    assert_int_equal(gravrd_sim_write(&p, d1, 0, &err), GRAVRD_OK);
    assert_int_equal(gravrd_sim_write(&p, d2, 0, &err), GRAVRD_OK);
    p.seed = 43;
    assert_int_equal(gravrd_sim_write(&p, d3, 0, &err), GRAVRD_OK);
    for (size_t i = 0; i < 5; i++) {
        size_t n1, n2, n3;
        snprintf(path, sizeof path, "%s/%s", d1, files[i]);
        char *a = slurp(path, &n1);
        snprintf(path, sizeof path, "%s/%s", d2, files[i]);
        char *b = slurp(path, &n2);
        snprintf(path, sizeof path, "%s/%s", d3, files[i]);
        char *c = slurp(path, &n3);
        assert_non_null(a);
        assert_non_null(b);
        assert_non_null(c);
        assert_true(n1 == n2 && memcmp(a, b, n1) == 0);
        if (strcmp(files[i], "partnerships.csv") != 0) /* the real pairs do not depend on the seed */
            assert_false(n1 == n3 && memcmp(a, c, n1) == 0);
        free(a);
        free(b);
        free(c);
    }
}

static void test_refuses_nonempty(void **state)
{
    (void)state;
    char dir[512], path[600];
    gravrd_sim_params p;
    gravrd_error err;
    small_params(&p, 1);
    path_in(dir, sizeof dir, "occupied", NULL);
    assert_int_equal(mkdir(dir, 0777), 0);
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    write_text(path, "mine\n");
    assert_int_equal(gravrd_sim_write(&p, dir, 0, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "not empty"));
    assert_int_equal(count_entries(dir, NULL), 1);
    assert_int_equal(count_entries(tmp_root, ".occupied"), 0);
    /* with force: our files are written, the user's file stays */
    assert_int_equal(gravrd_sim_write(&p, dir, 1, &err), GRAVRD_OK);
    assert_int_equal(count_entries(dir, NULL), 6);
    assert_int_equal(access(path, R_OK), 0);
    /* an empty existing folder is fine */
    path_in(dir, sizeof dir, "empty", NULL);
    assert_int_equal(mkdir(dir, 0777), 0);
    assert_int_equal(gravrd_sim_write(&p, dir, 0, &err), GRAVRD_OK);
    assert_int_equal(count_entries(dir, NULL), 5);
    /* a file in the way */
    path_in(dir, sizeof dir, "plainfile", NULL);
    write_text(dir, "x");
    assert_int_equal(gravrd_sim_write(&p, dir, 1, &err), GRAVRD_ERR_INVALID);
}

static void test_bad_geography(void **state)
{
    (void)state;
    char cities[512], parts[512], dir[512];
    gravrd_sim_params p;
    gravrd_error err;
    small_params(&p, 1);
    path_in(cities, sizeof cities, "cities_small.csv", NULL);
    write_text(cities, "city_id,name_en,province_en,region,lat,lng,population_2020_10k,gdp_2018_100m_yuan\n"
                       "1,Alpha,Zhejiang,east,30.0,120.0,500,6000\n"
                       "2,Beta,Zhejiang,east,29.5,119.5,300,\n"
                       "3,Gamma,Sichuan,west,30.6,104.0,1000,\n"
                       "4,Delta,Sichuan,west,29.0,103.5,200,800\n");
    path_in(parts, sizeof parts, "parts_bad.csv", NULL);
    p.cities_path = cities;
    p.partnerships_path = parts;
    path_in(dir, sizeof dir, "geo_out", NULL);

    write_text(parts, "east_city_id,west_city_id\n1,3\n2,99\n");
    assert_int_equal(gravrd_sim_write(&p, dir, 0, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "parts_bad.csv:3"));
    assert_non_null(strstr(err.message, "99"));
    assert_int_equal(access(dir, F_OK), -1); /* nothing written */

    write_text(parts, "east_city_id,west_city_id\n1,3\n2,4\n1,3\n");
    assert_int_equal(gravrd_sim_write(&p, dir, 0, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "parts_bad.csv:4"));
    assert_non_null(strstr(err.message, "duplicated"));

    write_text(parts, "east_city_id,west_city_id\n3,1\n");
    assert_int_equal(gravrd_sim_write(&p, dir, 0, &err), GRAVRD_ERR_DATA);

    write_text(cities, "city_id,name_en,province_en,region,lat,lng,population_2020_10k,gdp_2018_100m_yuan\n"
                       "1,Alpha,Zhejiang,east,30.0,120.0,500,6000\n"
                       "1,Beta,Sichuan,west,29.5,104.5,300,\n");
    write_text(parts, "east_city_id,west_city_id\n");
    assert_int_equal(gravrd_sim_write(&p, dir, 0, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "cities_small.csv:3"));
    assert_int_equal(access(dir, F_OK), -1);

    /* a tiny valid world: 2 east x 2 west x 2 directions x 1 month */
    write_text(cities, "city_id,name_en,province_en,region,lat,lng,population_2020_10k,gdp_2018_100m_yuan\n"
                       "1,Alpha,Zhejiang,east,30.0,120.0,500,6000\n"
                       "2,Beta,Zhejiang,east,29.5,119.5,300,\n"
                       "3,Gamma,Sichuan,west,30.6,104.0,1000,\n"
                       "4,Delta,Sichuan,west,29.0,103.5,200,800\n");
    write_text(parts, "east_city_id,west_city_id\n1,3\n");
    gravrd_frame *f = NULL;
    assert_int_equal(gravrd_sim_flows_frame(&p, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, 8);
    gravrd_frame_free(f);
}

/* ---- the command line ------------------------------------------------------------ */

static int run_cli(const char *args, int *stderr_lines)
{
    char cmd[2048], errpath[600];
    path_in(errpath, sizeof errpath, "cli_stderr.txt", NULL);
    snprintf(cmd, sizeof cmd, "'%s' simulate %s >/dev/null 2>'%s'", GRAVRD_CLI_PATH, args, errpath);
    int rc = system(cmd);
    size_t len = 0;
    char *text = slurp(errpath, &len);
    *stderr_lines = 0;
    for (size_t i = 0; text && i < len; i++)
        *stderr_lines += text[i] == '\n';
    free(text);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_cli_bad_input(void **state)
{
    (void)state;
    char dir[512], args[1200];
    int lines;
    path_in(dir, sizeof dir, "cli_out", NULL);
    const char *bad[] = {"--months -5", "--months abc", "--bogus-effect 1", "--partner-w2e x",
                         "--start 2017-1", "--seed", "extra_arg"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(args, sizeof args, "--out '%s' %s", dir, bad[i]);
        assert_int_equal(run_cli(args, &lines), 2);
        assert_int_equal(lines, 1);
        assert_int_equal(access(dir, F_OK), -1);
    }
    assert_int_equal(run_cli("--months 2", &lines), 2); /* no --out */
    /* a good run, then the same folder again without --force */
    snprintf(args, sizeof args, "--out '%s' --months 1 --seed 3 --partner-w2e 0.2", dir);
    assert_int_equal(run_cli(args, &lines), 0);
    char truth[600];
    path_in(truth, sizeof truth, "cli_out", "truth.json");
    size_t len;
    char *t = slurp(truth, &len);
    assert_non_null(t);
    assert_non_null(strstr(t, "\"partner_w2e\": 0.2,"));
    assert_non_null(strstr(t, "\"seed\": 3,"));
    free(t);
    assert_int_equal(run_cli(args, &lines), 2);
    assert_int_equal(lines, 1);
    snprintf(args, sizeof args, "--out '%s' --months 1 --force", dir);
    assert_int_equal(run_cli(args, &lines), 0);
}

/* ---- recovery -------------------------------------------------------------------------- */

static double coef_of(const gravrd_reg_result *r, const char *name, double *se)
{
    for (int k = 0; k < r->n_coef; k++)
        if (!strcmp(r->coefs[k].name, name)) {
            *se = r->coefs[k].se;
            return r->coefs[k].estimate;
        }
    fail_msg("coefficient %s not found", name);
    return NAN;
}

static void reg_w(const gravrd_frame *f, const char *formula, const char *subset, const char *coef,
                  double *est, double *se, double *df)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.subset = subset;
    opt.cluster = "exp_city^imp_city";
    gravrd_reg_results *res = NULL;
    gravrd_error err;
    gravrd_status st = gravrd_reg(f, formula, &opt, &res, &err);
    if (st)
        fail_msg("gravrd_reg: %s", err.message);
    *est = coef_of(&res->results[0], coef, se);
    *df = res->results[0].t_df;
    gravrd_reg_results_free(res);
}

static void test_recovery(void **state)
{
    (void)state;
    gravrd_sim_params p;
    gravrd_error err;
    small_params(&p, 12);
    gravrd_frame *f = NULL;
    assert_int_equal(gravrd_sim_flows_frame(&p, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, (size_t)19140 * 12);
    double b, se, df;
    /* the distance elasticity, east to west (no mediator depends on distance there) */
    reg_w(f, "log(trade) ~ log(distance_km) | exp_city^month + imp_city^month", "direction == \"e2w\"",
          "log(distance_km)", &b, &se, &df);
    double crit = gsl_cdf_tdist_Pinv(0.975, df);
    assert_true(se > 0 && se < 0.05);
    if (fabs(b - p.distance_elasticity) > crit * se)
        fail_msg("distance elasticity %.4f (se %.4f) misses the planted %.2f", b, se, p.distance_elasticity);
    /* the gravity partner estimate, w2e, on the default world */
    double g_def, g_se;
    reg_w(f, "log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month",
          "direction == \"w2e\"", "partner", &g_def, &g_se, &df);
    gravrd_frame_free(f);

    /* same seed without the affinity: the estimate covers the planted 0.10, and
     * (common random numbers) the difference is the affinity's bias */
    p.affinity_w2e = 0;
    assert_int_equal(gravrd_sim_flows_frame(&p, &f, &err), GRAVRD_OK);
    double g0, g0_se;
    reg_w(f, "log(trade) ~ partner + log(distance_km) | exp_city^month + imp_city^month",
          "direction == \"w2e\"", "partner", &g0, &g0_se, &df);
    gravrd_frame_free(f);
    crit = gsl_cdf_tdist_Pinv(0.975, df);
    if (fabs(g0 - 0.10) > crit * g0_se)
        fail_msg("w2e partner %.4f (se %.4f) misses the planted 0.10", g0, g0_se);
    /* bias of the default affinity on this geography: 0.0157 (truth.json) */
    if (fabs((g_def - g0) - 0.0157) > 0.006)
        fail_msg("affinity bias %.4f, expected about 0.0157", g_def - g0);
}

/* ---- --scale and lean frames ------------------------------------------------------ */

static size_t distinct_ids(const gravrd_column *c, size_t n)
{
    int32_t *codes = malloc(n * sizeof *codes);
    int32_t ng = 0;
    gravrd_error err;
    assert_non_null(codes);
    assert_int_equal(gravrd_column_group_codes(c, n, codes, &ng, NULL, &err), GRAVRD_OK);
    free(codes);
    return (size_t)ng;
}

static void test_scale_and_columns(void **state)
{
    (void)state;
    gravrd_sim_params p;
    gravrd_error err;
    small_params(&p, 2);
    assert_int_equal(p.scale, 1);
    assert_int_equal(gravrd_sim_param_set(&p, "scale", "0", &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_sim_param_set(&p, "scale", "1.5", &err), GRAVRD_ERR_INVALID);
    gravrd_frame *one = NULL, *full = NULL, *lean = NULL;
    assert_int_equal(gravrd_sim_flows_frame(&p, &one, &err), GRAVRD_OK);
    assert_int_equal(gravrd_sim_param_set(&p, "scale", "2", &err), GRAVRD_OK);
    assert_int_equal(gravrd_sim_flows_frame(&p, &full, &err), GRAVRD_OK);
    /* twice the cities on each side: four times the directed pairs */
    assert_int_equal(full->n_rows, 4 * one->n_rows);
    assert_int_equal(distinct_ids(gravrd_frame_find(full, "exp_city"), full->n_rows),
                     2 * distinct_ids(gravrd_frame_find(one, "exp_city"), one->n_rows));
    /* the lean frame: only the columns asked for, in flows.csv order, same values */
    const char *names[] = {"trade", "month", "exp_city"};
    assert_int_equal(gravrd_sim_flows_frame_columns(&p, names, 3, &lean, &err), GRAVRD_OK);
    assert_int_equal(lean->n_cols, 3);
    assert_string_equal(lean->cols[0].name, "exp_city");
    assert_string_equal(lean->cols[1].name, "month");
    assert_string_equal(lean->cols[2].name, "trade");
    assert_int_equal(lean->n_rows, full->n_rows);
    const gravrd_column *a = gravrd_frame_find(lean, "trade"), *b = gravrd_frame_find(full, "trade");
    assert_memory_equal(a->num_N, b->num_N, full->n_rows * sizeof(double));
    a = gravrd_frame_find(lean, "month");
    b = gravrd_frame_find(full, "month");
    assert_memory_equal(a->codes_N, b->codes_N, full->n_rows * sizeof(int32_t));
    gravrd_frame_free(lean);
    lean = NULL;
    const char *bad[] = {"trade", "tarde"};
    assert_int_equal(gravrd_sim_flows_frame_columns(&p, bad, 2, &lean, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "tarde"));
    assert_null(lean);
    gravrd_frame_free(one);
    gravrd_frame_free(full);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_set),
        cmocka_unit_test(test_params_file),
        cmocka_unit_test(test_write_contents),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_refuses_nonempty),
        cmocka_unit_test(test_bad_geography),
        cmocka_unit_test(test_cli_bad_input),
        cmocka_unit_test(test_recovery),
        cmocka_unit_test(test_scale_and_columns),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
