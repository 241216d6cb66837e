/*
 * Index verification (`quarry check`): every file the newest manifest names
 * is mapped and its frame and checksum verified on its own, so that damage
 * is reported against the file (and the offset) where it shows; then each
 * codec opens its file and check walks everything the codecs can decode,
 * comparing what one structure says with what another holds (see check.h
 * for the list). Problems go to a callback as they are found; the check
 * goes on after a problem wherever what is left can still be trusted, so
 * one run names every damaged file.
 *
 * Offsets: frame problems point at the failing field (header magic at 0,
 * footer magic at size - 12, checksum at size - 8); manifest problems at
 * the field (the manifest grammar is fixed-width after the language);
 * dictionary problems at the term's entry; postings problems at the term's
 * data in .doc or .pos (8 + the offset its dictionary entry gives); store
 * problems at the zstd frame of the document's block; table problems at the
 * field or the path. -1 when there is no one place to blame.
 */
#include "index/check.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "storage/alloc.h"
#include "storage/bitpack.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/docstore.h"
#include "storage/manifest.h"
#include "storage/postings.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "storage/termdict.h"

#define MSG_MAX         640
#define SHOWN_MAX       48 /* bytes of a term or path quoted in a message */
#define QUOTED_MAX      (SHOWN_MAX * 4 + 8)
#define MANIFEST_PREFIX "MANIFEST-"
#define HEX_DIGITS      16
#define SEG_RECORD      32 /* manifest: id, docs, deleted, del_gen, live_positions */
#define TDI_TRAILER     40 /* termdict: terms, sum_df, sum_ttf, index_off, nblocks, block_terms */
#define STO_TRAILER     16 /* docstore: docs, nblocks, frames_len */
#define STO_BLOCK_ENTRY 16 /* docstore: first_doc, comp_off, raw_len */

/* Problems reported against one file, for the per-file display cap. */
typedef struct file_count {
    char name[64];
    uint32_t shown;  /* problems passed to the callback */
    uint64_t hidden; /* problems counted but not shown */
} file_count;

typedef struct checker {
    qr_dir *dir;
    qr_check_fn fn;
    void *ctx;
    qr_check_stats st;
    int fatal;          /* a failure that stops the check (QR_EIO, QR_ENOMEM) */
    file_count *counts; /* files with problems */
    size_t ncounts, capcounts;
    char manifest[48]; /* the newest manifest's name */
    /* problems held back until the check is known to have seen one generation */
    qr_check_problem *held;
    size_t nheld, capheld;
    bool hold_failed; /* a problem could not be held: pass the rest straight on */
} checker;

/* ---- reporting ---- */

static file_count *count_for(checker *c, const char *file)
{
    for (size_t i = 0; i < c->ncounts; i++)
        if (!strcmp(c->counts[i].name, file))
            return &c->counts[i];
    if (c->ncounts == c->capcounts) {
        size_t cap = c->capcounts ? c->capcounts * 2 : 8;
        file_count *n = qr_reallocarray(c->counts, cap, sizeof *n);
        if (!n)
            return NULL; /* then the problem is shown without a cap */
        c->counts = n;
        c->capcounts = cap;
    }
    file_count *f = &c->counts[c->ncounts++];
    snprintf(f->name, sizeof f->name, "%s", file);
    f->shown = 0;
    f->hidden = 0;
    return f;
}

static void emit(checker *c, const char *file, int64_t off, bool warning, const char *msg)
{
    if (!c->fn)
        return;
    qr_check_problem p = {file, off, msg, warning};
    if (!c->hold_failed) {
        if (c->nheld == c->capheld) {
            size_t cap = c->capheld ? c->capheld * 2 : 16;
            qr_check_problem *n = qr_reallocarray(c->held, cap, sizeof *n);
            if (n) {
                c->held = n;
                c->capheld = cap;
            }
        }
        char *f = qr_strdup(file), *m = qr_strdup(msg);
        if (c->nheld < c->capheld && f && m) {
            c->held[c->nheld++] = (qr_check_problem){f, off, m, warning};
            return;
        }
        qr_free(f);
        qr_free(m);
        c->hold_failed = true; /* out of memory: report as found, in order */
        for (size_t i = 0; i < c->nheld; i++)
            c->fn(c->ctx, &c->held[i]);
    }
    c->fn(c->ctx, &p);
}

/* Drops the held problems (release) or passes them on first (flush). */
static void held_done(checker *c, bool flush)
{
    for (size_t i = 0; i < c->nheld; i++) {
        if (flush && !c->hold_failed)
            c->fn(c->ctx, &c->held[i]);
        qr_free((char *)c->held[i].file);
        qr_free((char *)c->held[i].message);
    }
    qr_free(c->held);
    c->held = NULL;
    c->nheld = c->capheld = 0;
}

static void vreport(checker *c, bool warning, const char *file, int64_t off, const char *fmt,
                    va_list ap)
{
    if (warning) {
        c->st.warnings++;
    } else {
        c->st.problems++;
        file_count *fc = count_for(c, file);
        if (fc && fc->shown >= QR_CHECK_MAX_PER_FILE) {
            fc->hidden++;
            return;
        }
        if (fc)
            fc->shown++;
    }
    char msg[MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    emit(c, file, off, warning, msg);
}

__attribute__((format(printf, 4, 5))) static void problem(checker *c, const char *file, int64_t off,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, false, file, off, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void warning(checker *c, const char *file,
                                                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(c, true, file, -1, fmt, ap);
    va_end(ap);
}

/* One last line for each file whose problems went past the cap. */
static void report_hidden(checker *c)
{
    for (size_t i = 0; i < c->ncounts; i++) {
        if (!c->counts[i].hidden)
            continue;
        char msg[MSG_MAX];
        snprintf(msg, sizeof msg, "%" PRIu64 " more problems in this file not shown",
                 c->counts[i].hidden);
        emit(c, c->counts[i].name, -1, false, msg);
    }
}

static void set_fatal(checker *c, int rc)
{
    if (!c->fatal)
        c->fatal = rc;
}

/* 'bytes' for a message: printable ASCII and UTF-8 as they are, the rest as \xNN, cut long. */
static const char *quote(char *out, const uint8_t *p, size_t n)
{
    size_t o = 0, shown = n > SHOWN_MAX ? SHOWN_MAX : n;
    while (shown > 0 && shown < n && (p[shown] & 0xc0) == 0x80)
        shown--; /* do not cut a UTF-8 sequence */
    out[o++] = '\'';
    for (size_t i = 0; i < shown; i++) {
        uint8_t b = p[i];
        if (b < 0x20 || b == 0x7f || b == '\'' || b == '\\')
            o += (size_t)snprintf(out + o, 5, "\\x%02x", b);
        else
            out[o++] = (char)b;
    }
    out[o++] = '\'';
    if (shown < n)
        o += (size_t)snprintf(out + o, 4, "...");
    out[o] = '\0';
    return out;
}

/* ---- files ---- */

static const char *const seg_kind[QR_SEG_FILE_COUNT] = {
    "term dictionary", "postings (doc ids)", "postings (positions)",
    "document store",  "document table",
};

static const uint32_t seg_magic[QR_SEG_FILE_COUNT] = {
    QR_TERMDICT_MAGIC, QR_SEG_DOC_MAGIC, QR_SEG_POS_MAGIC, QR_DOCSTORE_MAGIC, QR_DOCTABLE_MAGIC,
};

/* Maps a file the manifest names: 0, QR_ENOTFOUND (reported), or a fatal error. */
static int map_named(checker *c, const char *name, qr_mapping **m, qr_slice *img)
{
    int rc = qr_dir_map(c->dir, name, m, img);
    if (rc == QR_ENOTFOUND)
        problem(c, name, -1, "missing (%s names it)", c->manifest);
    else if (rc)
        set_fatal(c, rc);
    return rc;
}

/*
 * Verifies a file's frame and checksum (any version: the codec judges that)
 * and lends its body. On failure, reports which part failed and where.
 */
static bool check_frame(checker *c, const char *name, const char *kind, qr_slice img,
                        uint32_t magic, qr_slice *body)
{
    c->st.files++;
    c->st.bytes += img.n;
    if (qr_file_open_body(body, NULL, img, magic, 0, UINT32_MAX, true) == 0)
        return true;
    size_t n = img.n;
    if (n < QR_FILE_HEADER_SIZE + QR_FILE_FOOTER_SIZE) {
        problem(c, name, (int64_t)n,
                "truncated: %zu bytes, shorter than a file's header and footer (%d)", n,
                QR_FILE_HEADER_SIZE + QR_FILE_FOOTER_SIZE);
    } else if (qr_load_u32(img.p) != magic) {
        problem(c, name, 0, "bad magic %08" PRIx32 " where a %s starts with %08" PRIx32,
                qr_load_u32(img.p), kind, magic);
    } else if (qr_load_u32(img.p + n - QR_FILE_FOOTER_SIZE) != ~magic) {
        problem(c, name, (int64_t)(n - QR_FILE_FOOTER_SIZE),
                "bad footer magic %08" PRIx32 " (expected %08" PRIx32
                "): the file is truncated or damaged at its end",
                qr_load_u32(img.p + n - QR_FILE_FOOTER_SIZE), ~magic);
    } else {
        problem(c, name, (int64_t)(n - 8),
                "checksum mismatch: stored %016" PRIx64 ", computed %016" PRIx64
                " over bytes 0..%zu: some byte of the %s is damaged",
                qr_load_u64(img.p + n - 8), qr_checksum(img.p, n - 8), n - 9, kind);
    }
    return false;
}

/* Reports a codec's refusal of a file whose checksum holds. */
static void codec_refused(checker *c, const char *name, const char *kind, qr_slice img, int rc)
{
    if (rc == QR_EVERSION)
        problem(c, name, 4, "%s of format version %" PRIu32 ", which this build cannot read", kind,
                qr_load_u32(img.p + 4));
    else if (rc == QR_ECORRUPT)
        problem(c, name, -1,
                "the %s does not follow its format, though its checksum holds "
                "(written so by a faulty writer)",
                kind);
    else
        set_fatal(c, rc);
}

/* ---- names ---- */

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

static bool manifest_gen(const char *name, uint64_t *gen)
{
    size_t pl = sizeof MANIFEST_PREFIX - 1;
    return !strncmp(name, MANIFEST_PREFIX, pl) && parse_hex16(name + pl, gen) &&
           name[pl + HEX_DIGITS] == '\0';
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* True when the manifest m (named c->manifest) names the file. */
static bool named(const checker *c, const qr_manifest *m, const char *name)
{
    uint64_t id, gen;
    if (!strcmp(name, c->manifest))
        return true;
    if (strncmp(name, "seg-", 4) || !parse_hex16(name + 4, &id))
        return false;
    const qr_manifest_seg *s = NULL;
    for (uint32_t i = 0; i < m->nsegs && !s; i++)
        if (m->segs[i].id == id)
            s = &m->segs[i];
    if (!s)
        return false;
    const char *rest = name + 4 + HEX_DIGITS;
    if (*rest == '.') {
        for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
            if (!strcmp(rest + 1, qr_seg_file_ext((qr_seg_file)k)))
                return true;
        return false;
    }
    return *rest == '-' && parse_hex16(rest + 1, &gen) && !strcmp(rest + 1 + HEX_DIGITS, ".del") &&
           s->del_gen && gen == s->del_gen;
}

/* ---- the manifest ---- */

/* Byte offset of a manifest field: lang_len = the language's length, seg i, field offset f. */
static int64_t seg_field(size_t lang_len, uint32_t i, int f)
{
    return QR_FILE_HEADER_SIZE + 8 + 8 + 1 + (int64_t)lang_len + 4 + (int64_t)i * SEG_RECORD + f;
}

/*
 * Says why a manifest whose frame holds does not load: the first field that
 * breaks manifest.c's rules, with its offset.
 */
static void diagnose_manifest(checker *c, qr_slice body, uint64_t gen)
{
    const char *f = c->manifest;
    qr_cursor cur = qr_cursor_make(body.p, body.n);
    uint64_t g = qr_get_u64(&cur);
    uint64_t next_id = qr_get_u64(&cur);
    uint8_t lang_len = qr_get_u8(&cur);
    qr_slice lang = qr_get_bytes(&cur, lang_len);
    uint32_t nsegs = qr_get_u32(&cur);
    if (cur.err) {
        problem(c, f, (int64_t)(QR_FILE_HEADER_SIZE + body.n), "ends inside its fixed fields");
        return;
    }
    if (g != gen || g == 0) {
        problem(c, f, QR_FILE_HEADER_SIZE,
                "holds generation %" PRIu64 ", but its name says %" PRIu64
                " (and generations start at 1)",
                g, gen);
        return;
    }
    bool lang_ok = lang_len > 0 && lang_len < 32;
    for (size_t i = 0; i < lang.n; i++)
        lang_ok = lang_ok && lang.p[i] >= 0x21 && lang.p[i] <= 0x7e;
    if (!lang_ok) {
        problem(c, f, QR_FILE_HEADER_SIZE + 16,
                "the language is not 1 to 31 printable ASCII characters");
        return;
    }
    size_t left = qr_cursor_left(&cur);
    if (left != (uint64_t)nsegs * SEG_RECORD) {
        problem(c, f, seg_field(lang_len, 0, 0) - 4,
                "lists %" PRIu32 " segments, but holds %zu bytes of segment records", nsegs, left);
        return;
    }
    for (uint32_t i = 0; i < nsegs; i++) {
        uint64_t id = qr_get_u64(&cur);
        uint32_t docs = qr_get_u32(&cur);
        uint32_t deleted = qr_get_u32(&cur);
        uint64_t del_gen = qr_get_u64(&cur);
        (void)qr_get_u64(&cur);
        if (id >= next_id) {
            problem(c, f, seg_field(lang_len, i, 0),
                    "segment %016" PRIx64 " is not below the next segment id %016" PRIx64, id,
                    next_id);
            return;
        }
        if (deleted > docs) {
            problem(c, f, seg_field(lang_len, i, 12),
                    "segment %016" PRIx64 ": %" PRIu32 " deleted of %" PRIu32 " documents", id,
                    deleted, docs);
            return;
        }
        if (deleted && !del_gen) {
            problem(c, f, seg_field(lang_len, i, 16),
                    "segment %016" PRIx64 ": %" PRIu32 " deleted documents but no deletion file",
                    id, deleted);
            return;
        }
        for (uint32_t j = 0; j < i; j++)
            if (qr_load_u64(body.p + (seg_field(lang_len, j, 0) - QR_FILE_HEADER_SIZE)) == id) {
                problem(c, f, seg_field(lang_len, i, 0), "segment %016" PRIx64 " is listed twice",
                        id);
                return;
            }
    }
    /* (every rule manifest.c applies is diagnosed above: this is only a safety net) */
    problem(c, f, -1, "does not load, for a reason check cannot tell");
}

/*
 * Finds and loads the newest manifest. 0, QR_ENOTFOUND (no index at all),
 * QR_ECORRUPT (reported), or a fatal error.
 */
static int load_manifest(checker *c, qr_manifest *m)
{
    char **names;
    size_t n;
    int rc = qr_dir_list(c->dir, &names, &n);
    if (rc)
        return rc;
    uint64_t newest = 0, gen;
    bool found = false;
    size_t seg_files = 0;
    for (size_t i = 0; i < n; i++) {
        if (manifest_gen(names[i], &gen) && (!found || gen > newest)) {
            newest = gen;
            found = true;
        }
        seg_files += !strncmp(names[i], "seg-", 4);
    }
    qr_dir_list_free(names, n);
    if (!found) {
        if (!seg_files)
            return QR_ENOTFOUND;
        problem(c, MANIFEST_PREFIX "*", -1,
                "no manifest, but %zu segment files: the index has lost its manifest", seg_files);
        return QR_ECORRUPT;
    }
    qr_manifest_file_name(c->manifest, newest);
    c->st.generation = newest;

    qr_mapping *map;
    qr_slice img, body;
    rc = map_named(c, c->manifest, &map, &img);
    if (rc)
        return rc == QR_ENOTFOUND ? QR_ECORRUPT : rc;
    bool framed = check_frame(c, c->manifest, "manifest", img, QR_MANIFEST_MAGIC, &body);
    rc = QR_ECORRUPT;
    if (framed) {
        rc = qr_manifest_load_gen(m, c->dir, newest);
        if (rc == QR_EVERSION || rc == QR_ECORRUPT) {
            if (rc == QR_EVERSION)
                codec_refused(c, c->manifest, "manifest", img, rc);
            else
                diagnose_manifest(c, body, newest);
            rc = QR_ECORRUPT;
        } else if (rc == QR_ENOTFOUND) {
            problem(c, c->manifest, -1, "vanished while being checked (a writer committed?)");
            rc = QR_ECORRUPT;
        }
    }
    qr_mapping_close(map);
    return rc;
}

/* ---- segments ---- */

typedef struct segcheck {
    const qr_manifest_seg *ms; /* the manifest's record */
    uint32_t index;            /* its place in the manifest */
    char names[QR_SEG_FILE_COUNT][32];
    qr_mapping *maps[QR_SEG_FILE_COUNT];
    qr_slice img[QR_SEG_FILE_COUNT];  /* whole files */
    qr_slice body[QR_SEG_FILE_COUNT]; /* their bodies */
    bool ok[QR_SEG_FILE_COUNT];       /* frame sound and (tdi, sto, dmt) the codec opened it */
    qr_termdict *td;
    qr_doctable *dt;
    qr_docstore *st;
    qr_deletes del;     /* the deletion bitmap (empty when none) */
    bool del_ok;        /* del holds the segment's deletions */
    uint32_t ndocs;     /* doc ids must stay below this */
    uint64_t problems0; /* c->st.problems when the segment's check began */
} segcheck;

static void seg_release(segcheck *s, bool keep_table)
{
    qr_termdict_close(s->td);
    s->td = NULL;
    qr_docstore_close(s->st);
    s->st = NULL;
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        if (keep_table && k == QR_SEG_DMT)
            continue;
        qr_mapping_close(s->maps[k]);
        s->maps[k] = NULL;
    }
    if (!keep_table) {
        qr_doctable_close(s->dt);
        s->dt = NULL;
        qr_deletes_free(&s->del);
    }
}

static void open_files(checker *c, segcheck *s, size_t lang_len)
{
    uint64_t id = s->ms->id;
    for (int k = 0; k < QR_SEG_FILE_COUNT && !c->fatal; k++) {
        qr_seg_file_name(s->names[k], id, (qr_seg_file)k);
        if (map_named(c, s->names[k], &s->maps[k], &s->img[k]))
            continue;
        if (!check_frame(c, s->names[k], seg_kind[k], s->img[k], seg_magic[k], &s->body[k]))
            continue;
        int rc = 0;
        if (k == QR_SEG_TDI)
            rc = qr_termdict_open(&s->td, s->img[k], false);
        else if (k == QR_SEG_STO)
            rc = qr_docstore_open(&s->st, s->img[k], false);
        else if (k == QR_SEG_DMT)
            rc = qr_doctable_open(&s->dt, s->img[k], false);
        if (rc)
            codec_refused(c, s->names[k], seg_kind[k], s->img[k], rc);
        s->ok[k] = rc == 0;
    }
    if (c->fatal)
        return;

    /* document counts: table, store and manifest */
    const char *mf = c->manifest;
    uint32_t docs = s->ms->docs;
    if (s->dt && qr_doctable_count(s->dt) != docs)
        problem(c, s->names[QR_SEG_DMT], QR_FILE_HEADER_SIZE,
                "holds %" PRIu32 " documents, but %s says %" PRIu32, qr_doctable_count(s->dt), mf,
                docs);
    if (s->st && qr_docstore_count(s->st) != docs)
        problem(c, s->names[QR_SEG_STO],
                (int64_t)(s->img[QR_SEG_STO].n - QR_FILE_FOOTER_SIZE - STO_TRAILER),
                "holds %" PRIu32 " documents, but %s says %" PRIu32, qr_docstore_count(s->st), mf,
                docs);
    s->ndocs = s->dt ? qr_doctable_count(s->dt) : s->st ? qr_docstore_count(s->st) : docs;

    /* deletions */
    s->del_ok = s->ms->del_gen == 0;
    qr_deletes_init(&s->del, docs);
    if (s->ms->del_gen) {
        char name[48];
        qr_deletes_file_name(name, id, s->ms->del_gen);
        qr_mapping *map;
        qr_slice img, body;
        if (map_named(c, name, &map, &img))
            return;
        if (check_frame(c, name, "deletion bitmap", img, QR_DELETES_MAGIC, &body)) {
            int rc = qr_deletes_read(&s->del, c->dir, id, s->ms->del_gen, docs);
            if (rc == QR_ECORRUPT && body.n >= 4 && qr_load_u32(body.p) != docs)
                problem(c, name, QR_FILE_HEADER_SIZE,
                        "covers %" PRIu32 " documents, but %s says the segment has %" PRIu32,
                        qr_load_u32(body.p), mf, docs);
            else if (rc == QR_ECORRUPT)
                problem(c, name, QR_FILE_HEADER_SIZE + 4,
                        "its count disagrees with its bits, or bits are set past the last "
                        "document");
            else if (rc == QR_EVERSION)
                codec_refused(c, name, "deletion bitmap", img, rc);
            else if (rc)
                set_fatal(c, rc);
            s->del_ok = rc == 0;
            if (!s->del_ok)
                qr_deletes_init(&s->del, docs);
        }
        qr_mapping_close(map);
        if (s->del_ok && s->del.count != s->ms->deleted)
            problem(c, mf, seg_field(lang_len, s->index, 12),
                    "segment %016" PRIx64 ": %" PRIu32 " deleted documents, but %s marks %" PRIu32,
                    id, s->ms->deleted, name, s->del.count);
    } /* (deletions without a deletion file: the manifest does not load) */

    /* the live length */
    if (s->dt && s->del_ok && qr_doctable_count(s->dt) == docs) {
        uint64_t live = 0;
        for (uint32_t d = 0; d < docs; d++)
            if (!qr_deletes_has(&s->del, d))
                live += qr_doctable_positions(s->dt, d);
        if (live != s->ms->live_positions)
            problem(c, mf, seg_field(lang_len, s->index, 24),
                    "segment %016" PRIx64 ": live length %" PRIu64
                    ", but its live documents' lengths sum to %" PRIu64,
                    id, s->ms->live_positions, live);
    }
}

/*
 * Walks one term's postings: decoding, doc ids, positions against the
 * documents' lengths, df and ttf against the entry. *pos_end receives where
 * its positions end in the position stream (false when unknown).
 */
static bool check_postings(checker *c, segcheck *s, const char *t, const qr_term_meta *m,
                           int64_t entry, uint64_t *pos_end)
{
    const char *docf = s->names[QR_SEG_DOC], *posf = s->names[QR_SEG_POS];
    int64_t doc_at = QR_FILE_HEADER_SIZE + (int64_t)m->doc_off;
    int64_t pos_at = QR_FILE_HEADER_SIZE + (int64_t)m->pos_off;
    qr_slice docs = s->body[QR_SEG_DOC], pos = s->body[QR_SEG_POS];
    if (m->df == 0 || m->df > s->ndocs) {
        problem(c, s->names[QR_SEG_TDI], entry,
                "term %s: df %" PRIu32 ", but the segment has %" PRIu32 " documents", t, m->df,
                s->ndocs);
        return false;
    }
    qr_postings_iter it;
    bool clean = false;
    uint64_t count = 0, tfs = 0;
    *pos_end = 0;
    if (qr_postings_iter_init(&it, docs, pos, m)) {
        problem(c, docf, doc_at, "term %s: its postings do not decode", t);
        goto out;
    }
    char path[QUOTED_MAX];
    while (it.doc != QR_DOC_END) {
        uint32_t d = it.doc;
        if (d >= s->ndocs) {
            problem(c, docf, doc_at,
                    "term %s: posting %" PRIu64 " names document %" PRIu32
                    ", but the segment has %" PRIu32,
                    t, count + 1, d, s->ndocs);
            goto out;
        }
        uint32_t tf = qr_postings_freq(&it); /* a full block's tfs decode lazily */
        const uint32_t *p;
        uint32_t np;
        bool freq_bad = it.err != 0;
        int rc = freq_bad ? it.err : qr_postings_positions(&it, &p, &np);
        if (rc == QR_ENOMEM) {
            set_fatal(c, rc);
            goto out;
        }
        if (rc) {
            problem(c, freq_bad ? docf : posf, freq_bad ? doc_at : pos_at,
                    "term %s: the %s of document %" PRIu32 " do not decode", t,
                    freq_bad ? "frequencies" : "positions", d);
            goto out;
        }
        /* positions never decrease: they are stored as non-negative deltas (postings.c) */
        uint32_t dl = s->dt ? qr_doctable_positions(s->dt, d) : UINT32_MAX;
        for (uint32_t i = 0; i < np; i++) {
            if (p[i] >= dl) { /* without a document table: a position no length allows */
                qr_slice ps = s->dt ? qr_doctable_path(s->dt, d) : (qr_slice){NULL, 0};
                problem(c, posf, pos_at,
                        "term %s: position %" PRIu32 " in document %" PRIu32
                        " (%s), whose length is %" PRIu32,
                        t, p[i], d, quote(path, ps.p, ps.n), dl);
                goto out;
            }
        }
        count++;
        tfs += tf;
        c->st.positions += np;
        if (qr_postings_next(&it)) {
            problem(c, docf, doc_at,
                    "term %s: its postings break off after document %" PRIu32 " (%" PRIu64
                    " of %" PRIu32 " read)",
                    t, d, count, m->df);
            goto out;
        }
    }
    clean = true;
    /* (the codec yields df documents by construction; this guards a change of it) */
    if (count != m->df)
        problem(c, s->names[QR_SEG_TDI], entry,
                "term %s: df %" PRIu32 ", but its postings (%s@%" PRId64 ") list %" PRIu64
                " documents",
                t, m->df, docf, doc_at, count);
    if (tfs != m->ttf)
        problem(c, s->names[QR_SEG_TDI], entry,
                "term %s: ttf %" PRIu64 ", but its postings' frequencies sum to %" PRIu64, t,
                m->ttf, tfs);
    /* where its positions end (past the stream when they do not fit) */
    *pos_end = qr_postings_pos_end(pos, m->pos_off, m->df, tfs);
out:
    c->st.postings += count;
    qr_postings_iter_free(&it);
    return clean;
}

/* Byte length of a block's first dictionary entry (meta_abs: four varints). */
static size_t meta_abs_len(const qr_term_meta *m)
{
    return qr_varint_len(m->df) + qr_varint_len(m->ttf - m->df) + qr_varint_len(m->doc_off) +
           qr_varint_len(m->pos_off);
}

static void walk_terms(checker *c, segcheck *s)
{
    const char *tdi = s->names[QR_SEG_TDI], *posf = s->names[QR_SEG_POS];
    const uint8_t *base = s->img[QR_SEG_TDI].p;
    bool postings = s->ok[QR_SEG_DOC] && s->ok[QR_SEG_POS];
    qr_termdict_iter it;
    qr_termdict_iter_init(&it, s->td, "", 0);
    uint64_t n = 0, sum_df = 0, sum_ttf = 0, block = UINT64_MAX;
    const uint8_t *prev_end = NULL;
    qr_term_meta prev = {0};
    uint64_t pos_end = 0; /* where the previous term's positions end */
    bool pos_end_known = false;
    char t[QUOTED_MAX], pt[QUOTED_MAX] = "";
    for (;;) {
        qr_slice term;
        qr_term_meta m;
        int r = qr_termdict_next(&it, &term, &m);
        if (r < 0) {
            problem(c, tdi, (int64_t)(it.cur.p - base), "the entry after %s does not decode",
                    n ? pt : "the start");
            return;
        }
        if (r == 0)
            break;
        int64_t entry = it.block != block ? (int64_t)(it.cur.p - base - meta_abs_len(&m))
                                          : (int64_t)(prev_end - base);
        block = it.block;
        prev_end = it.cur.p;
        quote(t, term.p, term.n);
        n++;
        sum_df += m.df;
        sum_ttf += m.ttf;
        c->st.terms++;
        /* postings come term after term, each at least one byte of each stream */
        if (n == 1 && (m.doc_off || m.pos_off))
            problem(c, tdi, entry,
                    "first term %s: its postings start at %" PRIu64 " and %" PRIu64
                    ", not at the start of the streams",
                    t, m.doc_off, m.pos_off);
        else if (n > 1 && (m.doc_off <= prev.doc_off || m.pos_off <= prev.pos_off))
            problem(c, tdi, entry,
                    "term %s: its postings (%" PRIu64 ", %" PRIu64
                    ") do not follow those of term %s (%" PRIu64 ", %" PRIu64 ")",
                    t, m.doc_off, m.pos_off, pt, prev.doc_off, prev.pos_off);
        else if (pos_end_known && pos_end != m.pos_off)
            problem(c, posf, QR_FILE_HEADER_SIZE + (int64_t)prev.pos_off,
                    "term %s: its postings hold positions up to %" PRIu64
                    ", but the next term's start at %" PRIu64,
                    pt, pos_end, m.pos_off);
        pos_end_known = postings && check_postings(c, s, t, &m, entry, &pos_end);
        if (c->fatal)
            return;
        prev = m;
        memcpy(pt, t, sizeof pt);
    }
    if (pos_end_known && pos_end != s->body[QR_SEG_POS].n)
        problem(c, posf, QR_FILE_HEADER_SIZE + (int64_t)prev.pos_off,
                "last term %s: its postings hold positions up to %" PRIu64
                ", but the stream goes on to %zu",
                pt, pos_end, s->body[QR_SEG_POS].n);
    /* the totals (the walk itself holds the term count to the trailer's: block sizes) */
    const qr_termdict *d = s->td;
    if (n != qr_termdict_count(d) || sum_df != qr_termdict_sum_df(d) ||
        sum_ttf != qr_termdict_sum_ttf(d))
        problem(c, tdi, (int64_t)(s->img[QR_SEG_TDI].n - QR_FILE_FOOTER_SIZE - TDI_TRAILER),
                "its trailer counts %" PRIu64 " terms, df summing to %" PRIu64
                " and ttf to %" PRIu64 ", but its terms are %" PRIu64 ", %" PRIu64 " and %" PRIu64,
                qr_termdict_count(d), qr_termdict_sum_df(d), qr_termdict_sum_ttf(d), n, sum_df,
                sum_ttf);
}

/* File offset of the zstd frame of the block holding doc (the store opened: its index holds). */
static int64_t store_block_offset(qr_slice img, uint32_t doc)
{
    qr_slice body = {img.p + QR_FILE_HEADER_SIZE,
                     img.n - QR_FILE_HEADER_SIZE - QR_FILE_FOOTER_SIZE};
    const uint8_t *tr = body.p + body.n - STO_TRAILER;
    uint32_t nblocks = qr_load_u32(tr + 4);
    uint64_t frames_len = qr_load_u64(tr + 8);
    const uint8_t *blocks = body.p + frames_len;
    uint64_t comp = 0;
    for (uint32_t b = 0; b < nblocks && qr_load_u32(blocks + (size_t)b * STO_BLOCK_ENTRY) <= doc;
         b++)
        comp = qr_load_u64(blocks + (size_t)b * STO_BLOCK_ENTRY + 4);
    return QR_FILE_HEADER_SIZE + (int64_t)comp;
}

static void fetch_docs(checker *c, segcheck *s)
{
    uint32_t n = qr_docstore_count(s->st);
    char path[QUOTED_MAX] = "";
    for (uint32_t d = 0; d < n; d++) {
        qr_slice title, body;
        int rc = qr_docstore_get(s->st, d, &title, &body);
        if (rc == QR_ENOMEM) {
            set_fatal(c, rc);
            return;
        }
        if (rc) {
            if (s->dt && d < qr_doctable_count(s->dt)) {
                qr_slice p = qr_doctable_path(s->dt, d);
                quote(path, p.p, p.n);
            }
            problem(c, s->names[QR_SEG_STO], store_block_offset(s->img[QR_SEG_STO], d),
                    "document %" PRIu32 " %s does not decompress or decode", d, path);
        }
    }
}

static void check_segment(checker *c, segcheck *s, size_t lang_len)
{
    s->problems0 = c->st.problems;
    open_files(c, s, lang_len);
    if (!c->fatal && s->td)
        walk_terms(c, s);
    if (!c->fatal && s->st)
        fetch_docs(c, s);
    if (c->fatal || c->st.problems != s->problems0)
        return;
    /* everything holds on its own: the segment must open as a search opens it */
    qr_segment *seg;
    int rc = qr_segment_open(&seg, c->dir, s->ms->id, true);
    if (rc == QR_ENOMEM || rc == QR_EIO)
        set_fatal(c, rc);
    else if (rc)
        problem(c, s->names[QR_SEG_TDI], -1, "segment %016" PRIx64 " does not open: %s", s->ms->id,
                qr_strerror(rc));
    qr_segment_close(seg);
}

/* ---- across segments ---- */

typedef struct live_doc {
    const uint8_t *p; /* its path, inside the mapped table */
    uint32_t n;
    uint32_t seg; /* index into the segcheck array */
    uint32_t doc;
} live_doc;

static int cmp_live(const void *a, const void *b)
{
    const live_doc *x = a, *y = b;
    size_t n = x->n < y->n ? x->n : y->n;
    int r = n ? memcmp(x->p, y->p, n) : 0;
    if (r)
        return r;
    if (x->n != y->n)
        return x->n < y->n ? -1 : 1;
    return x->seg < y->seg ? -1 : x->seg > y->seg;
}

/* Segments whose live documents are known: table, bitmap and manifest agree on the count. */
static bool live_known(const segcheck *s)
{
    return s->dt && s->del_ok && qr_doctable_count(s->dt) == s->ms->docs;
}

/* A path may be a live document of one segment only. */
static void check_duplicates(checker *c, segcheck *segs, uint32_t nsegs)
{
    size_t n = 0;
    for (uint32_t i = 0; i < nsegs; i++)
        if (live_known(&segs[i]))
            n += qr_doctable_count(segs[i].dt) - segs[i].del.count;
    if (n < 2)
        return;
    live_doc *all = qr_calloc(n, sizeof *all);
    if (!all) {
        set_fatal(c, QR_ENOMEM);
        return;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < nsegs; i++) {
        if (!live_known(&segs[i]))
            continue;
        for (uint32_t d = 0; d < qr_doctable_count(segs[i].dt) && k < n; d++) {
            if (qr_deletes_has(&segs[i].del, d))
                continue;
            qr_slice p = qr_doctable_path(segs[i].dt, d);
            all[k++] = (live_doc){p.p, (uint32_t)p.n, i, d};
        }
    }
    qsort(all, k, sizeof *all, cmp_live);
    char q[QUOTED_MAX];
    for (size_t i = 1; i < k; i++) {
        const live_doc *a = &all[i - 1], *b = &all[i];
        if (a->n != b->n || (a->n && memcmp(a->p, b->p, a->n)))
            continue;
        const segcheck *sb = &segs[b->seg];
        problem(c, sb->names[QR_SEG_DMT], (int64_t)(b->p - sb->img[QR_SEG_DMT].p),
                "document %s is live here (document %" PRIu32 ") and in %s (document %" PRIu32
                "): indexed twice",
                quote(q, b->p, b->n), b->doc, segs[a->seg].names[QR_SEG_DMT], a->doc);
    }
    qr_free(all);
}

/* Warns about every file the manifest does not name (LOCK and *.tmp aside). */
static void check_orphans(checker *c, const qr_manifest *m)
{
    char **names;
    size_t n;
    int rc = qr_dir_list(c->dir, &names, &n);
    if (rc) {
        set_fatal(c, rc);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i];
        if (!strcmp(name, QR_LOCK_FILE) || has_suffix(name, ".tmp") || named(c, m, name))
            continue;
        warning(c, name, "orphan file, removed by the next `quarry index`");
    }
    qr_dir_list_free(names, n);
}

static bool known_language(const char *lang)
{
    for (const char **l = qr_analyzer_languages(); *l; l++)
        if (!strcmp(*l, lang))
            return true;
    return false;
}

/* Checks the newest generation once; problems are held in c. */
static int check_once(checker *cp)
{
    checker c = *cp;
    qr_manifest m = {0};
    segcheck *segs = NULL;
    int rc = load_manifest(&c, &m);
    if (rc)
        goto out;
    size_t lang_len = strlen(m.language);
    c.st.segments = m.nsegs;
    c.st.live_docs = qr_manifest_live_docs(&m);
    for (uint32_t i = 0; i < m.nsegs; i++)
        c.st.docs += m.segs[i].docs;
    if (!known_language(m.language))
        problem(&c, c.manifest, QR_FILE_HEADER_SIZE + 17,
                "language '%s' is not one this build's analyzer knows", m.language);
    if (m.nsegs) {
        segs = qr_calloc(m.nsegs, sizeof *segs);
        if (!segs) {
            rc = QR_ENOMEM;
            goto out;
        }
    }
    for (uint32_t i = 0; i < m.nsegs && !c.fatal; i++) {
        segs[i].ms = &m.segs[i];
        segs[i].index = i;
        check_segment(&c, &segs[i], lang_len);
        seg_release(&segs[i], true);
    }
    if (!c.fatal)
        check_duplicates(&c, segs, m.nsegs);
    if (!c.fatal)
        check_orphans(&c, &m);
    rc = c.fatal ? c.fatal : c.st.problems ? QR_ECORRUPT : 0;
out:
    if (rc == QR_ECORRUPT || rc == 0)
        report_hidden(&c);
    for (uint32_t i = 0; segs && i < m.nsegs; i++)
        seg_release(&segs[i], false);
    qr_free(segs);
    qr_manifest_free(&m);
    qr_free(c.counts);
    c.counts = NULL;
    c.ncounts = c.capcounts = 0;
    *cp = c;
    return rc;
}

/* True when a manifest newer than generation gen is in the directory now. */
static bool superseded(qr_dir *dir, uint64_t gen)
{
    char **names;
    size_t n;
    if (qr_dir_list(dir, &names, &n))
        return false;
    bool newer = false;
    uint64_t g;
    for (size_t i = 0; i < n; i++)
        newer = newer || (manifest_gen(names[i], &g) && g > gen);
    qr_dir_list_free(names, n);
    return newer;
}

/*
 * A writer may commit while the check runs and collect the files of the
 * generation being checked: what then looks missing or unopenable is not
 * damage. Problems are held until the check ends; when a newer manifest
 * has appeared meanwhile, they are dropped and the newest generation is
 * checked again (a writer committing without pause can make that happen
 * every time: after QR_CHECK_RETRIES, the last check's problems stand).
 */
int qr_check(qr_dir *dir, qr_check_fn fn, void *ctx, qr_check_stats *out)
{
    checker c = {.dir = dir, .fn = fn, .ctx = ctx};
    int rc;
    for (int attempt = 0;; attempt++) {
        c.st = (qr_check_stats){0};
        c.fatal = 0;
        rc = check_once(&c);
        bool doubtful = rc && rc != QR_ENOMEM && c.st.generation;
        if (!doubtful || c.hold_failed || attempt == QR_CHECK_RETRIES ||
            !superseded(dir, c.st.generation))
            break;
        held_done(&c, false);
    }
    held_done(&c, true);
    if (out)
        *out = c.st;
    return rc;
}
