/* model_data.h - a formula evaluated on a whole frame: outcome and regressor
 * columns, FE and cluster codes, before any row is dropped. */
#ifndef GRAVRD_MODEL_DATA_H
#define GRAVRD_MODEL_DATA_H

#include "gravrd/estimate.h"
#include "estimate/column_codes.h"
#include "estimate/reg_cache.h"

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

/* cache may be NULL (everything computed here and owned by md). */
gravrd_status model_data_build(const gravrd_frame *frame, const gravrd_formula *f, const gravrd_fe_term *clusters,
                               int n_clusters, const gravrd_eval_env *env, gravrd_reg_cache *cache, model_data *md,
                               gravrd_error *err);

void model_data_free(model_data *md);

#endif
