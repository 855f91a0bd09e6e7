/* html_util.h - escaping and number formats of the HTML report, below both
 * html.c (the page) and html_tables.c (the tables), calling neither.
 * Internal to libgravrd. */
#ifndef GRAVRD_REPORT_HTML_UTIL_H
#define GRAVRD_REPORT_HTML_UTIL_H

#include <stdio.h>

/* Text with & < > " ' escaped. NULL writes nothing. */
void html_esc(FILE *out, const char *s);

/* Number formats: fixed decimals ("%.3f", thousands separators from 1e3 on
 * when decimals == 0); "" for NaN. buf must hold 64 bytes. */
const char *hfmt(char *buf, double v, int decimals);
/* A summary statistic as the paper prints it: integers and numbers of 1e3
 * or more with thousands separators and 2 decimals (0 for integers),
 * smaller ones with 3 decimals. */
const char *hfmt_stat(char *buf, double v);
/* Significance stars of a two-sided p-value: *** < 0.01, ** < 0.05, * < 0.1. */
const char *hstars(double p);

/* "dir/name", malloc'ed (NULL when out of memory). */
char *html_join(const char *dir, const char *name);
/* A whole file as a NUL-terminated string (malloc'ed; its length in
 * *len_out when not NULL); NULL when it cannot be read. */
char *html_read_file(const char *path, size_t *len_out);

/* Writes the <svg> element of an SVG document, without the XML prolog,
 * with every id (and its references) prefixed so that several figures on
 * one page do not share ids. 0 when the text is not an SVG document that
 * can be inlined (no <svg>...</svg>, or a script). */
int html_inline_svg(FILE *out, const char *text, const char *prefix);

#endif
