/*
 * The embedding API (include/quarry.h): thin, owned wrappers over the
 * analyzer, the searcher, the parser and the snippet maker, so that a C
 * program needs nothing but quarry.h.
 */
#include "quarry.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "index/analyzer.h"
#include "query/parser.h"
#include "query/searcher.h"
#include "query/snippet.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/status.h"

/* Both tables must stay in step: quarry.h promises the same values. */
_Static_assert((int)QUARRY_ENOMEM == (int)QR_ENOMEM && (int)QUARRY_EIO == (int)QR_EIO &&
                   (int)QUARRY_ECORRUPT == (int)QR_ECORRUPT &&
                   (int)QUARRY_EVERSION == (int)QR_EVERSION &&
                   (int)QUARRY_ENOTFOUND == (int)QR_ENOTFOUND &&
                   (int)QUARRY_EINVAL == (int)QR_EINVAL && (int)QUARRY_ESYNTAX == (int)QR_ESYNTAX,
               "quarry.h status codes differ from storage/status.h");

const char *quarry_strerror(int code)
{
    return qr_strerror(code);
}

static int fail(quarry_error *err, int code, const char *msg)
{
    if (err) {
        memset(err, 0, sizeof *err);
        err->code = code;
        snprintf(err->message, sizeof err->message, "%s", msg && *msg ? msg : qr_strerror(code));
    }
    return code;
}

/* ---- analysis ---- */

struct quarry_analyzer {
    qr_analyzer *a;
};

int quarry_analyzer_open(quarry_analyzer **out, const char *language)
{
    *out = NULL;
    quarry_analyzer *qa = qr_calloc(1, sizeof *qa);
    if (!qa)
        return QUARRY_ENOMEM;
    int rc = qr_analyzer_open(&qa->a, language);
    if (rc) {
        qr_free(qa);
        return rc;
    }
    *out = qa;
    return 0;
}

void quarry_analyzer_close(quarry_analyzer *a)
{
    if (!a)
        return;
    qr_analyzer_close(a->a);
    qr_free(a);
}

struct relay {
    quarry_token_fn fn;
    void *ctx;
};

static int relay_token(void *ctx, const qr_token *t)
{
    struct relay *r = ctx;
    return r->fn(r->ctx, t->term, t->len, t->pos);
}

int quarry_analyze(quarry_analyzer *a, const char *text, size_t len, quarry_token_fn fn, void *ctx)
{
    struct relay r = {fn, ctx};
    return qr_analyze(a->a, text, len, 0, 0, relay_token, &r, NULL);
}

/* ---- searching ---- */

struct quarry_index {
    qr_searcher *s;
};

int quarry_index_open(quarry_index **out, const char *path, quarry_error *err)
{
    char msg[512] = "";
    *out = NULL;
    quarry_index *ix = qr_calloc(1, sizeof *ix);
    if (!ix)
        return fail(err, QUARRY_ENOMEM, NULL);
    int rc = qr_searcher_open(&ix->s, path, msg, sizeof msg);
    if (rc) {
        qr_free(ix);
        return fail(err, rc, msg);
    }
    *out = ix;
    return 0;
}

void quarry_index_close(quarry_index *ix)
{
    if (!ix)
        return;
    qr_searcher_close(ix->s);
    qr_free(ix);
}

uint64_t quarry_index_docs(const quarry_index *ix)
{
    return qr_searcher_docs(ix->s);
}

struct quarry_hits {
    quarry_index *ix;
    qr_query query;
    qr_results res;
    qr_snip_terms *terms; /* NULL without snippets */
    size_t next;          /* the next hit to yield */
    size_t offset;
    char *mo, *mc;               /* snippet marks */
    qr_buf path, title, snippet; /* the current hit's strings */
};

void quarry_hits_free(quarry_hits *h)
{
    if (!h)
        return;
    qr_results_free(&h->res);
    qr_query_free(&h->query);
    qr_snip_terms_free(h->terms);
    qr_free(h->mo);
    qr_free(h->mc);
    qr_buf_free(&h->path);
    qr_buf_free(&h->title);
    qr_buf_free(&h->snippet);
    qr_free(h);
}

int quarry_search(quarry_hits **out, quarry_index *ix, const char *query,
                  const quarry_search_options *opts, quarry_error *err)
{
    static const quarry_search_options defaults = {10, 0, 0, NULL, NULL};
    if (!opts)
        opts = &defaults;
    *out = NULL;
    quarry_hits *h = qr_calloc(1, sizeof *h);
    if (!h)
        return fail(err, QUARRY_ENOMEM, NULL);
    h->ix = ix;
    h->offset = opts->offset;
    qr_query_error qe;
    int rc = qr_query_parse(&h->query, &qe, qr_searcher_analyzer(ix->s), query, strlen(query),
                            opts->flags & QUARRY_SEARCH_ANY ? QR_PARSE_ANY : 0);
    if (rc == QR_ESYNTAX) {
        char msg[128];
        snprintf(msg, sizeof msg, "query error at column %u: %s", qe.column, qe.message);
        fail(err, rc, msg);
        if (err)
            err->column = qe.column;
        qr_free(h);
        return rc;
    }
    if (rc) {
        qr_free(h);
        return fail(err, rc, NULL);
    }
    bool count_only = opts->flags & QUARRY_SEARCH_COUNT_ONLY;
    rc = qr_searcher_run(ix->s, &h->query, opts->k, opts->offset, count_only, &h->res);
    if (rc) {
        fail(err, rc, qr_searcher_errmsg(ix->s));
        quarry_hits_free(h);
        return rc;
    }
    if (!(opts->flags & QUARRY_SEARCH_NO_SNIPPETS)) {
        h->mo = qr_strdup(opts->mark_open ? opts->mark_open : "[");
        h->mc = qr_strdup(opts->mark_close ? opts->mark_close : "]");
        if (!h->mo || !h->mc || (rc = qr_snip_terms_make(&h->terms, &h->query))) {
            quarry_hits_free(h);
            return fail(err, QUARRY_ENOMEM, NULL);
        }
    }
    *out = h;
    return 0;
}

uint64_t quarry_hits_total(const quarry_hits *h)
{
    return h->res.total;
}

size_t quarry_hits_count(const quarry_hits *h)
{
    return h->res.n;
}

int quarry_hits_next(quarry_hits *h, quarry_hit *out)
{
    if (h->next >= h->res.n)
        return 0;
    const qr_hit *hit = &h->res.hits[h->next];
    qr_slice p = qr_searcher_path(h->ix->s, hit);
    qr_buf_reset(&h->path);
    qr_buf_reset(&h->title);
    qr_buf_reset(&h->snippet);
    qr_buf_put(&h->path, p.p, p.n);
    if (h->terms) {
        qr_slice t, b;
        int rc = qr_searcher_fetch(h->ix->s, hit, &t, &b);
        if (rc)
            return rc;
        if ((rc = qr_text_clean(&h->title, (const char *)t.p, t.n, true)) ||
            (rc = qr_snippet(&h->snippet, qr_searcher_analyzer(h->ix->s), h->terms,
                             (const char *)t.p, t.n, (const char *)b.p, b.n, h->mo, h->mc)))
            return rc;
    }
    qr_buf_put_u8(&h->path, 0);
    qr_buf_put_u8(&h->title, 0);
    qr_buf_put_u8(&h->snippet, 0);
    if (h->path.err || h->title.err || h->snippet.err)
        return QUARRY_ENOMEM;
    out->rank = h->offset + h->next + 1;
    out->path = (const char *)h->path.p;
    out->score = hit->score;
    out->title = (const char *)h->title.p;
    out->snippet = (const char *)h->snippet.p;
    h->next++;
    return 1;
}
