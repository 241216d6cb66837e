/*
 * Snippets (see snippet.h): analyse the text again, mark the words the
 * query matched, slide a window of QR_SNIPPET_WORDS positions to find the
 * one with the most distinct query terms (then the most marks), and render
 * it from the original bytes.
 */
#include "query/snippet.h"

#include <stdlib.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

/* One query term or prefix a snippet looks for. */
struct sterm {
    const char *text;
    uint32_t len;
    qr_field field;
    bool prefix;
    uint32_t id; /* equal texts (and kinds) share an id: distinct terms are counted by id */
};

struct qr_snip_terms {
    struct sterm *v;
    size_t n, cap;
    uint32_t nids;
};

static int add_term(qr_snip_terms *t, const qr_qterm *q, qr_field f, bool prefix)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        struct sterm *v = qr_reallocarray(t->v, cap, sizeof *v);
        if (!v)
            return QR_ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    struct sterm *s = &t->v[t->n++];
    s->text = q->text;
    s->len = q->len;
    s->field = f;
    s->prefix = prefix;
    return 0;
}

static int collect(qr_snip_terms *t, const qr_qnode *n, unsigned negations)
{
    int rc = 0;
    switch (n->kind) {
    case QR_QTERM:
    case QR_QPHRASE:
    case QR_QPREFIX:
        if (negations % 2)
            return 0;
        for (uint32_t i = 0; i < n->n && !rc; i++)
            rc = add_term(t, &n->terms[i], n->field, n->kind == QR_QPREFIX);
        return rc;
    case QR_QNOT:
        return collect(t, n->kids[0], negations + 1);
    default:
        for (uint32_t i = 0; i < n->n && !rc; i++)
            rc = collect(t, n->kids[i], negations);
        return rc;
    }
}

static int sterm_cmp(const void *a, const void *b)
{
    const struct sterm *x = a, *y = b;
    if (x->prefix != y->prefix)
        return x->prefix - y->prefix;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->text, y->text, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

int qr_snip_terms_make(qr_snip_terms **out, const qr_query *q)
{
    qr_snip_terms *t = qr_calloc(1, sizeof *t);
    if (!t)
        return QR_ENOMEM;
    int rc = q->root ? collect(t, q->root, 0) : 0;
    if (rc) {
        qr_snip_terms_free(t);
        return rc;
    }
    /* Sorted (exact terms first), so lookups are binary searches; ids by distinct text. */
    if (t->n > 1)
        qsort(t->v, t->n, sizeof *t->v, sterm_cmp);
    for (size_t i = 0; i < t->n; i++) {
        if (i > 0 && sterm_cmp(&t->v[i - 1], &t->v[i]) == 0)
            t->v[i].id = t->v[i - 1].id;
        else
            t->v[i].id = t->nids++;
    }
    *out = t;
    return 0;
}

void qr_snip_terms_free(qr_snip_terms *t)
{
    if (!t)
        return;
    qr_free(t->v);
    qr_free(t);
}

/* ---- matching ------------------------------------------------------------------ */

static bool field_ok(qr_field want, bool title)
{
    return want == QR_FIELD_ANY || want == (title ? QR_FIELD_TITLE : QR_FIELD_BODY);
}

/* The id of the query term the token matches, or -1. */
static long match_id(const qr_snip_terms *t, const char *term, size_t len, bool title)
{
    /* exact terms: binary search for the first entry with this text */
    size_t lo = 0, hi = t->n;
    struct sterm key = {term, (uint32_t)len, QR_FIELD_ANY, false, 0};
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (sterm_cmp(&t->v[mid], &key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t i = lo; i < t->n && !t->v[i].prefix && sterm_cmp(&t->v[i], &key) == 0; i++)
        if (field_ok(t->v[i].field, title))
            return t->v[i].id;
    for (size_t i = 0; i < t->n; i++) {
        const struct sterm *s = &t->v[i];
        if (s->prefix && s->len <= len && !memcmp(s->text, term, s->len) &&
            field_ok(s->field, title))
            return s->id;
    }
    return -1;
}

/* A word of the analysed text: its position, bytes, and the query term it matched. */
struct word {
    uint32_t pos;
    uint32_t start, end;
    long id;     /* matched query term id, or -1 */
    bool concat; /* a compound's concatenation (marks the whole compound) */
};

struct scan {
    const qr_snip_terms *t;
    bool title;
    struct word *w;
    size_t n, cap;
    int err;
};

static int scan_token(void *ctx, const qr_token *tok)
{
    struct scan *s = ctx;
    long id = match_id(s->t, tok->term, tok->len, s->title);
    if (tok->concat && id < 0)
        return 0; /* an unmatched concatenation adds nothing */
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        struct word *w = qr_reallocarray(s->w, cap, sizeof *w);
        if (!w)
            return s->err = QR_ENOMEM;
        s->w = w;
        s->cap = cap;
    }
    struct word *w = &s->w[s->n++];
    w->pos = tok->pos;
    w->start = tok->start;
    w->end = tok->end;
    w->id = id;
    w->concat = tok->concat;
    return 0;
}

/* ---- rendering ------------------------------------------------------------------ */

static bool is_space_or_ctl(unsigned char c)
{
    return c <= 0x20 || c == 0x7f;
}

/* Length of a valid UTF-8 sequence at s[0..n), or 0. */
static size_t valid_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80;
        hi = c == 0xed ? 0x9f : 0xbf;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf;
    } else
        return 0;
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return need;
}

/* True for the C1 control characters U+0080..U+009F (terminals obey some of them). */
static bool is_c1(const unsigned char *s, size_t n)
{
    return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/*
 * Appends text[a..b) cleaned: invalid bytes to U+FFFD; with collapse, runs
 * of white space and control characters to one space (pending in *space
 * until more text follows), else each control character to '?'.
 */
static void put_clean_mode(qr_buf *out, const unsigned char *text, size_t a, size_t b, bool *space,
                           bool collapse)
{
    size_t i = a;
    while (i < b) {
        size_t n = valid_len(text + i, b - i);
        bool ctl = is_space_or_ctl(text[i]) || is_c1(text + i, n);
        if (ctl && collapse) {
            *space = true;
            i += n ? n : 1;
            continue;
        }
        if (*space) {
            qr_buf_put_u8(out, ' ');
            *space = false;
        }
        if (ctl && text[i] != ' ') {
            qr_buf_put_u8(out, '?');
            i += n;
        } else if (n == 0) {
            qr_buf_put(out, "\xef\xbf\xbd", 3);
            i++;
        } else {
            qr_buf_put(out, text + i, n);
            i += n;
        }
    }
}

static void put_clean(qr_buf *out, const unsigned char *text, size_t a, size_t b, bool *space)
{
    put_clean_mode(out, text, a, b, space, true);
}

int qr_text_clean(qr_buf *out, const char *s, size_t n, bool collapse)
{
    const unsigned char *t = (const unsigned char *)s;
    size_t a = 0;
    bool space = false;
    while (collapse && a < n && is_space_or_ctl(t[a]))
        a++; /* no leading space; a trailing one stays pending and is dropped */
    put_clean_mode(out, t, a, n, &space, collapse);
    return out->err;
}

struct range {
    uint32_t start, end;
};

static int range_cmp(const void *a, const void *b)
{
    const struct range *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start;
}

static bool has_text(const unsigned char *text, size_t a, size_t b)
{
    for (size_t i = a; i < b; i++)
        if (!is_space_or_ctl(text[i]))
            return true;
    return false;
}

/* Is text[a..b) made only of hyphens (U+002D, U+2010, U+2011)? Joins marks across compounds. */
static bool only_hyphens(const unsigned char *text, size_t a, size_t b)
{
    while (a < b) {
        if (text[a] == '-')
            a++;
        else if (b - a >= 3 && text[a] == 0xe2 && text[a + 1] == 0x80 &&
                 (text[a + 2] == 0x90 || text[a + 2] == 0x91))
            a += 3;
        else
            return false;
    }
    return true;
}

/* How far a window may grow to take in punctuation or the rest of a compound. */
#define GLUE_BYTES 64

static int render(qr_buf *out, const unsigned char *text, size_t len, const struct word *w,
                  size_t nw, size_t first, size_t last, const char *mo, const char *mc)
{
    /* Bytes of the window: its words, plus what is glued to them up to white space. */
    size_t a = w[first].start, b = w[first].end;
    for (size_t i = first; i <= last; i++) {
        a = w[i].start < a ? w[i].start : a;
        b = w[i].end > b ? w[i].end : b;
    }
    for (size_t g = 0; g < GLUE_BYTES && a > 0 && !is_space_or_ctl(text[a - 1]); g++)
        a--;
    while (a < len && (text[a] & 0xc0) == 0x80)
        a++; /* never start inside a character */
    for (size_t g = 0; g < GLUE_BYTES && b < len && !is_space_or_ctl(text[b]); g++)
        b++;
    while (b < len && (text[b] & 0xc0) == 0x80)
        b++;
    bool cut_end = false;
    if (b - a > QR_SNIPPET_MAX_BYTES) {
        b = a + QR_SNIPPET_MAX_BYTES;
        while (b > a && (text[b] & 0xc0) == 0x80)
            b--; /* do not split a character */
        cut_end = true;
    }
    /* Marked words inside [a, b), merged when they overlap or only hyphens part them. */
    size_t nr = 0, capr = 16;
    struct range *r = qr_calloc(capr, sizeof *r);
    if (!r)
        return QR_ENOMEM;
    for (size_t i = 0; i < nw; i++) {
        if (w[i].id < 0 || w[i].end <= a || w[i].start >= b)
            continue;
        if (nr == capr) {
            struct range *nrg = qr_reallocarray(r, capr * 2, sizeof *r);
            if (!nrg) {
                qr_free(r);
                return QR_ENOMEM;
            }
            r = nrg;
            capr *= 2;
        }
        r[nr].start = w[i].start > a ? w[i].start : (uint32_t)a;
        r[nr].end = w[i].end < b ? w[i].end : (uint32_t)b;
        nr++;
    }
    qsort(r, nr, sizeof *r, range_cmp);
    size_t m = 0;
    for (size_t i = 0; i < nr; i++) {
        if (m && (r[i].start <= r[m - 1].end || only_hyphens(text, r[m - 1].end, r[i].start))) {
            if (r[i].end > r[m - 1].end)
                r[m - 1].end = r[i].end;
        } else {
            r[m++] = r[i];
        }
    }
    bool space = false;
    if (has_text(text, 0, a))
        qr_buf_put(out, "\xe2\x80\xa6", 3);
    size_t at = a;
    for (size_t i = 0; i < m; i++) {
        put_clean(out, text, at, r[i].start, &space);
        if (space) {
            qr_buf_put_u8(out, ' ');
            space = false;
        }
        qr_buf_put(out, mo, strlen(mo));
        put_clean(out, text, r[i].start, r[i].end, &space);
        space = false;
        qr_buf_put(out, mc, strlen(mc));
        at = r[i].end;
    }
    put_clean(out, text, at, b, &space);
    if (cut_end || has_text(text, b, len))
        qr_buf_put(out, "\xe2\x80\xa6", 3);
    qr_free(r);
    return out->err;
}

/* Snippets text (title or body); *out_words = 0 when it has no word. */
static int snip_text(qr_buf *out, qr_analyzer *a, const qr_snip_terms *t, const char *text,
                     size_t len, bool title, const char *mo, const char *mc, size_t *out_words)
{
    struct scan sc = {t, title, NULL, 0, 0, 0};
    uint32_t npos = 0;
    int rc = qr_analyze(a, text, len, 0, 0, scan_token, &sc, &npos);
    if (sc.err)
        rc = sc.err;
    *out_words = sc.n;
    if (rc || sc.n == 0) {
        qr_free(sc.w);
        return rc;
    }
    /*
     * Slide a window of QR_SNIPPET_WORDS positions over the words (in
     * position order), counting marks per query term.
     */
    uint32_t *count = qr_calloc(t->nids ? t->nids : 1, sizeof *count);
    if (!count) {
        qr_free(sc.w);
        return QR_ENOMEM;
    }
    const struct word *w = sc.w;
    size_t n = sc.n, hi = 0, best_lo = 0, best_hi = 0;
    size_t distinct = 0, marks = 0, best_distinct = 0, best_marks = 0;
    bool have = false;
    for (size_t lo = 0; lo < n; lo++) {
        while (hi < n && w[hi].pos < w[lo].pos + QR_SNIPPET_WORDS) {
            if (w[hi].id >= 0) {
                marks++;
                if (count[w[hi].id]++ == 0)
                    distinct++;
            }
            hi++;
        }
        bool starts_word = lo == 0 || w[lo].pos != w[lo - 1].pos;
        if (starts_word && (!have || distinct > best_distinct ||
                            (distinct == best_distinct && marks > best_marks))) {
            have = true;
            best_lo = lo;
            best_hi = hi;
            best_distinct = distinct;
            best_marks = marks;
        }
        if (w[lo].id >= 0) {
            marks--;
            if (--count[w[lo].id] == 0)
                distinct--;
        }
    }
    /*
     * Centre the matches of the best window inside it (the window keeps
     * them all), but do not run past the end of the text.
     */
    size_t fm = best_lo, lm = best_hi;
    while (fm < best_hi && w[fm].id < 0)
        fm++;
    while (lm > best_lo && w[lm - 1].id < 0)
        lm--;
    if (fm < lm) {
        uint32_t p1 = w[fm].pos, p2 = w[lm - 1].pos, end = w[n - 1].pos + 1;
        uint32_t slack = QR_SNIPPET_WORDS - (p2 - p1 + 1);
        uint32_t start = p1 > slack / 2 ? p1 - slack / 2 : 0;
        if (start + QR_SNIPPET_WORDS > end)
            start = end > QR_SNIPPET_WORDS ? end - QR_SNIPPET_WORDS : 0;
        if (start > p1)
            start = p1;
        best_lo = 0;
        while (best_lo < n && w[best_lo].pos < start)
            best_lo++;
        best_hi = best_lo;
        while (best_hi < n && w[best_hi].pos < start + QR_SNIPPET_WORDS)
            best_hi++;
    }
    rc = render(out, (const unsigned char *)text, len, w, n, best_lo, best_hi - 1, mo, mc);
    qr_free(count);
    qr_free(sc.w);
    return rc;
}

int qr_snippet(qr_buf *out, qr_analyzer *a, const qr_snip_terms *t, const char *title,
               size_t title_len, const char *body, size_t body_len, const char *mark_open,
               const char *mark_close)
{
    size_t words;
    int rc = snip_text(out, a, t, body, body_len, false, mark_open, mark_close, &words);
    if (rc || words)
        return rc;
    return snip_text(out, a, t, title, title_len, true, mark_open, mark_close, &words);
}
