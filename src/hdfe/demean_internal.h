/* demean_internal.h - pieces of the demeaning solver shared by its files:
 * demean.c (driver, conjugate gradients on all FE), normal.c (the product
 * D'D x both solvers use), schur.c (exact elimination of the largest FE,
 * conjugate gradients on the Schur complement), schur_plan.c (analysis,
 * forming S, cost model) and schur_ic.c (its preconditioner), plus an
 * entry point that lets the tests force a method and see which one ran.
 * Calls go one way: demean.c -> schur.c, schur_plan.c -> schur_ic.c, and
 * normal.c below all of them; small hot helpers are static inline here.
 *
 * Layout conventions: a block of kb variables keeps its coefficient vectors
 * interleaved, element (level l, column k) at [l * kb + k]; global levels
 * are the concatenated levels of all FE (see fe_internal.h). */
#ifndef GRAVRD_DEMEAN_INTERNAL_H
#define GRAVRD_DEMEAN_INTERNAL_H

#include "fe_internal.h"

#include <math.h>

#define DM_BLOCK 4

typedef enum {
    DM_METHOD_AUTO = 0, /* CG on all FE; switch to the Schur solver when it stalls */
    DM_METHOD_CG,       /* CG on all FE only (the pre-Schur behaviour) */
    DM_METHOD_SCHUR     /* Schur solver from the first iteration (n_fe >= 2) */
} dm_method;

/* What happened, for tests and diagnostics. */
typedef struct {
    int cg_iterations;    /* CG on all FE (one pass over the data each), most in a block */
    int schur_iterations; /* CG on the Schur complement plus its rounds, most in a block */
    int used_schur;       /* 1 when some variable was finished by the Schur solver */
    int eliminated_fe;    /* FE eliminated by the Schur solver (-1: none) */
    int switch_iter;      /* first CG iteration at which a column switched to Schur (-1: none) */
    int pass_elim_fe;     /* FE eliminated inside each pass of CG (demean.c; -1: none) */
    int iterations;       /* largest number of iterations (both kinds) of a variable; this one
                           * does not depend on how variables share blocks */
} dm_report;

/* An entry of B = D_e'D_R. Each group g of e starts with a header entry
 * (col = number of entries that follow, cnt = observations n_g), so that
 * forming S touches one contiguous stretch of memory per group. */
typedef struct {
    int32_t col;  /* Schur index of an R level */
    uint32_t cnt; /* observations of group g at that level */
} dm_bent;

/* An entry of B' for Schur unknown j: where its group g starts in b_ent
 * (the header) and B_gj. */
typedef struct {
    uint32_t off;
    uint32_t cnt;
} dm_btent;
/* (Within a group, B's entries are stored by decreasing rank, see
 * schur_plan.rank, so that forming one triangle of S can stop early.) */

/* The Schur complement of the largest FE e in D'D:
 *   S = D_R' (I - P_e) D_R,  P_e = D_e (D_e'D_e)^-1 D_e',
 * R = the other FE. Unknowns of S ("Schur index" j) are the global levels
 * without those of e, in the same order. B = D_e' D_R holds, for each level
 * g of e, the distinct Schur unknowns its rows touch and how often. */
typedef struct {
    int e;
    size_t L_e, off_e, m;
    /* Sizes that drive the cost model (set by the analysis). */
    double sum_d2;    /* sum over groups g of e of (distinct R levels in g)^2 */
    double nnz_b;     /* entries of B */
    double nnz_s_est; /* entries of S, estimated from a sample of its rows */
    double n_cross;   /* observation-level work of the cross-tabulations within R */
    size_t *b_ptr;    /* header of group g at b_ent[b_ptr[g]] */
    dm_bent *b_ent;
    size_t *bt_ptr;   /* B' by Schur unknown, groups ascending: */
    dm_btent *bt_ent;
    /* S (CSR, full symmetric storage, columns ascending) and its inverse diagonal */
    size_t *s_ptr;
    int32_t *s_col;
    double *s_val;
    double *s_dinv;
    /* The preconditioner: incomplete Cholesky factor of S in the order
     * l_perm (new -> old), on the pattern of its lower triangle: strictly
     * lower rows and 1 / diagonal. */
    int32_t *l_perm;
    size_t *l_ptr;
    int32_t *l_col;
    double *l_val;
    double *l_dinv;
    double *inv_count_S; /* 1 / observations of each Schur unknown's level */
    int32_t *rank;       /* position of each unknown when the FE of R go by decreasing size */
} schur_plan;

/* Shared, read-mostly state of one gravrd_demean call. The Schur plan is
 * built lazily, once, by whichever block first needs it (under a critical
 * section); it depends only on the FE structure, never on the variables or
 * on which block built it. */
typedef struct {
    const gravrd_fe *fe;
    double tol;
    int max_iter;
    dm_method method;
    int elim;          /* FE eliminated inside each pass of CG (demean.c), or -1 */
    double *inv_count_L;
    int plan_state;  /* 0 not analysed, 1 B built, 2 S built, -1 Schur not available */
    gravrd_status plan_status; /* error of the (shared) planning step, reported by every block */
    schur_plan plan;
} dm_ctx;

/* out_L = D'D x_L for a block of kb interleaved columns (one pass over the codes). */
void dm_apply_normal(const gravrd_fe *fe, const double *x_L, double *out_L, int kb);

/* Largest |r_l| * inv_count_l over n levels, for column k of kb: the worst
 * group mean of the residual. NaN propagates. Inline: it runs at every
 * convergence check of both solvers, and demean.c had it inlined. */
static inline double dm_worst(const double *r, const double *inv_count, size_t n, int kb, int k)
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

/* Global level of Schur index j (the levels of e are skipped). Inline: the
 * Schur solver maps every unknown at each round. */
static inline size_t schur_global(const schur_plan *p, size_t j)
{
    return j < p->off_e ? j : j + p->L_e;
}

/* AUTO's decision for one column at a checkpoint of CG on all FE:
 * `remaining` is the number of further CG iterations predicted from the
 * column's own convergence rate. Analyses the FE structure on first use
 * (shared by all blocks, thread-safe) and forms S when switching pays;
 * *want is 1 when the column should continue with the Schur solver (S is
 * then ready). The decision depends only on `remaining` and the structure. */
gravrd_status dm_plan_want(dm_ctx *ctx, double remaining, int *want, gravrd_error *err);
/* Forces the plan (tests, DM_METHOD_SCHUR): *want = 1 when S is ready. */
gravrd_status dm_plan_force(dm_ctx *ctx, int *want, gravrd_error *err);
void dm_plan_free(schur_plan *p);
/* The incomplete Cholesky preconditioner of the formed S (schur_ic.c):
 * fills l_perm, l_ptr, l_col, l_val and l_dinv of p; GRAVRD_ERR_NOMEM when
 * out of memory (the caller frees the plan). */
gravrd_status dm_schur_ic0(schur_plan *p, gravrd_error *err);

/* Finishes the columns of a block with the Schur solver, from the current
 * coefficients alpha (global layout, L x kb). b = D'y. Columns with
 * skip_K[k] set are left alone; the others end converged, or with
 * failed_K[k] set when the solver broke down numerically (the caller then
 * continues with CG on all FE). used_K[k] counts each column's iterations
 * (in/out; capped at ctx->max_iter); *iter gets the Schur iterations and
 * rounds of the block. */
gravrd_status dm_schur_solve(const dm_ctx *ctx, const double *b, double *alpha, const double *scale_K,
                             const int *skip_K, int *failed_K, int kb, int *used_K, int *iter,
                             gravrd_error *err);

/* gravrd_demean with a method and a detailed report (tests). */
gravrd_status gravrd_demean_method(const gravrd_fe *fe, double *cols_NK, int n_vars,
                                   const gravrd_demean_options *opt, dm_method method, dm_report *report,
                                   gravrd_error *err);

#endif
