/* schur_plan.c - the Schur plan of an FE structure (the method is described
 * in schur.c): the analysis (B = D_e'D_R by group of the eliminated FE e,
 * and its transpose), the formed Schur complement S with its incomplete
 * Cholesky preconditioner (schur_ic.c), and the cost model that decides,
 * for method AUTO, whether forming S pays. The plan depends only on the FE
 * structure; it is built at most once per gravrd_demean call, under a
 * critical section, by whichever block first asks for it. */
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
    gravrd_status st = dm_schur_ic0(p, err);
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
