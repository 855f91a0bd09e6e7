/* normal.c - the product out = D'D x of the normal equations, the one step
 * both demeaning solvers iterate with: CG on all FE (demean.c) and the
 * Schur solver's verification on the full residual (schur.c). Below both,
 * so that neither calls the other for it. */
#include "demean_internal.h"

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

/* Dispatches to the kernel specialised for the FE count and the block width;
 * an out-of-line call per pass over the data, as before the split. */
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
