/* wildboot.c - the fast wild cluster bootstrap of a fixed-effects
 * regression (see wildboot.h and docs/inference.md).
 *
 * The workhorse never re-estimates the model. With X and y demeaned by the
 * FE (X~, y~), B = (X~'X~)^-1, a coefficient a, z = X~ B e_a and residuals
 * r (WCR: of the model with b_a = b0 imposed; WCU: unrestricted), a draw
 * v (one weight per cluster) gives y* = fit + r * v, and refitting the FE
 * model gives exactly
 *
 *   b*_a - b0 = sum_g v_g n_g,              n_g = sum_{i in g} z_i r_i,
 *   q_h = sum_{i in h} z_i e*_i = v_h n_h - e_h' B sum_g v_g s_g - a_h' W+ u(v),
 *
 * with s_g = sum_{i in g} X~_i r_i, e_h = sum_{i in h} z_i X~_i, and the last
 * term the part of r * v that the FE take back: u(v) = D_R'(r * v) and a_h =
 * D_R'(z 1_h) stack the sums of r * v and of z over the levels of the FE
 * not nested in the clusters (R), and W = D_R' M_N D_R is their normal
 * matrix once the largest nested FE (N) is partialled out. The nested FE
 * drop out because v is constant on each of their levels and r, z are
 * orthogonal to every FE. The robust variance of b*_a is c sum_h q_h^2.
 *
 * Under WCR, r = r0 - b0 rho is affine in the null value b0 (r0 the
 * restricted residual at b0 = 0, rho the residual of x_a on the other
 * regressors and FE), so each draw is kept as five numbers (A0, A1, alpha,
 * beta, gamma) from which t*(b0) = (A0 - b0 A1) / sqrt(c (alpha - 2 b0 beta +
 * b0^2 gamma)) for any b0; the p-value is a pass over the draws and the
 * interval a bisection over b0, as boottest inverts its test.
 *
 * Cost per draw: O(G k) for the cluster sums, O(nnz) for u and a (at most
 * |R| entries per row and cluster), and the sum of L_c^2 over the connected
 * blocks of W's levels. Draws are processed in chunks of CHUNK, each
 * independent of the thread running it (its weights come from its own seed),
 * so results do not depend on the thread count. */
#include "wildboot.h"

#include "gravrd/hdfe.h"
#include "inference/invert.h"
#include "util/seedmix.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 32
/* |t*| >= |t| (1 - TIE_REL) counts as at least as extreme: the draw v = 1
 * reproduces the sample's statistic up to rounding and must count. */
#define TIE_REL 1e-9
/* Eigenvalues of a block of W below this share of its largest are zero
 * (W is singular: one level per block is redundant between two FE). */
#define PINV_REL 1e-10

void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
            const int *lwork, int *info);
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb,
            int *info);

void gravrd_boot_options_init(gravrd_boot_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->reps = GRAVRD_BOOT_DEFAULT_REPS;
    opt->seed = 1;
    opt->level = GRAVRD_BOOT_DEFAULT_LEVEL;
}

const char *gravrd_boot_type_name(gravrd_boot_type type)
{
    return type == GRAVRD_BOOT_WCU ? "wcu" : "wcr";
}

const char *gravrd_boot_weights_name(gravrd_boot_weights w)
{
    return w == GRAVRD_BOOT_WEBB ? "webb" : w == GRAVRD_BOOT_MAMMEN ? "mammen" : "rademacher";
}

struct wildboot {
    wildboot_design d;
    gravrd_boot_options opt;
    long B;
    int enumerated;
    size_t *order_N, *cl_start_G1; /* rows of cluster g: order_N[cl_start_G1[g] .. cl_start_G1[g+1]) */
    double *xtx_KK;                /* X~'X~ */
    /* Cross term (cross = 0 when every FE is nested in the clusters). */
    int cross, n_r;
    int32_t L;                     /* levels of the R FE, numbered by block */
    size_t n_ent, *ent_start_G1;   /* (level, cluster) entries, by cluster */
    int32_t *ent_level, *ent_of_NR;
    int n_block;
    int32_t *block_start;          /* levels of block c: block_start[c] .. block_start[c+1] */
    double **block_pinv;           /* W+ of each block, row-major */
    /* The last coefficient. */
    double beta, se;
    double *z_N, *r_N2;            /* z; r0 and rho (WCU: the residual and 0) */
    double *n_G2, *s_GK2, *e_GK;
    double *cval_E2, *aval_E;
    double *draw_B5;               /* per draw: A0, A1, alpha, beta, gamma */
};

void wildboot_free(wildboot *wb)
{
    if (!wb)
        return;
    free(wb->order_N);
    free(wb->cl_start_G1);
    free(wb->xtx_KK);
    free(wb->ent_start_G1);
    free(wb->ent_level);
    free(wb->ent_of_NR);
    free(wb->block_start);
    if (wb->block_pinv)
        for (int c = 0; c < wb->n_block; c++)
            free(wb->block_pinv[c]);
    free(wb->block_pinv);
    free(wb->z_N);
    free(wb->r_N2);
    free(wb->n_G2);
    free(wb->s_GK2);
    free(wb->e_GK);
    free(wb->cval_E2);
    free(wb->aval_E);
    free(wb->draw_B5);
    free(wb);
}


static int32_t uf_find(int32_t *parent, int32_t a)
{
    while (parent[a] != a)
        a = parent[a] = parent[parent[a]];
    return a;
}

static void uf_union(int32_t *parent, int32_t a, int32_t b)
{
    a = uf_find(parent, a);
    b = uf_find(parent, b);
    if (a != b)
        parent[a > b ? a : b] = a < b ? a : b;
}

/* Pseudo-inverse of a symmetric positive semi-definite m x m matrix in
 * place (eigen-decomposition, LAPACK dsyev). Returns 0, or non-zero when
 * LAPACK fails or memory runs out. */
static int pinv_psd(double *A, int m)
{
    int info = 0, lwork = -1;
    double wq;
    double *ev = malloc((size_t)m * sizeof *ev), *Q = malloc((size_t)m * (size_t)m * sizeof *Q);
    if (!ev || !Q) {
        free(ev);
        free(Q);
        return -1;
    }
    memcpy(Q, A, (size_t)m * (size_t)m * sizeof *Q);
    dsyev_("V", "U", &m, Q, &m, ev, &wq, &lwork, &info);
    lwork = (int)wq;
    double *work = info == 0 ? malloc((size_t)lwork * sizeof *work) : NULL;
    if (!work) {
        free(ev);
        free(Q);
        return -1;
    }
    dsyev_("V", "U", &m, Q, &m, ev, work, &lwork, &info);
    free(work);
    if (info == 0) {
        double top = ev[m - 1];
        memset(A, 0, (size_t)m * (size_t)m * sizeof *A);
        /* Q is column-major: eigenvector c is Q[c*m .. c*m + m). */
        for (int c = 0; c < m; c++) {
            if (!(ev[c] > PINV_REL * top))
                continue;
            const double *q = Q + (size_t)c * m, inv = 1.0 / ev[c];
            for (int a = 0; a < m; a++) {
                double qa = q[a] * inv;
                for (int b = 0; b < m; b++)
                    A[(size_t)a * m + b] += qa * q[b];
            }
        }
    }
    free(ev);
    free(Q);
    return info;
}

/* The cross-term structure: R (every FE except the largest nested one), the
 * (level, cluster) entries, and W+ per connected block of R's levels. */
static gravrd_status prepare_cross(wildboot *wb, gravrd_error *err)
{
    const wildboot_design *d = &wb->d;
    const size_t n = d->n;
    gravrd_status st = GRAVRD_OK;
    int *nested = calloc((size_t)d->n_fe + 1, sizeof *nested);
    if (!nested)
        goto nomem;
    int all_nested = 1, n_fe_n = -1;
    for (int q = 0; q < d->n_fe; q++) {
        nested[q] = gravrd_fe_nested_in(d->fe_QN[q], d->fe_levels_Q[q], d->cluster_N, n);
        if (nested[q] < 0)
            goto nomem;
        if (!nested[q])
            all_nested = 0;
        else if (n_fe_n < 0 || d->fe_levels_Q[q] > d->fe_levels_Q[n_fe_n])
            n_fe_n = q;
    }
    free(nested);
    nested = NULL;
    if (all_nested)
        return GRAVRD_OK; /* D'(r * v) = 0: the FE take nothing back */
    wb->cross = 1;
    int fe_r[64], n_r = 0;
    long L = 0;
    int32_t off[64];
    for (int q = 0; q < d->n_fe && n_r < 64; q++) {
        if (q == n_fe_n)
            continue;
        off[n_r] = (int32_t)L;
        fe_r[n_r++] = q;
        L += d->fe_levels_Q[q];
    }
    if (L > WILDBOOT_MAX_LEVELS)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "the wild bootstrap needs the fixed effects not nested in the bootstrap clusters "
                                "to have at most %d levels in all, and this model's have %ld; cluster by a "
                                "variable the large fixed effects are nested in",
                                WILDBOOT_MAX_LEVELS, L);
    wb->n_r = n_r;
    int32_t *parent = malloc((size_t)L * sizeof *parent), *pos = NULL, *stamp = NULL;
    double *W = calloc((size_t)L * (size_t)L, sizeof *W);
    int32_t *cnt = NULL, *touched = NULL;
    size_t *nstart = NULL, *norder = NULL;
    if (!parent || !W)
        goto fail_nomem;
    for (int32_t l = 0; l < L; l++)
        parent[l] = l;
    /* D_R'D_R, and the blocks: levels of a row are linked. */
    for (size_t i = 0; i < n; i++) {
        int32_t lv[64];
        for (int r = 0; r < n_r; r++)
            lv[r] = off[r] + d->fe_QN[fe_r[r]][i];
        for (int r = 0; r < n_r; r++) {
            for (int s = 0; s < n_r; s++)
                W[(size_t)lv[r] * L + lv[s]] += 1.0;
            if (r)
                uf_union(parent, lv[0], lv[r]);
        }
    }
    /* Minus D_R'D_N (D_N'D_N)^-1 D_N'D_R, level by level of N; the R levels
     * of one N level are linked. */
    if (n_fe_n >= 0) {
        const int32_t *fn = d->fe_QN[n_fe_n];
        int32_t LN = d->fe_levels_Q[n_fe_n];
        nstart = calloc((size_t)LN + 1, sizeof *nstart);
        norder = malloc(n * sizeof *norder);
        cnt = calloc((size_t)L, sizeof *cnt);
        touched = malloc((size_t)L * sizeof *touched);
        if (!nstart || !norder || !cnt || !touched)
            goto fail_nomem;
        for (size_t i = 0; i < n; i++)
            nstart[fn[i] + 1]++;
        for (int32_t l = 0; l < LN; l++)
            nstart[l + 1] += nstart[l];
        {
            size_t *fill = malloc(((size_t)LN + 1) * sizeof *fill);
            if (!fill)
                goto fail_nomem;
            memcpy(fill, nstart, ((size_t)LN + 1) * sizeof *fill);
            for (size_t i = 0; i < n; i++)
                norder[fill[fn[i]]++] = i;
            free(fill);
        }
        for (int32_t l = 0; l < LN; l++) {
            size_t a = nstart[l], b = nstart[l + 1];
            if (a == b)
                continue;
            int32_t nt = 0;
            for (size_t p = a; p < b; p++)
                for (int r = 0; r < n_r; r++) {
                    int32_t lv = off[r] + d->fe_QN[fe_r[r]][norder[p]];
                    if (cnt[lv]++ == 0)
                        touched[nt++] = lv;
                }
            double inv = 1.0 / (double)(b - a);
            for (int32_t x = 0; x < nt; x++) {
                uf_union(parent, touched[0], touched[x]);
                for (int32_t y = 0; y < nt; y++)
                    W[(size_t)touched[x] * L + touched[y]] -= (double)cnt[touched[x]] * cnt[touched[y]] * inv;
            }
            for (int32_t x = 0; x < nt; x++)
                cnt[touched[x]] = 0;
        }
    }
    /* Number the levels block by block. */
    pos = malloc((size_t)L * sizeof *pos);
    stamp = malloc((size_t)L * sizeof *stamp);
    wb->block_start = malloc(((size_t)L + 1) * sizeof *wb->block_start);
    if (!pos || !stamp || !wb->block_start)
        goto fail_nomem;
    {
        int32_t *root_block = stamp; /* reused: block of each root */
        for (int32_t l = 0; l < L; l++)
            root_block[l] = -1;
        int nb = 0;
        int32_t *size = calloc((size_t)L + 1, sizeof *size);
        if (!size)
            goto fail_nomem;
        for (int32_t l = 0; l < L; l++) {
            int32_t rt = uf_find(parent, l);
            if (root_block[rt] < 0)
                root_block[rt] = nb++;
            size[root_block[rt]]++;
        }
        wb->n_block = nb;
        wb->block_start[0] = 0;
        for (int c = 0; c < nb; c++)
            wb->block_start[c + 1] = wb->block_start[c] + size[c];
        memcpy(size, wb->block_start, (size_t)nb * sizeof *size);
        for (int32_t l = 0; l < L; l++)
            pos[l] = size[root_block[uf_find(parent, l)]]++;
        free(size);
    }
    wb->L = (int32_t)L;
    wb->block_pinv = calloc((size_t)wb->n_block + 1, sizeof *wb->block_pinv);
    if (!wb->block_pinv)
        goto fail_nomem;
    {
        int32_t *level_at = stamp; /* level at each position */
        for (int32_t l = 0; l < L; l++)
            level_at[pos[l]] = l;
        for (int c = 0; c < wb->n_block; c++) {
            int32_t a = wb->block_start[c], m = wb->block_start[c + 1] - a;
            double *P = malloc((size_t)m * (size_t)m * sizeof *P);
            if (!P)
                goto fail_nomem;
            wb->block_pinv[c] = P;
            for (int32_t x = 0; x < m; x++)
                for (int32_t y = 0; y < m; y++)
                    P[(size_t)x * m + y] = W[(size_t)level_at[a + x] * L + level_at[a + y]];
            if (pinv_psd(P, m) != 0) {
                st = gravrd_error_set(err, GRAVRD_ERR_NUMERIC,
                                      "the wild bootstrap could not factor the normal matrix of the fixed "
                                      "effects not nested in the clusters (%d levels)",
                                      (int)m);
                goto fail;
            }
        }
    }
    /* (level, cluster) entries by cluster, levels as block positions. */
    {
        const int32_t G = d->G;
        int32_t *slot = stamp, *seen = parent; /* reused */
        for (int32_t l = 0; l < L; l++)
            seen[l] = -1;
        wb->ent_start_G1 = calloc((size_t)G + 1, sizeof *wb->ent_start_G1);
        wb->ent_of_NR = malloc(n * (size_t)n_r * sizeof *wb->ent_of_NR);
        wb->ent_level = malloc(n * (size_t)n_r * sizeof *wb->ent_level);
        if (!wb->ent_start_G1 || !wb->ent_of_NR || !wb->ent_level)
            goto fail_nomem;
        size_t e = 0;
        for (int32_t g = 0; g < G; g++) {
            wb->ent_start_G1[g] = e;
            for (size_t p = wb->cl_start_G1[g]; p < wb->cl_start_G1[g + 1]; p++) {
                size_t i = wb->order_N[p];
                for (int r = 0; r < n_r; r++) {
                    int32_t lv = pos[off[r] + d->fe_QN[fe_r[r]][i]];
                    if (seen[lv] != g) {
                        seen[lv] = g;
                        slot[lv] = (int32_t)e;
                        wb->ent_level[e++] = lv;
                    }
                    wb->ent_of_NR[i * (size_t)n_r + r] = slot[lv];
                }
            }
        }
        wb->ent_start_G1[G] = e;
        wb->n_ent = e;
    }
    goto done;
fail_nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory preparing the wild bootstrap");
fail:
done:
    free(parent);
    free(pos);
    free(stamp);
    free(W);
    free(cnt);
    free(touched);
    free(nstart);
    free(norder);
    return st;
nomem:
    free(nested);
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory preparing the wild bootstrap");
}

gravrd_status wildboot_new(const wildboot_design *d, const gravrd_boot_options *opt, wildboot **out,
                           gravrd_error *err)
{
    *out = NULL;
    if (d->G < 2)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "the wild cluster bootstrap needs at least 2 clusters, not %d", (int)d->G);
    if (opt->reps < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "bootstrap replications must be at least 1, not %ld",
                                opt->reps);
    if (!(opt->level > 0 && opt->level < 1))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "bootstrap level must be in (0, 1), not %g",
                                opt->level);
    if (d->n_fe > 64)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "the wild bootstrap handles at most 64 fixed effects");
    wildboot *wb = calloc(1, sizeof *wb);
    if (!wb)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory preparing the wild bootstrap");
    wb->d = *d;
    wb->opt = *opt;
    if (wb->opt.seed == 0)
        wb->opt.seed = 1;
    wb->B = opt->reps;
    if (opt->weights == GRAVRD_BOOT_RADEMACHER && d->G <= 40 && (double)opt->reps >= ldexp(1.0, d->G)) {
        wb->enumerated = 1;
        wb->B = 1L << d->G;
    }
    const size_t n = d->n;
    const int k = d->k;
    const int32_t G = d->G;
    gravrd_status st = GRAVRD_OK;
    wb->order_N = malloc(n * sizeof *wb->order_N);
    wb->cl_start_G1 = calloc((size_t)G + 1, sizeof *wb->cl_start_G1);
    wb->xtx_KK = calloc((size_t)k * (size_t)k + 1, sizeof *wb->xtx_KK);
    if (!wb->order_N || !wb->cl_start_G1 || !wb->xtx_KK)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        wb->cl_start_G1[d->cluster_N[i] + 1]++;
    for (int32_t g = 0; g < G; g++)
        wb->cl_start_G1[g + 1] += wb->cl_start_G1[g];
    {
        size_t *fill = malloc(((size_t)G + 1) * sizeof *fill);
        if (!fill)
            goto nomem;
        memcpy(fill, wb->cl_start_G1, ((size_t)G + 1) * sizeof *fill);
        for (size_t i = 0; i < n; i++)
            wb->order_N[fill[d->cluster_N[i]]++] = i;
        free(fill);
    }
    for (int a = 0; a < k; a++)
        for (int b = 0; b <= a; b++) {
            const double *xa = d->X_NK + (size_t)a * n, *xb = d->X_NK + (size_t)b * n;
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += xa[i] * xb[i];
            wb->xtx_KK[a * k + b] = wb->xtx_KK[b * k + a] = s;
        }
    if ((st = prepare_cross(wb, err)))
        goto fail;
    wb->d.fe_QN = NULL; /* read only here: the caller's arrays may go */
    wb->d.fe_levels_Q = NULL;
    *out = wb;
    return GRAVRD_OK;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory preparing the wild bootstrap");
fail:
    wildboot_free(wb);
    return st;
}

/* r = y - X_{-a} (X_{-a}'X_{-a})^-1 X_{-a}'y for y = the outcome (r0) and
 * y = x_a (rho): the residuals of the restricted model, by FWL on the
 * demeaned data. */
static gravrd_status restricted_residuals(wildboot *wb, const double *y_N, int a, gravrd_error *err)
{
    const size_t n = wb->d.n;
    const int k = wb->d.k, m = k - 1;
    const double *X = wb->d.X_NK, *xa = X + (size_t)a * n;
    double *r0 = wb->r_N2, *rho = wb->r_N2 + n;
    memcpy(r0, y_N, n * sizeof *r0);
    memcpy(rho, xa, n * sizeof *rho);
    if (m == 0)
        return GRAVRD_OK;
    double *S = malloc((size_t)m * (size_t)m * sizeof *S), *rhs = calloc(2 * (size_t)m, sizeof *rhs);
    int *idx = malloc((size_t)m * sizeof *idx);
    if (!S || !rhs || !idx) {
        free(S);
        free(rhs);
        free(idx);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the wild bootstrap");
    }
    for (int b = 0, j = 0; b < k; b++)
        if (b != a)
            idx[j++] = b;
    for (int x = 0; x < m; x++) {
        for (int y = 0; y < m; y++)
            S[x * m + y] = wb->xtx_KK[idx[x] * k + idx[y]];
        const double *xb = X + (size_t)idx[x] * n;
        double sy = 0;
        for (size_t i = 0; i < n; i++)
            sy += xb[i] * y_N[i];
        rhs[x] = sy;
        rhs[m + x] = wb->xtx_KK[idx[x] * k + a];
    }
    int info = 0, two = 2;
    dposv_("U", &m, &two, S, &m, rhs, &m, &info);
    if (info == 0)
        for (int x = 0; x < m; x++) {
            const double *xb = X + (size_t)idx[x] * n;
            double g0 = rhs[x], g1 = rhs[m + x];
            for (size_t i = 0; i < n; i++) {
                r0[i] -= g0 * xb[i];
                rho[i] -= g1 * xb[i];
            }
        }
    free(S);
    free(rhs);
    free(idx);
    if (info != 0)
        return gravrd_error_set(err, GRAVRD_ERR_NUMERIC,
                                "the wild bootstrap's restricted model is singular (the other regressors are "
                                "collinear)");
    return GRAVRD_OK;
}


/* The three hot loops of the bootstrap (draw_weights, block_apply,
 * run_chunk) are also compiled for AVX2, chosen at run time
 * (target_clones: the binary still runs on any x86-64). Their sums run
 * element by element in the same order and AVX2 alone has no fused
 * multiply-add, so both versions give the same bits; on the main RD the
 * AVX2 ones take 0.87-0.92 s for 9,999 draws against 1.2-1.3 s. */
#define HOT_AVX2 __attribute__((target_clones("avx2", "default")))

/* The weights of draws b0 .. b0+nb-1, stored v[g * CHUNK + j] (the loops
 * over a chunk's draws have the constant length CHUNK, so the compiler
 * vectorises them; each draw is computed alone, so the numbers are the
 * same whether it does or not). A random draw's weights come from a
 * generator seeded by (seed, draw) alone; they are drawn as codes, draw by
 * draw (code_GJ, G per draw), then laid out cluster by cluster. */
HOT_AVX2 static void draw_weights(const wildboot *wb, gsl_rng *rng, long b0, int nb, uint8_t *code, double *v)
{
    const int32_t G = wb->d.G;
    const double s5 = sqrt(5.0);
    static const double webb[6] = {-1.2247448713915890, -1.0, -0.70710678118654752,
                                   0.70710678118654752, 1.0,  1.2247448713915890};
    const double rademacher[2] = {1.0, -1.0}, mammen[2] = {-(s5 - 1) / 2, (s5 + 1) / 2};
    const double *table = wb->opt.weights == GRAVRD_BOOT_WEBB     ? webb
                          : wb->opt.weights == GRAVRD_BOOT_MAMMEN ? mammen
                                                                  : rademacher;
    for (int j = 0; j < nb; j++) {
        long b = b0 + j;
        uint8_t *cj = code + (size_t)j * G;
        if (wb->enumerated) {
            for (int32_t g = 0; g < G; g++)
                cj[g] = (uint8_t)(((unsigned long)b >> g) & 1UL);
            continue;
        }
        gsl_rng_set(rng, (unsigned long)seedmix_draw(wb->opt.seed, (uint64_t)b));
        switch (wb->opt.weights) {
        case GRAVRD_BOOT_RADEMACHER:
            for (int32_t g = 0; g < G; g += 32) {
                unsigned long bits = gsl_rng_get(rng);
                for (int32_t h = g; h < G && h < g + 32; h++, bits >>= 1)
                    cj[h] = (uint8_t)(bits & 1UL);
            }
            break;
        case GRAVRD_BOOT_WEBB:
            for (int32_t g = 0; g < G; g++)
                cj[g] = (uint8_t)gsl_rng_uniform_int(rng, 6);
            break;
        case GRAVRD_BOOT_MAMMEN: {
            const double p_lo = (s5 + 1) / (2 * s5);
            for (int32_t g = 0; g < G; g++)
                cj[g] = gsl_rng_uniform(rng) < p_lo ? 0 : 1;
            break;
        }
        }
    }
    /* The columns past the last draw stay 0: every loop runs over CHUNK. */
    for (int32_t g = 0; g < G; g++) {
        double *vg = v + (size_t)g * CHUNK;
        for (int j = 0; j < nb; j++)
            vg[j] = table[code[(size_t)j * G + g]];
        for (int j = nb; j < CHUNK; j++)
            vg[j] = 0.0;
    }
}

/* Scratch of one chunk of draws. */
typedef struct {
    double *v, *U, *WU, *S, *T;
    uint8_t *code;
    gsl_rng *rng;
} chunk_work;

static void chunk_free(chunk_work *c)
{
    free(c->v);
    free(c->U);
    free(c->WU);
    free(c->S);
    free(c->T);
    free(c->code);
    if (c->rng)
        gsl_rng_free(c->rng);
}

static int chunk_alloc(chunk_work *c, const wildboot *wb)
{
    size_t L = (size_t)wb->L, k = (size_t)wb->d.k;
    c->v = malloc(((size_t)wb->d.G * CHUNK + 1) * sizeof *c->v);
    c->U = malloc((2 * L * CHUNK + 1) * sizeof *c->U);
    c->WU = malloc((2 * L * CHUNK + 1) * sizeof *c->WU);
    c->S = malloc((2 * k * CHUNK + 1) * sizeof *c->S);
    c->T = malloc((2 * k * CHUNK + 1) * sizeof *c->T);
    c->code = malloc((size_t)wb->d.G * CHUNK + 1);
    c->rng = gsl_rng_alloc(gsl_rng_mt19937);
    return c->v && c->U && c->WU && c->S && c->T && c->code && c->rng ? 0 : -1;
}

/* out = P in for one block of W+ (m x m, row-major) and a chunk of draws
 * (in, out: m rows of stride 2 CHUNK, the first width columns used: r0's
 * draws then rho's, so one pass over P serves both): the innermost work of
 * the cross term. Two rows of
 * P and eight draws at a time keep the sums in registers; each sum still
 * runs over y in order, so the result is that of the plain loop. */
HOT_AVX2 static void block_apply(const double *restrict P, int32_t m, const double *restrict in,
                                  double *restrict out, int width)
{
    for (int j0 = 0; j0 < width; j0 += 8) {
        int32_t x = 0;
        for (; x + 1 < m; x += 2) {
            double a0[8] = {0}, a1[8] = {0};
            const double *p0 = P + (size_t)x * m, *p1 = p0 + m;
            for (int32_t y = 0; y < m; y++) {
                const double *iy = in + (size_t)y * 2 * CHUNK + j0;
                const double c0 = p0[y], c1 = p1[y];
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++) {
                    a0[j] += c0 * iy[j];
                    a1[j] += c1 * iy[j];
                }
            }
            memcpy(out + (size_t)x * 2 * CHUNK + j0, a0, sizeof a0);
            memcpy(out + (size_t)(x + 1) * 2 * CHUNK + j0, a1, sizeof a1);
        }
        for (; x < m; x++) {
            double a0[8] = {0};
            const double *p0 = P + (size_t)x * m;
            for (int32_t y = 0; y < m; y++) {
                const double *iy = in + (size_t)y * 2 * CHUNK + j0;
                const double c0 = p0[y];
#pragma GCC unroll 8
                for (int j = 0; j < 8; j++)
                    a0[j] += c0 * iy[j];
            }
            memcpy(out + (size_t)x * 2 * CHUNK + j0, a0, sizeof a0);
        }
    }
}

/* The five numbers of each draw of one chunk (see the header comment).
 * m = 0: r0 (or the WCU residual); m = 1: rho (skipped under WCU). */
HOT_AVX2 static void run_chunk(const wildboot *wb, chunk_work *c, long b0, int nb, double *out_B5)
{
    const int32_t G = wb->d.G;
    const int k = wb->d.k, n_m = wb->opt.type == GRAVRD_BOOT_WCR ? 2 : 1;
    const size_t L = (size_t)wb->L;
    const double *B = wb->d.bread_KK;
    double *v = c->v;
    draw_weights(wb, c->rng, b0, nb, c->code, v);
    double A[2][CHUNK], acc[3][CHUNK];
    if (wb->cross)
        memset(c->U, 0, 2 * L * CHUNK * sizeof *c->U);
    memset(A, 0, sizeof A);
    memset(acc, 0, sizeof acc);
    for (int m = 0; m < n_m; m++) {
        const double *ng = wb->n_G2 + (size_t)m * G, *sg = wb->s_GK2 + (size_t)m * G * k;
        double *S = c->S + (size_t)m * k * CHUNK, *T = c->T + (size_t)m * k * CHUNK;
        memset(S, 0, (size_t)k * CHUNK * sizeof *S);
        for (int32_t g = 0; g < G; g++) {
            const double *vg = v + (size_t)g * CHUNK;
            for (int j = 0; j < CHUNK; j++)
                A[m][j] += ng[g] * vg[j];
            for (int a = 0; a < k; a++) {
                double s = sg[(size_t)g * k + a];
                double *Sa = S + (size_t)a * CHUNK;
                for (int j = 0; j < CHUNK; j++)
                    Sa[j] += s * vg[j];
            }
        }
        for (int a = 0; a < k; a++) {
            double *Ta = T + (size_t)a * CHUNK;
            memset(Ta, 0, CHUNK * sizeof *Ta);
            for (int b = 0; b < k; b++) {
                double w = B[a * k + b];
                const double *Sb = S + (size_t)b * CHUNK;
                for (int j = 0; j < CHUNK; j++)
                    Ta[j] += w * Sb[j];
            }
        }
        if (!wb->cross)
            continue;
        double *U = c->U + (size_t)m * CHUNK;
        const double *cv = wb->cval_E2 + (size_t)m * wb->n_ent;
        for (int32_t g = 0; g < G; g++) {
            const double *vg = v + (size_t)g * CHUNK;
            for (size_t e = wb->ent_start_G1[g]; e < wb->ent_start_G1[g + 1]; e++) {
                double *Ul = U + (size_t)wb->ent_level[e] * 2 * CHUNK, ce = cv[e];
                for (int j = 0; j < CHUNK; j++)
                    Ul[j] += ce * vg[j];
            }
        }
    }
    if (wb->cross)
        for (int bl = 0; bl < wb->n_block; bl++) {
            int32_t s0 = wb->block_start[bl];
            block_apply(wb->block_pinv[bl], wb->block_start[bl + 1] - s0, c->U + (size_t)s0 * 2 * CHUNK,
                        c->WU + (size_t)s0 * 2 * CHUNK, n_m * CHUNK);
        }
    /* q_h for each cluster, summed into alpha, beta, gamma. */
    for (int32_t h = 0; h < G; h++) {
        const double *vh = v + (size_t)h * CHUNK;
        double q[2][CHUNK];
        for (int m = 0; m < n_m; m++) {
            double nh = wb->n_G2[(size_t)m * G + h];
            const double *eh = wb->e_GK + (size_t)h * k, *T = c->T + (size_t)m * k * CHUNK;
            for (int j = 0; j < CHUNK; j++)
                q[m][j] = nh * vh[j];
            for (int a = 0; a < k; a++) {
                double w = eh[a];
                const double *Ta = T + (size_t)a * CHUNK;
                for (int j = 0; j < CHUNK; j++)
                    q[m][j] -= w * Ta[j];
            }
            if (wb->cross) {
                const double *WU = c->WU + (size_t)m * CHUNK;
                for (size_t e = wb->ent_start_G1[h]; e < wb->ent_start_G1[h + 1]; e++) {
                    double w = wb->aval_E[e];
                    const double *in = WU + (size_t)wb->ent_level[e] * 2 * CHUNK;
                    for (int j = 0; j < CHUNK; j++)
                        q[m][j] -= w * in[j];
                }
            }
        }
        for (int j = 0; j < CHUNK; j++)
            acc[0][j] += q[0][j] * q[0][j];
        if (n_m == 2)
            for (int j = 0; j < CHUNK; j++) {
                acc[1][j] += q[0][j] * q[1][j];
                acc[2][j] += q[1][j] * q[1][j];
            }
    }
    for (int j = 0; j < nb; j++) {
        double *o = out_B5 + (size_t)(b0 + j) * 5;
        o[0] = A[0][j];
        o[1] = n_m == 2 ? A[1][j] : 0.0;
        o[2] = acc[0][j];
        o[3] = n_m == 2 ? acc[1][j] : 0.0;
        o[4] = n_m == 2 ? acc[2][j] : 0.0;
    }
}

gravrd_status wildboot_coef(wildboot *wb, const double *y_N, int coef, double beta, double se, gravrd_error *err)
{
    const size_t n = wb->d.n;
    const int k = wb->d.k;
    const int32_t G = wb->d.G;
    const double *X = wb->d.X_NK, *B = wb->d.bread_KK;
    gravrd_status st = GRAVRD_OK;
    wb->beta = beta;
    wb->se = se;
    if (!wb->z_N) {
        wb->z_N = malloc((n + 1) * sizeof *wb->z_N);
        wb->r_N2 = malloc((2 * n + 1) * sizeof *wb->r_N2);
        wb->n_G2 = malloc((2 * (size_t)G + 1) * sizeof *wb->n_G2);
        wb->s_GK2 = malloc((2 * (size_t)G * k + 1) * sizeof *wb->s_GK2);
        wb->e_GK = malloc(((size_t)G * k + 1) * sizeof *wb->e_GK);
        wb->cval_E2 = malloc((2 * wb->n_ent + 1) * sizeof *wb->cval_E2);
        wb->aval_E = malloc((wb->n_ent + 1) * sizeof *wb->aval_E);
        wb->draw_B5 = malloc(((size_t)wb->B * 5 + 1) * sizeof *wb->draw_B5);
        if (!wb->z_N || !wb->r_N2 || !wb->n_G2 || !wb->s_GK2 || !wb->e_GK || !wb->cval_E2 || !wb->aval_E ||
            !wb->draw_B5)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the wild bootstrap (%ld draws)",
                                    wb->B);
    }
    double *z = wb->z_N;
    memset(z, 0, n * sizeof *z);
    for (int b = 0; b < k; b++) {
        const double *xb = X + (size_t)b * n, w = B[b * k + coef];
        for (size_t i = 0; i < n; i++)
            z[i] += w * xb[i];
    }
    const int n_m = wb->opt.type == GRAVRD_BOOT_WCR ? 2 : 1;
    if (wb->opt.type == GRAVRD_BOOT_WCR) {
        if ((st = restricted_residuals(wb, y_N, coef, err)))
            return st;
    } else {
        /* The unrestricted residual y - X b. */
        double *r = wb->r_N2, *bhat = calloc((size_t)k + 1, sizeof *bhat);
        if (!bhat)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the wild bootstrap");
        for (int a = 0; a < k; a++) {
            const double *xa = X + (size_t)a * n;
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += xa[i] * y_N[i];
            for (int b = 0; b < k; b++)
                bhat[b] += B[b * k + a] * s;
        }
        memcpy(r, y_N, n * sizeof *r);
        for (int a = 0; a < k; a++) {
            const double *xa = X + (size_t)a * n;
            for (size_t i = 0; i < n; i++)
                r[i] -= bhat[a] * xa[i];
        }
        free(bhat);
    }
    /* Cluster sums. */
    memset(wb->n_G2, 0, 2 * (size_t)G * sizeof *wb->n_G2);
    memset(wb->s_GK2, 0, 2 * (size_t)G * k * sizeof *wb->s_GK2);
    memset(wb->e_GK, 0, (size_t)G * k * sizeof *wb->e_GK);
    for (int32_t g = 0; g < G; g++)
        for (size_t p = wb->cl_start_G1[g]; p < wb->cl_start_G1[g + 1]; p++) {
            size_t i = wb->order_N[p];
            for (int m = 0; m < n_m; m++) {
                double ri = wb->r_N2[(size_t)m * n + i];
                wb->n_G2[(size_t)m * G + g] += z[i] * ri;
                for (int a = 0; a < k; a++)
                    wb->s_GK2[((size_t)m * G + g) * k + a] += X[(size_t)a * n + i] * ri;
            }
            for (int a = 0; a < k; a++)
                wb->e_GK[(size_t)g * k + a] += z[i] * X[(size_t)a * n + i];
        }
    if (wb->cross) {
        const int n_r = wb->n_r;
        memset(wb->cval_E2, 0, 2 * wb->n_ent * sizeof *wb->cval_E2);
        memset(wb->aval_E, 0, wb->n_ent * sizeof *wb->aval_E);
        for (size_t i = 0; i < n; i++)
            for (int r = 0; r < n_r; r++) {
                size_t e = (size_t)wb->ent_of_NR[i * (size_t)n_r + r];
                wb->aval_E[e] += z[i];
                for (int m = 0; m < n_m; m++)
                    wb->cval_E2[(size_t)m * wb->n_ent + e] += wb->r_N2[(size_t)m * n + i];
            }
    }
    /* The draws, chunk by chunk. */
    const long n_chunks = (wb->B + CHUNK - 1) / CHUNK;
    const int threads = wb->d.threads > 1 ? wb->d.threads : 1;
    int failed = 0;
#pragma omp parallel num_threads(threads) if (threads > 1 && n_chunks > 1)
    {
        chunk_work cw = {0};
        int ok = chunk_alloc(&cw, wb) == 0;
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 4)
        for (long ch = 0; ch < n_chunks; ch++) {
            if (!ok)
                continue;
            long b0 = ch * CHUNK;
            int nb = (int)(wb->B - b0 < CHUNK ? wb->B - b0 : CHUNK);
            run_chunk(wb, &cw, b0, nb, wb->draw_B5);
        }
        chunk_free(&cw);
    }
    if (failed)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory in the wild bootstrap");
    return GRAVRD_OK;
}

double wildboot_pvalue(const wildboot *wb, double b0)
{
    const double c = wb->d.vcov_scale;
    double t = (wb->beta - b0) / wb->se, t2 = t * t * (1 - 2 * TIE_REL);
    long count = 0;
    for (long b = 0; b < wb->B; b++) {
        const double *o = wb->draw_B5 + (size_t)b * 5;
        double num = o[0] - b0 * o[1], den2 = c * (o[2] - 2 * b0 * o[3] + b0 * b0 * o[4]);
        /* |t*| >= |t|, without dividing: a draw of zero variance counts. */
        if (!(num * num < t2 * den2))
            count++;
    }
    return (double)count / (double)wb->B;
}

/* The p-value at b0, for the test inversion. */
static double pvalue_at(const void *ctx, double b0)
{
    return wildboot_pvalue(ctx, b0);
}

gravrd_status wildboot_result(const wildboot *wb, gravrd_boot_result *out, gravrd_error *err)
{
    (void)err;
    memset(out, 0, sizeof *out);
    out->type = wb->opt.type;
    out->weights = wb->opt.weights;
    out->reps = wb->B;
    out->enumerated = wb->enumerated;
    out->n_clusters = wb->d.G;
    out->level = wb->opt.level;
    out->p = wildboot_pvalue(wb, 0.0);
    double alpha = 1 - wb->opt.level;
    out->ci_lo = invert_test_end(pvalue_at, wb, wb->beta, wb->se, alpha, -1.0);
    out->ci_hi = invert_test_end(pvalue_at, wb, wb->beta, wb->se, alpha, 1.0);
    return GRAVRD_OK;
}
