/*
 * Analyzer micro-benchmark: how fast index/analyzer.c turns text into
 * terms (MB/s of input and tokens/s).
 *
 *   bench_analyzer [DIR]
 *
 * Without DIR: 20 MB of synthetic articles (bench/synth.c: ASCII words,
 * punctuation, numbers, hyphenated compounds). With DIR: every regular file
 * below DIR, read into memory first. Each text is analysed with the english
 * stemmer (the default; its stem cache warm after the first pass, as in a
 * long indexing run), with no stemming, and without stemming via the
 * prefix-query flag. Best of several runs.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/synth.h"
#include "bench/timing.h"
#include "index/analyzer.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/status.h"

static volatile uint64_t sink;

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench_analyzer: %s: %s\n", what, qr_strerror(rc));
        exit(1);
    }
}

#define BEST_OF(secs, ...)                                                                         \
    do {                                                                                           \
        secs = 1e30;                                                                               \
        double start_ = qr_now();                                                                  \
        for (int rep_ = 0; rep_ < 20 && (rep_ < 3 || qr_now() - start_ < 1.0); rep_++) {           \
            double t0_ = qr_now();                                                                 \
            __VA_ARGS__;                                                                           \
            double dt_ = qr_now() - t0_;                                                           \
            secs = dt_ < secs ? dt_ : secs;                                                        \
        }                                                                                          \
    } while (0)

/* The documents, back to back; doc i is text[off[i], off[i + 1]). */
static qr_buf text;
static size_t *off, ndocs, offcap;

static void add_doc(const void *p, size_t n)
{
    if (ndocs + 2 > offcap) {
        offcap = offcap ? offcap * 2 : 1024;
        off = qr_reallocarray(off, offcap, sizeof *off);
        if (!off)
            check(QR_ENOMEM, "documents");
    }
    off[ndocs++] = text.n;
    qr_buf_put(&text, p, n);
    off[ndocs] = text.n;
    check(text.err, "documents");
}

static int read_file(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type != FTW_F)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    qr_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        qr_buf_put(&b, chunk, n);
    fclose(f);
    add_doc(b.p, b.n);
    qr_buf_free(&b);
    return 0;
}

static int count_token(void *ctx, const qr_token *t)
{
    uint64_t *n = ctx;
    (*n)++;
    sink += t->len;
    return 0;
}

static void run(const char *language, unsigned flags, const char *label)
{
    qr_analyzer *a;
    check(qr_analyzer_open(&a, language), language);
    uint64_t tokens = 0;
    double cold = qr_now();
    for (size_t i = 0; i < ndocs; i++)
        check(qr_analyze(a, (const char *)text.p + off[i], off[i + 1] - off[i], 0, flags,
                         count_token, &tokens, NULL),
              "analyze");
    cold = qr_now() - cold;
    double secs;
    BEST_OF(secs, {
        tokens = 0;
        for (size_t i = 0; i < ndocs; i++)
            check(qr_analyze(a, (const char *)text.p + off[i], off[i + 1] - off[i], 0, flags,
                             count_token, &tokens, NULL),
                  "analyze");
    });
    printf("  %-34s %7.1f MB/s  %6.3g tokens/s  (first pass %.1f MB/s)\n", label,
           (double)text.n / secs / 1e6, (double)tokens / secs, (double)text.n / cold / 1e6);
    qr_analyzer_close(a);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: bench_analyzer [DIR]\n");
        return 2;
    }
    if (argc == 2) {
        if (nftw(argv[1], read_file, 32, FTW_PHYS) != 0) {
            fprintf(stderr, "bench_analyzer: cannot walk %s\n", argv[1]);
            return 1;
        }
    } else {
        qr_synth *sy;
        check(qr_synth_open(&sy, NULL), "synth");
        qr_buf doc = {0};
        for (uint64_t i = 0; text.n < 20000000; i++) {
            qr_buf_reset(&doc);
            check(qr_synth_doc(sy, i, &doc), "synth");
            add_doc(doc.p, doc.n);
        }
        qr_buf_free(&doc);
        qr_synth_close(sy);
    }
    printf("analyzer: %zu documents, %.1f MB (%s)\n", ndocs, (double)text.n / 1e6,
           argc == 2 ? argv[1] : "synthetic articles");
    run("english", 0, "english (Snowball), stem cache warm");
    run("none", 0, "none (no stemming)");
    run("english", QR_ANALYZE_NOSTEM, "english, QR_ANALYZE_NOSTEM");
    qr_buf_free(&text);
    qr_free(off);
    return 0;
}
