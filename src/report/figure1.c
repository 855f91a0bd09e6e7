/* figure1.c - the paper's Figure 1 (gravrd/figures.h): the map of cities
 * and partnership lines, computed from the study and drawn as SVG. */
#include "gravrd/figures.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "gravrd/svg.h"
#include "report/figures_internal.h"

void gravrd_figure1_free(gravrd_figure1 *f)
{
    if (!f)
        return;
    free(f->id_N);
    free(f->lng_N);
    free(f->lat_N);
    free(f->west_N);
    free(f->in_program_N);
    free(f->east_L);
    free(f->west_L);
    free(f);
}

gravrd_status gravrd_figure1_compute(const gravrd_study *study, gravrd_figure1 **out, gravrd_error *err)
{
    *out = NULL;
    if (!study)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 1: no study");
    gravrd_study_geo geo;
    gravrd_study_geography(study, &geo);
    const size_t n = geo.n, n_lines = gravrd_study_n_partnerships(study);
    gravrd_figure1 *f = calloc(1, sizeof *f);
    if (!f)
        return fig_nomem(err);
    size_t m = n ? n : 1, ml = n_lines ? n_lines : 1;
    f->id_N = malloc(m * sizeof *f->id_N);
    f->lng_N = malloc(m * sizeof *f->lng_N);
    f->lat_N = malloc(m * sizeof *f->lat_N);
    f->west_N = malloc(m * sizeof *f->west_N);
    f->in_program_N = malloc(m * sizeof *f->in_program_N);
    f->east_L = malloc(ml * sizeof *f->east_L);
    f->west_L = malloc(ml * sizeof *f->west_L);
    if (!f->id_N || !f->lng_N || !f->lat_N || !f->west_N || !f->in_program_N || !f->east_L || !f->west_L) {
        gravrd_figure1_free(f);
        return fig_nomem(err);
    }
    f->n_cities = n;
    for (size_t i = 0; i < n; i++) {
        f->id_N[i] = geo.id_N[i];
        f->lng_N[i] = geo.lng_N[i];
        f->lat_N[i] = geo.lat_N[i];
        f->west_N[i] = geo.west_N[i];
        f->in_program_N[i] = geo.in_program_N[i];
        if (geo.west_N[i]) {
            f->n_west++;
            f->n_west_program += geo.in_program_N[i] != 0;
        } else {
            f->n_east++;
            f->n_east_program += geo.in_program_N[i] != 0;
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (geo.west_N[i])
            continue;
        for (size_t j = 0; j < n; j++) {
            if (!geo.west_N[j] || !gravrd_study_partners(study, i, j))
                continue;
            if (k == n_lines) {
                gravrd_figure1_free(f);
                return gravrd_error_set(err, GRAVRD_ERR_DATA, "figure 1: more partner pairs than partnerships");
            }
            f->east_L[k] = (int32_t)i;
            f->west_L[k] = (int32_t)j;
            k++;
        }
    }
    f->n_lines = k;
    *out = f;
    return GRAVRD_OK;
}

/* Colours of the paper's Figure 1: eastern cities blue squares, western
 * cities green circles, partnerships red dashed lines. */
#define EAST_COLOUR "#1f5fb4"
#define WEST_COLOUR "#2a9d3a"
#define LINE_COLOUR "#d62728"

gravrd_status gravrd_figure1_svg(const gravrd_figure1 *f, const char *title, const char *path, gravrd_error *err)
{
    if (!f || !path)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "figure 1: no data or no path");
    if (!f->n_cities)
        return gravrd_error_set(err, GRAVRD_ERR_EMPTY, "figure 1: no cities");
    double lng0 = INFINITY, lng1 = -INFINITY, lat0 = INFINITY, lat1 = -INFINITY;
    for (size_t i = 0; i < f->n_cities; i++) {
        lng0 = fmin(lng0, f->lng_N[i]);
        lng1 = fmax(lng1, f->lng_N[i]);
        lat0 = fmin(lat0, f->lat_N[i]);
        lat1 = fmax(lat1, f->lat_N[i]);
    }
    /* pad by 4% (at least half a degree); equirectangular with the x scale
     * shrunk by cos(mid latitude) */
    double plng = fmax(0.5, 0.04 * (lng1 - lng0)), plat = fmax(0.5, 0.04 * (lat1 - lat0));
    lng0 -= plng;
    lng1 += plng;
    lat0 -= plat;
    lat1 += plat;
    double coslat = cos((lat0 + lat1) / 2 * 3.14159265358979323846 / 180);
    if (coslat < 0.2)
        coslat = 0.2;
    /* plot area 760 px wide (svg.c: 72 px left, 24 px right margin); height
     * from the aspect, within [300, 1000] px (the longitude range widens
     * when the height would exceed it) */
    const double plot_w = 760;
    double plot_h = plot_w * (lat1 - lat0) / ((lng1 - lng0) * coslat);
    if (plot_h > 1000) {
        double want = (lat1 - lat0) / coslat * plot_w / 1000, mid = (lng0 + lng1) / 2;
        lng0 = mid - want / 2;
        lng1 = mid + want / 2;
        plot_h = 1000;
    } else if (plot_h < 300) {
        double want = 300 * (lng1 - lng0) * coslat / plot_w, mid = (lat0 + lat1) / 2;
        lat0 = mid - want / 2;
        lat1 = mid + want / 2;
        plot_h = 300;
    }
    gravrd_svg *g = gravrd_svg_new(plot_w + 96, plot_h + 44 + 56);
    double *x0 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *x0), *y0 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *y0);
    double *x1 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *x1), *y1 = malloc((f->n_lines ? f->n_lines : 1) * sizeof *y1);
    double *px = malloc(f->n_cities * sizeof *px), *py = malloc(f->n_cities * sizeof *py);
    gravrd_status st = GRAVRD_OK;
    if (!g || !x0 || !y0 || !x1 || !y1 || !px || !py) {
        st = fig_nomem(err);
        goto done;
    }
    char default_title[256];
    snprintf(default_title, sizeof default_title,
             "City partnerships: %zu cities (%zu east, %zu west), %zu partnerships", f->n_cities, f->n_east,
             f->n_west, f->n_lines);
    if ((st = gravrd_svg_title(g, title ? title : default_title, err)) ||
        (st = gravrd_svg_axis_labels(g, "longitude (degrees east)", "latitude (degrees north)", err)) ||
        (st = gravrd_svg_xlim(g, lng0, lng1, err)) || (st = gravrd_svg_ylim(g, lat0, lat1, err)) ||
        (st = gravrd_svg_legend_position(g, "top-left", err)))
        goto done;
    for (size_t k = 0; k < f->n_lines; k++) {
        x0[k] = f->lng_N[f->east_L[k]];
        y0[k] = f->lat_N[f->east_L[k]];
        x1[k] = f->lng_N[f->west_L[k]];
        y1[k] = f->lat_N[f->west_L[k]];
    }
    if ((st = gravrd_svg_segments(g, f->n_lines, x0, y0, x1, y1,
                                  &(gravrd_svg_style){.stroke = LINE_COLOUR, .stroke_width = 1.1, .dash = "5 3",
                                                      .opacity = 0.75, .label = "partnership"},
                                  err)))
        goto done;
    /* markers: four layers (east/west x in the program or not), each city once */
    static const struct {
        int west, program;
        const char *label;
    } layers[] = {
        {0, 0, "eastern city, not in the program"},
        {1, 0, "western city, not in the program"},
        {0, 1, "eastern city in a partnership"},
        {1, 1, "western city in a partnership"},
    };
    for (size_t l = 0; l < 4; l++) {
        size_t m = 0;
        for (size_t i = 0; i < f->n_cities; i++)
            if ((f->west_N[i] != 0) == layers[l].west && (f->in_program_N[i] != 0) == layers[l].program) {
                px[m] = f->lng_N[i];
                py[m] = f->lat_N[i];
                m++;
            }
        const char *colour = layers[l].west ? WEST_COLOUR : EAST_COLOUR;
        gravrd_svg_style style = {.stroke = colour,
                                  .fill = layers[l].program ? colour : "white",
                                  .stroke_width = 1.2,
                                  .radius = layers[l].program ? 4.2 : 3.4,
                                  .marker = layers[l].west ? "circle" : "square",
                                  .label = m ? layers[l].label : NULL};
        if ((st = gravrd_svg_points(g, m, px, py, &style, err)))
            goto done;
    }
    st = gravrd_svg_save(g, path, err);
done:
    gravrd_svg_free(g);
    free(x0);
    free(y0);
    free(x1);
    free(y1);
    free(px);
    free(py);
    return st;
}
