/*
 * Postings codec: the writer that appends a term's documents, frequencies
 * and positions to the doc and position streams, and the iterator that
 * reads them back straight from the mapped bytes with next, seek, lazy
 * frequencies and positions, and block maxima for block-max WAND.
 *
 * Byte grammar (format version QR_POSTINGS_VERSION = 3). All varints are
 * LEB128 (storage/buf.h); packed(v, b) is a block of 128 values at b bits,
 * 16 * b bytes, and xpfor a 128-value PFOR block whose exceptions' high
 * parts are bit packed at the width they need (storage/bitpack.h:
 * width:u8 nexc:u8 packed(low bits, width) [xcode:u8 where packed_high],
 * where = nexc index bytes, or a 16-byte bitmap when nexc > 16).
 *
 *   doc stream, one term at meta.doc_off:
 *     df = 1       single  := doc:varint dl:varint              (tf = meta.ttf)
 *     df 2..128    term    := min_dl:varint tail
 *     df > 128     term    := head skiplen:varint skip{nblocks} full{nblocks-1} tail
 *
 *     head        := last_doc:varint max_tf_m1:varint min_dl:varint   (bound over the term)
 *     skip (full) := gapsum:varint doc_code:varint max_tf_m1:varint min_dl:varint
 *                    freq_code:varint
 *     skip (tail) := max_tf_m1:varint min_dl:varint
 *     full        := packed(gap, doc_width) exc{doc_exc} packed(tf - 1, freq_width) exc{freq_exc}
 *     exc         := index:u8 high:u8
 *     tail        := { code:varint [tf_m2:varint] }{tail_n}
 *
 *   position stream, one term at meta.pos_off (ttf positions):
 *     df <= 128    term    := deltas
 *     df > 128     term    := tablelen:varint land{nblocks-1} deltas
 *
 *     land        := pos_count:varint pos_bytes:varint
 *     deltas      := xpfor{ttf / 128} delta:varint{ttf mod 128}
 *
 * nblocks = ceil(df / 128). Blocks 0 .. nblocks-2 are full (128 docs, bit
 * packed); the last one, the tail, holds tail_n = df - 128 (nblocks - 1)
 * docs, 1..128, as varints. A term of 2..128 docs (most terms) is only its
 * shortest doc length and the tail: the reader takes its last doc and max tf
 * from the decoded tail, which it decodes on opening anyway. A term of one
 * doc is two varints. A doc's gap is doc - prev - 1 (prev = the
 * term's previous doc, -1 before the first), so dense runs pack at width 0.
 * A block's lo is the previous block's last doc + 1 (0 for the first);
 * gapsum = last_doc - lo - 127 is the sum of the block's gaps, and restores
 * its last doc without decoding it. The gaps and the tfs are PFOR blocks
 * whose two-byte headers are in the skip entry: doc_code = doc_exc << 6 |
 * doc_width, freq_code = freq_exc << 6 | freq_width; the exception at
 * `index` has (high << width) added to its gap or tf - 1 (one large gap or tf
 * no longer widens the whole block). A full block is
 * 16 (doc_width + freq_width) + 2 (doc_exc + freq_exc) bytes, so skipping
 * one needs only its skip entry. skiplen is the byte length of the skip
 * table (blocks start right after it). The tail's last doc is head.last_doc.
 * code = gap << 1 | (tf == 1); tf_m2 = tf - 2 follows only when tf >= 2.
 *
 * Positions: the term's deltas, doc after doc (a doc's first position
 * itself, then the differences to the previous one: non-negative), in xpfor
 * blocks of 128 regardless of doc boundaries (a doc's large first position
 * is an exception of a few packed bits, not a wider block), the last ttf mod
 * 128 as varints. A term of more than 128 docs starts with a landing table
 * of tablelen bytes, one entry per full doc block j: pos_count, the block's
 * positions (the sum of its tfs), and pos_bytes, how far the PFOR block
 * holding the first position of block j + 1 starts after the one holding
 * block j's (block 0's is the first, right after the table). So after a seek
 * the reader finds the position block of a doc block's first position from
 * the table alone and skips the PFOR blocks before it by their headers (up
 * to three bytes), without decoding them; inside a block it counts the tfs
 * of the docs before the current one. When positions are asked at most docs
 * of a block (a phrase over common terms), the deltas of the block's rest
 * are decoded at once and each ask sums its own doc's (qr_pos_mode).
 * Positions and the landing table are read only when positions are asked
 * for (the table forward, from where the last landing left it), so queries
 * without positions never touch the stream.
 *
 * Everything read is checked: offsets and lengths stay inside the streams,
 * widths <= 32, doc ids strictly increase, stay below QR_DOC_END and agree
 * with the skip entries, tfs are >= 1 and within the block's max_tf, block
 * bounds within the term's, a doc block's positions are at least one per doc
 * and leave at least one per later doc within ttf, PFOR exceptions stay in
 * their block and in 32 bits, position sums fit 32 bits. A violation makes the
 * iterator stop with it->err = QR_ECORRUPT and it->doc = QR_DOC_END.
 *
 * Measured by bench/bench_postings (buildtype=release; `bench_postings DIR`
 * for a corpus, english analyzer): the doc stream takes 10.4 bits per
 * posting on bbc (7.0 for the doc id, 2.2 for the tf, 1.2 for skip entries
 * and heads; format 1: 11.2 = 7.5 + 2.6 + 1.2); positions 1.24 bytes each
 * (format 1, varints: 1.37). On enwiki (12,980 articles, 2,543 positions a
 * doc, one segment, `quarry stats`): 8.03 bits per doc id (8.54), 3.21 per
 * tf (4.18), 11.26 per position (11.97). Format 3, whose exceptions take
 * only the bits they need: 10.76 bits per position (.pos 44.8 MB, format 2
 * 46.9 MB; the index without stored text 61.6 MB, 63.7). Full blocks decode
 * at ~1.6e9 doc ids/s when their gaps have exceptions (the fused
 * unpack-and-sum, ~2.2e9, when not), through this iterator with every check.
 * Position decoding is mostly a cost per doc (the call, the tf sums), not
 * per position: on a shared 2-core machine, doc by doc, 1.0-1.9x format 1's
 * speed depending on the load; phrase and NEAR queries on enwiki 5-20%
 * faster at the median and the 90th percentile (`quarry bench queries --gen
 * Phrase2,Phrase3,Near`).
 */
#include "storage/postings.h"

#include <stddef.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/bitpack.h"
#include "storage/status.h"

/* ---- writer -------------------------------------------------------------- */

struct qr_postings_writer {
    qr_buf *doc;              /* the doc stream (not owned) */
    qr_buf *pos;              /* the position stream (not owned) */
    qr_buf skip;              /* the current term's skip entries */
    qr_buf blocks;            /* the current term's packed full blocks */
    int err;                  /* sticky QR_ENOMEM */
    bool in_term;             /* between begin and end */
    uint32_t df;              /* docs added to the current term */
    uint64_t ttf;             /* their total tf */
    uint32_t last_doc;        /* last doc added (when df > 0) */
    uint32_t max_tf, min_dl;  /* the term's bound */
    uint32_t lo;              /* smallest doc id of the pending block */
    qr_buf land;              /* the current term's landing entries */
    qr_buf pblocks;           /* the current term's packed position blocks */
    uint64_t block_pos_first; /* positions of the term before the pending doc block */
    uint64_t block_pos_land;  /* offset in pblocks of the position block holding its first */
    uint32_t npd;             /* position deltas pending (not yet packed) */
    uint32_t pd[QR_BLOCK];    /* them */
    uint32_t n;               /* docs pending in the current block */
    uint32_t docs[QR_BLOCK];  /* pending doc ids */
    uint32_t tfs[QR_BLOCK];   /* their tfs */
    uint32_t dls[QR_BLOCK];   /* their lengths */
    uint32_t tmp[QR_BLOCK];   /* gaps or tf - 1, for packing */
    uint64_t term_doc_bytes;  /* the current term's packed gap bytes */
    qr_postings_stats stats;  /* finished terms */
};

int qr_postings_writer_open(qr_postings_writer **out, qr_buf *doc, qr_buf *pos)
{
    *out = NULL;
    if (!doc || !pos)
        return QR_EINVAL;
    qr_postings_writer *w = qr_calloc(1, sizeof *w);
    if (!w)
        return QR_ENOMEM;
    w->doc = doc;
    w->pos = pos;
    *out = w;
    return 0;
}

void qr_postings_writer_close(qr_postings_writer *w)
{
    if (!w)
        return;
    qr_buf_free(&w->skip);
    qr_buf_free(&w->blocks);
    qr_buf_free(&w->land);
    qr_buf_free(&w->pblocks);
    qr_free(w);
}

void qr_postings_begin(qr_postings_writer *w)
{
    qr_buf_reset(&w->skip);
    qr_buf_reset(&w->blocks);
    qr_buf_reset(&w->land);
    qr_buf_reset(&w->pblocks);
    w->in_term = true;
    w->df = 0;
    w->ttf = 0;
    w->last_doc = 0;
    w->max_tf = 0;
    w->min_dl = UINT32_MAX;
    w->lo = 0;
    w->n = 0;
    w->term_doc_bytes = 0;
    w->block_pos_land = 0;
    w->block_pos_first = 0;
    w->npd = 0;
}

/* The pending block's max tf and min dl. */
static void pending_bound(const qr_postings_writer *w, uint32_t *max_tf, uint32_t *min_dl)
{
    uint32_t mt = 0, md = UINT32_MAX;
    for (uint32_t i = 0; i < w->n; i++) {
        mt = w->tfs[i] > mt ? w->tfs[i] : mt;
        md = w->dls[i] < md ? w->dls[i] : md;
    }
    *max_tf = mt;
    *min_dl = md;
}

/* Writes the pending 128 docs as a full block and its skip entry. */
static int flush_full(qr_postings_writer *w)
{
    uint32_t max_tf, min_dl, prev = w->lo - 1;
    pending_bound(w, &max_tf, &min_dl);
    for (unsigned i = 0; i < QR_BLOCK; i++) {
        w->tmp[i] = w->docs[i] - prev - 1;
        prev = w->docs[i];
    }
    /* gaps and tfs as PFOR blocks whose two-byte headers go to the skip entry */
    uint8_t pf[QR_PFOR_MAX_BYTES];
    size_t pn = qr_pfor128_encode(pf, w->tmp);
    qr_buf_put_varint(&w->skip, (uint64_t)w->docs[QR_BLOCK - 1] - w->lo - (QR_BLOCK - 1));
    qr_buf_put_varint(&w->skip, (uint64_t)pf[1] << 6 | pf[0]);
    qr_buf_put_varint(&w->skip, max_tf - 1);
    qr_buf_put_varint(&w->land, w->ttf - w->block_pos_first);
    qr_buf_put_varint(&w->land, w->pblocks.n - w->block_pos_land);
    qr_buf_put(&w->blocks, pf + 2, pn - 2);
    w->term_doc_bytes += pn - 2;
    for (unsigned i = 0; i < QR_BLOCK; i++)
        w->tmp[i] = w->tfs[i] - 1;
    pn = qr_pfor128_encode(pf, w->tmp);
    qr_buf_put_varint(&w->skip, min_dl);
    qr_buf_put_varint(&w->skip, (uint64_t)pf[1] << 6 | pf[0]);
    qr_buf_put(&w->blocks, pf + 2, pn - 2);
    if (w->skip.err || w->blocks.err || w->land.err) {
        w->err = QR_ENOMEM;
        return w->err;
    }
    w->lo = w->docs[QR_BLOCK - 1] + 1;
    /* the next doc's first position goes to the pending position block */
    w->block_pos_first = w->ttf;
    w->block_pos_land = w->pblocks.n;
    w->n = 0;
    return 0;
}

/* Packs the 128 pending position deltas. */
static int flush_positions(qr_postings_writer *w)
{
    qr_buf *pos = &w->pblocks;
    if (qr_buf_reserve(pos, QR_XPFOR_MAX_BYTES)) {
        w->err = QR_ENOMEM;
        return w->err;
    }
    pos->n += qr_xpfor128_encode(pos->p + pos->n, w->pd);
    w->npd = 0;
    return 0;
}

int qr_postings_add(qr_postings_writer *w, uint32_t doc, uint32_t tf, uint32_t dl,
                    const uint32_t *positions)
{
    if (w->err)
        return w->err;
    if (!w->in_term || tf == 0 || !positions || doc == QR_DOC_END ||
        (w->df > 0 && doc <= w->last_doc))
        return QR_EINVAL;
    for (uint32_t i = 1; i < tf; i++)
        if (positions[i] < positions[i - 1])
            return QR_EINVAL;
    if (w->n == QR_BLOCK && flush_full(w))
        return w->err;
    for (uint32_t i = 0; i < tf; i++) {
        w->pd[w->npd++] = i ? positions[i] - positions[i - 1] : positions[0];
        if (w->npd == QR_BLOCK && flush_positions(w))
            return w->err;
    }
    w->docs[w->n] = doc;
    w->tfs[w->n] = tf;
    w->dls[w->n] = dl;
    w->n++;
    w->df++;
    w->ttf += tf;
    w->last_doc = doc;
    w->max_tf = tf > w->max_tf ? tf : w->max_tf;
    w->min_dl = dl < w->min_dl ? dl : w->min_dl;
    return 0;
}

int qr_postings_end(qr_postings_writer *w, qr_term_meta *out)
{
    if (w->err)
        return w->err;
    if (!w->in_term || w->df == 0)
        return QR_EINVAL;
    qr_buf *p = w->pos;
    uint64_t pos_off = p->n;
    if (w->df > QR_BLOCK) {
        qr_buf_put_varint(p, w->land.n);
        qr_buf_put(p, w->land.p, w->land.n);
    }
    qr_buf_put(p, w->pblocks.p, w->pblocks.n);
    for (uint32_t i = 0; i < w->npd; i++)
        qr_buf_put_varint(p, w->pd[i]);
    if (p->err) {
        w->err = QR_ENOMEM;
        return w->err;
    }
    qr_buf *d = w->doc;
    uint64_t doc_off = d->n, head = 0, skip = 0, tail_tf = 0, tail = 0;
    if (w->df == 1) {
        qr_buf_put_varint(d, w->docs[0]);
        tail = d->n - doc_off;
        qr_buf_put_varint(d, w->dls[0]);
        head = d->n - doc_off - tail;
    } else {
        if (w->df > QR_BLOCK) {
            qr_buf_put_varint(d, w->last_doc);
            qr_buf_put_varint(d, w->max_tf - 1);
        }
        qr_buf_put_varint(d, w->min_dl);
        if (w->df > QR_BLOCK) {
            uint32_t max_tf, min_dl;
            pending_bound(w, &max_tf, &min_dl);
            qr_buf_put_varint(&w->skip, max_tf - 1);
            qr_buf_put_varint(&w->skip, min_dl);
            qr_buf_put_varint(d, w->skip.n);
            skip = w->skip.n;
            qr_buf_put(d, w->skip.p, w->skip.n);
            qr_buf_put(d, w->blocks.p, w->blocks.n);
        }
        head = d->n - doc_off - skip - w->blocks.n;
        uint32_t prev = w->lo - 1;
        for (uint32_t i = 0; i < w->n; i++) {
            uint64_t gap = w->docs[i] - prev - 1;
            qr_buf_put_varint(d, gap << 1 | (w->tfs[i] == 1));
            if (w->tfs[i] != 1) {
                qr_buf_put_varint(d, w->tfs[i] - 2);
                tail_tf += qr_varint_len(w->tfs[i] - 2);
            }
            prev = w->docs[i];
        }
        tail = d->n - doc_off - head - skip - w->blocks.n;
    }
    if (d->err || w->skip.err) {
        w->err = QR_ENOMEM;
        return w->err;
    }
    out->df = w->df;
    out->ttf = w->ttf;
    out->doc_off = doc_off;
    out->pos_off = pos_off;
    w->in_term = false;
    qr_postings_stats *st = &w->stats;
    st->terms++;
    st->postings += w->df;
    st->positions += w->ttf;
    st->head_bytes += head;
    st->skip_bytes += skip;
    st->doc_bytes += w->term_doc_bytes + tail - tail_tf;
    st->freq_bytes += w->blocks.n - w->term_doc_bytes + tail_tf;
    st->pos_bytes += p->n - pos_off;
    return 0;
}

void qr_postings_writer_stats(const qr_postings_writer *w, qr_postings_stats *out)
{
    *out = w->stats;
}

/* ---- reader -------------------------------------------------------------- */

uint64_t qr_postings_pos_end(qr_slice pos, uint64_t pos_off, uint32_t df, uint64_t ttf)
{
    if (!pos.p || pos_off > pos.n)
        return pos.n + 1;
    const uint8_t *p = pos.p + pos_off, *end = pos.p + pos.n;
    uint64_t tlen;
    if (df > QR_BLOCK) {
        if (!qr_varint_get64(&p, end, &tlen) || tlen > (uint64_t)(end - p))
            return pos.n + 1;
        p += tlen;
    }
    for (uint64_t k = 0; k < ttf / QR_BLOCK; k++)
        if (!qr_xpfor128_skip(&p, end))
            return pos.n + 1;
    return qr_varint_skip(&p, end, ttf % QR_BLOCK) ? (uint64_t)(p - pos.p) : pos.n + 1;
}

/* Moves the iterator past its last doc (the inline next and freq rely on the empty block). */
static void finish(qr_postings_iter *it)
{
    it->doc = QR_DOC_END;
    it->in_block = 0;
    it->block_n = 0;
    it->freqs_decoded = false;
    it->pos_valid = false;
    it->blk_pos = false;
}

/* Marks the iterator corrupt and exhausted. */
static int corrupt(qr_postings_iter *it)
{
    it->err = QR_ECORRUPT;
    finish(it);
    return QR_ECORRUPT;
}

static bool is_tail(const qr_postings_iter *it, uint32_t block)
{
    return block + 1 == it->nblocks;
}

/*
 * Parses the skip entry at p of block j, whose lo, doc and position offsets
 * are given, into *s. Returns false when it is malformed.
 */
static bool parse_entry(const qr_postings_iter *it, qr_postings_skip *s, uint32_t j, uint32_t lo,
                        uint64_t doc_off, const uint8_t *p)
{
    const uint8_t *end = it->skip_end;
    uint32_t mt, mdl;
    s->block = j;
    s->lo = lo;
    s->doc_off = doc_off;
    if (!is_tail(it, j)) {
        uint64_t gapsum;
        uint32_t dcode, fcode;
        if (!qr_varint_get64(&p, end, &gapsum) || !qr_varint_get32(&p, end, &dcode) ||
            !qr_varint_get32(&p, end, &mt) || !qr_varint_get32(&p, end, &mdl) ||
            !qr_varint_get32(&p, end, &fcode))
            return false;
        uint64_t last = (uint64_t)lo + (QR_BLOCK - 1) + gapsum;
        if ((dcode & 63) > 32 || dcode >> 6 > QR_BLOCK || gapsum > UINT32_MAX ||
            last >= it->term_max.last_doc || (fcode & 63) > 32 || fcode >> 6 > QR_BLOCK)
            return false;
        s->max.last_doc = (uint32_t)last;
        s->doc_width = (uint8_t)(dcode & 63);
        s->doc_exc = (uint8_t)(dcode >> 6);
        s->freq_width = (uint8_t)(fcode & 63);
        s->freq_exc = (uint8_t)(fcode >> 6);
    } else {
        if (!qr_varint_get32(&p, end, &mt) || !qr_varint_get32(&p, end, &mdl) || p != end ||
            (uint64_t)lo + it->tail_n - 1 > it->term_max.last_doc)
            return false;
        s->max.last_doc = it->term_max.last_doc;
        s->doc_width = s->doc_exc = s->freq_width = s->freq_exc = 0;
    }
    if (mt >= it->term_max.max_tf || mdl < it->term_max.min_dl)
        return false;
    s->max.max_tf = mt + 1;
    s->max.min_dl = mdl;
    s->next = p;
    return true;
}

/* Bytes of the full block *s describes. */
static uint64_t full_bytes(const qr_postings_skip *s)
{
    return qr_bitpack_bytes(s->doc_width) + 2u * s->doc_exc + qr_bitpack_bytes(s->freq_width) +
           2u * s->freq_exc;
}

/* Moves skip state *s to the next block (which must exist). */
static bool skip_advance(const qr_postings_iter *it, qr_postings_skip *s)
{
    uint64_t bytes = full_bytes(s);
    return parse_entry(it, s, s->block + 1, s->max.last_doc + 1, s->doc_off + bytes, s->next);
}

/*
 * Decodes the varint tail block (docs and tfs together). A term of
 * 2..QR_BLOCK docs has no head to check against: its bound is taken from
 * the decoded block.
 */
static bool decode_tail(qr_postings_iter *it)
{
    qr_postings_skip *s = &it->cur;
    if (s->doc_off > it->docs.n)
        return false;
    const uint8_t *p = it->docs.p + s->doc_off, *end = it->docs.p + it->docs.n;
    uint64_t next = s->lo;
    bool only = it->nblocks == 1;
    uint32_t max_tf = only ? UINT32_MAX : s->max.max_tf, seen_tf = 0;
    uint32_t last = only ? QR_DOC_END - 1 : s->max.last_doc;
    for (uint32_t i = 0; i < it->tail_n; i++) {
        uint64_t code;
        uint32_t tf = 1;
        if (!qr_varint_get64(&p, end, &code))
            return false;
        uint64_t doc = next + (code >> 1);
        if (doc > last)
            return false;
        if (!(code & 1)) {
            uint32_t m2;
            if (!qr_varint_get32(&p, end, &m2) || (uint64_t)m2 + 2 > max_tf)
                return false;
            tf = m2 + 2;
        }
        it->docbuf[i] = (uint32_t)doc;
        it->freqbuf[i] = tf;
        seen_tf = tf > seen_tf ? tf : seen_tf;
        next = doc + 1;
    }
    if (only) {
        s->max.last_doc = it->docbuf[it->tail_n - 1];
        s->max.max_tf = seen_tf;
        it->term_max = it->peek.max = s->max;
        return true;
    }
    return it->docbuf[it->tail_n - 1] == s->max.last_doc;
}

/* Decodes the current full block's doc ids. */
static bool decode_full_docs(qr_postings_iter *it)
{
    const qr_postings_skip *s = &it->cur;
    uint64_t bytes = full_bytes(s);
    if (s->doc_off > it->docs.n || bytes > it->docs.n - s->doc_off)
        return false;
    uint32_t *d = it->docbuf;
    const uint8_t *g = it->docs.p + s->doc_off;
    if (!s->doc_exc) {
        qr_bitunpack128_ids(d, g, s->doc_width, s->lo);
    } else { /* gaps, their exceptions, then the sums */
        qr_bitunpack128(d, g, s->doc_width);
        const uint8_t *e = g + qr_bitpack_bytes(s->doc_width);
        for (unsigned k = 0; k < s->doc_exc; k++, e += 2) {
            uint64_t v = d[e[0] & (QR_BLOCK - 1)] | (uint64_t)e[1] << s->doc_width;
            if (e[0] >= QR_BLOCK || v > UINT32_MAX)
                return false;
            d[e[0]] = (uint32_t)v;
        }
        qr_prefix_sum128(d, s->lo);
    }
    /*
     * The ids are lo + i + a sum of gaps; when the widest possible sum could
     * wrap 32 bits, check that no step did (a wrap shows as a non-increase).
     */
    uint64_t widest = (uint64_t)s->lo + (QR_BLOCK - 1) +
                      (uint64_t)QR_BLOCK * ((1ull << s->doc_width) - 1) +
                      (uint64_t)s->doc_exc * (255ull << s->doc_width); /* exceptions' high bits */
    if (widest >= QR_DOC_END) {
        if (d[0] < s->lo)
            return false;
        for (unsigned i = 1; i < QR_BLOCK; i++)
            if (d[i] <= d[i - 1])
                return false;
    }
    return d[QR_BLOCK - 1] == s->max.last_doc;
}

/* Decodes the current full block's frequencies (lazily, on first use). */
static int decode_freqs(qr_postings_iter *it)
{
    if (it->freqs_decoded)
        return 0;
    const qr_postings_skip *s = &it->cur;
    /* decode_full_docs has checked that the whole block is in bounds */
    const uint8_t *f = it->docs.p + s->doc_off + qr_bitpack_bytes(s->doc_width) + 2u * s->doc_exc;
    if (!qr_bitunpack128_tfs(it->freqbuf, f, s->freq_width, s->max.max_tf))
        return corrupt(it);
    /* exceptions: tf - 1 gets high << freq_width added */
    const uint8_t *e = f + qr_bitpack_bytes(s->freq_width);
    for (unsigned k = 0; k < s->freq_exc; k++, e += 2) {
        uint64_t tf = it->freqbuf[e[0] & (QR_BLOCK - 1)] + ((uint64_t)e[1] << s->freq_width);
        if (e[0] >= QR_BLOCK || tf > s->max.max_tf)
            return corrupt(it);
        it->freqbuf[e[0]] = (uint32_t)tf;
    }
    it->freqs_decoded = true;
    return 0;
}

/* Decodes the block it->cur describes and moves to its first doc. */
static int load_block(qr_postings_iter *it)
{
    const qr_postings_skip *s = &it->cur;
    it->in_block = 0;
    it->pos_doc = 0;
    it->pos_valid = false;
    it->pos_landed = false;
    it->blk_pos = false;
    it->ask_n = 0;
    if (!is_tail(it, s->block)) {
        if (!decode_full_docs(it))
            return corrupt(it);
        it->block_n = QR_BLOCK;
        it->freqs_decoded = false;
    } else if (it->meta.df == 1) {
        it->docbuf[0] = s->max.last_doc;
        it->freqbuf[0] = s->max.max_tf;
        it->block_n = 1;
        it->freqs_decoded = true;
    } else {
        if (!decode_tail(it))
            return corrupt(it);
        it->block_n = it->tail_n;
        it->freqs_decoded = true;
    }
    it->doc = it->docbuf[0];
    return 0;
}

/*
 * Moves to the first block whose last doc is >= target (> the current
 * block's last doc) and decodes it; QR_DOC_END when there is none.
 */
static int skip_to(qr_postings_iter *it, uint32_t target)
{
    if (it->peek.block > it->cur.block && it->peek.lo <= target)
        it->cur = it->peek; /* block_for has parsed this far already */
    while (it->cur.max.last_doc < target) {
        if (is_tail(it, it->cur.block)) {
            finish(it);
            return 0;
        }
        if (!skip_advance(it, &it->cur))
            return corrupt(it);
    }
    return load_block(it);
}

int qr_postings_iter_init(qr_postings_iter *it, qr_slice docs, qr_slice pos,
                          const qr_term_meta *meta)
{
    static const uint8_t nothing[1];
    memset(it, 0, offsetof(qr_postings_iter, docbuf));
    it->posbuf = NULL;
    it->posbuf_cap = 0;
    it->bpos = NULL;
    it->bpos_cap = 0;
    it->doc = QR_DOC_END;
    /* An empty stream may come as NULL: give pointer arithmetic an object. */
    if (!docs.p)
        docs = (qr_slice){nothing, 0};
    if (!pos.p)
        pos = (qr_slice){nothing, 0};
    it->docs = docs;
    it->pos = pos;
    it->meta = *meta;
    if (meta->df == 0 || meta->ttf < meta->df || meta->doc_off > docs.n || meta->pos_off > pos.n)
        return corrupt(it);
    it->nblocks = (meta->df - 1) / QR_BLOCK + 1;
    it->tail_n = meta->df - QR_BLOCK * (it->nblocks - 1);

    const uint8_t *p = docs.p + meta->doc_off, *end = docs.p + docs.n;
    uint32_t first, mt, mdl;
    qr_postings_skip *s = &it->cur;
    if (meta->df == 1) {
        if (!qr_varint_get32(&p, end, &first) || !qr_varint_get32(&p, end, &mdl) ||
            first == QR_DOC_END || meta->ttf > UINT32_MAX)
            return corrupt(it);
        it->term_max = (qr_block_max){first, (uint32_t)meta->ttf, mdl};
    } else if (it->nblocks == 1) { /* last doc and max tf come with the decoded block */
        if (!qr_varint_get32(&p, end, &mdl))
            return corrupt(it);
        it->term_max = (qr_block_max){QR_DOC_END - 1, UINT32_MAX, mdl};
    } else {
        if (!qr_varint_get32(&p, end, &first) || !qr_varint_get32(&p, end, &mt) ||
            !qr_varint_get32(&p, end, &mdl) || first == QR_DOC_END || mt == UINT32_MAX ||
            first < meta->df - 1)
            return corrupt(it);
        it->term_max = (qr_block_max){first, mt + 1, mdl};
    }
    it->pos_full = meta->ttf / QR_BLOCK;
    it->pdec = UINT64_MAX;
    it->land_block = UINT32_MAX; /* the landing table is read on the first positions asked */
    if (it->nblocks == 1) {
        s->block = 0;
        s->lo = 0;
        s->max = it->term_max;
        s->doc_off = (uint64_t)(p - docs.p);
    } else {
        uint64_t skiplen;
        if (!qr_varint_get64(&p, end, &skiplen) || skiplen > (uint64_t)(end - p) ||
            skiplen < (uint64_t)(it->nblocks - 1) * 5 + 2)
            return corrupt(it);
        it->skip_end = p + skiplen;
        if (!parse_entry(it, s, 0, 0, (uint64_t)(it->skip_end - docs.p), p))
            return corrupt(it);
    }
    it->peek = *s;
    return load_block(it);
}

void qr_postings_iter_free(qr_postings_iter *it)
{
    if (!it)
        return;
    qr_free(it->posbuf);
    it->posbuf = NULL;
    it->posbuf_cap = 0;
    qr_free(it->bpos);
    it->bpos = NULL;
    it->bpos_cap = 0;
}

int qr_postings_next_block(qr_postings_iter *it)
{
    if (it->doc == QR_DOC_END)
        return it->err;
    return skip_to(it, it->cur.max.last_doc + 1);
}

int qr_postings_seek(qr_postings_iter *it, uint32_t target)
{
    if (it->doc == QR_DOC_END || target <= it->doc)
        return it->err;
    if (target > it->cur.max.last_doc) {
        int rc = skip_to(it, target);
        if (rc || it->doc >= target)
            return rc;
    }
    /*
     * docbuf[block_n - 1] is the block's last doc, >= target: the first doc
     * >= target by a binary search whose halving is data, not a branch
     * (which half holds the target is a coin toss to the predictor). The
     * docs before in_block are below target too: searching the whole block
     * gives the same doc, in a number of halvings fixed by the block's size
     * (seven for a full block), so that the loop's end is predicted as well.
     */
    const uint32_t *base = it->docbuf;
    for (uint32_t n = it->block_n; n > 1;) {
        uint32_t half = n / 2;
        base += (base[half - 1] < target) * half;
        n -= half;
    }
    it->in_block = (uint32_t)(base - it->docbuf);
    it->doc = *base;
    return 0;
}

uint32_t qr_postings_freq_slow(qr_postings_iter *it)
{
    if (it->doc == QR_DOC_END || decode_freqs(it))
        return 0;
    return it->freqbuf[it->in_block];
}

/*
 * Decodes position block k (>= pk, <= pos_full) into pdelta, skipping the
 * blocks before it undecoded; block pos_full is the varint tail.
 */
static bool skip_positions(qr_postings_iter *it, uint64_t k)
{
    const uint8_t *end = it->pos.p + it->pos.n;
    /* k >= pk: positions are asked for at increasing indexes, and land() resets pk */
    for (; it->pk < k; it->pk++)
        if (!qr_xpfor128_skip(&it->pk_p, end))
            return false;
    return true;
}

static bool load_positions(qr_postings_iter *it, uint64_t k)
{
    const uint8_t *end = it->pos.p + it->pos.n;
    if (!skip_positions(it, k))
        return false;
    bool ok = k < it->pos_full
                  ? qr_xpfor128_decode(it->pdelta, &it->pk_p, end)
                  : qr_varint_get_n(it->pdelta, it->meta.ttf % QR_BLOCK, &it->pk_p, end);
    if (!ok)
        return false;
    it->pdec = k;
    it->pk = k + 1;
    return true;
}

/*
 * Finds where the current block's positions start: the landing entries are
 * read forward from the last block landed on (or from the start of the
 * term's positions). Returns false when they are malformed.
 */
static bool land(qr_postings_iter *it)
{
    uint32_t j = it->cur.block;
    const uint8_t *end = it->pos.p + it->pos.n;
    if (it->land_block == UINT32_MAX) { /* the term's first landing */
        const uint8_t *p = it->pos.p + it->meta.pos_off;
        uint64_t tlen = 0;
        if (it->nblocks > 1 && (!qr_varint_get64(&p, end, &tlen) || tlen > (uint64_t)(end - p)))
            return false;
        it->land_p = p;
        it->land_end = p + tlen;
        it->land_block = 0;
        it->land_first = 0;
        it->land_off = (uint64_t)(it->land_end - it->pos.p);
    }
    for (; it->land_block < j; it->land_block++) {
        uint64_t count, bytes;
        if (!qr_varint_get64(&it->land_p, it->land_end, &count) ||
            !qr_varint_get64(&it->land_p, it->land_end, &bytes) || count < QR_BLOCK ||
            count > it->meta.ttf - it->land_first || bytes > it->pos.n - it->land_off)
            return false;
        it->land_first += count;
        it->land_off += bytes;
    }
    /* every doc from this block on has a position */
    uint64_t docs_left = it->meta.df - (uint64_t)j * QR_BLOCK;
    if (it->land_first > it->meta.ttf - docs_left || (is_tail(it, j) && it->land_p != it->land_end))
        return false;
    it->pos_at = it->land_first;
    it->pos_doc = 0;
    it->pos_landed = true;
    /* go to the position block of the block's first position unless it is decoded already */
    if (it->pdec != it->pos_at / QR_BLOCK) {
        it->pk = it->pos_at / QR_BLOCK;
        it->pk_p = it->pos.p + it->land_off;
    }
    return true;
}

void qr_postings_set_pos_mode(qr_postings_iter *it, qr_pos_mode mode)
{
    it->pos_mode = (uint8_t)mode;
}

/*
 * QR_POS_AUTO's estimate of the cost of one ask on the doc-by-doc path
 * beyond its positions (the call, the landing checks, the sums), in
 * positions decoded.
 */
#define ASK_COST 10

/*
 * Whether to decode the rest of the block now, at an ask of the current
 * doc. AUTO: the asks so far, from the first one's doc to this one, give a
 * density; the rest of the block is expected to see density * docs left
 * asks, each costing its positions plus ASK_COST on the doc-by-doc path,
 * against all the positions left once. Reconsidered at 2, 4, 8... asks.
 */
static bool want_block(qr_postings_iter *it)
{
    if (it->pos_mode != QR_POS_AUTO)
        return it->pos_mode == QR_POS_BLOCK;
    uint32_t i = it->in_block;
    if (it->ask_n++ == 0) {
        it->ask_first = i;
        return false;
    }
    if (it->ask_n & (it->ask_n - 1))
        return false;
    uint64_t n = 0, span = i - it->ask_first + 1, left = it->block_n - i;
    for (uint32_t j = i; j < it->block_n; j++)
        n += it->freqbuf[j];
    return n * span <= (uint64_t)it->ask_n * (n + ASK_COST * left);
}

/* Can tf positions from the term's at-th on be there? (see qr_postings_positions) */
static bool pos_fit(const qr_postings_iter *it, uint64_t at, uint64_t n)
{
    /*
     * Every 128 positions (a packed block or up to 128 tail varints) take at
     * least one byte of the term's share of the stream: a count the bytes
     * cannot hold is damage, found before a buffer grows to it.
     */
    return at <= it->meta.ttf && n <= it->meta.ttf - at &&
           n <= ((uint64_t)(it->pos.n - it->meta.pos_off) + 1) * QR_BLOCK;
}

/*
 * Decodes the position deltas of every doc from the current one (whose
 * first position is pos_at) to the block's end into bpos, boff[j] where
 * doc j's start; an ask then sums only its doc's. Full position blocks
 * inside the range are decoded straight into bpos; the partial ones at its
 * ends go through pdelta. Returns 0, QR_ECORRUPT (the iterator is then
 * corrupt) or QR_ENOMEM (bpos could not grow, or would pass 2^32
 * positions; nothing changed).
 */
static int decode_rest(qr_postings_iter *it)
{
    uint32_t i0 = it->in_block;
    uint64_t at = it->pos_at, n = 0;
    /* where each doc's deltas will start, and their total, in one pass (tfs < 2^32 each) */
    for (uint32_t j = i0; j < it->block_n; j++) {
        it->boff[j] = (uint32_t)n;
        n += it->freqbuf[j];
    }
    if (!pos_fit(it, at, n))
        return corrupt(it);
    if (n > it->bpos_cap) {
        if (n > UINT32_MAX)
            return QR_ENOMEM; /* more than boff can index: doc by doc */
        /* from 512 (a common term's block has some hundreds): one allocation, not a few growths */
        uint32_t cap = it->bpos_cap > 512 ? it->bpos_cap : 512;
        while (cap < n)
            cap = cap > UINT32_MAX / 2 ? (uint32_t)n : cap * 2;
        uint32_t *nb = qr_reallocarray(it->bpos, cap, sizeof *nb);
        if (!nb)
            return QR_ENOMEM;
        it->bpos = nb;
        it->bpos_cap = cap;
    }
    uint32_t *b = it->bpos;
    const uint8_t *end = it->pos.p + it->pos.n;
    for (uint64_t done = 0, a = at; done < n;) {
        uint64_t k = a / QR_BLOCK;
        uint32_t o = (uint32_t)(a % QR_BLOCK), m = QR_BLOCK - o;
        m = m < n - done ? m : (uint32_t)(n - done);
        if (m == QR_BLOCK && k < it->pos_full && it->pdec != k) {
            if (!skip_positions(it, k) || !qr_xpfor128_decode(b + done, &it->pk_p, end))
                return corrupt(it);
            it->pk = k + 1;
            it->pdec = UINT64_MAX; /* pdelta holds no block the cursor has not passed */
        } else {
            if (it->pdec != k && !load_positions(it, k))
                return corrupt(it);
            memcpy(b + done, it->pdelta + o, (size_t)m * sizeof *b);
        }
        done += m;
        a += m;
    }
    it->boff[it->block_n] = (uint32_t)n;
    it->pos_at = at + n;
    it->pos_doc = it->block_n;
    it->pos_valid = false;
    it->blk_pos = true;
    return 0;
}

int qr_postings_positions(qr_postings_iter *it, const uint32_t **out, uint32_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (it->doc == QR_DOC_END)
        return it->err;
    if (it->pos_valid && it->pos_doc == it->in_block + 1) {
        *out = it->posbuf;
        *out_n = it->pos_n;
        return 0;
    }
    const uint32_t *raw = NULL; /* the doc's deltas, when its block's rest is decoded */
    uint64_t at = 0;
    if (it->blk_pos) { /* docs move forward within a block: in_block >= blk_doc */
        raw = it->bpos + it->boff[it->in_block];
    } else {
        if (decode_freqs(it))
            return it->err;
        if (!it->pos_landed && !land(it))
            return corrupt(it);
        /*
         * pos_at is the first position of doc pos_doc <= in_block: docs only
         * move forward within a block, and pos_doc = in_block + 1 only with
         * posbuf valid (returned above).
         */
        at = it->pos_at;
        for (uint32_t i = it->pos_doc; i < it->in_block; i++)
            at += it->freqbuf[i];
        it->pos_at = at;
        it->pos_doc = it->in_block;
        it->pos_valid = false;
        if (want_block(it)) {
            int rc = decode_rest(it);
            if (rc == QR_ECORRUPT)
                return rc;
            if (!rc) /* else no memory for the block: this doc alone, doc by doc */
                raw = it->bpos + it->boff[it->in_block];
        }
        if (!raw && !pos_fit(it, at, it->freqbuf[it->in_block]))
            return corrupt(it);
    }
    uint32_t tf = it->freqbuf[it->in_block];
    if (tf > it->posbuf_cap) {
        uint32_t cap = it->posbuf_cap ? it->posbuf_cap : 16;
        while (cap < tf)
            cap = cap > UINT32_MAX / 2 ? tf : cap * 2;
        uint32_t *nb = qr_reallocarray(it->posbuf, cap, sizeof *nb);
        if (!nb)
            return QR_ENOMEM;
        it->posbuf = nb;
        it->posbuf_cap = cap;
    }
    /* the doc's first delta is its first position, the others are differences */
    uint32_t sum = 0;
    uint32_t *o = it->posbuf;
    if (raw) {
        if (!qr_delta_sum(o, raw, tf, &sum))
            return corrupt(it);
    } else {
        for (uint32_t done = 0; done < tf;) {
            uint64_t k = at / QR_BLOCK;
            if (it->pdec != k && !load_positions(it, k))
                return corrupt(it);
            uint32_t i = (uint32_t)(at % QR_BLOCK), n = QR_BLOCK - i;
            n = n < tf - done ? n : tf - done;
            if (!qr_delta_sum(o + done, it->pdelta + i, n, &sum))
                return corrupt(it);
            done += n;
            at += n;
        }
        it->pos_at = at;
    }
    it->pos_doc = it->in_block + 1;
    it->pos_valid = true;
    it->pos_n = tf;
    *out = it->posbuf;
    *out_n = tf;
    return 0;
}

uint32_t qr_postings_block_docs(qr_postings_iter *it, const uint32_t **out)
{
    if (it->doc == QR_DOC_END) {
        *out = NULL;
        return 0;
    }
    *out = it->docbuf + it->in_block;
    return it->block_n - it->in_block;
}

int qr_postings_block_freqs(qr_postings_iter *it, const uint32_t **out)
{
    *out = NULL;
    if (it->doc == QR_DOC_END || decode_freqs(it))
        return it->err;
    *out = it->freqbuf + it->in_block;
    return 0;
}

bool qr_postings_block_for(qr_postings_iter *it, uint32_t target, qr_block_max *out)
{
    if (it->doc == QR_DOC_END)
        return false;
    if (target <= it->cur.max.last_doc) {
        *out = it->cur.max;
        return true;
    }
    /* Resume from the last look-ahead when every block before it ends below target. */
    if (it->peek.block <= it->cur.block || target < it->peek.lo)
        it->peek = it->cur;
    while (it->peek.max.last_doc < target) {
        if (is_tail(it, it->peek.block))
            return false;
        if (!skip_advance(it, &it->peek)) {
            corrupt(it);
            return false;
        }
    }
    *out = it->peek.max;
    return true;
}

qr_block_max qr_postings_term_max(const qr_postings_iter *it)
{
    return it->term_max;
}

/* ---- small terms, decoded at once ---------------------------------------------- */

/*
 * The value of a varint of 1..3 bytes at the start of w (p's first 8 bytes,
 * little-endian), its length in *len; 0 in *len when it is longer. No
 * branch on the length (a small term's varints mix one, two and three
 * bytes: a tf_m2 of one byte is mostly followed by a code of two).
 */
static inline uint64_t varint3(uint64_t w, unsigned *len)
{
    uint64_t stop = ~w & 0x808080u; /* the first three bytes' ends */
    unsigned n = stop ? ((unsigned)__builtin_ctzll(stop) >> 3) + 1 : 0;
    uint64_t v = (w & 0x7f) | (w >> 1 & 0x3f80) | (w >> 2 & 0x1fc000);
    *len = n;
    return v & ((1u << (7 * n)) - 1);
}

/*
 * One varint at p (bounded by end): up to three bytes inline (varint3)
 * when 8 bytes can be read, the rest through bitpack.c. Returns the byte
 * after it, NULL when malformed. The cursor goes in and out by value so
 * that a loop keeps it in a register (through a pointer, each read would
 * wait for the last one's store).
 */
static inline const uint8_t *small_varint(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    if (end - p >= 8) {
        unsigned n;
        uint64_t v = varint3(qr_load_u64(p), &n);
        if (n) {
            *out = v;
            return p + n;
        }
    }
    const uint8_t *q = p;
    return qr_varint_get64_any(&q, end, out) ? q : NULL;
}

/* The same for a value that must fit 32 bits. */
static inline const uint8_t *small_varint32(const uint8_t *p, const uint8_t *end, uint32_t *out)
{
    if (end - p >= 8) {
        unsigned n;
        uint64_t v = varint3(qr_load_u64(p), &n);
        if (n) {
            *out = (uint32_t)v;
            return p + n;
        }
    }
    const uint8_t *q = p;
    return qr_varint_get32_any(&q, end, out) ? q : NULL;
}

int qr_postings_decode_small(uint32_t *out_docs, uint32_t *out_tfs, qr_slice docs, qr_slice pos,
                             const qr_term_meta *meta)
{
    if (meta->df > QR_BLOCK)
        return QR_EINVAL;
    /* the checks of qr_postings_iter_init, in its order */
    if (meta->df == 0 || meta->ttf < meta->df || meta->doc_off > docs.n || meta->pos_off > pos.n)
        return QR_ECORRUPT;
    static const uint8_t nothing[1];
    if (!docs.p) /* an empty stream may come as NULL: give pointer arithmetic an object */
        docs = (qr_slice){nothing, 0};
    const uint8_t *p = docs.p + meta->doc_off, *end = docs.p + docs.n;
    uint32_t first, mdl;
    if (meta->df == 1) {
        if (!(p = small_varint32(p, end, &first)) || !small_varint32(p, end, &mdl) ||
            first == QR_DOC_END || meta->ttf > UINT32_MAX)
            return QR_ECORRUPT;
        out_docs[0] = first;
        out_tfs[0] = (uint32_t)meta->ttf;
        return 0;
    }
    if (!(p = small_varint32(p, end, &mdl)))
        return QR_ECORRUPT;
    /* decode_tail's loop for a term of one block: lo = 0, no bound but 32 bits */
    uint64_t next = 0;
    for (uint32_t i = 0, n = meta->df; i < n; i++) {
        uint64_t code;
        uint32_t tf = 1;
        if (!(p = small_varint(p, end, &code)))
            return QR_ECORRUPT;
        uint64_t doc = next + (code >> 1);
        if (doc > QR_DOC_END - 1)
            return QR_ECORRUPT;
        if (!(code & 1)) {
            uint32_t m2;
            if (!(p = small_varint32(p, end, &m2)) || m2 > UINT32_MAX - 2)
                return QR_ECORRUPT;
            tf = m2 + 2;
        }
        out_docs[i] = (uint32_t)doc;
        out_tfs[i] = tf;
        next = doc + 1;
    }
    return 0;
}
