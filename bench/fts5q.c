/*
 * quarry's query language into FTS5's (see fts5.h): a lexer that follows
 * SPEC §3 and the lexing fine print of §6 (operators only in upper case,
 * `-` before a word, `title:` / `body:` at the start of a word, `word*`),
 * a recursive-descent parser into a small tree, and a printer that emits a
 * fully parenthesised FTS5 expression, carrying each leaf's innermost field
 * down to it as an FTS5 column filter.
 */
#include "bench/fts5.h"

#include <stdio.h>
#include <string.h>

#include "storage/alloc.h"
#include "storage/status.h"

/* ---- lexer ------------------------------------------------------------------ */

typedef enum tkind {
    T_END,
    T_LP,
    T_RP,
    T_PHRASE,
    T_WORD,
    T_AND,
    T_OR,
    T_NOT,
    T_NEG,
    T_NEAR,
    T_FIELD
} tkind;

typedef struct tok {
    tkind kind;
    const char *p; /* T_WORD, T_PHRASE: the text (without quotes) */
    size_t n;
    unsigned k; /* T_NEAR: distance; T_FIELD: 1 title, 2 body */
    size_t col; /* 1-based byte column, for messages */
} tok;

typedef struct lexer {
    const char *s;
    size_t n, i;
    /* The rest of a word after a leading '-' or a field prefix, lexed next. */
    const char *pend;
    size_t pend_n, pend_col;
} lexer;

static bool space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool delim(char c)
{
    return space(c) || c == '(' || c == ')' || c == '"';
}

/* Lexes the word w[0..n) at column col (a word never holds a delimiter). */
static tok word_tok(lexer *lx, const char *w, size_t n, size_t col)
{
    tok t = {.kind = T_WORD, .p = w, .n = n, .col = col};
    lx->pend = NULL;
    if (n == 3 && !memcmp(w, "AND", 3)) {
        t.kind = T_AND;
    } else if (n == 2 && !memcmp(w, "OR", 2)) {
        t.kind = T_OR;
    } else if (n == 3 && !memcmp(w, "NOT", 3)) {
        t.kind = T_NOT;
    } else if (n == 4 && !memcmp(w, "NEAR", 4)) {
        t.kind = T_NEAR;
        t.k = 10;
    } else if (n > 5 && !memcmp(w, "NEAR/", 5) && strspn(w + 5, "0123456789") >= n - 5) {
        unsigned k = 0;
        for (size_t i = 5; i < n; i++)
            k = k > 100000000u ? k : k * 10 + (unsigned)(w[i] - '0');
        t.kind = T_NEAR;
        t.k = k;
    } else if (n >= 2 && w[0] == '-' && (w[1] != '-' || n > 2)) {
        /* a leading '-' followed by more of the word: NOT; "--x" is NOT x too */
        size_t d = 0;
        while (d < n && w[d] == '-')
            d++;
        t.kind = T_NEG;
        if (d < n) {
            lx->pend = w + d;
            lx->pend_n = n - d;
            lx->pend_col = col + d;
        }
    } else if ((n >= 6 && !memcmp(w, "title:", 6)) || (n >= 5 && !memcmp(w, "body:", 5))) {
        size_t d = w[0] == 't' ? 6 : 5;
        t.kind = T_FIELD;
        t.k = w[0] == 't' ? 1 : 2;
        if (d < n) {
            lx->pend = w + d;
            lx->pend_n = n - d;
            lx->pend_col = col + d;
        }
    }
    return t;
}

static int next_tok(lexer *lx, tok *out, char *err, size_t errlen)
{
    if (lx->pend) {
        /* the rest of "-word" or "title:word": only a field prefix or a word may follow */
        const char *w = lx->pend;
        size_t n = lx->pend_n, col = lx->pend_col;
        *out = word_tok(lx, w, n, col);
        if (out->kind != T_FIELD && out->kind != T_WORD) {
            lx->pend = NULL;
            *out = (tok){.kind = T_WORD, .p = w, .n = n, .col = col};
        }
        return 0;
    }
    while (lx->i < lx->n && space(lx->s[lx->i]))
        lx->i++;
    size_t col = lx->i + 1;
    if (lx->i >= lx->n) {
        *out = (tok){.kind = T_END, .col = col};
        return 0;
    }
    char c = lx->s[lx->i];
    if (c == '(' || c == ')') {
        lx->i++;
        *out = (tok){.kind = c == '(' ? T_LP : T_RP, .col = col};
        return 0;
    }
    if (c == '"') {
        const char *close = memchr(lx->s + lx->i + 1, '"', lx->n - lx->i - 1);
        if (!close) {
            snprintf(err, errlen, "column %zu: unclosed quote", col);
            return QR_ESYNTAX;
        }
        *out = (tok){.kind = T_PHRASE,
                     .p = lx->s + lx->i + 1,
                     .n = (size_t)(close - (lx->s + lx->i + 1)),
                     .col = col};
        lx->i = (size_t)(close - lx->s) + 1;
        return 0;
    }
    size_t start = lx->i;
    while (lx->i < lx->n && !delim(lx->s[lx->i]))
        lx->i++;
    const char *w = lx->s + start;
    size_t n = lx->i - start;
    if (n == 1 && w[0] == '-' && lx->i < lx->n && (lx->s[lx->i] == '(' || lx->s[lx->i] == '"')) {
        *out = (tok){.kind = T_NEG, .col = col};
        return 0;
    }
    *out = word_tok(lx, w, n, col);
    return 0;
}

/* ---- tree ------------------------------------------------------------------ */

typedef enum nkind { N_WORD, N_PREFIX, N_PHRASE, N_AND, N_OR, N_NOT, N_NEAR } nkind;

typedef struct node node;
struct node {
    nkind kind;
    unsigned field; /* 0 any, 1 title, 2 body: the innermost field above the node */
    const char *p;  /* leaves: text */
    size_t n;
    unsigned k;   /* N_NEAR */
    node *kid[2]; /* N_NOT: kid[0]; N_NEAR: both; N_AND / N_OR: kid[0] heads a list */
    node *next;   /* the following sibling in an AND / OR list */
};

#define MAX_DEPTH 256

typedef struct parser {
    lexer lx;
    tok t; /* the current token */
    node *pool;
    size_t npool, cap;
    unsigned depth;
    char *err;
    size_t errlen;
} parser;

static int advance(parser *ps)
{
    return next_tok(&ps->lx, &ps->t, ps->err, ps->errlen);
}

/* The pool is sized from the query length (every node takes a token): it cannot run out. */
static node *new_node(parser *ps, nkind k)
{
    node *n = &ps->pool[ps->npool++];
    *n = (node){.kind = k};
    return n;
}

static int syntax(parser *ps, size_t col, const char *what)
{
    snprintf(ps->err, ps->errlen, "column %zu: %s", col, what);
    return QR_ESYNTAX;
}

/* True when a byte is a letter or digit (ASCII) or part of a non-ASCII character. */
static bool word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* A word without a word character analyses to nothing: it is dropped. */
static bool has_word_char(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (word_byte((unsigned char)p[i]))
            return true;
    return false;
}

static bool ends_clause(tkind k)
{
    return k == T_END || k == T_RP || k == T_OR || k == T_AND || k == T_NEAR;
}

static int parse_or(parser *ps, node **out);

static int parse_primary(parser *ps, node **out)
{
    int rc;
    tok t = ps->t;
    *out = NULL;
    if (++ps->depth > MAX_DEPTH)
        return syntax(ps, t.col, "query nested too deeply");
    switch (t.kind) {
    case T_LP: {
        if ((rc = advance(ps)))
            return rc;
        if (ps->t.kind == T_RP)
            return syntax(ps, t.col, "empty parentheses");
        node *in;
        if ((rc = parse_or(ps, &in)))
            return rc;
        if (ps->t.kind != T_RP)
            return syntax(ps, t.col, "unbalanced parenthesis");
        if ((rc = advance(ps)))
            return rc;
        *out = in;
        break;
    }
    case T_FIELD:
        if ((rc = advance(ps)))
            return rc;
        if (ps->t.kind == T_END || ps->t.kind == T_RP)
            return syntax(ps, t.col, "field without a clause");
        if ((rc = parse_primary(ps, out)))
            return rc;
        break;
    case T_PHRASE:
    case T_WORD: {
        if ((rc = advance(ps)))
            return rc;
        bool prefix = t.kind == T_WORD && t.n > 0 && t.p[t.n - 1] == '*';
        size_t n = prefix ? t.n - 1 : t.n;
        if (prefix) {
            size_t chars = 0; /* word characters, counting a UTF-8 sequence once */
            for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)t.p[i];
                chars += word_byte(c) && (c & 0xc0) != 0x80;
            }
            if (chars < 2)
                return syntax(ps, t.col, "prefix shorter than 2 characters");
        }
        if (!has_word_char(t.p, n))
            break; /* dropped, as quarry drops a word that analyses to nothing */
        node *leaf = new_node(ps, prefix ? N_PREFIX : t.kind == T_PHRASE ? N_PHRASE : N_WORD);
        leaf->p = t.p;
        leaf->n = n;
        *out = leaf;
        break;
    }
    case T_RP:
        return syntax(ps, t.col, "unbalanced parenthesis");
    default:
        return syntax(ps, t.col, "operator without an operand");
    }
    ps->depth--;
    return 0;
}

/* Applies a field to every leaf and NEAR below n that no inner field already set. */
static void set_field(node *n, unsigned field)
{
    if (!n || !field)
        return;
    switch (n->kind) {
    case N_NEAR:
        set_field(n->kid[0], field);
        set_field(n->kid[1], field);
        /* fall through */
    case N_WORD:
    case N_PREFIX:
    case N_PHRASE:
        if (!n->field)
            n->field = field;
        return;
    case N_NOT:
        set_field(n->kid[0], field);
        return;
    case N_AND:
    case N_OR:
        for (node *k = n->kid[0]; k; k = k->next)
            set_field(k, field);
        return;
    }
}

/* A primary with the field its own prefix gives (parse_primary consumes the prefix). */
static int parse_fielded(parser *ps, node **out)
{
    unsigned field = ps->t.kind == T_FIELD ? (unsigned)ps->t.k : 0;
    int rc = parse_primary(ps, out);
    if (!rc)
        set_field(*out, field);
    return rc;
}

static int parse_near(parser *ps, node **out)
{
    node *left;
    int rc = parse_fielded(ps, &left);
    if (rc)
        return rc;
    while (ps->t.kind == T_NEAR) {
        tok op = ps->t;
        if ((rc = advance(ps)))
            return rc;
        if (ends_clause(ps->t.kind) || ps->t.kind == T_NOT || ps->t.kind == T_NEG)
            return syntax(ps, op.col, "operator without an operand");
        node *right;
        if ((rc = parse_fielded(ps, &right)))
            return rc;
        if (!left || !right) {
            left = left ? left : right;
            continue;
        }
        node *nr = new_node(ps, N_NEAR);
        nr->k = op.k;
        nr->kid[0] = left;
        nr->kid[1] = right;
        left = nr;
    }
    *out = left;
    return 0;
}

static int parse_unary(parser *ps, node **out)
{
    int rc;
    tok t = ps->t;
    if (t.kind != T_NOT && t.kind != T_NEG)
        return parse_near(ps, out);
    if ((rc = advance(ps)))
        return rc;
    if (ends_clause(ps->t.kind))
        return syntax(ps, t.col, "operator without an operand");
    if (++ps->depth > MAX_DEPTH)
        return syntax(ps, t.col, "query nested too deeply");
    node *in;
    if ((rc = t.kind == T_NOT ? parse_unary(ps, &in) : parse_near(ps, &in)))
        return rc;
    ps->depth--;
    *out = NULL;
    if (in) {
        node *n = new_node(ps, N_NOT);
        n->kid[0] = in;
        *out = n;
    }
    return 0;
}

/* A list node of kind k over the chain first (one element stands for itself). */
static node *make_list(parser *ps, nkind k, node *first)
{
    if (!first || !first->next)
        return first;
    node *l = new_node(ps, k);
    l->kid[0] = first;
    return l;
}

static int parse_and(parser *ps, node **out)
{
    node *first = NULL, **tail = &first;
    bool any = false; /* an operand was parsed (a dropped word counts) */
    int rc;
    for (;;) {
        tok t = ps->t;
        if (t.kind == T_AND) {
            if (!any)
                return syntax(ps, t.col, "operator without an operand");
            if ((rc = advance(ps)))
                return rc;
            if (ends_clause(ps->t.kind))
                return syntax(ps, t.col, "operator without an operand");
            continue;
        }
        if (t.kind == T_END || t.kind == T_RP || t.kind == T_OR)
            break;
        if (t.kind == T_NEAR)
            return syntax(ps, t.col, "operator without an operand");
        node *u;
        if ((rc = parse_unary(ps, &u)))
            return rc;
        any = true;
        if (u) {
            *tail = u;
            tail = &u->next;
        }
    }
    *out = make_list(ps, N_AND, first);
    return 0;
}

static int parse_or(parser *ps, node **out)
{
    node *first = NULL, **tail = &first;
    int rc;
    if (ps->t.kind == T_OR)
        return syntax(ps, ps->t.col, "operator without an operand");
    for (;;) {
        node *a;
        if ((rc = parse_and(ps, &a)))
            return rc;
        if (a) {
            *tail = a;
            tail = &a->next;
        }
        if (ps->t.kind != T_OR)
            break;
        tok op = ps->t;
        if ((rc = advance(ps)))
            return rc;
        if (ps->t.kind == T_END || ps->t.kind == T_RP || ps->t.kind == T_OR)
            return syntax(ps, op.col, "operator without an operand");
    }
    *out = make_list(ps, N_OR, first);
    return 0;
}

/* ---- printer ------------------------------------------------------------------ */

static void put_str(qr_buf *out, const char *p, size_t n)
{
    qr_buf_put_u8(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            qr_buf_put_u8(out, '"');
        qr_buf_put_u8(out, (uint8_t)p[i]);
    }
    qr_buf_put_u8(out, '"');
}

static void put_cstr(qr_buf *out, const char *s)
{
    qr_buf_put(out, s, strlen(s));
}

static void put_field(qr_buf *out, unsigned field)
{
    if (field)
        put_cstr(out, field == 1 ? "title : " : "body : ");
}

/* Appends the word characters of p[0..n) quoted: the joined form of a compound or prefix. */
static void put_joined(qr_buf *out, const char *p, size_t n)
{
    qr_buf_put_u8(out, '"');
    for (size_t i = 0; i < n; i++)
        if (word_byte((unsigned char)p[i]))
            qr_buf_put_u8(out, (uint8_t)p[i]);
    qr_buf_put_u8(out, '"');
}

/* A hyphen with a word character on both sides (SPEC §2.5; the ASCII hyphen only). */
static bool compound(const char *p, size_t n)
{
    for (size_t i = 1; i + 1 < n; i++)
        if (p[i] == '-' && word_byte((unsigned char)p[i - 1]) && word_byte((unsigned char)p[i + 1]))
            return true;
    return false;
}

/* Emits a NEAR operand: word, quoted phrase or prefix (no field). */
static void put_phrase(qr_buf *out, const node *n)
{
    if (n->kind == N_PREFIX) {
        put_joined(out, n->p, n->n); /* quarry joins a prefix's parts: e-mail* is email* */
        qr_buf_put_u8(out, '*');
        return;
    }
    put_str(out, n->p, n->n);
}

static int print(qr_buf *out, const node *n, char *err, size_t errlen);

static int print_and(qr_buf *out, const node *n, char *err, size_t errlen)
{
    size_t pos = 0, neg = 0;
    for (const node *k = n->kid[0]; k; k = k->next)
        k->kind == N_NOT ? neg++ : pos++;
    if (!pos) {
        snprintf(err, errlen, "FTS5 cannot express a purely negative query");
        return QR_EINVAL;
    }
    int rc;
    for (size_t i = 0; i < neg; i++)
        qr_buf_put_u8(out, '(');
    if (pos > 1)
        qr_buf_put_u8(out, '(');
    size_t i = 0;
    for (const node *k = n->kid[0]; k; k = k->next) {
        if (k->kind == N_NOT)
            continue;
        if (i++)
            put_cstr(out, " AND ");
        if ((rc = print(out, k, err, errlen)))
            return rc;
    }
    if (pos > 1)
        qr_buf_put_u8(out, ')');
    for (const node *k = n->kid[0]; k; k = k->next) {
        if (k->kind != N_NOT)
            continue;
        put_cstr(out, " NOT ");
        if ((rc = print(out, k->kid[0], err, errlen)))
            return rc;
        qr_buf_put_u8(out, ')');
    }
    return 0;
}

static int print(qr_buf *out, const node *n, char *err, size_t errlen)
{
    int rc;
    switch (n->kind) {
    case N_WORD:
        put_field(out, n->field);
        if (compound(n->p, n->n)) { /* quarry: the parts as a phrase, or their concatenation */
            put_cstr(out, "(");
            put_str(out, n->p, n->n);
            put_cstr(out, " OR ");
            put_joined(out, n->p, n->n);
            put_cstr(out, ")");
        } else {
            put_str(out, n->p, n->n);
        }
        return 0;
    case N_PHRASE:
    case N_PREFIX:
        put_field(out, n->field);
        put_phrase(out, n);
        return 0;
    case N_NEAR: {
        const node *a = n->kid[0], *b = n->kid[1];
        if (a->kind > N_PHRASE || b->kind > N_PHRASE) {
            snprintf(err, errlen, "FTS5 NEAR takes only words, phrases and prefixes");
            return QR_EINVAL;
        }
        if (a->field != b->field) {
            snprintf(err, errlen, "FTS5 NEAR cannot mix fields");
            return QR_EINVAL;
        }
        put_field(out, a->field);
        put_cstr(out, "NEAR(");
        put_phrase(out, a);
        qr_buf_put_u8(out, ' ');
        put_phrase(out, b);
        char k[32];
        snprintf(k, sizeof k, ", %u)", n->k ? n->k - 1 : 0);
        put_cstr(out, k);
        return 0;
    }
    case N_AND:
        return print_and(out, n, err, errlen);
    case N_OR: {
        qr_buf_put_u8(out, '(');
        size_t i = 0;
        for (const node *k = n->kid[0]; k; k = k->next) {
            if (k->kind == N_NOT) {
                snprintf(err, errlen, "FTS5 cannot express NOT under OR");
                return QR_EINVAL;
            }
            if (i++)
                put_cstr(out, " OR ");
            if ((rc = print(out, k, err, errlen)))
                return rc;
        }
        qr_buf_put_u8(out, ')');
        return 0;
    }
    case N_NOT:
        break;
    }
    snprintf(err, errlen, "FTS5 cannot express a purely negative query");
    return QR_EINVAL;
}

int qr_fts5_translate(qr_buf *out, const char *q, size_t len, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    parser ps = {.lx = {.s = q, .n = len}, .err = err, .errlen = errlen};
    /* Leaves take a byte each and operators join at least two nodes or take a token of
     * their own: fewer nodes than 2 * len + 4. */
    ps.cap = 2 * len + 4;
    ps.pool = qr_calloc(ps.cap, sizeof *ps.pool);
    if (!ps.pool)
        return QR_ENOMEM;
    size_t start = out->n;
    node *root = NULL;
    int rc = advance(&ps);
    if (!rc) {
        if (ps.t.kind == T_END)
            rc = syntax(&ps, 1, "empty query");
        else if (!(rc = parse_or(&ps, &root)) && ps.t.kind != T_END)
            rc = syntax(&ps, ps.t.col, "unbalanced parenthesis");
    }
    if (!rc && root)
        rc = print(out, root, err, errlen);
    if (!rc && out->err)
        rc = out->err;
    if (rc)
        out->n = start;
    qr_free(ps.pool);
    return rc;
}
