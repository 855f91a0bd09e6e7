/* pairs_internal.h - helpers shared by spatial matching (match.c) and the
 * spatial RD sample (rd_sample.c, rd_study.c): lookup of directed pairs,
 * neighbour lists, and the pairs of a frame of flows. */
#ifndef GRAVRD_PAIRS_INTERNAL_H
#define GRAVRD_PAIRS_INTERNAL_H

#include "gravrd/match.h"

/* Sorted (exporter, importer) keys for lookup. */
typedef struct {
    size_t n;
    uint64_t *key;     /* exp * n_cities + imp, sorted */
    int32_t *pair;     /* pair index of each key */
    size_t n_cities;
} pair_lookup;

/* Validates the geography and the pair list (indexes in range, finite
 * coordinates, no pair twice) and builds the lookup. */
gravrd_status pair_lookup_build(const gravrd_geo *geo, const gravrd_pair_list *pairs, pair_lookup *lk,
                                gravrd_error *err);
void pair_lookup_free(pair_lookup *lk);
/* Pair index of (exp, imp) or -1. */
int32_t pair_lookup_find(const pair_lookup *lk, int32_t exp, int32_t imp);

/* Cities within radius_km of city c (same group unless geo->group_C is NULL
 * or cross_group), c itself included when include_self; in index order.
 * city_out and dist_out must hold geo->n_cities entries. */
size_t city_neighbours(const gravrd_geo *geo, int32_t c, double radius_km, int cross_group, int include_self,
                       int32_t *city_out, double *dist_out);

/* The directed pairs of a frame with exp_city / imp_city (study city ids):
 * rows with keep_N[i] == 0 (keep_N may be NULL) are ignored (pair -1).
 * Pairs are numbered in order of (exp index, imp index); treatment comes
 * from the study. */
typedef struct {
    size_t n_pairs;
    int32_t *exp_P, *imp_P;
    uint8_t *treated_P;
    int32_t *pair_of_row_N;
    size_t n_rows;
} frame_pairs;

gravrd_status frame_pairs_build(const gravrd_study *study, const gravrd_frame *frame, const uint8_t *keep_N,
                                frame_pairs *fp, gravrd_error *err);
void frame_pairs_free(frame_pairs *fp);

/* The study's geography as a gravrd_geo (no copies). */
void study_geo(const gravrd_study *study, int cross_province, gravrd_geo *geo);

#endif
