/* balance.c - the balance table (the paper's Table A.6): does treatment
 * depend on pair observables, without and within segment pairs? At the level
 * of undirected east-west pairs, since the observables (distance, GDP
 * difference, city characteristics) are pair or city properties and each
 * pair would otherwise count twice. */
#include "study_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/spatial.h"

static char *join_formula(const gravrd_balance_options *opt, int with_fe)
{
    size_t len = 64;
    for (size_t k = 0; k < opt->n_vars; k++)
        len += strlen(opt->vars[k]) + 3;
    char *f = malloc(len);
    if (!f)
        return NULL;
    strcpy(f, "partner ~ log(distance) + gdp_diff");
    for (size_t k = 0; k < opt->n_vars; k++) {
        strcat(f, " + ");
        strcat(f, opt->vars[k]);
    }
    if (with_fe)
        strcat(f, " | seg_east^seg_west");
    return f;
}

/* Moves the results and warnings of src to the end of dst. */
static gravrd_status append_results(gravrd_reg_results *dst, gravrd_reg_results *src, gravrd_error *err)
{
    gravrd_reg_result *r = realloc(dst->results, (size_t)(dst->n + src->n) * sizeof *r);
    if (!r)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    dst->results = r;
    memcpy(r + dst->n, src->results, (size_t)src->n * sizeof *r);
    dst->n += src->n;
    src->n = 0;
    if (src->n_warnings) {
        char **w = realloc(dst->warnings, (size_t)(dst->n_warnings + src->n_warnings) * sizeof *w);
        if (!w)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        dst->warnings = w;
        memcpy(w + dst->n_warnings, src->warnings, (size_t)src->n_warnings * sizeof *w);
        dst->n_warnings += src->n_warnings;
        src->n_warnings = 0;
    }
    return GRAVRD_OK;
}

gravrd_status gravrd_study_balance(const gravrd_study *s, const gravrd_balance_options *opt,
                                   gravrd_reg_results **out, gravrd_error *err)
{
    *out = NULL;
    for (size_t b = 0; b < opt->n_bandwidths; b++)
        if (!(opt->bandwidths_km[b] > 0))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "the bandwidth must be a positive number of km, not %g",
                                    opt->bandwidths_km[b]);
    if (opt->n_bandwidths == 0 && !opt->without_fe)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "balance: no model asked for");
    gravrd_status st = GRAVRD_OK;
    char *f_plain = join_formula(opt, 0), *f_fe = join_formula(opt, 1);
    char **names = NULL;
    size_t n_names = 0;
    int32_t *seg_N = malloc(s->cities->n * sizeof *seg_N);
    gravrd_reg_results *all = calloc(1, sizeof *all);
    gravrd_reg_results *one = NULL;
    gravrd_frame *frame = NULL;
    gravrd_eval_env env;
    gravrd_study_env(s, &env);
    gravrd_reg_options ro;
    gravrd_reg_options_init(&ro);
    ro.vcov = opt->vcov == GRAVRD_VCOV_HETERO ? GRAVRD_VCOV_HETERO : GRAVRD_VCOV_IID;
    ro.env = &env;
    if (!f_plain || !f_fe || !seg_N || !all) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = gravrd_reg_variables(f_fe, &ro, &names, &n_names, err)))
        goto done;
    const gravrd_cities *c = s->cities;
    for (size_t m = opt->without_fe ? 0 : 1; m <= opt->n_bandwidths; m++) {
        char label[64];
        if (m == 0) {
            snprintf(label, sizeof label, "no segment FE");
            memcpy(seg_N, s->segment_N, c->n * sizeof *seg_N);
        } else {
            double bw = opt->bandwidths_km[m - 1];
            int32_t n_seg;
            snprintf(label, sizeof label, "segment pairs, %g km", bw);
            if ((st = gravrd_segments(c->n, c->id_N, c->lat_N, c->lng_N, c->province_N, bw, seg_N, &n_seg, err)))
                goto done;
        }
        gravrd_frame_free(frame);
        frame = NULL;
        if ((st = gravrd_study_pair_frame(s, seg_N, (const char *const *)names, n_names, &frame, err)))
            goto done;
        ro.sample_label = label;
        if ((st = gravrd_reg(frame, m == 0 ? f_plain : f_fe, &ro, &one, err)))
            goto done;
        st = append_results(all, one, err);
        gravrd_reg_results_free(one);
        one = NULL;
        if (st)
            goto done;
    }
    *out = all;
    all = NULL;
done:
    free(f_plain);
    free(f_fe);
    gravrd_strings_free(names, n_names);
    free(seg_N);
    gravrd_frame_free(frame);
    gravrd_reg_results_free(all);
    return st;
}
