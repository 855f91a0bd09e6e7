/* invert.h - an interval by inverting a test: the wild bootstrap's and
 * randomization inference's, which differ only in their p-value. */
#ifndef GRAVRD_INVERT_H
#define GRAVRD_INVERT_H

/* The end on side dir (-1 or +1) of {b0 : pvalue(ctx, b0) > alpha}: steps
 * out from the estimate by scale (|estimate| + 1 when scale is not
 * positive), growing 1.5x, until the p-value falls to alpha, then bisects
 * that step to 1e-13 relative. +-INFINITY when the test never rejects. */
double invert_test_end(double (*pvalue)(const void *ctx, double b0), const void *ctx, double estimate,
                       double scale, double alpha, double dir);

#endif
