/*
 * Integer codecs for postings: 128-value bit-packed blocks and varint runs.
 *
 * A packed block holds 128 uint32 values at one bit width b (0..32) in
 * exactly 16 * b bytes, in the SIMD-BP128 "vertical" layout (Lemire and
 * Boytsov, "Decoding billions of integers per second through
 * vectorization", 2015): value i belongs to lane i % 4 and is the (i / 4)-th
 * b-bit field of that lane; each lane is a little-endian bit stream of 32-bit
 * words, and word w of lane l is stored at byte 16 * w + 4 * l. Four
 * consecutive values thus sit in the same bit positions of four neighbouring
 * words, so one SSE2 shift-and-mask decodes four of them at once and the
 * decoded register holds values i..i+3 in order (ready for a SIMD prefix sum).
 * The layout is the same with or without SSE2; qr_bitunpack128_portable() is
 * the plain-C decoder that the SSE2 one must agree with.
 *
 * qr_delta_sum turns a doc's position deltas into positions four at a time,
 * checking that none passes 32 bits.
 *
 * Varints are the LEB128 of storage/buf.h. The helpers here decode or skip
 * runs of them straight off untrusted memory with an explicit end pointer,
 * faster than a qr_cursor call per byte: used for the tail block of a
 * postings list and for positions.
 *
 * Callers check bounds before unpacking (a block reads exactly
 * qr_bitpack_bytes(width) bytes); the varint helpers check their own.
 */
#ifndef QR_STORAGE_BITPACK_H
#define QR_STORAGE_BITPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QR_BP_N 128 /* values per packed block */

/* Bytes of one packed block at `width` bits (0..32). */
static inline size_t qr_bitpack_bytes(unsigned width)
{
    return 16u * (size_t)width;
}

/* Bits needed to hold v: 0 for 0, 32 for values >= 2^31. */
static inline unsigned qr_bits(uint32_t v)
{
    return v ? 32u - (unsigned)__builtin_clz(v) : 0u;
}

/* Bits needed for the largest of in[0..n). */
unsigned qr_bitpack_width(const uint32_t *in, size_t n);

/*
 * Packs in[0..128) at `width` bits (0..32) into out[0 .. 16 * width); only
 * the low `width` bits of each value are kept.
 */
void qr_bitpack128(uint8_t *out, const uint32_t *in, unsigned width);

/* Unpacks 128 values of `width` bits (0..32) from in[0 .. 16 * width). */
void qr_bitunpack128(uint32_t *out, const uint8_t *in, unsigned width);

/* The same without SIMD: the reference the SIMD decoder is tested against. */
void qr_bitunpack128_portable(uint32_t *out, const uint8_t *in, unsigned width);

/*
 * Turns 128 gaps into strictly increasing ids, in place:
 * v[i] = lo + i + v[0] + ... + v[i] (mod 2^32). With lo = previous id + 1
 * and v[i] = id[i] - id[i-1] - 1 this restores the ids.
 */
void qr_prefix_sum128(uint32_t *v, uint32_t lo);

/*
 * Unpacks 128 gaps of `width` bits and turns them into ids as
 * qr_prefix_sum128 does, in one pass (the doc-id decoder).
 */
void qr_bitunpack128_ids(uint32_t *out, const uint8_t *in, unsigned width, uint32_t lo);
/* The same without SIMD (the reference). */
void qr_bitunpack128_ids_portable(uint32_t *out, const uint8_t *in, unsigned width, uint32_t lo);

/*
 * Unpacks 128 values of `width` bits that are term frequencies minus one:
 * out[i] = value + 1. Returns false (out then unspecified) when a frequency
 * exceeds max (so also for max = 0 or width > 32): the block's bound is
 * checked in the same pass.
 */
bool qr_bitunpack128_tfs(uint32_t *out, const uint8_t *in, unsigned width, uint32_t max);
/* The same without SIMD (the reference). */
bool qr_bitunpack128_tfs_portable(uint32_t *out, const uint8_t *in, unsigned width, uint32_t max);

/*
 * Running sums of n deltas (positions of a doc): out[i] = *sum + d[0] + ...
 * + d[i], and *sum becomes the last. Returns false (out and *sum then
 * unspecified) when a sum does not fit 32 bits.
 */
bool qr_delta_sum(uint32_t *out, const uint32_t *d, size_t n, uint32_t *sum);
/* The same without SIMD (the reference). */
bool qr_delta_sum_portable(uint32_t *out, const uint32_t *d, size_t n, uint32_t *sum);

/*
 * Patched frame of reference (PFOR) over 128 values, for values that are
 * mostly small with a few large ones (position deltas):
 *
 *   pfor := width:u8 nexc:u8 packed(v & (2^width - 1), width) { index:u8 high:u8 }{nexc}
 *
 * value[index] gets high << width added to its packed low bits: each of the
 * nexc exceptions holds at most 8 bits above the width. The encoder picks
 * the width that makes the block smallest. A block takes
 * 2 + 16 * width + 2 * nexc bytes, known from its first two bytes, so it
 * can be skipped without decoding it.
 */
#define QR_PFOR_MAX_BYTES (2 + 16 * 32 + 2 * QR_BP_N) /* the largest a block can take */

/* Encodes in[0..128) into out (room for QR_PFOR_MAX_BYTES); returns the bytes written. */
size_t qr_pfor128_encode(uint8_t *out, const uint32_t *in);
/*
 * Decodes the block at *p (bounded by end) into out[0..128) and moves *p past
 * it. Returns false, leaving *p alone (out then unspecified), when the block
 * runs past end, its width is over 32, an exception's index is over 127 or
 * its value does not fit 32 bits.
 */
bool qr_pfor128_decode(uint32_t *out, const uint8_t **p, const uint8_t *end);
/* Moves *p past the block at *p without decoding it; false when it is malformed or cut. */
bool qr_pfor128_skip(const uint8_t **p, const uint8_t *end);

/*
 * PFOR with packed exceptions over 128 values (position deltas): the
 * exceptions' high parts take only the bits they need, so the block can be
 * as narrow as the bulk of its values whatever the largest one is.
 *
 *   xpfor := width:u8 nexc:u8 packed(v & (2^width - 1), width) [exc]   (exc iff nexc > 0)
 *   exc   := xcode:u8 where packed_high
 *   where := index:u8{nexc}                  (nexc <= QR_XPFOR_BITMAP_MIN)
 *          | bitmap:u8{16}                   (otherwise: bit i % 8 of byte i / 8 set
 *                                             for each exception i, nexc of them)
 *
 * xcode = bitmap << 7 | xw, bit 6 clear, 1 <= xw <= 32 - width; packed_high
 * is the nexc exceptions' high parts (value >> width) in index order (the
 * bitmap's order is increasing), xw bits each, as one little-endian bit
 * stream of ceil(nexc * xw / 8) bytes; an exception's value is its packed
 * low bits | high << width. The encoder picks the width that makes the whole
 * block smallest (xw = the largest value's bits - width), counting every
 * exception byte. Its size is known from its first two bytes and xcode, so
 * it can be skipped without decoding it.
 */
#define QR_XPFOR_BITMAP_MIN 16 /* more exceptions than this: a bitmap instead of indexes */
#define QR_XPFOR_MAX_BYTES  (2 + 16 * 32) /* the largest a block can take (exceptions never pay) */

/* Encodes in[0..128) into out (room for QR_XPFOR_MAX_BYTES); returns the bytes written. */
size_t qr_xpfor128_encode(uint8_t *out, const uint32_t *in);
/*
 * Decodes the block at *p (bounded by end) into out[0..128) and moves *p past
 * it. Returns false, leaving *p alone (out then unspecified), when the block
 * runs past end, its width is over 32, nexc over 128, xcode is out of range
 * (bit 6 set, xw 0 or over 32 - width, a bitmap not matching nexc), an index
 * is over 127 or the bitmap does not hold nexc bits.
 */
bool qr_xpfor128_decode(uint32_t *out, const uint8_t **p, const uint8_t *end);
/* Moves *p past the block at *p without decoding it; false when its header is malformed or it is
 * cut. */
bool qr_xpfor128_skip(const uint8_t **p, const uint8_t *end);

/* The general cases of qr_varint_get64 / qr_varint_get32 (any length). */
bool qr_varint_get64_any(const uint8_t **p, const uint8_t *end, uint64_t *out);
bool qr_varint_get32_any(const uint8_t **p, const uint8_t *end, uint32_t *out);

/*
 * Reads one varint of at most 64 bits at *p (bounded by end). Returns false,
 * leaving *p alone, when it runs past end or is longer than 10 bytes. The
 * one- and two-byte cases are inline.
 */
static inline bool qr_varint_get64(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    const uint8_t *q = *p;
    if (end - q >= 2 && q[1] < 0x80) { /* one or two bytes */
        bool one = q[0] < 0x80;
        *out = one ? q[0] : (uint64_t)(q[0] & 0x7f) | (uint64_t)q[1] << 7;
        *p = q + 2 - one;
        return true;
    }
    return qr_varint_get64_any(p, end, out);
}

/* The same for a value that must fit 32 bits (at most 5 bytes). */
static inline bool qr_varint_get32(const uint8_t **p, const uint8_t *end, uint32_t *out)
{
    const uint8_t *q = *p;
    if (end - q >= 2 && q[1] < 0x80) { /* one or two bytes */
        bool one = q[0] < 0x80;
        *out = one ? q[0] : (uint32_t)(q[0] & 0x7f) | (uint32_t)q[1] << 7;
        *p = q + 2 - one;
        return true;
    }
    return qr_varint_get32_any(p, end, out);
}

/*
 * Skips n varints from *p (bounded by end) by counting their last bytes,
 * without decoding them. Returns false when fewer than n end before `end`.
 */
bool qr_varint_skip(const uint8_t **p, const uint8_t *end, uint64_t n);

/*
 * Decodes n varints that are a first value and then non-negative deltas
 * into their running sums: out[0] = v0, out[i] = out[i-1] + v_i. Returns
 * false on a malformed or truncated varint or a sum past UINT32_MAX.
 */
bool qr_varint_get_deltas(uint32_t *out, size_t n, const uint8_t **p, const uint8_t *end);

/* Decodes n varints of at most 32 bits into out. Returns false on a malformed or cut one. */
bool qr_varint_get_n(uint32_t *out, size_t n, const uint8_t **p, const uint8_t *end);

#endif
