/* test_suest.c - the coefficient-change (mediation) test against a direct
 * computation: one-FE demeaning by group means, OLS by normal equations,
 * cluster scores and the stacked covariance written out by hand. */
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

enum { N = 90, NG = 6, NC = 15 };

static double y[N], x[N], m[N], grp[N], cl[N];

static gravrd_frame *make_frame(void)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    for (int i = 0; i < N; i++) {
        grp[i] = i % NG;
        cl[i] = i / (N / NC);
        x[i] = gsl_ran_gaussian(rng, 1.0);
        m[i] = 0.6 * x[i] + gsl_ran_gaussian(rng, 1.0);
        y[i] = 0.5 * x[i] + 0.8 * m[i] + grp[i] + gsl_ran_gaussian(rng, 1.0) + 0.3 * cl[i];
    }
    gsl_rng_free(rng);
    gravrd_frame *f = gravrd_frame_new(N, "suest");
    const char *names[] = {"y", "x", "m", "g", "cl"};
    const double *cols[] = {y, x, m, grp, cl};
    for (int c = 0; c < 5; c++) {
        double *copy = malloc(N * sizeof *copy);
        memcpy(copy, cols[c], N * sizeof *copy);
        gravrd_frame_add_numeric(f, names[c], copy, NULL);
    }
    return f;
}

static void demean(const double *v, double *out)
{
    double sum[NG] = {0}, cnt[NG] = {0};
    for (int i = 0; i < N; i++) {
        sum[(int)grp[i]] += v[i];
        cnt[(int)grp[i]] += 1;
    }
    for (int i = 0; i < N; i++)
        out[i] = v[i] - sum[(int)grp[i]] / cnt[(int)grp[i]];
}

/* OLS of yd on k demeaned columns; returns bread (k x k), beta, residuals. */
static void ols(const double *const *X, int k, const double *yd, double *bread, double *beta, double *e)
{
    double xtx[4] = {0}, xty[2] = {0};
    for (int a = 0; a < k; a++) {
        for (int b = 0; b < k; b++)
            for (int i = 0; i < N; i++)
                xtx[a * k + b] += X[a][i] * X[b][i];
        for (int i = 0; i < N; i++)
            xty[a] += X[a][i] * yd[i];
    }
    if (k == 1) {
        bread[0] = 1 / xtx[0];
    } else {
        double det = xtx[0] * xtx[3] - xtx[1] * xtx[2];
        bread[0] = xtx[3] / det;
        bread[1] = -xtx[1] / det;
        bread[2] = -xtx[2] / det;
        bread[3] = xtx[0] / det;
    }
    for (int a = 0; a < k; a++) {
        beta[a] = 0;
        for (int b = 0; b < k; b++)
            beta[a] += bread[a * k + b] * xty[b];
    }
    for (int i = 0; i < N; i++) {
        e[i] = yd[i];
        for (int a = 0; a < k; a++)
            e[i] -= X[a][i] * beta[a];
    }
}

static void test_difference_matches_direct_computation(void **state)
{
    (void)state;
    gravrd_frame *f = make_frame();
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "cl";
    opt.keep_scores = 1;
    gravrd_reg_results *base = NULL, *med = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg(f, "y ~ x | g", &opt, &base, &err), GRAVRD_OK);
    assert_int_equal(gravrd_reg(f, "y ~ x + m | g", &opt, &med, &err), GRAVRD_OK);
    gravrd_suest_result t;
    assert_int_equal(gravrd_suest_difference(&base->results[0], "x", &med->results[0], "x", &t, &err), GRAVRD_OK);

    /* Direct: fixest-style factors (n-1)/(n-K) * G/(G-1), K = k + levels. */
    double yd[N], xd[N], md[N], ea[N], eb[N], Ba[1], ba[1], Bb[4], bb[2];
    demean(y, yd);
    demean(x, xd);
    demean(m, md);
    const double *Xa[] = {xd}, *Xb[] = {xd, md};
    ols(Xa, 1, yd, Ba, ba, ea);
    ols(Xb, 2, yd, Bb, bb, eb);
    double ca = (N - 1.0) / (N - 1.0 - NG) * NC / (NC - 1.0), cb = (N - 1.0) / (N - 2.0 - NG) * NC / (NC - 1.0);
    double va = 0, vb = 0, cab = 0;
    for (int g = 0; g < NC; g++) {
        double sa = 0, sb0 = 0, sb1 = 0;
        for (int i = 0; i < N; i++)
            if ((int)cl[i] == g) {
                sa += xd[i] * ea[i];
                sb0 += xd[i] * eb[i];
                sb1 += md[i] * eb[i];
            }
        double ua = Ba[0] * sa, ub = Bb[0] * sb0 + Bb[1] * sb1;
        va += ua * ua;
        vb += ub * ub;
        cab += ua * ub;
    }
    va *= ca;
    vb *= cb;
    cab *= sqrt(ca * cb);
    double diff = ba[0] - bb[0], se = sqrt(va + vb - 2 * cab);
    assert_true(fabs(base->results[0].coefs[0].se - sqrt(va)) < 1e-10);
    assert_true(fabs(med->results[0].coefs[0].se - sqrt(vb)) < 1e-10);
    assert_true(fabs(t.difference - diff) < 1e-10);
    assert_true(fabs(t.cov_ab - cab) < 1e-10);
    assert_true(fabs(t.se - se) < 1e-10);
    assert_true(fabs(t.t - diff / se) < 1e-8);
    assert_int_equal(t.n_clusters, NC);
    /* m is correlated with x and raises y: the x coefficient falls clearly. */
    assert_true(t.difference > 0);
    assert_true(t.p < 0.05);
    gravrd_reg_results_free(base);
    gravrd_reg_results_free(med);
    gravrd_frame_free(f);
}

static void test_refuses_different_samples(void **state)
{
    (void)state;
    gravrd_frame *f = make_frame();
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "cl";
    opt.keep_scores = 1;
    gravrd_reg_results *a = NULL, *b = NULL;
    assert_int_equal(gravrd_reg(f, "y ~ x | g", &opt, &a, NULL), GRAVRD_OK);
    opt.subset = "x > -1";
    assert_int_equal(gravrd_reg(f, "y ~ x + m | g", &opt, &b, NULL), GRAVRD_OK);
    gravrd_suest_result t;
    gravrd_error err = {0};
    assert_int_equal(gravrd_suest_difference(&a->results[0], "x", &b->results[0], "x", &t, &err),
                     GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "same rows"));
    assert_int_equal(gravrd_suest_difference(&a->results[0], "x", &a->results[0], "zz", &t, &err),
                     GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "'zz'"));
    gravrd_reg_results_free(a);
    gravrd_reg_results_free(b);
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_difference_matches_direct_computation),
        cmocka_unit_test(test_refuses_different_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
