/*
 * The SQLite side of the FTS5 comparison in a build without SQLite (the
 * `fts5` meson feature disabled or libsqlite3-dev missing): every entry
 * point says so, so that `quarry bench compare` fails with a clear message
 * instead of being absent.
 */
#include <stdio.h>

#include "bench/fts5.h"
#include "storage/status.h"

static const char missing[] =
    "built without SQLite FTS5 (install libsqlite3-dev and reconfigure with -Dfts5=enabled)";

bool qr_fts5_available(void)
{
    return false;
}

int qr_fts5_build(qr_fts5_build_result *out, const char *db_path, const char *const *dirs,
                  size_t ndirs, uint64_t max_file_size, char *err, size_t errlen)
{
    (void)db_path;
    (void)dirs;
    (void)ndirs;
    (void)max_file_size;
    *out = (qr_fts5_build_result){0};
    snprintf(err, errlen, "%s", missing);
    return QR_ENOTFOUND;
}

int qr_fts5_open(qr_fts5 **out, const char *db_path, char *err, size_t errlen)
{
    (void)db_path;
    *out = NULL;
    snprintf(err, errlen, "%s", missing);
    return QR_ENOTFOUND;
}

void qr_fts5_close(qr_fts5 *f)
{
    (void)f;
}

uint64_t qr_fts5_docs(const qr_fts5 *f)
{
    (void)f;
    return 0;
}

int qr_fts5_query(qr_fts5 *f, const char *match, size_t k, uint64_t *out_total, char *err,
                  size_t errlen)
{
    (void)f;
    (void)match;
    (void)k;
    *out_total = 0;
    snprintf(err, errlen, "%s", missing);
    return QR_ENOTFOUND;
}

size_t qr_fts5_hits(const qr_fts5 *f)
{
    (void)f;
    return 0;
}

const char *qr_fts5_hit_path(const qr_fts5 *f, size_t i)
{
    (void)f;
    (void)i;
    return NULL;
}
