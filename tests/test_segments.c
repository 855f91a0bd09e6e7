/* test_segments.c - haversine distances and complete-linkage segments:
 * hand-built examples with known answers (including the id tie rule), the
 * properties every cut must have on the real geography (diameter at most the
 * bandwidth, never across provinces, no two segments mergeable), row-order
 * independence, and `gravrd segments` output and bad input. */
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

#include "gravrd/spatial.h"
#include "gravrd/study.h"
#include "support/clirun.h"
#include "support/testutil.h"

#define CITIES_CSV GRAVRD_SOURCE_DIR "/data/cities.csv"

/* ---- distances ---- */

static void test_haversine(void **state)
{
    (void)state;
    const double deg = GRAVRD_EARTH_RADIUS_KM * 3.14159265358979323846 / 180.0; /* 111.195 km */
    assert_float_equal(gravrd_haversine_km(0, 0, 0, 1), deg, 1e-9);
    assert_float_equal(gravrd_haversine_km(0, 0, 1, 0), deg, 1e-9);
    assert_float_equal(gravrd_haversine_km(10, 20, 10, 20), 0.0, 0.0);
    /* pole to pole: half the circumference */
    assert_float_equal(gravrd_haversine_km(90, 0, -90, 0), GRAVRD_EARTH_RADIUS_KM * 3.14159265358979323846, 1e-6);
    /* Beijing - Shanghai (data/cities.csv coordinates): about 1,067 km */
    double d = gravrd_haversine_km(39.9042, 116.4074, 31.2304, 121.4737);
    assert_true(d > 1060 && d < 1075);
    /* exactly symmetric, so ties cannot depend on argument order */
    assert_true(gravrd_haversine_km(39.9042, 116.4074, 31.2304, 121.4737) ==
                gravrd_haversine_km(31.2304, 121.4737, 39.9042, 116.4074));
    /* across the antimeridian */
    assert_float_equal(gravrd_haversine_km(0, 179.5, 0, -179.5), deg, 1e-6);
}

/* ---- hand-built examples ---- */

/* Cities on the equator at whole-degree longitudes: distances between them
 * are exact multiples computed from identical inputs, so equal gaps give
 * bit-identical distances and exercise the tie rule. */
static void run_line(size_t n, const int64_t *ids, const double *lng_deg, const int32_t *group, double bw_deg,
                     int32_t *seg, int32_t *n_seg)
{
    double lat[16] = {0};
    gravrd_error err = {0};
    double bw = gravrd_haversine_km(0, 0, 0, bw_deg);
    assert_int_equal(gravrd_segments(n, ids, lat, lng_deg, group, bw, seg, n_seg, &err), GRAVRD_OK);
}

static void test_known_complete_linkage(void **state)
{
    (void)state;
    int32_t seg[8], n_seg;
    /* 0, 18, 30, 48 degrees, cut at 30: 18-30 merge first (12); then
     * {18,30} is at complete-linkage distance 30 from both 0 and 48 (a
     * tie), and the pair with the smaller ids merges: {0,18,30}, {48}.
     * Single linkage would chain all four (gaps <= 18). */
    const double lng[] = {0, 18, 30, 48};
    const int64_t ids[] = {1, 2, 3, 4};
    run_line(4, ids, lng, NULL, 30, seg, &n_seg);
    assert_int_equal(n_seg, 2);
    assert_int_equal(seg[0], 0);
    assert_int_equal(seg[1], 0);
    assert_int_equal(seg[2], 0);
    assert_int_equal(seg[3], 1);
    /* Same places, ids reversed: now {18,30} + 48 holds the smaller ids
     * (ids 1, 2, 3), so the tie goes the other way: {0}, {18,30,48}.
     * Segment 0 is the one holding the smallest id (1, at 48 degrees). */
    const int64_t rev[] = {4, 3, 2, 1};
    run_line(4, rev, lng, NULL, 30, seg, &n_seg);
    assert_int_equal(n_seg, 2);
    assert_int_equal(seg[0], 1);
    assert_int_equal(seg[1], 0);
    assert_int_equal(seg[2], 0);
    assert_int_equal(seg[3], 0);

    /* 0, 10, 35, 45 cut at 40: {0,10} and {35,45} (both at 10), then the
     * two clusters are 45 apart: two segments, where single linkage (gap
     * 25) would make one of diameter 45. */
    const double lng2[] = {0, 10, 35, 45};
    run_line(4, ids, lng2, NULL, 40, seg, &n_seg);
    assert_int_equal(n_seg, 2);
    assert_true(seg[0] == seg[1] && seg[2] == seg[3] && seg[0] != seg[2]);

    /* A cut exactly at a merge height includes it (<=). */
    const double lng3[] = {0, 7};
    run_line(2, ids, lng3, NULL, 7, seg, &n_seg);
    assert_int_equal(n_seg, 1);
    /* ... and just below it does not. */
    gravrd_error err = {0};
    double lat[2] = {0, 0};
    assert_int_equal(gravrd_segments(2, ids, lat, lng3, NULL, nextafter(gravrd_haversine_km(0, 0, 0, 7), 0), seg,
                                     &n_seg, &err),
                     GRAVRD_OK);
    assert_int_equal(n_seg, 2);

    /* Groups are never merged, however close: 0 and 1 degree in different
     * provinces, 2 in the first. */
    const double lng4[] = {0, 1, 2};
    const int32_t grp[] = {5, 9, 5};
    run_line(3, ids, lng4, grp, 10, seg, &n_seg);
    assert_int_equal(n_seg, 2);
    assert_true(seg[0] == seg[2] && seg[0] != seg[1]);
    assert_int_equal(seg[0], 0); /* holds id 1 */
}

static void test_bad_arguments(void **state)
{
    (void)state;
    const int64_t ids[] = {1, 2, 2};
    double lat[] = {0, 0, 0}, lng[] = {0, 1, 2};
    int32_t seg[3], n_seg;
    gravrd_error err = {0};
    assert_int_equal(gravrd_segments(3, ids, lat, lng, NULL, 100, seg, &n_seg, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "city id 2 appears twice"));
    const int64_t ok[] = {1, 2, 3};
    assert_int_equal(gravrd_segments(3, ok, lat, lng, NULL, 0, seg, &n_seg, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_segments(3, ok, lat, lng, NULL, -5, seg, &n_seg, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_segments(3, ok, lat, lng, NULL, NAN, seg, &n_seg, &err), GRAVRD_ERR_INVALID);
    lat[1] = 91;
    assert_int_equal(gravrd_segments(3, ok, lat, lng, NULL, 100, seg, &n_seg, &err), GRAVRD_ERR_DATA);
    assert_non_null(strstr(err.message, "city 2"));
    lat[1] = NAN;
    assert_int_equal(gravrd_segments(3, ok, lat, lng, NULL, 100, seg, &n_seg, &err), GRAVRD_ERR_DATA);
    lat[1] = 0;
    lng[2] = -180.5;
    assert_int_equal(gravrd_segments(3, ok, lat, lng, NULL, 100, seg, &n_seg, &err), GRAVRD_ERR_DATA);

    double *bw;
    size_t n;
    assert_int_equal(gravrd_parse_bandwidths("50,75.5,100", &bw, &n, &err), GRAVRD_OK);
    assert_int_equal(n, 3);
    assert_float_equal(bw[1], 75.5, 0);
    free(bw);
    assert_int_equal(gravrd_parse_bandwidths("50,,100", &bw, &n, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_parse_bandwidths("50,abc", &bw, &n, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "'abc'"));
    assert_int_equal(gravrd_parse_bandwidths("0", &bw, &n, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_parse_bandwidths("-100", &bw, &n, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_parse_bandwidths("inf", &bw, &n, &err), GRAVRD_ERR_INVALID);
}

/* ---- properties on the real geography ---- */

static void check_cut(const gravrd_cities *c, const int32_t *group, double bw, const int32_t *seg, int32_t n_seg)
{
    /* Numbered 0..n_seg-1 in order of each segment's smallest id. */
    int64_t *min_id = malloc((size_t)n_seg * sizeof *min_id);
    for (int32_t s = 0; s < n_seg; s++)
        min_id[s] = INT64_MAX;
    for (size_t i = 0; i < c->n; i++) {
        assert_true(seg[i] >= 0 && seg[i] < n_seg);
        if (c->id_N[i] < min_id[seg[i]])
            min_id[seg[i]] = c->id_N[i];
    }
    for (int32_t s = 1; s < n_seg; s++)
        assert_true(min_id[s - 1] < min_id[s]);
    free(min_id);
    /* Diameter within, never across groups, and the cut is complete: two
     * segments of one group are more than bw apart in complete linkage
     * (otherwise they would have been merged). */
    double *link = calloc((size_t)n_seg * n_seg, sizeof *link);
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = i + 1; j < c->n; j++) {
            double d = gravrd_haversine_km(c->lat_N[i], c->lng_N[i], c->lat_N[j], c->lng_N[j]);
            if (seg[i] == seg[j]) {
                assert_true(d <= bw);
                if (group)
                    assert_int_equal(group[i], group[j]);
            }
            size_t a = (size_t)seg[i], b = (size_t)seg[j];
            if (d > link[a * n_seg + b])
                link[a * n_seg + b] = link[b * n_seg + a] = d;
        }
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = 0; j < c->n; j++) {
            if (seg[i] == seg[j] || (group && group[i] != group[j]))
                continue;
            assert_true(link[(size_t)seg[i] * n_seg + seg[j]] > bw);
        }
    free(link);
}

static void test_real_geography_properties(void **state)
{
    (void)state;
    gravrd_cities *c = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_cities_read(CITIES_CSV, GRAVRD_CITIES_NEED_PROVINCE | GRAVRD_CITIES_NEED_REGION, &c, &err),
                     GRAVRD_OK);
    assert_int_equal(c->n, 197);
    int32_t *seg = malloc(c->n * sizeof *seg);
    const double bws[] = {25, 50, 75, 100, 125, 150, 300};
    int32_t prev = (int32_t)c->n + 1;
    for (size_t b = 0; b < sizeof bws / sizeof bws[0]; b++) {
        int32_t n_seg;
        assert_int_equal(gravrd_segments(c->n, c->id_N, c->lat_N, c->lng_N, c->province_N, bws[b], seg, &n_seg, &err),
                         GRAVRD_OK);
        check_cut(c, c->province_N, bws[b], seg, n_seg);
        assert_true(n_seg <= prev); /* coarser with the bandwidth */
        prev = n_seg;
        size_t *counts, max_size, total = 0, cities = 0;
        assert_int_equal(gravrd_segment_size_counts(c->n, seg, n_seg, &counts, &max_size, &err), GRAVRD_OK);
        assert_int_equal(counts[0], 0);
        for (size_t s = 1; s <= max_size; s++) {
            total += counts[s];
            cities += s * counts[s];
        }
        assert_int_equal(total, (size_t)n_seg);
        assert_int_equal(cities, c->n);
        assert_true(counts[max_size] > 0);
        free(counts);
        /* Without provinces: still a complete cut, never coarser in count. */
        int32_t n_none;
        int32_t *none = malloc(c->n * sizeof *none);
        assert_int_equal(gravrd_segments(c->n, c->id_N, c->lat_N, c->lng_N, NULL, bws[b], none, &n_none, &err),
                         GRAVRD_OK);
        check_cut(c, NULL, bws[b], none, n_none);
        free(none);
    }
    free(seg);
    gravrd_cities_free(c);
}

static void test_row_order_independent(void **state)
{
    (void)state;
    gravrd_cities *c = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_cities_read(CITIES_CSV, GRAVRD_CITIES_NEED_PROVINCE, &c, &err), GRAVRD_OK);
    const size_t n = c->n;
    int32_t *seg = malloc(n * sizeof *seg), *seg2 = malloc(n * sizeof *seg2), *prov2 = malloc(n * sizeof *prov2);
    int64_t *id2 = malloc(n * sizeof *id2);
    double *lat2 = malloc(n * sizeof *lat2), *lng2 = malloc(n * sizeof *lng2);
    size_t *perm = malloc(n * sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    uint64_t x = 88172645463325252ull;
    for (int trial = 0; trial < 5; trial++) {
        for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates with xorshift */
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t j = (size_t)(x % (i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t i = 0; i < n; i++) {
            id2[i] = c->id_N[perm[i]];
            lat2[i] = c->lat_N[perm[i]];
            lng2[i] = c->lng_N[perm[i]];
            prov2[i] = c->province_N[perm[i]];
        }
        for (int by = 0; by < 2; by++) {
            int32_t n1, n2;
            assert_int_equal(gravrd_segments(n, c->id_N, c->lat_N, c->lng_N, by ? c->province_N : NULL, 100, seg, &n1,
                                             &err),
                             GRAVRD_OK);
            assert_int_equal(gravrd_segments(n, id2, lat2, lng2, by ? prov2 : NULL, 100, seg2, &n2, &err), GRAVRD_OK);
            assert_int_equal(n1, n2);
            for (size_t i = 0; i < n; i++)
                assert_int_equal(seg2[i], seg[perm[i]]);
        }
    }
    free(seg);
    free(seg2);
    free(prov2);
    free(id2);
    free(lat2);
    free(lng2);
    free(perm);
    gravrd_cities_free(c);
}

/* ---- the command ---- */

static void test_cli(void **state)
{
    (void)state;
    char *dir = testutil_tempdir();
    char args[1024];
    /* Four cities: two close ones in province A (50 km apart), one near them
     * in province B, one far away. */
    const char *good = "city_id,province_en,lat,lng\n"
                       "7,A,30.0,110.0\n"
                       "3,A,30.0,110.52\n"
                       "5,B,30.0,110.3\n"
                       "9,A,35.0,110.0\n";
    char *p = testutil_write_temp(dir, "cities.csv", good);
    snprintf(args, sizeof args, "segments %s --bandwidth 60 --format csv", p);
    cli_result r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    /* rows in id order; segments numbered by smallest id: {3,7}=0, {5}=1, {9}=2 */
    assert_string_equal(r.out, "city_id,segment_id\n3,0\n5,1\n7,0\n9,2\n");
    cli_result_free(&r);
    snprintf(args, sizeof args, "segments %s --bandwidth 60 --by none --format csv", p);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    /* across provinces 5 joins 3 (21 km) before 3 and 7 (50 km): {3,5}, then 7
     * is 50 km from 3 and 29 km from 5 -> complete linkage 50 <= 60: {3,5,7} */
    assert_string_equal(r.out, "city_id,segment_id\n3,0\n5,0\n7,0\n9,1\n");
    cli_result_free(&r);
    snprintf(args, sizeof args, "segments %s --bandwidth 10,60", p);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "segments of 1 city             4         2"));
    assert_non_null(strstr(r.out, "segments of 2 cities           0         1"));
    cli_result_free(&r);
    snprintf(args, sizeof args, "segments %s --bandwidth 10,60 --format csv", p);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "city_id,segment_id_10,segment_id_60\n3,0,0\n"));
    cli_result_free(&r);
    snprintf(args, sizeof args, "segments %s --bandwidth 60 --format json", p);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "\"segments_by_size\":{\"1\":2,\"2\":1}"));
    cli_result_free(&r);
    free(p);

    /* bad input: one line naming file and line, exit 2 */
    p = testutil_write_temp(dir, "nolat.csv", "city_id,province_en,lat,lng\n1,A,30,110\n2,A,,111\n");
    snprintf(args, sizeof args, "segments %s --bandwidth 60", p);
    cli_expect_error(dir, args, "nolat.csv:3: city_id 2 has no lat", 1);
    free(p);
    p = testutil_write_temp(dir, "range.csv", "city_id,province_en,lat,lng\n1,A,30,110\n2,A,30,190\n");
    snprintf(args, sizeof args, "segments %s --bandwidth 60", p);
    cli_expect_error(dir, args, "range.csv:3: city_id 2: lng 190 is outside [-180, 180]", 1);
    free(p);
    p = testutil_write_temp(dir, "lat.csv", "city_id,province_en,lat,lng\n1,A,-95,110\n");
    snprintf(args, sizeof args, "segments %s --bandwidth 60", p);
    cli_expect_error(dir, args, "lat.csv:2: city_id 1: lat -95 is outside [-90, 90]", 1);
    free(p);
    p = testutil_write_temp(dir, "dup.csv", "city_id,province_en,lat,lng\n1,A,30,110\n1,A,31,110\n");
    snprintf(args, sizeof args, "segments %s --bandwidth 60", p);
    cli_expect_error(dir, args, "dup.csv:3: city_id 1 appears twice (also on line 2)", 1);
    free(p);
    p = testutil_write_temp(dir, "noprov.csv", "city_id,lat,lng\n1,30,110\n");
    snprintf(args, sizeof args, "segments %s --bandwidth 60", p);
    cli_expect_error(dir, args, "no province_en", 1);
    snprintf(args, sizeof args, "segments %s --bandwidth 60 --by none --format csv", p);
    r = cli_run(dir, args);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    snprintf(args, sizeof args, "segments %s --bandwidth 0", p);
    cli_expect_error(dir, args, "bandwidth '0' is not a positive number", 1);
    snprintf(args, sizeof args, "segments %s --bandwidth 50,-1", p);
    cli_expect_error(dir, args, "bandwidth '-1' is not a positive number", 1);
    snprintf(args, sizeof args, "segments %s --bandwidth 50 --by county", p);
    cli_expect_error(dir, args, "--by must be province or none", 1);
    free(p);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_haversine),
        cmocka_unit_test(test_known_complete_linkage),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_real_geography_properties),
        cmocka_unit_test(test_row_order_independent),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
