/* test_study.c - the study frame: every derived variable on a hand-built
 * study whose answers are worked out by hand (segments, partner, control
 * types, segment-pair counts, dialect, GDP gap, migration, month dummies),
 * medians over cities, only the requested columns, independence of row
 * order, the bad-input rules, gravrd_reg_variables, and on a simulated
 * world: control-type counts, agreement with the simulator's own columns,
 * recovery of a planted effect by the spatial RD, and balance. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "gravrd/estimate.h"
#include "gravrd/sim.h"
#include "gravrd/spatial.h"
#include "gravrd/study.h"
#include "support/clirun.h"
#include "support/testutil.h"

/* ---- the hand-built study ----
 *
 * East: 1, 2 (province EA, 48 km apart), 3, 8 (EB, 30 km apart).
 * West: 4, 5 (WA, 39 km apart), 6, 7 (WB, 30 km apart).
 * Segments at 100 km: {1,2}=0, {3,8}=1, {4,5}=2, {6,7}=3.
 * Partnerships: 1-4, 2-5, 3-6. In the program: east 1,2,3; west 4,5,6.
 * Cities are written out of id order on purpose. */
static const char cities_csv[] =
    "city_id,name_en,province_en,region,lat,lng,gdp_per_capita_10k_yuan,minority_share,dialect_zone\n"
    "8,H,EB,east,25.0,118.3,7,4,Min\n"
    "1,A,EA,east,30.0,120.0,10,1,Wu\n"
    "2,B,EA,east,30.0,120.5,8,2,Wu\n"
    "3,C,EB,east,25.0,118.0,6,3,Min\n"
    "4,D,WA,west,28.0,105.0,4,30,Wu\n"
    "5,E,WA,west,28.0,105.4,3,10,SW\n"
    "6,F,WB,west,24.0,102.0,2,50,SW\n"
    "7,G,WB,west,24.0,102.3,5,,SW\n";
static const char partnerships_csv[] = "east_city,west_city,confidence\n1,4,high\n2,5,high\n3,6,low\n";
static const char migration_csv[] = "east_city,west_city,distance_km,partner,pre_cny_mean\n1,4,0,1,0.5\n2,5,0,1,0.25\n8,7,0,0,0.1\n";

static const int east_ids[] = {1, 2, 3, 8}, west_ids[] = {4, 5, 6, 7};
static const char *const months[] = {"2019-12", "2020-01", "2021-02"};

static int hand_partner(int e, int w) { return (e == 1 && w == 4) || (e == 2 && w == 5) || (e == 3 && w == 6); }
static int hand_segment(int id)
{
    return id == 1 || id == 2 ? 0 : id == 3 || id == 8 ? 1 : id == 4 || id == 5 ? 2 : 3;
}
static int hand_control_type(int e, int w)
{
    if (hand_partner(e, w))
        return 0;
    int ie = e != 8, iw = w != 7;
    return !ie && !iw ? 1 : ie && !iw ? 2 : !ie && iw ? 3 : 4;
}
static int hand_treated_in_segpair(int e, int w)
{
    int n = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            n += hand_partner(east_ids[a], west_ids[b]) && hand_segment(east_ids[a]) == hand_segment(e) &&
                 hand_segment(west_ids[b]) == hand_segment(w);
    return n;
}
static double hand_gdppc(int id)
{
    static const double v[9] = {0, 10, 8, 6, 4, 3, 2, 5, 7};
    return v[id];
}
static double hand_minority(int id)
{
    static const double v[9] = {0, 1, 2, 3, 30, 10, 50, NAN, 4};
    return v[id];
}
static int hand_dialect(int id) /* 0 Wu, 1 Min, 2 SW */
{
    static const int v[9] = {0, 0, 0, 1, 0, 2, 2, 2, 1};
    return v[id];
}
static double hand_migration(int e, int w)
{
    return e == 1 && w == 4 ? 0.5 : e == 2 && w == 5 ? 0.25 : e == 8 && w == 7 ? 0.1 : NAN;
}
static const double hand_lat[9] = {0, 30.0, 30.0, 25.0, 28.0, 28.0, 24.0, 24.0, 25.0};
static const double hand_lng[9] = {0, 120.0, 120.5, 118.0, 105.0, 105.4, 102.0, 102.3, 118.3};

/* flows: every directed east-west pair x 3 months; a wrong partner column
 * (all 0) that the study must replace. Row order: reversed pairs first. */
static char *flows_text(const char *extra_row)
{
    size_t cap = 1 << 14, len = 0;
    char *s = malloc(cap);
    len += (size_t)snprintf(s + len, cap - len, "exp_city,imp_city,month,partner,trade\n");
    for (int dir = 1; dir >= 0; dir--)
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++)
                for (int m = 0; m < 3; m++) {
                    int exp = dir ? west_ids[b] : east_ids[a], imp = dir ? east_ids[a] : west_ids[b];
                    len += (size_t)snprintf(s + len, cap - len, "%d,%d,%s,0,%d\n", exp, imp, months[m],
                                            100 * exp + imp + m);
                }
    if (extra_row)
        len += (size_t)snprintf(s + len, cap - len, "%s\n", extra_row);
    return s;
}

typedef struct {
    char *dir;
} fixture;

static void write_study(const char *dir, const char *cities, const char *partnerships, const char *migration,
                        const char *flows)
{
    const char *names[] = {"cities.csv", "partnerships.csv", "migration.csv", "flows.csv"};
    const char *texts[] = {cities, partnerships, migration, flows};
    for (int k = 0; k < 4; k++) {
        if (!texts[k])
            continue;
        char *p = testutil_write_temp(dir, names[k], texts[k]);
        assert_non_null(p);
        free(p);
    }
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof *fx);
    fx->dir = testutil_tempdir();
    char *flows = flows_text(NULL);
    write_study(fx->dir, cities_csv, partnerships_csv, migration_csv, flows);
    free(flows);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;
    testutil_rmdir(fx->dir);
    free(fx);
    return 0;
}

static gravrd_frame *read_flows(const char *dir)
{
    char *p = testutil_path(dir, "flows.csv");
    gravrd_frame *f = NULL;
    gravrd_error err = {0};
    if (gravrd_csv_read(p, NULL, &f, &err))
        fail_msg("%s", err.message);
    free(p);
    return f;
}

static double num(const gravrd_frame *f, const char *name, size_t i)
{
    const gravrd_column *c = gravrd_frame_find(f, name);
    if (!c || c->type != GRAVRD_COL_NUMERIC)
        fail_msg("no numeric column %s", name);
    return c->num_N[i];
}

static void assert_same(double got, double want, const char *what, size_t row)
{
    if (isnan(want) ? !isnan(got) : !(fabs(got - want) <= 1e-9 * (1 + fabs(want))))
        fail_msg("%s at row %zu: got %.17g, want %.17g", what, row, got, want);
}

static void test_hand_frame(void **state)
{
    fixture *fx = *state;
    gravrd_error err = {0};
    gravrd_study *s = NULL;
    assert_int_equal(gravrd_study_load(fx->dir, 100, &s, &err), GRAVRD_OK);
    assert_int_equal(gravrd_study_n_cities(s), 8);
    assert_int_equal(gravrd_study_n_partnerships(s), 3);
    gravrd_frame *flows = read_flows(fx->dir);
    const char *names[] = {"partner", "distance", "e2w", "w2e", "pair", "ew_pair", "seg_exp", "seg_imp",
                           "seg_east", "seg_west", "control_type", "treated_in_segpair", "same_dialect", "gdp_diff",
                           "december", "spring_festival_month", "covid", "west_minority_share",
                           "exp_minority_share", "imp_gdp_per_capita_10k_yuan", "east_dialect_zone",
                           "pre_cny_mean", "trade", "no_such_variable", "partner"};
    const size_t n_names = sizeof names / sizeof names[0];
    gravrd_frame *f = NULL;
    assert_int_equal(gravrd_study_frame(s, flows, names, n_names, &f, &err), GRAVRD_OK);
    /* exp_city, imp_city, then each known name once, unknown skipped */
    assert_int_equal(f->n_cols, 2 + 23);
    assert_string_equal(f->cols[0].name, "exp_city");
    assert_string_equal(f->cols[1].name, "imp_city");
    assert_string_equal(f->cols[2].name, "partner");
    assert_null(gravrd_frame_find(f, "no_such_variable"));
    assert_null(gravrd_frame_find(f, "month")); /* not asked for */
    assert_string_equal(f->source, flows->source);
    const gravrd_column *dz = gravrd_frame_find(f, "east_dialect_zone");
    assert_int_equal(dz->type, GRAVRD_COL_FACTOR);
    const gravrd_column *mon = gravrd_frame_find(flows, "month");
    size_t counts[5] = {0};
    for (size_t i = 0; i < f->n_rows; i++) {
        int exp = (int)num(flows, "exp_city", i), imp = (int)num(flows, "imp_city", i);
        int e2w = exp == 1 || exp == 2 || exp == 3 || exp == 8;
        int e = e2w ? exp : imp, w = e2w ? imp : exp;
        const char *m = mon->levels_L[mon->codes_N[i]];
        assert_same(num(f, "partner", i), hand_partner(e, w), "partner", i);
        assert_same(num(f, "distance", i), gravrd_haversine_km(hand_lat[e], hand_lng[e], hand_lat[w], hand_lng[w]),
                    "distance", i);
        assert_same(num(f, "e2w", i), e2w, "e2w", i);
        assert_same(num(f, "w2e", i), !e2w, "w2e", i);
        assert_same(num(f, "seg_exp", i), hand_segment(exp), "seg_exp", i);
        assert_same(num(f, "seg_imp", i), hand_segment(imp), "seg_imp", i);
        assert_same(num(f, "seg_east", i), hand_segment(e), "seg_east", i);
        assert_same(num(f, "seg_west", i), hand_segment(w), "seg_west", i);
        assert_same(num(f, "control_type", i), hand_control_type(e, w), "control_type", i);
        counts[(int)num(f, "control_type", i)]++;
        assert_same(num(f, "treated_in_segpair", i), hand_treated_in_segpair(e, w), "treated_in_segpair", i);
        assert_same(num(f, "same_dialect", i), hand_dialect(e) == hand_dialect(w), "same_dialect", i);
        assert_same(num(f, "gdp_diff", i), hand_gdppc(e) - hand_gdppc(w), "gdp_diff", i);
        assert_same(num(f, "december", i), !strcmp(m, "2019-12"), "december", i);
        /* CNY: 2020-01-25 and 2021-02-12; 2019's was in February */
        assert_same(num(f, "spring_festival_month", i), strcmp(m, "2019-12") != 0, "spring_festival_month", i);
        assert_same(num(f, "covid", i), strcmp(m, "2019-12") != 0, "covid", i);
        assert_same(num(f, "west_minority_share", i), hand_minority(w), "west_minority_share", i);
        assert_same(num(f, "exp_minority_share", i), hand_minority(exp), "exp_minority_share", i);
        assert_same(num(f, "imp_gdp_per_capita_10k_yuan", i), hand_gdppc(imp), "imp_gdp", i);
        assert_string_equal(dz->levels_L[dz->codes_N[i]], hand_dialect(e) == 0 ? "Wu" : "Min");
        assert_same(num(f, "pre_cny_mean", i), hand_migration(e, w), "pre_cny_mean", i);
        assert_same(num(f, "trade", i), num(flows, "trade", i), "trade", i);
    }
    /* undirected 3 treated, 1 neither, 3 only east, 3 only west, 6 both;
     * x 2 directions x 3 months */
    assert_int_equal(counts[0], 3 * 6);
    assert_int_equal(counts[1], 1 * 6);
    assert_int_equal(counts[2], 3 * 6);
    assert_int_equal(counts[3], 3 * 6);
    assert_int_equal(counts[4], 6 * 6);
    /* pair: one id per directed pair, the same in every month; ew_pair: one
     * per undirected pair */
    for (size_t i = 0; i < f->n_rows; i++)
        for (size_t j = 0; j < f->n_rows; j++) {
            int same_dir = num(f, "exp_city", i) == num(f, "exp_city", j) && num(f, "imp_city", i) == num(f, "imp_city", j);
            int same_undir = same_dir || (num(f, "exp_city", i) == num(f, "imp_city", j) &&
                                          num(f, "imp_city", i) == num(f, "exp_city", j));
            assert_int_equal(num(f, "pair", i) == num(f, "pair", j), same_dir);
            assert_int_equal(num(f, "ew_pair", i) == num(f, "ew_pair", j), same_undir);
        }
    gravrd_frame_free(f);

    /* Only what is asked for: one flows column and one derived variable. */
    const char *two[] = {"trade", "seg_exp"};
    assert_int_equal(gravrd_study_frame(s, flows, two, 2, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_cols, 4);
    gravrd_frame_free(f);
    /* NULL: every flows column and every derived variable */
    assert_int_equal(gravrd_study_frame(s, flows, NULL, 0, &f, &err), GRAVRD_OK);
    char **all;
    size_t n_all;
    assert_int_equal(gravrd_study_variables(s, &all, &n_all, &err), GRAVRD_OK);
    /* 17 fixed + 4 prefixes x 9 city columns + pre_cny_mean */
    assert_int_equal(n_all, 17 + 4 * 9 + 1);
    for (size_t k = 0; k < n_all; k++)
        if (!gravrd_frame_find(f, all[k]))
            fail_msg("the full frame lacks %s", all[k]);
    assert_non_null(gravrd_frame_find(f, "month"));
    /* flows' partner (all 0) replaced by the study's */
    double treated = 0;
    for (size_t i = 0; i < f->n_rows; i++)
        treated += num(f, "partner", i);
    assert_int_equal((int)treated, 3 * 6);
    assert_int_equal(f->n_cols, n_all + 4); /* + exp_city, imp_city, month, trade */
    gravrd_strings_free(all, n_all);
    gravrd_frame_free(f);

    /* The pair frame: 16 rows, east-to-west, no months. */
    const char *pn[] = {"partner", "control_type", "seg_east", "december"};
    assert_int_equal(gravrd_study_pair_frame(s, NULL, pn, 3, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, 16);
    for (size_t i = 0; i < 16; i++) {
        int e = (int)num(f, "east_city", i), w = (int)num(f, "west_city", i);
        assert_int_equal(e, east_ids[i / 4]);
        assert_int_equal(w, west_ids[i % 4]);
        assert_same(num(f, "control_type", i), hand_control_type(e, w), "pair control_type", i);
    }
    gravrd_frame_free(f);
    assert_int_equal(gravrd_study_pair_frame(s, NULL, pn, 4, &f, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "month"));

    gravrd_frame_free(flows);
    gravrd_study_free(s);
}

/* Reversing the rows of cities.csv and of the flows changes no value. */
static void test_row_order(void **state)
{
    fixture *fx = *state;
    char *dir2 = testutil_tempdir();
    /* cities in reverse order: header, then the data lines last to first */
    size_t starts[16], n = 0, total = strlen(cities_csv);
    for (size_t k = 0; k < total; k++)
        if (k == 0 || cities_csv[k - 1] == '\n')
            starts[n++] = k;
    char *rev = malloc(total + 1);
    size_t len = 0;
    for (size_t k = 0; k < n; k++) {
        size_t line = k == 0 ? 0 : n - k, end = line + 1 < n ? starts[line + 1] : total;
        memcpy(rev + len, cities_csv + starts[line], end - starts[line]);
        len += end - starts[line];
    }
    rev[len] = '\0';
    assert_int_equal(len, total);
    write_study(dir2, rev, partnerships_csv, migration_csv, NULL);
    free(rev);
    gravrd_error err = {0};
    gravrd_study *s1, *s2;
    assert_int_equal(gravrd_study_load(fx->dir, 100, &s1, &err), GRAVRD_OK);
    assert_int_equal(gravrd_study_load(dir2, 100, &s2, &err), GRAVRD_OK);
    gravrd_frame *flows = read_flows(fx->dir), *f1, *f2;
    const char *names[] = {"pair", "ew_pair", "seg_exp", "seg_imp", "treated_in_segpair", "control_type"};
    assert_int_equal(gravrd_study_frame(s1, flows, names, 6, &f1, &err), GRAVRD_OK);
    assert_int_equal(gravrd_study_frame(s2, flows, names, 6, &f2, &err), GRAVRD_OK);
    for (size_t k = 0; k < 6; k++)
        for (size_t i = 0; i < f1->n_rows; i++)
            assert_same(num(f2, names[k], i), num(f1, names[k], i), names[k], i);
    /* flows reversed: row i of the reversed frame is row N-1-i */
    uint8_t keep_all[200];
    memset(keep_all, 1, sizeof keep_all);
    gravrd_frame *rf = gravrd_frame_filter(flows, keep_all);
    const size_t N = flows->n_rows;
    for (size_t j = 0; j < rf->n_cols; j++)
        for (size_t i = 0; i < N; i++) {
            if (rf->cols[j].type == GRAVRD_COL_NUMERIC)
                rf->cols[j].num_N[i] = flows->cols[j].num_N[N - 1 - i];
            else
                rf->cols[j].codes_N[i] = flows->cols[j].codes_N[N - 1 - i];
        }
    gravrd_frame *f3;
    assert_int_equal(gravrd_study_frame(s1, rf, names, 6, &f3, &err), GRAVRD_OK);
    for (size_t k = 0; k < 6; k++)
        for (size_t i = 0; i < N; i++)
            assert_same(num(f3, names[k], i), num(f1, names[k], N - 1 - i), names[k], i);
    gravrd_frame_free(f1);
    gravrd_frame_free(f2);
    gravrd_frame_free(f3);
    gravrd_frame_free(rf);
    gravrd_frame_free(flows);
    gravrd_study_free(s1);
    gravrd_study_free(s2);
    testutil_rmdir(dir2);
}

static void eval_on(const gravrd_study *s, const gravrd_frame *f, const char *text, double *out, gravrd_status want,
                    gravrd_error *err)
{
    gravrd_expr *e = NULL;
    assert_int_equal(gravrd_expr_parse(text, &e, err), GRAVRD_OK);
    gravrd_eval_env env;
    gravrd_study_env(s, &env);
    env.frame = f;
    gravrd_status st = gravrd_expr_eval(e, &env, out, err);
    if (st != want)
        fail_msg("%s: status %d (%s), wanted %d", text, st, err->message, want);
    gravrd_expr_free(e);
}

static void test_medians(void **state)
{
    fixture *fx = *state;
    gravrd_error err = {0};
    gravrd_study *s = NULL;
    assert_int_equal(gravrd_study_load(fx->dir, 100, &s, &err), GRAVRD_OK);
    gravrd_frame *flows = read_flows(fx->dir), *f;
    const char *names[] = {"west_minority_share", "exp_minority_share", "gdp_diff", "pre_cny_mean", "trade",
                           "east_name_en"};
    assert_int_equal(gravrd_study_frame(s, flows, names, 6, &f, &err), GRAVRD_OK);
    double *above = malloc(f->n_rows * sizeof *above), *below = malloc(f->n_rows * sizeof *below);
    /* western minority shares 30, 10, 50, NA: median over the three known
     * cities is 30 (not over rows, not including eastern cities) */
    eval_on(s, f, "above_median(west_minority_share)", above, GRAVRD_OK, &err);
    eval_on(s, f, "below_median(west_minority_share)", below, GRAVRD_OK, &err);
    for (size_t i = 0; i < f->n_rows; i++) {
        double x = num(f, "west_minority_share", i);
        assert_same(above[i], isnan(x) ? NAN : x > 30, "above west", i);
        assert_same(below[i], isnan(x) ? NAN : x < 30, "below west", i);
    }
    /* exporters: eastern ones against the eastern median (1,2,3,4 -> 2.5),
     * western ones against the western median (30) */
    eval_on(s, f, "above_median(exp_minority_share)", above, GRAVRD_OK, &err);
    for (size_t i = 0; i < f->n_rows; i++) {
        int exp = (int)num(f, "exp_city", i);
        double x = hand_minority(exp), t = exp <= 3 || exp == 8 ? 2.5 : 30;
        assert_same(above[i], isnan(x) ? NAN : x > t, "above exp", i);
    }
    /* pair characteristics: medians over the 16 east-west pairs */
    double gaps[16];
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 4; b++)
            gaps[4 * a + b] = hand_gdppc(east_ids[a]) - hand_gdppc(west_ids[b]);
    for (int a = 0; a < 16; a++) /* insertion sort */
        for (int b = a; b > 0 && gaps[b] < gaps[b - 1]; b--) {
            double t = gaps[b];
            gaps[b] = gaps[b - 1];
            gaps[b - 1] = t;
        }
    double med = 0.5 * (gaps[7] + gaps[8]);
    eval_on(s, f, "above_median(gdp_diff)", above, GRAVRD_OK, &err);
    for (size_t i = 0; i < f->n_rows; i++)
        assert_same(above[i], num(f, "gdp_diff", i) > med, "above gdp_diff", i);
    /* migration: median over the pairs that have a value (0.1, 0.25, 0.5) */
    eval_on(s, f, "above_median(pre_cny_mean)", above, GRAVRD_OK, &err);
    for (size_t i = 0; i < f->n_rows; i++) {
        double x = num(f, "pre_cny_mean", i);
        assert_same(above[i], isnan(x) ? NAN : x > 0.25, "above migration", i);
    }
    eval_on(s, f, "above_median(trade)", above, GRAVRD_ERR_INVALID, &err);
    assert_non_null(strstr(err.message, "not a city or pair characteristic"));
    eval_on(s, f, "above_median(log(gdp_diff))", above, GRAVRD_ERR_INVALID, &err);
    eval_on(s, f, "above_median(east_name_en)", above, GRAVRD_ERR_INVALID, &err);
    eval_on(s, f, "middle(gdp_diff)", above, GRAVRD_ERR_INVALID, &err);
    assert_non_null(strstr(err.message, "unknown function 'middle'"));
    free(above);
    free(below);
    gravrd_frame_free(f);
    gravrd_frame_free(flows);
    gravrd_study_free(s);
}

static void expect_load_error(const char *cities, const char *partnerships, const char *migration, double bw,
                              const char *needle)
{
    char *dir = testutil_tempdir();
    write_study(dir, cities, partnerships, migration, NULL);
    gravrd_error err = {0};
    gravrd_study *s = NULL;
    gravrd_status st = gravrd_study_load(dir, bw, &s, &err);
    if (st == GRAVRD_OK || !strstr(err.message, needle))
        fail_msg("wanted an error containing '%s', got %d: %s", needle, st, err.message);
    assert_null(s);
    testutil_rmdir(dir);
}

static char *replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    assert_non_null(at);
    size_t len = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out = malloc(len);
    snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

static void test_bad_input(void **state)
{
    fixture *fx = *state;
    char *t;
    expect_load_error(cities_csv, partnerships_csv, NULL, 0, "bandwidth must be a positive");
    expect_load_error(cities_csv, partnerships_csv, NULL, -3, "bandwidth must be a positive");
    t = replace(cities_csv, "3,C,EB,east,25.0,118.0", "3,C,EB,east,,118.0");
    expect_load_error(t, partnerships_csv, NULL, 100, "cities.csv:5: city_id 3 has no lat");
    free(t);
    t = replace(cities_csv, "3,C,EB,east,25.0,118.0", "3,C,EB,east,25.0,218.0");
    expect_load_error(t, partnerships_csv, NULL, 100, "cities.csv:5: city_id 3: lng 218 is outside [-180, 180]");
    free(t);
    t = replace(cities_csv, "3,C,EB,east", "3,C,EB,central");
    expect_load_error(t, partnerships_csv, NULL, 100, "cities.csv:5: city_id 3: region must be east or west");
    free(t);
    expect_load_error(cities_csv, "east_city,west_city\n1,4\n2,42\n", NULL, 100,
                      "partnerships.csv:3: west_city 42 is not in");
    expect_load_error(cities_csv, "east_city,west_city\n5,4\n", NULL, 100,
                      "partnerships.csv:2: east_city 5 is a western city");
    expect_load_error(cities_csv, "east_city,west_city\n1,4\n1,4\n", NULL, 100, "partnerships.csv:3: the partnership 1-4 appears twice");
    expect_load_error(cities_csv, "east,west\n1,4\n", NULL, 100, "no east_city (or east_city_id) column");
    expect_load_error(cities_csv, partnerships_csv, "east_city,west_city,x\n1,4,1\n9,4,2\n", 100,
                      "migration.csv:3: east_city 9 is not in");
    /* the data/ spelling of the id columns is accepted */
    char *dir = testutil_tempdir();
    write_study(dir, cities_csv, "east_city_id,west_city_id\n1,4\n", NULL, NULL);
    gravrd_error err = {0};
    gravrd_study *s = NULL;
    assert_int_equal(gravrd_study_load(dir, 100, &s, &err), GRAVRD_OK);
    assert_int_equal(gravrd_study_n_partnerships(s), 1);
    gravrd_study_free(s);
    testutil_rmdir(dir);

    /* flows whose pairs are not in the study */
    assert_int_equal(gravrd_study_load(fx->dir, 100, &s, &err), GRAVRD_OK);
    const char *names[] = {"partner"};
    struct {
        const char *row, *needle;
    } bad[] = {
        {"1,99,2020-01,0,5", "flows.csv: data row 97 (line 98): imp_city 99 is not a city of the study"},
        {"1,2,2020-01,0,5", "data row 97 (line 98): exp_city 1 and imp_city 2 are both eastern cities"},
        {",4,2020-01,0,5", "data row 97 (line 98): exp_city is missing"},
        {"1.5,4,2020-01,0,5", "exp_city 1.5 is not a city"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        dir = testutil_tempdir();
        char *flows = flows_text(bad[k].row);
        write_study(dir, NULL, NULL, NULL, flows);
        free(flows);
        gravrd_frame *f = read_flows(dir), *out = NULL;
        gravrd_status st = gravrd_study_frame(s, f, names, 1, &out, &err);
        if (st != GRAVRD_ERR_DATA || !strstr(err.message, bad[k].needle))
            fail_msg("row '%s': %d %s", bad[k].row, st, err.message);
        assert_null(out);
        gravrd_frame_free(f);
        testutil_rmdir(dir);
    }
    /* a month that is not YYYY-MM matters only when a month variable is built */
    dir = testutil_tempdir();
    char *flows = flows_text("1,4,Dec 2020,0,5");
    write_study(dir, NULL, NULL, NULL, flows);
    free(flows);
    gravrd_frame *f = read_flows(dir), *out = NULL;
    assert_int_equal(gravrd_study_frame(s, f, names, 1, &out, &err), GRAVRD_OK);
    gravrd_frame_free(out);
    const char *dec[] = {"december"};
    assert_int_equal(gravrd_study_frame(s, f, dec, 1, &out, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "data row 97 (line 98): month 'Dec 2020' is not YYYY-MM"));
    gravrd_frame_free(f);
    testutil_rmdir(dir);
    gravrd_study_free(s);
}

static void test_reg_variables(void **state)
{
    (void)state;
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "pair + exp_city";
    opt.subset = "w2e == 1 & distance < 500";
    opt.split = "e2w";
    char **names;
    size_t n;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg_variables("c(log(trade), log1p(deals)) ~ partner + partner:above_median(west_x) | "
                                          "exp_city^month + seg_exp^seg_imp",
                                          &opt, &names, &n, &err),
                     GRAVRD_OK);
    const char *want[] = {"trade", "deals", "partner", "west_x", "exp_city", "month", "seg_exp",
                          "seg_imp", "pair", "w2e", "distance", "e2w"};
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t k = 0; k < n; k++)
        assert_string_equal(names[k], want[k]);
    gravrd_strings_free(names, n);
    assert_int_equal(gravrd_reg_variables("y ~ x", NULL, &names, &n, &err), GRAVRD_OK);
    assert_int_equal(n, 2);
    gravrd_strings_free(names, n);
    assert_int_equal(gravrd_reg_variables("y ~ (x", NULL, &names, &n, &err), GRAVRD_ERR_PARSE);
    assert_null(names);
    opt.subset = "x >";
    assert_int_equal(gravrd_reg_variables("y ~ x", &opt, &names, &n, &err), GRAVRD_ERR_PARSE);
}

/* ---- the simulated world ---- */

static char *sim_dir(double partner_w2e, int months)
{
    char *dir = testutil_tempdir();
    char *world = testutil_path(dir, "world");
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    p.months = months;
    p.partner_w2e = partner_w2e;
    gravrd_error err = {0};
    if (gravrd_sim_write(&p, world, 0, &err))
        fail_msg("%s", err.message);
    free(dir); /* the world folder is removed by the caller via rm_world */
    return world;
}

static void rm_world(char *world)
{
    static const char *files[] = {"cities.csv", "partnerships.csv", "flows.csv", "migration.csv", "truth.json"};
    for (size_t k = 0; k < 5; k++) {
        char *p = testutil_path(world, files[k]);
        remove(p);
        free(p);
    }
    char *parent = strdup(world);
    *strrchr(parent, '/') = '\0';
    remove(world);
    free(world);
    testutil_rmdir(parent);
}

static void test_sim_world(void **state)
{
    (void)state;
    char *world = sim_dir(1.0, 4);
    gravrd_error err = {0};
    gravrd_study *s = NULL;
    assert_int_equal(gravrd_study_load(world, 100, &s, &err), GRAVRD_OK);
    gravrd_study_geo g;
    gravrd_study_geography(s, &g);
    assert_int_equal(g.n, 197);
    size_t n_e = 0, n_w = 0, in_e = 0, in_w = 0;
    for (size_t i = 0; i < g.n; i++) {
        n_e += g.west_N[i] == 0;
        n_w += g.west_N[i] == 1;
        in_e += g.west_N[i] == 0 && g.in_program_N[i];
        in_w += g.west_N[i] == 1 && g.in_program_N[i];
    }
    assert_int_equal(n_e, 87);
    assert_int_equal(n_w, 110);

    /* Control types over directed pairs: one month of the flows. */
    char *path = testutil_path(world, "flows.csv");
    gravrd_frame *flows = NULL, *f = NULL;
    assert_int_equal(gravrd_csv_read(path, NULL, &flows, &err), GRAVRD_OK);
    free(path);
    const char *names[] = {"control_type", "partner", "distance", "treated_in_segpair", "seg_exp", "seg_imp",
                           "month", "distance_km"};
    assert_int_equal(gravrd_study_frame(s, flows, names, 8, &f, &err), GRAVRD_OK);
    size_t counts[5] = {0}, rows = 0;
    const gravrd_column *mon = gravrd_frame_find(f, "month");
    const gravrd_column *flow_partner = gravrd_frame_find(flows, "partner");
    for (size_t i = 0; i < f->n_rows; i++) {
        /* the study's partner and distance agree with the simulator's
         * columns (which use R = 6371.0 km and round to 0.1 km) */
        assert_same(num(f, "partner", i), flow_partner->num_N[i], "partner vs flows", i);
        double d = num(f, "distance", i) * 6371.0 / GRAVRD_EARTH_RADIUS_KM;
        assert_true(fabs(d - num(f, "distance_km", i)) <= 0.05 + 1e-6);
        if (strcmp(mon->levels_L[mon->codes_N[i]], "2017-01"))
            continue;
        counts[(int)num(f, "control_type", i)]++;
        rows++;
        if (num(f, "partner", i) == 1)
            assert_true(num(f, "treated_in_segpair", i) >= 1);
    }
    assert_int_equal(rows, 19140);
    assert_int_equal(counts[0] + counts[1] + counts[2] + counts[3] + counts[4], 19140);
    assert_int_equal(counts[0], 2 * gravrd_study_n_partnerships(s));
    assert_int_equal(counts[1], 2 * (n_e - in_e) * (n_w - in_w));
    assert_int_equal(counts[2], 2 * in_e * (n_w - in_w));
    assert_int_equal(counts[3], 2 * (n_e - in_e) * in_w);
    assert_int_equal(counts[4], 2 * in_e * in_w - counts[0]);
    /* the numbers docs/study-frame.md reports for data/partnerships.csv */
    assert_int_equal(counts[0], 190);
    assert_int_equal(counts[1], 2508);
    assert_int_equal(counts[2], 4104);
    assert_int_equal(counts[3], 4752);
    assert_int_equal(counts[4], 7586);
    gravrd_frame_free(f);

    /* treated_in_segpair by brute force on the pair frame */
    const char *pn[] = {"treated_in_segpair", "partner", "seg_east", "seg_west"};
    assert_int_equal(gravrd_study_pair_frame(s, NULL, pn, 4, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, 9570);
    const double *tr = gravrd_frame_find(f, "treated_in_segpair")->num_N, *pa = gravrd_frame_find(f, "partner")->num_N,
                 *se = gravrd_frame_find(f, "seg_east")->num_N, *sw = gravrd_frame_find(f, "seg_west")->num_N;
    double max_tr = 0;
    size_t treated_rows[200], n_treated = 0;
    for (size_t j = 0; j < f->n_rows; j++)
        if (pa[j] == 1)
            treated_rows[n_treated++] = j;
    assert_int_equal(n_treated, 95);
    for (size_t i = 0; i < f->n_rows; i++) {
        int c = 0;
        for (size_t k = 0; k < n_treated; k++)
            c += se[treated_rows[k]] == se[i] && sw[treated_rows[k]] == sw[i];
        assert_int_equal((int)tr[i], c);
        if (tr[i] > max_tr)
            max_tr = tr[i];
    }
    assert_true(max_tr >= 2); /* some segment pairs hold several treated pairs */
    gravrd_frame_free(f);

    /* The spatial RD recovers a planted effect of 1.0 west to east, 0 east to west. */
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "pair";
    opt.split = "w2e";
    gravrd_eval_env env;
    gravrd_study_env(s, &env);
    opt.env = &env;
    const char *formula = "log(trade) ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp";
    char **vn;
    size_t n_vn;
    assert_int_equal(gravrd_reg_variables(formula, &opt, &vn, &n_vn, &err), GRAVRD_OK);
    assert_int_equal(gravrd_study_frame(s, flows, (const char *const *)vn, n_vn, &f, &err), GRAVRD_OK);
    gravrd_strings_free(vn, n_vn);
    gravrd_reg_results *res = NULL;
    if (gravrd_reg(f, formula, &opt, &res, &err))
        fail_msg("%s", err.message);
    assert_int_equal(res->n, 2);
    assert_string_equal(res->results[1].sample, "w2e=1");
    assert_string_equal(res->results[1].coefs[0].name, "partner");
    double w2e = res->results[1].coefs[0].estimate, e2w = res->results[0].coefs[0].estimate;
    assert_true(fabs(w2e - 1.0) < 0.2);
    assert_true(fabs(e2w) < 0.2);
    assert_string_equal(res->results[1].fe_names[2], "seg_exp^seg_imp");
    gravrd_reg_results_free(res);
    gravrd_frame_free(f);
    gravrd_frame_free(flows);

    /* Balance: the model without FE uses every pair; one model per bandwidth. */
    double bws[] = {50, 100};
    const char *vars[] = {"west_minority_share"};
    gravrd_balance_options bo = {bws, 2, 1, vars, 1, GRAVRD_VCOV_HETERO};
    assert_int_equal(gravrd_study_balance(s, &bo, &res, &err), GRAVRD_OK);
    assert_int_equal(res->n, 3);
    assert_string_equal(res->results[0].sample, "no segment FE");
    assert_string_equal(res->results[2].sample, "segment pairs, 100 km");
    assert_int_equal(res->results[0].nobs, 9570);
    assert_string_equal(res->results[0].coefs[1].name, "log(distance)");
    assert_string_equal(res->results[0].coefs[2].name, "gdp_diff");
    assert_string_equal(res->results[0].coefs[3].name, "west_minority_share");
    assert_int_equal(res->results[0].wald_df1, 3);
    for (int j = 0; j < 3; j++)
        assert_true(res->results[j].wald_p >= 0 && res->results[j].wald_p <= 1);
    assert_true(res->results[1].nobs < res->results[2].nobs); /* fewer singletons at 100 km */
    assert_string_equal(res->results[2].fe_names[0], "seg_east^seg_west");
    gravrd_reg_results_free(res);
    double bad_bw[] = {0};
    bo.bandwidths_km = bad_bw;
    bo.n_bandwidths = 1;
    assert_int_equal(gravrd_study_balance(s, &bo, &res, &err), GRAVRD_ERR_INVALID);
    gravrd_study_free(s);
    rm_world(world);
}

/* ---- the commands ---- */

static void test_cli(void **state)
{
    fixture *fx = *state;
    char args[2048];
    char *tmp = testutil_tempdir();
    snprintf(args, sizeof args,
             "reg %s/flows.csv 'trade ~ partner + control_type | seg_exp^seg_imp' --study %s --format csv", fx->dir,
             fx->dir);
    cli_result r = cli_run(tmp, args);
    if (r.status != 0)
        fail_msg("%s", r.err);
    assert_non_null(strstr(r.out, "trade,all,partner,"));
    cli_result_free(&r);
    /* a different bandwidth changes the segments: at 10 km every city is alone */
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ december | seg_exp^seg_imp' --study %s --bandwidth 10",
             fx->dir, fx->dir);
    r = cli_run(tmp, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "seg_exp^seg_imp: 32"));
    cli_result_free(&r);
    /* randomization inference over placebo partnerships */
    snprintf(args, sizeof args,
             "reg %s/flows.csv 'trade ~ partner | seg_exp^seg_imp' --study %s --cluster pair --ri partner --ri-reps 20 "
             "--format json --ri-out %s/ri.csv",
             fx->dir, fx->dir, tmp);
    r = cli_run(tmp, args);
    if (r.status != 0)
        fail_msg("%s", r.err);
    assert_non_null(strstr(r.out, "\"ri\":{\"scheme\":\"program\",\"reps\":20,\"seed\":1,"));
    cli_result_free(&r);
    {
        char path[1024];
        snprintf(path, sizeof path, "%s/ri.csv", tmp);
        size_t len = 0;
        char *csv = testutil_read_file(path, &len);
        assert_non_null(csv);
        int lines = 0;
        for (size_t k = 0; k < len; k++)
            lines += csv[k] == '\n';
        assert_int_equal(lines, 21);
        assert_true(!strncmp(csv, "outcome,sample,term,draw,estimate,t\ntrade,all,partner,1,", 54));
        free(csv);
    }
    snprintf(args, sizeof args,
             "reg %s/flows.csv 'trade ~ partner | seg_exp^seg_imp' --study %s --cluster pair --ri partner --ri-reps 9 "
             "--ri-scheme province --ri-seed 5",
             fx->dir, fx->dir);
    r = cli_run(tmp, args);
    if (r.status != 0)
        fail_msg("%s", r.err);
    assert_non_null(strstr(r.out, "Randomization inference (province scheme, 9 reassignments, seed 5): partner   p = "));
    cli_result_free(&r);
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ partner' --study %s --ri distance", fx->dir, fx->dir);
    cli_expect_error(tmp, args, "--ri: 'distance' is not the study's partnership indicator", 1);
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ december' --study %s --ri partner --ri-reps 5", fx->dir,
             fx->dir);
    cli_expect_error(tmp, args, "--ri: 'partner' is not an estimated coefficient of the model", 1);
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ partner' --study %s --bandwidth 0", fx->dir, fx->dir);
    cli_expect_error(tmp, args, "--bandwidth must be a positive number", 1);
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ partner' --bandwidth 50", fx->dir);
    cli_expect_error(tmp, args, "--bandwidth needs --study", 1);
    char *flows = flows_text("4,99,2020-01,0,5");
    char *bad = testutil_write_temp(tmp, "badflows.csv", flows);
    free(flows);
    snprintf(args, sizeof args, "reg %s 'trade ~ partner' --study %s", bad, fx->dir);
    cli_expect_error(tmp, args, "badflows.csv: data row 97 (line 98): imp_city 99 is not a city of the study", 1);
    free(bad);
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ above_median(trade)' --study %s", fx->dir, fx->dir);
    cli_expect_error(tmp, args, "not a city or pair characteristic", 1);
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ partner' --study %s/nowhere", fx->dir, fx->dir);
    cli_expect_error(tmp, args, "cities.csv", 1);

    snprintf(args, sizeof args, "balance --study %s --bandwidth 100 --vars 'west_minority_share' --vcov iid", fx->dir);
    r = cli_run(tmp, args);
    if (r.status != 0)
        fail_msg("%s", r.err);
    assert_non_null(strstr(r.out, "joint Wald F"));
    assert_non_null(strstr(r.out, "west_minority_share"));
    assert_non_null(strstr(r.out, "segment pairs, 100 km"));
    cli_result_free(&r);
    snprintf(args, sizeof args, "balance --study %s --format json", fx->dir);
    r = cli_run(tmp, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"sample\":\"no segment FE\""));
    cli_result_free(&r);
    snprintf(args, sizeof args, "balance --study %s --bandwidth 100,-1", fx->dir);
    cli_expect_error(tmp, args, "bandwidth '-1' is not a positive number", 1);
    snprintf(args, sizeof args, "balance --study %s --vcov cluster", fx->dir);
    cli_expect_error(tmp, args, "--vcov must be hetero or iid", 1);
    testutil_rmdir(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_frame),
        cmocka_unit_test(test_row_order),
        cmocka_unit_test(test_medians),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_reg_variables),
        cmocka_unit_test(test_sim_world),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
