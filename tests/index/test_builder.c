/*
 * Tests for index/postings_builder.c: postings come back exactly as they went
 * in (checked against a naive model on random documents, with streams long
 * enough to chain slices of every level across arena blocks), terms in
 * bytewise order, duplicates at one position counted once, argument errors,
 * byte accounting and reset, sink errors, and allocation failures at every
 * point.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/postings_builder.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/status.h"

/* Records what a builder emits as text: "term: doc/tf[p,p] doc/tf[p] ;" */
struct rec {
    qr_buf out;
    qr_buf last_term;
    bool ordered; /* terms strictly increasing */
    long fail_at; /* the callback number that returns fail_code (-1: never) */
    long calls;
    int fail_code;
};

static int rec_fail(struct rec *r)
{
    return r->calls++ == r->fail_at ? r->fail_code : 0;
}

static int rec_begin(void *ctx, const char *term, size_t len)
{
    struct rec *r = ctx;
    qr_slice prev = {r->last_term.p, r->last_term.n};
    if (prev.n) {
        size_t n = prev.n < len ? prev.n : len;
        int c = memcmp(prev.p, term, n);
        if (c > 0 || (c == 0 && prev.n >= len))
            r->ordered = false;
    }
    qr_buf_reset(&r->last_term);
    qr_buf_put(&r->last_term, term, len);
    qr_buf_put(&r->out, term, len);
    qr_buf_put(&r->out, ":", 1);
    return rec_fail(r);
}

static int rec_add(void *ctx, uint32_t doc, uint32_t tf, const uint32_t *pos)
{
    struct rec *r = ctx;
    char tmp[64];
    int n = snprintf(tmp, sizeof tmp, " %u/%u[", doc, tf);
    qr_buf_put(&r->out, tmp, (size_t)n);
    for (uint32_t i = 0; i < tf; i++) {
        n = snprintf(tmp, sizeof tmp, i ? ",%u" : "%u", pos[i]);
        qr_buf_put(&r->out, tmp, (size_t)n);
    }
    qr_buf_put(&r->out, "]", 1);
    return rec_fail(r);
}

static int rec_end(void *ctx)
{
    struct rec *r = ctx;
    qr_buf_put(&r->out, " ;", 2);
    return rec_fail(r);
}

static char *emit_text(qr_postings_builder *b, int *rc, bool *ordered)
{
    struct rec r = {.ordered = true, .fail_at = -1};
    qr_pb_sink sink = {rec_begin, rec_add, rec_end, &r};
    *rc = qr_pbuilder_emit(b, &sink);
    qr_buf_put_u8(&r.out, 0);
    qr_buf_free(&r.last_term);
    if (ordered)
        *ordered = r.ordered;
    return (char *)r.out.p;
}

static void add(qr_postings_builder *b, const char *term, uint32_t pos)
{
    cr_assert_eq(qr_pbuilder_add(b, term, strlen(term), pos), 0, "%s@%u", term, pos);
}

Test(builder, small_exact)
{
    qr_postings_builder *b;
    cr_assert_eq(qr_pbuilder_open(&b), 0);
    uint32_t d;
    cr_assert_eq(qr_pbuilder_begin_doc(b, &d), 0);
    cr_assert_eq(d, 0);
    add(b, "the", 0);
    add(b, "ceas", 1);
    add(b, "ceasefir", 1);
    add(b, "fire", 2);
    add(b, "the", 3);
    cr_assert_eq(qr_pbuilder_begin_doc(b, &d), 0);
    cr_assert_eq(d, 1);
    cr_assert_eq(qr_pbuilder_begin_doc(b, &d), 0); /* an empty document */
    add(b, "fire", 0);
    add(b, "fire", 200);
    cr_assert_eq(qr_pbuilder_end_doc(b), 0);
    cr_assert_eq(qr_pbuilder_docs(b), 3);
    cr_assert_eq(qr_pbuilder_terms(b), 4);
    int rc;
    bool ordered;
    char *t = emit_text(b, &rc, &ordered);
    cr_assert_eq(rc, 0);
    cr_assert(ordered);
    cr_assert_str_eq(t, "ceas: 0/1[1] ;ceasefir: 0/1[1] ;fire: 0/1[2] 2/2[0,200] ;"
                        "the: 0/2[0,3] ;");
    /* Emitting twice gives the same. */
    char *t2 = emit_text(b, &rc, NULL);
    cr_assert_str_eq(t, t2);
    free(t);
    free(t2);
    qr_pbuilder_close(b);
}

Test(builder, same_position_counts_once)
{
    qr_postings_builder *b;
    cr_assert_eq(qr_pbuilder_open(&b), 0);
    cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
    add(b, "run", 4); /* "run-s": the concatenation stems to the first part */
    add(b, "run", 4);
    add(b, "s", 5);
    int rc;
    char *t = emit_text(b, &rc, NULL);
    cr_assert_eq(rc, 0);
    cr_assert_str_eq(t, "run: 0/1[4] ;s: 0/1[5] ;");
    free(t);
    qr_pbuilder_close(b);
}

Test(builder, argument_errors)
{
    qr_postings_builder *b;
    cr_assert_eq(qr_pbuilder_open(&b), 0);
    cr_assert_eq(qr_pbuilder_add(b, "x", 1, 0), QR_EINVAL, "no document begun");
    cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
    cr_assert_eq(qr_pbuilder_add(b, "x", 0, 0), QR_EINVAL, "empty term");
    char big[256];
    memset(big, 'a', sizeof big);
    cr_assert_eq(qr_pbuilder_add(b, big, 256, 0), QR_EINVAL, "term too long");
    cr_assert_eq(qr_pbuilder_add(b, big, 255, 0), 0);
    add(b, "x", 7);
    cr_assert_eq(qr_pbuilder_add(b, "x", 1, 6), QR_EINVAL, "decreasing position");
    cr_assert_eq(qr_pbuilder_add(b, "y", 1, 6), QR_EINVAL, "decreasing across terms too");
    add(b, "y", 7);
    cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
    add(b, "x", 0); /* a new document starts again from 0 */
    int rc;
    char *t = emit_text(b, &rc, NULL);
    cr_assert_eq(rc, 0);
    cr_assert(strstr(t, "x: 0/1[7] 1/1[0] ;y: 0/1[7] ;"), "%s", t);
    free(t);
    qr_pbuilder_close(b);
    qr_pbuilder_close(NULL);
}

Test(builder, bytewise_order_beyond_eight_bytes_and_high_bytes)
{
    const char *terms[] = {"abcdefghz", "abcdefgh", "abcdefghi",    "\xc3\xa9t\xc3\xa9", "zz",
                           "a",         "abcdefg",  "\xe2\x80\x99", "abcdefghij"};
    qr_postings_builder *b;
    cr_assert_eq(qr_pbuilder_open(&b), 0);
    cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
    for (uint32_t i = 0; i < sizeof terms / sizeof *terms; i++)
        add(b, terms[i], i);
    int rc;
    bool ordered;
    char *t = emit_text(b, &rc, &ordered);
    cr_assert_eq(rc, 0);
    cr_assert(ordered, "%s", t);
    cr_assert(strstr(t, "abcdefgh: 0/1[1] ;abcdefghi: 0/1[2] ;abcdefghij: 0/1[8] ;abcdefghz:"),
              "%s", t);
    cr_assert(strstr(t, "zz: 0/1[4] ;\xc3\xa9t\xc3\xa9: 0/1[3] ;\xe2\x80\x99: 0/1[7] ;"), "%s", t);
    free(t);
    qr_pbuilder_close(b);
}

/* ---- random documents against a naive model ---- */

#define VOCAB 300

struct model {
    /* per term, per doc: positions (tiny fixed caps are enough for the test) */
    uint32_t (*pos)[64];
    uint32_t *npos;
    uint32_t docs;
};

static uint64_t rng = 88172645463325252ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)rng;
}

static void term_name(char *out, uint32_t t)
{
    /* Shared prefixes longer than 8 bytes for some terms. */
    if (t % 3 == 0)
        sprintf(out, "prefixprefix%u", t);
    else
        sprintf(out, "t%u", t * 7919 % 100003);
}

/* Zipf-like: term 0 very common (long streams), most rare. */
static uint32_t pick_term(void)
{
    uint32_t r = rnd() % 1000;
    if (r < 300)
        return 0;
    if (r < 450)
        return 1 + rnd() % 3;
    return rnd() % VOCAB;
}

static void build_random(qr_postings_builder *b, uint32_t docs, struct model *m)
{
    m->docs = docs;
    m->pos = calloc((size_t)VOCAB * docs, sizeof *m->pos);
    m->npos = calloc((size_t)VOCAB * docs, sizeof *m->npos);
    cr_assert(m->pos && m->npos);
    for (uint32_t d = 0; d < docs; d++) {
        cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
        uint32_t len = rnd() % 60;
        uint32_t p = rnd() % 3 ? 0 : rnd() % 100000; /* some large positions */
        for (uint32_t i = 0; i < len; i++) {
            uint32_t t = pick_term();
            uint32_t *n = &m->npos[(size_t)t * docs + d];
            if (*n < 64) {
                char name[32];
                term_name(name, t);
                add(b, name, p);
                m->pos[(size_t)t * docs + d][(*n)++] = p;
            }
            p += 1 + (rnd() % 8 == 0 ? rnd() % 300 : 0);
        }
    }
}

/* The expected emit text of a model: terms sorted by name. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *model_text(const struct model *m)
{
    char *names[VOCAB];
    uint32_t ids[VOCAB];
    for (uint32_t t = 0; t < VOCAB; t++) {
        names[t] = malloc(40);
        term_name(names[t], t);
        memcpy(names[t] + 32, &t, sizeof t);
    }
    qsort(names, VOCAB, sizeof *names, cmp_str);
    for (uint32_t i = 0; i < VOCAB; i++)
        memcpy(&ids[i], names[i] + 32, sizeof ids[i]);
    qr_buf out = {0};
    for (uint32_t i = 0; i < VOCAB; i++) {
        uint32_t t = ids[i];
        bool any = false;
        for (uint32_t d = 0; d < m->docs; d++) {
            uint32_t n = m->npos[(size_t)t * m->docs + d];
            if (!n)
                continue;
            if (!any) {
                qr_buf_put(&out, names[i], strlen(names[i]));
                qr_buf_put(&out, ":", 1);
                any = true;
            }
            char tmp[64];
            int k = snprintf(tmp, sizeof tmp, " %u/%u[", d, n);
            qr_buf_put(&out, tmp, (size_t)k);
            for (uint32_t j = 0; j < n; j++) {
                k = snprintf(tmp, sizeof tmp, j ? ",%u" : "%u", m->pos[(size_t)t * m->docs + d][j]);
                qr_buf_put(&out, tmp, (size_t)k);
            }
            qr_buf_put(&out, "]", 1);
        }
        if (any)
            qr_buf_put(&out, " ;", 2);
    }
    qr_buf_put_u8(&out, 0);
    for (uint32_t t = 0; t < VOCAB; t++)
        free(names[t]);
    return (char *)out.p;
}

static void model_free(struct model *m)
{
    free(m->pos);
    free(m->npos);
}

Test(builder, random_documents_match_a_naive_model)
{
    uint32_t sizes[] = {1, 127, 128, 129, 3000};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        qr_postings_builder *b;
        cr_assert_eq(qr_pbuilder_open(&b), 0);
        struct model m;
        build_random(b, sizes[s], &m);
        int rc;
        bool ordered;
        char *got = emit_text(b, &rc, &ordered);
        char *want = model_text(&m);
        cr_assert_eq(rc, 0);
        cr_assert(ordered);
        cr_assert(!strcmp(got, want), "docs=%u: emitted postings differ from the model", sizes[s]);
        free(got);
        free(want);
        model_free(&m);
        qr_pbuilder_close(b);
    }
}

Test(builder, bytes_grow_and_reset_forgets)
{
    qr_postings_builder *b;
    cr_assert_eq(qr_pbuilder_open(&b), 0);
    size_t empty = qr_pbuilder_bytes(b);
    struct model m;
    build_random(b, 3000, &m);
    model_free(&m);
    size_t full = qr_pbuilder_bytes(b);
    cr_assert_gt(full, empty + 100000, "%zu vs %zu", full, empty);
    qr_pbuilder_reset(b);
    cr_assert_eq(qr_pbuilder_docs(b), 0);
    cr_assert_eq(qr_pbuilder_terms(b), 0);
    cr_assert_lt(qr_pbuilder_bytes(b), empty + (256u << 10), "reset keeps at most one block");
    int rc;
    char *t = emit_text(b, &rc, NULL);
    cr_assert_str_eq(t, "");
    free(t);
    /* Reusable after reset, and the model still holds. */
    build_random(b, 200, &m);
    char *got = emit_text(b, &rc, NULL);
    char *want = model_text(&m);
    cr_assert(!strcmp(got, want));
    free(got);
    free(want);
    model_free(&m);
    qr_pbuilder_close(b);
}

Test(builder, sink_errors_stop_emit)
{
    qr_postings_builder *b;
    cr_assert_eq(qr_pbuilder_open(&b), 0);
    cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
    add(b, "a", 0);
    add(b, "b", 1);
    for (long at = 0; at < 6; at++) {
        struct rec r = {.ordered = true, .fail_at = at, .fail_code = QR_EIO};
        qr_pb_sink sink = {rec_begin, rec_add, rec_end, &r};
        cr_assert_eq(qr_pbuilder_emit(b, &sink), QR_EIO, "failing callback %ld", at);
        cr_assert_eq(r.calls, at + 1, "nothing is called after the failure");
        qr_buf_free(&r.out);
        qr_buf_free(&r.last_term);
    }
    qr_pbuilder_close(b);
}

Test(builder, allocation_failures_are_clean)
{
    long failed_runs = 0;
    for (long n = 0;; n++) {
        qr_postings_builder *b = NULL;
        struct rec r = {.ordered = true, .fail_at = -1};
        qr_buf_reserve(&r.out, 1 << 20);
        qr_buf_reserve(&r.last_term, 256);
        qr_alloc_fail_after(n);
        int rc = qr_pbuilder_open(&b);
        rng = 1234;
        for (uint32_t d = 0; d < 400 && !rc; d++) {
            rc = qr_pbuilder_begin_doc(b, NULL);
            for (uint32_t i = 0; i < 40 && !rc; i++) {
                char name[64];
                term_name(name, pick_term());
                if (i % 10 == 0) /* some terms too long to be stored inline */
                    strcat(name, "-a-rather-long-suffix-beyond-34-bytes");
                rc = qr_pbuilder_add(b, name, strlen(name), i);
            }
        }
        if (!rc) {
            qr_pb_sink sink = {rec_begin, rec_add, rec_end, &r};
            rc = qr_pbuilder_emit(b, &sink);
        }
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        qr_buf_free(&r.out);
        qr_buf_free(&r.last_term);
        qr_pbuilder_close(b);
        if (!failures) {
            cr_assert_eq(rc, 0);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM, "n=%ld: rc=%d", n, rc);
        failed_runs++;
        if (n > 200)
            n += n / 8; /* later failures are all in the same loops: sample them */
    }
    cr_assert_gt(failed_runs, 5);
}

/* Fills b with docs [d0, d1) of 1000 terms each ("c0".."c999"), positions 0..999; stops at
 * the first error and returns it. About 3.3 KB of postings per document. */
static int fill_docs(qr_postings_builder *b, uint32_t d0, uint32_t d1)
{
    int rc = 0;
    for (uint32_t d = d0; d < d1 && !rc; d++) {
        rc = qr_pbuilder_begin_doc(b, NULL);
        for (uint32_t i = 0; i < 1000 && !rc; i++) {
            char name[16];
            snprintf(name, sizeof name, "c%u", i);
            rc = qr_pbuilder_add(b, name, strlen(name), i);
        }
    }
    return rc ? rc : qr_pbuilder_end_doc(b);
}

/* Counts the postings a builder emits and checks each is (doc, 1, [term index]). */
struct count {
    uint64_t postings;
    uint32_t term;
    bool ok;
};

static int count_begin(void *ctx, const char *term, size_t len)
{
    struct count *c = ctx;
    char buf[16] = {0};
    memcpy(buf, term, len < 15 ? len : 15);
    c->term = (uint32_t)strtoul(buf + 1, NULL, 10);
    return 0;
}

static int count_add(void *ctx, uint32_t doc, uint32_t tf, const uint32_t *positions)
{
    struct count *c = ctx;
    (void)doc;
    if (tf != 1 || positions[0] != c->term)
        c->ok = false;
    c->postings++;
    return 0;
}

static int count_end(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Allocation failures while the arena takes more huge-page chunks (about 10 MB of postings:
 * several chunks and growths of the chunk list): ENOMEM, sticky until reset, and the
 * builder works again after a reset. */
Test(builder, allocation_failures_in_arena_chunks, .timeout = 120)
{
    long failed_runs = 0;
    for (long n = 0;; n++) {
        qr_postings_builder *b;
        cr_assert_eq(qr_pbuilder_open(&b), 0);
        cr_assert_eq(fill_docs(b, 0, 100), 0);
        qr_alloc_fail_after(n);
        int rc = fill_docs(b, 100, 3000);
        long failures = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (!failures) {
            cr_assert_eq(rc, 0);
            struct count c = {.ok = true};
            qr_pb_sink sink = {count_begin, count_add, count_end, &c};
            cr_assert_eq(qr_pbuilder_emit(b, &sink), 0);
            cr_assert_eq(c.postings, 3000u * 1000u);
            cr_assert(c.ok);
            qr_pbuilder_close(b);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM, "n=%ld: rc=%d", n, rc);
        cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), QR_ENOMEM, "the error is sticky");
        qr_pbuilder_reset(b);
        cr_assert_eq(fill_docs(b, 0, 5), 0);
        struct count c = {.ok = true};
        qr_pb_sink sink = {count_begin, count_add, count_end, &c};
        cr_assert_eq(qr_pbuilder_emit(b, &sink), 0);
        cr_assert_eq(c.postings, 5u * 1000u);
        cr_assert(c.ok);
        qr_pbuilder_close(b);
        failed_runs++;
    }
    cr_assert_geq(failed_runs, 5, "chunks and the chunk list both failed to grow");
}

/* Checks the postings of big_table: term i is "t%06u", at position i of doc 0 and, for
 * every fifth i, at position i / 5 of doc 1. */
struct big {
    uint32_t next; /* the term expected next */
    uint32_t docs; /* postings seen for the current term */
    uint64_t postings;
    bool ok;
};

static int big_begin(void *ctx, const char *term, size_t len)
{
    struct big *g = ctx;
    char want[16];
    snprintf(want, sizeof want, "t%06u", g->next);
    if (len != strlen(want) || memcmp(term, want, len))
        g->ok = false;
    g->docs = 0;
    return 0;
}

static int big_add(void *ctx, uint32_t doc, uint32_t tf, const uint32_t *pos)
{
    struct big *g = ctx;
    uint32_t i = g->next;
    bool want = doc == 0 ? pos[0] == i : doc == 1 && i % 5 == 0 && pos[0] == i / 5;
    if (tf != 1 || doc != g->docs || !want)
        g->ok = false;
    g->docs++;
    g->postings++;
    return 0;
}

static int big_end(void *ctx)
{
    struct big *g = ctx;
    if (g->docs != (g->next % 5 == 0 ? 2u : 1u))
        g->ok = false;
    g->next++;
    return 0;
}

/* Enough terms for the table to outgrow a huge page twice (32k then 64k slots of 64 bytes:
 * the tables that start on a huge page boundary); every posting survives the growths. */
Test(builder, table_past_a_huge_page, .timeout = 120)
{
    enum { N = 50000 };
    qr_postings_builder *b;
    cr_assert_eq(qr_pbuilder_open(&b), 0);
    char term[16];
    cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
    for (uint32_t i = 0; i < N; i++) {
        snprintf(term, sizeof term, "t%06u", i);
        cr_assert_eq(qr_pbuilder_add(b, term, strlen(term), i), 0);
    }
    cr_assert_eq(qr_pbuilder_begin_doc(b, NULL), 0);
    for (uint32_t i = 0; i < N; i += 5) {
        snprintf(term, sizeof term, "t%06u", i);
        cr_assert_eq(qr_pbuilder_add(b, term, strlen(term), i / 5), 0);
    }
    cr_assert_eq(qr_pbuilder_end_doc(b), 0);
    cr_assert_eq(qr_pbuilder_terms(b), N);
    cr_assert_geq(qr_pbuilder_bytes(b), (size_t)65536 * 64, "the table has 64k slots");
    struct big g = {.ok = true};
    qr_pb_sink sink = {big_begin, big_add, big_end, &g};
    cr_assert_eq(qr_pbuilder_emit(b, &sink), 0);
    cr_assert(g.ok);
    cr_assert_eq(g.next, N);
    cr_assert_eq(g.postings, N + N / 5);
    qr_pbuilder_close(b);
}
