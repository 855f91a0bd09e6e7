/* html_trust.c - the two parts of the report that say how far to trust an
 * interval: the headline (the study's `headline` estimate with the paper's
 * pair-clustered interval beside the interval of the table's `inference`
 * method) and the section "Can these intervals be trusted?" (the design
 * check that `gravrd design --format json` wrote to OUT/design.json, with
 * its plot OUT/design.svg). */
#include "html_trust.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "html_util.h"

/* The column of a table JSON named name, or NULL. */
static const json_t *find_column(const json_t *table, const char *name)
{
    const json_t *cols = jr_arr(table, "columns");
    for (size_t i = 0; cols && i < json_array_size(cols); i++) {
        const json_t *c = json_array_get(cols, i);
        if (jr_str(c, "name") && !strcmp(jr_str(c, "name"), name))
            return c;
    }
    return NULL;
}

static const json_t *find_coef_key(const json_t *col, const char *key)
{
    const json_t *coefs = jr_arr(col, "coefficients");
    for (size_t i = 0; coefs && i < json_array_size(coefs); i++) {
        const json_t *c = json_array_get(coefs, i);
        if (jr_str(c, "key") && !strcmp(jr_str(c, "key"), key))
            return c;
    }
    return NULL;
}

/* "p 0.012, 95% interval [a, b]" */
static void p_and_interval(FILE *out, double p, double lo, double hi)
{
    char b[64];
    fprintf(out, "p = %s, 95%% interval [", hfmt(b, p, 3));
    fprintf(out, "%s, ", hfmt(b, lo, 3));
    fprintf(out, "%s]", hfmt(b, hi, 3));
}

void html_headline(FILE *out, const char *out_dir, const json_t *rep)
{
    const char *h = rep ? jr_str(rep, "headline") : NULL;
    if (!h)
        return;
    char table[128], column[128], term[128];
    const char *s1 = strchr(h, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || (size_t)(s1 - h) >= sizeof table || (size_t)(s2 - s1 - 1) >= sizeof column ||
        strlen(s2 + 1) >= sizeof term)
        return;
    snprintf(table, sizeof table, "%.*s", (int)(s1 - h), h);
    snprintf(column, sizeof column, "%.*s", (int)(s2 - s1 - 1), s1 + 1);
    snprintf(term, sizeof term, "%s", s2 + 1);
    char name[160];
    snprintf(name, sizeof name, "%s.json", table);
    char *path = html_join(out_dir, name);
    json_t *tj = NULL;
    gravrd_error err;
    int ok = path && !jr_parse_file(path, &tj, &err);
    free(path);
    const json_t *col = ok ? find_column(tj, column) : NULL;
    const json_t *c = col ? find_coef_key(col, term) : NULL;
    fputs("<section id=\"headline\" class=\"headline\"><h2>Headline</h2>\n<p>", out);
    if (!c || !isfinite(jr_num(c, "estimate"))) {
        fputs("The headline estimate ", out);
        html_esc(out, h);
        fputs(" is not in this run.</p></section>\n", out);
        json_decref(tj);
        return;
    }
    char b[64];
    fputs("<b>", out);
    html_esc(out, jr_str(c, "name") ? jr_str(c, "name") : term);
    fputs("</b> in ", out);
    html_esc(out, jr_str(tj, "paper") && jr_str(tj, "paper")[0] ? jr_str(tj, "paper") : table);
    fputs(" (", out);
    html_esc(out, jr_str(tj, "title"));
    fputs("), ", out);
    html_esc(out, jr_str(col, "outcome"));
    fputs(", ", out);
    html_esc(out, jr_str(col, "label"));
    fprintf(out, ": <b>%s</b>.</p>\n<ul>\n<li>Clustered as the paper (", hfmt(b, jr_num(c, "estimate"), 3));
    html_esc(out, jr_str(col, "vcov"));
    fprintf(out, "): SE %s, ", hfmt(b, jr_num(c, "se"), 3));
    p_and_interval(out, jr_num(c, "p"), jr_num(c, "ci_lo"), jr_num(c, "ci_hi"));
    fputs(".</li>\n", out);
    const json_t *inf = jr_get(c, "inference"), *ci = inf ? jr_get(inf, "ci") : NULL;
    if (inf && json_is_array(ci)) {
        fputs("<li>With <b>", out);
        html_esc(out, jr_str(inf, "method"));
        fputs("</b> inference, the study's choice for this table (see <a href=\"#trust\">Can these intervals be "
              "trusted?</a>): ",
              out);
        if (isfinite(jr_num(inf, "se")))
            fprintf(out, "SE %s, ", hfmt(b, jr_num(inf, "se"), 3));
        p_and_interval(out, jr_num(inf, "p"), jr_number(json_array_get(ci, 0)), jr_number(json_array_get(ci, 1)));
        fputs(".</li>\n", out);
    }
    double truth = jr_num(c, "truth");
    if (isfinite(truth))
        fprintf(out, "<li>Planted in the simulated data: %s.</li>\n", hfmt(b, truth, 3));
    fputs("</ul></section>\n", out);
    json_decref(tj);
}

static void design_model(FILE *out, const json_t *m)
{
    char b[64];
    const char *name = jr_str(m, "model");
    fputs("<h3>", out);
    html_esc(out, name && !strcmp(name, "gravity") ? "Gravity" : "Spatial RD");
    fputs("</h3>\n<p class=\"formula\"><code>", out);
    html_esc(out, jr_str(m, "formula"));
    fprintf(out, "</code>, west to east. Mean estimate %s", hfmt(b, jr_num(m, "mean_estimate"), 3));
    fprintf(out, " (sd %s over worlds), ", hfmt(b, jr_num(m, "sd_estimate"), 3));
    fprintf(out, "mean truth %s, ", hfmt(b, jr_num(m, "mean_truth"), 3));
    fprintf(out, "mean estimate without any effect %s.</p>\n", hfmt(b, jr_num(m, "mean_null_estimate"), 3));
    fputs("<table class=\"design\"><thead><tr><th>method</th><th>coverage of the 95% interval</th><th>rejection of a "
          "true null at 5%</th><th>mean interval length</th><th>power</th><th>MDE (80% power)</th></tr></thead>"
          "<tbody>\n",
          out);
    const char *rec = jr_str(m, "recommended");
    const json_t *methods = jr_arr(m, "methods");
    for (size_t j = 0; methods && j < json_array_size(methods); j++) {
        const json_t *d = json_array_get(methods, j);
        const char *mn = jr_str(d, "method");
        int is_rec = rec && mn && !strcmp(rec, mn);
        fprintf(out, "<tr%s><td>", is_rec ? " class=\"rec\"" : "");
        html_esc(out, mn);
        fputs(is_rec ? " (recommended)" : "", out);
        const char *keys[] = {"coverage", "null_rejection", "mean_length", "power", "mde"};
        for (int k = 0; k < 5; k++)
            fprintf(out, "</td><td>%s", hfmt(b, jr_num(d, keys[k]), 3));
        fputs("</td></tr>\n", out);
    }
    fputs("</tbody></table>\n", out);
    if (rec) {
        fputs("<p>Recommended: <b>", out);
        html_esc(out, rec);
        fputs(jr_bool(m, "recommended_nominal") > 0
                  ? "</b>, with coverage and size within 0.02 of nominal.</p>\n"
                  : "</b>, the closest to nominal, but outside 0.95 &plusmn; 0.02 / 0.05 &plusmn; 0.02: no method "
                    "gives honest intervals for this model here.</p>\n",
              out);
    }
}

int html_design_section(FILE *out, const char *out_dir)
{
    fputs("<h2 id=\"trust\">Can these intervals be trusted?</h2>\n", out);
    char *path = html_join(out_dir, "design.json");
    json_t *d = NULL;
    gravrd_error err;
    int ok = path && !jr_parse_file(path, &d, &err);
    free(path);
    if (!ok) {
        fputs("<p>No design check in this folder. <code>gravrd design --format json --out OUT/design.json --plot "
              "OUT/design.svg</code> simulates many worlds on the study's geography and partnerships and measures "
              "how often each inference method's 95% interval covers the truth; <code>make demo</code> runs it "
              "on the default world.</p>\n",
              out);
        return 0;
    }
    char b[64], b2[64];
    fputs("<p>An interval is only as good as its coverage. The design check simulated ", out);
    fprintf(out, "%.0f worlds of %.0f months on the ", jr_num(d, "worlds"), jr_num(d, "months"));
    html_esc(out, jr_str(d, "geography"));
    fprintf(out,
            " geography with the planted west-to-east effect %s and, for the same worlds, without any partnership "
            "effect, and fitted the study's main models with each inference method. Coverage counts the worlds "
            "whose 95%% interval holds the world's truth (its estimate minus the estimate without the effect); "
            "the rejection rate counts the worlds without effect where the 5%% test rejects. Both should be "
            "0.95 and 0.05; with this many worlds each is measured to &plusmn;%s (95%%). Methods: <i>pair</i> "
            "clusters by city pair as the paper; <i>segment_pair</i> by exporter segment &times; importer segment; "
            "<i>dyadic</i> two-way by exporter and importer city; <i>wild</i> is the wild cluster bootstrap by "
            "segment pair; <i>ri</i> randomization inference over placebo partnerships "
            "(docs/inference.md).</p>\n",
            hfmt(b, jr_num(d, "effect"), 2), hfmt(b2, 1.96 * jr_num(d, "mc_se"), 3));
    const json_t *models = jr_arr(d, "models");
    for (size_t m = 0; models && m < json_array_size(models); m++)
        design_model(out, json_array_get(models, m));
    char *svg_path = html_join(out_dir, "design.svg");
    char *svg = svg_path ? html_read_file(svg_path, NULL) : NULL;
    free(svg_path);
    if (svg) {
        fputs("<figure class=\"trust\" id=\"design-plot\">", out);
        html_inline_svg(out, svg, "design-");
        fputs("<figcaption>Coverage against rejection of a true null, per model and method, with Monte Carlo 95% "
              "bars; the green box is nominal &plusmn; 0.02; * marks the recommended method.</figcaption></figure>\n",
              out);
        free(svg);
    }
    json_decref(d);
    return 1;
}
