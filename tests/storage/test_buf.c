/*
 * Tests for storage/buf.c (buffers, varints, bounds-checked cursors) and
 * storage/checksum.c (file framing), and storage/alloc.c's tables.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/status.h"

Test(buf, fixed_width_roundtrip)
{
    qr_buf b = {0};
    qr_buf_put_u8(&b, 0xab);
    qr_buf_put_u16(&b, 0xbeef);
    qr_buf_put_u32(&b, 0xdeadbeef);
    qr_buf_put_u64(&b, 0x0123456789abcdefull);
    cr_assert_eq(b.err, 0);
    cr_assert_eq(b.n, 15);
    cr_assert_eq(b.p[1], 0xef, "little endian");
    qr_cursor c = qr_cursor_make(b.p, b.n);
    cr_assert_eq(qr_get_u8(&c), 0xab);
    cr_assert_eq(qr_get_u16(&c), 0xbeef);
    cr_assert_eq(qr_get_u32(&c), 0xdeadbeef);
    cr_assert_eq(qr_get_u64(&c), 0x0123456789abcdefull);
    cr_assert_eq(c.err, 0);
    cr_assert_eq(qr_cursor_left(&c), 0);
    cr_assert_eq(qr_get_u8(&c), 0);
    cr_assert_eq(c.err, QR_ECORRUPT, "reading past the end is corruption");
    qr_buf_free(&b);
}

Test(buf, varint_roundtrip_edges)
{
    static const uint64_t v[] = {0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX, UINT64_MAX};
    qr_buf b = {0};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        qr_buf_put_varint(&b, v[i]);
        cr_assert_eq(qr_varint_len(v[i]), (size_t)(i == 0 ? 1 : qr_varint_len(v[i])));
    }
    cr_assert_eq(qr_varint_len(127), 1);
    cr_assert_eq(qr_varint_len(128), 2);
    cr_assert_eq(qr_varint_len(UINT64_MAX), 10);
    qr_cursor c = qr_cursor_make(b.p, b.n);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(qr_get_varint64(&c), v[i]);
    cr_assert_eq(c.err, 0);
    qr_buf_free(&b);
}

Test(buf, varint_malformed_is_corrupt)
{
    static const uint8_t unterminated[] = {0x80, 0x80};
    qr_cursor c = qr_cursor_make(unterminated, sizeof unterminated);
    qr_get_varint64(&c);
    cr_assert_eq(c.err, QR_ECORRUPT);

    uint8_t eleven[11];
    memset(eleven, 0xff, sizeof eleven);
    c = qr_cursor_make(eleven, sizeof eleven);
    qr_get_varint64(&c);
    cr_assert_eq(c.err, QR_ECORRUPT, "a varint longer than 10 bytes");

    qr_buf b = {0};
    qr_buf_put_varint(&b, (uint64_t)UINT32_MAX + 1);
    c = qr_cursor_make(b.p, b.n);
    qr_get_varint32(&c);
    cr_assert_eq(c.err, QR_ECORRUPT, "a u32 varint over 32 bits");
    qr_buf_free(&b);
}

Test(buf, sticky_enomem)
{
    qr_buf b = {0};
    qr_alloc_fail_after(0);
    qr_buf_put_u32(&b, 7);
    qr_alloc_fail_after(-1);
    cr_assert_eq(b.err, QR_ENOMEM);
    qr_buf_put_u32(&b, 8);
    cr_assert_eq(b.n, 0, "appends after a failure do nothing");
    qr_buf_reset(&b);
    qr_buf_put_u32(&b, 9);
    cr_assert_eq(b.err, 0);
    cr_assert_eq(b.n, 4);
    qr_buf_free(&b);
}

/* The inline appends (room left) honour a sticky error like the growing ones. */
Test(buf, sticky_error_with_room_left)
{
    qr_buf b = {0};
    qr_buf_put_u32(&b, 7);
    cr_assert_eq(b.err, 0);
    cr_assert_gt(b.cap, b.n + 16);
    cr_assert_eq(qr_buf_reserve(&b, SIZE_MAX - 8), QR_ENOMEM, "too large to reserve");
    cr_assert_eq(b.err, QR_ENOMEM);
    cr_assert_eq(qr_buf_reserve(&b, 1), QR_ENOMEM, "room left, but the error sticks");
    qr_buf_put_u8(&b, 1);
    qr_buf_put(&b, "abc", 3);
    qr_buf_put_varint(&b, 300);
    cr_assert_eq(b.n, 4, "appends after a failure do nothing");
    qr_buf_reset(&b);
    qr_buf_put_varint(&b, 300);
    qr_buf_put(&b, "abc", 3);
    cr_assert_eq(b.err, 0);
    cr_assert_eq(b.n, 5);
    cr_assert_eq(memcmp(b.p, "\xac\x02" "abc", 5), 0);
    qr_buf_free(&b);
}

Test(buf, get_bytes_bounds)
{
    static const uint8_t d[] = {1, 2, 3};
    qr_cursor c = qr_cursor_make(d, 3);
    qr_slice s = qr_get_bytes(&c, 2);
    cr_assert_eq(s.n, 2);
    cr_assert_eq(s.p, d);
    s = qr_get_bytes(&c, 2);
    cr_assert_null(s.p);
    cr_assert_eq(c.err, QR_ECORRUPT);
}

Test(checksum, frame_roundtrip_and_every_flip)
{
    qr_buf b = {0};
    qr_file_begin(&b, 0x51525354, 3);
    qr_buf_put(&b, "hello", 5);
    qr_file_end(&b, 0x51525354);
    cr_assert_eq(b.n, QR_FILE_HEADER_SIZE + 5 + QR_FILE_FOOTER_SIZE);
    qr_slice body;
    uint32_t version;
    qr_slice file = {b.p, b.n};
    cr_assert_eq(qr_file_open_body(&body, &version, file, 0x51525354, 1, 3, true), 0);
    cr_assert_eq(body.n, 5);
    cr_assert_eq(memcmp(body.p, "hello", 5), 0);
    for (size_t i = 0; i < b.n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            b.p[i] ^= (uint8_t)(1 << bit);
            int rc = qr_file_open_body(&body, &version, file, 0x51525354, 1, 3, true);
            cr_assert(rc == QR_ECORRUPT || rc == QR_EVERSION, "flip at %zu bit %d: %d", i, bit, rc);
            b.p[i] ^= (uint8_t)(1 << bit);
        }
    }
    for (size_t n = 0; n < b.n; n++) {
        qr_slice cut = {b.p, n};
        cr_assert_eq(qr_file_open_body(&body, NULL, cut, 0x51525354, 1, 3, true), QR_ECORRUPT);
    }
    qr_buf_free(&b);
}

Test(checksum, versions_too_old_and_too_new)
{
    for (uint32_t v = 0; v < 6; v++) {
        qr_buf b = {0};
        qr_file_begin(&b, 0xabcd0001, v);
        qr_file_end(&b, 0xabcd0001);
        qr_slice body;
        uint32_t found = 99;
        int rc = qr_file_open_body(&body, &found, (qr_slice){b.p, b.n}, 0xabcd0001, 2, 4, true);
        cr_assert_eq(found, v);
        cr_assert_eq(rc, (v >= 2 && v <= 4) ? 0 : QR_EVERSION, "version %u", v);
        qr_buf_free(&b);
    }
}

Test(status, strerror_names_every_code)
{
    for (int c = 0; c >= QR_ETOOBIG; c--)
        cr_assert_str_neq(qr_strerror(c), "unknown error", "code %d", c);
    cr_assert_str_eq(qr_strerror(-1000), "unknown error");
}

/* qr_calloc_table: zeroed, aligned (a huge page from QR_HUGE_PAGE bytes up), writable, freed by
 * mem. */
Test(alloc, table_is_zeroed_aligned_and_writable)
{
    const size_t sizes[] = {64, 4096 * 3 + 64, QR_HUGE_PAGE, 2 * (size_t)QR_HUGE_PAGE};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        void *mem = NULL;
        uint8_t *t = qr_calloc_table(sizes[i], &mem);
        cr_assert_not_null(t);
        cr_assert_not_null(mem);
        size_t align = sizes[i] >= QR_HUGE_PAGE ? QR_HUGE_PAGE : 64;
        cr_assert_eq((uintptr_t)t % align, 0, "size %zu", sizes[i]);
        cr_assert_geq((uintptr_t)t, (uintptr_t)mem);
        cr_assert_lt((uintptr_t)t - (uintptr_t)mem, align);
        for (size_t j = 0; j < sizes[i]; j++)
            cr_assert_eq(t[j], 0, "byte %zu of %zu", j, sizes[i]);
        memset(t, 0xa5, sizes[i]);
        cr_assert_eq(t[sizes[i] - 1], 0xa5);
        qr_free(mem);
    }
}

Test(alloc, table_size_overflow_and_injected_fault_give_null)
{
    void *mem = (void *)&mem;
    cr_assert_null(qr_calloc_table(SIZE_MAX - 8, &mem));
    cr_assert_eq(mem, (void *)&mem, "mem untouched on failure");
    qr_alloc_fail_after(0);
    cr_assert_null(qr_calloc_table(4096, &mem));
    qr_alloc_fail_after(-1);
    cr_assert_eq(mem, (void *)&mem);
}
