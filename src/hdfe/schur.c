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

void dm_plan_free(schur_plan *p)
{
    free(p->b_ptr);
    free(p->b_ent);
    free(p->bt_ptr);
    free(p->bt_ent);
    free(p->s_ptr);
    free(p->s_col);
    free(p->s_val);
    free(p->s_dinv);
    free(p->l_perm);
    free(p->l_ptr);
    free(p->l_col);
    free(p->l_val);
    free(p->l_dinv);
    free(p->inv_count_S);
    free(p->rank);
    int e = p->e;
    memset(p, 0, sizeof *p);
    p->e = e;
}

/* First Schur index of the levels of FE q (q != e). */
static size_t schur_base(const gravrd_fe *fe, const schur_plan *p, int q)
{
    return fe->offset_Q[q] - (q > p->e ? p->L_e : 0);
}

/* Global level of Schur index j. */
static inline size_t schur_global(const schur_plan *p, size_t j)
{
    return j < p->off_e ? j : j + p->L_e;
}

/* Counting sort of the rows by their level of FE q: start[g] .. start[g+1]-1
 * are the positions of level g, rows in increasing order. With perm, the
 * row numbers go there; with other (nx per row), the Schur indices of the
 * row's levels of the FE of R other than q (cross-tabulations read them
 * sequentially afterwards instead of chasing rows around memory). */
static void sort_rows(const dm_ctx *ctx, int q, size_t *start, uint32_t *perm, int32_t *other)
{
    const gravrd_fe *fe = ctx->fe;
    const schur_plan *p = &ctx->plan;
    const int32_t *code = fe->code_QN[q];
    const size_t N = fe->n_obs, n_levels = (size_t)fe->n_levels_Q[q];
    memset(start, 0, (n_levels + 1) * sizeof *start);
    for (size_t i = 0; i < N; i++)
        start[(size_t)code[i] + 1]++;
    for (size_t g = 0; g < n_levels; g++)
        start[g + 1] += start[g];
    if (perm) {
        for (size_t i = 0; i < N; i++)
            perm[start[(size_t)code[i]]++] = (uint32_t)i;
    } else {
        const size_t nx = (size_t)fe->n_fe - 2;
        for (size_t i = 0; i < N; i++) {
            int32_t *o = other + start[(size_t)code[i]]++ * nx;
            for (int q2 = 0; q2 < fe->n_fe; q2++)
                if (q2 != p->e && q2 != q)
                    *o++ = (int32_t)(schur_base(fe, p, q2) + (size_t)fe->code_QN[q2][i]);
        }
    }
    /* start[g] now holds the end of group g: shift back. */
    for (size_t g = n_levels; g > 0; g--)
        start[g] = start[g - 1];
    start[0] = 0;
}

/* Scratch for forming rows of S. */
typedef struct {
    double *acc, *cmp; /* row accumulator and its Kahan compensation */
    int32_t *mark, *list;
    size_t *start;  /* rows by level of the current FE of R (cross-tabulations) */
    int32_t *other; /* their other R levels, n_fe - 2 per row */
} row_work;

static void row_work_free(row_work *rw)
{
    free(rw->acc);
    free(rw->cmp);
    free(rw->mark);
    free(rw->list);
    free(rw->start);
    free(rw->other);
}

static int row_work_alloc(const dm_ctx *ctx, row_work *rw)
{
    const gravrd_fe *fe = ctx->fe;
    const schur_plan *p = &ctx->plan;
    const size_t m = p->m, nx = (size_t)fe->n_fe - 2;
    memset(rw, 0, sizeof *rw);
    rw->acc = malloc(m * sizeof *rw->acc);
    rw->cmp = malloc(m * sizeof *rw->cmp);
    rw->mark = malloc(m * sizeof *rw->mark);
    rw->list = malloc(m * sizeof *rw->list);
    if (!rw->acc || !rw->cmp || !rw->mark || !rw->list)
        return -1;
    for (size_t j = 0; j < m; j++)
        rw->mark[j] = -1;
    if (nx > 0) {
        int32_t max_levels = 0;
        for (int q = 0; q < fe->n_fe; q++)
            if (q != p->e && fe->n_levels_Q[q] > max_levels)
                max_levels = fe->n_levels_Q[q];
        rw->start = malloc(((size_t)max_levels + 1) * sizeof *rw->start);
        rw->other = malloc(fe->n_obs * nx * sizeof *rw->other);
        if (!rw->start || !rw->other)
            return -1;
    }
    return 0;
}

#define TOUCH(k)                                                                                                \
    do {                                                                                                        \
        if (mark[k] != (int32_t)j) {                                                                            \
            mark[k] = (int32_t)j;                                                                               \
            acc[k] = 0;                                                                                         \
            cmp[k] = 0;                                                                                         \
            list[nt++] = (int32_t)k;                                                                            \
        }                                                                                                       \
    } while (0)

/* Kahan-compensated acc[k] += x. An entry of S can be a sum over 10^5 or
 * more groups (a year meets every individual); plain summation then leaves
 * errors of 1e-12 relative to the diagonal, enough to blur the null
 * directions of S (see dm_schur_solve) at the tolerances we aim for. */
#define KAHAN_ADD(k, x)                                                                                         \
    do {                                                                                                        \
        const double y_ = (x) - cmp[k], t_ = acc[k] + y_;                                                       \
        cmp[k] = (t_ - acc[k]) - y_;                                                                            \
        acc[k] = t_;                                                                                            \
    } while (0)

/* Accumulates row j (level l of FE q, whose rows are sorted into rw) of S,
 * towards unknowns of higher rank only (the other triangle is its mirror):
 * first the cross-tabulation of level l with the other FE of R (integer
 * counts, exact), then, for each group g of e containing it, -B_gj B_gk / n_g
 * for every other unknown k of g (Gustavson's sparse product; entries come
 * by decreasing rank, so the loop stops at j). The diagonal is accumulated
 * as sum_g B_gj (n_g - B_gj) / n_g, a sum of non-negative terms, rather
 * than n_j - sum_g B_gj^2 / n_g, which would cancel when level j fills most
 * of its groups. Loop orders are fixed, so the row depends only on the FE
 * structure. Returns the number of touched columns (listed, unsorted, in
 * rw->list). */
static size_t form_row(const dm_ctx *ctx, const row_work *rw, size_t j, size_t l)
{
    const schur_plan *p = &ctx->plan;
    const size_t nx = (size_t)ctx->fe->n_fe - 2;
    const int32_t *rank = p->rank, rj = rank[j];
    double *acc = rw->acc, *cmp = rw->cmp;
    int32_t *mark = rw->mark, *list = rw->list;
    size_t nt = 0;
    mark[j] = (int32_t)j;
    acc[j] = 0;
    cmp[j] = 0;
    list[nt++] = (int32_t)j;
    if (nx > 0)
        for (size_t t = rw->start[l] * nx; t < rw->start[l + 1] * nx; t++) {
            const size_t k = (size_t)rw->other[t];
            if (rank[k] < rj)
                continue;
            TOUCH(k);
            acc[k] += 1.0;
        }
    const size_t u1 = p->bt_ptr[j + 1];
    for (size_t u = p->bt_ptr[j]; u < u1; u++) {
#if defined(__GNUC__)
        /* The groups of a level are scattered over B: fetch ahead, the
         * loop is otherwise bound by memory latency. */
        if (u + 8 < u1)
            __builtin_prefetch(p->b_ent + p->bt_ent[u + 8].off);
#endif
        const dm_bent *h = p->b_ent + p->bt_ent[u].off;
        const double c = (double)p->bt_ent[u].cnt, n_g = (double)h->cnt, w = c / n_g;
        KAHAN_ADD(j, c * (n_g - c) / n_g);
        const dm_bent *ent = h + 1;
        for (int32_t t = 0; t < h->col; t++) {
            const size_t k = (size_t)ent[t].col;
            if (rank[k] <= rj)
                break; /* j itself, then lower ranks */
            TOUCH(k);
            KAHAN_ADD(k, -w * (double)ent[t].cnt);
        }
    }
    return nt;
}

/* Builds B (by group of e and transposed) and estimates the size of S. */
static gravrd_status analyse(dm_ctx *ctx, gravrd_error *err)
{
    const gravrd_fe *fe = ctx->fe;
    schur_plan *p = &ctx->plan;
    const size_t N = fe->n_obs;
    int e = 0;
    for (int q = 1; q < fe->n_fe; q++)
        if (fe->n_levels_Q[q] > fe->n_levels_Q[e])
            e = q;
    p->e = e;
    p->L_e = (size_t)fe->n_levels_Q[e];
    p->off_e = fe->offset_Q[e];
    p->m = fe->n_levels_total - p->L_e;
    /* Row numbers and offsets into B are stored as uint32, Schur indices
     * as int32. */
    if (fe->n_fe < 2 || p->m >= INT32_MAX || p->m == 0 ||
        (double)N * (double)(fe->n_fe - 1) + (double)p->L_e >= (double)UINT32_MAX) {
        ctx->plan_state = -1;
        return GRAVRD_OK;
    }
    const size_t Le = p->L_e, m = p->m, nR = (size_t)fe->n_fe - 1;
    size_t *start = malloc((Le + 1) * sizeof *start), *cursor = NULL, *sbase = NULL;
    uint32_t *perm = malloc(N * sizeof *perm);
    int32_t *mark = malloc(m * sizeof *mark);
    size_t *pos = malloc(m * sizeof *pos);
    const int32_t **codes = NULL;
    int32_t *bt_grp = NULL, *unrank = NULL;
    p->b_ptr = malloc((Le + 1) * sizeof *p->b_ptr);
    p->b_ent = malloc((N * nR + Le) * sizeof *p->b_ent);
    p->inv_count_S = malloc(m * sizeof *p->inv_count_S);
    sbase = malloc(nR * sizeof *sbase);
    codes = malloc(nR * sizeof *codes);
    if (!start || !perm || !mark || !pos || !p->b_ptr || !p->b_ent || !p->inv_count_S || !sbase || !codes)
        goto nomem;
    sort_rows(ctx, e, start, perm, NULL);
    int n_r = 0;
    for (int q = 0; q < fe->n_fe; q++)
        if (q != e) {
            sbase[n_r] = schur_base(fe, p, q);
            codes[n_r++] = fe->code_QN[q];
        }
    for (size_t j = 0; j < m; j++)
        mark[j] = -1;
    size_t nnz = 0;
    double sum_d2 = 0;
    for (size_t g = 0; g < Le; g++) {
        const size_t h = nnz++;
        p->b_ptr[g] = h;
        for (size_t t = start[g]; t < start[g + 1]; t++) {
            size_t i = perm[t];
            for (int r = 0; r < n_r; r++) {
                size_t j = sbase[r] + (size_t)codes[r][i];
                if (mark[j] != (int32_t)g) {
                    mark[j] = (int32_t)g;
                    pos[j] = nnz;
                    p->b_ent[nnz].col = (int32_t)j;
                    p->b_ent[nnz].cnt = 1;
                    nnz++;
                } else {
                    p->b_ent[pos[j]].cnt++;
                }
            }
        }
        p->b_ent[h].col = (int32_t)(nnz - h - 1);
        p->b_ent[h].cnt = (uint32_t)(start[g + 1] - start[g]);
        double d = (double)(nnz - h - 1);
        sum_d2 += d * d;
    }
    p->b_ptr[Le] = nnz;
    free(perm);
    free(mark);
    free(pos);
    free(start);
    free(sbase);
    free(codes);
    perm = NULL;
    mark = NULL;
    pos = NULL;
    start = NULL;
    sbase = NULL;
    codes = NULL;
    if (nnz < N * nR + Le) { /* give back what distinct counting saved */
        dm_bent *b = realloc(p->b_ent, nnz * sizeof *b);
        if (b)
            p->b_ent = b;
    }
    const size_t nnz_b = nnz - Le;

    /* B' by Schur unknown; groups come out in increasing order. */
    p->bt_ptr = calloc(m + 1, sizeof *p->bt_ptr);
    p->bt_ent = malloc((nnz_b ? nnz_b : 1) * sizeof *p->bt_ent);
    bt_grp = malloc((nnz_b ? nnz_b : 1) * sizeof *bt_grp);
    cursor = malloc(m * sizeof *cursor);
    if (!p->bt_ptr || !p->bt_ent || !bt_grp || !cursor)
        goto nomem;
    for (size_t g = 0; g < Le; g++)
        for (size_t t = p->b_ptr[g] + 1; t < p->b_ptr[g + 1]; t++)
            p->bt_ptr[(size_t)p->b_ent[t].col + 1]++;
    for (size_t j = 0; j < m; j++)
        p->bt_ptr[j + 1] += p->bt_ptr[j];
    memcpy(cursor, p->bt_ptr, m * sizeof *cursor);
    for (size_t g = 0; g < Le; g++)
        for (size_t t = p->b_ptr[g] + 1; t < p->b_ptr[g + 1]; t++) {
            size_t u = cursor[p->b_ent[t].col]++;
            p->bt_ent[u].off = (uint32_t)p->b_ptr[g];
            p->bt_ent[u].cnt = p->b_ent[t].cnt;
            bt_grp[u] = (int32_t)g;
        }
    free(cursor);
    cursor = NULL;
    for (size_t j = 0; j < m; j++)
        p->inv_count_S[j] = ctx->inv_count_L[schur_global(p, j)];

    /* Ranks: the FE of R by decreasing number of levels (ties: FE order),
     * levels in order within each. S is formed by rows, each row only
     * towards higher ranks, so the FE with few levels and dense rows (a
     * year FE meets every firm) come last and their rows are short. */
    p->rank = malloc(m * sizeof *p->rank);
    unrank = malloc(m * sizeof *unrank);
    size_t *grp_cur = malloc(Le * sizeof *grp_cur);
    uint8_t *used = calloc((size_t)fe->n_fe, 1);
    if (!p->rank || !unrank || !grp_cur || !used) {
        free(grp_cur);
        free(used);
        goto nomem;
    }
    {
        size_t r = 0;
        used[e] = 1;
        for (int step = 0; step < fe->n_fe - 1; step++) {
            int best = -1;
            for (int q = 0; q < fe->n_fe; q++)
                if (!used[q] && (best < 0 || fe->n_levels_Q[q] > fe->n_levels_Q[best]))
                    best = q;
            used[best] = 1;
            const size_t sb = schur_base(fe, p, best);
            for (size_t l = 0; l < (size_t)fe->n_levels_Q[best]; l++, r++) {
                p->rank[sb + l] = (int32_t)r;
                unrank[r] = (int32_t)(sb + l);
            }
        }
    }
    free(used);
    /* Refill each group's entries by decreasing rank: walking the unknowns
     * that way and appending to their groups sorts them for free. */
    for (size_t g = 0; g < Le; g++)
        grp_cur[g] = p->b_ptr[g] + 1;
    for (size_t r = m; r-- > 0;) {
        const size_t j = (size_t)unrank[r];
        for (size_t u = p->bt_ptr[j]; u < p->bt_ptr[j + 1]; u++) {
            const size_t t = grp_cur[bt_grp[u]]++;
            p->b_ent[t].col = (int32_t)j;
            p->b_ent[t].cnt = p->bt_ent[u].cnt;
        }
    }
    free(grp_cur);
    free(bt_grp);
    free(unrank);
    bt_grp = NULL;
    unrank = NULL;

    /* Size of S. Its pattern is that of B'B (two levels of R meeting in an
     * observation meet in its group of e), so counting the distinct
     * unknowns reached from every 16th row of each FE of R through its
     * groups estimates it without forming values. FE with few levels have
     * dense rows: they are counted as such. */
    mark = malloc(m * sizeof *mark);
    if (!mark)
        goto nomem;
    for (size_t j = 0; j < m; j++)
        mark[j] = -1;
    double nnz_s = 0;
    for (int q = 0; q < fe->n_fe; q++) {
        if (q == e)
            continue;
        const size_t Lq = (size_t)fe->n_levels_Q[q], sb = schur_base(fe, p, q);
        if (Lq <= 16) {
            nnz_s += (double)Lq * (double)m;
            continue;
        }
        double touched = 0, rows = 0;
        for (size_t l = 0; l < Lq; l += 16) {
            const size_t j = sb + l;
            size_t nt = 1;
            mark[j] = (int32_t)j;
            for (size_t u = p->bt_ptr[j]; u < p->bt_ptr[j + 1]; u++) {
                const dm_bent *h = p->b_ent + p->bt_ent[u].off;
                for (int32_t t = 1; t <= h->col; t++)
                    if (mark[h[t].col] != (int32_t)j) {
                        mark[h[t].col] = (int32_t)j;
                        nt++;
                    }
            }
            touched += (double)nt;
            rows += 1;
        }
        nnz_s += touched * (double)Lq / rows;
    }
    free(mark);
    mark = NULL;
    p->sum_d2 = sum_d2;
    p->nnz_b = (double)nnz_b;
    p->nnz_s_est = nnz_s;
    p->n_cross = (double)N * (double)nR * (double)(nR - 1);
    ctx->plan_state = 1;
    return GRAVRD_OK;
nomem:
    free(start);
    free(perm);
    free(mark);
    free(pos);
    free(cursor);
    free(sbase);
    free(codes);
    free(bt_grp);
    free(unrank);
    dm_plan_free(p);
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while preparing the Schur demeaning solver");
}

/* Sorts v[0..n) ascending: insertion sort for short runs, quicksort with
 * median-of-three pivots otherwise (qsort's comparator calls were a large
 * part of forming S). */
static void sort_int32(int32_t *v, size_t n)
{
    while (n > 24) {
        int32_t a = v[0], b = v[n / 2], c = v[n - 1];
        int32_t pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        size_t i = 0, j = n - 1;
        for (;;) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i >= j)
                break;
            int32_t t = v[i];
            v[i] = v[j];
            v[j] = t;
            i++;
            j--;
        }
        /* Recurse on the smaller part, loop on the larger (bounded stack). */
        if (j + 1 < n - j - 1) {
            sort_int32(v, j + 1);
            v += j + 1;
            n -= j + 1;
        } else {
            sort_int32(v + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    for (size_t i = 1; i < n; i++) {
        int32_t x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* S may not take more memory than about twice the codes of the data: a
 * denser S is not cheaper to iterate with than the data themselves. */
static size_t s_cap_max(const dm_ctx *ctx)
{
    return 2 * ctx->fe->n_obs * (size_t)ctx->fe->n_fe + ctx->plan.m;
}

static gravrd_status ic0(schur_plan *p, gravrd_error *err);

/* Forms S row by row, then its incomplete Cholesky factor. */
static gravrd_status build(dm_ctx *ctx, gravrd_error *err)
{
    const gravrd_fe *fe = ctx->fe;
    schur_plan *p = &ctx->plan;
    const size_t m = p->m;
    /* U: the rows towards higher ranks (about half of S), then S = U + U'. */
    const size_t cap_max = s_cap_max(ctx) / 2 + m;
    size_t cap = (size_t)(0.65 * p->nnz_s_est) + m;
    if (cap > cap_max)
        cap = cap_max;
    row_work rw;
    size_t *u_ptr = malloc((m + 1) * sizeof *u_ptr), *t_ptr = NULL, *cursor = NULL;
    int32_t *u_col = malloc(cap * sizeof *u_col), *t_col = NULL;
    double *u_val = malloc(cap * sizeof *u_val), *t_val = NULL;
    p->s_dinv = malloc(m * sizeof *p->s_dinv);
    if (row_work_alloc(ctx, &rw) != 0 || !u_ptr || !u_col || !u_val || !p->s_dinv)
        goto nomem;
    size_t nnz = 0;
    u_ptr[0] = 0;
    for (int q = 0; q < fe->n_fe; q++) {
        if (q == p->e)
            continue;
        const size_t sb = schur_base(fe, p, q), Lq = (size_t)fe->n_levels_Q[q];
        if (fe->n_fe > 2)
            sort_rows(ctx, q, rw.start, NULL, rw.other);
        for (size_t l = 0; l < Lq; l++) {
            const size_t j = sb + l;
            size_t nt = form_row(ctx, &rw, j, l);
            if (nt * 8 >= m) {
                /* Dense row: reading the marks in order is cheaper than sorting. */
                nt = 0;
                for (size_t k = 0; k < m; k++)
                    if (rw.mark[k] == (int32_t)j)
                        rw.list[nt++] = (int32_t)k;
            } else {
                sort_int32(rw.list, nt);
            }
            if (nnz + nt > cap) {
                size_t new_cap = cap;
                while (new_cap < nnz + nt)
                    new_cap *= 2;
                if (new_cap > cap_max)
                    new_cap = cap_max;
                if (new_cap < nnz + nt) {
                    /* Denser than estimated: the Schur solver would not pay. */
                    row_work_free(&rw);
                    free(u_ptr);
                    free(u_col);
                    free(u_val);
                    dm_plan_free(p);
                    ctx->plan_state = -1;
                    return GRAVRD_OK;
                }
                int32_t *c = realloc(u_col, new_cap * sizeof *c);
                if (!c)
                    goto nomem;
                u_col = c;
                double *v = realloc(u_val, new_cap * sizeof *v);
                if (!v)
                    goto nomem;
                u_val = v;
                cap = new_cap;
            }
            for (size_t t = 0; t < nt; t++) {
                const size_t k = (size_t)rw.list[t];
                if (k != j && rw.acc[k] == 0)
                    continue; /* exact cancellation: no coupling */
                u_col[nnz] = (int32_t)k;
                u_val[nnz++] = rw.acc[k];
            }
            /* A zero diagonal means the level is absorbed by e (its row of S
             * is zero): nothing to solve for, and no preconditioning. */
            p->s_dinv[j] = rw.acc[j] > 0 ? 1.0 / rw.acc[j] : 0.0;
            u_ptr[j + 1] = nnz;
        }
    }
    row_work_free(&rw);

    /* S = U + U' without the diagonal twice. U' by rows comes out with
     * columns ascending (a counting transpose); each row of S is then the
     * merge of two sorted lists. S is exactly symmetric. */
    const size_t nnz_u = nnz, nnz_t = nnz_u - m;
    t_ptr = calloc(m + 1, sizeof *t_ptr);
    t_col = malloc((nnz_t ? nnz_t : 1) * sizeof *t_col);
    t_val = malloc((nnz_t ? nnz_t : 1) * sizeof *t_val);
    cursor = malloc(m * sizeof *cursor);
    p->s_ptr = malloc((m + 1) * sizeof *p->s_ptr);
    p->s_col = malloc((nnz_u + nnz_t) * sizeof *p->s_col);
    p->s_val = malloc((nnz_u + nnz_t) * sizeof *p->s_val);
    if (!t_ptr || !t_col || !t_val || !cursor || !p->s_ptr || !p->s_col || !p->s_val)
        goto nomem;
    for (size_t t = 0; t < nnz_u; t++)
        t_ptr[(size_t)u_col[t] + 1]++;
    for (size_t j = 0; j < m; j++)
        t_ptr[j + 1] += t_ptr[j] - 1; /* minus the diagonal */
    for (size_t j = 0; j < m; j++)
        cursor[j] = t_ptr[j];
    for (size_t i = 0; i < m; i++)
        for (size_t t = u_ptr[i]; t < u_ptr[i + 1]; t++)
            if ((size_t)u_col[t] != i) {
                const size_t v = cursor[u_col[t]]++;
                t_col[v] = (int32_t)i;
                t_val[v] = u_val[t];
            }
    p->s_ptr[0] = 0;
    size_t o = 0;
    for (size_t j = 0; j < m; j++) {
        size_t a = u_ptr[j], b = t_ptr[j];
        while (a < u_ptr[j + 1] || b < t_ptr[j + 1]) {
            if (b >= t_ptr[j + 1] || (a < u_ptr[j + 1] && u_col[a] < t_col[b])) {
                p->s_col[o] = u_col[a];
                p->s_val[o++] = u_val[a++];
            } else {
                p->s_col[o] = t_col[b];
                p->s_val[o++] = t_val[b++];
            }
        }
        p->s_ptr[j + 1] = o;
    }
    free(u_ptr);
    free(u_col);
    free(u_val);
    free(t_ptr);
    free(t_col);
    free(t_val);
    free(cursor);
    gravrd_status st = ic0(p, err);
    if (st != GRAVRD_OK) {
        dm_plan_free(p);
        return st;
    }
    ctx->plan_state = 2;
    return GRAVRD_OK;
nomem:
    row_work_free(&rw);
    free(u_ptr);
    free(u_col);
    free(u_val);
    free(t_ptr);
    free(t_col);
    free(t_val);
    free(cursor);
    dm_plan_free(p);
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while forming the Schur complement");
}

/* Pivots below this fraction of the diagonal of S are taken for null
 * directions of S, pivots below minus DM_IC_BREAKDOWN of it for a
 * breakdown of the incomplete factorisation (see ic0). */
#define DM_IC_PIVOT_TOL 1e-8
#define DM_IC_BREAKDOWN 1e-6

/* Ordering for the incomplete factorisation: reverse Cuthill-McKee on the
 * graph of S without its dense rows, which go last. Level labels are
 * arbitrary, and IC(0) in a random order is little better than the
 * diagonal; RCM lays a chain-like graph (the hard case) out as a band, on
 * which IC(0) drops almost nothing. Rows coupled to a large share of the
 * unknowns (a year FE meets every firm) would make every breadth-first
 * level span the whole graph, so they are left out of the search and
 * placed at the end, where their factor rows are complete anyway. Ties are
 * broken by index: the order depends only on S. Fills perm (new -> old);
 * returns -1 when out of memory. */
static int rcm_order(const schur_plan *p, int32_t *perm)
{
    const size_t m = p->m;
    /* queue: the order being built; scan: scratch of the pseudo-peripheral searches */
    int32_t *deg = malloc(m * sizeof *deg), *queue = malloc(m * sizeof *queue), *scan = malloc(m * sizeof *scan);
    int32_t *seen = malloc(m * sizeof *seen);
    double *strength = malloc(m * sizeof *strength);
    if (!deg || !queue || !scan || !seen || !strength) {
        free(deg);
        free(queue);
        free(scan);
        free(seen);
        free(strength);
        return -1;
    }
    double mean = 0;
    for (size_t j = 0; j < m; j++) {
        deg[j] = (int32_t)(p->s_ptr[j + 1] - p->s_ptr[j]);
        mean += (double)deg[j];
    }
    mean /= (double)m;
    const double dense = 8 * mean > 64 ? 8 * mean : 64;
    /* seen: -1 unvisited, -2 dense, otherwise the mark of the last search. */
    for (size_t j = 0; j < m; j++)
        seen[j] = (double)deg[j] > dense ? -2 : -1;
    size_t n_out = 0;
    int32_t search = 0;
    for (size_t root0 = 0; root0 < m; root0++) {
        if (seen[root0] != -1)
            continue;
        /* Pseudo-peripheral start (George & Liu): breadth-first searches
         * from the current root; move to a least-degree node of the last
         * level while the depth grows. */
        int32_t root = (int32_t)root0;
        int depth = -1;
        for (int round = 0; round < 8; round++) {
            size_t head = 0, tail = 0, level_start = 0;
            int d = 0;
            scan[tail++] = root;
            seen[root] = ++search;
            while (head < tail) {
                size_t level_end = tail;
                level_start = head;
                for (; head < level_end; head++) {
                    const size_t v = (size_t)scan[head];
                    for (size_t t = p->s_ptr[v]; t < p->s_ptr[v + 1]; t++) {
                        const int32_t w = p->s_col[t];
                        if (seen[w] == -1) {
                            seen[w] = search;
                            scan[tail++] = w;
                        }
                    }
                }
                if (tail > level_end)
                    d++;
            }
            int32_t best = scan[level_start];
            for (size_t t = level_start; t < tail; t++)
                if (deg[scan[t]] < deg[best] || (deg[scan[t]] == deg[best] && scan[t] < best))
                    best = scan[t];
            /* Back to "unvisited" for the next search. */
            for (size_t t = 0; t < tail; t++)
                seen[scan[t]] = -1;
            if (d <= depth)
                break;
            depth = d;
            root = best;
        }
        /* Cuthill-McKee from root: neighbours by increasing degree, then
         * by decreasing coupling to the node that reaches them (on a chain
         * of firms the nearest firm first, so that the two arms of a
         * breadth-first level do not come out in opposite directions). */
        size_t head = n_out, tail = n_out;
        queue[tail++] = root;
        seen[root] = 0;
        while (head < tail) {
            const size_t v = (size_t)queue[head++], first = tail;
            for (size_t t = p->s_ptr[v]; t < p->s_ptr[v + 1]; t++) {
                const int32_t w = p->s_col[t];
                if (seen[w] == -1) {
                    seen[w] = 0;
                    strength[tail] = fabs(p->s_val[t]);
                    queue[tail++] = w;
                }
            }
            for (size_t i = first + 1; i < tail; i++) { /* insertion sort */
                const int32_t x = queue[i];
                const double sx = strength[i];
                size_t j = i;
                for (; j > first; j--) {
                    const int32_t y = queue[j - 1];
                    const double sy = strength[j - 1];
                    if (!(deg[y] > deg[x] || (deg[y] == deg[x] && (sy < sx || (sy == sx && y > x)))))
                        break;
                    queue[j] = y;
                    strength[j] = sy;
                }
                queue[j] = x;
                strength[j] = sx;
            }
        }
        n_out = tail;
    }
    /* Reverse, then the dense rows in index order. */
    for (size_t i = 0; i < n_out; i++)
        perm[i] = queue[n_out - 1 - i];
    for (size_t j = 0; j < m; j++)
        if (seen[j] == -2)
            perm[n_out++] = (int32_t)j;
    free(strength);
    free(deg);
    free(queue);
    free(scan);
    free(seen);
    return 0;
}

/* The factorisation proper, in place on the lower rows (which hold P S P'
 * on entry), of P S P' + shift diag: see ic0. Returns -1 on breakdown. */
static int ic_factor(schur_plan *p, double shift, double *val, int32_t *mark)
{
    const size_t m = p->m;
    for (size_t j = 0; j < m; j++)
        mark[j] = -1;
    for (size_t i = 0; i < m; i++) {
        const size_t l0 = p->l_ptr[i], n_low = p->l_ptr[i + 1] - l0;
        const int32_t *lc = p->l_col + l0;
        double *lv = p->l_val + l0;
        for (size_t t = 0; t < n_low; t++) {
            val[lc[t]] = lv[t];
            mark[lc[t]] = (int32_t)i;
        }
        double sq = 0;
        for (size_t t = 0; t < n_low; t++) {
            const size_t k = (size_t)lc[t];
            double s = val[k];
            for (size_t u = p->l_ptr[k]; u < p->l_ptr[k + 1]; u++) {
                const size_t j = (size_t)p->l_col[u];
                if (mark[j] == (int32_t)i)
                    s -= p->l_val[u] * val[j]; /* val[j] already holds L_ij: j < k */
            }
            const double lik = s * p->l_dinv[k];
            val[k] = lik;
            lv[t] = lik;
            sq += lik * lik;
        }
        const double dinv = p->s_dinv[p->l_perm[i]], sii = dinv > 0 ? (1.0 + shift) / dinv : 0.0;
        double d = sii - sq;
        if (!(d >= -DM_IC_BREAKDOWN * sii))
            return -1; /* clearly negative (or NaN): not a rounding artefact */
        if (!(d > DM_IC_PIVOT_TOL * sii))
            d = sii; /* a null direction of S */
        p->l_dinv[i] = d > 0 ? 1.0 / sqrt(d) : 0.0;
    }
    return 0;
}

/* Incomplete Cholesky factorisation without fill, IC(0), of S in the order
 * perm: L L' ~ P S P' with L on the pattern of the lower triangle. Row i is
 * formed against a dense copy of itself,
 *   L_ik = (S_ik - sum_{j<k} L_ij L_kj) / L_kk,  L_ii^2 = S_ii - sum_k L_ik^2,
 * the sum running over row k of L, so a dense row costs the length of the
 * rows it meets, not their product. S is only semi-definite: a pivot that
 * (nearly) vanishes marks a null direction; it is replaced by S_ii, which
 * keeps the preconditioner from amplifying rounding along that direction.
 * Rows of zero diagonal (levels absorbed by e) get 0. */
static gravrd_status ic0(schur_plan *p, gravrd_error *err)
{
    const size_t m = p->m;
    double *val = malloc(m * sizeof *val);
    int32_t *mark = malloc(m * sizeof *mark);
    size_t *cursor = malloc(m * sizeof *cursor);
    p->l_perm = malloc(m * sizeof *p->l_perm);
    p->l_ptr = calloc(m + 1, sizeof *p->l_ptr);
    p->l_dinv = malloc(m * sizeof *p->l_dinv);
    if (!val || !mark || !cursor || !p->l_perm || !p->l_ptr || !p->l_dinv || rcm_order(p, p->l_perm) != 0)
        goto nomem;
    int32_t *inv = mark; /* old -> new, only while building the pattern */
    for (size_t i = 0; i < m; i++)
        inv[p->l_perm[i]] = (int32_t)i;
    /* Lower triangle of P S P' by rows, columns ascending: walking the new
     * columns c in order and appending each entry below the diagonal to its
     * row sorts the rows for free (S is symmetric: the entries are taken
     * from row perm[c]). */
    for (size_t c = 0; c < m; c++) {
        const size_t old = (size_t)p->l_perm[c];
        for (size_t t = p->s_ptr[old]; t < p->s_ptr[old + 1]; t++)
            if ((size_t)inv[p->s_col[t]] > c)
                p->l_ptr[(size_t)inv[p->s_col[t]] + 1]++;
    }
    for (size_t i = 0; i < m; i++)
        p->l_ptr[i + 1] += p->l_ptr[i];
    const size_t nnz_l = p->l_ptr[m];
    p->l_col = malloc((nnz_l ? nnz_l : 1) * sizeof *p->l_col);
    p->l_val = malloc((nnz_l ? nnz_l : 1) * sizeof *p->l_val);
    if (!p->l_col || !p->l_val)
        goto nomem;
    memcpy(cursor, p->l_ptr, m * sizeof *cursor);
    for (size_t c = 0; c < m; c++) {
        const size_t old = (size_t)p->l_perm[c];
        for (size_t t = p->s_ptr[old]; t < p->s_ptr[old + 1]; t++) {
            const size_t i = (size_t)inv[p->s_col[t]];
            if (i > c) {
                p->l_col[cursor[i]] = (int32_t)c;
                p->l_val[cursor[i]++] = p->s_val[t];
            }
        }
    }
    /* IC(0) exists for M-matrices; S is not one in general (two levels of
     * different FE can be coupled positively), and the factorisation can
     * break down: pivots turn clearly negative and the factor explodes.
     * Then it is retried on S + shift diag(S), with growing shifts (a
     * diagonally dominant matrix always factors), and in the end the
     * diagonal alone is used. */
    double *a_val = malloc((nnz_l ? nnz_l : 1) * sizeof *a_val);
    if (!a_val)
        goto nomem;
    memcpy(a_val, p->l_val, nnz_l * sizeof *a_val);
    static const double shifts[] = {0, 1e-3, 1e-2, 1e-1, 1};
    int ok = 0;
    for (size_t si = 0; si < sizeof shifts / sizeof shifts[0] && !ok; si++) {
        memcpy(p->l_val, a_val, nnz_l * sizeof *a_val);
        ok = ic_factor(p, shifts[si], val, mark) == 0;
    }
    if (!ok) {
        for (size_t t = 0; t < nnz_l; t++)
            p->l_val[t] = 0;
        for (size_t i = 0; i < m; i++)
            p->l_dinv[i] = sqrt(p->s_dinv[p->l_perm[i]]);
    }
    free(a_val);
    free(val);
    free(mark);
    free(cursor);
    return GRAVRD_OK;
nomem:
    free(val);
    free(mark);
    free(cursor);
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory while forming the Schur complement");
}

/* Cost model, in nanoseconds of one core of the development machine (AMD
 * EPYC; docs/algorithms.md); only ratios matter. Fitted on the benchmark
 * and test structures (1M observations): a CG iteration on all FE streams
 * the codes and gathers/scatters coefficients; analysing the structure
 * sorts the observations by the eliminated FE and builds B and B' (a few
 * passes with scattered writes); forming S is dominated by the flops of
 * the group products, the visits of scattered groups and writing S; a
 * Schur iteration is a product with S, two triangular solves with its
 * incomplete factor and vector updates. All per column of a block. */
static double cost_cg_iter(const gravrd_fe *fe)
{
    return 0.8 * (double)fe->n_obs * (double)fe->n_fe;
}

static double cost_analyse(const gravrd_fe *fe)
{
    return 20.0 * (double)fe->n_obs * (double)fe->n_fe;
}

static double cost_build(const schur_plan *p)
{
    return 1.5 * p->sum_d2 + 25.0 * p->nnz_b + 10.0 * p->nnz_s_est + 3.0 * p->n_cross;
}

static double cost_schur_iter(const schur_plan *p)
{
    return 2.0 * p->nnz_s_est + 20.0 * (double)p->m;
}

/* CG on all FE slows down as it goes on poorly connected graphs (the fast
 * early rate comes from the well-connected parts), so the extrapolated
 * number of remaining iterations is an underestimate exactly where the
 * Schur solver pays: it counts double against forming S. (It is not scaled
 * for the decision to analyse: that would make well-connected graphs, whose
 * prediction is about right, pay for analyses that lead nowhere.) */
#define DM_REMAINING_PESSIMISM 2.0

static void plan_analyse_locked(dm_ctx *ctx, gravrd_error *err)
{
    if (ctx->plan_state != 0 || ctx->plan_status != GRAVRD_OK)
        return;
    ctx->plan_status = analyse(ctx, err);
    if (ctx->plan_state == 1 && ctx->plan.nnz_s_est > (double)s_cap_max(ctx)) {
        dm_plan_free(&ctx->plan); /* S would be too dense to help */
        ctx->plan_state = -1;
    }
}

static void plan_build_locked(dm_ctx *ctx, gravrd_error *err)
{
    if (ctx->plan_state == 1 && ctx->plan_status == GRAVRD_OK)
        ctx->plan_status = build(ctx, err);
}

gravrd_status dm_plan_want(dm_ctx *ctx, double remaining, int *want, gravrd_error *err)
{
    *want = 0;
    const double w_cg = cost_cg_iter(ctx->fe);
    /* Only a column predicted to spend more on CG than the analysis costs
     * triggers it (once, for all columns). */
    if (!(remaining * w_cg > cost_analyse(ctx->fe)))
        return GRAVRD_OK;
    gravrd_status st;
    int state;
    double w_build = 0, w_schur = 0;
#pragma omp critical(gravrd_schur_plan)
    {
        plan_analyse_locked(ctx, err);
        st = ctx->plan_status;
        state = ctx->plan_state;
        if (state >= 1) {
            /* Charged in full even when another column already formed S:
             * the decision must not depend on the other columns. */
            w_build = cost_build(&ctx->plan);
            w_schur = cost_schur_iter(&ctx->plan);
        }
    }
    if (st != GRAVRD_OK)
        return gravrd_error_set(err, st, "out of memory while preparing the Schur demeaning solver");
    if (state < 1)
        return GRAVRD_OK;
    /* Switch when the predicted CG work exceeds forming S plus as many
     * (cheaper) Schur iterations, plus the two passes over the data the
     * Schur solver makes to verify and finish. */
    if (!(DM_REMAINING_PESSIMISM * remaining * (w_cg - w_schur) > w_build + 2.0 * w_cg))
        return GRAVRD_OK;
#pragma omp critical(gravrd_schur_plan)
    {
        plan_build_locked(ctx, err);
        st = ctx->plan_status;
        state = ctx->plan_state;
    }
    if (st != GRAVRD_OK)
        return gravrd_error_set(err, st, "out of memory while forming the Schur complement");
    *want = state == 2;
    return GRAVRD_OK;
}

gravrd_status dm_plan_force(dm_ctx *ctx, int *want, gravrd_error *err)
{
    gravrd_status st;
    int state;
#pragma omp critical(gravrd_schur_plan)
    {
        plan_analyse_locked(ctx, err);
        plan_build_locked(ctx, err);
        st = ctx->plan_status;
        state = ctx->plan_state;
    }
    *want = 0;
    if (st != GRAVRD_OK)
        return gravrd_error_set(err, st, "out of memory while preparing the Schur demeaning solver");
    *want = state == 2;
    return GRAVRD_OK;
}

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
