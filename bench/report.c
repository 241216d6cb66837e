/*
 * Shared pieces of the benchmark suite's reports (see report.h): JSON
 * values for each kind of result, number formatting for the tables, query
 * loading (a file or generation), and the two engines as the timing
 * driver sees them:
 *   quarry: qr_query_parse + qr_searcher_run (top k, exact total) + the k
 *           paths, on a searcher opened once;
 *   FTS5:   the query translated beforehand (untimed), then qr_fts5_query
 *           (bm25 top k, exact total, the k paths).
 */
#include "bench/report.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench/fts5.h"
#include "bench/proc.h"
#include "query/parser.h"
#include "query/searcher.h"
#include "storage/alloc.h"
#include "storage/segment.h"
#include "storage/status.h"

#ifndef QUARRY_VERSION
#define QUARRY_VERSION "unknown"
#endif

void qr_bench_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- JSON ------------------------------------------------------------------- */

/* A number, or null for NaN and infinities (which JSON cannot hold). */
json_t *qr_jnum(double v)
{
    return isnan(v) || isinf(v) ? json_null() : json_real(v);
}

json_t *qr_jint(uint64_t v)
{
    return json_integer((json_int_t)v);
}

json_t *qr_jlatency(const qr_latency *l)
{
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "queries",
                     qr_jint(l->queries), "errors", qr_jint(l->errors), "runs", qr_jint(l->runs),
                     "median_us", qr_jnum(l->median_us), "p90_us", qr_jnum(l->p90_us), "p99_us",
                     qr_jnum(l->p99_us), "max_us", qr_jnum(l->max_us), "mean_us",
                     qr_jnum(l->mean_us), "qps", qr_jnum(l->qps), "mean_hits",
                     qr_jnum(l->mean_hits), "hits", qr_jint(l->hits));
}

json_t *qr_jmachine(void)
{
    qr_machine m;
    qr_machine_get(&m);
    return json_pack("{s:s, s:I, s:o, s:s, s:s, s:s}", "cpu", m.cpu, "cores", (json_int_t)m.cores,
                     "mem_gib", qr_jnum(m.mem_gib), "kernel", m.kernel, "compiler", m.compiler,
                     "quarry", QUARRY_VERSION);
}

static json_t *jusage(const qr_child_usage *u)
{
    return json_pack("{s:o, s:o, s:o, s:o}", "process_s", qr_jnum(u->wall_s), "user_s",
                     qr_jnum(u->user_s), "sys_s", qr_jnum(u->sys_s), "peak_rss_bytes",
                     qr_jint((uint64_t)u->maxrss_kb * 1024));
}

static const char *const kind_names[QR_SEG_FILE_COUNT] = {"tdi", "doc", "pos", "sto", "dmt"};
static const char *const kind_what[QR_SEG_FILE_COUNT] = {
    "term dictionary", "postings (doc ids, frequencies, skips)", "positions", "stored text",
    "document table"};

json_t *qr_jix(const qr_ixbench *r)
{
    json_t *bytes = json_object();
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        json_object_set_new(bytes, kind_names[k], qr_jint(r->stats.bytes[k]));
    json_object_set_new(bytes, "del", qr_jint(r->stats.del_bytes));
    json_object_set_new(bytes, "manifest", qr_jint(r->stats.manifest_bytes));
    json_object_set_new(bytes, "total", qr_jint(r->stats.total_bytes));
    double s = r->seconds > 0 ? r->seconds : NAN;
    json_t *j = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:o, s:o, s:o, s:o}",
        "docs", qr_jint(r->docs), "skipped", qr_jint(r->skipped), "raw_bytes",
        qr_jint(r->raw_bytes), "seconds", qr_jnum(r->seconds), "optimize_seconds",
        qr_jnum(r->optimize_seconds), "docs_per_s", qr_jnum((double)r->docs / s), "mb_per_s",
        qr_jnum((double)r->raw_bytes / 1e6 / s), "usage", jusage(&r->usage), "segments",
        qr_jint(r->segments), "flushes", qr_jint(r->flushes), "merges", qr_jint(r->merges), "terms",
        qr_jint(r->stats.terms), "postings", qr_jint(r->stats.postings), "positions",
        qr_jint(r->stats.positions), "index_bytes", bytes, "bits_per_doc",
        qr_jnum(r->stats.bits_per_doc), "bits_per_freq", qr_jnum(r->stats.bits_per_freq),
        "bits_per_pos", qr_jnum(r->stats.bits_per_pos), "avg_doc_len",
        qr_jnum(r->stats.avg_doc_len), "bytes_per_doc",
        qr_jnum(r->docs ? (double)r->stats.total_bytes / (double)r->docs : NAN));
    return j;
}

json_t *qr_jfts(const qr_fts5bench *r)
{
    double s = r->build.seconds > 0 ? r->build.seconds : NAN;
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "docs",
                     qr_jint(r->build.docs), "skipped", qr_jint(r->build.skipped), "raw_bytes",
                     qr_jint(r->build.raw_bytes), "seconds", qr_jnum(r->build.seconds),
                     "optimize_seconds", qr_jnum(r->build.optimize_seconds), "docs_per_s",
                     qr_jnum((double)r->build.docs / s), "mb_per_s",
                     qr_jnum((double)r->build.raw_bytes / 1e6 / s), "usage", jusage(&r->usage),
                     "db_bytes", qr_jint(r->build.db_bytes));
}

/* Writes doc to the file path, or to f when path is NULL. */
int qr_write_json(json_t *doc, const char *path, FILE *f, char *err, size_t errlen)
{
    int rc = 0;
    if (!doc)
        return QR_ENOMEM;
    if (path) {
        if (json_dump_file(doc, path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0) {
            qr_bench_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
            rc = QR_EIO;
        }
        return rc;
    }
    if (json_dumpf(doc, f, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0 || fputc('\n', f) == EOF) {
        qr_bench_err(err, errlen, "cannot write the report");
        rc = QR_EIO;
    }
    return rc;
}

int qr_write_file(const char *path, const qr_buf *b, char *err, size_t errlen)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        qr_bench_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return QR_EIO;
    }
    size_t w = fwrite(b->p, 1, b->n, f);
    if (fclose(f) != 0 || w != b->n) {
        qr_bench_err(err, errlen, "cannot write %s", path);
        return QR_EIO;
    }
    return 0;
}

/* ---- formatting for the tables ------------------------------------------------ */

/* Three significant digits, as the peers' tables print latencies. */
const char *qr_fmt3(char *buf, size_t cap, double v)
{
    if (isnan(v))
        snprintf(buf, cap, "-");
    else if (v >= 1000)
        snprintf(buf, cap, "%.0f", v);
    else if (v >= 100)
        snprintf(buf, cap, "%.0f", v);
    else if (v >= 10)
        snprintf(buf, cap, "%.1f", v);
    else
        snprintf(buf, cap, "%.2f", v);
    return buf;
}

double qr_mb(uint64_t bytes)
{
    return (double)bytes / 1e6;
}

/* ---- queries: loading, engines ------------------------------------------------ */

int qr_load_queries(const qr_suite_options *o, const char *index, qr_bq_list *l, qr_qgen_stats *gs,
                    char *err, size_t errlen)
{
    int rc;
    memset(gs, 0, sizeof *gs);
    if (o->query_file) {
        FILE *f = strcmp(o->query_file, "-") ? fopen(o->query_file, "r") : stdin;
        if (!f) {
            qr_bench_err(err, errlen, "cannot read %s: %s", o->query_file, strerror(errno));
            return QR_EINVAL;
        }
        rc = qr_bq_read(l, f);
        if (f != stdin)
            fclose(f);
        if (rc) {
            qr_bench_err(err, errlen, "%s: %s", o->query_file, qr_strerror(rc));
            return rc;
        }
        if (!l->n) {
            qr_bench_err(err, errlen, "%s: no queries", o->query_file);
            return QR_EINVAL;
        }
    } else {
        qr_dir *dir;
        if ((rc = qr_dir_open_posix(&dir, index, false))) {
            qr_bench_err(err, errlen, "%s: no index", index);
            return rc;
        }
        rc = qr_qgen_run(l, gs, dir, &o->gen, err, errlen);
        qr_dir_close(dir);
        if (rc)
            return rc;
        if (!l->n) {
            qr_bench_err(err, errlen, "%s: no query could be generated (an empty index?)", index);
            return QR_EINVAL;
        }
    }
    if (o->save_queries) {
        FILE *f = fopen(o->save_queries, "w");
        char comment[256];
        snprintf(comment, sizeof comment, "quarry bench queries: %zu queries, seed %llu, from %s",
                 l->n, (unsigned long long)o->gen.seed, o->query_file ? o->query_file : index);
        rc = f ? qr_bq_write(l, f, comment) : QR_EIO;
        if (f && fclose(f) != 0)
            rc = QR_EIO;
        if (rc) {
            qr_bench_err(err, errlen, "cannot write %s", o->save_queries);
            return QR_EIO;
        }
    }
    return 0;
}

/* quarry: parse + execute + top-k with the exact total + the k paths. */
struct qx {
    qr_searcher *s;
    const qr_bq_list *l;
    size_t k;
    uint64_t sink;
};

static int quarry_exec(void *ctx, size_t i, uint64_t *out_total, char *err, size_t errlen)
{
    struct qx *x = ctx;
    const char *text = x->l->q[i].text;
    qr_query q;
    qr_query_error qe;
    int rc = qr_query_parse(&q, &qe, qr_searcher_analyzer(x->s), text, strlen(text), 0);
    if (rc) {
        if (rc == QR_ESYNTAX)
            qr_bench_err(err, errlen, "column %u: %s", qe.column, qe.message);
        return rc;
    }
    qr_results r;
    rc = qr_searcher_run(x->s, &q, x->k, 0, false, &r);
    if (!rc) {
        for (size_t h = 0; h < r.n; h++)
            x->sink += qr_searcher_path(x->s, &r.hits[h]).n;
        *out_total = r.total;
        qr_results_free(&r);
    } else {
        qr_bench_err(err, errlen, "%s", qr_searcher_errmsg(x->s));
    }
    qr_query_free(&q);
    return rc;
}

/* FTS5: the translated query (translation made beforehand, untimed). */
struct fx {
    qr_fts5 *f;
    char **match; /* per query: FTS5 expression, or NULL when it has none */
    char **why;   /* per query: why there is none */
    size_t k;
    uint64_t sink;
};

static int fts5_exec(void *ctx, size_t i, uint64_t *out_total, char *err, size_t errlen)
{
    struct fx *x = ctx;
    if (!x->match[i]) {
        qr_bench_err(err, errlen, "%s", x->why[i] ? x->why[i] : "no translation");
        return QR_EINVAL;
    }
    int rc = qr_fts5_query(x->f, x->match[i], x->k, out_total, err, errlen);
    if (!rc)
        for (size_t h = 0; h < qr_fts5_hits(x->f); h++)
            x->sink += strlen(qr_fts5_hit_path(x->f, h));
    return rc;
}

int qr_time_quarry(qr_timing *t, const qr_suite_options *o, const char *index, const qr_bq_list *l,
                   uint64_t *out_docs, char *err, size_t errlen)
{
    struct qx x = {.l = l, .k = o->k ? o->k : 10};
    char msg[256] = "";
    int rc = qr_searcher_open(&x.s, index, msg, sizeof msg);
    if (rc) {
        qr_bench_err(err, errlen, "%s: %s", index, msg[0] ? msg : qr_strerror(rc));
        return rc;
    }
    *out_docs = qr_searcher_docs(x.s);
    rc = qr_timing_run(t, &o->timing, l->n, quarry_exec, &x);
    qr_searcher_close(x.s);
    return rc;
}

void qr_free_strings(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        qr_free(v[i]);
    qr_free(v);
}

/* Translates every query; *out_match[i] / *out_why[i] (one of them NULL). */
int qr_translate_all(const qr_bq_list *l, char ***out_match, char ***out_why)
{
    char **match = qr_calloc(l->n ? l->n : 1, sizeof *match);
    char **why = qr_calloc(l->n ? l->n : 1, sizeof *why);
    qr_buf b = {0};
    int rc = match && why ? 0 : QR_ENOMEM;
    for (size_t i = 0; i < l->n && !rc; i++) {
        char msg[256];
        qr_buf_reset(&b);
        int r = qr_fts5_translate(&b, l->q[i].text, strlen(l->q[i].text), msg, sizeof msg);
        if (r == QR_ENOMEM)
            rc = r;
        else if (r)
            why[i] = qr_strdup(msg);
        else
            match[i] = qr_strndup(b.p ? (const char *)b.p : "", b.n);
        if (!rc && !match[i] && !why[i])
            rc = QR_ENOMEM;
    }
    qr_buf_free(&b);
    if (rc) {
        qr_free_strings(match, l->n);
        qr_free_strings(why, l->n);
        return rc;
    }
    *out_match = match;
    *out_why = why;
    return 0;
}

int qr_time_fts5(qr_timing *t, const qr_suite_options *o, const char *db, const qr_bq_list *l,
                 char **match, char **why, uint64_t *out_docs, char *err, size_t errlen)
{
    struct fx x = {.match = match, .why = why, .k = o->k ? o->k : 10};
    int rc = qr_fts5_open(&x.f, db, err, errlen);
    if (rc)
        return rc;
    *out_docs = qr_fts5_docs(x.f);
    rc = qr_timing_run(t, &o->timing, l->n, fts5_exec, &x);
    qr_fts5_close(x.f);
    return rc;
}

/* Per-class summaries; classes[0..ncls) then the whole run at [ncls]. */
int qr_summarise(qr_latency **out, const qr_timing *t, const qr_bq_list *l,
                 const char *const *classes, size_t ncls)
{
    qr_latency *s = qr_calloc(ncls + 1, sizeof *s);
    if (!s)
        return QR_ENOMEM;
    int rc = 0;
    for (size_t c = 0; c <= ncls && !rc; c++)
        rc = qr_latency_of(&s[c], t, l, c < ncls ? classes[c] : NULL);
    if (rc) {
        qr_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median latency (µs) of query i over the timed passes. */
double qr_query_median(const qr_timing *t, size_t i)
{
    if (t->total[i] < 0 || !t->passes)
        return NAN;
    double *v = qr_calloc(t->passes, sizeof *v);
    if (!v)
        return NAN;
    for (size_t p = 0; p < t->passes; p++)
        v[p] = t->ns[p * t->n + i];
    qsort(v, t->passes, sizeof *v, cmp_double);
    double m = qr_percentile(v, t->passes, 50) / 1e3;
    qr_free(v);
    return m;
}

int qr_query_medians(double out[3], const qr_timing *t, const qr_bq_list *l, const char *cls)
{
    double *v = qr_calloc(t->n ? t->n : 1, sizeof *v);
    size_t k = 0;
    if (!v)
        return QR_ENOMEM;
    for (size_t i = 0; i < t->n && i < l->n; i++) {
        if (cls && strcmp(l->q[i].cls, cls))
            continue;
        double m = qr_query_median(t, i);
        if (!isnan(m))
            v[k++] = m;
    }
    qsort(v, k, sizeof *v, cmp_double);
    out[0] = qr_percentile(v, k, 50);
    out[1] = qr_percentile(v, k, 95);
    out[2] = qr_percentile(v, k, 99);
    qr_free(v);
    return 0;
}

json_t *qr_jquery_medians(const qr_timing *t, const qr_bq_list *l, const char *cls)
{
    double m[3];
    if (qr_query_medians(m, t, l, cls))
        return NULL;
    return json_pack("{s:o, s:o, s:o}", "median_us", qr_jnum(m[0]), "p95_us", qr_jnum(m[1]),
                     "p99_us", qr_jnum(m[2]));
}

json_t *qr_jtiming(const qr_suite_options *o, const qr_timing *t)
{
    return json_pack("{s:I, s:I, s:I, s:o, s:o, s:I}", "k", (json_int_t)(o->k ? o->k : 10),
                     "passes", (json_int_t)t->passes, "warmup_passes", (json_int_t)t->warmup_passes,
                     "seconds", qr_jnum(t->seconds), "time_budget_s", qr_jnum(o->timing.seconds),
                     "total_mismatches", (json_int_t)t->mismatches);
}

json_t *qr_jgen(const qr_suite_options *o, const qr_qgen_stats *gs)
{
    if (o->query_file)
        return json_pack("{s:s}", "file", o->query_file);
    json_t *made = json_object();
    for (unsigned c = 0; c < QR_QC_COUNT; c++)
        if (gs->wanted[c])
            json_object_set_new(made, qr_qclass_name((qr_qclass)c), qr_jint(gs->made[c]));
    return json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "seed", (json_int_t)o->gen.seed,
        "per_class", (json_int_t)(o->gen.per_class ? o->gen.per_class : 20), "sampled_docs",
        (json_int_t)gs->sampled_docs, "sampled_words", (json_int_t)gs->sampled_words,
        "distinct_words", (json_int_t)gs->words, "high_band", (json_int_t)gs->high, "med_band",
        (json_int_t)gs->med, "low_band", (json_int_t)gs->low, "made", made);
}

/* Warns on stderr about classes that got fewer queries than asked. */
void qr_warn_short(const qr_suite_options *o, const qr_qgen_stats *gs)
{
    if (o->query_file)
        return;
    for (unsigned c = 0; c < QR_QC_COUNT; c++)
        if (gs->made[c] < gs->wanted[c])
            fprintf(stderr, "quarry: bench: class %s has only %u of %u queries\n",
                    qr_qclass_name((qr_qclass)c), gs->made[c], gs->wanted[c]);
}

/* ---- bench index -------------------------------------------------------------- */

/* True when path does not exist or is an empty directory. */
bool qr_new_or_empty(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT;
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            empty = false;
    closedir(d);
    return empty;
}

void qr_print_ix_line(FILE *out, const char *label, const qr_ixbench *r)
{
    fprintf(out,
            "%s%llu docs, %.2f MB in %.3f s (process %.3f s, CPU %.2f s): %.0f docs/s, %.2f "
            "MB/s, peak RSS %.1f MB\n",
            label, (unsigned long long)r->docs, qr_mb(r->raw_bytes), r->seconds, r->usage.wall_s,
            r->usage.user_s + r->usage.sys_s, r->seconds > 0 ? (double)r->docs / r->seconds : 0.0,
            r->seconds > 0 ? qr_mb(r->raw_bytes) / r->seconds : 0.0,
            (double)r->usage.maxrss_kb * 1024 / 1e6);
}

void qr_print_ix_sizes(FILE *out, const qr_ixbench *r)
{
    const qr_index_stats *st = &r->stats;
    fprintf(out,
            "index: %llu docs, %llu segments (%llu flushes, %llu merges), %llu terms, %llu "
            "postings, %llu positions\n",
            (unsigned long long)st->docs, (unsigned long long)st->segments,
            (unsigned long long)r->flushes, (unsigned long long)r->merges,
            (unsigned long long)st->terms, (unsigned long long)st->postings,
            (unsigned long long)st->positions);
    fprintf(out, "  %-9s %-40s %14s %7s %10s\n", "file", "holds", "bytes", "share", "bytes/doc");
    double total = st->total_bytes ? (double)st->total_bytes : 1;
    double docs = st->docs ? (double)st->docs : 1;
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        fprintf(out, "  %-9s %-40s %14llu %6.1f%% %10.1f\n", kind_names[k], kind_what[k],
                (unsigned long long)st->bytes[k], 100.0 * (double)st->bytes[k] / total,
                (double)st->bytes[k] / docs);
    fprintf(out, "  %-9s %-40s %14llu %6.1f%%\n", "del", "deletions",
            (unsigned long long)st->del_bytes, 100.0 * (double)st->del_bytes / total);
    fprintf(out, "  %-9s %-40s %14llu %6.1f%%\n", "MANIFEST", "the commit",
            (unsigned long long)st->manifest_bytes, 100.0 * (double)st->manifest_bytes / total);
    fprintf(out, "  %-9s %-40s %14llu %6.1f%% %10.1f\n", "total", "",
            (unsigned long long)st->total_bytes, 100.0, (double)st->total_bytes / docs);
    fprintf(out,
            "bits per posting: doc id %.2f (gaps, term heads and skip entries), frequency %.2f; "
            "bits per position %.2f; mean document length %.1f positions\n",
            st->bits_per_doc, st->bits_per_freq, st->bits_per_pos, st->avg_doc_len);
}
