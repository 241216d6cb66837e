/*
 * Tests for query/snippet.c: which words are marked (terms, phrase terms,
 * prefixes, compounds, not NOT terms, fields), which window is chosen, and
 * how the text is rendered (ellipses, white space, control characters,
 * invalid UTF-8, giant words, the title when the body has no word).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "query/parser.h"
#include "query/snippet.h"
#include "storage/status.h"

static char out[8192];

static const char *snip2(const char *query, const char *title, const char *body)
{
    qr_analyzer *a;
    cr_assert_eq(qr_analyzer_open(&a, "english"), 0);
    qr_query q;
    cr_assert_eq(qr_query_parse(&q, NULL, a, query, strlen(query), 0), 0, "%s", query);
    qr_snip_terms *t;
    cr_assert_eq(qr_snip_terms_make(&t, &q), 0);
    qr_buf b = {0};
    cr_assert_eq(qr_snippet(&b, a, t, title, strlen(title), body, strlen(body), "[", "]"), 0);
    snprintf(out, sizeof out, "%.*s", (int)b.n, b.n ? (const char *)b.p : "");
    qr_buf_free(&b);
    qr_snip_terms_free(t);
    qr_query_free(&q);
    qr_analyzer_close(a);
    return out;
}

static const char *snip(const char *query, const char *body)
{
    return snip2(query, "Title", body);
}

Test(snippet, marks_terms_phrases_prefixes)
{
    cr_assert_str_eq(snip("crimea", "Talks on Crimea resumed."), "Talks on [Crimea] resumed.");
    cr_assert_str_eq(snip("talks", "Talking talks: the TALKS."), "[Talking] [talks]: the [TALKS].");
    cr_assert_str_eq(snip("\"peace talks\"", "peace talks and peace"),
                     "[peace] [talks] and [peace]");
    cr_assert_str_eq(snip("ukrain*", "Ukraine and Ukrainians, not the UK."),
                     "[Ukraine] and [Ukrainians], not the UK.");
    cr_assert_str_eq(snip("crimea -talks", "Talks on Crimea."), "Talks on [Crimea].");
    cr_assert_str_eq(snip("title:crimea", "Talks on Crimea."), "Talks on Crimea.");
    cr_assert_str_eq(snip("body:crimea", "Talks on Crimea."), "Talks on [Crimea].");
    cr_assert_str_eq(snip("crimea", "Nothing here."), "Nothing here.");
}

Test(snippet, compounds_are_marked_whole)
{
    cr_assert_str_eq(snip("cease-fire", "A cease-fire, a ceasefire, a cease fire."),
                     "A [cease-fire], a [ceasefire], a [cease] [fire].");
    cr_assert_str_eq(snip("ceasefire", "A cease-fire held."), "A [cease-fire] held.");
    cr_assert_str_eq(snip("fire", "A cease-fire held."), "A cease-[fire] held.");
}

Test(snippet, window_with_most_distinct_terms)
{
    char body[4096];
    size_t at = 0;
    /* crimea alone early, then 40 filler words, then talks and crimea together */
    at += (size_t)snprintf(body + at, sizeof body - at, "Crimea");
    for (int i = 0; i < 40; i++)
        at += (size_t)snprintf(body + at, sizeof body - at, " w%d", i);
    snprintf(body + at, sizeof body - at, " talks about Crimea end.");
    const char *s = snip("crimea talks", body);
    cr_assert(!strncmp(s, "…", strlen("…")), "%s", s);
    cr_assert(strstr(s, "[talks] about [Crimea] end."), "%s", s);
    cr_assert_null(strstr(s, "[Crimea] w0"), "%s", s);
    /* ties: the earliest window; text after it ends with an ellipsis */
    at = 0;
    for (int i = 0; i < 60; i++)
        at += (size_t)snprintf(body + at, sizeof body - at, "%sw%d", i ? " " : "", i);
    s = snip("nothing", body);
    cr_assert(!strncmp(s, "w0 w1 w2", 8), "%s", s);
    cr_assert(strstr(s, "w29…"), "%s", s);
    cr_assert_null(strstr(s, "w30"), "%s", s);
}

Test(snippet, rendering)
{
    cr_assert_str_eq(snip("b", "a \n\n\t b   c"), "a [b] c");
    cr_assert_str_eq(snip("b", "a \x1b[31m b"), "a [31m [b]");
    cr_assert_str_eq(snip("b", "a \xff b"), "a \xef\xbf\xbd [b]");
    cr_assert_str_eq(snip("b", "“quoted b” (and more)."), "“quoted [b]” (and more).");
    cr_assert_str_eq(snip2("b", "The title b", ""), "The title [b]");
    cr_assert_str_eq(snip2("b", "", ""), "");
    cr_assert_str_eq(snip2("b", "", " ... "), "");
    /* a window of giant punctuation runs is cut */
    char *big = malloc(7000);
    strcpy(big, "a ");
    for (int i = 0; i < 3000; i++)
        strcat(big + 2 * i, "! ");
    strcat(big, "b");
    const char *s = snip("b", big);
    cr_assert_lt(strlen(s), QR_SNIPPET_MAX_BYTES + 8);
    cr_assert(!strncmp(s, "a ! !", 5), "%s", s);
    cr_assert(!strcmp(s + strlen(s) - strlen("…"), "…"), "%s", s);
    free(big);
}

Test(snippet, text_clean)
{
    qr_buf b = {0};
    cr_assert_eq(qr_text_clean(&b, "  a\tb \n c  ", 11, true), 0);
    cr_assert_eq(b.n, 5);
    cr_assert(!memcmp(b.p, "a b c", 5));
    qr_buf_reset(&b);
    cr_assert_eq(qr_text_clean(&b, "p\tq\x1b r\xc2\x9b", 8, false), 0);
    cr_assert_eq(b.n, 7);
    cr_assert(!memcmp(b.p, "p?q? r?", 7));
    qr_buf_reset(&b);
    cr_assert_eq(qr_text_clean(&b, "\xe2\x80", 2, false), 0);
    cr_assert_eq(b.n, 6);
    qr_buf_free(&b);
}
