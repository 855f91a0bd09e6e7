/* demean.c - projecting variables off the fixed effects: the driver and the
 * conjugate-gradient solver on all FE at once.
 *
 * For each variable y we solve the normal equations D'D a = D'y of the
 * dummy-variable regression on all FE, in the space of the FE coefficients
 * a (one slot per level), then return y - D a. Two solvers share that
 * frame (docs/algorithms.md):
 *
 *  - CG on all FE (this file): conjugate gradients on D'D with the level
 *    counts as (Jacobi) preconditioner. One iteration is one pass over the
 *    integer codes. It needs a handful of iterations on well-connected FE
 *    graphs and is the cheapest method there.
 *  - Schur (schur.c): the largest FE is eliminated exactly and CG runs on
 *    the explicitly formed Schur complement of the other FE, whose
 *    iterations cost a sparse product with a small matrix instead of a pass
 *    over the data. Forming it costs something, so it pays only on poorly
 *    connected graphs that need many iterations.
 *
 * Choice (method AUTO): every variable starts with CG on all FE. At
 * iterations 8, 16, 32, ... the number of iterations it still needs is
 * extrapolated from the rate at which its convergence criterion fell since
 * the previous checkpoint; a cost model (schur.c) compares that CG work
 * with analysing the FE structure, forming the Schur complement and
 * iterating on it, and the variable switches when the Schur solver is
 * predicted to be cheaper, warm-started from its current coefficients.
 * The decision depends only on the variable's own history and on the FE
 * structure, never on the other variables, so results are reproducible
 * whatever the blocks or threads. A variable the Schur solver cannot
 * finish (numerical breakdown, see schur.c) continues with CG on all FE.
 *
 * Convergence is tested on what the projection must achieve: every FE
 * group mean of the demeaned variable, (D'(y - D a))_g / n_g, must be within
 * tol * sd(y) of zero, and a candidate is only accepted after the residual
 * has been recomputed from scratch (recursively updated residuals drift);
 * if the check fails the solver restarts from the candidate.
 *
 * Variables are processed in blocks of up to DM_BLOCK columns whose
 * coefficient vectors are interleaved ([level][column]) so one pass over the
 * codes serves the whole block. Every floating-point operation of a column
 * depends only on that column, so blocks can run on any number of threads
 * and the results are bit-identical. */
#include "demean_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* b = D'y for a block (y column-major with stride N), and y -= D alpha:
 * one pass over the codes for all columns and FE, specialised like
 * normal_kernel (normal.c). Per column and level, additions go in row order. */
static inline __attribute__((always_inline)) void dty_kernel(const gravrd_fe *fe, const double *restrict y,
                                                             double *restrict b, const int nq, const int kb)
{
    const size_t N = fe->n_obs;
    if (nq == 2 || nq == 3) {
        const int32_t *c0 = fe->code_QN[0], *c1 = fe->code_QN[1], *c2 = nq == 3 ? fe->code_QN[2] : NULL;
        double *b0 = b + fe->offset_Q[0] * (size_t)kb, *b1 = b + fe->offset_Q[1] * (size_t)kb;
        double *b2 = nq == 3 ? b + fe->offset_Q[2] * (size_t)kb : NULL;
        for (size_t i = 0; i < N; i++) {
            const size_t j0 = (size_t)c0[i] * (size_t)kb, j1 = (size_t)c1[i] * (size_t)kb;
            const size_t j2 = nq == 3 ? (size_t)c2[i] * (size_t)kb : 0;
            for (int k = 0; k < kb; k++) {
                const double v = y[(size_t)k * N + i];
                b0[j0 + (size_t)k] += v;
                b1[j1 + (size_t)k] += v;
                if (nq == 3)
                    b2[j2 + (size_t)k] += v;
            }
        }
        return;
    }
    for (int q = 0; q < fe->n_fe; q++) {
        const int32_t *code = fe->code_QN[q];
        double *bq = b + fe->offset_Q[q] * (size_t)kb;
        for (size_t i = 0; i < N; i++)
            for (int k = 0; k < kb; k++)
                bq[(size_t)code[i] * (size_t)kb + (size_t)k] += y[(size_t)k * N + i];
    }
}

static inline __attribute__((always_inline)) void resid_kernel(const gravrd_fe *fe, const double *restrict a,
                                                               double *restrict y, const int nq, const int kb)
{
    const size_t N = fe->n_obs;
    if (nq == 2 || nq == 3) {
        const int32_t *c0 = fe->code_QN[0], *c1 = fe->code_QN[1], *c2 = nq == 3 ? fe->code_QN[2] : NULL;
        const double *a0 = a + fe->offset_Q[0] * (size_t)kb, *a1 = a + fe->offset_Q[1] * (size_t)kb;
        const double *a2 = nq == 3 ? a + fe->offset_Q[2] * (size_t)kb : NULL;
        for (size_t i = 0; i < N; i++) {
            const size_t j0 = (size_t)c0[i] * (size_t)kb, j1 = (size_t)c1[i] * (size_t)kb;
            const size_t j2 = nq == 3 ? (size_t)c2[i] * (size_t)kb : 0;
            for (int k = 0; k < kb; k++) {
                double fit = a0[j0 + (size_t)k] + a1[j1 + (size_t)k];
                if (nq == 3)
                    fit += a2[j2 + (size_t)k];
                y[(size_t)k * N + i] -= fit;
            }
        }
        return;
    }
    for (size_t i = 0; i < N; i++)
        for (int k = 0; k < kb; k++) {
            double fit = 0;
            for (int q = 0; q < fe->n_fe; q++)
                fit += a[(fe->offset_Q[q] + (size_t)fe->code_QN[q][i]) * (size_t)kb + (size_t)k];
            y[(size_t)k * N + i] -= fit;
        }
}

#define BLOCK_CASES(kernel, nq, in, out)                                                                       \
    switch (kb) {                                                                                               \
    case 1: kernel(fe, in, out, nq, 1); break;                                                                  \
    case 2: kernel(fe, in, out, nq, 2); break;                                                                  \
    case 3: kernel(fe, in, out, nq, 3); break;                                                                  \
    default: kernel(fe, in, out, nq, DM_BLOCK); break;                                                          \
    }

static void apply_dty(const gravrd_fe *fe, const double *y, double *b, int kb)
{
    if (fe->n_fe == 2) {
        BLOCK_CASES(dty_kernel, 2, y, b)
    } else if (fe->n_fe == 3) {
        BLOCK_CASES(dty_kernel, 3, y, b)
    } else {
        BLOCK_CASES(dty_kernel, 0, y, b)
    }
}

static void apply_resid(const gravrd_fe *fe, const double *a, double *y, int kb)
{
    if (fe->n_fe == 2) {
        BLOCK_CASES(resid_kernel, 2, a, y)
    } else if (fe->n_fe == 3) {
        BLOCK_CASES(resid_kernel, 3, a, y)
    } else {
        BLOCK_CASES(resid_kernel, 0, a, y)
    }
}

/* Sum of y[0..n) with four interleaved accumulators: a plain running sum
 * is a chain of dependent additions, four times slower. The order is fixed,
 * so the result is reproducible. */
static double sum4(const double *y, size_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += y[i];
        s1 += y[i + 1];
        s2 += y[i + 2];
        s3 += y[i + 3];
    }
    for (; i < n; i++)
        s0 += y[i];
    return (s0 + s1) + (s2 + s3);
}

/* y -= mean, returning the sum of squares (same accumulators). */
static double centre4(double *y, size_t n, double mean)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        y[i] -= mean;
        y[i + 1] -= mean;
        y[i + 2] -= mean;
        y[i + 3] -= mean;
        s0 += y[i] * y[i];
        s1 += y[i + 1] * y[i + 1];
        s2 += y[i + 2] * y[i + 2];
        s3 += y[i + 3] * y[i + 3];
    }
    for (; i < n; i++) {
        y[i] -= mean;
        s0 += y[i] * y[i];
    }
    return (s0 + s1) + (s2 + s3);
}

typedef struct {
    double *b, *alpha, *r, *z, *p, *w;
    double *buf; /* with an eliminated FE: its longest stretch of rows x kb */
} cg_work;

static void cg_work_free(cg_work *cw)
{
    free(cw->b);
    free(cw->alpha);
    free(cw->r);
    free(cw->z);
    free(cw->p);
    free(cw->w);
    free(cw->buf);
}

/* CG on the Schur complement of one FE, applied through the data.
 *
 * When every level of some FE e (fe->run_fe) occupies one contiguous
 * stretch of rows - panels sorted by individual - its coefficients can be
 * eliminated exactly inside each pass over the data, at the cost of a
 * second look at each stretch while it is in the L1 cache: for x_R on the
 * other FE, S x_R = D_R'(I - P_e) D_R x_R is, stretch by stretch, "sum the
 * other FE's coefficients of each row, subtract their mean over the
 * stretch, add the difference back to the other FE's levels". CG then runs
 * on S (the other FE's levels only, Jacobi-preconditioned by their counts):
 * fewer iterations than on all FE (the individuals' part of the spectrum is
 * solved exactly) and vector operations on a few thousand levels instead of
 * all of them. a_e = C_e^-1 (b_e - B a_R) is formed when a candidate is
 * checked, and the check is on the full residual D'y - D'D a from the data,
 * as for CG on all FE.
 *
 * The three kernels, specialised like normal_kernel (normal.c) for 2 or 3 FE, 1-4
 * columns and e; qa < qb are the FE other than e (qb = -1 with 2 FE). */
#define ELIM_OTHERS(nq, e, qa, qb)                                                                             \
    const int qa = (e) == 0 ? 1 : 0;                                                                            \
    const int qb = (nq) == 2 ? -1 : (e) == 2 ? 1 : 2

/* b = D'y on all levels and s = D_R'(I - P_e) y on the levels of R (the
 * right-hand side of the Schur system; s is zero on e). b and s start at
 * zero. */
static inline __attribute__((always_inline)) void elim_rhs_kernel(const gravrd_fe *fe, const double *restrict inv_e,
                                                                  const double *restrict y, double *restrict b,
                                                                  double *restrict s, const int nq, const int kb,
                                                                  const int e)
{
    ELIM_OTHERS(nq, e, qa, qb);
    const size_t N = fe->n_obs, n_runs = (size_t)fe->n_levels_Q[e];
    const size_t *run = fe->run_QN;
    const int32_t *ca = fe->code_QN[qa], *cb = qb >= 0 ? fe->code_QN[qb] : NULL;
    double *be = b + fe->offset_Q[e] * (size_t)kb, *ba = b + fe->offset_Q[qa] * (size_t)kb;
    double *bb = qb >= 0 ? b + fe->offset_Q[qb] * (size_t)kb : NULL;
    double *sa = s + fe->offset_Q[qa] * (size_t)kb, *sb = qb >= 0 ? s + fe->offset_Q[qb] * (size_t)kb : NULL;
    for (size_t r = 0; r < n_runs; r++) {
        const size_t i0 = run[2 * r], i1 = run[2 * r + 1], g = r * (size_t)kb;
        double acc[DM_BLOCK] = {0}, m[DM_BLOCK];
        for (size_t i = i0; i < i1; i++)
#pragma GCC unroll 4
            for (int k = 0; k < kb; k++)
                acc[k] += y[(size_t)k * N + i];
#pragma GCC unroll 4
        for (int k = 0; k < kb; k++) {
            be[g + (size_t)k] = acc[k];
            m[k] = acc[k] * inv_e[r];
        }
        for (size_t i = i0; i < i1; i++) {
            const size_t ja = (size_t)ca[i] * (size_t)kb, jb = qb >= 0 ? (size_t)cb[i] * (size_t)kb : 0;
#pragma GCC unroll 4
            for (int k = 0; k < kb; k++) {
                const double v = y[(size_t)k * N + i], d = v - m[k];
                ba[ja + (size_t)k] += v;
                sa[ja + (size_t)k] += d;
                if (qb >= 0) {
                    bb[jb + (size_t)k] += v;
                    sb[jb + (size_t)k] += d;
                }
            }
        }
    }
}

/* out = S x on the levels of R (out on e is left alone), for kb columns
 * from column c0 of blocks of st interleaved columns (st = kb, c0 = 0: all
 * of them; kb = 1: one column, whose arithmetic is the same either way).
 * buf: fe->max_run * kb. */
static inline __attribute__((always_inline)) void elim_apply_kernel(const gravrd_fe *fe, const double *restrict inv_e,
                                                                    const double *restrict x, double *restrict out,
                                                                    double *restrict buf, const int nq, const int kb,
                                                                    const int e, const size_t st, const size_t c0)
{
    ELIM_OTHERS(nq, e, qa, qb);
    const size_t n_runs = (size_t)fe->n_levels_Q[e];
    const size_t *run = fe->run_QN;
    const int32_t *ca = fe->code_QN[qa], *cb = qb >= 0 ? fe->code_QN[qb] : NULL;
    const double *xa = x + fe->offset_Q[qa] * st + c0, *xb = qb >= 0 ? x + fe->offset_Q[qb] * st + c0 : NULL;
    double *oa = out + fe->offset_Q[qa] * st, *ob = qb >= 0 ? out + fe->offset_Q[qb] * st : NULL;
    memset(oa, 0, (size_t)fe->n_levels_Q[qa] * st * sizeof *oa);
    if (qb >= 0)
        memset(ob, 0, (size_t)fe->n_levels_Q[qb] * st * sizeof *ob);
    oa += c0;
    ob = qb >= 0 ? ob + c0 : NULL;
    for (size_t r = 0; r < n_runs; r++) {
        const size_t i0 = run[2 * r], i1 = run[2 * r + 1];
        double acc[DM_BLOCK] = {0}, m[DM_BLOCK];
        for (size_t i = i0; i < i1; i++) {
            const size_t ja = (size_t)ca[i] * st, jb = qb >= 0 ? (size_t)cb[i] * st : 0;
            double *bi = buf + (i - i0) * (size_t)kb;
#pragma GCC unroll 4
            for (int k = 0; k < kb; k++) {
                double v = xa[ja + (size_t)k];
                if (qb >= 0)
                    v += xb[jb + (size_t)k];
                bi[k] = v;
                acc[k] += v;
            }
        }
        const double inv = inv_e[r];
#pragma GCC unroll 4
        for (int k = 0; k < kb; k++)
            m[k] = acc[k] * inv;
        for (size_t i = i0; i < i1; i++) {
            const size_t ja = (size_t)ca[i] * st, jb = qb >= 0 ? (size_t)cb[i] * st : 0;
            const double *bi = buf + (i - i0) * (size_t)kb;
#pragma GCC unroll 4
            for (int k = 0; k < kb; k++) {
                const double d = bi[k] - m[k];
                oa[ja + (size_t)k] += d;
                if (qb >= 0)
                    ob[jb + (size_t)k] += d;
            }
        }
    }
}

/* For the columns with mask_K[k] (k counted from column 0 of the block;
 * kb, st, c0 as in elim_apply_kernel): a_e = C_e^-1 (b_e - B a_R) (the exact
 * elimination); then, for every column, out = D'D a on the levels of R
 * (out on e is left alone) and worst_K[k] = the largest |b_e - (D'D a)_e| /
 * n_g over the levels g of e (NaN when one is NaN): the residual on e is
 * tested here rather than stored, so that no array of the size of e is
 * touched besides b and a. */
static inline __attribute__((always_inline)) void elim_fresh_kernel(const gravrd_fe *fe, const double *restrict inv_e,
                                                                    const double *restrict b, double *restrict a,
                                                                    double *restrict out, double *restrict buf,
                                                                    const int *mask_K, double *restrict worst_K,
                                                                    const int nq, const int kb, const int e,
                                                                    const size_t st, const size_t c0)
{
    ELIM_OTHERS(nq, e, qa, qb);
    const size_t n_runs = (size_t)fe->n_levels_Q[e];
    const size_t *run = fe->run_QN;
    const int32_t *ca = fe->code_QN[qa], *cb = qb >= 0 ? fe->code_QN[qb] : NULL;
    const double *be = b + fe->offset_Q[e] * st + c0;
    double *ae = a + fe->offset_Q[e] * st + c0;
    const double *xa = a + fe->offset_Q[qa] * st + c0, *xb = qb >= 0 ? a + fe->offset_Q[qb] * st + c0 : NULL;
    double *oa = out + fe->offset_Q[qa] * st, *ob = qb >= 0 ? out + fe->offset_Q[qb] * st : NULL;
    memset(oa, 0, (size_t)fe->n_levels_Q[qa] * st * sizeof *oa);
    if (qb >= 0)
        memset(ob, 0, (size_t)fe->n_levels_Q[qb] * st * sizeof *ob);
    oa += c0;
    ob = qb >= 0 ? ob + c0 : NULL;
    double worst[DM_BLOCK] = {0};
    for (size_t r = 0; r < n_runs; r++) {
        const size_t i0 = run[2 * r], i1 = run[2 * r + 1], g = r * st;
        double acc[DM_BLOCK] = {0}, av[DM_BLOCK];
        for (size_t i = i0; i < i1; i++) {
            const size_t ja = (size_t)ca[i] * st, jb = qb >= 0 ? (size_t)cb[i] * st : 0;
            double *bi = buf + (i - i0) * (size_t)kb;
#pragma GCC unroll 4
            for (int k = 0; k < kb; k++) {
                double v = xa[ja + (size_t)k];
                if (qb >= 0)
                    v += xb[jb + (size_t)k];
                bi[k] = v;
                acc[k] += v;
            }
        }
        const double inv = inv_e[r];
#pragma GCC unroll 4
        for (int k = 0; k < kb; k++) {
            if (mask_K[c0 + (size_t)k])
                ae[g + (size_t)k] = (be[g + (size_t)k] - acc[k]) * inv;
            av[k] = ae[g + (size_t)k];
            acc[k] = 0;
        }
        for (size_t i = i0; i < i1; i++) {
            const size_t ja = (size_t)ca[i] * st, jb = qb >= 0 ? (size_t)cb[i] * st : 0;
            const double *bi = buf + (i - i0) * (size_t)kb;
#pragma GCC unroll 4
            for (int k = 0; k < kb; k++) {
                const double v = av[k] + bi[k];
                acc[k] += v;
                oa[ja + (size_t)k] += v;
                if (qb >= 0)
                    ob[jb + (size_t)k] += v;
            }
        }
#pragma GCC unroll 4
        for (int k = 0; k < kb; k++) {
            const double m = fabs(be[g + (size_t)k] - acc[k]) * inv;
            if (!(m <= worst[k]) && !isnan(worst[k]))
                worst[k] = m;
        }
    }
    for (int k = 0; k < kb; k++)
        worst_K[c0 + (size_t)k] = worst[k];
}

#define ELIM_E_CASES(call, nq, kbv)                                                                            \
    switch (ctx->elim) {                                                                                        \
    case 0: call(nq, kbv, 0); break;                                                                            \
    case 1: call(nq, kbv, 1); break;                                                                            \
    default: call(nq, kbv, 2); break;                                                                           \
    }
#define ELIM_CASES(call)                                                                                       \
    if (ctx->fe->n_fe == 2) {                                                                                   \
        switch (kb) {                                                                                           \
        case 1: ELIM_E_CASES(call, 2, 1) break;                                                                 \
        case 2: ELIM_E_CASES(call, 2, 2) break;                                                                 \
        case 3: ELIM_E_CASES(call, 2, 3) break;                                                                 \
        default: ELIM_E_CASES(call, 2, DM_BLOCK) break;                                                         \
        }                                                                                                       \
    } else {                                                                                                    \
        switch (kb) {                                                                                           \
        case 1: ELIM_E_CASES(call, 3, 1) break;                                                                 \
        case 2: ELIM_E_CASES(call, 3, 2) break;                                                                 \
        case 3: ELIM_E_CASES(call, 3, 3) break;                                                                 \
        default: ELIM_E_CASES(call, 3, DM_BLOCK) break;                                                         \
        }                                                                                                       \
    }

static void elim_rhs(const dm_ctx *ctx, const double *y, double *b, double *s, int kb)
{
    const double *inv_e = ctx->inv_count_L + ctx->fe->offset_Q[ctx->elim];
#define CALL(nq, kbv, e) elim_rhs_kernel(ctx->fe, inv_e, y, b, s, nq, kbv, (nq) == 2 && (e) == 2 ? 1 : (e))
    ELIM_CASES(CALL)
#undef CALL
}

/* The single-column kernels (kb = 1, stride st), for column kc. */
#define ELIM_CASES1(call)                                                                                      \
    if (ctx->fe->n_fe == 2) {                                                                                   \
        ELIM_E_CASES(call, 2, 1)                                                                                \
    } else {                                                                                                    \
        ELIM_E_CASES(call, 3, 1)                                                                                \
    }

/* S x for the columns of the block, or for column kc alone (kc >= 0): a
 * pass for one column costs less than for the block. Same numbers. */
static void elim_apply(const dm_ctx *ctx, const double *x, double *out, double *buf, int kb, int kc)
{
    const double *inv_e = ctx->inv_count_L + ctx->fe->offset_Q[ctx->elim];
    if (kc >= 0 && kb > 1) {
#define CALL(nq, kbv, e)                                                                                       \
    elim_apply_kernel(ctx->fe, inv_e, x, out, buf, nq, kbv, (nq) == 2 && (e) == 2 ? 1 : (e), (size_t)kb, (size_t)kc)
        ELIM_CASES1(CALL)
#undef CALL
        return;
    }
#define CALL(nq, kbv, e)                                                                                       \
    elim_apply_kernel(ctx->fe, inv_e, x, out, buf, nq, kbv, (nq) == 2 && (e) == 2 ? 1 : (e), (size_t)(kbv), 0)
    ELIM_CASES(CALL)
#undef CALL
}

/* elim_fresh_kernel for the block, or for column kc alone (kc >= 0; the
 * others' worst_K are then 0 and their out is not computed). */
static void elim_fresh(const dm_ctx *ctx, const double *b, double *a, double *out, double *buf, const int *mask_K,
                       double *worst_K, int kb, int kc)
{
    const double *inv_e = ctx->inv_count_L + ctx->fe->offset_Q[ctx->elim];
    if (kc >= 0 && kb > 1) {
        for (int k = 0; k < kb; k++)
            worst_K[k] = 0;
#define CALL(nq, kbv, e)                                                                                       \
    elim_fresh_kernel(ctx->fe, inv_e, b, a, out, buf, mask_K, worst_K, nq, kbv, (nq) == 2 && (e) == 2 ? 1 : (e),     \
                      (size_t)kb, (size_t)kc)
        ELIM_CASES1(CALL)
#undef CALL
        return;
    }
#define CALL(nq, kbv, e)                                                                                       \
    elim_fresh_kernel(ctx->fe, inv_e, b, a, out, buf, mask_K, worst_K, nq, kbv, (nq) == 2 && (e) == 2 ? 1 : (e),     \
                      (size_t)(kbv), 0)
    ELIM_CASES(CALL)
#undef CALL
}

/* The only column set in mask_K, or -1 (none or several). */
static int single_column(const int *mask_K, int kb)
{
    int kc = -1;
    for (int k = 0; k < kb; k++)
        if (mask_K[k]) {
            if (kc >= 0)
                return -1;
            kc = k;
        }
    return kc;
}

/* The levels CG works on: all of them, or (ctx->elim >= 0) those of the FE
 * other than the eliminated one: two ranges [lo_S[s], hi_S[s]). */
static void cg_ranges(const dm_ctx *ctx, size_t lo_S[2], size_t hi_S[2])
{
    const gravrd_fe *fe = ctx->fe;
    const size_t L = fe->n_levels_total;
    if (ctx->elim < 0) {
        lo_S[0] = 0, hi_S[0] = L, lo_S[1] = hi_S[1] = L;
        return;
    }
    lo_S[0] = 0, hi_S[0] = fe->offset_Q[ctx->elim];
    lo_S[1] = fe->offset_Q[ctx->elim] + (size_t)fe->n_levels_Q[ctx->elim], hi_S[1] = L;
}

/* dm_worst over the levels CG works on. */
static double cg_worst(const dm_ctx *ctx, const double *r, int kb, int k)
{
    size_t lo[2], hi[2];
    cg_ranges(ctx, lo, hi);
    double worst = 0;
    for (int s = 0; s < 2; s++) {
        if (hi[s] <= lo[s])
            continue;
        double w = dm_worst(r + lo[s] * (size_t)kb, ctx->inv_count_L + lo[s], hi[s] - lo[s], kb, k);
        if (!(w <= worst))
            worst = w; /* NaN sticks */
        if (isnan(worst))
            break;
    }
    return worst;
}

/* (Re)starts CG for column k from the residual in cw->r: z = M^-1 r, p = z. */
static double cg_restart(const dm_ctx *ctx, cg_work *cw, int kb, int k)
{
    size_t lo[2], hi[2];
    cg_ranges(ctx, lo, hi);
    double rz = 0;
    for (int s = 0; s < 2; s++)
        for (size_t l = lo[s]; l < hi[s]; l++) {
            size_t j = l * (size_t)kb + (size_t)k;
            cw->z[j] = cw->r[j] * ctx->inv_count_L[l];
            cw->p[j] = cw->z[j];
            rz += cw->r[j] * cw->z[j];
        }
    return rz;
}

/* State of a block of columns. done_K: converged; parked_K: handed over to
 * the Schur solver; active = neither. */
typedef struct {
    int kb;
    double scale_K[DM_BLOCK];
    int done_K[DM_BLOCK], parked_K[DM_BLOCK];
    int iter;        /* CG iterations (of the block: checkpoints) */
    int s_iter;      /* Schur iterations (of the block) */
    int switch_iter; /* first CG iteration at which a column switched */
    /* Iterations of each column, CG and Schur: the cap and the report use
     * these, so neither depends on which columns share a block. */
    int used_K[DM_BLOCK];
} block_state;

static int block_remaining(const block_state *bs)
{
    int n = 0;
    for (int k = 0; k < bs->kb; k++)
        n += !bs->done_K[k] && !bs->parked_K[k];
    return n;
}

/* w = D'D alpha from the data, on the levels CG works on. With an
 * eliminated FE, its coefficients are first set by exact elimination for
 * the columns in mask_K, and worst_e_K gets the worst group mean of the
 * residual on its levels (else 0). */
static void cg_fresh(const dm_ctx *ctx, cg_work *cw, const int *mask_K, double *worst_e_K, int kb)
{
    if (ctx->elim >= 0) {
        elim_fresh(ctx, cw->b, cw->alpha, cw->w, cw->buf, mask_K, worst_e_K, kb, single_column(mask_K, kb));
    } else {
        dm_apply_normal(ctx->fe, cw->alpha, cw->w, kb);
        for (int k = 0; k < kb; k++)
            worst_e_K[k] = 0;
    }
}

/* CG for the active columns, on all FE or (ctx->elim >= 0) on the Schur
 * complement of the eliminated FE, from their current coefficients (fresh
 * residual unless alpha = 0), until each converges or, when may_switch, is
 * parked for the Schur solver. With an eliminated FE and from_zero, cw->r
 * already holds the Schur right-hand side (elim_rhs). */
static gravrd_status cg_phase(dm_ctx *ctx, cg_work *cw, block_state *bs, int from_zero, int may_switch,
                              gravrd_error *err)
{
    const gravrd_fe *fe = ctx->fe;
    const int kb = bs->kb, max_iter = ctx->max_iter, elim = ctx->elim >= 0;
    const double tol = ctx->tol;
    size_t lo[2], hi[2];
    cg_ranges(ctx, lo, hi);
    /* crit_K: worst group mean in units of the tolerance, at this iteration
     * and at the last checkpoint (for the convergence rate). */
    double rz_K[DM_BLOCK] = {0}, crit_K[DM_BLOCK] = {0}, crit_cp_K[DM_BLOCK] = {0};
    int next_checkpoint = 4, active_K[DM_BLOCK] = {0};
    double worst_e_K[DM_BLOCK];
    for (int k = 0; k < kb; k++)
        active_K[k] = !bs->done_K[k] && !bs->parked_K[k];
    if (!from_zero)
        cg_fresh(ctx, cw, active_K, worst_e_K, kb);
    for (int k = 0; k < kb; k++) {
        if (!active_K[k])
            continue;
        if (!from_zero || !elim)
            for (int s = 0; s < 2; s++)
                for (size_t l = lo[s]; l < hi[s]; l++) {
                    size_t j = l * (size_t)kb + (size_t)k;
                    cw->r[j] = from_zero ? cw->b[j] : cw->b[j] - cw->w[j];
                }
        rz_K[k] = cg_restart(ctx, cw, kb, k);
    }

    while (block_remaining(bs) > 0) {
        int candidate_K[DM_BLOCK] = {0}, any_candidate = 0;
        /* A column may already satisfy the criterion (e.g. y constant within
         * the groups of one FE after a few steps); test before iterating. */
        for (int k = 0; k < kb; k++) {
            if (bs->done_K[k] || bs->parked_K[k])
                continue;
            crit_K[k] = cg_worst(ctx, cw->r, kb, k) / (tol * bs->scale_K[k]);
            if (crit_K[k] <= 1)
                candidate_K[k] = any_candidate = 1;
        }
        if (any_candidate) {
            cg_fresh(ctx, cw, candidate_K, worst_e_K, kb); /* fresh residual r = b - D'D alpha */
            for (int k = 0; k < kb; k++) {
                if (!candidate_K[k])
                    continue;
                for (int s = 0; s < 2; s++)
                    for (size_t l = lo[s]; l < hi[s]; l++) {
                        size_t j = l * (size_t)kb + (size_t)k;
                        cw->r[j] = cw->b[j] - cw->w[j];
                    }
                /* The test is on every level (with an eliminated FE, its
                 * residual is zero up to rounding, tested by cg_fresh). */
                double worst = cg_worst(ctx, cw->r, kb, k);
                if (!(worst_e_K[k] <= worst) && !isnan(worst))
                    worst = worst_e_K[k];
                crit_K[k] = worst / (tol * bs->scale_K[k]);
                if (crit_K[k] <= 1) {
                    bs->done_K[k] = 1;
                    continue;
                }
                /* Restart CG from the current solution with the true residual. */
                if (elim)
                    crit_K[k] = cg_worst(ctx, cw->r, kb, k) / (tol * bs->scale_K[k]);
                rz_K[k] = cg_restart(ctx, cw, kb, k);
            }
            if (block_remaining(bs) == 0)
                break;
        }
        for (int k = 0; k < kb; k++)
            if (!bs->done_K[k] && !bs->parked_K[k] && bs->used_K[k] >= max_iter)
                return gravrd_error_set(err, GRAVRD_ERR_CONVERGENCE,
                                        "demeaning did not converge in %d iterations (tolerance %g); "
                                        "raise --maxiter or check the fixed-effect structure",
                                        max_iter, tol);
        if (bs->iter == next_checkpoint) {
            /* AUTO: at iterations 8, 16, 32, ... predict, from the rate at which
             * the column's criterion fell since the last checkpoint, how many
             * more CG iterations it needs, and let the cost model decide
             * whether to finish it with the Schur solver instead. */
            int parked_now_K[DM_BLOCK] = {0}, any_parked = 0;
            for (int k = 0; k < kb && may_switch && bs->iter >= 8; k++) {
                if (bs->done_K[k] || bs->parked_K[k])
                    continue;
                double remaining = INFINITY;
                if (crit_K[k] < crit_cp_K[k]) /* also false for NaN */
                    remaining = log(crit_K[k]) * (double)(bs->iter / 2) / log(crit_cp_K[k] / crit_K[k]);
                int want = 0;
                gravrd_status st = dm_plan_want(ctx, remaining, &want, err);
                if (st != GRAVRD_OK)
                    return st;
                if (want) {
                    bs->parked_K[k] = parked_now_K[k] = any_parked = 1;
                    if (bs->switch_iter < 0)
                        bs->switch_iter = bs->iter;
                }
            }
            /* The Schur solver starts from complete coefficients. */
            if (elim && any_parked)
                cg_fresh(ctx, cw, parked_now_K, worst_e_K, kb);
            for (int k = 0; k < kb; k++)
                crit_cp_K[k] = crit_K[k];
            next_checkpoint *= 2;
            if (block_remaining(bs) == 0)
                break;
        }
        bs->iter++;
        if (elim) {
            int act_K[DM_BLOCK];
            for (int k = 0; k < kb; k++)
                act_K[k] = !bs->done_K[k] && !bs->parked_K[k];
            elim_apply(ctx, cw->p, cw->w, cw->buf, kb, single_column(act_K, kb));
        }
        else
            dm_apply_normal(fe, cw->p, cw->w, kb);
        for (int k = 0; k < kb; k++) {
            if (bs->done_K[k] || bs->parked_K[k])
                continue;
            bs->used_K[k]++;
            double pw = 0;
            for (int s = 0; s < 2; s++)
                for (size_t l = lo[s]; l < hi[s]; l++)
                    pw += cw->p[l * (size_t)kb + (size_t)k] * cw->w[l * (size_t)kb + (size_t)k];
            if (!(pw > 0) || !isfinite(pw)) {
                /* p = 0: nothing left to reduce; the residual test above must
                 * accept the column next time round, or we report failure. */
                if (cg_worst(ctx, cw->r, kb, k) <= tol * bs->scale_K[k] || !(rz_K[k] > 0))
                    continue;
                return gravrd_error_set(err, GRAVRD_ERR_NUMERIC,
                                        "demeaning broke down (non-positive curvature) after %d iterations",
                                        bs->used_K[k]);
            }
            double a = rz_K[k] / pw, rz_new = 0;
            for (int s = 0; s < 2; s++)
                for (size_t l = lo[s]; l < hi[s]; l++) {
                    size_t j = l * (size_t)kb + (size_t)k;
                    cw->alpha[j] += a * cw->p[j];
                    cw->r[j] -= a * cw->w[j];
                    cw->z[j] = cw->r[j] * ctx->inv_count_L[l];
                    rz_new += cw->r[j] * cw->z[j];
                }
            double beta = rz_new / rz_K[k];
            rz_K[k] = rz_new;
            for (int s = 0; s < 2; s++)
                for (size_t l = lo[s]; l < hi[s]; l++) {
                    size_t j = l * (size_t)kb + (size_t)k;
                    cw->p[j] = cw->z[j] + beta * cw->p[j];
                }
        }
    }
    return GRAVRD_OK;
}

/* Demeans kb columns (column-major, stride n_obs) starting at cols. */
static gravrd_status demean_block(dm_ctx *ctx, double *cols, int kb, int *cg_iters, int *schur_iters,
                                  int *iters, int *used_schur, int *switch_iter, gravrd_error *err)
{
    const gravrd_fe *fe = ctx->fe;
    const size_t N = fe->n_obs, L = fe->n_levels_total, LK = L * (size_t)kb;
    gravrd_status st = GRAVRD_OK;
    block_state bs;
    memset(&bs, 0, sizeof bs);
    bs.kb = kb;
    bs.switch_iter = -1;
    cg_work cw = {0};
    cw.b = calloc(LK, sizeof(double));
    cw.alpha = calloc(LK, sizeof(double));
    cw.r = malloc(LK * sizeof(double));
    cw.z = malloc(LK * sizeof(double));
    cw.p = malloc(LK * sizeof(double));
    cw.w = malloc(LK * sizeof(double));
    if (ctx->elim >= 0)
        cw.buf = malloc((fe->max_run ? fe->max_run : 1) * (size_t)kb * sizeof(double));
    if (!cw.b || !cw.alpha || !cw.r || !cw.z || !cw.p || !cw.w || (ctx->elim >= 0 && !cw.buf)) {
        cg_work_free(&cw);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while demeaning");
    }

    /* Centre each column: the constant lies in the span of any FE, so this
     * changes nothing but keeps D'y free of cancellation for variables with
     * a large mean relative to their spread. */
    for (int k = 0; k < kb; k++) {
        double *y = cols + (size_t)k * N;
        const double mean = sum4(y, N) / (double)N;
        bs.scale_K[k] = sqrt(centre4(y, N, mean) / (double)N);
        if (bs.scale_K[k] == 0)
            bs.done_K[k] = 1; /* constant: its projection residual is exactly 0 */
    }
    if (ctx->elim >= 0) {
        /* The Schur right-hand side, in r on the levels of R (CG touches
         * nothing else of r, z, p, w). */
        size_t lo[2], hi[2];
        cg_ranges(ctx, lo, hi);
        for (int s = 0; s < 2; s++)
            memset(cw.r + lo[s] * (size_t)kb, 0, (hi[s] - lo[s]) * (size_t)kb * sizeof(double));
        elim_rhs(ctx, cols, cw.b, cw.r, kb);
    } else {
        apply_dty(fe, cols, cw.b, kb);
    }

    const int may_switch = fe->n_fe >= 2 && ctx->method != DM_METHOD_CG;
    if (ctx->method == DM_METHOD_SCHUR && may_switch && block_remaining(&bs) > 0) {
        /* Forced Schur (tests): CG on all FE only if the structure does not allow it. */
        int want = 0;
        if ((st = dm_plan_force(ctx, &want, err)) != GRAVRD_OK)
            goto out;
        for (int k = 0; want && k < kb; k++)
            bs.parked_K[k] = !bs.done_K[k];
        if (want)
            bs.switch_iter = 0;
    }
    if ((st = cg_phase(ctx, &cw, &bs, 1, may_switch, err)) != GRAVRD_OK)
        goto out;
    for (;;) {
        int n_parked = 0, failed_K[DM_BLOCK] = {0}, skip_K[DM_BLOCK];
        for (int k = 0; k < kb; k++) {
            n_parked += bs.parked_K[k];
            skip_K[k] = !bs.parked_K[k];
        }
        if (n_parked == 0)
            break;
        *used_schur = 1;
        int it = 0;
        st = dm_schur_solve(ctx, cw.b, cw.alpha, bs.scale_K, skip_K, failed_K, kb, bs.used_K, &it, err);
        bs.s_iter += it;
        if (st != GRAVRD_OK)
            goto out;
        /* Columns the Schur solver could not finish (numerical breakdown)
         * continue with CG on all FE from where it left them. */
        int any_failed = 0;
        for (int k = 0; k < kb; k++) {
            if (!bs.parked_K[k])
                continue;
            bs.parked_K[k] = 0;
            if (failed_K[k])
                any_failed = 1;
            else
                bs.done_K[k] = 1;
        }
        if (!any_failed)
            break;
        if ((st = cg_phase(ctx, &cw, &bs, 0, 0, err)) != GRAVRD_OK)
            goto out;
    }

    /* y <- y - D alpha */
    apply_resid(fe, cw.alpha, cols, kb);
    for (int k = 0; k < kb; k++)
        if (bs.scale_K[k] == 0)
            memset(cols + (size_t)k * N, 0, N * sizeof *cols);
out:
    *cg_iters = bs.iter;
    *schur_iters = bs.s_iter;
    *iters = 0;
    for (int k = 0; k < kb; k++)
        if (bs.used_K[k] > *iters)
            *iters = bs.used_K[k];
    *switch_iter = bs.switch_iter;
    cg_work_free(&cw);
    return st;
}

gravrd_status gravrd_demean_method(const gravrd_fe *fe, double *cols_NK, int n_vars,
                                   const gravrd_demean_options *opt, dm_method method, dm_report *report,
                                   gravrd_error *err)
{
    dm_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.fe = fe;
    ctx.tol = opt && opt->tol > 0 ? opt->tol : GRAVRD_DEMEAN_TOL;
    ctx.max_iter = opt && opt->max_iter > 0 ? opt->max_iter : GRAVRD_DEMEAN_MAXITER;
    ctx.method = method;
    ctx.plan.e = -1;
    /* CG on the Schur complement of an FE whose levels are contiguous
     * stretches of rows (see elim_apply_kernel): AUTO, 2 or 3 FE. */
    ctx.elim = method == DM_METHOD_AUTO && (fe->n_fe == 2 || fe->n_fe == 3) ? fe->run_fe : -1;
    int threads = opt && opt->threads > 1 ? opt->threads : 1;
    if (report) {
        memset(report, 0, sizeof *report);
        report->eliminated_fe = -1;
        report->switch_iter = -1;
        report->pass_elim_fe = ctx.elim;
    }
    if (n_vars <= 0 || fe->n_obs == 0)
        return GRAVRD_OK;

    ctx.inv_count_L = malloc(fe->n_levels_total * sizeof *ctx.inv_count_L);
    /* Blocks: as wide as possible, but at least one per thread. */
    int width = (n_vars + threads - 1) / threads;
    if (width > DM_BLOCK)
        width = DM_BLOCK;
    if (width < 1)
        width = 1;
    int n_blocks = (n_vars + width - 1) / width;
    int *cg_B = calloc((size_t)n_blocks, sizeof *cg_B);
    int *schur_B = calloc((size_t)n_blocks, sizeof *schur_B);
    int *used_B = calloc((size_t)n_blocks, sizeof *used_B), *switch_B = malloc((size_t)n_blocks * sizeof *switch_B);
    int *iters_B = calloc((size_t)n_blocks, sizeof *iters_B);
    gravrd_status *status_B = calloc((size_t)n_blocks, sizeof *status_B);
    gravrd_error *err_B = calloc((size_t)n_blocks, sizeof *err_B);
    gravrd_status status = GRAVRD_OK;
    if (!ctx.inv_count_L || !cg_B || !schur_B || !used_B || !switch_B || !iters_B || !status_B || !err_B) {
        status = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while demeaning");
        goto done;
    }
    /* Multiplying by 1/n_g instead of dividing keeps divisions out of the
     * inner loops; the group-mean test uses the same factors everywhere. */
    for (size_t l = 0; l < fe->n_levels_total; l++)
        ctx.inv_count_L[l] = 1.0 / fe->count_L[l];

#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && n_blocks > 1)
    for (int blk = 0; blk < n_blocks; blk++) {
        int first = blk * width;
        int kb = n_vars - first < width ? n_vars - first : width;
        switch_B[blk] = -1;
        status_B[blk] = demean_block(&ctx, cols_NK + (size_t)first * fe->n_obs, kb, &cg_B[blk], &schur_B[blk],
                                     &iters_B[blk], &used_B[blk], &switch_B[blk], &err_B[blk]);
    }
    for (int blk = 0; blk < n_blocks; blk++) {
        if (status_B[blk] != GRAVRD_OK && status == GRAVRD_OK) {
            status = status_B[blk];
            if (err)
                *err = err_B[blk];
        }
        if (report) {
            if (cg_B[blk] > report->cg_iterations)
                report->cg_iterations = cg_B[blk];
            if (schur_B[blk] > report->schur_iterations)
                report->schur_iterations = schur_B[blk];
            report->used_schur |= used_B[blk];
            if (switch_B[blk] >= 0 && (report->switch_iter < 0 || switch_B[blk] < report->switch_iter))
                report->switch_iter = switch_B[blk];
            if (iters_B[blk] > report->iterations)
                report->iterations = iters_B[blk];
        }
    }
    if (report && report->used_schur)
        report->eliminated_fe = ctx.plan.e;
done:
    dm_plan_free(&ctx.plan);
    free(ctx.inv_count_L);
    free(cg_B);
    free(schur_B);
    free(used_B);
    free(switch_B);
    free(iters_B);
    free(status_B);
    free(err_B);
    return status;
}

gravrd_status gravrd_demean(const gravrd_fe *fe, double *cols_NK, int n_vars, const gravrd_demean_options *opt,
                            gravrd_demean_report *report, gravrd_error *err)
{
    dm_report rep;
    gravrd_status st = gravrd_demean_method(fe, cols_NK, n_vars, opt, DM_METHOD_AUTO, &rep, err);
    if (report)
        /* Both kinds of iteration; see docs/algorithms.md for what each costs. */
        report->iterations = rep.iterations;
    return st;
}
