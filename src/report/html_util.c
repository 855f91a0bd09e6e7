/* html_util.c - the HTML report's escaping and number formats, shared by
 * html.c (the page) and html_tables.c (the tables); see html_util.h. */
#include "html_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void html_esc(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* Inserts thousands separators into the integer part of a formatted
 * number in place (buf holds 64 bytes). */
static void group_thousands(char *buf)
{
    char *p = buf;
    if (*p == '-')
        p++;
    size_t digits = strspn(p, "0123456789");
    if (digits <= 3)
        return;
    size_t commas = (digits - 1) / 3, len = strlen(buf);
    if (len + commas >= 64)
        return;
    char tmp[64];
    size_t head = (size_t)(p - buf), o = 0;
    memcpy(tmp, buf, head);
    o = head;
    for (size_t i = 0; i < digits; i++) {
        if (i && (digits - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = p[i];
    }
    strcpy(tmp + o, p + digits);
    strcpy(buf, tmp);
}

const char *hfmt(char *buf, double v, int decimals)
{
    if (!isfinite(v)) {
        buf[0] = 0;
        return buf;
    }
    if (decimals > 0 && v != 0 && fabs(v) < 0.5 * pow(10, -decimals))
        snprintf(buf, 64, "%.2g", v); /* too small for the fixed decimals */
    else
        snprintf(buf, 64, "%.*f", decimals, v);
    if (decimals == 0 && fabs(v) >= 1e3)
        group_thousands(buf);
    if (!strcmp(buf, "-0") || !strcmp(buf, "-0.000") || !strcmp(buf, "-0.0") || !strcmp(buf, "-0.00"))
        memmove(buf, buf + 1, strlen(buf));
    return buf;
}

const char *hfmt_stat(char *buf, double v)
{
    if (!isfinite(v)) {
        buf[0] = 0;
        return buf;
    }
    if (v == floor(v) && fabs(v) < 1e15)
        snprintf(buf, 64, "%.0f", v);
    else if (fabs(v) >= 1000)
        snprintf(buf, 64, "%.2f", v);
    else
        return hfmt(buf, v, 3);
    group_thousands(buf);
    return buf;
}

const char *hstars(double p)
{
    if (!isfinite(p))
        return "";
    return p < 0.01 ? "***" : p < 0.05 ? "**" : p < 0.1 ? "*" : "";
}

/* Writes the <svg> element of an SVG document, without the XML prolog,
 * with every id (and its url(#...) / href="#..." references) prefixed so
 * that several figures on one page do not share ids (svg.c names its clip
 * path "plot-area" in every figure). 0 when the text is not an SVG
 * document we can inline. */
int html_inline_svg(FILE *out, const char *text, const char *prefix)
{
    const char *start = strstr(text, "<svg");
    const char *end = start ? strstr(start, "</svg>") : NULL;
    if (!start || !end)
        return 0;
    const char *last;
    while ((last = strstr(end + 6, "</svg>")))
        end = last;
    end += 6;
    if (strstr(start, "<script") && strstr(start, "<script") < end)
        return 0; /* never inline scripts */
    static const char *const pats[] = {" id=\"", "url(#", "href=\"#"};
    const char *p = start;
    while (p < end) {
        const char *next = end;
        size_t which = 0;
        for (size_t k = 0; k < 3; k++) {
            const char *q = strstr(p, pats[k]);
            if (q && q < next) {
                next = q;
                which = k;
            }
        }
        if (next >= end) {
            fwrite(p, 1, (size_t)(end - p), out);
            break;
        }
        size_t plen = strlen(pats[which]);
        fwrite(p, 1, (size_t)(next - p) + plen, out);
        fputs(prefix, out);
        p = next + plen;
    }
    return 1;
}

char *html_join(const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/%s", dir, name);
    return p;
}

char *html_read_file(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0)
            break;
    }
    if (buf && ferror(f)) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[len] = 0;
        if (len_out)
            *len_out = len;
    }
    return buf;
}
