/* test_wald.c - the Wald test of joint nullity: the same statistic for any
 * units of the regressors (one of order 1e6, one of order 1e-6), the
 * closed form on a positive definite variance, and Cameron, Gelbach and
 * Miller's rule on a variance with a negative eigenvalue (three-way
 * clustering). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "inference/wald.h"

enum { N = 400 };

static gravrd_frame *make_frame(double scale1, double scale2)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 21);
    gravrd_frame *f = gravrd_frame_new(N, "wald");
    double *y = malloc(N * sizeof *y), *x1 = malloc(N * sizeof *x1), *x2 = malloc(N * sizeof *x2);
    double *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *c = malloc(N * sizeof *c),
           *g = malloc(N * sizeof *g);
    for (int i = 0; i < N; i++) {
        g[i] = i % 5;
        a[i] = (i / 5) % 7;
        b[i] = (i / 3) % 6;
        c[i] = (i * 7) % 9;
        double u = gsl_ran_gaussian(rng, 1.0), v = gsl_ran_gaussian(rng, 1.0);
        y[i] = 0.08 * u + 0.05 * v + 0.2 * g[i] + gsl_ran_gaussian(rng, 1.0) + 0.5 * gsl_ran_gaussian(rng, 1.0) * a[i] / 7;
        x1[i] = u * scale1;
        x2[i] = (0.3 * u + v) * scale2;
    }
    gsl_rng_free(rng);
    const char *names[] = {"y", "x1", "x2", "a", "b", "c", "g"};
    double *cols[] = {y, x1, x2, a, b, c, g};
    for (int k = 0; k < 7; k++)
        assert_int_equal(gravrd_frame_add_numeric(f, names[k], cols[k], NULL), GRAVRD_OK);
    return f;
}

static gravrd_reg_results *fit(gravrd_frame *f, const char *cluster, gravrd_vcov_type vcov)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = cluster;
    opt.vcov = vcov;
    gravrd_reg_results *res = NULL;
    gravrd_error err = {0};
    if (gravrd_reg(f, "y ~ x1 + x2 | g", &opt, &res, &err))
        fail_msg("%s", err.message);
    return res;
}

/* b' V^-1 b / 2 for a 2 x 2 positive definite V. */
static double closed_form(const gravrd_reg_result *r)
{
    const double *V = r->vcov, b0 = r->coefs[0].estimate, b1 = r->coefs[1].estimate;
    double det = V[0] * V[3] - V[1] * V[2];
    return (b0 * b0 * V[3] - 2 * b0 * b1 * V[1] + b1 * b1 * V[0]) / det / 2;
}

static void test_units_do_not_move_the_test(void **state)
{
    (void)state;
    const char *clusters[] = {NULL, "a", "a^b"};
    for (int c = 0; c < 3; c++) {
        gravrd_frame *f1 = make_frame(1, 1), *f2 = make_frame(1e6, 1e-6);
        gravrd_reg_results *r1 = fit(f1, clusters[c], GRAVRD_VCOV_HETERO),
                           *r2 = fit(f2, clusters[c], GRAVRD_VCOV_HETERO);
        const gravrd_reg_result *a = &r1->results[0], *b = &r2->results[0];
        assert_true(fabs(b->coefs[0].estimate * 1e6 / a->coefs[0].estimate - 1) < 1e-9);
        assert_true(fabs(b->coefs[1].se * 1e-6 / a->coefs[1].se - 1) < 1e-9);
        assert_int_equal(a->wald_df1, 2);
        assert_int_equal(b->wald_df1, 2);
        assert_true(fabs(b->wald_f / a->wald_f - 1) < 1e-9);
        assert_true(fabs(a->wald_f / closed_form(a) - 1) < 1e-10);
        assert_true(fabs(b->wald_p - a->wald_p) < 1e-9);
        gravrd_reg_results_free(r1);
        gravrd_reg_results_free(r2);
        gravrd_frame_free(f1);
        gravrd_frame_free(f2);
    }
}

/* V with eigenvalues 3 and -1 (as inclusion-exclusion can give): the test
 * keeps the direction of eigenvalue 3 only. */
static void test_negative_eigenvalue_is_dropped(void **state)
{
    (void)state;
    const double V[4] = {1, 2, 2, 1}, b[2] = {0.3, 0.1};
    double F = 0;
    int df1 = 0;
    assert_int_equal(wald_test(b, V, 2, &F, &df1), 0);
    assert_int_equal(df1, 1);
    /* eigenvector (1, 1)/sqrt(2), eigenvalue 3; the scales are 1 */
    double u = (b[0] + b[1]) / sqrt(2.0);
    assert_true(fabs(F - u * u / 3) < 1e-14);
    /* rescaling a coefficient and its variance leaves it */
    const double Vs[4] = {1e12, 2e6, 2e6, 1}, bs[2] = {0.3e6, 0.1};
    double Fs = 0;
    assert_int_equal(wald_test(bs, Vs, 2, &Fs, &df1), 0);
    assert_true(fabs(Fs / F - 1) < 1e-12);
    /* a non-positive variance leaves the test undefined */
    const double Vz[4] = {0, 0, 0, 1};
    assert_int_equal(wald_test(b, Vz, 2, &F, &df1), -1);
    assert_true(isnan(F));
}

/* Three-way clustering: on these data clustering by a + c + g gives a
 * variance with positive variances but a negative eigenvalue (det < 0):
 * the test keeps the one direction of positive variance, computed here by
 * hand from the 2 x 2 correlation matrix; b + c + g gives a positive
 * definite variance and the closed form. */
static void test_three_way_clustering(void **state)
{
    (void)state;
    gravrd_frame *f = make_frame(1, 1);
    gravrd_reg_results *r = fit(f, "a + c + g", GRAVRD_VCOV_CLUSTER);
    const gravrd_reg_result *x = &r->results[0];
    const double *V = x->vcov;
    assert_true(V[0] > 0 && V[3] > 0 && V[0] * V[3] - V[1] * V[1] < 0);
    assert_int_equal(x->wald_df1, 1);
    double rho = V[1] / sqrt(V[0] * V[3]), t0 = x->coefs[0].estimate / sqrt(V[0]),
           t1 = x->coefs[1].estimate / sqrt(V[3]);
    /* R = [[1, rho], [rho, 1]]: eigenvalues 1 +- rho, vectors (1, +-1)/sqrt 2 */
    double lam = 1 + fabs(rho), u = (t0 + (rho > 0 ? t1 : -t1)) / sqrt(2.0);
    assert_true(fabs(x->wald_f / (u * u / lam) - 1) < 1e-10);
    assert_true(fabs(x->wald_p - gsl_cdf_fdist_Q(x->wald_f, 1, x->wald_df2)) < 1e-12);
    gravrd_reg_results_free(r);
    r = fit(f, "b + c + g", GRAVRD_VCOV_CLUSTER);
    x = &r->results[0];
    assert_true(x->vcov[0] * x->vcov[3] - x->vcov[1] * x->vcov[1] > 0);
    assert_int_equal(x->wald_df1, 2);
    assert_true(fabs(x->wald_f / closed_form(x) - 1) < 1e-10);
    gravrd_reg_results_free(r);
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units_do_not_move_the_test),
        cmocka_unit_test(test_negative_eigenvalue_is_dropped),
        cmocka_unit_test(test_three_way_clustering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
