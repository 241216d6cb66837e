/*
 * Shared pieces of the libFuzzer targets and their seed generator: the
 * layout of a fuzz_segment input, a reader that takes fields off the fuzz
 * input (never failing: past the end it yields zeros and empty runs), the
 * framing a harness puts around a body so that the fuzzer can work on the
 * codecs behind the checksum, and FUZZ_ASSERT, which aborts (a finding) when
 * the code under test breaks one of its own promises on any input.
 *
 * fuzz_segment input: mode:u8 payload. mode % MODE_COUNT selects what the
 * payload is (below); with mode & MODE_FRAMED each file in the payload is a
 * body that the harness frames (header with the kind's magic and version 1,
 * footer with ~magic and the xxh3 checksum), else it is a whole file image.
 *
 *   MODE_TERMDICT  image                      a .tdi file
 *   MODE_DOCTABLE  image                      a .dmt file
 *   MODE_DOCSTORE  image                      a .sto file
 *   MODE_POSTINGS  nmeta:u8 meta{nmeta % 5} doc_len:varint doc:bytes pos:bytes(rest)
 *                  meta := df:varint ttf:varint doc_off:varint pos_off:varint
 *                  (the streams are bodies: never framed)
 *   MODE_SEGMENT   len:varint{4} tdi doc pos sto dmt(rest)   a segment in a memory dir
 *   MODE_MANIFEST  image                      MANIFEST-0000000000000001 in a memory dir
 *   MODE_DELETES   docs:u32 image             seg-0000000000000001-0000000000000001.del
 *   MODE_CHECK     len:varint{6} tdi doc pos sto dmt manifest deletes(rest)
 *                  a whole index (segment FUZZ_SEG_ID, MANIFEST-0000000000000001 and
 *                  seg-0000000000000001-0000000000000001.del) through qr_check
 */
#ifndef QR_TESTS_FUZZ_COMMON_H
#define QR_TESTS_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/buf.h"
#include "storage/checksum.h"

enum {
    MODE_TERMDICT,
    MODE_DOCTABLE,
    MODE_DOCSTORE,
    MODE_POSTINGS,
    MODE_SEGMENT,
    MODE_MANIFEST,
    MODE_DELETES,
    MODE_CHECK,
    MODE_COUNT,
    MODE_FRAMED = 0x80,
};

/* The id every fuzzed segment file carries, and the generation of its manifest. */
#define FUZZ_SEG_ID  1u
#define FUZZ_GEN     1u
#define FUZZ_DEL_GEN 1u

/* A finding: the code under test broke a promise it makes for every input. */
#define FUZZ_ASSERT(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: FUZZ_ASSERT(%s) failed\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The fuzz input, read front to back. */
typedef struct fuzz_in {
    const uint8_t *p;
    size_t n;
} fuzz_in;

static inline uint8_t fuzz_u8(fuzz_in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fuzz_u32(fuzz_in *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)fuzz_u8(in) << (8 * i);
    return v;
}

/* A LEB128 varint (at most 10 bytes). */
static inline uint64_t fuzz_varint(fuzz_in *in)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70 && in->n; shift += 7) {
        uint8_t b = fuzz_u8(in);
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    return v;
}

/* The next n bytes (fewer at the end of the input). */
static inline qr_slice fuzz_bytes(fuzz_in *in, uint64_t n)
{
    qr_slice s = {in->p, n < in->n ? (size_t)n : in->n};
    in->p += s.n;
    in->n -= s.n;
    return s;
}

static inline qr_slice fuzz_rest(fuzz_in *in)
{
    return fuzz_bytes(in, in->n);
}

/* Appends a whole file around body: header, body, footer (so checksums hold). */
static inline void fuzz_frame(qr_buf *out, uint32_t magic, qr_slice body)
{
    qr_file_begin(out, magic, 1);
    qr_buf_put(out, body.p, body.n);
    qr_file_end(out, magic);
}

#endif
