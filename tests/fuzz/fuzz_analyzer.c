/*
 * libFuzzer target for the analyzer (index/analyzer.c): any bytes as text.
 *
 * Input: mode:u8 text. mode % 64 picks the language (0 english, 1 none,
 * then qr_analyzer_languages() in order); mode & 0x80 asks for unstemmed
 * terms (QR_ANALYZE_NOSTEM, as prefix queries do); mode & 0x40 starts the
 * field at position 1000 instead of 0 (a body after its title).
 *
 * The text is analysed twice with the same analyzer: the second pass is
 * served from the cache of surface forms the first one filled, and must
 * give exactly the same tokens. Besides crashes, leaks and undefined
 * behaviour, the target aborts when a token breaks analyzer.h's promises:
 * positions in order and inside the field's position count, a compound's
 * concatenation right after its first part at the same position, byte
 * ranges inside the text, terms non-empty, and unstemmed terms valid UTF-8
 * of at most QR_MAX_TERM_BYTES bytes.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <utf8proc.h>

#include "fuzz_common.h"
#include "index/analyzer.h"
#include "storage/buf.h"
#include "storage/status.h"

#define FIRST_POS_BODY 1000u

typedef struct tokens {
    qr_buf out;        /* every token, serialised: pos, flags, range, term */
    size_t text_len;   /* bytes of the text */
    uint32_t first;    /* the field's first position */
    bool nostem;       /* unstemmed terms asked for */
    bool any;          /* a token was seen */
    uint32_t last_pos; /* the previous token's position */
    bool last_concat;  /* the previous token was a concatenation */
    bool last_part0;   /* the previous token was a compound's part (not a concatenation) */
} tokens;

static bool valid_utf8(const char *s, size_t n)
{
    utf8proc_int32_t cp;
    for (size_t i = 0; i < n;) {
        utf8proc_ssize_t r =
            utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (r <= 0)
            return false;
        i += (size_t)r;
    }
    return true;
}

static int on_token(void *ctx, const qr_token *t)
{
    tokens *k = ctx;
    FUZZ_ASSERT(t->len >= 1 && t->term);
    FUZZ_ASSERT(t->start < t->end && t->end <= k->text_len);
    FUZZ_ASSERT(t->pos >= k->first);
    if (k->any) {
        FUZZ_ASSERT(t->pos >= k->last_pos);
        if (t->pos == k->last_pos)
            /* only a concatenation shares its first part's position */
            FUZZ_ASSERT(t->concat && k->last_part0);
    }
    if (t->concat)
        FUZZ_ASSERT(t->compound);
    if (k->nostem) {
        FUZZ_ASSERT(t->len <= QR_MAX_TERM_BYTES);
        FUZZ_ASSERT(valid_utf8(t->term, t->len));
    }
    k->any = true;
    k->last_pos = t->pos;
    k->last_concat = t->concat;
    k->last_part0 = t->compound && !t->concat;
    qr_buf_put_u32(&k->out, t->pos);
    qr_buf_put_u8(&k->out, (uint8_t)(t->concat | t->compound << 1));
    qr_buf_put_u32(&k->out, t->start);
    qr_buf_put_u32(&k->out, t->end);
    qr_buf_put_varint(&k->out, t->len);
    qr_buf_put(&k->out, t->term, t->len);
    return 0;
}

/* Analyses text once; the tokens go to k->out, the position count to *npos. */
static void run(qr_analyzer *a, const char *text, size_t len, uint32_t first, unsigned flags,
                tokens *k, uint32_t *npos)
{
    memset(k, 0, sizeof *k);
    k->text_len = len;
    k->first = first;
    k->nostem = flags & QR_ANALYZE_NOSTEM;
    FUZZ_ASSERT(qr_analyze(a, text, len, first, flags, on_token, k, npos) == 0);
    FUZZ_ASSERT(k->out.err == 0);
    if (k->any)
        FUZZ_ASSERT(k->last_pos < first + *npos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in in = {data, size};
    uint8_t mode = fuzz_u8(&in);
    qr_slice text = fuzz_rest(&in);
    /* an exact-size copy: ASan then sees a read one past the text */
    char *copy = malloc(text.n ? text.n : 1);
    FUZZ_ASSERT(copy);
    if (text.n)
        memcpy(copy, text.p, text.n);

    const char **langs = qr_analyzer_languages();
    size_t nlangs = 0;
    while (langs[nlangs])
        nlangs++;
    size_t pick = (mode & 0x3f) % (nlangs + 2);
    const char *lang = pick == 0 ? "english" : pick == 1 ? "none" : langs[pick - 2];
    unsigned flags = mode & 0x80 ? QR_ANALYZE_NOSTEM : 0;
    uint32_t first = mode & 0x40 ? FIRST_POS_BODY : 0;

    qr_analyzer *a;
    FUZZ_ASSERT(qr_analyzer_open(&a, lang) == 0);
    tokens one, two;
    uint32_t n1, n2;
    run(a, copy, text.n, first, flags, &one, &n1);
    run(a, copy, text.n, first, flags, &two, &n2);
    FUZZ_ASSERT(n1 == n2);
    FUZZ_ASSERT(one.out.n == two.out.n &&
                (one.out.n == 0 || !memcmp(one.out.p, two.out.p, one.out.n)));
    qr_buf_free(&one.out);
    qr_buf_free(&two.out);
    qr_analyzer_close(a);
    free(copy);
    return 0;
}
