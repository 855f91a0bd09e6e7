/* fe.c - building the fixed-effect structure: compacted level codes, level
 * counts, and the connectivity of the first two FE (for reghdfe-style
 * degrees of freedom). */
#include "fe_internal.h"

#include <stdlib.h>
#include <string.h>

void gravrd_fe_free(gravrd_fe *fe)
{
    if (!fe)
        return;
    if (fe->code_QN)
        for (int q = 0; q < fe->n_fe; q++)
            free(fe->code_QN[q]);
    free(fe->code_QN);
    free(fe->n_levels_Q);
    free(fe->offset_Q);
    free(fe->count_L);
    free(fe->run_QN);
    free(fe);
}

gravrd_status gravrd_fe_create(int n_fe, size_t n_obs, const int32_t *const *codes_QN, gravrd_fe **out,
                               gravrd_error *err)
{
    *out = NULL;
    if (n_fe < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "a fixed-effect structure needs at least one FE");
    gravrd_fe *fe = calloc(1, sizeof *fe);
    size_t *cnt = NULL, *first = NULL;
    int32_t *new_code = NULL;
    if (!fe)
        goto nomem;
    fe->n_fe = n_fe;
    fe->n_obs = n_obs;
    fe->run_fe = -1;
    fe->code_QN = calloc((size_t)n_fe, sizeof *fe->code_QN);
    fe->n_levels_Q = calloc((size_t)n_fe, sizeof *fe->n_levels_Q);
    fe->offset_Q = calloc((size_t)n_fe, sizeof *fe->offset_Q);
    if (!fe->code_QN || !fe->n_levels_Q || !fe->offset_Q)
        goto nomem;
    /* Three passes per FE: the range of the codes, the count of each input
     * code (which also marks the levels in use, and counts the runs of equal
     * consecutive codes), and the compaction (a copy when every level is in
     * use). Levels keep the order of the input codes. (Before: four passes,
     * counting row by row.) */
    for (int q = 0; q < n_fe; q++) {
        const int32_t *code = codes_QN[q];
        /* Four independent accumulators: a single running max is a chain. */
        int32_t mx_K[4] = {-1, -1, -1, -1}, neg = 0;
        size_t i4 = 0;
        for (; i4 + 4 <= n_obs; i4 += 4)
            for (int k = 0; k < 4; k++) {
                mx_K[k] = code[i4 + (size_t)k] > mx_K[k] ? code[i4 + (size_t)k] : mx_K[k];
                neg |= code[i4 + (size_t)k];
            }
        for (; i4 < n_obs; i4++) {
            mx_K[0] = code[i4] > mx_K[0] ? code[i4] : mx_K[0];
            neg |= code[i4];
        }
        int32_t max_code = mx_K[0];
        for (int k = 1; k < 4; k++)
            max_code = mx_K[k] > max_code ? mx_K[k] : max_code;
        if (neg < 0) { /* some code is negative: report the first */
            size_t i = 0;
            while (code[i] >= 0)
                i++;
            gravrd_fe_free(fe);
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "fixed effect %d has a missing code at row %zu",
                                    q + 1, i + 1);
        }
        cnt = calloc((size_t)max_code + 2, sizeof *cnt);
        first = malloc(((size_t)max_code + 2) * sizeof *first);
        new_code = malloc(((size_t)max_code + 2) * sizeof *new_code);
        fe->code_QN[q] = malloc((n_obs ? n_obs : 1) * sizeof(int32_t));
        if (!cnt || !first || !new_code || !fe->code_QN[q])
            goto nomem;
        /* Counted by runs of equal codes: incrementing cnt[code[i]] row by
         * row is a chain of dependent memory updates on sorted ids. */
        size_t runs = 0;
        for (size_t i = 0; i < n_obs;) {
            const int32_t c = code[i];
            size_t j = i + 1;
            while (j < n_obs && code[j] == c)
                j++;
            if (!cnt[c])
                first[c] = i;
            cnt[c] += j - i;
            runs++;
            i = j;
        }
        int32_t n_levels = 0;
        for (int32_t g = 0; g <= max_code; g++)
            new_code[g] = cnt[g] ? n_levels++ : -1;
        if (n_levels == max_code + 1)
            memcpy(fe->code_QN[q], code, n_obs * sizeof(int32_t));
        else
            for (size_t i = 0; i < n_obs; i++)
                fe->code_QN[q][i] = new_code[code[i]];
        fe->n_levels_Q[q] = n_levels;
        fe->offset_Q[q] = fe->n_levels_total;
        fe->n_levels_total += (size_t)n_levels;
        double *count_L = realloc(fe->count_L, (fe->n_levels_total ? fe->n_levels_total : 1) * sizeof *count_L);
        if (!count_L)
            goto nomem;
        fe->count_L = count_L;
        for (int32_t g = 0; g <= max_code; g++)
            if (cnt[g])
                count_L[fe->offset_Q[q] + (size_t)new_code[g]] = (double)cnt[g];
        /* Every level in one stretch of rows (as many runs as levels), at
         * least two rows a level on average: demean.c can eliminate this FE
         * stretch by stretch inside each pass. The longest runs win. */
        if (n_levels > 0 && runs == (size_t)n_levels && 2 * (size_t)n_levels <= n_obs &&
            (fe->run_fe < 0 || n_levels < fe->n_levels_Q[fe->run_fe])) {
            size_t *run = malloc(2 * ((size_t)n_levels ? (size_t)n_levels : 1) * sizeof *run);
            if (!run)
                goto nomem;
            free(fe->run_QN);
            fe->run_QN = run;
            fe->run_fe = q;
            fe->max_run = 0;
            for (int32_t g = 0; g <= max_code; g++)
                if (cnt[g]) {
                    run[2 * (size_t)new_code[g]] = first[g];
                    run[2 * (size_t)new_code[g] + 1] = first[g] + cnt[g];
                    fe->max_run = cnt[g] > fe->max_run ? cnt[g] : fe->max_run;
                }
        }
        free(cnt);
        free(first);
        free(new_code);
        cnt = NULL;
        first = NULL;
        new_code = NULL;
    }
    if (!fe->count_L && !(fe->count_L = calloc(1, sizeof *fe->count_L)))
        goto nomem;
    *out = fe;
    return GRAVRD_OK;
nomem:
    free(cnt);
    free(first);
    free(new_code);
    gravrd_fe_free(fe);
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the fixed effects (%zu rows)", n_obs);
}

int gravrd_fe_count(const gravrd_fe *fe) { return fe->n_fe; }
int32_t gravrd_fe_levels(const gravrd_fe *fe, int q) { return fe->n_levels_Q[q]; }
size_t gravrd_fe_nobs(const gravrd_fe *fe) { return fe->n_obs; }
const int32_t *gravrd_fe_codes(const gravrd_fe *fe, int q) { return fe->code_QN[q]; }

static size_t find_root(size_t *parent, size_t x)
{
    while (parent[x] != x) {
        parent[x] = parent[parent[x]];
        x = parent[x];
    }
    return x;
}

long gravrd_fe_pair_components(const gravrd_fe *fe, int qa, int qb)
{
    if (qa < 0 || qb < 0 || qa >= fe->n_fe || qb >= fe->n_fe || qa == qb)
        return 1;
    size_t n0 = (size_t)fe->n_levels_Q[qa], n = n0 + (size_t)fe->n_levels_Q[qb];
    size_t *parent = malloc(n * sizeof *parent);
    if (!parent)
        return -1;
    for (size_t v = 0; v < n; v++)
        parent[v] = v;
    long components = (long)n;
    for (size_t i = 0; i < fe->n_obs; i++) {
        size_t a = find_root(parent, (size_t)fe->code_QN[qa][i]);
        size_t b = find_root(parent, n0 + (size_t)fe->code_QN[qb][i]);
        if (a != b) {
            parent[a < b ? b : a] = a < b ? a : b;
            components--;
        }
    }
    free(parent);
    return components;
}

long gravrd_fe_components(const gravrd_fe *fe)
{
    return fe->n_fe < 2 ? 1 : gravrd_fe_pair_components(fe, 0, 1);
}

int gravrd_fe_nested_in(const int32_t *fe_N, int32_t n_levels, const int32_t *cluster_N, size_t n)
{
    int32_t *owner = malloc(((size_t)n_levels + 1) * sizeof *owner);
    if (!owner)
        return -1;
    for (int32_t g = 0; g < n_levels; g++)
        owner[g] = -1;
    int nested = 1;
    for (size_t i = 0; i < n && nested; i++) {
        if (owner[fe_N[i]] < 0)
            owner[fe_N[i]] = cluster_N[i];
        else if (owner[fe_N[i]] != cluster_N[i])
            nested = 0;
    }
    free(owner);
    return nested;
}
