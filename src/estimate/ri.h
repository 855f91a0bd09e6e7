/* ri.h - randomization inference on the demeaned problem the solver has
 * just fitted: the model refitted with one regressor reassigned. */
#ifndef GRAVRD_RI_INTERNAL_H
#define GRAVRD_RI_INTERNAL_H

#include "gravrd/hdfe.h"
#include "gravrd/ri.h"
#include "ols.h"

/* The fitted problem, borrowed: the other regressors stay as demeaned, so
 * a draw demeans one column and solves a k x k system. */
typedef struct {
    size_t n;
    int k;
    const double *X_NK;          /* demeaned kept regressors, column-major */
    const double *y_N;           /* demeaned outcome */
    int term;                    /* the kept column reassigned */
    const gravrd_fe *fe;         /* NULL without FE */
    gravrd_demean_options dopt;
    const size_t *rows_N;        /* frame row of each fitted row (a cell's first row when collapsed) */
    const ols_var_spec *vs;
    double within_ss;            /* collapsed: added to each refit's residual sum of squares */
    int threads;
} ri_design;

/* Runs opt->reps refits and fills *out (malloc'ed with its arrays); beta
 * and t are the fitted coefficient of the term and its t statistic. A
 * failing draw callback is an error naming the draw. */
gravrd_status ri_run(const ri_design *d, const gravrd_ri_options *opt, double beta, double t, gravrd_ri_result **out,
                     gravrd_error *err);
void ri_result_free(gravrd_ri_result *r);

#endif
