/*
 * Byte buffers (append-only writers with a sticky ENOMEM) and cursors
 * (bounds-checked readers with a sticky ECORRUPT). See buf.h for the varint
 * grammar.
 */
#include "storage/buf.h"

#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

int qr_buf_reserve_grow(qr_buf *b, size_t extra)
{
    if (b->err)
        return b->err;
    if (extra <= b->cap - b->n)
        return 0;
    if (extra > SIZE_MAX / 2 - b->n) {
        b->err = QR_ENOMEM;
        return b->err;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap - b->n < extra)
        cap *= 2;
    uint8_t *p = qr_reallocarray(b->p, cap, 1);
    if (!p) {
        b->err = QR_ENOMEM;
        return b->err;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void qr_buf_put_grow(qr_buf *b, const void *p, size_t n)
{
    if (n == 0 || qr_buf_reserve(b, n))
        return;
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

void qr_buf_put_u8(qr_buf *b, uint8_t v)
{
    qr_buf_put(b, &v, 1);
}

void qr_buf_put_u16(qr_buf *b, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    qr_buf_put(b, t, 2);
}

void qr_buf_put_u32(qr_buf *b, uint32_t v)
{
    uint8_t t[4];
    qr_store_u32(t, v);
    qr_buf_put(b, t, 4);
}

void qr_buf_put_u64(qr_buf *b, uint64_t v)
{
    uint8_t t[8];
    qr_store_u64(t, v);
    qr_buf_put(b, t, 8);
}

size_t qr_varint_len(uint64_t v)
{
    size_t i = 1;
    while (v >= 0x80) {
        v >>= 7;
        i++;
    }
    return i;
}

void qr_buf_put_varint_grow(qr_buf *b, uint64_t v)
{
    uint8_t t[10];
    qr_buf_put(b, t, qr_varint_encode(t, v));
}

void qr_buf_patch_u32(qr_buf *b, size_t at, uint32_t v)
{
    if (b->err || at + 4 > b->n)
        return;
    qr_store_u32(b->p + at, v);
}

void qr_buf_reset(qr_buf *b)
{
    b->n = 0;
    b->err = 0;
}

void qr_buf_free(qr_buf *b)
{
    if (!b)
        return;
    qr_free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
    b->err = 0;
}

static const uint8_t *take(qr_cursor *c, size_t n)
{
    if (c->err || (size_t)(c->end - c->p) < n) {
        c->err = QR_ECORRUPT;
        return NULL;
    }
    const uint8_t *p = c->p;
    c->p += n;
    return p;
}

uint8_t qr_get_u8(qr_cursor *c)
{
    const uint8_t *p = take(c, 1);
    return p ? p[0] : 0;
}

uint16_t qr_get_u16(qr_cursor *c)
{
    const uint8_t *p = take(c, 2);
    return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

uint32_t qr_get_u32(qr_cursor *c)
{
    const uint8_t *p = take(c, 4);
    return p ? qr_load_u32(p) : 0;
}

uint64_t qr_get_u64(qr_cursor *c)
{
    const uint8_t *p = take(c, 8);
    return p ? qr_load_u64(p) : 0;
}

uint64_t qr_get_varint64(qr_cursor *c)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        const uint8_t *p = take(c, 1);
        if (!p)
            return 0;
        if (shift == 63 && *p > 1) {
            c->err = QR_ECORRUPT;
            return 0;
        }
        v |= (uint64_t)(*p & 0x7f) << shift;
        if (!(*p & 0x80))
            return v;
    }
    c->err = QR_ECORRUPT;
    return 0;
}

uint32_t qr_get_varint32(qr_cursor *c)
{
    uint64_t v = qr_get_varint64(c);
    if (v > UINT32_MAX) {
        c->err = QR_ECORRUPT;
        return 0;
    }
    return (uint32_t)v;
}

qr_slice qr_get_bytes(qr_cursor *c, size_t n)
{
    qr_slice s = {NULL, 0};
    const uint8_t *p = take(c, n);
    if (p) {
        s.p = p;
        s.n = n;
    }
    return s;
}

void qr_cursor_skip(qr_cursor *c, size_t n)
{
    (void)take(c, n);
}
