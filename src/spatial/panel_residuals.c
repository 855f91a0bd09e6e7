/* panel_residuals.c - direct residuals on A^T + B^T of a balanced panel
 * (see panel_residuals.h and docs/spatial.md).
 *
 * Within month t the rows are the cells of one bipartite graph (the same in
 * every month, the panel being balanced), and the FE of month t are f_t(a)
 * and g_t(b) on that month's rows alone: the projection on A^T + B^T is the
 * two-way projection on the cell graph, month by month. The normal
 * equations need only the outcome's totals per (a, t) and (b, t); the
 * months are the right-hand sides of one Schur complement + Cholesky
 * factorisation (estimate/cell_projection.h: the side with more levels
 * eliminated, the other factored).
 *
 * Three passes over the rows: one counts the rows per month (equal counts
 * in the months present, or not balanced); one checks the structure (cell
 * table over the A x B codes, a bit per (cell, month)) and sums the
 * outcome per (a, t) and (b, t) over the codes as given; one writes the
 * residuals. Only the solver sees dense levels (those of the kept rows). */
#include "panel_residuals.h"

#include <stdlib.h>
#include <string.h>

#include "estimate/cell_projection.h"
#include "estimate/model_data.h"

static gravrd_status nomem(gravrd_error *err)
{
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
}

/* 1 when the terms are A^T and B^T sharing exactly T: names_3 = A, B, T. */
static int match_two_way(const gravrd_fe_term *terms, int n_terms, const char *names_3[3])
{
    if (n_terms != 2 || terms[0].n_vars != 2 || terms[1].n_vars != 2)
        return 0;
    char *const *u = terms[0].vars, *const *v = terms[1].vars;
    if (!strcmp(u[0], u[1]) || !strcmp(v[0], v[1]))
        return 0;
    int iu = -1, iv = -1, shared = 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            if (!strcmp(u[i], v[j])) {
                iu = i;
                iv = j;
                shared++;
            }
    if (shared != 1)
        return 0;
    names_3[0] = u[1 - iu];
    names_3[1] = v[1 - iv];
    names_3[2] = u[iu];
    return 1;
}

void panel_abt_free(panel_abt *abt)
{
    for (int k = 0; k < 3; k++) {
        free(abt->codes_3N[k]);
        abt->codes_3N[k] = NULL;
    }
}

gravrd_status panel_fe_codes(const gravrd_frame *frame, const gravrd_fe_term *terms, int n_terms,
                             int32_t *const *codes_QN, int32_t *n_levels_Q, panel_abt *abt, int *found,
                             gravrd_error *err)
{
    memset(abt, 0, sizeof *abt);
    *found = 0;
    const char *names[3];
    gravrd_status st = GRAVRD_OK;
    if (!match_two_way(terms, n_terms, names)) {
        for (int q = 0; q < n_terms && !st; q++)
            st = model_group_codes(frame, terms[q].vars, terms[q].n_vars, "fixed effect", codes_QN[q],
                                   &n_levels_Q[q], err);
        return st;
    }
    const size_t N = frame->n_rows;
    for (int k = 0; k < 3 && !st; k++) {
        if (!(abt->codes_3N[k] = malloc((N ? N : 1) * sizeof *abt->codes_3N[k])))
            st = nomem(err);
        else
            st = model_group_codes(frame, (char *const *)&names[k], 1, "fixed effect", abt->codes_3N[k],
                                   &abt->n_levels_3[k], err);
    }
    /* term q is A^T or T^A (q = 0), B^T or T^B (q = 1), combined in the
     * term's order: u * n_v + v, the levels in the lexicographic order of
     * gravrd_codes_combine's dense codes (not all in use; the singleton
     * rule and gravrd_fe_create take the codes as a partition and keep
     * their order), or the dense codes themselves when the product table is
     * large */
    for (int q = 0; q < 2 && !st; q++) {
        const int k0 = strcmp(terms[q].vars[0], names[2]) ? q : 2, k1 = k0 == 2 ? q : 2;
        const int32_t *u_N = abt->codes_3N[k0], *v_N = abt->codes_3N[k1], nv = abt->n_levels_3[k1];
        const uint64_t cells = (uint64_t)abt->n_levels_3[k0] * (uint64_t)nv;
        if (cells > 4 * (uint64_t)N + 65536 || cells > (uint64_t)INT32_MAX) {
            st = gravrd_codes_combine(u_N, abt->n_levels_3[k0], v_N, nv, N, codes_QN[q], &n_levels_Q[q], err);
            continue;
        }
        int32_t *out = codes_QN[q];
        for (size_t i = 0; i < N; i++)
            out[i] = u_N[i] < 0 || v_N[i] < 0 ? -1 : u_N[i] * nv + v_N[i];
        n_levels_Q[q] = (int32_t)cells;
    }
    if (st) {
        panel_abt_free(abt);
        return st;
    }
    *found = 1;
    return GRAVRD_OK;
}

/* Copies a (level, month) table between the codes as given (stride R0,
 * all codes) and the dense levels and months of the kept rows (stride R):
 * to_dense, or back. map and tmap: code -> dense index, -1 when absent. */
static void move_level_month(double *by_code, double *dense, const int32_t *map, int32_t n_codes,
                             const int32_t *tmap, int32_t n_months, size_t R0, size_t R, int to_dense)
{
    for (int32_t l = 0; l < n_codes; l++)
        if (map[l] >= 0)
            for (int32_t t = 0; t < n_months; t++)
                if (tmap[t] >= 0) {
                    double *c = by_code + (size_t)l * R0 + (size_t)t;
                    double *d = dense + (size_t)map[l] * R + (size_t)tmap[t];
                    if (to_dense)
                        *d = *c;
                    else
                        *c = *d;
                }
}

gravrd_status panel_residualise_two_way(size_t N, const panel_abt *abt, const uint8_t *keep_N, const double *y_N,
                                        double *res_N, int *applied, gravrd_error *err)
{
    *applied = 0;
    const int32_t *a_N = abt->codes_3N[0], *b_N = abt->codes_3N[1], *t_N = abt->codes_3N[2];
    const int32_t nAc = abt->n_levels_3[0], nBc = abt->n_levels_3[1], nTc = abt->n_levels_3[2];
    if (nAc < 1 || nBc < 1 || nTc < 1)
        return GRAVRD_OK;
    const size_t n_ab = (size_t)nAc * (size_t)nBc, R0 = (size_t)nTc;
    if (n_ab > 4 * N + ((size_t)1 << 20))
        return GRAVRD_OK; /* the cell table would dwarf the rows */
    gravrd_status st = GRAVRD_OK;
    int32_t *cell_AB = NULL, *a_P = NULL, *b_P = NULL, *amap = NULL, *bmap = NULL;
    uint64_t *seen = NULL;
    double *sa = NULL, *sb = NULL, *ta = NULL, *tb = NULL, *fa = NULL, *fb = NULL;
    cp_solver *solver = NULL;
    /* pass 0: rows per month; balanced needs the same count P (the number
     * of cells) in every month present - most unbalanced samples stop here */
    size_t *cnt_T = calloc(R0, sizeof *cnt_T);
    int32_t *tmap = malloc(R0 * sizeof *tmap);
    if (!cnt_T || !tmap) {
        st = nomem(err);
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        if (keep_N[i]) {
            const int32_t t = t_N[i];
            if (t < 0 || t >= nTc)
                goto done;
            cnt_T[t]++;
        }
    size_t n = 0, per_month = 0;
    int32_t nT = 0;
    for (int32_t t = 0; t < nTc; t++) {
        tmap[t] = -1;
        if (!cnt_T[t])
            continue;
        if (per_month && cnt_T[t] != per_month)
            goto done;
        per_month = cnt_T[t];
        tmap[t] = nT++;
        n += cnt_T[t];
    }
    if (!n || per_month > (size_t)INT32_MAX)
        goto done;
    const int32_t P_max = (int32_t)per_month;
    /* pass 1: the cells (a table over the A x B codes), a bit per (cell,
     * month) present, and the totals per (a, t) and (b, t) over the codes as
     * given */
    cell_AB = malloc(n_ab * sizeof *cell_AB);
    a_P = malloc((size_t)P_max * sizeof *a_P);
    b_P = malloc((size_t)P_max * sizeof *b_P);
    seen = calloc(((size_t)P_max * R0 + 63) / 64, sizeof *seen);
    sa = calloc((size_t)nAc * R0, sizeof *sa);
    sb = calloc((size_t)nBc * R0, sizeof *sb);
    amap = malloc((size_t)nAc * sizeof *amap);
    bmap = malloc((size_t)nBc * sizeof *bmap);
    if (!cell_AB || !a_P || !b_P || !seen || !sa || !sb || !amap || !bmap) {
        st = nomem(err);
        goto done;
    }
    memset(cell_AB, 0xff, n_ab * sizeof *cell_AB);
    int32_t P = 0;
    for (size_t i = 0; i < N; i++) {
        if (!keep_N[i])
            continue;
        const int32_t a = a_N[i], b = b_N[i], t = t_N[i];
        if (a < 0 || b < 0 || a >= nAc || b >= nBc)
            goto done;
        int32_t *c = &cell_AB[(size_t)a * (size_t)nBc + (size_t)b];
        if (*c < 0) {
            if (P == P_max)
                goto done; /* more cells than rows in a month */
            a_P[P] = a;
            b_P[P] = b;
            *c = P++;
        }
        const size_t bit = (size_t)*c * R0 + (size_t)t;
        const uint64_t mask = (uint64_t)1 << (bit & 63);
        if (seen[bit >> 6] & mask)
            goto done; /* (cell, month) twice */
        seen[bit >> 6] |= mask;
        sa[(size_t)a * R0 + (size_t)t] += y_N[i];
        sb[(size_t)b * R0 + (size_t)t] += y_N[i];
    }
    /* P cells, none twice in a month, P rows a month: every cell in every
     * month present */
    if (P != P_max)
        goto done;
    /* dense A and B levels of the cells */
    memset(amap, 0xff, (size_t)nAc * sizeof *amap);
    memset(bmap, 0xff, (size_t)nBc * sizeof *bmap);
    int32_t nA = 0, nB = 0;
    for (int32_t p = 0; p < P; p++) {
        if (amap[a_P[p]] < 0)
            amap[a_P[p]] = nA++;
        if (bmap[b_P[p]] < 0)
            bmap[b_P[p]] = nB++;
        a_P[p] = amap[a_P[p]];
        b_P[p] = bmap[b_P[p]];
    }
    /* one factorisation, the months as right-hand sides */
    const size_t R = (size_t)nT;
    const int32_t L_K[2] = {nA, nB};
    const int32_t *level_KP[2] = {a_P, b_P};
    int rc = cp_solver_new(2, L_K, level_KP, P, nT, &solver);
    if (rc < 0) {
        st = nomem(err);
        goto done;
    }
    if (rc > 0)
        goto done;
    ta = malloc((size_t)nA * R * sizeof *ta);
    tb = malloc((size_t)nB * R * sizeof *tb);
    fa = malloc((size_t)nA * R * sizeof *fa);
    fb = malloc((size_t)nB * R * sizeof *fb);
    if (!ta || !tb || !fa || !fb) {
        st = nomem(err);
        goto done;
    }
    /* totals to dense (a, t) and (b, t); after the solve the coefficients
     * back to the codes as given, in place of the totals */
    move_level_month(sa, ta, amap, nAc, tmap, nTc, R0, R, 1);
    move_level_month(sb, tb, bmap, nBc, tmap, nTc, R0, R, 1);
    const double *t_K[2] = {ta, tb};
    double *c_K[2] = {fa, fb};
    if (cp_solver_solve(solver, t_K, c_K)) {
        st = nomem(err);
        goto done;
    }
    move_level_month(sa, fa, amap, nAc, tmap, nTc, R0, R, 0);
    move_level_month(sb, fb, bmap, nBc, tmap, nTc, R0, R, 0);
    /* pass 2: the residuals */
    for (size_t i = 0; i < N; i++)
        if (keep_N[i]) {
            const size_t t = (size_t)t_N[i];
            res_N[i] = y_N[i] - sa[(size_t)a_N[i] * R0 + t] - sb[(size_t)b_N[i] * R0 + t];
        }
    *applied = 1;
done:
    cp_solver_free(solver);
    free(cnt_T);
    free(tmap);
    free(cell_AB);
    free(a_P);
    free(b_P);
    free(seen);
    free(sa);
    free(sb);
    free(amap);
    free(bmap);
    free(ta);
    free(tb);
    free(fa);
    free(fb);
    return st;
}
