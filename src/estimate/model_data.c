/* model_data.c - evaluating a parsed formula on a frame (see model_data.h);
 * columns are grouped by column_codes.c, directly or through the input
 * cache (reg_cache.c). */
#include "model_data.h"
#include "util/strutil.h"

#include <stdlib.h>
#include <string.h>

void model_data_free(model_data *md)
{
    for (int j = 0; j < md->n_outcomes; j++)
        if (!(md->outcome_borrowed_O && md->outcome_borrowed_O[j]))
            free(md->outcome_ON ? md->outcome_ON[j] : NULL);
    free(md->outcome_ON);
    free(md->outcome_borrowed_O);
    for (int j = 0; j < md->n_terms; j++) {
        if (!(md->term_borrowed_K && md->term_borrowed_K[j]))
            free(md->term_KN ? md->term_KN[j] : NULL);
        free(md->term_names ? md->term_names[j] : NULL);
    }
    free(md->term_KN);
    free(md->term_borrowed_K);
    free(md->term_names);
    for (int q = 0; q < md->n_fe; q++) {
        if (!(md->fe_shared_Q && md->fe_shared_Q[q]))
            free(md->fe_QN ? md->fe_QN[q] : NULL);
        free(md->fe_names ? md->fe_names[q] : NULL);
    }
    free(md->fe_QN);
    free(md->fe_shared_Q);
    free(md->fe_groups_Q);
    free(md->fe_names);
    for (int c = 0; c < md->n_cluster; c++) {
        if (!(md->cluster_shared_C && md->cluster_shared_C[c]))
            free(md->cluster_CN ? md->cluster_CN[c] : NULL);
        free(md->cluster_names ? md->cluster_names[c] : NULL);
    }
    free(md->cluster_CN);
    free(md->cluster_shared_C);
    free(md->cluster_groups_C);
    free(md->cluster_names);
    for (int v = 0; v < md->n_vars; v++) {
        free(md->var_names[v]);
        if (!md->from_cache)
            free(md->var_codes_VN[v]);
    }
    free(md->var_names);
    free(md->var_codes_VN);
    free(md->var_groups_V);
    free(md->fe_n_vars_Q);
    free(md->fe_var_Q4);
    memset(md, 0, sizeof *md);
}

/* *idx = index in md's cache of the codes of column `name`, grouping it on
 * first use (or taking the shared cache's codes). */
static gravrd_status cached_var(model_data *md, const gravrd_frame *frame, gravrd_reg_cache *cache,
                                const char *name, const char *what, int *idx, gravrd_error *err)
{
    for (int v = 0; v < md->n_vars; v++)
        if (!strcmp(md->var_names[v], name)) {
            *idx = v;
            return GRAVRD_OK;
        }
    const gravrd_column *col = gravrd_frame_find(frame, name);
    if (!col)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown variable '%s' in %s%s%s", name, what,
                                frame->source && frame->source[0] ? " (data: " : "",
                                frame->source && frame->source[0] ? frame->source : "");
    const size_t N = md->n_rows;
    char **names = realloc(md->var_names, ((size_t)md->n_vars + 1) * sizeof *names);
    if (names)
        md->var_names = names;
    int32_t **codes = realloc(md->var_codes_VN, ((size_t)md->n_vars + 1) * sizeof *codes);
    if (codes)
        md->var_codes_VN = codes;
    int32_t *groups = realloc(md->var_groups_V, ((size_t)md->n_vars + 1) * sizeof *groups);
    if (groups)
        md->var_groups_V = groups;
    if (!names || !codes || !groups)
        goto nomem;
    int v = md->n_vars;
    md->var_names[v] = gravrd_strdup(name);
    if (cache) {
        md->var_codes_VN[v] = NULL;
        md->var_groups_V[v] = 0;
        md->n_vars = v + 1;
        if (!md->var_names[v])
            goto nomem;
        *idx = v;
        char *const one[1] = {(char *)name};
        const int32_t *codes = NULL;
        gravrd_status st = reg_cache_codes(cache, one, 1, what, &codes, &md->var_groups_V[v], err);
        md->var_codes_VN[v] = (int32_t *)codes; /* read-only: from_cache */
        return st;
    }
    md->var_codes_VN[v] = malloc((N ? N : 1) * sizeof(int32_t));
    md->var_groups_V[v] = 0;
    md->n_vars = v + 1;
    if (!md->var_names[v] || !md->var_codes_VN[v])
        goto nomem;
    *idx = v;
    return model_column_codes(col, N, md->var_codes_VN[v], &md->var_groups_V[v], err);
nomem:
    return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory grouping column '%s'", name);
}

/* Codes of a '^'-combination of columns from the cache (as
 * model_group_codes, without grouping a column twice). var_out (may be
 * NULL) receives the cache index of each variable. */
static gravrd_status cached_group_codes(model_data *md, const gravrd_frame *frame, char *const *vars, int n_vars,
                                        const char *what, int32_t *codes_N, int32_t *n_groups, int *var_out,
                                        gravrd_error *err)
{
    const size_t N = md->n_rows;
    int v0 = -1;
    gravrd_status st = cached_var(md, frame, NULL, vars[0], what, &v0, err);
    if (st)
        return st;
    if (var_out)
        var_out[0] = v0;
    if (n_vars == 1) {
        memcpy(codes_N, md->var_codes_VN[v0], N * sizeof *codes_N);
        *n_groups = md->var_groups_V[v0];
        return GRAVRD_OK;
    }
    int32_t *tmp_N = n_vars > 2 ? malloc((N ? N : 1) * sizeof *tmp_N) : NULL;
    if (n_vars > 2 && !tmp_N)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory encoding %s", what);
    const int32_t *acc = md->var_codes_VN[v0];
    int32_t n_acc = md->var_groups_V[v0];
    for (int k = 1; k < n_vars && !st; k++) {
        int vk = -1;
        if ((st = cached_var(md, frame, NULL, vars[k], what, &vk, err)))
            break;
        if (var_out && k < MD_FE_VARS)
            var_out[k] = vk;
        if (k > 1) { /* acc is codes_N: combine into tmp, copy back */
            memcpy(tmp_N, codes_N, N * sizeof *tmp_N);
            acc = tmp_N;
        }
        st = gravrd_codes_combine(acc, n_acc, md->var_codes_VN[vk], md->var_groups_V[vk], N, codes_N, &n_acc,
                                  err);
    }
    *n_groups = n_acc;
    free(tmp_N);
    return st;
}

/* The frame's values when e is a bare numeric column (what evaluating it
 * would copy), else NULL. */
static double *bare_numeric_column(const gravrd_frame *frame, const gravrd_expr *e)
{
    if (e->kind != GRAVRD_EXPR_VAR)
        return NULL;
    const gravrd_column *col = gravrd_frame_find(frame, e->name);
    return col && col->type == GRAVRD_COL_NUMERIC ? col->num_N : NULL;
}

/* With a cache: the combined codes of vars (cache indices of the first two
 * in var_out when not NULL), every column also registered in md's list as
 * the uncached path does, so the collapse sees the same structure. */
static gravrd_status shared_group_codes(model_data *md, const gravrd_frame *frame, gravrd_reg_cache *cache,
                                        char *const *vars, int n_vars, const char *what, const int32_t **codes_N,
                                        int32_t *n_groups, int *var_out, gravrd_error *err)
{
    gravrd_status st = GRAVRD_OK;
    for (int k = 0; k < n_vars && !st; k++) {
        int vk = -1;
        st = cached_var(md, frame, cache, vars[k], what, &vk, err);
        if (!st && var_out && k < MD_FE_VARS)
            var_out[k] = vk;
    }
    return st ? st : reg_cache_codes(cache, vars, n_vars, what, codes_N, n_groups, err);
}

gravrd_status model_data_build(const gravrd_frame *frame, const gravrd_formula *f, const gravrd_fe_term *clusters,
                               int n_clusters, const gravrd_eval_env *env_in, gravrd_reg_cache *cache, model_data *md,
                               gravrd_error *err)
{
    const size_t N = frame->n_rows;
    gravrd_status st = GRAVRD_OK;
    gravrd_eval_env env = {frame, env_in ? env_in->call : NULL, env_in ? env_in->user : NULL};
    memset(md, 0, sizeof *md);
    md->n_rows = N;
    if (cache && !reg_cache_usable(cache, frame))
        cache = NULL;
    md->from_cache = cache != NULL;
    double *factor_N = NULL;

    md->outcome_ON = calloc((size_t)f->n_outcomes, sizeof *md->outcome_ON);
    md->term_KN = calloc((size_t)f->n_terms + 1, sizeof *md->term_KN);
    md->term_names = calloc((size_t)f->n_terms + 1, sizeof *md->term_names);
    md->fe_QN = calloc((size_t)f->n_fes + 1, sizeof *md->fe_QN);
    md->fe_groups_Q = calloc((size_t)f->n_fes + 1, sizeof *md->fe_groups_Q);
    md->fe_names = calloc((size_t)f->n_fes + 1, sizeof *md->fe_names);
    md->cluster_CN = calloc((size_t)n_clusters + 1, sizeof *md->cluster_CN);
    md->cluster_groups_C = calloc((size_t)n_clusters + 1, sizeof *md->cluster_groups_C);
    md->cluster_names = calloc((size_t)n_clusters + 1, sizeof *md->cluster_names);
    md->outcome_borrowed_O = calloc((size_t)f->n_outcomes + 1, 1);
    md->fe_shared_Q = calloc((size_t)f->n_fes + 1, 1);
    md->cluster_shared_C = calloc((size_t)n_clusters + 1, 1);
    md->term_borrowed_K = calloc((size_t)f->n_terms + 1, 1);
    md->fe_n_vars_Q = calloc((size_t)f->n_fes + 1, sizeof *md->fe_n_vars_Q);
    md->fe_var_Q4 = malloc(((size_t)f->n_fes * MD_FE_VARS + 1) * sizeof *md->fe_var_Q4);
    if (md->fe_var_Q4)
        for (int q = 0; q < MD_FE_VARS * f->n_fes; q++)
            md->fe_var_Q4[q] = -1;
    factor_N = cache ? NULL : malloc((N ? N : 1) * sizeof *factor_N);
    if (!md->outcome_ON || !md->term_KN || !md->term_names || !md->fe_QN || !md->fe_groups_Q || !md->fe_names ||
        !md->cluster_CN || !md->cluster_groups_C || !md->cluster_names || !md->fe_n_vars_Q || !md->fe_var_Q4 ||
        !md->outcome_borrowed_O || !md->term_borrowed_K || !md->fe_shared_Q || !md->cluster_shared_C ||
        (!cache && !factor_N))
        goto nomem;

    /* A bare column is read in place: copying a million-row column costs
     * as much in page faults as a demeaning sweep. */
    for (int j = 0; j < f->n_outcomes; j++) {
        double *bare = N ? bare_numeric_column(frame, f->outcomes[j]) : NULL;
        if (bare) {
            md->outcome_ON[j] = bare;
            md->outcome_borrowed_O[j] = 1;
            md->n_outcomes = j + 1;
            continue;
        }
        if (cache) { /* the shared values, read-only like a frame column */
            const double *y = NULL;
            md->outcome_borrowed_O[j] = 1;
            md->n_outcomes = j + 1;
            if ((st = reg_cache_expr(cache, f->outcomes[j], &env, &y, err)))
                goto fail;
            md->outcome_ON[j] = (double *)y;
            continue;
        }
        md->outcome_ON[j] = malloc((N ? N : 1) * sizeof(double));
        md->n_outcomes = j + 1;
        if (!md->outcome_ON[j])
            goto nomem;
        if ((st = gravrd_expr_eval(f->outcomes[j], &env, md->outcome_ON[j], err)))
            goto fail;
    }
    for (int t = 0; t < f->n_terms; t++) {
        double *bare = N && f->terms[t].n_factors == 1 ? bare_numeric_column(frame, f->terms[t].factors[0]) : NULL;
        if (!bare && cache) {
            const double *x = NULL;
            md->term_borrowed_K[t] = 1;
            md->term_names[t] = gravrd_strdup(f->terms[t].name);
            md->n_terms = t + 1;
            if (!md->term_names[t])
                goto nomem;
            if ((st = reg_cache_term(cache, &f->terms[t], &env, &x, err)))
                goto fail;
            md->term_KN[t] = (double *)x; /* read-only */
            continue;
        }
        md->term_KN[t] = bare ? bare : malloc((N ? N : 1) * sizeof(double));
        md->term_borrowed_K[t] = bare != NULL;
        md->term_names[t] = gravrd_strdup(f->terms[t].name);
        md->n_terms = t + 1;
        if (!md->term_KN[t] || !md->term_names[t])
            goto nomem;
        if (bare)
            continue;
        double *x = md->term_KN[t];
        for (int m = 0; m < f->terms[t].n_factors; m++) {
            if ((st = gravrd_expr_eval(f->terms[t].factors[m], &env, m == 0 ? x : factor_N, err)))
                goto fail;
            if (m > 0)
                for (size_t i = 0; i < N; i++)
                    x[i] *= factor_N[i];
        }
    }
    for (int q = 0; q < f->n_fes; q++) {
        md->fe_names[q] = gravrd_strdup(f->fes[q].name);
        md->fe_n_vars_Q[q] = f->fes[q].n_vars;
        md->n_fe = q + 1;
        if (!md->fe_names[q])
            goto nomem;
        if (f->fes[q].n_vars == 1) { /* the cached codes themselves */
            int v = -1;
            if ((st = cached_var(md, frame, cache, f->fes[q].vars[0], "the fixed effects", &v, err)))
                goto fail;
            md->fe_QN[q] = md->var_codes_VN[v];
            md->fe_groups_Q[q] = md->var_groups_V[v];
            md->fe_shared_Q[q] = 1;
            md->fe_var_Q4[MD_FE_VARS * q] = v;
            continue;
        }
        if (cache) {
            const int32_t *codes = NULL;
            md->fe_shared_Q[q] = 1;
            if ((st = shared_group_codes(md, frame, cache, f->fes[q].vars, f->fes[q].n_vars, "the fixed effects",
                                         &codes, &md->fe_groups_Q[q], md->fe_var_Q4 + MD_FE_VARS * q, err)))
                goto fail;
            md->fe_QN[q] = (int32_t *)codes; /* read-only */
            continue;
        }
        if (!(md->fe_QN[q] = malloc((N ? N : 1) * sizeof(int32_t))))
            goto nomem;
        if ((st = cached_group_codes(md, frame, f->fes[q].vars, f->fes[q].n_vars, "the fixed effects",
                                     md->fe_QN[q], &md->fe_groups_Q[q], md->fe_var_Q4 + MD_FE_VARS * q, err)))
            goto fail;
    }
    for (int c = 0; c < n_clusters; c++) {
        md->cluster_names[c] = gravrd_strdup(clusters[c].name);
        md->n_cluster = c + 1;
        if (!md->cluster_names[c])
            goto nomem;
        if (clusters[c].n_vars == 1) { /* the cached codes themselves */
            int v = -1;
            if ((st = cached_var(md, frame, cache, clusters[c].vars[0], "--cluster", &v, err)))
                goto fail;
            md->cluster_CN[c] = md->var_codes_VN[v];
            md->cluster_groups_C[c] = md->var_groups_V[v];
            md->cluster_shared_C[c] = 1;
            continue;
        }
        if (cache) {
            const int32_t *codes = NULL;
            md->cluster_shared_C[c] = 1;
            if ((st = shared_group_codes(md, frame, cache, clusters[c].vars, clusters[c].n_vars, "--cluster",
                                         &codes, &md->cluster_groups_C[c], NULL, err)))
                goto fail;
            md->cluster_CN[c] = (int32_t *)codes; /* read-only */
            continue;
        }
        if (!(md->cluster_CN[c] = malloc((N ? N : 1) * sizeof(int32_t))))
            goto nomem;
        if ((st = cached_group_codes(md, frame, clusters[c].vars, clusters[c].n_vars, "--cluster",
                                     md->cluster_CN[c], &md->cluster_groups_C[c], NULL, err)))
            goto fail;
    }
    free(factor_N);
    return GRAVRD_OK;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory evaluating the formula on %zu rows", N);
fail:
    free(factor_N);
    model_data_free(md);
    return st;
}
