/*
 * Indexing benchmarks (see ixbench.h): the job each child runs, and the
 * statistics read afterwards by the parent.
 */
#include "bench/ixbench.h"

#include <stdio.h>
#include <string.h>

#include "bench/timing.h"
#include "storage/alloc.h"
#include "storage/dir.h"
#include "storage/manifest.h"
#include "storage/postings.h"
#include "storage/segment.h"
#include "storage/status.h"

struct ix_job {
    const char *path;
    const char *const *dirs;
    size_t ndirs;
    const qr_ixbench_options *opt;
};

static int ix_child(void *ctx, void *result, size_t size)
{
    const struct ix_job *j = ctx;
    qr_ixbench *r = result;
    (void)size;
    qr_dir *dir = NULL;
    qr_indexer *ix = NULL;
    qr_index_result res;
    memset(&res, 0, sizeof res);
    qr_index_options o = {.threads = j->opt ? j->opt->threads : 0,
                          .ram_bytes = j->opt ? j->opt->ram_bytes : 0,
                          .language = j->opt ? j->opt->language : NULL};
    double t0 = qr_now();
    int rc = qr_dir_open_posix(&dir, j->path, true);
    if (rc) {
        snprintf(r->error, sizeof r->error, "%s: %s", j->path, qr_strerror(rc));
        return rc;
    }
    if ((rc = qr_indexer_open(&ix, dir, &o, r->error, sizeof r->error)))
        goto out;
    rc = qr_indexer_run(ix, j->dirs, j->ndirs, &res);
    if (rc)
        snprintf(r->error, sizeof r->error, "%s", qr_indexer_error(ix));
    r->docs = res.added + res.replaced;
    for (unsigned k = 0; k < QR_SKIP_REASON_COUNT; k++)
        r->skipped += res.skipped[k];
    r->raw_bytes = res.raw_bytes;
    r->segments = res.segments;
    r->flushes = res.flushes;
    r->merges = res.merges;
    qr_index_result_free(&res);
out:
    qr_indexer_close(ix);
    qr_dir_close(dir);
    r->seconds = qr_now() - t0;
    return rc;
}

int qr_ixbench_run(qr_ixbench *out, const char *index_path, const char *const *dirs, size_t ndirs,
                   const qr_ixbench_options *opt)
{
    struct ix_job job = {index_path, dirs, ndirs, opt};
    memset(out, 0, sizeof *out);
    qr_child_usage u;
    int rc = qr_child_run(&u, ix_child, &job, out, sizeof *out);
    out->usage = u;
    if (rc) {
        if (!out->error[0])
            snprintf(out->error, sizeof out->error, "indexing %s: %s", dirs[0], qr_strerror(rc));
        return rc;
    }
    qr_dir *dir;
    if ((rc = qr_dir_open_posix(&dir, index_path, false)) == 0) {
        rc = qr_index_stats_read(dir, &out->stats);
        if (!rc)
            rc = qr_postings_bits_measure(&out->bits, dir);
        qr_dir_close(dir);
    }
    if (rc)
        snprintf(out->error, sizeof out->error, "%s: statistics: %s", index_path, qr_strerror(rc));
    return rc;
}

struct fts_job {
    const char *db;
    const char *const *dirs;
    size_t ndirs;
};

static int fts_child(void *ctx, void *result, size_t size)
{
    const struct fts_job *j = ctx;
    qr_fts5bench *r = result;
    (void)size;
    return qr_fts5_build(&r->build, j->db, j->dirs, j->ndirs, 0, r->error, sizeof r->error);
}

int qr_fts5bench_run(qr_fts5bench *out, const char *db_path, const char *const *dirs, size_t ndirs)
{
    struct fts_job job = {db_path, dirs, ndirs};
    memset(out, 0, sizeof *out);
    qr_child_usage u;
    int rc = qr_child_run(&u, fts_child, &job, out, sizeof *out);
    out->usage = u;
    if (rc && !out->error[0])
        snprintf(out->error, sizeof out->error, "FTS5 build: %s", qr_strerror(rc));
    return rc;
}

/* Re-encodes one segment's postings into w. */
static int reencode(qr_postings_writer *w, const qr_segment *seg)
{
    const qr_doctable *dt = qr_segment_doctable(seg);
    uint32_t docs = qr_segment_docs(seg);
    qr_termdict_iter ti;
    qr_slice term;
    qr_term_meta meta;
    int r, rc = qr_segment_prefix(seg, "", 0, &ti);
    while (!rc && (r = qr_termdict_next(&ti, &term, &meta)) > 0) {
        qr_postings_iter it;
        qr_term_meta m;
        if ((rc = qr_segment_postings(seg, &meta, &it))) {
            qr_postings_iter_free(&it);
            break;
        }
        qr_postings_begin(w);
        while (!rc && it.doc != QR_DOC_END) {
            const uint32_t *pos;
            uint32_t npos;
            if (it.doc >= docs) {
                rc = QR_ECORRUPT;
                break;
            }
            if (!(rc = qr_postings_positions(&it, &pos, &npos)))
                rc = qr_postings_add(w, it.doc, qr_postings_freq(&it),
                                     qr_doctable_positions(dt, it.doc), pos);
            if (!rc)
                rc = qr_postings_next(&it);
        }
        if (!rc)
            rc = it.err ? it.err : qr_postings_end(w, &m);
        qr_postings_iter_free(&it);
    }
    if (!rc && r < 0)
        rc = r;
    return rc;
}

int qr_postings_bits_measure(qr_postings_bits *out, qr_dir *dir)
{
    qr_manifest m;
    qr_postings_stats st = {0};
    memset(out, 0, sizeof *out);
    int rc = qr_manifest_load(&m, dir);
    if (rc)
        return rc;
    for (uint32_t i = 0; i < m.nsegs && !rc; i++) {
        qr_segment *seg = NULL;
        qr_postings_writer *w = NULL;
        qr_buf doc = {0}, pos = {0};
        if (!(rc = qr_segment_open(&seg, dir, m.segs[i].id, false)) &&
            !(rc = qr_postings_writer_open(&w, &doc, &pos)))
            rc = reencode(w, seg);
        if (!rc) {
            qr_postings_stats s;
            qr_postings_writer_stats(w, &s);
            st.terms += s.terms;
            st.postings += s.postings;
            st.positions += s.positions;
            st.head_bytes += s.head_bytes;
            st.skip_bytes += s.skip_bytes;
            st.doc_bytes += s.doc_bytes;
            st.freq_bytes += s.freq_bytes;
            st.pos_bytes += s.pos_bytes;
        }
        qr_postings_writer_close(w);
        qr_buf_free(&doc);
        qr_buf_free(&pos);
        qr_segment_close(seg);
    }
    qr_manifest_free(&m);
    if (rc)
        return rc;
    double p = st.postings ? (double)st.postings : 1, q = st.positions ? (double)st.positions : 1;
    out->terms = st.terms;
    out->postings = st.postings;
    out->positions = st.positions;
    out->bits_per_doc = 8.0 * (double)st.doc_bytes / p;
    out->bits_per_freq = 8.0 * (double)st.freq_bytes / p;
    out->bits_per_skip = 8.0 * (double)(st.skip_bytes + st.head_bytes) / p;
    out->bits_per_pos = 8.0 * (double)st.pos_bytes / q;
    return 0;
}
