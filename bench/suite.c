/*
 * The benchmark suite (see suite.h): bench index, queries, gen and
 * compare. Engines are timed one at a time, each over the whole query
 * list, so that they never compete for the CPU or the page cache; builds
 * run in forked children (ixbench.h) so that their peak RSS is their own.
 */
#include "bench/suite.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/fts5.h"
#include "bench/proc.h"
#include "bench/report.h"
#include "bench/svg.h"
#include "storage/alloc.h"
#include "storage/status.h"

static int cmp_ix_seconds(const void *a, const void *b)
{
    double x = ((const qr_ixbench *)a)->seconds, y = ((const qr_ixbench *)b)->seconds;
    return x < y ? -1 : x > y;
}

/* ---- bench queries ------------------------------------------------------------ */

static void print_latency_table(FILE *out, const char *const *classes, size_t ncls,
                                const qr_latency *s)
{
    char a[32], b[32], c[32], d[32], e[32], f[32];
    fprintf(out, "%-12s %7s %10s %10s %10s %10s %10s %11s\n", "class", "queries", "median µs",
            "p90 µs", "p99 µs", "max µs", "QPS", "mean hits");
    for (size_t i = 0; i <= ncls; i++) {
        const qr_latency *l = &s[i];
        fprintf(out, "%-12s %7zu %10s %10s %10s %10s %10s %11s%s\n", i < ncls ? classes[i] : "all",
                l->queries, qr_fmt3(a, sizeof a, l->median_us), qr_fmt3(b, sizeof b, l->p90_us),
                qr_fmt3(c, sizeof c, l->p99_us), qr_fmt3(d, sizeof d, l->max_us),
                qr_fmt3(e, sizeof e, l->qps), qr_fmt3(f, sizeof f, l->mean_hits),
                l->errors ? "  (errors)" : "");
    }
}

int qr_suite_queries(const qr_suite_options *o, FILE *out, char *err, size_t errlen)
{
    qr_bq_list l = {0};
    qr_qgen_stats gs;
    qr_timing t = {0};
    qr_latency *s = NULL;
    const char **classes = NULL;
    size_t ncls = 0;
    uint64_t docs = 0;
    json_t *doc = NULL;
    qr_buf svg = {0};
    int rc;
    if ((rc = qr_load_queries(o, o->index, &l, &gs, err, errlen)))
        goto out;
    qr_warn_short(o, &gs);
    if ((rc = qr_time_quarry(&t, o, o->index, &l, &docs, err, errlen)) ||
        (rc = qr_bq_classes(&l, &classes, &ncls)) || (rc = qr_summarise(&s, &t, &l, classes, ncls)))
        goto out;

    doc = json_object();
    json_t *jc = json_array(), *jq = json_array();
    for (size_t c = 0; c < ncls; c++) {
        json_t *e = qr_jlatency(&s[c]);
        json_object_set_new(e, "class", json_string(classes[c]));
        json_object_set_new(e, "query_medians", qr_jquery_medians(&t, &l, classes[c]));
        json_array_append_new(jc, e);
    }
    for (size_t i = 0; i < l.n; i++) {
        json_t *e = json_pack("{s:s, s:s, s:o, s:o}", "class", l.q[i].cls, "query", l.q[i].text,
                              "total", t.total[i] < 0 ? json_null() : qr_jint((uint64_t)t.total[i]),
                              "median_us", qr_jnum(qr_query_median(&t, i)));
        if (t.error[i])
            json_object_set_new(e, "error", json_string(t.error[i]));
        json_array_append_new(jq, e);
    }
    json_object_set_new(doc, "benchmark", json_string("queries"));
    json_object_set_new(doc, "engine", json_string("quarry"));
    json_object_set_new(doc, "index", json_string(o->index));
    json_object_set_new(doc, "docs", qr_jint(docs));
    json_object_set_new(doc, "machine", qr_jmachine());
    json_object_set_new(doc, "queries", qr_jgen(o, &gs));
    json_object_set_new(doc, "timing", qr_jtiming(o, &t));
    json_object_set_new(doc, "classes", jc);
    json_t *jall = qr_jlatency(&s[ncls]);
    json_object_set_new(jall, "query_medians", qr_jquery_medians(&t, &l, NULL));
    json_object_set_new(doc, "all", jall);
    json_object_set_new(doc, "per_query", jq);

    if (o->json)
        rc = qr_write_json(doc, NULL, out, err, errlen);
    else {
        fprintf(out,
                "quarry bench queries: %s, %llu docs, %zu queries in %zu classes, top %zu with "
                "exact totals;\n%zu timed passes after %u warm-up passes, one thread\n",
                o->index, (unsigned long long)docs, l.n, ncls, o->k ? o->k : 10, t.passes,
                t.warmup_passes);
        print_latency_table(out, classes, ncls, s);
        double m[3];
        char a[32], b[32], c[32];
        if (!qr_query_medians(m, &t, &l, NULL))
            fprintf(out,
                    "per-query medians (the statistic of ../shared/peers): median %s µs, p95 %s "
                    "µs, p99 %s µs\n",
                    qr_fmt3(a, sizeof a, m[0]), qr_fmt3(b, sizeof b, m[1]),
                    qr_fmt3(c, sizeof c, m[2]));
        for (size_t i = 0; i < l.n; i++)
            if (t.error[i])
                fprintf(out, "error: %s\t%s: %s\n", l.q[i].cls, l.q[i].text, t.error[i]);
    }
    if (!rc && o->json_path)
        rc = qr_write_json(doc, o->json_path, NULL, err, errlen);
    if (!rc && o->svg_path) {
        double *v = qr_calloc(3 * (ncls + 1), sizeof *v);
        if (!v) {
            rc = QR_ENOMEM;
            goto out;
        }
        for (size_t c = 0; c <= ncls; c++) {
            v[c] = s[c].median_us;
            v[ncls + 1 + c] = s[c].p90_us;
            v[2 * (ncls + 1) + c] = s[c].p99_us;
        }
        const char **cats = qr_calloc(ncls + 1, sizeof *cats);
        if (!cats) {
            qr_free(v);
            rc = QR_ENOMEM;
            goto out;
        }
        for (size_t c = 0; c < ncls; c++)
            cats[c] = classes[c];
        cats[ncls] = "all";
        qr_svg_series ser[3] = {{"median", v}, {"p90", v + ncls + 1}, {"p99", v + 2 * (ncls + 1)}};
        char head[256], note[256];
        snprintf(head, sizeof head, "quarry query latency per class (%llu docs)",
                 (unsigned long long)docs);
        snprintf(note, sizeof note, "%s; top %zu + exact total; %zu timed passes; one thread",
                 o->index, o->k ? o->k : 10, t.passes);
        qr_svg_chart ch = {.title = "latency per query (µs, log scale)",
                           .ylabel = "µs",
                           .xlabel = "query class",
                           .logy = true,
                           .n = ncls + 1,
                           .cats = cats,
                           .nseries = 3,
                           .series = ser};
        qr_svg_begin(&svg, 1, head, note);
        qr_svg_bars(&svg, 0, &ch);
        rc = qr_svg_end(&svg);
        if (!rc)
            rc = qr_write_file(o->svg_path, &svg, err, errlen);
        qr_free(v);
        qr_free(cats);
    }
out:
    if (rc && err && !err[0])
        qr_bench_err(err, errlen, "%s", qr_strerror(rc));
    json_decref(doc);
    qr_buf_free(&svg);
    qr_free(s);
    qr_free(classes);
    qr_timing_free(&t);
    qr_bq_list_free(&l);
    return rc;
}

int qr_suite_gen(const qr_suite_options *o, FILE *out, char *err, size_t errlen)
{
    qr_bq_list l = {0};
    qr_qgen_stats gs;
    qr_suite_options g = *o;
    g.query_file = NULL;
    int rc = qr_load_queries(&g, o->index, &l, &gs, err, errlen);
    if (!rc) {
        qr_warn_short(o, &gs);
        char comment[256];
        snprintf(comment, sizeof comment,
                 "quarry bench gen: index %s, %llu docs, seed %llu, %u a class; bands: High %llu "
                 "words, Med %llu, Low %llu",
                 o->index, (unsigned long long)gs.docs, (unsigned long long)o->gen.seed,
                 o->gen.per_class ? o->gen.per_class : 20, (unsigned long long)gs.high,
                 (unsigned long long)gs.med, (unsigned long long)gs.low);
        if (qr_bq_write(&l, out, comment)) {
            qr_bench_err(err, errlen, "cannot write the queries");
            rc = QR_EIO;
        }
    }
    qr_bq_list_free(&l);
    return rc;
}

int qr_suite_index(const qr_suite_options *o, const char *const *dirs, size_t ndirs, FILE *out,
                   char *err, size_t errlen)
{
    unsigned reps = o->ix_repeat ? o->ix_repeat : 1;
    qr_ixbench *runs = qr_calloc(reps, sizeof *runs);
    char scratch[4096] = "", path[4200];
    json_t *doc = NULL;
    int rc = 0;
    if (!runs)
        return QR_ENOMEM;
    if (o->keep && !qr_new_or_empty(o->keep)) {
        qr_bench_err(err, errlen, "%s: not a new or empty directory", o->keep);
        rc = QR_EINVAL;
        goto out;
    }
    if ((rc = qr_make_temp_dir(scratch, sizeof scratch, o->tmp, "quarry-bench"))) {
        qr_bench_err(err, errlen, "cannot make a scratch directory under %s",
                     o->tmp ? o->tmp : "$TMPDIR");
        scratch[0] = '\0';
        goto out;
    }
    for (unsigned r = 0; r < reps; r++) {
        bool kept = o->keep && r + 1 == reps;
        snprintf(path, sizeof path, "%s/index-%u", scratch, r);
        if ((rc = qr_ixbench_run(&runs[r], kept ? o->keep : path, dirs, ndirs, &o->ix))) {
            qr_bench_err(err, errlen, "%s", runs[r].error);
            goto out;
        }
        if (!kept)
            qr_remove_tree(path);
    }
    /* the median build by in-process time; the order of the runs is kept for the report */
    qr_ixbench *sorted = qr_calloc(reps, sizeof *sorted);
    if (!sorted) {
        rc = QR_ENOMEM;
        goto out;
    }
    memcpy(sorted, runs, reps * sizeof *runs);
    qsort(sorted, reps, sizeof *sorted, cmp_ix_seconds);
    qr_ixbench med = sorted[(reps - 1) / 2];
    qr_free(sorted);

    doc = json_object();
    json_t *jr = json_array();
    for (unsigned r = 0; r < reps; r++)
        json_array_append_new(jr, qr_jix(&runs[r]));
    json_t *jd = json_array();
    for (size_t i = 0; i < ndirs; i++)
        json_array_append_new(jd, json_string(dirs[i]));
    json_object_set_new(doc, "benchmark", json_string("index"));
    json_object_set_new(doc, "corpus", jd);
    json_object_set_new(doc, "machine", qr_jmachine());
    json_object_set_new(doc, "threads", qr_jint(o->ix.threads));
    json_object_set_new(doc, "ram_bytes", qr_jint(o->ix.ram_bytes));
    json_object_set_new(doc, "optimize", json_boolean(o->ix.optimize));
    json_object_set_new(doc, "median", qr_jix(&med));
    json_object_set_new(doc, "runs", jr);
    if (o->json) {
        rc = qr_write_json(doc, NULL, out, err, errlen);
    } else {
        fprintf(out, "quarry bench index:");
        for (size_t i = 0; i < ndirs; i++)
            fprintf(out, " %s", dirs[i]);
        fprintf(out, " (%u build%s into a fresh directory, each in its own process)\n", reps,
                reps > 1 ? "s" : "");
        for (unsigned r = 0; r < reps && reps > 1; r++) {
            char label[32];
            snprintf(label, sizeof label, "build %u: ", r + 1);
            qr_print_ix_line(out, label, &runs[r]);
        }
        qr_print_ix_line(out, reps > 1 ? "median: " : "", &med);
        if (med.skipped)
            fprintf(out, "skipped files: %llu\n", (unsigned long long)med.skipped);
        qr_print_ix_sizes(out, &med);
        if (o->keep)
            fprintf(out, "index kept in %s\n", o->keep);
    }
    if (!rc && o->json_path)
        rc = qr_write_json(doc, o->json_path, NULL, err, errlen);
out:
    json_decref(doc);
    if (scratch[0])
        qr_remove_tree(scratch);
    qr_free(runs);
    return rc;
}

/* ---- bench compare ------------------------------------------------------------ */

static json_t *jclass_pair(const char *cls, const qr_latency *q, const qr_latency *f, size_t agree,
                           size_t compared)
{
    return json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:I}", "class", cls, "quarry", qr_jlatency(q),
                     "fts5", qr_jlatency(f), "median_ratio_fts5_over_quarry",
                     qr_jnum(f->median_us / q->median_us), "p99_ratio_fts5_over_quarry",
                     qr_jnum(f->p99_us / q->p99_us), "same_total", (json_int_t)agree, "compared",
                     (json_int_t)compared);
}

int qr_suite_compare(const qr_suite_options *o, const char *const *dirs, size_t ndirs, FILE *out,
                     char *err, size_t errlen)
{
    char work[4096] = "", index[4200], db[4200];
    qr_ixbench ix;
    qr_fts5bench fb;
    qr_bq_list l = {0};
    qr_qgen_stats gs;
    qr_timing tq = {0}, tf = {0};
    char **match = NULL, **why = NULL;
    qr_latency *sq = NULL, *sf = NULL;
    const char **classes = NULL;
    size_t ncls = 0, *agree = NULL, *compared = NULL;
    uint64_t qdocs = 0, fdocs = 0;
    json_t *doc = NULL;
    qr_buf svg = {0};
    double *v = NULL;
    int rc;
    if (!qr_fts5_available()) {
        qr_bench_err(err, errlen,
                     "built without SQLite FTS5: install libsqlite3-dev and reconfigure "
                     "(meson setup --reconfigure build -Dfts5=enabled)");
        return QR_ENOTFOUND;
    }
    if (o->keep) {
        if (!qr_new_or_empty(o->keep) || (mkdir(o->keep, 0777) != 0 && errno != EEXIST)) {
            qr_bench_err(err, errlen, "%s: not a new or empty directory", o->keep);
            return QR_EINVAL;
        }
        snprintf(work, sizeof work, "%s", o->keep);
    } else if ((rc = qr_make_temp_dir(work, sizeof work, o->tmp, "quarry-bench"))) {
        qr_bench_err(err, errlen, "cannot make a scratch directory under %s",
                     o->tmp ? o->tmp : "$TMPDIR");
        return rc;
    }
    snprintf(index, sizeof index, "%s/quarry.idx", work);
    snprintf(db, sizeof db, "%s/fts5.db", work);
    if ((rc = qr_ixbench_run(&ix, index, dirs, ndirs, &o->ix))) {
        qr_bench_err(err, errlen, "%s", ix.error);
        goto out;
    }
    if ((rc = qr_fts5bench_run(&fb, db, dirs, ndirs))) {
        qr_bench_err(err, errlen, "%s", fb.error);
        goto out;
    }
    if ((rc = qr_load_queries(o, index, &l, &gs, err, errlen)))
        goto out;
    qr_warn_short(o, &gs);
    if ((rc = qr_translate_all(&l, &match, &why)) ||
        (rc = qr_time_quarry(&tq, o, index, &l, &qdocs, err, errlen)) ||
        (rc = qr_time_fts5(&tf, o, db, &l, match, why, &fdocs, err, errlen)) ||
        (rc = qr_bq_classes(&l, &classes, &ncls)) ||
        (rc = qr_summarise(&sq, &tq, &l, classes, ncls)) ||
        (rc = qr_summarise(&sf, &tf, &l, classes, ncls)))
        goto out;
    agree = qr_calloc(ncls + 1, sizeof *agree);
    compared = qr_calloc(ncls + 1, sizeof *compared);
    if (!agree || !compared) {
        rc = QR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < l.n; i++) {
        if (tq.total[i] < 0 || tf.total[i] < 0)
            continue;
        size_t c = 0;
        while (c < ncls && strcmp(classes[c], l.q[i].cls))
            c++;
        compared[c]++;
        compared[ncls]++;
        if (tq.total[i] == tf.total[i]) {
            agree[c]++;
            agree[ncls]++;
        }
    }

    doc = json_object();
    json_t *jc = json_array(), *jq = json_array(), *jd = json_array(), *jall = NULL;
    for (size_t c = 0; c <= ncls; c++) {
        const char *cls = c < ncls ? classes[c] : NULL;
        json_t *e = jclass_pair(cls ? cls : "all", &sq[c], &sf[c], agree[c], compared[c]);
        json_object_set_new(e, "query_medians",
                            json_pack("{s:o, s:o}", "quarry", qr_jquery_medians(&tq, &l, cls),
                                      "fts5", qr_jquery_medians(&tf, &l, cls)));
        if (cls)
            json_array_append_new(jc, e);
        else
            jall = e;
    }
    for (size_t i = 0; i < l.n; i++) {
        json_t *e = json_pack(
            "{s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "class", l.q[i].cls, "query", l.q[i].text,
            "fts5_query", match[i] ? json_string(match[i]) : json_null(), "quarry_total",
            tq.total[i] < 0 ? json_null() : qr_jint((uint64_t)tq.total[i]), "fts5_total",
            tf.total[i] < 0 ? json_null() : qr_jint((uint64_t)tf.total[i]), "quarry_median_us",
            qr_jnum(qr_query_median(&tq, i)), "fts5_median_us", qr_jnum(qr_query_median(&tf, i)));
        if (tq.error[i])
            json_object_set_new(e, "quarry_error", json_string(tq.error[i]));
        if (tf.error[i])
            json_object_set_new(e, "fts5_error", json_string(tf.error[i]));
        json_array_append_new(jq, e);
    }
    for (size_t i = 0; i < ndirs; i++)
        json_array_append_new(jd, json_string(dirs[i]));
    json_object_set_new(doc, "benchmark", json_string("compare"));
    json_object_set_new(doc, "corpus", jd);
    json_object_set_new(doc, "docs", qr_jint(qdocs));
    json_object_set_new(doc, "fts5_docs", qr_jint(fdocs));
    json_object_set_new(doc, "machine", qr_jmachine());
    json_object_set_new(doc, "build",
                        json_pack("{s:o, s:o}", "quarry", qr_jix(&ix), "fts5", qr_jfts(&fb)));
    json_object_set_new(doc, "queries", qr_jgen(o, &gs));
    json_object_set_new(
        doc, "timing",
        json_pack("{s:o, s:o}", "quarry", qr_jtiming(o, &tq), "fts5", qr_jtiming(o, &tf)));
    json_object_set_new(doc, "classes", jc);
    json_object_set_new(doc, "all", jall);
    json_object_set_new(doc, "per_query", jq);

    if (o->json) {
        rc = qr_write_json(doc, NULL, out, err, errlen);
    } else {
        char a[32], b[32], c[32], d[32], e[32], f[32], g[32];
        fprintf(out, "quarry bench compare:");
        for (size_t i = 0; i < ndirs; i++)
            fprintf(out, " %s", dirs[i]);
        fprintf(out, " (quarry %llu docs, FTS5 %llu docs)\n\n", (unsigned long long)qdocs,
                (unsigned long long)fdocs);
        fprintf(out, "%-8s %8s %9s %9s %9s %12s %10s\n", "engine", "docs", "build s", "docs/s",
                "MB/s", "peak RSS MB", "index MB");
        fprintf(out, "%-8s %8llu %9.3f %9.0f %9.2f %12.1f %10.2f\n", "quarry",
                (unsigned long long)ix.docs, ix.seconds,
                ix.seconds > 0 ? (double)ix.docs / ix.seconds : 0.0,
                ix.seconds > 0 ? qr_mb(ix.raw_bytes) / ix.seconds : 0.0,
                (double)ix.usage.maxrss_kb * 1024 / 1e6, qr_mb(ix.stats.total_bytes));
        fprintf(out, "%-8s %8llu %9.3f %9.0f %9.2f %12.1f %10.2f\n", "FTS5",
                (unsigned long long)fb.build.docs, fb.build.seconds,
                fb.build.seconds > 0 ? (double)fb.build.docs / fb.build.seconds : 0.0,
                fb.build.seconds > 0 ? qr_mb(fb.build.raw_bytes) / fb.build.seconds : 0.0,
                (double)fb.usage.maxrss_kb * 1024 / 1e6, qr_mb(fb.build.db_bytes));
        fprintf(out,
                "\n%zu queries, top %zu by BM25 with exact totals, one thread; %zu / %zu timed "
                "passes (quarry / FTS5)\n",
                l.n, o->k ? o->k : 10, tq.passes, tf.passes);
        fprintf(out, "%-12s %7s %10s %10s %8s %10s %10s %11s %11s %8s\n", "class", "queries",
                "quarry µs", "FTS5 µs", "FTS5/q", "quarry p99", "FTS5 p99", "quarry hits",
                "FTS5 hits", "same");
        for (size_t i = 0; i <= ncls; i++) {
            const qr_latency *q = &sq[i], *fl = &sf[i];
            fprintf(out, "%-12s %7zu %10s %10s %7sx %10s %10s %11llu %11llu %4zu/%-3zu\n",
                    i < ncls ? classes[i] : "all", q->queries, qr_fmt3(a, sizeof a, q->median_us),
                    qr_fmt3(b, sizeof b, fl->median_us),
                    qr_fmt3(c, sizeof c, fl->median_us / q->median_us),
                    qr_fmt3(d, sizeof d, q->p99_us), qr_fmt3(e, sizeof e, fl->p99_us),
                    (unsigned long long)q->hits, (unsigned long long)fl->hits, agree[i],
                    compared[i]);
        }
        fprintf(out, "%-12s %7s %10s %10s\n", "QPS", "", qr_fmt3(f, sizeof f, sq[ncls].qps),
                qr_fmt3(g, sizeof g, sf[ncls].qps));
        double mq[3], mf[3];
        if (!qr_query_medians(mq, &tq, &l, NULL) && !qr_query_medians(mf, &tf, &l, NULL))
            fprintf(out,
                    "per-query medians (the statistic of ../shared/peers), median / p95 / p99 µs: "
                    "quarry %s / %s / %s, FTS5 %s / %s / %s\n",
                    qr_fmt3(a, sizeof a, mq[0]), qr_fmt3(b, sizeof b, mq[1]),
                    qr_fmt3(c, sizeof c, mq[2]), qr_fmt3(d, sizeof d, mf[0]),
                    qr_fmt3(e, sizeof e, mf[1]), qr_fmt3(f, sizeof f, mf[2]));
        for (size_t i = 0; i < l.n; i++) {
            if (tq.error[i])
                fprintf(out, "quarry error: %s\t%s: %s\n", l.q[i].cls, l.q[i].text, tq.error[i]);
            if (tf.error[i])
                fprintf(out, "FTS5 error: %s\t%s: %s\n", l.q[i].cls, l.q[i].text, tf.error[i]);
        }
        if (o->keep)
            fprintf(out, "index and database kept in %s\n", o->keep);
    }
    if (!rc && o->json_path)
        rc = qr_write_json(doc, o->json_path, NULL, err, errlen);
    if (!rc && o->svg_path) {
        size_t n = ncls + 1;
        v = qr_calloc(4 * n + 6, sizeof *v);
        const char **cats = qr_calloc(n, sizeof *cats);
        if (!v || !cats) {
            qr_free(cats);
            rc = QR_ENOMEM;
            goto out;
        }
        for (size_t c = 0; c < n; c++) {
            cats[c] = c < ncls ? classes[c] : "all";
            v[c] = sq[c].median_us;
            v[n + c] = sf[c].median_us;
            v[2 * n + c] = sq[c].p99_us;
            v[3 * n + c] = sf[c].p99_us;
        }
        double *bq = v + 4 * n, *bf = bq + 3;
        bq[0] = ix.seconds;
        bq[1] = qr_mb(ix.stats.total_bytes);
        bq[2] = (double)ix.usage.maxrss_kb * 1024 / 1e6;
        bf[0] = fb.build.seconds;
        bf[1] = qr_mb(fb.build.db_bytes);
        bf[2] = (double)fb.usage.maxrss_kb * 1024 / 1e6;
        static const char *const bcats[3] = {"build s", "index MB", "peak RSS MB"};
        qr_svg_series s1[2] = {{"quarry", v}, {"SQLite FTS5", v + n}};
        qr_svg_series s2[2] = {{"quarry", v + 2 * n}, {"SQLite FTS5", v + 3 * n}};
        qr_svg_series s3[2] = {{"quarry", bq}, {"SQLite FTS5", bf}};
        qr_svg_chart c1 = {.title = "median latency per query class (µs, log scale)",
                           .xlabel = "query class",
                           .ylabel = "µs",
                           .logy = true,
                           .n = n,
                           .cats = cats,
                           .nseries = 2,
                           .series = s1};
        qr_svg_chart c2 = c1;
        c2.title = "p99 latency per query class (µs, log scale)";
        c2.series = s2;
        qr_svg_chart c3 = {.title = "indexing (log scale)",
                           .xlabel = "",
                           .ylabel = "",
                           .logy = true,
                           .n = 3,
                           .cats = bcats,
                           .nseries = 2,
                           .series = s3};
        char head[256], note[512];
        snprintf(head, sizeof head, "quarry vs SQLite FTS5 on %s (%llu docs)", dirs[0],
                 (unsigned long long)qdocs);
        qr_machine m;
        qr_machine_get(&m);
        snprintf(note, sizeof note,
                 "%zu queries, top %zu + exact total, one thread; %s, %ld cores, %.0f GiB", l.n,
                 o->k ? o->k : 10, m.cpu, m.cores, m.mem_gib);
        qr_svg_begin(&svg, 3, head, note);
        qr_svg_bars(&svg, 0, &c1);
        qr_svg_bars(&svg, 1, &c2);
        qr_svg_bars(&svg, 2, &c3);
        rc = qr_svg_end(&svg);
        if (!rc)
            rc = qr_write_file(o->svg_path, &svg, err, errlen);
        qr_free(cats);
    }
out:
    if (rc && err && !err[0])
        qr_bench_err(err, errlen, "%s", qr_strerror(rc));
    json_decref(doc);
    qr_buf_free(&svg);
    qr_free(v);
    qr_free(agree);
    qr_free(compared);
    qr_free(sq);
    qr_free(sf);
    qr_free(classes);
    qr_free_strings(match, l.n);
    qr_free_strings(why, l.n);
    qr_timing_free(&tq);
    qr_timing_free(&tf);
    qr_bq_list_free(&l);
    if (!o->keep && work[0])
        qr_remove_tree(work);
    return rc;
}
