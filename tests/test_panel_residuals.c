/* test_panel_residuals.c - the direct residuals on A^T + B^T of a balanced
 * panel (src/spatial/panel_residuals.c) against iterative demeaning at a
 * tight tolerance: two blocks (east -> west and west -> east) complete or
 * with cells missing in every month, shuffled rows, a subset of whole
 * months; the general path (applied = 0) for an unbalanced panel, a
 * duplicated cell-month and a missing code; the detection of the FE form
 * and the codes it builds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimate/model_data.h"
#include "gravrd/data.h"
#include "gravrd/formula.h"
#include "gravrd/hdfe.h"
#include "spatial/panel_residuals.h"

/* ---- a small two-block world ---- */

static double rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (double)(*s >> 11) / 9007199254740992.0;
}

typedef struct {
    size_t n;
    int32_t *a, *b, *t; /* exporter city, importer city, month */
    double *y;
    int32_t na, nb, nt; /* level counts of the codes */
} world;

/* n_east + n_west cities (codes 0.. east first); every east -> west and
 * west -> east cell present unless drop_mod > 0 and (7 e + 3 w) % drop_mod
 * == 0 for the pair's east city e and west city w (dropped in every month);
 * n_months months; rows shuffled when shuffle. y has exporter-month,
 * importer-month and pair parts plus noise, so no FE fits it exactly. */
static world make_world(int n_east, int n_west, int n_months, int drop_mod, int shuffle, uint64_t seed)
{
    world w;
    memset(&w, 0, sizeof w);
    const int nc = n_east + n_west;
    const size_t cap = (size_t)2 * n_east * n_west * n_months + 1;
    w.a = malloc(cap * sizeof *w.a);
    w.b = malloc(cap * sizeof *w.b);
    w.t = malloc(cap * sizeof *w.t);
    w.y = malloc(cap * sizeof *w.y);
    assert_true(w.a && w.b && w.t && w.y);
    double *fx = malloc((size_t)nc * n_months * sizeof *fx), *fm = malloc((size_t)nc * n_months * sizeof *fm);
    assert_true(fx && fm);
    uint64_t s = seed;
    for (int k = 0; k < nc * n_months; k++) {
        fx[k] = 3 * rnd(&s);
        fm[k] = 2 * rnd(&s) - 1;
    }
    for (int dir = 0; dir < 2; dir++)
        for (int e = 0; e < n_east; e++)
            for (int v = 0; v < n_west; v++) {
                if (drop_mod > 0 && (7 * e + 3 * v) % drop_mod == 0)
                    continue;
                const int ex = dir ? n_east + v : e, im = dir ? e : n_east + v;
                const double pair = rnd(&s) - 0.5;
                for (int m = 0; m < n_months; m++) {
                    w.a[w.n] = ex;
                    w.b[w.n] = im;
                    w.t[w.n] = m;
                    w.y[w.n] = fx[ex * n_months + m] + fm[im * n_months + m] + pair + 0.3 * rnd(&s);
                    w.n++;
                }
            }
    if (shuffle)
        for (size_t i = w.n - 1; i > 0; i--) {
            size_t j = (size_t)(rnd(&s) * (double)(i + 1));
            int32_t ta = w.a[i], tb = w.b[i], tt = w.t[i];
            double ty = w.y[i];
            w.a[i] = w.a[j], w.b[i] = w.b[j], w.t[i] = w.t[j], w.y[i] = w.y[j];
            w.a[j] = ta, w.b[j] = tb, w.t[j] = tt, w.y[j] = ty;
        }
    w.na = w.nb = nc;
    w.nt = n_months;
    free(fx);
    free(fm);
    return w;
}

static void world_free(world *w)
{
    free(w->a);
    free(w->b);
    free(w->t);
    free(w->y);
}

static panel_abt abt_of(const world *w)
{
    panel_abt abt = {{w->a, w->b, w->t}, {w->na, w->nb, w->nt}};
    return abt;
}

/* The iterative path at tolerance 1e-14: residuals of the kept rows in
 * res_N (others untouched). */
static void iterative(const world *w, const uint8_t *keep, double *res_N)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        n += keep[i];
    int32_t *c0 = malloc(n * sizeof *c0), *c1 = malloc(n * sizeof *c1);
    double *y = malloc(n * sizeof *y);
    assert_true(c0 && c1 && y);
    for (size_t i = 0, k = 0; i < w->n; i++)
        if (keep[i]) {
            c0[k] = w->a[i] * w->nt + w->t[i];
            c1[k] = w->b[i] * w->nt + w->t[i];
            y[k++] = w->y[i];
        }
    const int32_t *codes[2] = {c0, c1};
    gravrd_fe *fe = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_fe_create(2, n, codes, &fe, &err), GRAVRD_OK);
    gravrd_demean_options opt = {1e-14, 0, 1};
    gravrd_demean_report rep = {0};
    assert_int_equal(gravrd_demean(fe, y, 1, &opt, &rep, &err), GRAVRD_OK);
    for (size_t i = 0, k = 0; i < w->n; i++)
        if (keep[i])
            res_N[i] = y[k++];
    gravrd_fe_free(fe);
    free(c0);
    free(c1);
    free(y);
}

/* Largest |direct - iterative| over the kept rows, relative to the
 * largest |y|. */
static double max_rel_diff(const world *w, const uint8_t *keep, const double *d, const double *it)
{
    double scale = 0, diff = 0;
    for (size_t i = 0; i < w->n; i++)
        if (keep[i]) {
            scale = fmax(scale, fabs(w->y[i]));
            diff = fmax(diff, fabs(d[i] - it[i]));
        }
    return diff / scale;
}

/* direct and iterative agree on world w with keep; returns applied */
static int check_world(const world *w, const uint8_t *keep)
{
    double *d = malloc(w->n * sizeof *d), *it = malloc(w->n * sizeof *it);
    assert_true(d && it);
    for (size_t i = 0; i < w->n; i++)
        d[i] = it[i] = -12345.0;
    panel_abt abt = abt_of(w);
    gravrd_error err = {0};
    int applied = -1;
    assert_int_equal(panel_residualise_two_way(w->n, &abt, keep, w->y, d, &applied, &err), GRAVRD_OK);
    if (applied) {
        iterative(w, keep, it);
        double rel = max_rel_diff(w, keep, d, it);
        if (!(rel <= 1e-10))
            fail_msg("direct vs iterative: max relative difference %g", rel);
        for (size_t i = 0; i < w->n; i++)
            if (!keep[i])
                assert_true(d[i] == -12345.0);
    } else {
        for (size_t i = 0; i < w->n; i++)
            assert_true(d[i] == -12345.0); /* untouched */
    }
    free(d);
    free(it);
    return applied;
}

static uint8_t *all_rows(size_t n)
{
    uint8_t *k = malloc(n + 1);
    assert_non_null(k);
    memset(k, 1, n + 1);
    return k;
}

/* ---- tests ---- */

static void test_complete_blocks(void **state)
{
    (void)state;
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        world w = make_world(5, 7, 6, 0, shuffle, 101 + (uint64_t)shuffle);
        assert_int_equal((int)w.n, 2 * 5 * 7 * 6);
        uint8_t *keep = all_rows(w.n);
        assert_int_equal(check_world(&w, keep), 1);
        /* a subset of whole months (1 and 4 dropped) is still balanced */
        for (size_t i = 0; i < w.n; i++)
            keep[i] = w.t[i] != 1 && w.t[i] != 4;
        assert_int_equal(check_world(&w, keep), 1);
        /* one block alone (east -> west) */
        for (size_t i = 0; i < w.n; i++)
            keep[i] = w.a[i] < 5;
        assert_int_equal(check_world(&w, keep), 1);
        free(keep);
        world_free(&w);
    }
}

/* Cells missing in every month: blocks that are not complete tables (the
 * bipartite solver's general case), and more levels on one side. */
static void test_incomplete_graph(void **state)
{
    (void)state;
    for (int mod = 3; mod <= 5; mod++) {
        world w = make_world(6, 9, 5, mod, 1, 7 + (uint64_t)mod);
        assert_true(w.n < (size_t)2 * 6 * 9 * 5);
        uint8_t *keep = all_rows(w.n);
        assert_int_equal(check_world(&w, keep), 1);
        free(keep);
        world_free(&w);
    }
    /* a single month: the plain two-way projection */
    world w = make_world(4, 3, 1, 4, 0, 99);
    uint8_t *keep = all_rows(w.n);
    assert_int_equal(check_world(&w, keep), 1);
    free(keep);
    world_free(&w);
}

static void test_general_path_when_unbalanced(void **state)
{
    (void)state;
    world w = make_world(4, 5, 4, 0, 1, 5);
    uint8_t *keep = all_rows(w.n);
    assert_int_equal(check_world(&w, keep), 1);
    /* one row dropped */
    keep[17] = 0;
    assert_int_equal(check_world(&w, keep), 0);
    /* one row dropped in every month, each from a different cell: the same
     * count each month, but no cell is in every month */
    memset(keep, 1, w.n);
    int32_t cell_a[4] = {0, 1, 2, 3}, cell_b[4] = {4, 5, 6, 7};
    for (size_t i = 0; i < w.n; i++)
        if (w.a[i] == cell_a[w.t[i]] && w.b[i] == cell_b[w.t[i]])
            keep[i] = 0;
    assert_int_equal(check_world(&w, keep), 0);
    /* a missing code on a kept row */
    memset(keep, 1, w.n);
    int32_t t_saved = w.t[3];
    w.t[3] = -1;
    assert_int_equal(check_world(&w, keep), 0);
    w.t[3] = t_saved;
    free(keep);

    /* a duplicated cell-month: a copy of row 0 (another y) replaces a row
     * of the same month in another cell, so every month keeps its count */
    size_t j = 1;
    while (w.t[j] != w.t[0] || (w.a[j] == w.a[0] && w.b[j] == w.b[0]))
        j++;
    w.a[j] = w.a[0];
    w.b[j] = w.b[0];
    w.y[j] = w.y[0] + 1;
    keep = all_rows(w.n);
    assert_int_equal(check_world(&w, keep), 0);
    /* and a copy appended (one month has a row more) */
    world_free(&w);
    w = make_world(4, 5, 4, 0, 0, 6);
    w.a[w.n] = w.a[2];
    w.b[w.n] = w.b[2];
    w.t[w.n] = w.t[2];
    w.y[w.n] = 0.5;
    w.n++;
    free(keep);
    keep = all_rows(w.n);
    assert_int_equal(check_world(&w, keep), 0);
    free(keep);
    world_free(&w);
}

/* ---- the FE form and its codes ---- */

static void add_num(gravrd_frame *f, const char *name, const int32_t *v)
{
    double *c = malloc(f->n_rows * sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < f->n_rows; i++)
        c[i] = v[i] < 0 ? NAN : 10.0 * v[i] + 3;
    gravrd_error err = {0};
    assert_int_equal(gravrd_frame_add_numeric(f, name, c, &err), GRAVRD_OK);
}

/* panel_fe_codes on fe_text: returns found; checks that each term's codes
 * are the partition of model_group_codes in the same order. */
static int fe_codes(const gravrd_frame *f, const char *fe_text)
{
    gravrd_error err = {0};
    gravrd_fe_term *terms = NULL;
    int n_terms = 0;
    assert_int_equal(gravrd_fe_list_parse(fe_text, &terms, &n_terms, &err), GRAVRD_OK);
    const size_t N = f->n_rows;
    int32_t **codes = calloc((size_t)n_terms, sizeof *codes), *nl = calloc((size_t)n_terms, sizeof *nl);
    int32_t *ref = malloc(N * sizeof *ref);
    assert_true(codes && nl && ref);
    for (int q = 0; q < n_terms; q++)
        assert_non_null(codes[q] = malloc(N * sizeof **codes));
    panel_abt abt;
    int found = -1;
    assert_int_equal(panel_fe_codes(f, terms, n_terms, codes, nl, &abt, &found, &err), GRAVRD_OK);
    for (int q = 0; q < n_terms; q++) {
        int32_t ng = 0;
        assert_int_equal(model_group_codes(f, terms[q].vars, terms[q].n_vars, "fixed effect", ref, &ng, &err),
                         GRAVRD_OK);
        /* same missing rows; ref order = code order */
        for (size_t i = 0; i < N; i++) {
            assert_int_equal(codes[q][i] < 0, ref[i] < 0);
            assert_true(codes[q][i] < nl[q]);
            for (size_t j = 0; j < N; j++)
                if (ref[i] >= 0 && ref[j] >= 0) {
                    assert_int_equal(codes[q][i] == codes[q][j], ref[i] == ref[j]);
                    assert_int_equal(codes[q][i] < codes[q][j], ref[i] < ref[j]);
                }
        }
    }
    if (found) {
        for (int k = 0; k < 3; k++)
            assert_non_null(abt.codes_3N[k]);
        panel_abt_free(&abt);
    } else
        for (int k = 0; k < 3; k++)
            assert_null(abt.codes_3N[k]);
    for (int q = 0; q < n_terms; q++)
        free(codes[q]);
    free(codes);
    free(nl);
    free(ref);
    gravrd_fe_terms_free(terms, n_terms);
    return found;
}

static void test_fe_form_and_codes(void **state)
{
    (void)state;
    world w = make_world(3, 4, 3, 0, 1, 3);
    w.t[5] = -1; /* a missing month */
    gravrd_frame *f = gravrd_frame_new(w.n, "");
    assert_non_null(f);
    add_num(f, "ex", w.a);
    add_num(f, "im", w.b);
    add_num(f, "mo", w.t);
    assert_int_equal(fe_codes(f, "ex^mo + im^mo"), 1);
    assert_int_equal(fe_codes(f, "mo^ex + im^mo"), 1);
    assert_int_equal(fe_codes(f, "mo^ex + mo^im"), 1);
    assert_int_equal(fe_codes(f, "ex^mo + im^mo + mo"), 0);
    assert_int_equal(fe_codes(f, "ex^mo + ex^im"), 1);  /* the form with T = ex */
    assert_int_equal(fe_codes(f, "ex + im"), 0);
    assert_int_equal(fe_codes(f, "ex^mo + ex^mo"), 0);  /* shares both */
    assert_int_equal(fe_codes(f, "ex^mo"), 0);
    assert_int_equal(fe_codes(f, "ex^mo^im + im^mo"), 0);
    /* the codes found drive the direct path on the frame's rows */
    gravrd_error err = {0};
    gravrd_fe_term *terms = NULL;
    int n_terms = 0;
    assert_int_equal(gravrd_fe_list_parse("ex^mo + im^mo", &terms, &n_terms, &err), GRAVRD_OK);
    int32_t *c0 = malloc(w.n * sizeof *c0), *c1 = malloc(w.n * sizeof *c1), nl[2];
    int32_t *codes[2] = {c0, c1};
    panel_abt abt;
    int found = 0;
    assert_int_equal(panel_fe_codes(f, terms, n_terms, codes, nl, &abt, &found, &err), GRAVRD_OK);
    assert_int_equal(found, 1);
    uint8_t *keep = all_rows(w.n);
    double *res = malloc(w.n * sizeof *res);
    int applied = -1;
    /* the missing month on a kept row: not applied */
    assert_int_equal(panel_residualise_two_way(w.n, &abt, keep, w.y, res, &applied, &err), GRAVRD_OK);
    assert_int_equal(applied, 0);
    /* without that row's whole cell-month... still unbalanced; drop the
     * row's cell entirely: balanced again */
    for (size_t i = 0; i < w.n; i++)
        keep[i] = !(w.a[i] == w.a[5] && w.b[i] == w.b[5]);
    assert_int_equal(panel_residualise_two_way(w.n, &abt, keep, w.y, res, &applied, &err), GRAVRD_OK);
    assert_int_equal(applied, 1);
    panel_abt_free(&abt);
    gravrd_fe_terms_free(terms, n_terms);
    free(c0);
    free(c1);
    free(keep);
    free(res);
    gravrd_frame_free(f);
    world_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_blocks),
        cmocka_unit_test(test_incomplete_graph),
        cmocka_unit_test(test_general_path_when_unbalanced),
        cmocka_unit_test(test_fe_form_and_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
