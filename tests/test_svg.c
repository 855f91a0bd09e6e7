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
#include "support/xmlcheck.h"

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
