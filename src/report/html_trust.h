/* html_trust.h - the report's headline and its section "Can these
 * intervals be trusted?" (html_trust.c), written into the page by html.c.
 * Internal to libgravrd. */
#ifndef GRAVRD_REPORT_HTML_TRUST_H
#define GRAVRD_REPORT_HTML_TRUST_H

#include <stdio.h>

#include "util/json_read.h"

/* The headline section when replication.json (rep) names one: the
 * estimate, its paper-style interval and that of the table's `inference`
 * method, read from OUT/TABLE.json. Nothing when rep names none. */
void html_headline(FILE *out, const char *out_dir, const json_t *rep);

/* The section from OUT/design.json and OUT/design.svg (`gravrd design`);
 * without them, how to make them. 1 when a design check was shown. */
int html_design_section(FILE *out, const char *out_dir);

#endif
