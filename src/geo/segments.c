/* segments.c - complete-linkage agglomerative clustering of cities, cut at a
 * bandwidth, within groups (provinces). See docs/spatial.md.
 *
 * Merges happen in increasing order of the complete-linkage distance (the
 * largest distance between a city of one cluster and a city of the other);
 * merging stops at the first distance above the bandwidth. Because complete
 * linkage never decreases along the merge sequence, this is the dendrogram
 * cut at the bandwidth, and every segment's diameter is at most the
 * bandwidth. Exact ties are broken by city ids, after sorting the cities by
 * id, so nothing depends on the order of the rows. */
#include "gravrd/spatial.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t id;
    int32_t group;
    size_t row;
} city_key;

static int cmp_id(const void *pa, const void *pb)
{
    const city_key *a = pa, *b = pb;
    return (a->id > b->id) - (a->id < b->id);
}

static int cmp_group_id(const void *pa, const void *pb)
{
    const city_key *a = pa, *b = pb;
    if (a->group != b->group)
        return (a->group > b->group) - (a->group < b->group);
    return (a->id > b->id) - (a->id < b->id);
}

/* The total order on candidate merges: distance, then the smaller cluster
 * key, then the larger. Keys are the local index of a cluster's first
 * member in id order, i.e. they order clusters by their smallest city id. */
static int before(double d1, int lo1, int hi1, double d2, int lo2, int hi2)
{
    if (d1 != d2)
        return d1 < d2;
    if (lo1 != lo2)
        return lo1 < lo2;
    return hi1 < hi2;
}

typedef struct {
    int m;
    double bw;
    double *D;        /* m x m complete-linkage distances between active clusters */
    uint8_t *active;
    int *nn;          /* best merge partner of each active cluster, -1 if none within bw */
    double *nn_d;
} linkage;

static void recompute_nn(linkage *L, int k)
{
    int best = -1;
    double best_d = 0;
    for (int c = 0; c < L->m; c++) {
        if (c == k || !L->active[c])
            continue;
        double d = L->D[(size_t)k * L->m + c];
        if (!(d <= L->bw))
            continue;
        int lo = k < c ? k : c, hi = k < c ? c : k;
        if (best < 0 || before(d, lo, hi, best_d, k < best ? k : best, k < best ? best : k)) {
            best = c;
            best_d = d;
        }
    }
    L->nn[k] = best;
    L->nn_d[k] = best_d;
}

/* Clusters m cities (coordinates in id order); rep_M[k] receives the key of
 * the cluster of city k. */
static void cluster_group(linkage *L, const double *lat_M, const double *lng_M, int *rep_M)
{
    const int m = L->m;
    for (int a = 0; a < m; a++) {
        L->D[(size_t)a * m + a] = 0;
        for (int b = a + 1; b < m; b++) {
            double d = gravrd_haversine_km(lat_M[a], lng_M[a], lat_M[b], lng_M[b]);
            L->D[(size_t)a * m + b] = L->D[(size_t)b * m + a] = d;
        }
        L->active[a] = 1;
        rep_M[a] = a;
    }
    for (int a = 0; a < m; a++)
        recompute_nn(L, a);
    for (;;) {
        int a = -1, b = -1;
        double best_d = 0;
        for (int k = 0; k < m; k++) {
            if (!L->active[k] || L->nn[k] < 0)
                continue;
            int lo = k < L->nn[k] ? k : L->nn[k], hi = k < L->nn[k] ? L->nn[k] : k;
            if (a < 0 || before(L->nn_d[k], lo, hi, best_d, a, b)) {
                a = lo;
                b = hi;
                best_d = L->nn_d[k];
            }
        }
        if (a < 0)
            break;
        /* Merge b into a (a has the smaller key, so it stays the key). */
        for (int c = 0; c < m; c++) {
            if (!L->active[c] || c == a || c == b)
                continue;
            double d = fmax(L->D[(size_t)a * m + c], L->D[(size_t)b * m + c]);
            L->D[(size_t)a * m + c] = L->D[(size_t)c * m + a] = d;
        }
        L->active[b] = 0;
        for (int k = 0; k < m; k++)
            if (rep_M[k] == b)
                rep_M[k] = a;
        /* Only clusters whose best partner was a or b need a full search:
         * for the others the one changed candidate is the merged cluster. */
        for (int c = 0; c < m; c++) {
            if (!L->active[c] || c == a)
                continue;
            if (L->nn[c] == a || L->nn[c] == b) {
                recompute_nn(L, c);
                continue;
            }
            double d = L->D[(size_t)c * m + a];
            if (!(d <= L->bw))
                continue;
            int lo = c < a ? c : a, hi = c < a ? a : c;
            int n = L->nn[c];
            if (n < 0 || before(d, lo, hi, L->nn_d[c], c < n ? c : n, c < n ? n : c)) {
                L->nn[c] = a;
                L->nn_d[c] = d;
            }
        }
        recompute_nn(L, a);
    }
}

gravrd_status gravrd_segments(size_t n, const int64_t *city_id_N, const double *lat_N, const double *lng_N,
                              const int32_t *group_N, double bandwidth_km, int32_t *segment_N,
                              int32_t *n_segments, gravrd_error *err)
{
    if (!(bandwidth_km > 0) || !isfinite(bandwidth_km))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "the segment bandwidth must be a positive number of km, not %g",
                                bandwidth_km);
    if (n > (size_t)INT32_MAX)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "too many cities (%zu)", n);
    for (size_t i = 0; i < n; i++) {
        if (!(lat_N[i] >= -90 && lat_N[i] <= 90))
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "city %lld: latitude %g is missing or outside [-90, 90]",
                                    (long long)city_id_N[i], lat_N[i]);
        if (!(lng_N[i] >= -180 && lng_N[i] <= 180))
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "city %lld: longitude %g is missing or outside [-180, 180]",
                                    (long long)city_id_N[i], lng_N[i]);
    }
    gravrd_status st = GRAVRD_OK;
    city_key *keys = malloc((n ? n : 1) * sizeof *keys);
    int32_t *seg_of_row = malloc((n ? n : 1) * sizeof *seg_of_row);
    size_t *rep_row = malloc((n ? n : 1) * sizeof *rep_row);
    linkage L = {0};
    double *lat_M = NULL, *lng_M = NULL;
    int *rep_M = NULL;
    if (!keys || !seg_of_row || !rep_row)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        keys[i].id = city_id_N[i];
        keys[i].group = group_N ? group_N[i] : 0;
        keys[i].row = i;
    }
    qsort(keys, n, sizeof *keys, cmp_id);
    for (size_t i = 1; i < n; i++)
        if (keys[i].id == keys[i - 1].id) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "city id %lld appears twice", (long long)keys[i].id);
            goto done;
        }
    qsort(keys, n, sizeof *keys, cmp_group_id);
    size_t max_m = 0;
    for (size_t s = 0, e; s < n; s = e) {
        for (e = s + 1; e < n && keys[e].group == keys[s].group; e++)
            ;
        if (e - s > max_m)
            max_m = e - s;
    }
    L.bw = bandwidth_km;
    if (max_m > 0) {
        L.D = malloc(max_m * max_m * sizeof *L.D);
        L.active = malloc(max_m);
        L.nn = malloc(max_m * sizeof *L.nn);
        L.nn_d = malloc(max_m * sizeof *L.nn_d);
        lat_M = malloc(max_m * sizeof *lat_M);
        lng_M = malloc(max_m * sizeof *lng_M);
        rep_M = malloc(max_m * sizeof *rep_M);
        if (!L.D || !L.active || !L.nn || !L.nn_d || !lat_M || !lng_M || !rep_M)
            goto nomem;
    }
    for (size_t s = 0, e; s < n; s = e) {
        for (e = s + 1; e < n && keys[e].group == keys[s].group; e++)
            ;
        L.m = (int)(e - s);
        for (size_t k = s; k < e; k++) {
            lat_M[k - s] = lat_N[keys[k].row];
            lng_M[k - s] = lng_N[keys[k].row];
        }
        cluster_group(&L, lat_M, lng_M, rep_M);
        for (size_t k = s; k < e; k++)
            rep_row[keys[k].row] = keys[s + (size_t)rep_M[k - s]].row;
    }
    /* Number segments by their smallest city id: walking the cities in id
     * order, a segment is first met at its smallest member. */
    qsort(keys, n, sizeof *keys, cmp_id);
    for (size_t i = 0; i < n; i++)
        seg_of_row[i] = -1;
    int32_t next = 0;
    for (size_t k = 0; k < n; k++) {
        size_t rep = rep_row[keys[k].row];
        if (seg_of_row[rep] < 0)
            seg_of_row[rep] = next++;
        segment_N[keys[k].row] = seg_of_row[rep];
    }
    *n_segments = next;
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory clustering %zu cities", n);
done:
    free(keys);
    free(seg_of_row);
    free(rep_row);
    free(L.D);
    free(L.active);
    free(L.nn);
    free(L.nn_d);
    free(lat_M);
    free(lng_M);
    free(rep_M);
    return st;
}

gravrd_status gravrd_segment_size_counts(size_t n, const int32_t *segment_N, int32_t n_segments,
                                         size_t **count_by_size, size_t *max_size, gravrd_error *err)
{
    *count_by_size = NULL;
    *max_size = 0;
    size_t *size_S = calloc(n_segments > 0 ? (size_t)n_segments : 1, sizeof *size_S);
    if (!size_S)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (segment_N[i] < 0 || segment_N[i] >= n_segments) {
            free(size_S);
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "segment id %d outside 0..%d", (int)segment_N[i],
                                    (int)n_segments - 1);
        }
        size_S[segment_N[i]]++;
    }
    size_t mx = 0;
    for (int32_t s = 0; s < n_segments; s++)
        if (size_S[s] > mx)
            mx = size_S[s];
    size_t *counts = calloc(mx + 1, sizeof *counts);
    if (!counts) {
        free(size_S);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    for (int32_t s = 0; s < n_segments; s++)
        counts[size_S[s]]++;
    free(size_S);
    *count_by_size = counts;
    *max_size = mx;
    return GRAVRD_OK;
}

gravrd_status gravrd_parse_bandwidths(const char *text, double **km_B, size_t *n, gravrd_error *err)
{
    *km_B = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    double *km = malloc(cap * sizeof *km);
    if (!km)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    size_t k = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        char *end = NULL;
        double v = NAN;
        if (len > 0 && len < sizeof item) {
            memcpy(item, p, len);
            item[len] = '\0';
            errno = 0;
            v = strtod(item, &end);
            if (errno || end == item || *end)
                v = NAN;
        }
        if (!(v > 0) || !isfinite(v)) {
            free(km);
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "bandwidth '%.*s' is not a positive number of km (give KM or KM,KM,...)",
                                    (int)(len < 60 ? len : 60), p);
        }
        km[k++] = v;
        if (!comma)
            break;
        p = comma + 1;
    }
    *km_B = km;
    *n = k;
    return GRAVRD_OK;
}
