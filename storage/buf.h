/*
 * Byte buffers and bounds-checked cursors.
 *
 * qr_buf is a growable byte array that writers (serializers) append to:
 * little-endian fixed-width integers, LEB128 varints, raw bytes. A write
 * that cannot grow the buffer sets a sticky error (buf->err = QR_ENOMEM) and
 * later appends are ignored, so a serializer can append a whole structure
 * and test the error once at the end (FTS5's p->rc idiom).
 *
 * qr_cursor reads bytes that came from disk and are therefore untrusted.
 * Every read is bounds-checked; a read past the end, or a varint longer than
 * its type, sets a sticky cur->err = QR_ECORRUPT and yields zeros, so a
 * decoder may read a whole record and check the cursor once. Nothing here
 * asserts on data.
 *
 * Varint grammar (LEB128): 7 bits per byte, least significant group first,
 * high bit set on every byte but the last; at most 5 bytes for u32 and
 * 10 for u64.
 */
#ifndef QR_STORAGE_BUF_H
#define QR_STORAGE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A borrowed run of bytes; the lender says how long it stays valid. */
typedef struct qr_slice {
    const uint8_t *p; /* first byte */
    size_t n;         /* number of bytes */
} qr_slice;

/* A growable, owned byte array. Zero-initialise ({0}) to start empty. */
typedef struct qr_buf {
    uint8_t *p; /* bytes, NULL while empty */
    size_t n;   /* bytes in use */
    size_t cap; /* bytes allocated */
    int err;    /* sticky: QR_ENOMEM once a growth failed; appends then do nothing */
} qr_buf;

/*
 * The appends below are called per value by the encoders (postings, term
 * dictionary, document table): the common case, room left and no error,
 * is inline; growing (or a sticky error) goes out of line, to the _grow
 * functions, which nothing else calls.
 */
int qr_buf_reserve_grow(qr_buf *b, size_t extra);
void qr_buf_put_grow(qr_buf *b, const void *p, size_t n);
void qr_buf_put_varint_grow(qr_buf *b, uint64_t v);

/* Makes room for `extra` more bytes; 0 or QR_ENOMEM (also stored in b->err). */
static inline int qr_buf_reserve(qr_buf *b, size_t extra)
{
    if (!b->err && extra <= b->cap - b->n)
        return 0;
    return qr_buf_reserve_grow(b, extra);
}

static inline void qr_buf_put(qr_buf *b, const void *p, size_t n)
{
    if (n && !b->err && n <= b->cap - b->n) {
        memcpy(b->p + b->n, p, n);
        b->n += n;
        return;
    }
    qr_buf_put_grow(b, p, n);
}

void qr_buf_put_u8(qr_buf *b, uint8_t v);
void qr_buf_put_u16(qr_buf *b, uint16_t v);
void qr_buf_put_u32(qr_buf *b, uint32_t v);
void qr_buf_put_u64(qr_buf *b, uint64_t v);
/* Overwrites 4 bytes at offset `at` (< b->n - 3) with v, little endian. */
void qr_buf_patch_u32(qr_buf *b, size_t at, uint32_t v);
/* Empties the buffer, keeping its memory (and clearing err). */
void qr_buf_reset(qr_buf *b);
/* Frees the memory; the buffer is then empty and reusable. Accepts NULL. */
void qr_buf_free(qr_buf *b);

/* Encodes v as a varint into out (>= 10 bytes); returns the byte count. */
static inline size_t qr_varint_encode(uint8_t *out, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        out[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    out[i++] = (uint8_t)v;
    return i;
}

static inline void qr_buf_put_varint(qr_buf *b, uint64_t v)
{
    if (!b->err && b->cap - b->n >= 10) {
        b->n += qr_varint_encode(b->p + b->n, v);
        return;
    }
    qr_buf_put_varint_grow(b, v);
}
/* Byte length of v as a varint. */
size_t qr_varint_len(uint64_t v);

/* A read position over untrusted bytes. */
typedef struct qr_cursor {
    const uint8_t *p;   /* next byte to read */
    const uint8_t *end; /* one past the last readable byte */
    int err;            /* sticky: QR_ECORRUPT after any out-of-bounds or malformed read */
} qr_cursor;

static inline qr_cursor qr_cursor_make(const uint8_t *p, size_t n)
{
    qr_cursor c = {p, p + n, 0};
    return c;
}

static inline size_t qr_cursor_left(const qr_cursor *c)
{
    return (size_t)(c->end - c->p);
}

uint8_t qr_get_u8(qr_cursor *c);
uint16_t qr_get_u16(qr_cursor *c);
uint32_t qr_get_u32(qr_cursor *c);
uint64_t qr_get_u64(qr_cursor *c);
uint32_t qr_get_varint32(qr_cursor *c);
uint64_t qr_get_varint64(qr_cursor *c);
/* Lends the next n bytes (valid as long as the underlying memory); on a short read, err. */
qr_slice qr_get_bytes(qr_cursor *c, size_t n);
/* Moves forward n bytes; on a short read, err. */
void qr_cursor_skip(qr_cursor *c, size_t n);

/* Unaligned little-endian loads and stores for trusted, already bounds-checked memory. */
static inline uint32_t qr_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t qr_load_u64(const uint8_t *p)
{
    return (uint64_t)qr_load_u32(p) | (uint64_t)qr_load_u32(p + 4) << 32;
}

static inline void qr_store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void qr_store_u64(uint8_t *p, uint64_t v)
{
    qr_store_u32(p, (uint32_t)v);
    qr_store_u32(p + 4, (uint32_t)(v >> 32));
}

#endif
