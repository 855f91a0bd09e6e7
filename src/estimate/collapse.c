/* collapse.c - an exact shortcut for balanced cell x month panels (issue 6).
 *
 * When the FE are A^T + B^T (+ FE constant within cells (a,b)), every cell
 * present is observed exactly once in every month, and the regressors and
 * the clusters are constant within cells, the regression equals the
 * cell-level regression of cell means (FE A, B and the others) plus a
 * within-cell part: in closed form (double demeaning within each month) when
 * each connected block of the A-B graph is a complete table, else by an
 * exact two-way projection on the small cell graph (bipartite.c).
 * The derivation is in docs/algorithms.md ("Collapse of balanced cell x month
 * panels"); ols_fit_sample turns the cell-level fit into the original
 * statistics with an ols_collapse. Anything else takes the general path. */
#include "bipartite.h"
#include "ols.h"

#include "gravrd/hdfe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t *amap, *bmap, *tmap; /* frame codes -> dense codes over the sample */
    int32_t *cell_of;            /* la * nB + lb -> cell */
    size_t *first_P;             /* frame row of each cell's first observation */
    int32_t *la_P, *lb_P;        /* dense A and B of each cell */
    uint8_t *seen;               /* cell x month */
    size_t *parent;              /* union-find over A then B levels */
    int32_t *comp_A, *comp_B;    /* block of each A and B level */
    double *nexp_C, *nimp_C;     /* A and B levels per block */
    double *s_at, *s_bt, *s_ct, *s_p, *m_p;
    double *raw_at, *raw_bt, *raw_p, *total_J; /* outcome totals by frame codes */
    /* Cell-level model (arrays owned here, strings borrowed from md). */
    double **out_J, **term_K;
    int32_t **fe_Q, **cl_C, *fe_groups, *fe_levels;
    double *tss_J, *wss_J, *wss_JP;
    uint8_t *ones;
    int *idx_J;
    /* Incomplete blocks: the exact within-month two-way projection. */
    bip_solver *bip;
    double *f_at, *f_bt, *ysum_a, *ysum_b;
} collapse_work;

static void work_free(collapse_work *w, int n_out, int n_terms, int n_fe, int n_cl)
{
    free(w->amap);
    free(w->bmap);
    free(w->tmap);
    free(w->cell_of);
    free(w->first_P);
    free(w->la_P);
    free(w->lb_P);
    free(w->seen);
    free(w->parent);
    free(w->comp_A);
    free(w->comp_B);
    free(w->nexp_C);
    free(w->nimp_C);
    free(w->s_at);
    free(w->s_bt);
    free(w->s_ct);
    free(w->s_p);
    free(w->m_p);
    free(w->raw_at);
    free(w->raw_bt);
    free(w->raw_p);
    free(w->total_J);
    for (int j = 0; w->out_J && j < n_out; j++)
        free(w->out_J[j]);
    free(w->out_J);
    for (int t = 0; w->term_K && t < n_terms; t++)
        free(w->term_K[t]);
    free(w->term_K);
    for (int q = 0; w->fe_Q && q < n_fe; q++)
        free(w->fe_Q[q]);
    free(w->fe_Q);
    for (int c = 0; w->cl_C && c < n_cl; c++)
        free(w->cl_C[c]);
    free(w->cl_C);
    free(w->fe_groups);
    free(w->fe_levels);
    free(w->tss_J);
    free(w->wss_J);
    free(w->wss_JP);
    free(w->ones);
    free(w->idx_J);
    bip_solver_free(w->bip);
    free(w->f_at);
    free(w->f_bt);
    free(w->ysum_a);
    free(w->ysum_b);
}

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

/* Finds FE q1 = A^T and q2 = B^T sharing exactly one variable T. Returns 1
 * when found. */
static int find_cell_month(const model_data *md, int *q1, int *q2, int *va, int *vb, int *vt)
{
    if (!md->fe_n_vars_Q || !md->fe_var_Q2)
        return 0;
    for (int i = 0; i < md->n_fe; i++) {
        if (md->fe_n_vars_Q[i] != 2)
            continue;
        for (int k = i + 1; k < md->n_fe; k++) {
            if (md->fe_n_vars_Q[k] != 2)
                continue;
            const int *u = md->fe_var_Q2 + 2 * i, *v = md->fe_var_Q2 + 2 * k;
            if (u[0] < 0 || u[1] < 0 || v[0] < 0 || v[1] < 0 || u[0] == u[1] || v[0] == v[1])
                continue;
            for (int x = 0; x < 2; x++)
                for (int y = 0; y < 2; y++)
                    if (u[x] == v[y] && u[1 - x] != v[1 - y]) {
                        *q1 = i;
                        *q2 = k;
                        *vt = u[x];
                        *va = u[1 - x];
                        *vb = v[1 - y];
                        return 1;
                    }
        }
    }
    return 0;
}

/* Checks the structure and builds the cell-level problem; fits it. Returns
 * GRAVRD_OK with *applied = 1 when fitted, *applied = 0 when a condition
 * fails (nothing reported), or an error. */
static gravrd_status try_collapse(const model_data *md, const uint8_t *keep_N, const int *outcome_J, int n_out,
                                  int intercept, const gravrd_reg_options *opt, gravrd_reg_result *results_J,
                                  int *applied, gravrd_error *err)
{
    *applied = 0;
    int q1, q2, va, vb, vt;
    if (opt->no_shortcuts || md->n_fe < 2 || !find_cell_month(md, &q1, &q2, &va, &vb, &vt))
        return GRAVRD_OK;
    const size_t N = md->n_rows;
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        n += keep_N[i] != 0;
    if (n == 0)
        return GRAVRD_OK;
    const int32_t *a_N = md->var_codes_VN[va], *b_N = md->var_codes_VN[vb], *t_N = md->var_codes_VN[vt];
    collapse_work w = {0};
    gravrd_status st = GRAVRD_OK;
    int32_t nA = 0, nB = 0, nT = 0, P = 0;
    /* Cells and (cell, month) bits are indexed by the frame's codes of A, B
     * and T (no pass to number them over the sample first); a grid much
     * larger than the sample takes the general path. */
    const int32_t gA = md->var_groups_V[va], gB = md->var_groups_V[vb], gT = md->var_groups_V[vt];
    if ((double)gA * (double)gB > 4.0 * (double)n + 65536.0 ||
        (double)gA * (double)gB * (double)gT > 64.0 * (double)n + 65536.0 * 8 ||
        ((double)gA + (double)gB) * (double)gT * (double)n_out > 4.0 * (double)n + 65536.0)
        goto skip;
    const size_t n_ab = (size_t)gA * (size_t)gB, n_bits = n_ab * (size_t)gT;
    w.cell_of = malloc(n_ab * sizeof *w.cell_of);
    w.seen = calloc(n_bits / 8 + 1, 1);
    w.first_P = malloc((n_ab < n ? n_ab : n) * sizeof *w.first_P); /* at most min(grid, n) cells */
    w.tmap = new_map(gT);
    /* Outcome totals per (A, month), (B, month) and cell, by frame codes,
     * gathered in the same pass. */
    const size_t n_at = (size_t)gA * (size_t)gT, n_bt = (size_t)gB * (size_t)gT, max_p = n_ab < n ? n_ab : n;
    w.raw_at = calloc((size_t)n_out * n_at + 1, sizeof *w.raw_at);
    w.raw_bt = calloc((size_t)n_out * n_bt + 1, sizeof *w.raw_bt);
    w.raw_p = calloc((size_t)n_out * max_p + 1, sizeof *w.raw_p);
    w.total_J = calloc((size_t)n_out, sizeof *w.total_J);
    if (!w.cell_of || !w.seen || !w.first_P || !w.tmap || !w.raw_at || !w.raw_bt || !w.raw_p || !w.total_J)
        goto nomem;
    for (size_t c = 0; c < n_ab; c++)
        w.cell_of[c] = -1;
    const int n_terms_ = md->n_terms, n_fe_ = md->n_fe, n_cl_ = md->n_cluster;
    const double *const *term_K = (const double *const *)md->term_KN;
    const int32_t *const *fe_QN = (const int32_t *const *)md->fe_QN;
    const int32_t *const *cl_CN = (const int32_t *const *)md->cluster_CN;
    /* One pass: cell of each row, no (cell, month) twice, months present,
     * and the regressors, other FE and clusters equal to the cell's first
     * row's. */
    for (size_t i = 0; i < N; i++) {
        if (!keep_N[i])
            continue;
        size_t ab = (size_t)a_N[i] * (size_t)gB + (size_t)b_N[i];
        int32_t p = w.cell_of[ab];
        if (p < 0) {
            p = w.cell_of[ab] = P++;
            w.first_P[p] = i;
        }
        size_t f = w.first_P[p];
        for (int t = 0; t < n_terms_; t++)
            if (term_K[t][i] != term_K[t][f])
                goto skip;
        for (int q = 0; q < n_fe_; q++)
            if (q != q1 && q != q2 && fe_QN[q][i] != fe_QN[q][f])
                goto skip;
        for (int c = 0; c < n_cl_; c++)
            if (cl_CN[c][i] != cl_CN[c][f])
                goto skip;
        size_t bit = ab * (size_t)gT + (size_t)t_N[i];
        uint8_t mask = (uint8_t)(1u << (bit & 7));
        if (w.seen[bit >> 3] & mask)
            goto skip;
        w.seen[bit >> 3] |= mask;
        w.tmap[t_N[i]] = 0; /* present; numbered below */
        for (int j = 0; j < n_out; j++) {
            double v = md->outcome_ON[outcome_J[j]][i];
            w.total_J[j] += v;
            w.raw_p[(size_t)j * max_p + (size_t)p] += v;
            w.raw_at[(size_t)j * n_at + (size_t)a_N[i] * (size_t)gT + (size_t)t_N[i]] += v;
            w.raw_bt[(size_t)j * n_bt + (size_t)b_N[i] * (size_t)gT + (size_t)t_N[i]] += v;
        }
    }
    for (int32_t g = 0; g < gT; g++)
        if (w.tmap[g] == 0)
            w.tmap[g] = nT++;
    /* Balanced: n = cells x months and no (cell, month) twice, so every
     * cell has every month exactly once. */
    if (n != (size_t)P * (size_t)nT)
        goto skip;
    /* Dense A and B codes over the cells (every level of the sample is in
     * some cell). */
    w.amap = new_map(gA);
    w.bmap = new_map(gB);
    w.la_P = malloc((size_t)P * sizeof *w.la_P);
    w.lb_P = malloc((size_t)P * sizeof *w.lb_P);
    if (!w.amap || !w.bmap || !w.la_P || !w.lb_P)
        goto nomem;
    for (int32_t p = 0; p < P; p++) {
        int32_t a = a_N[w.first_P[p]], b = b_N[w.first_P[p]];
        if (w.amap[a] < 0)
            w.amap[a] = nA++;
        if (w.bmap[b] < 0)
            w.bmap[b] = nB++;
        w.la_P[p] = w.amap[a];
        w.lb_P[p] = w.bmap[b];
    }
    /* When each connected block of the A-B graph of cells is a complete
     * table, the two-way projection within a month is the double demeaning
     * within blocks (closed form); otherwise (a subset dropping whole
     * cells) it is solved exactly on the small graph (bipartite.c). */
    w.parent = malloc(((size_t)nA + (size_t)nB) * sizeof *w.parent);
    w.comp_A = malloc(((size_t)nA + 1) * sizeof *w.comp_A);
    w.comp_B = malloc(((size_t)nB + 1) * sizeof *w.comp_B);
    if (!w.parent || !w.comp_A || !w.comp_B)
        goto nomem;
    for (size_t v = 0; v < (size_t)nA + (size_t)nB; v++)
        w.parent[v] = v;
    for (int32_t p = 0; p < P; p++) {
        size_t x = find_root(w.parent, (size_t)w.la_P[p]), y = find_root(w.parent, (size_t)nA + (size_t)w.lb_P[p]);
        if (x != y)
            w.parent[x < y ? y : x] = x < y ? x : y;
    }
    int32_t n_comp = 0;
    int complete = 1;
    {
        /* Block numbers by root; the root of a block is its smallest node,
         * an A level since every level belongs to some cell. */
        for (int32_t a = 0; a < nA; a++) {
            size_t root = find_root(w.parent, (size_t)a);
            w.comp_A[a] = root == (size_t)a ? n_comp++ : -1;
        }
        for (int32_t a = 0; a < nA; a++)
            w.comp_A[a] = w.comp_A[find_root(w.parent, (size_t)a)];
        w.nexp_C = calloc((size_t)n_comp + 1, sizeof *w.nexp_C);
        w.nimp_C = calloc((size_t)n_comp + 1, sizeof *w.nimp_C);
        double *cells_C = calloc((size_t)n_comp + 1, sizeof *cells_C);
        if (!w.nexp_C || !w.nimp_C || !cells_C) {
            free(cells_C);
            goto nomem;
        }
        for (int32_t a = 0; a < nA; a++)
            w.nexp_C[w.comp_A[a]] += 1;
        for (int32_t b = 0; b < nB; b++) {
            size_t root = find_root(w.parent, (size_t)nA + (size_t)b);
            if (root >= (size_t)nA) { /* cannot happen: every B level is in a cell */
                free(cells_C);
                goto skip;
            }
            w.comp_B[b] = w.comp_A[root];
            w.nimp_C[w.comp_A[root]] += 1;
        }
        for (int32_t p = 0; p < P; p++)
            cells_C[w.comp_A[w.la_P[p]]] += 1;
        for (int32_t c = 0; c < n_comp; c++)
            complete = complete && cells_C[c] == w.nexp_C[c] * w.nimp_C[c];
        free(cells_C);
    }
    if (!complete) {
        /* The larger side is eliminated, the smaller one factored. */
        const int swap = nB > nA;
        int rc = bip_solver_new(swap ? nB : nA, swap ? nA : nB, P, swap ? w.lb_P : w.la_P, swap ? w.la_P : w.lb_P,
                                nT, &w.bip);
        if (rc < 0)
            goto nomem;
        if (rc > 0)
            goto skip;
        w.f_at = malloc((size_t)nA * (size_t)nT * sizeof *w.f_at);
        w.f_bt = malloc((size_t)nB * (size_t)nT * sizeof *w.f_bt);
        w.ysum_a = malloc((size_t)nA * sizeof *w.ysum_a);
        w.ysum_b = malloc((size_t)nB * sizeof *w.ysum_b);
        if (!w.f_at || !w.f_bt || !w.ysum_a || !w.ysum_b)
            goto nomem;
    }

    /* All conditions hold: build the cell-level problem. */
    const int n_fe = md->n_fe, n_cl = md->n_cluster, n_terms = md->n_terms;
    w.out_J = calloc((size_t)n_out, sizeof *w.out_J);
    w.term_K = calloc((size_t)n_terms + 1, sizeof *w.term_K);
    w.fe_Q = calloc((size_t)n_fe, sizeof *w.fe_Q);
    w.cl_C = calloc((size_t)n_cl + 1, sizeof *w.cl_C);
    w.fe_groups = calloc((size_t)n_fe, sizeof *w.fe_groups);
    w.fe_levels = calloc((size_t)n_fe, sizeof *w.fe_levels);
    w.tss_J = calloc((size_t)n_out, sizeof *w.tss_J);
    w.wss_J = calloc((size_t)n_out, sizeof *w.wss_J);
    w.wss_JP = calloc((size_t)n_out * (size_t)P, sizeof *w.wss_JP);
    w.ones = malloc((size_t)P);
    w.idx_J = malloc((size_t)n_out * sizeof *w.idx_J);
    w.s_at = malloc((size_t)nA * (size_t)nT * sizeof *w.s_at);
    w.s_bt = malloc((size_t)nB * (size_t)nT * sizeof *w.s_bt);
    w.s_ct = malloc((size_t)n_comp * (size_t)nT * sizeof *w.s_ct);
    w.s_p = malloc((size_t)P * sizeof *w.s_p);
    w.m_p = malloc((size_t)P * sizeof *w.m_p);
    if (!w.out_J || !w.term_K || !w.fe_Q || !w.cl_C || !w.fe_groups || !w.fe_levels || !w.tss_J || !w.wss_J ||
        !w.wss_JP || !w.ones || !w.idx_J || !w.s_at || !w.s_bt || !w.s_ct || !w.s_p || !w.m_p)
        goto nomem;
    memset(w.ones, 1, (size_t)P);
    for (int t = 0; t < n_terms; t++) {
        if (!(w.term_K[t] = malloc((size_t)P * sizeof(double))))
            goto nomem;
        for (int32_t p = 0; p < P; p++)
            w.term_K[t][p] = md->term_KN[t][w.first_P[p]];
    }
    for (int q = 0; q < n_fe; q++) {
        if (!(w.fe_Q[q] = malloc((size_t)P * sizeof(int32_t))))
            goto nomem;
        if (q == q1 || q == q2) {
            const int32_t *l = q == q1 ? w.la_P : w.lb_P;
            memcpy(w.fe_Q[q], l, (size_t)P * sizeof(int32_t));
            w.fe_groups[q] = q == q1 ? nA : nB;
            w.fe_levels[q] = (q == q1 ? nA : nB) * nT; /* every level of A or B in every month */
            continue;
        }
        w.fe_groups[q] = md->fe_groups_Q[q];
        /* Constant within cells: its levels in the sample are those of the cells. */
        int32_t G = 0, *map = new_map(md->fe_groups_Q[q]);
        if (!map)
            goto nomem;
        for (int32_t p = 0; p < P; p++) {
            int32_t code = md->fe_QN[q][w.first_P[p]];
            w.fe_Q[q][p] = code;
            if (map[code] < 0)
                map[code] = G++;
        }
        free(map);
        w.fe_levels[q] = G;
    }
    for (int c = 0; c < n_cl; c++) {
        if (!(w.cl_C[c] = malloc((size_t)P * sizeof(int32_t))))
            goto nomem;
        for (int32_t p = 0; p < P; p++)
            w.cl_C[c][p] = md->cluster_CN[c][w.first_P[p]];
    }

    /* Outcomes: cell means, total sum of squares, and the within-cell part
     * w = dd_t(y) - mean over months of dd_t(y), where dd_t double-demeans
     * month t's complete block tables; its squares are summed per cell
     * around the cell's own mean (no cancellation). */
    for (int j = 0; j < n_out; j++) {
        const double *y = md->outcome_ON[outcome_J[j]];
        w.idx_J[j] = j;
        if (!(w.out_J[j] = malloc((size_t)P * sizeof(double))))
            goto nomem;
        /* The totals gathered in the structure pass, on dense codes; a
         * block's month totals are the sum of its A levels'. */
        const double *raw_at = w.raw_at + (size_t)j * n_at, *raw_bt = w.raw_bt + (size_t)j * n_bt;
        for (int32_t a = 0; a < gA; a++)
            if (w.amap[a] >= 0)
                for (int32_t t = 0; t < gT; t++)
                    if (w.tmap[t] >= 0)
                        w.s_at[(size_t)w.amap[a] * nT + w.tmap[t]] = raw_at[(size_t)a * gT + t];
        for (int32_t b = 0; b < gB; b++)
            if (w.bmap[b] >= 0)
                for (int32_t t = 0; t < gT; t++)
                    if (w.tmap[t] >= 0)
                        w.s_bt[(size_t)w.bmap[b] * nT + w.tmap[t]] = raw_bt[(size_t)b * gT + t];
        memset(w.s_ct, 0, (size_t)n_comp * (size_t)nT * sizeof *w.s_ct);
        for (int32_t a = 0; a < nA; a++)
            for (int32_t t = 0; t < nT; t++)
                w.s_ct[(size_t)w.comp_A[a] * nT + t] += w.s_at[(size_t)a * nT + t];
        memcpy(w.s_p, w.raw_p + (size_t)j * max_p, (size_t)P * sizeof *w.s_p);
        const double total = w.total_J[j];
        for (int32_t p = 0; p < P; p++)
            w.out_J[j][p] = w.s_p[p] / (double)nT;
        const double mean = total / (double)n;
        if (!complete) {
            /* w = (I - P_D2)(I - M) y: each month's deviations from the cell
             * means, projected off A + B on the cell graph; their totals by
             * A and by B are the month totals less the cell means'. */
            memset(w.ysum_a, 0, (size_t)nA * sizeof *w.ysum_a);
            memset(w.ysum_b, 0, (size_t)nB * sizeof *w.ysum_b);
            for (int32_t p = 0; p < P; p++) {
                w.ysum_a[w.la_P[p]] += w.out_J[j][p];
                w.ysum_b[w.lb_P[p]] += w.out_J[j][p];
            }
            for (int32_t a = 0; a < nA; a++)
                for (int32_t t = 0; t < nT; t++)
                    w.s_at[(size_t)a * nT + t] -= w.ysum_a[a];
            for (int32_t b = 0; b < nB; b++)
                for (int32_t t = 0; t < nT; t++)
                    w.s_bt[(size_t)b * nT + t] -= w.ysum_b[b];
            if (nB > nA)
                bip_solver_solve(w.bip, w.s_bt, w.s_at, w.f_bt, w.f_at);
            else
                bip_solver_solve(w.bip, w.s_at, w.s_bt, w.f_at, w.f_bt);
            double tss = 0;
            double *wss = w.wss_JP + (size_t)j * (size_t)P;
            const double *ybar = w.out_J[j];
            for (size_t i = 0; i < N; i++) {
                if (!keep_N[i])
                    continue;
                int32_t p = w.cell_of[(size_t)a_N[i] * (size_t)gB + (size_t)b_N[i]], lt = w.tmap[t_N[i]];
                double e = y[i] - ybar[p] - w.f_at[(size_t)w.la_P[p] * nT + lt] -
                           w.f_bt[(size_t)w.lb_P[p] * nT + lt];
                wss[p] += e * e;
                tss += (y[i] - mean) * (y[i] - mean);
            }
            w.tss_J[j] = tss;
            double W = 0;
            for (int32_t p = 0; p < P; p++)
                W += wss[p];
            w.wss_J[j] = W;
            continue;
        }
        /* Mean over months of dd_t(y) for each cell: the double demeaning
         * of the cell means, from the month totals of each A, B and block. */
        {
            double *sa = calloc((size_t)nA + (size_t)nB + (size_t)n_comp + 1, sizeof *sa);
            if (!sa)
                goto nomem;
            double *sb = sa + nA, *sc = sb + nB;
            for (int32_t a = 0; a < nA; a++)
                for (int32_t t = 0; t < nT; t++)
                    sa[a] += w.s_at[(size_t)a * nT + t];
            for (int32_t b = 0; b < nB; b++)
                for (int32_t t = 0; t < nT; t++)
                    sb[b] += w.s_bt[(size_t)b * nT + t];
            for (int32_t c = 0; c < n_comp; c++)
                for (int32_t t = 0; t < nT; t++)
                    sc[c] += w.s_ct[(size_t)c * nT + t];
            for (int32_t p = 0; p < P; p++) {
                int32_t la = w.la_P[p], c = w.comp_A[la];
                double ne = w.nexp_C[c], ni = w.nimp_C[c];
                w.m_p[p] = (w.s_p[p] - sa[la] / ni - sb[w.lb_P[p]] / ne + sc[c] / (ne * ni)) / (double)nT;
            }
            free(sa);
        }
        /* Month means of each A, B and block, divided once here rather
         * than per row. */
        for (int32_t a = 0; a < nA; a++)
            for (int32_t t = 0; t < nT; t++)
                w.s_at[(size_t)a * nT + t] /= w.nimp_C[w.comp_A[a]];
        for (int32_t b = 0; b < nB; b++)
            for (int32_t t = 0; t < nT; t++)
                w.s_bt[(size_t)b * nT + t] /= w.nexp_C[w.comp_B[b]];
        for (int32_t c = 0; c < n_comp; c++)
            for (int32_t t = 0; t < nT; t++)
                w.s_ct[(size_t)c * nT + t] /= w.nexp_C[c] * w.nimp_C[c];
        double tss = 0;
        double *wss = w.wss_JP + (size_t)j * (size_t)P;
        for (size_t i = 0; i < N; i++) {
            if (!keep_N[i])
                continue;
            /* The cell from the small cell table (no row-length array). */
            int32_t p = w.cell_of[(size_t)a_N[i] * (size_t)gB + (size_t)b_N[i]], lt = w.tmap[t_N[i]];
            int32_t la = w.la_P[p], lb = w.lb_P[p], c = w.comp_A[la];
            double d = y[i] - w.s_at[(size_t)la * nT + lt] - w.s_bt[(size_t)lb * nT + lt] +
                       w.s_ct[(size_t)c * nT + lt];
            double e = d - w.m_p[p];
            wss[p] += e * e;
            tss += (y[i] - mean) * (y[i] - mean);
        }
        w.tss_J[j] = tss;
        double W = 0;
        for (int32_t p = 0; p < P; p++)
            W += w.wss_JP[(size_t)j * (size_t)P + p];
        w.wss_J[j] = W;
    }

    model_data pmd = {0};
    pmd.n_rows = (size_t)P;
    pmd.n_outcomes = n_out;
    pmd.outcome_ON = w.out_J;
    pmd.n_terms = n_terms;
    pmd.term_KN = w.term_K;
    pmd.term_names = md->term_names;
    pmd.n_fe = n_fe;
    pmd.fe_QN = w.fe_Q;
    pmd.fe_groups_Q = w.fe_groups;
    pmd.fe_names = md->fe_names;
    pmd.n_cluster = n_cl;
    pmd.cluster_CN = w.cl_C;
    pmd.cluster_groups_C = md->cluster_groups_C;
    pmd.cluster_names = md->cluster_names;
    /* The original components of FE 1 and 2 (reghdfe's rule): A^T and B^T
     * form one copy of the cell-level A-B graph per month; any pair with a
     * cell-constant FE has the cell-level components. */
    int first_two_cm = (q1 == 0 && q2 == 1);
    ols_collapse cz = {n, (double)nT, ols_sample_hash(keep_N, N), w.fe_levels, first_two_cm ? (long)nT : 1L,
                       w.tss_J, w.wss_J, w.wss_JP};
    st = ols_fit_sample(&pmd, w.ones, w.idx_J, n_out, intercept, opt, &cz, results_J, err);
    for (int j = 0; j < n_out && !st; j++)
        results_J[j].collapsed = 1;
    *applied = 1;
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory checking the panel structure (%zu rows)", n);
    goto done;
skip:
    st = GRAVRD_OK;
done:
    work_free(&w, n_out, md->n_terms, md->n_fe, md->n_cluster);
    return st;
}

gravrd_status ols_fit_auto(const model_data *md, const uint8_t *keep_N, const int *outcome_J, int n_out,
                           int intercept, const gravrd_reg_options *opt, gravrd_reg_result *results_J,
                           gravrd_error *err)
{
    int applied = 0;
    gravrd_status st = try_collapse(md, keep_N, outcome_J, n_out, intercept, opt, results_J, &applied, err);
    if (st || applied)
        return st;
    return ols_fit_sample(md, keep_N, outcome_J, n_out, intercept, opt, NULL, results_J, err);
}
