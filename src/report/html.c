/* html.c - the replication report OUT/index.html (gravrd/html.h): one
 * self-contained page with the run's header, the figures (inline SVG) and
 * every table of replication.json (html_tables.c), plus a small inline
 * script that records errors and counts what rendered. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gravrd/data.h"
#include "html_tables.h"
#include "html_trust.h"
#include "html_util.h"

/* ---- files ---- */

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* SVG file names in dir, sorted; *n entries, malloc'ed. */
static gravrd_status list_svgs(const char *dir, char ***out, size_t *n_out, gravrd_error *err)
{
    *out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    gravrd_status st = GRAVRD_OK;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".svg") || e->d_name[0] == '.')
            continue;
        if (!strcmp(e->d_name, "design.svg"))
            continue; /* the design check's plot has its own section */
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
                break;
            }
            names = nn;
        }
        if (!(names[n] = malloc(len + 1))) {
            st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(names[n++], e->d_name, len + 1);
    }
    closedir(d);
    if (st) {
        gravrd_strings_free(names, n);
        return st;
    }
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    *out = names;
    *n_out = n;
    return GRAVRD_OK;
}

/* ---- the page ---- */

static const char PAGE_CSS[] =
    "body{font-family:Helvetica,Arial,sans-serif;color:#222;max-width:1280px;margin:0 auto;padding:0 20px 40px;"
    "line-height:1.4;background:#fff}\n"
    "h1{font-size:1.6em;margin:0.8em 0 0.2em}h2{border-bottom:2px solid #333;padding-bottom:4px;margin-top:2em}\n"
    "h3{margin:1.6em 0 0.2em}h4.panel{margin:0.8em 0 0.2em;font-size:1em}\n"
    "table{border-collapse:collapse;font-size:13px}\n"
    "section.headline{background:#f3f7fb;border-left:4px solid #1f77b4;padding:4px 14px;margin:1em 0}\n"
    "table.design td,table.design th{padding:3px 10px;text-align:right;border-bottom:1px solid #ddd}"
    "table.design td:first-child{text-align:left}table.design tr.rec{background:#e8f5e9;font-weight:bold}\n"
    "table.info td,table.info th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}\n"
    "div.scroll{overflow-x:auto}\n"
    "table.result{margin:6px 0;border-top:2px solid #333;border-bottom:2px solid #333}\n"
    "table.result th,table.result td{padding:2px 8px;text-align:center;white-space:nowrap}\n"
    "table.result thead th{border-bottom:1px solid #999;font-weight:600}\n"
    "table.result th.row{text-align:left;font-weight:normal;max-width:26em;white-space:normal}\n"
    "table.result tr.est td,table.result tr.est th{border-top:1px solid #e3e3e3}\n"
    "table.result tr.first td,table.result tr.first th{border-top:1px solid #999}\n"
    "td.src{color:#888;font-size:11px;text-align:right!important;font-style:italic}\n"
    "tr.se td{color:#444}\n"
    "tr.paper td{color:#7a5200;background:#fff8e6}\n"
    "span.pub{color:#7a5200;background:#fff8e6;font-size:12px}\n"
    "tr.truth td{background:#f2f7ff}\n"
    "td.in .mark{color:#1a7f37;font-weight:bold}td.out .mark{color:#c62828;font-weight:bold}\n"
    "td.out{background:#fdecea!important}\n"
    "td.fail{color:#c62828;font-style:italic}\n"
    "tr.panelrow th{text-align:left!important;background:#f4f4f4}\n"
    "tr.small td,td.small{font-size:11px;color:#666;white-space:normal}\n"
    "sup.stars{font-size:10px}\n"
    "span.status{font-size:11px;font-weight:normal;padding:1px 6px;border-radius:8px;vertical-align:middle}\n"
    "span.status.ok{background:#e6f4ea;color:#1a7f37}span.status.partial{background:#fff4e5;color:#a35c00}\n"
    "span.status.failed{background:#fdecea;color:#c62828}\n"
    "p.files{font-size:12px;color:#666;margin:0 0 4px}\n"
    "p.err,ul.errors{color:#c62828}ul.notes{font-size:12px;color:#444;margin:4px 0}\n"
    "pre.md{font-size:12px;background:#f7f7f7;padding:8px;overflow-x:auto}\n"
    "figure.fig{margin:16px 0;display:inline-block;vertical-align:top;max-width:100%}\n"
    "figure.fig svg{max-width:100%;height:auto;border:1px solid #ddd}\n"
    "figure.fig figcaption{font-size:12px;color:#444;max-width:820px}\n"
    "figure.missing{color:#c62828}\n"
    "div.legend{font-size:13px;background:#fafafa;border:1px solid #e3e3e3;padding:6px 12px}\n"
    "nav ol{columns:2;font-size:13px}\n"
    "#page-errors{color:#c62828}\n";

/* Records errors (window errors, failed loads, CSP violations,
 * console.error) and, when gravrdReport() runs, counts what rendered into
 * data attributes of <body>. */
static const char PAGE_SCRIPT[] =
    "(function(){var errs=[];function note(m){errs.push(String(m));if(document.body)show();}\n"
    "function show(){var b=document.body;b.setAttribute('data-errors',String(errs.length));\n"
    "var e=document.getElementById('page-errors');if(e)e.textContent=errs.join('\\n');}\n"
    "window.addEventListener('error',function(e){note(e.message||('failed to load '+"
    "((e.target&&(e.target.src||e.target.href))||'a resource')));},true);\n"
    "window.addEventListener('unhandledrejection',function(){note('unhandled promise rejection');});\n"
    "document.addEventListener('securitypolicyviolation',function(e){note('blocked: '+e.blockedURI);});\n"
    "var ce=console.error;console.error=function(){note(Array.prototype.slice.call(arguments).join(' '));"
    "if(ce)ce.apply(console,arguments);};\n"
    "window.gravrdReport=function(){var b=document.body,r=0,f=0,fr=0,i;\n"
    "var s=document.querySelectorAll('section.tbl');for(i=0;i<s.length;i++){"
    "if(s[i].getAttribute('data-state')==='ok'&&s[i].querySelector('table.result'))r++;else f++;}\n"
    "var g=document.querySelectorAll('figure.fig svg');for(i=0;i<g.length;i++){var q=g[i].getBoundingClientRect();"
    "if(q.width>0&&q.height>0&&g[i].querySelector('g'))fr++;}\n"
    "var res=(window.performance&&performance.getEntriesByType)?performance.getEntriesByType('resource').length:0;\n"
    "b.setAttribute('data-tables-rendered',String(r));b.setAttribute('data-tables-failed',String(f));\n"
    "b.setAttribute('data-figures-rendered',String(fr));b.setAttribute('data-resources',String(res));\n"
    "show();b.setAttribute('data-report','complete');};\n"
    "window.addEventListener('load',function(){window.gravrdReport();});})();\n";

static void info_row(FILE *out, const char *label, const char *value)
{
    if (!value)
        return;
    fprintf(out, "<tr><th>%s</th><td>", label);
    html_esc(out, value);
    fputs("</td></tr>\n", out);
}

/* Figures: figures.json entries, then other SVG files. Writes the figure
 * elements into out. */
static gravrd_status render_figures(FILE *out, const char *out_dir, gravrd_html_summary *sum, gravrd_error *err)
{
    json_t *fj = NULL;
    char *fj_path = html_join(out_dir, "figures.json");
    if (!fj_path)
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    gravrd_status st = GRAVRD_OK;
    if (file_exists(fj_path) && (st = jr_parse_file(fj_path, &fj, err))) {
        free(fj_path);
        return st;
    }
    free(fj_path);
    char **svgs = NULL;
    size_t n_svgs = 0;
    if ((st = list_svgs(out_dir, &svgs, &n_svgs, err))) {
        json_decref(fj);
        return st;
    }
    unsigned char *listed = calloc(n_svgs ? n_svgs : 1, 1);
    if (!listed) {
        gravrd_strings_free(svgs, n_svgs);
        json_decref(fj);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    const json_t *figs = jr_arr(fj, "figures");
    size_t n_entries = figs ? json_array_size(figs) : 0, fig_no = 0;
    const char *last_group = NULL;
    for (size_t k = 0; k < n_entries + n_svgs; k++) {
        const json_t *e = k < n_entries ? json_array_get(figs, k) : NULL;
        const char *file, *title, *caption = NULL, *group;
        if (e) {
            file = jr_str(e, "file");
            title = jr_str(e, "title");
            caption = jr_str(e, "caption");
            group = jr_str(e, "group");
            for (size_t s = 0; file && s < n_svgs; s++)
                if (!strcmp(svgs[s], file))
                    listed[s] = 1;
        } else {
            size_t s = k - n_entries;
            if (listed[s])
                continue;
            file = title = svgs[s];
            group = "Other figures";
        }
        if (!file)
            continue;
        sum->figures_listed++;
        fig_no++;
        if (group && (!last_group || strcmp(group, last_group))) {
            fputs("<h3>", out);
            html_esc(out, group);
            fputs("</h3>\n", out);
            last_group = group;
        }
        char prefix[32];
        snprintf(prefix, sizeof prefix, "f%zu-", fig_no);
        char *path = html_join(out_dir, file);
        char *text = path ? html_read_file(path, NULL) : NULL;
        free(path);
        fputs("<figure class=\"fig\" data-file=\"", out);
        html_esc(out, file);
        fputs("\">\n", out);
        if (text && html_inline_svg(out, text, prefix)) {
            sum->figures_inlined++;
            fputs("\n", out);
        } else {
            fputs("<p class=\"err\">Figure file ", out);
            html_esc(out, file);
            fputs(text ? " is not an SVG document that can be inlined.</p>\n" : " is missing or unreadable.</p>\n",
                  out);
        }
        free(text);
        fputs("<figcaption><b>", out);
        html_esc(out, title ? title : file);
        fputs("</b>", out);
        if (caption) {
            fputs(" ", out);
            html_esc(out, caption);
        }
        fputs("</figcaption></figure>\n", out);
    }
    const json_t *warn = jr_arr(fj, "warnings");
    if (warn && json_array_size(warn)) {
        fputs("<ul class=\"errors\">", out);
        for (size_t i = 0; i < json_array_size(warn); i++)
            if (json_is_string(json_array_get(warn, i))) {
                fputs("<li>", out);
                html_esc(out, json_string_value(json_array_get(warn, i)));
                fputs("</li>", out);
            }
        fputs("</ul>\n", out);
    }
    if (!sum->figures_listed)
        fputs("<p class=\"err\">No figures in this folder (figures.json or SVG files).</p>\n", out);
    free(listed);
    gravrd_strings_free(svgs, n_svgs);
    json_decref(fj);
    return GRAVRD_OK;
}

gravrd_status gravrd_report_html(const char *out_dir, const gravrd_html_options *opt, gravrd_html_summary *sum_out,
                                 gravrd_error *err)
{
    if (!out_dir)
        return gravrd_error_set(err, GRAVRD_ERR_INVALID, "report: no output folder");
    gravrd_html_summary sum;
    memset(&sum, 0, sizeof sum);
    gravrd_status st = GRAVRD_OK;
    json_t *rep = NULL, *truth = NULL;
    char *rep_path = html_join(out_dir, "replication.json"), *index_path = html_join(out_dir, "index.html");
    char *tmp_path = html_join(out_dir, ".index.html.tmp");
    char *figs = NULL, *tabs = NULL, *toc = NULL;
    size_t figs_len = 0, tabs_len = 0, toc_len = 0;
    FILE *fb = NULL, *tb = NULL, *cb = NULL, *out = NULL;
    if (!rep_path || !index_path || !tmp_path) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    struct stat dst;
    if (stat(out_dir, &dst) != 0 || !S_ISDIR(dst.st_mode)) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: not a folder", out_dir);
        goto done;
    }
    int have_rep = file_exists(rep_path);
    if (have_rep && (st = jr_parse_file(rep_path, &rep, err)))
        goto done;
    if (have_rep && !json_is_object(rep)) {
        st = gravrd_error_set(err, GRAVRD_ERR_PARSE, "%s: not a JSON object", rep_path);
        goto done;
    }
    const char *data_dir = opt && opt->data_dir ? opt->data_dir : jr_str(rep, "data");
    if (data_dir) {
        char *tp = html_join(data_dir, "truth.json");
        if (tp && file_exists(tp)) {
            gravrd_error e2 = {0};
            if (jr_parse_file(tp, &truth, &e2))
                truth = NULL;
        }
        free(tp);
    }
    int has_truth_flag = jr_bool(rep, "has_truth");
    int show_truth = has_truth_flag == 1 || truth != NULL || (has_truth_flag < 0 && !have_rep);

    /* figures */
    if (!(fb = open_memstream(&figs, &figs_len))) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    st = render_figures(fb, out_dir, &sum, err);
    fclose(fb);
    fb = NULL;
    if (st)
        goto done;

    /* tables and the table of contents */
    if (!(tb = open_memstream(&tabs, &tabs_len)) || !(cb = open_memstream(&toc, &toc_len))) {
        st = gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
        goto done;
    }
    const json_t *tables = jr_arr(rep, "tables");
    if (have_rep && !tables)
        fputs("<p class=\"err\">replication.json lists no tables.</p>\n", tb);
    if (!have_rep)
        fputs("<p class=\"err\">No replication.json in this folder: no tables to show (run gravrd replicate).</p>\n",
              tb);
    for (size_t i = 0; tables && i < json_array_size(tables); i++) {
        const json_t *entry = json_array_get(tables, i);
        const char *name = jr_str(entry, "name");
        const json_t *files = jr_get(entry, "files");
        const char *jfile = files ? jr_str(files, "json") : NULL;
        char *alloc_name = NULL;
        if (!jfile && name) {
            size_t len = strlen(name) + 6;
            if ((alloc_name = malloc(len)))
                snprintf(alloc_name, len, "%s.json", name);
            jfile = alloc_name;
        }
        json_t *table = NULL;
        char load_error[GRAVRD_ERROR_MSG_LEN + 64] = "";
        if (jfile) {
            char *jp = html_join(out_dir, jfile);
            gravrd_error e2 = {0};
            if (!jp)
                snprintf(load_error, sizeof load_error, "out of memory");
            else if (!file_exists(jp))
                snprintf(load_error, sizeof load_error, "%s is missing", jfile);
            else if (jr_parse_file(jp, &table, &e2)) {
                snprintf(load_error, sizeof load_error, "%s", e2.message);
                table = NULL;
            }
            free(jp);
        } else
            snprintf(load_error, sizeof load_error, "replication.json entry %zu has no name", i + 1);
        free(alloc_name);
        sum.tables_listed++;
        int ok = html_table_section(tb, out_dir, entry, table, load_error[0] ? load_error : NULL, show_truth, &sum);
        if (ok)
            sum.tables_rendered++;
        else
            sum.tables_failed++;
        const char *status = jr_str(entry, "status");
        fputs("<li><a href=\"#t-", cb);
        html_esc(cb, name ? name : "unnamed");
        fputs("\">", cb);
        if (jr_str(entry, "paper") && jr_str(entry, "paper")[0]) {
            html_esc(cb, jr_str(entry, "paper"));
            fputs(": ", cb);
        }
        html_esc(cb, jr_str(entry, "title") ? jr_str(entry, "title") : name);
        fputs("</a>", cb);
        if (!ok || (status && strcmp(status, "ok"))) {
            fputs(" <span class=\"status ", cb);
            fputs(ok ? "partial" : "failed", cb);
            fputs("\">", cb);
            html_esc(cb, ok ? (status ? status : "partial") : "failed");
            fputs("</span>", cb);
        }
        fputs("</li>\n", cb);
        json_decref(table);
    }
    fclose(tb);
    tb = NULL;
    fclose(cb);
    cb = NULL;

    /* the page */
    if (!(out = fopen(tmp_path, "w"))) {
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write: %s", tmp_path, strerror(errno));
        goto done;
    }
    const char *study_title = jr_str(rep, "study_title");
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
          "script-src 'unsafe-inline'; img-src data:\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          out);
    if (opt && opt->title)
        html_esc(out, opt->title);
    else {
        fputs("gravrd replication report", out);
        if (study_title) {
            fputs(": ", out);
            html_esc(out, study_title);
        }
    }
    fprintf(out, "</title>\n<style>\n%s</style>\n<script>\n%s</script>\n</head>\n", PAGE_CSS, PAGE_SCRIPT);
    fprintf(out, "<body data-tables-listed=\"%zu\" data-figures-listed=\"%zu\" data-errors=\"0\">\n",
            sum.tables_listed, sum.figures_listed);
    fputs("<header>\n<h1>", out);
    if (opt && opt->title)
        html_esc(out, opt->title);
    else
        html_esc(out, study_title ? study_title : "gravrd replication report");
    fputs("</h1>\n<table class=\"info\">\n", out);
    char b[64];
    info_row(out, "Study file", jr_str(rep, "study"));
    info_row(out, "Data folder", data_dir);
    if (jr_str(rep, "flow"))
        info_row(out, "Flows as",
                 !strcmp(jr_str(rep, "flow"), "log") ? "log (positive flows only)" : "log1p (log(1 + x), zeros kept)");
    if (isfinite(jr_num(rep, "models"))) {
        snprintf(b, sizeof b, "%.0f", jr_num(rep, "models"));
        info_row(out, "Models", b);
    }
    if (isfinite(jr_num(rep, "seconds"))) {
        snprintf(b, sizeof b, "%.1f s", jr_num(rep, "seconds"));
        info_row(out, "Run time", b);
    }
    if (jr_num(rep, "bootstrap") > 0) {
        snprintf(b, sizeof b, "%.0f replications", jr_num(rep, "bootstrap"));
        info_row(out, "Bootstrap", b);
    }
    if (have_rep) {
        char s[160];
        snprintf(s, sizeof s, "%s: %zu tables, %zu rendered, %zu failed",
                 jr_str(rep, "status") ? jr_str(rep, "status") : "?", sum.tables_listed, sum.tables_rendered,
                 sum.tables_failed);
        info_row(out, "Status", s);
    }
    if (truth) {
        char s[200];
        double seed = jr_num(truth, "seed"), months = jr_num(truth, "months");
        snprintf(s, sizeof s, "truth.json of %s%s%.0f%s%.0f%s", jr_str(truth, "generator") ? jr_str(truth, "generator") : "the data",
                 isfinite(seed) ? " (seed " : "", isfinite(seed) ? seed : 0, isfinite(seed) ? ", " : "",
                 isfinite(months) ? months : 0, isfinite(months) ? " months)" : "");
        info_row(out, "Planted values", s);
    }
    info_row(out, "Generator", jr_str(rep, "version") ? jr_str(rep, "version") : NULL);
    fputs("</table>\n</header>\n", out);

    fputs("<div class=\"legend\"><b>How to read the tables.</b> For each estimate: <i>gravrd</i>, our estimate "
          "with significance stars (* p &lt; 0.10, ** p &lt; 0.05, *** p &lt; 0.01) and its standard error in "
          "parentheses beneath; <i>paper</i> (shaded yellow), the number the paper publishes, with its standard "
          "error",
          out);
    if (show_truth)
        fputs("; <i>truth</i> (shaded blue), the value planted in the simulated data, marked "
              "<span style=\"color:#1a7f37;font-weight:bold\">&#10003;</span> when it lies in our 95% interval and "
              "<span style=\"color:#c62828;font-weight:bold\">&#10007;</span> when it does not",
              out);
    fputs(". Hover over a column header for its formula and sample.</div>\n", out);
    if (show_truth) {
        fprintf(out, "<p id=\"truth-summary\"><b>Planted values:</b> %zu estimates carry one; ", sum.truth_checked);
        if (sum.truth_checked)
            fprintf(out,
                    "%zu of them (%.0f%%) lie in our 95%% interval. With correct intervals about 95%% should "
                    "(estimates in one table share data, so misses come in groups).</p>\n",
                    sum.truth_covered, 100.0 * (double)sum.truth_covered / (double)sum.truth_checked);
        else
            fputs("none was checked.</p>\n", out);
    }
    fprintf(out, "<p>%zu estimates are shown beside a published number.</p>\n", sum.published);
    html_headline(out, out_dir, rep);

    fputs("<nav><h2>Contents</h2>\n<ol>\n<li><a href=\"#trust\">Can these intervals be trusted?</a></li>\n"
          "<li><a href=\"#figures\">Figures</a></li>\n",
          out);
    if (toc)
        fwrite(toc, 1, toc_len, out);
    fputs("</ol></nav>\n", out);
    html_design_section(out, out_dir);
    fputs("<h2 id=\"figures\">Figures</h2>\n", out);
    if (figs)
        fwrite(figs, 1, figs_len, out);
    fputs("<h2 id=\"tables\">Tables</h2>\n", out);
    if (tabs)
        fwrite(tabs, 1, tabs_len, out);
    fputs("<footer><p>Written by gravrd. This page is self-contained: it loads nothing from the network.</p>\n"
          "<pre id=\"page-errors\"></pre></footer>\n<script>window.gravrdReport();</script>\n</body>\n</html>\n",
          out);
    int bad = ferror(out);
    if (fclose(out) != 0 || bad) {
        out = NULL;
        remove(tmp_path);
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: write error", tmp_path);
        goto done;
    }
    out = NULL;
    if (rename(tmp_path, index_path) != 0) {
        remove(tmp_path);
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write: %s", index_path, strerror(errno));
        goto done;
    }
done:
    if (fb)
        fclose(fb);
    if (tb)
        fclose(tb);
    if (cb)
        fclose(cb);
    if (out) {
        fclose(out);
        remove(tmp_path);
    }
    free(figs);
    free(tabs);
    free(toc);
    free(rep_path);
    free(index_path);
    free(tmp_path);
    json_decref(rep);
    json_decref(truth);
    if (sum_out)
        *sum_out = sum;
    return st;
}
