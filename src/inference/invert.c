/* invert.c - test inversion (see invert.h). The p-value of a permutation
 * or bootstrap test is a step function of b0, so bisection converges to
 * the jump where it falls through alpha. */
#include "invert.h"

#include <math.h>

double invert_test_end(double (*pvalue)(const void *ctx, double b0), const void *ctx, double estimate,
                       double scale, double alpha, double dir)
{
    double step = scale > 0 ? scale : fabs(estimate) + 1;
    double in = estimate, out = NAN;
    for (int i = 0; i < 80; i++) {
        double x = estimate + dir * step;
        if (pvalue(ctx, x) <= alpha) {
            out = x;
            break;
        }
        in = x;
        step *= 1.5;
    }
    if (isnan(out))
        return dir * INFINITY;
    for (int i = 0; i < 200 && fabs(out - in) > 1e-13 * (fabs(in) + scale); i++) {
        double mid = 0.5 * (in + out);
        if (pvalue(ctx, mid) <= alpha)
            out = mid;
        else
            in = mid;
    }
    return 0.5 * (in + out);
}
