/* cell_projection.c - exact projection on FE partitioning a small set of
 * cells (see cell_projection.h).
 *
 * The normal equations of sum_k f_k(level_k(p)) over the cells have a
 * diagonal block for each partition (its levels' cell counts). The largest
 * partition e is eliminated: f_e(c) = (t_e(c) - sum over the cells of c of
 * the other coefficients) / n_c, which leaves S g = t_R - N_Re D_e^-1 t_e
 * on the other partitions' levels, S = D_R - N_Re D_e^-1 N_eR (for two
 * partitions, a weighted graph Laplacian). S is singular: a constant moves
 * freely between partitions within a connected block, and a level can be
 * absorbed entirely by another partition's. The factorisation is a
 * semi-definite Cholesky that sets a coefficient to 0 where its pivot
 * vanishes (the system is consistent, so any such solution has the same
 * fitted values); one refinement step against the full S recovers the
 * digits a poorly connected graph costs. A test solve at construction
 * rejects factors that would not reproduce a known right-hand side. Dense,
 * so only when the partitions other than the largest have at most
 * CP_MAX_DENSE levels in all (the study: 87 + 110 cities). */
#include "cell_projection.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CP_MAX_DENSE 4096

/* A pivot below this share of its diagonal entry is a null direction. */
#define CP_PIVOT_TOL 1e-10

struct cp_solver {
    int m, e, R;
    int32_t P, Rn;        /* cells; levels of the partitions other than e */
    int32_t *L_K;
    int32_t **level_KP;   /* copies */
    int32_t *off_K;       /* first row of partition k in the reduced system (-1 for e) */
    int32_t *start_E;     /* cells of level c of e: cells_E[start_E[c] .. start_E[c + 1]) */
    int32_t *cells_E;
    double *S;            /* Rn x Rn, row-major */
    double *Lf;           /* its semi-definite Cholesky factor, lower */
    uint8_t *null_R;      /* 1 where the pivot vanished */
};

void cp_solver_free(cp_solver *s)
{
    if (!s)
        return;
    for (int k = 0; s->level_KP && k < s->m; k++)
        free(s->level_KP[k]);
    free(s->level_KP);
    free(s->L_K);
    free(s->off_K);
    free(s->start_E);
    free(s->cells_E);
    free(s->S);
    free(s->Lf);
    free(s->null_R);
    free(s);
}

/* y[0..R) -= a x[0..R) */
static void sub_scaled(double *restrict y, double a, const double *restrict x, size_t R)
{
    if (a == 0)
        return;
    for (size_t r = 0; r < R; r++)
        y[r] -= a * x[r];
}

/* z (Rn x R, row-major) := a solution of S z = z through the factor. */
static void factor_solve(const cp_solver *s, double *z)
{
    const int32_t n = s->Rn;
    const size_t R = (size_t)s->R;
    for (int32_t i = 0; i < n; i++) {
        double *zi = z + (size_t)i * R;
        if (s->null_R[i]) {
            memset(zi, 0, R * sizeof *zi);
            continue;
        }
        const double *Li = s->Lf + (size_t)i * (size_t)n;
        for (int32_t k = 0; k < i; k++)
            sub_scaled(zi, Li[k], z + (size_t)k * R, R);
        for (size_t r = 0; r < R; r++)
            zi[r] /= Li[i];
    }
    for (int32_t i = n - 1; i >= 0; i--) {
        double *zi = z + (size_t)i * R;
        if (s->null_R[i])
            continue;
        for (int32_t k = i + 1; k < n; k++)
            sub_scaled(zi, s->Lf[(size_t)k * (size_t)n + (size_t)i], z + (size_t)k * R, R);
        for (size_t r = 0; r < R; r++)
            zi[r] /= s->Lf[(size_t)i * (size_t)n + (size_t)i];
    }
}

/* g := a solution of S g = c (Rn x R), with one refinement step; work is
 * Rn x R. */
static void solve_refined(const cp_solver *s, const double *c, double *g, double *work)
{
    const int32_t n = s->Rn;
    const size_t R = (size_t)s->R, nR = (size_t)n * R;
    memcpy(g, c, nR * sizeof *g);
    factor_solve(s, g);
    memcpy(work, c, nR * sizeof *work);
    for (int32_t i = 0; i < n; i++) {
        const double *Si = s->S + (size_t)i * (size_t)n;
        double *wi = work + (size_t)i * R;
        for (int32_t j = 0; j < n; j++)
            sub_scaled(wi, Si[j], g + (size_t)j * R, R);
    }
    factor_solve(s, work);
    for (size_t k = 0; k < nR; k++)
        g[k] += work[k];
}

int cp_solver_new(int m, const int32_t *L_K, const int32_t *const *level_KP, int32_t P, int R, cp_solver **out)
{
    *out = NULL;
    if (m < 1 || P < 1 || R < 1)
        return 1;
    int e = 0;
    for (int k = 1; k < m; k++)
        if (L_K[k] > L_K[e])
            e = k;
    int64_t rn = 0;
    for (int k = 0; k < m; k++)
        if (k != e)
            rn += L_K[k];
    if (rn > CP_MAX_DENSE)
        return 1;
    cp_solver *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    const int32_t n = s->Rn = (int32_t)rn;
    s->m = m;
    s->e = e;
    s->R = R;
    s->P = P;
    s->L_K = malloc((size_t)m * sizeof *s->L_K);
    s->level_KP = calloc((size_t)m, sizeof *s->level_KP);
    s->off_K = malloc((size_t)m * sizeof *s->off_K);
    s->start_E = calloc((size_t)L_K[e] + 1, sizeof *s->start_E);
    s->cells_E = malloc((size_t)P * sizeof *s->cells_E);
    s->S = calloc((size_t)n * (size_t)n + 1, sizeof *s->S);
    s->Lf = malloc(((size_t)n * (size_t)n + 1) * sizeof *s->Lf);
    s->null_R = calloc((size_t)n + 1, 1);
    if (!s->L_K || !s->level_KP || !s->off_K || !s->start_E || !s->cells_E || !s->S || !s->Lf || !s->null_R)
        goto nomem;
    memcpy(s->L_K, L_K, (size_t)m * sizeof *L_K);
    int32_t off = 0;
    for (int k = 0; k < m; k++) {
        if (!(s->level_KP[k] = malloc((size_t)P * sizeof(int32_t))))
            goto nomem;
        memcpy(s->level_KP[k], level_KP[k], (size_t)P * sizeof(int32_t));
        s->off_K[k] = k == e ? -1 : off;
        if (k != e)
            off += L_K[k];
    }
    const int32_t *lev_e = level_KP[e];
    for (int32_t p = 0; p < P; p++)
        s->start_E[lev_e[p] + 1]++;
    for (int32_t c = 0; c < L_K[e]; c++)
        s->start_E[c + 1] += s->start_E[c];
    {
        int32_t *fill = malloc(((size_t)L_K[e] + 1) * sizeof *fill);
        if (!fill)
            goto nomem;
        memcpy(fill, s->start_E, (size_t)L_K[e] * sizeof *fill);
        for (int32_t p = 0; p < P; p++)
            s->cells_E[fill[lev_e[p]]++] = p;
        free(fill);
    }
    /* D_R and N_kl: one count per cell and pair of kept partitions. */
    for (int32_t p = 0; p < P; p++)
        for (int k = 0; k < m; k++) {
            if (k == e)
                continue;
            double *row = s->S + (size_t)(s->off_K[k] + level_KP[k][p]) * (size_t)n;
            for (int l = 0; l < m; l++)
                if (l != e)
                    row[s->off_K[l] + level_KP[l][p]] += 1.0;
        }
    /* less N_Re D_e^-1 N_eR, level by level of e */
    {
        int32_t *idx = malloc(((size_t)P * (size_t)m + 1) * sizeof *idx);
        if (!idx)
            goto nomem;
        for (int32_t c = 0; c < L_K[e]; c++) {
            const int32_t nc = s->start_E[c + 1] - s->start_E[c];
            if (nc == 0) {
                free(idx);
                cp_solver_free(s);
                return 1; /* an empty level: not the caller's contract */
            }
            int32_t ni = 0;
            for (int32_t u = s->start_E[c]; u < s->start_E[c + 1]; u++)
                for (int k = 0; k < m; k++)
                    if (k != e)
                        idx[ni++] = s->off_K[k] + level_KP[k][s->cells_E[u]];
            const double inv = 1.0 / (double)nc;
            for (int32_t a = 0; a < ni; a++) {
                double *row = s->S + (size_t)idx[a] * (size_t)n;
                for (int32_t b = 0; b < ni; b++)
                    row[idx[b]] -= inv;
            }
        }
        free(idx);
    }
    /* semi-definite Cholesky */
    memcpy(s->Lf, s->S, (size_t)n * (size_t)n * sizeof *s->Lf);
    for (int32_t j = 0; j < n; j++) {
        double *Lj = s->Lf + (size_t)j * (size_t)n;
        const double diag = s->S[(size_t)j * (size_t)n + (size_t)j];
        double d = Lj[j];
        for (int32_t k = 0; k < j; k++)
            d -= Lj[k] * Lj[k];
        if (!(d > CP_PIVOT_TOL * diag) || !(diag > 0)) {
            s->null_R[j] = 1;
            for (int32_t i = j; i < n; i++)
                s->Lf[(size_t)i * (size_t)n + (size_t)j] = 0;
            continue;
        }
        d = sqrt(d);
        Lj[j] = d;
        for (int32_t i = j + 1; i < n; i++) {
            double *Li = s->Lf + (size_t)i * (size_t)n;
            double v = Li[j];
            for (int32_t k = 0; k < j; k++)
                v -= Li[k] * Lj[k];
            Li[j] = v / d;
        }
    }
    for (int32_t j = 0; j < n; j++) /* the upper triangle is not part of the factor */
        for (int32_t i = 0; i < j; i++)
            s->Lf[(size_t)i * (size_t)n + (size_t)j] = 0;
    /* Test: a right-hand side in the range of S must be reproduced. */
    if (n > 0) {
        const int R0 = s->R;
        s->R = 1;
        double *g0 = malloc((size_t)n * sizeof *g0), *c = malloc((size_t)n * sizeof *c),
               *g = malloc((size_t)n * sizeof *g), *w = malloc((size_t)n * sizeof *w);
        int ok = g0 && c && g && w;
        if (ok) {
            uint64_t x = 88172645463325252ULL;
            for (int32_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                g0[i] = (double)(x >> 11) / 9007199254740992.0 - 0.5;
            }
            double cn = 0;
            for (int32_t i = 0; i < n; i++) {
                double v = 0;
                for (int32_t j = 0; j < n; j++)
                    v += s->S[(size_t)i * (size_t)n + (size_t)j] * g0[j];
                c[i] = v;
                cn = fmax(cn, fabs(v));
            }
            solve_refined(s, c, g, w);
            double rn_max = 0;
            for (int32_t i = 0; i < n; i++) {
                double v = c[i];
                for (int32_t j = 0; j < n; j++)
                    v -= s->S[(size_t)i * (size_t)n + (size_t)j] * g[j];
                rn_max = fmax(rn_max, fabs(v));
            }
            ok = rn_max <= 1e-11 * fmax(cn, 1e-300);
        }
        free(g0);
        free(c);
        free(g);
        free(w);
        s->R = R0;
        if (!ok) {
            cp_solver_free(s);
            return 1;
        }
    }
    *out = s;
    return 0;
nomem:
    cp_solver_free(s);
    return -1;
}

int cp_solver_solve(const cp_solver *s, const double *const *t_K, double *const *c_K)
{
    const int32_t n = s->Rn;
    const size_t R = (size_t)s->R;
    const int e = s->e, m = s->m;
    double *c = malloc(((size_t)n * R + 1) * sizeof *c), *g = malloc(((size_t)n * R + 1) * sizeof *g),
           *w = malloc(((size_t)n * R + 1) * sizeof *w);
    if (!c || !g || !w) {
        free(c);
        free(g);
        free(w);
        return -1;
    }
    /* c = t_R - N_Re D_e^-1 t_e */
    for (int k = 0; k < m; k++)
        if (k != e)
            memcpy(c + (size_t)s->off_K[k] * R, t_K[k], (size_t)s->L_K[k] * R * sizeof *c);
    for (int32_t lc = 0; lc < s->L_K[e]; lc++) {
        const double inv = 1.0 / (double)(s->start_E[lc + 1] - s->start_E[lc]);
        const double *te = t_K[e] + (size_t)lc * R;
        for (int32_t u = s->start_E[lc]; u < s->start_E[lc + 1]; u++) {
            const int32_t p = s->cells_E[u];
            for (int k = 0; k < m; k++) {
                if (k == e)
                    continue;
                double *ci = c + (size_t)(s->off_K[k] + s->level_KP[k][p]) * R;
                for (size_t r = 0; r < R; r++)
                    ci[r] -= inv * te[r];
            }
        }
    }
    if (n > 0)
        solve_refined(s, c, g, w);
    for (int k = 0; k < m; k++)
        if (k != e)
            memcpy(c_K[k], g + (size_t)s->off_K[k] * R, (size_t)s->L_K[k] * R * sizeof *g);
    /* f_e(c) = (t_e(c) - the other coefficients summed over c's cells) / n_c */
    for (int32_t lc = 0; lc < s->L_K[e]; lc++) {
        double *fe = c_K[e] + (size_t)lc * R;
        memcpy(fe, t_K[e] + (size_t)lc * R, R * sizeof *fe);
        for (int32_t u = s->start_E[lc]; u < s->start_E[lc + 1]; u++) {
            const int32_t p = s->cells_E[u];
            for (int k = 0; k < m; k++) {
                if (k == e)
                    continue;
                const double *gk = g + (size_t)(s->off_K[k] + s->level_KP[k][p]) * R;
                for (size_t r = 0; r < R; r++)
                    fe[r] -= gk[r];
            }
        }
        const double inv = 1.0 / (double)(s->start_E[lc + 1] - s->start_E[lc]);
        for (size_t r = 0; r < R; r++)
            fe[r] *= inv;
    }
    free(c);
    free(g);
    free(w);
    return 0;
}
