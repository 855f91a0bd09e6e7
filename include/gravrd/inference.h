/* gravrd/inference.h - the inference methods gravrd compares for
 * partnership designs: their names, as a study file's `inference =` and
 * `gravrd design --methods` take them, and the clustering each uses on a
 * study frame. See docs/inference.md#design-check. */
#ifndef GRAVRD_INFERENCE_H
#define GRAVRD_INFERENCE_H

#include "gravrd/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The inference methods a design check compares and a study table may
 * name (`inference =` in a study file). */
typedef enum {
    GRAVRD_INFERENCE_PAIR = 0,     /* clustered by directed city pair (the paper's) */
    GRAVRD_INFERENCE_SEGMENT_PAIR, /* clustered by exporter segment x importer segment */
    GRAVRD_INFERENCE_DYADIC,       /* two-way clustered by exporter city and importer city */
    GRAVRD_INFERENCE_WILD,         /* wild cluster bootstrap (WCR, Rademacher) by segment pair */
    GRAVRD_INFERENCE_RI,           /* randomization inference over placebo partnerships */
    GRAVRD_INFERENCE_N
} gravrd_inference;

/* "pair", "segment_pair", "dyadic", "wild", "ri". */
const char *gravrd_inference_name(gravrd_inference method);
/* The method of a name; GRAVRD_ERR_INVALID naming the choices otherwise. */
gravrd_status gravrd_inference_parse(const char *name, gravrd_inference *out, gravrd_error *err);

/* The clustering a method uses on the study frame: its variance's (pair,
 * segment_pair, dyadic), its bootstrap clusters (wild) or NULL (ri: the
 * model's own, since its p-value and interval use the coefficient). */
const char *gravrd_inference_cluster(gravrd_inference method);

#ifdef __cplusplus
}
#endif
#endif
