/* gravrd/spatial.h - geography for spatial designs: great-circle distances
 * and segments (groups of nearby cities, complete-linkage clustering cut at
 * a bandwidth, never across provinces by default). Implemented in src/geo/
 * (distance.c, segments.c): pure geometry on plain arrays, below both the
 * study data that builds segments and the spatial designs. */
#ifndef GRAVRD_SPATIAL_H
#define GRAVRD_SPATIAL_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean Earth radius (IUGG), km. */
#define GRAVRD_EARTH_RADIUS_KM 6371.0088

/* Haversine great-circle distance in km between two points in decimal
 * degrees. */
double gravrd_haversine_km(double lat1, double lng1, double lat2, double lng2);

/* Segments: complete-linkage agglomerative clustering of n cities, cut so
 * that the largest pairwise distance within a segment is <= bandwidth_km.
 * Cities with different group_N values (provinces; NULL = one group) are
 * never merged. The result does not depend on the order of the rows:
 * city_id_N gives each city a unique id, and ties are broken by ids (see
 * docs/spatial.md). segment_N[i] receives 0..n_segments-1, numbered in
 * increasing order of the smallest city id in each segment.
 * Errors: bandwidth not positive (GRAVRD_ERR_INVALID), a coordinate missing
 * or out of range, a repeated id (GRAVRD_ERR_DATA; messages name the city
 * id). Memory is O(m^2) for the largest group of m cities; time is about
 * O(m^2) per group in practice (nearest-neighbour caching). */
gravrd_status gravrd_segments(size_t n, const int64_t *city_id_N, const double *lat_N, const double *lng_N,
                              const int32_t *group_N, double bandwidth_km, int32_t *segment_N,
                              int32_t *n_segments, gravrd_error *err);

/* The distribution of segment sizes (the paper's Table A.4):
 * (*count_by_size)[s] is the number of segments with s cities, for
 * s = 0..*max_size (entry 0 is always 0). malloc'ed; the caller frees it. */
gravrd_status gravrd_segment_size_counts(size_t n, const int32_t *segment_N, int32_t n_segments,
                                         size_t **count_by_size, size_t *max_size, gravrd_error *err);

/* Parses a comma-separated list of bandwidths in km ("50,75,100"), each a
 * finite number > 0. *km_B is malloc'ed. Errors (GRAVRD_ERR_INVALID) quote
 * the offending item. */
gravrd_status gravrd_parse_bandwidths(const char *text, double **km_B, size_t *n, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
