/* methods.c - names and clusterings of the inference methods
 * (gravrd/inference.h), below the design check, the study's tables and
 * the report, which all name them. */
#include "gravrd/inference.h"

#include <string.h>

static const char *const inference_names[GRAVRD_INFERENCE_N] = {"pair", "segment_pair", "dyadic", "wild", "ri"};

const char *gravrd_inference_name(gravrd_inference method)
{
    return (unsigned)method < GRAVRD_INFERENCE_N ? inference_names[method] : "?";
}

gravrd_status gravrd_inference_parse(const char *name, gravrd_inference *out, gravrd_error *err)
{
    for (int m = 0; m < GRAVRD_INFERENCE_N; m++)
        if (!strcmp(name, inference_names[m])) {
            *out = (gravrd_inference)m;
            return GRAVRD_OK;
        }
    return gravrd_error_set(err, GRAVRD_ERR_INVALID,
                            "unknown inference method '%s' (pair, segment_pair, dyadic, wild or ri)", name);
}

const char *gravrd_inference_cluster(gravrd_inference method)
{
    static const char *const clusters[GRAVRD_INFERENCE_N] = {"exp_city^imp_city", "seg_exp^seg_imp",
                                                             "exp_city + imp_city", "seg_exp^seg_imp", NULL};
    return (unsigned)method < GRAVRD_INFERENCE_N ? clusters[method] : NULL;
}
