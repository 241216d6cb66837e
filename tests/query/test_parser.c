/*
 * Tests for query/parser.c against SPEC §3 and the query-lexing fine print
 * of §6: every rule of the grammar, every error with its column, the word
 * rules (phrases, hyphen alternatives, prefixes, fields, gaps), and a
 * fuzz-style loop over random strings that must each either parse or fail
 * with a column inside the text.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/analyzer.h"
#include "query/parser.h"
#include "storage/alloc.h"
#include "storage/status.h"

static char result[65536];

/* Parses q; returns its S-expression, or "ERR <col>: <message>". */
static const char *parse_lang(const char *lang, const char *q, size_t len, unsigned flags)
{
    qr_analyzer *a;
    cr_assert_eq(qr_analyzer_open(&a, lang), 0);
    qr_query query;
    qr_query_error err;
    memset(&err, 0, sizeof err);
    int rc = qr_query_parse(&query, &err, a, q, len, flags);
    if (rc == QR_ESYNTAX) {
        snprintf(result, sizeof result, "ERR %u: %s", err.column, err.message);
    } else {
        cr_assert_eq(rc, 0, "rc %d for %s", rc, q);
        qr_buf b = {0};
        cr_assert_eq(qr_query_format(&query, &b), 0);
        snprintf(result, sizeof result, "%.*s", (int)b.n, (const char *)b.p);
        qr_buf_free(&b);
        qr_query_free(&query);
    }
    qr_analyzer_close(a);
    return result;
}

static const char *parse(const char *q)
{
    return parse_lang("english", q, strlen(q), 0);
}

#define EXPECT(q, want) cr_assert_str_eq(parse(q), want, "query: %s", q)
#define EXPECT_ANY(q, want)                                                                        \
    cr_assert_str_eq(parse_lang("english", q, strlen(q), QR_PARSE_ANY), want, "query: %s", q)
#define EXPECT_NONE(q, want)                                                                       \
    cr_assert_str_eq(parse_lang("none", q, strlen(q), 0), want, "query: %s", q)

Test(parser, terms_and_juxtaposition)
{
    EXPECT("crimea", "crimea");
    EXPECT("Crimea talks", "(AND crimea talk)");
    EXPECT("a AND b", "(AND a b)");
    EXPECT("a and b", "(AND a and b)"); /* lower-case operators are words */
    EXPECT("a or b not c near d", "(AND a or b not c near d)");
    EXPECT("  spaced\tout\nwords  ", "(AND space out word)");
}

Test(parser, precedence)
{
    EXPECT("a OR b", "(OR a b)");
    EXPECT("a b OR c", "(OR (AND a b) c)");
    EXPECT("a OR b c", "(OR a (AND b c))");
    EXPECT("a OR b OR c", "(OR a b c)");
    EXPECT("(a OR b) c", "(AND (OR a b) c)");
    EXPECT("a (b c)", "(AND a (AND b c))");
    EXPECT("NOT a b", "(AND (NOT a) b)");
    EXPECT("NOT a NEAR b", "(NOT (NEAR/10 a b))");
    EXPECT("a NEAR b OR c", "(OR (NEAR/10 a b) c)");
    EXPECT("((a))", "a");
}

Test(parser, negation)
{
    EXPECT("NOT a", "(NOT a)");
    EXPECT("-a", "(NOT a)");
    EXPECT("a -b", "(AND a (NOT b))");
    EXPECT("--x", "(NOT x)");
    EXPECT("---x", "(NOT x)");
    EXPECT("NOT NOT a", "(NOT (NOT a))");
    EXPECT("NOT -a", "(NOT (NOT a))");
    EXPECT("NOT NOT NOT a", "(NOT a)");
    EXPECT("-a NEAR b", "(NOT (NEAR/10 a b))");
    EXPECT("a -(b c)", "(AND a (NOT (AND b c)))");
    EXPECT("-\"a b\"", "(NOT \"a b\")");
    EXPECT("a - b", "(AND a b)"); /* a lone - is punctuation */
    EXPECT("a -", "a");
    EXPECT("(a)-b", "(AND a b)"); /* - after ) does not start a word */
    EXPECT("\"a\"-b", "(AND a b)");
    EXPECT("(-a b)", "(AND (NOT a) b)");
    EXPECT("-NOT", "(NOT not)");      /* an operator only as a whole word */
    EXPECT("a-b", "(OR \"a b\" ab)"); /* inner hyphen: a compound */
}

Test(parser, near)
{
    EXPECT("a NEAR b", "(NEAR/10 a b)");
    EXPECT("a NEAR/5 b", "(NEAR/5 a b)");
    EXPECT("a NEAR/0 b", "(NEAR/0 a b)");
    EXPECT("a NEAR/007 b", "(NEAR/7 a b)");
    EXPECT("a NEAR/99999999999999999999 b", "(NEAR/4294967295 a b)");
    EXPECT("a NEAR b NEAR c", "(NEAR/10 (NEAR/10 a b) c)");
    EXPECT("\"a b\" NEAR/3 (c OR d)", "(NEAR/3 \"a b\" (OR c d))");
    EXPECT("a NEAR/x b", "(AND a \"near x\" b)");
    EXPECT("a NEAR/ b", "(AND a near b)");
    EXPECT("a NEAR ,", "a");
    EXPECT(", NEAR b", "b");
    EXPECT("title:a NEAR b", "(NEAR/10 title:a b)");
    EXPECT("putin NEAR/5 zelensky", "(NEAR/5 putin zelenski)");
}

Test(parser, words_and_phrases)
{
    EXPECT("\"the cease-fire talks\"", "\"the ceas fire talk\"");
    EXPECT("U.S.", "\"u s\"");
    EXPECT("Zelensky’s", "zelenski");
    EXPECT("don't", "don't");
    EXPECT("\"a*\"", "a"); /* inside quotes * is punctuation */
    EXPECT("\"(a OR b)\"", "\"a or b\"");
    EXPECT("\"\"", "()");
    EXPECT("\", ;\"", "()");
    EXPECT("a*b", "\"a b\"");
    EXPECT("foo:bar", "\"foo bar\"");
    EXPECT("Gdańsk", "gdansk");
}

Test(parser, hyphen_alternatives)
{
    EXPECT("cease-fire", "(OR \"ceas fire\" ceasefir)");
    EXPECT("\"cease-fire\"", "\"ceas fire\"");
    EXPECT("24-hour", "(OR \"24 hour\" 24hour)");
    EXPECT("Zelensky’s-aide", "(OR \"zelenski aid\" zelensky'said)");
    EXPECT_NONE("foo-bar.baz-qux", "(OR \"foo bar baz qux\" \"foobar bazqux\")");
    EXPECT_NONE("x.foo-bar-baz.y", "(OR \"x foo bar baz y\" \"x foobarbaz y\")");
    EXPECT("title:cease-fire", "(OR title:\"ceas fire\" title:ceasefir)");
    EXPECT("cease--fire", "\"ceas fire\""); /* a double hyphen is no compound */
}

Test(parser, gaps_from_long_words)
{
    char q[256];
    char longw[80];
    memset(longw, 'x', 70);
    longw[70] = 0;
    snprintf(q, sizeof q, "\"alpha %s beta\"", longw);
    EXPECT(q, "\"alpha ? beta\"");
    snprintf(q, sizeof q, "alpha.%s.beta", longw);
    EXPECT(q, "\"alpha ? beta\"");
    snprintf(q, sizeof q, "\"%s beta\"", longw);
    EXPECT(q, "beta");
    snprintf(q, sizeof q, "%s", longw);
    EXPECT(q, "()");
}

Test(parser, prefixes)
{
    EXPECT("ukrain*", "ukrain*");
    EXPECT("Ukrainians*", "ukrainians*"); /* unstemmed */
    EXPECT("e-mail*", "email*");
    EXPECT("Gdań*", "gdan*");
    EXPECT("ab**", "ab*");
    EXPECT("*", "()");
    EXPECT("a *", "a");
    EXPECT(",*", "()");
    EXPECT("AND*", "and*");
    EXPECT("title:ukrain*", "title:ukrain*");
    EXPECT("ß*", "ss*"); /* two code points after case folding */
    EXPECT("a*", "ERR 1: prefix shorter than 2 characters");
    EXPECT("x a*", "ERR 3: prefix shorter than 2 characters");
    EXPECT("x -title:a*", "ERR 10: prefix shorter than 2 characters");
    EXPECT(".a*", "ERR 1: prefix shorter than 2 characters");
    EXPECT("é*", "ERR 1: prefix shorter than 2 characters");
}

Test(parser, fields)
{
    EXPECT("title:talks", "title:talk");
    EXPECT("title: talks", "title:talk");
    EXPECT("body:\"peace talks\"", "body:\"peac talk\"");
    EXPECT("title:(a OR body:b)", "(OR title:a body:b)");
    EXPECT("title:(a NEAR b)", "(NEAR/10 title:a title:b)");
    EXPECT("-title:x", "(NOT title:x)");
    EXPECT("-title: x", "(NOT title:x)");
    EXPECT("title:body:x", "body:x");
    EXPECT("title:-x", "title:x");
    EXPECT("title:AND", "title:and");
    EXPECT("Title:x", "\"titl x\"");
    EXPECT("(a)title:x", "(AND a \"titl x\")");
    EXPECT("title:", "ERR 1: title: without an operand");
    EXPECT("a body:", "ERR 3: body: without an operand");
    EXPECT("(title:)", "ERR 2: title: without an operand");
    EXPECT("title: AND x", "ERR 1: title: without an operand");
    EXPECT("title: -x", "ERR 1: title: without an operand");
    EXPECT("title:,", "()");
}

Test(parser, punctuation_never_errors)
{
    EXPECT(",", "()");
    EXPECT(", . ; ! ? ...", "()");
    EXPECT("a , b", "(AND a b)");
    EXPECT("(,)", "()");
    EXPECT("a OR ,", "a");
    EXPECT("NOT ,", "()");
    EXPECT("a NOT ,", "a");
    EXPECT("- -", "()");
    EXPECT("-,", "()");
    EXPECT("a ** b", "(AND a b)");
    EXPECT("@#$%^&", "()");
    EXPECT("a:", "a");
}

Test(parser, errors_and_columns)
{
    EXPECT("", "ERR 1: empty query");
    EXPECT("   \t ", "ERR 1: empty query");
    EXPECT("a (b", "ERR 3: unbalanced parenthesis");
    EXPECT("(a", "ERR 1: unbalanced parenthesis");
    EXPECT("((a)", "ERR 1: unbalanced parenthesis");
    EXPECT("a )", "ERR 3: unbalanced parenthesis");
    EXPECT(")", "ERR 1: unbalanced parenthesis");
    EXPECT("(a))", "ERR 4: unbalanced parenthesis");
    EXPECT("()", "ERR 1: empty parentheses");
    EXPECT("a ( )", "ERR 3: empty parentheses");
    EXPECT("(())", "ERR 2: empty parentheses");
    EXPECT("\"abc", "ERR 1: unbalanced quote");
    EXPECT("a \"b\" \"c", "ERR 7: unbalanced quote");
    EXPECT("OR a", "ERR 1: OR without an operand");
    EXPECT("a OR", "ERR 3: OR without an operand");
    EXPECT("a AND", "ERR 3: AND without an operand");
    EXPECT("AND", "ERR 1: AND without an operand");
    EXPECT("NOT", "ERR 1: NOT without an operand");
    EXPECT("a NOT", "ERR 3: NOT without an operand");
    EXPECT("a NEAR", "ERR 3: NEAR without an operand");
    EXPECT("NEAR a", "ERR 1: NEAR without an operand");
    EXPECT("a NEAR -b", "ERR 3: NEAR without an operand");
    EXPECT("a NEAR NOT b", "ERR 3: NEAR without an operand");
    EXPECT("a AND OR b", "ERR 3: AND without an operand");
    EXPECT("a OR OR b", "ERR 3: OR without an operand");
    EXPECT("a AND AND b", "ERR 3: AND without an operand");
    EXPECT("(AND)", "ERR 2: AND without an operand");
    EXPECT("a (OR b)", "ERR 4: OR without an operand");
    EXPECT("a OR )", "ERR 3: OR without an operand");
    /* The first error met reading left to right. */
    EXPECT("(a OR", "ERR 4: OR without an operand");
    EXPECT("(a \"b", "ERR 4: unbalanced quote");
    EXPECT("(x a*", "ERR 4: prefix shorter than 2 characters");
    EXPECT("a) (b", "ERR 2: unbalanced parenthesis");
    /* Columns count code points. */
    EXPECT("Gdańsk (", "ERR 8: unbalanced parenthesis");
    EXPECT("“Ukraine” OR", "ERR 11: OR without an operand");
    EXPECT("\"Gdańsk\" AND", "ERR 10: AND without an operand");
}

Test(parser, invalid_utf8_separates)
{
    EXPECT("a\xff"
           "b",
           "(AND a b)");
    cr_assert_str_eq(parse_lang("english", "\xff\xff)", 3, 0), "ERR 3: unbalanced parenthesis");
    /* A truncated sequence is one column (its maximal subpart). */
    cr_assert_str_eq(parse_lang("english", "\xe2\x80 )", 4, 0), "ERR 3: unbalanced parenthesis");
    cr_assert_str_eq(parse_lang("english", "\xe2\x80\xe2\x80)", 5, 0),
                     "ERR 3: unbalanced parenthesis");
    cr_assert_str_eq(parse_lang("english", "\xff", 1, 0), "ERR 1: empty query");
    /* A NUL byte is punctuation, not the end of the query. */
    cr_assert_str_eq(parse_lang("english", "a\0b", 3, 0), "\"a b\"");
    /* Inside quotes, invalid bytes separate words. */
    cr_assert_str_eq(parse_lang("english",
                                "\"a\xff"
                                "b\" )",
                                8, 0),
                     "ERR 7: unbalanced parenthesis");
}

Test(parser, any_mode)
{
    EXPECT_ANY("a b", "(OR a b)");
    EXPECT_ANY("a b c", "(OR a b c)");
    EXPECT_ANY("a b AND c", "(OR a (AND b c))");
    EXPECT_ANY("a OR b c", "(OR a b c)");
    EXPECT_ANY("a -b", "(OR a (NOT b))");
    EXPECT_ANY("(a b) AND c", "(AND (OR a b) c)");
    EXPECT_ANY("a AND", "ERR 3: AND without an operand");
}

Test(parser, nesting_limits)
{
    size_t n = 100000;
    char *q = malloc(2 * n + 2);
    memset(q, '(', n);
    q[n] = 'a';
    memset(q + n + 1, ')', n);
    q[2 * n + 1] = 0;
    cr_assert_str_eq(parse(q), "ERR 257: query nested too deeply");
    /* Deep but allowed. */
    char deep[512];
    memset(deep, '(', 200);
    deep[200] = 'a';
    memset(deep + 201, ')', 200);
    deep[401] = 0;
    cr_assert_str_eq(parse(deep), "a");
    /* A long NEAR chain makes a tall tree. */
    qr_buf b = {0};
    qr_buf_put(&b, "w", 1);
    for (int i = 0; i < 300; i++)
        qr_buf_put(&b, " NEAR w", 7);
    qr_buf_put_u8(&b, 0);
    cr_assert(strstr(parse((const char *)b.p), "query nested too deeply"));
    qr_buf_free(&b);
    /* Long runs of negations and fields fold without depth. */
    qr_buf_reset(&b);
    for (int i = 0; i < 100001; i++)
        qr_buf_put(&b, "NOT ", 4);
    qr_buf_put(&b, "x", 2);
    cr_assert_str_eq(parse((const char *)b.p), "(NOT x)");
    qr_buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        qr_buf_put(&b, "title:", 6);
    qr_buf_put(&b, "x", 2);
    cr_assert_str_eq(parse((const char *)b.p), "title:x");
    qr_buf_free(&b);
    free(q);
}

Test(parser, long_flat_queries)
{
    /* 100k words, OR chains and a huge phrase: linear, no recursion. */
    qr_buf b = {0};
    for (int i = 0; i < 100000; i++)
        qr_buf_put(&b, i % 2 ? "alpha OR " : "beta ", i % 2 ? 9 : 5);
    qr_buf_put(&b, "gamma", 6);
    const char *r = parse((const char *)b.p);
    cr_assert(!strncmp(r, "(OR ", 4), "%.40s", r);
    qr_buf_reset(&b);
    qr_buf_put_u8(&b, '"');
    for (int i = 0; i < 50000; i++)
        qr_buf_put(&b, "word ", 5);
    qr_buf_put(&b, "\"", 2);
    r = parse((const char *)b.p);
    cr_assert(!strncmp(r, "\"word word", 10));
    qr_buf_free(&b);
}

/* Random strings over an alphabet rich in syntax: each parses or fails at a column in range. */
Test(parser, fuzz)
{
    static const char *const atoms[] = {
        "(",    ")",    "\"",     " ",      "-",        "*", "AND", "OR",
        "NOT",  "NEAR", "NEAR/3", "title:", "body:",    "a", "ab",  "cease-fire",
        "U.S.", "é",    "’",      "\xff",   "\xe2\x80", ":", ",",   "x*",
        "--",   "\t",   "0",      "don't",  "NEAR/",    "(", ")",
    };
    size_t natoms = sizeof atoms / sizeof atoms[0];
    qr_analyzer *a;
    cr_assert_eq(qr_analyzer_open(&a, "english"), 0);
    srand(12345);
    qr_buf b = {0};
    for (int iter = 0; iter < 20000; iter++) {
        qr_buf_reset(&b);
        int len = rand() % 24;
        for (int i = 0; i < len; i++) {
            const char *s = atoms[(size_t)rand() % natoms];
            qr_buf_put(&b, s, strlen(s));
        }
        /* and some raw random bytes */
        if (iter % 4 == 0)
            for (int i = rand() % 8; i > 0; i--)
                qr_buf_put_u8(&b, (uint8_t)(rand() % 256));
        qr_query q;
        qr_query_error err;
        int rc = qr_query_parse(&q, &err, a, (const char *)b.p, b.n, iter % 3 ? 0 : QR_PARSE_ANY);
        if (rc == QR_ESYNTAX) {
            /* The column is inside the text (or 1 for the empty query). */
            cr_assert(err.column >= 1 && err.column <= b.n + 1, "column %u of %zu", err.column,
                      b.n);
            cr_assert(err.message[0]);
        } else {
            cr_assert_eq(rc, 0);
            qr_buf f = {0};
            cr_assert_eq(qr_query_format(&q, &f), 0);
            qr_buf_free(&f);
            qr_query_free(&q);
        }
    }
    qr_buf_free(&b);
    qr_analyzer_close(a);
}

Test(parser, out_of_memory_is_clean)
{
    qr_analyzer *a;
    cr_assert_eq(qr_analyzer_open(&a, "english"), 0);
    const char *q = "(cease-fire OR \"peace talks\") ukrain* -russia title:x NEAR/3 y";
    /* Warm the analyzer's cache so its own allocations do not shift the count. */
    qr_query warm;
    cr_assert_eq(qr_query_parse(&warm, NULL, a, q, strlen(q), 0), 0);
    qr_query_free(&warm);
    int failures = 0;
    for (long n = 0; n < 200; n++) {
        qr_query qq;
        qr_alloc_fail_after(n);
        int rc = qr_query_parse(&qq, NULL, a, q, strlen(q), 0);
        qr_alloc_fail_after(-1);
        if (rc == 0) {
            qr_query_free(&qq);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM);
        failures++;
    }
    cr_assert_gt(failures, 0);
    qr_query_free(NULL);
    qr_analyzer_close(a);
}
