/* numparse.c - decimal text to double, exactly as strtod would round it.
 *
 * The CSV reader converts millions of fields, and strtod (locale lookups,
 * arbitrary-precision fallback) dominates a naive reader. Three tiers:
 *  1. Clinger's fast path: when the decimal mantissa m is exactly
 *     representable (m <= 2^53) and |e| <= 22, m and 10^e are exact doubles
 *     and one IEEE multiplication or division rounds correctly. Covers data
 *     like 12345.678.
 *  2. Eisel-Lemire (as in Go's strconv and fast_float): for mantissas of up to
 *     19 digits, a 64x128-bit product with a truncated power of ten decides
 *     the rounding, or reports that it cannot (then tier 3). Covers the
 *     17-digit output of %.17g, i.e. files written by gravrd_csv_write.
 *  3. strtod under the C locale, on a NUL-terminated copy. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

/* The fast path relies on double arithmetic rounding once to double
 * (SSE2, not x87 extended precision). */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define GRAVRD_FAST_PATH 1
#else
#define GRAVRD_FAST_PATH 0
#endif

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* 64 x 64 -> 128-bit product, portable (no __int128 in C11). */
static void mul64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint64_t a0 = a & 0xFFFFFFFFu, a1 = a >> 32, b0 = b & 0xFFFFFFFFu, b1 = b >> 32;
    uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint64_t mid = (p00 >> 32) + (p01 & 0xFFFFFFFFu) + (p10 & 0xFFFFFFFFu);
    *lo = (mid << 32) | (p00 & 0xFFFFFFFFu);
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

static int leading_zeros64(uint64_t x)
{
    int n = 0;
    if (!(x >> 32)) { n += 32; x <<= 32; }
    if (!(x >> 48)) { n += 16; x <<= 16; }
    if (!(x >> 56)) { n += 8; x <<= 8; }
    if (!(x >> 60)) { n += 4; x <<= 4; }
    if (!(x >> 62)) { n += 2; x <<= 2; }
    if (!(x >> 63)) { n += 1; }
    return n;
}

/* Eisel-Lemire: m * 10^e10 correctly rounded, for m != 0 exact. Returns 0
 * when the truncated power of ten cannot settle the rounding (rare) or the
 * result is subnormal, zero or infinite; strtod handles those. Follows Go's
 * strconv.eiselLemire64 step by step. */
static int eisel_lemire(uint64_t m, long e10, int neg, double *out)
{
    if (e10 < GRAVRD_POW10_128_MIN || e10 >= GRAVRD_POW10_128_MIN + GRAVRD_POW10_128_COUNT)
        return 0;
    const uint64_t *pw = gravrd_pow10_128[e10 - GRAVRD_POW10_128_MIN];

    int clz = leading_zeros64(m);
    m <<= clz;
    /* floor(e10 * log2(10)) via 217706 / 2^16, floored for negative e10 too
     * (>> of a negative value is implementation-defined in C). */
    long t = 217706L * e10;
    long fl = t >= 0 ? t / 65536 : -((-t + 65535) / 65536);
    uint64_t exp2 = (uint64_t)(fl + 64 + 1023) - (uint64_t)clz;

    uint64_t xhi, xlo;
    mul64(m, pw[1], &xhi, &xlo);
    if ((xhi & 0x1FF) == 0x1FF && xlo + m < m) {
        /* The low bits may carry: use the other 64 bits of the power. */
        uint64_t yhi, ylo;
        mul64(m, pw[0], &yhi, &ylo);
        uint64_t mhi = xhi, mlo = xlo + yhi;
        if (mlo < xlo)
            mhi++;
        if ((mhi & 0x1FF) == 0x1FF && mlo + 1 == 0 && ylo + m < m)
            return 0;
        xhi = mhi;
        xlo = mlo;
    }
    uint64_t msb = xhi >> 63;
    uint64_t mant = xhi >> (msb + 9);
    exp2 -= 1 ^ msb;
    if (xlo == 0 && (xhi & 0x1FF) == 0 && (mant & 3) == 1)
        return 0; /* exactly halfway as far as we can tell */
    mant += mant & 1;
    mant >>= 1;
    if (mant >> 53) {
        mant >>= 1;
        exp2++;
    }
    if (exp2 - 1 >= 0x7FF - 1)
        return 0; /* subnormal, zero or overflow */
    uint64_t bits = exp2 << 52 | (mant & UINT64_C(0x000FFFFFFFFFFFFF));
    if (neg)
        bits |= UINT64_C(1) << 63;
    memcpy(out, &bits, sizeof *out);
    return 1;
}

void gravrd_numctx_init(gravrd_numctx *ctx)
{
    ctx->c_locale = (locale_t)0;
    ctx->failed = 0;
}

void gravrd_numctx_free(gravrd_numctx *ctx)
{
    if (ctx->c_locale != (locale_t)0)
        freelocale(ctx->c_locale);
    ctx->c_locale = (locale_t)0;
}

locale_t gravrd_numctx_enter(gravrd_numctx *ctx)
{
    if (ctx->c_locale == (locale_t)0 && !ctx->failed) {
        ctx->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
        if (ctx->c_locale == (locale_t)0)
            ctx->failed = 1;
    }
    if (ctx->c_locale == (locale_t)0)
        return (locale_t)0;
    return uselocale(ctx->c_locale);
}

void gravrd_numctx_leave(gravrd_numctx *ctx, locale_t previous)
{
    if (ctx->c_locale != (locale_t)0 && previous != (locale_t)0)
        uselocale(previous);
}

static int lower(int c)
{
    return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c;
}

/* Case-insensitive match of the lowercase ASCII word w at s. */
static int match_word(const char *s, const char *w)
{
    for (; *w; s++, w++)
        if (lower((unsigned char)*s) != *w)
            return 0;
    return 1;
}

/* strtod on s[0..len) under the C locale. The text already matched our
 * grammar, which strtod accepts in full, so no end pointer check is needed. */
static double slow_strtod(const char *s, size_t len, gravrd_numctx *ctx, int *nomem)
{
    char small[128];
    char *tmp = small;
    if (len >= sizeof small) {
        tmp = malloc(len + 1);
        if (!tmp) {
            *nomem = 1;
            return 0.0;
        }
    }
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    locale_t prev = gravrd_numctx_enter(ctx);
    double v = strtod(tmp, NULL);
    gravrd_numctx_leave(ctx, prev);
    if (tmp != small)
        free(tmp);
    return v;
}

const char *gravrd_parse_double(const char *s, double *out, gravrd_numctx *ctx)
{
    const char *p = s;
    int neg = 0;
    if (*p == '-') {
        neg = 1;
        p++;
    } else if (*p == '+') {
        p++;
    }

    uint64_t m = 0;    /* first (up to) 19 significant digits */
    int nsig = 0;      /* significant digits seen (capped, only compared to 19) */
    int too_long = 0;  /* more than 19 significant digits: strtod decides */
    long dexp = 0;     /* decimal exponent contributed by the digit positions */
    int ndigits = 0;   /* any digit at all (mantissa must have one) */

    while ((unsigned)(*p - '0') < 10u) {
        unsigned d = (unsigned)(*p - '0');
        if (nsig < 19) {
            m = m * 10u + d;
            if (m)
                nsig++;
        } else {
            too_long = 1;
        }
        ndigits++;
        p++;
    }
    if (*p == '.') {
        const char *q = p + 1;
        while ((unsigned)(*q - '0') < 10u) {
            unsigned d = (unsigned)(*q - '0');
            if (nsig < 19) {
                m = m * 10u + d;
                if (m)
                    nsig++;
                dexp--;
            } else {
                too_long = 1;
            }
            ndigits++;
            q++;
        }
        if (ndigits == 0)
            goto words; /* "." or "-." is not a number */
        p = q;
    }
    if (ndigits == 0)
        goto words;

    if (*p == 'e' || *p == 'E') {
        const char *q = p + 1;
        int eneg = 0;
        if (*q == '-') {
            eneg = 1;
            q++;
        } else if (*q == '+') {
            q++;
        }
        if ((unsigned)(*q - '0') < 10u) {
            long e = 0;
            while ((unsigned)(*q - '0') < 10u) {
                if (e < 100000000L) /* beyond this only strtod's 0/inf matter */
                    e = e * 10 + (*q - '0');
                q++;
            }
            dexp += eneg ? -e : e;
            p = q;
        } /* else: "1e" - the number ends before the 'e' */
    }

    if (m == 0 && !too_long) {
        /* Every digit was zero (too_long implies a nonzero digit). */
        *out = neg ? -0.0 : 0.0;
        return p;
    }
#if GRAVRD_FAST_PATH
    if (!too_long && m <= (UINT64_C(1) << 53) && dexp >= -22 && dexp <= 22) {
        double v = (double)m;
        v = dexp >= 0 ? v * pow10_exact[dexp] : v / pow10_exact[-dexp];
        *out = neg ? -v : v;
        return p;
    }
#endif
    if (!too_long && eisel_lemire(m, dexp, neg, out))
        return p;
    {
        int nomem = 0;
        double v = slow_strtod(s, (size_t)(p - s), ctx, &nomem);
        if (nomem)
            return NULL; /* cannot happen for sane input; treat as text */
        *out = v;
        return p;
    }

words:
    /* Only reached with no digits: p is just after the sign. */
    p = s + (s[0] == '-' || s[0] == '+');
    if (match_word(p, "inf")) {
        p += 3;
        if (match_word(p, "inity"))
            p += 5;
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return p;
    }
    if (match_word(p, "nan")) {
        *out = NAN;
        return p + 3;
    }
    return NULL;
}
