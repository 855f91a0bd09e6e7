/* demean.c - projecting variables off the fixed effects.
 *
 * For each variable y we solve the normal equations D'D a = D'y of the
 * dummy-variable regression on all FE at once, in the space of the FE
 * coefficients a (one slot per level), by conjugate gradients with the
 * diagonal (level counts) as preconditioner, then return y - D a. Working
 * on coefficients rather than on observations keeps the per-iteration cost
 * at one pass over the integer codes, whatever the number of variables, and
 * CG needs far fewer iterations than alternating projections on poorly
 * connected FE graphs (see docs/algorithms.md).
 *
 * Convergence is tested on what the projection must achieve: every FE
 * group mean of the demeaned variable, (D'(y - D a))_g / n_g, must be within
 * tol * sd(y) of zero. CG's recursively updated residual drifts in floating
 * point, so a candidate solution is re-checked with a freshly computed
 * residual before it is accepted; if the check fails CG restarts from it.
 *
 * Variables are processed in blocks of up to BLOCK columns whose
 * coefficient vectors are interleaved ([level][column]) so one pass over the
 * codes serves the whole block. Every floating-point operation of a column
 * depends only on that column, so blocks can run on any number of threads
 * and the results are bit-identical. */
#include "fe_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 4

/* out_L = D'D x_L for a block of kb interleaved columns. */
static inline __attribute__((always_inline)) void apply_normal_fixed(const gravrd_fe *fe, const double *x_L,
                                                                     double *out_L, const int kb)
{
    const int n_fe = fe->n_fe;
    memset(out_L, 0, fe->n_levels_total * (size_t)kb * sizeof *out_L);
    for (size_t i = 0; i < fe->n_obs; i++) {
        double v[BLOCK] = {0};
        for (int q = 0; q < n_fe; q++) {
            const double *xq = x_L + (fe->offset_Q[q] + (size_t)fe->code_QN[q][i]) * (size_t)kb;
            for (int k = 0; k < kb; k++)
                v[k] += xq[k];
        }
        for (int q = 0; q < n_fe; q++) {
            double *oq = out_L + (fe->offset_Q[q] + (size_t)fe->code_QN[q][i]) * (size_t)kb;
            for (int k = 0; k < kb; k++)
                oq[k] += v[k];
        }
    }
}

static void apply_normal(const gravrd_fe *fe, const double *x_L, double *out_L, int kb)
{
    switch (kb) {
    case 1: apply_normal_fixed(fe, x_L, out_L, 1); break;
    case 2: apply_normal_fixed(fe, x_L, out_L, 2); break;
    case 3: apply_normal_fixed(fe, x_L, out_L, 3); break;
    default: apply_normal_fixed(fe, x_L, out_L, BLOCK); break;
    }
}

/* Largest |r_g| / n_g for column k: the worst FE group mean of the residual. */
static double worst_group_mean(const gravrd_fe *fe, const double *r_L, int kb, int k)
{
    double worst = 0;
    for (size_t l = 0; l < fe->n_levels_total; l++) {
        double m = fabs(r_L[l * (size_t)kb + (size_t)k]) / fe->count_L[l];
        if (!(m <= worst))
            worst = m; /* also propagates NaN */
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

/* Demeans kb columns (column-major, stride n_obs) starting at cols. */
static gravrd_status demean_block(const gravrd_fe *fe, double *cols, int kb, double tol, int max_iter,
                                  int *iterations, gravrd_error *err)
{
    const size_t N = fe->n_obs, L = fe->n_levels_total, LK = L * (size_t)kb;
    double scale_K[BLOCK], rz_K[BLOCK];
    int done_K[BLOCK] = {0}, n_done = 0;
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
        double mean = 0, ss = 0;
        for (size_t i = 0; i < N; i++)
            mean += y[i];
        mean /= (double)N;
        for (size_t i = 0; i < N; i++) {
            y[i] -= mean;
            ss += y[i] * y[i];
        }
        scale_K[k] = sqrt(ss / (double)N);
        if (scale_K[k] == 0) {
            done_K[k] = 1; /* constant: its projection residual is exactly 0 */
            n_done++;
        }
    }
    for (int q = 0; q < fe->n_fe; q++) {
        const int32_t *code = fe->code_QN[q];
        double *bq = cw.b + fe->offset_Q[q] * (size_t)kb;
        for (int k = 0; k < kb; k++) {
            const double *y = cols + (size_t)k * N;
            for (size_t i = 0; i < N; i++)
                bq[(size_t)code[i] * (size_t)kb + (size_t)k] += y[i];
        }
    }
    memcpy(cw.r, cw.b, LK * sizeof(double));
    for (size_t l = 0; l < L; l++)
        for (int k = 0; k < kb; k++)
            cw.z[l * (size_t)kb + (size_t)k] = cw.r[l * (size_t)kb + (size_t)k] / fe->count_L[l];
    memcpy(cw.p, cw.z, LK * sizeof(double));
    for (int k = 0; k < kb; k++) {
        rz_K[k] = 0;
        for (size_t l = 0; l < L; l++)
            rz_K[k] += cw.r[l * (size_t)kb + (size_t)k] * cw.z[l * (size_t)kb + (size_t)k];
    }

    int iter = 0;
    while (n_done < kb) {
        int candidate_K[BLOCK] = {0}, any_candidate = 0;
        /* A column may already satisfy the criterion (e.g. y constant within
         * the groups of one FE after a few steps); test before iterating. */
        for (int k = 0; k < kb; k++)
            if (!done_K[k] && worst_group_mean(fe, cw.r, kb, k) <= tol * scale_K[k])
                candidate_K[k] = any_candidate = 1;
        if (any_candidate) {
            apply_normal(fe, cw.alpha, cw.w, kb); /* fresh residual r = b - D'D alpha */
            for (int k = 0; k < kb; k++) {
                if (!candidate_K[k])
                    continue;
                for (size_t l = 0; l < L; l++) {
                    size_t j = l * (size_t)kb + (size_t)k;
                    cw.r[j] = cw.b[j] - cw.w[j];
                }
                if (worst_group_mean(fe, cw.r, kb, k) <= tol * scale_K[k]) {
                    done_K[k] = 1;
                    n_done++;
                    continue;
                }
                /* Restart CG from the current solution with the true residual. */
                rz_K[k] = 0;
                for (size_t l = 0; l < L; l++) {
                    size_t j = l * (size_t)kb + (size_t)k;
                    cw.z[j] = cw.r[j] / fe->count_L[l];
                    cw.p[j] = cw.z[j];
                    rz_K[k] += cw.r[j] * cw.z[j];
                }
            }
            if (n_done == kb)
                break;
        }
        if (iter >= max_iter) {
            cg_work_free(&cw);
            return gravrd_error_set(err, GRAVRD_ERR_CONVERGENCE,
                                    "demeaning did not converge in %d iterations (tolerance %g); "
                                    "raise --maxiter or check the fixed-effect structure",
                                    max_iter, tol);
        }
        iter++;
        apply_normal(fe, cw.p, cw.w, kb);
        for (int k = 0; k < kb; k++) {
            if (done_K[k])
                continue;
            double pw = 0;
            for (size_t l = 0; l < L; l++)
                pw += cw.p[l * (size_t)kb + (size_t)k] * cw.w[l * (size_t)kb + (size_t)k];
            if (!(pw > 0) || !isfinite(pw)) {
                /* p = 0: nothing left to reduce; the residual test above must
                 * accept the column next time round, or we report failure. */
                if (worst_group_mean(fe, cw.r, kb, k) <= tol * scale_K[k] || !(rz_K[k] > 0))
                    continue;
                cg_work_free(&cw);
                return gravrd_error_set(err, GRAVRD_ERR_NUMERIC,
                                        "demeaning broke down (non-positive curvature) after %d iterations",
                                        iter);
            }
            double a = rz_K[k] / pw, rz_new = 0;
            for (size_t l = 0; l < L; l++) {
                size_t j = l * (size_t)kb + (size_t)k;
                cw.alpha[j] += a * cw.p[j];
                cw.r[j] -= a * cw.w[j];
                cw.z[j] = cw.r[j] / fe->count_L[l];
                rz_new += cw.r[j] * cw.z[j];
            }
            double beta = rz_new / rz_K[k];
            rz_K[k] = rz_new;
            for (size_t l = 0; l < L; l++) {
                size_t j = l * (size_t)kb + (size_t)k;
                cw.p[j] = cw.z[j] + beta * cw.p[j];
            }
        }
    }
    *iterations = iter;

    /* y <- y - D alpha */
    for (int k = 0; k < kb; k++) {
        double *y = cols + (size_t)k * N;
        if (scale_K[k] == 0) {
            memset(y, 0, N * sizeof *y);
            continue;
        }
        for (size_t i = 0; i < N; i++) {
            double fit = 0;
            for (int q = 0; q < fe->n_fe; q++)
                fit += cw.alpha[(fe->offset_Q[q] + (size_t)fe->code_QN[q][i]) * (size_t)kb + (size_t)k];
            y[i] -= fit;
        }
    }
    cg_work_free(&cw);
    return GRAVRD_OK;
}

gravrd_status gravrd_demean(const gravrd_fe *fe, double *cols_NK, int n_vars, const gravrd_demean_options *opt,
                            gravrd_demean_report *report, gravrd_error *err)
{
    double tol = opt && opt->tol > 0 ? opt->tol : GRAVRD_DEMEAN_TOL;
    int max_iter = opt && opt->max_iter > 0 ? opt->max_iter : GRAVRD_DEMEAN_MAXITER;
    int threads = opt && opt->threads > 1 ? opt->threads : 1;
    if (report)
        report->iterations = 0;
    if (n_vars <= 0 || fe->n_obs == 0)
        return GRAVRD_OK;

    /* Blocks: as wide as possible, but at least one per thread. */
    int width = (n_vars + threads - 1) / threads;
    if (width > BLOCK)
        width = BLOCK;
    if (width < 1)
        width = 1;
    int n_blocks = (n_vars + width - 1) / width;
    int *iters_B = calloc((size_t)n_blocks, sizeof *iters_B);
    gravrd_status *status_B = calloc((size_t)n_blocks, sizeof *status_B);
    gravrd_error *err_B = calloc((size_t)n_blocks, sizeof *err_B);
    if (!iters_B || !status_B || !err_B) {
        free(iters_B);
        free(status_B);
        free(err_B);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while demeaning");
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1 && n_blocks > 1)
    for (int blk = 0; blk < n_blocks; blk++) {
        int first = blk * width;
        int kb = n_vars - first < width ? n_vars - first : width;
        status_B[blk] = demean_block(fe, cols_NK + (size_t)first * fe->n_obs, kb, tol, max_iter, &iters_B[blk],
                                     &err_B[blk]);
    }
    gravrd_status status = GRAVRD_OK;
    for (int blk = 0; blk < n_blocks; blk++) {
        if (status_B[blk] != GRAVRD_OK && status == GRAVRD_OK) {
            status = status_B[blk];
            if (err)
                *err = err_B[blk];
        }
        if (report && iters_B[blk] > report->iterations)
            report->iterations = iters_B[blk];
    }
    free(iters_B);
    free(status_B);
    free(err_B);
    return status;
}
