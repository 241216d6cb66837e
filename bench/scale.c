/*
 * `quarry bench scale`: the scale curve. For each size N (increasing), the
 * first N documents of the synthetic corpus (synth.h; the same seed gives
 * the same documents, so each corpus extends the previous one) are written
 * as files, indexed in a child (ixbench.h: time, peak RSS, size), queries
 * are generated from that index and timed; optionally FTS5 does the same.
 * Corpora and indexes are removed after their size is measured, unless
 * kept. The report shows how indexing time, index size, peak RSS and the
 * per-class latency grow with N.
 */
#include "bench/suite.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/fts5.h"
#include "bench/proc.h"
#include "bench/report.h"
#include "bench/svg.h"
#include "storage/alloc.h"
#include "storage/status.h"

/* One corpus size of the scale curve. */
struct point {
    uint64_t docs;
    uint64_t corpus_bytes;
    double gen_seconds; /* writing the synthetic corpus */
    qr_ixbench ix;
    qr_fts5bench fb;
    size_t queries;
    qr_latency q[QR_QC_COUNT + 1]; /* quarry per class, then all ([QR_QC_COUNT]); NaN if absent */
    qr_latency f[QR_QC_COUNT + 1]; /* FTS5, when asked for */
};

static void nan_latency(qr_latency *l)
{
    *l = (qr_latency){0};
    l->median_us = l->p90_us = l->p99_us = l->max_us = l->mean_us = l->qps = l->mean_hits = NAN;
}

/* Times the queries of one size on quarry (and FTS5) into p. */
static int scale_queries(const qr_suite_options *o, struct point *p, const char *index,
                         const char *db, json_t *jp, char *err, size_t errlen)
{
    qr_bq_list l = {0};
    qr_qgen_stats gs;
    qr_timing tq = {0}, tf = {0};
    char **match = NULL, **why = NULL;
    uint64_t docs;
    int rc;
    for (int c = 0; c <= QR_QC_COUNT; c++) {
        nan_latency(&p->q[c]);
        nan_latency(&p->f[c]);
    }
    if ((rc = qr_load_queries(o, index, &l, &gs, err, errlen)))
        goto out;
    qr_warn_short(o, &gs);
    p->queries = l.n;
    if ((rc = qr_time_quarry(&tq, o, index, &l, &docs, err, errlen)))
        goto out;
    if (db && ((rc = qr_translate_all(&l, &match, &why)) ||
               (rc = qr_time_fts5(&tf, o, db, &l, match, why, &docs, err, errlen))))
        goto out;
    json_t *jc = json_array();
    for (int c = 0; c <= QR_QC_COUNT && !rc; c++) {
        const char *name = c < QR_QC_COUNT ? qr_qclass_name((qr_qclass)c) : NULL;
        if ((rc = qr_latency_of(&p->q[c], &tq, &l, name)))
            break;
        if (db && (rc = qr_latency_of(&p->f[c], &tf, &l, name)))
            break;
        if (!p->q[c].queries && !p->q[c].errors) {
            nan_latency(&p->q[c]);
            nan_latency(&p->f[c]);
            continue;
        }
        json_t *e =
            json_pack("{s:s, s:o}", "class", name ? name : "all", "quarry", qr_jlatency(&p->q[c]));
        if (db)
            json_object_set_new(e, "fts5", qr_jlatency(&p->f[c]));
        json_array_append_new(jc, e);
    }
    json_object_set_new(jp, "queries", qr_jgen(o, &gs));
    json_object_set_new(jp, "classes", jc);
out:
    qr_free_strings(match, l.n);
    qr_free_strings(why, l.n);
    qr_timing_free(&tq);
    qr_timing_free(&tf);
    qr_bq_list_free(&l);
    return rc;
}

static void print_scale(FILE *out, const qr_suite_options *o, const struct point *pts, size_t n)
{
    char a[32], b[32], c[32];
    fprintf(out,
            "quarry bench scale: synthetic corpora (seed %llu), one build and one query run "
            "per size\n\n",
            (unsigned long long)o->synth.seed);
    fprintf(out, "%-7s %10s %10s %9s %9s %8s %12s %10s %10s %10s %9s %9s\n", "engine", "docs",
            "corpus MB", "build s", "docs/s", "MB/s", "peak RSS MB", "index MB", "bytes/doc",
            "median µs", "p99 µs", "QPS");
    for (int e = 0; e < (o->fts5 ? 2 : 1); e++)
        for (size_t i = 0; i < n; i++) {
            const struct point *p = &pts[i];
            double secs = e ? p->fb.build.seconds : p->ix.seconds;
            uint64_t docs = e ? p->fb.build.docs : p->ix.docs;
            uint64_t bytes = e ? p->fb.build.db_bytes : p->ix.stats.total_bytes;
            const qr_latency *all = e ? &p->f[QR_QC_COUNT] : &p->q[QR_QC_COUNT];
            long rss = e ? p->fb.usage.maxrss_kb : p->ix.usage.maxrss_kb;
            fprintf(out, "%-7s %10llu %10.1f %9.2f %9.0f %8.2f %12.1f %10.1f %10.0f %10s %9s %9s\n",
                    e ? "FTS5" : "quarry", (unsigned long long)p->docs, qr_mb(p->corpus_bytes),
                    secs, secs > 0 ? (double)docs / secs : 0.0,
                    secs > 0 ? qr_mb(p->corpus_bytes) / secs : 0.0, (double)rss * 1024 / 1e6,
                    qr_mb(bytes), docs ? (double)bytes / (double)docs : 0.0,
                    qr_fmt3(a, sizeof a, all->median_us), qr_fmt3(b, sizeof b, all->p99_us),
                    qr_fmt3(c, sizeof c, all->qps));
        }
    fprintf(out, "\nmedian latency per class (µs)%s\n%-12s", o->fts5 ? ", quarry / FTS5" : "",
            "class");
    for (size_t i = 0; i < n; i++)
        fprintf(out, o->fts5 ? " %21llu" : " %10llu", (unsigned long long)pts[i].docs);
    fputc('\n', out);
    for (int c = 0; c <= QR_QC_COUNT; c++) {
        bool any = false;
        for (size_t i = 0; i < n; i++)
            any |= !isnan(pts[i].q[c].median_us);
        if (!any)
            continue;
        fprintf(out, "%-12s", c < QR_QC_COUNT ? qr_qclass_name((qr_qclass)c) : "all");
        for (size_t i = 0; i < n; i++) {
            char both[80];
            if (o->fts5) {
                snprintf(both, sizeof both, "%s / %s", qr_fmt3(a, sizeof a, pts[i].q[c].median_us),
                         qr_fmt3(b, sizeof b, pts[i].f[c].median_us));
                fprintf(out, " %21s", both);
            } else {
                fprintf(out, " %10s", qr_fmt3(a, sizeof a, pts[i].q[c].median_us));
            }
        }
        fputc('\n', out);
    }
}

static int scale_svg(const qr_suite_options *o, const struct point *pts, size_t n, char *err,
                     size_t errlen)
{
    enum { NS = QR_QC_COUNT + 1 };
    double *x = qr_calloc(n, sizeof *x);
    double *v = qr_calloc(n * (6 + NS), sizeof *v);
    qr_svg_series *ser = qr_calloc(NS, sizeof *ser);
    qr_buf svg = {0};
    int rc = QR_ENOMEM;
    if (!x || !v || !ser)
        goto out;
    double *tq = v, *tf = v + n, *iq = v + 2 * n, *rq = v + 3 * n, *ifb = v + 4 * n,
           *rf = v + 5 * n, *lat = v + 6 * n;
    for (size_t i = 0; i < n; i++) {
        const struct point *p = &pts[i];
        x[i] = (double)p->docs;
        tq[i] = p->ix.seconds;
        iq[i] = qr_mb(p->ix.stats.total_bytes);
        rq[i] = (double)p->ix.usage.maxrss_kb * 1024 / 1e6;
        tf[i] = o->fts5 ? p->fb.build.seconds : NAN;
        ifb[i] = o->fts5 ? qr_mb(p->fb.build.db_bytes) : NAN;
        rf[i] = o->fts5 ? (double)p->fb.usage.maxrss_kb * 1024 / 1e6 : NAN;
    }
    size_t ns = 0;
    for (int c = 0; c <= QR_QC_COUNT; c++) {
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            lat[ns * n + i] = pts[i].q[c].median_us;
            any |= !isnan(pts[i].q[c].median_us);
        }
        if (any) {
            ser[ns].name = c < QR_QC_COUNT ? qr_qclass_name((qr_qclass)c) : "all queries";
            ser[ns].v = lat + ns * n;
            ns++;
        }
    }
    qr_svg_series s1[2] = {{"quarry", tq}, {"SQLite FTS5", tf}};
    qr_svg_series s2[4] = {{"quarry index", iq},
                           {"quarry peak RSS", rq},
                           {"FTS5 database", ifb},
                           {"FTS5 peak RSS", rf}};
    qr_svg_chart c1 = {.title = "indexing time (s)",
                       .xlabel = "documents",
                       .ylabel = "seconds",
                       .logx = true,
                       .logy = true,
                       .n = n,
                       .x = x,
                       .nseries = o->fts5 ? 2 : 1,
                       .series = s1};
    qr_svg_chart c2 = c1;
    c2.title = "index size and peak RSS of the build (MB)";
    c2.ylabel = "MB";
    c2.nseries = o->fts5 ? 4 : 2;
    c2.series = s2;
    qr_svg_chart c3 = c1;
    c3.title = "quarry median query latency per class (µs)";
    c3.ylabel = "µs";
    c3.nseries = ns;
    c3.series = ser;
    qr_machine m;
    qr_machine_get(&m);
    char note[256];
    snprintf(note, sizeof note, "synthetic Zipf corpora, seed %llu; %s, %ld cores, %.0f GiB",
             (unsigned long long)o->synth.seed, m.cpu, m.cores, m.mem_gib);
    qr_svg_begin(&svg, 3, "quarry scale curve", note);
    qr_svg_lines(&svg, 0, &c1);
    qr_svg_lines(&svg, 1, &c2);
    qr_svg_lines(&svg, 2, &c3);
    rc = qr_svg_end(&svg);
    if (!rc)
        rc = qr_write_file(o->svg_path, &svg, err, errlen);
out:
    qr_buf_free(&svg);
    qr_free(x);
    qr_free(v);
    qr_free(ser);
    return rc;
}

int qr_suite_scale(const qr_suite_options *o, FILE *out, char *err, size_t errlen)
{
    char work[4096] = "", corpus[4200], index[4200], db[4200];
    struct point *pts = qr_calloc(o->nsizes ? o->nsizes : 1, sizeof *pts);
    json_t *doc = NULL, *jpts = json_array();
    int rc = 0;
    if (!pts || !jpts) {
        rc = QR_ENOMEM;
        goto out;
    }
    if (!o->nsizes) {
        qr_bench_err(err, errlen, "no corpus sizes");
        rc = QR_EINVAL;
        goto out;
    }
    if (o->fts5 && !qr_fts5_available()) {
        qr_bench_err(err, errlen,
                     "built without SQLite FTS5: install libsqlite3-dev and reconfigure "
                     "(meson setup --reconfigure build -Dfts5=enabled)");
        rc = QR_ENOTFOUND;
        goto out;
    }
    if (o->keep) {
        if (!qr_new_or_empty(o->keep) || (mkdir(o->keep, 0777) != 0 && errno != EEXIST)) {
            qr_bench_err(err, errlen, "%s: not a new or empty directory", o->keep);
            rc = QR_EINVAL;
            goto out;
        }
        snprintf(work, sizeof work, "%s", o->keep);
    } else if ((rc = qr_make_temp_dir(work, sizeof work, o->tmp, "quarry-scale"))) {
        qr_bench_err(err, errlen, "cannot make a scratch directory under %s",
                     o->tmp ? o->tmp : "$TMPDIR");
        work[0] = '\0';
        goto out;
    }
    for (size_t i = 0; i < o->nsizes; i++) {
        struct point *p = &pts[i];
        p->docs = o->sizes[i];
        snprintf(corpus, sizeof corpus, "%s/corpus-%llu", work, (unsigned long long)p->docs);
        if (mkdir(corpus, 0777) != 0) {
            qr_bench_err(err, errlen, "cannot make %s: %s", corpus, strerror(errno));
            rc = QR_EIO;
            goto out;
        }
        /* the corpus directory's base name is the same at every size: paths synth/dddd/... */
        snprintf(corpus, sizeof corpus, "%s/corpus-%llu/synth", work, (unsigned long long)p->docs);
        qr_synth *sy;
        double t0 = qr_now();
        if ((rc = qr_synth_open(&sy, &o->synth))) {
            qr_bench_err(err, errlen, "synthetic corpus: %s", qr_strerror(rc));
            goto out;
        }
        rc = qr_synth_write(sy, corpus, p->docs, &p->corpus_bytes);
        qr_synth_close(sy); /* before the builds fork: its tables would count in their RSS */
        p->gen_seconds = qr_now() - t0;
        if (rc) {
            qr_bench_err(err, errlen, "writing %s: %s", corpus, strerror(errno));
            goto out;
        }
        fprintf(stderr, "quarry: bench scale: %llu docs (%.1f MB) written in %.1f s; indexing\n",
                (unsigned long long)p->docs, qr_mb(p->corpus_bytes), p->gen_seconds);
        snprintf(index, sizeof index, "%s/index-%llu", work, (unsigned long long)p->docs);
        snprintf(db, sizeof db, "%s/fts5-%llu.db", work, (unsigned long long)p->docs);
        const char *roots[1] = {corpus};
        if ((rc = qr_ixbench_run(&p->ix, index, roots, 1, &o->ix))) {
            qr_bench_err(err, errlen, "%s", p->ix.error);
            goto out;
        }
        if (o->fts5 && (rc = qr_fts5bench_run(&p->fb, db, roots, 1))) {
            qr_bench_err(err, errlen, "%s", p->fb.error);
            goto out;
        }
        json_t *jp = json_pack("{s:I, s:I, s:o, s:o}", "docs", (json_int_t)p->docs, "corpus_bytes",
                               (json_int_t)p->corpus_bytes, "generate_s", qr_jnum(p->gen_seconds),
                               "quarry", qr_jix(&p->ix));
        if (o->fts5)
            json_object_set_new(jp, "fts5", qr_jfts(&p->fb));
        json_array_append_new(jpts, jp);
        fprintf(stderr, "quarry: bench scale: %llu docs indexed in %.1f s; timing queries\n",
                (unsigned long long)p->docs, p->ix.seconds);
        if ((rc = scale_queries(o, p, index, o->fts5 ? db : NULL, jp, err, errlen)))
            goto out;
        if (!o->keep) {
            snprintf(corpus, sizeof corpus, "%s/corpus-%llu", work, (unsigned long long)p->docs);
            qr_remove_tree(corpus);
            qr_remove_tree(index);
            remove(db);
        }
    }
    doc = json_object();
    json_t *js = json_array();
    for (size_t i = 0; i < o->nsizes; i++)
        json_array_append_new(js, qr_jint(o->sizes[i]));
    json_object_set_new(doc, "benchmark", json_string("scale"));
    json_object_set_new(doc, "machine", qr_jmachine());
    json_object_set_new(doc, "sizes", js);
    json_object_set_new(
        doc, "synth",
        json_pack("{s:I, s:I, s:I, s:o, s:o, s:o}", "seed", (json_int_t)o->synth.seed, "vocab",
                  (json_int_t)(o->synth.vocab ? o->synth.vocab : 2000000), "head",
                  (json_int_t)(o->synth.head ? o->synth.head : 10000), "median_words",
                  qr_jnum(o->synth.median_words ? o->synth.median_words : 250), "sigma",
                  qr_jnum(o->synth.sigma ? o->synth.sigma : 0.8), "colloc",
                  qr_jnum(o->synth.colloc ? o->synth.colloc : 0.25)));
    json_object_set_new(doc, "points", jpts);
    jpts = NULL;
    if (o->json)
        rc = qr_write_json(doc, NULL, out, err, errlen);
    else
        print_scale(out, o, pts, o->nsizes);
    if (!rc && o->json_path)
        rc = qr_write_json(doc, o->json_path, NULL, err, errlen);
    if (!rc && o->svg_path)
        rc = scale_svg(o, pts, o->nsizes, err, errlen);
out:
    if (rc && err && !err[0])
        qr_bench_err(err, errlen, "%s", qr_strerror(rc));
    json_decref(doc);
    json_decref(jpts);
    if (!o->keep && work[0])
        qr_remove_tree(work);
    qr_free(pts);
    return rc;
}
