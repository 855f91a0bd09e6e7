/* ols.h - least squares on one estimation sample, for one or more outcomes
 * sharing the same rows: demeaning, collinearity, coefficients, fit
 * statistics and variance. */
#ifndef GRAVRD_OLS_H
#define GRAVRD_OLS_H

#include "model_data.h"

/* Fits outcomes outcome_J[0..n_out-1] of md on the rows with keep_N[i] != 0,
 * filling results_J[j] (caller zero-initialises; strings it sets are
 * malloc'ed). dropped_singletons is recorded in each result. */
gravrd_status ols_fit_sample(const model_data *md, const uint8_t *keep_N, const int *outcome_J, int n_out,
                             int intercept, const gravrd_reg_options *opt, gravrd_reg_result *results_J,
                             gravrd_error *err);

#endif
