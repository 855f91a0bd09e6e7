/* bipartite.c - exact two-way FE projection on a small bipartite graph (see
 * bipartite.h).
 *
 * The normal equations of f(x) + g(y) over the cells are
 *   deg(x) f(x) + sum_{y ~ x} g(y) = tx(x),   sum_{x ~ y} f(x) + deg(y) g(y) = ty(y).
 * Eliminating f leaves S g = ty - N' D_X^-1 tx with S = D_Y - N' D_X^-1 N,
 * a weighted graph Laplacian on the Y side: singular with one null vector
 * per connected block (a constant can move between f and g). Fixing g = 0 at
 * one Y level of each block ("grounding") leaves a positive definite matrix,
 * factored once by Cholesky and reused for every right-hand side; one step
 * of iterative refinement against the full S recovers the digits a
 * poorly connected graph would cost. Dense, so only for small Y sides (the
 * study has 87 and 110 cities a side). */
#include "bipartite.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest Y side factored densely: 2048^2 doubles is 32 MB and the factor
 * about 3e9 flops. */
#define BIP_MAX_Y 2048

struct bip_solver {
    int32_t nX, nY, m;  /* levels a side; m = Y levels not grounded */
    int32_t *start_X;   /* cells of x: adj_P[start_X[x] .. start_X[x + 1]) */
    int32_t *adj_P;     /* Y level of each cell, grouped by x */
    double *deg_X;
    int32_t *red_Y;     /* row of y in the reduced system, -1 when grounded */
    double *S_YY;       /* the full Schur complement, row-major */
    double *L_mm;       /* Cholesky factor of the reduced one, lower, row-major */
    int R;              /* right-hand sides per solve */
};

void bip_solver_free(bip_solver *s)
{
    if (!s)
        return;
    free(s->start_X);
    free(s->adj_P);
    free(s->deg_X);
    free(s->red_Y);
    free(s->S_YY);
    free(s->L_mm);
    free(s);
}

static int32_t find_root(int32_t *parent, int32_t v)
{
    while (parent[v] != v) {
        parent[v] = parent[parent[v]];
        v = parent[v];
    }
    return v;
}

int bip_solver_new(int32_t nX, int32_t nY, int32_t P, const int32_t *x_P, const int32_t *y_P, int R,
                   bip_solver **out)
{
    *out = NULL;
    if (nY > BIP_MAX_Y || nX < 1 || nY < 1 || R < 1)
        return 1;
    bip_solver *s = calloc(1, sizeof *s);
    int32_t *parent = malloc(((size_t)nX + (size_t)nY) * sizeof *parent);
    uint8_t *grounded_root = calloc((size_t)nX + (size_t)nY, 1);
    if (!s || !parent || !grounded_root)
        goto nomem;
    s->nX = nX;
    s->nY = nY;
    s->R = R;
    s->start_X = calloc((size_t)nX + 1, sizeof *s->start_X);
    s->adj_P = malloc(((size_t)P + 1) * sizeof *s->adj_P);
    s->deg_X = calloc((size_t)nX, sizeof *s->deg_X);
    s->red_Y = malloc((size_t)nY * sizeof *s->red_Y);
    s->S_YY = calloc((size_t)nY * (size_t)nY, sizeof *s->S_YY);
    if (!s->start_X || !s->adj_P || !s->deg_X || !s->red_Y || !s->S_YY)
        goto nomem;
    for (int32_t p = 0; p < P; p++)
        s->start_X[x_P[p] + 1]++;
    for (int32_t x = 0; x < nX; x++) {
        s->deg_X[x] = (double)s->start_X[x + 1];
        s->start_X[x + 1] += s->start_X[x];
    }
    {
        int32_t *fill = malloc(((size_t)nX + 1) * sizeof *fill);
        if (!fill)
            goto nomem;
        memcpy(fill, s->start_X, (size_t)nX * sizeof *fill);
        for (int32_t p = 0; p < P; p++)
            s->adj_P[fill[x_P[p]]++] = y_P[p];
        free(fill);
    }
    /* Blocks, and the smallest Y level of each grounded. */
    for (int32_t v = 0; v < nX + nY; v++)
        parent[v] = v;
    for (int32_t p = 0; p < P; p++) {
        int32_t a = find_root(parent, x_P[p]), b = find_root(parent, nX + y_P[p]);
        if (a != b)
            parent[a < b ? b : a] = a < b ? a : b;
    }
    int32_t m = 0;
    for (int32_t y = 0; y < nY; y++) {
        int32_t root = find_root(parent, nX + y);
        if (!grounded_root[root]) {
            grounded_root[root] = 1;
            s->red_Y[y] = -1;
        } else {
            s->red_Y[y] = m++;
        }
    }
    s->m = m;
    /* S = D_Y - sum over x of (1 / deg x) 1_adj(x) 1_adj(x)'. */
    for (int32_t x = 0; x < nX; x++) {
        const int32_t *adj = s->adj_P + s->start_X[x];
        const int32_t deg = s->start_X[x + 1] - s->start_X[x];
        const double inv = 1.0 / s->deg_X[x];
        for (int32_t u = 0; u < deg; u++) {
            double *row = s->S_YY + (size_t)adj[u] * (size_t)nY;
            row[adj[u]] += 1.0;
            for (int32_t v = 0; v < deg; v++)
                row[adj[v]] -= inv;
        }
    }
    s->L_mm = malloc(((size_t)m * (size_t)m + 1) * sizeof *s->L_mm);
    if (!s->L_mm)
        goto nomem;
    for (int32_t y = 0; y < nY; y++) {
        if (s->red_Y[y] < 0)
            continue;
        for (int32_t z = 0; z < nY; z++)
            if (s->red_Y[z] >= 0)
                s->L_mm[(size_t)s->red_Y[y] * (size_t)m + (size_t)s->red_Y[z]] = s->S_YY[(size_t)y * nY + z];
    }
    /* Cholesky, lower triangle in place. A pivot lost to rounding means the
     * grounded system is numerically singular: not for this path. */
    for (int32_t j = 0; j < m; j++) {
        double *Lj = s->L_mm + (size_t)j * (size_t)m;
        const double diag = Lj[j];
        double d = diag;
        for (int32_t k = 0; k < j; k++)
            d -= Lj[k] * Lj[k];
        if (!(d > 1e-12 * diag)) {
            free(parent);
            free(grounded_root);
            bip_solver_free(s);
            return 1;
        }
        d = sqrt(d);
        Lj[j] = d;
        for (int32_t i = j + 1; i < m; i++) {
            double *Li = s->L_mm + (size_t)i * (size_t)m;
            double v = Li[j];
            for (int32_t k = 0; k < j; k++)
                v -= Li[k] * Lj[k];
            Li[j] = v / d;
        }
    }
    free(parent);
    free(grounded_root);
    *out = s;
    return 0;
nomem:
    free(parent);
    free(grounded_root);
    bip_solver_free(s);
    return -1;
}

/* z_mR := the reduced system's solution for right-hand sides z_mR, in place. */
static void solve_reduced(const bip_solver *s, int R, double *z_mR)
{
    const int32_t m = s->m;
    for (int32_t i = 0; i < m; i++) {
        const double *Li = s->L_mm + (size_t)i * (size_t)m;
        double *zi = z_mR + (size_t)i * (size_t)R;
        for (int32_t k = 0; k < i; k++) {
            const double l = Li[k];
            const double *zk = z_mR + (size_t)k * (size_t)R;
            for (int r = 0; r < R; r++)
                zi[r] -= l * zk[r];
        }
        for (int r = 0; r < R; r++)
            zi[r] /= Li[i];
    }
    for (int32_t i = m - 1; i >= 0; i--) {
        double *zi = z_mR + (size_t)i * (size_t)R;
        for (int32_t k = i + 1; k < m; k++) {
            const double l = s->L_mm[(size_t)k * (size_t)m + (size_t)i];
            const double *zk = z_mR + (size_t)k * (size_t)R;
            for (int r = 0; r < R; r++)
                zi[r] -= l * zk[r];
        }
        for (int r = 0; r < R; r++)
            zi[r] /= s->L_mm[(size_t)i * (size_t)m + (size_t)i];
    }
}

int bip_solver_solve(const bip_solver *s, const double *tx_XR, const double *ty_YR, double *f_XR, double *g_YR)
{
    const int32_t nX = s->nX, nY = s->nY, m = s->m;
    const int R = s->R;
    const size_t RR = (size_t)R;
    /* Right-hand side of the Y system, c = ty - N' D_X^-1 tx, in g_YR. */
    memcpy(g_YR, ty_YR, (size_t)nY * RR * sizeof *g_YR);
    for (int32_t x = 0; x < nX; x++) {
        const double inv = 1.0 / s->deg_X[x];
        const double *tx = tx_XR + (size_t)x * RR;
        for (int32_t u = s->start_X[x]; u < s->start_X[x + 1]; u++) {
            double *c = g_YR + (size_t)s->adj_P[u] * RR;
            for (int r = 0; r < R; r++)
                c[r] -= inv * tx[r];
        }
    }
    /* work arrays per call: one solver serves concurrent models */
    double *c_YR = malloc(((size_t)nY * RR + 1) * sizeof *c_YR), *z_mR = malloc(((size_t)m * RR + 1) * sizeof *z_mR);
    if (!c_YR || !z_mR) {
        free(c_YR);
        free(z_mR);
        return -1;
    }
    memcpy(c_YR, g_YR, (size_t)nY * RR * sizeof *c_YR);
    for (int32_t y = 0; y < nY; y++)
        if (s->red_Y[y] >= 0)
            memcpy(z_mR + (size_t)s->red_Y[y] * RR, c_YR + (size_t)y * RR, RR * sizeof *z_mR);
    solve_reduced(s, R, z_mR);
    for (int32_t y = 0; y < nY; y++) {
        double *g = g_YR + (size_t)y * RR;
        if (s->red_Y[y] < 0)
            memset(g, 0, RR * sizeof *g);
        else
            memcpy(g, z_mR + (size_t)s->red_Y[y] * RR, RR * sizeof *g);
    }
    /* One refinement step: residual of the full system on the rows kept. */
    for (int32_t y = 0; y < nY; y++) {
        if (s->red_Y[y] < 0)
            continue;
        double *z = z_mR + (size_t)s->red_Y[y] * RR;
        memcpy(z, c_YR + (size_t)y * RR, RR * sizeof *z);
        const double *Sy = s->S_YY + (size_t)y * (size_t)nY;
        for (int32_t v = 0; v < nY; v++) {
            const double a = Sy[v];
            if (a == 0)
                continue;
            const double *g = g_YR + (size_t)v * RR;
            for (int r = 0; r < R; r++)
                z[r] -= a * g[r];
        }
    }
    solve_reduced(s, R, z_mR);
    for (int32_t y = 0; y < nY; y++)
        if (s->red_Y[y] >= 0) {
            double *g = g_YR + (size_t)y * RR;
            const double *z = z_mR + (size_t)s->red_Y[y] * RR;
            for (int r = 0; r < R; r++)
                g[r] += z[r];
        }
    /* f(x) = (tx(x) - sum over the cells of x of g(y)) / deg(x). */
    for (int32_t x = 0; x < nX; x++) {
        double *f = f_XR + (size_t)x * RR;
        memcpy(f, tx_XR + (size_t)x * RR, RR * sizeof *f);
        for (int32_t u = s->start_X[x]; u < s->start_X[x + 1]; u++) {
            const double *g = g_YR + (size_t)s->adj_P[u] * RR;
            for (int r = 0; r < R; r++)
                f[r] -= g[r];
        }
        const double inv = 1.0 / s->deg_X[x];
        for (int r = 0; r < R; r++)
            f[r] *= inv;
    }
    free(c_YR);
    free(z_mR);
    return 0;
}
