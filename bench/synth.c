/*
 * The synthetic corpus generator (see synth.h): a two-regime Zipf sampler
 * (Vose's alias method, O(1) a word), a rank-to-spelling bijection over a
 * table of 960 syllables, and a document writer that lays words out as a
 * title, sentences and paragraphs.
 */
#include "bench/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/rng.h"
#include "storage/alloc.h"
#include "storage/status.h"

struct qr_synth {
    qr_synth_options opt; /* with the defaults filled in */
    float *prob;          /* alias method: keep i with probability prob[i] ... */
    uint32_t *alias;      /* ... else take alias[i] */
};

/* 20 onsets x 6 nuclei x 8 codas = 960 syllables. A word splits into syllables in exactly
 * one way (so spellings are distinct): every syllable starts with an onset, no coda is an
 * onset's first letters plus more, and no coda + onset reads as another coda + onset. */
static const char *const onsets[20] = {"b", "c", "d", "f", "g", "h", "k",  "l",  "m",  "n",
                                       "p", "r", "s", "t", "v", "w", "br", "ch", "pl", "tr"};
static const char *const nuclei[6] = {"a", "e", "i", "o", "u", "ou"};
static const char *const codas[8] = {"", "n", "r", "l", "s", "m", "nd", "ng"};
#define NSYL 960u

static size_t put_syllable(char *out, uint32_t s)
{
    /* A fixed permutation (397 is prime to 960) spreads onsets over the frequent ranks. */
    s = (uint32_t)(((uint64_t)s * 397u) % NSYL);
    size_t n = 0;
    for (const char *p = onsets[s % 20]; *p; p++)
        out[n++] = *p;
    for (const char *p = nuclei[(s / 20) % 6]; *p; p++)
        out[n++] = *p;
    for (const char *p = codas[s / 120]; *p; p++)
        out[n++] = *p;
    return n;
}

size_t qr_synth_word(uint32_t r, char *out)
{
    /* Bijective base-960 numbering by length: ranks [0, 960) are one syllable, the next
     * 960^2 two, then three, four (2^32 < 960 + 960^2 + 960^3 + 960^4). The fast-varying
     * digit comes first so that neighbouring ranks do not share a prefix. */
    uint64_t x = r, span = NSYL;
    unsigned nsyl = 1;
    while (x >= span) {
        x -= span;
        span *= NSYL;
        nsyl++;
    }
    size_t n = 0;
    for (unsigned i = 0; i < nsyl; i++) {
        n += put_syllable(out + n, (uint32_t)(x % NSYL));
        x /= NSYL;
    }
    out[n] = '\0';
    return n;
}

void qr_synth_path(uint64_t i, char *out, size_t cap)
{
    snprintf(out, cap, "%04llu/%07llu.txt", (unsigned long long)(i / 1000), (unsigned long long)i);
}

int qr_synth_open(qr_synth **out, const qr_synth_options *opt)
{
    qr_synth_options o = opt ? *opt : (qr_synth_options){0};
    if (!o.vocab)
        o.vocab = 2000000;
    if (!o.head)
        o.head = 10000;
    if (o.head > o.vocab)
        o.head = o.vocab;
    if (o.median_words == 0)
        o.median_words = 250;
    if (o.sigma == 0)
        o.sigma = 0.8;
    if (o.colloc == 0)
        o.colloc = 0.25;
    else if (o.colloc < 0)
        o.colloc = 0;
    if (!(o.median_words >= 1 && o.median_words <= 1e6) || !(o.sigma > 0 && o.sigma <= 4) ||
        o.colloc > 1)
        return QR_EINVAL;

    int rc = QR_ENOMEM;
    qr_synth *s = qr_calloc(1, sizeof *s);
    double *w = NULL;
    uint32_t *small = NULL, *large = NULL;
    if (!s)
        return QR_ENOMEM;
    s->opt = o;
    uint32_t v = o.vocab;
    s->prob = qr_calloc(v, sizeof *s->prob);
    s->alias = qr_calloc(v, sizeof *s->alias);
    w = qr_calloc(v, sizeof *w);
    small = qr_calloc(v, sizeof *small);
    large = qr_calloc(v, sizeof *large);
    if (!s->prob || !s->alias || !w || !small || !large)
        goto out;

    /* Vose's alias method over w(r) = 1/r (r <= head), head/r^2 beyond (1-based ranks). */
    double sum = 0;
    for (uint32_t i = 0; i < v; i++) {
        double r = (double)i + 1;
        w[i] = r <= o.head ? 1.0 / r : (double)o.head / (r * r);
        sum += w[i];
    }
    size_t ns = 0, nl = 0;
    for (uint32_t i = 0; i < v; i++) {
        w[i] = w[i] * v / sum;
        if (w[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        uint32_t a = small[--ns], b = large[--nl];
        s->prob[a] = (float)w[a];
        s->alias[a] = b;
        w[b] = (w[b] + w[a]) - 1.0;
        if (w[b] < 1.0)
            small[ns++] = b;
        else
            large[nl++] = b;
    }
    while (nl) {
        uint32_t b = large[--nl];
        s->prob[b] = 1.0f;
        s->alias[b] = b;
    }
    while (ns) { /* rounding leftovers */
        uint32_t a = small[--ns];
        s->prob[a] = 1.0f;
        s->alias[a] = a;
    }
    rc = 0;
    *out = s;
    s = NULL;
out:
    qr_free(w);
    qr_free(small);
    qr_free(large);
    qr_synth_close(s);
    return rc;
}

void qr_synth_close(qr_synth *s)
{
    if (!s)
        return;
    qr_free(s->prob);
    qr_free(s->alias);
    qr_free(s);
}

static uint32_t draw(const qr_synth *s, qr_rng *r)
{
    uint64_t x = qr_rng_next(r);
    uint32_t i = (uint32_t)((x >> 32) % s->opt.vocab);
    float u = (float)(x & 0xffffffu) * (1.0f / 16777216.0f);
    return u < s->prob[i] ? i : s->alias[i];
}

/* The fixed collocate of word w: a Zipf draw seeded by (seed, w). */
static uint32_t collocate(const qr_synth *s, uint32_t w)
{
    qr_rng r;
    qr_rng_seed(&r, s->opt.seed * 0x9e3779b97f4a7c15ull ^ ((uint64_t)w << 1 | 1));
    return draw(s, &r);
}

static double normal(qr_rng *r)
{
    double u1 = 1.0 - qr_rng_unif(r), u2 = qr_rng_unif(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* The word state of one document: the previous word, for collocations. */
struct gen {
    const qr_synth *s;
    qr_rng rng;
    uint32_t prev;
    int have_prev;
};

static void put_word(struct gen *g, qr_buf *out, int capital)
{
    char w[96];
    size_t n;
    double u = qr_rng_unif(&g->rng);
    if (u < 0.01) { /* a number: a year or a count */
        unsigned v = qr_rng_unif(&g->rng) < 0.5 ? 1900 + (unsigned)qr_rng_below(&g->rng, 125)
                                                : 1 + (unsigned)qr_rng_below(&g->rng, 999);
        n = (size_t)snprintf(w, sizeof w, "%u", v);
        g->have_prev = 0;
    } else {
        uint32_t r = g->have_prev && qr_rng_unif(&g->rng) < g->s->opt.colloc
                         ? collocate(g->s, g->prev)
                         : draw(g->s, &g->rng);
        n = qr_synth_word(r, w);
        if (u > 0.995) { /* a hyphenated compound */
            w[n++] = '-';
            n += qr_synth_word(draw(g->s, &g->rng), w + n);
        }
        g->prev = r;
        g->have_prev = 1;
    }
    if (capital && w[0] >= 'a' && w[0] <= 'z')
        w[0] = (char)(w[0] - 'a' + 'A');
    qr_buf_put(out, w, n);
}

int qr_synth_doc(const qr_synth *s, uint64_t i, qr_buf *out)
{
    struct gen g = {.s = s};
    qr_rng_seed(&g.rng, s->opt.seed ^ (i + 1) * 0xd1342543de82ef95ull);
    /* title */
    unsigned tw = 4 + (unsigned)qr_rng_below(&g.rng, 9);
    for (unsigned k = 0; k < tw; k++) {
        if (k)
            qr_buf_put_u8(out, ' ');
        put_word(&g, out, k == 0);
    }
    qr_buf_put(out, "\n\n", 2);
    /* body */
    double len = exp(log(s->opt.median_words) + s->opt.sigma * normal(&g.rng));
    uint64_t words = len < 10 ? 10 : len > 20000 ? 20000 : (uint64_t)len;
    unsigned in_para = 0, para_len = 3 + (unsigned)qr_rng_below(&g.rng, 4);
    while (words > 0) {
        uint64_t sl = 5 + qr_rng_below(&g.rng, 26);
        if (sl > words)
            sl = words;
        g.have_prev = 0;
        for (uint64_t k = 0; k < sl; k++) {
            put_word(&g, out, k == 0);
            if (k + 1 == sl)
                qr_buf_put_u8(out, '.');
            else if (qr_rng_unif(&g.rng) < 0.06)
                qr_buf_put(out, ", ", 2);
            else
                qr_buf_put_u8(out, ' ');
        }
        words -= sl;
        if (++in_para == para_len && words > 0) {
            qr_buf_put(out, "\n\n", 2);
            in_para = 0;
            para_len = 3 + (unsigned)qr_rng_below(&g.rng, 4);
        } else if (words > 0) {
            qr_buf_put_u8(out, ' ');
        }
    }
    qr_buf_put_u8(out, '\n');
    return out->err;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST)
        return 0;
    return QR_EIO;
}

int qr_synth_write(const qr_synth *s, const char *dir, uint64_t n, uint64_t *out_bytes)
{
    qr_buf text = {0};
    char path[4096], rel[64];
    uint64_t bytes = 0;
    int rc = make_dir(dir);
    for (uint64_t i = 0; i < n && !rc; i++) {
        qr_synth_path(i, rel, sizeof rel);
        if (i % 1000 == 0) {
            snprintf(path, sizeof path, "%s/%04llu", dir, (unsigned long long)(i / 1000));
            if ((rc = make_dir(path)))
                break;
        }
        qr_buf_reset(&text);
        if ((rc = qr_synth_doc(s, i, &text)))
            break;
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        FILE *f = fopen(path, "wb");
        if (!f) {
            rc = QR_EIO;
            break;
        }
        size_t wrote = fwrite(text.p, 1, text.n, f);
        if (fclose(f) != 0 || wrote != text.n)
            rc = QR_EIO;
        bytes += text.n;
    }
    qr_buf_free(&text);
    if (out_bytes)
        *out_bytes = bytes;
    return rc;
}
