/* test_vcov.c - sandwich variance estimators against direct sums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/vcov.h"

enum { N = 12, K = 2 };
/* Column-major X (n x 2), residuals, two clusterings. */
static const double X[N * K] = {1, 2, 0, -1, 3, 1, 2, 0, -2, 1, 4, 0.5, 0.5, -1, 2, 1, 0, 3, -1, 2, 1, 1, 0, -2};
static const double E[N] = {0.3, -0.2, 0.5, -0.7, 0.1, 0.9, -0.4, 0.2, -0.1, 0.6, -0.8, 0.05};
static const int32_t A[N] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3};
static const int32_t B[N] = {0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 1};

/* sum over groups (defined by key) of s_g s_g' computed the slow way. */
static void direct_meat(const int32_t *key1, const int32_t *key2, double meat[K * K], int *groups)
{
    memset(meat, 0, sizeof(double) * K * K);
    int seen[N] = {0};
    *groups = 0;
    for (int i = 0; i < N; i++) {
        if (seen[i])
            continue;
        (*groups)++;
        double s[K] = {0};
        for (int j = i; j < N; j++) {
            int same = key1[j] == key1[i] && (!key2 || key2[j] == key2[i]);
            if (!same)
                continue;
            seen[j] = 1;
            for (int a = 0; a < K; a++)
                s[a] += X[a * N + j] * E[j];
        }
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                meat[a * K + b] += s[a] * s[b];
    }
}

static void test_hetero_meat(void **state)
{
    (void)state;
    double meat[K * K], expected[K * K] = {0};
    assert_int_equal(gravrd_vcov_meat(X, N, K, E, NULL, 0, meat, NULL), GRAVRD_OK);
    for (int i = 0; i < N; i++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++)
                expected[a * K + b] += X[a * N + i] * X[b * N + i] * E[i] * E[i];
    for (int j = 0; j < K * K; j++)
        assert_true(fabs(meat[j] - expected[j]) < 1e-14);
}

static void test_one_way_cluster(void **state)
{
    (void)state;
    double bread[K * K] = {0.5, 0.1, 0.1, 0.3}, V[K * K], meat[K * K], expected[K * K];
    int g;
    direct_meat(A, NULL, meat, &g);
    assert_int_equal(g, 4);
    gravrd_cluster_dim dim = {A, 4};
    assert_int_equal(gravrd_vcov_cluster(X, N, K, E, bread, &dim, 1, 0, V, NULL), GRAVRD_OK);
    for (int j = 0; j < K * K; j++)
        meat[j] *= 4.0 / 3.0;
    gravrd_sandwich(bread, meat, K, expected);
    for (int j = 0; j < K * K; j++)
        assert_true(fabs(V[j] - expected[j]) < 1e-14);
    /* Symmetric */
    assert_true(V[1] == V[2]);
}

static void test_two_way_cluster(void **state)
{
    (void)state;
    double bread[K * K] = {0.5, 0.1, 0.1, 0.3}, V[K * K], Vmin[K * K];
    double mA[K * K], mB[K * K], mAB[K * K], total[K * K], expected[K * K];
    int gA, gB, gAB;
    direct_meat(A, NULL, mA, &gA);
    direct_meat(B, NULL, mB, &gB);
    direct_meat(A, B, mAB, &gAB);
    assert_int_equal(gB, 3);
    assert_int_equal(gAB, 11);
    gravrd_cluster_dim dims[2] = {{A, 4}, {B, 3}};
    /* Conventional: each term with its own G. */
    assert_int_equal(gravrd_vcov_cluster(X, N, K, E, bread, dims, 2, 0, V, NULL), GRAVRD_OK);
    for (int j = 0; j < K * K; j++)
        total[j] = 4.0 / 3.0 * mA[j] + 3.0 / 2.0 * mB[j] - 11.0 / 10.0 * mAB[j];
    gravrd_sandwich(bread, total, K, expected);
    for (int j = 0; j < K * K; j++)
        assert_true(fabs(V[j] - expected[j]) < 1e-13);
    /* fixest's "min": G = min(G_A, G_B) = 3 for every term. */
    assert_int_equal(gravrd_vcov_cluster(X, N, K, E, bread, dims, 2, 1, Vmin, NULL), GRAVRD_OK);
    for (int j = 0; j < K * K; j++)
        total[j] = 1.5 * (mA[j] + mB[j] - mAB[j]);
    gravrd_sandwich(bread, total, K, expected);
    for (int j = 0; j < K * K; j++)
        assert_true(fabs(Vmin[j] - expected[j]) < 1e-13);
}

static void test_too_many_dims(void **state)
{
    (void)state;
    double bread[K * K] = {1, 0, 0, 1}, V[K * K];
    gravrd_cluster_dim dims[5] = {{A, 4}, {B, 3}, {A, 4}, {B, 3}, {A, 4}};
    gravrd_error err = {0};
    assert_int_equal(gravrd_vcov_cluster(X, N, K, E, bread, dims, 5, 1, V, &err), GRAVRD_ERR_INVALID);
    assert_non_null(strstr(err.message, "clustering dimensions"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hetero_meat),
        cmocka_unit_test(test_one_way_cluster),
        cmocka_unit_test(test_two_way_cluster),
        cmocka_unit_test(test_too_many_dims),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
