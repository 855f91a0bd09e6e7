/* output.c - writing the simulated study folder (all files into a temporary
 * folder, moved into place at the end), truth.json, and the in-memory flows
 * frame. */
#include <dirent.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "gravrd/data.h"
#include "sim/sim_internal.h"

static const char *const out_files[] = {"cities.csv", "partnerships.csv", "flows.csv", "migration.csv",
                                        "truth.json"};
#define N_OUT_FILES (sizeof out_files / sizeof out_files[0])

/* ---- a buffered writer with fast number formatting ---------------------------- */

typedef struct {
    FILE *f;
    char *buf;
    size_t len, cap;
    int failed;
} bw;

static int bw_open(bw *b, const char *path)
{
    b->f = fopen(path, "wb");
    b->cap = 1 << 20;
    b->len = 0;
    b->failed = 0;
    b->buf = b->f ? malloc(b->cap) : NULL;
    if (!b->f || !b->buf) {
        if (b->f)
            fclose(b->f);
        free(b->buf);
        b->f = NULL;
        b->buf = NULL;
        return -1;
    }
    return 0;
}

static void bw_flush(bw *b)
{
    if (b->len && !b->failed && fwrite(b->buf, 1, b->len, b->f) != b->len)
        b->failed = 1;
    b->len = 0;
}

static inline void bw_need(bw *b, size_t n)
{
    if (b->len + n > b->cap)
        bw_flush(b);
}

static void bw_str(bw *b, const char *s)
{
    size_t n = strlen(s);
    if (n > b->cap / 2) {
        bw_flush(b);
        if (!b->failed && fwrite(s, 1, n, b->f) != n)
            b->failed = 1;
        return;
    }
    bw_need(b, n);
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static inline void bw_ch(bw *b, char c)
{
    bw_need(b, 1);
    b->buf[b->len++] = c;
}

static inline void bw_i64(bw *b, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    bw_need(b, (size_t)n + 1);
    if (v < 0)
        b->buf[b->len++] = '-';
    while (n)
        b->buf[b->len++] = tmp[--n];
}

/* v / 10^decimals with exactly `decimals` digits after the point. */
static inline void bw_fixed(bw *b, int64_t v, int decimals)
{
    int64_t scale = 1;
    for (int i = 0; i < decimals; i++)
        scale *= 10;
    if (v < 0) {
        bw_ch(b, '-');
        v = -v;
    }
    bw_i64(b, v / scale);
    bw_ch(b, '.');
    int64_t frac = v % scale;
    char tmp[20];
    for (int i = decimals - 1; i >= 0; i--) {
        tmp[i] = (char)('0' + frac % 10);
        frac /= 10;
    }
    bw_need(b, (size_t)decimals);
    memcpy(b->buf + b->len, tmp, (size_t)decimals);
    b->len += (size_t)decimals;
}

static void bw_fmt(bw *b, const char *fmt, double v)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, fmt, v);
    bw_str(b, tmp);
}

/* A CSV text field, quoted when needed. */
static void bw_text(bw *b, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        bw_str(b, s);
        return;
    }
    bw_ch(b, '"');
    for (; *s; s++) {
        if (*s == '"')
            bw_ch(b, '"');
        bw_ch(b, *s);
    }
    bw_ch(b, '"');
}

static gravrd_status bw_close(bw *b, const char *path, gravrd_error *err)
{
    bw_flush(b);
    int bad = b->failed;
    if (fclose(b->f) != 0)
        bad = 1;
    free(b->buf);
    b->f = NULL;
    b->buf = NULL;
    if (bad)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: write error (disk full?)", path);
    return GRAVRD_OK;
}

static int64_t round_i64(double x) { return (int64_t)floor(x + 0.5); }

/* ---- the files ------------------------------------------------------------------ */

static gravrd_status write_cities(const sim_world *w, const char *path, gravrd_error *err)
{
    bw b;
    if (bw_open(&b, path))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create", path);
    bw_str(&b, "city_id,name_en,name_zh,province_en,region,lat,lng,population_2020_10k,"
               "gdp_2018_100m_yuan,gdp_imputed,gdp_per_capita_10k_yuan,minority_share,gi_products,"
               "ecom_firms_new_2018,ecom_firms_cum_2021,internet_penetration,mobile_penetration,"
               "hsr_start_year,freeway_density,road_density,dialect_zone\n");
    for (int i = 0; i < w->n; i++) {
        bw_i64(&b, w->id[i]); bw_ch(&b, ',');
        bw_text(&b, w->name_en[i]); bw_ch(&b, ',');
        bw_text(&b, w->name_zh[i]); bw_ch(&b, ',');
        bw_text(&b, w->province[i]); bw_ch(&b, ',');
        bw_str(&b, w->is_east[i] ? "east," : "west,");
        bw_fmt(&b, "%.10g", w->lat[i]); bw_ch(&b, ',');
        bw_fmt(&b, "%.10g", w->lng[i]); bw_ch(&b, ',');
        bw_fmt(&b, "%.10g", w->pop[i]); bw_ch(&b, ',');
        bw_fixed(&b, round_i64(w->gdp[i] * 100.0), 2); bw_ch(&b, ',');
        bw_i64(&b, w->gdp_imputed[i]); bw_ch(&b, ',');
        bw_fixed(&b, round_i64(w->gdppc[i] * 100.0), 2); bw_ch(&b, ',');
        bw_fixed(&b, round_i64(w->minority[i] * 100.0), 2); bw_ch(&b, ',');
        bw_i64(&b, w->gi[i]); bw_ch(&b, ',');
        bw_i64(&b, w->ecom18[i]); bw_ch(&b, ',');
        bw_i64(&b, w->ecomcum[i]); bw_ch(&b, ',');
        bw_fixed(&b, round_i64(w->internet[i] * 10.0), 1); bw_ch(&b, ',');
        bw_fixed(&b, round_i64(w->mobile[i] * 10.0), 1); bw_ch(&b, ',');
        bw_i64(&b, w->hsr[i]); bw_ch(&b, ',');
        bw_fixed(&b, round_i64(w->freeway[i] * 100.0), 2); bw_ch(&b, ',');
        bw_fixed(&b, round_i64(w->road[i] * 100.0), 2); bw_ch(&b, ',');
        bw_text(&b, w->dialect[i]); bw_ch(&b, '\n');
    }
    return bw_close(&b, path, err);
}

static gravrd_status write_partnerships(const sim_world *w, const char *path, gravrd_error *err)
{
    bw b;
    if (bw_open(&b, path))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create", path);
    bw_str(&b, "east_city,west_city,confidence\n");
    for (int q = 0; q < w->n_part; q++) {
        bw_i64(&b, w->id[w->part_e[q]]); bw_ch(&b, ',');
        bw_i64(&b, w->id[w->part_w[q]]); bw_ch(&b, ',');
        bw_text(&b, w->part_conf[q]); bw_ch(&b, '\n');
    }
    return bw_close(&b, path, err);
}

static gravrd_status write_migration(const sim_world *w, const char *path, gravrd_error *err)
{
    bw b;
    if (bw_open(&b, path))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create", path);
    bw_str(&b, "east_city,west_city,distance_km,partner,pre_cny_2019,pre_cny_2020,pre_cny_2021,"
               "post_cny_2019,post_cny_2020,post_cny_2021,pre_cny_mean,post_cny_mean\n");
    for (int a = 0; a < w->n_east; a++)
        for (int bb = 0; bb < w->n_west; bb++) {
            size_t q = (size_t)a * w->n_west + bb;
            int ie = w->east[a], iw = w->west[bb];
            bw_i64(&b, w->id[ie]); bw_ch(&b, ',');
            bw_i64(&b, w->id[iw]); bw_ch(&b, ',');
            bw_fixed(&b, round_i64(w->dist[(size_t)ie * w->n + iw] * 10.0), 1); bw_ch(&b, ',');
            bw_i64(&b, w->partner[q]);
            for (int y = 0; y < SIM_N_YEARS_MIG; y++) {
                bw_ch(&b, ',');
                bw_fixed(&b, round_i64(w->mig_pre[q * SIM_N_YEARS_MIG + y] * 1e6), 6);
            }
            for (int y = 0; y < SIM_N_YEARS_MIG; y++) {
                bw_ch(&b, ',');
                bw_fixed(&b, round_i64(w->mig_post[q * SIM_N_YEARS_MIG + y] * 1e6), 6);
            }
            bw_ch(&b, ',');
            bw_fixed(&b, round_i64(w->mig_pre_mean[q] * 1e6), 6); bw_ch(&b, ',');
            bw_fixed(&b, round_i64(w->mig_post_mean[q] * 1e6), 6); bw_ch(&b, '\n');
        }
    return bw_close(&b, path, err);
}

static gravrd_status write_flows(const sim_world *w, const gravrd_sim_params *p, const char *path,
                                 size_t *n_rows, gravrd_error *err)
{
    sim_pairs *pp = NULL;
    gravrd_status st = sim_pairs_build(w, p, &pp, err);
    if (st)
        return st;
    int T = w->months;
    sim_row *rows = malloc((size_t)T * sizeof *rows);
    char (*mstr)[16] = malloc((size_t)T * sizeof *mstr);
    gsl_rng *r = sim_rng_new(p->seed, SIM_STREAM_CELL);
    bw b = {0};
    if (!rows || !mstr || !r) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory writing flows");
        goto done;
    }
    for (int t = 0; t < T; t++)
        snprintf(mstr[t], sizeof mstr[t], "%04d-%02d", w->year[t] % 10000, w->mon[t] % 100);
    if (bw_open(&b, path)) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create", path);
        goto done;
    }
    bw_str(&b, "exp_city,imp_city,month,direction,partner,distance_km,trade,deals,seller_cr,buyer_cr,"
               "trade_clothing,trade_food,trade_household,trade_electronics,trade_healthcare,"
               "trade_other,baidu_index\n");
    size_t nd = sim_n_directed(w), count = 0;
    for (size_t k = 0; k < nd; k++) {
        sim_gen_pair(w, p, pp, k, r, rows);
        for (int t = 0; t < T; t++) {
            const sim_row *row = &rows[t];
            bw_i64(&b, row->exp_id); bw_ch(&b, ',');
            bw_i64(&b, row->imp_id); bw_ch(&b, ',');
            bw_str(&b, mstr[t]);
            bw_str(&b, row->dir ? ",w2e," : ",e2w,");
            bw_i64(&b, row->partner); bw_ch(&b, ',');
            bw_fixed(&b, round_i64(row->dist_km * 10.0), 1); bw_ch(&b, ',');
            bw_fixed(&b, row->trade_c, 2); bw_ch(&b, ',');
            bw_i64(&b, row->deals); bw_ch(&b, ',');
            if (row->seller_cr >= 0) bw_fixed(&b, row->seller_cr, 2);
            bw_ch(&b, ',');
            if (row->buyer_cr >= 0) bw_fixed(&b, row->buyer_cr, 2);
            for (int c = 0; c < GRAVRD_SIM_N_CAT; c++) {
                bw_ch(&b, ',');
                bw_fixed(&b, row->cat_c[c], 2);
            }
            bw_ch(&b, ',');
            bw_i64(&b, row->baidu);
            bw_ch(&b, '\n');
            count++;
        }
    }
    st = bw_close(&b, path, err);
    *n_rows = count;
done:
    if (b.f) {
        fclose(b.f);
        free(b.buf);
    }
    if (r)
        gsl_rng_free(r);
    free(rows);
    free(mstr);
    sim_pairs_free(pp);
    return st;
}

/* ---- truth.json ------------------------------------------------------------------- */

static void json_num(bw *b, double v)
{
    if (!isfinite(v))
        bw_str(b, "null");
    else
        bw_fmt(b, "%.15g", v);
}

static void json_kv(bw *b, const char *key, double v, int last)
{
    bw_str(b, "    \"");
    bw_str(b, key);
    bw_str(b, "\": ");
    json_num(b, v);
    bw_str(b, last ? "\n" : ",\n");
}

gravrd_status sim_write_truth(const sim_world *w, const gravrd_sim_params *p, const char *path,
                              size_t n_rows, gravrd_error *err)
{
    bw b;
    char tmp[256];
    if (bw_open(&b, path))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create", path);
    bw_str(&b, "{\n  \"generator\": \"gravrd simulate\",\n  \"rng\": \"" SIM_RNG_NAME
               " (GSL), one stream per part (cities, pairs, city-months, cells, migration), each seeded "
               "with splitmix64(seed, stream); gaussians by gsl_ran_gaussian_ziggurat\",\n");
    snprintf(tmp, sizeof tmp, "  \"seed\": %llu,\n  \"months\": %d,\n  \"start\": \"%04d-%02d\",\n",
             (unsigned long long)p->seed, p->months, p->start_year, p->start_month);
    bw_str(&b, tmp);
    if (p->scale != 1) { /* only then, so default worlds stay byte-identical */
        snprintf(tmp, sizeof tmp, "  \"scale\": %d,\n", p->scale);
        bw_str(&b, tmp);
    }
    snprintf(tmp, sizeof tmp,
             "  \"n_cities\": %d,\n  \"n_east\": %d,\n  \"n_west\": %d,\n  \"n_partnerships\": %d,\n"
             "  \"n_directed_pairs\": %zu,\n  \"n_flow_rows\": %zu,\n",
             w->n, w->n_east, w->n_west, w->n_part, sim_n_directed(w), n_rows);
    bw_str(&b, tmp);
    /* every parameter, by its settable name */
    bw_str(&b, "  \"parameters\": {\n");
    size_t np = gravrd_sim_param_count();
    for (size_t i = 0; i < np; i++) {
        const char *name = gravrd_sim_param_name(i);
        if (!strcmp(name, "seed") || !strcmp(name, "months") || !strcmp(name, "start") ||
            !strcmp(name, "scale"))
            continue;
        /* look the value up through the same table the setter uses */
        double v = NAN;
        if (!strcmp(name, "partner_w2e")) v = p->partner_w2e;
        else if (!strcmp(name, "partner_e2w")) v = p->partner_e2w;
        else if (!strcmp(name, "deals_w2e")) v = p->deals_w2e;
        else if (!strcmp(name, "deals_e2w")) v = p->deals_e2w;
        else if (!strncmp(name, "cat_", 4)) {
            for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
                if (!strcmp(name + 4, sim_cat_names[c])) v = p->cat[c];
        } else if (!strcmp(name, "het_minority")) v = p->het[GRAVRD_SIM_HET_MINORITY];
        else if (!strcmp(name, "het_gi")) v = p->het[GRAVRD_SIM_HET_GI];
        else if (!strcmp(name, "het_gdp_gap")) v = p->het[GRAVRD_SIM_HET_GDP_GAP];
        else if (!strcmp(name, "het_late_hsr")) v = p->het[GRAVRD_SIM_HET_LATE_HSR];
        else if (!strcmp(name, "het_low_freeway")) v = p->het[GRAVRD_SIM_HET_LOW_FREEWAY];
        else if (!strcmp(name, "het_low_road")) v = p->het[GRAVRD_SIM_HET_LOW_ROAD];
        else if (!strcmp(name, "het_ecom_2018")) v = p->het[GRAVRD_SIM_HET_ECOM_2018];
        else if (!strcmp(name, "het_ecom_cum")) v = p->het[GRAVRD_SIM_HET_ECOM_CUM];
        else if (!strcmp(name, "het_low_internet")) v = p->het[GRAVRD_SIM_HET_LOW_INTERNET];
        else if (!strcmp(name, "het_low_mobile")) v = p->het[GRAVRD_SIM_HET_LOW_MOBILE];
        else if (!strcmp(name, "covid_interaction")) v = p->covid_interaction;
        else if (!strcmp(name, "december_interaction")) v = p->december_interaction;
        else if (!strcmp(name, "spring_festival_interaction")) v = p->spring_festival_interaction;
        else if (!strcmp(name, "migration_effect")) v = p->migration_effect;
        else if (!strcmp(name, "migration_trade")) v = p->migration_trade;
        else if (!strcmp(name, "migration_trade_e2w")) v = p->migration_trade_e2w;
        else if (!strcmp(name, "search_effect")) v = p->search_effect;
        else if (!strcmp(name, "search_trade")) v = p->search_trade;
        else if (!strcmp(name, "seller_cr_effect")) v = p->seller_cr_effect;
        else if (!strcmp(name, "buyer_cr_effect")) v = p->buyer_cr_effect;
        else if (!strcmp(name, "distance_elasticity")) v = p->distance_elasticity;
        else if (!strcmp(name, "affinity_w2e")) v = p->affinity_w2e;
        else if (!strcmp(name, "affinity_e2w")) v = p->affinity_e2w;
        else if (!strcmp(name, "affinity_bandwidth_km")) v = p->affinity_bandwidth_km;
        else if (!strcmp(name, "pair_sd_w2e")) v = p->pair_sd_w2e;
        else if (!strcmp(name, "pair_sd_e2w")) v = p->pair_sd_e2w;
        else if (!strcmp(name, "pair_smooth_sd_w2e")) v = p->pair_smooth_sd_w2e;
        else if (!strcmp(name, "pair_smooth_sd_e2w")) v = p->pair_smooth_sd_e2w;
        else if (!strcmp(name, "pair_smooth_km")) v = p->pair_smooth_km;
        else if (!strcmp(name, "cell_sd_w2e")) v = p->cell_sd_w2e;
        else if (!strcmp(name, "cell_sd_e2w")) v = p->cell_sd_e2w;
        else if (!strcmp(name, "ar1")) v = p->ar1;
        else if (!strcmp(name, "covid_shift")) v = p->covid_shift;
        json_kv(&b, name, v, i + 1 == np);
    }
    bw_str(&b, "  },\n  \"derived\": {\n");
    json_kv(&b, "partner_direct_w2e", w->direct_w2e, 0);
    json_kv(&b, "partner_direct_e2w", w->direct_e2w, 0);
    json_kv(&b, "mediated_migration_w2e", p->migration_trade * p->migration_effect, 0);
    json_kv(&b, "mediated_migration_e2w", p->migration_trade_e2w * p->migration_effect, 0);
    json_kv(&b, "mediated_search", p->search_trade * p->search_effect, 0);
    json_kv(&b, "deals_price_shift_w2e", p->partner_w2e - p->deals_w2e, 0);
    json_kv(&b, "affinity_mean_treated", w->affinity_treated_mean, 0);
    json_kv(&b, "affinity_mean_control", w->affinity_control_mean, 0);
    json_kv(&b, "affinity_bias_gravity_w2e", w->affinity_bias_w2e, 0);
    json_kv(&b, "naive_gravity_expected_w2e", p->partner_w2e + w->affinity_bias_w2e, 1);
    bw_str(&b, "  },\n  \"category_effects_w2e_implied\": {\n");
    for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
        json_kv(&b, sim_cat_names[c], w->cat_implied[c], c + 1 == GRAVRD_SIM_N_CAT);
    bw_str(&b, "  },\n  \"heterogeneity_w2e\": {\n");
    for (int k = 0; k < GRAVRD_SIM_N_HET; k++) {
        snprintf(tmp, sizeof tmp, "    \"%s\": {\"joint\": ", sim_het_names[k]);
        bw_str(&b, tmp);
        json_num(&b, p->het[k]);
        bw_str(&b, ", \"one_at_a_time\": ");
        json_num(&b, w->het_marginal[k]);
        bw_str(&b, ", \"share_of_treated\": ");
        json_num(&b, w->het_share_treated[k]);
        bw_str(&b, ", \"median\": ");
        json_num(&b, w->het_medians[k]);
        bw_str(&b, k + 1 == GRAVRD_SIM_N_HET ? "}\n" : "},\n");
    }
    bw_str(&b, "  },\n  \"notes\": [\n"
               "    \"partner_w2e, partner_e2w, deals_* are total effects on log trade / log deals of partner pairs; "
               "partner_direct_* is what remains after the migration and search channels.\",\n"
               "    \"heterogeneity: effect of a treated w2e pair = partner_direct_w2e + sum_k joint_k * (D_k - share_of_treated_k); "
               "D_k = median split over the western cities (over all east-west pairs for high_gdp_difference); "
               "one_at_a_time = slope of the pair effect on D_k alone among treated pairs.\",\n"
               "    \"category effects are tilts of the w2e category shares; only their differences matter; "
               "category_effects_w2e_implied is the resulting effect on log category trade (approximate).\",\n"
               "    \"whether a cell trades at all does not depend on the partnership; zeros have empty concentration ratios.\",\n"
               "    \"affinity_bias_gravity_w2e: bias of the gravity estimate (exporter and importer fixed effects, log distance) "
               "caused by the smooth pair affinity; comparisons of nearby pairs (spatial RD) remove it.\"\n"
               "  ]\n}\n");
    return bw_close(&b, path, err);
}

/* ---- the folder ---------------------------------------------------------------------- */

static int mkdir_p(const char *path)
{
    char *tmp = strdup(path);
    if (!tmp)
        return -1;
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) {
            free(tmp);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(tmp, 0777) != 0 && errno != EEXIST ? -1 : 0;
    free(tmp);
    return rc;
}

/* 1 if a directory exists and is empty, 0 if it has entries, -1 if it cannot be read. */
static int dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return -1;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* 0 = absent, 1 = empty directory, 2 = non-empty directory; error otherwise. */
static gravrd_status check_out_dir(const char *dir, int force, int *state, gravrd_error *err)
{
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        if (errno == ENOENT) {
            *state = 0;
            return GRAVRD_OK;
        }
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: %s", dir, strerror(errno));
    }
    if (!S_ISDIR(sb.st_mode))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s exists and is not a folder", dir);
    int e = dir_is_empty(dir);
    if (e < 0)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot read folder", dir);
    if (!e && !force)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                "%s exists and is not empty (use --force to replace the simulated files in it)",
                                dir);
    *state = e ? 1 : 2;
    return GRAVRD_OK;
}

static void remove_tmp(const char *tmpdir)
{
    char path[6300];
    for (size_t i = 0; i < N_OUT_FILES; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, out_files[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

gravrd_status gravrd_sim_write(const gravrd_sim_params *p, const char *out_dir, int force,
                               gravrd_error *err)
{
    if (!out_dir || !*out_dir)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "no output folder given");
    size_t len = strlen(out_dir);
    if (len > 3000)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "output folder name too long");
    char dir[3072], parent[3072], tmpdir[6200], path[6300], dest[6300];
    memcpy(dir, out_dir, len + 1);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    const char *slash = strrchr(dir, '/');
    const char *base = slash ? slash + 1 : dir;
    if (!strcmp(base, ".") || !strcmp(base, ".."))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "%s: give the output folder by name", out_dir);
    if (slash == dir)
        snprintf(parent, sizeof parent, "/");
    else if (slash)
        snprintf(parent, sizeof parent, "%.*s", (int)(slash - dir), dir);
    else
        snprintf(parent, sizeof parent, ".");

    int state;
    gravrd_status st = check_out_dir(dir, force, &state, err);
    if (st)
        return st;
    sim_world *w = NULL;
    if ((st = sim_world_build(p, &w, err)))
        return st;

    locale_t cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    locale_t prev = cloc ? uselocale(cloc) : (locale_t)0;
    int have_tmp = 0;
    size_t n_rows = 0;
    if (mkdir_p(parent) != 0) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create folder: %s", parent, strerror(errno));
        goto done;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s/.%s.tmp-XXXXXX", parent, base);
    if (!mkdtemp(tmpdir)) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot create a temporary folder: %s", parent,
                              strerror(errno));
        goto done;
    }
    have_tmp = 1;
    snprintf(path, sizeof path, "%s/cities.csv", tmpdir);
    if ((st = write_cities(w, path, err)))
        goto done;
    snprintf(path, sizeof path, "%s/partnerships.csv", tmpdir);
    if ((st = write_partnerships(w, path, err)))
        goto done;
    snprintf(path, sizeof path, "%s/migration.csv", tmpdir);
    if ((st = write_migration(w, path, err)))
        goto done;
    snprintf(path, sizeof path, "%s/flows.csv", tmpdir);
    if ((st = write_flows(w, p, path, &n_rows, err)))
        goto done;
    snprintf(path, sizeof path, "%s/truth.json", tmpdir);
    if ((st = sim_write_truth(w, p, path, n_rows, err)))
        goto done;

    /* move into place; the folder may have changed while we worked */
    if ((st = check_out_dir(dir, force, &state, err)))
        goto done;
    if (state == 1 && rmdir(dir) != 0) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot replace the empty folder: %s", dir, strerror(errno));
        goto done;
    }
    if (state <= 1) {
        chmod(tmpdir, 0755); /* mkdtemp made it 0700 */
        if (rename(tmpdir, dir) != 0) {
            st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot move the results into place: %s", dir,
                                  strerror(errno));
            goto done;
        }
        have_tmp = 0;
    } else {
        for (size_t i = 0; i < N_OUT_FILES; i++) {
            snprintf(path, sizeof path, "%s/%s", tmpdir, out_files[i]);
            snprintf(dest, sizeof dest, "%s/%s", dir, out_files[i]);
            if (rename(path, dest) != 0) {
                st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot replace: %s", dest, strerror(errno));
                goto done;
            }
        }
    }
done:
    if (have_tmp)
        remove_tmp(tmpdir);
    if (cloc) {
        uselocale(prev);
        freelocale(cloc);
    }
    sim_world_free(w);
    return st;
}

/* ---- in memory ----------------------------------------------------------------------- */

static int wanted(const char *const *names, size_t n_names, const char *name)
{
    if (!names)
        return 1;
    for (size_t i = 0; i < n_names; i++)
        if (names[i] && !strcmp(names[i], name))
            return 1;
    return 0;
}

gravrd_status gravrd_sim_flows_frame(const gravrd_sim_params *p, gravrd_frame **out, gravrd_error *err)
{
    return gravrd_sim_flows_frame_columns(p, NULL, 0, out, err);
}

gravrd_status gravrd_sim_flows_frame_columns(const gravrd_sim_params *p, const char *const *names,
                                             size_t n_names, gravrd_frame **out, gravrd_error *err)
{
    *out = NULL;
    sim_world *w = NULL;
    sim_pairs *pp = NULL;
    gsl_rng *r = NULL;
    sim_row *rows = NULL;
    gravrd_frame *f = NULL;
    enum { NNUM = 14 };
    static const char *const num_names[NNUM] = {
        "exp_city", "imp_city", "partner", "distance_km", "trade", "deals", "seller_cr", "buyer_cr",
        "trade_clothing", "trade_food", "trade_household", "trade_electronics", "trade_healthcare",
        "trade_other"};
    double *num[NNUM] = {0};
    double *baidu = NULL;
    int32_t *month = NULL, *dircode = NULL;
    char **mlev = NULL, **dlev = NULL;
    /* which columns: every name must be one of flows.csv's */
    int want_num[NNUM], want_month = wanted(names, n_names, "month"),
        want_dir = wanted(names, n_names, "direction"), want_baidu = wanted(names, n_names, "baidu_index");
    for (int c = 0; c < NNUM; c++)
        want_num[c] = wanted(names, n_names, num_names[c]);
    for (size_t k = 0; names && k < n_names; k++) {
        int known = names[k] && (!strcmp(names[k], "month") || !strcmp(names[k], "direction") ||
                                 !strcmp(names[k], "baidu_index"));
        for (int c = 0; c < NNUM && !known; c++)
            known = !strcmp(names[k], num_names[c]);
        if (!known)
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "'%s' is not a column of the simulated flows",
                                    names[k] ? names[k] : "(null)");
    }
    gravrd_status st = sim_world_build(p, &w, err);
    if (st)
        return st;
    if ((st = sim_pairs_build(w, p, &pp, err)))
        goto done;
    int T = w->months;
    size_t nd = sim_n_directed(w), N = nd * (size_t)T;
    rows = malloc((size_t)T * sizeof *rows);
    r = sim_rng_new(p->seed, SIM_STREAM_CELL);
    baidu = want_baidu ? malloc(N * sizeof *baidu) : NULL;
    month = want_month ? malloc(N * sizeof *month) : NULL;
    dircode = want_dir ? malloc(N * sizeof *dircode) : NULL;
    mlev = calloc((size_t)T, sizeof *mlev);
    dlev = calloc(2, sizeof *dlev);
    int ok = rows && r && (baidu || !want_baidu) && (month || !want_month) && (dircode || !want_dir) && mlev &&
             dlev;
    for (int c = 0; c < NNUM && ok; c++)
        ok = !want_num[c] || (num[c] = malloc(N * sizeof(double))) != NULL;
    for (int t = 0; t < T && ok; t++)
        if ((mlev[t] = malloc(16)))
            snprintf(mlev[t], 16, "%04d-%02d", w->year[t] % 10000, w->mon[t] % 100);
        else
            ok = 0;
    if (ok && (!(dlev[0] = strdup("e2w")) || !(dlev[1] = strdup("w2e"))))
        ok = 0;
    if (!ok) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the flows frame");
        goto done;
    }
    size_t i = 0;
    for (size_t k = 0; k < nd; k++) {
        sim_gen_pair(w, p, pp, k, r, rows);
        for (int t = 0; t < T; t++, i++) {
            const sim_row *row = &rows[t];
            if (num[0]) num[0][i] = row->exp_id;
            if (num[1]) num[1][i] = row->imp_id;
            if (num[2]) num[2][i] = row->partner;
            if (num[3]) num[3][i] = (double)round_i64(row->dist_km * 10.0) / 10.0;
            if (num[4]) num[4][i] = (double)row->trade_c / 100.0;
            if (num[5]) num[5][i] = (double)row->deals;
            if (num[6]) num[6][i] = row->seller_cr >= 0 ? row->seller_cr / 100.0 : NAN;
            if (num[7]) num[7][i] = row->buyer_cr >= 0 ? row->buyer_cr / 100.0 : NAN;
            for (int c = 0; c < GRAVRD_SIM_N_CAT; c++)
                if (num[8 + c]) num[8 + c][i] = (double)row->cat_c[c] / 100.0;
            if (baidu) baidu[i] = (double)row->baidu;
            if (month) month[i] = row->t;
            if (dircode) dircode[i] = row->dir;
        }
    }
    if (!(f = gravrd_frame_new(N, ""))) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory building the flows frame");
        goto done;
    }
    /* columns in the order of flows.csv; the frame owns each array once it
     * is passed (also when adding fails) */
    for (int c = 0; c < NNUM && !st; c++) {
        if (c == 2) {
            if (month) {
                st = gravrd_frame_add_factor(f, "month", month, mlev, T, err);
                month = NULL;
                mlev = NULL;
            }
            if (!st && dircode) {
                st = gravrd_frame_add_factor(f, "direction", dircode, dlev, 2, err);
                dircode = NULL;
                dlev = NULL;
            }
            if (st)
                break;
        }
        if (!num[c])
            continue;
        st = gravrd_frame_add_numeric(f, num_names[c], num[c], err);
        num[c] = NULL;
    }
    if (!st && baidu) {
        st = gravrd_frame_add_numeric(f, "baidu_index", baidu, err);
        baidu = NULL;
    }
    if (!st) {
        *out = f;
        f = NULL;
    }
done:
    gravrd_frame_free(f);
    for (int c = 0; c < NNUM; c++)
        free(num[c]);
    free(baidu);
    free(month);
    free(dircode);
    if (mlev) {
        for (int t = 0; t < (w ? w->months : 0); t++)
            free(mlev[t]);
        free(mlev);
    }
    if (dlev) {
        free(dlev[0]);
        free(dlev[1]);
        free(dlev);
    }
    if (r)
        gsl_rng_free(r);
    free(rows);
    sim_pairs_free(pp);
    sim_world_free(w);
    return st;
}
