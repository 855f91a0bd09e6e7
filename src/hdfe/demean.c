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

/* out = D'D x for nq FE and kb interleaved columns. Called with constant nq
 * and kb so that the compiler specialises the common shapes (2 or 3 FE,
 * 1-4 columns): the inner loops then have no loop over FE and no indirect
 * offsets. Per column, the arithmetic is the same for every kb. */
static inline __attribute__((always_inline)) void normal_kernel(const gravrd_fe *fe, const double *restrict x,
                                                                double *restrict out, const int nq, const int kb)
{
    const size_t N = fe->n_obs;
    memset(out, 0, fe->n_levels_total * (size_t)kb * sizeof *out);
    if (nq == 2 || nq == 3) {
        const int32_t *c0 = fe->code_QN[0], *c1 = fe->code_QN[1], *c2 = nq == 3 ? fe->code_QN[2] : NULL;
        const double *x0 = x + fe->offset_Q[0] * (size_t)kb, *x1 = x + fe->offset_Q[1] * (size_t)kb;
        const double *x2 = nq == 3 ? x + fe->offset_Q[2] * (size_t)kb : NULL;
        double *o0 = out + fe->offset_Q[0] * (size_t)kb, *o1 = out + fe->offset_Q[1] * (size_t)kb;
        double *o2 = nq == 3 ? out + fe->offset_Q[2] * (size_t)kb : NULL;
        for (size_t i = 0; i < N; i++) {
            const size_t j0 = (size_t)c0[i] * (size_t)kb, j1 = (size_t)c1[i] * (size_t)kb;
            const size_t j2 = nq == 3 ? (size_t)c2[i] * (size_t)kb : 0;
            /* One column at a time keeps the sum in a register (x and out
             * cannot alias: restrict). */
            for (int k = 0; k < kb; k++) {
                double v = x0[j0 + (size_t)k] + x1[j1 + (size_t)k];
                if (nq == 3)
                    v += x2[j2 + (size_t)k];
                o0[j0 + (size_t)k] += v;
                o1[j1 + (size_t)k] += v;
                if (nq == 3)
                    o2[j2 + (size_t)k] += v;
            }
        }
        return;
    }
    const int n_fe = fe->n_fe;
    for (size_t i = 0; i < N; i++) {
        double v[DM_BLOCK] = {0};
        for (int q = 0; q < n_fe; q++) {
            const double *xq = x + (fe->offset_Q[q] + (size_t)fe->code_QN[q][i]) * (size_t)kb;
            for (int k = 0; k < kb; k++)
                v[k] += xq[k];
        }
        for (int q = 0; q < n_fe; q++) {
            double *oq = out + (fe->offset_Q[q] + (size_t)fe->code_QN[q][i]) * (size_t)kb;
            for (int k = 0; k < kb; k++)
                oq[k] += v[k];
        }
    }
}

#define NORMAL_CASES(nq)                                                                                        \
    switch (kb) {                                                                                               \
    case 1: normal_kernel(fe, x_L, out_L, nq, 1); break;                                                        \
    case 2: normal_kernel(fe, x_L, out_L, nq, 2); break;                                                        \
    case 3: normal_kernel(fe, x_L, out_L, nq, 3); break;                                                        \
    default: normal_kernel(fe, x_L, out_L, nq, DM_BLOCK); break;                                                \
    }

void dm_apply_normal(const gravrd_fe *fe, const double *x_L, double *out_L, int kb)
{
    if (fe->n_fe == 2) {
        NORMAL_CASES(2)
    } else if (fe->n_fe == 3) {
        NORMAL_CASES(3)
    } else {
        NORMAL_CASES(0)
    }
}

/* b = D'y for a block (y column-major with stride N), and y -= D alpha:
 * one pass over the codes for all columns and FE, specialised like
 * normal_kernel. Per column and level, additions go in row order. */
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

double dm_worst(const double *r, const double *inv_count, size_t n, int kb, int k)
{
    double worst = 0;
    for (size_t l = 0; l < n; l++) {
        double m = fabs(r[l * (size_t)kb + (size_t)k]) * inv_count[l];
        if (!(m <= worst)) {
            if (isnan(m))
                return m; /* never accepted: the caller reports failure */
            worst = m;
        }
    }
    return worst;
}

typedef struct {
    double *b, *alpha, *r, *z, *p, *w;
} cg_work;

static void cg_work_free(cg_work *cw)
{
    free(cw->b);
    free(cw->alpha);
    free(cw->r);
    free(cw->z);
    free(cw->p);
    free(cw->w);
}

/* (Re)starts CG for column k from the residual in cw->r: z = M^-1 r, p = z. */
static double cg_restart(const dm_ctx *ctx, cg_work *cw, int kb, int k)
{
    const size_t L = ctx->fe->n_levels_total;
    double rz = 0;
    for (size_t l = 0; l < L; l++) {
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
    int iter;        /* CG iterations on all FE (of the block: checkpoints) */
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

/* CG on all FE for the active columns, from their current coefficients
 * (fresh residual unless alpha = 0), until each converges or, when
 * may_switch, is parked for the Schur solver. */
static gravrd_status cg_phase(dm_ctx *ctx, cg_work *cw, block_state *bs, int from_zero, int may_switch,
                              gravrd_error *err)
{
    const gravrd_fe *fe = ctx->fe;
    const size_t L = fe->n_levels_total;
    const int kb = bs->kb, max_iter = ctx->max_iter;
    const double tol = ctx->tol;
    /* crit_K: worst group mean in units of the tolerance, at this iteration
     * and at the last checkpoint (for the convergence rate). */
    double rz_K[DM_BLOCK] = {0}, crit_K[DM_BLOCK] = {0}, crit_cp_K[DM_BLOCK] = {0};
    int next_checkpoint = 4;
    if (!from_zero)
        dm_apply_normal(fe, cw->alpha, cw->w, kb);
    for (int k = 0; k < kb; k++) {
        if (bs->done_K[k] || bs->parked_K[k])
            continue;
        for (size_t l = 0; l < L; l++) {
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
            crit_K[k] = dm_worst(cw->r, ctx->inv_count_L, L, kb, k) / (tol * bs->scale_K[k]);
            if (crit_K[k] <= 1)
                candidate_K[k] = any_candidate = 1;
        }
        if (any_candidate) {
            dm_apply_normal(fe, cw->alpha, cw->w, kb); /* fresh residual r = b - D'D alpha */
            for (int k = 0; k < kb; k++) {
                if (!candidate_K[k])
                    continue;
                for (size_t l = 0; l < L; l++) {
                    size_t j = l * (size_t)kb + (size_t)k;
                    cw->r[j] = cw->b[j] - cw->w[j];
                }
                crit_K[k] = dm_worst(cw->r, ctx->inv_count_L, L, kb, k) / (tol * bs->scale_K[k]);
                if (crit_K[k] <= 1) {
                    bs->done_K[k] = 1;
                    continue;
                }
                /* Restart CG from the current solution with the true residual. */
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
                    bs->parked_K[k] = 1;
                    if (bs->switch_iter < 0)
                        bs->switch_iter = bs->iter;
                }
            }
            for (int k = 0; k < kb; k++)
                crit_cp_K[k] = crit_K[k];
            next_checkpoint *= 2;
            if (block_remaining(bs) == 0)
                break;
        }
        bs->iter++;
        dm_apply_normal(fe, cw->p, cw->w, kb);
        for (int k = 0; k < kb; k++) {
            if (bs->done_K[k] || bs->parked_K[k])
                continue;
            bs->used_K[k]++;
            double pw = 0;
            for (size_t l = 0; l < L; l++)
                pw += cw->p[l * (size_t)kb + (size_t)k] * cw->w[l * (size_t)kb + (size_t)k];
            if (!(pw > 0) || !isfinite(pw)) {
                /* p = 0: nothing left to reduce; the residual test above must
                 * accept the column next time round, or we report failure. */
                if (dm_worst(cw->r, ctx->inv_count_L, L, kb, k) <= tol * bs->scale_K[k] || !(rz_K[k] > 0))
                    continue;
                return gravrd_error_set(err, GRAVRD_ERR_NUMERIC,
                                        "demeaning broke down (non-positive curvature) after %d iterations",
                                        bs->used_K[k]);
            }
            double a = rz_K[k] / pw, rz_new = 0;
            for (size_t l = 0; l < L; l++) {
                size_t j = l * (size_t)kb + (size_t)k;
                cw->alpha[j] += a * cw->p[j];
                cw->r[j] -= a * cw->w[j];
                cw->z[j] = cw->r[j] * ctx->inv_count_L[l];
                rz_new += cw->r[j] * cw->z[j];
            }
            double beta = rz_new / rz_K[k];
            rz_K[k] = rz_new;
            for (size_t l = 0; l < L; l++) {
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
    if (!cw.b || !cw.alpha || !cw.r || !cw.z || !cw.p || !cw.w) {
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
    apply_dty(fe, cols, cw.b, kb);

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
    int threads = opt && opt->threads > 1 ? opt->threads : 1;
    if (report) {
        memset(report, 0, sizeof *report);
        report->eliminated_fe = -1;
        report->switch_iter = -1;
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
