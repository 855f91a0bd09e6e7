/* collapse.c - an exact shortcut for balanced cell x month panels (issue 6).
 *
 * The form: cells are (A, B) (the paper's directed city pairs), T the
 * month; every FE is either interacted with T (A^T, B^T, C^T with C
 * constant within cells, or T alone) or constant within cells (A, B, the
 * segment pair); every cell present is observed exactly once in every month
 * present; the regressors and clusters are constant within cells. Then the
 * regression equals the cell-level regression of cell means (FE: the
 * interacted ones' non-T parts and the constant ones) plus a within-cell
 * part of the outcome: each month's deviations from the cell means,
 * projected off the interacted FE within the month. That projection is a
 * closed form (double demeaning) when the interacted FE are A^T and B^T and
 * each connected block of the A-B graph is a complete table, and otherwise
 * an exact dense solve on the small cell graph (cell_projection.c), one
 * factorisation for every month.
 * The derivation is in docs/algorithms.md ("Collapse of balanced cell x month
 * panels"); ols_fit_sample turns the cell-level fit into the original
 * statistics with an ols_collapse. Anything else takes the general path. */
#include "cell_projection.h"
#include "ols.h"

#include "gravrd/hdfe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int32_t *new_map(int32_t n_groups)
{
    int32_t *map = malloc(((size_t)n_groups + 1) * sizeof *map);
    if (map)
        for (int32_t g = 0; g < n_groups; g++)
            map[g] = -1;
    return map;
}

static size_t find_root(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

#define CM_MAX_FE 16

/* The model's FE in the collapse's form: md's variable indexes of T and of
 * the cell variables A and B, and for each FE whether it is interacted with
 * T (its other variables x_QV, -1 padded) or constant within cells. */
typedef struct {
    int vt, va, vb;
    int n_fe;
    int interacted_Q[CM_MAX_FE];
    int n_x_Q[CM_MAX_FE];
    int x_QV[CM_MAX_FE][MD_FE_VARS];
    int closed_ok;    /* the interacted FE are exactly A^T and B^T */
} cell_month_form;

static const int *fe_vars(const model_data *md, int q)
{
    return md->fe_var_Q4 + MD_FE_VARS * q;
}

/* Classifies every FE given T, A, B. Returns 1 when each FE has all its
 * variables recorded. */
static int classify(const model_data *md, cell_month_form *cm)
{
    int n_inter = 0, inter_a = 0, inter_b = 0;
    for (int q = 0; q < md->n_fe; q++) {
        const int *v = fe_vars(md, q), nv = md->fe_n_vars_Q[q];
        if (nv < 1 || nv > MD_FE_VARS)
            return 0;
        int has_t = 0;
        for (int k = 0; k < nv; k++) {
            if (v[k] < 0)
                return 0;
            has_t |= v[k] == cm->vt;
        }
        cm->interacted_Q[q] = has_t;
        cm->n_x_Q[q] = 0;
        for (int k = 0; k < MD_FE_VARS; k++)
            cm->x_QV[q][k] = -1;
        if (!has_t)
            continue;
        for (int k = 0; k < nv; k++)
            if (v[k] != cm->vt)
                cm->x_QV[q][cm->n_x_Q[q]++] = v[k];
        n_inter++;
        inter_a += cm->n_x_Q[q] == 1 && cm->x_QV[q][0] == cm->va;
        inter_b += cm->n_x_Q[q] == 1 && cm->x_QV[q][0] == cm->vb;
    }
    cm->closed_ok = n_inter == 2 && inter_a == 1 && inter_b == 1;
    return n_inter > 0;
}

/* Finds the form: two FE A^T and B^T sharing exactly one variable T (the
 * paper's city-month FE, in any order among the FE), or else the first two
 * single-variable FE A and B with a later single-variable FE T (city FE
 * plus month FE). Returns 1 when found. */
static int find_form(const model_data *md, cell_month_form *cm)
{
    if (!md->fe_n_vars_Q || !md->fe_var_Q4 || md->n_fe < 2 || md->n_fe > CM_MAX_FE)
        return 0;
    cm->n_fe = md->n_fe;
    for (int i = 0; i < md->n_fe; i++) {
        if (md->fe_n_vars_Q[i] != 2)
            continue;
        for (int k = i + 1; k < md->n_fe; k++) {
            if (md->fe_n_vars_Q[k] != 2)
                continue;
            const int *u = fe_vars(md, i), *v = fe_vars(md, k);
            if (u[0] < 0 || u[1] < 0 || v[0] < 0 || v[1] < 0 || u[0] == u[1] || v[0] == v[1])
                continue;
            for (int x = 0; x < 2; x++)
                for (int y = 0; y < 2; y++)
                    if (u[x] == v[y] && u[1 - x] != v[1 - y]) {
                        cm->vt = u[x];
                        cm->va = u[1 - x];
                        cm->vb = v[1 - y];
                        return classify(md, cm);
                    }
        }
    }
    int single[3], n_single = 0;
    for (int q = 0; q < md->n_fe && n_single < 3; q++)
        if (md->fe_n_vars_Q[q] == 1 && fe_vars(md, q)[0] >= 0) {
            int v = fe_vars(md, q)[0], dup = 0;
            for (int k = 0; k < n_single; k++)
                dup |= single[k] == v;
            if (!dup)
                single[n_single++] = v;
        }
    if (n_single < 3)
        return 0;
    cm->va = single[0];
    cm->vb = single[1];
    cm->vt = single[2];
    return classify(md, cm);
}

/* The panel structure of one sample: its cells and months, dense codes and
 * blocks. It depends on the rows kept and the codes of A, B and T, not on
 * the outcomes or regressors, so every model on the same sample shares it;
 * with a cache it is built once (a study fits dozens of models on a few
 * samples, and building it passes over every row). Read-only once built. */
typedef struct {
    int applicable;             /* 0: a condition fails, general path */
    size_t n;                   /* rows kept */
    int32_t gA, gB, gT;         /* frame codes of A, B, T */
    int32_t nA, nB, nT, P, n_comp;
    int complete;               /* every block a complete table */
    int ordered;                /* the kept rows are cell by cell, months ascending */
    uint64_t sample_hash;
    int32_t *cell_of;           /* la * gB + lb (frame codes) -> cell */
    int32_t *amap, *bmap, *tmap; /* frame codes -> dense codes over the sample */
    size_t *first_P;            /* frame row of each cell's first observation */
    int32_t *la_P, *lb_P;       /* dense A and B of each cell */
    int32_t *comp_A, *comp_B;   /* block of each A and B level */
    double *nexp_C, *nimp_C;    /* A and B levels per block */
    /* The within-month projection: closed form, or the interacted FE as
     * partitions of the cells (one per interacted FE, in FE order). */
    int closed;
    int m;
    int32_t *L_K;               /* levels of each partition */
    int32_t **level_KP;         /* each cell's level */
    cp_solver *cp;
} panel_structure;

static void structure_free(void *p)
{
    panel_structure *s = p;
    if (!s)
        return;
    free(s->cell_of);
    free(s->amap);
    free(s->bmap);
    free(s->tmap);
    free(s->first_P);
    free(s->la_P);
    free(s->lb_P);
    free(s->comp_A);
    free(s->comp_B);
    free(s->nexp_C);
    free(s->nimp_C);
    for (int k = 0; s->level_KP && k < s->m; k++)
        free(s->level_KP[k]);
    free(s->level_KP);
    free(s->L_K);
    cp_solver_free(s->cp);
    free(s);
}

/* Input arrays that must be constant within cells: the regressors
 * (v < n_terms), the FE constant within cells, the clusters, and the other
 * variables of the interacted FE (slots n_terms + n_fe + n_cluster + q *
 * MD_FE_VARS + k). array_at gives NULL for the slots without an array. */
static int n_arrays(const model_data *md)
{
    return md->n_terms + md->n_fe + md->n_cluster + md->n_fe * MD_FE_VARS;
}

static const void *array_at(const model_data *md, const cell_month_form *cm, int v, int *is_double)
{
    *is_double = v < md->n_terms;
    if (v < md->n_terms)
        return md->term_KN[v];
    v -= md->n_terms;
    if (v < md->n_fe)
        return cm->interacted_Q[v] ? NULL : md->fe_QN[v];
    v -= md->n_fe;
    if (v < md->n_cluster)
        return md->cluster_CN[v];
    v -= md->n_cluster;
    const int q = v / MD_FE_VARS, k = v % MD_FE_VARS;
    return cm->interacted_Q[q] && k < cm->n_x_Q[q] ? md->var_codes_VN[cm->x_QV[q][k]] : NULL;
}

/* Each cell's level of a tuple of variables (their codes at the cell's
 * first row), numbered in order of first appearance over the cells. */
static gravrd_status tuple_levels(const model_data *md, const panel_structure *s, const int *x_V, int n_x,
                                  int32_t *level_P, int32_t *n_levels, gravrd_error *err)
{
    const int32_t P = s->P;
    if (n_x == 0) { /* T alone: one level */
        memset(level_P, 0, (size_t)P * sizeof *level_P);
        *n_levels = 1;
        return GRAVRD_OK;
    }
    /* combine one variable at a time through a dense (level, code) table */
    int32_t L = 1;
    memset(level_P, 0, (size_t)P * sizeof *level_P);
    for (int k = 0; k < n_x; k++) {
        const int32_t *code_N = md->var_codes_VN[x_V[k]];
        const int32_t G = md->var_groups_V[x_V[k]];
        if ((double)L * (double)G > 64.0 * (double)P + 65536.0)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "too many levels"); /* caller: not applicable */
        int32_t *map = new_map((int32_t)((int64_t)L * G));
        if (!map)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        int32_t L2 = 0;
        for (int32_t p = 0; p < P; p++) {
            int64_t key = (int64_t)level_P[p] * G + code_N[s->first_P[p]];
            if (map[key] < 0)
                map[key] = L2++;
            level_P[p] = map[key];
        }
        free(map);
        L = L2;
    }
    *n_levels = L;
    return GRAVRD_OK;
}

/* The interacted FE as partitions of the cells, and their factorisation;
 * s->cp stays NULL when the dense solve does not apply. */
static gravrd_status build_partitions(const model_data *md, const cell_month_form *cm, panel_structure *s,
                                      gravrd_error *err)
{
    int m = 0;
    for (int q = 0; q < md->n_fe; q++)
        m += cm->interacted_Q[q];
    s->m = m;
    s->L_K = calloc((size_t)m + 1, sizeof *s->L_K);
    s->level_KP = calloc((size_t)m + 1, sizeof *s->level_KP);
    if (!s->L_K || !s->level_KP)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    int k = 0;
    for (int q = 0; q < md->n_fe; q++) {
        if (!cm->interacted_Q[q])
            continue;
        if (!(s->level_KP[k] = malloc(((size_t)s->P + 1) * sizeof(int32_t))))
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        gravrd_error e2 = {0};
        gravrd_status st = tuple_levels(md, s, cm->x_QV[q], cm->n_x_Q[q], s->level_KP[k], &s->L_K[k], &e2);
        if (st == GRAVRD_ERR_NOMEM)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        if (st)
            return GRAVRD_OK; /* too many levels: s->cp stays NULL */
        k++;
    }
    int rc = cp_solver_new(m, s->L_K, (const int32_t *const *)s->level_KP, s->P, s->nT, &s->cp);
    if (rc < 0)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    return GRAVRD_OK;
}

/* Checks the conditions on the rows kept and, when they hold, builds the
 * structure (s->applicable = 1). check_V: which arrays to check for
 * constancy within cells (NULL: all but A^T and B^T). Errors: out of
 * memory only. */
static gravrd_status structure_build(const model_data *md, const cell_month_form *cm, const uint8_t *keep_N,
                                     size_t n, const uint8_t *check_V, panel_structure *s, gravrd_error *err)
{
    const size_t N = md->n_rows;
    const int32_t *a_N = md->var_codes_VN[cm->va], *b_N = md->var_codes_VN[cm->vb], *t_N = md->var_codes_VN[cm->vt];
    gravrd_status st = GRAVRD_OK;
    size_t *parent = NULL;
    uint8_t *seen = NULL;
    const double **dbl_C = NULL;
    const int32_t **int_C = NULL;
    s->n = n;
    const int32_t gA = s->gA = md->var_groups_V[cm->va], gB = s->gB = md->var_groups_V[cm->vb],
                  gT = s->gT = md->var_groups_V[cm->vt];
    const size_t n_ab = (size_t)gA * (size_t)gB, n_bits = n_ab * (size_t)gT;
    s->cell_of = malloc(n_ab * sizeof *s->cell_of);
    seen = calloc(n_bits / 8 + 1, 1);
    s->first_P = malloc(((n_ab < n ? n_ab : n) + 1) * sizeof *s->first_P); /* at most min(grid, n) cells */
    s->tmap = new_map(gT);
    /* the arrays to check, by type */
    const int nv = n_arrays(md);
    dbl_C = malloc(((size_t)nv + 1) * sizeof *dbl_C);
    int_C = malloc(((size_t)nv + 1) * sizeof *int_C);
    if (!s->cell_of || !seen || !s->first_P || !s->tmap || !dbl_C || !int_C)
        goto nomem;
    int n_dbl = 0, n_int = 0;
    for (int v = 0; v < nv; v++) {
        int is_double = 0;
        const void *x = array_at(md, cm, v, &is_double);
        if (!x || (check_V && !check_V[v]))
            continue;
        if (is_double)
            dbl_C[n_dbl++] = x;
        else
            int_C[n_int++] = x;
    }
    for (size_t c = 0; c < n_ab; c++)
        s->cell_of[c] = -1;
    size_t *first_P = s->first_P;
    int32_t P = 0, nA = 0, nB = 0, nT = 0;
    /* Whether each cell's rows are consecutive with months ascending (data
     * sorted by pair and month, as the study's are): then, the panel being
     * balanced, the k-th kept row is cell k / nT, month k % nT, and the
     * outcome needs no rearranging. */
    int ordered = 1;
    int32_t prev_p = -1, prev_t = -1;
    uint64_t hash = OLS_HASH_SEED; /* the sample's, folded into this pass */
    /* One pass: cell of each row, no (cell, month) twice, months present.
     * The arrays are checked after it: by runs when the rows are ordered
     * (vectorised), else row by row. */
    for (size_t i = 0; i < N; i++) {
        if (!keep_N[i])
            continue;
        size_t ab = (size_t)a_N[i] * (size_t)gB + (size_t)b_N[i];
        int32_t p = s->cell_of[ab];
        if (p < 0) {
            p = s->cell_of[ab] = P++;
            first_P[p] = i;
        } else {
            ordered &= p == prev_p && t_N[i] > prev_t;
        }
        prev_p = p;
        prev_t = t_N[i];
        hash = ols_hash_step(hash, i);
        size_t bit = ab * (size_t)gT + (size_t)t_N[i];
        uint8_t mask = (uint8_t)(1u << (bit & 7));
        if (seen[bit >> 3] & mask)
            goto not_applicable;
        seen[bit >> 3] |= mask;
        s->tmap[t_N[i]] = 0; /* present; numbered below */
    }
    for (int32_t g = 0; g < gT; g++)
        if (s->tmap[g] == 0)
            s->tmap[g] = nT++;
    /* Balanced: n = cells x months and no (cell, month) twice, so every
     * cell has every month exactly once. */
    if (n != (size_t)P * (size_t)nT)
        goto not_applicable;
    s->ordered = ordered;
    /* The arrays that must be constant within cells. */
    if (n_dbl + n_int > 0 && ordered && n == N) {
        /* every row kept, cell by cell: cell p is rows p nT .. p nT + nT - 1 */
        for (int32_t p = 0; p < P; p++) {
            const size_t r0 = (size_t)p * (size_t)nT;
            int same = 1;
            for (int k = 0; k < n_dbl; k++) {
                const double *x = dbl_C[k] + r0, v = x[0];
                for (int32_t t = 1; t < nT; t++)
                    same &= x[t] == v;
            }
            for (int k = 0; k < n_int; k++) {
                const int32_t *x = int_C[k] + r0, v = x[0];
                for (int32_t t = 1; t < nT; t++)
                    same &= x[t] == v;
            }
            if (!same)
                goto not_applicable;
        }
    } else if (n_dbl + n_int > 0) {
        for (size_t i = 0; i < N; i++) {
            if (!keep_N[i])
                continue;
            const size_t f = first_P[s->cell_of[(size_t)a_N[i] * (size_t)gB + (size_t)b_N[i]]];
            for (int k = 0; k < n_dbl; k++)
                if (dbl_C[k][i] != dbl_C[k][f])
                    goto not_applicable;
            for (int k = 0; k < n_int; k++)
                if (int_C[k][i] != int_C[k][f])
                    goto not_applicable;
        }
    }
    /* Dense A and B codes over the cells (every level of the sample is in
     * some cell). */
    s->amap = new_map(gA);
    s->bmap = new_map(gB);
    s->la_P = malloc(((size_t)P + 1) * sizeof *s->la_P);
    s->lb_P = malloc(((size_t)P + 1) * sizeof *s->lb_P);
    if (!s->amap || !s->bmap || !s->la_P || !s->lb_P)
        goto nomem;
    for (int32_t p = 0; p < P; p++) {
        int32_t a = a_N[first_P[p]], b = b_N[first_P[p]];
        if (s->amap[a] < 0)
            s->amap[a] = nA++;
        if (s->bmap[b] < 0)
            s->bmap[b] = nB++;
        s->la_P[p] = s->amap[a];
        s->lb_P[p] = s->bmap[b];
    }
    s->P = P;
    s->nA = nA;
    s->nB = nB;
    s->nT = nT;
    /* Blocks: connected components of the A-B graph of cells. When each is
     * a complete table, the two-way projection within a month is the
     * double demeaning within blocks (closed form); otherwise (a subset
     * dropping whole cells) it is solved exactly on the small graph
     * (cell_projection.c). */
    parent = malloc(((size_t)nA + (size_t)nB) * sizeof *parent);
    s->comp_A = malloc(((size_t)nA + 1) * sizeof *s->comp_A);
    s->comp_B = malloc(((size_t)nB + 1) * sizeof *s->comp_B);
    if (!parent || !s->comp_A || !s->comp_B)
        goto nomem;
    for (size_t v = 0; v < (size_t)nA + (size_t)nB; v++)
        parent[v] = v;
    for (int32_t p = 0; p < P; p++) {
        size_t x = find_root(parent, (size_t)s->la_P[p]), y = find_root(parent, (size_t)nA + (size_t)s->lb_P[p]);
        if (x != y)
            parent[x < y ? y : x] = x < y ? x : y;
    }
    int32_t n_comp = 0;
    /* Block numbers by root; the root of a block is its smallest node, an A
     * level since every level belongs to some cell. */
    for (int32_t a = 0; a < nA; a++) {
        size_t root = find_root(parent, (size_t)a);
        s->comp_A[a] = root == (size_t)a ? n_comp++ : -1;
    }
    for (int32_t a = 0; a < nA; a++)
        s->comp_A[a] = s->comp_A[find_root(parent, (size_t)a)];
    s->n_comp = n_comp;
    s->nexp_C = calloc((size_t)n_comp + 1, sizeof *s->nexp_C);
    s->nimp_C = calloc((size_t)n_comp + 1, sizeof *s->nimp_C);
    double *cells_C = calloc((size_t)n_comp + 1, sizeof *cells_C);
    if (!s->nexp_C || !s->nimp_C || !cells_C) {
        free(cells_C);
        goto nomem;
    }
    for (int32_t a = 0; a < nA; a++)
        s->nexp_C[s->comp_A[a]] += 1;
    for (int32_t b = 0; b < nB; b++) {
        size_t root = find_root(parent, (size_t)nA + (size_t)b); /* an A level, see above */
        s->comp_B[b] = s->comp_A[root];
        s->nimp_C[s->comp_A[root]] += 1;
    }
    for (int32_t p = 0; p < P; p++)
        cells_C[s->comp_A[s->la_P[p]]] += 1;
    s->complete = 1;
    for (int32_t c = 0; c < n_comp; c++)
        s->complete = s->complete && cells_C[c] == s->nexp_C[c] * s->nimp_C[c];
    free(cells_C);
    s->closed = cm->closed_ok && s->complete;
    if (!s->closed && (st = build_partitions(md, cm, s, err)))
        goto done;
    if (!s->closed && !s->cp)
        goto not_applicable; /* too large or unreliable for the dense solve */
    s->sample_hash = hash;
    s->applicable = 1;
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory checking the panel structure (%zu rows)", n);
not_applicable: /* st: GRAVRD_OK unless set above */
done:
    free(seen);
    free(parent);
    free(dbl_C);
    free(int_C);
    return st;
}

/* What the collapsed fit needs of one outcome on one structure: its cell
 * means, total sum of squares and the within-cell part's sum of squares
 * per cell. It does not depend on the regressors, so with a cache the
 * models sharing outcome and sample compute it once. */
typedef struct {
    double *ybar_P, *wss_P;
    double tss, wss;
} outcome_stats;

static void outcome_stats_free(void *p)
{
    outcome_stats *o = p;
    if (o) {
        free(o->ybar_P);
        free(o->wss_P);
    }
    free(o);
}

/* The outcome y on the rows of s: one pass over the rows arranges it by
 * cell and month; the rest runs on that array. */
static gravrd_status outcome_stats_compute(const model_data *md, const cell_month_form *cm,
                                           const panel_structure *s, const uint8_t *keep_N, const double *y,
                                           outcome_stats *o, gravrd_error *err)
{
    const size_t N = md->n_rows, n = s->n;
    const int32_t nA = s->nA, nB = s->nB, nT = s->nT, P = s->P, n_comp = s->n_comp, gB = s->gB;
    const int32_t *a_N = md->var_codes_VN[cm->va], *b_N = md->var_codes_VN[cm->vb], *t_N = md->var_codes_VN[cm->vt];
    /* The outcome by cell and month: the rows themselves when all are kept
     * and ordered, else gathered (one pass over the rows). */
    const int in_place = s->ordered && n == N;
    double *ycm_own = in_place ? NULL : malloc((n ? n : 1) * sizeof *ycm_own);
    const double *ycm = in_place ? y : ycm_own;
    double *s_at = calloc((size_t)nA * (size_t)nT + 1, sizeof *s_at);
    double *s_bt = calloc((size_t)nB * (size_t)nT + 1, sizeof *s_bt);
    double *s_p = malloc(((size_t)P + 1) * sizeof *s_p);
    double *s_ct = NULL, *sa = NULL, *m_p = NULL;
    o->ybar_P = malloc(((size_t)P + 1) * sizeof *o->ybar_P);
    o->wss_P = malloc(((size_t)P + 1) * sizeof *o->wss_P);
    gravrd_status st = GRAVRD_OK;
    if (!ycm || !s_at || !s_bt || !s_p || !o->ybar_P || !o->wss_P)
        goto nomem;
    if (ycm_own && s->ordered) { /* the kept rows in order, without branches */
        size_t r = 0;
        for (size_t i = 0; i < N && r < n; i++) { /* a dropped row's slot is written again */
            ycm_own[r] = y[i];
            r += keep_N[i] != 0;
        }
    } else if (ycm_own) {
        for (size_t i = 0; i < N; i++)
            if (keep_N[i])
                ycm_own[(size_t)s->cell_of[(size_t)a_N[i] * (size_t)gB + (size_t)b_N[i]] * (size_t)nT +
                        (size_t)s->tmap[t_N[i]]] = y[i];
    }
    /* Totals by cell, by (A, month) and (B, month), and overall. */
    double total = 0;
    for (int32_t p = 0; p < P; p++) {
        const double *yp = ycm + (size_t)p * (size_t)nT;
        double *at = s_at + (size_t)s->la_P[p] * (size_t)nT, *bt = s_bt + (size_t)s->lb_P[p] * (size_t)nT;
        double sp = 0;
        for (int32_t t = 0; t < nT; t++) {
            sp += yp[t];
            at[t] += yp[t];
            bt[t] += yp[t];
        }
        s_p[p] = sp;
        total += sp;
    }
    double *ybar = o->ybar_P, *wss = o->wss_P;
    for (int32_t p = 0; p < P; p++)
        ybar[p] = s_p[p] / (double)nT;
    const double mean = total / (double)n;
    double tss = 0;
    for (size_t k = 0; k < n; k++)
        tss += (ycm[k] - mean) * (ycm[k] - mean);
    o->tss = tss;
    if (!s->closed) {
        /* w = (I - P_W)(I - M) y: each month's deviations from the cell
         * means, projected off the interacted FE on the cell graph; their
         * totals by level are the month totals less the cell means'. */
        const int m = s->m;
        const size_t R = (size_t)nT;
        double **t_K = calloc((size_t)m + 1, sizeof *t_K), **c_K = calloc((size_t)m + 1, sizeof *c_K);
        int ok = t_K && c_K;
        for (int k = 0; ok && k < m; k++) {
            t_K[k] = calloc((size_t)s->L_K[k] * R + 1, sizeof **t_K);
            c_K[k] = malloc(((size_t)s->L_K[k] * R + 1) * sizeof **c_K);
            ok = t_K[k] && c_K[k];
        }
        if (ok) {
            for (int32_t p = 0; p < P; p++) {
                const double *yp = ycm + (size_t)p * R;
                for (int k = 0; k < m; k++) {
                    double *tk = t_K[k] + (size_t)s->level_KP[k][p] * R;
                    for (size_t t = 0; t < R; t++)
                        tk[t] += yp[t] - ybar[p];
                }
            }
            ok = cp_solver_solve(s->cp, (const double *const *)t_K, c_K) == 0;
        }
        if (ok)
            for (int32_t p = 0; p < P; p++) {
                const double *yp = ycm + (size_t)p * R;
                double ss = 0;
                for (size_t t = 0; t < R; t++) {
                    double e = yp[t] - ybar[p];
                    for (int k = 0; k < m; k++)
                        e -= c_K[k][(size_t)s->level_KP[k][p] * R + t];
                    ss += e * e;
                }
                wss[p] = ss;
            }
        for (int k = 0; k < m; k++) {
            if (t_K)
                free(t_K[k]);
            if (c_K)
                free(c_K[k]);
        }
        free(t_K);
        free(c_K);
        if (!ok)
            goto nomem;
    } else {
        /* w = dd_t(y) - mean over months of dd_t(y), where dd_t
         * double-demeans month t's complete block tables; its squares are
         * summed per cell around the cell's own mean (no cancellation). The
         * mean over months of dd_t(y) for each cell is the double demeaning
         * of the cell means, from the month totals of each A, B and block. */
        s_ct = calloc((size_t)n_comp * (size_t)nT + 1, sizeof *s_ct);
        sa = calloc((size_t)nA + (size_t)nB + (size_t)n_comp + 1, sizeof *sa);
        m_p = malloc(((size_t)P + 1) * sizeof *m_p);
        if (!s_ct || !sa || !m_p)
            goto nomem;
        for (int32_t a = 0; a < nA; a++)
            for (int32_t t = 0; t < nT; t++)
                s_ct[(size_t)s->comp_A[a] * nT + t] += s_at[(size_t)a * nT + t];
        double *sb = sa + nA, *sc = sb + nB;
        for (int32_t a = 0; a < nA; a++)
            for (int32_t t = 0; t < nT; t++)
                sa[a] += s_at[(size_t)a * nT + t];
        for (int32_t b = 0; b < nB; b++)
            for (int32_t t = 0; t < nT; t++)
                sb[b] += s_bt[(size_t)b * nT + t];
        for (int32_t c = 0; c < n_comp; c++)
            for (int32_t t = 0; t < nT; t++)
                sc[c] += s_ct[(size_t)c * nT + t];
        for (int32_t p = 0; p < P; p++) {
            int32_t la = s->la_P[p], c = s->comp_A[la];
            double ne = s->nexp_C[c], ni = s->nimp_C[c];
            m_p[p] = (s_p[p] - sa[la] / ni - sb[s->lb_P[p]] / ne + sc[c] / (ne * ni)) / (double)nT;
        }
        /* Month means of each A, B and block, divided once here rather than
         * per cell and month. */
        for (int32_t a = 0; a < nA; a++)
            for (int32_t t = 0; t < nT; t++)
                s_at[(size_t)a * nT + t] /= s->nimp_C[s->comp_A[a]];
        for (int32_t b = 0; b < nB; b++)
            for (int32_t t = 0; t < nT; t++)
                s_bt[(size_t)b * nT + t] /= s->nexp_C[s->comp_B[b]];
        for (int32_t c = 0; c < n_comp; c++)
            for (int32_t t = 0; t < nT; t++)
                s_ct[(size_t)c * nT + t] /= s->nexp_C[c] * s->nimp_C[c];
        for (int32_t p = 0; p < P; p++) {
            const double *yp = ycm + (size_t)p * (size_t)nT;
            int32_t la = s->la_P[p], c = s->comp_A[la];
            const double *at = s_at + (size_t)la * nT, *bt = s_bt + (size_t)s->lb_P[p] * nT,
                         *ct = s_ct + (size_t)c * nT;
            const double mp = m_p[p];
            double ss = 0;
            for (int32_t t = 0; t < nT; t++) {
                double e = yp[t] - at[t] - bt[t] + ct[t] - mp;
                ss += e * e;
            }
            wss[p] = ss;
        }
    }
    double W = 0;
    for (int32_t p = 0; p < P; p++)
        W += wss[p];
    o->wss = W;
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the collapsed fit (%zu rows)", n);
done:
    free(ycm_own);
    free(s_at);
    free(s_bt);
    free(s_p);
    free(s_ct);
    free(sa);
    free(m_p);
    return st;
}

/* Fits the outcomes on a sample whose structure s applies: the cell-level
 * regression of cell means (regressors, FE and clusters of each cell's
 * first row), with the within-cell parts of the outcomes' residuals. */
static gravrd_status fit_collapsed(const model_data *md, const cell_month_form *cm, const panel_structure *s,
                                   const uint8_t *keep_N, gravrd_reg_cache *cache, const int *outcome_J, int n_out,
                                   int intercept, const gravrd_reg_options *opt, gravrd_reg_result *results_J,
                                   gravrd_error *err)
{
    const int32_t P = s->P, nA = s->nA, nB = s->nB, nT = s->nT;
    const int n_terms = md->n_terms, n_fe = md->n_fe, n_cl = md->n_cluster;
    const size_t *first_P = s->first_P;
    gravrd_status st = GRAVRD_OK;
    outcome_stats **own_J = calloc((size_t)n_out + 1, sizeof *own_J);
    double **out_J = calloc((size_t)n_out + 1, sizeof *out_J);
    double *tss_J = malloc(((size_t)n_out + 1) * sizeof *tss_J), *wss_J = malloc(((size_t)n_out + 1) * sizeof *wss_J);
    double *wss_JP = malloc(((size_t)n_out * (size_t)P + 1) * sizeof *wss_JP);
    double **term_K = calloc((size_t)n_terms + 1, sizeof *term_K);
    int32_t **fe_Q = calloc((size_t)n_fe + 1, sizeof *fe_Q), **cl_C = calloc((size_t)n_cl + 1, sizeof *cl_C);
    int32_t *fe_groups = calloc((size_t)n_fe + 1, sizeof *fe_groups), *fe_levels = calloc((size_t)n_fe + 1, sizeof *fe_levels);
    uint8_t *ones = malloc((size_t)P + 1);
    int *idx_J = malloc(((size_t)n_out + 1) * sizeof *idx_J);
    if (!own_J || !out_J || !tss_J || !wss_J || !wss_JP || !term_K || !fe_Q || !cl_C || !fe_groups ||
        !fe_levels || !ones || !idx_J)
        goto nomem;
    memset(ones, 1, (size_t)P);
    for (int j = 0; j < n_out; j++) {
        const double *y = md->outcome_ON[outcome_J[j]];
        uintptr_t key[3] = {'Y', (uintptr_t)s, (uintptr_t)y};
        const outcome_stats *o = cache ? reg_cache_blob_find(cache, key, 3) : NULL;
        if (!o) {
            outcome_stats *c = calloc(1, sizeof *c);
            st = c ? outcome_stats_compute(md, cm, s, keep_N, y, c, err)
                   : gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            if (st) {
                if (cache)
                    reg_cache_blob_abandon(cache, key, 3);
                outcome_stats_free(c);
                goto done;
            }
            if (cache) {
                if (!(o = reg_cache_blob_add(cache, key, 3, c, outcome_stats_free)))
                    goto nomem;
            } else {
                o = own_J[j] = c;
            }
        }
        out_J[j] = o->ybar_P; /* read-only in ols_fit_sample */
        tss_J[j] = o->tss;
        wss_J[j] = o->wss;
        memcpy(wss_JP + (size_t)j * (size_t)P, o->wss_P, (size_t)P * sizeof *wss_JP);
        idx_J[j] = j;
    }
    /* The cell-level inputs: each cell's first row. */
    for (int t = 0; t < n_terms; t++) {
        if (!(term_K[t] = malloc(((size_t)P + 1) * sizeof(double))))
            goto nomem;
        for (int32_t p = 0; p < P; p++)
            term_K[t][p] = md->term_KN[t][first_P[p]];
    }
    int k_int = 0; /* partition of the next interacted FE */
    for (int q = 0; q < n_fe; q++) {
        if (!(fe_Q[q] = malloc(((size_t)P + 1) * sizeof(int32_t))))
            goto nomem;
        if (cm->interacted_Q[q]) {
            /* X^T: the cell-level FE is X (the partition), with every level
             * of X in every month originally */
            const int32_t *l;
            int32_t L;
            if (s->closed) { /* A^T and B^T */
                const int is_a = cm->x_QV[q][0] == cm->va;
                l = is_a ? s->la_P : s->lb_P;
                L = is_a ? nA : nB;
            } else {
                l = s->level_KP[k_int];
                L = s->L_K[k_int];
            }
            k_int++;
            memcpy(fe_Q[q], l, (size_t)P * sizeof(int32_t));
            fe_groups[q] = L;
            fe_levels[q] = L * nT;
            continue;
        }
        fe_groups[q] = md->fe_groups_Q[q];
        /* Constant within cells: its levels in the sample are those of the cells. */
        int32_t G = 0, *map = new_map(md->fe_groups_Q[q]);
        if (!map)
            goto nomem;
        for (int32_t p = 0; p < P; p++) {
            int32_t code = md->fe_QN[q][first_P[p]];
            fe_Q[q][p] = code;
            if (map[code] < 0)
                map[code] = G++;
        }
        free(map);
        fe_levels[q] = G;
    }
    for (int c = 0; c < n_cl; c++) {
        if (!(cl_C[c] = malloc(((size_t)P + 1) * sizeof(int32_t))))
            goto nomem;
        for (int32_t p = 0; p < P; p++)
            cl_C[c][p] = md->cluster_CN[c][first_P[p]];
    }
    {
        model_data pmd = {0};
        pmd.n_rows = (size_t)P;
        pmd.n_outcomes = n_out;
        pmd.outcome_ON = out_J;
        pmd.n_terms = n_terms;
        pmd.term_KN = term_K;
        pmd.term_names = md->term_names;
        pmd.n_fe = n_fe;
        pmd.fe_QN = fe_Q;
        pmd.fe_groups_Q = fe_groups;
        pmd.fe_names = md->fe_names;
        pmd.n_cluster = n_cl;
        pmd.cluster_CN = cl_C;
        pmd.cluster_groups_C = md->cluster_groups_C;
        pmd.cluster_names = md->cluster_names;
        /* The original components of a pair of FE (reghdfe's rule): A^T
         * and B^T form one copy of the cell-level A-B graph per month; any
         * pair with a cell-constant FE has the cell-level components. */
        uint8_t interacted[CM_MAX_FE];
        for (int q = 0; q < n_fe && q < CM_MAX_FE; q++)
            interacted[q] = (uint8_t)cm->interacted_Q[q];
        ols_collapse cz = {s->n, (double)nT, s->sample_hash, fe_levels, interacted, tss_J, wss_J, wss_JP, s->first_P};
        st = ols_fit_sample(&pmd, ones, idx_J, n_out, intercept, opt, &cz, results_J, err);
        for (int j = 0; j < n_out && !st; j++)
            results_J[j].collapsed = 1;
    }
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the collapsed fit (%zu rows)", s->n);
done:
    for (int j = 0; own_J && j < n_out; j++)
        outcome_stats_free(own_J[j]);
    free(own_J);
    free(out_J);
    free(tss_J);
    free(wss_J);
    free(wss_JP);
    for (int t = 0; term_K && t < n_terms; t++)
        free(term_K[t]);
    free(term_K);
    for (int q = 0; fe_Q && q < n_fe; q++)
        free(fe_Q[q]);
    free(fe_Q);
    for (int c = 0; cl_C && c < n_cl; c++)
        free(cl_C[c]);
    free(cl_C);
    free(fe_groups);
    free(fe_levels);
    free(ones);
    free(idx_J);
    return st;
}

/* Whether an array is constant within every (A, B) cell over the whole
 * frame (rows where it and A, B are present), cached per array: then it is
 * constant within cells of every sample and the structure pass need not
 * check it. */
typedef struct {
    const model_data *md;
    const cell_month_form *cm;
    const void *x;
    int is_double;
} constancy_ref;

static int constant_in_cells(const void *ctx)
{
    const constancy_ref *c = ctx;
    const model_data *md = c->md;
    const int32_t *a_N = md->var_codes_VN[c->cm->va], *b_N = md->var_codes_VN[c->cm->vb];
    const size_t N = md->n_rows;
    const size_t gB = (size_t)md->var_groups_V[c->cm->vb], n_ab = (size_t)md->var_groups_V[c->cm->va] * gB;
    size_t *first = malloc((n_ab + 1) * sizeof *first);
    if (!first)
        return -1;
    for (size_t k = 0; k < n_ab; k++)
        first[k] = SIZE_MAX;
    int same = 1;
    const double *xd = c->is_double ? c->x : NULL;
    const int32_t *xi = c->is_double ? NULL : c->x;
    for (size_t i = 0; i < N && same; i++) {
        if (a_N[i] < 0 || b_N[i] < 0 || (xd ? !isfinite(xd[i]) : xi[i] < 0))
            continue;
        size_t ab = (size_t)a_N[i] * gB + (size_t)b_N[i];
        if (first[ab] == SIZE_MAX)
            first[ab] = i;
        else
            same = xd ? xd[i] == xd[first[ab]] : xi[i] == xi[first[ab]];
    }
    free(first);
    return same;
}

static gravrd_status frame_constant(const model_data *md, const cell_month_form *cm, gravrd_reg_cache *cache,
                                    const void *x, int is_double, int *constant, gravrd_error *err)
{
    const constancy_ref ref = {md, cm, x, is_double};
    uintptr_t key[5] = {'C', (uintptr_t)x, (uintptr_t)md->var_codes_VN[cm->va], (uintptr_t)md->var_codes_VN[cm->vb],
                        (uintptr_t)is_double};
    return reg_cache_flag(cache, key, 5, constant_in_cells, &ref, constant, err);
}

/* The structure of the sample keep_N (built, or the cache's), NULL with
 * GRAVRD_OK when the form does not apply. *owned: the caller frees it. */
static gravrd_status get_structure(const model_data *md, const cell_month_form *cm, const uint8_t *keep_N,
                                   gravrd_reg_cache *cache, const panel_structure **out, int *owned,
                                   gravrd_error *err)
{
    *out = NULL;
    *owned = 0;
    const size_t N = md->n_rows;
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        n += keep_N[i] != 0;
    if (n == 0)
        return GRAVRD_OK;
    /* Cells and (cell, month) bits are indexed by the frame's codes of A, B
     * and T (no pass to number them over the sample first); a grid much
     * larger than the sample takes the general path. */
    const double gA = md->var_groups_V[cm->va], gB = md->var_groups_V[cm->vb], gT = md->var_groups_V[cm->vt];
    if (gA * gB > 4.0 * (double)n + 65536.0 || gA * gB * gT > 64.0 * (double)n + 65536.0 * 8 ||
        (gA + gB) * gT > 4.0 * (double)n + 65536.0)
        return GRAVRD_OK;
    const int nv = n_arrays(md);
    uint8_t *check_V = NULL;
    uintptr_t *key = NULL;
    int n_key = 0;
    gravrd_status st = GRAVRD_OK;
    if (cache) {
        /* The identity of the kept rows (a cache entry), of A, B, T, and of
         * the arrays whose constancy within cells the pass must check
         * (those not constant within cells on the whole frame). */
        check_V = calloc((size_t)nv + 1, 1);
        key = malloc(((size_t)nv + 6 + (size_t)md->n_fe * (MD_FE_VARS + 1)) * sizeof *key);
        if (!check_V || !key)
            goto nomem;
        key[n_key++] = 'S';
        key[n_key++] = (uintptr_t)keep_N;
        key[n_key++] = (uintptr_t)md->var_codes_VN[cm->va];
        key[n_key++] = (uintptr_t)md->var_codes_VN[cm->vb];
        key[n_key++] = (uintptr_t)md->var_codes_VN[cm->vt];
        /* the partitions: each interacted FE's other variables */
        for (int q = 0; q < md->n_fe; q++)
            if (cm->interacted_Q[q]) {
                key[n_key++] = (uintptr_t)(0x100 + cm->n_x_Q[q]);
                for (int k = 0; k < cm->n_x_Q[q]; k++)
                    key[n_key++] = (uintptr_t)md->var_codes_VN[cm->x_QV[q][k]];
            }
        key[n_key++] = 0;
        for (int v = 0; v < nv; v++) {
            int is_double = 0, constant = 0;
            const void *x = array_at(md, cm, v, &is_double);
            if (!x)
                continue;
            if ((st = frame_constant(md, cm, cache, x, is_double, &constant, err)))
                goto done;
            if (!constant) {
                check_V[v] = 1;
                key[n_key++] = (uintptr_t)x;
            }
        }
        const panel_structure *have = reg_cache_blob_find(cache, key, n_key);
        if (have) {
            *out = have->applicable ? have : NULL;
            goto done;
        }
    }
    panel_structure *s = calloc(1, sizeof *s);
    st = s ? structure_build(md, cm, keep_N, n, check_V, s, err)
           : gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory checking the panel structure");
    if (st) {
        if (cache)
            reg_cache_blob_abandon(cache, key, n_key);
        structure_free(s);
        goto done;
    }
    if (cache) {
        /* kept even when not applicable: the next model skips the pass */
        const panel_structure *kept = reg_cache_blob_add(cache, key, n_key, s, structure_free);
        if (!kept)
            goto nomem;
        *out = kept->applicable ? kept : NULL;
    } else if (s->applicable) {
        *out = s;
        *owned = 1;
    } else {
        structure_free(s);
    }
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory checking the panel structure (%zu rows)", n);
done:
    free(check_V);
    free(key);
    return st;
}

gravrd_status ols_fit_auto(const model_data *md, const uint8_t *keep_N, gravrd_reg_cache *keep_cache,
                           const int *outcome_J, int n_out, int intercept, const gravrd_reg_options *opt,
                           gravrd_reg_result *results_J, gravrd_error *err)
{
    cell_month_form cm;
    if (!opt->no_shortcuts && md->n_fe >= 2 && find_form(md, &cm)) {
        const panel_structure *s = NULL;
        int owned = 0;
        gravrd_status st = get_structure(md, &cm, keep_N, keep_cache, &s, &owned, err);
        if (st)
            return st;
        if (s) {
            st = fit_collapsed(md, &cm, s, keep_N, keep_cache, outcome_J, n_out, intercept, opt, results_J, err);
            if (owned)
                structure_free((panel_structure *)s);
            return st;
        }
    }
    return ols_fit_sample(md, keep_N, outcome_J, n_out, intercept, opt, NULL, results_J, err);
}
