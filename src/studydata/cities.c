/* cities.c - reading and validating a cities table (city_id, lat, lng, and
 * when asked, province and region). Every check names the file and line, so
 * a user can fix the row; line numbers assume one line per record, which is
 * what every writer of these files produces. */
#include "study_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gravrd_cities_free(gravrd_cities *c)
{
    if (!c)
        return;
    gravrd_frame_free(c->frame);
    free(c->id_N);
    free(c->lat_N);
    free(c->lng_N);
    free(c->province_N);
    free(c->west_N);
    free(c);
}

/* A numeric column or an error naming the first value that is not a number
 * (the reader makes such a column text). */
static gravrd_status numeric_column(const gravrd_frame *f, const char *path, const char *name,
                                    const gravrd_column **out, gravrd_error *err)
{
    const gravrd_column *col = gravrd_frame_find(f, name);
    *out = col;
    if (!col)
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: no column '%s'", path, name);
    if (col->type == GRAVRD_COL_NUMERIC)
        return GRAVRD_OK;
    for (size_t i = 0; i < f->n_rows; i++) {
        int32_t c = col->codes_N[i];
        if (c < 0)
            continue;
        char *end;
        const char *text = col->levels_L[c];
        strtod(text, &end);
        while (*end && isspace((unsigned char)*end))
            end++;
        if (end == text || *end)
            return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: %s '%s' is not a number", path, i + 2, name,
                                    text);
    }
    return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: column %s is not numeric", path, name);
}

typedef struct {
    int64_t id;
    size_t row;
} id_row;

static int cmp_id_row(const void *pa, const void *pb)
{
    const id_row *a = pa, *b = pb;
    if (a->id != b->id)
        return (a->id > b->id) - (a->id < b->id);
    return (a->row > b->row) - (a->row < b->row);
}

gravrd_status gravrd_cities_read(const char *path, unsigned flags, gravrd_cities **out, gravrd_error *err)
{
    *out = NULL;
    gravrd_frame *f = NULL;
    gravrd_status st = gravrd_csv_read(path, NULL, &f, err);
    return st ? st : study_cities_from_frame(f, path, flags, out, err);
}

gravrd_status study_cities_from_frame(gravrd_frame *frame, const char *path, unsigned flags, gravrd_cities **out,
                                      gravrd_error *err)
{
    *out = NULL;
    gravrd_status st;
    gravrd_cities *c = calloc(1, sizeof *c);
    id_row *sorted = NULL;
    if (!c) {
        gravrd_frame_free(frame);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    c->frame = frame;
    const gravrd_frame *f = c->frame;
    const size_t n = f->n_rows;
    c->n = n;
    if (n == 0) {
        st = gravrd_error_set(err, GRAVRD_ERR_EMPTY, "%s: no cities", path);
        goto fail;
    }
    const gravrd_column *id, *lat, *lng;
    const char *lng_name = gravrd_frame_find(f, "lng") || !gravrd_frame_find(f, "lon") ? "lng" : "lon";
    if ((st = numeric_column(f, path, "city_id", &id, err)) || (st = numeric_column(f, path, "lat", &lat, err)) ||
        (st = numeric_column(f, path, lng_name, &lng, err)))
        goto fail;
    c->id_N = malloc(n * sizeof *c->id_N);
    c->lat_N = malloc(n * sizeof *c->lat_N);
    c->lng_N = malloc(n * sizeof *c->lng_N);
    c->province_N = malloc(n * sizeof *c->province_N);
    c->west_N = malloc(n * sizeof *c->west_N);
    sorted = malloc(n * sizeof *sorted);
    if (!c->id_N || !c->lat_N || !c->lng_N || !c->province_N || !c->west_N || !sorted)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        double v = id->num_N[i];
        if (isnan(v)) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id is missing", path, i + 2);
            goto fail;
        }
        if (v != floor(v) || fabs(v) > 9007199254740992.0) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id %g is not an integer", path, i + 2, v);
            goto fail;
        }
        c->id_N[i] = (int64_t)v;
        sorted[i].id = c->id_N[i];
        sorted[i].row = i;
        double la = lat->num_N[i], lo = lng->num_N[i];
        if (isnan(la) || isnan(lo)) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id %lld has no %s (coordinates are required)",
                                  path, i + 2, (long long)c->id_N[i], isnan(la) ? "lat" : lng_name);
            goto fail;
        }
        if (!(la >= -90 && la <= 90)) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id %lld: lat %g is outside [-90, 90]", path,
                                  i + 2, (long long)c->id_N[i], la);
            goto fail;
        }
        if (!(lo >= -180 && lo <= 180)) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id %lld: %s %g is outside [-180, 180]", path,
                                  i + 2, (long long)c->id_N[i], lng_name, lo);
            goto fail;
        }
        c->lat_N[i] = la;
        c->lng_N[i] = lo;
    }
    qsort(sorted, n, sizeof *sorted, cmp_id_row);
    for (size_t k = 1; k < n; k++)
        if (sorted[k].id == sorted[k - 1].id) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id %lld appears twice (also on line %zu)", path,
                                  sorted[k].row + 2, (long long)sorted[k].id, sorted[k - 1].row + 2);
            goto fail;
        }

    /* Province: codes in byte order of the names (or of the numbers). */
    const gravrd_column *prov = gravrd_frame_find(f, "province_en");
    const char *prov_name = "province_en";
    if (!prov) {
        prov = gravrd_frame_find(f, "province");
        prov_name = "province";
    }
    c->n_provinces = 0;
    if (prov) {
        if ((st = gravrd_column_group_codes(prov, n, c->province_N, &c->n_provinces, NULL, err)))
            goto fail;
        for (size_t i = 0; i < n; i++)
            if (c->province_N[i] < 0 && (flags & GRAVRD_CITIES_NEED_PROVINCE)) {
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id %lld has no %s", path, i + 2,
                                      (long long)c->id_N[i], prov_name);
                goto fail;
            }
    } else if (flags & GRAVRD_CITIES_NEED_PROVINCE) {
        st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                              "%s: no province_en (or province) column; segments never cross provinces "
                              "(use --by none to cluster without provinces)",
                              path);
        goto fail;
    } else {
        for (size_t i = 0; i < n; i++)
            c->province_N[i] = -1;
    }

    const gravrd_column *reg = gravrd_frame_find(f, "region");
    for (size_t i = 0; i < n; i++)
        c->west_N[i] = -1;
    if (reg && reg->type == GRAVRD_COL_FACTOR) {
        for (size_t i = 0; i < n; i++) {
            int32_t code = reg->codes_N[i];
            const char *v = code >= 0 ? reg->levels_L[code] : NULL;
            if (v && !strcasecmp(v, "east"))
                c->west_N[i] = 0;
            else if (v && !strcasecmp(v, "west"))
                c->west_N[i] = 1;
            else if (flags & GRAVRD_CITIES_NEED_REGION) {
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%zu: city_id %lld: region must be east or west, not '%s'",
                                      path, i + 2, (long long)c->id_N[i], v ? v : "");
                goto fail;
            }
        }
    } else if (flags & GRAVRD_CITIES_NEED_REGION) {
        st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: %s", path,
                              reg ? "region must be east or west (text), not numbers" : "no region column (east/west)");
        goto fail;
    }
    free(sorted);
    *out = c;
    return GRAVRD_OK;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory reading %s", path);
fail:
    free(sorted);
    gravrd_cities_free(c);
    return st;
}
