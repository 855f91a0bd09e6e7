/* html_util.c - the HTML report's escaping and number formats, shared by
 * html.c (the page) and html_tables.c (the tables); see html_util.h. */
#include "html_util.h"

#include <math.h>
#include <stdio.h>
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
