/* seedmix.h - one well-spread generator seed per (seed, draw), so that a
 * replication's random numbers depend on the user's seed and its number
 * only (any thread, any order): the wild bootstrap's weights and the
 * placebo partnerships. splitmix64's finaliser over seed * FNV prime + draw. */
#ifndef GRAVRD_SEEDMIX_H
#define GRAVRD_SEEDMIX_H

#include <stdint.h>

static inline uint64_t seedmix_draw(uint64_t seed, uint64_t draw)
{
    uint64_t x = seed * 0x100000001b3ULL + draw;
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

#endif
