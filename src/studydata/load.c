/* load.c - loading a study folder: cities (validated), segments at the
 * bandwidth, the partnership matrix and the migration table, with the
 * lookups the frame builder needs. Errors name the file and line. */
#include "study_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/spatial.h"
#include "sim/embedded.h"
#include "util/strutil.h"

char *study_path(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s%s%s", dir, dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", name);
    return p;
}

void gravrd_study_free(gravrd_study *s)
{
    if (!s)
        return;
    gravrd_cities_free(s->cities);
    free(s->cities_path);
    free(s->segment_N);
    free(s->sorted_id);
    free(s->sorted_row);
    free(s->region_rank_N);
    free(s->east_row);
    free(s->west_row);
    free(s->partner_P);
    free(s->in_program_N);
    free(s->gdppc_N);
    gravrd_frame_free(s->migration);
    free(s->migration_row_P);
    free(s);
}

long study_lookup(const gravrd_study *s, int64_t id)
{
    size_t lo = 0, hi = s->cities->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->sorted_id[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->cities->n && s->sorted_id[lo] == id ? s->sorted_row[lo] : -1;
}

typedef struct {
    int64_t id;
    int32_t row;
} id_row;

static int cmp_id_row(const void *pa, const void *pb)
{
    const id_row *a = pa, *b = pb;
    return (a->id > b->id) - (a->id < b->id);
}

/* The id column of a pair file (east_city or east_city_id, ...). */
static gravrd_status pair_id_column(const gravrd_frame *f, const char *path, const char *role,
                                    const gravrd_column **out, const char **name, gravrd_error *err)
{
    char with_id[32];
    snprintf(with_id, sizeof with_id, "%s_id", role);
    const gravrd_column *col = gravrd_frame_find(f, role);
    *name = role;
    if (!col) {
        col = gravrd_frame_find(f, with_id);
        *name = strcmp(role, "east_city") ? "west_city_id" : "east_city_id";
    }
    if (!col)
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: no %s (or %s) column", path, role, with_id);
    if (col->type != GRAVRD_COL_NUMERIC) {
        for (size_t i = 0; i < f->n_rows; i++)
            if (col->codes_N[i] >= 0)
                return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: %s '%s' is not a city id (a number)", path,
                                        i + 2, *name, col->levels_L[col->codes_N[i]]);
    }
    *out = col;
    return GRAVRD_OK;
}

/* The city row of the id in row i of a pair file; checks it exists and is in
 * the expected region. */
static gravrd_status pair_city(const gravrd_study *s, const char *path, const char *col_name,
                               const gravrd_column *col, size_t i, int want_west, int32_t *row, gravrd_error *err)
{
    double v = col->type == GRAVRD_COL_NUMERIC ? col->num_N[i] : NAN;
    if (isnan(v))
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: %s is missing", path, i + 2, col_name);
    long r = v == floor(v) && fabs(v) < 9007199254740992.0 ? study_lookup(s, (int64_t)v) : -1;
    if (r < 0)
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: %s %.15g is not in %s", path, i + 2, col_name, v,
                                s->cities_path);
    if (s->cities->west_N[r] != want_west)
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: %s %.15g is %s city (region in %s)", path, i + 2,
                                col_name, v, want_west ? "an eastern" : "a western", s->cities_path);
    *row = (int32_t)r;
    return GRAVRD_OK;
}

/* Fills the partnership matrix from f (freed here); path names it. */
static gravrd_status load_partnerships(gravrd_study *s, gravrd_frame *f, const char *path, gravrd_error *err)
{
    gravrd_status st;
    const gravrd_column *ce, *cw;
    const char *ne, *nw;
    if ((st = pair_id_column(f, path, "east_city", &ce, &ne, err)) ||
        (st = pair_id_column(f, path, "west_city", &cw, &nw, err)))
        goto done;
    for (size_t i = 0; i < f->n_rows; i++) {
        int32_t e, w;
        if ((st = pair_city(s, path, ne, ce, i, 0, &e, err)) || (st = pair_city(s, path, nw, cw, i, 1, &w, err)))
            goto done;
        size_t p = (size_t)s->region_rank_N[e] * s->n_west + (size_t)s->region_rank_N[w];
        if (s->partner_P[p]) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: the partnership %lld-%lld appears twice", path, i + 2,
                                  (long long)s->cities->id_N[e], (long long)s->cities->id_N[w]);
            goto done;
        }
        s->partner_P[p] = 1;
        s->in_program_N[e] = s->in_program_N[w] = 1;
        s->n_partnerships++;
    }
done:
    gravrd_frame_free(f);
    return st;
}

static gravrd_status load_migration(gravrd_study *s, const char *path, gravrd_error *err)
{
    gravrd_status st = gravrd_csv_read(path, NULL, &s->migration, err);
    if (st)
        return st;
    const gravrd_frame *f = s->migration;
    const gravrd_column *ce, *cw;
    const char *ne, *nw;
    if ((st = pair_id_column(f, path, "east_city", &ce, &ne, err)) ||
        (st = pair_id_column(f, path, "west_city", &cw, &nw, err)))
        return st;
    for (size_t i = 0; i < f->n_rows; i++) {
        int32_t e, w;
        if ((st = pair_city(s, path, ne, ce, i, 0, &e, err)) || (st = pair_city(s, path, nw, cw, i, 1, &w, err)))
            return st;
        size_t p = (size_t)s->region_rank_N[e] * s->n_west + (size_t)s->region_rank_N[w];
        if (s->migration_row_P[p] >= 0)
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: the pair %lld-%lld appears twice (also line %d)",
                                    path, i + 2, (long long)s->cities->id_N[e], (long long)s->cities->id_N[w],
                                    (int)s->migration_row_P[p] + 2);
        s->migration_row_P[p] = (int32_t)i;
    }
    return GRAVRD_OK;
}

/* GDP per person in 10k yuan: the gdp_per_capita_10k_yuan column, else
 * gdp_2018_100m_yuan / population_2020_10k (100m yuan / 10k people is
 * 10k yuan per person). */
static void city_gdppc(gravrd_study *s)
{
    const gravrd_frame *f = s->cities->frame;
    const gravrd_column *pc = gravrd_frame_find(f, "gdp_per_capita_10k_yuan");
    const gravrd_column *gdp = gravrd_frame_find(f, "gdp_2018_100m_yuan");
    const gravrd_column *pop = gravrd_frame_find(f, "population_2020_10k");
    if (pc && pc->type != GRAVRD_COL_NUMERIC)
        pc = NULL;
    if (gdp && gdp->type != GRAVRD_COL_NUMERIC)
        gdp = NULL;
    if (pop && pop->type != GRAVRD_COL_NUMERIC)
        pop = NULL;
    s->has_gdppc = pc || (gdp && pop);
    for (size_t i = 0; i < s->cities->n; i++) {
        double v = NAN;
        if (pc)
            v = pc->num_N[i];
        else if (gdp && pop && pop->num_N[i] > 0)
            v = gdp->num_N[i] / pop->num_N[i];
        s->gdppc_N[i] = v;
    }
}

/* The study from its tables: cities (owned, freed on error too), the
 * partnerships frame (freed here) and the migration file (NULL: none),
 * with cities_path and p_path naming them in messages. */
static gravrd_status study_build(gravrd_frame *cities_frame, const char *cities_path, gravrd_frame *p_frame,
                                 const char *p_path, const char *m_path, double bandwidth_km, gravrd_study **out,
                                 gravrd_error *err)
{
    *out = NULL;
    gravrd_status st;
    id_row *ids = NULL;
    gravrd_study *s = calloc(1, sizeof *s);
    if (!s || !(s->cities_path = gravrd_strdup(cities_path))) {
        free(s);
        gravrd_frame_free(cities_frame);
        gravrd_frame_free(p_frame);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    s->bandwidth = bandwidth_km;
    st = study_cities_from_frame(cities_frame, s->cities_path, GRAVRD_CITIES_NEED_PROVINCE | GRAVRD_CITIES_NEED_REGION,
                                 &s->cities, err);
    if (st)
        goto fail;
    const gravrd_cities *c = s->cities;
    const size_t n = c->n;
    s->segment_N = malloc(n * sizeof *s->segment_N);
    s->sorted_id = malloc(n * sizeof *s->sorted_id);
    s->sorted_row = malloc(n * sizeof *s->sorted_row);
    s->region_rank_N = malloc(n * sizeof *s->region_rank_N);
    s->east_row = malloc(n * sizeof *s->east_row);
    s->west_row = malloc(n * sizeof *s->west_row);
    s->in_program_N = calloc(n, 1);
    s->gdppc_N = malloc(n * sizeof *s->gdppc_N);
    ids = malloc(n * sizeof *ids);
    if (!s->segment_N || !s->sorted_id || !s->sorted_row || !s->region_rank_N || !s->east_row || !s->west_row ||
        !s->in_program_N || !s->gdppc_N || !ids)
        goto nomem;
    if ((st = gravrd_segments(n, c->id_N, c->lat_N, c->lng_N, c->province_N, bandwidth_km, s->segment_N,
                              &s->n_segments, err)))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        ids[i].id = c->id_N[i];
        ids[i].row = (int32_t)i;
    }
    qsort(ids, n, sizeof *ids, cmp_id_row);
    for (size_t k = 0; k < n; k++) {
        s->sorted_id[k] = ids[k].id;
        s->sorted_row[k] = ids[k].row;
        int32_t r = ids[k].row;
        if (c->west_N[r]) {
            s->region_rank_N[r] = (int32_t)s->n_west;
            s->west_row[s->n_west++] = r;
        } else {
            s->region_rank_N[r] = (int32_t)s->n_east;
            s->east_row[s->n_east++] = r;
        }
    }
    if (s->n_east == 0 || s->n_west == 0) {
        st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: the study needs eastern and western cities (%zu east, %zu west)",
                              s->cities_path, s->n_east, s->n_west);
        goto fail;
    }
    size_t n_pairs = s->n_east * s->n_west;
    s->partner_P = calloc(n_pairs, 1);
    s->migration_row_P = malloc(n_pairs * sizeof *s->migration_row_P);
    if (!s->partner_P || !s->migration_row_P)
        goto nomem;
    for (size_t p = 0; p < n_pairs; p++)
        s->migration_row_P[p] = -1;
    city_gdppc(s);
    st = load_partnerships(s, p_frame, p_path, err);
    p_frame = NULL;
    if (st)
        goto fail;
    FILE *probe = m_path ? fopen(m_path, "rb") : NULL;
    if (probe) {
        fclose(probe);
        if ((st = load_migration(s, m_path, err)))
            goto fail;
    } else if (m_path && errno != ENOENT) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot open (%s)", m_path, strerror(errno));
        goto fail;
    }
    free(ids);
    *out = s;
    return GRAVRD_OK;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory loading the study of %s", cities_path);
fail:
    gravrd_frame_free(p_frame);
    free(ids);
    gravrd_study_free(s);
    return st;
}

static gravrd_status check_bandwidth(double bandwidth_km, gravrd_error *err)
{
    if (!(bandwidth_km > 0) || !isfinite(bandwidth_km))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "the bandwidth must be a positive number of km, not %g",
                                bandwidth_km);
    return GRAVRD_OK;
}

gravrd_status gravrd_study_load(const char *dir, double bandwidth_km, gravrd_study **out, gravrd_error *err)
{
    *out = NULL;
    gravrd_status st = check_bandwidth(bandwidth_km, err);
    if (st)
        return st;
    char *c_path = study_path(dir, "cities.csv"), *p_path = study_path(dir, "partnerships.csv"),
         *m_path = study_path(dir, "migration.csv");
    gravrd_frame *cities = NULL, *partnerships = NULL;
    if (!c_path || !p_path || !m_path)
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory loading the study in %s", dir);
    else if (!(st = gravrd_csv_read(c_path, NULL, &cities, err)) &&
             (st = gravrd_csv_read(p_path, NULL, &partnerships, err)))
        gravrd_frame_free(cities);
    if (!st)
        st = study_build(cities, c_path, partnerships, p_path, m_path, bandwidth_km, out, err);
    free(c_path);
    free(p_path);
    free(m_path);
    return st;
}

gravrd_status gravrd_study_load_default(double bandwidth_km, gravrd_study **out, gravrd_error *err)
{
    *out = NULL;
    gravrd_status st = check_bandwidth(bandwidth_km, err);
    if (st)
        return st;
    gravrd_frame *cities = NULL, *partnerships = NULL;
    if ((st = gravrd_csv_read_buffer("cities.csv (embedded)", (const char *)gravrd_embedded_cities_csv,
                                     gravrd_embedded_cities_csv_len, NULL, &cities, err)))
        return st;
    if ((st = gravrd_csv_read_buffer("partnerships.csv (embedded)", (const char *)gravrd_embedded_partnerships_csv,
                                     gravrd_embedded_partnerships_csv_len, NULL, &partnerships, err))) {
        gravrd_frame_free(cities);
        return st;
    }
    return study_build(cities, "cities.csv (embedded)", partnerships, "partnerships.csv (embedded)", NULL,
                       bandwidth_km, out, err);
}

size_t gravrd_study_n_cities(const gravrd_study *s) { return s->cities->n; }
const gravrd_frame *gravrd_study_cities(const gravrd_study *s) { return s->cities->frame; }
double gravrd_study_bandwidth(const gravrd_study *s) { return s->bandwidth; }
size_t gravrd_study_n_partnerships(const gravrd_study *s) { return s->n_partnerships; }

void gravrd_study_geography(const gravrd_study *s, gravrd_study_geo *g)
{
    g->n = s->cities->n;
    g->id_N = s->cities->id_N;
    g->lat_N = s->cities->lat_N;
    g->lng_N = s->cities->lng_N;
    g->province_N = s->cities->province_N;
    g->n_provinces = s->cities->n_provinces;
    g->west_N = s->cities->west_N;
    g->in_program_N = s->in_program_N;
    g->segment_N = s->segment_N;
    g->n_segments = s->n_segments;
}

long gravrd_study_city_index(const gravrd_study *s, int64_t id) { return study_lookup(s, id); }

int gravrd_study_partners(const gravrd_study *s, size_t i, size_t j)
{
    if (i >= s->cities->n || j >= s->cities->n || s->cities->west_N[i] == s->cities->west_N[j])
        return 0;
    size_t e = s->cities->west_N[i] ? j : i, w = s->cities->west_N[i] ? i : j;
    return s->partner_P[(size_t)s->region_rank_N[e] * s->n_west + (size_t)s->region_rank_N[w]];
}

double gravrd_study_distance_km(const gravrd_study *s, size_t i, size_t j)
{
    const gravrd_cities *c = s->cities;
    /* Always in id order so d(i, j) and d(j, i) are the same number. */
    if (c->id_N[j] < c->id_N[i]) {
        size_t t = i;
        i = j;
        j = t;
    }
    return gravrd_haversine_km(c->lat_N[i], c->lng_N[i], c->lat_N[j], c->lng_N[j]);
}
