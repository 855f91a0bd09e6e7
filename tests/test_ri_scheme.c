/* test_ri_scheme.c - the study's placebo partnerships (gravrd_study_ri_*):
 * each eastern program city keeps its number of partners, drawn among the
 * western program cities (program) or those of its real partners'
 * provinces (province); draws depend on (seed, draw) only; the draw
 * function gives both directions of a pair the pair's value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/study.h"
#include "support/testutil.h"

/* East 1-5 (EA, EB), west 6-12: WA = 6, 7, 8; WB = 9, 10; WC = 11, 12.
 * Partnerships 1-6, 1-7, 2-9, 3-11, 4-8: east 5 is not in the program,
 * west 10 and 12 neither. */
static const char cities_csv[] = "city_id,province_en,region,lat,lng\n"
                                 "1,EA,east,30.0,120.0\n2,EA,east,30.5,120.5\n3,EB,east,25.0,118.0\n"
                                 "4,EB,east,25.5,118.5\n5,EB,east,26.0,119.0\n"
                                 "6,WA,west,28.0,105.0\n7,WA,west,28.5,105.5\n8,WA,west,29.0,106.0\n"
                                 "9,WB,west,24.0,102.0\n10,WB,west,24.5,102.5\n"
                                 "11,WC,west,35.0,100.0\n12,WC,west,35.5,100.5\n";
static const char partnerships_csv[] = "east_city,west_city\n1,6\n1,7\n2,9\n3,11\n4,8\n";
enum { NE = 5, NW = 7 };

static gravrd_study *load(char **dir)
{
    *dir = testutil_tempdir();
    free(testutil_write_temp(*dir, "cities.csv", cities_csv));
    free(testutil_write_temp(*dir, "partnerships.csv", partnerships_csv));
    gravrd_study *s = NULL;
    gravrd_error err = {0};
    if (gravrd_study_load(*dir, 100.0, &s, &err))
        fail_msg("%s", err.message);
    return s;
}

/* Every east-west pair in both directions: 2 x 35 rows. */
static gravrd_frame *pair_rows(void)
{
    gravrd_frame *f = gravrd_frame_new(2 * NE * NW, "pairs");
    double *e = malloc(2 * NE * NW * sizeof *e), *i = malloc(2 * NE * NW * sizeof *i);
    for (int a = 0; a < NE; a++)
        for (int b = 0; b < NW; b++) {
            int r = a * NW + b;
            e[r] = a + 1;
            i[r] = NE + b + 1;
            e[NE * NW + r] = NE + b + 1;
            i[NE * NW + r] = a + 1;
        }
    gravrd_frame_add_numeric(f, "exp_city", e, NULL);
    gravrd_frame_add_numeric(f, "imp_city", i, NULL);
    return f;
}

static void check_scheme(gravrd_ri_scheme scheme)
{
    char *dir;
    gravrd_study *s = load(&dir);
    gravrd_frame *f = pair_rows();
    gravrd_study_ri *ri = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_study_ri_new(s, f, scheme, 3, &ri, &err), GRAVRD_OK);
    static const int degree[NE] = {2, 1, 1, 1, 0};
    static const int program_west[NW] = {1, 1, 1, 1, 0, 1, 0};
    /* west ranks allowed under the province scheme, per east city */
    static const int province_ok[NE][NW] = {
        {1, 1, 1, 0, 0, 0, 0}, {0, 0, 0, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 1, 0}, {1, 1, 1, 0, 0, 0, 0}, {0}};
    long count[NE][NW] = {{0}};
    const long D = 3000;
    uint8_t P[NE * NW], Q[NE * NW];
    size_t rows[2 * NE * NW];
    double values[2 * NE * NW];
    for (size_t r = 0; r < 2 * NE * NW; r++)
        rows[r] = r;
    int differ = 0;
    for (long d = 0; d < D; d++) {
        assert_int_equal(gravrd_study_ri_assign(ri, d, P), 0);
        assert_int_equal(gravrd_study_ri_assign(ri, d, Q), 0);
        assert_memory_equal(P, Q, sizeof P); /* a draw is a function of (seed, draw) */
        for (int a = 0; a < NE; a++) {
            int k = 0;
            for (int b = 0; b < NW; b++) {
                k += P[a * NW + b];
                count[a][b] += P[a * NW + b];
                if (P[a * NW + b]) {
                    assert_true(program_west[b]);
                    if (scheme == GRAVRD_RI_PROVINCE)
                        assert_true(province_ok[a][b]);
                }
            }
            assert_int_equal(k, degree[a]);
        }
        if (d > 0) {
            assert_int_equal(gravrd_study_ri_assign(ri, d - 1, Q), 0);
            differ |= memcmp(P, Q, sizeof P) != 0;
        }
        if (d < 5) {
            assert_int_equal(gravrd_study_ri_draw(ri, d, rows, 2 * NE * NW, values), 0);
            for (int r = 0; r < NE * NW; r++) {
                assert_true(values[r] == P[r]);
                assert_true(values[NE * NW + r] == P[r]); /* west to east follows the pair */
            }
        }
    }
    assert_true(differ);
    /* Uniform among the eligible: east 2's one partner */
    int n_ok = 0;
    for (int b = 0; b < NW; b++)
        n_ok += scheme == GRAVRD_RI_PROVINCE ? province_ok[1][b] : program_west[b];
    for (int b = 0; b < NW; b++) {
        int ok = scheme == GRAVRD_RI_PROVINCE ? province_ok[1][b] : program_west[b];
        double share = (double)count[1][b] / (double)D;
        assert_true(fabs(share - (ok ? 1.0 / n_ok : 0.0)) < 0.04);
    }
    /* another seed, other draws */
    gravrd_study_ri *ri2 = NULL;
    assert_int_equal(gravrd_study_ri_new(s, f, scheme, 4, &ri2, &err), GRAVRD_OK);
    int any = 0;
    for (long d = 0; d < 20 && !any; d++) {
        gravrd_study_ri_assign(ri, d, P);
        gravrd_study_ri_assign(ri2, d, Q);
        any = memcmp(P, Q, sizeof P) != 0;
    }
    assert_true(any);
    gravrd_study_ri_free(ri2);
    gravrd_study_ri_free(ri);
    gravrd_frame_free(f);
    gravrd_study_free(s);
    testutil_rmdir(dir);
}

static void test_program_scheme(void **state)
{
    (void)state;
    check_scheme(GRAVRD_RI_PROGRAM);
}

static void test_province_scheme(void **state)
{
    (void)state;
    check_scheme(GRAVRD_RI_PROVINCE);
}

/* A row whose cities are not one eastern and one western city of the study. */
static void test_bad_rows(void **state)
{
    (void)state;
    char *dir;
    gravrd_study *s = load(&dir);
    gravrd_frame *f = gravrd_frame_new(2, "flows.csv");
    double *e = malloc(2 * sizeof *e), *i = malloc(2 * sizeof *i);
    e[0] = 1;
    i[0] = 6;
    e[1] = 1;
    i[1] = 2;
    gravrd_frame_add_numeric(f, "exp_city", e, NULL);
    gravrd_frame_add_numeric(f, "imp_city", i, NULL);
    gravrd_study_ri *ri = NULL;
    gravrd_error err = {0};
    assert_int_not_equal(gravrd_study_ri_new(s, f, GRAVRD_RI_PROGRAM, 1, &ri, &err), GRAVRD_OK);
    assert_null(ri);
    assert_non_null(strstr(err.message, "flows.csv: data row 2"));
    gravrd_frame_free(f);
    gravrd_study_free(s);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_program_scheme),
        cmocka_unit_test(test_province_scheme),
        cmocka_unit_test(test_bad_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
