/* published.h - the JSON a run reads: the published tables (embedded or a
 * file the study names) and the data folder's truth.json, looked up by
 * dotted path ("table3_spatial_rd.log_trade.partner.w2e"). The only part of
 * the runner that knows a JSON library; its types stay inside published.c.
 * Internal to libgravrd. */
#ifndef GRAVRD_PUBLISHED_H
#define GRAVRD_PUBLISHED_H

#include "gravrd/plan.h"

typedef struct rep_sources rep_sources;

/* Loads the study's published tables (an unreadable file is an error) and
 * data_dir/truth.json when there is one (an unreadable truth is skipped). */
gravrd_status rep_sources_load(const gravrd_plan *plan, const char *data_dir, rep_sources **out, gravrd_error *err);
void rep_sources_free(rep_sources *src);
int rep_sources_has_truth(const rep_sources *src);

/* Published values at a dotted path (NULL path or no value: NaN). */
/* [estimate, se] or a number. */
void rep_published_pair(const rep_sources *src, const char *path, double *est, double *se);
/* [low, high]. */
void rep_published_range(const rep_sources *src, const char *path, double *lo, double *hi);
/* A number, or the first of an array. */
double rep_published_number(const rep_sources *src, const char *path);
/* A summary row's [n, mean, sd, min, p25, p50, p75, max]: 1 when the path
 * holds an array (out[] gets its numbers, others NaN), else 0. */
int rep_published_row(const rep_sources *src, const char *path, double out[8]);
/* An item's number or [low, high] range. */
void rep_published_item(const rep_sources *src, const char *path, double *value, double *lo, double *hi);
/* The number at a dotted path of truth.json: 1, or 0 when there is none. */
int rep_truth_number(const rep_sources *src, const char *path, double *value);

#endif
