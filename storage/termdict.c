/*
 * The term dictionary (.tdi): every term of a segment in bytewise order with
 * its postings metadata, front-coded in blocks, plus a block index that the
 * reader binary searches straight off the mapped image.
 *
 * Byte grammar (little endian; varints are LEB128, see buf.h), inside the
 * checksum.h frame with magic QR_TERMDICT_MAGIC, version 1:
 *
 *   body    := block* index trailer
 *   block   := first rest*                 block_terms entries (the last block: the remainder)
 *   first   := meta_abs                    the block's first term is stored only in the index
 *   rest    := shared:varint suffix_len:varint suffix:bytes meta_rel
 *              term = previous term[0..shared) + suffix; 1 <= term length <= 255;
 *              each term is strictly greater than the previous one
 *   meta_abs := df:varint ttf_minus_df:varint doc_off:varint pos_off:varint
 *   meta_rel := df:varint ttf_minus_df:varint doc_delta:varint pos_delta:varint
 *              offsets delta-coded against the previous term of the block
 *   index   := (term_len:varint term:bytes block_off:varint)^nblocks
 *              block_off: byte offset of the block in the body; the first is 0, then
 *              strictly increasing; a block ends where the next one (or the index) starts;
 *              first terms strictly increasing
 *   trailer := terms:u64 sum_df:u64 sum_ttf:u64 index_off:u64 nblocks:u32 block_terms:u32
 *              nblocks = ceil(terms / block_terms)
 *
 * Size, measured on real segments (metadata included, postings offsets as
 * postings.c makes them): BBC news, 2,225 articles, 23,463 terms of 6.4 bytes
 * on average: 9.0 bytes per term; 20 Newsgroups, 18,846 posts, 166,045
 * terms: 8.8 bytes per term. Block size barely matters for size (BBC: 9.5
 * bytes per term with 16-term blocks, 9.2 with 32, 9.0 with 64 and 128;
 * enwiki's 8 segments: .tdi +2% from 64 to 32) but a lookup scans half a
 * block on average: 32 (enwiki queries ~7% faster than with 64; 16 was no
 * better). Readers take any block size up to MAX_BLOCK_TERMS from the
 * trailer, so files written with 64 read the same.
 *
 * The reader allocates one small array (one entry per block: the first term's
 * place in the image and the block's extent); it never copies terms. Every
 * read goes through a bounds-checked cursor; order violations found while
 * decoding are QR_ECORRUPT.
 */
#include "storage/termdict.h"

#include <string.h>

#include "storage/alloc.h"
#include "storage/checksum.h"
#include "storage/status.h"

#define VERSION     1u
#define BLOCK_TERMS 32u  /* terms per block written */
#define MAX_TERM    255u /* longest term accepted */
/* trailer: terms, sum_df, sum_ttf, index_off (u64); nblocks, block_terms (u32) */
#define TRAILER_SIZE    40u
#define MAX_BLOCK_TERMS 65536u /* readers reject larger blocks: a corrupt count, not a format */

struct qr_termdict_writer {
    qr_buf blocks;          /* the blocks, as they will appear in the body */
    qr_buf index;           /* the block index */
    uint8_t prev[MAX_TERM]; /* the previous term */
    size_t prev_len;        /* its length; 0 before the first term */
    qr_term_meta prev_meta; /* the previous term's metadata */
    uint64_t count;         /* terms added */
    uint32_t nblocks;       /* blocks started */
    uint64_t sum_df;        /* sum of df over the terms */
    uint64_t sum_ttf;       /* sum of ttf over the terms */
};

/* One block as the reader sees it: offsets into the body, no copies. */
typedef struct blk {
    uint64_t key8;    /* the first term's first 8 bytes, big endian, zero-padded (see key8) */
    size_t term_off;  /* the first term's bytes in the body */
    size_t off;       /* the block's first byte */
    size_t end;       /* one past its last byte */
    uint8_t term_len; /* the first term's length (1..255) */
} blk;

struct qr_termdict {
    qr_slice body;        /* the file body (borrowed) */
    uint64_t count;       /* terms */
    uint64_t sum_df;      /* sum of df, from the trailer */
    uint64_t sum_ttf;     /* sum of ttf, from the trailer */
    uint32_t nblocks;     /* blocks */
    uint32_t block_terms; /* terms per block (the last block may hold fewer) */
    blk *blocks;          /* nblocks entries, owned */
};

/* Bytewise order, shorter first on a common prefix (memcmp order of the terms). */
static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0; /* an empty run may be NULL */
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

/*
 * The first 8 bytes of a term as a big-endian number, zero-padded. Where two
 * terms' numbers differ they order as the terms do (a shorter term's padding
 * only ever ties with bytes of the longer one), so the block search compares
 * numbers and falls back to bytes only on a tie.
 */
static uint64_t key8(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8; i++)
        v = v << 8 | (i < n ? p[i] : 0);
    return v;
}

/* A varint: the one-byte case inline, the rest (and every error) through buf.c. */
static inline uint64_t get_vint(qr_cursor *c)
{
    if (c->p < c->end && *c->p < 0x80)
        return *c->p++;
    return qr_get_varint64(c);
}

/*
 * n (2 or 4) varints: when the next n bytes are all there and all single-byte
 * varints (the usual), in one test; else one by one through get_vint.
 */
static inline void get_vints(qr_cursor *c, uint64_t *v, size_t n)
{
    if (qr_cursor_left(c) >= 4) {
        uint32_t w = qr_load_u32(c->p);
        uint32_t mask = n == 2 ? 0x8080u : 0x80808080u;
        if (!(w & mask)) {
            for (size_t i = 0; i < n; i++)
                v[i] = w >> (8 * i) & 0xff;
            c->p += n;
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        v[i] = get_vint(c);
}

/* ---- writer ---- */

int qr_termdict_writer_open(qr_termdict_writer **out)
{
    *out = qr_calloc(1, sizeof **out);
    return *out ? 0 : QR_ENOMEM;
}

void qr_termdict_writer_close(qr_termdict_writer *w)
{
    if (!w)
        return;
    qr_buf_free(&w->blocks);
    qr_buf_free(&w->index);
    qr_free(w);
}

uint64_t qr_termdict_writer_count(const qr_termdict_writer *w)
{
    return w->count;
}

static void put_meta(qr_buf *b, const qr_term_meta *m, uint64_t doc_base, uint64_t pos_base)
{
    qr_buf_put_varint(b, m->df);
    qr_buf_put_varint(b, m->ttf - m->df);
    qr_buf_put_varint(b, m->doc_off - doc_base);
    qr_buf_put_varint(b, m->pos_off - pos_base);
}

int qr_termdict_add(qr_termdict_writer *w, const char *term, size_t len, const qr_term_meta *meta)
{
    const uint8_t *t = (const uint8_t *)term;
    if (w->blocks.err || w->index.err)
        return QR_ENOMEM;
    if (len == 0 || len > MAX_TERM || meta->ttf < meta->df)
        return QR_EINVAL;
    if (w->count > 0) {
        if (cmp_bytes(w->prev, w->prev_len, t, len) >= 0)
            return QR_EINVAL;
        if (meta->doc_off < w->prev_meta.doc_off || meta->pos_off < w->prev_meta.pos_off)
            return QR_EINVAL; /* postings are appended term after term */
    }
    if (w->count % BLOCK_TERMS == 0) {
        if (w->nblocks == UINT32_MAX)
            return QR_ETOOBIG;
        qr_buf_put_varint(&w->index, len);
        qr_buf_put(&w->index, t, len);
        qr_buf_put_varint(&w->index, w->blocks.n);
        put_meta(&w->blocks, meta, 0, 0);
        w->nblocks++;
    } else {
        size_t shared = 0;
        while (shared < len && shared < w->prev_len && w->prev[shared] == t[shared])
            shared++;
        qr_buf_put_varint(&w->blocks, shared);
        qr_buf_put_varint(&w->blocks, len - shared);
        qr_buf_put(&w->blocks, t + shared, len - shared);
        put_meta(&w->blocks, meta, w->prev_meta.doc_off, w->prev_meta.pos_off);
    }
    if (w->blocks.err || w->index.err)
        return QR_ENOMEM;
    memcpy(w->prev, t, len);
    w->prev_len = len;
    w->prev_meta = *meta;
    w->count++;
    w->sum_df += meta->df;
    w->sum_ttf += meta->ttf;
    return 0;
}

int qr_termdict_finish(qr_termdict_writer *w, qr_buf *out)
{
    if (w->blocks.err || w->index.err)
        return QR_ENOMEM;
    if (out->err)
        return out->err;
    size_t start = out->n;
    qr_buf_reserve(out, QR_FILE_HEADER_SIZE + w->blocks.n + w->index.n + TRAILER_SIZE +
                            QR_FILE_FOOTER_SIZE);
    qr_file_begin(out, QR_TERMDICT_MAGIC, VERSION);
    qr_buf_put(out, w->blocks.p, w->blocks.n);
    qr_buf_put(out, w->index.p, w->index.n);
    qr_buf_put_u64(out, w->count);
    qr_buf_put_u64(out, w->sum_df);
    qr_buf_put_u64(out, w->sum_ttf);
    qr_buf_put_u64(out, w->blocks.n);
    qr_buf_put_u32(out, w->nblocks);
    qr_buf_put_u32(out, BLOCK_TERMS);
    /* The footer of the file that starts at `start` (qr_file_end hashes from byte 0). */
    qr_buf_put_u32(out, ~QR_TERMDICT_MAGIC);
    if (out->err)
        return out->err;
    qr_buf_put_u64(out, qr_checksum(out->p + start, out->n - start));
    return out->err;
}

/* ---- reader ---- */

int qr_termdict_open(qr_termdict **out, qr_slice file, bool verify)
{
    *out = NULL;
    qr_slice body;
    int rc = qr_file_open_body(&body, NULL, file, QR_TERMDICT_MAGIC, VERSION, VERSION, verify);
    if (rc)
        return rc;
    if (body.n < TRAILER_SIZE)
        return QR_ECORRUPT;
    qr_cursor tc = qr_cursor_make(body.p + body.n - TRAILER_SIZE, TRAILER_SIZE);
    uint64_t count = qr_get_u64(&tc);
    uint64_t sum_df = qr_get_u64(&tc);
    uint64_t sum_ttf = qr_get_u64(&tc);
    uint64_t index_off = qr_get_u64(&tc);
    uint32_t nblocks = qr_get_u32(&tc);
    uint32_t block_terms = qr_get_u32(&tc);
    size_t index_end = body.n - TRAILER_SIZE;
    if (tc.err || block_terms == 0 || block_terms > MAX_BLOCK_TERMS || index_off > index_end)
        return QR_ECORRUPT;
    uint64_t want_blocks = count == 0 ? 0 : (count - 1) / block_terms + 1;
    /* Each index entry takes at least 3 bytes: this bounds the allocation by the file size. */
    if (want_blocks != nblocks || nblocks > (index_end - index_off) / 3)
        return QR_ECORRUPT;
    if (count == 0 && index_off != 0)
        return QR_ECORRUPT;

    qr_termdict *d = qr_calloc(1, sizeof *d);
    if (!d)
        return QR_ENOMEM;
    d->body = body;
    d->count = count;
    d->sum_df = sum_df;
    d->sum_ttf = sum_ttf;
    d->nblocks = nblocks;
    d->block_terms = block_terms;
    if (nblocks) {
        d->blocks = qr_calloc(nblocks, sizeof *d->blocks);
        if (!d->blocks) {
            rc = QR_ENOMEM;
            goto out_free;
        }
    }
    qr_cursor c = qr_cursor_make(body.p + index_off, index_end - (size_t)index_off);
    for (uint32_t i = 0; i < nblocks; i++) {
        blk *b = &d->blocks[i];
        uint32_t tl = qr_get_varint32(&c);
        if (c.err || tl == 0 || tl > MAX_TERM)
            goto out_corrupt;
        b->term_len = (uint8_t)tl;
        b->term_off = (size_t)(c.p - body.p);
        qr_cursor_skip(&c, tl);
        if (c.err)
            goto out_corrupt;
        b->key8 = key8(body.p + b->term_off, tl);
        uint64_t off = qr_get_varint64(&c);
        if (c.err || off >= index_off)
            goto out_corrupt;
        b->off = (size_t)off;
        if (i == 0 ? off != 0 : off <= d->blocks[i - 1].off)
            goto out_corrupt;
        if (i > 0) {
            const blk *p = &d->blocks[i - 1];
            if (cmp_bytes(body.p + p->term_off, p->term_len, body.p + b->term_off, tl) >= 0)
                goto out_corrupt;
            d->blocks[i - 1].end = b->off;
        }
    }
    if (nblocks)
        d->blocks[nblocks - 1].end = (size_t)index_off;
    if (qr_cursor_left(&c) != 0)
        goto out_corrupt;
    *out = d;
    return 0;

out_corrupt:
    rc = QR_ECORRUPT;
out_free:
    qr_termdict_close(d);
    return rc;
}

void qr_termdict_close(qr_termdict *d)
{
    if (!d)
        return;
    qr_free(d->blocks);
    qr_free(d);
}

uint64_t qr_termdict_count(const qr_termdict *d)
{
    return d->count;
}

uint64_t qr_termdict_sum_df(const qr_termdict *d)
{
    return d->sum_df;
}

uint64_t qr_termdict_sum_ttf(const qr_termdict *d)
{
    return d->sum_ttf;
}

/* Terms in block b. */
static uint32_t block_count(const qr_termdict *d, uint64_t b)
{
    uint64_t first = b * d->block_terms;
    uint64_t left = d->count - first;
    return left < d->block_terms ? (uint32_t)left : d->block_terms;
}

/* The last block whose first term is <= key, or -1 when key sorts before every block. */
static int64_t find_block(const qr_termdict *d, const uint8_t *key, size_t len)
{
    int64_t lo = 0, hi = (int64_t)d->nblocks - 1, found = -1;
    uint64_t k8 = key8(key, len);
    while (lo <= hi) {
        int64_t mid = lo + (hi - lo) / 2;
        const blk *b = &d->blocks[mid];
        if (b->key8 != k8 ? b->key8 < k8
                          : cmp_bytes(d->body.p + b->term_off, b->term_len, key, len) <= 0) {
            found = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    return found;
}

static void scan_block(const qr_termdict *d, uint64_t b, qr_cursor *cur, uint32_t *left,
                       bool *first, uint8_t *term, size_t *term_len)
{
    const blk *k = &d->blocks[b];
    *cur = qr_cursor_make(d->body.p + k->off, k->end - k->off);
    *left = block_count(d, b);
    *first = true;
    memcpy(term, d->body.p + k->term_off, k->term_len);
    *term_len = k->term_len;
}

/*
 * term[shared..shared+n) = s[0..n) (s + n <= end, shared + n <= cap, the
 * size of term): short suffixes, the usual, as one fixed 16-byte move
 * where both sides have room, rather than a call to memcpy.
 */
static inline void copy_suffix(uint8_t *term, size_t cap, size_t shared, const uint8_t *s, size_t n,
                               const uint8_t *end)
{
    if (n <= 16 && shared + 16 <= cap && (size_t)(end - s) >= 16)
        memcpy(term + shared, s, 16);
    else
        memcpy(term + shared, s, n);
}

/*
 * Decodes the next entry of a block into term (256 bytes) and meta, which
 * hold the previous entry on the way in. Returns 0 or QR_ECORRUPT.
 */
static inline int decode_entry_sh(qr_cursor *c, uint32_t *left, bool *first, uint8_t *term,
                                  size_t *term_len, qr_term_meta *m, size_t *out_shared)
{
    if (*left == 0)
        return QR_ECORRUPT;
    uint64_t doc_base = 0, pos_base = 0;
    if (!*first) {
        uint64_t hdr[2];
        get_vints(c, hdr, 2);
        uint64_t shared = hdr[0], suffix = hdr[1];
        if (c->err || shared > *term_len || suffix > MAX_TERM - shared ||
            suffix > qr_cursor_left(c))
            return QR_ECORRUPT;
        *out_shared = (size_t)shared;
        const uint8_t *s = c->p;
        c->p += suffix;
        /* The new term must sort after the previous one. */
        if (shared < *term_len ? (suffix == 0 || s[0] <= term[shared]) : suffix == 0)
            return QR_ECORRUPT;
        copy_suffix(term, 256, shared, s, suffix, c->end);
        *term_len = shared + suffix;
        doc_base = m->doc_off;
        pos_base = m->pos_off;
    }
    uint64_t meta[4];
    get_vints(c, meta, 4);
    uint64_t df = meta[0], extra = meta[1], dd = meta[2], pd = meta[3];
    if (c->err || df > UINT32_MAX || extra > UINT64_MAX - df || dd > UINT64_MAX - doc_base ||
        pd > UINT64_MAX - pos_base)
        return QR_ECORRUPT;
    m->df = (uint32_t)df;
    m->ttf = df + extra;
    m->doc_off = doc_base + dd;
    m->pos_off = pos_base + pd;
    *first = false;
    if (--*left == 0 && qr_cursor_left(c) != 0)
        return QR_ECORRUPT; /* bytes after the block's last entry */
    return 0;
}

static inline int decode_entry(qr_cursor *c, uint32_t *left, bool *first, uint8_t *term,
                               size_t *term_len, qr_term_meta *m)
{
    size_t shared;
    return decode_entry_sh(c, left, first, term, term_len, m, &shared);
}

/*
 * Exact lookup inside block b. The scan never compares whole terms: it keeps
 * m, the length of the common prefix of the current term (always < key) and
 * the key. An entry sharing more than m bytes with its predecessor differs
 * from the key where the predecessor did, so it is still below; one sharing
 * fewer is above (it is greater than its predecessor at byte `shared`, where
 * the predecessor equals the key); only one sharing exactly m bytes needs
 * its suffix compared. Terms are still rebuilt, byte by byte, so that the
 * order check of decode_entry holds here too.
 */
static int get_in_block(const qr_termdict *d, uint64_t b, const uint8_t *key, size_t len,
                        qr_term_meta *out)
{
    const blk *k = &d->blocks[b];
    qr_cursor c = qr_cursor_make(d->body.p + k->off, k->end - k->off);
    uint32_t left = block_count(d, b);
    uint8_t term[256 + 16]; /* slack for copy_suffix */
    size_t tl = k->term_len;
    memcpy(term, d->body.p + k->term_off, tl);
    size_t m = 0;
    while (m < tl && m < len && term[m] == key[m])
        m++;
    /* the first term: equal, above (not here), or below */
    int where = m == tl && m == len ? 0 : m == len || (m < tl && term[m] > key[m]) ? 1 : -1;
    uint64_t df = get_vint(&c), extra = get_vint(&c), doc = get_vint(&c), pos = get_vint(&c);
    if (c.err || df > UINT32_MAX || extra > UINT64_MAX - df)
        return QR_ECORRUPT;
    if (--left == 0 && qr_cursor_left(&c) != 0)
        return QR_ECORRUPT;
    while (where < 0 && left > 0) {
        uint64_t hdr[2], meta[4];
        get_vints(&c, hdr, 2);
        uint64_t shared = hdr[0], suffix = hdr[1];
        if (c.err || shared > tl || suffix > MAX_TERM - shared || suffix > qr_cursor_left(&c))
            return QR_ECORRUPT;
        const uint8_t *s = c.p;
        c.p += suffix;
        /* The new term must sort after the previous one. */
        if (shared < tl ? (suffix == 0 || s[0] <= term[shared]) : suffix == 0)
            return QR_ECORRUPT;
        copy_suffix(term, sizeof term, shared, s, suffix, c.end);
        tl = shared + suffix;
        get_vints(&c, meta, 4);
        df = meta[0];
        extra = meta[1];
        uint64_t dd = meta[2], pd = meta[3];
        if (c.err || df > UINT32_MAX || extra > UINT64_MAX - df || dd > UINT64_MAX - doc ||
            pd > UINT64_MAX - pos)
            return QR_ECORRUPT;
        doc += dd;
        pos += pd;
        if (--left == 0 && qr_cursor_left(&c) != 0)
            return QR_ECORRUPT; /* bytes after the block's last entry */
        if (shared < m) {
            where = 1;
        } else if (shared == m) {
            size_t j = 0;
            while (j < suffix && m + j < len && s[j] == key[m + j])
                j++;
            m += j;
            if (j == suffix)
                where = m == len ? 0 : -1; /* the key itself, or a prefix of it */
            else
                where = m == len || s[j] > key[m] ? 1 : -1;
        }
    }
    if (where != 0)
        return QR_ENOTFOUND;
    out->df = (uint32_t)df;
    out->ttf = df + extra;
    out->doc_off = doc;
    out->pos_off = pos;
    return 0;
}

int qr_termdict_get(const qr_termdict *d, const char *term, size_t len, qr_term_meta *out)
{
    const uint8_t *key = (const uint8_t *)term;
    if (len == 0 || len > MAX_TERM)
        return QR_ENOTFOUND;
    int64_t b = find_block(d, key, len);
    if (b < 0)
        return QR_ENOTFOUND;
    return get_in_block(d, (uint64_t)b, key, len, out);
}

int qr_termdict_iter_init(qr_termdict_iter *it, const qr_termdict *d, const char *prefix,
                          size_t prefix_len)
{
    memset(it, 0, sizeof *it);
    it->d = d;
    if (prefix_len > MAX_TERM) {
        it->done = true;
        return QR_EINVAL;
    }
    if (prefix_len)
        memcpy(it->prefix, prefix, prefix_len);
    it->prefix_len = prefix_len;
    if (d->nblocks == 0) {
        it->done = true;
        return 0;
    }
    int64_t b = find_block(d, (const uint8_t *)prefix, prefix_len);
    it->block = b < 0 ? 0 : (uint64_t)b;
    scan_block(d, it->block, &it->cur, &it->left, &it->first, (uint8_t *)it->term, &it->term_len);
    return 0;
}

int qr_termdict_next(qr_termdict_iter *it, qr_slice *term, qr_term_meta *meta)
{
    if (it->err)
        return it->err;
    const qr_termdict *d = it->d;
    uint8_t *t = (uint8_t *)it->term;
    while (!it->done) {
        if (it->left == 0) {
            if (it->block + 1 >= d->nblocks) {
                it->done = true;
                break;
            }
            const blk *k = &d->blocks[it->block + 1];
            /* The next block's first term must follow this block's last. */
            if (cmp_bytes(t, it->term_len, d->body.p + k->term_off, k->term_len) >= 0) {
                it->err = QR_ECORRUPT;
                return it->err;
            }
            it->block++;
            scan_block(d, it->block, &it->cur, &it->left, &it->first, t, &it->term_len);
        }
        int rc = decode_entry(&it->cur, &it->left, &it->first, t, &it->term_len, &it->meta);
        if (rc) {
            it->err = rc;
            return rc;
        }
        const uint8_t *p = (const uint8_t *)it->prefix;
        if (!it->in_range) {
            if (cmp_bytes(t, it->term_len, p, it->prefix_len) < 0)
                continue; /* before the range: only in the first block */
            it->in_range = true;
        }
        /* terms increase: the first without the prefix ends the range (prefixes are short) */
        size_t i = 0;
        if (it->term_len >= it->prefix_len)
            while (i < it->prefix_len && t[i] == p[i])
                i++;
        if (i < it->prefix_len) {
            it->done = true;
            break;
        }
        term->p = t;
        term->n = it->term_len;
        *meta = it->meta;
        return 1;
    }
    return 0;
}

/*
 * Room in collect's arrays for k more terms: k entries in *v, k longest
 * terms and their NULs in *bytes, every offset within 32 bits.
 */
static int collect_room(qr_buf *bytes, qr_termdict_ent **v, size_t *n, size_t *cap, size_t k)
{
    if (*cap - *n < k) {
        size_t c = *cap ? *cap : 64;
        while (c - *n < k)
            c *= 2;
        qr_termdict_ent *nv = qr_reallocarray(*v, c, sizeof *nv);
        if (!nv)
            return QR_ENOMEM;
        *v = nv;
        *cap = c;
    }
    size_t need = k * (MAX_TERM + 1) + 32; /* + 32: collect_put's fixed move */
    if (bytes->n > UINT32_MAX - need)
        return QR_ENOMEM;
    if (bytes->cap - bytes->n < need && qr_buf_reserve(bytes, need))
        return QR_ENOMEM;
    return 0;
}

/*
 * Appends term t (len bytes, t with 32 readable bytes) and its meta to
 * collect's arrays, which have room for it (collect_room).
 */
static inline void collect_put(qr_buf *bytes, qr_termdict_ent *e, const uint8_t *t, size_t len,
                               const qr_term_meta *m)
{
    e->meta = *m;
    e->off = (uint32_t)bytes->n;
    e->len = (uint32_t)len;
    uint8_t *dst = bytes->p + bytes->n;
    if (len < 32)
        memcpy(dst, t, 32); /* one fixed move: room was made */
    else
        memcpy(dst, t, len);
    dst[len] = 0;
    bytes->n += len + 1;
}

/*
 * qr_termdict_next's loop with the iterator's state in locals: inside a
 * block each entry is decoded by decode_entry, as next decodes it; at a
 * block's end the state goes back to the iterator and next itself crosses
 * to the next block (its order check, its first entry, its prefix test),
 * once per block. Inside a block the previous term has the prefix, so the
 * entry's term has it exactly when it shares at least prefix_len bytes with
 * it (sharing fewer, it differs from the prefix at byte `shared`, where its
 * checked order makes it greater): no byte of the term is compared. Room
 * is made for up to 64 entries at a time, so that appending checks nothing.
 */
int qr_termdict_collect(qr_termdict_iter *it, qr_buf *bytes, qr_termdict_ent **v, size_t *n,
                        size_t *cap)
{
    uint8_t t[256 + 16]; /* the current term; slack for copy_suffix and collect_put */
    size_t plen = it->prefix_len;
    int rc;
    for (;;) {
        qr_slice term;
        qr_term_meta meta;
        if ((rc = qr_termdict_next(it, &term, &meta)) <= 0)
            return rc;
        if ((rc = collect_room(bytes, v, n, cap, 1)))
            return rc;
        collect_put(bytes, &(*v)[(*n)++], (const uint8_t *)it->term, term.n, &meta);
        qr_cursor c = it->cur;
        uint32_t left = it->left;
        bool first = it->first;
        size_t tl = it->term_len;
        qr_term_meta m = it->meta;
        memcpy(t, it->term, tl);
        while (left > 0 && !it->done) {
            uint32_t k = left < 64 ? left : 64;
            if ((rc = collect_room(bytes, v, n, cap, k)))
                return rc;
            qr_termdict_ent *e = *v + *n;
            for (uint32_t j = 0; j < k; j++) {
                size_t shared = 0; /* first is false here: every entry has one */
                if ((rc = decode_entry_sh(&c, &left, &first, t, &tl, &m, &shared))) {
                    it->err = rc;
                    return rc;
                }
                if (shared < plen) {
                    it->done = true; /* terms increase: the first without the prefix ends it */
                    break;
                }
                collect_put(bytes, e++, t, tl, &m);
                (*n)++;
            }
        }
        it->cur = c;
        it->left = left;
        it->first = first;
        it->term_len = tl;
        it->meta = m;
        memcpy(it->term, t, tl);
    }
}
