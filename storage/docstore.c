/*
 * The document store (.sto: titles and bodies in zstd blocks) and the
 * document table (.dmt: fixed-width per-document columns and paths).
 *
 * Byte grammar (little endian; varints are LEB128, see buf.h). Both files sit
 * inside the checksum.h frame, version 1.
 *
 * .sto, magic QR_DOCSTORE_MAGIC:
 *   body    := frame^nblocks blocks docs_off trailer
 *   frame   := one zstd frame (with its content size) of the block's records,
 *              concatenated in doc order
 *   record  := title_len:varint title:bytes body_len:varint body:bytes
 *   blocks  := (first_doc:u32 comp_off:u64 raw_len:u32)^nblocks
 *              first_doc: the block's first doc; 0 for the first block, then strictly
 *              increasing, < docs; comp_off: the frame's offset in the body, 0 then strictly
 *              increasing, < frames_len (a frame ends where the next, or frames_len, starts);
 *              raw_len: the frame's decompressed size, 1..QR_STORE_MAX_RAW
 *   docs_off:= rec_off:u32^docs   offset of each doc's record inside its decompressed block;
 *              a record ends where the next doc's starts (or at raw_len for the block's last)
 *   trailer := docs:u32 nblocks:u32 frames_len:u64
 *
 * A block is closed once its raw records reach QR_STORE_BLOCK bytes, so a
 * fetch decompresses one block of about 32 KiB (more only for a document
 * that is itself larger). The streaming writer (the one segments use)
 * compresses each block when the next document opens another and hands its
 * frame to the caller, keeping only the open block's raw records, the block
 * table and the per-document table; the other writer keeps every raw record
 * until finish (the zstd level is given there) and compresses block by
 * block then. Both produce the same bytes.
 *
 * .dmt, magic QR_DOCTABLE_MAGIC: one column per field (the query path reads
 * only `positions` per hit, so it gets its own dense array), then the paths:
 *   body    := docs:u32 positions:u32^docs title_positions:u32^docs size:u64^docs
 *              mtime_ns:i64^docs hash:u64^docs path_off:u32^(docs+1) path_bytes
 *              title_positions[i] <= positions[i]; path_off[0] = 0, non-decreasing,
 *              path_off[docs] = length of path_bytes (the body's rest);
 *              paths strictly increasing bytewise
 * The reader checks all of that at open (and computes the sum of positions),
 * so the accessors and the binary search in qr_doctable_find are sound on
 * any image that opened.
 */
#include "storage/docstore.h"

#include <assert.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "storage/alloc.h"
#include "storage/checksum.h"
#include "storage/status.h"

#define VERSION           QR_DOCSTORE_VERSION
#define STO_TRAILER       16u /* docs:u32 nblocks:u32 frames_len:u64 */
#define STO_BLOCK_ENTRY   16u /* first_doc:u32 comp_off:u64 raw_len:u32 */
#define DMT_FIXED_PER_DOC 36u /* 4 + 4 + 8 + 8 + 8 bytes of columns + 4 of path offset */

/* Appends the footer of a file that starts at `start` of b (qr_file_end hashes from byte 0). */
static void file_end_at(qr_buf *b, size_t start, uint32_t magic)
{
    qr_buf_put_u32(b, ~magic);
    if (b->err)
        return;
    qr_buf_put_u64(b, qr_checksum(b->p + start, b->n - start));
}

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0; /* an empty run may be NULL */
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/* ---- writer ---- */

/* One block of records. */
typedef struct wblock {
    uint32_t first_doc; /* its first doc */
    uint64_t raw_off;   /* where its records start in the raw text of all docs */
    uint64_t comp_off;  /* where its frame starts in the .sto body (once compressed) */
} wblock;

struct qr_docstore_writer {
    qr_buf text;       /* raw records from raw_base on: all of them, or the open block's */
    uint64_t raw_base; /* raw bytes compressed and dropped from text (streaming) */
    wblock *blocks;    /* blocks started */
    uint32_t nblocks, blocks_cap;
    uint32_t *rec_off; /* per doc: record offset inside its block */
    qr_doc_meta *meta; /* per doc: the table's fixed-width fields */
    uint32_t docs, docs_cap;
    qr_buf paths;        /* every path, concatenated */
    uint32_t *path_end;  /* per doc: end of its path in `paths` */
    qr_buf *frames;      /* streaming: where closed blocks' frames go (not owned); else NULL */
    int level;           /* streaming: the zstd level */
    ZSTD_CCtx *cctx;     /* created on the first compression */
    uint64_t frames_len; /* bytes of frames appended so far */
    int err;             /* sticky: a failed compression (streaming) */
};

int qr_docstore_writer_open(qr_docstore_writer **out)
{
    *out = qr_calloc(1, sizeof **out);
    return *out ? 0 : QR_ENOMEM;
}

int qr_docstore_writer_open_stream(qr_docstore_writer **out, int zstd_level, qr_buf *frames)
{
    *out = NULL;
    if (!frames || zstd_level < ZSTD_minCLevel() || zstd_level > ZSTD_maxCLevel())
        return QR_EINVAL;
    int rc = qr_docstore_writer_open(out);
    if (rc)
        return rc;
    (*out)->frames = frames;
    (*out)->level = zstd_level;
    return 0;
}

void qr_docstore_writer_close(qr_docstore_writer *w)
{
    if (!w)
        return;
    qr_buf_free(&w->text);
    qr_buf_free(&w->paths);
    qr_free(w->blocks);
    qr_free(w->rec_off);
    qr_free(w->meta);
    qr_free(w->path_end);
    ZSTD_freeCCtx(w->cctx);
    qr_free(w);
}

uint32_t qr_docstore_writer_count(const qr_docstore_writer *w)
{
    return w->docs;
}

/* Raw bytes of every record added so far. */
static uint64_t raw_total(const qr_docstore_writer *w)
{
    return w->raw_base + w->text.n;
}

/* Raw length of block i. */
static uint64_t raw_len(const qr_docstore_writer *w, uint32_t i)
{
    uint64_t end = i + 1 < w->nblocks ? w->blocks[i + 1].raw_off : raw_total(w);
    return end - w->blocks[i].raw_off;
}

static int zstd_rc(size_t r)
{
    return ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation ? QR_ENOMEM : QR_EINVAL;
}

/* Compresses block i (its records still in text) as one frame appended to out. */
static int compress_block(qr_docstore_writer *w, uint32_t i, int level, qr_buf *out)
{
    if (!w->cctx && !(w->cctx = ZSTD_createCCtx()))
        return QR_ENOMEM;
    size_t len = (size_t)raw_len(w, i);
    size_t bound = ZSTD_compressBound(len);
    if (qr_buf_reserve(out, bound))
        return QR_ENOMEM;
    const uint8_t *raw = w->text.p + (w->blocks[i].raw_off - w->raw_base);
    size_t n = ZSTD_compressCCtx(w->cctx, out->p + out->n, bound, raw, len, level);
    if (ZSTD_isError(n))
        return zstd_rc(n);
    out->n += n;
    w->blocks[i].comp_off = w->frames_len;
    w->frames_len += n;
    return 0;
}

/*
 * Streaming: compresses the open block (the last one) to frames and drops
 * its records. A large document's buffer is not kept.
 */
static int close_block(qr_docstore_writer *w)
{
    int rc = compress_block(w, w->nblocks - 1, w->level, w->frames);
    if (rc) {
        w->err = rc;
        return rc;
    }
    w->raw_base += w->text.n;
    if (w->text.cap > 4 * QR_STORE_BLOCK)
        qr_buf_free(&w->text);
    else
        qr_buf_reset(&w->text);
    return 0;
}

/* Grows the per-doc arrays to hold one more doc. */
static int grow_docs(qr_docstore_writer *w)
{
    if (w->docs < w->docs_cap)
        return 0;
    uint32_t cap = w->docs_cap ? w->docs_cap * 2 : 64;
    if (cap < w->docs_cap)
        return QR_ETOOBIG;
    uint32_t *ro = qr_reallocarray(w->rec_off, cap, sizeof *ro);
    if (!ro)
        return QR_ENOMEM;
    w->rec_off = ro;
    qr_doc_meta *m = qr_reallocarray(w->meta, cap, sizeof *m);
    if (!m)
        return QR_ENOMEM;
    w->meta = m;
    uint32_t *pe = qr_reallocarray(w->path_end, cap, sizeof *pe);
    if (!pe)
        return QR_ENOMEM;
    w->path_end = pe;
    w->docs_cap = cap;
    return 0;
}

int qr_docstore_add(qr_docstore_writer *w, const qr_doc_in *doc)
{
    if (w->err)
        return w->err;
    if (w->text.err || w->paths.err)
        return QR_ENOMEM;
    if (doc->title_positions > doc->positions)
        return QR_EINVAL;
    if (w->docs > 0) {
        uint32_t ps = w->docs > 1 ? w->path_end[w->docs - 2] : 0;
        uint32_t pe = w->path_end[w->docs - 1];
        /* only empty paths so far: paths.p is still NULL, and NULL + 0 is undefined */
        const uint8_t *prev = w->paths.p ? w->paths.p + ps : NULL;
        if (cmp_bytes(prev, pe - ps, (const uint8_t *)doc->path, doc->path_len) >= 0)
            return QR_EINVAL; /* paths must be strictly increasing */
    }
    /* 20 bytes: room for the two length varints inside a block of at most QR_STORE_MAX_RAW. */
    if (w->docs == UINT32_MAX || doc->path_len > UINT32_MAX - w->paths.n ||
        doc->title_len > QR_STORE_MAX_RAW - 20 ||
        doc->body_len > QR_STORE_MAX_RAW - 20 - doc->title_len)
        return QR_ETOOBIG;
    int rc = grow_docs(w);
    if (rc)
        return rc;
    /* A new block when there is none yet or the current one is full. */
    uint64_t open_raw = w->nblocks ? raw_total(w) - w->blocks[w->nblocks - 1].raw_off : 0;
    bool new_block = w->nblocks == 0 || open_raw >= QR_STORE_BLOCK;
    /* A record may not push a block past the sane maximum the reader accepts. */
    size_t rec_len = qr_varint_len(doc->title_len) + doc->title_len + qr_varint_len(doc->body_len) +
                     doc->body_len;
    if (!new_block && open_raw > QR_STORE_MAX_RAW - rec_len)
        new_block = true;
    if (new_block && w->nblocks == w->blocks_cap) {
        uint32_t cap = w->blocks_cap ? w->blocks_cap * 2 : 16;
        wblock *b = qr_reallocarray(w->blocks, cap, sizeof *b);
        if (!b)
            return QR_ENOMEM;
        w->blocks = b;
        w->blocks_cap = cap;
    }
    if (new_block && w->frames && w->nblocks && (rc = close_block(w)))
        return rc;
    uint64_t text_off = raw_total(w);
    size_t text_n = w->text.n, paths_n = w->paths.n;
    qr_buf_reserve(&w->text, rec_len);
    qr_buf_put_varint(&w->text, doc->title_len);
    qr_buf_put(&w->text, doc->title, doc->title_len);
    qr_buf_put_varint(&w->text, doc->body_len);
    qr_buf_put(&w->text, doc->body, doc->body_len);
    qr_buf_put(&w->paths, doc->path, doc->path_len);
    if (w->text.err || w->paths.err) {
        /* Leave the writer as it was, but for the sticky error. */
        w->text.n = text_n;
        w->paths.n = paths_n;
        return QR_ENOMEM;
    }
    if (new_block) {
        w->blocks[w->nblocks].first_doc = w->docs;
        w->blocks[w->nblocks].raw_off = text_off;
        w->blocks[w->nblocks].comp_off = 0;
        w->nblocks++;
    }
    w->rec_off[w->docs] = (uint32_t)(text_off - w->blocks[w->nblocks - 1].raw_off);
    w->meta[w->docs] =
        (qr_doc_meta){doc->positions, doc->title_positions, doc->size, doc->mtime_ns, doc->hash};
    w->path_end[w->docs] = (uint32_t)w->paths.n;
    w->docs++;
    return 0;
}

/* Appends what follows the frames in the .sto body: block table, record offsets, trailer. */
static void put_store_index(const qr_docstore_writer *w, qr_buf *out)
{
    for (uint32_t i = 0; i < w->nblocks; i++) {
        qr_buf_put_u32(out, w->blocks[i].first_doc);
        qr_buf_put_u64(out, w->blocks[i].comp_off);
        qr_buf_put_u32(out, (uint32_t)raw_len(w, i));
    }
    for (uint32_t d = 0; d < w->docs; d++)
        qr_buf_put_u32(out, w->rec_off[d]);
    qr_buf_put_u32(out, w->docs);
    qr_buf_put_u32(out, w->nblocks);
    qr_buf_put_u64(out, w->frames_len);
}

static int finish_store(qr_docstore_writer *w, int level, qr_buf *store)
{
    size_t start = store->n;
    qr_file_begin(store, QR_DOCSTORE_MAGIC, VERSION);
    w->frames_len = 0;
    for (uint32_t i = 0; i < w->nblocks; i++) {
        int rc = compress_block(w, i, level, store);
        if (rc)
            return rc;
    }
    put_store_index(w, store);
    file_end_at(store, start, QR_DOCSTORE_MAGIC);
    return store->err;
}

static void finish_table(qr_docstore_writer *w, qr_buf *table)
{
    size_t start = table->n;
    qr_buf_reserve(table, QR_FILE_HEADER_SIZE + 4 + (size_t)w->docs * DMT_FIXED_PER_DOC + 4 +
                              w->paths.n + QR_FILE_FOOTER_SIZE);
    qr_file_begin(table, QR_DOCTABLE_MAGIC, VERSION);
    qr_buf_put_u32(table, w->docs);
    for (uint32_t d = 0; d < w->docs; d++)
        qr_buf_put_u32(table, w->meta[d].positions);
    for (uint32_t d = 0; d < w->docs; d++)
        qr_buf_put_u32(table, w->meta[d].title_positions);
    for (uint32_t d = 0; d < w->docs; d++)
        qr_buf_put_u64(table, w->meta[d].size);
    for (uint32_t d = 0; d < w->docs; d++)
        qr_buf_put_u64(table, (uint64_t)w->meta[d].mtime_ns);
    for (uint32_t d = 0; d < w->docs; d++)
        qr_buf_put_u64(table, w->meta[d].hash);
    qr_buf_put_u32(table, 0);
    for (uint32_t d = 0; d < w->docs; d++)
        qr_buf_put_u32(table, w->path_end[d]);
    qr_buf_put(table, w->paths.p, w->paths.n);
    file_end_at(table, start, QR_DOCTABLE_MAGIC);
}

int qr_docstore_finish(qr_docstore_writer *w, int zstd_level, qr_buf *store, qr_buf *table)
{
    if (w->frames)
        return QR_EINVAL; /* a streaming writer ends with qr_docstore_finish_stream */
    if (w->text.err || w->paths.err)
        return QR_ENOMEM;
    if (store->err || table->err)
        return QR_ENOMEM;
    int rc = finish_store(w, zstd_level, store);
    if (rc)
        return rc;
    finish_table(w, table);
    return table->err;
}

int qr_docstore_finish_stream(qr_docstore_writer *w, qr_buf *table)
{
    if (!w->frames)
        return QR_EINVAL;
    if (w->err)
        return w->err;
    if (w->text.err || w->paths.err || w->frames->err || table->err)
        return QR_ENOMEM;
    int rc = w->nblocks ? close_block(w) : 0;
    if (rc)
        return rc;
    put_store_index(w, w->frames);
    if (w->frames->err)
        return QR_ENOMEM;
    finish_table(w, table);
    return table->err;
}

/* ---- document table reader ---- */

struct qr_doctable {
    uint32_t docs;            /* documents */
    uint64_t total_positions; /* sum of positions, computed at open */
    const uint8_t *positions; /* columns inside the borrowed image */
    const uint8_t *title_positions;
    const uint8_t *size;
    const uint8_t *mtime;
    const uint8_t *hash;
    const uint8_t *path_off; /* docs + 1 offsets */
    const uint8_t *paths;    /* path bytes */
};

int qr_doctable_open(qr_doctable **out, qr_slice file, bool verify)
{
    *out = NULL;
    qr_slice body;
    int rc = qr_file_open_body(&body, NULL, file, QR_DOCTABLE_MAGIC, VERSION, VERSION, verify);
    if (rc)
        return rc;
    if (body.n < 8)
        return QR_ECORRUPT;
    uint32_t docs = qr_load_u32(body.p);
    uint64_t fixed = 4 + (uint64_t)docs * DMT_FIXED_PER_DOC + 4;
    if (fixed > body.n)
        return QR_ECORRUPT;
    qr_doctable t = {.docs = docs};
    t.positions = body.p + 4;
    t.title_positions = t.positions + (size_t)docs * 4;
    t.size = t.title_positions + (size_t)docs * 4;
    t.mtime = t.size + (size_t)docs * 8;
    t.hash = t.mtime + (size_t)docs * 8;
    t.path_off = t.hash + (size_t)docs * 8;
    t.paths = t.path_off + ((size_t)docs + 1) * 4;
    size_t path_bytes = body.n - (size_t)fixed;
    if (qr_load_u32(t.path_off) != 0 || qr_load_u32(t.path_off + (size_t)docs * 4) != path_bytes)
        return QR_ECORRUPT;
    uint32_t prev_s = 0, prev_e = 0;
    for (uint32_t d = 0; d < docs; d++) {
        uint32_t pos = qr_load_u32(t.positions + (size_t)d * 4);
        if (qr_load_u32(t.title_positions + (size_t)d * 4) > pos)
            return QR_ECORRUPT;
        t.total_positions += pos;
        uint32_t s = qr_load_u32(t.path_off + (size_t)d * 4);
        uint32_t e = qr_load_u32(t.path_off + (size_t)d * 4 + 4);
        if (e < s || e > path_bytes)
            return QR_ECORRUPT;
        if (d > 0 && cmp_bytes(t.paths + prev_s, prev_e - prev_s, t.paths + s, e - s) >= 0)
            return QR_ECORRUPT;
        prev_s = s;
        prev_e = e;
    }
    qr_doctable *r = qr_malloc(sizeof *r);
    if (!r)
        return QR_ENOMEM;
    *r = t;
    *out = r;
    return 0;
}

void qr_doctable_close(qr_doctable *t)
{
    qr_free(t);
}

uint32_t qr_doctable_count(const qr_doctable *t)
{
    return t->docs;
}

uint64_t qr_doctable_total_positions(const qr_doctable *t)
{
    return t->total_positions;
}

uint32_t qr_doctable_positions(const qr_doctable *t, uint32_t doc)
{
    assert(doc < t->docs);
    return qr_load_u32(t->positions + (size_t)doc * 4);
}

uint32_t qr_doctable_title_positions(const qr_doctable *t, uint32_t doc)
{
    assert(doc < t->docs);
    return qr_load_u32(t->title_positions + (size_t)doc * 4);
}

void qr_doctable_meta(const qr_doctable *t, uint32_t doc, qr_doc_meta *out)
{
    assert(doc < t->docs);
    out->positions = qr_load_u32(t->positions + (size_t)doc * 4);
    out->title_positions = qr_load_u32(t->title_positions + (size_t)doc * 4);
    out->size = qr_load_u64(t->size + (size_t)doc * 8);
    out->mtime_ns = (int64_t)qr_load_u64(t->mtime + (size_t)doc * 8);
    out->hash = qr_load_u64(t->hash + (size_t)doc * 8);
}

qr_slice qr_doctable_path(const qr_doctable *t, uint32_t doc)
{
    assert(doc < t->docs);
    uint32_t s = qr_load_u32(t->path_off + (size_t)doc * 4);
    uint32_t e = qr_load_u32(t->path_off + (size_t)doc * 4 + 4);
    qr_slice r = {t->paths + s, e - s};
    return r;
}

int qr_doctable_find(const qr_doctable *t, const char *path, size_t len, uint32_t *out_doc)
{
    uint32_t lo = 0, hi = t->docs;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        qr_slice p = qr_doctable_path(t, mid);
        int c = cmp_bytes(p.p, p.n, (const uint8_t *)path, len);
        if (c == 0) {
            *out_doc = mid;
            return 0;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return QR_ENOTFOUND;
}

/* ---- document store reader ---- */

struct qr_docstore {
    uint32_t docs;         /* documents */
    uint32_t nblocks;      /* blocks */
    const uint8_t *frames; /* the zstd frames (borrowed) */
    uint64_t frames_len;
    const uint8_t *blocks;  /* block entries (borrowed) */
    const uint8_t *rec_off; /* per-doc record offsets (borrowed) */
    ZSTD_DCtx *dctx;        /* reused by every fetch */
    uint8_t *cache;         /* the last decompressed block (owned) */
    size_t cache_cap;
    int64_t cached; /* its block number, -1 when none */
};

static uint32_t blk_first(const qr_docstore *s, uint32_t b)
{
    return qr_load_u32(s->blocks + (size_t)b * STO_BLOCK_ENTRY);
}

static uint64_t blk_comp(const qr_docstore *s, uint32_t b)
{
    return qr_load_u64(s->blocks + (size_t)b * STO_BLOCK_ENTRY + 4);
}

static uint32_t blk_raw(const qr_docstore *s, uint32_t b)
{
    return qr_load_u32(s->blocks + (size_t)b * STO_BLOCK_ENTRY + 12);
}

int qr_docstore_open(qr_docstore **out, qr_slice file, bool verify)
{
    *out = NULL;
    qr_slice body;
    int rc = qr_file_open_body(&body, NULL, file, QR_DOCSTORE_MAGIC, VERSION, VERSION, verify);
    if (rc)
        return rc;
    if (body.n < STO_TRAILER)
        return QR_ECORRUPT;
    const uint8_t *tr = body.p + body.n - STO_TRAILER;
    qr_docstore t = {.docs = qr_load_u32(tr), .nblocks = qr_load_u32(tr + 4), .cached = -1};
    t.frames_len = qr_load_u64(tr + 8);
    uint64_t rest = body.n - STO_TRAILER;
    if (t.frames_len > rest ||
        rest - t.frames_len != (uint64_t)t.nblocks * STO_BLOCK_ENTRY + (uint64_t)t.docs * 4)
        return QR_ECORRUPT;
    if (t.nblocks > t.docs || (t.docs > 0 && t.nblocks == 0))
        return QR_ECORRUPT;
    t.frames = body.p;
    t.blocks = body.p + t.frames_len;
    t.rec_off = t.blocks + (size_t)t.nblocks * STO_BLOCK_ENTRY;
    for (uint32_t b = 0; b < t.nblocks; b++) {
        uint32_t first = blk_first(&t, b);
        uint64_t comp = blk_comp(&t, b);
        uint32_t raw = blk_raw(&t, b);
        if (b == 0 ? first != 0 || comp != 0
                   : first <= blk_first(&t, b - 1) || comp <= blk_comp(&t, b - 1))
            return QR_ECORRUPT;
        if (first >= t.docs || comp >= t.frames_len || raw == 0 || raw > QR_STORE_MAX_RAW)
            return QR_ECORRUPT;
    }
    if (t.nblocks == 0 && t.frames_len != 0)
        return QR_ECORRUPT;
    qr_docstore *s = qr_malloc(sizeof *s);
    if (!s)
        return QR_ENOMEM;
    *s = t;
    s->dctx = ZSTD_createDCtx();
    if (!s->dctx) {
        qr_free(s);
        return QR_ENOMEM;
    }
    *out = s;
    return 0;
}

void qr_docstore_close(qr_docstore *s)
{
    if (!s)
        return;
    ZSTD_freeDCtx(s->dctx);
    qr_free(s->cache);
    qr_free(s);
}

uint32_t qr_docstore_count(const qr_docstore *s)
{
    return s->docs;
}

/* Decompresses block b into the cache (checked against the index's raw_len). */
static int load_block(qr_docstore *s, uint32_t b)
{
    if (s->cached == (int64_t)b)
        return 0;
    s->cached = -1;
    uint64_t off = blk_comp(s, b);
    uint64_t end = b + 1 < s->nblocks ? blk_comp(s, b + 1) : s->frames_len;
    size_t raw = blk_raw(s, b);
    const uint8_t *frame = s->frames + off;
    size_t len = (size_t)(end - off);
    unsigned long long content = ZSTD_getFrameContentSize(frame, len);
    if (content == ZSTD_CONTENTSIZE_UNKNOWN || content == ZSTD_CONTENTSIZE_ERROR || content != raw)
        return QR_ECORRUPT;
    size_t flen = ZSTD_findFrameCompressedSize(frame, len);
    if (ZSTD_isError(flen) || flen != len)
        return QR_ECORRUPT;
    if (raw > s->cache_cap) {
        uint8_t *c = qr_reallocarray(s->cache, raw, 1);
        if (!c)
            return QR_ENOMEM;
        s->cache = c;
        s->cache_cap = raw;
    }
    size_t got = ZSTD_decompressDCtx(s->dctx, s->cache, raw, frame, len);
    if (ZSTD_isError(got)) {
        if (ZSTD_getErrorCode(got) == ZSTD_error_memory_allocation)
            return QR_ENOMEM;
        return QR_ECORRUPT;
    }
    if (got != raw)
        return QR_ECORRUPT;
    s->cached = b;
    return 0;
}

int qr_docstore_get(qr_docstore *s, uint32_t doc, qr_slice *out_title, qr_slice *out_body)
{
    if (doc >= s->docs)
        return QR_EINVAL;
    /* The last block whose first doc is <= doc (block 0 starts at doc 0). */
    uint32_t lo = 0, hi = s->nblocks - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo + 1) / 2;
        if (blk_first(s, mid) <= doc)
            lo = mid;
        else
            hi = mid - 1;
    }
    int rc = load_block(s, lo);
    if (rc)
        return rc;
    uint32_t raw = blk_raw(s, lo);
    uint32_t next_first = lo + 1 < s->nblocks ? blk_first(s, lo + 1) : s->docs;
    uint32_t off = qr_load_u32(s->rec_off + (size_t)doc * 4);
    uint32_t end = doc + 1 < next_first ? qr_load_u32(s->rec_off + (size_t)doc * 4 + 4) : raw;
    if (off > end || end > raw)
        return QR_ECORRUPT;
    qr_cursor c = qr_cursor_make(s->cache + off, end - off);
    uint32_t tl = qr_get_varint32(&c);
    qr_slice title = qr_get_bytes(&c, tl);
    uint32_t bl = qr_get_varint32(&c);
    qr_slice body = qr_get_bytes(&c, bl);
    if (c.err || qr_cursor_left(&c) != 0)
        return QR_ECORRUPT;
    *out_title = title;
    *out_body = body;
    return 0;
}
