/*
 * The indexer (see indexer.h): one run = diff, threaded analysis and
 * inversion, flushes, merges, deletions, one commit.
 *
 * The run's work list holds only the documents that must be read: new
 * files, and files whose size or mtime differs from the indexed document of
 * the same path. Worker threads take batches of up to BATCH consecutive
 * items with an atomic counter (so each thread's documents come in path
 * order, as a segment requires), read and hash each file, drop those whose
 * hash equals the indexed one, and analyse the rest into their own postings
 * builder while the segment writer receives the document's stored fields.
 * A worker flushes when its bytes (see worker_bytes) reach its share of the
 * RAM budget (less what the run's lists hold: run_budget), then lets the
 * merge policy merge the run's new segments while the other workers go
 * on. The run ends when the last worker's last flush does, so the end of
 * the list is shared out to finish the workers together (claim): batches
 * shrink there, and a worker whose builder holds much more than another's
 * (its flush will take that much longer) leaves the last few items to the
 * others. At the end the main thread marks the deletions, applies the
 * merge policy over the whole index, writes the deletion files and commits
 * one manifest. Anything that fails removes the files the run wrote; the
 * previous commit stays intact.
 */
#include "index/indexer.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "index/analyzer.h"
#include "index/merger.h"
#include "index/postings_builder.h"
#include "storage/alloc.h"
#include "storage/docstore.h"
#include "storage/manifest.h"
#include "storage/status.h"

#define BATCH         16         /* consecutive work items a worker takes at once, at most */
/*
 * FLUSH_SHARE = NUM / DEN: a flush costs about a quarter of the time it took
 * to analyse the text in the builder (bbc, two threads: 21-33 ms of flush
 * after 80-110 ms of analysis). Used by leave_rest; a lower share leaves
 * the rest less readily.
 */
#define FLUSH_SHARE_NUM 1u
#define FLUSH_SHARE_DEN 4u
#define FILE_BUF_KEEP (1u << 20) /* a worker's file buffer is kept up to this size */

/* A segment of the last commit. */
struct oldseg {
    qr_manifest_seg m;          /* as committed */
    qr_segment *seg;            /* open reader */
    qr_deletes del;             /* committed deletions plus this run's */
    uint32_t run_deleted;       /* deletions added by the current run */
    uint64_t run_del_positions; /* their document lengths */
    bool dropped;               /* merged away or emptied by the current run */
};

struct qr_indexer {
    qr_dir *dir;          /* not owned */
    qr_lock *lock;        /* the writer lock, held until close */
    qr_index_options opt; /* defaults filled in */
    char language[32];    /* the index's language */
    bool exists;          /* a manifest was committed */
    bool stale;           /* a run committed: reload before the next one */
    qr_manifest man;      /* the last commit (zeroed when !exists) */
    struct oldseg *old;   /* its segments, man.nsegs of them */
    size_t nold;
    bool have_self; /* dev/ino of the index directory are known */
    dev_t self_dev;
    ino_t self_ino;
    char err[512]; /* last failure */
};

/* ---- errors ---- */

static void set_err(qr_indexer *ix, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_err(qr_indexer *ix, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ix->err, sizeof ix->err, fmt, ap);
    va_end(ap);
}

const char *qr_indexer_error(const qr_indexer *ix)
{
    return ix->err;
}

const char *qr_indexer_language(const qr_indexer *ix)
{
    return ix->language;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- title and body ---- */

static bool ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

void qr_split_title(qr_slice *out_title, qr_slice *out_body, const char *text, size_t len)
{
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - text) : len;
        size_t s = i, f = e;
        while (s < f && ascii_space(text[s]))
            s++;
        while (f > s && ascii_space(text[f - 1]))
            f--;
        if (s < f) {
            out_title->p = (const uint8_t *)text + s;
            out_title->n = f - s;
            out_body->p = (const uint8_t *)text + (e < len ? e + 1 : len);
            out_body->n = e < len ? len - e - 1 : 0;
            return;
        }
        i = e + 1;
    }
    out_title->p = out_body->p = (const uint8_t *)text + len;
    out_title->n = out_body->n = 0;
}

/* ---- loading the last commit ---- */

static void unload(qr_indexer *ix)
{
    for (size_t i = 0; i < ix->nold; i++) {
        qr_segment_close(ix->old[i].seg);
        qr_deletes_free(&ix->old[i].del);
    }
    qr_free(ix->old);
    ix->old = NULL;
    ix->nold = 0;
    qr_manifest_free(&ix->man);
    memset(&ix->man, 0, sizeof ix->man);
    ix->exists = false;
}

static int load(qr_indexer *ix)
{
    char name[64];
    int rc = qr_manifest_load(&ix->man, ix->dir);
    if (rc == QR_ENOTFOUND) {
        memset(&ix->man, 0, sizeof ix->man);
        return QR_OK;
    }
    if (rc) {
        memset(&ix->man, 0, sizeof ix->man);
        set_err(ix, "cannot read the index manifest: %s", qr_strerror(rc));
        return rc;
    }
    ix->exists = true;
    if (ix->man.nsegs) {
        ix->old = qr_calloc(ix->man.nsegs, sizeof *ix->old);
        if (!ix->old) {
            rc = QR_ENOMEM;
            goto fail;
        }
    }
    for (uint32_t i = 0; i < ix->man.nsegs; i++) {
        struct oldseg *o = &ix->old[i];
        o->m = ix->man.segs[i];
        ix->nold = i + 1;
        if ((rc = qr_segment_open(&o->seg, ix->dir, o->m.id, false))) {
            if (rc == QR_ENOTFOUND)
                rc = QR_ECORRUPT; /* the manifest names a missing file */
            set_err(ix, "cannot open segment %016llx: %s", (unsigned long long)o->m.id,
                    qr_strerror(rc));
            goto fail;
        }
        if (qr_segment_docs(o->seg) != o->m.docs) {
            rc = QR_ECORRUPT;
            set_err(ix, "segment %016llx holds %u documents, the manifest says %u",
                    (unsigned long long)o->m.id, qr_segment_docs(o->seg), o->m.docs);
            goto fail;
        }
        if (o->m.del_gen)
            rc = qr_deletes_read(&o->del, ix->dir, o->m.id, o->m.del_gen, o->m.docs);
        else
            rc = qr_deletes_init(&o->del, o->m.docs);
        if (rc) {
            qr_deletes_file_name(name, o->m.id, o->m.del_gen);
            set_err(ix, "cannot read %s: %s", name, qr_strerror(rc));
            goto fail;
        }
    }
    return QR_OK;
fail:
    if (!ix->err[0])
        set_err(ix, "cannot load the index: %s", qr_strerror(rc));
    unload(ix);
    return rc;
}

/* Reloads the last commit if this indexer committed since it loaded. */
static int ensure_loaded(qr_indexer *ix)
{
    if (!ix->stale)
        return QR_OK;
    int rc = load(ix);
    if (!rc)
        ix->stale = false;
    return rc;
}

/* True when every name in dir is one quarry may have written. */
static int looks_like_index(qr_dir *dir, bool *out)
{
    char **names;
    size_t n;
    int rc = qr_dir_list(dir, &names, &n);
    if (rc)
        return rc;
    *out = true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], QR_LOCK_FILE) && strncmp(names[i], "MANIFEST-", 9) &&
            strncmp(names[i], "seg-", 4))
            *out = false;
    qr_dir_list_free(names, n);
    return QR_OK;
}

/*
 * Removes the segment and temporary manifest files of a first run that died
 * before its commit: no manifest names them, and the next run would meet
 * them when it creates its own segment 1. A failure leaves them for the
 * run to report.
 */
static void remove_uncommitted(qr_dir *dir)
{
    char **names;
    size_t n;
    if (qr_dir_list(dir, &names, &n))
        return;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (!strncmp(names[i], "seg-", 4) ||
            (!strncmp(names[i], "MANIFEST-", 9) && len > 4 && !strcmp(names[i] + len - 4, ".tmp")))
            (void)qr_dir_remove(dir, names[i]);
    }
    qr_dir_list_free(names, n);
}

int qr_indexer_open(qr_indexer **out, qr_dir *dir, const qr_index_options *opt, char *err,
                    size_t errlen)
{
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    qr_indexer *ix = qr_calloc(1, sizeof *ix);
    if (!ix)
        return QR_ENOMEM;
    ix->dir = dir;
    if (opt)
        ix->opt = *opt;
    if (!ix->opt.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        ix->opt.threads = n > 0 ? (unsigned)n : 1;
    }
    if (ix->opt.threads > 256)
        ix->opt.threads = 256;
    if (!ix->opt.ram_bytes)
        ix->opt.ram_bytes = QR_DEFAULT_RAM;
    if (!ix->opt.max_file_size)
        ix->opt.max_file_size = QR_DEFAULT_MAX_FILE;
    /* A document is one docstore record: larger files are skipped as too large. */
    if (ix->opt.max_file_size > QR_STORE_MAX_RAW - 64)
        ix->opt.max_file_size = QR_STORE_MAX_RAW - 64;
    if (!ix->opt.merge_factor)
        ix->opt.merge_factor = QR_MERGE_FACTOR;
    if (!ix->opt.progress_ms)
        ix->opt.progress_ms = 200;
    ix->opt.language = NULL; /* checked below; not kept (the caller's string) */

    long pid = 0;
    int rc = qr_dir_lock(dir, QR_LOCK_FILE, &ix->lock, &pid);
    if (rc == QR_ELOCKED) {
        if (pid > 0)
            set_err(ix, "index is being written by pid %ld", pid);
        else
            set_err(ix, "index is being written by another process");
        goto fail;
    }
    if (rc) {
        set_err(ix, "cannot lock the index: %s", qr_strerror(rc));
        goto fail;
    }
    if ((rc = load(ix)))
        goto fail;
    /*
     * Files a crashed or failed writer left behind (and old generations a
     * failed clean-up kept) go now, under the lock; a failure here only
     * leaves them for later.
     */
    if (ix->exists)
        qr_manifest_gc(dir, &ix->man);
    const char *want = opt ? opt->language : NULL;
    if (!ix->exists) {
        bool ok;
        if ((rc = looks_like_index(dir, &ok))) {
            set_err(ix, "cannot list the index directory: %s", qr_strerror(rc));
            goto fail;
        }
        if (!ok) {
            rc = QR_ECORRUPT;
            set_err(ix, "%s is not a quarry index (it holds other files)", qr_dir_path(dir));
            goto fail;
        }
        remove_uncommitted(dir);
        if (!want)
            want = QR_DEFAULT_LANGUAGE;
    } else if (!want) {
        want = ix->man.language;
    } else if (strcmp(want, ix->man.language)) {
        rc = QR_EINVAL;
        set_err(ix, "the index was created with language '%s'; it cannot be indexed as '%s'",
                ix->man.language, want);
        goto fail;
    }
    qr_analyzer *a = NULL;
    rc = qr_analyzer_open(&a, want);
    qr_analyzer_close(a);
    if (rc) {
        set_err(ix, rc == QR_EINVAL ? "unknown language '%s'" : "cannot open analyzer '%s'", want);
        goto fail;
    }
    snprintf(ix->language, sizeof ix->language, "%s", want);

    struct stat st;
    if (strcmp(qr_dir_path(dir), "(memory)") && stat(qr_dir_path(dir), &st) == 0) {
        ix->have_self = true;
        ix->self_dev = st.st_dev;
        ix->self_ino = st.st_ino;
    }
    *out = ix;
    return QR_OK;
fail:
    if (err && errlen)
        snprintf(err, errlen, "%s", ix->err);
    qr_indexer_close(ix);
    return rc;
}

void qr_indexer_close(qr_indexer *ix)
{
    if (!ix)
        return;
    unload(ix);
    qr_dir_unlock(ix->lock);
    qr_free(ix);
}

void qr_index_result_free(qr_index_result *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nskips; i++)
        qr_free(r->skips[i].path);
    qr_free(r->skips);
    r->skips = NULL;
    r->nskips = 0;
}

/* ---- the run ---- */

enum { ST_PENDING, ST_ADDED, ST_REPLACED, ST_UNCHANGED, ST_SKIPPED };

/* One document to read (and maybe index). */
struct item {
    const char *path;         /* document path */
    const qr_walk_file *file; /* from the walk, or NULL for an in-memory doc */
    const char *text;         /* in-memory doc: its text */
    size_t len;               /* in-memory doc: its length; a file: its walked size (0 when
                                 unknown, then its read size once read) */
    int32_t old_seg;          /* index in ix->old of the indexed version, or -1 */
    uint32_t old_doc;         /* its doc id there */
    uint64_t old_hash;        /* its content hash */
    uint8_t status;           /* ST_* */
    int8_t skip;              /* qr_skip_reason when ST_SKIPPED */
};

/* A segment written by this run and not yet committed. */
struct fresh {
    qr_segment_info info;
    bool busy; /* being merged by a worker */
};

struct worker;

struct run {
    qr_indexer *ix;
    const qr_walk *walk; /* NULL for in-memory docs */
    struct item *items;
    size_t nitems;
    uint64_t bytes_total; /* bytes of the items (of those whose size the walk knows) */
    size_t unsized;       /* items whose size the walk does not know (QR_WALK_NO_STAT) */
    uint64_t budget;      /* the RAM budget less what the run's lists hold (run_budget) */
    size_t limit;         /* flush threshold per worker, bytes: budget / workers */
    uint64_t first_id;    /* the run's first segment id */
    _Atomic uint64_t next_id;
    _Atomic size_t next_item;  /* the first item no worker has claimed */
    _Atomic unsigned claiming; /* workers that have not left the list early (claim) */
    struct worker *workers;    /* nworkers of them */
    unsigned nworkers;
    _Atomic uint64_t files_done;
    _Atomic uint64_t bytes_done;
    _Atomic uint64_t raw_bytes;
    _Atomic int failed;
    pthread_mutex_t mu; /* guards what follows */
    pthread_cond_t cv;  /* signalled when a worker ends */
    unsigned running;   /* workers still running */
    struct fresh *fresh;
    size_t nfresh;
    size_t fresh_cap;
    uint64_t flushes;
    uint64_t merges;
    int rc; /* the first error */
};

static void run_fail(struct run *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void run_fail(struct run *r, int rc, const char *fmt, ...)
{
    pthread_mutex_lock(&r->mu);
    if (!r->rc) {
        r->rc = rc;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->ix->err, sizeof r->ix->err, fmt, ap);
        va_end(ap);
    }
    atomic_store(&r->failed, 1);
    pthread_mutex_unlock(&r->mu);
}

/* Removes every file of segment id; missing files are fine. */
static void remove_segment(qr_dir *dir, uint64_t id)
{
    char name[64];
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        qr_seg_file_name(name, id, (qr_seg_file)k);
        if (qr_dir_exists(dir, name))
            qr_dir_remove(dir, name);
    }
}

static int add_fresh(struct run *r, const qr_segment_info *info)
{
    if (r->nfresh == r->fresh_cap) {
        size_t cap = r->fresh_cap ? 2 * r->fresh_cap : 16;
        struct fresh *nf = qr_reallocarray(r->fresh, cap, sizeof *nf);
        if (!nf)
            return QR_ENOMEM;
        r->fresh = nf;
        r->fresh_cap = cap;
    }
    r->fresh[r->nfresh].info = *info;
    r->fresh[r->nfresh].busy = false;
    r->nfresh++;
    return QR_OK;
}

/* Drops the fresh entries whose ids are in ids[0..n). */
static void drop_fresh(struct run *r, const uint64_t *ids, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < r->nfresh; i++) {
        bool gone = false;
        for (size_t j = 0; j < n; j++)
            if (r->fresh[i].info.id == ids[j])
                gone = true;
        if (!gone)
            r->fresh[k++] = r->fresh[i];
    }
    r->nfresh = k;
}

/*
 * Merges the fresh segments ids[0..n) into a new one (their files removed).
 * *out->docs is 0 when they held nothing live (impossible for fresh ones).
 */
static int merge_fresh_group(struct run *r, const uint64_t *ids, size_t n, qr_segment_info *out)
{
    qr_dir *dir = r->ix->dir;
    int rc = QR_OK;
    qr_segment **segs = qr_calloc(n, sizeof *segs);
    qr_merge_src *src = qr_calloc(n, sizeof *src);
    if (!segs || !src) {
        rc = QR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = qr_segment_open_once(&segs[i], dir, ids[i])))
            goto out;
        src[i].seg = segs[i];
        src[i].del = NULL;
    }
    uint64_t id = atomic_fetch_add(&r->next_id, 1);
    rc = qr_merge_segments(out, dir, id, src, n);
out:
    if (segs)
        for (size_t i = 0; i < n; i++)
            qr_segment_close(segs[i]);
    if (!rc)
        for (size_t i = 0; i < n; i++)
            remove_segment(dir, ids[i]);
    qr_free(segs);
    qr_free(src);
    return rc;
}

/* After a flush: merge the run's new segments while the policy asks for it. */
static int merge_fresh(struct run *r)
{
    qr_merge_cand cand[QR_MERGE_MAX_GROUP * 4];
    size_t map[QR_MERGE_MAX_GROUP * 4];
    size_t pick[QR_MERGE_MAX_GROUP];
    uint64_t ids[QR_MERGE_MAX_GROUP];
    for (;;) {
        size_t n = 0, k;
        pthread_mutex_lock(&r->mu);
        for (size_t i = 0; i < r->nfresh && n < sizeof cand / sizeof cand[0]; i++) {
            if (r->fresh[i].busy)
                continue;
            cand[n].docs = r->fresh[i].info.docs;
            cand[n].deleted = 0;
            cand[n].cost = qr_merge_cost(r->fresh[i].info.bytes);
            map[n++] = i;
        }
        /* The merging worker's builder is empty: its share of the budget is free. */
        k = qr_merge_pick(pick, cand, n, r->ix->opt.merge_factor, r->limit);
        for (size_t j = 0; j < k; j++) {
            r->fresh[map[pick[j]]].busy = true;
            ids[j] = r->fresh[map[pick[j]]].info.id;
        }
        pthread_mutex_unlock(&r->mu);
        if (!k)
            return QR_OK;
        qr_segment_info info;
        int rc = merge_fresh_group(r, ids, k, &info);
        pthread_mutex_lock(&r->mu);
        if (!rc) {
            drop_fresh(r, ids, k);
            r->merges++;
            if (info.docs)
                rc = add_fresh(r, &info);
        }
        pthread_mutex_unlock(&r->mu);
        if (rc) {
            run_fail(r, rc, "cannot merge new segments: %s", qr_strerror(rc));
            return rc;
        }
    }
}

/* A worker thread: one analyzer, one builder, one segment writer at a time. */
struct worker {
    struct run *run;
    qr_analyzer *an;
    qr_postings_builder *pb;
    qr_segment_writer *sw; /* open while the builder holds documents */
    uint64_t sw_id;
    size_t sw_bytes;  /* what the segment writer holds: table rows and paths */
    unsigned sw_docs; /* documents given to the segment writer */
    qr_buf file;      /* the file being indexed */
    qr_buf fspath;    /* its path */
    pthread_t tid;
    /*
     * What claim() weighs, read by the other workers: the bytes of text in
     * the builder (what its next flush costs), and whether the worker takes
     * items now (not while it flushes or merges, nor once it left the list).
     */
    _Atomic uint64_t text_bytes;
    _Atomic bool taking;
};

/*
 * The memory a worker's flush will peak at, estimated from what it holds:
 * the builder, plus what the flush adds while the builder is still held:
 * the sorted term list (24 bytes a term, against the table's 43 or more a
 * term and the arena's postings) and the new segment's term dictionary
 * (a few bytes a term), both under a third of the builder; the segment
 * writer's per-document rows (sw_bytes: the stored text is not held, it
 * goes out a compressed block at a time); the file buffer. The writer's
 * stream buffers (about 4 x QR_SEG_FLUSH_BYTES) and the analyzer's cache
 * (analyzer.c, at most 48 MiB) do not grow with the budget: they are part
 * of the fixed overhead per thread. Measured on the Wikipedia sample and a
 * synthetic corpus (README "Memory"), the peak RSS of a run stays within
 * the budget plus that overhead with these factors.
 */
static size_t worker_bytes(const struct worker *w)
{
    size_t pb = qr_pbuilder_bytes(w->pb);
    return pb + pb / 3 + w->sw_bytes + w->file.cap;
}

/* What the segment writer keeps of a document until its flush: its table row and path. */
static size_t stored_bytes(size_t path)
{
    return path + 48;
}

static int flush_worker(struct worker *w)
{
    struct run *r = w->run;
    if (!w->sw)
        return QR_OK;
    qr_segment_info info;
    int rc = qr_pbuilder_write_segment(w->pb, w->sw);
    if (rc) {
        qr_segment_writer_abort(w->sw);
        w->sw = NULL;
    } else {
        rc = qr_segment_writer_finish(w->sw, &info);
        w->sw = NULL;
    }
    qr_pbuilder_reset(w->pb);
    atomic_store(&w->text_bytes, 0);
    w->sw_bytes = 0;
    w->sw_docs = 0;
    if (rc) {
        run_fail(r, rc, "cannot write segment %016llx: %s", (unsigned long long)w->sw_id,
                 qr_strerror(rc));
        return rc;
    }
    pthread_mutex_lock(&r->mu);
    rc = add_fresh(r, &info);
    r->flushes++;
    pthread_mutex_unlock(&r->mu);
    if (rc) {
        remove_segment(r->ix->dir, info.id);
        run_fail(r, rc, "out of memory");
        return rc;
    }
    return merge_fresh(r);
}

static int on_token(void *ctx, const qr_token *t)
{
    return qr_pbuilder_add(ctx, t->term, t->len, t->pos);
}

static int index_doc(struct worker *w, const char *path, const char *text, size_t len,
                     uint64_t size, int64_t mtime_ns, uint64_t hash)
{
    struct run *r = w->run;
    int rc;
    if (!w->sw) {
        w->sw_id = atomic_fetch_add(&r->next_id, 1);
        if ((rc = qr_segment_writer_open(&w->sw, r->ix->dir, w->sw_id))) {
            w->sw = NULL;
            run_fail(r, rc, "cannot start segment %016llx: %s", (unsigned long long)w->sw_id,
                     qr_strerror(rc));
            return rc;
        }
    }
    if ((rc = qr_pbuilder_begin_doc(w->pb, NULL)))
        goto fail;
    qr_slice title, body;
    qr_split_title(&title, &body, text, len);
    uint32_t tp = 0, bp = 0;
    if ((rc = qr_analyze(w->an, (const char *)title.p, title.n, 0, 0, on_token, w->pb, &tp)) ||
        (rc = qr_analyze(w->an, (const char *)body.p, body.n, tp, 0, on_token, w->pb, &bp)) ||
        (rc = qr_pbuilder_end_doc(w->pb)))
        goto fail;
    if (bp > UINT32_MAX - tp) {
        rc = QR_ETOOBIG;
        goto fail;
    }
    size_t path_len = strlen(path);
    qr_doc_in in = {
        .path = path,
        .path_len = path_len,
        .title = (const char *)title.p,
        .title_len = title.n,
        .body = (const char *)body.p,
        .body_len = body.n,
        .positions = tp + bp,
        .title_positions = tp,
        .size = size,
        .mtime_ns = mtime_ns,
        .hash = hash,
    };
    if ((rc = qr_segment_writer_add_doc(w->sw, &in)))
        goto fail;
    atomic_store(&w->text_bytes, atomic_load(&w->text_bytes) + len);
    w->sw_bytes += stored_bytes(path_len);
    w->sw_docs++;
    unsigned every = r->ix->opt.flush_docs;
    if (worker_bytes(w) >= r->limit || (every && w->sw_docs >= every)) {
        atomic_store(&w->taking, false);
        rc = flush_worker(w);
        atomic_store(&w->taking, true);
        return rc;
    }
    return QR_OK;
fail:
    run_fail(r, rc, "cannot index %s: %s", path, qr_strerror(rc));
    return rc;
}

static int process(struct worker *w, struct item *it)
{
    struct run *r = w->run;
    const char *text;
    size_t len;
    uint64_t size;
    int64_t mtime = 0;
    if (it->file) {
        int skip, rc;
        if ((rc = qr_walk_fs_path(&w->fspath, r->walk, it->file)) ||
            (rc = qr_walk_read_walked(&w->file, &size, &mtime, &skip, (const char *)w->fspath.p,
                                      it->file, r->ix->opt.max_file_size))) {
            run_fail(r, rc, "cannot read %s: %s", it->path, qr_strerror(rc));
            return rc;
        }
        if (skip >= 0) {
            it->status = ST_SKIPPED;
            it->skip = (int8_t)skip;
            return QR_OK;
        }
        text = (const char *)w->file.p;
        len = w->file.n;
        if (it->file->size == QR_WALK_SIZE_UNKNOWN)
            it->len = len; /* for the progress line */
    } else {
        text = it->text;
        len = it->len;
        size = len;
    }
    atomic_fetch_add(&r->raw_bytes, len);
    uint64_t hash = XXH3_64bits(text, len);
    if (it->old_seg >= 0 && hash == it->old_hash) {
        it->status = ST_UNCHANGED;
        return QR_OK;
    }
    it->status = it->old_seg >= 0 ? ST_REPLACED : ST_ADDED;
    return index_doc(w, it->path, text, len, size, mtime, hash);
}

/*
 * True when worker w should leave the rest of the list, `left` items, to
 * the others. The run ends with the last flush; a worker that stopped now
 * would flush its text_bytes, while the least loaded worker still taking
 * items could analyse and flush the rest after its own. With a flush
 * costing FLUSH_SHARE of the analysis of the same text, leaving the rest
 * ends the run no later when FLUSH_SHARE x (mine - least) >= (1 +
 * FLUSH_SHARE) x rest, the rest's bytes estimated from the files done so
 * far. A worker that is flushing or merging takes nothing meanwhile and
 * does not count, and the last worker taking items never leaves.
 */
static bool leave_rest(struct worker *w, size_t left)
{
    struct run *r = w->run;
    uint64_t done = atomic_load(&r->files_done), raw = atomic_load(&r->raw_bytes);
    if (r->nworkers < 2 || !done)
        return false;
    uint64_t mine = atomic_load(&w->text_bytes), least = UINT64_MAX;
    for (unsigned i = 0; i < r->nworkers; i++) {
        struct worker *o = &r->workers[i];
        uint64_t t = atomic_load(&o->text_bytes);
        if (o != w && atomic_load(&o->taking) && t < least)
            least = t;
    }
    if (least >= mine)
        return false;
    double rest = (double)raw / (double)done * (double)left;
    if ((double)FLUSH_SHARE_NUM * (double)(mine - least) <
        (double)(FLUSH_SHARE_NUM + FLUSH_SHARE_DEN) * rest)
        return false;
    /* Leave, unless the others left meanwhile: someone must take the rest. */
    unsigned n = atomic_load(&r->claiming);
    while (n > 1)
        if (atomic_compare_exchange_weak(&r->claiming, &n, n - 1)) {
            atomic_store(&w->taking, false);
            return true;
        }
    return false;
}

/*
 * Claims the next items [*lo, *hi) for worker w; false when the list is
 * done for it. Batches shrink to a quarter of each worker's share of what
 * is left, so that the workers run out of items at about the same time.
 */
static bool claim(struct worker *w, size_t *lo, size_t *hi)
{
    struct run *r = w->run;
    size_t next = atomic_load(&r->next_item);
    for (;;) {
        if (next >= r->nitems || atomic_load(&r->failed))
            return false;
        size_t left = r->nitems - next, take = left / (4 * (size_t)r->nworkers);
        take = take > BATCH ? BATCH : take ? take : 1;
        if (left <= 4 * (size_t)r->nworkers * BATCH && leave_rest(w, left))
            return false;
        if (atomic_compare_exchange_weak(&r->next_item, &next, next + take)) {
            *lo = next;
            *hi = next + take;
            return true;
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct run *r = w->run;
    size_t lo, hi;
    while (claim(w, &lo, &hi)) {
        for (size_t i = lo; i < hi && !atomic_load(&r->failed); i++) {
            if (process(w, &r->items[i]))
                break;
            /* A large file's buffer is not kept: it would count against the budget. */
            if (w->file.cap > FILE_BUF_KEEP)
                qr_buf_free(&w->file);
            atomic_fetch_add(&r->files_done, 1);
            atomic_fetch_add(&r->bytes_done, r->items[i].len);
        }
    }
    atomic_store(&w->taking, false);
    if (!atomic_load(&r->failed))
        flush_worker(w);
    if (w->sw) {
        qr_segment_writer_abort(w->sw);
        w->sw = NULL;
    }
    /*
     * The worker's tables go now, on its own thread and while the others
     * may still run, rather than one worker after another on the main
     * thread once the last one is done (worker_free then finds them gone).
     */
    qr_analyzer_close(w->an);
    w->an = NULL;
    qr_pbuilder_close(w->pb);
    w->pb = NULL;
    qr_buf_free(&w->file);
    qr_buf_free(&w->fspath);
    pthread_mutex_lock(&r->mu);
    r->running--;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void worker_free(struct worker *w)
{
    qr_segment_writer_abort(w->sw);
    qr_analyzer_close(w->an);
    qr_pbuilder_close(w->pb);
    qr_buf_free(&w->file);
    qr_buf_free(&w->fspath);
}

static void report_progress(struct run *r, double t0)
{
    qr_index_options *o = &r->ix->opt;
    if (!o->progress)
        return;
    qr_index_progress p = {
        .files_done = atomic_load(&r->files_done),
        .files_total = r->nitems,
        .bytes_done = atomic_load(&r->bytes_done),
        .bytes_total = r->bytes_total,
        .seconds = now_s() - t0,
    };
    /* Files the walk did not stat: the total is extrapolated from the files done so far
     * (exact once every file is done). */
    if (r->unsized && p.files_done == p.files_total)
        p.bytes_total = p.bytes_done;
    else if (r->unsized && p.files_done)
        p.bytes_total =
            (uint64_t)((double)p.bytes_done * (double)p.files_total / (double)p.files_done);
    if (p.bytes_total < p.bytes_done)
        p.bytes_total = p.bytes_done;
    o->progress(o->progress_ctx, &p);
}

/*
 * The part of the RAM budget left to workers and merges: the budget less
 * what the run holds for its whole length, and which grows with the number
 * of files rather than with the budget: the work list (56 bytes an item)
 * and the walk's file list and paths (32 bytes a file and the path): about
 * 120 bytes a file, so 120 MB of the default 256 MB for a million files.
 * The lists may take up to three quarters of the budget; beyond that
 * (about 1.6 M files at the default budget) the run exceeds it.
 */
static uint64_t run_budget(const struct run *r)
{
    uint64_t ram = r->ix->opt.ram_bytes, lists = (uint64_t)r->nitems * sizeof *r->items;
    const qr_walk *w = r->walk;
    if (w)
        lists += (uint64_t)w->files_cap * sizeof *w->files + (uint64_t)w->nchunks * w->chunk_size +
                 (uint64_t)w->chunks_cap * sizeof(char *);
    return lists < ram - ram / 4 ? ram - lists : ram / 4;
}

/* Runs the workers over r->items; returns the first error. */
static int run_workers(struct run *r, double t0)
{
    qr_indexer *ix = r->ix;
    size_t nbatches = (r->nitems + BATCH - 1) / BATCH;
    unsigned n = ix->opt.threads;
    if (n > nbatches)
        n = (unsigned)nbatches;
    if (!n)
        return QR_OK;
    r->limit = (size_t)(r->budget / n);
    struct worker *ws = qr_calloc(n, sizeof *ws);
    if (!ws) {
        set_err(ix, "out of memory");
        return QR_ENOMEM;
    }
    int rc = QR_OK;
    unsigned started = 0;
    for (unsigned i = 0; i < n; i++) {
        ws[i].run = r;
        if ((rc = qr_analyzer_open(&ws[i].an, ix->language)) ||
            (rc = qr_pbuilder_open(&ws[i].pb))) {
            set_err(ix, "cannot start a worker: %s", qr_strerror(rc));
            goto out;
        }
    }
    r->running = n;
    r->workers = ws;
    r->nworkers = n;
    atomic_store(&r->claiming, n);
    for (unsigned i = 0; i < n; i++)
        atomic_store(&ws[i].taking, true);
    for (unsigned i = 0; i < n; i++) {
        if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
            pthread_mutex_lock(&r->mu);
            r->running -= n - i;
            pthread_mutex_unlock(&r->mu);
            run_fail(r, QR_ENOMEM, "cannot start a thread");
            break;
        }
        started++;
    }
    pthread_mutex_lock(&r->mu);
    while (r->running) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ix->opt.progress_ms * 1000000u;
        ts.tv_sec += (time_t)(ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
        if (r->running) {
            pthread_mutex_unlock(&r->mu);
            report_progress(r, t0);
            pthread_mutex_lock(&r->mu);
        }
    }
    pthread_mutex_unlock(&r->mu);
    for (unsigned i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    report_progress(r, t0);
    rc = r->rc;
out:
    for (unsigned i = 0; i < n; i++)
        worker_free(&ws[i]);
    qr_free(ws);
    return rc;
}

/* The live indexed version of path: 0 and its location, or QR_ENOTFOUND. */
static int find_old(const qr_indexer *ix, const char *path, size_t len, int32_t *out_seg,
                    uint32_t *out_doc)
{
    for (size_t i = 0; i < ix->nold; i++) {
        uint32_t doc;
        const qr_doctable *t = qr_segment_doctable(ix->old[i].seg);
        if (qr_doctable_find(t, path, len, &doc) == QR_OK &&
            !qr_deletes_has(&ix->old[i].del, doc)) {
            *out_seg = (int32_t)i;
            *out_doc = doc;
            return QR_OK;
        }
    }
    return QR_ENOTFOUND;
}

static int delete_old(qr_indexer *ix, int32_t seg, uint32_t doc)
{
    struct oldseg *o = &ix->old[seg];
    if (qr_deletes_has(&o->del, doc))
        return QR_OK;
    int rc = qr_deletes_add(&o->del, doc);
    if (rc)
        return rc;
    o->run_deleted++;
    o->run_del_positions += qr_doctable_positions(qr_segment_doctable(o->seg), doc);
    return QR_OK;
}

/* A segment of the index as the final merge policy sees it. */
struct cand {
    bool fresh;           /* written by this run */
    size_t old;           /* index in ix->old when !fresh */
    qr_segment_info info; /* when fresh */
    uint32_t docs, deleted;
    uint64_t cost; /* memory a merge of it needs */
    bool gone;     /* merged away */
};

static int cmp_ids(const void *a, const void *b)
{
    uint64_t x = ((const qr_manifest_seg *)a)->id, y = ((const qr_manifest_seg *)b)->id;
    return (x > y) - (x < y);
}

static int cmp_skips(const void *a, const void *b)
{
    return strcmp(((const qr_index_skip *)a)->path, ((const qr_index_skip *)b)->path);
}

/* Sum of the sizes of every file of the index but the lock. */
static uint64_t index_size(qr_dir *dir)
{
    char **names;
    size_t n;
    uint64_t total = 0;
    if (qr_dir_list(dir, &names, &n))
        return 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t s;
        if (strcmp(names[i], QR_LOCK_FILE) && !qr_dir_size(dir, names[i], &s))
            total += s;
    }
    qr_dir_list_free(names, n);
    return total;
}

/*
 * The final merge policy over every segment (old ones with their deletions),
 * then the deletion files and the commit. cands is owned by the caller.
 */
static int finish_run(struct run *r, struct cand **pc, size_t *pn, qr_index_result *res)
{
    qr_indexer *ix = r->ix;
    qr_dir *dir = ix->dir;
    int rc = QR_OK;
    struct cand *c = *pc;
    size_t n = *pn;
    qr_merge_cand *mc = qr_calloc(n + 1, sizeof *mc);
    qr_merge_src *src = qr_calloc(n + 1, sizeof *src);
    qr_segment **opened = qr_calloc(n + 1, sizeof *opened);
    size_t pick[QR_MERGE_MAX_GROUP];
    qr_manifest m = {0};
    char name[64];
    uint64_t gen = ix->exists ? ix->man.generation + 1 : 1;
    if (!mc || !src || !opened) {
        rc = QR_ENOMEM;
        set_err(ix, "out of memory");
        goto out;
    }
    for (;;) {
        /* Segments with nothing live go without a merge. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (c[i].docs == c[i].deleted) {
                if (c[i].fresh)
                    remove_segment(dir, c[i].info.id);
                else
                    ix->old[c[i].old].dropped = true;
                continue;
            }
            c[k++] = c[i];
        }
        n = k;
        for (size_t i = 0; i < n; i++) {
            mc[i].docs = c[i].docs;
            mc[i].deleted = c[i].deleted;
            mc[i].cost = c[i].cost;
        }
        /* The workers are done: the whole budget (less the run's lists) is free. */
        size_t g = qr_merge_pick(pick, mc, n, ix->opt.merge_factor, r->budget);
        if (!g)
            break;
        /* Sources are opened with their checksums verified: never copy corruption. */
        for (size_t j = 0; j < g; j++) {
            struct cand *x = &c[pick[j]];
            uint64_t sid = x->fresh ? x->info.id : ix->old[x->old].m.id;
            if ((rc = qr_segment_open_once(&opened[j], dir, sid))) {
                set_err(ix, "cannot read segment %016llx to merge it: %s", (unsigned long long)sid,
                        qr_strerror(rc));
                goto out;
            }
            src[j].seg = opened[j];
            src[j].del = x->fresh ? NULL : &ix->old[x->old].del;
        }
        uint64_t id = atomic_fetch_add(&r->next_id, 1);
        qr_segment_info info;
        rc = qr_merge_segments(&info, dir, id, src, g);
        for (size_t j = 0; j < g; j++) {
            qr_segment_close(opened[j]);
            opened[j] = NULL;
        }
        if (rc) {
            set_err(ix, "cannot merge segments: %s", qr_strerror(rc));
            goto out;
        }
        r->merges++;
        /* Replace the group by the merged segment (if anything was live). */
        for (size_t j = 0; j < g; j++) {
            struct cand *x = &c[pick[j]];
            if (x->fresh)
                remove_segment(dir, x->info.id);
            else
                ix->old[x->old].dropped = true;
            x->gone = true;
        }
        k = 0;
        for (size_t i = 0; i < n; i++)
            if (!c[i].gone)
                c[k++] = c[i];
        n = k;
        if (info.docs) {
            struct cand merged = {
                .fresh = true, .info = info, .docs = info.docs, .cost = qr_merge_cost(info.bytes)};
            c[n++] = merged; /* room: the group freed at least one entry */
        }
    }

    /* Deletion files, then the manifest. */
    m.generation = gen;
    m.next_id = atomic_load(&r->next_id);
    snprintf(m.language, sizeof m.language, "%s", ix->language);
    m.segs = qr_calloc(n + 1, sizeof *m.segs);
    if (!m.segs) {
        rc = QR_ENOMEM;
        set_err(ix, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        qr_manifest_seg *s = &m.segs[m.nsegs++];
        if (c[i].fresh) {
            s->id = c[i].info.id;
            s->docs = c[i].info.docs;
            s->deleted = 0;
            s->del_gen = 0;
            s->live_positions = c[i].info.total_positions;
            continue;
        }
        struct oldseg *o = &ix->old[c[i].old];
        *s = o->m;
        if (o->run_deleted) {
            if ((rc = qr_deletes_write(dir, o->m.id, gen, &o->del))) {
                qr_deletes_file_name(name, o->m.id, gen);
                set_err(ix, "cannot write %s: %s", name, qr_strerror(rc));
                goto out;
            }
            s->del_gen = gen;
            s->deleted = o->del.count;
            s->live_positions = o->m.live_positions - o->run_del_positions;
        }
    }
    qsort(m.segs, m.nsegs, sizeof *m.segs, cmp_ids);
    if ((rc = qr_manifest_commit(dir, &m))) {
        set_err(ix, "cannot commit the index: %s", qr_strerror(rc));
        goto out;
    }
    res->committed = true;
    res->generation = gen;
    res->segments = m.nsegs;
    res->docs = qr_manifest_live_docs(&m);
    /* The commit is durable; a failed clean-up only leaves garbage for the next writer. */
    qr_manifest_gc(dir, &m);
out:
    if (rc) {
        /* Remove what this run wrote; the previous commit stays. */
        for (size_t i = 0; i < n; i++)
            if (!c[i].fresh && ix->old[c[i].old].run_deleted) {
                qr_deletes_file_name(name, ix->old[c[i].old].m.id, gen);
                if (qr_dir_exists(dir, name))
                    qr_dir_remove(dir, name);
            }
    }
    qr_free(m.segs);
    qr_free(mc);
    qr_free(src);
    if (opened)
        for (size_t j = 0; j <= n; j++)
            qr_segment_close(opened[j]);
    qr_free(opened);
    *pc = c;
    *pn = n;
    return rc;
}

static int cmp_items(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->path, ((const struct item *)b)->path);
}

static int add_skip(qr_index_result *res, size_t *cap, const char *path, qr_skip_reason why)
{
    if (res->nskips == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        qr_index_skip *ns = qr_reallocarray(res->skips, nc, sizeof *ns);
        if (!ns)
            return QR_ENOMEM;
        res->skips = ns;
        *cap = nc;
    }
    char *p = qr_strdup(path);
    if (!p)
        return QR_ENOMEM;
    res->skips[res->nskips].path = p;
    res->skips[res->nskips].reason = why;
    res->nskips++;
    res->skipped[why]++;
    return QR_OK;
}

/*
 * The common body of run and add_docs: walk (or NULL) gives the files, docs
 * the in-memory documents.
 */
static int do_run(qr_indexer *ix, const qr_walk *walk, const qr_mem_doc *docs, size_t ndocs,
                  qr_index_result *res)
{
    double t0 = now_s();
    int rc = ensure_loaded(ix);
    if (rc)
        return rc;
    size_t skips_cap = 0;
    struct cand *cands = NULL;
    size_t ncands = 0;
    struct run r = {.ix = ix, .walk = walk};
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    r.first_id = ix->exists ? ix->man.next_id : 1;
    atomic_store(&r.next_id, r.first_id);
    for (size_t i = 0; i < ix->nold; i++) {
        ix->old[i].run_deleted = 0;
        ix->old[i].run_del_positions = 0;
        ix->old[i].dropped = false;
    }

    /* 1. The work list: what must be read. */
    size_t total = walk ? walk->nfiles : ndocs;
    r.items = qr_calloc(total ? total : 1, sizeof *r.items);
    if (!r.items) {
        rc = QR_ENOMEM;
        set_err(ix, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < total; i++) {
        struct item it = {.old_seg = -1};
        if (walk) {
            it.file = &walk->files[i];
            it.path = it.file->path;
            it.len = it.file->size == QR_WALK_SIZE_UNKNOWN ? 0 : (size_t)it.file->size;
        } else {
            it.path = docs[i].path;
            it.text = docs[i].text;
            it.len = docs[i].len;
            if (!it.path || !it.path[0] || strlen(it.path) > 4096 || (!it.text && it.len)) {
                rc = QR_EINVAL;
                set_err(ix, "document %zu has no path, a path over 4096 bytes, or no text", i);
                goto out;
            }
        }
        uint32_t doc;
        if (find_old(ix, it.path, strlen(it.path), &it.old_seg, &doc) == QR_OK) {
            qr_doc_meta meta;
            qr_doctable_meta(qr_segment_doctable(ix->old[it.old_seg].seg), doc, &meta);
            it.old_doc = doc;
            it.old_hash = meta.hash;
            if (walk && meta.size == it.file->size && meta.mtime_ns == it.file->mtime_ns) {
                res->unchanged++;
                continue;
            }
        }
        r.items[r.nitems++] = it;
        r.bytes_total += it.len;
        if (walk && it.file->size == QR_WALK_SIZE_UNKNOWN)
            r.unsized++;
    }
    if (!walk && r.nitems > 1) {
        qsort(r.items, r.nitems, sizeof *r.items, cmp_items);
        for (size_t i = 1; i < r.nitems; i++)
            if (!strcmp(r.items[i - 1].path, r.items[i].path)) {
                rc = QR_EINVAL;
                set_err(ix, "two documents have the path %s", r.items[i].path);
                goto out;
            }
    }

    /* 2. Removed: indexed under a walked root, no longer found below it. */
    if (walk) {
        for (size_t i = 0; i < ix->nold; i++) {
            const qr_doctable *t = qr_segment_doctable(ix->old[i].seg);
            uint32_t count = qr_doctable_count(t);
            for (uint32_t d = 0; d < count; d++) {
                if (qr_deletes_has(&ix->old[i].del, d))
                    continue;
                qr_slice p = qr_doctable_path(t, d);
                bool under = false;
                for (size_t k = 0; k < walk->nroots && !under; k++) {
                    size_t bl = strlen(walk->bases[k]);
                    under = p.n > bl && p.p[bl] == '/' && !memcmp(p.p, walk->bases[k], bl);
                }
                if (!under || qr_walk_find(walk, (const char *)p.p, p.n))
                    continue;
                if ((rc = delete_old(ix, (int32_t)i, d))) {
                    set_err(ix, "out of memory");
                    goto out;
                }
                res->removed++;
            }
        }
    }

    /* 3. Read, analyse, flush, merge. */
    r.budget = run_budget(&r);
    if ((rc = run_workers(&r, t0)))
        goto out;

    /* 4. Tally; replaced and now-skipped documents leave their old version. */
    for (size_t i = 0; i < r.nitems; i++) {
        struct item *it = &r.items[i];
        bool drop_old = false;
        switch (it->status) {
        case ST_ADDED:
            res->added++;
            break;
        case ST_REPLACED:
            res->replaced++;
            drop_old = true;
            break;
        case ST_UNCHANGED:
            res->unchanged++;
            break;
        case ST_SKIPPED:
            if ((rc = add_skip(res, &skips_cap, it->path, (qr_skip_reason)it->skip))) {
                set_err(ix, "out of memory");
                goto out;
            }
            if (it->old_seg >= 0 && (it->skip == QR_SKIP_BINARY || it->skip == QR_SKIP_TOO_BIG ||
                                     it->skip == QR_SKIP_VANISHED)) {
                drop_old = true;
                res->removed++;
            }
            break;
        default:
            break;
        }
        if (drop_old && (rc = delete_old(ix, it->old_seg, it->old_doc))) {
            set_err(ix, "out of memory");
            goto out;
        }
    }
    if (walk)
        for (size_t i = 0; i < walk->nskips; i++)
            if ((rc = add_skip(res, &skips_cap, walk->skips[i].path, walk->skips[i].reason))) {
                set_err(ix, "out of memory");
                goto out;
            }
    if (res->nskips > 1)
        qsort(res->skips, res->nskips, sizeof *res->skips, cmp_skips);
    res->raw_bytes = atomic_load(&r.raw_bytes);
    res->flushes = r.flushes;

    /* 5. Nothing to commit? */
    if (ix->exists && !res->added && !res->replaced && !res->removed) {
        res->docs = qr_manifest_live_docs(&ix->man);
        res->segments = ix->man.nsegs;
        res->generation = ix->man.generation;
        res->merges = r.merges;
        goto out;
    }

    /* 6. Final merges and the commit. */
    cands = qr_calloc(ix->nold + r.nfresh + 1, sizeof *cands);
    if (!cands) {
        rc = QR_ENOMEM;
        set_err(ix, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ix->nold; i++) {
        struct cand *x = &cands[ncands++];
        x->old = i;
        x->docs = ix->old[i].m.docs;
        x->deleted = ix->old[i].del.count;
        qr_segment_info info;
        qr_segment_get_info(ix->old[i].seg, &info);
        x->cost = qr_merge_cost(info.bytes);
    }
    for (size_t i = 0; i < r.nfresh; i++) {
        struct cand *x = &cands[ncands++];
        x->fresh = true;
        x->info = r.fresh[i].info;
        x->docs = x->info.docs;
        x->cost = qr_merge_cost(x->info.bytes);
    }
    r.nfresh = 0; /* now owned by cands */
    rc = finish_run(&r, &cands, &ncands, res);
    res->merges = r.merges;
    if (rc)
        goto out;
    /* The next run reloads the new commit (a one-run process never pays for it). */
    unload(ix);
    ix->stale = true;
out:
    if (rc && !res->committed) {
        /* Every segment id this run handed out may have files: remove them. */
        uint64_t end = atomic_load(&r.next_id);
        for (uint64_t id = r.first_id; id < end; id++)
            remove_segment(ix->dir, id);
        /* The run marked deletions in the loaded commit: the next run reloads it. */
        unload(ix);
        ix->stale = true;
    }
    res->index_bytes = index_size(ix->dir);
    res->seconds = now_s() - t0;
    qr_free(cands);
    qr_free(r.items);
    qr_free(r.fresh);
    pthread_mutex_destroy(&r.mu);
    pthread_cond_destroy(&r.cv);
    return rc;
}

int qr_indexer_run(qr_indexer *ix, const char *const *dirs, size_t ndirs, qr_index_result *out)
{
    memset(out, 0, sizeof *out);
    ix->err[0] = 0;
    qr_walk walk;
    size_t bad = 0;
    /*
     * An index without segments has nothing to compare a file with: the walk
     * need not stat the regular files, and the workers' fstat of each open
     * file takes its place, on the indexing threads rather than before them.
     * (A load failure here is do_run's to report.)
     */
    unsigned flags = ensure_loaded(ix) == QR_OK && ix->nold == 0 ? QR_WALK_NO_STAT : 0;
    int rc = qr_walk_run_flags(&walk, dirs, ndirs, ix->opt.max_file_size,
                               ix->have_self ? ix->self_dev : 0, ix->have_self ? ix->self_ino : 0,
                               flags, &bad);
    if (rc) {
        if (rc == QR_ENOTFOUND)
            set_err(ix, "%s: no such directory", dirs[bad]);
        else if (rc == QR_EINVAL)
            set_err(ix, "%s: not a directory, or its base name is used by another argument",
                    dirs[bad]);
        else
            set_err(ix, "%s: %s", dirs[bad], qr_strerror(rc));
        return rc;
    }
    rc = do_run(ix, &walk, NULL, 0, out);
    qr_walk_free(&walk);
    return rc;
}

int qr_indexer_add_docs(qr_indexer *ix, const qr_mem_doc *docs, size_t n, qr_index_result *out)
{
    memset(out, 0, sizeof *out);
    ix->err[0] = 0;
    return do_run(ix, NULL, docs, n, out);
}

int qr_indexer_merge_all(qr_indexer *ix, qr_index_result *out)
{
    memset(out, 0, sizeof *out);
    ix->err[0] = 0;
    double t0 = now_s();
    qr_merge_src *src = NULL;
    size_t nsrc = 0;
    qr_manifest m = {0};
    int rc = ensure_loaded(ix);
    if (rc)
        goto out;
    if (!ix->nold || (ix->nold == 1 && !ix->old[0].m.deleted)) {
        out->docs = qr_manifest_live_docs(&ix->man);
        out->segments = ix->nold;
        out->generation = ix->man.generation;
        goto out;
    }
    src = qr_calloc(ix->nold, sizeof *src);
    nsrc = src ? ix->nold : 0;
    m.segs = qr_calloc(1, sizeof *m.segs);
    if (!src || !m.segs) {
        rc = QR_ENOMEM;
        set_err(ix, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < ix->nold; i++) {
        qr_segment *seg;
        if ((rc = qr_segment_open_once(&seg, ix->dir, ix->old[i].m.id))) {
            set_err(ix, "cannot read segment %016llx to merge it: %s",
                    (unsigned long long)ix->old[i].m.id, qr_strerror(rc));
            goto out;
        }
        src[i].seg = seg;
        src[i].del = &ix->old[i].del;
    }
    uint64_t id = ix->man.next_id;
    qr_segment_info info;
    if ((rc = qr_merge_segments(&info, ix->dir, id, src, ix->nold))) {
        set_err(ix, "cannot merge segments: %s", qr_strerror(rc));
        goto out;
    }
    m.generation = ix->man.generation + 1;
    m.next_id = id + 1;
    snprintf(m.language, sizeof m.language, "%s", ix->language);
    if (info.docs) {
        m.nsegs = 1;
        m.segs[0].id = id;
        m.segs[0].docs = info.docs;
        m.segs[0].live_positions = info.total_positions;
    }
    if ((rc = qr_manifest_commit(ix->dir, &m))) {
        remove_segment(ix->dir, id);
        set_err(ix, "cannot commit the index: %s", qr_strerror(rc));
        goto out;
    }
    qr_manifest_gc(ix->dir, &m);
    out->committed = true;
    out->merges = 1;
    out->generation = m.generation;
    out->segments = m.nsegs;
    out->docs = info.docs;
    unload(ix);
    ix->stale = true;
out:
    out->index_bytes = index_size(ix->dir);
    out->seconds = now_s() - t0;
    if (src)
        for (size_t i = 0; i < nsrc; i++)
            qr_segment_close((qr_segment *)src[i].seg);
    qr_free(src);
    qr_free(m.segs);
    return rc;
}

int qr_index_build_docs(qr_dir *dir, const qr_index_options *opt, const qr_mem_doc *docs, size_t n)
{
    qr_indexer *ix;
    int rc = qr_indexer_open(&ix, dir, opt, NULL, 0);
    if (rc)
        return rc;
    qr_index_result res;
    rc = qr_indexer_add_docs(ix, docs, n, &res);
    qr_index_result_free(&res);
    qr_indexer_close(ix);
    return rc;
}
