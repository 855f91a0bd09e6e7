/* match.c - spatial matching (see gravrd/match.h and docs/spatial.md). */
#include "gravrd/match.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "pairs_internal.h"

void gravrd_match_sample_free(gravrd_match_sample *s)
{
    if (!s)
        return;
    free(s->match_M);
    free(s->pair_M);
    free(s->treated_M);
    free(s->treated_pair_T);
    free(s);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Appends one entry, growing the arrays. */
static int push_entry(gravrd_match_sample *s, size_t *cap, int32_t match, int32_t pair, uint8_t treated)
{
    if (s->n == *cap) {
        size_t nc = *cap ? 2 * *cap : 256;
        int32_t *m = realloc(s->match_M, nc * sizeof *m);
        if (m)
            s->match_M = m;
        int32_t *p = realloc(s->pair_M, nc * sizeof *p);
        if (p)
            s->pair_M = p;
        uint8_t *t = realloc(s->treated_M, nc);
        if (t)
            s->treated_M = t;
        if (!m || !p || !t)
            return -1;
        *cap = nc;
    }
    s->match_M[s->n] = match;
    s->pair_M[s->n] = pair;
    s->treated_M[s->n] = treated;
    s->n++;
    return 0;
}

gravrd_status gravrd_match_build(const gravrd_geo *geo, const gravrd_pair_list *pairs, double bandwidth_km,
                                 gravrd_match_sample **out, gravrd_error *err)
{
    *out = NULL;
    if (!(bandwidth_km > 0 && isfinite(bandwidth_km)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "matching: the bandwidth must be a positive number of km, not %g",
                                bandwidth_km);
    pair_lookup lk;
    gravrd_status st = pair_lookup_build(geo, pairs, &lk, err);
    if (st)
        return st;
    const size_t nc = geo->n_cities, np = pairs->n_pairs;
    gravrd_match_sample *s = calloc(1, sizeof *s);
    int32_t *ni = malloc((nc ? nc : 1) * sizeof *ni), *nj = malloc((nc ? nc : 1) * sizeof *nj);
    double *di = malloc((nc ? nc : 1) * sizeof *di), *dj = malloc((nc ? nc : 1) * sizeof *dj);
    int32_t *found = malloc((np ? np : 1) * sizeof *found), *treated_T = malloc((np ? np : 1) * sizeof *treated_T);
    uint8_t *used = calloc(np ? np : 1, 1);
    size_t cap = 0;
    if (!s || !ni || !nj || !di || !dj || !found || !treated_T || !used) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    s->treated_pair_T = treated_T;
    treated_T = NULL;
    for (size_t p = 0; p < np; p++) {
        if (!pairs->treated_P[p])
            continue;
        s->n_treated++;
        size_t ki = city_neighbours(geo, pairs->exp_P[p], bandwidth_km, 0, 1, ni, di);
        size_t kj = city_neighbours(geo, pairs->imp_P[p], bandwidth_km, 0, 1, nj, dj);
        size_t n_found = 0;
        for (size_t a = 0; a < ki; a++)
            for (size_t b = 0; b < kj; b++) {
                int32_t q = pair_lookup_find(&lk, ni[a], nj[b]);
                if (q >= 0 && !pairs->treated_P[q])
                    found[n_found++] = q;
            }
        if (!n_found) {
            s->n_unmatched++;
            continue;
        }
        qsort(found, n_found, sizeof *found, cmp_i32);
        int32_t m = (int32_t)s->n_matches;
        s->treated_pair_T[s->n_matches++] = (int32_t)p;
        if (push_entry(s, &cap, m, (int32_t)p, 1)) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t a = 0; a < n_found; a++) {
            if (push_entry(s, &cap, m, found[a], 0)) {
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
                goto done;
            }
            if (!used[found[a]]) {
                used[found[a]] = 1;
                s->n_distinct_controls++;
            }
        }
        s->n_control_entries += n_found;
        if (n_found > s->max_controls)
            s->max_controls = n_found;
    }
done:
    free(ni);
    free(nj);
    free(di);
    free(dj);
    free(found);
    free(treated_T);
    free(used);
    pair_lookup_free(&lk);
    if (st) {
        gravrd_match_sample_free(s);
        return st;
    }
    *out = s;
    return GRAVRD_OK;
}

/* ---- the stacked frame ---- */

static char **dup_levels(const gravrd_column *col)
{
    char **lv = calloc(col->n_levels ? (size_t)col->n_levels : 1, sizeof *lv);
    if (!lv)
        return NULL;
    for (int32_t l = 0; l < col->n_levels; l++) {
        size_t len = strlen(col->levels_L[l]) + 1;
        if (!(lv[l] = malloc(len))) {
            gravrd_strings_free(lv, (size_t)col->n_levels);
            return NULL;
        }
        memcpy(lv[l], col->levels_L[l], len);
    }
    return lv;
}

static gravrd_status gather_column(gravrd_frame *out, const gravrd_column *col, const size_t *rows_R,
                                   gravrd_error *err)
{
    const size_t R = out->n_rows;
    if (col->type == GRAVRD_COL_NUMERIC) {
        double *v = malloc((R ? R : 1) * sizeof *v);
        if (!v)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory stacking %s", col->name);
        for (size_t r = 0; r < R; r++)
            v[r] = col->num_N[rows_R[r]];
        return gravrd_frame_add_numeric(out, col->name, v, err);
    }
    int32_t *codes = malloc((R ? R : 1) * sizeof *codes);
    char **lv = dup_levels(col);
    if (!codes || !lv) {
        free(codes);
        if (lv)
            gravrd_strings_free(lv, (size_t)col->n_levels);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory stacking %s", col->name);
    }
    for (size_t r = 0; r < R; r++)
        codes[r] = col->codes_N[rows_R[r]];
    return gravrd_frame_add_factor(out, col->name, codes, lv, col->n_levels, err);
}

gravrd_status gravrd_match_frame(const gravrd_study *study, const gravrd_frame *frame,
                                 const gravrd_match_options *opt, gravrd_frame **out, gravrd_match_summary *summary,
                                 gravrd_error *err)
{
    *out = NULL;
    if (!study || !frame || !opt)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "matching: no study, frame or options");
    static const char *const added[] = {"match_id", "match_treated"};
    for (int a = 0; a < 2; a++)
        if (gravrd_frame_find(frame, added[a]))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "matching: %s already has a column named %s",
                                    frame->source && frame->source[0] ? frame->source : "the data", added[a]);
    gravrd_geo geo;
    study_geo(study, opt->cross_province, &geo);
    frame_pairs fp;
    gravrd_status st = frame_pairs_build(study, frame, NULL, &fp, err);
    if (st)
        return st;
    gravrd_pair_list pl = {fp.n_pairs, fp.exp_P, fp.imp_P, fp.treated_P};
    gravrd_match_sample *ms = NULL;
    size_t *count = NULL, *start = NULL, *rows_by_pair = NULL, *rows_R = NULL;
    double *match_id = NULL, *match_treated = NULL;
    gravrd_frame *res = NULL;
    if ((st = gravrd_match_build(&geo, &pl, opt->bandwidth_km, &ms, err)))
        goto done;
    const size_t N = frame->n_rows, np = fp.n_pairs;
    count = calloc(np + 1, sizeof *count);
    start = calloc(np + 1, sizeof *start);
    rows_by_pair = malloc((N ? N : 1) * sizeof *rows_by_pair);
    if (!count || !start || !rows_by_pair) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < N; i++)
        count[fp.pair_of_row_N[i]]++;
    for (size_t p = 0; p < np; p++)
        start[p + 1] = start[p] + count[p];
    memset(count, 0, (np + 1) * sizeof *count);
    for (size_t i = 0; i < N; i++) {
        size_t p = (size_t)fp.pair_of_row_N[i];
        rows_by_pair[start[p] + count[p]++] = i;
    }
    size_t R = 0;
    for (size_t e = 0; e < ms->n; e++)
        R += count[ms->pair_M[e]];
    rows_R = malloc((R ? R : 1) * sizeof *rows_R);
    match_id = malloc((R ? R : 1) * sizeof *match_id);
    match_treated = malloc((R ? R : 1) * sizeof *match_treated);
    if (!rows_R || !match_id || !match_treated) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory: the matched sample has %zu rows", R);
        goto done;
    }
    size_t r = 0;
    for (size_t e = 0; e < ms->n; e++) {
        size_t p = (size_t)ms->pair_M[e];
        for (size_t k = 0; k < count[p]; k++, r++) {
            rows_R[r] = rows_by_pair[start[p] + k];
            match_id[r] = (double)ms->match_M[e] + 1;
            match_treated[r] = ms->treated_M[e];
        }
    }
    if (!(res = gravrd_frame_new(R, frame->source))) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t c = 0; c < frame->n_cols && !st; c++)
        st = gather_column(res, &frame->cols[c], rows_R, err);
    if (!st) {
        st = gravrd_frame_add_numeric(res, "match_id", match_id, err);
        match_id = NULL;
    }
    if (!st) {
        st = gravrd_frame_add_numeric(res, "match_treated", match_treated, err);
        match_treated = NULL;
    }
    if (st)
        goto done;
    if (summary) {
        memset(summary, 0, sizeof *summary);
        summary->bandwidth_km = opt->bandwidth_km;
        summary->n_pairs = np;
        summary->n_treated = ms->n_treated;
        summary->n_matches = ms->n_matches;
        summary->n_unmatched = ms->n_unmatched;
        summary->n_control_entries = ms->n_control_entries;
        summary->n_distinct_controls = ms->n_distinct_controls;
        summary->max_controls = ms->max_controls;
        summary->n_rows_in = N;
        summary->n_rows_out = R;
    }
    *out = res;
    res = NULL;
done:
    gravrd_frame_free(res);
    free(count);
    free(start);
    free(rows_by_pair);
    free(rows_R);
    free(match_id);
    free(match_treated);
    gravrd_match_sample_free(ms);
    frame_pairs_free(&fp);
    return st;
}
