/* scale_bench.c - how the paper's main regression grows with the world
 * (built as gravrd_scale_bench; not part of the test run; docs/scale.md).
 *
 * For one --scale K it builds the simulated world with K times as many
 * cities per province (gravrd simulate --scale K) and fits the main spatial
 * RD regression of Table 3 on it:
 *   log1p(trade) ~ partner + log(distance)
 *                | exp_city^month + imp_city^month + seg_exp^seg_imp,  clustered by pair
 * The flows are generated in memory with only the columns the model reads
 * (gravrd_sim_flows_frame_columns): a K = 10 world has 114.8 million rows
 * and its flows.csv would be 12 GB, which would measure the disk, not the
 * estimator. The small geography files (cities, partnerships) are written to
 * a temporary folder for gravrd_study_load and removed afterwards.
 *
 * One K per process, so that the peak resident memory (getrusage) is that
 * world's; tools/scale_bench.sh runs several. Prints one Markdown table row:
 *   | K | rows | simulate s | study frame s | regression s | total s | peak RSS GB |
 *     columns GB | peak / columns | partner | SE |
 * "columns" is the size of the study frame the regression reads (8 bytes a
 * numeric value, 4 a factor code). --header prints the table header first.
 * --raw prints one line of name=value pairs instead, unrounded (peak_rss_kb,
 * column_bytes, peak_over_columns, ...): tools/bench.sh reads it for issue 6's
 * memory target in `make bench`.
 *
 *   build/gravrd_scale_bench --scale K [--months 60] [--threads N] [--header | --raw] [--tmp DIR]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gravrd/data.h"
#include "gravrd/estimate.h"
#include "gravrd/sim.h"
#include "gravrd/study.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss; /* KiB on Linux */
}

static int die(const char *what, const gravrd_error *err)
{
    fprintf(stderr, "gravrd_scale_bench: %s: %s\n", what, err ? err->message : "failed");
    return 1;
}

static void remove_dir(const char *dir)
{
    static const char *const files[] = {"cities.csv", "partnerships.csv", "flows.csv", "migration.csv",
                                        "truth.json"};
    char path[4200];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        remove(path);
    }
    rmdir(dir);
}

int main(int argc, char **argv)
{
    int scale = 1, months = 60, threads = 1, header = 0, raw = 0;
    const char *tmp_root = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            scale = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--months") && i + 1 < argc)
            months = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tmp") && i + 1 < argc)
            tmp_root = argv[++i];
        else if (!strcmp(argv[i], "--header"))
            header = 1;
        else if (!strcmp(argv[i], "--raw"))
            raw = 1;
        else {
            fprintf(stderr, "usage: gravrd_scale_bench --scale K [--months 60] [--threads N] [--header | --raw] "
                            "[--tmp DIR]\n");
            return 2;
        }
    }
    gravrd_error err;
    gravrd_sim_params p;
    gravrd_sim_params_init(&p);
    char num[32];
    snprintf(num, sizeof num, "%d", scale);
    if (gravrd_sim_param_set(&p, "scale", num, &err))
        return die("--scale", &err);
    snprintf(num, sizeof num, "%d", months);
    if (gravrd_sim_param_set(&p, "months", num, &err))
        return die("--months", &err);

    /* The geography: cities.csv and partnerships.csv do not depend on the
     * number of months (their draws come first, from streams of their own),
     * so a one-month world gives the same files at 1/60 of the cost. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/gravrd_scale_%d_XXXXXX", tmp_root, scale);
    if (!mkdtemp(dir)) {
        perror("gravrd_scale_bench: mkdtemp");
        return 1;
    }
    gravrd_sim_params geo = p;
    geo.months = 1;
    int rc = 0;
    gravrd_study *study = NULL;
    gravrd_frame *flows = NULL, *frame = NULL;
    gravrd_reg_results *res = NULL;
    char **names = NULL;
    size_t n_names = 0;
    if (gravrd_sim_write(&geo, dir, 1, &err)) {
        rc = die("geography", &err);
        goto done;
    }
    char flows_path[4200];
    snprintf(flows_path, sizeof flows_path, "%s/flows.csv", dir);
    remove(flows_path); /* the one-month flows are not used */

    const char *formula = "log1p(trade) ~ partner + log(distance) | exp_city^month + imp_city^month + seg_exp^seg_imp";
    gravrd_reg_options opt;
    gravrd_reg_options_init(&opt);
    opt.cluster = "pair";
    opt.threads = threads;
    if (gravrd_reg_variables(formula, &opt, &names, &n_names, &err)) {
        rc = die("formula", &err);
        goto done;
    }

    double t0 = now();
    static const char *const flow_cols[] = {"exp_city", "imp_city", "month", "trade"};
    if (gravrd_sim_flows_frame_columns(&p, flow_cols, 4, &flows, &err)) {
        rc = die("simulate", &err);
        goto done;
    }
    double t1 = now();
    if (gravrd_study_load(dir, 100.0, &study, &err)) {
        rc = die("study", &err);
        goto done;
    }
    if (gravrd_study_frame(study, flows, (const char *const *)names, n_names, &frame, &err)) {
        rc = die("study frame", &err);
        goto done;
    }
    size_t rows = flows->n_rows;
    gravrd_frame_free(flows); /* the study frame has its own copies */
    flows = NULL;
    double t2 = now();
    gravrd_eval_env env;
    gravrd_study_env(study, &env);
    opt.env = &env;
    if (gravrd_reg(frame, formula, &opt, &res, &err)) {
        rc = die("regression", &err);
        goto done;
    }
    double t3 = now();
    double col_bytes = 0;
    for (size_t c = 0; c < frame->n_cols; c++)
        col_bytes += (double)frame->n_rows * (frame->cols[c].type == GRAVRD_COL_FACTOR ? 4.0 : 8.0);
    const gravrd_reg_result *r = &res->results[0];
    double b = 0, se = 0;
    for (int k = 0; k < r->n_coef; k++)
        if (!strcmp(r->coefs[k].name, "partner")) {
            b = r->coefs[k].estimate;
            se = r->coefs[k].se;
        }
    long rss_kb = peak_rss_kb();
    double rss = (double)rss_kb / (1024.0 * 1024.0), cols_gb = col_bytes / (1024.0 * 1024.0 * 1024.0);
    if (raw) {
        printf("scale=%d rows=%zu columns=%zu peak_rss_kb=%ld column_bytes=%.0f peak_over_columns=%.4f "
               "simulate_s=%.3f study_frame_s=%.3f regression_s=%.3f partner=%.4f se=%.4f iterations=%d\n",
               scale, rows, frame->n_cols, rss_kb, col_bytes, (double)rss_kb * 1024.0 / col_bytes, t1 - t0,
               t2 - t1, t3 - t2, b, se, r->iterations);
        fflush(stdout);
        goto done;
    }
    if (header)
        printf("| K | rows | simulate (s) | study frame (s) | regression (s) | total (s) | peak RSS (GB) | "
               "columns (GB) | peak / columns | partner | SE | iterations |\n"
               "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    printf("| %d | %zu | %.1f | %.1f | %.1f | %.1f | %.2f | %.2f | %.1f | %.4f | %.4f | %d |\n", scale, rows,
           t1 - t0, t2 - t1, t3 - t2, t3 - t0, rss, cols_gb, rss / cols_gb, b, se, r->iterations);
    fflush(stdout);
done:
    gravrd_reg_results_free(res);
    gravrd_frame_free(frame);
    gravrd_frame_free(flows);
    gravrd_study_free(study);
    if (names)
        gravrd_strings_free(names, n_names);
    remove_dir(dir);
    return rc;
}
