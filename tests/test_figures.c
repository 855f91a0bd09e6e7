/* test_figures.c - the figures library (gravrd/figures.h): Figure 2's bins
 * and fits against direct computations (bins by hand, residuals from the
 * closed form of a balanced two-way layout, fits against gravrd_reg with the
 * same clustering), panels that share residuals against panels computed on
 * their own rows, Figure 1's markers and lines on the real geography, the
 * SVG marker shapes, gravrd_report_figures on a small simulated world, and
 * bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/figures.h"
#include "gravrd/sim.h"
#include "gravrd/study.h"
#include "gravrd/svg.h"
#include "support/testutil.h"
#include "support/xmlcheck.h"
#include "util/json_read.h"

/* ---- helpers ---- */

static void add_num(gravrd_frame *f, const char *name, const double *v)
{
    double *c = malloc(f->n_rows * sizeof *c);
    assert_non_null(c);
    memcpy(c, v, f->n_rows * sizeof *c);
    gravrd_error err = {0};
    assert_int_equal(gravrd_frame_add_numeric(f, name, c, &err), GRAVRD_OK);
}

/* A deterministic uniform in [0, 1). */
static double unif(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) / 9007199254740992.0;
}

static int count_sub(const char *text, const char *end, const char *pat)
{
    int n = 0;
    size_t len = strlen(pat);
    for (const char *p = strstr(text, pat); p && p < end; p = strstr(p + len, pat))
        n++;
    return n;
}

/* The part of an svg.c document holding the data layers. */
static void layers_span(const char *svg, const char **from, const char **to)
{
    *from = strstr(svg, "<g class=\"layers\"");
    assert_non_null(*from);
    *to = strstr(*from, "<g class=\"legend\">");
    if (!*to)
        *to = *from + strlen(*from);
}

static const double *num_col(const gravrd_frame *f, const char *name)
{
    const gravrd_column *c = gravrd_frame_find(f, name);
    assert_non_null(c);
    return c->num_N;
}

/* The small example: N rows, x in [0, 10), partner every 7th row, y linear
 * in x plus noise, 50 clusters of 4 consecutive rows. */
enum { N_SMALL = 200 };

static gravrd_frame *small_frame(void)
{
    gravrd_frame *f = gravrd_frame_new(N_SMALL, "");
    assert_non_null(f);
    double x[N_SMALL], y[N_SMALL], t[N_SMALL], cl[N_SMALL];
    uint64_t s = 7;
    for (int i = 0; i < N_SMALL; i++) {
        x[i] = 10 * unif(&s);
        t[i] = i % 7 == 0;
        y[i] = 1 - 0.3 * x[i] + 0.5 * t[i] + (unif(&s) - 0.5) + 0.2 * ((i / 4) % 3);
        cl[i] = i / 4;
    }
    x[3] = 0; /* the minimum and the maximum are data points */
    x[4] = 10;
    add_num(f, "x", x);
    add_num(f, "y", y);
    add_num(f, "partner", t);
    add_num(f, "cl", cl);
    return f;
}

static void set_one_panel(gravrd_figure2_options *o, const char *const *subsets, const char *const *labels)
{
    o->n_panels = 1;
    o->panel_subsets = subsets;
    o->panel_labels = labels;
}

/* gravrd_reg of y ~ x on rows of group g; returns intercept, slope, vcov and
 * the t critical value for 95%. */
static void reg_fit(const gravrd_frame *f, const char *yname, int g, const char *cluster, double coef[2],
                    double vcov[4], double *crit)
{
    char subset[64], formula[64];
    snprintf(subset, sizeof subset, "partner == %d", g);
    snprintf(formula, sizeof formula, "%s ~ x", yname);
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.subset = subset;
    opt.cluster = cluster;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg(f, formula, &opt, &res, &err), GRAVRD_OK);
    assert_int_equal(res->n, 1);
    const gravrd_reg_result *r = &res->results[0];
    assert_int_equal(r->n_coef, 2);
    assert_string_equal(r->coefs[0].name, "(Intercept)");
    coef[0] = r->coefs[0].estimate;
    coef[1] = r->coefs[1].estimate;
    memcpy(vcov, r->vcov, 4 * sizeof *vcov);
    *crit = gsl_cdf_tdist_Pinv(0.975, r->t_df);
    gravrd_reg_results_free(res);
}

static void assert_close(double a, double b, double rel)
{
    if (!(fabs(a - b) <= rel * fmax(1.0, fmax(fabs(a), fabs(b)))))
        fail_msg("%.17g != %.17g (tolerance %g)", a, b, rel);
}

/* ---- Figure 2: bins and fits ---- */

static void test_bins_equal_direct_computation(void **state)
{
    (void)state;
    gravrd_frame *f = small_frame();
    const char *const subsets[] = {NULL}, *const labels[] = {"all"};
    gravrd_figure2_options o;
    gravrd_figure2_options_init(&o);
    o.outcome = "y";
    o.distance = "x";
    o.fixed_effects = "";
    o.cluster = "cl";
    o.n_bins = 10;
    set_one_panel(&o, subsets, labels);
    gravrd_figure2 *fig = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_OK);
    assert_int_equal(fig->n_panels, 1);
    const gravrd_figure2_panel *p = &fig->panels[0];
    assert_int_equal(p->n_rows, N_SMALL);
    assert_int_equal(p->n_bins, 10);
    assert_string_equal(p->label, "all");
    assert_null(p->subset);

    const double *x = num_col(f, "x"), *y = num_col(f, "y"), *t = num_col(f, "partner");
    double n[10][2] = {{0}}, sx[10][2] = {{0}}, sy[10][2] = {{0}};
    for (int i = 0; i < N_SMALL; i++) {
        int b = (int)floor(x[i] / 10 * 10);
        if (b > 9)
            b = 9;
        int g = t[i] != 0;
        n[b][g]++;
        sx[b][g] += x[i];
        sy[b][g] += y[i];
    }
    assert_close(p->x_lo, 0, 0);
    assert_close(p->x_hi, 10, 0);
    size_t total = 0;
    for (int b = 0; b < 10; b++) {
        assert_close(p->bins[b].lo, b, 1e-15);
        assert_close(p->bins[b].hi, b + 1, 1e-15);
        for (int g = 0; g < 2; g++) {
            assert_int_equal(p->bins[b].n[g], (size_t)n[b][g]);
            total += p->bins[b].n[g];
            if (n[b][g] == 0) {
                assert_true(isnan(p->bins[b].y_mean[g]));
                continue;
            }
            assert_close(p->bins[b].x_mean[g], sx[b][g] / n[b][g], 1e-13);
            assert_close(p->bins[b].y_mean[g], sy[b][g] / n[b][g], 1e-13);
        }
    }
    assert_int_equal(total, N_SMALL);
    /* the row at the maximum is in the last bin */
    assert_true(p->bins[9].n[0] + p->bins[9].n[1] >= 1);

    /* fits: gravrd_reg of y ~ x by group, clustered by cl (fixest's CR1) */
    for (int g = 0; g < 2; g++) {
        double coef[2], vc[4], crit;
        reg_fit(f, "y", g, "cl", coef, vc, &crit);
        const gravrd_figure2_fit *fit = &p->fit[g];
        assert_int_equal(fit->n, g ? 29 : 171);
        assert_close(fit->intercept, coef[0], 1e-10);
        assert_close(fit->slope, coef[1], 1e-10);
        for (int k = 0; k < 4; k++)
            assert_close(fit->vcov[k], vc[k], 1e-9);
        assert_close(fit->crit, crit, 1e-10);
        double yhat, se;
        gravrd_figure2_fit_at(fit, 2.0, &yhat, &se);
        assert_close(yhat, coef[0] + 2 * coef[1], 1e-10);
        assert_close(se * se, vc[0] + 4 * vc[1] + 4 * vc[3], 1e-9);
    }
    gravrd_figure2_free(fig);

    /* iid fits */
    o.cluster = "";
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_OK);
    for (int g = 0; g < 2; g++) {
        double coef[2], vc[4], crit;
        reg_fit(f, "y", g, NULL, coef, vc, &crit);
        assert_int_equal(fig->panels[0].fit[g].n_clusters, 0);
        for (int k = 0; k < 4; k++)
            assert_close(fig->panels[0].fit[g].vcov[k], vc[k], 1e-9);
        assert_close(fig->panels[0].fit[g].crit, crit, 1e-10);
    }
    gravrd_figure2_free(fig);
    gravrd_frame_free(f);
}

/* A complete two-way layout (one row per cell): the FE residual is
 * y_ab - ybar_a. - ybar_.b + ybar_.. */
static void test_residuals_balanced_two_way(void **state)
{
    (void)state;
    enum { A = 6, B = 8, NR = A * B };
    gravrd_frame *f = gravrd_frame_new(NR, "");
    double a[NR], b[NR], x[NR], y[NR], t[NR];
    uint64_t s = 11;
    for (int i = 0; i < NR; i++) {
        a[i] = i / B;
        b[i] = i % B;
        x[i] = 3 + 2 * unif(&s);
        t[i] = (i % 5) == 0;
        y[i] = 0.7 * a[i] - 0.2 * b[i] * b[i] + x[i] + unif(&s);
    }
    add_num(f, "a", a);
    add_num(f, "b", b);
    add_num(f, "x", x);
    add_num(f, "y", y);
    add_num(f, "partner", t);
    double ma[A] = {0}, mb[B] = {0}, m = 0, res[NR];
    for (int i = 0; i < NR; i++) {
        ma[i / B] += y[i] / B;
        mb[i % B] += y[i] / A;
        m += y[i] / NR;
    }
    for (int i = 0; i < NR; i++)
        res[i] = y[i] - ma[i / B] - mb[i % B] + m;
    add_num(f, "res", res);

    const char *const subsets[] = {""}, *const labels[] = {NULL};
    gravrd_figure2_options o;
    gravrd_figure2_options_init(&o);
    o.outcome = "y";
    o.distance = "x";
    o.fixed_effects = "a + b";
    o.cluster = "a";
    o.n_bins = 4;
    o.tol = 1e-13;
    set_one_panel(&o, subsets, labels);
    gravrd_figure2 *fig = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_OK);
    const gravrd_figure2_panel *p = &fig->panels[0];
    assert_string_equal(p->label, "all rows");
    assert_int_equal(p->n_rows, NR);
    assert_int_equal(p->n_dropped_singletons, 0);
    /* the same panel computed with the closed-form residuals and no FE */
    gravrd_figure2 *ref = NULL;
    o.outcome = "res";
    o.fixed_effects = "";
    assert_int_equal(gravrd_figure2_compute(f, &o, &ref, &err), GRAVRD_OK);
    const gravrd_figure2_panel *q = &ref->panels[0];
    for (int k = 0; k < 4; k++)
        for (int g = 0; g < 2; g++) {
            assert_int_equal(p->bins[k].n[g], q->bins[k].n[g]);
            if (q->bins[k].n[g])
                assert_close(p->bins[k].y_mean[g], q->bins[k].y_mean[g], 1e-9);
        }
    for (int g = 0; g < 2; g++) {
        assert_close(p->fit[g].slope, q->fit[g].slope, 1e-8);
        assert_close(p->fit[g].intercept, q->fit[g].intercept, 1e-8);
        assert_close(p->fit[g].vcov[3], q->fit[g].vcov[3], 1e-7);
        assert_int_equal(p->fit[g].n_clusters, A);
    }
    assert_string_equal(fig->outcome, "y");
    assert_string_equal(fig->fixed_effects, "a + b");
    gravrd_figure2_free(fig);
    gravrd_figure2_free(ref);
    gravrd_frame_free(f);
}

/* Two directions whose FE levels do not overlap: the direction panels take
 * their residuals from the all-rows fit and equal panels computed on the
 * direction's rows alone; a subset that cuts FE levels is residualised on
 * its own. */
static void test_panels_share_residuals_only_when_closed(void **state)
{
    (void)state;
    enum { NR = 240 };
    gravrd_frame *f = gravrd_frame_new(NR, "");
    double d[NR], e[NR], m[NR], x[NR], y[NR], t[NR], cl[NR], k[NR];
    uint64_t s = 5;
    for (int i = 0; i < NR; i++) {
        d[i] = i % 2;                       /* direction */
        k[i] = (i / 2) % 6;                 /* a city, 6 per direction */
        e[i] = d[i] * 100 + k[i];           /* exporter-like FE: levels differ by direction */
        m[i] = d[i] * 100 + (i / 12) % 5;   /* importer-like FE */
        x[i] = 5 + 3 * unif(&s);
        t[i] = (i % 9) == 0;
        y[i] = e[i] / 50 + m[i] / 70 - 0.4 * x[i] + unif(&s);
        cl[i] = i / 6;
    }
    add_num(f, "dir", d);
    add_num(f, "k", k);
    add_num(f, "e", e);
    add_num(f, "m", m);
    add_num(f, "x", x);
    add_num(f, "y", y);
    add_num(f, "partner", t);
    add_num(f, "cl", cl);
    const char *const subsets[] = {NULL, "dir == 1", "dir == 0", "k < 3"};
    gravrd_figure2_options o;
    gravrd_figure2_options_init(&o);
    o.outcome = "y";
    o.distance = "x";
    o.fixed_effects = "e + m";
    o.cluster = "cl";
    o.n_bins = 7;
    o.tol = 1e-13;
    o.n_panels = 4;
    o.panel_subsets = subsets;
    gravrd_figure2 *fig = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_OK);
    assert_int_equal(fig->n_panels, 4);
    assert_int_equal(fig->panels[0].shared_residuals, 0); /* all rows: the fit itself */
    assert_int_equal(fig->panels[1].shared_residuals, 1);
    assert_int_equal(fig->panels[2].shared_residuals, 1);
    assert_int_equal(fig->panels[3].shared_residuals, 0);
    assert_string_equal(fig->panels[1].subset, "dir == 1");
    assert_string_equal(fig->panels[1].label, "dir == 1"); /* no labels: the subset */
    for (int p = 1; p < 4; p++) {
        gravrd_expr *ex = NULL;
        assert_int_equal(gravrd_expr_parse(subsets[p], &ex, &err), GRAVRD_OK);
        double v[NR];
        gravrd_eval_env env = {f, NULL, NULL};
        assert_int_equal(gravrd_expr_eval(ex, &env, v, &err), GRAVRD_OK);
        gravrd_expr_free(ex);
        uint8_t keep[NR];
        for (int i = 0; i < NR; i++)
            keep[i] = v[i] != 0;
        gravrd_frame *sub = gravrd_frame_filter(f, keep);
        assert_non_null(sub);
        gravrd_figure2_options o1 = o;
        const char *const all[] = {NULL};
        set_one_panel(&o1, all, NULL);
        gravrd_figure2 *ref = NULL;
        assert_int_equal(gravrd_figure2_compute(sub, &o1, &ref, &err), GRAVRD_OK);
        const gravrd_figure2_panel *a = &fig->panels[p], *b = &ref->panels[0];
        assert_int_equal(a->n_rows, b->n_rows);
        assert_close(a->x_lo, b->x_lo, 0);
        assert_close(a->x_hi, b->x_hi, 0);
        for (int q = 0; q < 7; q++)
            for (int g = 0; g < 2; g++) {
                assert_int_equal(a->bins[q].n[g], b->bins[q].n[g]);
                if (b->bins[q].n[g])
                    assert_close(a->bins[q].y_mean[g], b->bins[q].y_mean[g], 1e-9);
            }
        for (int g = 0; g < 2; g++) {
            assert_close(a->fit[g].slope, b->fit[g].slope, 1e-8);
            assert_close(a->fit[g].vcov[3], b->fit[g].vcov[3], 1e-7);
        }
        gravrd_figure2_free(ref);
        gravrd_frame_free(sub);
    }
    gravrd_figure2_free(fig);
    gravrd_frame_free(f);
}

static void test_singletons_and_missing_values(void **state)
{
    (void)state;
    gravrd_frame *f = small_frame();
    /* FE g: one level with a single row (row 0), the rest in pairs; a
     * missing outcome in row 1 */
    double g[N_SMALL], y2[N_SMALL];
    const double *y = num_col(f, "y");
    for (int i = 0; i < N_SMALL; i++) {
        g[i] = i == 0 ? 999 : i / 2;
        y2[i] = i == 1 ? NAN : y[i];
    }
    add_num(f, "g", g);
    add_num(f, "y2", y2);
    const char *const subsets[] = {NULL};
    gravrd_figure2_options o;
    gravrd_figure2_options_init(&o);
    o.outcome = "y2";
    o.distance = "x";
    o.fixed_effects = "g";
    o.cluster = "cl";
    set_one_panel(&o, subsets, NULL);
    gravrd_figure2 *fig = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_OK);
    const gravrd_figure2_panel *p = &fig->panels[0];
    assert_int_equal(p->n_bins, 50); /* the default */
    assert_int_equal(p->n_dropped_missing, 1);
    /* row 0 is alone in level 999: a singleton; row 1 (level 0, whose other
     * row moved to level 999) is dropped for its missing outcome */
    assert_int_equal(p->n_dropped_singletons, 1);
    assert_int_equal(p->n_rows, N_SMALL - 2);
    gravrd_figure2_free(fig);
    gravrd_frame_free(f);
}

static void test_bad_input(void **state)
{
    (void)state;
    gravrd_frame *f = small_frame();
    const char *const subsets[] = {NULL}, *const empty[] = {"x > 1e9"};
    gravrd_figure2_options o;
    gravrd_figure2_options_init(&o);
    o.outcome = "log(nosuch)";
    o.distance = "x";
    o.fixed_effects = "";
    o.cluster = "cl";
    set_one_panel(&o, subsets, NULL);
    gravrd_figure2 *fig = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_ERR_INVALID);
    assert_null(fig);
    assert_non_null(strstr(err.message, "nosuch"));
    assert_non_null(strstr(err.message, "outcome"));

    o.outcome = "y";
    o.panel_subsets = empty;
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_ERR_EMPTY);
    assert_non_null(strstr(err.message, "x > 1e9"));

    o.panel_subsets = subsets;
    o.cluster = "cl + x";
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "one cluster"));

    o.cluster = "cl";
    o.n_bins = -2;
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_ERR_INVALID);
    o.n_bins = 0;
    o.level = 120;
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_ERR_INVALID);
    o.level = 0;
    o.distance = "log(";
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_ERR_PARSE);
    assert_non_null(strstr(err.message, "distance"));
    o.distance = "x";
    o.n_panels = 2;
    o.panel_subsets = NULL;
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_figure2_compute(NULL, NULL, &fig, &err), GRAVRD_ERR_INVALID);
    gravrd_frame_free(f);
}

static void test_variables(void **state)
{
    (void)state;
    char **names = NULL;
    size_t n = 0;
    gravrd_error err = {0};
    assert_int_equal(gravrd_figure2_variables(NULL, &names, &n, &err), GRAVRD_OK);
    const char *want[] = {"trade", "distance", "partner", "e2w", "w2e", "exp_city", "month", "imp_city"};
    assert_int_equal(n, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want[i]);
    gravrd_strings_free(names, n);
    gravrd_figure2_options o;
    gravrd_figure2_options_init(&o);
    o.outcome = "log(deals + trade)";
    o.cluster = "";
    o.fixed_effects = "";
    const char *const subsets[] = {"above_median(west_gdp) == 1"};
    set_one_panel(&o, subsets, NULL);
    assert_int_equal(gravrd_figure2_variables(&o, &names, &n, &err), GRAVRD_OK);
    const char *want2[] = {"deals", "trade", "distance", "partner", "west_gdp"};
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(names[i], want2[i]);
    gravrd_strings_free(names, n);
}

static char *render_file(const char *path)
{
    char *text = testutil_read_file(path, NULL);
    assert_non_null(text);
    xml_check x;
    if (!xml_well_formed(text, &x))
        fail_msg("%s: %s", path, x.error);
    assert_string_equal(x.root, "svg");
    return text;
}

static void test_figure2_svg(void **state)
{
    (void)state;
    gravrd_frame *f = small_frame();
    const char *const subsets[] = {NULL}, *const labels[] = {"(a) all <rows> & more"};
    gravrd_figure2_options o;
    gravrd_figure2_options_init(&o);
    o.outcome = "y";
    o.distance = "x";
    o.fixed_effects = "";
    o.n_bins = 12;
    o.cluster = "cl";
    set_one_panel(&o, subsets, labels);
    gravrd_figure2 *fig = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_figure2_compute(f, &o, &fig, &err), GRAVRD_OK);
    char *dir = testutil_tempdir(), *path = testutil_path(dir, "f2.svg");
    assert_int_equal(gravrd_figure2_svg(fig, 0, NULL, path, &err), GRAVRD_OK);
    assert_int_equal(gravrd_figure2_svg(fig, 1, NULL, path, &err), GRAVRD_ERR_INVALID);
    char *svg = render_file(path);
    assert_non_null(strstr(svg, "(a) all &lt;rows&gt; &amp; more"));
    const char *from, *to;
    layers_span(svg, &from, &to);
    size_t bins_other = 0, bins_partner = 0;
    for (int b = 0; b < 12; b++) {
        bins_other += fig->panels[0].bins[b].n[0] > 0;
        bins_partner += fig->panels[0].bins[b].n[1] > 0;
    }
    /* other pairs: squares; partnership pairs: circles; two bands, two lines */
    assert_int_equal(count_sub(from, to, "<rect "), (int)bins_other);
    assert_int_equal(count_sub(from, to, "<circle "), (int)bins_partner);
    assert_int_equal(count_sub(from, to, "<polygon "), 2);
    assert_int_equal(count_sub(from, to, "<polyline "), 2);
    free(svg);
    gravrd_figure2_free(fig);
    gravrd_frame_free(f);
    free(path);
    testutil_rmdir(dir);
}

/* ---- Figure 1 ---- */

static void test_figure1_real_geography(void **state)
{
    (void)state;
    gravrd_study *study = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_study_load(GRAVRD_SOURCE_DIR "/data", 100.0, &study, &err), GRAVRD_OK);
    gravrd_figure1 *f = NULL;
    assert_int_equal(gravrd_figure1_compute(study, &f, &err), GRAVRD_OK);
    assert_int_equal(f->n_cities, 197);
    assert_int_equal(f->n_east, 87);
    assert_int_equal(f->n_west, 110);

    /* the lines are exactly the rows of partnerships.csv */
    gravrd_frame *pf = NULL;
    assert_int_equal(gravrd_csv_read(GRAVRD_SOURCE_DIR "/data/partnerships.csv", NULL, &pf, &err), GRAVRD_OK);
    const double *pe = num_col(pf, "east_city_id"), *pw = num_col(pf, "west_city_id");
    assert_int_equal(f->n_lines, pf->n_rows);
    assert_int_equal(f->n_lines, gravrd_study_n_partnerships(study));
    size_t in_prog[2] = {0, 0};
    for (size_t k = 0; k < f->n_lines; k++) {
        int64_t e = f->id_N[f->east_L[k]], w = f->id_N[f->west_L[k]];
        assert_int_equal(f->west_N[f->east_L[k]], 0);
        assert_int_equal(f->west_N[f->west_L[k]], 1);
        int found = 0;
        for (size_t r = 0; r < pf->n_rows; r++)
            found += (int64_t)pe[r] == e && (int64_t)pw[r] == w;
        assert_int_equal(found, 1);
        if (k)
            assert_true(f->east_L[k] > f->east_L[k - 1] ||
                        (f->east_L[k] == f->east_L[k - 1] && f->west_L[k] > f->west_L[k - 1]));
    }
    for (size_t i = 0; i < f->n_cities; i++) {
        int listed = 0;
        for (size_t r = 0; r < pf->n_rows; r++)
            listed |= (int64_t)pe[r] == f->id_N[i] || (int64_t)pw[r] == f->id_N[i];
        assert_int_equal(f->in_program_N[i], listed);
        in_prog[f->west_N[i] != 0] += listed;
    }
    assert_int_equal(f->n_east_program, in_prog[0]);
    assert_int_equal(f->n_west_program, in_prog[1]);

    /* the SVG: one marker per city (eastern squares, western circles),
     * one dashed line per partnership */
    char *dir = testutil_tempdir(), *path = testutil_path(dir, "map.svg");
    assert_int_equal(gravrd_figure1_svg(f, NULL, path, &err), GRAVRD_OK);
    char *svg = render_file(path);
    const char *from, *to;
    layers_span(svg, &from, &to);
    assert_int_equal(count_sub(from, to, "<rect "), 87);
    assert_int_equal(count_sub(from, to, "<circle "), 110);
    assert_int_equal(count_sub(from, to, "<line "), (int)f->n_lines);
    assert_non_null(strstr(svg, "stroke-dasharray=\"5 3\""));
    assert_non_null(strstr(svg, "197 cities (87 east, 110 west)"));
    free(svg);
    free(path);
    testutil_rmdir(dir);
    gravrd_frame_free(pf);
    gravrd_figure1_free(f);
    gravrd_study_free(study);
}

/* ---- svg.c additions used by the figures ---- */

static void test_svg_markers_and_legend(void **state)
{
    (void)state;
    gravrd_error err = {0};
    gravrd_svg *g = gravrd_svg_new(400, 300);
    double x[] = {1, 2, 3}, y[] = {1, 2, 3};
    static const char *const shapes[] = {"circle", "square", "triangle", "diamond"};
    for (int k = 0; k < 4; k++)
        assert_int_equal(gravrd_svg_points(g, 3, x, y, &(gravrd_svg_style){.marker = shapes[k], .label = shapes[k]}, &err),
                         GRAVRD_OK);
    assert_int_equal(gravrd_svg_points(g, 3, x, y, &(gravrd_svg_style){.marker = "star"}, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "star"));
    assert_int_equal(gravrd_svg_legend_position(g, "middle", &err), GRAVRD_ERR_INVALID);
    assert_int_equal(gravrd_svg_legend_position(g, "bottom-right", &err), GRAVRD_OK);
    char *buf = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&buf, &len);
    assert_int_equal(gravrd_svg_write(g, mf, &err), GRAVRD_OK);
    fclose(mf);
    xml_check xc;
    assert_true(xml_well_formed(buf, &xc));
    const char *from, *to;
    layers_span(buf, &from, &to);
    assert_int_equal(count_sub(from, to, "<circle "), 3);
    assert_int_equal(count_sub(from, to, "<rect "), 3);
    assert_int_equal(count_sub(from, to, "<polygon "), 6);
    /* the legend: a box and one marker of each shape */
    assert_int_equal(count_sub(to, to + strlen(to), "<rect "), 2);
    assert_int_equal(count_sub(to, to + strlen(to), "<polygon "), 2);
    free(buf);
    assert_int_equal(gravrd_svg_legend_position(g, "none", &err), GRAVRD_OK);
    mf = open_memstream(&buf, &len);
    assert_int_equal(gravrd_svg_write(g, mf, &err), GRAVRD_OK);
    fclose(mf);
    assert_null(strstr(buf, "class=\"legend\""));
    free(buf);
    gravrd_svg_free(g);
}

/* ---- gravrd_report_figures on a small simulated world ---- */

static void test_report_figures_simulated(void **state)
{
    (void)state;
    char *dir = testutil_tempdir(), *world = testutil_path(dir, "world"), *out = testutil_path(dir, "out");
    gravrd_sim_params sp;
    gravrd_sim_params_init(&sp);
    sp.months = 3;
    gravrd_error err = {0};
    if (gravrd_sim_write(&sp, world, 0, &err))
        fail_msg("%s", err.message);
    assert_int_equal(mkdir(out, 0755), 0);
    gravrd_study *study = NULL;
    gravrd_frame *flows = NULL;
    char *flows_path = testutil_path(world, "flows.csv");
    assert_int_equal(gravrd_study_load(world, 100.0, &study, &err), GRAVRD_OK);
    assert_int_equal(gravrd_csv_read(flows_path, NULL, &flows, &err), GRAVRD_OK);
    assert_int_equal(gravrd_report_figures(study, flows, out, NULL, &err), GRAVRD_OK);

    char *fj_path = testutil_path(out, "figures.json");
    json_t *fj = NULL;
    assert_int_equal(jr_parse_file(fj_path, &fj, &err), GRAVRD_OK);
    const json_t *figs = jr_get(fj, "figures");
    assert_non_null(figs);
    static const char *const ids[] = {"figure1", "figure2a", "figure2b", "figure2c", "rd_all", "rd_e2w", "rd_w2e"};
    assert_int_equal(json_array_size(figs), 7);
    for (size_t k = 0; k < json_array_size(figs); k++) {
        assert_string_equal(jr_str(json_array_get(figs, k), "id"), ids[k]);
        char *p = testutil_path(out, jr_str(json_array_get(figs, k), "file"));
        char *svg = render_file(p);
        free(svg);
        free(p);
        assert_non_null(jr_str(json_array_get(figs, k), "caption"));
    }
    /* Figure 2: 3 months x 19,140 directed pairs, half in each direction */
    const json_t *n2 = jr_get(json_array_get(figs, 1), "numbers");
    assert_true(jr_num(n2, "rows") == 3 * 19140);
    assert_true(jr_num(jr_get(json_array_get(figs, 2), "numbers"), "rows") == 3 * 9570);
    assert_true(jr_num(jr_get(json_array_get(figs, 0), "numbers"), "partnerships") == 95);
    json_decref(fj);

    /* the full-sample panel on its own equals the library call */
    gravrd_figure2 *f2 = NULL;
    char **names = NULL;
    size_t n_names = 0;
    assert_int_equal(gravrd_figure2_variables(NULL, &names, &n_names, &err), GRAVRD_OK);
    gravrd_frame *frame = NULL;
    assert_int_equal(gravrd_study_frame(study, flows, (const char *const *)names, n_names, &frame, &err), GRAVRD_OK);
    assert_int_equal(gravrd_figure2_compute(frame, NULL, &f2, &err), GRAVRD_OK);
    assert_int_equal(f2->n_panels, 3);
    assert_int_equal(f2->panels[1].shared_residuals, 1); /* e2w: a union of whole city-month levels */
    assert_int_equal(f2->panels[2].shared_residuals, 1);
    assert_int_equal(f2->panels[0].fit[1].n, 3 * 190);   /* 95 partnerships, both directions */
    /* the balanced panel is residualised directly (no iterations); the same
     * FE space spelled with a third, nested term takes iterative demeaning,
     * here at a tight tolerance, and gives the same figure */
    gravrd_figure2 *g2 = NULL;
    gravrd_figure2_options o2;
    gravrd_figure2_options_init(&o2);
    o2.fixed_effects = "exp_city^month + imp_city^month + month";
    o2.tol = 1e-14;
    assert_int_equal(gravrd_figure2_compute(frame, &o2, &g2, &err), GRAVRD_OK);
    assert_int_equal(g2->n_panels, 3);
    for (size_t p = 0; p < 3; p++) {
        const gravrd_figure2_panel *a = &f2->panels[p], *b = &g2->panels[p];
        assert_int_equal(a->demean_iterations, 0);
        assert_true(b->demean_iterations >= 1);
        assert_int_equal(a->n_rows, b->n_rows);
        assert_int_equal(a->n_bins, b->n_bins);
        for (int k = 0; k < a->n_bins; k++)
            for (int g = 0; g < 2; g++) {
                assert_int_equal(a->bins[k].n[g], b->bins[k].n[g]);
                if (a->bins[k].n[g] && !(fabs(a->bins[k].y_mean[g] - b->bins[k].y_mean[g]) <= 1e-10))
                    fail_msg("panel %zu bin %d group %d: direct %.15g, iterative %.15g", p, k, g,
                             a->bins[k].y_mean[g], b->bins[k].y_mean[g]);
            }
        for (int g = 0; g < 2; g++) {
            assert_close(a->fit[g].slope, b->fit[g].slope, 1e-10);
            assert_close(a->fit[g].intercept, b->fit[g].intercept, 1e-10);
            assert_close(a->fit[g].vcov[3], b->fit[g].vcov[3], 1e-9);
        }
    }
    gravrd_figure2_free(g2);
    gravrd_figure2_free(f2);
    gravrd_frame_free(frame);
    gravrd_strings_free(names, n_names);

    gravrd_frame_free(flows);
    gravrd_study_free(study);
    free(fj_path);
    free(flows_path);
    free(world);
    free(out);
    testutil_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bins_equal_direct_computation),
        cmocka_unit_test(test_residuals_balanced_two_way),
        cmocka_unit_test(test_panels_share_residuals_only_when_closed),
        cmocka_unit_test(test_singletons_and_missing_values),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_figure2_svg),
        cmocka_unit_test(test_figure1_real_geography),
        cmocka_unit_test(test_svg_markers_and_legend),
        cmocka_unit_test(test_report_figures_simulated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
