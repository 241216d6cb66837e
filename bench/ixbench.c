/*
 * Indexing benchmarks (see ixbench.h): the job each child runs, and the
 * statistics read afterwards by the parent.
 */
#include "bench/ixbench.h"

#include <stdio.h>
#include <string.h>

#include "bench/timing.h"
#include "storage/dir.h"
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
    if (!rc && j->opt && j->opt->optimize) {
        qr_index_result m;
        double t1 = qr_now();
        rc = qr_indexer_merge_all(ix, &m);
        r->optimize_seconds = qr_now() - t1;
        res.segments = m.segments;
        res.merges += m.merges;
        qr_index_result_free(&m);
    }
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
        rc = qr_index_stats_read(&out->stats, dir);
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
