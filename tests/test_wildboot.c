/* test_wildboot.c - the wild cluster bootstrap (gravrd_reg with
 * opt.boot) against a direct implementation that re-estimates the whole
 * fixed-effects model, FE as dummy columns, for every sign vector of a
 * fully enumerated Rademacher bootstrap (G <= 12), for WCR and WCU, FE
 * nested in the clusters or not; the collapse path against the general
 * one; thread invariance; and the bad inputs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"

void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info);

enum { N = 144, MAXP = 64 };

/* The test data: outcome, two regressors, FE a (6 levels) and b (4 levels)
 * that cut across the clusters, FE c nested in the clusters (2 per
 * cluster), clusters cl (10) and cl12 (12). */
static double col_y[N], col_x1[N], col_x2[N], col_a[N], col_b[N], col_c[N], col_cl[N], col_cl12[N];

static void make_data(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    double shock[12];
    for (int g = 0; g < 12; g++)
        shock[g] = gsl_ran_gaussian(rng, 0.7);
    for (int i = 0; i < N; i++) {
        col_cl[i] = i % 10;
        col_cl12[i] = i % 12;
        col_a[i] = (i / 7) % 6;
        col_b[i] = (i / 3) % 4;
        col_c[i] = 2 * (i % 10) + (i / 10) % 2;
        col_x1[i] = gsl_ran_gaussian(rng, 1.0) + 0.3 * col_a[i];
        col_x2[i] = gsl_ran_gaussian(rng, 1.0) - 0.2 * col_b[i] + 0.4 * col_x1[i];
        col_y[i] = 0.12 * col_x1[i] + 0.5 * col_x2[i] + 0.3 * col_a[i] - 0.2 * col_b[i] + 0.1 * col_c[i] +
                   shock[i % 10] + gsl_ran_gaussian(rng, 1.0);
    }
    gsl_rng_free(rng);
}

static gravrd_frame *make_frame(void)
{
    make_data();
    gravrd_frame *f = gravrd_frame_new(N, "wildboot");
    const char *names[] = {"y", "x1", "x2", "a", "b", "c", "cl", "cl12"};
    const double *cols[] = {col_y, col_x1, col_x2, col_a, col_b, col_c, col_cl, col_cl12};
    for (int c = 0; c < 8; c++) {
        double *copy = malloc(N * sizeof *copy);
        memcpy(copy, cols[c], N * sizeof *copy);
        assert_int_equal(gravrd_frame_add_numeric(f, names[c], copy, NULL), GRAVRD_OK);
    }
    return f;
}

/* Moore-Penrose inverse of a symmetric PSD p x p matrix (eigenvalues
 * below 1e-10 of the largest are zero). */
static void pinv(const double *A, int p, double *out)
{
    double Q[MAXP * MAXP], ev[MAXP], work[MAXP * 40];
    int lwork = MAXP * 40, info = 0;
    memcpy(Q, A, (size_t)p * p * sizeof *Q);
    dsyev_("V", "U", &p, Q, &p, ev, work, &lwork, &info);
    assert_int_equal(info, 0);
    memset(out, 0, (size_t)p * p * sizeof *out);
    for (int c = 0; c < p; c++) {
        if (!(ev[c] > 1e-10 * ev[p - 1]))
            continue;
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++)
                out[i * p + j] += Q[c * p + i] * Q[c * p + j] / ev[c];
    }
}

/* The least-squares operator of a design: H = (Z'Z)^+ Z' (p x n, row a
 * gives coefficient a) and the residual maker M = I - Z H (n x n). Z is
 * n x p, row-major. */
static void ls_operator(const double *Z, int p, double *H, double *M)
{
    double ZtZ[MAXP * MAXP] = {0}, P[MAXP * MAXP];
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++)
            for (int r = 0; r < N; r++)
                ZtZ[i * p + j] += Z[r * p + i] * Z[r * p + j];
    pinv(ZtZ, p, P);
    for (int i = 0; i < p; i++)
        for (int r = 0; r < N; r++) {
            double s = 0;
            for (int j = 0; j < p; j++)
                s += P[i * p + j] * Z[r * p + j];
            H[i * N + r] = s;
        }
    for (int r = 0; r < N; r++)
        for (int s = 0; s < N; s++) {
            double v = r == s;
            for (int j = 0; j < p; j++)
                v -= Z[r * p + j] * H[j * N + s];
            M[r * N + s] = v;
        }
}

/* A model for the direct bootstrap: which FE (as dummies) and clusters. */
typedef struct {
    int use_a, use_b, use_c;
    const double *cluster;
    int G;
} direct_model;

/* Builds Z = [x1, x2, dummies]; returns p. With drop >= 0 the regressor
 * drop is left out (the restricted model). */
static int build_design(const direct_model *m, int drop, double *Z)
{
    const double *fe[3] = {col_a, col_b, col_c};
    const int use[3] = {m->use_a, m->use_b, m->use_c}, levels[3] = {6, 4, 20};
    int p = 0;
    for (int x = 0; x < 2; x++)
        if (x != drop)
            p++;
    for (int q = 0; q < 3; q++)
        if (use[q])
            p += levels[q];
    memset(Z, 0, (size_t)N * p * sizeof *Z);
    for (int r = 0; r < N; r++) {
        int c = 0;
        if (drop != 0)
            Z[r * p + c++] = col_x1[r];
        if (drop != 1)
            Z[r * p + c++] = col_x2[r];
        for (int q = 0; q < 3; q++)
            if (use[q]) {
                Z[r * p + c + (int)fe[q][r]] = 1.0;
                c += levels[q];
            }
    }
    return p;
}

/* The cluster-robust t statistic of coefficient a at b0 for outcome ys:
 * every draw's model is re-estimated from scratch through H and M. */
static double direct_t(const direct_model *m, const double *H, const double *M, int a, const double *ys, double b0)
{
    double coef = 0, e[N], score[16] = {0};
    for (int r = 0; r < N; r++)
        coef += H[a * N + r] * ys[r];
    for (int r = 0; r < N; r++) {
        e[r] = 0;
        for (int s = 0; s < N; s++)
            e[r] += M[r * N + s] * ys[s];
    }
    for (int r = 0; r < N; r++)
        score[(int)m->cluster[r]] += H[a * N + r] * e[r];
    double meat = 0;
    for (int g = 0; g < m->G; g++)
        meat += score[g] * score[g];
    return (coef - b0) / sqrt(meat);
}

/* The enumerated wild bootstrap p-value of H0: b_a = b0, by re-estimation,
 * with the same tie rule as the library (|t*| >= |t| (1 - 1e-9)). */
static double direct_p(const direct_model *m, int a, double b0, int wcu)
{
    static double Z[N * MAXP], Zr[N * MAXP], H[MAXP * N], M[N * N], Hr[MAXP * N], Mr[N * N];
    int p = build_design(m, -1, Z);
    ls_operator(Z, p, H, M);
    double r[N], base[N], target[N];
    double bhat = 0;
    for (int s = 0; s < N; s++)
        bhat += H[a * N + s] * col_y[s];
    if (wcu) {
        for (int i = 0; i < N; i++) {
            r[i] = 0;
            for (int s = 0; s < N; s++)
                r[i] += M[i * N + s] * col_y[s];
            base[i] = col_y[i] - r[i];
        }
    } else {
        int pr = build_design(m, a, Zr);
        ls_operator(Zr, pr, Hr, Mr);
        const double *xa = a == 0 ? col_x1 : col_x2;
        for (int i = 0; i < N; i++)
            target[i] = col_y[i] - b0 * xa[i];
        for (int i = 0; i < N; i++) {
            r[i] = 0;
            for (int s = 0; s < N; s++)
                r[i] += Mr[i * N + s] * target[s];
            base[i] = col_y[i] - r[i];
        }
    }
    double t = direct_t(m, H, M, a, col_y, b0);
    long count = 0, B = 1L << m->G;
    for (long b = 0; b < B; b++) {
        double ys[N];
        for (int i = 0; i < N; i++) {
            double v = ((unsigned long)b >> (int)m->cluster[i]) & 1UL ? -1.0 : 1.0;
            ys[i] = base[i] + r[i] * v;
        }
        double ts = direct_t(m, H, M, a, ys, wcu ? bhat : b0);
        if (fabs(ts) >= fabs(t) * (1 - 1e-9))
            count++;
    }
    return (double)count / (double)B;
}

static gravrd_reg_results *fit(gravrd_frame *f, const char *formula, const char *cluster, gravrd_boot_type type,
                               int no_shortcuts)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = cluster;
    opt.boot.method = GRAVRD_BOOT_WILD;
    opt.boot.type = type;
    opt.tol = 1e-14;
    opt.no_shortcuts = no_shortcuts;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    gravrd_status st = gravrd_reg(f, formula, &opt, &res, &err);
    if (st)
        fail_msg("%s", err.message);
    return res;
}

/* p at 0 equals the direct one exactly, and each end of the interval is
 * where the direct p-value crosses 1 - level. */
static void check_against_direct(const char *formula, const direct_model *m, gravrd_boot_type type)
{
    gravrd_frame *f = make_frame();
    gravrd_reg_results *res = fit(f, formula, m->cluster == col_cl ? "cl" : "cl12", type, 1);
    const gravrd_reg_result *r = &res->results[0];
    assert_int_equal(r->n_coef, 2);
    for (int a = 0; a < 2; a++) {
        const gravrd_boot_result *b = r->coefs[a].boot;
        assert_non_null(b);
        assert_int_equal(b->enumerated, 1);
        assert_int_equal(b->reps, 1L << m->G);
        assert_int_equal(b->n_clusters, m->G);
        int wcu = type == GRAVRD_BOOT_WCU;
        double p0 = direct_p(m, a, 0.0, wcu);
        assert_true(fabs(b->p - p0) < 1e-10);
        double se = r->coefs[a].se, d = 1e-6 * se;
        assert_true(b->ci_lo < r->coefs[a].estimate && r->coefs[a].estimate < b->ci_hi);
        assert_true(direct_p(m, a, b->ci_lo - d, wcu) <= 0.05 + 1e-12);
        assert_true(direct_p(m, a, b->ci_lo + d, wcu) > 0.05);
        assert_true(direct_p(m, a, b->ci_hi + d, wcu) <= 0.05 + 1e-12);
        assert_true(direct_p(m, a, b->ci_hi - d, wcu) > 0.05);
    }
    gravrd_reg_results_free(res);
    gravrd_frame_free(f);
}

/* FE a and b are not nested in the clusters, c is: the bootstrap must take
 * back what the non-nested FE absorb of r * v. */
static void test_wcr_nonnested_fe(void **state)
{
    (void)state;
    direct_model m = {1, 1, 1, col_cl, 10};
    check_against_direct("y ~ x1 + x2 | a + b + c", &m, GRAVRD_BOOT_WCR);
}

static void test_wcr_nested_fe(void **state)
{
    (void)state;
    direct_model m = {0, 0, 1, col_cl, 10};
    check_against_direct("y ~ x1 + x2 | c", &m, GRAVRD_BOOT_WCR);
}

static void test_wcu_nonnested_fe(void **state)
{
    (void)state;
    direct_model m = {1, 1, 0, col_cl, 10};
    check_against_direct("y ~ x1 + x2 | a + b", &m, GRAVRD_BOOT_WCU);
}

static void test_wcr_twelve_clusters(void **state)
{
    (void)state;
    direct_model m = {1, 0, 0, col_cl12, 12};
    check_against_direct("y ~ x1 + x2 | a", &m, GRAVRD_BOOT_WCR);
}

/* A balanced cell x month panel that gravrd_reg collapses to its cells:
 * the bootstrap of the collapsed fit equals the general path's. */
static void test_collapse_equals_general(void **state)
{
    (void)state;
    enum { NA = 4, NB = 5, T = 6, NR = NA * NB * T };
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 5);
    double *cols[7];
    for (int c = 0; c < 7; c++)
        cols[c] = malloc(NR * sizeof(double));
    double xcell[NA * NB], shock[NA * NB];
    for (int c = 0; c < NA * NB; c++) {
        xcell[c] = gsl_ran_gaussian(rng, 1.0);
        shock[c] = gsl_ran_gaussian(rng, 0.5);
    }
    for (int i = 0; i < NR; i++) {
        int cell = i / T, t = i % T, ea = cell / NB, ib = cell % NB;
        int seg = (ea / 2) * 3 + ib / 2; /* 2 x 3 segment pairs: the clusters */
        cols[0][i] = 0.2 * xcell[cell] + 0.1 * ea * t + 0.05 * ib - 0.02 * t + shock[seg] +
                     gsl_ran_gaussian(rng, 1.0);
        cols[1][i] = xcell[cell];
        cols[2][i] = ea;
        cols[3][i] = ib;
        cols[4][i] = t;
        cols[5][i] = seg;
        cols[6][i] = cell;
    }
    gsl_rng_free(rng);
    gravrd_frame *f = gravrd_frame_new(NR, "panel");
    const char *names[] = {"y", "x", "ea", "ib", "t", "seg", "cell"};
    for (int c = 0; c < 7; c++)
        assert_int_equal(gravrd_frame_add_numeric(f, names[c], cols[c], NULL), GRAVRD_OK);
    const char *formula = "y ~ x | ea^t + ib^t + seg";
    gravrd_reg_results *fast = fit(f, formula, "seg", GRAVRD_BOOT_WCR, 0);
    gravrd_reg_results *slow = fit(f, formula, "seg", GRAVRD_BOOT_WCR, 1);
    assert_int_equal(fast->results[0].collapsed, 1);
    assert_int_equal(slow->results[0].collapsed, 0);
    const gravrd_boot_result *bf = fast->results[0].coefs[0].boot, *bs = slow->results[0].coefs[0].boot;
    assert_non_null(bf);
    assert_non_null(bs);
    assert_int_equal(bf->reps, 64); /* 6 clusters: every sign vector */
    assert_true(fabs(bf->p - bs->p) < 1e-10);
    assert_true(bf->p > 0.03 && bf->p < 1);
    double scale = fabs(bs->ci_hi - bs->ci_lo);
    assert_true(fabs(bf->ci_lo - bs->ci_lo) < 1e-8 * scale);
    assert_true(fabs(bf->ci_hi - bs->ci_hi) < 1e-8 * scale);
    gravrd_reg_results_free(fast);
    gravrd_reg_results_free(slow);
    gravrd_frame_free(f);
}

/* Random draws: the same numbers with 1 and 2 threads, another seed moves
 * them, and Webb weights are not enumerated. */
static void test_threads_and_seed(void **state)
{
    (void)state;
    gravrd_frame *f = make_frame();
    gravrd_boot_result got[3];
    for (int run = 0; run < 3; run++) {
        gravrd_reg_options opt;
        gravrd_reg_options_init(&opt);
        opt.cluster = "cl";
        opt.boot.method = GRAVRD_BOOT_WILD;
        opt.boot.weights = GRAVRD_BOOT_WEBB;
        opt.boot.reps = 999;
        opt.boot.params = "x1";
        opt.boot.seed = run == 2 ? 7 : 1;
        opt.threads = run == 1 ? 2 : 1;
        gravrd_reg_results *res = NULL;
        gravrd_error err = {0};
        assert_int_equal(gravrd_reg(f, "y ~ x1 + x2 | a + b + c", &opt, &res, &err), GRAVRD_OK);
        assert_non_null(res->results[0].coefs[0].boot);
        assert_null(res->results[0].coefs[1].boot); /* only x1 was asked for */
        got[run] = *res->results[0].coefs[0].boot;
        gravrd_reg_results_free(res);
    }
    assert_int_equal(got[0].enumerated, 0);
    assert_int_equal(got[0].reps, 999);
    assert_true(got[0].p > 0 && got[0].p < 1);
    assert_true(got[0].p == got[1].p && got[0].ci_lo == got[1].ci_lo && got[0].ci_hi == got[1].ci_hi);
    assert_true(got[0].ci_lo != got[2].ci_lo || got[0].ci_hi != got[2].ci_hi);
    gravrd_frame_free(f);
}

static void expect_error(gravrd_frame *f, const char *formula, const char *cluster, long reps, const char *params,
                         double level, const char *needle)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = cluster;
    opt.boot.method = GRAVRD_BOOT_WILD;
    opt.boot.reps = reps;
    opt.boot.params = params;
    opt.boot.level = level;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    assert_int_not_equal(gravrd_reg(f, formula, &opt, &res, &err), GRAVRD_OK);
    assert_null(res);
    if (!strstr(err.message, needle))
        fail_msg("expected '%s' in: %s", needle, err.message);
}

static void test_bad_input(void **state)
{
    (void)state;
    gravrd_frame *f = make_frame();
    expect_error(f, "y ~ x1 | a", NULL, 99, NULL, 0.95, "needs --cluster");
    expect_error(f, "y ~ x1 | a", "cl + cl12", 99, NULL, 0.95, "one-way");
    expect_error(f, "y ~ x1 | a", "cl", 0, NULL, 0.95, "--boot-reps");
    expect_error(f, "y ~ x1 | a", "cl", 99, "x1,zz", 0.95, "'zz' is not a coefficient");
    expect_error(f, "y ~ x1 | a", "cl", 99, NULL, 1.5, "--boot-level");
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wcr_nonnested_fe), cmocka_unit_test(test_wcr_nested_fe),
        cmocka_unit_test(test_wcu_nonnested_fe), cmocka_unit_test(test_wcr_twelve_clusters),
        cmocka_unit_test(test_collapse_equals_general), cmocka_unit_test(test_threads_and_seed),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
