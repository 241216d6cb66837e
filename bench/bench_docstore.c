/*
 * Document store micro-benchmark: how fast storage/docstore.c gives back a
 * document's stored title and body, and how small the store is.
 *
 *   bench_docstore [INDEX]
 *
 * Without INDEX: 50,000 synthetic articles (bench/synth.c, about 2 KB each)
 * are written to a store and a table in memory (zstd level 3). With INDEX:
 * the stores of every segment of that quarry index. Reported: random
 * fetches (docs/s; each decompresses a block unless it is the cached one),
 * fetches in document order (docs/s; one decompression per block), the hot
 * path of a hit (path and length from the table, lookups/s), bytes per
 * document and the compression ratio. Best of several runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/rng.h"
#include "bench/synth.h"
#include "bench/timing.h"
#include "storage/alloc.h"
#include "storage/docstore.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"

static volatile uint64_t sink;

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench_docstore: %s: %s\n", what, qr_strerror(rc));
        exit(1);
    }
}

#define BEST_OF(secs, ...)                                                                         \
    do {                                                                                           \
        secs = 1e30;                                                                               \
        double start_ = qr_now();                                                                  \
        for (int rep_ = 0; rep_ < 50 && (rep_ < 3 || qr_now() - start_ < 0.3); rep_++) {           \
            double t0_ = qr_now();                                                                 \
            __VA_ARGS__;                                                                           \
            double dt_ = qr_now() - t0_;                                                           \
            secs = dt_ < secs ? dt_ : secs;                                                        \
        }                                                                                          \
    } while (0)

static void bench_store(qr_docstore *st, const qr_doctable *dt, uint64_t store_bytes,
                        const char *label)
{
    uint32_t n = qr_docstore_count(st);
    printf("%s: %u documents, %.0f bytes per document stored\n", label, n,
           n ? (double)store_bytes / n : 0.0);
    if (!n)
        return;
    uint64_t raw = 0;
    qr_slice title, body;
    for (uint32_t d = 0; d < n; d++) {
        check(qr_docstore_get(st, d, &title, &body), "get");
        raw += title.n + body.n;
    }
    printf("  raw text %.1f MB, stored %.1f MB: compression ratio %.2f\n", (double)raw / 1e6,
           (double)store_bytes / 1e6, store_bytes ? (double)raw / (double)store_bytes : 0.0);
    uint32_t probes = n < 20000 ? n : 20000;
    uint32_t *order = qr_calloc(probes, sizeof *order);
    if (!order)
        check(QR_ENOMEM, "order");
    qr_rng r;
    qr_rng_seed(&r, 42);
    for (uint32_t i = 0; i < probes; i++)
        order[i] = (uint32_t)qr_rng_below(&r, n);
    double secs;
    BEST_OF(secs, {
        for (uint32_t i = 0; i < probes; i++) {
            check(qr_docstore_get(st, order[i], &title, &body), "get");
            sink += body.n;
        }
    });
    printf("  fetch, random documents:   %.3g docs/s (%.1f us each)\n", probes / secs,
           secs / probes * 1e6);
    BEST_OF(secs, {
        for (uint32_t d = 0; d < n; d++) {
            check(qr_docstore_get(st, d, &title, &body), "get");
            sink += body.n;
        }
    });
    printf("  fetch, in document order:  %.3g docs/s, %.3g MB/s of text\n", n / secs,
           (double)raw / secs / 1e6);
    if (dt) {
        BEST_OF(secs, {
            for (uint32_t i = 0; i < probes; i++) {
                qr_slice p = qr_doctable_path(dt, order[i]);
                sink += p.n + qr_doctable_positions(dt, order[i]);
            }
        });
        printf("  table: path + length of a hit: %.3g lookups/s\n", probes / secs);
    }
    qr_free(order);
}

static void synthetic(void)
{
    enum { N = 50000 };
    qr_synth *sy;
    check(qr_synth_open(&sy, NULL), "synth");
    qr_docstore_writer *w;
    check(qr_docstore_writer_open(&w), "writer");
    qr_buf text = {0};
    char path[64];
    for (uint32_t i = 0; i < N; i++) {
        qr_buf_reset(&text);
        check(qr_synth_doc(sy, i, &text), "doc");
        qr_synth_path(i, path, sizeof path);
        const char *nl = memchr(text.p, '\n', text.n);
        size_t tl = nl ? (size_t)(nl - (const char *)text.p) : text.n;
        size_t bo = tl + 1 < text.n ? tl + 1 : text.n;
        qr_doc_in d = {path,
                       strlen(path),
                       (const char *)text.p,
                       tl,
                       (const char *)text.p + bo,
                       text.n - bo,
                       400,
                       8,
                       text.n,
                       0,
                       i};
        check(qr_docstore_add(w, &d), "add");
    }
    qr_buf store = {0}, table = {0};
    check(qr_docstore_finish(w, 3, &store, &table), "finish");
    qr_docstore_writer_close(w);
    qr_docstore *st;
    qr_doctable *dt;
    check(qr_docstore_open(&st, (qr_slice){store.p, store.n}, true), "open store");
    check(qr_doctable_open(&dt, (qr_slice){table.p, table.n}, true), "open table");
    bench_store(st, dt, store.n, "synthetic articles");
    qr_docstore_close(st);
    qr_doctable_close(dt);
    qr_buf_free(&store);
    qr_buf_free(&table);
    qr_buf_free(&text);
    qr_synth_close(sy);
}

static void real(const char *path)
{
    qr_dir *dir;
    qr_manifest m;
    check(qr_dir_open_posix(&dir, path, false), path);
    check(qr_manifest_load(&m, dir), "manifest");
    for (uint32_t i = 0; i < m.nsegs; i++) {
        qr_segment *s;
        check(qr_segment_open(&s, dir, m.segs[i].id, false), "segment");
        qr_segment_info info;
        qr_segment_get_info(s, &info);
        char label[96];
        snprintf(label, sizeof label, "segment %016llx", (unsigned long long)info.id);
        bench_store(qr_segment_docstore(s), qr_segment_doctable(s), info.bytes[QR_SEG_STO], label);
        qr_segment_close(s);
    }
    qr_manifest_free(&m);
    qr_dir_close(dir);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: bench_docstore [INDEX]\n");
        return 2;
    }
    if (argc == 2)
        real(argv[1]);
    else
        synthetic();
    return 0;
}
