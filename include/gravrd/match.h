/* gravrd/match.h - spatial matching (our version of the paper's Online
 * Appendix D.1, which we do not have; see docs/spatial.md, "Spatial
 * matching"): for each treated directed pair ij (i exporter, j importer),
 * the control pairs kl with k within d km of i and l within d km of j
 * (k in i's province and l in j's unless cross-province matching is asked
 * for; k = i or l = j allowed), excluding every treated pair. The matched
 * sample stacks, match by match, the treated pair and its controls, so a
 * control pair near several treated pairs appears once per match. Treated
 * pairs without any control are left out (counted as unmatched).
 *
 * The plain-array core (gravrd_match_build) also supplies the geography and
 * pair-list types used by the spatial RD sample (gravrd/rd.h). */
#ifndef GRAVRD_MATCH_H
#define GRAVRD_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"
#include "gravrd/error.h"
#include "gravrd/study.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Cities: coordinates in decimal degrees and a group (province) code;
 * group_C == NULL means no same-group requirement. */
typedef struct {
    size_t n_cities;
    const double *lat_C, *lng_C;
    const int32_t *group_C;
} gravrd_geo;

/* Directed pairs of cities (indexes 0..n_cities-1), each listed once. */
typedef struct {
    size_t n_pairs;
    const int32_t *exp_P, *imp_P;
    const uint8_t *treated_P;      /* 1 treated (partners), 0 control */
} gravrd_pair_list;

typedef struct {
    size_t n;                      /* entries (match, pair) */
    int32_t *match_M;              /* match 0..n_matches-1 */
    int32_t *pair_M;               /* index into the pair list */
    uint8_t *treated_M;            /* 1 for the match's treated pair (first entry of a match) */
    size_t n_matches;              /* treated pairs with at least one control */
    int32_t *treated_pair_T;       /* the treated pair of each match (n_matches) */
    size_t n_treated;              /* treated pairs in the list */
    size_t n_unmatched;            /* treated pairs without a control (not in the sample) */
    size_t n_control_entries;      /* control entries: a control pair counts once per match */
    size_t n_distinct_controls;    /* distinct control pairs */
    size_t max_controls;           /* most controls in one match */
} gravrd_match_sample;

/* Builds the matched sample: entries ordered by match (treated pairs in
 * pair-list order), within a match the treated pair first, then its
 * controls in pair-list order. Errors: bandwidth not positive or not
 * finite, a city index out of range, a coordinate not finite, a pair
 * listed twice (GRAVRD_ERR_INVALID / GRAVRD_ERR_DATA). */
gravrd_status gravrd_match_build(const gravrd_geo *geo, const gravrd_pair_list *pairs, double bandwidth_km,
                                 gravrd_match_sample **out, gravrd_error *err);
void gravrd_match_sample_free(gravrd_match_sample *s);

/* ---- on a study ---- */

typedef struct {
    double bandwidth_km;           /* d: > 0 */
    int cross_province;            /* 1: neighbours may lie in another province */
} gravrd_match_options;

typedef struct {
    double bandwidth_km;
    size_t n_pairs;                /* directed pairs in the frame */
    size_t n_treated, n_matches, n_unmatched;
    size_t n_control_entries, n_distinct_controls, max_controls;
    size_t n_rows_in, n_rows_out;  /* rows of the frame and of the stacked sample */
} gravrd_match_summary;

/* The matched sample of a frame with exp_city and imp_city (city ids of the
 * study; e.g. a study frame or flows.csv): the rows of every pair of every
 * match, stacked match by match, with every column of the frame plus
 * match_id (1..n_matches) and match_treated (1 on the rows of the match's
 * treated pair). Treatment comes from the study's partnership list. Errors
 * name the frame's source and row for ids not in the study. summary may be
 * NULL. */
gravrd_status gravrd_match_frame(const gravrd_study *study, const gravrd_frame *frame,
                                 const gravrd_match_options *opt, gravrd_frame **out, gravrd_match_summary *summary,
                                 gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
