/* test_collapse_nomem.c - the collapse (src/estimate/collapse.c) under a
 * failed allocation: gravrd_reg either reports out of memory or gives the
 * numbers of an unhindered fit, never other numbers.
 *
 * malloc is replaced in this executable (forwarding to glibc's
 * __libc_malloc) so that one allocation size can be made to fail; not with
 * AddressSanitizer, which owns malloc (the tests are then skipped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "support/testutil.h"

#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
#define NOMEM_INJECTION 0
#else
#define NOMEM_INJECTION 1
extern void *__libc_malloc(size_t size);
static size_t fail_size; /* 0: no failure */

void *malloc(size_t size)
{
    if (fail_size && size == fail_size)
        return NULL;
    return __libc_malloc(size);
}
#endif

/* NE east and NW west cities, every directed east-west pair, NT months;
 * rows sorted by pair and month (or in a scrambled order). */
enum { NE = 5, NW = 6, NT = 5 };

static gravrd_frame *make_panel(int scramble)
{
    const size_t np = 2 * NE * NW, n = np * NT;
    static const char *names[] = {"y", "x", "e", "i", "t", "pair"};
    enum { NV = sizeof names / sizeof names[0] };
    double *col[NV];
    for (int v = 0; v < NV; v++)
        col[v] = malloc(n * sizeof(double));
    uint64_t s = 12345;
    for (size_t k = 0; k < n; k++) {
        /* a permutation of the rows when scrambled (7 is prime to n) */
        const size_t r = scramble ? (k * 7) % n : k, d = r / NT, t = r % NT;
        int ce, ci;
        testutil_pair_cities((int)d, NE, NW, &ce, &ci);
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        const double noise = (double)(s >> 11) / 9007199254740992.0 - 0.5;
        const double x = sin(1.7 * (double)d);
        const double v[NV] = {0.5 * x + 0.3 * (double)ce * (double)t + 0.2 * (double)ci + noise, x, (double)ce,
                              (double)ci, (double)t, (double)d};
        for (int q = 0; q < NV; q++)
            col[q][k] = v[q];
    }
    gravrd_frame *f = gravrd_frame_new(n, "panel");
    for (int v = 0; v < NV; v++)
        assert_int_equal(gravrd_frame_add_numeric(f, names[v], col[v], NULL), GRAVRD_OK);
    return f;
}

/* Fits with every allocation of `bytes` failing: out of memory, or the
 * numbers of ref. */
static void check_fails_or_agrees(const gravrd_frame *f, const char *formula, const char *subset, size_t bytes)
{
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "pair";
    opt.subset = subset;
    gravrd_reg_results *ref = NULL, *res = NULL;
    gravrd_error err = {0};
    assert_int_equal(gravrd_reg(f, formula, &opt, &ref, &err), GRAVRD_OK);
    assert_int_equal(ref->results[0].collapsed, 1);
#if NOMEM_INJECTION
    fail_size = bytes;
    gravrd_status st = gravrd_reg(f, formula, &opt, &res, &err);
    fail_size = 0;
    if (st) {
        assert_int_equal(st, GRAVRD_ERR_NOMEM);
    } else {
        const gravrd_reg_result *a = &res->results[0], *b = &ref->results[0];
        assert_int_equal(a->nobs, b->nobs);
        for (int k = 0; k < a->n_coef; k++) {
            if (fabs(a->coefs[k].estimate - b->coefs[k].estimate) > 1e-10 * fabs(b->coefs[k].estimate))
                fail_msg("estimate %.17g vs %.17g", a->coefs[k].estimate, b->coefs[k].estimate);
            if (fabs(a->coefs[k].se - b->coefs[k].se) > 1e-10 * fabs(b->coefs[k].se))
                fail_msg("se %.17g vs %.17g", a->coefs[k].se, b->coefs[k].se);
        }
        if (fabs(a->r2 - b->r2) > 1e-10)
            fail_msg("r2 %.17g vs %.17g", a->r2, b->r2);
    }
    gravrd_reg_results_free(res);
#else
    (void)bytes;
    (void)res;
#endif
    gravrd_reg_results_free(ref);
}

/* The outcome arranged by cell and month (n doubles for n kept rows) is
 * the first allocation of that size in the collapsed fit: when it fails the
 * fit must not read the outcome's rows in place instead. */
static void test_outcome_by_cell_month(void **state)
{
    (void)state;
    const size_t N = 2 * NE * NW * NT;
    gravrd_frame *f = make_panel(0);
    /* rows in order, a month dropped: the kept rows are compacted */
    check_fails_or_agrees(f, "y ~ x | e^t + i^t", "t != 2", (N - N / NT) * sizeof(double));
    gravrd_frame_free(f);
    /* rows out of order: gathered by cell and month */
    f = make_panel(1);
    check_fails_or_agrees(f, "y ~ x | e^t + i^t", NULL, N * sizeof(double));
    check_fails_or_agrees(f, "y ~ x | e^t + i^t", "t != 2", (N - N / NT) * sizeof(double));
    gravrd_frame_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcome_by_cell_month),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
