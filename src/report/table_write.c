/* table_write.c - the files of `gravrd replicate`: every table as Markdown
 * (table_md.c), LaTeX (table_tex.c), long CSV (table_csv.c) and JSON
 * (table_json.c, which also writes OUT/replication.json, the index), each
 * written to a temporary file and moved into place. */
#include <stdio.h>
#include <stdlib.h>

#include "report/table_internal.h"
#include "table/table_names.h"

/* ---- files ---- */

/* Writes to DIR/.NAME.EXT.tmp and renames it into place: a replicate run
 * that fails midway never leaves a truncated table behind. */
static gravrd_status write_file(const char *dir, const char *name, const char *ext, const gravrd_rep_table *t,
                                void (*fn)(FILE *, const gravrd_rep_table *), gravrd_error *err)
{
    char *path = plan_format("%s/%s.%s", dir, name, ext);
    char *tmp = plan_format("%s/.%s.%s.tmp", dir, name, ext);
    if (!path || !tmp) {
        free(path);
        free(tmp);
        return gravrd_error_set(err, GRAVRD_ERR_NOMEM, "out of memory");
    }
    FILE *f = fopen(tmp, "w");
    gravrd_status st = GRAVRD_OK;
    if (!f)
        st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot write", tmp);
    else {
        fn(f, t);
        int bad = ferror(f);
        if (fclose(f) || bad)
            st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: error writing", tmp);
        else if (rename(tmp, path))
            st = gravrd_error_set(err, GRAVRD_ERR_IO, "%s: cannot move into place", path);
        if (st)
            remove(tmp);
    }
    free(path);
    free(tmp);
    return st;
}

/* The four files of a table, in a fixed order; the first failure stops it. */
gravrd_status gravrd_rep_table_write(const gravrd_rep_table *t, const char *out_dir, gravrd_error *err)
{
    gravrd_status st;
    if ((st = write_file(out_dir, t->name, "md", t, table_write_md, err)) ||
        (st = write_file(out_dir, t->name, "tex", t, table_write_tex, err)) ||
        (st = write_file(out_dir, t->name, "csv", t, table_write_csv, err)) ||
        (st = write_file(out_dir, t->name, "json", t, table_write_json, err)))
        return st;
    return GRAVRD_OK;
}
