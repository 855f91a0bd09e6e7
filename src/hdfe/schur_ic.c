/* schur_ic.c - the preconditioner of the Schur solver: a reverse
 * Cuthill-McKee order of the formed Schur complement S and its incomplete
 * Cholesky factor IC(0) in that order (schur_plan.c calls it once S is
 * formed; schur.c applies it). */
#include "demean_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Pivots below this fraction of the diagonal of S are taken for null
 * directions of S, pivots below minus DM_IC_BREAKDOWN of it for a
 * breakdown of the incomplete factorisation (see dm_schur_ic0). */
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
 * on entry), of P S P' + shift diag: see dm_schur_ic0. Returns -1 on breakdown. */
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
gravrd_status dm_schur_ic0(schur_plan *p, gravrd_error *err)
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
