/*
 * The manifest (which segments make up the index, at which generation) and
 * the per-segment deletion bitmaps; see storage/manifest.h.
 *
 * Byte grammar of MANIFEST-<generation> (little endian; framing by
 * storage/checksum.h, magic QR_MANIFEST_MAGIC "QRMF", version 1):
 *
 *   manifest := header body footer
 *   body     := generation:u64 next_id:u64
 *               lang_len:u8 lang:u8[lang_len]
 *               nsegs:u32 seg[nsegs]
 *   seg      := id:u64 docs:u32 deleted:u32 del_gen:u64 live_positions:u64   (32 bytes)
 *
 * A reader always verifies the checksum (manifests are a few hundred bytes)
 * and rejects as QR_ECORRUPT: a body shorter or longer than the grammar says
 * (trailing bytes included), a generation of 0 or one that differs from the
 * file name's, a language of 0 or more than 31 bytes or with a byte outside
 * printable ASCII, deleted > docs, deletions without a deletion file
 * (deleted > 0 and del_gen = 0), a segment id not below next_id (ids are
 * never reused) and a segment id listed twice. A writer refuses the same
 * things with QR_EINVAL.
 *
 * Byte grammar of seg-<id>-<del_gen>.del (magic QR_DELETES_MAGIC "QRDL",
 * version 1):
 *
 *   deletes := header docs:u32 count:u32 word:u64[ceil(docs / 64)] footer
 *
 * bit d of the bitmap (word d / 64, bit d % 64) set = document d deleted.
 * A reader verifies the checksum, that docs is the segment's, that the body
 * has exactly that many words, that no bit at or past docs is set and that
 * count is the number of bits set.
 *
 * Which manifest opens: the newest MANIFEST-<16 lowercase hex digits>, and
 * only that one. Commit writes MANIFEST-<gen>.tmp, fsyncs it and renames it,
 * so a torn or half-written manifest cannot appear under its final name: if
 * the newest one does not verify, the index is damaged, and qr_manifest_load
 * says so (QR_ECORRUPT) rather than silently serving an older generation,
 * whose segments garbage collection may already have removed and which would
 * in any case hide committed documents without a word. `quarry check` reports
 * it; qr_manifest_load_gen can still open an older generation on purpose.
 */
#include "storage/manifest.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/status.h"

#define MANIFEST_VERSION 1
#define DELETES_VERSION  1
#define SEG_RECORD_SIZE  32 /* id, docs, deleted, del_gen, live_positions */
#define MANIFEST_PREFIX  "MANIFEST-"
#define TMP_SUFFIX       ".tmp"
#define HEX_DIGITS       16
/* A listed manifest that keeps vanishing before it can be mapped is damage, not a race. */
#define LOAD_ATTEMPTS 16

/* ---- names ---- */

void qr_manifest_file_name(char *out, uint64_t generation)
{
    snprintf(out, 48, MANIFEST_PREFIX "%016" PRIx64, generation);
}

void qr_deletes_file_name(char *out, uint64_t seg_id, uint64_t del_gen)
{
    snprintf(out, 48, "seg-%016" PRIx64 "-%016" PRIx64 ".del", seg_id, del_gen);
}

/* Parses exactly 16 lowercase hex digits at s into *out. */
static bool parse_hex16(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    for (int i = 0; i < HEX_DIGITS; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9')
            v = v << 4 | (uint64_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            v = v << 4 | (uint64_t)(ch - 'a' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

/* True when name is exactly MANIFEST-<16 lowercase hex>; *out_gen is its generation. */
static bool manifest_name_gen(const char *name, uint64_t *out_gen)
{
    size_t plen = sizeof MANIFEST_PREFIX - 1;
    return strncmp(name, MANIFEST_PREFIX, plen) == 0 && parse_hex16(name + plen, out_gen) &&
           name[plen + HEX_DIGITS] == '\0';
}

static bool has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return n >= s && memcmp(name + n - s, suffix, s) == 0;
}

/* The newest manifest generation in dir; *out_found = false when there is none. */
static int newest_generation(qr_dir *dir, uint64_t *out_gen, bool *out_found)
{
    char **names;
    size_t n;
    int rc = qr_dir_list(dir, &names, &n);
    if (rc)
        return rc;
    *out_found = false;
    *out_gen = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t gen;
        if (manifest_name_gen(names[i], &gen) && (!*out_found || gen > *out_gen)) {
            *out_gen = gen;
            *out_found = true;
        }
    }
    qr_dir_list_free(names, n);
    return 0;
}

/* ---- validation shared by reader (QR_ECORRUPT) and writer (QR_EINVAL) ---- */

static bool language_ok(const char *p, size_t n)
{
    if (n == 0 || n >= sizeof((qr_manifest *)0)->language)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return false;
    return true;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* 0 when m's segments are consistent, `bad` when not, QR_ENOMEM when that cannot be told. */
static int check_segs(const qr_manifest *m, int bad)
{
    for (uint32_t i = 0; i < m->nsegs; i++) {
        const qr_manifest_seg *s = &m->segs[i];
        if (s->deleted > s->docs || (s->deleted && !s->del_gen) || s->id >= m->next_id)
            return bad;
    }
    if (m->nsegs < 2)
        return 0;
    uint64_t *ids = qr_calloc(m->nsegs, sizeof *ids);
    if (!ids)
        return QR_ENOMEM;
    for (uint32_t i = 0; i < m->nsegs; i++)
        ids[i] = m->segs[i].id;
    qsort(ids, m->nsegs, sizeof *ids, cmp_u64);
    int rc = 0;
    for (uint32_t i = 1; i < m->nsegs && !rc; i++)
        if (ids[i] == ids[i - 1])
            rc = bad;
    qr_free(ids);
    return rc;
}

/* ---- the manifest in memory ---- */

uint64_t qr_manifest_live_docs(const qr_manifest *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->nsegs; i++)
        n += m->segs[i].docs - m->segs[i].deleted;
    return n;
}

uint64_t qr_manifest_live_positions(const qr_manifest *m)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < m->nsegs; i++)
        n += m->segs[i].live_positions;
    return n;
}

void qr_manifest_free(qr_manifest *m)
{
    if (!m)
        return;
    qr_free(m->segs);
    memset(m, 0, sizeof *m);
}

int qr_manifest_copy(qr_manifest *out, const qr_manifest *m)
{
    qr_manifest c = *m;
    c.segs = NULL;
    if (m->nsegs) {
        c.segs = qr_calloc(m->nsegs, sizeof *c.segs);
        if (!c.segs) {
            memset(out, 0, sizeof *out);
            return QR_ENOMEM;
        }
        memcpy(c.segs, m->segs, m->nsegs * sizeof *c.segs);
    }
    *out = c;
    return 0;
}

/* ---- reading ---- */

/* Decodes a whole manifest file image into *out (zeroed on error). */
static int parse(qr_manifest *out, qr_slice file)
{
    qr_manifest m = {0};
    qr_slice body;
    int rc = qr_file_open_body(&body, NULL, file, QR_MANIFEST_MAGIC, MANIFEST_VERSION,
                               MANIFEST_VERSION, true);
    if (rc)
        return rc;
    qr_cursor c = qr_cursor_make(body.p, body.n);
    m.generation = qr_get_u64(&c);
    m.next_id = qr_get_u64(&c);
    uint8_t lang_len = qr_get_u8(&c);
    qr_slice lang = qr_get_bytes(&c, lang_len);
    m.nsegs = qr_get_u32(&c);
    if (c.err || m.generation == 0 || !language_ok((const char *)lang.p, lang.n))
        return QR_ECORRUPT;
    memcpy(m.language, lang.p, lang.n);
    m.language[lang.n] = '\0';
    size_t left = qr_cursor_left(&c);
    if (left % SEG_RECORD_SIZE != 0 || left / SEG_RECORD_SIZE != m.nsegs)
        return QR_ECORRUPT;
    if (m.nsegs) {
        m.segs = qr_calloc(m.nsegs, sizeof *m.segs);
        if (!m.segs)
            return QR_ENOMEM;
    }
    for (uint32_t i = 0; i < m.nsegs; i++) {
        qr_manifest_seg *s = &m.segs[i];
        s->id = qr_get_u64(&c);
        s->docs = qr_get_u32(&c);
        s->deleted = qr_get_u32(&c);
        s->del_gen = qr_get_u64(&c);
        s->live_positions = qr_get_u64(&c);
    }
    rc = c.err ? QR_ECORRUPT : check_segs(&m, QR_ECORRUPT);
    if (rc) {
        qr_manifest_free(&m);
        return rc;
    }
    *out = m;
    return 0;
}

int qr_manifest_load_gen(qr_manifest *out, qr_dir *dir, uint64_t generation)
{
    memset(out, 0, sizeof *out);
    char name[48];
    qr_manifest_file_name(name, generation);
    qr_mapping *map;
    qr_slice data;
    int rc = qr_dir_map(dir, name, &map, &data);
    if (rc)
        return rc;
    rc = parse(out, data);
    qr_mapping_close(map);
    if (rc == 0 && out->generation != generation) {
        qr_manifest_free(out);
        rc = QR_ECORRUPT;
    }
    return rc;
}

int qr_manifest_load(qr_manifest *out, qr_dir *dir)
{
    memset(out, 0, sizeof *out);
    for (int attempt = 0; attempt < LOAD_ATTEMPTS; attempt++) {
        uint64_t gen;
        bool found;
        int rc = newest_generation(dir, &gen, &found);
        if (rc)
            return rc;
        if (!found)
            return QR_ENOTFOUND;
        /* Only the newest: a corrupt newest manifest is damage to report (see the top). */
        rc = qr_manifest_load_gen(out, dir, gen);
        if (rc != QR_ENOTFOUND)
            return rc;
        /* Listed, then gone: a writer committed a newer one and collected this. Look again. */
    }
    return QR_ECORRUPT;
}

/* ---- writing ---- */

static int validate(const qr_manifest *m)
{
    if (m->generation == 0 || (m->nsegs && !m->segs))
        return QR_EINVAL;
    if (!language_ok(m->language, strnlen(m->language, sizeof m->language)))
        return QR_EINVAL;
    return check_segs(m, QR_EINVAL);
}

static void serialize(qr_buf *b, const qr_manifest *m)
{
    size_t lang_len = strlen(m->language);
    qr_file_begin(b, QR_MANIFEST_MAGIC, MANIFEST_VERSION);
    qr_buf_put_u64(b, m->generation);
    qr_buf_put_u64(b, m->next_id);
    qr_buf_put_u8(b, (uint8_t)lang_len);
    qr_buf_put(b, m->language, lang_len);
    qr_buf_put_u32(b, m->nsegs);
    for (uint32_t i = 0; i < m->nsegs; i++) {
        const qr_manifest_seg *s = &m->segs[i];
        qr_buf_put_u64(b, s->id);
        qr_buf_put_u32(b, s->docs);
        qr_buf_put_u32(b, s->deleted);
        qr_buf_put_u64(b, s->del_gen);
        qr_buf_put_u64(b, s->live_positions);
    }
    qr_file_end(b, QR_MANIFEST_MAGIC);
}

int qr_manifest_commit(qr_dir *dir, const qr_manifest *m)
{
    qr_buf b = {0};
    int rc = validate(m);
    if (rc)
        return rc;
    uint64_t newest;
    bool found;
    rc = newest_generation(dir, &newest, &found);
    if (rc)
        return rc;
    if (found && m->generation <= newest)
        return QR_EINVAL;

    serialize(&b, m);
    if (b.err) {
        rc = b.err;
        goto out;
    }
    char name[48], tmp[48 + sizeof TMP_SUFFIX];
    qr_manifest_file_name(name, m->generation);
    snprintf(tmp, sizeof tmp, "%s" TMP_SUFFIX, name);

    /* A writer that died mid-commit may have left this very tmp file behind. */
    rc = qr_dir_remove(dir, tmp);
    if (rc && rc != QR_ENOTFOUND)
        goto out;
    /* create + write + fsync + close; removes the tmp file when any step fails */
    rc = qr_dir_write_file(dir, tmp, b.p, b.n);
    if (rc)
        goto out;
    rc = qr_dir_rename(dir, tmp, name);
    if (rc) {
        (void)qr_dir_remove(dir, tmp);
        goto out;
    }
    rc = qr_dir_sync(dir);
    if (rc) {
        /*
         * The new name may not be durable: take it back, so that this
         * process and every later reader agree the commit did not happen.
         */
        (void)qr_dir_remove(dir, name);
        (void)qr_dir_sync(dir);
        goto out;
    }
out:
    qr_buf_free(&b);
    return rc;
}

/* ---- garbage collection ---- */

static const qr_manifest_seg *live_seg(const qr_manifest *m, uint64_t id)
{
    for (uint32_t i = 0; i < m->nsegs; i++)
        if (m->segs[i].id == id)
            return &m->segs[i];
    return NULL;
}

/*
 * True when name is a quarry file that m does not need: a *.tmp file, an
 * older manifest, a file of a segment m does not list, or a deletion file
 * that is not its segment's current one. The lock file and names quarry
 * does not make are never garbage.
 */
static bool is_garbage(const char *name, const qr_manifest *m)
{
    uint64_t gen, id;
    if (strcmp(name, QR_LOCK_FILE) == 0)
        return false;
    if (has_suffix(name, TMP_SUFFIX))
        return true;
    if (manifest_name_gen(name, &gen))
        return gen != m->generation;
    /* seg-<16 hex> then '.' (segment files) or '-' (deletion files) */
    if (strncmp(name, "seg-", 4) != 0 || !parse_hex16(name + 4, &id))
        return false;
    const char *rest = name + 4 + HEX_DIGITS;
    if (*rest != '.' && *rest != '-')
        return false;
    const qr_manifest_seg *s = live_seg(m, id);
    if (!s)
        return true;
    if (*rest == '-' && parse_hex16(rest + 1, &gen) && strcmp(rest + 1 + HEX_DIGITS, ".del") == 0)
        return gen != s->del_gen;
    return false;
}

int qr_manifest_gc(qr_dir *dir, const qr_manifest *m)
{
    char **names;
    size_t n;
    int rc = qr_dir_list(dir, &names, &n);
    if (rc)
        return rc;
    /*
     * Collecting on behalf of a stale or uncommitted manifest would delete
     * the files of the one that opens: m must be the newest on disk.
     */
    bool committed = false;
    for (size_t i = 0; i < n; i++) {
        uint64_t gen;
        if (manifest_name_gen(names[i], &gen) && gen >= m->generation) {
            if (gen > m->generation) {
                rc = QR_EINVAL;
                goto out;
            }
            committed = true;
        }
    }
    if (!committed) {
        rc = QR_EINVAL;
        goto out;
    }
    bool removed = false;
    for (size_t i = 0; i < n; i++) {
        if (!is_garbage(names[i], m))
            continue;
        int r = qr_dir_remove(dir, names[i]);
        removed = true;
        if (r && r != QR_ENOTFOUND && !rc)
            rc = r; /* keep collecting: every removal that works is progress */
    }
    /* Nothing was removed (a first commit): nothing to make durable. */
    if (removed) {
        int r = qr_dir_sync(dir);
        if (!rc)
            rc = r;
    }
out:
    qr_dir_list_free(names, n);
    return rc;
}

/* ---- deletion bitmaps ---- */

static size_t word_count(uint32_t docs)
{
    return ((size_t)docs + 63) / 64;
}

int qr_deletes_init(qr_deletes *d, uint32_t docs)
{
    d->docs = docs;
    d->bits = NULL; /* allocated by the first qr_deletes_add */
    d->count = 0;
    return 0;
}

void qr_deletes_free(qr_deletes *d)
{
    if (!d)
        return;
    qr_free(d->bits);
    d->bits = NULL;
    d->count = 0;
}

int qr_deletes_add(qr_deletes *d, uint32_t doc)
{
    if (doc >= d->docs)
        return QR_EINVAL;
    if (!d->bits) {
        d->bits = qr_calloc(word_count(d->docs), sizeof *d->bits);
        if (!d->bits)
            return QR_ENOMEM;
    }
    uint64_t bit = UINT64_C(1) << (doc & 63);
    if (!(d->bits[doc >> 6] & bit)) {
        d->bits[doc >> 6] |= bit;
        d->count++;
    }
    return 0;
}

int qr_deletes_write(qr_dir *dir, uint64_t seg_id, uint64_t del_gen, const qr_deletes *d)
{
    if (del_gen == 0)
        return QR_EINVAL;
    qr_buf b = {0};
    size_t nw = word_count(d->docs);
    qr_file_begin(&b, QR_DELETES_MAGIC, DELETES_VERSION);
    qr_buf_put_u32(&b, d->docs);
    qr_buf_put_u32(&b, d->count);
    for (size_t i = 0; i < nw; i++)
        qr_buf_put_u64(&b, d->bits ? d->bits[i] : 0);
    qr_file_end(&b, QR_DELETES_MAGIC);
    int rc = b.err;
    if (rc == 0) {
        char name[48];
        qr_deletes_file_name(name, seg_id, del_gen);
        rc = qr_dir_write_file(dir, name, b.p, b.n);
    }
    qr_buf_free(&b);
    return rc;
}

int qr_deletes_read(qr_deletes *out, qr_dir *dir, uint64_t seg_id, uint64_t del_gen, uint32_t docs)
{
    qr_deletes_init(out, docs);
    if (del_gen == 0)
        return QR_EINVAL;
    char name[48];
    qr_deletes_file_name(name, seg_id, del_gen);
    qr_mapping *map;
    qr_slice data, body;
    uint64_t *bits = NULL;
    int rc = qr_dir_map(dir, name, &map, &data);
    if (rc)
        return rc;
    rc = qr_file_open_body(&body, NULL, data, QR_DELETES_MAGIC, DELETES_VERSION, DELETES_VERSION,
                           true);
    if (rc)
        goto out_unmap;
    qr_cursor c = qr_cursor_make(body.p, body.n);
    uint32_t file_docs = qr_get_u32(&c);
    uint32_t count = qr_get_u32(&c);
    size_t nw = word_count(docs);
    if (c.err || file_docs != docs || qr_cursor_left(&c) / 8 != nw || qr_cursor_left(&c) % 8 != 0) {
        rc = QR_ECORRUPT;
        goto out_unmap;
    }
    if (nw) {
        bits = qr_calloc(nw, sizeof *bits);
        if (!bits) {
            rc = QR_ENOMEM;
            goto out_unmap;
        }
    }
    uint64_t set = 0;
    for (size_t i = 0; i < nw; i++) {
        bits[i] = qr_get_u64(&c);
        set += (uint64_t)__builtin_popcountll(bits[i]);
    }
    /* bits at or past docs in the last word must be clear */
    bool stray = docs % 64 && nw && bits[nw - 1] >> (docs % 64);
    if (c.err || stray || set != count) {
        rc = QR_ECORRUPT;
        goto out_unmap;
    }
    if (count) {
        out->bits = bits;
        out->count = count;
        bits = NULL;
    }
out_unmap:
    qr_free(bits);
    qr_mapping_close(map);
    return rc;
}
