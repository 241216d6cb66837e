/*
 * The query parser: a lazy lexer and a recursive-descent parser for the
 * grammar in parser.h, following SPEC §3 and §6 to the letter.
 *
 * Lexing. Outside quotes the text is cut into chunks at ASCII white space,
 * at bytes that are not UTF-8 (separators too) and at the syntax characters
 * ( ) and ". A chunk that starts a word (it follows the start of the text,
 * white space, a separator or `(`) may be an operator (the whole chunk is
 * AND, OR, NOT, NEAR or NEAR/digits), may start with a negating `-` (when
 * more of the word, a `(` or a `"` follows it directly) and then with field
 * prefixes `title:` / `body:`; whatever remains is a word. A chunk glued to
 * a preceding `)` or `"` is only a word. Columns count code points; a byte
 * sequence that is not UTF-8 counts one column per maximal invalid subpart
 * (the Unicode "substitution of maximal subparts" practice).
 *
 * Parsing. The parser reads one token ahead and stops at the first error it
 * meets reading left to right; an unclosed `(` is therefore only reported
 * when nothing else went wrong before the end of the text. Parentheses make
 * no nodes; same-level juxtapositions make one flat AND (or OR) whose
 * children keep query order, the order in which scores are summed. Runs of
 * NOT / `-` are folded by parity (nothing under a NOT scores, so NOT NOT x
 * matches x and scores nothing). Recursion is bounded by QR_QUERY_MAX_DEPTH.
 *
 * Every node and string lives in an arena of chunks freed at once.
 */
#include "query/parser.h"

#include <stdio.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

/* ---- arena ---------------------------------------------------------------- */

struct chunk {
    struct chunk *next; /* the previously filled chunk */
    size_t used, cap;   /* bytes used and available in data */
    max_align_t data[]; /* the memory handed out */
};

struct arena {
    struct chunk *head; /* the chunk being filled */
};

static void *arena_alloc(struct arena *ar, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    struct chunk *c = ar->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > 4096 ? n : 4096;
        c = qr_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = ar->head;
        c->used = 0;
        c->cap = cap;
        ar->head = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(struct arena *ar)
{
    if (!ar)
        return;
    for (struct chunk *c = ar->head, *next; c; c = next) {
        next = c->next;
        qr_free(c);
    }
    qr_free(ar);
}

/* ---- UTF-8 and character classes -------------------------------------------- */

/*
 * Length of the code point or invalid sequence at s[0..n): a valid sequence
 * sets *valid; otherwise the maximal subpart (a lead byte and the
 * continuation bytes that could still follow it) counts as one column.
 */
static size_t u8_len(const unsigned char *s, size_t n, bool *valid)
{
    unsigned char c = s[0];
    *valid = false;
    if (c < 0x80) {
        *valid = true;
        return 1;
    }
    size_t need;
    unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 1;
    }
    size_t i = 1;
    for (; i < need && i < n; i++) {
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
            return i;
    }
    if (i < need)
        return i;
    *valid = true;
    return need;
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* Columns (code points, invalid subparts counting one each) in s[0..n). */
static uint32_t count_cols(const char *s, size_t n)
{
    uint32_t cols = 0;
    bool valid;
    for (size_t i = 0; i < n; cols++)
        i += u8_len((const unsigned char *)s + i, n - i, &valid);
    return cols;
}

/* ---- lexer -------------------------------------------------------------------- */

enum tk {
    TK_END,
    TK_WORD,   /* a word (p, n), possibly ending with '*' */
    TK_PHRASE, /* the text between two quotes (p, n) */
    TK_LPAREN,
    TK_RPAREN,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_NEAR, /* k */
    TK_NEG,  /* a negating '-' */
    TK_FIELD /* field */
};

struct token {
    enum tk kind;
    const char *p; /* TK_WORD, TK_PHRASE: the text */
    size_t n;
    uint32_t col;   /* 1-based column of the token's first character */
    uint32_t k;     /* TK_NEAR: the distance */
    qr_field field; /* TK_FIELD */
};

/* Where the lexer stands inside the current chunk. */
enum stage {
    ST_NONE,  /* between chunks */
    ST_FIELD, /* inside a chunk, where a field prefix may come */
    ST_WORD,  /* inside a chunk, where only a word may come */
};

struct lexer {
    const char *s; /* the query text */
    size_t len;
    size_t i;         /* next byte */
    uint32_t col;     /* column of s[i] */
    size_t chunk_end; /* end of the current chunk */
    enum stage stage; /* where we are in the chunk */
    bool word_start;  /* the next chunk starts a word (follows start, space or '(') */
    bool have_peek;   /* peeked holds the next token */
    struct token peeked;
};

static bool is_syntax(unsigned char c)
{
    return c == '(' || c == ')' || c == '"';
}

static bool is_digits(const char *p, size_t n)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    return true;
}

static uint32_t parse_k(const char *p, size_t n)
{
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k = k * 10 + (uint64_t)(p[i] - '0');
        if (k > UINT32_MAX)
            return UINT32_MAX;
    }
    return (uint32_t)k;
}

/* Advances over n bytes of valid UTF-8 text inside a chunk. */
static void lex_skip(struct lexer *lx, size_t n)
{
    lx->col += count_cols(lx->s + lx->i, n);
    lx->i += n;
}

/*
 * Produces the next token. Returns 0, or QR_ESYNTAX with *err_col set for
 * an unclosed quote.
 */
static int lex(struct lexer *lx, struct token *t, uint32_t *err_col)
{
    const unsigned char *s = (const unsigned char *)lx->s;
    memset(t, 0, sizeof *t);
    for (;;) {
        if (lx->stage != ST_NONE) {
            size_t rest = lx->chunk_end - lx->i;
            const char *p = lx->s + lx->i;
            if (rest == 0) {
                lx->stage = ST_NONE;
                lx->word_start = false;
                continue;
            }
            t->col = lx->col;
            if (lx->stage == ST_FIELD) {
                if (rest >= 6 && !memcmp(p, "title:", 6)) {
                    t->kind = TK_FIELD;
                    t->field = QR_FIELD_TITLE;
                    lex_skip(lx, 6);
                    return 0;
                }
                if (rest >= 5 && !memcmp(p, "body:", 5)) {
                    t->kind = TK_FIELD;
                    t->field = QR_FIELD_BODY;
                    lex_skip(lx, 5);
                    return 0;
                }
            }
            t->kind = TK_WORD;
            t->p = p;
            t->n = rest;
            lex_skip(lx, rest);
            lx->stage = ST_NONE;
            lx->word_start = false;
            return 0;
        }
        /* Between chunks: separators first. */
        while (lx->i < lx->len) {
            bool valid;
            if (is_space(s[lx->i])) {
                lx->i++;
                lx->col++;
            } else {
                size_t n = u8_len(s + lx->i, lx->len - lx->i, &valid);
                if (valid)
                    break;
                lx->i += n;
                lx->col++;
            }
            lx->word_start = true;
        }
        t->col = lx->col;
        if (lx->i >= lx->len) {
            t->kind = TK_END;
            return 0;
        }
        unsigned char c = s[lx->i];
        if (c == '(' || c == ')') {
            t->kind = c == '(' ? TK_LPAREN : TK_RPAREN;
            lx->i++;
            lx->col++;
            lx->word_start = c == '(';
            return 0;
        }
        if (c == '"') {
            const char *open = lx->s + lx->i + 1;
            const char *close = memchr(open, '"', lx->len - lx->i - 1);
            if (!close) {
                *err_col = lx->col;
                return QR_ESYNTAX;
            }
            t->kind = TK_PHRASE;
            t->p = open;
            t->n = (size_t)(close - open);
            lx->col += 2 + count_cols(open, t->n);
            lx->i += t->n + 2;
            lx->word_start = false;
            return 0;
        }
        /* A chunk: up to white space, a separator or a syntax character. */
        size_t e = lx->i;
        while (e < lx->len) {
            bool valid;
            if (is_space(s[e]) || is_syntax(s[e]))
                break;
            size_t n = u8_len(s + e, lx->len - e, &valid);
            if (!valid)
                break;
            e += n;
        }
        lx->chunk_end = e;
        const char *p = lx->s + lx->i;
        size_t n = e - lx->i;
        if (!lx->word_start) {
            lx->stage = ST_WORD;
            continue;
        }
        lx->stage = ST_FIELD;
        if ((n == 3 && !memcmp(p, "AND", 3)) || (n == 2 && !memcmp(p, "OR", 2)) ||
            (n == 3 && !memcmp(p, "NOT", 3)) || (n == 4 && !memcmp(p, "NEAR", 4)) ||
            (n > 5 && !memcmp(p, "NEAR/", 5) && is_digits(p + 5, n - 5))) {
            t->kind = p[0] == 'A' ? TK_AND : p[0] == 'O' ? TK_OR : p[1] == 'O' ? TK_NOT : TK_NEAR;
            t->k = n > 5 ? parse_k(p + 5, n - 5) : QR_NEAR_DEFAULT;
            lex_skip(lx, n);
            lx->stage = ST_NONE;
            lx->word_start = false;
            return 0;
        }
        if (p[0] == '-' && (n > 1 || (e < lx->len && (s[e] == '(' || s[e] == '"')))) {
            t->kind = TK_NEG;
            lex_skip(lx, 1);
            return 0;
        }
    }
}

/* ---- parser --------------------------------------------------------------------- */

/* One token of a word as the analyzer made it; the term is in the parser's scratch. */
struct wtok {
    uint32_t pos;
    uint32_t start, end; /* byte range in the analysed text */
    size_t term_off;     /* term bytes in parser.terms */
    uint32_t term_len;
    bool concat;
};

struct parser {
    struct lexer lx;
    struct arena *ar;
    qr_analyzer *an;
    unsigned flags;
    uint32_t depth; /* parentheses currently open */
    /* the error, when rc == QR_ESYNTAX */
    uint32_t err_col;
    const char *err_msg;
    char err_buf[64];
    /* children being collected, shared by every level (a stack) */
    qr_qnode **stack;
    size_t nstack, capstack;
    /* the tokens of the word being analysed */
    struct wtok *toks;
    size_t ntoks, captoks;
    qr_buf terms;
    int cb_err; /* an allocation failure inside the analyzer callback */
};

static int syntax(struct parser *ps, uint32_t col, const char *msg)
{
    ps->err_col = col;
    ps->err_msg = msg;
    return QR_ESYNTAX;
}

static int peek(struct parser *ps, struct token **out)
{
    if (!ps->lx.have_peek) {
        uint32_t col = 0;
        if (lex(&ps->lx, &ps->lx.peeked, &col))
            return syntax(ps, col, "unbalanced quote");
        ps->lx.have_peek = true;
    }
    *out = &ps->lx.peeked;
    return 0;
}

static void advance(struct parser *ps)
{
    ps->lx.have_peek = false;
}

static bool starts_primary(enum tk k)
{
    return k == TK_WORD || k == TK_PHRASE || k == TK_LPAREN || k == TK_FIELD;
}

static bool starts_unary(enum tk k)
{
    return starts_primary(k) || k == TK_NOT || k == TK_NEG;
}

/* The error for a token met where an operand was needed. */
static int operand_error(struct parser *ps, const struct token *t)
{
    switch (t->kind) {
    case TK_AND:
        return syntax(ps, t->col, "AND without an operand");
    case TK_OR:
        return syntax(ps, t->col, "OR without an operand");
    case TK_NOT:
        return syntax(ps, t->col, "NOT without an operand");
    case TK_NEAR:
        return syntax(ps, t->col, "NEAR without an operand");
    case TK_RPAREN:
        return syntax(ps, t->col, "unbalanced parenthesis");
    default:
        return syntax(ps, t->col, "missing operand");
    }
}

static int push(struct parser *ps, qr_qnode *n)
{
    if (!n)
        return 0;
    if (ps->nstack == ps->capstack) {
        size_t cap = ps->capstack ? ps->capstack * 2 : 32;
        qr_qnode **p = qr_reallocarray(ps->stack, cap, sizeof *p);
        if (!p)
            return QR_ENOMEM;
        ps->stack = p;
        ps->capstack = cap;
    }
    ps->stack[ps->nstack++] = n;
    return 0;
}

static qr_qnode *new_node(struct parser *ps, qr_qkind kind, uint32_t col)
{
    qr_qnode *n = arena_alloc(ps->ar, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->kind = kind;
        n->column = col;
        n->height = 1;
    }
    return n;
}

/* An operator node over kids[0..n); checks the height limit. */
static int new_op(struct parser *ps, qr_qkind kind, qr_qnode **kids, size_t n, qr_qnode **out)
{
    qr_qnode *node = new_node(ps, kind, kids[0]->column);
    qr_qnode **k = arena_alloc(ps->ar, n * sizeof *k);
    if (!node || !k)
        return QR_ENOMEM;
    memcpy(k, kids, n * sizeof *k);
    node->kids = k;
    node->n = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        if (k[i]->height + 1 > node->height)
            node->height = k[i]->height + 1;
    if (node->height > QR_QUERY_MAX_DEPTH)
        return syntax(ps, node->column, "query nested too deeply");
    *out = node;
    return 0;
}

/* Pops the children pushed since mark into one AND/OR node (or the single child, or NULL). */
static int collect(struct parser *ps, size_t mark, qr_qkind kind, qr_qnode **out)
{
    size_t n = ps->nstack - mark;
    int rc = 0;
    *out = NULL;
    if (n == 1)
        *out = ps->stack[mark];
    else if (n > 1)
        rc = new_op(ps, kind, ps->stack + mark, n, out);
    ps->nstack = mark;
    return rc;
}

static int negate(struct parser *ps, qr_qnode *x, uint32_t col, qr_qnode **out)
{
    int rc = new_op(ps, QR_QNOT, &x, 1, out);
    if (!rc)
        (*out)->column = col;
    return rc;
}

/* ---- words -------------------------------------------------------------------- */

static int word_token(void *ctx, const qr_token *t)
{
    struct parser *ps = ctx;
    if (ps->ntoks == ps->captoks) {
        size_t cap = ps->captoks ? ps->captoks * 2 : 16;
        struct wtok *p = qr_reallocarray(ps->toks, cap, sizeof *p);
        if (!p)
            return ps->cb_err = QR_ENOMEM;
        ps->toks = p;
        ps->captoks = cap;
    }
    struct wtok *w = &ps->toks[ps->ntoks++];
    w->pos = t->pos;
    w->start = t->start;
    w->end = t->end;
    w->concat = t->concat;
    w->term_off = ps->terms.n;
    w->term_len = (uint32_t)t->len;
    qr_buf_put(&ps->terms, t->term, t->len);
    if (ps->terms.err)
        return ps->cb_err = QR_ENOMEM;
    return 0;
}

/* Runs the analyzer over p[0..n) into ps->toks. */
static int analyze(struct parser *ps, const char *p, size_t n, unsigned flags)
{
    ps->ntoks = 0;
    ps->cb_err = 0;
    qr_buf_reset(&ps->terms);
    int rc = qr_analyze(ps->an, p, n, 0, flags, word_token, ps, NULL);
    return ps->cb_err ? ps->cb_err : rc;
}

/* A term or phrase leaf from the selected tokens (idx[0..n) into ps->toks, positions pos[]). */
static int make_leaf(struct parser *ps, const size_t *idx, const uint32_t *pos, size_t n,
                     qr_field field, uint32_t col, qr_qnode **out)
{
    qr_qnode *node = new_node(ps, n == 1 ? QR_QTERM : QR_QPHRASE, col);
    qr_qterm *terms = arena_alloc(ps->ar, n * sizeof *terms);
    if (!node || !terms)
        return QR_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const struct wtok *w = &ps->toks[idx[i]];
        char *s = arena_alloc(ps->ar, w->term_len + 1);
        if (!s)
            return QR_ENOMEM;
        memcpy(s, ps->terms.p + w->term_off, w->term_len);
        s[w->term_len] = 0;
        terms[i].text = s;
        terms[i].len = w->term_len;
        terms[i].off = pos[i] - pos[0];
    }
    node->terms = terms;
    node->n = (uint32_t)n;
    node->field = field;
    *out = node;
    return 0;
}

static bool same_leaf(const qr_qnode *a, const qr_qnode *b)
{
    if (a->kind != b->kind || a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++)
        if (a->terms[i].off != b->terms[i].off || a->terms[i].len != b->terms[i].len ||
            memcmp(a->terms[i].text, b->terms[i].text, a->terms[i].len))
            return false;
    return true;
}

static bool is_hyphen_at(const unsigned char *s, size_t i, size_t end, size_t *len)
{
    if (s[i] == '-') {
        *len = 1;
        return true;
    }
    /* U+2010 and U+2011: e2 80 90 / e2 80 91 */
    if (i + 2 < end && s[i] == 0xe2 && s[i + 1] == 0x80 && (s[i + 2] == 0x90 || s[i + 2] == 0x91)) {
        *len = 3;
        return true;
    }
    return false;
}

/*
 * A bare word or a quoted phrase: the analyzer's tokens as a term or phrase.
 * For a bare word with compounds (alternatives), also the phrase in which
 * each compound is replaced by its concatenation, ORed with the first.
 */
static int make_words(struct parser *ps, const char *p, size_t n, bool alternatives, qr_field field,
                      uint32_t col, qr_qnode **out)
{
    int rc;
    size_t *idx = NULL;
    uint32_t *pos = NULL;
    *out = NULL;
    if ((rc = analyze(ps, p, n, 0)))
        return rc;
    if (ps->ntoks == 0)
        return 0;
    idx = qr_calloc(ps->ntoks, sizeof *idx);
    pos = qr_calloc(ps->ntoks, sizeof *pos);
    if (!idx || !pos) {
        rc = QR_ENOMEM;
        goto out;
    }
    size_t m = 0;
    bool any_concat = false;
    for (size_t i = 0; i < ps->ntoks; i++) {
        if (ps->toks[i].concat) {
            any_concat = true;
            continue;
        }
        idx[m] = i;
        pos[m++] = ps->toks[i].pos;
    }
    qr_qnode *parts = NULL;
    if (m && (rc = make_leaf(ps, idx, pos, m, field, col, &parts)))
        goto out;
    if (!alternatives || !any_concat) {
        *out = parts;
        goto out;
    }
    /*
     * The concatenation alternative: each compound's positions packed into
     * one, taken by its concatenation token (whatever order the analyzer
     * emits a concatenation and its first part in).
     */
    const unsigned char *s = (const unsigned char *)p;
    uint32_t shift = 0, comp_end = 0;
    size_t ci = 0;
    m = 0;
    for (size_t i = 0; i <= ps->ntoks; i++) {
        const struct wtok *w = i < ps->ntoks ? &ps->toks[i] : NULL;
        if (w && w->concat)
            continue;
        /* Emit the compounds that start at or before this part (all of them at the end). */
        for (; ci < ps->ntoks; ci++) {
            const struct wtok *c = &ps->toks[ci];
            if (!c->concat)
                continue;
            if (w && c->pos > w->pos)
                break;
            uint32_t nparts = 1;
            for (size_t j = c->start; j < c->end;) {
                size_t hl;
                if (is_hyphen_at(s, j, c->end, &hl)) {
                    nparts++;
                    j += hl;
                } else {
                    j++;
                }
            }
            idx[m] = ci;
            pos[m++] = c->pos - shift;
            shift += nparts - 1;
            comp_end = c->pos + nparts;
        }
        if (!w || w->pos < comp_end)
            continue;
        idx[m] = i;
        pos[m++] = w->pos - shift;
    }
    qr_qnode *concat = NULL;
    if ((rc = make_leaf(ps, idx, pos, m, field, col, &concat)))
        goto out;
    if (!parts || same_leaf(parts, concat)) {
        *out = parts ? parts : concat;
        goto out;
    }
    qr_qnode *alt[2] = {parts, concat};
    rc = new_op(ps, QR_QOR, alt, 2, out);
out:
    qr_free(idx);
    qr_free(pos);
    return rc;
}

static int make_prefix(struct parser *ps, const struct token *t, qr_field field, qr_qnode **out)
{
    int rc;
    *out = NULL;
    if ((rc = analyze(ps, t->p, t->n - 1, QR_ANALYZE_NOSTEM)))
        return rc;
    size_t len = 0;
    for (size_t i = 0; i < ps->ntoks; i++)
        if (!ps->toks[i].concat)
            len += ps->toks[i].term_len;
    if (len == 0)
        return 0; /* punctuation and a star: nothing */
    char *s = arena_alloc(ps->ar, len + 1);
    qr_qterm *term = arena_alloc(ps->ar, sizeof *term);
    qr_qnode *node = new_node(ps, QR_QPREFIX, t->col);
    if (!s || !term || !node)
        return QR_ENOMEM;
    len = 0;
    for (size_t i = 0; i < ps->ntoks; i++) {
        if (ps->toks[i].concat)
            continue;
        memcpy(s + len, ps->terms.p + ps->toks[i].term_off, ps->toks[i].term_len);
        len += ps->toks[i].term_len;
    }
    s[len] = 0;
    if (count_cols(s, len) < 2)
        return syntax(ps, t->col, "prefix shorter than 2 characters");
    term->text = s;
    term->len = (uint32_t)len;
    term->off = 0;
    node->terms = term;
    node->n = 1;
    node->field = field;
    *out = node;
    return 0;
}

/* ---- grammar ------------------------------------------------------------------ */

static int parse_or(struct parser *ps, qr_field field, qr_qnode **out);

static int parse_primary(struct parser *ps, qr_field field, qr_qnode **out)
{
    struct token *t;
    int rc;
    *out = NULL;
    if ((rc = peek(ps, &t)))
        return rc;
    uint32_t fcol = 0;
    const char *fname = NULL;
    while (t->kind == TK_FIELD) {
        field = t->field;
        if (!fcol) {
            fcol = t->col;
            fname = t->field == QR_FIELD_TITLE ? "title: without an operand"
                                               : "body: without an operand";
        }
        advance(ps);
        if ((rc = peek(ps, &t)))
            return rc;
    }
    switch (t->kind) {
    case TK_WORD: {
        struct token w = *t;
        advance(ps);
        if (w.n > 0 && w.p[w.n - 1] == '*')
            return make_prefix(ps, &w, field, out);
        return make_words(ps, w.p, w.n, true, field, w.col, out);
    }
    case TK_PHRASE: {
        struct token w = *t;
        advance(ps);
        return make_words(ps, w.p, w.n, false, field, w.col, out);
    }
    case TK_LPAREN: {
        uint32_t open = t->col;
        if (ps->depth >= QR_QUERY_MAX_DEPTH)
            return syntax(ps, open, "query nested too deeply");
        advance(ps);
        if ((rc = peek(ps, &t)))
            return rc;
        if (t->kind == TK_RPAREN)
            return syntax(ps, open, "empty parentheses");
        if (t->kind == TK_END)
            return syntax(ps, open, "unbalanced parenthesis");
        if (!starts_unary(t->kind))
            return operand_error(ps, t);
        ps->depth++;
        if ((rc = parse_or(ps, field, out)))
            return rc;
        ps->depth--;
        if ((rc = peek(ps, &t)))
            return rc;
        if (t->kind == TK_END)
            return syntax(ps, open, "unbalanced parenthesis");
        if (t->kind != TK_RPAREN)
            return operand_error(ps, t);
        advance(ps);
        return 0;
    }
    default:
        if (fcol)
            return syntax(ps, fcol, fname);
        return operand_error(ps, t);
    }
}

static int parse_near(struct parser *ps, qr_field field, qr_qnode **out)
{
    qr_qnode *left, *right;
    struct token *t;
    int rc;
    if ((rc = parse_primary(ps, field, &left)))
        return rc;
    for (;;) {
        if ((rc = peek(ps, &t)))
            return rc;
        if (t->kind != TK_NEAR)
            break;
        uint32_t col = t->col, k = t->k;
        advance(ps);
        if ((rc = peek(ps, &t)))
            return rc;
        if (!starts_primary(t->kind))
            return syntax(ps, col, "NEAR without an operand");
        if ((rc = parse_primary(ps, field, &right)))
            return rc;
        if (!left || !right) {
            left = left ? left : right;
            continue;
        }
        qr_qnode *pair[2] = {left, right};
        if ((rc = new_op(ps, QR_QNEAR, pair, 2, &left)))
            return rc;
        left->near_k = k;
    }
    *out = left;
    return 0;
}

static int parse_unary(struct parser *ps, qr_field field, qr_qnode **out)
{
    struct token *t;
    int rc;
    uint32_t nneg = 0, col = 0;
    *out = NULL;
    for (;;) {
        if ((rc = peek(ps, &t)))
            return rc;
        if (t->kind == TK_NOT) {
            uint32_t c = t->col;
            advance(ps);
            if ((rc = peek(ps, &t)))
                return rc;
            if (!starts_unary(t->kind))
                return syntax(ps, c, "NOT without an operand");
            col = nneg++ ? col : c;
            continue;
        }
        if (t->kind == TK_NEG) {
            col = nneg++ ? col : t->col;
            advance(ps);
        }
        break;
    }
    qr_qnode *x;
    if ((rc = parse_near(ps, field, &x)))
        return rc;
    if (!x || !nneg) {
        *out = x;
        return 0;
    }
    if (nneg % 2 == 0 && (rc = negate(ps, x, col, &x)))
        return rc;
    return negate(ps, x, col, out);
}

static int parse_and(struct parser *ps, qr_field field, qr_qnode **out)
{
    size_t mark = ps->nstack;
    struct token *t;
    qr_qnode *x;
    int rc;
    if ((rc = parse_unary(ps, field, &x)) || (rc = push(ps, x)))
        return rc;
    for (;;) {
        if ((rc = peek(ps, &t)))
            return rc;
        if (t->kind == TK_AND) {
            uint32_t col = t->col;
            advance(ps);
            if ((rc = peek(ps, &t)))
                return rc;
            if (!starts_unary(t->kind))
                return syntax(ps, col, "AND without an operand");
        } else if ((ps->flags & QR_PARSE_ANY) || !starts_unary(t->kind)) {
            break;
        }
        if ((rc = parse_unary(ps, field, &x)) || (rc = push(ps, x)))
            return rc;
    }
    return collect(ps, mark, QR_QAND, out);
}

static int parse_or(struct parser *ps, qr_field field, qr_qnode **out)
{
    size_t mark = ps->nstack;
    struct token *t;
    qr_qnode *x;
    int rc;
    if ((rc = parse_and(ps, field, &x)) || (rc = push(ps, x)))
        return rc;
    for (;;) {
        if ((rc = peek(ps, &t)))
            return rc;
        if (t->kind == TK_OR) {
            uint32_t col = t->col;
            advance(ps);
            if ((rc = peek(ps, &t)))
                return rc;
            if (!starts_unary(t->kind))
                return syntax(ps, col, "OR without an operand");
        } else if (!(ps->flags & QR_PARSE_ANY) || !starts_unary(t->kind)) {
            break;
        }
        if ((rc = parse_and(ps, field, &x)) || (rc = push(ps, x)))
            return rc;
    }
    return collect(ps, mark, QR_QOR, out);
}

int qr_query_parse(qr_query *out, qr_query_error *err, qr_analyzer *a, const char *text, size_t len,
                   unsigned flags)
{
    struct parser ps;
    memset(&ps, 0, sizeof ps);
    ps.lx.s = text;
    ps.lx.len = len;
    ps.lx.col = 1;
    ps.lx.word_start = true;
    ps.an = a;
    ps.flags = flags;
    ps.ar = qr_calloc(1, sizeof *ps.ar);
    if (!ps.ar)
        return QR_ENOMEM;
    qr_qnode *root = NULL;
    struct token *t;
    int rc = peek(&ps, &t);
    if (!rc && t->kind == TK_END)
        rc = syntax(&ps, 1, "empty query");
    if (!rc && !starts_unary(t->kind))
        rc = operand_error(&ps, t);
    if (!rc)
        rc = parse_or(&ps, QR_FIELD_ANY, &root);
    if (!rc)
        rc = peek(&ps, &t);
    if (!rc && t->kind != TK_END)
        rc = operand_error(&ps, t);
    qr_free(ps.stack);
    qr_free(ps.toks);
    qr_buf_free(&ps.terms);
    if (rc) {
        if (rc == QR_ESYNTAX && err) {
            err->column = ps.err_col;
            snprintf(err->message, sizeof err->message, "%s", ps.err_msg);
        }
        arena_free(ps.ar);
        return rc;
    }
    out->root = root;
    out->arena = ps.ar;
    return 0;
}

void qr_query_free(qr_query *q)
{
    if (!q)
        return;
    arena_free(q->arena);
    q->arena = NULL;
    q->root = NULL;
}

/* ---- formatting ------------------------------------------------------------------ */

static void format_node(const qr_qnode *n, qr_buf *b)
{
    static const char *const fields[] = {"", "title:", "body:"};
    switch (n->kind) {
    case QR_QTERM:
        qr_buf_put(b, fields[n->field], strlen(fields[n->field]));
        qr_buf_put(b, n->terms[0].text, n->terms[0].len);
        break;
    case QR_QPREFIX:
        qr_buf_put(b, fields[n->field], strlen(fields[n->field]));
        qr_buf_put(b, n->terms[0].text, n->terms[0].len);
        qr_buf_put_u8(b, '*');
        break;
    case QR_QPHRASE:
        qr_buf_put(b, fields[n->field], strlen(fields[n->field]));
        qr_buf_put_u8(b, '"');
        for (uint32_t i = 0; i < n->n; i++) {
            if (i) {
                qr_buf_put_u8(b, ' ');
                for (uint32_t g = n->terms[i - 1].off + 1; g < n->terms[i].off; g++)
                    qr_buf_put(b, "? ", 2);
            }
            qr_buf_put(b, n->terms[i].text, n->terms[i].len);
        }
        qr_buf_put_u8(b, '"');
        break;
    default: {
        char head[32];
        const char *name = n->kind == QR_QAND ? "AND" : n->kind == QR_QOR ? "OR" : "NOT";
        if (n->kind == QR_QNEAR)
            snprintf(head, sizeof head, "(NEAR/%u", n->near_k);
        else
            snprintf(head, sizeof head, "(%s", name);
        qr_buf_put(b, head, strlen(head));
        for (uint32_t i = 0; i < n->n; i++) {
            qr_buf_put_u8(b, ' ');
            format_node(n->kids[i], b);
        }
        qr_buf_put_u8(b, ')');
    }
    }
}

int qr_query_format(const qr_query *q, qr_buf *out)
{
    if (!q->root)
        qr_buf_put(out, "()", 2);
    else
        format_node(q->root, out);
    return out->err;
}
