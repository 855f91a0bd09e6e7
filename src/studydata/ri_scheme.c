/* ri_scheme.c - placebo partnerships for randomization inference: the
 * reassignment schemes of `gravrd reg --ri partner` (gravrd/study.h).
 *
 * Why these schemes: the program assigns western partners to eastern
 * cities, so each eastern program city keeps its number of partners (the
 * design's margins the program fixed) and only who they are is random.
 * "program" draws them among all western program cities, "province" among
 * the western program cities of the provinces its real partners lie in
 * (the program pairs provinces first). Both directions of a pair follow
 * the undirected pair, as the real indicator does. A draw depends on the
 * seed and its number only, so draws can run on any thread. */
#include "study_internal.h"
#include "util/seedmix.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct gravrd_study_ri {
    size_t n_east, n_west;
    int32_t *pair_N;        /* frame row -> east rank * n_west + west rank */
    size_t n_rows;
    /* eastern program cities: rank, number of partners, eligible west ranks */
    size_t n_prog;
    int32_t *prog_rank, *degree;
    size_t *elig_start;     /* n_prog + 1 */
    int32_t *elig;          /* west ranks */
    uint64_t seed;
};

const char *gravrd_ri_scheme_name(gravrd_ri_scheme scheme)
{
    return scheme == GRAVRD_RI_PROVINCE ? "province" : "program";
}

void gravrd_study_ri_free(gravrd_study_ri *ri)
{
    if (!ri)
        return;
    free(ri->pair_N);
    free(ri->prog_rank);
    free(ri->degree);
    free(ri->elig_start);
    free(ri->elig);
    free(ri);
}

/* Row -> city index of a key column, -1 where it is not a city. */
static int row_city(const gravrd_study *s, const gravrd_column *col, size_t i)
{
    if (!col || col->type != GRAVRD_COL_NUMERIC)
        return -1;
    double v = col->num_N[i];
    if (!(v == floor(v)) || fabs(v) >= 9007199254740992.0)
        return -1;
    return (int)study_lookup(s, (int64_t)v);
}

gravrd_status gravrd_study_ri_new(const gravrd_study *s, const gravrd_frame *frame, gravrd_ri_scheme scheme,
                                  uint64_t seed, gravrd_study_ri **out, gravrd_error *err)
{
    *out = NULL;
    const size_t N = frame->n_rows, nE = s->n_east, nW = s->n_west;
    const char *src = frame->source && frame->source[0] ? frame->source : "flows";
    gravrd_study_ri *ri = calloc(1, sizeof *ri);
    if (!ri)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    ri->n_east = nE;
    ri->n_west = nW;
    ri->n_rows = N;
    ri->seed = seed ? seed : 1;
    ri->pair_N = malloc((N + 1) * sizeof *ri->pair_N);
    ri->prog_rank = malloc((nE + 1) * sizeof *ri->prog_rank);
    ri->degree = malloc((nE + 1) * sizeof *ri->degree);
    ri->elig_start = calloc(nE + 2, sizeof *ri->elig_start);
    ri->elig = malloc((nE * nW + 1) * sizeof *ri->elig);
    if (!ri->pair_N || !ri->prog_rank || !ri->degree || !ri->elig_start || !ri->elig) {
        gravrd_study_ri_free(ri);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    const gravrd_column *ce = gravrd_frame_find(frame, "exp_city"), *ci = gravrd_frame_find(frame, "imp_city");
    for (size_t i = 0; i < N; i++) {
        int a = row_city(s, ce, i), b = row_city(s, ci, i);
        if (a < 0 || b < 0 || s->cities->west_N[a] == s->cities->west_N[b]) {
            gravrd_study_ri_free(ri);
            return gravrd_error_set(err, GRAVRD_ERR_DATA,
                                    "%s: data row %zu: --ri needs exp_city and imp_city ids of one eastern and one "
                                    "western city of the study",
                                    src, i + 1);
        }
        int e = s->cities->west_N[a] ? b : a, w = s->cities->west_N[a] ? a : b;
        ri->pair_N[i] = s->region_rank_N[e] * (int32_t)nW + s->region_rank_N[w];
    }
    const int32_t *prov = s->cities->province_N;
    size_t n_elig = 0;
    for (size_t ea = 0; ea < nE; ea++) {
        int32_t d = 0;
        for (size_t wb = 0; wb < nW; wb++)
            d += s->partner_P[ea * nW + wb];
        if (d == 0)
            continue;
        size_t k = ri->n_prog++;
        ri->prog_rank[k] = (int32_t)ea;
        ri->degree[k] = d;
        ri->elig_start[k] = n_elig;
        for (size_t wb = 0; wb < nW; wb++) {
            int32_t wrow = s->west_row[wb];
            if (!s->in_program_N[wrow])
                continue;
            int ok = scheme == GRAVRD_RI_PROGRAM;
            for (size_t pb = 0; !ok && pb < nW; pb++)
                ok = s->partner_P[ea * nW + pb] && prov && prov[s->west_row[pb]] == prov[wrow];
            if (ok)
                ri->elig[n_elig++] = (int32_t)wb;
        }
        size_t m = n_elig - ri->elig_start[k];
        if (m < (size_t)d) {
            long long id = (long long)s->cities->id_N[s->east_row[ea]];
            gravrd_study_ri_free(ri);
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "--ri-scheme %s cannot be drawn: eastern city %lld has %d partners but only %zu "
                                    "western program cities to draw them from",
                                    gravrd_ri_scheme_name(scheme), id, (int)d, m);
        }
    }
    ri->elig_start[ri->n_prog] = n_elig;
    if (ri->n_prog == 0) {
        gravrd_study_ri_free(ri);
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "--ri: the study has no partnerships to reassign");
    }
    *out = ri;
    return GRAVRD_OK;
}


int gravrd_study_ri_assign(const gravrd_study_ri *ri, long draw, uint8_t *partner_P)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int32_t *pick = malloc((ri->n_west + 1) * sizeof *pick);
    if (!rng || !pick) {
        if (rng)
            gsl_rng_free(rng);
        free(pick);
        return -1;
    }
    gsl_rng_set(rng, (unsigned long)seedmix_draw(ri->seed, (uint64_t)draw));
    memset(partner_P, 0, ri->n_east * ri->n_west);
    for (size_t k = 0; k < ri->n_prog; k++) {
        size_t a = ri->elig_start[k], m = ri->elig_start[k + 1] - a;
        gsl_ran_choose(rng, pick, (size_t)ri->degree[k], (void *)(ri->elig + a), m, sizeof *pick);
        for (int32_t j = 0; j < ri->degree[k]; j++)
            partner_P[(size_t)ri->prog_rank[k] * ri->n_west + (size_t)pick[j]] = 1;
    }
    gsl_rng_free(rng);
    free(pick);
    return 0;
}

int gravrd_study_ri_draw(void *user, long draw, const size_t *rows_R, size_t n_rows, double *values_R)
{
    const gravrd_study_ri *ri = user;
    uint8_t *P = malloc(ri->n_east * ri->n_west + 1);
    if (!P || gravrd_study_ri_assign(ri, draw, P) != 0) {
        free(P);
        return -1;
    }
    for (size_t r = 0; r < n_rows; r++) {
        size_t row = rows_R[r];
        if (row >= ri->n_rows) {
            free(P);
            return -1;
        }
        values_R[r] = P[ri->pair_N[row]];
    }
    free(P);
    return 0;
}
