/* gravrd/estimate.h - the regression pipeline behind `gravrd reg`: formula +
 * frame + options -> one result per outcome and split sample. */
#ifndef GRAVRD_ESTIMATE_H
#define GRAVRD_ESTIMATE_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/boot.h"
#include "gravrd/data.h"
#include "gravrd/error.h"
#include "gravrd/formula.h"
#include "gravrd/ri.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GRAVRD_VCOV_IID = 0, GRAVRD_VCOV_HETERO, GRAVRD_VCOV_CLUSTER } gravrd_vcov_type;
/* Small-sample corrections: FIXEST = fixest's defaults; STATA = reghdfe's. */
typedef enum { GRAVRD_SSC_FIXEST = 0, GRAVRD_SSC_STATA } gravrd_ssc_rule;

/* Evaluated inputs shared across gravrd_reg calls on one frame: outcome,
 * regressor and subset expressions (by deparsed text, and the env's call and
 * user pointers when the expression calls an env function), group codes of
 * columns and of '^' combinations (FE, clusters) and of --split columns,
 * and what is derived from them: estimation samples (missing values,
 * singletons) and the panel structures of the collapse. A second model on
 * the frame reuses them; results are bit-identical with and without a
 * cache. Safe to share between concurrent gravrd_reg calls (a mutex guards
 * the index; entries never change once added; a worker needing an entry
 * another is computing waits for it). The frame's existing columns must not
 * change while the cache lives (adding columns is fine), and an env's
 * functions must give the same values for the same call/user pointers.
 * Memory grows with every distinct input (8 or 4 bytes a row each, 1 a row
 * per distinct sample) until freed. */
typedef struct gravrd_reg_cache gravrd_reg_cache;
gravrd_reg_cache *gravrd_reg_cache_new(const gravrd_frame *frame); /* NULL when out of memory */
/* A cache for frame that takes from parent (a cache of another frame with
 * the same rows) every input whose columns are identical in both frames
 * (compared once per column), computing the rest itself: the study frame at
 * another segment bandwidth differs from the default one only in its
 * segment columns, so outcomes, city-month codes and samples are shared.
 * parent must outlive it and its frame's columns must not change. NULL
 * when out of memory. */
gravrd_reg_cache *gravrd_reg_cache_new_sharing(const gravrd_frame *frame, gravrd_reg_cache *parent);
void gravrd_reg_cache_free(gravrd_reg_cache *cache);
/* The values of an expression on the cache's frame, evaluated once and
 * shared (read-only, valid until the cache is freed): for callers that
 * need a model's variables outside gravrd_reg, such as the rows where two
 * models are both estimable. env: custom functions (env->frame ignored;
 * NULL for none). */
gravrd_status gravrd_reg_cache_eval(gravrd_reg_cache *cache, const char *expression, const gravrd_eval_env *env,
                                    const double **values_N, gravrd_error *err);

typedef struct {
    const char *subset;        /* expression; rows where it is true (NA = false) */
    const char *split;         /* column; one estimation per value */
    const char *sample_label;  /* label of the whole sample ("all" if NULL) */
    gravrd_vcov_type vcov;     /* set to CLUSTER automatically when cluster != NULL */
    const char *cluster;       /* "a", "a^b", "a + b" (multi-way) */
    gravrd_ssc_rule ssc;
    int strict;                /* missing/non-finite values are an error */
    int keep_singletons;       /* default 0: singletons dropped repeatedly */
    double tol;                /* demeaning tolerance, 0 = default */
    int max_iter;              /* 0 = default */
    int threads;               /* 0 = 1 */
    const gravrd_eval_env *env;/* custom functions; env->frame is ignored (may be NULL) */
    int keep_scores;           /* keep cluster scores and bread for gravrd_suest_difference
                                  (one-way clustering only) */
    int no_shortcuts;          /* 1: always the general path (no collapse of balanced
                                  cell x month panels; docs/algorithms.md), for tests */
    gravrd_reg_cache *cache;   /* NULL = none; ignored when made for another frame */
    gravrd_boot_options boot;  /* wild cluster bootstrap of the coefficients (method NONE: none);
                                  needs one-way clustering */
    gravrd_ri_options ri;      /* randomization inference on one regressor (reps 0: none) */
} gravrd_reg_options;

void gravrd_reg_options_init(gravrd_reg_options *opt);

typedef struct {
    char *name;
    double estimate, se, t, p;
    gravrd_boot_result *boot;  /* NULL unless bootstrapped (gravrd_reg_options.boot) */
    gravrd_ri_result *ri;      /* NULL unless the reassigned regressor (gravrd_reg_options.ri) */
} gravrd_coef;

typedef struct {
    char *outcome;             /* deparsed outcome */
    char *sample;              /* "all", or "split_var=value" */
    char *formula;
    size_t nobs;
    size_t dropped_missing;    /* rows dropped for a missing/non-finite value */
    size_t dropped_singletons;
    int n_fe;
    char **fe_names;           /* _Q */
    int32_t *fe_levels;        /* _Q, levels after dropping */
    char *vcov_label;          /* "iid", "hetero", "cluster: pair_id", "two-way cluster: a + b" */
    int n_coef;                /* kept (non-collinear) coefficients */
    gravrd_coef *coefs;        /* in formula order */
    double *vcov;              /* n_coef x n_coef, row-major */
    int n_collinear;
    char **collinear;          /* names of dropped collinear regressors */
    double r2, adj_r2, within_r2, rmse;
    double wald_f, wald_p;     /* Wald test that all non-intercept coefficients are 0 */
    int wald_df1;
    double wald_df2;
    double t_df;               /* degrees of freedom of the t tests */
    long n_params;             /* coefficients + identified FE parameters */
    size_t n_clusters_min;     /* smallest cluster count (0 when not clustered) */
    int iterations;
    double seconds;
    /* With keep_scores and one-way clustering (else NULL / 0): */
    int32_t n_score_groups;    /* G clusters, numbered by first appearance in the sample */
    double *scores;            /* G x n_coef, row-major: s_g = sum over i in g of x_i e_i (x demeaned) */
    double *bread;             /* n_coef x n_coef, row-major: (X'X)^-1 */
    double vcov_scale;         /* factor applied to bread * meat * bread: (n-1)/(n-K) * G/(G-1) */
    uint64_t sample_hash;      /* hash of the row indices used: equal for two fits on the same rows */
    int collapsed;             /* 1: fitted through the exact collapse of a balanced cell x month
                                  panel to its cells (docs/algorithms.md); same numbers */
} gravrd_reg_result;

typedef struct {
    int n;                     /* number of results (outcomes x split values) */
    gravrd_reg_result *results;
    int n_warnings;
    char **warnings;           /* e.g. "12 rows dropped: missing or non-finite values in log(trade)" */
} gravrd_reg_results;

gravrd_status gravrd_reg(const gravrd_frame *frame, const char *formula, const gravrd_reg_options *opt,
                         gravrd_reg_results **out, gravrd_error *err);
void gravrd_reg_results_free(gravrd_reg_results *res);

/* The column names gravrd_reg would read for this formula and these
 * options: variables of the outcomes and terms (including arguments of
 * functions such as above_median), FE variables, cluster variables, and the
 * variables of opt->subset and opt->split; each once, in that order. Lets a
 * caller build only the columns a model needs (gravrd_study_frame).
 * *names is malloc'ed; free with gravrd_strings_free(*names, *n). opt may be
 * NULL. Syntax errors are reported as gravrd_reg would. */
gravrd_status gravrd_reg_variables(const char *formula, const gravrd_reg_options *opt, char ***names, size_t *n,
                                   gravrd_error *err);

/* Test that a coefficient changes between two models fitted on the same rows
 * with the same one-way clustering (e.g. adding a mediator): the difference
 * b_a - b_b, its standard error from the two models' stacked cluster scores
 * (the joint covariance Stata's suest gives, with each model's own
 * small-sample factor: Cov(b_a, b_b) = sqrt(c_a c_b) B_a S_a'S_b B_b), the
 * t statistic and its two-sided p-value on G - 1 degrees of freedom.
 * Both results need keep_scores. Errors if the samples or clusterings differ
 * or a coefficient is missing. */
typedef struct {
    double difference, se, t, p;
    double cov_ab;             /* Cov(b_a, b_b) */
    int32_t n_clusters;
} gravrd_suest_result;

gravrd_status gravrd_suest_difference(const gravrd_reg_result *a, const char *coef_a, const gravrd_reg_result *b,
                                      const char *coef_b, gravrd_suest_result *out, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
