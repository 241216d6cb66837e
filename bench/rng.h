/*
 * A small deterministic random number generator for the benchmarks:
 * xoshiro256** (Blackman and Vigna) seeded through splitmix64, so that the
 * synthetic corpus and the generated queries are the same on every machine
 * for a given seed. Not for anything that needs unpredictability.
 */
#ifndef QR_BENCH_RNG_H
#define QR_BENCH_RNG_H

#include <stdint.h>

typedef struct qr_rng {
    uint64_t s[4]; /* xoshiro256** state, never all zero */
} qr_rng;

/* One step of splitmix64: a good 64-bit mix of x (also used as a hash). */
static inline uint64_t qr_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Seeds a generator; every seed (0 included) gives a distinct, valid state. */
static inline void qr_rng_seed(qr_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = qr_splitmix64(&x);
}

static inline uint64_t qr_rng_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits. */
static inline uint64_t qr_rng_next(qr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = qr_rng_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = qr_rng_rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1). */
static inline double qr_rng_unif(qr_rng *r)
{
    return (double)(qr_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Uniform in [0, n) for n >= 1 (by modulo: the bias, below n / 2^64, does not matter here). */
static inline uint64_t qr_rng_below(qr_rng *r, uint64_t n)
{
    return qr_rng_next(r) % n;
}

#endif
