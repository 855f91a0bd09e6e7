/* model_data.h - a formula evaluated on a whole frame: outcome and regressor
 * columns, FE and cluster codes, before any row is dropped. */
#ifndef GRAVRD_MODEL_DATA_H
#define GRAVRD_MODEL_DATA_H

#include "gravrd/estimate.h"

#define MD_FE_VARS 4 /* variables of an FE term recorded for the collapse */

typedef struct {
    size_t n_rows;                /* N: rows of the frame */
    int n_outcomes;
    double **outcome_ON;          /* n_outcomes arrays of N */
    int n_terms;                  /* regressors from the formula (excluding intercept) */
    double **term_KN;
    char **term_names;
    int n_fe;
    int32_t **fe_QN;              /* -1 = missing */
    int32_t *fe_groups_Q;
    char **fe_names;
    int n_cluster;
    int32_t **cluster_CN;         /* -1 = missing */
    int32_t *cluster_groups_C;
    char **cluster_names;
    /* Single columns grouped for the FE and clusters, each once (a column
     * used in several terms, such as the month in exp^month and imp^month,
     * is grouped once), and for each FE the index of its variables in this
     * list: fe_var_Q4[MD_FE_VARS q + k] for the first MD_FE_VARS (-1 beyond
     * fe_n_vars_Q[q]). The collapse shortcut (collapse.c) reads them. */
    int n_vars;
    char **var_names;
    int32_t **var_codes_VN;       /* -1 = missing */
    int32_t *var_groups_V;
    int *fe_n_vars_Q;
    int *fe_var_Q4;
    /* Outcomes and regressors that are a bare numeric column point into the
     * frame instead of holding a copy (read-only; not freed). */
    uint8_t *outcome_borrowed_O;
    uint8_t *term_borrowed_K;
    /* FE and clusters of a single column point to its cached codes
     * (read-only; freed with the cache). */
    uint8_t *fe_shared_Q;
    uint8_t *cluster_shared_C;
    /* Built with a gravrd_reg_cache: the column codes above, combined FE
     * and cluster codes and evaluated expressions belong to the cache
     * (read-only; not freed here). */
    int from_cache;
} model_data;

/* Group codes of a '^'-combination of columns (a single column when
 * n_vars == 1). `what` names the role in messages ("fixed effect"). */
gravrd_status model_group_codes(const gravrd_frame *frame, char *const *vars, int n_vars, const char *what,
                                int32_t *codes_N, int32_t *n_groups, gravrd_error *err);

/* Codes of one column (dense integer table or gravrd_column_group_codes;
 * the same codes either way). */
gravrd_status model_column_codes(const gravrd_column *col, size_t N, int32_t *codes_N, int32_t *n_groups,
                                 gravrd_error *err);

/* cache may be NULL (everything computed here and owned by md). */
gravrd_status model_data_build(const gravrd_frame *frame, const gravrd_formula *f, const gravrd_fe_term *clusters,
                               int n_clusters, const gravrd_eval_env *env, gravrd_reg_cache *cache, model_data *md,
                               gravrd_error *err);

/* ---- reg_cache.c: the shared inputs (pointers valid until the cache is
 * freed; read-only) ---- */
int reg_cache_usable(const gravrd_reg_cache *c, const gravrd_frame *frame);
gravrd_status reg_cache_expr(gravrd_reg_cache *c, const gravrd_expr *expr, const gravrd_eval_env *env,
                             const double **out_N, gravrd_error *err);
gravrd_status reg_cache_term(gravrd_reg_cache *c, const gravrd_term *term, const gravrd_eval_env *env,
                             const double **out_N, gravrd_error *err);
/* Codes of a '^'-combination (one column when n_vars == 1), as
 * model_group_codes gives them. */
gravrd_status reg_cache_codes(gravrd_reg_cache *c, char *const *vars, int n_vars, const char *what,
                              const int32_t **codes_N, int32_t *n_groups, gravrd_error *err);
/* A --split column's codes and labels, as gravrd_column_group_codes. */
gravrd_status reg_cache_split(gravrd_reg_cache *c, const char *name, const int32_t **codes_N, int32_t *n_groups,
                              char *const **labels, gravrd_error *err);
/* Derived data keyed by the identity of its inputs (n_key words: pointers
 * that live as long as the cache, flags, counts). find: the blob, or NULL
 * after claiming the key - the caller must then either add the blob or
 * abandon the key (on error); meanwhile other workers asking for the key
 * wait. add: hands blob (freed by blob_free with the cache) to the cache
 * and returns the blob to use - an equal key added meanwhile wins and blob
 * is freed - or NULL when out of memory (blob freed). Blobs are read-only
 * once added. */
void *reg_cache_blob_find(gravrd_reg_cache *c, const uintptr_t *key, int n_key);
void *reg_cache_blob_add(gravrd_reg_cache *c, const uintptr_t *key, int n_key, void *blob, void (*blob_free)(void *));
void reg_cache_blob_abandon(gravrd_reg_cache *c, const uintptr_t *key, int n_key);
/* A cached 0/1 fact about inputs: compute(ctx) gives it (-1: out of
 * memory) the first time the key is asked for. */
gravrd_status reg_cache_flag(gravrd_reg_cache *c, const uintptr_t *key, int n_key, int (*compute)(const void *ctx),
                             const void *ctx, int *value, gravrd_error *err);
void model_data_free(model_data *md);

#endif
