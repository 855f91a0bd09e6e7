/* gravrd/ri.h - randomization inference: refit a model with one regressor
 * reassigned many times (placebo partnerships, `gravrd reg --ri`), and the
 * study's reassignment schemes. See docs/inference.md. */
#ifndef GRAVRD_RI_H
#define GRAVRD_RI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fills values_R[r] with the reassigned regressor of frame row rows_R[r]
 * for replication draw (0-based); returns 0, or non-zero when it cannot.
 * Called concurrently from several threads with distinct draws: it must
 * depend on (user, draw, rows) only. With the exact collapse of a balanced
 * panel the rows are one per cell (pair), so the values must be a function
 * of the cell, as a reassigned pair indicator is. */
typedef int (*gravrd_ri_draw_fn)(void *user, long draw, const size_t *rows_R, size_t n_rows, double *values_R);

typedef struct {
    long reps;               /* 0: no randomization inference */
    const char *term;        /* the reassigned regressor, a term of the formula */
    gravrd_ri_draw_fn draw;
    void *user;
    const char *label;       /* the scheme's name, copied into the result (NULL: "") */
    uint64_t seed;           /* reported with the result; the draws are the caller's */
} gravrd_ri_options;

/* The placebo distribution of one coefficient. The two-sided p-values count
 * the actual assignment among the reps + 1: p = (1 + #{|placebo| >= |actual|})
 * / (1 + reps), on the coefficient and on its t statistic; a placebo the
 * model cannot estimate (the reassigned regressor absorbed by the fixed
 * effects) is NaN and counts as less extreme. */
typedef struct {
    long reps;
    char label[32];
    uint64_t seed;
    double p, p_t;
    double *placebo_coef_B;  /* reps */
    double *placebo_t_B;     /* reps */
    /* The 95% interval of the b0 whose sharp null "the effect is b0 for
     * every pair" the coefficient test does not reject: under it the
     * statistic of a reassignment is b_r(y) - b0 b_r(x), with b_r(x) the
     * coefficient of the placebo column when the actual regressor is the
     * outcome (placebo_x_B), and that of the actual assignment b - b0. */
    double *placebo_x_B;     /* reps */
    double ci_lo, ci_hi;
} gravrd_ri_result;

/* ---- the study's reassignments of partner ---- */

/* program: every eastern program city keeps its number of western partner
 * cities, drawn without replacement among the western program cities;
 * province: drawn among the western program cities of the provinces its
 * real partners lie in. Both directions of a pair follow the undirected
 * pair. */
typedef enum { GRAVRD_RI_PROGRAM = 0, GRAVRD_RI_PROVINCE } gravrd_ri_scheme;
const char *gravrd_ri_scheme_name(gravrd_ri_scheme scheme); /* "program", "province" */

#ifdef __cplusplus
}
#endif
#endif
