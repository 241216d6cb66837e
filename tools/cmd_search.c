/*
 * `quarry search [-i INDEX] [-k N] [--offset N] [--json] [--count] [--any]
 * QUERY|-` (SPEC §5): ranked hits with rank, path, score, title and a
 * snippet (matches in colour on a terminal, in [brackets] otherwise), then
 * the exact total; or one JSON object; or, with --count, the total alone.
 * QUERY `-` reads one query a line from standard input and answers each,
 * with the index opened once.
 *
 * Exit status: 0 hits, 1 none, 2 usage or query syntax error (in a batch:
 * any query's), 3 index missing or corrupt, 4 I/O or other runtime error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "query/parser.h"
#include "query/searcher.h"
#include "query/snippet.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/status.h"
#include "tools/cli.h"

static void help(FILE *f)
{
    fputs("usage: quarry search [-i INDEX] [-k N] [--offset N] [--json] [--count] [--any] QUERY|-\n"
          "\n"
          "Search the index and print the best hits: rank, path, score, title and a\n"
          "snippet with the matched words marked, then the exact number of hits.\n"
          "QUERY - reads one query a line from standard input. A QUERY that starts\n"
          "with '-' goes after '--': quarry search -- -russia.\n"
          "\n"
          "Query language:\n"
          "  word                 a word (analysed like the documents: crimea, Crimea's)\n"
          "  a b, a AND b         both                      a OR b    either\n"
          "  -a, NOT a            not a                     (a OR b) c  grouping\n"
          "  \"a b c\"              a phrase                  cease-fire  \"cease fire\" OR "
          "ceasefire\n"
          "  ukrain*              every word starting with ukrain (at least 2 letters)\n"
          "  a NEAR b, a NEAR/5 b a and b at most 10 (5) words apart, in either order\n"
          "  title:a, body:(a b)  only in the title / the body\n"
          "\n"
          "  -i, --index INDEX  the index directory (default $QUARRY_INDEX, else ./quarry.idx)\n"
          "  -k N               how many hits to show (default 10)\n"
          "      --offset N     skip the first N hits (ranks go on from N+1)\n"
          "  -j, --json         one JSON object (one per line with QUERY -)\n"
          "  -c, --count        print only the number of hits\n"
          "  -a, --any          juxtaposed words mean OR (explicit AND still means AND)\n"
          "  -h, --help         this help\n"
          "\n"
          "Exit status: 0 hits, 1 no hits, 2 usage or query error, 3 index missing or\n"
          "corrupt, 4 other error.\n",
          f);
}

/* How the results are printed. */
struct out {
    bool json;
    bool count;
    bool color;
    size_t k, offset;
    unsigned flags; /* QR_PARSE_ANY */
    qr_searcher *s;
    qr_buf scratch; /* cleaned texts */
};

/* What one query came to, for the exit status. */
enum outcome { O_HITS, O_NONE, O_SYNTAX, O_FAILED };

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* A JSON string of s[0..n), made valid UTF-8 first. */
static json_t *jstr(struct out *o, const char *s, size_t n, bool collapse)
{
    qr_buf_reset(&o->scratch);
    if (qr_text_clean(&o->scratch, s, n, collapse))
        return NULL;
    return json_stringn(o->scratch.n ? (const char *)o->scratch.p : "", o->scratch.n);
}

static int print_json(json_t *obj)
{
    if (!obj)
        return QR_ENOMEM;
    char *txt = json_dumps(obj, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(obj);
    if (!txt)
        return QR_ENOMEM;
    puts(txt);
    free(txt);
    return 0;
}

static int syntax_error(struct out *o, const char *q, size_t len, const qr_query_error *err)
{
    if (!o->json) {
        qr_die_msg("query error at column %u: %s", err->column, err->message);
        return 0;
    }
    json_t *obj = json_object();
    if (!obj)
        return QR_ENOMEM;
    json_object_set_new(obj, "query", jstr(o, q, len, false));
    json_object_set_new(obj, "error", json_string(err->message));
    json_object_set_new(obj, "column", json_integer(err->column));
    return print_json(obj);
}

/* Title and snippet of a hit, cleaned, into *title and *snippet (owned by the caller). */
static int hit_texts(struct out *o, const qr_snip_terms *terms, const qr_hit *h, qr_buf *title,
                     qr_buf *snippet, const char *mo, const char *mc)
{
    qr_slice t, b;
    int rc = qr_searcher_fetch(o->s, h, &t, &b);
    if (rc)
        return rc;
    if ((rc = qr_text_clean(title, (const char *)t.p, t.n, true)))
        return rc;
    return qr_snippet(snippet, qr_searcher_analyzer(o->s), terms, (const char *)t.p, t.n,
                      (const char *)b.p, b.n, mo, mc);
}

static int print_text(struct out *o, const qr_query *q, const qr_results *r)
{
    qr_snip_terms *terms;
    int rc = qr_snip_terms_make(&terms, q);
    if (rc)
        return rc;
    const char *mo = o->color ? "\033[1;31m" : "[", *mc = o->color ? "\033[0m" : "]";
    qr_buf title = {0}, snip = {0};
    for (size_t i = 0; i < r->n && !rc; i++) {
        const qr_hit *h = &r->hits[i];
        qr_slice p = qr_searcher_path(o->s, h);
        qr_buf_reset(&o->scratch);
        qr_buf_reset(&title);
        qr_buf_reset(&snip);
        if ((rc = qr_text_clean(&o->scratch, (const char *)p.p, p.n, false)))
            break;
        if ((rc = hit_texts(o, terms, h, &title, &snip, mo, mc)))
            break;
        printf("%zu. %s%.*s%s  (score %.4f)\n", o->offset + i + 1, o->color ? "\033[1m" : "",
               (int)o->scratch.n, (const char *)o->scratch.p, o->color ? "\033[0m" : "", h->score);
        printf("   %.*s\n", (int)title.n, (const char *)title.p);
        printf("   %.*s\n\n", (int)snip.n, (const char *)snip.p);
    }
    if (!rc)
        printf("%llu %s\n", (unsigned long long)r->total, r->total == 1 ? "hit" : "hits");
    qr_buf_free(&title);
    qr_buf_free(&snip);
    qr_snip_terms_free(terms);
    return rc;
}

static int print_json_results(struct out *o, const char *q, size_t len, const qr_query *query,
                              const qr_results *r, long long took_us)
{
    qr_snip_terms *terms;
    int rc = qr_snip_terms_make(&terms, query);
    if (rc)
        return rc;
    json_t *obj = json_object(), *hits = json_array();
    qr_buf title = {0}, snip = {0};
    if (!obj || !hits) {
        json_decref(obj);
        json_decref(hits);
        qr_snip_terms_free(terms);
        return QR_ENOMEM;
    }
    json_object_set_new(obj, "query", jstr(o, q, len, false));
    json_object_set_new(obj, "total", json_integer((json_int_t)r->total));
    json_object_set_new(obj, "took_us", json_integer(took_us));
    for (size_t i = 0; i < r->n && !rc; i++) {
        const qr_hit *h = &r->hits[i];
        qr_slice p = qr_searcher_path(o->s, h);
        qr_buf_reset(&title);
        qr_buf_reset(&snip);
        if ((rc = hit_texts(o, terms, h, &title, &snip, "[", "]")))
            break;
        json_t *hit = json_object();
        if (!hit) {
            rc = QR_ENOMEM;
            break;
        }
        json_object_set_new(hit, "rank", json_integer((json_int_t)(o->offset + i + 1)));
        json_object_set_new(hit, "path", jstr(o, (const char *)p.p, p.n, false));
        json_object_set_new(hit, "score", json_real(h->score));
        json_object_set_new(hit, "title",
                            json_stringn(title.n ? (const char *)title.p : "", title.n));
        json_object_set_new(hit, "snippet",
                            json_stringn(snip.n ? (const char *)snip.p : "", snip.n));
        json_array_append_new(hits, hit);
    }
    json_object_set_new(obj, "hits", hits);
    qr_buf_free(&title);
    qr_buf_free(&snip);
    qr_snip_terms_free(terms);
    if (rc) {
        json_decref(obj);
        return rc;
    }
    return print_json(obj);
}

/* Answers one query; reports runtime errors itself and returns the outcome. */
static enum outcome answer(struct out *o, const char *q, size_t len, int *status)
{
    qr_query query;
    qr_query_error err;
    qr_results r;
    double t0 = now_us();
    int rc = qr_query_parse(&query, &err, qr_searcher_analyzer(o->s), q, len, o->flags);
    if (rc == QR_ESYNTAX) {
        if ((rc = syntax_error(o, q, len, &err)))
            goto failed;
        return O_SYNTAX;
    }
    if (rc)
        goto failed;
    rc = qr_searcher_run(o->s, &query, o->k, o->offset, o->count, &r);
    long long took = (long long)(now_us() - t0);
    if (rc) {
        qr_query_free(&query);
        goto failed;
    }
    if (o->count && !o->json) {
        printf("%llu\n", (unsigned long long)r.total);
    } else if (o->count) {
        qr_results none = {r.total, 0, NULL};
        rc = print_json_results(o, q, len, &query, &none, took);
    } else if (o->json) {
        rc = print_json_results(o, q, len, &query, &r, took);
    } else {
        rc = print_text(o, &query, &r);
    }
    uint64_t total = r.total;
    qr_results_free(&r);
    qr_query_free(&query);
    if (rc)
        goto failed;
    return total ? O_HITS : O_NONE;
failed:
    fflush(stdout);
    if (qr_searcher_errmsg(o->s)[0])
        qr_die_msg("%s", qr_searcher_errmsg(o->s));
    else
        qr_die_msg("search: %s", qr_strerror(rc));
    *status = rc == QR_ECORRUPT || rc == QR_EVERSION ? QR_EXIT_INDEX : QR_EXIT_RUNTIME;
    return O_FAILED;
}

static bool parse_count(const char *s, size_t *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = v > SIZE_MAX ? SIZE_MAX : (size_t)v;
    return true;
}

static int batch(struct out *o)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    bool any_hits = false, any_syntax = false;
    int status = QR_EXIT_OK;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)n;
        if (len && line[len - 1] == '\n')
            len--;
        if (len && line[len - 1] == '\r')
            len--;
        enum outcome r = answer(o, line, len, &status);
        if (r == O_FAILED) {
            free(line);
            return status;
        }
        any_hits |= r == O_HITS;
        any_syntax |= r == O_SYNTAX;
        if (!o->json && !o->count && r != O_SYNTAX)
            putchar('\n');
    }
    free(line);
    if (ferror(stdin)) {
        qr_die_msg("search: cannot read standard input");
        return QR_EXIT_RUNTIME;
    }
    return any_syntax ? QR_EXIT_USAGE : any_hits ? QR_EXIT_OK : QR_EXIT_NOHITS;
}

int qr_cmd_search(int argc, char **argv)
{
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'i'},  {"k", required_argument, NULL, 'k'},
        {"offset", required_argument, NULL, 'o'}, {"json", no_argument, NULL, 'j'},
        {"count", no_argument, NULL, 'c'},        {"any", no_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct out o;
    memset(&o, 0, sizeof o);
    o.k = 10;
    const char *index = getenv("QUARRY_INDEX");
    if (!index || !*index)
        index = "quarry.idx";
    int c;
    char opt[160];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:k:o:jcah", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            index = optarg;
            break;
        case 'k':
        case 'o':
            if (!parse_count(optarg, c == 'k' ? &o.k : &o.offset)) {
                qr_die_msg("search: %s needs a number, not '%s'", c == 'k' ? "-k" : "--offset",
                           optarg);
                return QR_EXIT_USAGE;
            }
            break;
        case 'j':
            o.json = true;
            break;
        case 'c':
            o.count = true;
            break;
        case 'a':
            o.flags |= QR_PARSE_ANY;
            break;
        case 'h':
            help(stdout);
            return QR_EXIT_OK;
        case ':':
            qr_die_msg("search: option %s needs a value (see `quarry search --help`)",
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        default:
            /* `quarry search -russia` is the likeliest way here: say how to ask it */
            qr_cli_refused(opt, sizeof opt, argc, argv);
            if (strstr(opt, "' (in '")) /* a letter inside a bundle: qr_cli_refused */
                qr_die_msg("search: unknown option %s: a query that starts with '-' goes after "
                           "'--' (quarry search -- -word)",
                           opt);
            else
                qr_die_msg("search: unknown option %s (see `quarry search --help`)", opt);
            return QR_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        qr_die_msg("search: missing QUERY (see `quarry search --help`)");
        return QR_EXIT_USAGE;
    }
    const char *term = getenv("TERM");
    o.color =
        !o.json && isatty(STDOUT_FILENO) && !getenv("NO_COLOR") && !(term && !strcmp(term, "dumb"));
    char err[600] = "";
    int rc = qr_searcher_open(&o.s, index, err, sizeof err);
    if (rc) {
        if (rc == QR_ENOTFOUND)
            qr_die_msg("no index at %s (run quarry index first)", index);
        else
            qr_die_msg("%s", err);
        return rc == QR_ENOTFOUND || rc == QR_ECORRUPT || rc == QR_EVERSION ? QR_EXIT_INDEX
                                                                            : QR_EXIT_RUNTIME;
    }
    int status;
    if (argc - optind == 1 && !strcmp(argv[optind], "-")) {
        status = batch(&o);
    } else {
        qr_buf q = {0};
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                qr_buf_put_u8(&q, ' ');
            qr_buf_put(&q, argv[i], strlen(argv[i]));
        }
        if (q.err) {
            qr_die_msg("search: %s", qr_strerror(q.err));
            status = QR_EXIT_RUNTIME;
        } else {
            status = QR_EXIT_OK;
            enum outcome r = answer(&o, q.n ? (const char *)q.p : "", q.n, &status);
            if (r != O_FAILED)
                status = r == O_SYNTAX ? QR_EXIT_USAGE : r == O_HITS ? QR_EXIT_OK : QR_EXIT_NOHITS;
        }
        qr_buf_free(&q);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        qr_die_msg("search: cannot write standard output");
        status = QR_EXIT_RUNTIME;
    }
    qr_buf_free(&o.scratch);
    qr_searcher_close(o.s);
    return status;
}
