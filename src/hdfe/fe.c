/* fe.c - building the fixed-effect structure: compacted level codes, level
 * counts, and the connectivity of the first two FE (for reghdfe-style
 * degrees of freedom). */
#include "fe_internal.h"

#include <stdlib.h>

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
    free(fe);
}

gravrd_status gravrd_fe_create(int n_fe, size_t n_obs, const int32_t *const *codes_QN, gravrd_fe **out,
                               gravrd_error *err)
{
    *out = NULL;
    if (n_fe < 1)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "a fixed-effect structure needs at least one FE");
    gravrd_fe *fe = calloc(1, sizeof *fe);
    if (!fe)
        goto nomem;
    fe->n_fe = n_fe;
    fe->n_obs = n_obs;
    fe->code_QN = calloc((size_t)n_fe, sizeof *fe->code_QN);
    fe->n_levels_Q = calloc((size_t)n_fe, sizeof *fe->n_levels_Q);
    fe->offset_Q = calloc((size_t)n_fe, sizeof *fe->offset_Q);
    if (!fe->code_QN || !fe->n_levels_Q || !fe->offset_Q)
        goto nomem;
    for (int q = 0; q < n_fe; q++) {
        int32_t max_code = -1;
        for (size_t i = 0; i < n_obs; i++) {
            if (codes_QN[q][i] < 0) {
                gravrd_fe_free(fe);
                return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                        "fixed effect %d has a missing code at row %zu", q + 1, i + 1);
            }
            if (codes_QN[q][i] > max_code)
                max_code = codes_QN[q][i];
        }
        /* Compact: the sample may not use every level of the input codes. */
        int32_t *new_code = malloc(((size_t)max_code + 1) * sizeof *new_code);
        fe->code_QN[q] = malloc(n_obs * sizeof(int32_t));
        if (!new_code || !fe->code_QN[q]) {
            free(new_code);
            goto nomem;
        }
        for (int32_t g = 0; g <= max_code; g++)
            new_code[g] = -1;
        for (size_t i = 0; i < n_obs; i++)
            new_code[codes_QN[q][i]] = 0;
        int32_t n_levels = 0;
        for (int32_t g = 0; g <= max_code; g++)
            if (new_code[g] == 0)
                new_code[g] = n_levels++;
        for (size_t i = 0; i < n_obs; i++)
            fe->code_QN[q][i] = new_code[codes_QN[q][i]];
        free(new_code);
        fe->n_levels_Q[q] = n_levels;
        fe->offset_Q[q] = fe->n_levels_total;
        fe->n_levels_total += (size_t)n_levels;
    }
    fe->count_L = calloc(fe->n_levels_total ? fe->n_levels_total : 1, sizeof *fe->count_L);
    if (!fe->count_L)
        goto nomem;
    for (int q = 0; q < n_fe; q++) {
        double *count = fe->count_L + fe->offset_Q[q];
        const int32_t *code = fe->code_QN[q];
        for (size_t i = 0; i < n_obs; i++)
            count[code[i]] += 1.0;
    }
    *out = fe;
    return GRAVRD_OK;
nomem:
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

long gravrd_fe_components(const gravrd_fe *fe)
{
    if (fe->n_fe < 2)
        return 1;
    size_t n0 = (size_t)fe->n_levels_Q[0], n = n0 + (size_t)fe->n_levels_Q[1];
    size_t *parent = malloc(n * sizeof *parent);
    if (!parent)
        return -1;
    for (size_t v = 0; v < n; v++)
        parent[v] = v;
    long components = (long)n;
    for (size_t i = 0; i < fe->n_obs; i++) {
        size_t a = find_root(parent, (size_t)fe->code_QN[0][i]);
        size_t b = find_root(parent, n0 + (size_t)fe->code_QN[1][i]);
        if (a != b) {
            parent[a < b ? b : a] = a < b ? a : b;
            components--;
        }
    }
    free(parent);
    return components;
}
