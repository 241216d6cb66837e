/*
 * Tests for index/analyzer.c against SPEC §2 and §6: every example of the
 * SPEC table, each rule with its edge cases, and a stress run over random
 * bytes.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "storage/alloc.h"
#include "storage/status.h"

/* Collects tokens as "pos:term pos:term ..." for easy comparison. */
struct collect {
    char out[8192];
    size_t n;
    uint32_t last_pos;
    bool any;
    bool monotonic;
};

static int collect_fn(void *ctx, const qr_token *t)
{
    struct collect *c = ctx;
    if (c->any && t->pos < c->last_pos)
        c->monotonic = false;
    c->any = true;
    c->last_pos = t->pos;
    int w = snprintf(c->out + c->n, sizeof c->out - c->n, "%s%u:%.*s", c->n ? " " : "", t->pos,
                     (int)t->len, t->term);
    if (w > 0 && (size_t)w < sizeof c->out - c->n)
        c->n += (size_t)w;
    return 0;
}

static char *run_flags(const char *lang, const char *text, unsigned flags, uint32_t *npos)
{
    static struct collect c;
    memset(&c, 0, sizeof c);
    c.monotonic = true;
    qr_analyzer *a;
    cr_assert_eq(qr_analyzer_open(&a, lang), 0);
    cr_assert_eq(qr_analyze(a, text, strlen(text), 0, flags, collect_fn, &c, npos), 0);
    qr_analyzer_close(a);
    cr_assert(c.monotonic);
    return c.out;
}

static char *run(const char *text)
{
    return run_flags("english", text, 0, NULL);
}

#define EXPECT(text, want) cr_assert_str_eq(run(text), want, "text: %s", text)

Test(analyzer, spec_table)
{
    EXPECT("Zelensky’s rebuff", "0:zelenski 1:rebuff");
    EXPECT("the cease-fire talks", "0:the 1:ceas 1:ceasefir 2:fire 3:talk");
    EXPECT("CRIMEA, Crimea", "0:crimea 1:crimea");
    EXPECT("Gdańsk", "0:gdansk");
    EXPECT("a 24-hour truce", "0:a 1:24 1:24hour 2:hour 3:truce");
    EXPECT("“Ukraine will not”", "0:ukrain 1:will 2:not");
}

Test(analyzer, apostrophes)
{
    EXPECT("don't", "0:don't");
    EXPECT("'tis", "0:tis");
    EXPECT("dogs'", "0:dog");
    EXPECT("90's", "0:90 1:s");
    EXPECT("a''b", "0:a 1:b");
    EXPECT("rock'n'roll", "0:rock'n'rol");
    EXPECT("O’Brien", "0:o'brien");
}

Test(analyzer, hyphens)
{
    EXPECT("x--y", "0:x 1:y");
    EXPECT("-x- y-", "0:x 1:y");
    EXPECT("a-b-c", "0:a 0:abc 1:b 2:c");
    EXPECT("e‐mail e‑mail", "0:e 0:email 1:mail 2:e 2:email 3:mail");
}

Test(analyzer, positions_count_words_not_concatenations)
{
    uint32_t n = 0;
    run_flags("english", "the cease-fire talks", 0, &n);
    cr_assert_eq(n, 4);
}

Test(analyzer, over_long_word_keeps_position)
{
    char text[200];
    memset(text, 'a', 65);
    strcpy(text + 65, " b");
    EXPECT(text, "1:b");
    memset(text, 'a', 64);
    strcpy(text + 64, " b");
    char want[100];
    memset(want, 0, sizeof want);
    strcpy(want, "0:");
    memset(want + 2, 'a', 64);
    strcat(want, " 1:b");
    cr_assert_str_eq(run(text), want);
}

Test(analyzer, invalid_utf8_separates)
{
    EXPECT("ab\xff" "cd", "0:ab 1:cd");
    EXPECT("\xc3", "");
}

Test(analyzer, languages)
{
    qr_analyzer *a = NULL;
    cr_assert_eq(qr_analyzer_open(&a, "klingon"), QR_EINVAL);
    cr_assert_null(a);
    cr_assert_str_eq(run_flags("none", "Talks running", 0, NULL), "0:talks 1:running");
    cr_assert_str_eq(run_flags("french", "continuellement", 0, NULL), "0:continuel");
    cr_assert_str_eq(run_flags("english", "Talks running", QR_ANALYZE_NOSTEM, NULL),
                     "0:talks 1:running");
}

Test(analyzer, random_bytes_stress)
{
    qr_analyzer *a;
    cr_assert_eq(qr_analyzer_open(&a, "english"), 0);
    srand(12345);
    char buf[4096];
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)rand() % sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)(rand() % 4 == 0 ? "a-'’ \xc3\xa9"[rand() % 8] : rand());
        struct collect c;
        memset(&c, 0, sizeof c);
        c.monotonic = true;
        uint32_t np = 0;
        cr_assert_eq(qr_analyze(a, buf, n, 7, 0, collect_fn, &c, &np), 0);
        cr_assert(c.monotonic);
        cr_assert(!c.any || c.last_pos < 7 + np);
    }
    qr_analyzer_close(a);
}
