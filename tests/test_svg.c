/* test_svg.c - the SVG writer produces well-formed XML (checked by a small
 * XML parser below), escapes text, skips non-finite values and rejects bad
 * input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/svg.h"
#include "support/testutil.h"

/* ---- a minimal XML 1.0 well-formedness checker ----
 * Prolog (<?xml ...?>), comments, elements with quoted attributes (unique
 * names), character data, the five predefined entities and numeric
 * character references, exactly one root element. Counts elements by name
 * and records the root name. */

typedef struct {
    const char *s;
    size_t pos;
    char root[32];
    int n_elements;
    char names[64][32];
    int counts[64];
    int n_names;
    char error[160];
} xml_check;

static int xfail(xml_check *x, const char *what)
{
    if (!x->error[0])
        snprintf(x->error, sizeof x->error, "%s at offset %zu", what, x->pos);
    return 0;
}

static int name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static int name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static void skip_ws(xml_check *x)
{
    while (x->s[x->pos] == ' ' || x->s[x->pos] == '\n' || x->s[x->pos] == '\t' || x->s[x->pos] == '\r')
        x->pos++;
}

static int read_name(xml_check *x, char *out, size_t cap)
{
    size_t start = x->pos;
    if (!name_start(x->s[x->pos]))
        return xfail(x, "expected a name");
    while (name_char(x->s[x->pos]))
        x->pos++;
    size_t len = x->pos - start;
    if (len >= cap)
        return xfail(x, "name too long");
    memcpy(out, x->s + start, len);
    out[len] = 0;
    return 1;
}

/* An entity or character reference starting at '&'. */
static int read_reference(xml_check *x)
{
    static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (!strncmp(x->s + x->pos, named[i], strlen(named[i]))) {
            x->pos += strlen(named[i]);
            return 1;
        }
    if (x->s[x->pos + 1] == '#') {
        size_t p = x->pos + 2;
        int hex = x->s[p] == 'x';
        if (hex)
            p++;
        size_t digits = 0;
        while ((x->s[p] >= '0' && x->s[p] <= '9') ||
               (hex && ((x->s[p] >= 'a' && x->s[p] <= 'f') || (x->s[p] >= 'A' && x->s[p] <= 'F')))) {
            p++;
            digits++;
        }
        if (digits && x->s[p] == ';') {
            x->pos = p + 1;
            return 1;
        }
    }
    return xfail(x, "bad reference");
}

static int read_char_data(xml_check *x)
{
    while (x->s[x->pos] && x->s[x->pos] != '<') {
        unsigned char c = (unsigned char)x->s[x->pos];
        if (c == '&') {
            if (!read_reference(x))
                return 0;
            continue;
        }
        if (c < 0x20 && c != '\n' && c != '\t' && c != '\r')
            return xfail(x, "control character in text");
        if (c == '>' && x->pos >= 2 && !strncmp(x->s + x->pos - 2, "]]", 2))
            return xfail(x, "]]> in text");
        x->pos++;
    }
    return 1;
}

static int skip_comment(xml_check *x)
{
    const char *end = strstr(x->s + x->pos + 4, "-->");
    if (!end)
        return xfail(x, "unterminated comment");
    x->pos = (size_t)(end - x->s) + 3;
    return 1;
}

static void count_name(xml_check *x, const char *name)
{
    for (int i = 0; i < x->n_names; i++)
        if (!strcmp(x->names[i], name)) {
            x->counts[i]++;
            return;
        }
    if (x->n_names < 64) {
        snprintf(x->names[x->n_names], sizeof x->names[0], "%s", name);
        x->counts[x->n_names++] = 1;
    }
}

static int read_element(xml_check *x, int depth)
{
    char name[32], attrs[32][32];
    int n_attrs = 0;
    if (depth > 64)
        return xfail(x, "too deep");
    x->pos++; /* '<' */
    if (!read_name(x, name, sizeof name))
        return 0;
    if (depth == 0)
        snprintf(x->root, sizeof x->root, "%s", name);
    x->n_elements++;
    count_name(x, name);
    for (;;) {
        size_t before = x->pos;
        skip_ws(x);
        char c = x->s[x->pos];
        if (c == '/' && x->s[x->pos + 1] == '>') {
            x->pos += 2;
            return 1;
        }
        if (c == '>') {
            x->pos++;
            break;
        }
        if (x->pos == before)
            return xfail(x, "attributes must be separated by white space");
        char an[32];
        if (!read_name(x, an, sizeof an))
            return 0;
        for (int i = 0; i < n_attrs; i++)
            if (!strcmp(attrs[i], an))
                return xfail(x, "duplicate attribute");
        if (n_attrs < 32)
            snprintf(attrs[n_attrs++], sizeof attrs[0], "%s", an);
        skip_ws(x);
        if (x->s[x->pos] != '=')
            return xfail(x, "expected '='");
        x->pos++;
        skip_ws(x);
        char q = x->s[x->pos];
        if (q != '"' && q != '\'')
            return xfail(x, "attribute value not quoted");
        x->pos++;
        while (x->s[x->pos] && x->s[x->pos] != q) {
            if (x->s[x->pos] == '<')
                return xfail(x, "'<' in attribute value");
            if (x->s[x->pos] == '&') {
                if (!read_reference(x))
                    return 0;
            } else
                x->pos++;
        }
        if (!x->s[x->pos])
            return xfail(x, "unterminated attribute value");
        x->pos++;
    }
    /* content */
    for (;;) {
        if (!read_char_data(x))
            return 0;
        if (!x->s[x->pos])
            return xfail(x, "unclosed element");
        if (!strncmp(x->s + x->pos, "<!--", 4)) {
            if (!skip_comment(x))
                return 0;
        } else if (x->s[x->pos + 1] == '/') {
            char close[32];
            x->pos += 2;
            if (!read_name(x, close, sizeof close))
                return 0;
            if (strcmp(close, name))
                return xfail(x, "mismatched end tag");
            skip_ws(x);
            if (x->s[x->pos] != '>')
                return xfail(x, "expected '>'");
            x->pos++;
            return 1;
        } else if (!read_element(x, depth + 1))
            return 0;
    }
}

static int xml_well_formed(const char *text, xml_check *x)
{
    memset(x, 0, sizeof *x);
    x->s = text;
    if (!strncmp(text, "<?xml", 5)) {
        const char *end = strstr(text, "?>");
        if (!end)
            return xfail(x, "unterminated prolog");
        x->pos = (size_t)(end - text) + 2;
    }
    int roots = 0;
    for (;;) {
        skip_ws(x);
        if (!x->s[x->pos])
            break;
        if (!strncmp(x->s + x->pos, "<!--", 4)) {
            if (!skip_comment(x))
                return 0;
            continue;
        }
        if (x->s[x->pos] != '<')
            return xfail(x, "text outside the root element");
        if (roots++)
            return xfail(x, "more than one root element");
        if (!read_element(x, 0))
            return 0;
    }
    return roots == 1 ? 1 : xfail(x, "no root element");
}

static int xml_count(const xml_check *x, const char *name)
{
    for (int i = 0; i < x->n_names; i++)
        if (!strcmp(x->names[i], name))
            return x->counts[i];
    return 0;
}

static char *render(const gravrd_svg *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    gravrd_error err = {0};
    assert_int_equal(gravrd_svg_write(g, f, &err), GRAVRD_OK);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* ---- the checker itself ---- */

static void test_checker_rejects_bad_xml(void **state)
{
    (void)state;
    xml_check x;
    assert_true(xml_well_formed("<a><b x=\"1\"/>t &amp; u</a>", &x));
    assert_false(xml_well_formed("<a><b></a></b>", &x));
    assert_false(xml_well_formed("<a x=1/>", &x));
    assert_false(xml_well_formed("<a x=\"1\" x=\"2\"/>", &x));
    assert_false(xml_well_formed("<a>1 < 2</a>", &x));
    assert_false(xml_well_formed("<a>R&D</a>", &x));
    assert_false(xml_well_formed("<a/><b/>", &x));
    assert_false(xml_well_formed("<a t=\"x<y\"/>", &x));
    assert_false(xml_well_formed("<a>", &x));
}

/* ---- the writer ---- */

static void test_full_figure_is_well_formed(void **state)
{
    (void)state;
    gravrd_error err = {0};
    gravrd_svg *g = gravrd_svg_new(720, 480);
    assert_non_null(g);
    double px[] = {-100, -50, NAN, 10, 60, 110}, py[] = {0.1, 0.2, 0.3, NAN, 0.4, -0.1};
    double lx[] = {-100, -50, 0, 0, 50, 100}, ly[] = {0.0, 0.05, 0.1, NAN, 0.2, 0.3};
    double lo[] = {-0.1, -0.05, 0.0, 0.1, 0.1, 0.2}, hi[] = {0.1, 0.15, 0.2, 0.3, 0.3, 0.4};
    double x0[] = {-100, 50}, y0[] = {0, 0.3}, x1[] = {-100, 50}, y1[] = {0.2, 0.5};
    assert_int_equal(gravrd_svg_title(g, "Trade <w2e> & \"partners\" 'RD'", &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_axis_labels(g, "distance (km) < 0: control", "residual log1p(trade)", &err),
                     GRAVRD_OK);
    assert_int_equal(gravrd_svg_band(g, 6, lx, lo, hi, &(gravrd_svg_style){.label = "95% CI"}, &err), GRAVRD_OK);
    assert_int_equal(
        gravrd_svg_points(g, 6, px, py, &(gravrd_svg_style){.fill = "#333", .radius = 4, .label = "bin means"}, &err),
        GRAVRD_OK);
    assert_int_equal(gravrd_svg_line(g, 6, lx, ly, &(gravrd_svg_style){.stroke = "#d62728", .label = "fit"}, &err),
                     GRAVRD_OK);
    assert_int_equal(gravrd_svg_segments(g, 2, x0, y0, x1, y1, NULL, &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_vline(g, 0, &(gravrd_svg_style){.dash = "4 3", .label = "cutoff"}, &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_hline(g, 0, NULL, &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_text(g, 50, 0.45, "h = 100 km & b < 200", &(gravrd_svg_style){.anchor = "start"}, &err),
                     GRAVRD_OK);

    char *doc = render(g);
    xml_check x;
    int ok = xml_well_formed(doc, &x);
    if (!ok)
        print_error("XML error: %s\n", x.error);
    assert_true(ok);
    assert_string_equal(x.root, "svg");
    assert_non_null(strstr(doc, "xmlns=\"http://www.w3.org/2000/svg\""));
    /* 4 finite points + 1 legend marker */
    assert_int_equal(xml_count(&x, "circle"), 5);
    /* the line is broken at the NaN: two polylines */
    assert_int_equal(xml_count(&x, "polyline"), 2);
    assert_int_equal(xml_count(&x, "polygon"), 1);
    assert_non_null(strstr(doc, "Trade &lt;w2e&gt; &amp; &quot;partners&quot; &apos;RD&apos;"));
    assert_non_null(strstr(doc, "h = 100 km &amp; b &lt; 200"));
    assert_null(strstr(doc, "nan"));
    assert_null(strstr(doc, "inf"));
    /* every circle lies inside the canvas */
    for (const char *p = strstr(doc, "<circle cx=\""); p; p = strstr(p + 1, "<circle cx=\"")) {
        double cx = atof(p + 12);
        const char *q = strstr(p, "cy=\"");
        double cy = atof(q + 4);
        assert_true(cx >= 0 && cx <= 720 && cy >= 0 && cy <= 480);
    }
    free(doc);
    gravrd_svg_free(g);
}

static void test_empty_and_degenerate_figures(void **state)
{
    (void)state;
    gravrd_error err = {0};
    xml_check x;
    gravrd_svg *g = gravrd_svg_new(200, 150);
    char *doc = render(g);
    assert_true(xml_well_formed(doc, &x));
    free(doc);
    /* one constant point, all-NaN line, fixed ranges */
    double one = 5, nan_[2] = {NAN, NAN};
    assert_int_equal(gravrd_svg_points(g, 1, &one, &one, NULL, &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_line(g, 2, nan_, nan_, NULL, &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_points(g, 0, NULL, NULL, NULL, &err), GRAVRD_OK);
    doc = render(g);
    assert_true(xml_well_formed(doc, &x));
    assert_int_equal(xml_count(&x, "circle"), 1);
    assert_int_equal(xml_count(&x, "polyline"), 0);
    free(doc);
    assert_int_equal(gravrd_svg_xlim(g, -1e-6, 1e-6, &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_ylim(g, 1e6, 1e6 + 1, &err), GRAVRD_OK);
    doc = render(g);
    assert_true(xml_well_formed(doc, &x));
    free(doc);
    gravrd_svg_free(g);
}

static void test_bad_input(void **state)
{
    (void)state;
    gravrd_error err = {0};
    assert_null(gravrd_svg_new(10, 480));
    assert_null(gravrd_svg_new(NAN, 480));
    gravrd_svg *g = gravrd_svg_new(400, 300);
    double v[2] = {1, 2};
    assert_int_equal(gravrd_svg_points(g, 2, v, NULL, NULL, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_svg_line(g, 2, v, v, &(gravrd_svg_style){.stroke = "red\"/><script"}, &err),
                     GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "not allowed"));
    assert_int_equal(gravrd_svg_text(g, 0, 0, "x", &(gravrd_svg_style){.anchor = "left"}, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_svg_text(g, 0, NAN, "x", NULL, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_svg_band(g, 2, v, v, v, &(gravrd_svg_style){.opacity = 2}, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_svg_xlim(g, 1, 1, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_svg_vline(g, INFINITY, NULL, &err), GRAVRD_ERR_INVALID);
    /* nothing was added by the failed calls */
    char *doc = render(g);
    xml_check x;
    assert_true(xml_well_formed(doc, &x));
    assert_int_equal(xml_count(&x, "polyline") + xml_count(&x, "circle") + xml_count(&x, "polygon"), 0);
    free(doc);
    gravrd_svg_free(g);
}

static void test_save(void **state)
{
    (void)state;
    gravrd_error err = {0};
    char *dir = testutil_tempdir();
    assert_non_null(dir);
    char *path = testutil_path(dir, "plot.svg");
    gravrd_svg *g = gravrd_svg_new(640, 400);
    double x[] = {1, 2, 3}, y[] = {3, 1, 2};
    assert_int_equal(gravrd_svg_line(g, 3, x, y, NULL, &err), GRAVRD_OK);
    assert_int_equal(gravrd_svg_save(g, path, &err), GRAVRD_OK);
    char *doc = testutil_read_file(path, NULL);
    assert_non_null(doc);
    xml_check xc;
    assert_true(xml_well_formed(doc, &xc));
    free(doc);
    char *bad = testutil_path(dir, "missing/plot.svg");
    assert_int_equal(gravrd_svg_save(g, bad, &err), GRAVRD_ERR_IO);
    assert_non_null(strstr(err.message, "missing/plot.svg"));
    free(bad);
    free(path);
    gravrd_svg_free(g);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_rejects_bad_xml),
        cmocka_unit_test(test_full_figure_is_well_formed),
        cmocka_unit_test(test_empty_and_degenerate_figures),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_save),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
