/* suest.c - did a coefficient change between two models? The joint
 * covariance of two least-squares fits on the same rows and clusters comes
 * from their stacked cluster scores, as Stata's suest computes it; this is
 * the mediation test of the paper's Table 6 (adding a mediator should move
 * the partnership coefficient). */
#include "gravrd/estimate.h"

#include <gsl/gsl_cdf.h>
#include <math.h>
#include <string.h>

static int coef_index(const gravrd_reg_result *r, const char *name)
{
    for (int a = 0; a < r->n_coef; a++)
        if (!strcmp(r->coefs[a].name, name))
            return a;
    return -1;
}

gravrd_status gravrd_suest_difference(const gravrd_reg_result *a, const char *coef_a, const gravrd_reg_result *b,
                                      const char *coef_b, gravrd_suest_result *out, gravrd_error *err)
{
    memset(out, 0, sizeof *out);
    if (!a->scores || !b->scores)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "the coefficient-change test needs both models fitted with one-way clustering "
                                "and keep_scores");
    if (a->nobs != b->nobs || a->sample_hash != b->sample_hash)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "the two models were not fitted on the same rows (%zu and %zu observations); "
                                "fit both on the same sample",
                                a->nobs, b->nobs);
    if (a->n_score_groups != b->n_score_groups || strcmp(a->vcov_label, b->vcov_label))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "the two models are not clustered the same way (%s, %s)",
                                a->vcov_label, b->vcov_label);
    int ia = coef_index(a, coef_a), ib = coef_index(b, coef_b);
    if (ia < 0 || ib < 0)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "coefficient '%s' is not in the %s model",
                                ia < 0 ? coef_a : coef_b, ia < 0 ? "first" : "second");
    const int ka = a->n_coef, kb = b->n_coef;
    const int32_t G = a->n_score_groups;
    /* Cov(b_a[ia], b_b[ib]) = sum_g (B_a s_a,g)[ia] (B_b s_b,g)[ib] */
    double cross = 0;
    for (int32_t g = 0; g < G; g++) {
        const double *sa = a->scores + (size_t)g * (size_t)ka, *sb = b->scores + (size_t)g * (size_t)kb;
        double ua = 0, ub = 0;
        for (int m = 0; m < ka; m++)
            ua += a->bread[ia * ka + m] * sa[m];
        for (int m = 0; m < kb; m++)
            ub += b->bread[ib * kb + m] * sb[m];
        cross += ua * ub;
    }
    out->cov_ab = sqrt(a->vcov_scale * b->vcov_scale) * cross;
    double var_a = a->vcov[ia * ka + ia], var_b = b->vcov[ib * kb + ib];
    double var = var_a + var_b - 2 * out->cov_ab;
    out->difference = a->coefs[ia].estimate - b->coefs[ib].estimate;
    out->n_clusters = G;
    if (!(var > 0))
        return gravrd_error_set(err, GRAVRD_ERR_NUMERIC,
                                "the variance of the coefficient change is not positive (%g): the two models may "
                                "be identical",
                                var);
    out->se = sqrt(var);
    out->t = out->difference / out->se;
    out->p = 2 * gsl_cdf_tdist_Q(fabs(out->t), (double)G - 1);
    return GRAVRD_OK;
}
