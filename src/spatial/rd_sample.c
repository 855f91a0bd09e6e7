/* rd_sample.c - the spatial RD sample: treated pairs compared with the
 * control pairs formed by a neighbouring city (see gravrd/rd.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gravrd/rd.h"
#include "pairs_internal.h"

gravrd_status gravrd_rd_side_parse(const char *name, gravrd_rd_side *out, gravrd_error *err)
{
    if (name && !strcmp(name, "exporter"))
        *out = GRAVRD_RD_SIDE_EXPORTER;
    else if (name && !strcmp(name, "importer"))
        *out = GRAVRD_RD_SIDE_IMPORTER;
    else if (name && !strcmp(name, "both"))
        *out = GRAVRD_RD_SIDE_BOTH;
    else
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "unknown side '%s' (use exporter, importer or both)",
                                name ? name : "");
    return GRAVRD_OK;
}

const char *gravrd_rd_side_name(gravrd_rd_side side)
{
    switch (side) {
    case GRAVRD_RD_SIDE_IMPORTER:
        return "importer";
    case GRAVRD_RD_SIDE_BOTH:
        return "both";
    default:
        return "exporter";
    }
}

void gravrd_rd_sample_free(gravrd_rd_sample *s)
{
    if (!s)
        return;
    free(s->x_N);
    free(s->pair_N);
    free(s->treated_pair_N);
    free(s->neighbour_N);
    free(s->importer_side_N);
    free(s);
}

static int grow(gravrd_rd_sample *s, size_t *cap)
{
    size_t nc = *cap ? 2 * *cap : 512;
    double *x = realloc(s->x_N, nc * sizeof *x);
    if (x)
        s->x_N = x;
    int32_t *p = realloc(s->pair_N, nc * sizeof *p);
    if (p)
        s->pair_N = p;
    int32_t *t = realloc(s->treated_pair_N, nc * sizeof *t);
    if (t)
        s->treated_pair_N = t;
    int32_t *k = realloc(s->neighbour_N, nc * sizeof *k);
    if (k)
        s->neighbour_N = k;
    uint8_t *imp = realloc(s->importer_side_N, nc);
    if (imp)
        s->importer_side_N = imp;
    if (!x || !p || !t || !k || !imp)
        return -1;
    *cap = nc;
    return 0;
}

static int push_comparison(gravrd_rd_sample *s, size_t *cap, double dist, int32_t treated, int32_t control,
                           int32_t neighbour, uint8_t importer_side)
{
    if (s->n + 2 > *cap && grow(s, cap))
        return -1;
    for (int a = 0; a < 2; a++) {
        size_t r = s->n++;
        s->x_N[r] = a ? -dist : dist;
        s->pair_N[r] = a ? control : treated;
        s->treated_pair_N[r] = treated;
        s->neighbour_N[r] = neighbour;
        s->importer_side_N[r] = importer_side;
    }
    return 0;
}

gravrd_status gravrd_rd_sample_build(const gravrd_geo *geo, const gravrd_pair_list *pairs, double radius_km,
                                     gravrd_rd_side side, gravrd_rd_sample **out, gravrd_error *err)
{
    *out = NULL;
    if (!(radius_km > 0 && isfinite(radius_km)))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd sample: the radius must be a positive number of km, not %g",
                                radius_km);
    if (side != GRAVRD_RD_SIDE_EXPORTER && side != GRAVRD_RD_SIDE_IMPORTER && side != GRAVRD_RD_SIDE_BOTH)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "rd sample: unknown side");
    pair_lookup lk;
    gravrd_status st = pair_lookup_build(geo, pairs, &lk, err);
    if (st)
        return st;
    const size_t nc = geo->n_cities;
    gravrd_rd_sample *s = calloc(1, sizeof *s);
    int32_t *nb = malloc((nc ? nc : 1) * sizeof *nb);
    double *dist = malloc((nc ? nc : 1) * sizeof *dist);
    size_t cap = 0;
    if (!s || !nb || !dist || grow(s, &cap)) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t p = 0; p < pairs->n_pairs; p++) {
        if (!pairs->treated_P[p])
            continue;
        s->n_treated++;
        size_t before = s->n;
        for (int imp_side = 0; imp_side < 2; imp_side++) {
            if (!(side & (imp_side ? GRAVRD_RD_SIDE_IMPORTER : GRAVRD_RD_SIDE_EXPORTER)))
                continue;
            int32_t centre = imp_side ? pairs->imp_P[p] : pairs->exp_P[p];
            size_t m = city_neighbours(geo, centre, radius_km, 0, 0, nb, dist);
            for (size_t a = 0; a < m; a++) {
                int32_t q = imp_side ? pair_lookup_find(&lk, pairs->exp_P[p], nb[a])
                                     : pair_lookup_find(&lk, nb[a], pairs->imp_P[p]);
                if (q < 0 || pairs->treated_P[q])
                    continue;
                if (push_comparison(s, &cap, dist[a], (int32_t)p, q, nb[a], (uint8_t)imp_side)) {
                    st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
                    goto done;
                }
            }
        }
        if (s->n > before)
            s->n_treated_used++;
    }
done:
    free(nb);
    free(dist);
    pair_lookup_free(&lk);
    if (st) {
        gravrd_rd_sample_free(s);
        return st;
    }
    *out = s;
    return GRAVRD_OK;
}
