/*
 * Tests for storage/termdict.c: round trips at block-boundary sizes against a
 * reference array (exact lookups, absent terms, prefix ranges compared with a
 * brute-force filter, and qr_termdict_collect against qr_termdict_next
 * there and under damage), writer misuse, every byte flip and truncation of
 * a small dictionary, and allocation failure at each allocation.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/status.h"
#include "storage/termdict.h"

typedef struct rterm {
    uint8_t b[255];
    size_t n;
    qr_term_meta m;
} rterm;

static uint64_t rng_state;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, seeded per test */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0; /* an empty run may be NULL */
    if (c)
        return c;
    return an < bn ? -1 : an > bn;
}

static int cmp_rterm(const void *x, const void *y)
{
    const rterm *a = x, *b = y;
    return cmp_bytes(a->b, a->n, b->b, b->n);
}

/* A random term over a small alphabet (shared prefixes), with 0x00 and 0xff bytes. */
static void random_term(uint8_t *b, size_t *n)
{
    static const uint8_t alpha[] = {'a', 'b', 'c', 'd', 'e', 'm', 0x00, 0xff};
    size_t len = 1 + rnd() % 12;
    if (rnd() % 100 == 0)
        len = 1 + rnd() % 255; /* a few long ones, up to the limit */
    for (size_t i = 0; i < len; i++)
        b[i] = alpha[rnd() % sizeof alpha];
    *n = len;
}

/* n random sorted unique terms with random metas (offsets increasing, as postings make them). */
static rterm *make_terms(size_t want, size_t *out_n, uint64_t seed)
{
    rng_state = seed;
    rterm *t = calloc(want ? want : 1, sizeof *t);
    cr_assert(t);
    size_t n = 0;
    while (n < want) {
        size_t batch = want - n;
        for (size_t i = 0; i < batch; i++)
            random_term(t[n + i].b, &t[n + i].n);
        n += batch;
        qsort(t, n, sizeof *t, cmp_rterm);
        size_t u = 0;
        for (size_t i = 0; i < n; i++)
            if (u == 0 || cmp_rterm(&t[u - 1], &t[i]) != 0)
                t[u++] = t[i];
        n = u;
    }
    uint64_t doc = rnd() % 1000, pos = rnd() % 1000;
    for (size_t i = 0; i < n; i++) {
        t[i].m.df = (uint32_t)(1 + rnd() % (rnd() % 8 == 0 ? 1000000 : 10));
        t[i].m.ttf = t[i].m.df + (rnd() % 4 == 0 ? rnd() % 100000 : 0);
        t[i].m.doc_off = doc;
        t[i].m.pos_off = pos;
        doc += rnd() % 300;
        pos += rnd() % 3000;
    }
    *out_n = n;
    return t;
}

static void build(qr_buf *img, const rterm *t, size_t n)
{
    qr_termdict_writer *w;
    cr_assert_eq(qr_termdict_writer_open(&w), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(qr_termdict_add(w, (const char *)t[i].b, t[i].n, &t[i].m), 0, "term %zu", i);
    cr_assert_eq(qr_termdict_writer_count(w), n);
    cr_assert_eq(qr_termdict_finish(w, img), 0);
    qr_termdict_writer_close(w);
}

static bool meta_eq(const qr_term_meta *a, const qr_term_meta *b)
{
    return a->df == b->df && a->ttf == b->ttf && a->doc_off == b->doc_off &&
           a->pos_off == b->pos_off;
}

static bool in_ref(const rterm *t, size_t n, const uint8_t *b, size_t len)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_bytes(t[mid].b, t[mid].n, b, len);
        if (c == 0)
            return true;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static void check_absent(const qr_termdict *d, const rterm *t, size_t n, const uint8_t *b,
                         size_t len)
{
    if (in_ref(t, n, b, len))
        return;
    qr_term_meta m;
    cr_assert_eq(qr_termdict_get(d, (const char *)b, len, &m), QR_ENOTFOUND);
}

/*
 * qr_termdict_collect over prefix p, from a fresh iterator after `skip`
 * calls of qr_termdict_next, against qr_termdict_next to the end: the same
 * terms and metas (each term's bytes NUL-terminated at its offset), and the
 * same outcome (0, or QR_ECORRUPT after the same terms, sticky after it).
 * Returns that outcome.
 */
static int collect_agrees(const qr_termdict *d, const uint8_t *p, size_t plen, size_t skip)
{
    qr_termdict_iter a, b;
    if (qr_termdict_iter_init(&a, d, (const char *)p, plen))
        return QR_EINVAL;
    cr_assert_eq(qr_termdict_iter_init(&b, d, (const char *)p, plen), 0);
    qr_slice term;
    qr_term_meta m;
    int rb = 1;
    for (size_t i = 0; i < skip && rb == 1; i++) {
        cr_assert_eq(qr_termdict_next(&a, &term, &m), (rb = qr_termdict_next(&b, &term, &m)));
    }
    qr_buf bytes = {0};
    qr_buf_put(&bytes, "x", 1); /* offsets are where the terms went, not from 0 */
    qr_termdict_ent *v = NULL;
    size_t n = 0, cap = 0;
    int ra = rb == 1 ? qr_termdict_collect(&a, &bytes, &v, &n, &cap) : rb;
    size_t i = 0;
    while (rb == 1 && (rb = qr_termdict_next(&b, &term, &m)) == 1) {
        cr_assert_lt(i, n, "collect stopped early (%d)", ra);
        cr_assert_eq(v[i].len, term.n);
        cr_assert_eq(memcmp(bytes.p + v[i].off, term.p, term.n), 0);
        cr_assert_eq(bytes.p[v[i].off + v[i].len], 0);
        cr_assert(meta_eq(&v[i].meta, &m));
        i++;
    }
    cr_assert_eq(i, n, "collect gave %zu terms, next %zu", n, i);
    cr_assert_eq(ra, rb);
    cr_assert(cap >= n);
    cr_assert_eq(qr_termdict_next(&a, &term, &m), ra, "the iterator ends as next's does");
    qr_free(v);
    qr_buf_free(&bytes);
    return ra;
}

/* Iterates prefix p and compares with a brute-force filter of the reference. */
static void check_prefix(const qr_termdict *d, const rterm *t, size_t n, const uint8_t *p,
                         size_t plen)
{
    qr_termdict_iter it;
    cr_assert_eq(qr_termdict_iter_init(&it, d, (const char *)p, plen), 0);
    size_t i = 0;
    qr_slice term;
    qr_term_meta m;
    int rc;
    for (;;) {
        while (i < n && !(t[i].n >= plen && memcmp(t[i].b, p, plen) == 0))
            i++;
        rc = qr_termdict_next(&it, &term, &m);
        if (i == n)
            break;
        cr_assert_eq(rc, 1, "prefix of %zu bytes: term %zu missing", plen, i);
        cr_assert_eq(cmp_bytes(term.p, term.n, t[i].b, t[i].n), 0, "prefix range order");
        cr_assert(meta_eq(&m, &t[i].m));
        i++;
    }
    cr_assert_eq(rc, 0, "prefix of %zu bytes: extra term", plen);
    cr_assert_eq(qr_termdict_next(&it, &term, &m), 0, "stays done");
    cr_assert_eq(collect_agrees(d, p, plen, 0), 0);
    cr_assert_eq(collect_agrees(d, p, plen, 1), 0);
    cr_assert_eq(collect_agrees(d, p, plen, 40), 0); /* from the middle of a later block */
}

static void roundtrip(size_t want, uint64_t seed, size_t nprefixes)
{
    size_t n;
    rterm *t = make_terms(want, &n, seed);
    cr_assert_eq(n, want);
    qr_buf img = {0};
    build(&img, t, n);
    qr_termdict *d;
    cr_assert_eq(qr_termdict_open(&d, (qr_slice){img.p, img.n}, true), 0);
    cr_assert_eq(qr_termdict_count(d), n);
    uint64_t sdf = 0, sttf = 0;
    for (size_t i = 0; i < n; i++) {
        sdf += t[i].m.df;
        sttf += t[i].m.ttf;
    }
    cr_assert_eq(qr_termdict_sum_df(d), sdf);
    cr_assert_eq(qr_termdict_sum_ttf(d), sttf);

    /* every term hits */
    for (size_t i = 0; i < n; i++) {
        qr_term_meta m;
        cr_assert_eq(qr_termdict_get(d, (const char *)t[i].b, t[i].n, &m), 0, "term %zu", i);
        cr_assert(meta_eq(&m, &t[i].m), "meta of term %zu", i);
    }
    /* absent: before everything, between neighbours, after everything, random */
    uint8_t b[256];
    check_absent(d, t, n, (const uint8_t *)"", 0);
    b[0] = 0x00;
    check_absent(d, t, n, b, 1);
    check_absent(d, t, n, (const uint8_t *)"A", 1);
    memset(b, 0xff, 255);
    check_absent(d, t, n, b, 255);
    check_absent(d, t, n, b, 256);
    for (size_t i = 0; i < n; i++) {
        memcpy(b, t[i].b, t[i].n);
        if (t[i].n < 255) {
            b[t[i].n] = 0x01; /* just after t[i] */
            check_absent(d, t, n, b, t[i].n + 1);
        }
        if (t[i].n > 1)
            check_absent(d, t, n, b, t[i].n - 1); /* a prefix of it */
        if (i % 7 == 0) {
            size_t len;
            random_term(b, &len);
            check_absent(d, t, n, b, len);
        }
    }
    /* prefixes */
    check_prefix(d, t, n, (const uint8_t *)"", 0);
    check_prefix(d, t, n, (const uint8_t *)"\xff", 1);
    check_prefix(d, t, n, (const uint8_t *)"\xff\xff", 2);
    check_prefix(d, t, n, (const uint8_t *)"\x00", 1);
    check_prefix(d, t, n, (const uint8_t *)"z", 1); /* after every term */
    check_prefix(d, t, n, (const uint8_t *)"A", 1); /* before every term */
    memset(b, 0xff, 255);
    check_prefix(d, t, n, b, 255);
    for (size_t k = 0; k < nprefixes && n > 0; k++) {
        const rterm *r = &t[rnd() % n];
        size_t plen = 1 + rnd() % r->n;
        memcpy(b, r->b, plen);
        if (k % 5 == 4 && plen < 255)
            b[plen++] = 'z'; /* most likely absent */
        if (k % 11 == 10) {
            memcpy(b, r->b, r->n);
            memset(b + r->n, 'a', 255 - r->n); /* longer than every term */
            plen = 255;
        }
        check_prefix(d, t, n, b, plen);
    }
    qr_termdict_iter it;
    cr_assert_eq(qr_termdict_iter_init(&it, d, (const char *)b, 256), QR_EINVAL);
    qr_termdict_close(d);
    qr_buf_free(&img);
    free(t);
}

Test(termdict, roundtrip_0)
{
    roundtrip(0, 1, 10);
}

Test(termdict, roundtrip_1)
{
    roundtrip(1, 2, 10);
}

Test(termdict, roundtrip_31_32_33)
{
    roundtrip(31, 33, 50);
    roundtrip(32, 34, 50);
    roundtrip(33, 35, 50);
}

Test(termdict, roundtrip_63_64_65)
{
    roundtrip(63, 30, 50);
    roundtrip(64, 31, 50);
    roundtrip(65, 32, 50);
}

Test(termdict, roundtrip_127)
{
    roundtrip(127, 3, 100);
}

Test(termdict, roundtrip_128)
{
    roundtrip(128, 4, 100);
}

Test(termdict, roundtrip_129)
{
    roundtrip(129, 5, 100);
}

Test(termdict, roundtrip_10000)
{
    roundtrip(10000, 6, 300);
}

Test(termdict, roundtrip_200000, .timeout = 300)
{
    roundtrip(200000, 7, 60);
}

/* Terms sharing up to 254 bytes, suffixes short and long: every copy path of the decoders. */
Test(termdict, long_shared_prefixes)
{
    rng_state = 21;
    size_t want = 300, n = 0;
    rterm *t = calloc(want, sizeof *t);
    cr_assert(t);
    for (size_t i = 0; i < want; i++) {
        size_t shared = 200 + rnd() % 55, len = shared + 1 + rnd() % (rnd() % 3 ? 3 : 40);
        len = len > 255 ? 255 : len;
        memset(t[i].b, 'q', shared);
        for (size_t j = shared; j < len; j++)
            t[i].b[j] = (uint8_t)('a' + rnd() % 3);
        t[i].n = len;
    }
    qsort(t, want, sizeof *t, cmp_rterm);
    for (size_t i = 0; i < want; i++)
        if (n == 0 || cmp_rterm(&t[n - 1], &t[i]) != 0)
            t[n++] = t[i];
    for (size_t i = 0; i < n; i++)
        t[i].m = (qr_term_meta){(uint32_t)(1 + i), 1 + i + i % 7, i * 3, i * 5};
    qr_buf img = {0};
    build(&img, t, n);
    qr_termdict *d;
    cr_assert_eq(qr_termdict_open(&d, (qr_slice){img.p, img.n}, true), 0);
    uint8_t b[256];
    for (size_t i = 0; i < n; i++) {
        qr_term_meta m;
        cr_assert_eq(qr_termdict_get(d, (const char *)t[i].b, t[i].n, &m), 0, "term %zu", i);
        cr_assert(meta_eq(&m, &t[i].m), "meta of term %zu", i);
        memcpy(b, t[i].b, t[i].n);
        if (t[i].n < 255) {
            b[t[i].n] = 'b';
            check_absent(d, t, n, b, t[i].n + 1);
        }
        check_absent(d, t, n, b, t[i].n - 1);
    }
    memset(b, 'q', 255);
    check_prefix(d, t, n, b, 0);
    check_prefix(d, t, n, b, 200);
    check_prefix(d, t, n, b, 230);
    check_prefix(d, t, n, b, 250);
    qr_termdict_close(d);
    qr_buf_free(&img);
    free(t);
}

Test(termdict, empty_image_layout)
{
    qr_buf img = {0};
    build(&img, NULL, 0);
    /* header 8 + trailer 40 + footer 12 */
    cr_assert_eq(img.n, 60);
    qr_termdict *d;
    cr_assert_eq(qr_termdict_open(&d, (qr_slice){img.p, img.n}, true), 0);
    qr_term_meta m;
    cr_assert_eq(qr_termdict_get(d, "a", 1, &m), QR_ENOTFOUND);
    qr_termdict_iter it;
    qr_slice s;
    cr_assert_eq(qr_termdict_iter_init(&it, d, "", 0), 0);
    cr_assert_eq(qr_termdict_next(&it, &s, &m), 0);
    qr_termdict_close(d);
    qr_buf_free(&img);
}

Test(termdict, finish_appends_a_whole_file)
{
    /* The image is self-contained even after bytes already in the buffer. */
    qr_buf img = {0};
    qr_buf_put(&img, "junk", 4);
    qr_termdict_writer *w;
    cr_assert_eq(qr_termdict_writer_open(&w), 0);
    qr_term_meta m = {1, 1, 0, 0};
    cr_assert_eq(qr_termdict_add(w, "x", 1, &m), 0);
    cr_assert_eq(qr_termdict_finish(w, &img), 0);
    qr_termdict_writer_close(w);
    qr_termdict *d;
    cr_assert_eq(qr_termdict_open(&d, (qr_slice){img.p + 4, img.n - 4}, true), 0);
    cr_assert_eq(qr_termdict_get(d, "x", 1, &m), 0);
    qr_termdict_close(d);
    qr_buf_free(&img);
}

Test(termdict, writer_misuse_is_einval)
{
    qr_termdict_writer *w;
    cr_assert_eq(qr_termdict_writer_open(&w), 0);
    qr_term_meta m = {2, 3, 10, 20};
    char big[256];
    memset(big, 'q', sizeof big);
    cr_assert_eq(qr_termdict_add(w, "b", 0, &m), QR_EINVAL, "empty term");
    cr_assert_eq(qr_termdict_add(w, big, 256, &m), QR_EINVAL, "term over 255 bytes");
    cr_assert_eq(qr_termdict_add(w, big, 255, &m), 0, "255 bytes is fine");
    cr_assert_eq(qr_termdict_add(w, "b", 1, &m), QR_EINVAL, "unsorted");
    cr_assert_eq(qr_termdict_add(w, big, 255, &m), QR_EINVAL, "duplicate");
    qr_term_meta bad = {5, 4, 10, 20};
    cr_assert_eq(qr_termdict_add(w, "r", 1, &bad), QR_EINVAL, "ttf < df");
    qr_term_meta back = {1, 1, 9, 20};
    cr_assert_eq(qr_termdict_add(w, "r", 1, &back), QR_EINVAL, "doc offset going back");
    back = (qr_term_meta){1, 1, 10, 19};
    cr_assert_eq(qr_termdict_add(w, "r", 1, &back), QR_EINVAL, "pos offset going back");
    cr_assert_eq(qr_termdict_add(w, "r", 1, &m), 0, "equal offsets are fine");
    cr_assert_eq(qr_termdict_writer_count(w), 2);
    qr_termdict_writer_close(w);
    qr_termdict_writer_close(NULL);
    qr_termdict_close(NULL);
}

/* Exercises every read path of a (possibly damaged) dictionary; must never crash. */
static void read_everything(const qr_termdict *d, const rterm *t, size_t n)
{
    qr_term_meta m;
    for (size_t i = 0; i < n; i++)
        (void)qr_termdict_get(d, (const char *)t[i].b, t[i].n, &m);
    (void)qr_termdict_get(d, "zzz", 3, &m);
    static const char *prefixes[] = {"", "a", "b", "d", "m", "\xff", "ab", "zz"};
    for (size_t k = 0; k < sizeof prefixes / sizeof *prefixes; k++) {
        qr_termdict_iter it;
        qr_slice s;
        if (qr_termdict_iter_init(&it, d, prefixes[k], strlen(prefixes[k])))
            continue;
        while (qr_termdict_next(&it, &s, &m) == 1)
            cr_assert(s.n >= 1 && s.n <= 255);
        int rc = collect_agrees(d, (const uint8_t *)prefixes[k], strlen(prefixes[k]), 0);
        cr_assert(rc == 0 || rc == QR_ECORRUPT, "%d", rc);
        collect_agrees(d, (const uint8_t *)prefixes[k], strlen(prefixes[k]), 3);
    }
}

Test(termdict, every_flip_and_truncation_detected, .timeout = 300)
{
    size_t n;
    rterm *t = make_terms(150, &n, 11);
    qr_buf img = {0};
    build(&img, t, n);
    size_t errors_seen = 0, opened = 0;
    /* an exact-size copy, so ASan sees any read past the image */
    uint8_t *c = malloc(img.n);
    memcpy(c, img.p, img.n);
    for (size_t i = 0; i < img.n; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            c[i] ^= (uint8_t)(1u << bit);
            qr_termdict *d = NULL;
            int rc = qr_termdict_open(&d, (qr_slice){c, img.n}, true);
            cr_assert_eq(rc, QR_ECORRUPT, "flip at %zu bit %d: %d", i, bit, rc);
            rc = qr_termdict_open(&d, (qr_slice){c, img.n}, false);
            if (i >= 4 && i < 8)
                cr_assert_eq(rc, QR_EVERSION, "version flip at %zu", i);
            if (rc == 0) {
                opened++;
                read_everything(d, t, n);
                qr_termdict_close(d);
            } else {
                errors_seen++;
                cr_assert(rc == QR_ECORRUPT || rc == QR_EVERSION);
            }
            c[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(c);
    cr_assert(errors_seen > 0);
    cr_assert(opened > 0, "unverified damage in the blocks is read, not refused at open");
    for (size_t len = 0; len < img.n; len++) {
        qr_termdict *d = NULL;
        /* a copy of exactly len bytes, so ASan sees any read past it */
        uint8_t *cut = malloc(len ? len : 1);
        memcpy(cut, img.p, len);
        cr_assert_eq(qr_termdict_open(&d, (qr_slice){cut, len}, true), QR_ECORRUPT, "len %zu", len);
        if (qr_termdict_open(&d, (qr_slice){cut, len}, false) == 0) {
            read_everything(d, t, n);
            qr_termdict_close(d);
        }
        free(cut);
    }
    qr_buf_free(&img);
    free(t);
}

/*
 * Structural damage behind a valid checksum (as a buggy writer or a
 * recomputed footer would make): the reader must still report QR_ECORRUPT.
 */
static void refooter(qr_buf *img)
{
    qr_store_u64(img->p + img->n - 8, qr_checksum(img->p, img->n - 8));
}

Test(termdict, structural_damage_behind_a_valid_checksum)
{
    size_t n;
    rterm *t = make_terms(200, &n, 12);
    qr_buf img = {0};
    build(&img, t, n);
    size_t body_end = img.n - QR_FILE_FOOTER_SIZE;
    size_t tr = body_end - 40;
    qr_termdict *d;
    struct {
        size_t at;
        uint64_t v;
        int width;
    } cases[] = {
        {tr + 0, 100, 8},       /* terms disagree with nblocks */
        {tr + 0, 0, 8},         /* no terms but blocks */
        {tr + 24, 1u << 30, 8}, /* index offset past the end */
        {tr + 32, 1000, 4},     /* nblocks */
        {tr + 36, 0, 4},        /* zero terms per block */
        {tr + 36, 1u << 20, 4}, /* absurd block size */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        qr_buf c = {0};
        qr_buf_put(&c, img.p, img.n);
        if (cases[k].width == 8)
            qr_store_u64(c.p + cases[k].at, cases[k].v);
        else
            qr_store_u32(c.p + cases[k].at, (uint32_t)cases[k].v);
        refooter(&c);
        cr_assert_eq(qr_termdict_open(&d, (qr_slice){c.p, c.n}, true), QR_ECORRUPT, "case %zu", k);
        qr_buf_free(&c);
    }
    /* swap two terms' order inside a block: lookups and iteration notice */
    qr_termdict_writer *w;
    cr_assert_eq(qr_termdict_writer_open(&w), 0);
    qr_term_meta m = {1, 1, 0, 0};
    cr_assert_eq(qr_termdict_add(w, "aa", 2, &m), 0);
    cr_assert_eq(qr_termdict_add(w, "ab", 2, &m), 0);
    cr_assert_eq(qr_termdict_add(w, "ac", 2, &m), 0);
    qr_buf s = {0};
    cr_assert_eq(qr_termdict_finish(w, &s), 0);
    qr_termdict_writer_close(w);
    /* blocks start at byte 8: first entry meta (4 bytes), then shared=1 suffix_len=1 'b' */
    cr_assert_eq(s.p[8 + 4 + 2], 'b');
    s.p[8 + 4 + 2] = 'a'; /* "aa" after "aa": not increasing */
    refooter(&s);
    cr_assert_eq(qr_termdict_open(&d, (qr_slice){s.p, s.n}, true), 0);
    cr_assert_eq(qr_termdict_get(d, "ac", 2, &m), QR_ECORRUPT);
    qr_termdict_iter it;
    qr_slice ts;
    cr_assert_eq(qr_termdict_iter_init(&it, d, "a", 1), 0);
    cr_assert_eq(qr_termdict_next(&it, &ts, &m), 1);
    cr_assert_eq(qr_termdict_next(&it, &ts, &m), QR_ECORRUPT);
    cr_assert_eq(qr_termdict_next(&it, &ts, &m), QR_ECORRUPT, "sticky");
    qr_termdict_close(d);
    qr_buf_free(&s);
    qr_buf_free(&img);
    free(t);
}

/* Exact lookup the slow way: a prefix iteration from the key, stopping at the key itself. */
static int iter_get(const qr_termdict *d, const uint8_t *key, size_t len, qr_term_meta *out)
{
    qr_termdict_iter it;
    if (qr_termdict_iter_init(&it, d, (const char *)key, len))
        return QR_ENOTFOUND;
    qr_slice s;
    int rc;
    while ((rc = qr_termdict_next(&it, &s, out)) == 1)
        if (s.n == len && memcmp(s.p, key, len) == 0)
            return 0;
    return rc == 0 ? QR_ENOTFOUND : rc;
}

/* qr_termdict_get against iter_get for one key: found by both alike, or by neither. */
static int agree(const qr_termdict *d, const uint8_t *key, size_t len)
{
    qr_term_meta a = {0}, b = {0};
    int rg = qr_termdict_get(d, (const char *)key, len, &a);
    int ri = iter_get(d, key, len, &b);
    cr_assert(rg == 0 || rg == QR_ENOTFOUND || rg == QR_ECORRUPT, "get: %d", rg);
    cr_assert_eq(rg == 0, ri == 0, "get %d, iteration %d", rg, ri);
    if (rg == 0)
        cr_assert(meta_eq(&a, &b));
    if (rg == QR_ECORRUPT)
        cr_assert_eq(ri, QR_ECORRUPT, "the damage is on the way to the key for both");
    return rg;
}

/*
 * The lookup skips whole-term comparisons (it tracks the common prefix with
 * the key): under damage behind a valid checksum, byte by byte with several
 * values, it must still agree with a plain iteration, for every term and
 * for absent keys next to them.
 */
Test(termdict, lookup_agrees_with_iteration_under_damage, .timeout = 300)
{
    size_t n;
    rterm *t = make_terms(150, &n, 13);
    qr_buf img = {0};
    build(&img, t, n);
    size_t body_end = img.n - QR_FILE_FOOTER_SIZE - 40; /* the trailer is tested elsewhere */
    static const uint8_t xors[] = {0x01, 0x02, 0x10, 0x40, 0x80, 0xff};
    size_t corrupt = 0, found = 0, opened = 0, collect_corrupt = 0;
    for (size_t i = QR_FILE_HEADER_SIZE; i < body_end; i++) {
        for (size_t x = 0; x < sizeof xors; x++) {
            uint8_t *c = malloc(img.n); /* exact size: ASan sees reads past it */
            memcpy(c, img.p, img.n);
            c[i] ^= xors[x];
            qr_store_u64(c + img.n - 8, qr_checksum(c, img.n - 8));
            qr_termdict *d;
            if (qr_termdict_open(&d, (qr_slice){c, img.n}, true) == 0) {
                opened++;
                uint8_t b[256];
                for (size_t k = 0; k < n; k++) {
                    int rc = agree(d, t[k].b, t[k].n);
                    corrupt += rc == QR_ECORRUPT;
                    found += rc == 0;
                    memcpy(b, t[k].b, t[k].n);
                    if (t[k].n < 255) {
                        b[t[k].n] = 0x01;
                        agree(d, b, t[k].n + 1);
                    }
                    if (t[k].n > 1)
                        agree(d, b, t[k].n - 1);
                }
                collect_corrupt += collect_agrees(d, (const uint8_t *)"", 0, 0) == QR_ECORRUPT;
                collect_agrees(d, t[n / 2].b, 1, 0);
                qr_termdict_close(d);
            }
            free(c);
        }
    }
    cr_assert(opened > 0 && corrupt > 0 && found > 0, "%zu %zu %zu", opened, corrupt, found);
    cr_assert(collect_corrupt > 0, "collect met damage");
    qr_buf_free(&img);
    free(t);
}

/* The lookup's own checks, one damaged entry each (behind a valid checksum). */
Test(termdict, lookup_rejects_damaged_entries)
{
    qr_term_meta m = {1, 1, 0, 0};
    struct {
        size_t at;       /* byte of the body to replace, from the first block's start */
        uint8_t v;       /* its new value */
        const char *key; /* looked up */
    } cases[] = {
        {0, 0x80, "ab"}, /* the first df runs into the next byte: the fields after it shift */
        {4, 3, "ab"},    /* shared longer than the previous term */
        {5, 0xf0, "ab"}, /* suffix past the block's end */
        {6, 'a', "ab"},  /* not after the previous term */
        {5, 0, "ab"},    /* an empty suffix (a term equal to the previous one) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        qr_termdict_writer *w;
        cr_assert_eq(qr_termdict_writer_open(&w), 0);
        cr_assert_eq(qr_termdict_add(w, "aa", 2, &m), 0);
        cr_assert_eq(qr_termdict_add(w, "ab", 2, &m), 0);
        qr_buf s = {0};
        cr_assert_eq(qr_termdict_finish(w, &s), 0);
        qr_termdict_writer_close(w);
        /* body: df=1 extra=0 doc=0 pos=0 | shared=1 suffix=1 'b' df=1 extra=0 dd=0 pd=0 */
        cr_assert_eq(s.p[QR_FILE_HEADER_SIZE + 6], 'b');
        s.p[QR_FILE_HEADER_SIZE + cases[k].at] = cases[k].v;
        qr_store_u64(s.p + s.n - 8, qr_checksum(s.p, s.n - 8));
        qr_termdict *d;
        cr_assert_eq(qr_termdict_open(&d, (qr_slice){s.p, s.n}, true), 0, "case %zu", k);
        qr_term_meta got;
        cr_assert_eq(qr_termdict_get(d, cases[k].key, strlen(cases[k].key), &got), QR_ECORRUPT,
                     "case %zu", k);
        qr_termdict_close(d);
        qr_buf_free(&s);
    }
}

Test(termdict, allocation_failures_are_enomem)
{
    size_t n;
    rterm *t = make_terms(300, &n, 13);
    bool done = false;
    for (long k = 0; !done; k++) {
        qr_buf img = {0};
        qr_termdict_writer *w = NULL;
        qr_termdict *d = NULL;
        qr_alloc_fail_after(k);
        int rc = qr_termdict_writer_open(&w);
        size_t added = 0;
        while (rc == 0 && added < n) {
            rc = qr_termdict_add(w, (const char *)t[added].b, t[added].n, &t[added].m);
            added += rc == 0;
        }
        bool add_failed = rc != 0 && w;
        if (rc == 0)
            rc = qr_termdict_finish(w, &img);
        if (rc == 0)
            rc = qr_termdict_open(&d, (qr_slice){img.p, img.n}, true);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (add_failed) {
            /* a writer whose buffer failed to grow stays failed, finish included */
            cr_assert_eq(qr_termdict_add(w, (const char *)t[added].b, t[added].n, &t[added].m),
                         QR_ENOMEM);
            cr_assert_eq(qr_termdict_finish(w, &img), QR_ENOMEM);
        }
        if (failures == 0) {
            cr_assert_eq(rc, 0);
            done = true;
        } else {
            cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %d", k, rc);
        }
        qr_termdict_close(d);
        qr_termdict_writer_close(w);
        qr_buf_free(&img);
        cr_assert(k < 10000);
    }
    free(t);
}

/*
 * qr_termdict_collect when its arrays cannot grow (each allocation in turn)
 * and when the bytes would pass 4 GiB (offsets are 32 bits): QR_ENOMEM,
 * the terms before it appended as they are.
 */
Test(termdict, collect_out_of_memory)
{
    size_t n;
    rterm *t = make_terms(300, &n, 17);
    qr_buf img = {0};
    build(&img, t, n);
    qr_termdict *d;
    cr_assert_eq(qr_termdict_open(&d, (qr_slice){img.p, img.n}, true), 0);
    bool done = false;
    for (long k = 0; !done; k++) {
        qr_termdict_iter it;
        cr_assert_eq(qr_termdict_iter_init(&it, d, "", 0), 0);
        qr_buf bytes = {0};
        qr_termdict_ent *v = NULL;
        size_t got = 0, cap = 0;
        qr_alloc_fail_after(k);
        int rc = qr_termdict_collect(&it, &bytes, &v, &got, &cap);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failures == 0) {
            cr_assert_eq(rc, 0);
            cr_assert_eq(got, n);
            done = true;
        } else {
            cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %d", k, rc);
            cr_assert_lt(got, n);
        }
        for (size_t i = 0; i < got; i++)
            cr_assert(meta_eq(&v[i].meta, &t[i].m));
        qr_free(v);
        qr_buf_free(&bytes);
        cr_assert(k < 1000);
    }
    /* a buffer whose offsets would pass 32 bits: refused before it is touched */
    uint8_t small[8];
    qr_buf big = {small, (size_t)UINT32_MAX - 100, (size_t)UINT32_MAX, 0};
    qr_termdict_iter it;
    cr_assert_eq(qr_termdict_iter_init(&it, d, "", 0), 0);
    qr_termdict_ent *v = NULL;
    size_t got = 0, cap = 0;
    cr_assert_eq(qr_termdict_collect(&it, &big, &v, &got, &cap), QR_ENOMEM);
    cr_assert_eq(got, 0);
    cr_assert_eq(big.n, (size_t)UINT32_MAX - 100);
    qr_free(v);
    qr_termdict_close(d);
    qr_buf_free(&img);
    free(t);
}

Test(termdict, finish_into_a_failed_buffer)
{
    qr_termdict_writer *w;
    cr_assert_eq(qr_termdict_writer_open(&w), 0);
    qr_buf img = {0};
    qr_alloc_fail_after(0);
    qr_buf_put_u8(&img, 1);
    qr_alloc_fail_after(-1);
    cr_assert_eq(img.err, QR_ENOMEM);
    cr_assert_eq(qr_termdict_finish(w, &img), QR_ENOMEM);
    qr_termdict_writer_close(w);
    qr_buf_free(&img);
}

/* The exact bytes of a three-term dictionary, derived by hand from the grammar in termdict.c. */
Test(termdict, golden_bytes)
{
    qr_termdict_writer *w;
    cr_assert_eq(qr_termdict_writer_open(&w), 0);
    qr_term_meta m[3] = {{1, 1, 0, 0}, {2, 3, 5, 7}, {1, 2, 9, 10}};
    cr_assert_eq(qr_termdict_add(w, "ab", 2, &m[0]), 0);
    cr_assert_eq(qr_termdict_add(w, "abc", 3, &m[1]), 0);
    cr_assert_eq(qr_termdict_add(w, "b", 1, &m[2]), 0);
    qr_buf img = {0};
    cr_assert_eq(qr_termdict_finish(w, &img), 0);
    qr_termdict_writer_close(w);
    static const uint8_t want[] = {
        0x51, 0x52, 0x54, 0x44, 1, 0, 0, 0, /* "QRTD", version 1 */
        /* block 0 */
        1, 0, 0, 0,            /* "ab": df 1, ttf-df 0, doc_off 0, pos_off 0 */
        2, 1, 'c', 2, 1, 5, 7, /* "abc": shared 2, suffix "c", df 2, +1, doc +5, pos +7 */
        0, 1, 'b', 1, 1, 4, 3, /* "b": shared 0, suffix "b", df 1, +1, doc +4, pos +3 */
        /* index */
        2, 'a', 'b', 0, /* first term "ab", block at 0 */
        /* trailer */
        3, 0, 0, 0, 0, 0, 0, 0,  /* terms */
        4, 0, 0, 0, 0, 0, 0, 0,  /* sum df */
        6, 0, 0, 0, 0, 0, 0, 0,  /* sum ttf */
        18, 0, 0, 0, 0, 0, 0, 0, /* index offset */
        1, 0, 0, 0,              /* blocks */
        32, 0, 0, 0,             /* terms per block */
        0xae, 0xad, 0xab, 0xbb,  /* ~magic */
    };
    cr_assert_eq(img.n, sizeof want + 8);
    cr_assert_eq(memcmp(img.p, want, sizeof want), 0);
    cr_assert_eq(qr_load_u64(img.p + sizeof want), qr_checksum(img.p, sizeof want));
    /* a file written with other block sizes reads the same */
    size_t at = sizeof want - 8;
    cr_assert_eq(img.p[at], 32);
    img.p[at] = 64;
    qr_store_u64(img.p + sizeof want, qr_checksum(img.p, sizeof want));
    qr_termdict *d;
    cr_assert_eq(qr_termdict_open(&d, (qr_slice){img.p, img.n}, true), 0);
    static const char *const terms[] = {"ab", "abc", "b"};
    for (size_t i = 0; i < 3; i++) {
        qr_term_meta got;
        cr_assert_eq(qr_termdict_get(d, terms[i], strlen(terms[i]), &got), 0);
        cr_assert(meta_eq(&got, &m[i]));
    }
    qr_termdict_close(d);
    qr_buf_free(&img);
}
