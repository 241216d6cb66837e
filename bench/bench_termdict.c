/*
 * Term dictionary micro-benchmark: how fast storage/termdict.c finds terms.
 *
 *   bench_termdict [INDEX]
 *
 * Without INDEX: a dictionary of 1,000,000 synthetic terms (the spellings of
 * bench/synth.c's vocabulary, 2-24 letters, sorted bytewise) with plausible
 * postings metadata is written and read back from memory. With INDEX: the
 * term dictionary of every segment of that quarry index, as on disk.
 * Reported: exact lookups of present terms in random order (lookups/s),
 * lookups of absent terms, a full ordered walk (terms/s) and prefix walks
 * over 3-letter prefixes, and bytes per term. Each figure is the best of
 * several runs (the least disturbed on a shared machine).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/rng.h"
#include "bench/synth.h"
#include "bench/timing.h"
#include "storage/alloc.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "storage/termdict.h"

static volatile uint64_t sink;

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench_termdict: %s: %s\n", what, qr_strerror(rc));
        exit(1);
    }
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = qr_calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "bench_termdict: out of memory\n");
        exit(1);
    }
    return p;
}

/* Runs the statement at least 3 times and for 0.3 s (at most 50 times); secs = the fastest. */
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

/* The terms of one dictionary, copied out by a full walk. */
typedef struct terms {
    char *bytes;
    size_t *off;
    uint8_t *len;
    size_t n;
} terms;

static void load_terms(terms *t, const qr_termdict *d)
{
    size_t n = (size_t)qr_termdict_count(d);
    t->off = xcalloc(n, sizeof *t->off);
    t->len = xcalloc(n, sizeof *t->len);
    qr_buf b = {0};
    qr_termdict_iter it;
    check(qr_termdict_iter_init(&it, d, "", 0), "iter");
    qr_slice s;
    qr_term_meta m;
    int r;
    t->n = 0;
    while ((r = qr_termdict_next(&it, &s, &m)) > 0 && t->n < n) {
        t->off[t->n] = b.n;
        t->len[t->n++] = (uint8_t)s.n;
        qr_buf_put(&b, s.p, s.n);
    }
    check(r < 0 ? r : b.err, "walk");
    t->bytes = (char *)b.p;
}

static void free_terms(terms *t)
{
    qr_free(t->bytes);
    qr_free(t->off);
    qr_free(t->len);
}

static void bench_dict(const qr_termdict *d, const char *label)
{
    terms t;
    load_terms(&t, d);
    size_t n = t.n;
    printf("%s: %zu terms\n", label, n);
    if (!n)
        return;
    /* a random order of the terms, and absent terms made by appending "qx" */
    size_t *order = xcalloc(n, sizeof *order);
    qr_rng r;
    qr_rng_seed(&r, 42);
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = qr_rng_below(&r, i + 1), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    size_t probes = n < 1000000 ? n : 1000000;
    double secs;
    qr_term_meta m;
    BEST_OF(secs, {
        for (size_t i = 0; i < probes; i++) {
            size_t k = order[i];
            check(qr_termdict_get(d, t.bytes + t.off[k], t.len[k], &m), "get");
            sink += m.df;
        }
    });
    printf("  exact lookup, present terms, random order: %.3g lookups/s (%.0f ns each)\n",
           (double)probes / secs, secs / (double)probes * 1e9);
    char miss[300];
    BEST_OF(secs, {
        for (size_t i = 0; i < probes; i++) {
            size_t k = order[i], l = t.len[k];
            memcpy(miss, t.bytes + t.off[k], l);
            memcpy(miss + (l < 253 ? l : 253), "qx", 2);
            int rc = qr_termdict_get(d, miss, (l < 253 ? l : 253) + 2, &m);
            sink += rc == QR_ENOTFOUND;
        }
    });
    printf("  exact lookup, absent terms:                %.3g lookups/s\n", (double)probes / secs);
    BEST_OF(secs, {
        qr_termdict_iter it;
        qr_slice s;
        check(qr_termdict_iter_init(&it, d, "", 0), "iter");
        while (qr_termdict_next(&it, &s, &m) > 0)
            sink += s.n;
    });
    printf("  ordered walk of every term:                %.3g terms/s\n", (double)n / secs);
    size_t nprefix = 0, walked = 0;
    BEST_OF(secs, {
        nprefix = walked = 0;
        for (size_t i = 0; i < n && nprefix < 1000; i += 1 + n / 1000) {
            size_t k = order[i];
            if (t.len[k] < 3)
                continue;
            qr_termdict_iter it;
            qr_slice s;
            check(qr_termdict_iter_init(&it, d, t.bytes + t.off[k], 3), "iter");
            while (qr_termdict_next(&it, &s, &m) > 0)
                walked++;
            nprefix++;
        }
    });
    if (nprefix)
        printf("  prefix walks (3 letters): %zu prefixes, %.3g prefixes/s, %.1f terms each\n",
               nprefix, (double)nprefix / secs, (double)walked / (double)nprefix);
    qr_free(order);
    free_terms(&t);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void synthetic(void)
{
    enum { N = 1000000 };
    char **words = xcalloc(N, sizeof *words);
    char w[32];
    for (uint32_t i = 0; i < N; i++) {
        qr_synth_word(i * 2 + 1, w); /* odd ranks: a spread of 1- to 3-syllable words */
        words[i] = qr_strdup(w);
        if (!words[i])
            check(QR_ENOMEM, "words");
    }
    qsort(words, N, sizeof *words, cmp_str);
    qr_termdict_writer *tw;
    check(qr_termdict_writer_open(&tw), "writer");
    qr_rng r;
    qr_rng_seed(&r, 7);
    uint64_t doc_off = 0, pos_off = 0;
    for (uint32_t i = 0; i < N; i++) {
        /* df: heavy tailed, mostly small, as in a real dictionary */
        uint32_t df = 1 + (uint32_t)(1.0 / (qr_rng_unif(&r) + 1e-6));
        qr_term_meta m = {df, df + qr_rng_below(&r, df + 1), doc_off, pos_off};
        check(qr_termdict_add(tw, words[i], strlen(words[i]), &m), "add");
        doc_off += 2 + df * 2;
        pos_off += 2 + m.ttf * 2;
    }
    qr_buf img = {0};
    check(qr_termdict_finish(tw, &img), "finish");
    qr_termdict_writer_close(tw);
    qr_termdict *d;
    check(qr_termdict_open(&d, (qr_slice){img.p, img.n}, true), "open");
    char label[128];
    snprintf(label, sizeof label, "synthetic dictionary, %.2f bytes per term", (double)img.n / N);
    bench_dict(d, label);
    qr_termdict_close(d);
    qr_buf_free(&img);
    for (uint32_t i = 0; i < N; i++)
        qr_free(words[i]);
    qr_free(words);
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
        char label[160];
        snprintf(label, sizeof label, "segment %016llx (%u docs), %.2f bytes per term",
                 (unsigned long long)info.id, info.docs,
                 info.terms ? (double)info.bytes[QR_SEG_TDI] / (double)info.terms : 0.0);
        bench_dict(qr_segment_termdict(s), label);
        qr_segment_close(s);
    }
    qr_manifest_free(&m);
    qr_dir_close(dir);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: bench_termdict [INDEX]\n");
        return 2;
    }
    if (argc == 2)
        real(argv[1]);
    else
        synthetic();
    return 0;
}
