/* intern.c - turns the text values of a column into factor codes.
 *
 * Every text field of a file passes through gravrd_intern_get, so the common
 * short values (country codes, periods like "2017-03") are compared without
 * memcmp: a string of up to 16 bytes is packed exactly into two 64-bit words
 * from a few overlapping loads (together with its length they determine it),
 * and those words double as the hash input. The previous value is remembered
 * because files are often sorted by their text columns. */
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

static uint64_t load64(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static uint64_t load32(const char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
    return w;
}

/* Exact packing of s[0..len) for len <= 16: the loads overlap but together
 * cover every byte, and each is at a position fixed by len. */
static void pack16(const char *s, size_t len, uint64_t *w0, uint64_t *w1)
{
    if (len >= 8) {
        *w0 = load64(s);
        *w1 = load64(s + len - 8);
    } else if (len >= 4) {
        *w0 = load32(s) | (load32(s + len - 4) << 32);
        *w1 = 0;
    } else if (len > 0) {
        *w0 = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[len >> 1] << 8 |
              (uint64_t)(unsigned char)s[len - 1] << 16;
        *w1 = 0;
    } else {
        *w0 = *w1 = 0;
    }
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93u;
    h ^= h >> 32;
    return h;
}

static uint64_t hash_long(const char *s, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15u ^ (uint64_t)len;
    while (len > 8) {
        h = (h ^ load64(s)) * 0xBF58476D1CE4E5B9u;
        h ^= h >> 31;
        s += 8;
        len -= 8;
    }
    h = (h ^ load64(s + len - 8)) * 0x94D049BB133111EBu; /* len >= 8 here */
    return mix(h);
}

void gravrd_intern_init(gravrd_intern *t)
{
    memset(t, 0, sizeof *t);
    t->last = -1;
}

void gravrd_intern_free(gravrd_intern *t)
{
    if (t->strs) {
        for (int32_t i = 0; i < t->n; i++)
            free(t->strs[i]);
        free(t->strs);
    }
    free(t->ents);
    free(t->slots);
    gravrd_intern_init(t);
}

static int grow_slots(gravrd_intern *t)
{
    size_t nslots = t->slots ? (t->mask + 1) * 2 : 64;
    int32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    size_t mask = nslots - 1;
    for (int32_t i = 0; i < t->n; i++) {
        size_t j = (size_t)t->ents[i].hash & mask;
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = i + 1;
    }
    free(t->slots);
    t->slots = slots;
    t->mask = mask;
    return 0;
}

static int grow_levels(gravrd_intern *t)
{
    int32_t cap = t->cap ? (t->cap > INT32_MAX / 2 ? INT32_MAX : t->cap * 2) : 16;
    char **strs = realloc(t->strs, (size_t)cap * sizeof *strs);
    if (!strs)
        return -1;
    t->strs = strs;
    gravrd_intern_entry *ents = realloc(t->ents, (size_t)cap * sizeof *ents);
    if (!ents)
        return -1;
    t->ents = ents;
    t->cap = cap;
    return 0;
}

static int same(const gravrd_intern *t, int32_t k, uint64_t h, uint64_t w0, uint64_t w1,
                const char *s, size_t len)
{
    const gravrd_intern_entry *e = &t->ents[k];
    if (e->hash != h || e->len != len || e->w0 != w0 || e->w1 != w1)
        return 0;
    return len <= 16 || memcmp(t->strs[k], s, len) == 0;
}

int32_t gravrd_intern_get(gravrd_intern *t, const char *s, size_t len)
{
    uint64_t w0, w1, h;
    if (len <= 16) {
        pack16(s, len, &w0, &w1);
        h = mix((w0 * 0x9E3779B97F4A7C15u) ^ (w1 * 0xC2B2AE3D27D4EB4Fu) ^ len);
    } else {
        w0 = load64(s);
        w1 = load64(s + 8);
        h = hash_long(s, len);
    }
    if (t->last >= 0 && same(t, t->last, h, w0, w1, s, len))
        return t->last;
    if (t->slots) {
        size_t j = (size_t)h & t->mask;
        int32_t k;
        while ((k = t->slots[j]) != 0) {
            if (same(t, k - 1, h, w0, w1, s, len)) {
                t->last = k - 1;
                return k - 1;
            }
            j = (j + 1) & t->mask;
        }
    }

    /* A new level: the rare path, so the checks live here. */
    if (memchr(s, '\0', len))
        return -2;
    if (t->n >= INT32_MAX - 1)
        return -3;
    if (!t->slots || (size_t)(t->n + 1) * 2 > t->mask + 1) {
        if (grow_slots(t))
            return -1;
    }
    if (t->n == t->cap && grow_levels(t))
        return -1;
    char *copy = malloc(len + 1);
    if (!copy)
        return -1;
    memcpy(copy, s, len);
    copy[len] = '\0';

    int32_t k = t->n++;
    t->strs[k] = copy;
    t->ents[k].hash = h;
    t->ents[k].w0 = w0;
    t->ents[k].w1 = w1;
    t->ents[k].len = len;
    size_t j = (size_t)h & t->mask;
    while (t->slots[j])
        j = (j + 1) & t->mask;
    t->slots[j] = k + 1;
    t->last = k;
    return k;
}

typedef struct {
    const char *s;
    int32_t old;
} level_ref;

static int cmp_level_ref(const void *a, const void *b)
{
    return strcmp(((const level_ref *)a)->s, ((const level_ref *)b)->s);
}

int gravrd_intern_sort(gravrd_intern *t, int32_t *remap_n)
{
    if (t->n == 0)
        return 0;
    level_ref *refs = malloc((size_t)t->n * sizeof *refs);
    char **sorted = malloc((size_t)t->n * sizeof *sorted);
    if (!refs || !sorted) {
        free(refs);
        free(sorted);
        return -1;
    }
    for (int32_t i = 0; i < t->n; i++) {
        refs[i].s = t->strs[i];
        refs[i].old = i;
    }
    qsort(refs, (size_t)t->n, sizeof *refs, cmp_level_ref);
    for (int32_t i = 0; i < t->n; i++) {
        remap_n[refs[i].old] = i;
        sorted[i] = (char *)refs[i].s;
    }
    free(refs);
    /* The lookup structures index the old order. After sorting the table is
     * only released or freed, so drop them instead of rebuilding. */
    free(t->strs);
    t->strs = sorted;
    free(t->ents);
    t->ents = NULL;
    free(t->slots);
    t->slots = NULL;
    t->mask = 0;
    t->last = -1;
    t->cap = t->n;
    return 0;
}

char **gravrd_intern_release(gravrd_intern *t, int32_t *n_out)
{
    char **strs = t->strs;
    *n_out = t->n;
    t->strs = NULL;
    t->n = 0;
    gravrd_intern_free(t);
    return strs;
}
