/*
 * The query language (SPEC §3 and the query-lexing fine print of §6): query
 * text in, an abstract syntax tree out, or a syntax error naming its 1-based
 * column (in code points).
 *
 *   query    := or
 *   or       := and ( "OR" and )*
 *   and      := unary ( [ "AND" ] unary )*       juxtaposition is AND (OR with QR_PARSE_ANY)
 *   unary    := "NOT" unary | "-" near | near
 *   near     := primary ( ( "NEAR" | "NEAR/" k ) primary )*     grouped left to right
 *   primary  := "(" or ")" | field ":" primary | "\"" words "\"" | word "*" | word
 *
 * Words go through the index's analyzer: a word of several tokens becomes a
 * phrase of them at their analyzer positions; a bare word with hyphenated
 * compounds becomes (phrase of the parts OR phrase with each compound's
 * concatenation); `word*` is a prefix of the normalised, unstemmed word. A
 * word that analyses to nothing is dropped from its operator; a query
 * reduced to nothing has a NULL root (it matches nothing). Parsing is linear
 * in the length of the text; nesting deeper than QR_QUERY_MAX_DEPTH is an
 * error rather than a risk to the stack.
 */
#ifndef QR_QUERY_PARSER_H
#define QR_QUERY_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index/analyzer.h"
#include "storage/buf.h"

/* Deepest nesting of parentheses, and tallest syntax tree, a query may have. */
#define QR_QUERY_MAX_DEPTH 256

/* NEAR's distance when the query says plain NEAR. */
#define QR_NEAR_DEFAULT 10

typedef enum qr_qkind {
    QR_QTERM,   /* one term */
    QR_QPHRASE, /* terms at fixed relative positions (n >= 2) */
    QR_QPREFIX, /* every indexed term that starts with terms[0] */
    QR_QAND,    /* all children (n >= 2) */
    QR_QOR,     /* any child (n >= 2) */
    QR_QNOT,    /* the complement of kids[0] */
    QR_QNEAR,   /* kids[0] and kids[1] within near_k positions */
} qr_qkind;

/* Which part of a document a leaf looks at. */
typedef enum qr_field {
    QR_FIELD_ANY = 0, /* title and body */
    QR_FIELD_TITLE,   /* positions below the document's title length */
    QR_FIELD_BODY,    /* the other positions */
} qr_field;

/* A term of a leaf: NUL-terminated text, and its offset inside a phrase. */
typedef struct qr_qterm {
    const char *text; /* the term (stemmed), or for a prefix the normalised unstemmed prefix */
    uint32_t len;     /* bytes in text */
    uint32_t off;     /* position relative to the phrase's first term (0 for the first) */
} qr_qterm;

typedef struct qr_qnode qr_qnode;
struct qr_qnode {
    qr_qkind kind;
    qr_field field;  /* leaves: the innermost field that applies; ANY for operators */
    uint32_t column; /* 1-based column where the clause starts */
    uint32_t near_k; /* QR_QNEAR: the largest gap allowed */
    uint32_t n;      /* leaves: number of terms; operators: number of children */
    uint32_t height; /* 1 for a leaf, 1 + the tallest child otherwise */
    qr_qterm *terms; /* QR_QTERM (1), QR_QPHRASE (n), QR_QPREFIX (1) */
    qr_qnode **kids; /* QR_QAND, QR_QOR (n >= 2), QR_QNOT (1), QR_QNEAR (2: left, right) */
};

/* A parsed query; the tree and its strings live in the query's own arena. */
typedef struct qr_query {
    qr_qnode *root; /* NULL when the query reduced to nothing: it matches nothing */
    void *arena;    /* private: the memory of every node and string */
} qr_query;

/* Why a query was rejected. */
typedef struct qr_query_error {
    uint32_t column;  /* 1-based, in code points of the query text */
    char message[64]; /* "unbalanced parenthesis", ... (no column, no prefix) */
} qr_query_error;

/* Flags for qr_query_parse. */
enum {
    QR_PARSE_ANY = 1 << 0, /* juxtaposition means OR (explicit AND still means AND) */
};

/*
 * Parses text[0..len) with the analyzer a (which must be the index's
 * analyzer, language and all). On success returns 0 and *out owns the tree
 * (free with qr_query_free). On a syntax error returns QR_ESYNTAX and fills
 * *err (if not NULL); QR_ENOMEM when memory ran out. *out is untouched on
 * failure.
 */
int qr_query_parse(qr_query *out, qr_query_error *err, qr_analyzer *a, const char *text, size_t len,
                   unsigned flags);
/* Frees a parsed query; accepts NULL and an already freed (zeroed) query. */
void qr_query_free(qr_query *q);

/*
 * Appends a canonical S-expression of the tree to out, for tests and
 * debugging: `crimea`, `title:"ceas fire"`, `"a ? c"` (? = a gap),
 * `ukrain*`, `(AND a b)`, `(OR a b)`, `(NOT a)`, `(NEAR/5 a b)`, and `()` for
 * a query that matches nothing. Returns 0 or QR_ENOMEM.
 */
int qr_query_format(const qr_query *q, qr_buf *out);

#endif
