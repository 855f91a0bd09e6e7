/* test_match.c - spatial matching: counts on a hand-built geography, a
 * control pair appearing once per match, the stacked frame on a small
 * study folder, and bad input. */
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

#include "gravrd/data.h"
#include "gravrd/match.h"
#include "gravrd/study.h"
#include "support/clirun.h"
#include "support/testutil.h"

/* Eight cities near the equator (0.1 degree of latitude ~ 11.1 km):
 *   east (province 0): E0 (0, 0), E1 (0.5, 0) 55.6 km from E0, E2 (3, 0) far away
 *   east (province 1): E3 (0.3, 0), 33 km from E0 and 22 km from E1
 *   west (province 2): W0 (0, 10), W1 (0.6, 10) 66.7 km from W0,
 *                      W2 (0, 10.4) 44.5 km from W0 and 80 km from W1, W3 (5, 10) far away
 * Partnerships: E0-W0, E1-W2, E2-W3 (both directions treated). */
enum { E0, E1, E2, E3, W0, W1, W2, W3, NC };
static const double LAT[NC] = {0, 0.5, 3, 0.3, 0, 0.6, 0, 5};
static const double LNG[NC] = {0, 0, 0, 0, 10, 10, 10.4, 10};
static const int32_t PROV[NC] = {0, 0, 0, 1, 2, 2, 2, 2};

/* All 32 directed east-west pairs: e2w (east exporter) first, then w2e. */
static int32_t EXP[32], IMP[32];
static uint8_t TREATED[32];

static int is_partner(int a, int b)
{
    return (a == E0 && b == W0) || (a == W0 && b == E0) || (a == E1 && b == W2) || (a == W2 && b == E1) ||
           (a == E2 && b == W3) || (a == W3 && b == E2);
}

static void make_pairs(void)
{
    int p = 0;
    for (int e = E0; e <= E3; e++)
        for (int w = W0; w <= W3; w++, p++) {
            EXP[p] = e;
            IMP[p] = w;
            TREATED[p] = (uint8_t)is_partner(e, w);
        }
    for (int w = W0; w <= W3; w++)
        for (int e = E0; e <= E3; e++, p++) {
            EXP[p] = w;
            IMP[p] = e;
            TREATED[p] = (uint8_t)is_partner(w, e);
        }
}

static int32_t pair_of(int a, int b)
{
    for (int p = 0; p < 32; p++)
        if (EXP[p] == a && IMP[p] == b)
            return p;
    return -1;
}

/* The controls of the match whose treated pair is (a, b), as a sorted list. */
static size_t controls_of(const gravrd_match_sample *s, int a, int b, int32_t *out)
{
    int32_t t = pair_of(a, b);
    size_t n = 0;
    for (size_t e = 0; e < s->n; e++) {
        int32_t m = s->match_M[e];
        if (s->treated_pair_T[m] == t && !s->treated_M[e])
            out[n++] = s->pair_M[e];
    }
    return n;
}

static void test_hand_built_counts(void **state)
{
    (void)state;
    make_pairs();
    gravrd_geo geo = {NC, LAT, LNG, PROV};
    gravrd_pair_list pl = {32, EXP, IMP, TREATED};
    gravrd_error err = {0};
    gravrd_match_sample *s = NULL;
    assert_int_equal(gravrd_match_build(&geo, &pl, 100, &s, &err), GRAVRD_OK);
    assert_int_equal((int)s->n_treated, 6);
    assert_int_equal((int)s->n_matches, 4);   /* E2-W3 has no neighbour on either side */
    assert_int_equal((int)s->n_unmatched, 2);
    assert_int_equal((int)s->n_control_entries, 16);
    assert_int_equal((int)s->n_distinct_controls, 8);
    assert_int_equal((int)s->max_controls, 4);
    assert_int_equal((int)s->n, 20);

    /* E0 -> W0: k in {E0, E1} (E3 is in another province), l in {W0, W1, W2};
     * E1 -> W2 is treated, so it is not a control */
    int32_t c[32];
    size_t n = controls_of(s, E0, W0, c);
    assert_int_equal((int)n, 4);
    int32_t want[] = {pair_of(E0, W1), pair_of(E0, W2), pair_of(E1, W0), pair_of(E1, W1)};
    for (int k = 0; k < 4; k++)
        assert_int_equal(c[k], want[k]);
    /* E1 -> W2 has the same four controls: each appears once in each match */
    n = controls_of(s, E1, W2, c);
    assert_int_equal((int)n, 4);
    for (int k = 0; k < 4; k++)
        assert_int_equal(c[k], want[k]);
    /* within a match no pair appears twice, and the treated pair comes first */
    for (size_t e = 0; e < s->n; e++) {
        if (e == 0 || s->match_M[e] != s->match_M[e - 1]) {
            assert_int_equal(s->treated_M[e], 1);
            assert_int_equal(s->pair_M[e], s->treated_pair_T[s->match_M[e]]);
        } else
            assert_int_equal(s->treated_M[e], 0);
        for (size_t f = e + 1; f < s->n && s->match_M[f] == s->match_M[e]; f++)
            assert_true(s->pair_M[f] != s->pair_M[e]);
        assert_false(s->treated_M[e] == 0 && TREATED[s->pair_M[e]]);
    }
    /* matches follow the pair list: E0->W0, E1->W2, then W0->E0, W2->E1 */
    assert_int_equal(s->treated_pair_T[0], pair_of(E0, W0));
    assert_int_equal(s->treated_pair_T[1], pair_of(E1, W2));
    assert_int_equal(s->treated_pair_T[2], pair_of(W0, E0));
    assert_int_equal(s->treated_pair_T[3], pair_of(W2, E1));
    gravrd_match_sample_free(s);

    /* 50 km: E1 drops out of E0's neighbourhood, W1 out of W0's */
    assert_int_equal(gravrd_match_build(&geo, &pl, 50, &s, &err), GRAVRD_OK);
    n = controls_of(s, E0, W0, c);
    assert_int_equal((int)n, 1);
    assert_int_equal(c[0], pair_of(E0, W2));
    n = controls_of(s, E1, W2, c);
    assert_int_equal((int)n, 1);
    assert_int_equal(c[0], pair_of(E1, W0));
    assert_int_equal((int)s->n_control_entries, 4);
    gravrd_match_sample_free(s);

    /* across provinces, E3 joins both east neighbourhoods */
    geo.group_C = NULL;
    assert_int_equal(gravrd_match_build(&geo, &pl, 100, &s, &err), GRAVRD_OK);
    n = controls_of(s, E0, W0, c);
    assert_int_equal((int)n, 7);
    assert_int_equal((int)s->n_control_entries, 28);
    assert_int_equal((int)s->n_distinct_controls, 14);
    gravrd_match_sample_free(s);
}

static void test_bad_input(void **state)
{
    (void)state;
    make_pairs();
    gravrd_geo geo = {NC, LAT, LNG, PROV};
    gravrd_pair_list pl = {32, EXP, IMP, TREATED};
    gravrd_error err = {0};
    gravrd_match_sample *s = NULL;
    assert_int_equal(gravrd_match_build(&geo, &pl, 0, &s, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_match_build(&geo, &pl, NAN, &s, &err), GRAVRD_ERR_INVALID);
    int32_t exp2[32], imp2[32];
    memcpy(exp2, EXP, sizeof exp2);
    memcpy(imp2, IMP, sizeof imp2);
    exp2[5] = exp2[4];
    imp2[5] = imp2[4];
    gravrd_pair_list dup = {32, exp2, imp2, TREATED};
    assert_int_equal(gravrd_match_build(&geo, &dup, 100, &s, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "twice"));
    exp2[5] = 99;
    assert_int_equal(gravrd_match_build(&geo, &dup, 100, &s, &err), GRAVRD_ERR_INVALID);
    assert_null(s);
}

/* ---- the stacked frame on a study folder ---- */

static char *write_study(void)
{
    char *dir = testutil_tempdir();
    assert_non_null(dir);
    char buf[8192];
    int len = snprintf(buf, sizeof buf, "city_id,name_en,province_en,region,lat,lng\n");
    static const char *const prov[] = {"P0", "P1", "P2"};
    for (int c = 0; c < NC; c++)
        len += snprintf(buf + len, sizeof buf - (size_t)len, "%d,C%d,%s,%s,%.4f,%.4f\n", c + 1, c, prov[PROV[c]],
                        c <= E3 ? "east" : "west", LAT[c], LNG[c]);
    free(testutil_write_temp(dir, "cities.csv", buf));
    snprintf(buf, sizeof buf, "east_city,west_city\n%d,%d\n%d,%d\n%d,%d\n", E0 + 1, W0 + 1, E1 + 1, W2 + 1, E2 + 1,
             W3 + 1);
    free(testutil_write_temp(dir, "partnerships.csv", buf));
    len = snprintf(buf, sizeof buf, "exp_city,imp_city,month,trade\n");
    for (int p = 0; p < 32; p++)
        for (int m = 1; m <= 2; m++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%d,%d,2017-0%d,%d\n", EXP[p] + 1, IMP[p] + 1, m,
                            100 * p + m);
    free(testutil_write_temp(dir, "flows.csv", buf));
    return dir;
}

static void test_match_frame(void **state)
{
    (void)state;
    make_pairs();
    char *dir = write_study();
    gravrd_error err = {0};
    gravrd_study *study = NULL;
    assert_int_equal(gravrd_study_load(dir, 100, &study, &err), GRAVRD_OK);
    char *path = testutil_path(dir, "flows.csv");
    gravrd_frame *flows = NULL;
    assert_int_equal(gravrd_csv_read(path, NULL, &flows, &err), GRAVRD_OK);
    gravrd_match_options opt = {100, 0};
    gravrd_match_summary sum;
    gravrd_frame *m = NULL;
    assert_int_equal(gravrd_match_frame(study, flows, &opt, &m, &sum, &err), GRAVRD_OK);
    assert_int_equal((int)sum.n_pairs, 32);
    assert_int_equal((int)sum.n_matches, 4);
    assert_int_equal((int)sum.n_unmatched, 2);
    assert_int_equal((int)sum.n_control_entries, 16);
    assert_int_equal((int)sum.n_rows_in, 64);
    assert_int_equal((int)sum.n_rows_out, 40); /* 20 entries x 2 months */
    assert_int_equal((int)m->n_rows, 40);
    const gravrd_column *id = gravrd_frame_find(m, "match_id"), *tr = gravrd_frame_find(m, "match_treated");
    const gravrd_column *ex = gravrd_frame_find(m, "exp_city"), *im = gravrd_frame_find(m, "imp_city");
    const gravrd_column *trade = gravrd_frame_find(m, "trade"), *month = gravrd_frame_find(m, "month");
    assert_non_null(id);
    assert_non_null(tr);
    assert_non_null(month);
    assert_int_equal(month->type, GRAVRD_COL_FACTOR);
    /* the first match: E0 -> W0 (ids 1 -> 5), its 2 months, then the controls */
    assert_true(id->num_N[0] == 1 && tr->num_N[0] == 1 && ex->num_N[0] == 1 && im->num_N[0] == 5);
    assert_true(trade->num_N[1] == 100 * pair_of(E0, W0) + 2);
    double treated_rows = 0;
    int rows_e0w1 = 0;
    for (size_t r = 0; r < m->n_rows; r++) {
        treated_rows += tr->num_N[r];
        if (ex->num_N[r] == E0 + 1 && im->num_N[r] == W1 + 1) {
            rows_e0w1++;
            assert_true(id->num_N[r] == 1 || id->num_N[r] == 2); /* once in each of the two matches */
        }
        if (r)
            assert_true(id->num_N[r] >= id->num_N[r - 1]);
    }
    assert_true(treated_rows == 8);
    assert_int_equal(rows_e0w1, 4);
    gravrd_frame_free(m);

    /* a flow whose city is not in the study */
    free(testutil_write_temp(dir, "bad.csv", "exp_city,imp_city,month,trade\n1,5,2017-01,1\n42,5,2017-01,1\n"));
    char *bad = testutil_path(dir, "bad.csv");
    gravrd_frame *bf = NULL;
    assert_int_equal(gravrd_csv_read(bad, NULL, &bf, &err), GRAVRD_OK);
    assert_int_equal(gravrd_match_frame(study, bf, &opt, &m, NULL, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "bad.csv"));
    assert_non_null(strstr(err.message, "line 3"));
    assert_non_null(strstr(err.message, "42"));
    gravrd_frame_free(bf);
    free(bad);

    gravrd_frame_free(flows);
    free(path);
    gravrd_study_free(study);
    testutil_rmdir(dir);
}


/* ---- the command ---- */

static void test_match_command(void **state)
{
    (void)state;
    make_pairs();
    char *dir = write_study();
    char args[2048];
    snprintf(args, sizeof args, "match --study %s --bandwidth 100 --out %s/m.csv", dir, dir);
    cli_result r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "treated pairs                                 6"));
    assert_non_null(strstr(r.out, "rows: 64 in the flows, 40 in the matched sample"));
    cli_result_free(&r);
    char *csv = testutil_path(dir, "m.csv");
    gravrd_frame *m = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_csv_read(csv, NULL, &m, &err), GRAVRD_OK);
    assert_int_equal((int)m->n_rows, 40);
    assert_non_null(gravrd_frame_find(m, "match_id"));
    assert_non_null(gravrd_frame_find(m, "pair"));
    assert_non_null(gravrd_frame_find(m, "partner"));
    gravrd_frame_free(m);
    free(csv);
    snprintf(args, sizeof args, "match --study %s --format json --cross-province", dir);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"control_entries\":28"));
    assert_non_null(strstr(r.out, "\"unmatched\":2,"));
    assert_non_null(strstr(r.out, "\"same_province\":false"));
    cli_result_free(&r);
    /* reg --match on the stacked sample */
    snprintf(args, sizeof args,
             "reg %s/flows.csv 'trade ~ partner | exp_city^month + imp_city^month' --study %s --match 100 "
             "--cluster pair --keep-singletons --format json",
             dir, dir);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "matched sample within 100 km: 4 matches"));
    assert_non_null(strstr(r.out, "\"nobs\":40"));
    cli_result_free(&r);
    snprintf(args, sizeof args, "match --study %s --bandwidth 0", dir);
    cli_expect_error(dir, args, "--bandwidth", 1);
    snprintf(args, sizeof args, "match --study %s --bogus", dir);
    cli_expect_error(dir, args, "--bogus", 1);
    snprintf(args, sizeof args, "match --study %s %s/missing.csv", dir, dir);
    cli_expect_error(dir, args, "missing.csv", 1);
    snprintf(args, sizeof args, "reg %s/flows.csv 'trade ~ partner' --match 100", dir);
    cli_expect_error(dir, args, "--match needs --study", 1);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_built_counts),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_match_frame),
        cmocka_unit_test(test_match_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
