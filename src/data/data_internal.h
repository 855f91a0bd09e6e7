/* data_internal.h - helpers shared by the files in src/data (not public API).
 *
 * Kept out of include/gravrd so the public data.h stays small; nothing outside
 * src/data should need these. */
#ifndef GRAVRD_DATA_INTERNAL_H
#define GRAVRD_DATA_INTERNAL_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

#include "gravrd/data.h"

/* ---- number parsing (numparse.c) ---------------------------------------- */

/* Lazily created "C" locale for strtod/snprintf, so a host program that called
 * setlocale() with a decimal comma cannot change how files are read or
 * written. uselocale() only touches the calling thread. */
typedef struct {
    locale_t c_locale; /* (locale_t)0 until first needed */
    int failed;        /* newlocale failed: fall back to the current locale */
} gravrd_numctx;

void gravrd_numctx_init(gravrd_numctx *ctx);
void gravrd_numctx_free(gravrd_numctx *ctx);
/* Switches the calling thread to the C locale; returns the previous locale to
 * hand to gravrd_numctx_leave. */
locale_t gravrd_numctx_enter(gravrd_numctx *ctx);
void gravrd_numctx_leave(gravrd_numctx *ctx, locale_t previous);

/* Parses the longest prefix of s that is a decimal number:
 *   [+-] (digits [. digits*] | . digits) [(e|E) [+-] digits]
 * or [+-] inf / infinity / nan (any case). s must be terminated by a byte that
 * cannot continue a number (NUL, separator, newline, quote).
 * Returns a pointer just past the number and stores its value (correctly
 * rounded, identical to strtod; nan gives NaN), or returns NULL if s does not
 * start with a number. Never reads past the terminating byte. */
const char *gravrd_parse_double(const char *s, double *out, gravrd_numctx *ctx);

/* 128-bit truncated mantissas of 10^e for e = GRAVRD_POW10_128_MIN .. +347
 * (pow10_table.c), {low, high} words. */
#define GRAVRD_POW10_128_MIN (-348)
#define GRAVRD_POW10_128_COUNT 696
extern const uint64_t gravrd_pow10_128[GRAVRD_POW10_128_COUNT][2];

/* ---- string interning (intern.c) ---------------------------------------- */

/* A hash set of byte strings giving each distinct string a code 0, 1, ... in
 * order of first appearance. The strings are malloc'ed, NUL-terminated copies
 * that can be handed to a frame as a factor's level table. */
typedef struct {
    uint64_t hash;
    uint64_t w0, w1; /* strings of <= 16 bytes packed exactly (see intern.c) */
    size_t len;
} gravrd_intern_entry;

typedef struct {
    char **strs;                /* n strings */
    gravrd_intern_entry *ents;  /* n entries */
    int32_t n, cap;
    int32_t *slots;             /* open addressing: level index + 1, 0 = empty */
    size_t mask;                /* slots has mask + 1 entries (a power of two) */
    int32_t last;               /* code of the previous lookup, -1 if none: runs of
                                 * equal values (sorted data) skip the probe */
} gravrd_intern;

void gravrd_intern_init(gravrd_intern *t);
void gravrd_intern_free(gravrd_intern *t);
/* Code for s[0..len); adds it if new (only before gravrd_intern_sort).
 * -1 when out of memory, -2 when s contains a NUL byte (it could not
 * round-trip as a C string), -3 when there would be INT32_MAX - 1 levels. */
int32_t gravrd_intern_get(gravrd_intern *t, const char *s, size_t len);
/* Sorts the strings by strcmp and fills remap_n[old code] = new code
 * (remap_n has t->n entries). */
int gravrd_intern_sort(gravrd_intern *t, int32_t *remap_n);
/* Hands the string table over (t->strs set to NULL), then frees the rest. */
char **gravrd_intern_release(gravrd_intern *t, int32_t *n_out);

/* ---- 64-bit keys (u64map.c) ---------------------------------------------- */

/* Hash map from uint64 keys to dense ids 0, 1, ... in order of first insertion;
 * keys[id] gives the key back. Used for numeric group codes and code pairs. */
typedef struct {
    uint64_t *keys; /* n keys, by id */
    int32_t n;
    size_t cap_keys;
    int32_t *slots; /* id + 1, 0 = empty */
    size_t mask;
} gravrd_u64map;

int gravrd_u64map_init(gravrd_u64map *m, size_t expected);
void gravrd_u64map_free(gravrd_u64map *m);
/* Id of key, inserting it if new; -1 when out of memory or full. */
int32_t gravrd_u64map_get(gravrd_u64map *m, uint64_t key);

/* Sorts keys ascending and fills rank_n[id] = position of keys[id] in sorted
 * order (keys distinct). Radix sort, so millions of keys take milliseconds. */
int gravrd_u64_rank(const uint64_t *keys, int32_t n, int32_t *rank_n);

/* ---- frames (frame.c) ----------------------------------------------------- */

/* Appends a column without validation; the frame owns it afterwards, also on
 * failure (then it is freed). For internal callers that built it correctly. */
gravrd_status gravrd_frame_push_column(gravrd_frame *frame, gravrd_column *col, gravrd_error *err);
void gravrd_column_clear(gravrd_column *col);

/* ---- whole-file loading (file_load.c) ------------------------------------ */

/* Reads the whole file into a malloc'ed buffer, decompressing gzip data
 * (recognised by its magic bytes, whatever the name). The buffer has 2 spare
 * bytes after *len_out for the caller's sentinels. */
gravrd_status gravrd_load_file(const char *path, char **buf_out, size_t *len_out, gravrd_error *err);

/* ---- small helpers -------------------------------------------------------- */

/* Thread-safe strerror into buf. */
const char *gravrd_strerror(int errnum, char *buf, size_t len);
/* 1 if path ends with suffix (case-insensitive ASCII). */
int gravrd_path_has_suffix(const char *path, const char *suffix);

#endif
