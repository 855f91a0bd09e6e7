/* pairs.c - directed-pair lookup, neighbour lists and the pairs of a flows
 * frame, shared by spatial matching and the spatial RD sample. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_internal.h"
#include "gravrd/spatial.h"
#include "pairs_internal.h"

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

gravrd_status pair_lookup_build(const gravrd_geo *geo, const gravrd_pair_list *pairs, pair_lookup *lk,
                                gravrd_error *err)
{
    memset(lk, 0, sizeof *lk);
    if (!geo || !pairs || (geo->n_cities && (!geo->lat_C || !geo->lng_C)) ||
        (pairs->n_pairs && (!pairs->exp_P || !pairs->imp_P || !pairs->treated_P)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "spatial pairs: missing cities or pairs");
    if (geo->n_cities > (size_t)INT32_MAX || pairs->n_pairs > (size_t)INT32_MAX)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "spatial pairs: too many cities or pairs");
    for (size_t c = 0; c < geo->n_cities; c++)
        if (!(fabs(geo->lat_C[c]) <= 90 && fabs(geo->lng_C[c]) <= 180))
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "spatial pairs: city %zu has no valid coordinates", c);
    size_t n = pairs->n_pairs;
    uint64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    lk->key = malloc((n ? n : 1) * sizeof *lk->key);
    lk->pair = malloc((n ? n : 1) * sizeof *lk->pair);
    if (!tmp || !lk->key || !lk->pair) {
        free(tmp);
        pair_lookup_free(lk);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    const uint64_t nc = geo->n_cities;
    if (nc > 65535) {
        free(tmp);
        pair_lookup_free(lk);
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "spatial pairs: too many cities (%zu; at most 65535)",
                                geo->n_cities);
    }
    for (size_t p = 0; p < n; p++) {
        int32_t e = pairs->exp_P[p], m = pairs->imp_P[p];
        if (e < 0 || m < 0 || (uint64_t)e >= nc || (uint64_t)m >= nc) {
            free(tmp);
            pair_lookup_free(lk);
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "spatial pairs: pair %zu has a city index outside 0..%zu",
                                    p, geo->n_cities ? geo->n_cities - 1 : 0);
        }
        /* key in the high bits, pair index in the low 32: sorting keeps both */
        tmp[p] = ((uint64_t)e * nc + (uint64_t)m) << 32 | (uint64_t)p;
    }
    qsort(tmp, n, sizeof *tmp, cmp_key);
    for (size_t r = 0; r < n; r++) {
        lk->key[r] = tmp[r] >> 32;
        lk->pair[r] = (int32_t)(tmp[r] & 0xffffffffu);
        if (r && lk->key[r] == lk->key[r - 1]) {
            int32_t p = lk->pair[r];
            free(tmp);
            gravrd_status st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                                                "spatial pairs: the pair of cities %d -> %d is listed twice",
                                                (int)pairs->exp_P[p], (int)pairs->imp_P[p]);
            pair_lookup_free(lk);
            return st;
        }
    }
    free(tmp);
    lk->n = n;
    lk->n_cities = geo->n_cities;
    return GRAVRD_OK;
}

void pair_lookup_free(pair_lookup *lk)
{
    free(lk->key);
    free(lk->pair);
    memset(lk, 0, sizeof *lk);
}

int32_t pair_lookup_find(const pair_lookup *lk, int32_t exp, int32_t imp)
{
    uint64_t key = (uint64_t)exp * lk->n_cities + (uint64_t)imp;
    size_t lo = 0, hi = lk->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lk->key[mid] < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < lk->n && lk->key[lo] == key ? lk->pair[lo] : -1;
}

size_t city_neighbours(const gravrd_geo *geo, int32_t c, double radius_km, int cross_group, int include_self,
                       int32_t *city_out, double *dist_out)
{
    size_t m = 0;
    for (size_t k = 0; k < geo->n_cities; k++) {
        if ((int32_t)k == c) {
            if (include_self) {
                city_out[m] = c;
                dist_out[m++] = 0;
            }
            continue;
        }
        if (!cross_group && geo->group_C && geo->group_C[k] != geo->group_C[c])
            continue;
        double dist = gravrd_haversine_km(geo->lat_C[c], geo->lng_C[c], geo->lat_C[k], geo->lng_C[k]);
        if (dist <= radius_km) {
            city_out[m] = (int32_t)k;
            dist_out[m++] = dist;
        }
    }
    return m;
}

/* The designs' public entry points (gravrd_match_frame, gravrd_rd_study)
 * take a loaded study, and their callers (the study's runners, the figures,
 * the CLI) pass one; so the geography is read here, through gravrd/study.h,
 * from src/studydata/, which sits below spatial and calls nothing of it.
 * Passing plain arrays in instead would change those public signatures
 * for no gain: the dependency points one way either way. No copies. */
void study_geo(const gravrd_study *study, int cross_province, gravrd_geo *geo)
{
    gravrd_study_geo g;
    gravrd_study_geography(study, &g);
    geo->n_cities = g.n;
    geo->lat_C = g.lat_N;
    geo->lng_C = g.lng_N;
    geo->group_C = cross_province ? NULL : g.province_N;
}

static const char *source_name(const gravrd_frame *frame)
{
    return frame->source && frame->source[0] ? frame->source : "data";
}

gravrd_status frame_pairs_build(const gravrd_study *study, const gravrd_frame *frame, const uint8_t *keep_N,
                                frame_pairs *fp, gravrd_error *err)
{
    memset(fp, 0, sizeof *fp);
    const char *names[2] = {"exp_city", "imp_city"};
    const gravrd_column *cols[2];
    for (int a = 0; a < 2; a++) {
        cols[a] = gravrd_frame_find(frame, names[a]);
        if (!cols[a])
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: no %s column (city ids of the study)",
                                    source_name(frame), names[a]);
        if (cols[a]->type != GRAVRD_COL_NUMERIC)
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: %s must hold numeric city ids", source_name(frame),
                                    names[a]);
    }
    const size_t N = frame->n_rows, nc = gravrd_study_n_cities(study);
    gravrd_u64map map;
    int32_t *row_id = malloc((N ? N : 1) * sizeof *row_id);
    fp->pair_of_row_N = malloc((N ? N : 1) * sizeof *fp->pair_of_row_N);
    if (!row_id || !fp->pair_of_row_N || gravrd_u64map_init(&map, 4096)) {
        free(row_id);
        frame_pairs_free(fp);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    gravrd_status st = GRAVRD_OK;
    fp->n_rows = N;
    /* cache of the last id looked up on each side: flows are usually sorted */
    double last_id[2] = {NAN, NAN};
    long last_idx[2] = {-1, -1};
    for (size_t i = 0; i < N && !st; i++) {
        row_id[i] = -1;
        if (keep_N && !keep_N[i])
            continue;
        long idx[2];
        for (int a = 0; a < 2; a++) {
            double v = cols[a]->num_N[i];
            if (v == last_id[a]) {
                idx[a] = last_idx[a];
                continue;
            }
            if (isnan(v) || v != floor(v) || fabs(v) > 9e15) {
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: data row %zu (line %zu): %s is %s", source_name(frame),
                                      i + 1, i + 2, names[a], isnan(v) ? "missing" : "not a whole number");
                break;
            }
            idx[a] = gravrd_study_city_index(study, (int64_t)v);
            if (idx[a] < 0) {
                st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                                      "%s: data row %zu (line %zu): %s %.0f is not in the study's cities.csv",
                                      source_name(frame), i + 1, i + 2, names[a], v);
                break;
            }
            last_id[a] = v;
            last_idx[a] = idx[a];
        }
        if (st)
            break;
        int32_t id = gravrd_u64map_get(&map, (uint64_t)idx[0] * nc + (uint64_t)idx[1]);
        if (id < 0)
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        row_id[i] = id;
    }
    int32_t *rank = NULL;
    if (!st) {
        size_t np = (size_t)map.n;
        rank = malloc((np ? np : 1) * sizeof *rank);
        fp->exp_P = malloc((np ? np : 1) * sizeof *fp->exp_P);
        fp->imp_P = malloc((np ? np : 1) * sizeof *fp->imp_P);
        fp->treated_P = malloc(np ? np : 1);
        if (!rank || !fp->exp_P || !fp->imp_P || !fp->treated_P || (np && gravrd_u64_rank(map.keys, map.n, rank)))
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        else {
            fp->n_pairs = np;
            for (size_t id = 0; id < np; id++) {
                size_t p = (size_t)rank[id];
                uint64_t key = map.keys[id];
                fp->exp_P[p] = (int32_t)(key / nc);
                fp->imp_P[p] = (int32_t)(key % nc);
                fp->treated_P[p] = (uint8_t)(gravrd_study_partners(study, (size_t)fp->exp_P[p],
                                                                   (size_t)fp->imp_P[p]) != 0);
            }
            for (size_t i = 0; i < N; i++)
                fp->pair_of_row_N[i] = row_id[i] >= 0 ? rank[row_id[i]] : -1;
        }
    }
    free(rank);
    free(row_id);
    gravrd_u64map_free(&map);
    if (st)
        frame_pairs_free(fp);
    return st;
}

void frame_pairs_free(frame_pairs *fp)
{
    free(fp->exp_P);
    free(fp->imp_P);
    free(fp->treated_P);
    free(fp->pair_of_row_N);
    memset(fp, 0, sizeof *fp);
}
