/* study_internal.h - the study object shared by the src/studydata files:
 * the validated cities, segments, id lookup, the partnership matrix and
 * the migration table, all indexed so that joining 1.15M flow rows is a few
 * array reads per row. The study data sit below the spatial designs and the
 * report (which read a study through gravrd/study.h) and above src/geo/
 * (segments, distances); the tables of src/study/ are above them all. */
#ifndef GRAVRD_STUDY_INTERNAL_H
#define GRAVRD_STUDY_INTERNAL_H

#include "gravrd/study.h"

struct gravrd_study {
    gravrd_cities *cities;
    char *cities_path;
    double bandwidth;
    int32_t *segment_N;
    int32_t n_segments;
    /* id lookup: ids sorted ascending, with their row index */
    int64_t *sorted_id;
    int32_t *sorted_row;
    /* rank of each city within its region, in id order; the pair of east
     * rank a and west rank b has index a * n_west + b */
    int32_t *region_rank_N;
    size_t n_east, n_west;
    int32_t *east_row, *west_row;    /* row of the east (west) city of each rank */
    uint8_t *partner_P;              /* n_east x n_west */
    uint8_t *in_program_N;
    size_t n_partnerships;
    double *gdppc_N;                 /* GDP per person (10k yuan), NaN if unknown */
    int has_gdppc;
    gravrd_frame *migration;         /* NULL when there is no migration.csv */
    int32_t *migration_row_P;        /* n_east x n_west, -1 when the pair has no row */
};

/* Kinds of derived variables. The fixed ones come first, in the order of
 * study_fixed_names. */
typedef enum {
    SV_PARTNER = 0, SV_DISTANCE, SV_E2W, SV_W2E, SV_PAIR, SV_EW_PAIR, SV_SEG_EXP, SV_SEG_IMP, SV_SEG_EAST,
    SV_SEG_WEST, SV_CONTROL_TYPE, SV_TREATED_IN_SEGPAIR, SV_SAME_DIALECT, SV_GDP_DIFF, SV_DECEMBER,
    SV_SPRING_FESTIVAL, SV_COVID,
    SV_N_FIXED,
    SV_CITY,        /* a city characteristic with a prefix */
    SV_MIGRATION    /* a column of migration.csv */
} study_var_kind;

enum { SP_EXP = 0, SP_IMP, SP_EAST, SP_WEST, SP_N };
extern const char *const study_prefixes[SP_N];
extern const char *const study_fixed_names[SV_N_FIXED];

typedef struct {
    study_var_kind kind;
    int prefix;     /* SV_CITY: SP_* */
    long col;       /* SV_CITY: column of cities.csv; SV_MIGRATION: column of migration.csv */
} study_var;

/* gravrd_cities_read on a table already read (owned by the result, freed
 * on error too); path names it in messages. */
gravrd_status study_cities_from_frame(gravrd_frame *frame, const char *path, unsigned flags, gravrd_cities **out,
                                      gravrd_error *err);

/* 1 and *v filled if name is a derived variable of this study, else 0. */
int study_resolve(const gravrd_study *s, const char *name, study_var *v);

/* Row index of a city id, or -1. */
long study_lookup(const gravrd_study *s, int64_t id);

/* Values of a pair-level variable (partner, distance, control_type,
 * treated_in_segpair, same_dialect, gdp_diff, ew_pair, a migration column)
 * for every east-west pair, n_east x n_west; seg_N are the segments to use. */
gravrd_status study_pair_values(const gravrd_study *s, const study_var *v, const int32_t *seg_N, int32_t n_seg,
                                double *out_P, gravrd_error *err);

/* 1 for the variables that are functions of the undirected east-west pair. */
int study_is_pair_level(const study_var *v);

/* The R-style median of the finite values of x (NaN when there are none);
 * sorts x in place. */
double study_median(double *x, size_t n);

/* "dir/name", malloc'ed. */
char *study_path(const char *dir, const char *name);

#endif
