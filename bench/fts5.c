/*
 * The SQLite FTS5 engine of the side-by-side benchmark (see fts5.h):
 * building a database from the same documents quarry indexes, and running
 * translated queries with an exact count and a top-k by bm25.
 *
 * Schema:
 *   docs(rowid INTEGER PRIMARY KEY, path TEXT, title TEXT)   stored fields
 *   fts USING fts5(title, body, content='',
 *                  tokenize='porter unicode61 remove_diacritics 2')
 * Rowids are 1, 2, ... in the byte order of paths (quarry's document order).
 */
#include "bench/fts5.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "index/indexer.h"
#include "index/walk.h"
#include "storage/alloc.h"
#include "storage/status.h"

bool qr_fts5_available(void)
{
    return true;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void msg(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void msg(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int exec(sqlite3 *db, const char *sql, char *err, size_t errlen)
{
    char *m = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &m) == SQLITE_OK)
        return 0;
    msg(err, errlen, "sqlite: %s: %s", sql, m ? m : sqlite3_errmsg(db));
    sqlite3_free(m);
    return QR_EIO;
}

int qr_fts5_build(qr_fts5_build_result *out, const char *db_path, const char *const *dirs,
                  size_t ndirs, uint64_t max_file_size, char *err, size_t errlen)
{
    qr_fts5_build_result res = {0};
    sqlite3 *db = NULL;
    sqlite3_stmt *ins_doc = NULL, *ins_fts = NULL;
    qr_walk walk = {0};
    qr_buf text = {0}, fs = {0};
    struct stat st;
    int rc;
    if (!max_file_size)
        max_file_size = QR_DEFAULT_MAX_FILE;
    double t0 = now_s();
    if (stat(db_path, &st) == 0) {
        msg(err, errlen, "%s already exists", db_path);
        rc = QR_EINVAL;
        goto out;
    }
    size_t bad = 0;
    if ((rc = qr_walk_run(&walk, dirs, ndirs, max_file_size, 0, 0, &bad))) {
        msg(err, errlen, "%s: %s", bad < ndirs ? dirs[bad] : "walk", qr_strerror(rc));
        goto out;
    }
    res.skipped = walk.nskips;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        msg(err, errlen, "%s: %s", db_path, db ? sqlite3_errmsg(db) : "cannot open");
        rc = QR_EIO;
        goto out;
    }
    if ((rc = exec(db, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;", err, errlen)) ||
        (rc = exec(db,
                   "CREATE TABLE docs(rowid INTEGER PRIMARY KEY, path TEXT NOT NULL, "
                   "title TEXT NOT NULL);"
                   "CREATE VIRTUAL TABLE fts USING fts5(title, body, content='', "
                   "tokenize='porter unicode61 remove_diacritics 2');"
                   "BEGIN;",
                   err, errlen)))
        goto out;
    if (sqlite3_prepare_v2(db, "INSERT INTO docs(rowid, path, title) VALUES (?, ?, ?)", -1,
                           &ins_doc, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)", -1, &ins_fts,
                           NULL) != SQLITE_OK) {
        msg(err, errlen, "sqlite: %s", sqlite3_errmsg(db));
        rc = QR_EIO;
        goto out;
    }
    for (size_t i = 0; i < walk.nfiles; i++) {
        const qr_walk_file *f = &walk.files[i];
        uint64_t size;
        int64_t mtime;
        int skip;
        qr_buf_reset(&fs);
        if ((rc = qr_walk_fs_path(&fs, &walk, f)) ||
            (rc = qr_walk_read_file(&text, &size, &mtime, &skip, (const char *)fs.p,
                                    max_file_size))) {
            msg(err, errlen, "%s: %s", f->path, qr_strerror(rc));
            goto out;
        }
        if (skip >= 0) {
            res.skipped++;
            continue;
        }
        qr_slice title, body;
        qr_split_title(&title, &body, (const char *)text.p, text.n);
        sqlite3_int64 rowid = (sqlite3_int64)++res.docs;
        sqlite3_bind_int64(ins_doc, 1, rowid);
        sqlite3_bind_text(ins_doc, 2, f->path, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins_doc, 3, (const char *)title.p, (int)title.n, SQLITE_STATIC);
        sqlite3_bind_int64(ins_fts, 1, rowid);
        sqlite3_bind_text(ins_fts, 2, (const char *)title.p, (int)title.n, SQLITE_STATIC);
        sqlite3_bind_text(ins_fts, 3, (const char *)body.p, (int)body.n, SQLITE_STATIC);
        if (sqlite3_step(ins_doc) != SQLITE_DONE || sqlite3_step(ins_fts) != SQLITE_DONE) {
            msg(err, errlen, "sqlite: inserting %s: %s", f->path, sqlite3_errmsg(db));
            rc = QR_EIO;
            goto out;
        }
        sqlite3_reset(ins_doc);
        sqlite3_reset(ins_fts);
        res.raw_bytes += text.n;
    }
    if ((rc = exec(db, "COMMIT;", err, errlen)))
        goto out;
    double t1 = now_s();
    if ((rc = exec(db, "INSERT INTO fts(fts) VALUES('optimize'); VACUUM;", err, errlen)))
        goto out;
    res.optimize_seconds = now_s() - t1;
out:
    sqlite3_finalize(ins_doc);
    sqlite3_finalize(ins_fts);
    if (db && sqlite3_close(db) != SQLITE_OK && !rc) {
        msg(err, errlen, "sqlite: closing %s", db_path);
        rc = QR_EIO;
    }
    qr_walk_free(&walk);
    qr_buf_free(&text);
    qr_buf_free(&fs);
    res.seconds = now_s() - t0;
    if (!rc && stat(db_path, &st) == 0)
        res.db_bytes = (uint64_t)st.st_size;
    if (out)
        *out = res;
    return rc;
}

/* A kept hit: higher score first, then lower rowid. */
typedef struct fhit {
    double score;
    sqlite3_int64 rowid;
} fhit;

struct qr_fts5 {
    sqlite3 *db;
    sqlite3_stmt *q;    /* SELECT rowid, bm25(fts) FROM fts WHERE fts MATCH ? */
    sqlite3_stmt *path; /* SELECT path FROM docs WHERE rowid = ? */
    uint64_t docs;
    fhit *heap;       /* heap of the k best: heap[0] is the worst kept */
    size_t n;         /* hits kept */
    size_t k;         /* hits wanted */
    size_t alloc;     /* entries allocated in heap and path_off */
    qr_buf paths;     /* the kept hits' paths, NUL-terminated, best first */
    size_t *path_off; /* offsets into paths */
    size_t npaths;
};

int qr_fts5_open(qr_fts5 **out, const char *db_path, char *err, size_t errlen)
{
    qr_fts5 *f = qr_calloc(1, sizeof *f);
    sqlite3_stmt *count = NULL;
    int rc = QR_EIO;
    struct stat st;
    *out = NULL;
    if (!f)
        return QR_ENOMEM;
    if (stat(db_path, &st) != 0) {
        msg(err, errlen, "%s: no such database", db_path);
        rc = QR_ENOTFOUND;
        goto fail;
    }
    if (sqlite3_open_v2(db_path, &f->db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto sqlerr;
    /* as ../shared/peers: reads from the page cache through mmap, a large page cache */
    if (exec(f->db, "PRAGMA mmap_size=4294967296; PRAGMA cache_size=-262144;", err, errlen))
        goto fail;
    if (sqlite3_prepare_v2(f->db, "SELECT count(*) FROM docs", -1, &count, NULL) != SQLITE_OK ||
        sqlite3_step(count) != SQLITE_ROW)
        goto sqlerr;
    f->docs = (uint64_t)sqlite3_column_int64(count, 0);
    if (sqlite3_prepare_v2(f->db, "SELECT rowid, bm25(fts) FROM fts WHERE fts MATCH ?", -1, &f->q,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(f->db, "SELECT path FROM docs WHERE rowid = ?", -1, &f->path, NULL) !=
            SQLITE_OK)
        goto sqlerr;
    sqlite3_finalize(count);
    *out = f;
    return 0;
sqlerr:
    msg(err, errlen, "%s: %s", db_path, f->db ? sqlite3_errmsg(f->db) : "cannot open");
    rc = QR_EIO;
fail:
    sqlite3_finalize(count);
    qr_fts5_close(f);
    return rc;
}

void qr_fts5_close(qr_fts5 *f)
{
    if (!f)
        return;
    sqlite3_finalize(f->q);
    sqlite3_finalize(f->path);
    sqlite3_close(f->db);
    qr_free(f->heap);
    qr_free(f->path_off);
    qr_buf_free(&f->paths);
    qr_free(f);
}

uint64_t qr_fts5_docs(const qr_fts5 *f)
{
    return f->docs;
}

/* a ranks before b */
static bool before(const fhit *a, const fhit *b)
{
    return a->score > b->score || (a->score == b->score && a->rowid < b->rowid);
}

static void sift_down(fhit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < n && before(&h[w], &h[l]))
            w = l;
        if (r < n && before(&h[w], &h[r]))
            w = r;
        if (w == i)
            return;
        fhit t = h[i];
        h[i] = h[w];
        h[w] = t;
        i = w;
    }
}

static void offer(qr_fts5 *f, fhit x)
{
    if (f->n < f->k) {
        size_t i = f->n++;
        f->heap[i] = x;
        while (i && before(&f->heap[(i - 1) / 2], &f->heap[i])) {
            fhit t = f->heap[i];
            f->heap[i] = f->heap[(i - 1) / 2];
            f->heap[(i - 1) / 2] = t;
            i = (i - 1) / 2;
        }
    } else if (f->k && before(&x, &f->heap[0])) {
        f->heap[0] = x;
        sift_down(f->heap, f->n, 0);
    }
}

int qr_fts5_query(qr_fts5 *f, const char *match, size_t k, uint64_t *out_total, char *err,
                  size_t errlen)
{
    uint64_t total = 0;
    f->n = 0;
    f->npaths = 0;
    qr_buf_reset(&f->paths);
    *out_total = 0;
    if (k > f->alloc) {
        fhit *h = qr_reallocarray(f->heap, k, sizeof *h);
        size_t *o = h ? qr_reallocarray(f->path_off, k, sizeof *o) : NULL;
        if (h)
            f->heap = h;
        if (!o)
            return QR_ENOMEM;
        f->path_off = o;
        f->alloc = k;
    }
    f->k = k;
    if (!*match)
        goto done; /* a query reduced to nothing matches nothing */
    sqlite3_bind_text(f->q, 1, match, -1, SQLITE_STATIC);
    int r;
    while ((r = sqlite3_step(f->q)) == SQLITE_ROW) {
        total++;
        offer(f, (fhit){-sqlite3_column_double(f->q, 1), sqlite3_column_int64(f->q, 0)});
    }
    if (r != SQLITE_DONE) {
        msg(err, errlen, "fts5: %s", sqlite3_errmsg(f->db));
        sqlite3_reset(f->q);
        f->n = 0;
        return QR_EINVAL;
    }
    sqlite3_reset(f->q);
    /* best first: pop the heap from the back */
    for (size_t m = f->n; m > 1; m--) {
        fhit t = f->heap[0];
        f->heap[0] = f->heap[m - 1];
        f->heap[m - 1] = t;
        sift_down(f->heap, m - 1, 0);
    }
    for (size_t i = 0; i < f->n; i++) {
        sqlite3_bind_int64(f->path, 1, f->heap[i].rowid);
        if (sqlite3_step(f->path) == SQLITE_ROW) {
            const unsigned char *p = sqlite3_column_text(f->path, 0);
            f->path_off[f->npaths++] = f->paths.n;
            qr_buf_put(&f->paths, p, (size_t)sqlite3_column_bytes(f->path, 0));
            qr_buf_put_u8(&f->paths, 0);
        }
        sqlite3_reset(f->path);
    }
done:
    *out_total = total;
    return f->paths.err;
}

size_t qr_fts5_hits(const qr_fts5 *f)
{
    return f->npaths;
}

const char *qr_fts5_hit_path(const qr_fts5 *f, size_t i)
{
    return i < f->npaths ? (const char *)f->paths.p + f->path_off[i] : NULL;
}
