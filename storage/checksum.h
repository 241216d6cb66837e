/*
 * Self-identifying files: header, body, checksummed footer.
 *
 * Every file quarry writes has this byte grammar (little endian):
 *
 *   file   := header body footer
 *   header := magic:u32 version:u32
 *   footer := ~magic:u32 checksum:u64   checksum = XXH3_64bits of every byte before it
 *
 * (Lucene's CodecUtil, tantivy's footer.rs.) A reader checks, in order: the
 * length (>= 20 bytes), the header magic and the footer magic (else
 * QR_ECORRUPT), the checksum (else QR_ECORRUPT), then the version: older than
 * the oldest readable or newer than this build are both QR_EVERSION, and
 * out_version tells which.
 */
#ifndef QR_STORAGE_CHECKSUM_H
#define QR_STORAGE_CHECKSUM_H

#include <stdbool.h>
#include <stdint.h>

#ifndef XXH_STATIC_LINKING_ONLY
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t's definition, for a state without allocation */
#endif
#include <xxhash.h>

#include "storage/buf.h"

#define QR_FILE_HEADER_SIZE 8
#define QR_FILE_FOOTER_SIZE 12

/* xxh3-64 of bytes (the checksum used everywhere). */
uint64_t qr_checksum(const void *p, size_t n);

/*
 * The same checksum over bytes given piece by piece (a file written as a
 * stream): reset, update with every byte in order, digest. Equal to
 * qr_checksum of the concatenation. The state is a plain struct (no
 * allocation); XXH3_state_t wants 64-byte alignment, which the struct keeps.
 */
typedef struct qr_checksum_state {
    XXH3_state_t xxh;
} qr_checksum_state;

void qr_checksum_reset(qr_checksum_state *s);
void qr_checksum_update(qr_checksum_state *s, const void *p, size_t n);
uint64_t qr_checksum_digest(const qr_checksum_state *s);

/* Appends the header to an empty or partly filled buffer. */
void qr_file_begin(qr_buf *b, uint32_t magic, uint32_t version);
/* Appends the footer: ~magic, then the checksum of every byte before the checksum. */
void qr_file_end(qr_buf *b, uint32_t magic);

/*
 * Checks a whole file image and lends its body (between header and footer,
 * valid as long as `file`). With verify = false the checksum is not computed
 * (structure, magic and version are still checked); `quarry check` and
 * merges verify. min_version..max_version is the readable range.
 * Returns 0, QR_ECORRUPT or QR_EVERSION (out_version, if not NULL, then holds
 * the version found).
 */
int qr_file_open_body(qr_slice *out_body, uint32_t *out_version, qr_slice file, uint32_t magic,
                      uint32_t min_version, uint32_t max_version, bool verify);

#endif
