/* schur.c - the Schur-complement demeaning solver: the FE with the most
 * levels (e) is eliminated exactly and conjugate gradients run on the
 * explicitly formed Schur complement of the other FE (R).
 *
 * With D = [D_e D_R], the normal equations D'D a = D'y split into
 *   C_e a_e + B a_R = b_e,   B' a_e + A_RR a_R = b_R,
 * where C_e = D_e'D_e is diagonal (the level counts of e) and B = D_e'D_R.
 * Eliminating a_e leaves S a_R = b_R - B'C_e^-1 b_e with
 *   S = A_RR - B'C_e^-1 B = D_R'(I - P_e)D_R,
 * the Gram matrix of the R dummies after demeaning them within e. S has one
 * row per level of the other FE, is sparse (level j meets level k when some
 * group of e contains both), and is formed once per FE structure. A CG
 * iteration then costs one product with S instead of a pass over all
 * observations. On the poorly connected graphs where CG on all FE needs
 * hundreds or thousands of iterations (long chains of firms linked by
 * workers), S is close to banded once reordered, and an incomplete Cholesky
 * factor of it is an excellent preconditioner: a handful of iterations.
 *
 * Residual bookkeeping. Given the current coefficients a and the freshly
 * computed full residual r = b - D'D a, the correction d solves D'D d = r:
 * S d_R = r_R - B'C_e^-1 r_e, then d_e = C_e^-1 (r_e - B d_R). After the
 * update, the new residual is exactly 0 on the levels of e and equals the
 * Schur residual r_R - B'C_e^-1 r_e - S d_R on the levels of R. So the
 * convergence criterion (every group mean of the residual within tol * sd)
 * can be tested on the Schur residual inside CG, a candidate is verified on
 * a freshly computed Schur residual, and the result on a fresh full
 * residual from the data, as in the CG solver. If that fails, another
 * correction round follows (iterative refinement), which also absorbs the
 * rounding in the formed S.
 *
 * Numerics. S is singular (a constant on the levels of one FE of R is in
 * the span of D_e; other dependencies between FE add null directions), and
 * its formed version has them only up to rounding. Entries are summed with
 * Kahan compensation; a round stops once the residual has fallen by
 * DM_ROUND_REDUCTION, well above the rounding floor of CG on S; pivots of
 * the incomplete factorisation that vanish are treated as null directions.
 * If CG on S still breaks down without progress, the variable goes back to
 * CG on all FE, whose null space is exact. */
#include "demean_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* y = S x for kb interleaved columns; per column, every entry is a sum in
 * the fixed column order of its row. */
static inline __attribute__((always_inline)) void smv_kernel(const schur_plan *p, const double *restrict x,
                                                             double *restrict y, const int kb)
{
    for (size_t j = 0; j < p->m; j++) {
        double s[DM_BLOCK] = {0};
        for (size_t t = p->s_ptr[j]; t < p->s_ptr[j + 1]; t++) {
            const double v = p->s_val[t];
            const double *xc = x + (size_t)p->s_col[t] * (size_t)kb;
            for (int k = 0; k < kb; k++)
                s[k] += v * xc[k];
        }
        for (int k = 0; k < kb; k++)
            y[j * (size_t)kb + (size_t)k] = s[k];
    }
}

static void schur_matvec(const schur_plan *p, const double *x, double *y, int kb)
{
    switch (kb) {
    case 1: smv_kernel(p, x, y, 1); break;
    case 2: smv_kernel(p, x, y, 2); break;
    case 3: smv_kernel(p, x, y, 3); break;
    default: smv_kernel(p, x, y, DM_BLOCK); break;
    }
}

typedef struct {
    double *r, *rs, *d, *d_best, *rho, *z, *pv, *w, *t;
} schur_work;

static void schur_work_free(schur_work *sw)
{
    free(sw->r);
    free(sw->rs);
    free(sw->d);
    free(sw->d_best);
    free(sw->rho);
    free(sw->z);
    free(sw->pv);
    free(sw->w);
    free(sw->t);
}

/* z = P' (L L')^-1 P rho for column k: forward substitution by rows of
 * L, then backward substitution scattering along the same rows, in the
 * factor's order (t is scratch of m). */
static void ic_apply(const schur_plan *p, const double *rho, double *z, double *t, int kb, int k)
{
    const size_t K = (size_t)kb, m = p->m;
    for (size_t i = 0; i < m; i++) {
        double s = rho[(size_t)p->l_perm[i] * K + (size_t)k];
        for (size_t u = p->l_ptr[i]; u < p->l_ptr[i + 1]; u++)
            s -= p->l_val[u] * t[p->l_col[u]];
        t[i] = s * p->l_dinv[i];
    }
    for (size_t i = m; i-- > 0;) {
        const double ti = t[i] * p->l_dinv[i];
        t[i] = ti;
        for (size_t u = p->l_ptr[i]; u < p->l_ptr[i + 1]; u++)
            t[p->l_col[u]] -= p->l_val[u] * ti;
    }
    for (size_t i = 0; i < m; i++)
        z[(size_t)p->l_perm[i] * K + (size_t)k] = t[i];
}

/* (Re)starts CG on S for column k from the residual rho. */
static double schur_restart(const schur_plan *p, schur_work *sw, int kb, int k)
{
    double rz = 0;
    ic_apply(p, sw->rho, sw->z, sw->t, kb, k);
    for (size_t j = 0; j < p->m; j++) {
        size_t u = j * (size_t)kb + (size_t)k;
        sw->pv[u] = sw->z[u];
        rz += sw->rho[u] * sw->z[u];
    }
    return rz;
}

/* Correction rounds a column may take before the Schur solver gives it
 * back to CG on all FE; one or two suffice unless S is numerically too
 * inaccurate for the tolerance asked. */
#define DM_MAX_ROUNDS 8

/* Factor by which one round reduces the Schur residual before the next
 * round restarts from a fresh residual. The rounding floor of CG on the
 * formed S lies near 1e-13 relative on the benchmark graphs; stopping well
 * above it keeps every round clear of it. */
#define DM_ROUND_REDUCTION 1e-9

/* CG on S stalled for column k: end its round with the best iterate. A
 * round that did not improve on its start hands the column back to CG on
 * all FE (whose null space is exact). */
static void stall(schur_work *sw, size_t m, int kb, int k, int progressed, int *solved_K, int *failed_K,
                  int *active_K, int *done_K)
{
    for (size_t j = 0; j < m; j++)
        sw->d[j * (size_t)kb + (size_t)k] = sw->d_best[j * (size_t)kb + (size_t)k];
    solved_K[k] = 1;
    if (!progressed) {
        failed_K[k] = done_K[k] = 1;
        active_K[k] = 0;
    }
}

gravrd_status dm_schur_solve(const dm_ctx *ctx, const double *b, double *alpha, const double *scale_K,
                             const int *skip_K, int *failed_K, int kb, int *used_K, int *iter,
                             gravrd_error *err)
{
    const gravrd_fe *fe = ctx->fe;
    const schur_plan *p = &ctx->plan;
    const size_t L = fe->n_levels_total, Le = p->L_e, m = p->m, off_e = p->off_e;
    const size_t K = (size_t)kb;
    const double tol = ctx->tol;
    const double *inv_n_e = ctx->inv_count_L + off_e;
    const int max_iter = ctx->max_iter;
    gravrd_status st = GRAVRD_OK;
    int it = 0, done_K[DM_BLOCK], rounds_K[DM_BLOCK] = {0};
    schur_work sw = {0};
    for (int k = 0; k < kb; k++) {
        done_K[k] = skip_K[k];
        failed_K[k] = 0;
    }
    sw.r = malloc(L * K * sizeof(double));
    sw.rs = malloc(m * K * sizeof(double));
    sw.d = malloc(m * K * sizeof(double));
    sw.d_best = malloc(m * K * sizeof(double));
    sw.rho = malloc(m * K * sizeof(double));
    sw.z = malloc(m * K * sizeof(double));
    sw.pv = malloc(m * K * sizeof(double));
    sw.w = malloc(m * K * sizeof(double));
    sw.t = malloc(m * sizeof(double));
    if (!sw.r || !sw.rs || !sw.d || !sw.d_best || !sw.rho || !sw.z || !sw.pv || !sw.w || !sw.t) {
        schur_work_free(&sw);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while demeaning");
    }
    for (;;) {
        /* Fresh full residual from the data: the acceptance test. */
        int active_K[DM_BLOCK] = {0}, n_active = 0;
        dm_apply_normal(fe, alpha, sw.r, kb);
        for (int k = 0; k < kb; k++) {
            if (done_K[k])
                continue;
            for (size_t l = 0; l < L; l++)
                sw.r[l * K + (size_t)k] = b[l * K + (size_t)k] - sw.r[l * K + (size_t)k];
            if (dm_worst(sw.r, ctx->inv_count_L, L, kb, k) <= tol * scale_K[k]) {
                done_K[k] = 1;
            } else if (rounds_K[k] >= DM_MAX_ROUNDS) {
                done_K[k] = failed_K[k] = 1;
            } else {
                active_K[k] = 1;
                rounds_K[k]++;
                n_active++;
            }
        }
        if (n_active == 0)
            break;
        /* A correction round costs about one pass over the data: it counts
         * as an iteration of each column in it. */
        for (int k = 0; k < kb; k++)
            if (active_K[k] && used_K[k]++ >= max_iter)
                goto no_convergence;
        it++;

        /* Schur right-hand side rs = r_R - B' C_e^-1 r_e, and CG from d = 0. */
        double rz_K[DM_BLOCK] = {0};
        int solved_K[DM_BLOCK];
        for (int k = 0; k < kb; k++) {
            solved_K[k] = !active_K[k];
            if (!active_K[k])
                continue;
            for (size_t j = 0; j < m; j++)
                sw.rs[j * K + (size_t)k] = sw.r[schur_global(p, j) * K + (size_t)k];
            for (size_t g = 0; g < Le; g++) {
                const double t = sw.r[(off_e + g) * K + (size_t)k] * inv_n_e[g];
                for (size_t u = p->b_ptr[g] + 1; u < p->b_ptr[g + 1]; u++)
                    sw.rs[(size_t)p->b_ent[u].col * K + (size_t)k] -= (double)p->b_ent[u].cnt * t;
            }
            for (size_t j = 0; j < m; j++) {
                size_t v = j * K + (size_t)k;
                sw.rho[v] = sw.rs[v];
                sw.d[v] = 0;
            }
            rz_K[k] = schur_restart(p, &sw, kb, k);
        }
        /* CG on S d = rs. A round ends when the Schur residual passes the
         * test (verified on a freshly computed rs - S d), or has fallen by
         * DM_ROUND_REDUCTION (the next round restarts from a fresh residual
         * from the data: iterative refinement, which is what corrects the
         * rounding in the formed S), or when CG stalls at the rounding floor
         * of S: the curvature turns non-positive or the residual blows up.
         * Then the best iterate of the round is kept. */
        double crit_K[DM_BLOCK] = {0}, start_K[DM_BLOCK] = {0}, best_K[DM_BLOCK] = {0};
        for (int k = 0; k < kb; k++)
            if (active_K[k]) {
                start_K[k] = best_K[k] = dm_worst(sw.rs, p->inv_count_S, m, kb, k) / (tol * scale_K[k]);
                for (size_t j = 0; j < m; j++)
                    sw.d_best[j * K + (size_t)k] = 0;
            }
        int n_solved = kb - n_active;
        while (n_solved < kb) {
            int candidate_K[DM_BLOCK] = {0}, any_candidate = 0;
            for (int k = 0; k < kb; k++) {
                if (solved_K[k])
                    continue;
                crit_K[k] = dm_worst(sw.rho, p->inv_count_S, m, kb, k) / (tol * scale_K[k]);
                if (crit_K[k] <= 1) {
                    candidate_K[k] = any_candidate = 1;
                } else if (crit_K[k] <= DM_ROUND_REDUCTION * start_K[k]) {
                    solved_K[k] = 1; /* enough for this round */
                    n_solved++;
                } else if (crit_K[k] < best_K[k]) {
                    best_K[k] = crit_K[k];
                    for (size_t j = 0; j < m; j++)
                        sw.d_best[j * K + (size_t)k] = sw.d[j * K + (size_t)k];
                } else if (!(crit_K[k] < 1e4 * best_K[k])) {
                    stall(&sw, m, kb, k, best_K[k] < start_K[k], solved_K, failed_K, active_K, done_K);
                    n_solved++;
                }
            }
            if (any_candidate) {
                schur_matvec(p, sw.d, sw.w, kb); /* fresh Schur residual rs - S d */
                for (int k = 0; k < kb; k++) {
                    if (!candidate_K[k])
                        continue;
                    for (size_t j = 0; j < m; j++) {
                        size_t v = j * K + (size_t)k;
                        sw.rho[v] = sw.rs[v] - sw.w[v];
                    }
                    if (dm_worst(sw.rho, p->inv_count_S, m, kb, k) <= tol * scale_K[k]) {
                        solved_K[k] = 1;
                        n_solved++;
                        continue;
                    }
                    rz_K[k] = schur_restart(p, &sw, kb, k);
                }
            }
            if (n_solved == kb)
                break;
            for (int k = 0; k < kb; k++)
                if (!solved_K[k] && used_K[k]++ >= max_iter)
                    goto no_convergence;
            it++;
            schur_matvec(p, sw.pv, sw.w, kb);
            for (int k = 0; k < kb; k++) {
                if (solved_K[k])
                    continue;
                double pw = 0;
                for (size_t j = 0; j < m; j++)
                    pw += sw.pv[j * K + (size_t)k] * sw.w[j * K + (size_t)k];
                if (!(pw > 0) || !isfinite(pw)) {
                    /* S is only semi-definite, and formed in floating point:
                     * near its null directions the curvature can come out
                     * non-positive. */
                    stall(&sw, m, kb, k, best_K[k] < start_K[k], solved_K, failed_K, active_K, done_K);
                    n_solved++;
                    continue;
                }
                double a = rz_K[k] / pw, rz_new = 0;
                for (size_t j = 0; j < m; j++) {
                    size_t v = j * K + (size_t)k;
                    sw.d[v] += a * sw.pv[v];
                    sw.rho[v] -= a * sw.w[v];
                }
                ic_apply(p, sw.rho, sw.z, sw.t, kb, k);
                for (size_t j = 0; j < m; j++) {
                    size_t v = j * K + (size_t)k;
                    rz_new += sw.rho[v] * sw.z[v];
                }
                double beta = rz_new / rz_K[k];
                rz_K[k] = rz_new;
                for (size_t j = 0; j < m; j++) {
                    size_t v = j * K + (size_t)k;
                    sw.pv[v] = sw.z[v] + beta * sw.pv[v];
                }
            }
        }

        /* Apply the correction: a_R += d, a_e += C_e^-1 (r_e - B d). */
        for (int k = 0; k < kb; k++) {
            if (!active_K[k])
                continue;
            for (size_t j = 0; j < m; j++)
                alpha[schur_global(p, j) * K + (size_t)k] += sw.d[j * K + (size_t)k];
            for (size_t g = 0; g < Le; g++) {
                double s = sw.r[(off_e + g) * K + (size_t)k];
                for (size_t t = p->b_ptr[g] + 1; t < p->b_ptr[g + 1]; t++)
                    s -= (double)p->b_ent[t].cnt * sw.d[(size_t)p->b_ent[t].col * K + (size_t)k];
                alpha[(off_e + g) * K + (size_t)k] += s * inv_n_e[g];
            }
        }
    }
    goto out;
no_convergence:
    st = gravrd_error_set(err, GRAVRD_ERR_CONVERGENCE,
                          "demeaning did not converge in %d iterations (tolerance %g); "
                          "raise --maxiter or check the fixed-effect structure",
                          ctx->max_iter, tol);
out:
    *iter = it;
    schur_work_free(&sw);
    return st;
}
