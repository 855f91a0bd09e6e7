/* svg.c - a small SVG figure writer (see gravrd/svg.h). Layers are stored
 * with copies of their data; the scales are resolved when the figure is
 * written. */
#include "gravrd/svg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { L_POINTS, L_LINE, L_BAND, L_SEGMENTS, L_VLINE, L_HLINE, L_TEXT } layer_kind;

typedef struct {
    char *stroke, *fill, *dash, *label, *anchor, *marker;
    double stroke_width, opacity, radius, font_size;
} style_copy;

typedef struct {
    layer_kind kind;
    size_t n;
    double *a, *b, *c, *d; /* points/line: x y; band: x lo hi; segments: x0 y0 x1 y1; rule: a[0]; text: a[0] b[0] */
    char *text;
    style_copy style;
} layer;

struct gravrd_svg {
    double width, height;
    char *title, *x_label, *y_label;
    double xlim[2], ylim[2]; /* NaN = automatic */
    int legend_pos;          /* LEGEND_* */
    int legend_boxed;        /* set by gravrd_svg_legend_position: a box behind the legend */
    size_t n_layers, cap_layers;
    layer *layers;
};

static const double PAD = 0.04;

enum { LEGEND_TOP_LEFT = 0, LEGEND_TOP_RIGHT, LEGEND_BOTTOM_LEFT, LEGEND_BOTTOM_RIGHT, LEGEND_NONE };

gravrd_svg *gravrd_svg_new(double width_px, double height_px)
{
    if (!(width_px >= 100 && height_px >= 100 && width_px <= 1e5 && height_px <= 1e5))
        return NULL;
    gravrd_svg *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->width = width_px;
    g->height = height_px;
    g->xlim[0] = g->xlim[1] = g->ylim[0] = g->ylim[1] = NAN;
    return g;
}

static void style_free(style_copy *s)
{
    free(s->stroke);
    free(s->fill);
    free(s->dash);
    free(s->label);
    free(s->anchor);
    free(s->marker);
}

void gravrd_svg_free(gravrd_svg *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_layers; i++) {
        layer *l = &g->layers[i];
        free(l->a);
        free(l->b);
        free(l->c);
        free(l->d);
        free(l->text);
        style_free(&l->style);
    }
    free(g->layers);
    free(g->title);
    free(g->x_label);
    free(g->y_label);
    free(g);
}

static char *dup_or_null(const char *s, int *fail)
{
    if (!s)
        return NULL;
    char *c = strdup(s);
    if (!c)
        *fail = 1;
    return c;
}

static gravrd_status set_text(char **slot, const char *text, gravrd_error *err)
{
    int fail = 0;
    char *c = dup_or_null(text, &fail);
    if (fail)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    free(*slot);
    *slot = c;
    return GRAVRD_OK;
}

gravrd_status gravrd_svg_title(gravrd_svg *g, const char *title, gravrd_error *err)
{
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no figure");
    return set_text(&g->title, title, err);
}

gravrd_status gravrd_svg_axis_labels(gravrd_svg *g, const char *x_label, const char *y_label, gravrd_error *err)
{
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no figure");
    gravrd_status st = set_text(&g->x_label, x_label, err);
    return st ? st : set_text(&g->y_label, y_label, err);
}

gravrd_status gravrd_svg_legend_position(gravrd_svg *g, const char *position, gravrd_error *err)
{
    static const char *const names[] = {"top-left", "top-right", "bottom-left", "bottom-right", "none"};
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no figure");
    for (int k = 0; k < 5; k++)
        if (position && !strcmp(position, names[k])) {
            g->legend_pos = k;
            g->legend_boxed = 1;
            return GRAVRD_OK;
        }
    return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                            "svg: legend position must be top-left, top-right, bottom-left, bottom-right or none, "
                            "not '%s'", position ? position : "(null)");
}

static int marker_ok(const char *m)
{
    return !m || !strcmp(m, "circle") || !strcmp(m, "square") || !strcmp(m, "triangle") || !strcmp(m, "diamond");
}

static gravrd_status set_lim(double *lim, double lo, double hi, const char *axis, gravrd_error *err)
{
    if (!(isfinite(lo) && isfinite(hi) && lo < hi))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: %s range must be two finite numbers lo < hi", axis);
    lim[0] = lo;
    lim[1] = hi;
    return GRAVRD_OK;
}

gravrd_status gravrd_svg_xlim(gravrd_svg *g, double lo, double hi, gravrd_error *err)
{
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no figure");
    return set_lim(g->xlim, lo, hi, "x", err);
}

gravrd_status gravrd_svg_ylim(gravrd_svg *g, double lo, double hi, gravrd_error *err)
{
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no figure");
    return set_lim(g->ylim, lo, hi, "y", err);
}

/* Attribute values we write unquoted-safe: a conservative character set. */
static int attr_ok(const char *s)
{
    if (!s)
        return 1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr(" #.,()%-", c)))
            return 0;
    }
    return 1;
}

static gravrd_status add_layer(gravrd_svg *g, layer_kind kind, size_t n, const double *a, const double *b,
                               const double *c, const double *d, const char *text, const gravrd_svg_style *style,
                               gravrd_error *err)
{
    static const char *const names[] = {"points", "line", "band", "segments", "vline", "hline", "text"};
    if (!g)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no figure");
    int n_arrays = kind == L_BAND ? 3 : kind == L_SEGMENTS ? 4 : kind == L_VLINE || kind == L_HLINE ? 1 : 2;
    const double *src[4] = {a, b, c, d};
    if (n > 0)
        for (int k = 0; k < n_arrays; k++)
            if (!src[k])
                return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg %s: %zu values but a NULL array", names[kind], n);
    if (style) {
        const char *attrs[] = {style->stroke, style->fill, style->dash, style->anchor};
        for (int k = 0; k < 4; k++)
            if (!attr_ok(attrs[k]))
                return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg %s: style value '%s' has characters not allowed",
                                        names[kind], attrs[k]);
        if (!marker_ok(style->marker))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "svg %s: marker must be circle, square, triangle or diamond, not '%s'",
                                    names[kind], style->marker);
        if (style->anchor && strcmp(style->anchor, "start") && strcmp(style->anchor, "middle") &&
            strcmp(style->anchor, "end"))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg text: anchor must be start, middle or end, not '%s'",
                                    style->anchor);
        if (!(style->stroke_width >= 0 && style->radius >= 0 && style->opacity >= 0 && style->opacity <= 1 &&
              style->font_size >= 0))
            return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                                    "svg %s: widths, radius and font size must be >= 0, opacity in [0, 1]",
                                    names[kind]);
    }
    if (g->n_layers == g->cap_layers) {
        size_t cap = g->cap_layers ? 2 * g->cap_layers : 8;
        layer *nl = realloc(g->layers, cap * sizeof *nl);
        if (!nl)
            return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        g->layers = nl;
        g->cap_layers = cap;
    }
    layer l;
    memset(&l, 0, sizeof l);
    l.kind = kind;
    l.n = n;
    double **dst[4] = {&l.a, &l.b, &l.c, &l.d};
    int fail = 0;
    for (int k = 0; k < n_arrays && !fail; k++) {
        *dst[k] = malloc((n ? n : 1) * sizeof(double));
        if (!*dst[k])
            fail = 1;
        else if (n)
            memcpy(*dst[k], src[k], n * sizeof(double));
    }
    l.text = dup_or_null(text, &fail);
    if (style) {
        l.style.stroke = dup_or_null(style->stroke, &fail);
        l.style.fill = dup_or_null(style->fill, &fail);
        l.style.dash = dup_or_null(style->dash, &fail);
        l.style.label = dup_or_null(style->label, &fail);
        l.style.anchor = dup_or_null(style->anchor, &fail);
        l.style.marker = dup_or_null(style->marker, &fail);
        l.style.stroke_width = style->stroke_width;
        l.style.opacity = style->opacity;
        l.style.radius = style->radius;
        l.style.font_size = style->font_size;
    }
    if (fail) {
        free(l.a);
        free(l.b);
        free(l.c);
        free(l.d);
        free(l.text);
        style_free(&l.style);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    g->layers[g->n_layers++] = l;
    return GRAVRD_OK;
}

gravrd_status gravrd_svg_points(gravrd_svg *g, size_t n, const double *x_N, const double *y_N,
                                const gravrd_svg_style *style, gravrd_error *err)
{
    return add_layer(g, L_POINTS, n, x_N, y_N, NULL, NULL, NULL, style, err);
}

gravrd_status gravrd_svg_line(gravrd_svg *g, size_t n, const double *x_N, const double *y_N,
                              const gravrd_svg_style *style, gravrd_error *err)
{
    return add_layer(g, L_LINE, n, x_N, y_N, NULL, NULL, NULL, style, err);
}

gravrd_status gravrd_svg_band(gravrd_svg *g, size_t n, const double *x_N, const double *lo_N, const double *hi_N,
                              const gravrd_svg_style *style, gravrd_error *err)
{
    return add_layer(g, L_BAND, n, x_N, lo_N, hi_N, NULL, NULL, style, err);
}

gravrd_status gravrd_svg_segments(gravrd_svg *g, size_t n, const double *x0_N, const double *y0_N,
                                  const double *x1_N, const double *y1_N, const gravrd_svg_style *style,
                                  gravrd_error *err)
{
    return add_layer(g, L_SEGMENTS, n, x0_N, y0_N, x1_N, y1_N, NULL, style, err);
}

gravrd_status gravrd_svg_vline(gravrd_svg *g, double x, const gravrd_svg_style *style, gravrd_error *err)
{
    if (!isfinite(x))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg vline: position must be finite");
    return add_layer(g, L_VLINE, 1, &x, NULL, NULL, NULL, NULL, style, err);
}

gravrd_status gravrd_svg_hline(gravrd_svg *g, double y, const gravrd_svg_style *style, gravrd_error *err)
{
    if (!isfinite(y))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg hline: position must be finite");
    return add_layer(g, L_HLINE, 1, &y, NULL, NULL, NULL, NULL, style, err);
}

gravrd_status gravrd_svg_text(gravrd_svg *g, double x, double y, const char *text, const gravrd_svg_style *style,
                              gravrd_error *err)
{
    if (!text)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg text: no text");
    if (!isfinite(x) || !isfinite(y))
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg text: position must be finite");
    return add_layer(g, L_TEXT, 1, &x, &y, NULL, NULL, text, style, err);
}

/* ---- scales ---- */

static void extend(double *lo, double *hi, double v)
{
    if (!isfinite(v))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

static void data_range(const gravrd_svg *g, int axis, double out[2])
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < g->n_layers; i++) {
        const layer *l = &g->layers[i];
        switch (l->kind) {
        case L_POINTS:
        case L_LINE:
            for (size_t k = 0; k < l->n; k++)
                if (isfinite(l->a[k]) && isfinite(l->b[k]))
                    extend(&lo, &hi, axis == 0 ? l->a[k] : l->b[k]);
            break;
        case L_BAND:
            for (size_t k = 0; k < l->n; k++) {
                if (!isfinite(l->a[k]) || !isfinite(l->b[k]) || !isfinite(l->c[k]))
                    continue;
                if (axis == 0)
                    extend(&lo, &hi, l->a[k]);
                else {
                    extend(&lo, &hi, l->b[k]);
                    extend(&lo, &hi, l->c[k]);
                }
            }
            break;
        case L_SEGMENTS:
            for (size_t k = 0; k < l->n; k++) {
                if (!isfinite(l->a[k]) || !isfinite(l->b[k]) || !isfinite(l->c[k]) || !isfinite(l->d[k]))
                    continue;
                extend(&lo, &hi, axis == 0 ? l->a[k] : l->b[k]);
                extend(&lo, &hi, axis == 0 ? l->c[k] : l->d[k]);
            }
            break;
        case L_VLINE:
            if (axis == 0)
                extend(&lo, &hi, l->a[0]);
            break;
        case L_HLINE:
            if (axis == 1)
                extend(&lo, &hi, l->a[0]);
            break;
        case L_TEXT:
            break;
        }
    }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    } else if (lo == hi) {
        double d = fabs(lo) > 0 ? 0.1 * fabs(lo) : 1;
        lo -= d;
        hi += d;
    } else {
        double d = PAD * (hi - lo);
        lo -= d;
        hi += d;
    }
    out[0] = lo;
    out[1] = hi;
}

/* Tick step 1, 2 or 5 x 10^k giving about `target` intervals. */
static double nice_step(double span, int target)
{
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    double m = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    return m * mag;
}

typedef struct {
    double x0, x1, y0, y1;       /* data range */
    double left, right, top, bottom; /* plot area in px */
} frame_map;

static double px_x(const frame_map *m, double x)
{
    return m->left + (x - m->x0) / (m->x1 - m->x0) * (m->right - m->left);
}

static double px_y(const frame_map *m, double y)
{
    return m->bottom - (y - m->y0) / (m->y1 - m->y0) * (m->bottom - m->top);
}

/* ---- output ---- */

static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&apos;", out); break;
        default:
            if (c < 0x20 && c != '\t')
                fputc(' ', out); /* not allowed (or not kept) in XML 1.0 text */
            else
                fputc(c, out);
        }
    }
}

static void put_style(FILE *out, const style_copy *s, const char *def_stroke, const char *def_fill, double def_width,
                      double def_opacity)
{
    const char *stroke = s->stroke ? s->stroke : def_stroke, *fill = s->fill ? s->fill : def_fill;
    double width = s->stroke_width > 0 ? s->stroke_width : def_width;
    double opacity = s->opacity > 0 ? s->opacity : def_opacity;
    fprintf(out, " stroke=\"%s\" fill=\"%s\"", stroke, fill);
    if (strcmp(stroke, "none"))
        fprintf(out, " stroke-width=\"%.3g\"", width);
    if (opacity < 1)
        fprintf(out, " opacity=\"%.3g\"", opacity);
    if (s->dash)
        fprintf(out, " stroke-dasharray=\"%s\"", s->dash);
}

static const char *default_colour(size_t i)
{
    static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
    return palette[i % (sizeof palette / sizeof palette[0])];
}

/* Writes a polyline for each run of finite points. */
static void put_polyline_runs(FILE *out, const frame_map *m, const layer *l, const char *colour)
{
    size_t k = 0;
    while (k < l->n) {
        while (k < l->n && !(isfinite(l->a[k]) && isfinite(l->b[k])))
            k++;
        size_t start = k;
        while (k < l->n && isfinite(l->a[k]) && isfinite(l->b[k]))
            k++;
        if (k - start < 1)
            continue;
        fputs("<polyline points=\"", out);
        for (size_t j = start; j < k; j++)
            fprintf(out, "%s%.2f,%.2f", j > start ? " " : "", px_x(m, l->a[j]), px_y(m, l->b[j]));
        fputc('"', out);
        put_style(out, &l->style, colour, "none", 2, 1);
        fputs("/>\n", out);
    }
}

static void put_band_runs(FILE *out, const frame_map *m, const layer *l, const char *colour)
{
    size_t k = 0;
    while (k < l->n) {
        while (k < l->n && !(isfinite(l->a[k]) && isfinite(l->b[k]) && isfinite(l->c[k])))
            k++;
        size_t start = k;
        while (k < l->n && isfinite(l->a[k]) && isfinite(l->b[k]) && isfinite(l->c[k]))
            k++;
        if (k - start < 2)
            continue;
        fputs("<polygon points=\"", out);
        for (size_t j = start; j < k; j++)
            fprintf(out, "%s%.2f,%.2f", j > start ? " " : "", px_x(m, l->a[j]), px_y(m, l->c[j]));
        for (size_t j = k; j-- > start;)
            fprintf(out, " %.2f,%.2f", px_x(m, l->a[j]), px_y(m, l->b[j]));
        fputc('"', out);
        put_style(out, &l->style, "none", colour, 1, 0.25);
        fputs("/>\n", out);
    }
}

static void put_tick_label(FILE *out, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 10)
        dec = 10;
    if (fabs(v) < step * 1e-9)
        v = 0;
    fprintf(out, "%.*f", dec, v);
}

/* A point marker centred at (cx, cy) px; r is the circle radius. Other
 * shapes have about the area of that circle. Style attributes come from
 * the caller (an enclosing group or the text after this call). */
static void put_marker(FILE *out, const char *shape, double cx, double cy, double r)
{
    if (!shape || !strcmp(shape, "circle"))
        fprintf(out, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%.2f\"", cx, cy, r);
    else if (!strcmp(shape, "square")) {
        double a = 0.886 * r; /* half side: equal area */
        fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"", cx - a, cy - a, 2 * a, 2 * a);
    } else if (!strcmp(shape, "triangle")) {
        double a = 1.347 * r; /* circumradius of an equilateral triangle of equal area */
        fprintf(out, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f\"", cx, cy - a, cx + 0.866 * a, cy + 0.5 * a,
                cx - 0.866 * a, cy + 0.5 * a);
    } else {
        double a = 1.253 * r; /* half diagonal of a square of equal area */
        fprintf(out, "<polygon points=\"%.2f,%.2f %.2f,%.2f %.2f,%.2f %.2f,%.2f\"", cx, cy - a, cx + a, cy, cx, cy + a,
                cx - a, cy);
    }
}

gravrd_status gravrd_svg_write(const gravrd_svg *g, FILE *out, gravrd_error *err)
{
    if (!g || !out)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no figure or no stream");
    frame_map m;
    double r[2];
    if (isfinite(g->xlim[0])) {
        m.x0 = g->xlim[0];
        m.x1 = g->xlim[1];
    } else {
        data_range(g, 0, r);
        m.x0 = r[0];
        m.x1 = r[1];
    }
    if (isfinite(g->ylim[0])) {
        m.y0 = g->ylim[0];
        m.y1 = g->ylim[1];
    } else {
        data_range(g, 1, r);
        m.y0 = r[0];
        m.y1 = r[1];
    }
    m.left = 72;
    m.right = g->width - 24;
    m.top = g->title ? 44 : 20;
    m.bottom = g->height - (g->x_label ? 56 : 36);

    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n", out);
    fprintf(out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n",
            g->width, g->height, g->width, g->height);
    fputs("<defs><clipPath id=\"plot-area\">", out);
    fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>", m.left, m.top, m.right - m.left,
            m.bottom - m.top);
    fputs("</clipPath></defs>\n", out);
    fprintf(out, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"white\"/>\n", g->width, g->height);

    /* grid and ticks */
    double xs = nice_step(m.x1 - m.x0, 8), ys = nice_step(m.y1 - m.y0, 6);
    fputs("<g class=\"axes\" stroke=\"#000\" stroke-width=\"1\">\n", out);
    long xk0 = (long)ceil(m.x0 / xs - 1e-9), xk1 = (long)floor(m.x1 / xs + 1e-9);
    long yk0 = (long)ceil(m.y0 / ys - 1e-9), yk1 = (long)floor(m.y1 / ys + 1e-9);
    for (long k = xk0; k <= xk1; k++) {
        double px = px_x(&m, (double)k * xs);
        fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n", px, m.top, px,
                m.bottom);
        fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px, m.bottom, px, m.bottom + 5);
    }
    for (long k = yk0; k <= yk1; k++) {
        double py = px_y(&m, (double)k * ys);
        fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"#e5e5e5\"/>\n", m.left, py,
                m.right, py);
        fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", m.left - 5, py, m.left, py);
    }
    fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\"/>\n", m.left, m.top,
            m.right - m.left, m.bottom - m.top);
    fputs("</g>\n<g class=\"tick-labels\" fill=\"#000\">\n", out);
    for (long k = xk0; k <= xk1; k++) {
        fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", px_x(&m, (double)k * xs), m.bottom + 18);
        put_tick_label(out, (double)k * xs, xs);
        fputs("</text>\n", out);
    }
    for (long k = yk0; k <= yk1; k++) {
        fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"end\">", m.left - 8, px_y(&m, (double)k * ys) + 4);
        put_tick_label(out, (double)k * ys, ys);
        fputs("</text>\n", out);
    }
    fputs("</g>\n", out);

    /* layers */
    fputs("<g class=\"layers\" clip-path=\"url(#plot-area)\">\n", out);
    size_t colour_index = 0;
    for (size_t i = 0; i < g->n_layers; i++) {
        const layer *l = &g->layers[i];
        const char *colour = default_colour(colour_index);
        if (l->kind == L_POINTS || l->kind == L_LINE || l->kind == L_BAND)
            colour_index++;
        switch (l->kind) {
        case L_POINTS: {
            double radius = l->style.radius > 0 ? l->style.radius : 3;
            fputs("<g", out);
            put_style(out, &l->style, "none", colour, 1, 1);
            fputs(">\n", out);
            for (size_t k = 0; k < l->n; k++)
                if (isfinite(l->a[k]) && isfinite(l->b[k])) {
                    put_marker(out, l->style.marker, px_x(&m, l->a[k]), px_y(&m, l->b[k]), radius);
                    fputs("/>\n", out);
                }
            fputs("</g>\n", out);
            break;
        }
        case L_LINE:
            put_polyline_runs(out, &m, l, colour);
            break;
        case L_BAND:
            put_band_runs(out, &m, l, colour);
            break;
        case L_SEGMENTS:
            fputs("<g", out);
            put_style(out, &l->style, "#444", "none", 1, 1);
            fputs(">\n", out);
            for (size_t k = 0; k < l->n; k++)
                if (isfinite(l->a[k]) && isfinite(l->b[k]) && isfinite(l->c[k]) && isfinite(l->d[k]))
                    fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"/>\n", px_x(&m, l->a[k]),
                            px_y(&m, l->b[k]), px_x(&m, l->c[k]), px_y(&m, l->d[k]));
            fputs("</g>\n", out);
            break;
        case L_VLINE:
            fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"", px_x(&m, l->a[0]), m.top,
                    px_x(&m, l->a[0]), m.bottom);
            put_style(out, &l->style, "#555", "none", 1, 1);
            fputs("/>\n", out);
            break;
        case L_HLINE:
            fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"", m.left, px_y(&m, l->a[0]), m.right,
                    px_y(&m, l->a[0]));
            put_style(out, &l->style, "#555", "none", 1, 1);
            fputs("/>\n", out);
            break;
        case L_TEXT:
            fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" font-size=\"%.3g\" fill=\"%s\">",
                    px_x(&m, l->a[0]), px_y(&m, l->b[0]), l->style.anchor ? l->style.anchor : "middle",
                    l->style.font_size > 0 ? l->style.font_size : 12, l->style.fill ? l->style.fill : "#000");
            put_escaped(out, l->text);
            fputs("</text>\n", out);
            break;
        }
    }
    fputs("</g>\n", out);

    /* legend: one row per labelled points/line/band layer, top left inside
     * the plot unless placed elsewhere with gravrd_svg_legend_position */
    size_t n_legend = 0, n_entries = 0, longest = 0;
    for (size_t i = 0; i < g->n_layers; i++)
        if (g->layers[i].style.label && g->layers[i].kind != L_TEXT) {
            n_entries++;
            if (strlen(g->layers[i].style.label) > longest)
                longest = strlen(g->layers[i].style.label);
        }
    double legend_w = 28 + 6.6 * (double)longest + 8, legend_h = 18 * (double)n_entries + 6;
    double legend_x = m.left + 12, legend_y = m.top + 16; /* first entry: text baseline */
    if (g->legend_pos == LEGEND_TOP_RIGHT || g->legend_pos == LEGEND_BOTTOM_RIGHT)
        legend_x = m.right - 12 - legend_w + 4;
    if (g->legend_pos == LEGEND_BOTTOM_LEFT || g->legend_pos == LEGEND_BOTTOM_RIGHT)
        legend_y = m.bottom - 12 - legend_h + 18;
    if (g->legend_pos == LEGEND_NONE)
        n_entries = 0;
    colour_index = 0;
    for (size_t i = 0; i < g->n_layers; i++) {
        const layer *l = &g->layers[i];
        const char *colour = default_colour(colour_index);
        if (l->kind == L_POINTS || l->kind == L_LINE || l->kind == L_BAND)
            colour_index++;
        if (!l->style.label || l->kind == L_TEXT || !n_entries)
            continue;
        if (n_legend == 0) {
            fputs("<g class=\"legend\">\n", out);
            if (g->legend_boxed)
                fprintf(out,
                        "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"white\" "
                        "fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
                        legend_x - 6, legend_y - 16, legend_w, legend_h);
        }
        double y = legend_y + 18 * (double)n_legend, x = legend_x;
        switch (l->kind) {
        case L_POINTS:
            put_marker(out, l->style.marker, x + 10, y - 4, l->style.radius > 0 ? l->style.radius : 3);
            put_style(out, &l->style, "none", colour, 1, 1);
            fputs("/>\n", out);
            break;
        case L_BAND:
            fprintf(out, "<rect x=\"%.2f\" y=\"%.2f\" width=\"20\" height=\"10\"", x, y - 9);
            put_style(out, &l->style, "none", colour, 1, 0.25);
            fputs("/>\n", out);
            break;
        default:
            fprintf(out, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\"", x, y - 4, x + 20, y - 4);
            put_style(out, &l->style, l->kind == L_LINE ? colour : "#555", "none", 2, 1);
            fputs("/>\n", out);
        }
        fprintf(out, "<text x=\"%.2f\" y=\"%.2f\">", x + 28, y);
        put_escaped(out, l->style.label);
        fputs("</text>\n", out);
        n_legend++;
    }
    if (n_legend)
        fputs("</g>\n", out);

    if (g->title) {
        fprintf(out, "<text x=\"%.2f\" y=\"26\" text-anchor=\"middle\" font-size=\"15\">", (m.left + m.right) / 2);
        put_escaped(out, g->title);
        fputs("</text>\n", out);
    }
    if (g->x_label) {
        fprintf(out, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">", (m.left + m.right) / 2, g->height - 14);
        put_escaped(out, g->x_label);
        fputs("</text>\n", out);
    }
    if (g->y_label) {
        double cy = (m.top + m.bottom) / 2;
        fprintf(out, "<text x=\"18\" y=\"%.2f\" text-anchor=\"middle\" transform=\"rotate(-90 18 %.2f)\">", cy, cy);
        put_escaped(out, g->y_label);
        fputs("</text>\n", out);
    }
    fputs("</svg>\n", out);
    if (ferror(out))
        return gravrd_error_set(err, GRAVRD_ERR_IO, "svg: write error");
    return GRAVRD_OK;
}

gravrd_status gravrd_svg_save(const gravrd_svg *g, const char *path, gravrd_error *err)
{
    if (!path)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "svg: no output path");
    FILE *out = fopen(path, "w");
    if (!out)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    gravrd_status st = gravrd_svg_write(g, out, err);
    if (fclose(out) != 0 && !st)
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: error closing: %s", path, strerror(errno));
    else if (st == GRAVRD_ERR_IO)
        gravrd_error_set(err, GRAVRD_ERR_IO, "%s: write error", path);
    return st;
}
