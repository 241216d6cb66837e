/*
 * Header/footer framing and xxh3-64 checksums for every file quarry writes;
 * the byte grammar is in checksum.h.
 */
#include "storage/checksum.h"

#include "storage/status.h"

uint64_t qr_checksum(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

void qr_checksum_reset(qr_checksum_state *s)
{
    (void)XXH3_64bits_reset(&s->xxh); /* fails only for a NULL state */
}

void qr_checksum_update(qr_checksum_state *s, const void *p, size_t n)
{
    if (n)
        (void)XXH3_64bits_update(&s->xxh, p, n); /* fails only for a NULL input */
}

uint64_t qr_checksum_digest(const qr_checksum_state *s)
{
    return XXH3_64bits_digest(&s->xxh);
}

void qr_file_begin(qr_buf *b, uint32_t magic, uint32_t version)
{
    qr_buf_put_u32(b, magic);
    qr_buf_put_u32(b, version);
}

void qr_file_end(qr_buf *b, uint32_t magic)
{
    qr_buf_put_u32(b, ~magic);
    if (b->err)
        return;
    qr_buf_put_u64(b, qr_checksum(b->p, b->n));
}

int qr_file_open_body(qr_slice *out_body, uint32_t *out_version, qr_slice file, uint32_t magic,
                      uint32_t min_version, uint32_t max_version, bool verify)
{
    out_body->p = NULL;
    out_body->n = 0;
    if (file.n < QR_FILE_HEADER_SIZE + QR_FILE_FOOTER_SIZE)
        return QR_ECORRUPT;
    const uint8_t *foot = file.p + file.n - QR_FILE_FOOTER_SIZE;
    if (qr_load_u32(file.p) != magic || qr_load_u32(foot) != ~magic)
        return QR_ECORRUPT;
    if (verify && qr_checksum(file.p, file.n - 8) != qr_load_u64(foot + 4))
        return QR_ECORRUPT;
    uint32_t version = qr_load_u32(file.p + 4);
    if (out_version)
        *out_version = version;
    if (version < min_version || version > max_version)
        return QR_EVERSION;
    out_body->p = file.p + QR_FILE_HEADER_SIZE;
    out_body->n = file.n - QR_FILE_HEADER_SIZE - QR_FILE_FOOTER_SIZE;
    return 0;
}
