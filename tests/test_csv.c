/* test_csv.c - gravrd_csv_read / gravrd_csv_write: syntax (quotes, CRLF, BOM,
 * TSV, gzip), missing values, type detection, error messages, exact number
 * parsing and write-read round trips. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "gravrd/data.h"
#include "support/testutil.h"

static char *tmpdir;

static int setup(void **state)
{
    (void)state;
    tmpdir = testutil_tempdir();
    return tmpdir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    testutil_rmdir(tmpdir);
    tmpdir = NULL;
    return 0;
}

/* Writes text to tmpdir/name and reads it. */
static gravrd_status read_text(const char *name, const char *text, const gravrd_csv_options *opt,
                               gravrd_frame **out, gravrd_error *err)
{
    char *path = testutil_write_temp(tmpdir, name, text);
    assert_non_null(path);
    gravrd_error_clear(err);
    gravrd_status st = gravrd_csv_read(path, opt, out, err);
    free(path);
    return st;
}

static gravrd_frame *read_ok(const char *name, const char *text, const gravrd_csv_options *opt)
{
    gravrd_frame *f = NULL;
    gravrd_error err;
    gravrd_status st = read_text(name, text, opt, &f, &err);
    if (st != GRAVRD_OK)
        fail_msg("reading %s failed: %s", name, err.message);
    assert_non_null(f);
    return f;
}

static const gravrd_column *col(const gravrd_frame *f, const char *name, gravrd_col_type type)
{
    const gravrd_column *c = gravrd_frame_find(f, name);
    if (!c)
        fail_msg("no column '%s'", name);
    assert_int_equal(c->type, type);
    return c;
}

static void assert_levels(const gravrd_column *c, const char *const *levels, int32_t n)
{
    assert_int_equal(c->n_levels, n);
    for (int32_t l = 0; l < n; l++)
        assert_string_equal(c->levels_L[l], levels[l]);
}

static void assert_codes(const gravrd_column *c, const int32_t *codes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (c->codes_N[i] != codes[i])
            fail_msg("column '%s' row %zu: code %d, expected %d", c->name, i, (int)c->codes_N[i],
                     (int)codes[i]);
}

static void assert_nums(const gravrd_column *c, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) {
            if (!isnan(c->num_N[i]))
                fail_msg("column '%s' row %zu: %.17g, expected missing", c->name, i, c->num_N[i]);
        } else if (c->num_N[i] != v[i]) {
            fail_msg("column '%s' row %zu: %.17g, expected %.17g", c->name, i, c->num_N[i], v[i]);
        }
    }
}

static void assert_error(gravrd_status st, const gravrd_error *err, gravrd_status want,
                         const char *part1, const char *part2)
{
    assert_int_equal(st, want);
    assert_int_equal(err->code, want);
    if (part1 && !strstr(err->message, part1))
        fail_msg("message '%s' lacks '%s'", err->message, part1);
    if (part2 && !strstr(err->message, part2))
        fail_msg("message '%s' lacks '%s'", err->message, part2);
}

static void test_basic_types(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("basic.csv", "a,b,c\n1,x,2.5\n2,y,-3\n", NULL);
    assert_int_equal(f->n_rows, 2);
    assert_int_equal(f->n_cols, 3);
    assert_non_null(strstr(f->source, "basic.csv"));
    assert_string_equal(f->cols[0].name, "a");
    assert_string_equal(f->cols[2].name, "c");
    assert_int_equal(gravrd_frame_index(f, "c"), 2);
    assert_nums(col(f, "a", GRAVRD_COL_NUMERIC), (const double[]){1, 2}, 2);
    assert_nums(col(f, "c", GRAVRD_COL_NUMERIC), (const double[]){2.5, -3}, 2);
    const gravrd_column *b = col(f, "b", GRAVRD_COL_FACTOR);
    assert_null(b->num_N);
    assert_levels(b, (const char *const[]){"x", "y"}, 2);
    assert_codes(b, (const int32_t[]){0, 1}, 2);
    gravrd_frame_free(f);
}

static void test_quoting(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("quotes.csv",
                              "id,\"name\",note\n"
                              "1,\"Smith, John\",\"He said \"\"hi\"\"\"\n"
                              "2,\"multi\nline\",plain\n"
                              "3,  \"  spaced  \"  ,\"\"\"\"\n"
                              "\"4\",\"x\",\"a,\"\"b\"\",c\"\n",
                              NULL);
    assert_int_equal(f->n_rows, 4);
    assert_string_equal(f->cols[1].name, "name");
    /* A quoted number is still a number. */
    assert_nums(col(f, "id", GRAVRD_COL_NUMERIC), (const double[]){1, 2, 3, 4}, 4);
    const gravrd_column *name = col(f, "name", GRAVRD_COL_FACTOR);
    assert_levels(name, (const char *const[]){"  spaced  ", "Smith, John", "multi\nline", "x"}, 4);
    assert_codes(name, (const int32_t[]){1, 2, 0, 3}, 4);
    const gravrd_column *note = col(f, "note", GRAVRD_COL_FACTOR);
    assert_levels(note, (const char *const[]){"\"", "He said \"hi\"", "a,\"b\",c", "plain"}, 4);
    assert_codes(note, (const int32_t[]){1, 3, 0, 2}, 4);
    gravrd_frame_free(f);
}

static void test_quoted_newline_line_numbers(void **state)
{
    (void)state;
    gravrd_frame *f = NULL;
    gravrd_error err;
    /* Line 2 holds a field spanning lines 2-3; the bad row is on line 4. */
    gravrd_status st = read_text("qline.csv", "a,b\n\"x\ny\",1\n1,2,3\n", NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_PARSE, "qline.csv:4: row has 3 fields, header has 2", NULL);
    assert_null(f);
}

static void test_crlf(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("crlf.csv", "a,b,c\r\n1,x,\"q\"\r\n2,y,z\r\n3,,\r\n", NULL);
    assert_int_equal(f->n_rows, 3);
    assert_string_equal(f->cols[2].name, "c");
    assert_nums(col(f, "a", GRAVRD_COL_NUMERIC), (const double[]){1, 2, 3}, 3);
    const gravrd_column *b = col(f, "b", GRAVRD_COL_FACTOR);
    assert_levels(b, (const char *const[]){"x", "y"}, 2);
    assert_codes(b, (const int32_t[]){0, 1, -1}, 3);
    const gravrd_column *c = col(f, "c", GRAVRD_COL_FACTOR);
    assert_levels(c, (const char *const[]){"q", "z"}, 2);
    assert_codes(c, (const int32_t[]){0, 1, -1}, 3);
    gravrd_frame_free(f);
}

static void test_missing_markers(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("missing.csv",
                              "n,t\n"
                              "1,a\n"
                              ",b\n"
                              "NA,NA\n"
                              ".,.\n"
                              "\"\",\"\"\n"
                              "NaN,c\n"
                              " NA , NA \n"
                              "2.5,\"NA\"\n",
                              NULL);
    assert_int_equal(f->n_rows, 8);
    const gravrd_column *n = col(f, "n", GRAVRD_COL_NUMERIC);
    assert_nums(n, (const double[]){1, NAN, NAN, NAN, NAN, NAN, NAN, 2.5}, 8);
    const gravrd_column *t = col(f, "t", GRAVRD_COL_FACTOR);
    assert_levels(t, (const char *const[]){"a", "b", "c"}, 3);
    assert_codes(t, (const int32_t[]){0, 1, -1, -1, -1, 2, -1, -1}, 8);
    gravrd_frame_free(f);

    /* A column with nothing but missing values is numeric. */
    f = read_ok("allmissing.csv", "x,y\n1,\n2,NA\n", NULL);
    assert_nums(col(f, "y", GRAVRD_COL_NUMERIC), (const double[]){NAN, NAN}, 2);
    gravrd_frame_free(f);
}

static void test_bom(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("bom.csv", "\xEF\xBB\xBFid,v\r\n7,8\r\n", NULL);
    assert_string_equal(f->cols[0].name, "id");
    assert_nums(col(f, "id", GRAVRD_COL_NUMERIC), (const double[]){7}, 1);
    gravrd_frame_free(f);
}

static void test_tsv_and_separator_option(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("data.tsv", "a\tb\n1\thello world\n2\t  padded, comma \n3\t\n", NULL);
    assert_int_equal(f->n_rows, 3);
    assert_nums(col(f, "a", GRAVRD_COL_NUMERIC), (const double[]){1, 2, 3}, 3);
    const gravrd_column *b = col(f, "b", GRAVRD_COL_FACTOR);
    assert_levels(b, (const char *const[]){"hello world", "padded, comma"}, 2);
    assert_codes(b, (const int32_t[]){0, 1, -1}, 3);
    gravrd_frame_free(f);

    /* The same text as .csv is one column per line (no comma in the header). */
    gravrd_csv_options opt = {.separator = ';', .text_columns = NULL};
    f = read_ok("semi.csv", "a;b,c\n1,5;x\n", &opt);
    assert_int_equal(f->n_cols, 2);
    assert_string_equal(f->cols[1].name, "b,c");
    const gravrd_column *a = col(f, "a", GRAVRD_COL_FACTOR);
    assert_levels(a, (const char *const[]){"1,5"}, 1);
    gravrd_frame_free(f);

    gravrd_error err;
    opt.separator = '.';
    assert_int_equal(read_text("dot.csv", "a\n1\n", &opt, &f, &err), GRAVRD_ERR_INVALID);
}

static void write_gz(const char *path, const char *text, size_t len)
{
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, text, (unsigned)len), (int)len);
    assert_int_equal(gzclose(gz), Z_OK);
}

static void test_gzip(void **state)
{
    (void)state;
    const char *text = "exp,imp,trade\nDEU,FRA,12345.678\nFRA,DEU,\"1e3\"\nDEU,USA,NA\n";
    const char *names[] = {"flows.csv.gz", "nosuffix.csv"}; /* magic bytes, not the name */
    for (int k = 0; k < 2; k++) {
        char *path = testutil_path(tmpdir, names[k]);
        write_gz(path, text, strlen(text));
        gravrd_frame *f = NULL;
        gravrd_error err;
        if (gravrd_csv_read(path, NULL, &f, &err) != GRAVRD_OK)
            fail_msg("%s: %s", names[k], err.message);
        assert_int_equal(f->n_rows, 3);
        assert_nums(col(f, "trade", GRAVRD_COL_NUMERIC), (const double[]){12345.678, 1000, NAN}, 3);
        const gravrd_column *imp = col(f, "imp", GRAVRD_COL_FACTOR);
        assert_levels(imp, (const char *const[]){"DEU", "FRA", "USA"}, 3);
        assert_codes(imp, (const int32_t[]){1, 0, 2}, 3);
        gravrd_frame_free(f);
        free(path);
    }

    /* Tab separated and compressed. */
    char *path = testutil_path(tmpdir, "t.tsv.gz");
    write_gz(path, "a\tb\n1\tx y\n", 10);
    gravrd_frame *f = NULL;
    gravrd_error err;
    assert_int_equal(gravrd_csv_read(path, NULL, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_cols, 2);
    assert_levels(col(f, "b", GRAVRD_COL_FACTOR), (const char *const[]){"x y"}, 1);
    gravrd_frame_free(f);
    free(path);
}

static void test_corrupt_gzip(void **state)
{
    (void)state;
    /* Magic bytes followed by garbage. */
    char *path = testutil_path(tmpdir, "bad.csv.gz");
    const unsigned char junk[] = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0xff, 0xfe, 0xfd, 0x01, 0x02};
    assert_int_equal(testutil_write_file(path, junk, sizeof junk), 0);
    gravrd_frame *f = NULL;
    gravrd_error err;
    gravrd_status st = gravrd_csv_read(path, NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_IO, "bad.csv.gz", "gzip");
    assert_null(f);

    /* A valid stream cut in half. */
    char text[4000];
    size_t n = 0;
    n += (size_t)snprintf(text, sizeof text, "a,b\n");
    for (int i = 0; n < sizeof text - 40; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%d,%d\n", i * 7919 % 1000, i);
    write_gz(path, text, n);
    size_t len;
    char *gz = testutil_read_file(path, &len);
    assert_non_null(gz);
    assert_int_equal(testutil_write_file(path, gz, len / 2), 0);
    free(gz);
    st = gravrd_csv_read(path, NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_IO, "bad.csv.gz", "gzip");
    assert_null(f);
    free(path);
}

static void test_type_detection(void **state)
{
    (void)state;
    const char *forced[] = {"forced", NULL};
    gravrd_csv_options opt = {.separator = 0, .text_columns = forced};
    gravrd_frame *f = read_ok("types.csv",
                              "code,val,period,mixed,forced,sci,spaces,odd\n"
                              "001,1,2017-03,1,10,1e-3, 12 ,1\n"
                              "002,2,2017-04,,20,.5,\t-7\t,2\n"
                              "003,3,2018-01,x,30,+3,8,1e\n"
                              "004,Inf,2018-02,4,40,-Inf,9,3\n"
                              "005,-inf,2017-03,1,NA,5.,10,4\n",
                              &opt);
    assert_int_equal(f->n_rows, 5);
    /* Leading zeros do not make text: codes like 001 need text_columns. */
    assert_nums(col(f, "code", GRAVRD_COL_NUMERIC), (const double[]){1, 2, 3, 4, 5}, 5);
    assert_nums(col(f, "val", GRAVRD_COL_NUMERIC), (const double[]){1, 2, 3, INFINITY, -INFINITY}, 5);
    assert_nums(col(f, "sci", GRAVRD_COL_NUMERIC), (const double[]){1e-3, 0.5, 3, -INFINITY, 5}, 5);
    assert_nums(col(f, "spaces", GRAVRD_COL_NUMERIC), (const double[]){12, -7, 8, 9, 10}, 5);

    const gravrd_column *period = col(f, "period", GRAVRD_COL_FACTOR);
    assert_levels(period, (const char *const[]){"2017-03", "2017-04", "2018-01", "2018-02"}, 4);
    assert_codes(period, (const int32_t[]){0, 1, 2, 3, 0}, 5);

    /* Turns to text on row 3: the first two rows must come back as text. */
    const gravrd_column *mixed = col(f, "mixed", GRAVRD_COL_FACTOR);
    assert_levels(mixed, (const char *const[]){"1", "4", "x"}, 3);
    assert_codes(mixed, (const int32_t[]){0, -1, 2, 1, 0}, 5);

    const gravrd_column *forced_c = col(f, "forced", GRAVRD_COL_FACTOR);
    assert_levels(forced_c, (const char *const[]){"10", "20", "30", "40"}, 4);
    assert_codes(forced_c, (const int32_t[]){0, 1, 2, 3, -1}, 5);

    /* "1e" is not a number, so the column is text from row 3 on. */
    const gravrd_column *odd = col(f, "odd", GRAVRD_COL_FACTOR);
    assert_levels(odd, (const char *const[]){"1", "1e", "2", "3", "4"}, 5);
    assert_codes(odd, (const int32_t[]){0, 2, 1, 3, 4}, 5);
    gravrd_frame_free(f);

    f = read_ok("notnum.csv", "a,b,c,d,e\n1 2,0x10,1e5x,-,nan\n", NULL);
    assert_int_equal(col(f, "a", GRAVRD_COL_FACTOR)->n_levels, 1);
    assert_string_equal(col(f, "b", GRAVRD_COL_FACTOR)->levels_L[0], "0x10");
    assert_string_equal(col(f, "c", GRAVRD_COL_FACTOR)->levels_L[0], "1e5x");
    assert_string_equal(col(f, "d", GRAVRD_COL_FACTOR)->levels_L[0], "-");
    assert_nums(col(f, "e", GRAVRD_COL_NUMERIC), (const double[]){NAN}, 1);
    gravrd_frame_free(f);

    /* A text column that is not in the header is a caller mistake. */
    const char *unknown[] = {"nope", NULL};
    opt.text_columns = unknown;
    gravrd_error err;
    gravrd_status st = read_text("unknown.csv", "a\n1\n", &opt, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_INVALID, "'nope'", NULL);
}

static void test_late_switch_many_rows(void **state)
{
    (void)state;
    /* Two columns turn to text far apart, with quoted and missing early rows. */
    size_t cap = 200000, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    n += (size_t)snprintf(text, cap, "a,b,c\n");
    for (int i = 0; i < 3000; i++) {
        const char *b = i == 2999 ? "end" : (i % 3 == 0 ? "\"7\"" : (i % 3 == 1 ? "" : "8"));
        n += (size_t)snprintf(text + n, cap - n, "%d,%s,%s\n", i, b, i == 1500 ? "mid" : "5");
    }
    gravrd_frame *f = read_ok("late.csv", text, NULL);
    free(text);
    assert_int_equal(f->n_rows, 3000);
    const gravrd_column *b = col(f, "b", GRAVRD_COL_FACTOR);
    assert_levels(b, (const char *const[]){"7", "8", "end"}, 3);
    const gravrd_column *c = col(f, "c", GRAVRD_COL_FACTOR);
    assert_levels(c, (const char *const[]){"5", "mid"}, 2);
    for (int i = 0; i < 3000; i++) {
        int32_t want_b = i == 2999 ? 2 : (i % 3 == 0 ? 0 : (i % 3 == 1 ? -1 : 1));
        assert_int_equal(b->codes_N[i], want_b);
        assert_int_equal(c->codes_N[i], i == 1500 ? 1 : 0);
    }
    gravrd_frame_free(f);
}

static void test_factor_level_order(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("levels.csv", "c\nb\na\nb\nB\n\xc3\xa9t\xc3\xa9\nZ\n", NULL);
    const gravrd_column *c = col(f, "c", GRAVRD_COL_FACTOR);
    /* Byte order: upper case before lower case, UTF-8 after ASCII. */
    assert_levels(c, (const char *const[]){"B", "Z", "a", "b", "\xc3\xa9t\xc3\xa9"}, 5);
    assert_codes(c, (const int32_t[]){3, 2, 3, 0, 4, 1}, 6);
    gravrd_frame_free(f);
}

static void test_ragged_rows(void **state)
{
    (void)state;
    gravrd_frame *f = NULL;
    gravrd_error err;
    gravrd_status st = read_text("short.csv", "a,b,c\n1,2,3\n4,5\n", NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_PARSE, "short.csv:3: row has 2 fields, header has 3", NULL);
    assert_null(f);

    st = read_text("long.csv", "a,b\n1,2\n\n3,4\n5,6,7,8\n", NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_PARSE, "long.csv:5: row has 4 fields, header has 2", NULL);
    assert_null(f);

    /* A text column must not hide the error either. */
    st = read_text("text.csv", "a,b\nx,y\nz\n", NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_PARSE, "text.csv:3:", "1 fields");
}

static void test_missing_file(void **state)
{
    (void)state;
    char *path = testutil_path(tmpdir, "does_not_exist.csv");
    gravrd_frame *f = (gravrd_frame *)&f; /* must be reset to NULL */
    gravrd_error err;
    gravrd_status st = gravrd_csv_read(path, NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_IO, "does_not_exist.csv", "cannot open");
    assert_null(f);
    free(path);

    st = gravrd_csv_read(tmpdir, NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_IO, tmpdir, NULL);
}

static void test_unterminated_quote(void **state)
{
    (void)state;
    gravrd_frame *f = NULL;
    gravrd_error err;
    gravrd_status st = read_text("open.csv", "a,b\n1,2\n3,\"abc\n4,5\n", NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_PARSE, "open.csv:3", "column 'b'");
    assert_non_null(strstr(err.message, "unterminated"));
    assert_null(f);

    st = read_text("after.csv", "a,b\n\"x\"y,1\n", NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_PARSE, "after.csv:2", "column 'a'");
}

static void test_header_problems(void **state)
{
    (void)state;
    gravrd_frame *f = NULL;
    gravrd_error err;
    assert_error(read_text("empty.csv", "", NULL, &f, &err), &err, GRAVRD_ERR_PARSE, "empty.csv",
                 "empty");
    assert_error(read_text("blank.csv", "\n \r\n", NULL, &f, &err), &err, GRAVRD_ERR_PARSE,
                 "blank.csv", "empty");
    assert_error(read_text("dup.csv", "a,b,a\n1,2,3\n", NULL, &f, &err), &err, GRAVRD_ERR_PARSE,
                 "dup.csv:1", "duplicate column name 'a'");
    assert_error(read_text("noname.csv", "a,,c\n1,2,3\n", NULL, &f, &err), &err, GRAVRD_ERR_PARSE,
                 "noname.csv:1", "column 2");

    /* A header alone is a frame with no rows; columns are numeric. */
    f = read_ok("header.csv", "a,\"b\"", NULL);
    assert_int_equal(f->n_rows, 0);
    assert_int_equal(f->n_cols, 2);
    col(f, "b", GRAVRD_COL_NUMERIC);
    gravrd_frame_free(f);

    /* A NUL byte inside a text value cannot become a C string level. */
    char *path = testutil_path(tmpdir, "nulbyte.csv");
    assert_int_equal(testutil_write_file(path, "a\nx\0y\n", 6), 0);
    gravrd_status st = gravrd_csv_read(path, NULL, &f, &err);
    assert_error(st, &err, GRAVRD_ERR_PARSE, "nulbyte.csv:2", "NUL");
    free(path);
}

static void test_blank_lines_and_last_line(void **state)
{
    (void)state;
    gravrd_frame *f = read_ok("blank_lines.csv", "\na,b\n\n1,2\n  \n3,4", NULL);
    assert_int_equal(f->n_rows, 2);
    assert_nums(col(f, "a", GRAVRD_COL_NUMERIC), (const double[]){1, 3}, 2);
    assert_nums(col(f, "b", GRAVRD_COL_NUMERIC), (const double[]){2, 4}, 2);
    gravrd_frame_free(f);

    f = read_ok("trailing.csv", "a,b\n1,x\n\n\n", NULL);
    assert_int_equal(f->n_rows, 1);
    gravrd_frame_free(f);

    /* One column without a final newline, and a missing last field. */
    f = read_ok("onecol.csv", "v\r\n1\r\n2", NULL);
    assert_nums(col(f, "v", GRAVRD_COL_NUMERIC), (const double[]){1, 2}, 2);
    gravrd_frame_free(f);
    f = read_ok("lastmissing.csv", "a,b\n1,", NULL);
    assert_nums(col(f, "b", GRAVRD_COL_NUMERIC), (const double[]){NAN}, 1);
    gravrd_frame_free(f);
}

/* Reads the numbers in strs[] (one per row) and compares bits with strtod. */
static void check_against_strtod(const char *const *strs, size_t n)
{
    size_t cap = 64 + n * 64, len = 0;
    for (size_t i = 0; i < n; i++)
        cap += strlen(strs[i]);
    char *text = malloc(cap);
    assert_non_null(text);
    len += (size_t)snprintf(text, cap, "v\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s\n", strs[i]);
    gravrd_frame *f = read_ok("numbers.csv", text, NULL);
    free(text);
    assert_int_equal(f->n_rows, n);
    const gravrd_column *v = col(f, "v", GRAVRD_COL_NUMERIC);
    for (size_t i = 0; i < n; i++) {
        double want = strtod(strs[i], NULL);
        if (memcmp(&want, &v->num_N[i], sizeof want) != 0)
            fail_msg("'%s' read as %.17g (%a), strtod gives %.17g (%a)", strs[i], v->num_N[i],
                     v->num_N[i], want, want);
    }
    gravrd_frame_free(f);
}

static void test_numbers_match_strtod(void **state)
{
    (void)state;
    static const char *const tricky[] = {
        "0.1", "0.2", "0.3", "1e-300", "123456789012345678", "2.2250738585072014e-308",
        "2.2250738585072011e-308", "4.9406564584124654e-324", "1.7976931348623157e308",
        "1e308", "1e309", "-1e400", "1e-400", "9007199254740993", "9007199254740992",
        "9007199254740991", "12345.678", "-0", "-0.0", "0e5", "000000000000000000000000.5",
        "0.000000000000000000000000000001", "1.000000000000000000000000001",
        "3.141592653589793238462643383279", "1e22", "1e23", "123456789e-22", "1e-22",
        "8.98846567431158e307", "4503599627370496.5", "4503599627370497.5", "+.5", "5.",
        "7E3", "7e+03", "-7.25e-2", "100000000000000000000000", "1.5e15", "1e0",
        "0.30000000000000004", "179769313486231570000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "1e-99999999999", "1e99999999999",
    };
    check_against_strtod(tricky, sizeof tricky / sizeof tricky[0]);

    /* Random decimals of every length and exponent range, fast and slow path. */
    enum { N = 20000 };
    char **strs = malloc(N * sizeof *strs);
    assert_non_null(strs);
    uint64_t s = 0x2545F4914F6CDD1Du;
    for (size_t i = 0; i < N; i++) {
        char buf[64];
        size_t k = 0;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        if (s & 1)
            buf[k++] = '-';
        int ndig = 1 + (int)((s >> 8) % 22);
        int dot = (int)((s >> 16) % (unsigned)(ndig + 1));
        uint64_t d = s >> 24;
        for (int j = 0; j < ndig; j++) {
            if (j == dot && j > 0)
                buf[k++] = '.';
            buf[k++] = (char)('0' + (d % 10));
            d = d / 10 ? d / 10 : (s >> (j % 40)) * 2654435761u;
        }
        if ((s >> 5) & 1)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "e%d", (int)((s >> 40) % 80) - 40);
        buf[k] = '\0';
        strs[i] = malloc(k + 1);
        assert_non_null(strs[i]);
        memcpy(strs[i], buf, k + 1);
    }
    check_against_strtod((const char *const *)strs, N);

    /* Random doubles (all exponents, subnormals too) printed with 17, 16, 15
     * and 6 significant digits: the text files that gravrd itself writes. */
    static const char *const formats[] = {"%.17g", "%.16g", "%.15g", "%.6g"};
    for (size_t i = 0; i < N; i++) {
        double x;
        do {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            memcpy(&x, &s, sizeof x);
        } while (isnan(x) || isinf(x));
        char buf[64];
        snprintf(buf, sizeof buf, formats[i % 4], x);
        free(strs[i]);
        strs[i] = malloc(strlen(buf) + 1);
        assert_non_null(strs[i]);
        strcpy(strs[i], buf);
    }
    check_against_strtod((const char *const *)strs, N);
    for (size_t i = 0; i < N; i++)
        free(strs[i]);
    free(strs);
}

/* Asserts two frames hold the same columns and values (bitwise numbers). */
static void assert_frames_equal(const gravrd_frame *a, const gravrd_frame *b)
{
    assert_int_equal(a->n_rows, b->n_rows);
    assert_int_equal(a->n_cols, b->n_cols);
    for (size_t j = 0; j < a->n_cols; j++) {
        const gravrd_column *x = &a->cols[j], *y = &b->cols[j];
        assert_string_equal(x->name, y->name);
        assert_int_equal(x->type, y->type);
        for (size_t i = 0; i < a->n_rows; i++) {
            if (x->type == GRAVRD_COL_NUMERIC) {
                if (isnan(x->num_N[i]) && isnan(y->num_N[i]))
                    continue;
                if (memcmp(&x->num_N[i], &y->num_N[i], sizeof(double)) != 0)
                    fail_msg("column '%s' row %zu: %.17g became %.17g", x->name, i, x->num_N[i],
                             y->num_N[i]);
            } else {
                assert_int_equal(x->codes_N[i], y->codes_N[i]);
            }
        }
        if (x->type == GRAVRD_COL_FACTOR)
            assert_levels(y, (const char *const *)x->levels_L, x->n_levels);
    }
}

static char **strs_dup(const char *const *s, int32_t n)
{
    char **out = malloc((size_t)n * sizeof *out);
    assert_non_null(out);
    for (int32_t i = 0; i < n; i++) {
        out[i] = malloc(strlen(s[i]) + 1);
        assert_non_null(out[i]);
        strcpy(out[i], s[i]);
    }
    return out;
}

static void test_write_read_roundtrip(void **state)
{
    (void)state;
    const double vals[] = {0.1,  -0.0,     1e-300, 123456789012345678.0, NAN, INFINITY,
                           -2.5, 3,        2.2250738585072014e-308,      1.0 / 3, -1e15, 4e-320};
    enum { N = sizeof vals / sizeof vals[0] };
    static const char *const levels[] = {"  lead", "a,b", "plain", "q\"uote", "tab\there",
                                         "trail ", "two\nlines", "\xc3\xa9"};
    const int32_t codes[N] = {0, 1, 2, 3, 4, 5, 6, 7, -1, 2, 2, 0};

    gravrd_frame *f = gravrd_frame_new(N, NULL);
    assert_non_null(f);
    assert_string_equal(f->source, "");
    gravrd_error err;
    double *v = malloc(sizeof vals);
    memcpy(v, vals, sizeof vals);
    assert_int_equal(gravrd_frame_add_numeric(f, "value, with comma", v, &err), GRAVRD_OK);
    int32_t *c = malloc(sizeof codes);
    memcpy(c, codes, sizeof codes);
    assert_int_equal(gravrd_frame_add_factor(f, "label", c, strs_dup(levels, 8), 8, &err),
                     GRAVRD_OK);

    const char *names[] = {"rt.csv", "rt.tsv", "rt.csv.gz", "rt.tsv.gz"};
    for (int k = 0; k < 4; k++) {
        char *path = testutil_path(tmpdir, names[k]);
        if (gravrd_csv_write(path, f, &err) != GRAVRD_OK)
            fail_msg("%s: %s", names[k], err.message);
        gravrd_frame *g = NULL;
        if (gravrd_csv_read(path, NULL, &g, &err) != GRAVRD_OK)
            fail_msg("%s: %s", names[k], err.message);
        assert_frames_equal(f, g);
        gravrd_frame_free(g);
        free(path);
    }

    /* The plain text is what the documentation promises. */
    char *path = testutil_path(tmpdir, "rt.csv");
    char *text = testutil_read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"value, with comma\",label\n0.10000000000000001,\"  lead\"\n"
                                 "-0,\"a,b\"\n"));
    assert_non_null(strstr(text, "\n1.2345678901234568e+17,\"q\"\"uote\"\n,tab\there\ninf,\"trail \"\n"));
    assert_non_null(strstr(text, "\n-1000000000000000,plain\n"));
    free(text);
    free(path);
    gravrd_frame_free(f);

    /* One column with missing values must not turn into skipped blank lines. */
    f = gravrd_frame_new(3, "mem");
    v = malloc(3 * sizeof *v);
    v[0] = 1;
    v[1] = NAN;
    v[2] = 3;
    assert_int_equal(gravrd_frame_add_numeric(f, "x", v, &err), GRAVRD_OK);
    path = testutil_path(tmpdir, "one.csv");
    assert_int_equal(gravrd_csv_write(path, f, &err), GRAVRD_OK);
    gravrd_frame *g = NULL;
    assert_int_equal(gravrd_csv_read(path, NULL, &g, &err), GRAVRD_OK);
    assert_frames_equal(f, g);
    gravrd_frame_free(g);
    free(path);
    gravrd_frame_free(f);
}

static void test_write_errors(void **state)
{
    (void)state;
    gravrd_frame *f = gravrd_frame_new(1, NULL);
    double *v = malloc(sizeof *v);
    v[0] = 1;
    gravrd_error err;
    assert_int_equal(gravrd_frame_add_numeric(f, "x", v, &err), GRAVRD_OK);
    char *path = testutil_path(tmpdir, "no_such_dir/out.csv");
    assert_error(gravrd_csv_write(path, f, &err), &err, GRAVRD_ERR_IO, "no_such_dir/out.csv", NULL);
    free(path);
    gravrd_frame_free(f);
}

static void test_read_buffer(void **state)
{
    (void)state;
    const char text[] = "id\tname\n7\tx\n8\t\"y z\"";
    gravrd_frame *f = NULL;
    gravrd_error err = {0};
    /* No final newline, and the .tsv name selects the tab separator. */
    assert_int_equal(gravrd_csv_read_buffer("inline.tsv", text, sizeof text - 1, NULL, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_rows, 2);
    assert_nums(col(f, "id", GRAVRD_COL_NUMERIC), (const double[]){7, 8}, 2);
    assert_levels(col(f, "name", GRAVRD_COL_FACTOR), (const char *const[]){"x", "y z"}, 2);
    gravrd_frame_free(f);
    const char ragged[] = "a,b\n1,2\n3\n";
    assert_int_equal(gravrd_csv_read_buffer("inline.csv", ragged, sizeof ragged - 1, NULL, &f, &err),
                     GRAVRD_ERR_PARSE);
    assert_non_null(strstr(err.message, "inline.csv:3"));
    assert_null(f);
}

/* ---- the chunked (parallel) reader gives the sequential reader's frame ---- */

/* Same columns, types, level tables, codes and numbers bit for bit (NaN
 * included). */
static void assert_frames_identical(const gravrd_frame *a, const gravrd_frame *b)
{
    assert_int_equal(a->n_rows, b->n_rows);
    assert_int_equal(a->n_cols, b->n_cols);
    for (size_t j = 0; j < a->n_cols; j++) {
        const gravrd_column *x = &a->cols[j], *y = &b->cols[j];
        assert_string_equal(x->name, y->name);
        if (x->type != y->type)
            fail_msg("column '%s': type %d became %d", x->name, (int)x->type, (int)y->type);
        if (x->type == GRAVRD_COL_NUMERIC) {
            for (size_t i = 0; i < a->n_rows; i++)
                if (memcmp(&x->num_N[i], &y->num_N[i], sizeof(double)) != 0)
                    fail_msg("column '%s' row %zu: %.17g became %.17g", x->name, i, x->num_N[i],
                             y->num_N[i]);
        } else {
            assert_levels(y, (const char *const *)x->levels_L, x->n_levels);
            assert_codes(y, x->codes_N, a->n_rows);
        }
    }
}

/* Reads text[0..len) in one pass (threads = 1) and then cut into chunks of
 * many sizes with 2 and 3 threads; every read must give the same frame, or
 * the same status and message. Returns the sequential frame (NULL on error,
 * message in *err). */
static gravrd_frame *read_chunked(const char *name, const char *text, size_t len,
                                  const char *const *text_columns, gravrd_error *err)
{
    gravrd_csv_options seq = {.text_columns = text_columns, .threads = 1};
    gravrd_frame *want = NULL;
    gravrd_error_clear(err);
    gravrd_status st = gravrd_csv_read_buffer(name, text, len, &seq, &want, err);
    assert_int_equal(st == GRAVRD_OK, want != NULL);
    static const size_t sizes[] = {1, 2, 3, 7, 16, 50, 128, 1000, 1 << 20};
    for (int threads = 2; threads <= 3; threads++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            gravrd_csv_options par = {.text_columns = text_columns, .threads = threads,
                                      .chunk_bytes = sizes[s]};
            gravrd_frame *got = NULL;
            gravrd_error e2;
            gravrd_error_clear(&e2);
            gravrd_status st2 = gravrd_csv_read_buffer(name, text, len, &par, &got, &e2);
            if (st2 != st || strcmp(e2.message, err->message) != 0)
                fail_msg("%s, %d threads, %zu-byte chunks: status %d '%s', one pass gave %d '%s'", name,
                         threads, sizes[s], (int)st2, e2.message, (int)st, err->message);
            if (want)
                assert_frames_identical(want, got);
            gravrd_frame_free(got);
        }
    }
    return want;
}

/* Appends a formatted row to a growing text. */
typedef struct {
    char *s;
    size_t n, cap;
} textbuf;

static void tb_add(textbuf *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int k = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        assert_true(k >= 0);
        if ((size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return;
        }
        t->cap = 2 * t->cap + (size_t)k + 64;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
}

/* Rows of every kind: numbers with blanks and missing markers, text with
 * missing values, a column that is numeric for its first 200 rows and then
 * has a word, one that is text first and numbers later, blank lines (the
 * chunks after them move up), and an optional CRLF / final line end. */
static textbuf mixed_text(int rows, const char *eol, int final_eol)
{
    textbuf t = {calloc(1, 64), 0, 64};
    assert_non_null(t.s);
    tb_add(&t, "id,x,s,late,early,y%s", eol);
    static const char *const words[] = {"pear", "fig", "apple", "Kiwi", "fig", "date"};
    static const char *const miss[] = {"", "NA", ".", "nan", " NA ", "  "};
    for (int i = 0; i < rows; i++) {
        char x[32], s[16], late[16], early[16];
        if (i % 7 == 3)
            snprintf(x, sizeof x, "%s", miss[i % 6]);
        else
            snprintf(x, sizeof x, "%s%.6g%s", i % 5 ? "" : " ", (i - 50) * 0.37, i % 4 ? "" : "  ");
        snprintf(s, sizeof s, "%s", i % 11 == 5 ? "NA" : (i % 13 == 2 ? "" : words[(i * 7) % 6]));
        if (i == 200)
            snprintf(late, sizeof late, "oops");
        else
            snprintf(late, sizeof late, "%d", i % 17 == 0 ? -i : i % 9);
        snprintf(early, sizeof early, i < 3 ? "w%d" : "%d", i % 4);
        tb_add(&t, "%d,%s,%s,%s,%s,%g", i, x, s, late, early, i * 1e-3);
        if (i + 1 < rows || final_eol)
            tb_add(&t, "%s", eol);
        if (i % 97 == 40)
            tb_add(&t, "%s  %s", eol, eol); /* blank and whitespace-only lines */
    }
    return t;
}

static void test_chunked_same_frame(void **state)
{
    (void)state;
    gravrd_error err;
    for (int variant = 0; variant < 4; variant++) {
        const char *eol = variant & 1 ? "\r\n" : "\n";
        int final_eol = !(variant & 2);
        textbuf t = mixed_text(300, eol, final_eol);
        gravrd_frame *f = read_chunked("mixed.csv", t.s, t.n, NULL, &err);
        if (!f)
            fail_msg("mixed.csv: %s", err.message);
        assert_int_equal(f->n_rows, 300);
        /* The types the one-pass reader gives (checked once here so that a
         * bug shared by both paths shows too). */
        col(f, "id", GRAVRD_COL_NUMERIC);
        const gravrd_column *x = col(f, "x", GRAVRD_COL_NUMERIC);
        assert_true(isnan(x->num_N[3]) && isnan(x->num_N[10]));
        assert_true(x->num_N[5] == (5 - 50) * 0.37 || fabs(x->num_N[5] - (5 - 50) * 0.37) < 1e-4);
        const gravrd_column *s = col(f, "s", GRAVRD_COL_FACTOR);
        assert_levels(s, (const char *const[]){"Kiwi", "apple", "date", "fig", "pear"}, 5);
        assert_int_equal(s->codes_N[5], -1);
        const gravrd_column *late = col(f, "late", GRAVRD_COL_FACTOR);
        assert_string_equal(late->levels_L[late->codes_N[200]], "oops");
        assert_string_equal(late->levels_L[late->codes_N[34]], "-34");
        const gravrd_column *early = col(f, "early", GRAVRD_COL_FACTOR);
        assert_levels(early, (const char *const[]){"0", "1", "2", "3", "w0", "w1", "w2"}, 7);
        assert_nums(col(f, "y", GRAVRD_COL_NUMERIC), (const double[]){0, 1e-3, 2e-3}, 3);
        gravrd_frame_free(f);

        /* Forced text columns. */
        f = read_chunked("forced.csv", t.s, t.n, (const char *const[]){"id", "x", NULL}, &err);
        if (!f)
            fail_msg("forced.csv: %s", err.message);
        col(f, "id", GRAVRD_COL_FACTOR);
        assert_int_equal(col(f, "x", GRAVRD_COL_FACTOR)->codes_N[10], -1);
        gravrd_frame_free(f);
        free(t.s);
    }

    /* Only the last rows make a column text: numeric in every chunk but one. */
    textbuf t = {calloc(1, 64), 0, 64};
    tb_add(&t, "a,b\n");
    for (int i = 0; i < 400; i++)
        tb_add(&t, "%d,%s\n", i, i == 399 ? "last" : (i % 2 ? "1.5" : "2"));
    gravrd_frame *f = read_chunked("lastword.csv", t.s, t.n, NULL, &err);
    assert_non_null(f);
    assert_levels(col(f, "b", GRAVRD_COL_FACTOR), (const char *const[]){"1.5", "2", "last"}, 3);
    gravrd_frame_free(f);
    free(t.s);

    /* Quotes (a quoted field spans a line end) make the file one chunk. */
    static const char quoted[] = "a,b\n1,\"x\ny\"\n2,z\n3,\"w,\"\"q\"\"\"\n4,v\n5,u\n6,\"t\"\n";
    f = read_chunked("quoted.csv", quoted, sizeof quoted - 1, NULL, &err);
    assert_non_null(f);
    assert_levels(col(f, "b", GRAVRD_COL_FACTOR), (const char *const[]){"t", "u", "v", "w,\"q\"", "x\ny", "z"},
                  6);
    gravrd_frame_free(f);

    /* Header only, and a header without a final line end. */
    f = read_chunked("empty.csv", "a,b\n", 4, NULL, &err);
    assert_int_equal(f->n_rows, 0);
    gravrd_frame_free(f);
    f = read_chunked("empty.csv", "a,b", 3, NULL, &err);
    assert_int_equal(f->n_rows, 0);
    gravrd_frame_free(f);
}

/* Rows of "i,i*2,word" with a bad row written in place of row bad1 and of
 * row bad2 (kinds: 0 too few fields, 1 too many, 2 a NUL byte in the text
 * column). */
static textbuf bad_text(int rows, int bad1, int kind1, int bad2, int kind2)
{
    textbuf t = {calloc(1, 64), 0, 64};
    assert_non_null(t.s);
    tb_add(&t, "a,b,c\n");
    for (int i = 0; i < rows; i++) {
        int kind = i == bad1 ? kind1 : (i == bad2 ? kind2 : -1);
        if (kind == 0) {
            tb_add(&t, "%d,%d\n", i, 2 * i);
        } else if (kind == 1) {
            tb_add(&t, "%d,%d,w%d,x,y\n", i, 2 * i, i % 3);
        } else if (kind == 2) {
            tb_add(&t, "%d,%d,w", i, 2 * i);
            t.s[t.n++] = '\0';
            tb_add(&t, "z\n");
        } else {
            tb_add(&t, "%d,%d,w%d\n", i, 2 * i, i % 3);
        }
    }
    return t;
}

static void test_chunked_first_error(void **state)
{
    (void)state;
    gravrd_error err;
    static const struct {
        int bad1, kind1, bad2, kind2;
        const char *want;
    } cases[] = {
        /* Line numbers: the header is line 1, row i is line i + 2. */
        {250, 0, -1, 0, "bad.csv:252: row has 2 fields, header has 3"},           /* late only */
        {7, 1, 250, 0, "bad.csv:9: row has 5 fields, header has 3"},              /* early wins */
        {250, 0, 7, 2, "bad.csv:9, column 'c': value contains a NUL byte"},       /* early, with column */
        {3, 0, 4, 1, "bad.csv:5: row has 2 fields, header has 3"},                /* same chunk */
        {0, 2, 299, 1, "bad.csv:2, column 'c': value contains a NUL byte"},      /* first row */
        {299, 1, -1, 0, "bad.csv:301: row has 5 fields, header has 3"},           /* last row */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        textbuf t = bad_text(300, cases[c].bad1, cases[c].kind1, cases[c].bad2, cases[c].kind2);
        gravrd_frame *f = read_chunked("bad.csv", t.s, t.n, NULL, &err);
        assert_null(f);
        if (strcmp(err.message, cases[c].want) != 0)
            fail_msg("case %zu: '%s', expected '%s'", c, err.message, cases[c].want);
        free(t.s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_types),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_quoted_newline_line_numbers),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_missing_markers),
        cmocka_unit_test(test_bom),
        cmocka_unit_test(test_tsv_and_separator_option),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_corrupt_gzip),
        cmocka_unit_test(test_type_detection),
        cmocka_unit_test(test_late_switch_many_rows),
        cmocka_unit_test(test_factor_level_order),
        cmocka_unit_test(test_ragged_rows),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unterminated_quote),
        cmocka_unit_test(test_header_problems),
        cmocka_unit_test(test_blank_lines_and_last_line),
        cmocka_unit_test(test_numbers_match_strtod),
        cmocka_unit_test(test_write_read_roundtrip),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_read_buffer),
        cmocka_unit_test(test_chunked_same_frame),
        cmocka_unit_test(test_chunked_first_error),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
