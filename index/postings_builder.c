/*
 * The postings builder (see postings_builder.h): a hash table of terms, each
 * with a byte stream of postings in a chunked arena.
 *
 * Arena. Memory comes in blocks of POOL_BLOCK bytes; an arena offset is a
 * uint32 (block index << POOL_SHIFT | offset in block). The first block is
 * its own allocation (kept by a reset); the others are carved from chunks of
 * CHUNK_BLOCKS blocks aligned to a 2 MiB huge page, since a rare term's
 * first write, like its table line, lands on a random page: with 4 KiB pages
 * nearly every such write also missed the TLB. A term's stream is a
 * chain of slices whose sizes grow with the level (8, 16, ... 4096 bytes);
 * the last 4 bytes of each full slice hold the arena offset of the next one.
 * Rare terms (most of them, by Zipf's law) thus cost one 8-byte slice, while
 * frequent terms grow in 4 KiB steps.
 *
 * Stream grammar (in memory only, never on disk), per document of the term:
 *
 *   entry  := [0x00] doc_delta:varint pos_1:varint pos_k:varint*
 *
 * The 0x00 separator precedes every entry but the first; doc_delta is the
 * doc id minus the previous entry's doc id (the first entry: the doc id);
 * pos_1 is the first position + 1 and each further pos_k the difference to
 * the previous position (>= 1: duplicates are dropped). No position varint
 * can be 0x00, so the separator is unambiguous, and tf is the number of
 * positions read.
 *
 * Table. Each distinct term is one 64-byte entry (a cache line) of an
 * open-addressing, linearly probed table: its hash, its stream cursors and
 * up to INLINE_TEXT bytes of its text inline (longer terms keep their text
 * in a side buffer). Adding a token thus touches one table line and one
 * arena line (with separate slot, term and text arrays it touched four).
 * The load factor stays at most 3/4.
 *
 * Pipeline. Most table and arena lines a token needs are not in cache, so
 * a token goes through three steps a few tokens apart: on arrival its bytes
 * are copied into a small ring, hashed, and its table line prefetched; LAG_A
 * tokens later it is looked up (or inserted) and the line its posting will
 * be written to is prefetched; LAG_B tokens later the posting is appended.
 * The misses of consecutive tokens thus overlap instead of adding up. A
 * document's pending tokens are completed by qr_pbuilder_end_doc() (which
 * begin_doc and emit call). A table growth first completes every resolved
 * token, since they hold table indices. Measured on 50 MB of the Wikipedia
 * sample (CPU time, best of 5, analyzer excluded): 1.3 s with separate
 * arrays and no pipeline, 1.05 s as it is; most of what remains is the
 * one table miss per rare term and the arena write.
 *
 * Terms are sorted for emitting by their first 8 bytes as a big-endian key,
 * then by a full comparison on ties. Emitting then visits the table and
 * the arena at random; each line is fetched ahead of its use: a term's
 * table line 16 terms ahead, its first slice 8 ahead, its second 4 and its
 * third 2 ahead (each found through the one fetched before), and any
 * further slice when the reader enters the one before it.
 */
#include "index/postings_builder.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#define XXH_INLINE_ALL /* the hash of a short term is a few instructions: inline it */
#include <xxhash.h>

#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/status.h"

#define POOL_SHIFT   17
#define POOL_BLOCK   (1u << POOL_SHIFT)
#define HUGE_PAGE    QR_HUGE_PAGE
#define CHUNK_BLOCKS (HUGE_PAGE / POOL_BLOCK)
#define NO_DOC       UINT32_MAX
#define MAX_TERM     255

static const uint32_t slice_size[] = {8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
#define NLEVELS (sizeof slice_size / sizeof slice_size[0])

#define INLINE_TEXT 34

/* One distinct term: a table entry, one cache line. hash == 0 marks an empty slot. */
struct term {
    uint64_t hash;          /* xxh3 of the term bytes, | 1 */
    uint32_t head;          /* arena offset of the first slice */
    uint32_t cur;           /* arena offset of the next byte to write */
    uint32_t end;           /* arena offset of the current slice's forward pointer */
    uint32_t last_doc;      /* doc of the last entry, NO_DOC before the first */
    uint32_t last_pos;      /* last position written in last_doc */
    uint8_t len;            /* bytes of the term */
    uint8_t level;          /* level of the current slice */
    char text[INLINE_TEXT]; /* the term if len <= INLINE_TEXT, else its offset in b->text */
};

#define EMIT_AHEAD 16 /* terms between prefetch and use when emitting */
#define RING       32 /* tokens in flight, a power of two */
#define LAG_A      8  /* tokens between arrival and lookup */
#define LAG_B      24 /* tokens between arrival and append */

/* A token in flight. */
struct pend {
    uint64_t hash; /* xxh3 of text, | 1 */
    uint32_t pos;  /* its position */
    uint32_t idx;  /* its term's table index, once looked up */
    uint8_t len;   /* bytes of text */
    char text[MAX_TERM];
};

struct qr_postings_builder {
    struct term *table; /* table_cap entries, 64-byte aligned inside table_mem */
    void *table_mem;    /* the allocation holding table */
    uint32_t table_cap; /* a power of two */
    uint32_t nterms;    /* entries in use */
    qr_buf text;        /* bytes of the terms longer than INLINE_TEXT */
    uint8_t **blocks;   /* arena blocks */
    uint8_t *first;     /* block 0's allocation */
    void **chunks;      /* allocations holding blocks 1.. (CHUNK_BLOCKS each) */
    uint32_t nchunks;
    uint32_t chunks_cap;
    uint32_t nblocks; /* blocks in use */
    uint32_t blocks_cap;
    uint32_t block_used; /* bytes used in the last block */
    uint32_t ndocs;      /* documents begun */
    uint32_t *posbuf;    /* emit scratch: positions of one posting */
    uint32_t posbuf_cap;
    uint32_t doc_pos; /* largest position added to the current document */
    int err;          /* sticky error of a deferred step */
    uint32_t head;    /* tokens that arrived (ring index = count % RING) */
    uint32_t na;      /* tokens looked up */
    uint32_t nb;      /* tokens appended */
    struct pend ring[RING];
};

_Static_assert(sizeof(struct term) == 64, "a term is one cache line");

#define INITIAL_CAP 1024

/* A zeroed table of cap entries (qr_calloc_table); *mem receives the allocation. */
static struct term *alloc_table(uint32_t cap, void **mem)
{
    return qr_calloc_table((size_t)cap * sizeof(struct term), mem);
}

/* The term's bytes. */
static inline const char *term_text(const qr_postings_builder *b, const struct term *t)
{
    if (t->len <= INLINE_TEXT)
        return t->text;
    uint32_t off;
    memcpy(&off, t->text, sizeof off);
    return (const char *)b->text.p + off;
}

static inline uint8_t *at(const qr_postings_builder *b, uint32_t off)
{
    return b->blocks[off >> POOL_SHIFT] + (off & (POOL_BLOCK - 1));
}

static void free_chunks(qr_postings_builder *b)
{
    for (uint32_t i = 0; i < b->nchunks; i++)
        qr_free(b->chunks[i]);
    b->nchunks = 0;
}

int qr_pbuilder_open(qr_postings_builder **out)
{
    *out = NULL;
    qr_postings_builder *b = qr_calloc(1, sizeof *b);
    if (!b)
        return QR_ENOMEM;
    b->table_cap = INITIAL_CAP;
    b->table = alloc_table(b->table_cap, &b->table_mem);
    if (!b->table) {
        qr_free(b);
        return QR_ENOMEM;
    }
    *out = b;
    return QR_OK;
}

void qr_pbuilder_close(qr_postings_builder *b)
{
    if (!b)
        return;
    free_chunks(b);
    qr_free(b->chunks);
    qr_free(b->first);
    qr_free(b->blocks);
    qr_free(b->table_mem);
    qr_buf_free(&b->text);
    qr_free(b->posbuf);
    qr_free(b);
}

void qr_pbuilder_reset(qr_postings_builder *b)
{
    /*
     * Keep the first arena block (reused in place) and free the rest, so
     * that qr_pbuilder_bytes() of an empty builder stays small: the table
     * and the term array of a big flush are not kept.
     */
    free_chunks(b);
    b->nblocks = b->nblocks ? 1 : 0;
    b->block_used = 0;
    b->nterms = 0;
    void *mem;
    struct term *table = alloc_table(INITIAL_CAP, &mem);
    if (table) {
        qr_free(b->table_mem);
        b->table_mem = mem;
        b->table = table;
        b->table_cap = INITIAL_CAP;
    } else {
        memset(b->table, 0, (size_t)b->table_cap * sizeof *b->table);
    }
    qr_buf_free(&b->text);
    qr_free(b->posbuf);
    b->posbuf = NULL;
    b->posbuf_cap = 0;
    b->ndocs = 0;
    b->doc_pos = 0;
    b->err = 0;
    b->head = b->na = b->nb = 0;
}

uint32_t qr_pbuilder_docs(const qr_postings_builder *b)
{
    return b->ndocs;
}

uint64_t qr_pbuilder_terms(const qr_postings_builder *b)
{
    return b->nterms;
}

size_t qr_pbuilder_bytes(const qr_postings_builder *b)
{
    return (size_t)b->nblocks * POOL_BLOCK + (size_t)b->blocks_cap * sizeof *b->blocks +
           (size_t)b->chunks_cap * sizeof *b->chunks +
           ((size_t)b->table_cap + 1) * sizeof *b->table + b->text.cap +
           (size_t)b->posbuf_cap * sizeof *b->posbuf + sizeof *b;
}

int qr_pbuilder_begin_doc(qr_postings_builder *b, uint32_t *out_doc)
{
    int rc = qr_pbuilder_end_doc(b);
    if (rc)
        return rc;
    if (b->ndocs >= NO_DOC - 1)
        return QR_ETOOBIG;
    b->doc_pos = 0;
    if (out_doc)
        *out_doc = b->ndocs;
    b->ndocs++;
    return QR_OK;
}

/* The huge-page-aligned start of a chunk allocation. */
static uint8_t *chunk_base(void *m)
{
    return (uint8_t *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
}

/* The memory of block b->nblocks (a new one), or NULL when out of memory. */
static uint8_t *new_block(qr_postings_builder *b)
{
    if (b->nblocks == 0) {
        if (!b->first)
            b->first = qr_malloc(POOL_BLOCK);
        return b->first;
    }
    uint32_t k = (b->nblocks - 1) % CHUNK_BLOCKS;
    if (k == 0) {
        if (b->nchunks == b->chunks_cap) {
            uint32_t cap = b->chunks_cap ? 2 * b->chunks_cap : 2;
            void **nc = qr_reallocarray(b->chunks, cap, sizeof *nc);
            if (!nc)
                return NULL;
            b->chunks = nc;
            b->chunks_cap = cap;
        }
        /* One huge page's worth, aligned inside an allocation a huge page longer; the
         * slack is never touched, so it costs address space only. */
        uint8_t *m = qr_malloc((size_t)HUGE_PAGE * 2);
        if (!m)
            return NULL;
        b->chunks[b->nchunks++] = m;
#ifdef MADV_HUGEPAGE
        /*
         * A huge page from the second chunk on: the first is touched a small
         * page at a time, so that a builder of a small corpus zeroes only
         * what it fills, not 2 MiB on its first posting (bbc, 2 threads, 4
         * interleaved A/Bs of 31-41 rounds: median -1.9 to -3.0 %; 1 thread
         * and enwiki within noise).
         */
        if (b->nchunks > 1)
            (void)madvise(chunk_base(m), HUGE_PAGE, MADV_HUGEPAGE); /* a hint: failure is fine */
#endif
    }
    return chunk_base(b->chunks[b->nchunks - 1]) + (size_t)k * POOL_BLOCK;
}

/* Carves a slice of `size` bytes from the arena; its offset goes to *out. */
static int alloc_slice(qr_postings_builder *b, uint32_t size, uint32_t *out)
{
    if (!b->nblocks || b->block_used + size > POOL_BLOCK) {
        if (b->nblocks == (1u << (32 - POOL_SHIFT)))
            return QR_ETOOBIG;
        if (b->nblocks == b->blocks_cap) {
            uint32_t cap = b->blocks_cap ? 2 * b->blocks_cap : 16;
            uint8_t **nb = qr_reallocarray(b->blocks, cap, sizeof *nb);
            if (!nb)
                return QR_ENOMEM;
            b->blocks = nb;
            b->blocks_cap = cap;
        }
        uint8_t *blk = new_block(b);
        if (!blk)
            return QR_ENOMEM;
        b->blocks[b->nblocks] = blk;
        b->nblocks++;
        b->block_used = 0;
    }
    *out = (b->nblocks - 1) << POOL_SHIFT | b->block_used;
    b->block_used += size;
    return QR_OK;
}

/* Appends one byte to t's stream, chaining a new slice when the current one is full. */
static inline int put_byte(qr_postings_builder *b, struct term *t, uint8_t v)
{
    if (t->cur == t->end) {
        uint8_t level = (size_t)t->level + 1 < NLEVELS ? t->level + 1 : t->level;
        uint32_t off;
        int rc = alloc_slice(b, slice_size[level], &off);
        if (rc)
            return rc;
        qr_store_u32(at(b, t->end), off);
        t->cur = off;
        t->end = off + slice_size[level] - 4;
        t->level = level;
    }
    *at(b, t->cur) = v;
    t->cur++;
    return QR_OK;
}

static inline int put_varint(qr_postings_builder *b, struct term *t, uint32_t v)
{
    while (v >= 0x80) {
        int rc = put_byte(b, t, (uint8_t)(v | 0x80));
        if (rc)
            return rc;
        v >>= 7;
    }
    return put_byte(b, t, (uint8_t)v);
}

static int grow_table(qr_postings_builder *b)
{
    if (b->table_cap >= 1u << 31)
        return QR_ETOOBIG;
    uint32_t cap = b->table_cap * 2;
    void *mem;
    struct term *nt = alloc_table(cap, &mem);
    if (!nt)
        return QR_ENOMEM;
    for (uint32_t i = 0; i < b->table_cap; i++) {
        const struct term *t = &b->table[i];
        if (!t->hash)
            continue;
        uint32_t s = (uint32_t)t->hash & (cap - 1);
        while (nt[s].hash)
            s = (s + 1) & (cap - 1);
        nt[s] = *t;
    }
    qr_free(b->table_mem);
    b->table_mem = mem;
    b->table = nt;
    b->table_cap = cap;
    return QR_OK;
}

/* Fills the empty entry t with a new term. */
static int new_term(qr_postings_builder *b, struct term *t, const char *term, size_t len,
                    uint64_t h)
{
    uint32_t off;
    int rc = alloc_slice(b, slice_size[0], &off);
    if (rc)
        return rc;
    if (len <= INLINE_TEXT) {
        memcpy(t->text, term, len);
    } else {
        if (b->text.n + len > UINT32_MAX)
            return QR_ETOOBIG;
        uint32_t at = (uint32_t)b->text.n;
        qr_buf_put(&b->text, term, len);
        if (b->text.err) {
            int err = b->text.err;
            b->text.err = 0;
            return err;
        }
        memcpy(t->text, &at, sizeof at);
    }
    t->hash = h;
    t->len = (uint8_t)len;
    t->head = t->cur = off;
    t->end = off + slice_size[0] - 4;
    t->level = 0;
    t->last_doc = NO_DOC;
    t->last_pos = 0;
    b->nterms++;
    return QR_OK;
}

/* Appends a looked-up token's posting. */
static int append(qr_postings_builder *b, const struct pend *p)
{
    uint32_t doc = b->ndocs - 1;
    struct term *t = &b->table[p->idx];
    int rc;
    if (t->last_doc == doc) {
        if (p->pos == t->last_pos)
            return QR_OK; /* the same term twice at one position counts once */
        rc = put_varint(b, t, p->pos - t->last_pos);
    } else {
        uint32_t delta = doc;
        if (t->last_doc != NO_DOC) {
            if ((rc = put_byte(b, t, 0)))
                return rc;
            delta = doc - t->last_doc;
        }
        if ((rc = put_varint(b, t, delta)) || (rc = put_varint(b, t, p->pos + 1)))
            return rc;
        t->last_doc = doc;
    }
    if (rc)
        return rc;
    t->last_pos = p->pos;
    return QR_OK;
}

/* Appends every looked-up token. */
static int drain_b(qr_postings_builder *b)
{
    for (; b->nb != b->na; b->nb++) {
        int rc = append(b, &b->ring[b->nb % RING]);
        if (rc)
            return rc;
    }
    return QR_OK;
}

/* Looks a token's term up, inserting it when new; prefetches where it will be written. */
static int resolve(qr_postings_builder *b, struct pend *p)
{
    uint32_t mask = b->table_cap - 1;
    uint32_t s = (uint32_t)p->hash & mask;
    int rc;
    for (;;) {
        struct term *t = &b->table[s];
        if (!t->hash)
            break;
        if (t->hash == p->hash && t->len == p->len && !memcmp(term_text(b, t), p->text, p->len)) {
            p->idx = s;
            __builtin_prefetch(at(b, t->cur), 1);
            return QR_OK;
        }
        s = (s + 1) & mask;
    }
    /* A new term; keep the load factor at most 3/4. */
    if ((uint64_t)(b->nterms + 1) * 4 > (uint64_t)b->table_cap * 3) {
        /* Looked-up tokens hold table indices: append them before they move. */
        if ((rc = drain_b(b)) || (rc = grow_table(b)))
            return rc;
        mask = b->table_cap - 1;
        s = (uint32_t)p->hash & mask;
        while (b->table[s].hash)
            s = (s + 1) & mask;
    }
    if ((rc = new_term(b, &b->table[s], p->text, p->len, p->hash)))
        return rc;
    p->idx = s;
    return QR_OK;
}

int qr_pbuilder_end_doc(qr_postings_builder *b)
{
    if (b->err)
        return b->err;
    int rc = QR_OK;
    for (; b->na != b->head && !rc; b->na++)
        rc = resolve(b, &b->ring[b->na % RING]);
    if (!rc)
        rc = drain_b(b);
    if (rc)
        b->err = rc;
    return rc;
}

int qr_pbuilder_add(qr_postings_builder *b, const char *term, size_t len, uint32_t pos)
{
    if (b->err)
        return b->err;
    if (!b->ndocs || len == 0 || len > MAX_TERM || pos < b->doc_pos)
        return QR_EINVAL;
    b->doc_pos = pos;
    struct pend *p = &b->ring[b->head % RING];
    p->hash = XXH3_64bits(term, len) | 1;
    p->pos = pos;
    p->len = (uint8_t)len;
    memcpy(p->text, term, len);
    __builtin_prefetch(&b->table[(uint32_t)p->hash & (b->table_cap - 1)]);
    b->head++;
    int rc = QR_OK;
    if (b->head - b->na > LAG_A) {
        rc = resolve(b, &b->ring[b->na % RING]);
        b->na++;
    }
    if (!rc && b->head - b->nb > LAG_B) {
        rc = append(b, &b->ring[b->nb % RING]);
        b->nb++;
    }
    if (rc)
        b->err = rc;
    return rc;
}

/* ---- emitting ---- */

/* Reads one term's stream back, following the slice chain, with raw pointers. */
struct reader {
    const qr_postings_builder *b;
    const uint8_t *p;    /* next byte */
    const uint8_t *lim;  /* the current slice's forward pointer: its data ends here */
    const uint8_t *stop; /* the term's write position: the stream ends here */
    uint8_t level;       /* level of the current slice */
};

/*
 * The slice after a full one is elsewhere in the arena: fetch it while this
 * one is read (a stream's last slice, which holds its write position, has
 * no valid forward pointer yet).
 */
static inline void rd_prefetch_next(const struct reader *r)
{
    uintptr_t stop = (uintptr_t)r->stop;
    if (stop < (uintptr_t)r->p || stop > (uintptr_t)r->lim)
        __builtin_prefetch(at(r->b, qr_load_u32(r->lim)));
}

/*
 * Whether term t's slice at offset off (of that level) is full, t's write
 * position (cur) lying outside it; then the offset of the slice after it in
 * *next. A stream's last slice holds its write position and has no valid
 * forward pointer yet.
 */
static inline bool slice_after(const qr_postings_builder *b, const struct term *t, uint32_t off,
                               unsigned level, uint32_t *next)
{
    uint32_t fwd = off + slice_size[level] - 4;
    if (t->cur >= off && t->cur <= fwd)
        return false;
    *next = qr_load_u32(at(b, fwd));
    return true;
}

static void rd_init(struct reader *r, const qr_postings_builder *b, const struct term *t)
{
    r->b = b;
    r->p = at(b, t->head);
    r->lim = r->p + slice_size[0] - 4;
    r->stop = at(b, t->cur);
    r->level = 0;
    rd_prefetch_next(r);
}

/* True while bytes remain (a chained slice always holds at least one). */
static inline bool rd_more(const struct reader *r)
{
    return r->p != r->stop;
}

static inline void rd_next_slice(struct reader *r)
{
    if (r->level + 1u < NLEVELS)
        r->level++;
    r->p = at(r->b, qr_load_u32(r->lim));
    r->lim = r->p + slice_size[r->level] - 4;
    rd_prefetch_next(r);
}

static inline uint8_t rd_byte(struct reader *r)
{
    if (r->p == r->lim)
        rd_next_slice(r);
    return *r->p++;
}

static inline uint8_t rd_peek(struct reader *r)
{
    if (r->p == r->lim)
        rd_next_slice(r);
    return *r->p;
}

static inline uint32_t rd_varint(struct reader *r)
{
    uint32_t v = 0;
    for (unsigned shift = 0;; shift += 7) {
        uint8_t c = rd_byte(r);
        v |= (uint32_t)(c & 0x7f) << shift;
        if (!(c & 0x80) || shift >= 28)
            return v;
    }
}

/* Sort key: the first 8 term bytes, big endian, and the term index. */
struct sort_item {
    uint64_t key;
    uint32_t idx;
};

static int compare_with(const qr_postings_builder *b, const struct sort_item *x,
                        const struct sort_item *y)
{
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    const struct term *ta = &b->table[x->idx], *tb = &b->table[y->idx];
    size_t n = ta->len < tb->len ? ta->len : tb->len;
    int c = memcmp(term_text(b, ta), term_text(b, tb), n);
    if (c)
        return c;
    return (ta->len > tb->len) - (ta->len < tb->len);
}

/* Merge sort of items by term bytes (qsort has no context argument in C11). */
static void sort_items(const qr_postings_builder *b, struct sort_item *v, struct sort_item *tmp,
                       size_t n)
{
    if (n < 24) {
        for (size_t i = 1; i < n; i++) {
            struct sort_item x = v[i];
            size_t j = i;
            while (j > 0 && compare_with(b, &x, &v[j - 1]) < 0) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return;
    }
    size_t h = n / 2;
    sort_items(b, v, tmp, h);
    sort_items(b, v + h, tmp, n - h);
    if (compare_with(b, &v[h - 1], &v[h]) <= 0)
        return;
    memcpy(tmp, v, h * sizeof *v);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        v[k++] = compare_with(b, &v[j], &tmp[i]) < 0 ? v[j++] : tmp[i++];
    while (i < h)
        v[k++] = tmp[i++];
}

int qr_pbuilder_emit(qr_postings_builder *b, const qr_pb_sink *sink)
{
    int rc = qr_pbuilder_end_doc(b);
    if (rc)
        return rc;
    struct sort_item *items = qr_reallocarray(NULL, b->nterms ? b->nterms : 1, sizeof *items);
    struct sort_item *tmp = qr_reallocarray(NULL, b->nterms / 2 + 1, sizeof *tmp);
    if (!items || !tmp) {
        rc = QR_ENOMEM;
        goto out_free;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->table_cap; i++) {
        const struct term *t = &b->table[i];
        if (!t->hash)
            continue;
        uint8_t k[8] = {0};
        memcpy(k, term_text(b, t), t->len < 8 ? t->len : 8);
        uint64_t key = 0;
        for (int j = 0; j < 8; j++)
            key = key << 8 | k[j];
        items[n].key = key;
        items[n].idx = i;
        n++;
    }
    sort_items(b, items, tmp, b->nterms);
    for (uint32_t i = 0; i < b->nterms; i++) {
        /* Sorted order visits the table and the arena at random: fetch a term's line
         * EMIT_AHEAD terms ahead and the start of its stream half as far ahead. */
        if (i + EMIT_AHEAD < b->nterms)
            __builtin_prefetch(&b->table[items[i + EMIT_AHEAD].idx]);
        if (i + EMIT_AHEAD / 2 < b->nterms)
            __builtin_prefetch(at(b, b->table[items[i + EMIT_AHEAD / 2].idx].head));
        /* A term past its first slice (fetched by now): its second slice, a quarter ahead. */
        uint32_t second, third;
        if (i + EMIT_AHEAD / 4 < b->nterms) {
            const struct term *u = &b->table[items[i + EMIT_AHEAD / 4].idx];
            if (slice_after(b, u, u->head, 0, &second))
                __builtin_prefetch(at(b, second));
        }
        /* ... and its third, fetched by now too, an eighth ahead. */
        if (i + EMIT_AHEAD / 8 < b->nterms) {
            const struct term *u = &b->table[items[i + EMIT_AHEAD / 8].idx];
            if (slice_after(b, u, u->head, 0, &second) && slice_after(b, u, second, 1, &third))
                __builtin_prefetch(at(b, third));
        }
        const struct term *t = &b->table[items[i].idx];
        struct reader r;
        rd_init(&r, b, t);
        if ((rc = sink->begin_term(sink->ctx, term_text(b, t), t->len)))
            goto out_free;
        uint32_t doc = 0;
        bool first = true;
        while (rd_more(&r)) {
            if (!first && rd_byte(&r) != 0) {
                rc = QR_ECORRUPT; /* cannot happen: the separator is always written */
                goto out_free;
            }
            doc = first ? rd_varint(&r) : doc + rd_varint(&r);
            first = false;
            uint32_t tf = 0, pos = 0;
            /* First position is stored + 1; then deltas >= 1, up to a 0x00 separator. */
            while (rd_more(&r) && rd_peek(&r) != 0) {
                uint32_t v = rd_varint(&r);
                pos = tf ? pos + v : v - 1;
                if (tf == b->posbuf_cap) {
                    uint32_t cap = b->posbuf_cap ? 2 * b->posbuf_cap : 256;
                    uint32_t *np = qr_reallocarray(b->posbuf, cap, sizeof *np);
                    if (!np) {
                        rc = QR_ENOMEM;
                        goto out_free;
                    }
                    b->posbuf = np;
                    b->posbuf_cap = cap;
                }
                b->posbuf[tf++] = pos;
            }
            if ((rc = sink->add_posting(sink->ctx, doc, tf, b->posbuf)))
                goto out_free;
        }
        if ((rc = sink->end_term(sink->ctx)))
            goto out_free;
    }
out_free:
    qr_free(items);
    qr_free(tmp);
    return rc;
}

/* ---- the segment writer as a sink ---- */

static int seg_begin(void *ctx, const char *term, size_t len)
{
    return qr_segment_writer_begin_term(ctx, term, len);
}

static int seg_add(void *ctx, uint32_t doc, uint32_t tf, const uint32_t *positions)
{
    return qr_segment_writer_add_posting(ctx, doc, tf, positions);
}

static int seg_end(void *ctx)
{
    return qr_segment_writer_end_term(ctx);
}

int qr_pbuilder_write_segment(qr_postings_builder *b, qr_segment_writer *w)
{
    qr_pb_sink sink = {seg_begin, seg_add, seg_end, w};
    return qr_pbuilder_emit(b, &sink);
}
