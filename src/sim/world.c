/* world.c - the simulated world's cities and city pairs: reads and checks the
 * real geography, imputes missing GDP, draws city characteristics, the
 * smooth pair affinity, migration, and the heterogeneous partner effects.
 * The equations are documented in docs/simulator.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "gravrd/data.h"
#include "sim/embedded.h"
#include "sim/sim_internal.h"
#include "util/strutil.h"


/* ---- random streams ------------------------------------------------------ */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

gsl_rng *sim_rng_new(uint64_t seed, int stream)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r)
        return NULL;
    uint64_t s = splitmix64(splitmix64(seed) ^ (0x5851f42d4c957f2dULL * (uint64_t)stream));
    /* mt19937 takes a 32-bit seed; 0 would be replaced by GSL's default. */
    unsigned long s32 = (unsigned long)(s & 0xffffffffULL);
    gsl_rng_set(r, s32 ? s32 : 0x9e3779b9UL);
    return r;
}

static double gauss(gsl_rng *r) { return gsl_ran_gaussian_ziggurat(r, 1.0); }

/* ---- provinces ------------------------------------------------------------ */

typedef struct {
    const char *province;
    double gdppc;    /* approximate 2018 GDP per person, 10k yuan */
    double minority; /* approximate minority share of the population, percent */
    const char *dialect;
} province_info;

static const province_info provinces[] = {
    {"Beijing", 14.0, 4.0, "Beijing Mandarin"},
    {"Tianjin", 12.0, 2.7, "Jilu Mandarin"},
    {"Shanghai", 13.5, 1.0, "Wu"},
    {"Liaoning", 5.8, 16.0, "Northeastern Mandarin"},
    {"Jiangsu", 11.5, 0.6, "Jianghuai Mandarin"},
    {"Zhejiang", 9.8, 1.2, "Wu"},
    {"Fujian", 9.1, 2.0, "Min"},
    {"Shandong", 7.6, 0.7, "Jilu Mandarin"},
    {"Guangdong", 8.6, 2.4, "Cantonese"},
    {"Chongqing", 6.6, 6.5, "Southwestern Mandarin"},
    {"Gansu", 3.1, 10.6, "Northwestern Mandarin"},
    {"Guangxi", 4.1, 37.5, "Southwestern Mandarin"},
    {"Guizhou", 4.1, 36.4, "Southwestern Mandarin"},
    {"Inner Mongolia", 6.8, 21.0, "Jin"},
    {"Ningxia", 5.4, 36.0, "Northwestern Mandarin"},
    {"Qinghai", 4.8, 49.5, "Northwestern Mandarin"},
    {"Shaanxi", 6.3, 0.6, "Zhongyuan Mandarin"},
    {"Sichuan", 4.9, 6.8, "Southwestern Mandarin"},
    {"Yunnan", 3.7, 33.1, "Southwestern Mandarin"},
};

static const struct {
    const char *name;
    const char *dialect;
} dialect_overrides[] = {
    {"Suzhou", "Wu"}, {"Wuxi", "Wu"}, {"Changzhou", "Wu"}, {"Xuzhou", "Zhongyuan Mandarin"},
    {"Dalian", "Jiaoliao Mandarin"}, {"Qingdao", "Jiaoliao Mandarin"}, {"Yantai", "Jiaoliao Mandarin"},
    {"Weihai", "Jiaoliao Mandarin"}, {"Longyan", "Hakka"}, {"Meizhou", "Hakka"}, {"Heyuan", "Hakka"},
    {"Shantou", "Min"}, {"Chaozhou", "Min"}, {"Jieyang", "Min"}, {"Shanwei", "Min"},
    {"Nanning", "Cantonese"}, {"Wuzhou", "Cantonese"}, {"Beihai", "Cantonese"},
    {"Fangchenggang", "Cantonese"}, {"Qinzhou", "Cantonese"}, {"Guigang", "Cantonese"},
    {"Yulin (GX)", "Cantonese"}, {"Hezhou", "Cantonese"}, {"Yulin (SN)", "Jin"}, {"Yan'an", "Jin"},
    {"Hanzhong", "Southwestern Mandarin"}, {"Ankang", "Southwestern Mandarin"},
    {"Hulunbuir", "Northeastern Mandarin"}, {"Hinggan League", "Northeastern Mandarin"},
    {"Tongliao", "Northeastern Mandarin"}, {"Chifeng", "Northeastern Mandarin"},
};

static const province_info *find_province(const char *prov)
{
    for (size_t i = 0; i < sizeof provinces / sizeof provinces[0]; i++)
        if (!strcmp(provinces[i].province, prov))
            return &provinces[i];
    return NULL;
}

static const char *dialect_of(const char *name, const char *prov, int is_east)
{
    for (size_t i = 0; i < sizeof dialect_overrides / sizeof dialect_overrides[0]; i++)
        if (!strcmp(dialect_overrides[i].name, name))
            return dialect_overrides[i].dialect;
    const province_info *pi = find_province(prov);
    if (pi)
        return pi->dialect;
    return is_east ? "Other Mandarin (east)" : "Other Mandarin (west)";
}

/* ---- helpers ---------------------------------------------------------------- */

static double logistic(double x) { return 1.0 / (1.0 + exp(-x)); }
static double logit(double p) { return log(p / (1.0 - p)); }
static double round_to(double x, double unit) { return floor(x / unit + 0.5) * unit; }

static double haversine_km(double lat1, double lng1, double lat2, double lng2)
{
    const double rad = 3.14159265358979323846 / 180.0, R = 6371.0;
    double dlat = (lat2 - lat1) * rad, dlng = (lng2 - lng1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlng / 2) * sin(dlng / 2);
    return 2.0 * R * asin(fmin(1.0, sqrt(a)));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Text of a cell (factor level, or number); NULL for missing. */
static const char *cell_text(const gravrd_column *c, size_t row, char *buf, size_t bufsz)
{
    if (c->type == GRAVRD_COL_FACTOR) {
        int32_t code = c->codes_N[row];
        return code < 0 ? NULL : c->levels_L[code];
    }
    double v = c->num_N[row];
    if (isnan(v))
        return NULL;
    snprintf(buf, bufsz, "%.15g", v);
    return buf;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static gravrd_status need_column(const gravrd_frame *f, const char *path, const char *name, int numeric,
                                 const gravrd_column **out, gravrd_error *err)
{
    const gravrd_column *c = gravrd_frame_find(f, name);
    if (!c)
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: missing column '%s'", path, name);
    if (numeric && c->type != GRAVRD_COL_NUMERIC)
        return gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: column '%s' must be numeric", path, name);
    *out = c;
    return GRAVRD_OK;
}

/* ---- allocation ------------------------------------------------------------ */

void sim_world_free(sim_world *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->n; i++) {
        if (w->name_en) free(w->name_en[i]);
        if (w->name_zh) free(w->name_zh[i]);
        if (w->province) free(w->province[i]);
    }
    for (int q = 0; q < w->n_part; q++)
        if (w->part_conf) free(w->part_conf[q]);
    free(w->id); free(w->name_en); free(w->name_zh); free(w->province); free(w->is_east);
    free(w->lat); free(w->lng); free(w->pop); free(w->gdp); free(w->gdp_imputed);
    free(w->gdppc); free(w->minority); free(w->gi); free(w->ecom18); free(w->ecomcum);
    free(w->internet); free(w->mobile); free(w->hsr); free(w->freeway); free(w->road);
    free((void *)w->dialect);
    free(w->exp_cap); free(w->exp_growth); free(w->imp_dem); free(w->imp_growth);
    free(w->price_city); free(w->fame); free(w->share_city);
    free(w->cr_seller_city); free(w->cr_buyer_city);
    free(w->east); free(w->west);
    free(w->part_e); free(w->part_w); free(w->part_conf);
    free(w->dist);
    free(w->partner); free(w->affinity); free(w->mig_pre); free(w->mig_post);
    free(w->mig_pre_mean); free(w->mig_post_mean); free(w->tau_w2e); free(w->het_d);
    free(w->year); free(w->mon); free(w->sf_month);
    free(w->exp_month); free(w->imp_month); free(w->exp_dark); free(w->search_month);
    free(w);
}

#define ALLOC(ptr, count) \
    do { \
        (ptr) = calloc((size_t)(count) > 0 ? (size_t)(count) : 1, sizeof *(ptr)); \
        if (!(ptr)) \
            goto nomem; \
    } while (0)

/* ---- reading the geography -------------------------------------------------- */

/* Reads a geography table from path, or from the copy embedded in the
 * library when path is NULL. */
static gravrd_status read_geography(const char *path, const unsigned char *embedded, size_t embedded_len,
                                    const char *embedded_name, gravrd_frame **f, gravrd_error *err)
{
    if (path)
        return gravrd_csv_read(path, NULL, f, err);
    return gravrd_csv_read_buffer(embedded_name, (const char *)embedded, embedded_len, NULL, f, err);
}

static gravrd_status load_cities(sim_world *w, const char *path, gravrd_error *err)
{
    gravrd_frame *f = NULL;
    /* text columns that look numeric are turned back into text by cell_text */
    gravrd_status st = read_geography(path, gravrd_embedded_cities_csv, gravrd_embedded_cities_csv_len,
                                      "cities.csv", &f, err);
    if (!path)
        path = "cities.csv";
    if (st)
        return st;
    const char *bn = base_name(path);
    const gravrd_column *c_id = NULL, *c_en = NULL, *c_zh = NULL, *c_prov = NULL, *c_reg = NULL,
                        *c_lat = NULL, *c_lng = NULL, *c_pop = NULL, *c_gdp = NULL;
    if ((st = need_column(f, bn, "city_id", 1, &c_id, err)) ||
        (st = need_column(f, bn, "name_en", 0, &c_en, err)) ||
        (st = need_column(f, bn, "province_en", 0, &c_prov, err)) ||
        (st = need_column(f, bn, "region", 0, &c_reg, err)) ||
        (st = need_column(f, bn, "lat", 1, &c_lat, err)) ||
        (st = need_column(f, bn, "lng", 1, &c_lng, err)) ||
        (st = need_column(f, bn, "population_2020_10k", 1, &c_pop, err)) ||
        (st = need_column(f, bn, "gdp_2018_100m_yuan", 1, &c_gdp, err)))
        goto done;
    c_zh = gravrd_frame_find(f, "name_zh");
    int n = (int)f->n_rows;
    if (n < 2) {
        st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: needs at least one eastern and one western city", bn);
        goto done;
    }
    w->n = n;
    ALLOC(w->id, n); ALLOC(w->name_en, n); ALLOC(w->name_zh, n); ALLOC(w->province, n);
    ALLOC(w->is_east, n); ALLOC(w->lat, n); ALLOC(w->lng, n); ALLOC(w->pop, n); ALLOC(w->gdp, n);
    ALLOC(w->gdp_imputed, n);
    for (int i = 0; i < n; i++) {
        long line = i + 2;
        char buf[64];
        double id = c_id->num_N[i];
        if (!(id >= 1 && id <= 1e9 && id == floor(id))) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: city_id must be a positive whole number", bn, line);
            goto done;
        }
        w->id[i] = (int)id;
        for (int k = 0; k < i; k++)
            if (w->id[k] == w->id[i]) {
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: duplicated city_id %d (first on line %d)",
                                      bn, line, w->id[i], k + 2);
                goto done;
            }
        const char *en = cell_text(c_en, (size_t)i, buf, sizeof buf);
        if (!en || !*en) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: name_en is empty", bn, line);
            goto done;
        }
        if (!(w->name_en[i] = gravrd_strdup(en)))
            goto nomem;
        const char *zh = c_zh ? cell_text(c_zh, (size_t)i, buf, sizeof buf) : NULL;
        if (!(w->name_zh[i] = gravrd_strdup(zh ? zh : "")))
            goto nomem;
        const char *pr = cell_text(c_prov, (size_t)i, buf, sizeof buf);
        if (!pr || !*pr) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: province_en is empty", bn, line);
            goto done;
        }
        if (!(w->province[i] = gravrd_strdup(pr)))
            goto nomem;
        const char *rg = cell_text(c_reg, (size_t)i, buf, sizeof buf);
        if (rg && !strcmp(rg, "east"))
            w->is_east[i] = 1;
        else if (rg && !strcmp(rg, "west"))
            w->is_east[i] = 0;
        else {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: region must be 'east' or 'west', got '%s'",
                                  bn, line, rg ? rg : "");
            goto done;
        }
        w->lat[i] = c_lat->num_N[i];
        w->lng[i] = c_lng->num_N[i];
        if (!(fabs(w->lat[i]) <= 90) || !(fabs(w->lng[i]) <= 180)) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: lat/lng missing or out of range", bn, line);
            goto done;
        }
        w->pop[i] = c_pop->num_N[i];
        if (!(w->pop[i] > 0) || !isfinite(w->pop[i])) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: population_2020_10k must be positive", bn, line);
            goto done;
        }
        w->gdp[i] = c_gdp->num_N[i];
        if (!isnan(w->gdp[i]) && !(w->gdp[i] > 0 && isfinite(w->gdp[i]))) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: gdp_2018_100m_yuan must be positive or empty", bn, line);
            goto done;
        }
        if (w->is_east[i]) w->n_east++; else w->n_west++;
    }
    if (!w->n_east || !w->n_west) {
        st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: needs at least one eastern and one western city", bn);
        goto done;
    }
    ALLOC(w->east, w->n_east);
    ALLOC(w->west, w->n_west);
    for (int i = 0, a = 0, b = 0; i < n; i++) {
        if (w->is_east[i]) w->east[a++] = i; else w->west[b++] = i;
    }
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory reading %s", bn);
done:
    gravrd_frame_free(f);
    return st;
}

/* --scale K: K - 1 synthetic cities near each real one (same province and
 * region), for studies with many more cities (counties) than the real
 * prefecture-level geography. They are appended after the real cities, so
 * with K = 1 nothing changes; their draws come from a stream of their own.
 * Ids are k * 10^m + the real id (10^m above every real id); names get " #k".
 * Each lies 8-40 km from its city in a random direction (rounded to 1e-4
 * degrees, as cities.csv stores it) and at least 1 km from every other
 * city; its population is a fraction of the city's and its GDP is imputed
 * (like the real cities without GDP), so characteristics follow the same
 * model as the real ones. Partnerships stay among the real cities. */
static gravrd_status expand_cities(sim_world *w, const gravrd_sim_params *p, gravrd_error *err)
{
    int K = p->scale, n0 = w->n;
    if (K <= 1)
        return GRAVRD_OK;
    int n = n0 * K;
    int *id = NULL, *is_east = NULL, *gdp_imputed = NULL;
    char **name_en = NULL, **name_zh = NULL, **province = NULL;
    double *lat = NULL, *lng = NULL, *pop = NULL, *gdp = NULL;
    gsl_rng *r = NULL;
    gravrd_status st = GRAVRD_OK;
    ALLOC(id, n); ALLOC(is_east, n); ALLOC(gdp_imputed, n); ALLOC(name_en, n); ALLOC(name_zh, n);
    ALLOC(province, n); ALLOC(lat, n); ALLOC(lng, n); ALLOC(pop, n); ALLOC(gdp, n);
    if (!(r = sim_rng_new(p->seed, SIM_STREAM_SCALE)))
        goto nomem;
    int max_id = 0;
    for (int i = 0; i < n0; i++)
        if (w->id[i] > max_id)
            max_id = w->id[i];
    long base = 10;
    while (base <= max_id)
        base *= 10;
    if ((long)(K - 1) * base + max_id > 1000000000L) {
        st = gravrd_error_set(err, GRAVRD_ERR_INVALID, "scale %d: synthetic city ids would exceed 10^9", K);
        goto done;
    }
    for (int i = 0; i < n0; i++) {
        id[i] = w->id[i];
        is_east[i] = w->is_east[i];
        gdp_imputed[i] = w->gdp_imputed[i];
        name_en[i] = w->name_en[i];
        name_zh[i] = w->name_zh[i];
        province[i] = w->province[i];
        w->name_en[i] = w->name_zh[i] = w->province[i] = NULL;
        lat[i] = w->lat[i];
        lng[i] = w->lng[i];
        pop[i] = w->pop[i];
        gdp[i] = w->gdp[i];
    }
    const double rad = 3.14159265358979323846 / 180.0;
    for (int k = 1; k < K; k++)
        for (int i0 = 0; i0 < n0; i0++) {
            int i = k * n0 + i0;
            id[i] = (int)((long)k * base + w->id[i0]);
            is_east[i] = is_east[i0];
            size_t len = strlen(name_en[i0]) + 16;
            if (!(name_en[i] = malloc(len)) || !(name_zh[i] = malloc(strlen(name_zh[i0]) + 16)) ||
                !(province[i] = gravrd_strdup(province[i0])))
                goto nomem;
            snprintf(name_en[i], len, "%s #%d", name_en[i0], k + 1);
            if (name_zh[i0][0])
                snprintf(name_zh[i], strlen(name_zh[i0]) + 16, "%s#%d", name_zh[i0], k + 1);
            else
                name_zh[i][0] = '\0';
            /* a few tries; the draws per city are fixed (8 of them) so one
             * city's placement does not shift the others' */
            double u[8];
            for (int q = 0; q < 8; q++)
                u[q] = gsl_rng_uniform(r);
            for (int tries = 0; tries < 4; tries++) {
                double dist = 8.0 + 32.0 * u[2 * tries], ang = 2.0 * 3.14159265358979323846 * u[2 * tries + 1];
                lat[i] = round_to(lat[i0] + dist * cos(ang) / 111.2, 1e-4);
                lng[i] = round_to(lng[i0] + dist * sin(ang) / (111.2 * cos(lat[i0] * rad)), 1e-4);
                int close = 0;
                for (int j = 0; j < i && !close; j++)
                    close = haversine_km(lat[i], lng[i], lat[j], lng[j]) < 1.0;
                if (!close)
                    break;
            }
            pop[i] = round_to(pop[i0] * (0.15 + 0.25 * gsl_rng_uniform(r)), 0.01);
            if (!(pop[i] > 0))
                pop[i] = 0.01;
            gdp[i] = NAN;
            gdp_imputed[i] = 0; /* set by draw_cities */
        }
    for (int i = 0; i < n0; i++) {
        free(w->name_en[i]);
        free(w->name_zh[i]);
        free(w->province[i]);
    }
#define SWAP_IN(field) do { free(w->field); w->field = field; field = NULL; } while (0)
    SWAP_IN(id); SWAP_IN(is_east); SWAP_IN(gdp_imputed); SWAP_IN(name_en); SWAP_IN(name_zh);
    SWAP_IN(province); SWAP_IN(lat); SWAP_IN(lng); SWAP_IN(pop); SWAP_IN(gdp);
#undef SWAP_IN
    w->n = n;
    w->n_east *= K;
    w->n_west *= K;
    free(w->east);
    free(w->west);
    w->east = w->west = NULL;
    ALLOC(w->east, w->n_east);
    ALLOC(w->west, w->n_west);
    for (int i = 0, a = 0, b = 0; i < n; i++) {
        if (w->is_east[i]) w->east[a++] = i; else w->west[b++] = i;
    }
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the scaled world");
done:
    if (r)
        gsl_rng_free(r);
    if (name_en) /* not swapped in: the real cities' strings moved here, free all */
        for (int i = 0; i < n; i++)
            free(name_en[i]);
    if (name_zh)
        for (int i = 0; i < n; i++)
            free(name_zh[i]);
    if (province)
        for (int i = 0; i < n; i++)
            free(province[i]);
    free(id); free(is_east); free(gdp_imputed); free(name_en); free(name_zh); free(province);
    free(lat); free(lng); free(pop); free(gdp);
    return st;
}

static int city_index(const sim_world *w, double id)
{
    for (int i = 0; i < w->n; i++)
        if ((double)w->id[i] == id)
            return i;
    return -1;
}

static gravrd_status load_partnerships(sim_world *w, const char *path, gravrd_error *err)
{
    gravrd_frame *f = NULL;
    gravrd_status st = read_geography(path, gravrd_embedded_partnerships_csv,
                                      gravrd_embedded_partnerships_csv_len, "partnerships.csv", &f, err);
    if (!path)
        path = "partnerships.csv";
    if (st)
        return st;
    const char *bn = base_name(path);
    const gravrd_column *c_e = NULL, *c_w = NULL, *c_conf = NULL;
    if ((st = need_column(f, bn, "east_city_id", 1, &c_e, err)) ||
        (st = need_column(f, bn, "west_city_id", 1, &c_w, err)))
        goto done;
    c_conf = gravrd_frame_find(f, "confidence");
    int n = (int)f->n_rows;
    w->n_part = 0;
    ALLOC(w->part_e, n); ALLOC(w->part_w, n); ALLOC(w->part_conf, n);
    for (int q = 0; q < n; q++) {
        long line = q + 2;
        double ide = c_e->num_N[q], idw = c_w->num_N[q];
        int ie = city_index(w, ide), iw = city_index(w, idw);
        if (ie < 0 || iw < 0) {
            double bad = ie < 0 ? ide : idw;
            if (isnan(bad))
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: %s is empty", bn, line,
                                      ie < 0 ? "east_city_id" : "west_city_id");
            else
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: %s %.15g is not a city_id of the cities file",
                                      bn, line, ie < 0 ? "east_city_id" : "west_city_id", bad);
            goto done;
        }
        if (!w->is_east[ie] || w->is_east[iw]) {
            st = gravrd_error_set(err, GRAVRD_ERR_DATA,
                                  "%s:%ld: city %d must be eastern and city %d western", bn, line,
                                  w->id[ie], w->id[iw]);
            goto done;
        }
        for (int k = 0; k < q; k++)
            if (w->part_e[k] == ie && w->part_w[k] == iw) {
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s:%ld: duplicated pair %d-%d (first on line %d)",
                                      bn, line, w->id[ie], w->id[iw], k + 2);
                goto done;
            }
        w->part_e[q] = ie;
        w->part_w[q] = iw;
        w->n_part = q + 1;
        char buf[64];
        const char *conf = c_conf ? cell_text(c_conf, (size_t)q, buf, sizeof buf) : NULL;
        if (!(w->part_conf[q] = gravrd_strdup(conf ? conf : "")))
            goto nomem;
    }
    goto done;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory reading %s", bn);
done:
    gravrd_frame_free(f);
    return st;
}

/* ---- city characteristics ------------------------------------------------------ */

/* Base category shares of a city's exports (east, west): clothing, food,
 * household, electronics, healthcare, other. */
static const double share_east[GRAVRD_SIM_N_CAT] = {0.30, 0.12, 0.25, 0.18, 0.05, 0.10};
static const double share_west[GRAVRD_SIM_N_CAT] = {0.18, 0.35, 0.17, 0.08, 0.07, 0.15};

static int is_autonomous(const char *name)
{
    return strstr(name, " AP") != NULL || strstr(name, "League") != NULL;
}

/* The means of x over the western (out[0]) and eastern (out[1]) cities,
 * cnt the number of each. */
static void region_means(const sim_world *w, const double *x, const double cnt[2], double out[2])
{
    out[0] = out[1] = 0;
    for (int i = 0; i < w->n; i++)
        out[w->is_east[i]] += x[i] / cnt[w->is_east[i]];
}

static void draw_cities(sim_world *w, gsl_rng *r)
{
    int n = w->n;
    /* GDP per person: real where GDP is known, else province level x 0.85
     * (the known cities are mostly the richer capitals) with noise. */
    for (int i = 0; i < n; i++) {
        double eps = gauss(r);
        if (!isnan(w->gdp[i])) {
            w->gdppc[i] = w->gdp[i] / w->pop[i];
        } else {
            const province_info *pi = find_province(w->province[i]);
            double base = pi ? pi->gdppc : (w->is_east[i] ? 7.0 : 4.5);
            w->gdppc[i] = exp(log(0.85 * base) + 0.25 * eps);
            w->gdp[i] = round_to(w->gdppc[i] * w->pop[i], 0.01);
            w->gdp_imputed[i] = 1;
        }
        w->gdppc[i] = round_to(w->gdppc[i], 0.01);
    }
    /* Region means and sds of log GDP per person, and means of log pop / GDP. */
    double m_pc[2] = {0, 0}, s_pc[2] = {0, 0}, m_gdp[2] = {0, 0}, cnt[2] = {0, 0}, m_pop = 0, m_pc_all = 0;
    for (int i = 0; i < n; i++) {
        int g = w->is_east[i];
        m_pc[g] += log(w->gdppc[i]);
        m_gdp[g] += log(w->gdp[i]);
        cnt[g] += 1;
        m_pop += log(w->pop[i]) / n;
        m_pc_all += log(w->gdppc[i]) / n;
    }
    for (int g = 0; g < 2; g++) {
        m_pc[g] /= cnt[g];
        m_gdp[g] /= cnt[g];
    }
    for (int i = 0; i < n; i++) {
        int g = w->is_east[i];
        double d = log(w->gdppc[i]) - m_pc[g];
        s_pc[g] += d * d / cnt[g];
    }
    for (int g = 0; g < 2; g++)
        s_pc[g] = s_pc[g] > 0 ? sqrt(s_pc[g]) : 1.0;

    for (int i = 0; i < n; i++) {
        int east = w->is_east[i];
        double lp = log(w->pop[i]) - m_pop;
        double lgdp = log(w->gdp[i]) - m_gdp[east];
        double lpc = log(w->gdppc[i]) - m_pc_all;
        double e[24];
        for (int k = 0; k < 24; k++)
            e[k] = gauss(r);
        /* poverty: standardised low income within the region, plus noise */
        double z = -0.8 * (log(w->gdppc[i]) - m_pc[east]) / s_pc[east] + 0.6 * e[0];
        const province_info *pi = find_province(w->province[i]);
        double base_min = pi ? pi->minority : 5.0;
        double lm = logit(base_min / 100.0) + 0.5 * z + (is_autonomous(w->name_en[i]) ? 2.0 : 0.0) + 0.5 * e[1];
        w->minority[i] = round_to(100.0 * logistic(lm), 0.01);
        double gi_mean = exp(1.9 + 0.35 * lp + 0.6 * w->minority[i] / 100.0 + 0.15 * z + 0.35 * e[2]);
        w->gi[i] = (int)gsl_ran_poisson(r, gi_mean);
        w->internet[i] = round_to(100.0 * logistic(logit(east ? 0.62 : 0.48) - 0.40 * z + 0.25 * e[3]), 0.1);
        w->mobile[i] = round_to(fmin(200.0, fmax(40.0, (east ? 118.0 : 98.0) - 9.0 * z + 6.0 * e[4])), 0.1);
        double hsr = floor((east ? 2012.0 : 2015.5) + 2.2 * z + 2.0 * e[5] + 0.5);
        w->hsr[i] = (int)fmin(2030.0, fmax(2008.0, hsr));
        w->freeway[i] = round_to(exp(log(east ? 3.2 : 1.6) - 0.35 * z + 0.3 * e[6]), 0.01);
        w->road[i] = round_to(exp(log(east ? 1.3 : 0.7) - 0.30 * z + 0.3 * e[7]), 0.01);
        double ec = exp(log(east ? 600.0 : 90.0) + 0.9 * lp + 0.25 * log1p(w->gi[i]) + 0.10 * z + 0.5 * e[8]);
        w->ecom18[i] = (int)floor(ec + 0.5);
        w->ecomcum[i] = w->ecom18[i] + (int)floor(ec * exp(log(3.5) + 0.25 * e[9]) + 0.5);
        w->dialect[i] = dialect_of(w->name_en[i], w->province[i], east);
        /* latent trade terms */
        /* Exporter capacity: population (elasticity 0.9) and GDP per person
         * (1.6), within the region. Its upper half is stretched (x 1.8):
         * e-commerce exports concentrate in hubs, which gives log trade the
         * right skew of Table 1 (P75/P50 of about 6 against P50/P25 of 3).
         * Its noise shrinks with size (granularity: a big city's sales add
         * up many firms), so that no one draw decides a direction's mean
         * trade (Chongqing alone would otherwise move the east-west ratio
         * of means from 3 to 12 between seeds). */
        double lpc_region = log(w->gdppc[i]) - m_pc[east], lpop_region = lgdp - lpc_region;
        double size = 0.9 * lpop_region + 1.6 * lpc_region;
        if (size > 0)
            size *= 1.8;
        double cap_sd = 0.5 * (lgdp > 0 ? exp(-0.7 * lgdp) : 1.0);
        w->exp_cap[i] = size + cap_sd * e[10];
        w->exp_growth[i] = east ? 0.10 + 0.03 * e[11] : 0.15 + 0.05 * e[11];
        w->imp_dem[i] = 0.9 * lp + 0.7 * lpc + 0.3 * e[12];
        w->imp_growth[i] = 0.08 + 0.03 * e[13];
        w->price_city[i] = 0.25 * e[14];
        w->fame[i] = 0.6 * lp + 0.4 * lgdp + 0.5 * e[15];
        for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
            w->share_city[i * GRAVRD_SIM_N_CAT + c] = log(east ? share_east[c] : share_west[c]) + 0.3 * e[16 + c];
        w->cr_seller_city[i] = 0.4 * e[22];
        w->cr_buyer_city[i] = 0.4 * e[23];
    }
    /* Centre exporter capacity within each region: the mean of 87 or 110
     * noise draws would otherwise move a direction's level, and the
     * east-west ratio of Table 1, by about 0.1 log points from seed to
     * seed; the region's level is L_d (flows.c). */
    double m_cap[2];
    region_means(w, w->exp_cap, cnt, m_cap);
    for (int i = 0; i < n; i++)
        w->exp_cap[i] -= m_cap[w->is_east[i]];
    /* Importer demand's upper half is stretched too (x 2), for the same
     * right skew on the buyer side. */
    double m_dem[2];
    region_means(w, w->imp_dem, cnt, m_dem);
    for (int i = 0; i < n; i++) {
        double above = w->imp_dem[i] - m_dem[w->is_east[i]];
        if (above > 0)
            w->imp_dem[i] += above;
    }
}

/* ---- pair quantities ------------------------------------------------------------ */

static size_t ew_index(const sim_world *w, int a, int b) { return (size_t)a * (size_t)w->n_west + (size_t)b; }

static void draw_migration(sim_world *w, const gravrd_sim_params *p, gsl_rng *r)
{
    static const double year_factor[SIM_N_YEARS_MIG] = {1.2, 1.0, 0.8}; /* 2019-2021, mean 1 */
    double m_pop = 0, m_pc = 0;
    for (int i = 0; i < w->n; i++) {
        m_pop += log(w->pop[i]) / w->n;
        m_pc += log(w->gdppc[i]) / w->n;
    }
    for (int a = 0; a < w->n_east; a++)
        for (int b = 0; b < w->n_west; b++) {
            int ie = w->east[a], iw = w->west[b];
            size_t k = ew_index(w, a, b);
            double d = w->dist[(size_t)ie * w->n + iw];
            double lm = log(0.011) + 1.0 * (log(w->pop[iw]) - m_pop) + 0.5 * (log(w->pop[ie]) - m_pop) +
                        0.5 * (log(w->gdppc[ie]) - m_pc) - 2.0 * (log(d) - log(1500.0)) + 1.8 * gauss(r);
            double m = exp(lm), add = w->partner[k] ? p->migration_effect : 0.0;
            double sp = 0, sq = 0;
            for (int y = 0; y < SIM_N_YEARS_MIG; y++) {
                double e1 = gauss(r), e2 = gauss(r);
                double pre = m * year_factor[y] * exp(0.25 * e1 - 0.03125) + add;
                double post = 0.85 * m * year_factor[y] * exp(0.25 * e2 - 0.03125) + add;
                pre = round_to(fmax(pre, 0.0), 1e-6);
                post = round_to(fmax(post, 0.0), 1e-6);
                w->mig_pre[k * SIM_N_YEARS_MIG + y] = pre;
                w->mig_post[k * SIM_N_YEARS_MIG + y] = post;
                sp += pre;
                sq += post;
            }
            w->mig_pre_mean[k] = round_to(sp / SIM_N_YEARS_MIG, 1e-6);
            w->mig_post_mean[k] = round_to(sq / SIM_N_YEARS_MIG, 1e-6);
        }
}

/* Affinity: a smooth bump of height 1 around every partnership pair in the
 * space of (eastern location, western location). */
static void compute_affinity(sim_world *w, const gravrd_sim_params *p)
{
    double h2 = 2.0 * p->affinity_bandwidth_km * p->affinity_bandwidth_km;
    for (int a = 0; a < w->n_east; a++)
        for (int b = 0; b < w->n_west; b++) {
            int ie = w->east[a], iw = w->west[b];
            double best = 0;
            for (int q = 0; q < w->n_part; q++) {
                double de = w->dist[(size_t)ie * w->n + w->part_e[q]];
                double dw = w->dist[(size_t)iw * w->n + w->part_w[q]];
                double v = exp(-(de * de + dw * dw) / h2);
                if (v > best)
                    best = v;
            }
            w->affinity[ew_index(w, a, b)] = best;
        }
}

/* Coefficient on x1 in the regression of y on x1 and x2 with exporter and
 * importer fixed effects, on the complete east x west table (closed-form
 * two-way demeaning). */
static double twoway_coef(const sim_world *w, const double *y, const double *x1, const double *x2)
{
    int A = w->n_east, B = w->n_west;
    size_t N = (size_t)A * B;
    double *v[3] = {malloc(N * sizeof(double)), malloc(N * sizeof(double)), malloc(N * sizeof(double))};
    double *ra = malloc((size_t)A * sizeof(double)), *cb = malloc((size_t)B * sizeof(double));
    double res = NAN;
    if (!v[0] || !v[1] || !v[2] || !ra || !cb)
        goto out;
    const double *src[3] = {y, x1, x2};
    for (int s = 0; s < 3; s++) {
        double all = 0;
        for (int a = 0; a < A; a++) ra[a] = 0;
        for (int b = 0; b < B; b++) cb[b] = 0;
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++) {
                double t = src[s][(size_t)a * B + b];
                ra[a] += t / B;
                cb[b] += t / A;
                all += t / (double)N;
            }
        for (int a = 0; a < A; a++)
            for (int b = 0; b < B; b++)
                v[s][(size_t)a * B + b] = src[s][(size_t)a * B + b] - ra[a] - cb[b] + all;
    }
    double s11 = 0, s12 = 0, s22 = 0, s1y = 0, s2y = 0;
    for (size_t k = 0; k < N; k++) {
        s11 += v[1][k] * v[1][k];
        s12 += v[1][k] * v[2][k];
        s22 += v[2][k] * v[2][k];
        s1y += v[1][k] * v[0][k];
        s2y += v[2][k] * v[0][k];
    }
    double det = s11 * s22 - s12 * s12;
    if (det > 0)
        res = (s22 * s1y - s12 * s2y) / det;
out:
    free(v[0]); free(v[1]); free(v[2]); free(ra); free(cb);
    return res;
}

static gravrd_status derive_effects(sim_world *w, const gravrd_sim_params *p, gravrd_error *err)
{
    int A = w->n_east, B = w->n_west;
    size_t N = (size_t)A * B;
    double *tmp = malloc((N > (size_t)B ? N : (size_t)B) * sizeof(double));
    if (!tmp)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    /* medians over western cities (pair-level for the GDP gap) */
    for (int k = 0; k < GRAVRD_SIM_N_HET; k++) {
        size_t m = 0;
        if (k == GRAVRD_SIM_HET_GDP_GAP) {
            for (int a = 0; a < A; a++)
                for (int b = 0; b < B; b++)
                    tmp[m++] = w->gdppc[w->east[a]] - w->gdppc[w->west[b]];
        } else {
            for (int b = 0; b < B; b++) {
                int j = w->west[b];
                double v = 0;
                switch (k) {
                case GRAVRD_SIM_HET_MINORITY: v = w->minority[j]; break;
                case GRAVRD_SIM_HET_GI: v = w->gi[j]; break;
                case GRAVRD_SIM_HET_LATE_HSR: v = w->hsr[j]; break;
                case GRAVRD_SIM_HET_LOW_FREEWAY: v = w->freeway[j]; break;
                case GRAVRD_SIM_HET_LOW_ROAD: v = w->road[j]; break;
                case GRAVRD_SIM_HET_ECOM_2018: v = w->ecom18[j]; break;
                case GRAVRD_SIM_HET_ECOM_CUM: v = w->ecomcum[j]; break;
                case GRAVRD_SIM_HET_LOW_INTERNET: v = w->internet[j]; break;
                case GRAVRD_SIM_HET_LOW_MOBILE: v = w->mobile[j]; break;
                default: break;
                }
                tmp[m++] = v;
            }
        }
        w->het_medians[k] = median(tmp, m);
    }
    /* indicators */
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++) {
            int i = w->east[a], j = w->west[b];
            uint8_t *d = &w->het_d[ew_index(w, a, b) * GRAVRD_SIM_N_HET];
            const double *md = w->het_medians;
            d[GRAVRD_SIM_HET_MINORITY] = w->minority[j] > md[GRAVRD_SIM_HET_MINORITY];
            d[GRAVRD_SIM_HET_GI] = w->gi[j] > md[GRAVRD_SIM_HET_GI];
            d[GRAVRD_SIM_HET_GDP_GAP] = w->gdppc[i] - w->gdppc[j] > md[GRAVRD_SIM_HET_GDP_GAP];
            d[GRAVRD_SIM_HET_LATE_HSR] = w->hsr[j] > md[GRAVRD_SIM_HET_LATE_HSR];
            d[GRAVRD_SIM_HET_LOW_FREEWAY] = w->freeway[j] < md[GRAVRD_SIM_HET_LOW_FREEWAY];
            d[GRAVRD_SIM_HET_LOW_ROAD] = w->road[j] < md[GRAVRD_SIM_HET_LOW_ROAD];
            d[GRAVRD_SIM_HET_ECOM_2018] = w->ecom18[j] > md[GRAVRD_SIM_HET_ECOM_2018];
            d[GRAVRD_SIM_HET_ECOM_CUM] = w->ecomcum[j] > md[GRAVRD_SIM_HET_ECOM_CUM];
            d[GRAVRD_SIM_HET_LOW_INTERNET] = w->internet[j] < md[GRAVRD_SIM_HET_LOW_INTERNET];
            d[GRAVRD_SIM_HET_LOW_MOBILE] = w->mobile[j] < md[GRAVRD_SIM_HET_LOW_MOBILE];
        }
    /* direct effects: total minus the parts mediated by migration and search */
    w->direct_w2e = p->partner_w2e - p->migration_trade * p->migration_effect - p->search_trade * p->search_effect;
    w->direct_e2w = p->partner_e2w - p->migration_trade_e2w * p->migration_effect - p->search_trade * p->search_effect;
    double n_treat = 0;
    for (int k = 0; k < GRAVRD_SIM_N_HET; k++)
        w->het_share_treated[k] = 0;
    for (size_t q = 0; q < N; q++)
        if (w->partner[q]) {
            n_treat += 1;
            for (int k = 0; k < GRAVRD_SIM_N_HET; k++)
                w->het_share_treated[k] += w->het_d[q * GRAVRD_SIM_N_HET + k];
        }
    for (int k = 0; k < GRAVRD_SIM_N_HET; k++)
        w->het_share_treated[k] = n_treat > 0 ? w->het_share_treated[k] / n_treat : 0;
    for (size_t q = 0; q < N; q++) {
        double t = w->direct_w2e;
        for (int k = 0; k < GRAVRD_SIM_N_HET; k++)
            t += p->het[k] * (w->het_d[q * GRAVRD_SIM_N_HET + k] - w->het_share_treated[k]);
        w->tau_w2e[q] = w->partner[q] ? t : 0.0;
    }
    /* one-at-a-time slopes among treated pairs (what a Table 5 column targets) */
    for (int k = 0; k < GRAVRD_SIM_N_HET; k++) {
        double md = w->het_share_treated[k], mt = 0, sxy = 0, sxx = 0;
        for (size_t q = 0; q < N; q++)
            if (w->partner[q])
                mt += w->tau_w2e[q] / n_treat;
        for (size_t q = 0; q < N; q++)
            if (w->partner[q]) {
                double dx = w->het_d[q * GRAVRD_SIM_N_HET + k] - md;
                sxy += dx * (w->tau_w2e[q] - mt);
                sxx += dx * dx;
            }
        w->het_marginal[k] = sxx > 0 ? sxy / sxx : NAN;
    }
    /* implied category effects for the average treated w2e pair */
    double lse = 0;
    for (size_t q = 0; q < N; q++)
        if (w->partner[q]) {
            int j = w->west[q % (size_t)B];
            double s = 0, tot = 0;
            for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
                tot += exp(w->share_city[j * GRAVRD_SIM_N_CAT + c]);
            for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
                s += exp(w->share_city[j * GRAVRD_SIM_N_CAT + c]) / tot * exp(p->cat[c]);
            lse += log(s) / n_treat;
        }
    for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
        w->cat_implied[c] = n_treat > 0 ? p->partner_w2e + p->cat[c] - lse : NAN;
    /* affinity diagnostics */
    double st = 0, sc = 0, nc = 0;
    for (size_t q = 0; q < N; q++) {
        if (w->partner[q]) st += w->affinity[q];
        else { sc += w->affinity[q]; nc += 1; }
    }
    w->affinity_treated_mean = n_treat > 0 ? st / n_treat : NAN;
    w->affinity_control_mean = nc > 0 ? sc / nc : NAN;
    double *P = malloc(N * sizeof(double)), *L = malloc(N * sizeof(double));
    if (!P || !L) {
        free(P); free(L); free(tmp);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++) {
            size_t q = ew_index(w, a, b);
            P[q] = w->partner[q];
            L[q] = log(w->dist[(size_t)w->east[a] * w->n + w->west[b]]);
        }
    w->affinity_bias_w2e = n_treat > 0 ? p->affinity_w2e * twoway_coef(w, w->affinity, P, L) : NAN;
    free(P); free(L); free(tmp);
    return GRAVRD_OK;
}

/* ---- calendar and city-month terms ---------------------------------------------- */

static const double season[13] = {0, 0.00, 0.00, 0.02, -0.02, 0.00, 0.12, -0.03, -0.02, 0.03, 0.00, 0.40, 0.12};

static void draw_months(sim_world *w, const gravrd_sim_params *p, gsl_rng *r)
{
    int T = w->months;
    for (int t = 0; t < T; t++) {
        int m0 = (p->start_month - 1) + t;
        w->year[t] = p->start_year + m0 / 12;
        w->mon[t] = m0 % 12 + 1;
        w->sf_month[t] = w->mon[t] == sim_spring_festival_month(w->year[t]);
    }
    for (int i = 0; i < w->n; i++)
        for (int t = 0; t < T; t++) {
            double years = (w->year[t] - 2017) + (w->mon[t] - 1) / 12.0;
            int ym = w->year[t] * 100 + w->mon[t];
            double covid = (ym >= 202001 ? p->covid_shift : 0.0) + (ym == 202002 ? -0.35 : 0.0) +
                           (ym == 202003 ? -0.10 : 0.0);
            double sea = season[w->mon[t]] + (w->sf_month[t] ? -0.30 : 0.0);
            double e1 = gauss(r), e2 = gauss(r), u = gsl_rng_uniform(r);
            w->exp_month[(size_t)i * T + t] = w->exp_cap[i] + w->exp_growth[i] * years + 0.05 * e1;
            /* A western exporter sells nothing online in a month with
             * probability exp(-exp(3 + capacity)): about 2% of its months,
             * mostly small cities early on (Table 1: 2.1% zero cells west
             * to east, 0.01% east to west). */
            w->exp_dark[(size_t)i * T + t] = !w->is_east[i] && u < exp(-exp(3.0 + w->exp_month[(size_t)i * T + t]));
            w->imp_month[(size_t)i * T + t] = w->imp_dem[i] + w->imp_growth[i] * years + sea + covid + 0.05 * e2;
        }
    for (int t = 0; t < T; t++) {
        double years = (w->year[t] - 2017) + (w->mon[t] - 1) / 12.0;
        w->search_month[t] = 0.05 * years + 0.05 * gauss(r);
    }
}

/* ---- building the world ------------------------------------------------------------ */

gravrd_status sim_world_build(const gravrd_sim_params *p, sim_world **out, gravrd_error *err)
{
    *out = NULL;
    gravrd_status st = gravrd_sim_params_validate(p, err);
    if (st)
        return st;
    sim_world *w = calloc(1, sizeof *w);
    gsl_rng *r = NULL;
    if (!w)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    if ((st = load_cities(w, p->cities_path, err)) || (st = expand_cities(w, p, err)) ||
        (st = load_partnerships(w, p->partnerships_path, err)))
        goto fail;
    int n = w->n, A = w->n_east, B = w->n_west, T = p->months;
    size_t N = (size_t)A * B;
    w->months = T;
    ALLOC(w->gdppc, n); ALLOC(w->minority, n); ALLOC(w->gi, n); ALLOC(w->ecom18, n);
    ALLOC(w->ecomcum, n); ALLOC(w->internet, n); ALLOC(w->mobile, n); ALLOC(w->hsr, n);
    ALLOC(w->freeway, n); ALLOC(w->road, n); ALLOC(w->dialect, n);
    ALLOC(w->exp_cap, n); ALLOC(w->exp_growth, n); ALLOC(w->imp_dem, n); ALLOC(w->imp_growth, n);
    ALLOC(w->price_city, n); ALLOC(w->fame, n); ALLOC(w->share_city, (size_t)n * GRAVRD_SIM_N_CAT);
    ALLOC(w->cr_seller_city, n); ALLOC(w->cr_buyer_city, n);
    ALLOC(w->dist, (size_t)n * n);
    ALLOC(w->partner, N); ALLOC(w->affinity, N);
    ALLOC(w->mig_pre, N * SIM_N_YEARS_MIG); ALLOC(w->mig_post, N * SIM_N_YEARS_MIG);
    ALLOC(w->mig_pre_mean, N); ALLOC(w->mig_post_mean, N); ALLOC(w->tau_w2e, N);
    ALLOC(w->het_d, N * GRAVRD_SIM_N_HET);
    ALLOC(w->year, T); ALLOC(w->mon, T); ALLOC(w->sf_month, T);
    ALLOC(w->exp_month, (size_t)n * T); ALLOC(w->imp_month, (size_t)n * T); ALLOC(w->exp_dark, (size_t)n * T); ALLOC(w->search_month, T);

    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            w->dist[(size_t)i * n + j] = i == j ? 0.0 : haversine_km(w->lat[i], w->lng[i], w->lat[j], w->lng[j]);
    for (int a = 0; a < A; a++)
        for (int b = 0; b < B; b++)
            if (w->dist[(size_t)w->east[a] * n + w->west[b]] < 1.0) {
                st = gravrd_error_set(err, GRAVRD_ERR_DATA, "%s: cities %d and %d are less than 1 km apart",
                                      p->cities_path ? base_name(p->cities_path) : "cities.csv", w->id[w->east[a]], w->id[w->west[b]]);
                goto fail;
            }
    /* partner flags: east index a, west index b */
    for (int q = 0; q < w->n_part; q++) {
        int a = -1, b = -1;
        for (int k = 0; k < A; k++) if (w->east[k] == w->part_e[q]) a = k;
        for (int k = 0; k < B; k++) if (w->west[k] == w->part_w[q]) b = k;
        w->partner[ew_index(w, a, b)] = 1;
    }

    if (!(r = sim_rng_new(p->seed, SIM_STREAM_CITY)))
        goto nomem;
    draw_cities(w, r);
    gsl_rng_free(r);
    if (!(r = sim_rng_new(p->seed, SIM_STREAM_MIG)))
        goto nomem;
    draw_migration(w, p, r);
    gsl_rng_free(r);
    if (!(r = sim_rng_new(p->seed, SIM_STREAM_MONTH)))
        goto nomem;
    draw_months(w, p, r);
    gsl_rng_free(r);
    r = NULL;
    compute_affinity(w, p);
    if ((st = derive_effects(w, p, err)))
        goto fail;
    *out = w;
    return GRAVRD_OK;
nomem:
    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the simulated world");
fail:
    if (r)
        gsl_rng_free(r);
    sim_world_free(w);
    return st;
}
