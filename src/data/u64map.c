/* u64map.c - hash map from 64-bit keys to dense ids, plus a radix ranking of
 * distinct keys.
 *
 * Group codes need "distinct values, numbered in sorted order" for columns
 * and code pairs with millions of rows. Hashing each row to a first-seen id and
 * then sorting only the distinct keys keeps that O(rows + distinct), and a
 * radix sort keeps the distinct part fast even when every row is distinct
 * (e.g. origin^destination^year interactions). */
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

static size_t mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDu;
    k ^= k >> 33;
    k *= 0xC4CEB9FE1A85EC53u;
    k ^= k >> 33;
    return (size_t)k;
}

int gravrd_u64map_init(gravrd_u64map *m, size_t expected)
{
    memset(m, 0, sizeof *m);
    /* Only a hint: start modest and grow, so a million rows with a handful of
     * distinct values do not allocate a million-slot table. */
    if (expected > 65536)
        expected = 65536;
    size_t nslots = 64;
    while (nslots < expected * 2)
        nslots *= 2;
    m->slots = calloc(nslots, sizeof *m->slots);
    m->cap_keys = expected > 16 ? expected : 16;
    m->keys = malloc(m->cap_keys * sizeof *m->keys);
    if (!m->slots || !m->keys) {
        gravrd_u64map_free(m);
        return -1;
    }
    m->mask = nslots - 1;
    return 0;
}

void gravrd_u64map_free(gravrd_u64map *m)
{
    free(m->keys);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

static int grow(gravrd_u64map *m)
{
    size_t nslots = (m->mask + 1) * 2;
    int32_t *slots = calloc(nslots, sizeof *slots);
    if (!slots)
        return -1;
    size_t mask = nslots - 1;
    for (int32_t i = 0; i < m->n; i++) {
        size_t j = mix(m->keys[i]) & mask;
        while (slots[j])
            j = (j + 1) & mask;
        slots[j] = i + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->mask = mask;
    return 0;
}

int32_t gravrd_u64map_get(gravrd_u64map *m, uint64_t key)
{
    size_t j = mix(key) & m->mask;
    int32_t k;
    while ((k = m->slots[j]) != 0) {
        if (m->keys[k - 1] == key)
            return k - 1;
        j = (j + 1) & m->mask;
    }
    if (m->n >= INT32_MAX - 1)
        return -1;
    if ((size_t)m->n == m->cap_keys) {
        size_t cap = m->cap_keys * 2;
        uint64_t *keys = realloc(m->keys, cap * sizeof *keys);
        if (!keys)
            return -1;
        m->keys = keys;
        m->cap_keys = cap;
    }
    if ((size_t)(m->n + 1) * 2 > m->mask + 1) {
        if (grow(m))
            return -1;
        j = mix(key) & m->mask;
        while (m->slots[j])
            j = (j + 1) & m->mask;
    }
    int32_t id = m->n++;
    m->keys[id] = key;
    m->slots[j] = id + 1;
    return id;
}

typedef struct {
    uint64_t key;
    int32_t id;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    uint64_t x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
    return (x > y) - (x < y);
}

int gravrd_u64_rank(const uint64_t *keys, int32_t n, int32_t *rank_n)
{
    if (n <= 0)
        return 0;
    size_t nn = (size_t)n;
    keyed *a = malloc(nn * sizeof *a);
    if (!a)
        return -1;
    uint64_t all_or = 0, all_and = ~(uint64_t)0;
    for (size_t i = 0; i < nn; i++) {
        a[i].key = keys[i];
        a[i].id = (int32_t)i;
        all_or |= keys[i];
        all_and &= keys[i];
    }
    if (nn < 1024) {
        qsort(a, nn, sizeof *a, cmp_keyed);
    } else {
        /* LSD radix sort, 16 bits per pass; a pass is skipped when its digit
         * is the same in every key (small keys need one or two passes). */
        keyed *b = malloc(nn * sizeof *b);
        size_t *count = malloc(65536 * sizeof *count);
        if (!b || !count) {
            free(a);
            free(b);
            free(count);
            return -1;
        }
        uint64_t varying = all_or ^ all_and;
        for (int shift = 0; shift < 64; shift += 16) {
            if (((varying >> shift) & 0xFFFFu) == 0)
                continue;
            memset(count, 0, 65536 * sizeof *count);
            for (size_t i = 0; i < nn; i++)
                count[(a[i].key >> shift) & 0xFFFFu]++;
            size_t sum = 0;
            for (size_t d = 0; d < 65536; d++) {
                size_t c = count[d];
                count[d] = sum;
                sum += c;
            }
            for (size_t i = 0; i < nn; i++)
                b[count[(a[i].key >> shift) & 0xFFFFu]++] = a[i];
            keyed *t = a;
            a = b;
            b = t;
        }
        free(b);
        free(count);
    }
    for (size_t i = 0; i < nn; i++)
        rank_n[a[i].id] = (int32_t)i;
    free(a);
    return 0;
}
