/*
 * Tests for storage/bitpack.c: 128-value bit packing at every width (SIMD
 * and portable decoders against each other and against the input), the
 * fused doc-id decoder, and the bulk varint helpers on good and malformed
 * bytes. Packed blocks are copied into buffers of their exact size so that
 * ASan catches any read past a block.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "storage/bitpack.h"
#include "storage/buf.h"

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* An exact-size heap copy of n bytes (at least one byte allocated). */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    cr_assert_not_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

Test(bitpack, bits_and_width)
{
    cr_assert_eq(qr_bits(0), 0);
    cr_assert_eq(qr_bits(1), 1);
    cr_assert_eq(qr_bits(2), 2);
    cr_assert_eq(qr_bits(255), 8);
    cr_assert_eq(qr_bits(256), 9);
    cr_assert_eq(qr_bits(UINT32_MAX), 32);
    uint32_t v[5] = {0, 3, 17, 2, 0};
    cr_assert_eq(qr_bitpack_width(v, 5), 5);
    cr_assert_eq(qr_bitpack_width(v, 0), 0);
    for (unsigned b = 0; b <= 32; b++)
        cr_assert_eq(qr_bitpack_bytes(b), 16 * b);
}

Test(bitpack, roundtrip_every_width)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    uint8_t packed[16 * 32 + 1]; /* one guard byte */
    uint32_t in[QR_BP_N], simd[QR_BP_N], port[QR_BP_N];
    for (unsigned b = 0; b <= 32; b++) {
        uint32_t mask = b == 32 ? UINT32_MAX : (1u << b) - 1;
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < QR_BP_N; i++) {
                /* mix full-width values, zeros and the extremes */
                uint32_t r = rnd();
                in[i] = (rep == 1 ? mask : rep == 2 ? 0 : (i % 7 == 0 ? mask : r)) & mask;
            }
            memset(packed, 0xa5, sizeof packed);
            qr_bitpack128(packed, in, b);
            uint8_t *exact = exact_copy(packed, qr_bitpack_bytes(b));
            memset(simd, 0xcc, sizeof simd);
            memset(port, 0x33, sizeof port);
            qr_bitunpack128(simd, exact, b);
            qr_bitunpack128_portable(port, exact, b);
            free(exact);
            for (int i = 0; i < QR_BP_N; i++) {
                cr_assert_eq(simd[i], in[i], "width %u value %d: %u != %u", b, i, simd[i], in[i]);
                cr_assert_eq(port[i], in[i], "portable width %u value %d", b, i);
            }
            /* packing writes exactly 16 * b bytes */
            cr_assert_eq(packed[qr_bitpack_bytes(b)], 0xa5, "width %u wrote past its block", b);
        }
    }
}

Test(bitpack, pack_keeps_only_low_bits)
{
    uint32_t in[QR_BP_N], out[QR_BP_N];
    uint8_t packed[16 * 32];
    for (int i = 0; i < QR_BP_N; i++)
        in[i] = 0xfffffff0u | (uint32_t)(i & 15);
    qr_bitpack128(packed, in, 4);
    qr_bitunpack128(out, packed, 4);
    for (int i = 0; i < QR_BP_N; i++)
        cr_assert_eq(out[i], (uint32_t)(i & 15));
}

Test(bitpack, width_above_32)
{
    /* a caller bug, not data: packing clamps to 32 bits, unpacking writes nothing */
    uint32_t in[QR_BP_N], out[QR_BP_N];
    uint8_t packed[16 * 32];
    for (int i = 0; i < QR_BP_N; i++)
        in[i] = 0xdeadbeefu + (uint32_t)i;
    qr_bitpack128(packed, in, 40);
    qr_bitunpack128(out, packed, 32);
    cr_assert_arr_eq(out, in, sizeof in);
    memset(out, 0x5a, sizeof out);
    qr_bitunpack128(out, packed, 33);
    qr_bitunpack128_portable(out, packed, 33);
    qr_bitunpack128_ids(out, packed, 33, 0);
    for (int i = 0; i < QR_BP_N; i++)
        cr_assert_eq(out[i], 0x5a5a5a5au);
}

Test(bitpack, layout_is_vertical_lanes)
{
    /* value i is field i / 4 of lane i % 4; lane l's word w is at byte 16w + 4l */
    uint32_t in[QR_BP_N] = {0};
    uint8_t packed[16 * 3];
    in[5] = 1;   /* lane 1, field 1 -> bit 1 of byte 4 at width 1 */
    in[126] = 1; /* lane 2, field 31 -> bit 31 of lane 2's word 0 (byte 8 + 3, bit 7) */
    qr_bitpack128(packed, in, 1);
    static const uint8_t want[16] = {0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0, 0};
    cr_assert_arr_eq(packed, want, 16);

    /* width 3: field 10 of lane 0 spans bits 30..32, i.e. words 0 and 1 */
    memset(in, 0, sizeof in);
    in[40] = 7;
    qr_bitpack128(packed, in, 3);
    cr_assert_eq(qr_load_u32(packed), 0xc0000000u);
    cr_assert_eq(qr_load_u32(packed + 16), 1u);
}

Test(bitpack, ids_decoder_matches_prefix_sum)
{
    rng_state = 42;
    uint32_t gaps[QR_BP_N], ids[QR_BP_N], port[QR_BP_N], ref[QR_BP_N];
    uint8_t packed[16 * 32];
    static const uint32_t los[] = {0, 1, 1000, 0x7fffffffu, UINT32_MAX - 5000};
    for (unsigned b = 0; b <= 32; b++) {
        for (size_t l = 0; l < sizeof los / sizeof los[0]; l++) {
            uint32_t mask = b == 32 ? UINT32_MAX : (1u << b) - 1;
            for (int i = 0; i < QR_BP_N; i++)
                gaps[i] = rnd() & mask;
            qr_bitpack128(packed, gaps, b);
            uint8_t *exact = exact_copy(packed, qr_bitpack_bytes(b));
            qr_bitunpack128_ids(ids, exact, b, los[l]);
            qr_bitunpack128_ids_portable(port, exact, b, los[l]);
            free(exact);
            uint32_t acc = los[l] - 1; /* arithmetic is mod 2^32 */
            for (int i = 0; i < QR_BP_N; i++) {
                acc += gaps[i] + 1;
                ref[i] = acc;
            }
            cr_assert_arr_eq(ids, ref, sizeof ref, "width %u lo %u", b, los[l]);
            cr_assert_arr_eq(port, ref, sizeof ref, "portable width %u lo %u", b, los[l]);
            memcpy(ids, gaps, sizeof gaps);
            qr_prefix_sum128(ids, los[l]);
            cr_assert_arr_eq(ids, ref, sizeof ref);
        }
    }
}

Test(bitpack, tfs_decoder_checks_the_bound)
{
    rng_state = 99;
    uint32_t v[QR_BP_N], simd[QR_BP_N], port[QR_BP_N];
    uint8_t packed[16 * 32];
    for (unsigned b = 0; b <= 32; b++) {
        uint32_t mask = b == 32 ? UINT32_MAX - 1 : (1u << b) - 1, top = 0;
        for (int i = 0; i < QR_BP_N; i++) {
            v[i] = rnd() & mask;
            top = v[i] > top ? v[i] : top;
        }
        qr_bitpack128(packed, v, b);
        uint8_t *exact = exact_copy(packed, qr_bitpack_bytes(b));
        /* max = the largest tf: fine; one less: a tf is above it */
        cr_assert(qr_bitunpack128_tfs(simd, exact, b, top + 1), "width %u", b);
        cr_assert(qr_bitunpack128_tfs_portable(port, exact, b, top + 1), "width %u", b);
        for (int i = 0; i < QR_BP_N; i++) {
            cr_assert_eq(simd[i], v[i] + 1);
            cr_assert_eq(port[i], v[i] + 1);
        }
        cr_assert_not(qr_bitunpack128_tfs(simd, exact, b, top), "width %u", b);
        cr_assert_not(qr_bitunpack128_tfs_portable(port, exact, b, top), "width %u", b);
        free(exact);
    }
    /* unsigned comparison: a value with the top bit set is above a small max */
    for (int i = 0; i < QR_BP_N; i++)
        v[i] = i == 77 ? 0x80000000u : 1;
    qr_bitpack128(packed, v, 32);
    cr_assert_not(qr_bitunpack128_tfs(simd, packed, 32, 0x7fffffffu));
    cr_assert_not(qr_bitunpack128_tfs_portable(port, packed, 32, 0x7fffffffu));
    cr_assert(qr_bitunpack128_tfs(simd, packed, 32, 0x80000001u));
    cr_assert_not(qr_bitunpack128_tfs(simd, packed, 32, 0), "max 0 admits nothing");
    cr_assert_not(qr_bitunpack128_tfs_portable(port, packed, 32, 0));
    cr_assert_not(qr_bitunpack128_tfs(simd, packed, 33, 5), "width 33");
    cr_assert_not(qr_bitunpack128_tfs_portable(port, packed, 33, 5));
}

Test(varint, get_roundtrip)
{
    static const uint64_t vals[] = {0,          1,          127,       128,       16383,
                                    16384,      2097151,    2097152,   268435455, 268435456,
                                    UINT32_MAX, 1ull << 35, UINT64_MAX};
    qr_buf b = {0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        qr_buf_put_varint(&b, vals[i]);
    const uint8_t *p = b.p, *end = b.p + b.n;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint64_t v;
        cr_assert(qr_varint_get64(&p, end, &v));
        cr_assert_eq(v, vals[i]);
    }
    cr_assert_eq(p, end);
    p = b.p;
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
        uint32_t v;
        const uint8_t *before = p;
        if (vals[i] <= UINT32_MAX) {
            cr_assert(qr_varint_get32(&p, end, &v));
            cr_assert_eq(v, vals[i]);
        } else {
            cr_assert_not(qr_varint_get32(&p, end, &v), "%llu does not fit 32 bits",
                          (unsigned long long)vals[i]);
            cr_assert_eq(p, before, "a failed read leaves the pointer");
            break;
        }
    }
    qr_buf_free(&b);
}

Test(varint, malformed)
{
    uint64_t v64;
    uint32_t v32;
    static const uint8_t cont[] = {0x80, 0x80, 0x80};
    const uint8_t *p = cont;
    cr_assert_not(qr_varint_get64(&p, cont + 3, &v64), "runs past the end");
    cr_assert_not(qr_varint_get32(&p, cont + 3, &v32));
    cr_assert_eq(p, cont);
    cr_assert_not(qr_varint_get32(&p, cont, &v32), "empty input");
    static const uint8_t big5[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
    p = big5;
    cr_assert_not(qr_varint_get32(&p, big5 + 5, &v32), "a fifth byte above 0x0f overflows");
    static const uint8_t six[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    p = six;
    cr_assert_not(qr_varint_get32(&p, six + 6, &v32), "six bytes for 32 bits");
    uint8_t eleven[11];
    memset(eleven, 0x80, 10);
    eleven[10] = 0;
    p = eleven;
    cr_assert_not(qr_varint_get64(&p, eleven + 11, &v64), "eleven bytes");
    uint8_t tenth[10];
    memset(tenth, 0xff, 9);
    tenth[9] = 0x02;
    p = tenth;
    cr_assert_not(qr_varint_get64(&p, tenth + 10, &v64), "a tenth byte above 1 overflows");
    tenth[9] = 0x01;
    p = tenth;
    cr_assert(qr_varint_get64(&p, tenth + 10, &v64));
    cr_assert_eq(v64, UINT64_MAX);
}

Test(varint, skip_counts_values)
{
    rng_state = 7;
    qr_buf b = {0};
    enum { N = 1000 };
    size_t offsets[N + 1];
    for (int i = 0; i < N; i++) {
        offsets[i] = b.n;
        uint32_t r = rnd();
        qr_buf_put_varint(&b, r >> (r % 32));
    }
    offsets[N] = b.n;
    uint8_t *exact = exact_copy(b.p, b.n);
    const uint8_t *end = exact + b.n;
    for (int from = 0; from < N; from += 37) {
        for (int n = 0; from + n <= N; n += 1 + n / 3) {
            const uint8_t *p = exact + offsets[from];
            cr_assert(qr_varint_skip(&p, end, (uint64_t)n));
            cr_assert_eq((size_t)(p - exact), offsets[from + n], "skip %d from %d", n, from);
        }
        const uint8_t *p = exact + offsets[from];
        cr_assert_not(qr_varint_skip(&p, end, (uint64_t)(N - from + 1)), "one too many");
        cr_assert_eq(p, exact + offsets[from]);
    }
    free(exact);
    qr_buf_free(&b);
}

Test(varint, deltas)
{
    qr_buf b = {0};
    static const uint32_t d[] = {5, 0, 3, 1000, 0};
    for (int i = 0; i < 5; i++)
        qr_buf_put_varint(&b, d[i]);
    uint32_t out[5];
    const uint8_t *p = b.p;
    cr_assert(qr_varint_get_deltas(out, 5, &p, b.p + b.n));
    static const uint32_t want[] = {5, 5, 8, 1008, 1008};
    cr_assert_arr_eq(out, want, sizeof want);
    cr_assert_eq(p, b.p + b.n);
    p = b.p;
    cr_assert_not(qr_varint_get_deltas(out, 6, &p, b.p + b.n), "truncated");
    cr_assert_eq(p, b.p);

    qr_buf_reset(&b);
    qr_buf_put_varint(&b, UINT32_MAX);
    qr_buf_put_varint(&b, 1);
    p = b.p;
    cr_assert_not(qr_varint_get_deltas(out, 2, &p, b.p + b.n), "sum past UINT32_MAX");
    qr_buf_free(&b);
}

/* ---- PFOR ---------------------------------------------------------------- */

/* Encodes in, checks the size the header announces, decodes an exact copy, compares. */
static size_t pfor_roundtrip(const uint32_t *in)
{
    uint8_t buf[QR_PFOR_MAX_BYTES];
    size_t n = qr_pfor128_encode(buf, in);
    cr_assert_leq(n, QR_PFOR_MAX_BYTES);
    cr_assert_eq(n, 2 + qr_bitpack_bytes(buf[0]) + 2 * (size_t)buf[1]);
    uint8_t *c = exact_copy(buf, n);
    const uint8_t *p = c;
    cr_assert(qr_pfor128_skip(&p, c + n));
    cr_assert_eq(p, c + n);
    uint32_t out[QR_BP_N];
    p = c;
    cr_assert(qr_pfor128_decode(out, &p, c + n));
    cr_assert_eq(p, c + n);
    cr_assert_arr_eq(out, in, sizeof out);
    /* every cut is refused, *p left alone */
    for (size_t len = 0; len < n; len++) {
        p = c;
        cr_assert_not(qr_pfor128_decode(out, &p, c + len), "cut at %zu of %zu", len, n);
        cr_assert_not(qr_pfor128_skip(&p, c + len));
        cr_assert_eq(p, c);
    }
    free(c);
    return n;
}

Test(pfor, roundtrip_with_and_without_exceptions)
{
    uint32_t in[QR_BP_N] = {0};
    cr_assert_eq(pfor_roundtrip(in), 2, "all zero: width 0, nothing packed");
    rng_state = 77;
    for (unsigned maxb = 1; maxb <= 32; maxb++) {
        for (int exc = 0; exc <= 20; exc += 4) {
            for (unsigned i = 0; i < QR_BP_N; i++)
                in[i] = rnd() & (maxb > 4 ? 15u : 1u);
            for (int k = 0; k < exc; k++) /* a few large values among small ones */
                in[rnd() % QR_BP_N] = (rnd() << 16 | rnd()) >> (32 - maxb);
            pfor_roundtrip(in);
        }
    }
    /* one large value among zeros is an exception, not a wide block */
    memset(in, 0, sizeof in);
    in[77] = 200;
    uint8_t buf[QR_PFOR_MAX_BYTES];
    cr_assert_eq(qr_pfor128_encode(buf, in), 4);
    cr_assert_eq(buf[0], 0);
    cr_assert_eq(buf[1], 1);
    cr_assert_eq(buf[2], 77);
    cr_assert_eq(buf[3], 200);
    pfor_roundtrip(in);
    /* more than 8 bits above the rest: the width grows to keep exceptions at 8 bits */
    in[77] = 1u << 20;
    cr_assert_eq(qr_pfor128_encode(buf, in), 2 + 16 * 13 + 2);
    pfor_roundtrip(in);
    for (unsigned i = 0; i < QR_BP_N; i++)
        in[i] = UINT32_MAX - i;
    cr_assert_eq(pfor_roundtrip(in), 2 + 16 * 32);
}

Test(pfor, malformed_blocks)
{
    uint8_t b[2 + 16 + 2 * 3] = {1, 3};
    uint32_t out[QR_BP_N];
    const uint8_t *p = b, *end = b + sizeof b;
    b[18] = 5, b[19] = 1; /* value 5 gets 1 << 1 added */
    b[20] = 127, b[21] = 0xff;
    b[22] = 5, b[23] = 2; /* the same index again: patched twice, still valid */
    cr_assert(qr_pfor128_decode(out, &p, end));
    cr_assert_eq(out[5], 2 | 4);
    cr_assert_eq(out[127], 0xffu << 1);
    b[20] = 128; /* index past the block */
    p = b;
    cr_assert_not(qr_pfor128_decode(out, &p, end));
    cr_assert_eq(p, b);
    b[20] = 127;
    uint8_t wide[2 + 16 * 32 + 2] = {32, 1};
    wide[2 + 16 * 32] = 0, wide[2 + 16 * 32 + 1] = 1; /* 1 << 32: past 32 bits */
    p = wide;
    cr_assert_not(qr_pfor128_decode(out, &p, wide + sizeof wide));
    wide[2 + 16 * 32 + 1] = 0; /* a high part of 0 fits */
    cr_assert(qr_pfor128_decode(out, &p, wide + sizeof wide));
    uint8_t w33[2 + 16 * 33] = {33, 0}; /* width 33 */
    p = w33;
    cr_assert_not(qr_pfor128_decode(out, &p, w33 + sizeof w33));
    cr_assert_not(qr_pfor128_skip(&p, w33 + sizeof w33));
    uint8_t w25[2 + 16 * 25 + 2] = {25, 1};
    w25[2 + 16 * 25 + 1] = 0x80; /* 0x80 << 25 = 2^32: one bit too many */
    p = w25;
    cr_assert_not(qr_pfor128_decode(out, &p, w25 + sizeof w25));
    w25[2 + 16 * 25 + 1] = 0x7f;
    cr_assert(qr_pfor128_decode(out, &p, w25 + sizeof w25));
    cr_assert_eq(out[0], 0x7fu << 25);
}

/* ---- PFOR with packed exceptions ---------------------------------------- */

/* The size an xpfor block must take: recomputed from its header. */
static size_t xpfor_expected_size(const uint8_t *b)
{
    size_t n = 2 + qr_bitpack_bytes(b[0]);
    if (!b[1])
        return n;
    unsigned xw = b[n] & 0x3f;
    return n + 1 + (b[1] > QR_XPFOR_BITMAP_MIN ? 16 : b[1]) + (b[1] * xw + 7) / 8;
}

/*
 * Decodes the n-byte block b from a copy followed by 8 bytes of 0xff (the
 * decoder's fast exception path, which reads 8 bytes at a time) and checks
 * that a success stops at the block's end.
 */
static bool xpfor_decode_slack(uint32_t *out, const uint8_t *b, size_t n)
{
    uint8_t *c = malloc(n + 8);
    cr_assert(c);
    memcpy(c, b, n);
    memset(c + n, 0xff, 8);
    const uint8_t *p = c;
    bool ok = qr_xpfor128_decode(out, &p, c + n + 8);
    cr_assert_eq(p, ok ? c + n : c);
    free(c);
    return ok;
}

/* Encodes in, checks the size, decodes an exact copy, compares, refuses every cut. */
static size_t xpfor_roundtrip(const uint32_t *in)
{
    uint8_t buf[QR_XPFOR_MAX_BYTES];
    size_t n = qr_xpfor128_encode(buf, in);
    cr_assert_leq(n, QR_XPFOR_MAX_BYTES);
    cr_assert_eq(n, xpfor_expected_size(buf));
    /* never larger than plain packing at the largest value's width */
    cr_assert_leq(n, 2 + qr_bitpack_bytes(qr_bitpack_width(in, QR_BP_N)));
    uint8_t *c = exact_copy(buf, n);
    const uint8_t *p = c;
    cr_assert(qr_xpfor128_skip(&p, c + n));
    cr_assert_eq(p, c + n);
    uint32_t out[QR_BP_N];
    p = c;
    cr_assert(qr_xpfor128_decode(out, &p, c + n));
    cr_assert_eq(p, c + n);
    cr_assert_arr_eq(out, in, sizeof out);
    memset(out, 0xaa, sizeof out);
    cr_assert(xpfor_decode_slack(out, c, n));
    cr_assert_arr_eq(out, in, sizeof out);
    for (size_t len = 0; len < n; len++) {
        p = c;
        cr_assert_not(qr_xpfor128_decode(out, &p, c + len), "cut at %zu of %zu", len, n);
        cr_assert_not(qr_xpfor128_skip(&p, c + len));
        cr_assert_eq(p, c);
    }
    free(c);
    return n;
}

/* The smallest size over every width, computed independently of the encoder. */
static size_t xpfor_best_size(const uint32_t *in)
{
    unsigned maxb = qr_bitpack_width(in, QR_BP_N);
    size_t best = 2 + 16 * (size_t)maxb;
    for (unsigned b = 0; b < maxb; b++) {
        size_t nexc = 0;
        for (unsigned i = 0; i < QR_BP_N; i++)
            nexc += qr_bits(in[i]) > b;
        size_t size = 2 + 16 * (size_t)b;
        if (nexc)
            size += 1 + (nexc > 16 ? 16 : nexc) + (nexc * (maxb - b) + 7) / 8;
        best = size < best ? size : best;
    }
    return best;
}

Test(xpfor, roundtrip_and_smallest_width)
{
    uint32_t in[QR_BP_N] = {0};
    cr_assert_eq(xpfor_roundtrip(in), 2, "all zero: width 0, nothing packed");
    rng_state = 91;
    for (unsigned maxb = 1; maxb <= 32; maxb++) {
        for (int exc = 0; exc <= 60; exc += 6) {
            for (unsigned i = 0; i < QR_BP_N; i++)
                in[i] = rnd() & (maxb > 4 ? 15u : 1u);
            for (int k = 0; k < exc; k++) /* large values among small ones */
                in[rnd() % QR_BP_N] = (rnd() << 16 | rnd()) >> (32 - maxb);
            cr_assert_eq(xpfor_roundtrip(in), xpfor_best_size(in), "maxb %u exc %d", maxb, exc);
        }
    }
    /* one large value among zeros: width 0, one index, its 21 bits packed in 3 bytes */
    memset(in, 0, sizeof in);
    in[77] = 1u << 20;
    uint8_t buf[QR_XPFOR_MAX_BYTES];
    cr_assert_eq(qr_xpfor128_encode(buf, in), 2 + 1 + 1 + 3);
    cr_assert_eq(buf[0], 0);
    cr_assert_eq(buf[1], 1);
    cr_assert_eq(buf[2], 21);
    cr_assert_eq(buf[3], 77);
    cr_assert_eq(buf[6], 0x10);
    xpfor_roundtrip(in);
    /* 20 exceptions: a bitmap */
    in[77] = 0;
    for (unsigned i = 0; i < 20; i++)
        in[i * 6] = 1000 + i;
    cr_assert_eq(qr_xpfor128_encode(buf, in), xpfor_best_size(in));
    cr_assert_eq(buf[1], 20);
    cr_assert_eq(buf[0], 0);
    cr_assert_eq(buf[2], 0x80 | 10);
    xpfor_roundtrip(in);
    for (unsigned i = 0; i < QR_BP_N; i++)
        in[i] = UINT32_MAX - i;
    cr_assert_eq(xpfor_roundtrip(in), 2 + 16 * 32);
}

Test(xpfor, malformed_blocks)
{
    uint32_t out[QR_BP_N];
    /* width 1, 2 exceptions of 3 high bits: indexes 5 and 127, high 5 and 7 */
    uint8_t b[2 + 16 + 1 + 2 + 1] = {1, 2};
    b[18] = 3, b[19] = 5, b[20] = 127, b[21] = 5 | 7 << 3;
    const uint8_t *p = b, *end = b + sizeof b;
    cr_assert(qr_xpfor128_decode(out, &p, end));
    cr_assert_eq(p, end);
    cr_assert_eq(out[5], 5u << 1);
    cr_assert_eq(out[127], 7u << 1);
    uint8_t bad[sizeof b];
    struct {
        unsigned at, v;
    } const cases[] = {
        {20, 128},      /* index past the block */
        {18, 0},        /* no high bits */
        {18, 32},       /* 1 + 32 bits: past 32 */
        {18, 3 | 0x40}, /* reserved bit */
        {18, 3 | 0x80}, /* a bitmap for 2 exceptions */
        {1, 129},       /* more exceptions than values */
        {0, 33},        /* width 33 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memcpy(bad, b, sizeof b);
        bad[cases[k].at] = (uint8_t)cases[k].v;
        p = bad;
        cr_assert_not(qr_xpfor128_decode(out, &p, bad + sizeof bad), "case %zu", k);
        cr_assert_eq(p, bad);
        cr_assert_not(xpfor_decode_slack(out, bad, sizeof bad), "case %zu with slack", k);
        if (cases[k].at != 20)
            cr_assert_not(qr_xpfor128_skip(&p, bad + sizeof bad), "case %zu", k);
    }
    /* width 31, one exception of 1 high bit: the top bit */
    uint8_t top[2 + 16 * 31 + 1 + 1 + 1] = {31, 1};
    top[2 + 16 * 31] = 1, top[2 + 16 * 31 + 1] = 9, top[2 + 16 * 31 + 2] = 1;
    p = top;
    cr_assert(qr_xpfor128_decode(out, &p, top + sizeof top));
    cr_assert_eq(out[9], 1u << 31);
    /* a bitmap (17 exceptions) whose bit count disagrees with nexc */
    uint8_t bm[2 + 1 + 16 + 3] = {0, 17, 0x80 | 1};
    memset(bm + 3, 0, 16);
    for (unsigned i = 0; i < 17; i++)
        bm[3 + i / 8] |= (uint8_t)(1u << (i % 8));
    memset(bm + 19, 0xff, 3);
    p = bm;
    cr_assert(qr_xpfor128_decode(out, &p, bm + sizeof bm));
    for (unsigned i = 0; i < QR_BP_N; i++)
        cr_assert_eq(out[i], i < 17, "value %u", i);
    memset(out, 0xaa, sizeof out);
    cr_assert(xpfor_decode_slack(out, bm, sizeof bm));
    for (unsigned i = 0; i < QR_BP_N; i++)
        cr_assert_eq(out[i], i < 17, "value %u with slack", i);
    bm[3 + 17 / 8] |= 1u << (17 % 8); /* 18 bits set */
    p = bm;
    cr_assert_not(qr_xpfor128_decode(out, &p, bm + sizeof bm));
    cr_assert_not(xpfor_decode_slack(out, bm, sizeof bm));
    bm[3 + 17 / 8] &= (uint8_t) ~(1u << (17 % 8));
    bm[3] = 0xfe; /* 16 bits set */
    cr_assert_not(qr_xpfor128_decode(out, &p, bm + sizeof bm));
    cr_assert_eq(p, bm);
    cr_assert_not(xpfor_decode_slack(out, bm, sizeof bm));
}

Test(varint, get_n)
{
    static const uint8_t b[] = {0x05, 0x80, 0x01, 0x00, 0xff};
    uint32_t out[3];
    const uint8_t *p = b;
    cr_assert(qr_varint_get_n(out, 3, &p, b + sizeof b));
    cr_assert_eq(out[0], 5);
    cr_assert_eq(out[1], 128);
    cr_assert_eq(out[2], 0);
    cr_assert_eq(p, b + 4);
    cr_assert_not(qr_varint_get_n(out, 1, &p, b + sizeof b), "cut varint");
    cr_assert_eq(p, b + 4);
}

/* ---- running sums of deltas ---------------------------------------------- */

Test(delta_sum, agrees_with_the_reference_and_finds_every_overflow)
{
    uint32_t d[70], a[70], b[70];
    rng_state = 17;
    for (size_t n = 0; n <= 70; n++) {
        for (size_t i = 0; i < n; i++)
            d[i] = rnd() % 5000;
        uint32_t sa = 123, sb = 123;
        cr_assert(qr_delta_sum(a, d, n, &sa));
        cr_assert(qr_delta_sum_portable(b, d, n, &sb));
        cr_assert_eq(sa, sb);
        cr_assert_arr_eq(a, b, n * sizeof *a);
        uint64_t t = 123;
        for (size_t i = 0; i < n; i++) {
            t += d[i];
            cr_assert_eq(a[i], t, "n %zu i %zu", n, i);
        }
    }
    /* a sum reaching exactly UINT32_MAX fits, one more does not: at every index */
    for (size_t n = 1; n <= 13; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t i = 0; i < n; i++)
                d[i] = i == at ? UINT32_MAX - 20 : (i < at ? 1 : 0);
            uint32_t s = (uint32_t)(20 - at), s2 = s;
            cr_assert(qr_delta_sum(a, d, n, &s), "n %zu at %zu", n, at);
            cr_assert_eq(s, UINT32_MAX);
            cr_assert(qr_delta_sum_portable(b, d, n, &s2));
            d[n - 1] += 1; /* the last sum past 32 bits */
            s = s2 = (uint32_t)(20 - at);
            cr_assert_not(qr_delta_sum(a, d, n, &s), "n %zu at %zu", n, at);
            cr_assert_not(qr_delta_sum_portable(b, d, n, &s2), "n %zu at %zu", n, at);
            /* a wrap that later sums would hide: two near-2^32 deltas */
            d[at] = UINT32_MAX;
            d[n - 1] = UINT32_MAX;
            s = 1;
            cr_assert_not(qr_delta_sum(a, d, n, &s), "n %zu at %zu: double wrap", n, at);
        }
    }
}
