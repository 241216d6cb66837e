/*
 * Postings micro-benchmark: how fast storage/bitpack.c and storage/postings.c
 * decode, and how small postings are.
 *
 *   bench_postings [DIR]
 *
 * 1. qr_bitunpack128 and the fused doc-id decoder on blocks that sit in
 *    cache, for every width: integers per second.
 * 2. One long synthetic term (4 million postings, heavy-tailed doc gaps,
 *    Zipf-like tfs) read through the iterator: whole blocks
 *    (qr_postings_block_docs / block_freqs / next_block), doc by doc
 *    (next + freq), seeks, and positions. The first two are the "full-block
 *    decode" figures: doc ids (and tfs) out of the packed bytes, skip entries
 *    and all bounds checks included.
 * 3. Sizes: every term of a corpus written with the postings writer; bits per
 *    doc id, per tf and for skip data and heads, bytes per position, and the
 *    speed of reading back every term, without and with its positions. The
 *    corpus is synthetic (20,000 documents, Zipf(1.0) words over a
 *    200,000-word vocabulary) unless DIR is given: then every regular file
 *    below DIR, in path order, is a document analysed with the english
 *    analyzer.
 *
 * Results on the build machine (AMD EPYC, 2 cores shared with other jobs,
 * gcc 12), `meson setup build-rel --buildtype=release && ninja -C build-rel
 * && build-rel/bench/bench_postings`:
 *   qr_bitunpack128      mean over widths 1..32  ~8.4-10e9 ints/s
 *   qr_bitunpack128_ids  (unpack + delta)        ~2.9-3.5e9 ints/s
 *   full-block decode via the iterator: doc ids  2.3e9 ints/s,
 *                                docs + tfs      2.7e9 ints/s (1.36e9 postings/s)
 *   next + freq 5.6e8 postings/s; seek 9.5e6/s; positions 9.2e7/s
 * and sizes (bits per posting: doc id / tf / skip + heads; bytes per position):
 *   bbc 7.5 / 2.6 / 1.2, 1.37;  reuters21578 8.0 / 2.8 / 0.7, 1.18;
 *   20news 8.1 / 3.3 / 1.2, 1.34.
 * Postings format 2 (PFOR positions and tfs), the same machine under heavy
 * load from other jobs, best of 2 interleaved runs against format 1:
 *   bbc 7.5 / 2.2 / 1.2, 1.24 bytes per position (format 1: 2.6 tf, 1.37);
 *   synthetic term: next + positions 2.2e7 positions/s (format 1 1.5e7),
 *   positions of 1 doc in 16 9.1e7 postings/s (4.1e7); bbc, every term
 *   read back with positions 1.6e7 positions/s (1.1e7).
 */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "index/analyzer.h"
#include "storage/bitpack.h"
#include "storage/postings.h"
#include "storage/status.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd64(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Uniform in (0, 1]. */
static double unif(void)
{
    return ((double)(rnd64() >> 11) + 1.0) / 9007199254740992.0;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_postings: out of memory\n");
        exit(1);
    }
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench_postings: out of memory\n");
        exit(1);
    }
    return p;
}

static void check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "bench_postings: %s: %s\n", what, qr_strerror(rc));
        exit(1);
    }
}

/* Keeps results alive so that the compiler cannot drop the work. */
static volatile uint64_t sink;

/* ---- 1. bit unpacking ------------------------------------------------------ */

static void bench_unpack(void)
{
    enum { NB = 256, REPS = 2000 };
    uint8_t *packed = xmalloc((size_t)NB * 16 * 32);
    uint32_t in[QR_BP_N], out[QR_BP_N];
    double sum_u = 0, sum_i = 0, min_u = 1e30, min_i = 1e30;
    unsigned min_uw = 0, min_iw = 0;
    printf("1. bit unpacking, %d cached blocks of 128 ints (Gints/s):\n   width ", NB);
    for (unsigned b = 1; b <= 32; b++)
        printf("%5u", b);
    printf("\n   unpack");
    char line[512];
    size_t ll = 0;
    for (unsigned b = 1; b <= 32; b++) {
        uint32_t mask = b == 32 ? UINT32_MAX : (1u << b) - 1;
        for (int j = 0; j < NB; j++) {
            for (int i = 0; i < QR_BP_N; i++)
                in[i] = (uint32_t)rnd64() & mask;
            qr_bitpack128(packed + (size_t)j * 16 * b, in, b);
        }
        double best_u = 1e30, best_i = 1e30;
        for (int rep = 0; rep < 3; rep++) {
            double t0 = now();
            for (int r = 0; r < REPS; r++)
                for (int j = 0; j < NB; j++) {
                    qr_bitunpack128(out, packed + (size_t)j * 16 * b, b);
                    sink += out[j & 127];
                }
            double t1 = now();
            for (int r = 0; r < REPS; r++)
                for (int j = 0; j < NB; j++) {
                    qr_bitunpack128_ids(out, packed + (size_t)j * 16 * b, b, (uint32_t)j);
                    sink += out[j & 127];
                }
            double t2 = now();
            best_u = t1 - t0 < best_u ? t1 - t0 : best_u;
            best_i = t2 - t1 < best_i ? t2 - t1 : best_i;
        }
        double n = (double)REPS * NB * QR_BP_N;
        double u = n / best_u, i = n / best_i;
        printf("%5.1f", u / 1e9);
        ll += (size_t)snprintf(line + ll, sizeof line - ll, "%5.1f", i / 1e9);
        sum_u += u;
        sum_i += i;
        if (u < min_u) {
            min_u = u;
            min_uw = b;
        }
        if (i < min_i) {
            min_i = i;
            min_iw = b;
        }
    }
    printf("\n   ids   %s\n", line);
    printf("   qr_bitunpack128:     mean %.2e ints/s, slowest %.2e (width %u)\n", sum_u / 32, min_u,
           min_uw);
    printf("   qr_bitunpack128_ids: mean %.2e ints/s, slowest %.2e (width %u)"
           "  (unpack + delta decode)\n",
           sum_i / 32, min_i, min_iw);
    free(packed);
}

/* ---- 2. one long term ------------------------------------------------------ */

typedef struct term_data {
    uint32_t n;
    uint32_t *doc, *tf, *dl;
    uint32_t *pos; /* positions of doc i start at pstart[i] */
    size_t *pstart;
} term_data;

static void gen_term(term_data *t, uint32_t n)
{
    t->n = n;
    t->doc = xmalloc(sizeof(uint32_t) * n);
    t->tf = xmalloc(sizeof(uint32_t) * n);
    t->dl = xmalloc(sizeof(uint32_t) * n);
    t->pstart = xmalloc(sizeof(size_t) * (n + 1));
    size_t cap = (size_t)n * 2, np = 0;
    t->pos = xmalloc(sizeof(uint32_t) * cap);
    uint64_t doc = 0;
    for (uint32_t i = 0; i < n; i++) {
        /* heavy-tailed gaps: P(gap >= g) ~ g^-1.2, mean about 5 */
        double g = floor(pow(unif(), -1.0 / 1.2)) - 1;
        doc += 1 + (uint64_t)(g < 1e5 ? g : 1e5);
        t->doc[i] = (uint32_t)doc;
        /* tf: P(tf >= k) ~ k^-2 */
        double f = floor(pow(unif(), -1.0 / 2.0));
        uint32_t tf = (uint32_t)(f < 200 ? f : 200);
        t->tf[i] = tf;
        t->pstart[i] = np;
        if (np + tf > cap) {
            cap *= 2;
            t->pos = xrealloc(t->pos, sizeof(uint32_t) * cap);
        }
        uint32_t p = (uint32_t)(rnd64() % 50);
        for (uint32_t k = 0; k < tf; k++) {
            t->pos[np++] = p;
            p += 1 + (uint32_t)(rnd64() % 60);
        }
        t->dl[i] = p + (uint32_t)(rnd64() % 100);
    }
    t->pstart[n] = np;
}

static void free_term(term_data *t)
{
    free(t->doc);
    free(t->tf);
    free(t->dl);
    free(t->pos);
    free(t->pstart);
}

/*
 * Runs the statements at least 5 times and until 0.3 s have passed (at most
 * 200 times); secs = the fastest run. The fastest run is the one least
 * disturbed by the other processes of a shared machine.
 */
#define BEST_OF(secs, ...)                                                                         \
    do {                                                                                           \
        secs = 1e30;                                                                               \
        double start_ = now();                                                                     \
        for (int rep_ = 0; rep_ < 200 && (rep_ < 5 || now() - start_ < 0.3); rep_++) {             \
            double t0_ = now();                                                                    \
            __VA_ARGS__;                                                                           \
            double dt_ = now() - t0_;                                                              \
            secs = dt_ < secs ? dt_ : secs;                                                        \
        }                                                                                          \
    } while (0)

static void bench_term(void)
{
    enum { N = 4000000 };
    term_data t;
    gen_term(&t, N);
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    check(qr_postings_writer_open(&w, &doc, &pos), "writer");
    qr_postings_begin(w);
    for (uint32_t i = 0; i < N; i++)
        check(qr_postings_add(w, t.doc[i], t.tf[i], t.dl[i], t.pos + t.pstart[i]), "add");
    qr_term_meta m;
    check(qr_postings_end(w, &m), "end");
    qr_postings_stats st;
    qr_postings_writer_stats(w, &st);
    qr_postings_writer_close(w);
    qr_slice ds = {doc.p, doc.n}, ps = {pos.p, pos.n};
    printf("\n2. one term of %u postings (last doc %u; %.2f bits/doc id, %.2f bits/tf, "
           "%.2f bits/posting of skip data)\n",
           N, t.doc[N - 1], 8.0 * (double)st.doc_bytes / N, 8.0 * (double)st.freq_bytes / N,
           8.0 * (double)(st.skip_bytes + st.head_bytes) / N);

    qr_postings_iter it;
    double secs;
    uint64_t acc = 0, count = 0;

    BEST_OF(secs, {
        check(qr_postings_iter_init(&it, ds, ps, &m), "init");
        const uint32_t *d;
        uint32_t k;
        while ((k = qr_postings_block_docs(&it, &d)) > 0) {
            acc += d[k - 1];
            count += k;
            qr_postings_next_block(&it);
        }
        check(it.err, "read");
        qr_postings_iter_free(&it);
    });
    printf("   full-block decode, doc ids:       %.2e ints/s  (block_docs + next_block)\n",
           N / secs);

    BEST_OF(secs, {
        check(qr_postings_iter_init(&it, ds, ps, &m), "init");
        const uint32_t *d, *f;
        uint32_t k;
        while ((k = qr_postings_block_docs(&it, &d)) > 0) {
            qr_postings_block_freqs(&it, &f);
            acc += d[k - 1] + f[k - 1];
            qr_postings_next_block(&it);
        }
        check(it.err, "read");
        qr_postings_iter_free(&it);
    });
    printf("   full-block decode, doc ids + tfs: %.2e ints/s  (%.2e postings/s)\n", 2.0 * N / secs,
           N / secs);

    BEST_OF(secs, {
        check(qr_postings_iter_init(&it, ds, ps, &m), "init");
        while (it.doc != QR_DOC_END) {
            acc += qr_postings_freq(&it);
            qr_postings_next(&it);
        }
        check(it.err, "read");
        qr_postings_iter_free(&it);
    });
    printf("   next + freq, one doc at a time:   %.2e postings/s\n", N / secs);

    uint64_t seeks = 0;
    BEST_OF(secs, {
        seeks = 0;
        check(qr_postings_iter_init(&it, ds, ps, &m), "init");
        while (it.doc != QR_DOC_END) {
            qr_postings_seek(&it, it.doc + 1000);
            seeks++;
        }
        check(it.err, "read");
        qr_postings_iter_free(&it);
    });
    printf("   seek(doc + 1000):                 %.2e seeks/s (%llu seeks)\n", (double)seeks / secs,
           (unsigned long long)seeks);

    BEST_OF(secs, {
        check(qr_postings_iter_init(&it, ds, ps, &m), "init");
        while (it.doc != QR_DOC_END) {
            const uint32_t *p;
            uint32_t n;
            check(qr_postings_positions(&it, &p, &n), "positions");
            acc += p[n - 1];
            qr_postings_next(&it);
        }
        qr_postings_iter_free(&it);
    });
    printf("   next + positions:                 %.2e positions/s (%.2f bytes/position)\n",
           (double)st.positions / secs, (double)st.pos_bytes / (double)st.positions);

    BEST_OF(secs, {
        check(qr_postings_iter_init(&it, ds, ps, &m), "init");
        uint32_t i = 0;
        while (it.doc != QR_DOC_END) {
            if (i++ % 16 == 0) { /* a phrase-query pattern: positions of 1 doc in 16 */
                const uint32_t *p;
                uint32_t n;
                check(qr_postings_positions(&it, &p, &n), "positions");
                acc += p[0];
            }
            qr_postings_next(&it);
        }
        qr_postings_iter_free(&it);
    });
    printf("   next, positions of 1 doc in 16:   %.2e postings/s (the others skipped)\n", N / secs);
    sink += acc + count;
    qr_buf_free(&doc);
    qr_buf_free(&pos);
    free_term(&t);
}

/* ---- 3. a corpus ------------------------------------------------------------- */

/* Tokens of a corpus, in document order. */
typedef struct corpus {
    uint32_t ntok, captok;
    uint32_t *term, *doc, *pos; /* per token */
    uint32_t ndocs, capdocs;
    uint32_t *dl; /* per document */
    uint32_t nterms;
    /* term string -> id (DIR mode) */
    uint64_t *hash;
    uint32_t *slot_id; /* UINT32_MAX = empty */
    uint32_t slots;    /* power of two */
} corpus;

static void add_token(corpus *c, uint32_t term, uint32_t doc, uint32_t pos)
{
    if (c->ntok == c->captok) {
        c->captok = c->captok ? c->captok * 2 : 1 << 20;
        c->term = xrealloc(c->term, sizeof(uint32_t) * c->captok);
        c->doc = xrealloc(c->doc, sizeof(uint32_t) * c->captok);
        c->pos = xrealloc(c->pos, sizeof(uint32_t) * c->captok);
    }
    c->term[c->ntok] = term;
    c->doc[c->ntok] = doc;
    c->pos[c->ntok] = pos;
    c->ntok++;
}

static void add_doc(corpus *c, uint32_t dl)
{
    if (c->ndocs == c->capdocs) {
        c->capdocs = c->capdocs ? c->capdocs * 2 : 1024;
        c->dl = xrealloc(c->dl, sizeof(uint32_t) * c->capdocs);
    }
    c->dl[c->ndocs++] = dl;
}

static void synthetic_corpus(corpus *c)
{
    enum { DOCS = 20000, VOCAB = 200000 };
    double *cdf = xmalloc(sizeof(double) * VOCAB);
    double z = 0;
    for (uint32_t r = 0; r < VOCAB; r++)
        cdf[r] = (z += 1.0 / (r + 1));
    for (uint32_t r = 0; r < VOCAB; r++)
        cdf[r] /= z;
    c->nterms = VOCAB;
    for (uint32_t d = 0; d < DOCS; d++) {
        /* log-normal lengths, median 150 */
        double u1 = unif(), u2 = unif();
        double g = sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
        uint32_t dl = 1 + (uint32_t)(150 * exp(0.8 * g));
        for (uint32_t p = 0; p < dl; p++) {
            double u = unif();
            uint32_t lo = 0, hi = VOCAB - 1;
            while (lo < hi) {
                uint32_t mid = (lo + hi) / 2;
                if (cdf[mid] < u)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            add_token(c, lo, d, p);
        }
        add_doc(c, dl);
    }
    free(cdf);
}

/* ---- DIR mode: analyse real files ---- */

static char **paths;
static size_t npaths, cappaths;

static int collect(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_F) {
        if (npaths == cappaths) {
            cappaths = cappaths ? cappaths * 2 : 1024;
            paths = xrealloc(paths, sizeof(char *) * cappaths);
        }
        paths[npaths++] = strdup(path);
    }
    return 0;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint32_t term_id(corpus *c, const char *s, size_t len)
{
    if (c->nterms * 2 >= c->slots) {
        uint32_t old = c->slots;
        uint64_t *oh = c->hash;
        uint32_t *oi = c->slot_id;
        c->slots = old ? old * 2 : 1 << 16;
        c->hash = xmalloc(sizeof(uint64_t) * c->slots);
        c->slot_id = xmalloc(sizeof(uint32_t) * c->slots);
        memset(c->slot_id, 0xff, sizeof(uint32_t) * c->slots);
        for (uint32_t i = 0; i < old; i++) {
            if (oi[i] == UINT32_MAX)
                continue;
            uint32_t j = (uint32_t)oh[i] & (c->slots - 1);
            while (c->slot_id[j] != UINT32_MAX)
                j = (j + 1) & (c->slots - 1);
            c->hash[j] = oh[i];
            c->slot_id[j] = oi[i];
        }
        free(oh);
        free(oi);
    }
    /* a 64-bit hash stands for the string: a collision would merge two terms, */
    /* which cannot change the measured sizes noticeably */
    uint64_t h = XXH3_64bits(s, len);
    uint32_t j = (uint32_t)h & (c->slots - 1);
    while (c->slot_id[j] != UINT32_MAX) {
        if (c->hash[j] == h)
            return c->slot_id[j];
        j = (j + 1) & (c->slots - 1);
    }
    c->hash[j] = h;
    c->slot_id[j] = c->nterms;
    return c->nterms++;
}

typedef struct tok_ctx {
    corpus *c;
    uint32_t doc;
} tok_ctx;

static int on_token(void *ctx, const qr_token *tok)
{
    tok_ctx *t = ctx;
    add_token(t->c, term_id(t->c, tok->term, tok->len), t->doc, tok->pos);
    return 0;
}

static void dir_corpus(corpus *c, const char *dir)
{
    if (nftw(dir, collect, 32, FTW_PHYS) != 0) {
        perror(dir);
        exit(1);
    }
    qsort(paths, npaths, sizeof *paths, cmp_path);
    qr_analyzer *a;
    check(qr_analyzer_open(&a, "english"), "analyzer");
    char *text = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < npaths; i++) {
        FILE *f = fopen(paths[i], "rb");
        if (!f) {
            perror(paths[i]);
            exit(1);
        }
        size_t n = 0, got;
        do {
            if (cap - n < 65536) {
                cap = cap ? cap * 2 : 1 << 20;
                text = xrealloc(text, cap);
            }
            got = fread(text + n, 1, cap - n, f);
            n += got;
        } while (got > 0);
        fclose(f);
        tok_ctx t = {c, c->ndocs};
        uint32_t dl = 0;
        check(qr_analyze(a, text, n, 0, 0, on_token, &t, &dl), "analyze");
        add_doc(c, dl);
        free(paths[i]);
    }
    free(paths);
    free(text);
    qr_analyzer_close(a);
}

static void bench_corpus(const char *dir)
{
    corpus c = {0};
    double t0 = now();
    if (dir)
        dir_corpus(&c, dir);
    else
        synthetic_corpus(&c);
    double t_gen = now() - t0;

    /* group tokens by term, stably (so by doc, then position) */
    uint32_t *start = calloc((size_t)c.nterms + 1, sizeof(uint32_t));
    uint32_t *order = xmalloc(sizeof(uint32_t) * (c.ntok ? c.ntok : 1));
    if (!start) {
        fprintf(stderr, "bench_postings: out of memory\n");
        exit(1);
    }
    for (uint32_t i = 0; i < c.ntok; i++)
        start[c.term[i] + 1]++;
    for (uint32_t t = 0; t < c.nterms; t++)
        start[t + 1] += start[t];
    for (uint32_t i = 0; i < c.ntok; i++)
        order[start[c.term[i]]++] = i;
    for (uint32_t t = c.nterms; t > 0; t--)
        start[t] = start[t - 1];
    start[0] = 0;

    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w;
    check(qr_postings_writer_open(&w, &doc, &pos), "writer");
    qr_term_meta *metas = xmalloc(sizeof(qr_term_meta) * (c.nterms ? c.nterms : 1));
    uint32_t *pbuf = xmalloc(sizeof(uint32_t) * 1024);
    size_t pcap = 1024;
    uint32_t written = 0;
    uint64_t df1 = 0, big = 0;
    t0 = now();
    for (uint32_t t = 0; t < c.nterms; t++) {
        if (start[t] == start[t + 1])
            continue;
        qr_postings_begin(w);
        uint32_t df = 0;
        for (uint32_t k = start[t]; k < start[t + 1];) {
            uint32_t d = c.doc[order[k]], tf = 0;
            while (k < start[t + 1] && c.doc[order[k]] == d) {
                if (tf == pcap) {
                    pcap *= 2;
                    pbuf = xrealloc(pbuf, sizeof(uint32_t) * pcap);
                }
                pbuf[tf++] = c.pos[order[k++]];
            }
            check(qr_postings_add(w, d, tf, c.dl[d], pbuf), "add");
            df++;
        }
        check(qr_postings_end(w, &metas[written++]), "end");
        df1 += df == 1;
        big += df > QR_BLOCK;
    }
    double t_write = now() - t0;
    qr_postings_stats st;
    qr_postings_writer_stats(w, &st);
    qr_postings_writer_close(w);

    double np = (double)st.postings;
    printf("\n3. %s: %u docs, %llu terms (%.0f%% with df = 1, %llu with df > 128), "
           "%llu postings, %llu positions\n",
           dir ? dir : "synthetic Zipf corpus", c.ndocs, (unsigned long long)st.terms,
           100.0 * (double)df1 / (double)st.terms, (unsigned long long)big,
           (unsigned long long)st.postings, (unsigned long long)st.positions);
    printf("   doc ids %.2f bits, tfs %.2f bits, skip entries %.2f bits, heads %.2f bits "
           "per posting\n",
           8 * (double)st.doc_bytes / np, 8 * (double)st.freq_bytes / np,
           8 * (double)st.skip_bytes / np, 8 * (double)st.head_bytes / np);
    printf("   doc stream %.2f bits/posting in all (%.1f MB); positions %.2f bytes/position "
           "(%.1f MB)\n",
           8.0 * (double)doc.n / np, (double)doc.n / 1e6,
           (double)st.pos_bytes / (double)st.positions, (double)pos.n / 1e6);
    printf("   (corpus built in %.1f s, postings written in %.2f s)\n", t_gen, t_write);

    /* read every term back: docs and tfs, block at a time */
    qr_slice ds = {doc.p, doc.n}, ps = {pos.p, pos.n};
    double secs;
    uint64_t acc = 0;
    BEST_OF(secs, {
        for (uint32_t t = 0; t < written; t++) {
            qr_postings_iter it;
            check(qr_postings_iter_init(&it, ds, ps, &metas[t]), "init");
            const uint32_t *d, *f;
            uint32_t k;
            while ((k = qr_postings_block_docs(&it, &d)) > 0) {
                qr_postings_block_freqs(&it, &f);
                acc += d[0] + f[0];
                qr_postings_next_block(&it);
            }
            check(it.err, "read");
            qr_postings_iter_free(&it);
        }
    });
    printf("   every term read back, docs + tfs: %.2e postings/s (%.2e ints/s)\n", np / secs,
           2 * np / secs);
    /* and with every doc's positions (the phrase and NEAR workload) */
    BEST_OF(secs, {
        for (uint32_t t = 0; t < written; t++) {
            qr_postings_iter it;
            check(qr_postings_iter_init(&it, ds, ps, &metas[t]), "init");
            while (it.doc != QR_DOC_END) {
                const uint32_t *p;
                uint32_t n;
                check(qr_postings_positions(&it, &p, &n), "positions");
                acc += p[n - 1];
                qr_postings_next(&it);
            }
            check(it.err, "read");
            qr_postings_iter_free(&it);
        }
    });
    printf("   every term read back with positions: %.2e positions/s (%.2e postings/s)\n",
           (double)st.positions / secs, np / secs);
    sink += acc;
    free(metas);
    free(pbuf);
    free(start);
    free(order);
    free(c.term);
    free(c.doc);
    free(c.pos);
    free(c.dl);
    free(c.hash);
    free(c.slot_id);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: bench_postings [DIR]\n");
        return 2;
    }
#ifdef __SSE2__
    printf("bench_postings: SSE2 decoder\n\n");
#else
    printf("bench_postings: portable decoder\n\n");
#endif
    bench_unpack();
    bench_term();
    bench_corpus(argc == 2 ? argv[1] : NULL);
    return 0;
}
