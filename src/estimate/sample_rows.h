/* sample_rows.h - the rows each outcome of a model is fitted on: the sample
 * (subset and split) less rows with a missing regressor, FE or cluster, less
 * rows with a missing outcome, less singletons (reg.c).
 *
 * With a gravrd_reg_cache (and not --strict, whose errors name the first
 * offending row) each mask is computed once per distinct combination of
 * inputs and shared read-only by later models: a study fits dozens of
 * models on the same few samples, and these passes over a million rows cost
 * more than a collapsed fit. */
#ifndef GRAVRD_SAMPLE_ROWS_H
#define GRAVRD_SAMPLE_ROWS_H

#include "model_data.h"

/* What identifies a sample's rows besides the frame: the subset's values
 * (a cache entry or NULL for none) and the split's codes and value. */
typedef struct {
    const double *subset_N;
    const int32_t *split_N;
    int32_t split_value;
} sample_key;

/* Rows of the sample usable for the right-hand side. */
typedef struct {
    const uint8_t *ok_N;  /* sample rows with every regressor, FE and cluster present */
    size_t n_sample;      /* rows in the sample */
    const char *detail;   /* "name: count, ..." of the missing values, "" when none */
} rhs_rows;

/* Rows of one outcome. */
typedef struct {
    const uint8_t *ok_N;       /* usable: the rhs rows with the outcome present */
    size_t bad, first_bad;     /* sample rows missing the outcome; the first of them */
    size_t usable;             /* rows in ok_N */
    const uint8_t *keep_N;     /* ok_N less singletons (NULL until sample_rows_keep) */
    size_t dropped_singletons;
} outcome_rows;

typedef struct sample_rows sample_rows;

/* The rows of the sample mask_N (identified by key when cached) for every
 * outcome of md. cache: NULL or usable for md's frame. Errors: --strict
 * with a missing value (naming the variable, source and first row), out of
 * memory. */
gravrd_status sample_rows_new(const model_data *md, const uint8_t *mask_N, const sample_key *key,
                              const gravrd_reg_options *opt, const char *source, const char *const *outcome_names,
                              gravrd_reg_cache *cache, sample_rows **out, gravrd_error *err);
const rhs_rows *sample_rows_rhs(const sample_rows *s);
const outcome_rows *sample_rows_outcome(const sample_rows *s, int j);
/* Fills outcome j's keep_N and dropped_singletons (singletons dropped
 * unless opt->keep_singletons; cached by usable rows and FE). */
gravrd_status sample_rows_keep(sample_rows *s, int j, gravrd_error *err);
/* "name: count, ..." of the missing values that removed rows of outcome j
 * (the right-hand side's, then the outcome's), into buf. */
void sample_rows_missing_detail(const sample_rows *s, int j, const char *outcome_name, char *buf, size_t cap);
/* The cache that owns the masks, NULL when they are s's own. */
gravrd_reg_cache *sample_rows_cache(const sample_rows *s);
void sample_rows_free(sample_rows *s);

#endif
