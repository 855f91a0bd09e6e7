/* test_json_read.c - util/json_read: Jansson's parse errors come back as a
 * gravrd_error naming the file, line and column; any value may be at the
 * top; every number is a double; keys keep the order of the text; the typed
 * look-ups are NULL / NaN / -1 for absent members and other types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/testutil.h"
#include "util/json_read.h"

static void test_values_and_lookups(void **state)
{
    (void)state;
    gravrd_error err = {0};
    json_t *v = NULL;
    const char *text = "{\"n\": 48, \"big\": 123456789012345678901234, \"x\": -0.5e-3, \"s\": \"caf\\u00e9\",\n"
                       " \"t\": true, \"f\": false, \"z\": null, \"a\": [1, \"two\"], \"o\": {\"k\": 1}}";
    assert_int_equal(jr_parse(text, &v, &err), GRAVRD_OK);
    /* integers are doubles, also beyond the range of a long long */
    assert_true(json_is_real(json_object_get(v, "n")));
    assert_true(jr_num(v, "n") == 48);
    assert_true(jr_num(v, "big") == 123456789012345678901234.0);
    assert_true(jr_num(v, "x") == -0.5e-3);
    assert_string_equal(jr_str(v, "s"), "caf\xc3\xa9");
    assert_int_equal(jr_bool(v, "t"), 1);
    assert_int_equal(jr_bool(v, "f"), 0);
    assert_int_equal(jr_bool(v, "z"), -1);
    assert_int_equal(jr_bool(v, "n"), -1);
    assert_true(isnan(jr_num(v, "z")));
    assert_true(isnan(jr_num(v, "s")));
    assert_true(isnan(jr_num(v, "absent")));
    assert_null(jr_str(v, "n"));
    assert_null(jr_arr(v, "o"));
    assert_int_equal(json_array_size(jr_arr(v, "a")), 2);
    assert_true(jr_number(json_array_get(jr_arr(v, "a"), 0)) == 1);
    assert_true(isnan(jr_number(json_array_get(jr_arr(v, "a"), 1))));
    assert_true(isnan(jr_number(NULL)));
    assert_null(jr_get(jr_arr(v, "a"), "k")); /* not an object */
    assert_null(jr_get(NULL, "k"));
    assert_true(jr_num(jr_get(v, "o"), "k") == 1);
    /* keys in the order of the text */
    static const char *const keys[] = {"n", "big", "x", "s", "t", "f", "z", "a", "o"};
    size_t j = 0;
    const char *key;
    json_t *member;
    json_object_foreach (v, key, member) {
        (void)member;
        assert_true(j < sizeof keys / sizeof keys[0]);
        assert_string_equal(key, keys[j]);
        j++;
    }
    assert_int_equal(j, sizeof keys / sizeof keys[0]);
    json_decref(v);

    /* a scalar at the top is a value; a repeated key keeps its last value */
    assert_int_equal(jr_parse(" 3 ", &v, &err), GRAVRD_OK);
    assert_true(jr_number(v) == 3);
    json_decref(v);
    assert_int_equal(jr_parse("{\"a\": 1, \"a\": 2}", &v, &err), GRAVRD_OK);
    assert_true(jr_num(v, "a") == 2);
    json_decref(v);
}

static void test_errors_name_line_and_column(void **state)
{
    (void)state;
    gravrd_error err = {0};
    json_t *v = (json_t *)1;
    assert_int_equal(jr_parse("{\"a\": 1,\n \"b\": tru}", &v, &err), GRAVRD_ERR_PARSE);
    assert_null(v);
    assert_int_equal(strncmp(err.message, "JSON line 2, column ", 20), 0);
    assert_non_null(strstr(err.message, "invalid token"));
    assert_int_equal(jr_parse("[1, 2] x", &v, &err), GRAVRD_ERR_PARSE);
    assert_int_equal(strncmp(err.message, "JSON line 1, column ", 20), 0);

    char *dir = testutil_tempdir();
    char *bad = testutil_write_temp(dir, "bad.json", "{\n  \"a\": [1,\n        2,, 3]\n}\n");
    assert_int_equal(jr_parse_file(bad, &v, &err), GRAVRD_ERR_PARSE);
    assert_null(v);
    char want[1200];
    snprintf(want, sizeof want, "%s: JSON line 3, column 11: ", bad);
    assert_int_equal(strncmp(err.message, want, strlen(want)), 0);

    char *missing = testutil_path(dir, "missing.json");
    assert_int_equal(jr_parse_file(missing, &v, &err), GRAVRD_ERR_IO);
    snprintf(want, sizeof want, "%s: cannot open", missing);
    assert_string_equal(err.message, want);

    char *good = testutil_write_temp(dir, "good.json", "[{\"id\": \"m1\"}]\n");
    assert_int_equal(jr_parse_file(good, &v, &err), GRAVRD_OK);
    assert_string_equal(jr_str(json_array_get(v, 0), "id"), "m1");
    json_decref(v);
    free(bad);
    free(missing);
    free(good);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_and_lookups),
        cmocka_unit_test(test_errors_name_line_and_column),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
