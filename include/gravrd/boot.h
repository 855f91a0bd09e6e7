/* gravrd/boot.h - the wild cluster bootstrap of a fitted fixed-effects
 * model's coefficients (`gravrd reg --boot wild`): options and the result
 * attached to each bootstrapped coefficient. See docs/inference.md. */
#ifndef GRAVRD_BOOT_H
#define GRAVRD_BOOT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { GRAVRD_BOOT_NONE = 0, GRAVRD_BOOT_WILD } gravrd_boot_method;
/* Auxiliary weights v_g drawn once per cluster and replication. */
typedef enum { GRAVRD_BOOT_RADEMACHER = 0, GRAVRD_BOOT_WEBB, GRAVRD_BOOT_MAMMEN } gravrd_boot_weights;
/* WCR: residuals of the model with the null imposed (boottest's and
 * fwildclusterboot's default); WCU: unrestricted residuals. */
typedef enum { GRAVRD_BOOT_WCR = 0, GRAVRD_BOOT_WCU } gravrd_boot_type;

#define GRAVRD_BOOT_DEFAULT_REPS 9999
#define GRAVRD_BOOT_DEFAULT_LEVEL 0.95

typedef struct {
    gravrd_boot_method method; /* NONE: no bootstrap */
    long reps;                 /* B; 0 = GRAVRD_BOOT_DEFAULT_REPS. Rademacher weights with
                                  B >= 2^G enumerate all 2^G sign vectors instead */
    gravrd_boot_weights weights;
    gravrd_boot_type type;
    const char *params;        /* comma-separated coefficient names; NULL = every coefficient */
    uint64_t seed;             /* of the weights; 0 = 1 */
    double level;              /* of the interval; 0 = GRAVRD_BOOT_DEFAULT_LEVEL */
} gravrd_boot_options;

void gravrd_boot_options_init(gravrd_boot_options *opt);

/* The bootstrap of one coefficient b: the two-sided symmetric p-value of
 * H0: b = 0 (share of replications with |t*| >= |t|; the replication that
 * reproduces the sample counts, so p >= 1/B), and the interval of the b0
 * whose test H0: b = b0 is not rejected at 1 - level (found by inverting the
 * test, as boottest does). */
typedef struct {
    gravrd_boot_type type;
    gravrd_boot_weights weights;
    long reps;                 /* replications used (2^G when enumerated) */
    int enumerated;            /* 1: every Rademacher sign vector, exact p-value */
    int32_t n_clusters;        /* G, the bootstrap clusters */
    double level;
    double p;
    double ci_lo, ci_hi;
} gravrd_boot_result;

const char *gravrd_boot_type_name(gravrd_boot_type type);       /* "wcr", "wcu" */
const char *gravrd_boot_weights_name(gravrd_boot_weights w);    /* "rademacher", "webb", "mammen" */

#ifdef __cplusplus
}
#endif
#endif
