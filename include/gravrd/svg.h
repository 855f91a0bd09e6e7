/* gravrd/svg.h - a small SVG writer for figures.
 *
 * A figure is one plot area with linear x and y scales, axes with "nice"
 * ticks (1, 2, 5 x 10^k), an optional title, axis labels and legend, and
 * layers drawn in the order they were added: points, lines, bands (filled
 * areas between two curves), segments (error bars), vertical and horizontal
 * rules, and text. Everything is given in data coordinates; the ranges are
 * computed from the data (padded by 4%) unless set with gravrd_svg_xlim /
 * gravrd_svg_ylim. Non-finite values are skipped (a line or band is broken
 * where a value is not finite). The output is well-formed XML (text and
 * attribute values are escaped) and standalone SVG 1.1.
 *
 * Typical use:
 *   gravrd_svg *g = gravrd_svg_new(720, 480);
 *   gravrd_svg_title(g, "RD plot", &err);
 *   gravrd_svg_points(g, n, x, y, &(gravrd_svg_style){.fill = "#444"}, &err);
 *   gravrd_svg_save(g, "plot.svg", &err);
 *   gravrd_svg_free(g);
 */
#ifndef GRAVRD_SVG_H
#define GRAVRD_SVG_H

#include <stddef.h>
#include <stdio.h>

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gravrd_svg gravrd_svg;

/* Drawing style. Zero/NULL fields take the layer's default. Colours and
 * dash patterns are SVG attribute values ("#1f77b4", "steelblue", "none",
 * "4 3"); they may only contain letters, digits, spaces and # . , ( ) % -. */
typedef struct {
    const char *stroke;    /* outline / line colour */
    const char *fill;      /* fill colour (points, bands) */
    double stroke_width;   /* px */
    double opacity;        /* 0..1 (0 = default: 1, bands 0.25) */
    double radius;         /* points: circle radius in px (default 3) */
    const char *dash;      /* stroke-dasharray; NULL = solid */
    const char *label;     /* legend entry; NULL = none */
    double font_size;      /* text: px (default 12) */
    const char *anchor;    /* text: "start", "middle" (default) or "end" */
    const char *marker;    /* points: "circle" (default), "square", "triangle" or "diamond",
                            * of about the same size as a circle of that radius */
} gravrd_svg_style;

/* A figure of width x height px (each at least 100). NULL when out of
 * memory or the size is not valid. */
gravrd_svg *gravrd_svg_new(double width_px, double height_px);
void gravrd_svg_free(gravrd_svg *g);

/* Title above the plot area and axis labels (copied; NULL clears). */
gravrd_status gravrd_svg_title(gravrd_svg *g, const char *title, gravrd_error *err);
gravrd_status gravrd_svg_axis_labels(gravrd_svg *g, const char *x_label, const char *y_label, gravrd_error *err);

/* Fixes an axis range (lo < hi, both finite); otherwise the range is
 * computed from the data. Elements outside are clipped. */
gravrd_status gravrd_svg_xlim(gravrd_svg *g, double lo, double hi, gravrd_error *err);
gravrd_status gravrd_svg_ylim(gravrd_svg *g, double lo, double hi, gravrd_error *err);

/* Where the legend goes: "top-left" (default), "top-right", "bottom-left",
 * "bottom-right" (inside the plot area; set this way, the legend gets a
 * white, slightly transparent box) or "none". */
gravrd_status gravrd_svg_legend_position(gravrd_svg *g, const char *position, gravrd_error *err);

/* Layers (the arrays are copied). */
gravrd_status gravrd_svg_points(gravrd_svg *g, size_t n, const double *x_N, const double *y_N,
                                const gravrd_svg_style *style, gravrd_error *err);
gravrd_status gravrd_svg_line(gravrd_svg *g, size_t n, const double *x_N, const double *y_N,
                              const gravrd_svg_style *style, gravrd_error *err);
gravrd_status gravrd_svg_band(gravrd_svg *g, size_t n, const double *x_N, const double *lo_N, const double *hi_N,
                              const gravrd_svg_style *style, gravrd_error *err);
gravrd_status gravrd_svg_segments(gravrd_svg *g, size_t n, const double *x0_N, const double *y0_N,
                                  const double *x1_N, const double *y1_N, const gravrd_svg_style *style,
                                  gravrd_error *err);
gravrd_status gravrd_svg_vline(gravrd_svg *g, double x, const gravrd_svg_style *style, gravrd_error *err);
gravrd_status gravrd_svg_hline(gravrd_svg *g, double y, const gravrd_svg_style *style, gravrd_error *err);
gravrd_status gravrd_svg_text(gravrd_svg *g, double x, double y, const char *text, const gravrd_svg_style *style,
                              gravrd_error *err);

/* Writes the document to a stream, or to a file (created or truncated). */
gravrd_status gravrd_svg_write(const gravrd_svg *g, FILE *out, gravrd_error *err);
gravrd_status gravrd_svg_save(const gravrd_svg *g, const char *path, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
