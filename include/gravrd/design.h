/* gravrd/design.h - the design check (`gravrd design`): on a study's
 * geography and partnership list, simulate many worlds with a planted
 * partnership effect and with none, fit the study's main gravity and
 * spatial-RD models, and measure for each inference method how often its
 * 95% interval covers the truth, how often it rejects a true null, how long
 * its interval is and what effect it can detect. See docs/inference.md. */
#ifndef GRAVRD_DESIGN_H
#define GRAVRD_DESIGN_H

#include <stdint.h>
#include <stdio.h>

#include "gravrd/error.h"
#include "gravrd/inference.h"

#ifdef __cplusplus
extern "C" {
#endif

#define GRAVRD_DESIGN_DEFAULT_WORLDS 200
#define GRAVRD_DESIGN_DEFAULT_MONTHS 12
#define GRAVRD_DESIGN_DEFAULT_BOOT_REPS 999
#define GRAVRD_DESIGN_DEFAULT_RI_REPS 199

typedef struct {
    const char *data_dir;  /* study folder (cities.csv, partnerships.csv); NULL = the embedded world */
    int worlds;            /* W >= 1 (default 200) */
    int months;            /* of each world (default 12) */
    double effect;         /* planted partner_w2e; NaN = the simulator's default (0.10) */
    unsigned methods;      /* bit (1u << method) for each method to run; 0 = all */
    int threads;           /* worlds fitted concurrently; 0 = 1. Results do not depend on it */
    uint64_t seed;         /* world w has simulator seed seed + w (default 1) */
    long boot_reps;        /* replications of the wild bootstrap (default 999) */
    long ri_reps;          /* placebo reassignments per world (default 199) */
    double bandwidth_km;   /* of the segments (default 100) */
} gravrd_design_options;

void gravrd_design_options_init(gravrd_design_options *opt);

/* One method on one model over the W worlds. */
typedef struct {
    gravrd_inference method;
    double coverage;       /* share of effect worlds whose 95% interval holds the world's truth */
    double null_rejection; /* share of no-effect worlds where the 5% test rejects 0 */
    double mean_length;    /* mean interval length in the effect worlds */
    double power;          /* share of effect worlds where the 5% test rejects 0 */
    double mde;            /* minimum detectable effect at 80% power and 5% size:
                              mean_length x (z_0.975 + z_0.80) / (2 z_0.975) */
} gravrd_design_method;

typedef struct {
    char name[16];         /* "gravity", "spatial_rd" */
    char *formula;
    double mean_estimate;  /* over the effect worlds */
    double sd_estimate;
    double mean_truth;     /* the counterfactual truth: estimate minus that of the same world without effect */
    double mean_null_estimate; /* mean estimate in the no-effect worlds (the design's bias) */
    int n_methods;
    gravrd_design_method methods[GRAVRD_INFERENCE_N];
    int recommended;       /* index into methods */
    int recommended_nominal; /* 1: its coverage is in [0.93, 0.97] and null rejection in [0.03, 0.07] */
} gravrd_design_model;

typedef struct {
    int worlds, months;
    double effect;
    uint64_t seed;
    long boot_reps, ri_reps;
    double bandwidth_km;
    char *geography;       /* the data folder, or "embedded" */
    int n_models;
    gravrd_design_model models[2]; /* gravity, spatial RD */
    double mc_se;          /* Monte Carlo standard error of a 95% coverage over W worlds */
    double seconds;
} gravrd_design_result;

/* Runs the design check. Errors: options out of range (worlds < 1,
 * months < 1, reps < 1, ...), the study folder, the simulator, a model
 * that cannot be fitted (named with its world). */
gravrd_status gravrd_design_run(const gravrd_design_options *opt, gravrd_design_result **out, gravrd_error *err);

/* Sets m->recommended and m->recommended_nominal from m->methods: among the
 * nominal methods (coverage in [0.93, 0.97], null rejection in [0.03,
 * 0.07]) the shortest mean interval; when none is nominal, the shortest
 * among those within mc_se of the smallest max(|coverage - 0.95|,
 * |null rejection - 0.05|). gravrd_design_run calls it. */
void gravrd_design_recommend(gravrd_design_model *m, double mc_se);
void gravrd_design_free(gravrd_design_result *res);

/* The result as a text table, or as JSON. */
gravrd_status gravrd_design_write_text(const gravrd_design_result *res, FILE *out, gravrd_error *err);
gravrd_status gravrd_design_write_json(const gravrd_design_result *res, FILE *out, gravrd_error *err);
/* An SVG plot: per model, each method's coverage and null rejection with
 * their Monte Carlo 95% bands and the nominal targets. Written to a
 * temporary file and renamed, so nothing is half-written. */
gravrd_status gravrd_design_plot(const gravrd_design_result *res, const char *path, gravrd_error *err);

#ifdef __cplusplus
}
#endif
#endif
