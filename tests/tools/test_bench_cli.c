/*
 * Tests of the benchmark suite: `quarry bench` end to end on the bundled
 * sample articles and tiny synthetic corpora (each command runs and its JSON
 * parses; the numbers in it are consistent with each other; never a timing
 * threshold), its usage errors and exit statuses, and the pieces of bench/
 * that decide what is measured: the FTS5 translation, query files and
 * classes, query generation from an index, the timing driver, percentiles,
 * the synthetic corpus and the SVG writer.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "bench/fts5.h"
#include "bench/proc.h"
#include "bench/queries.h"
#include "bench/querygen.h"
#include "bench/svg.h"
#include "bench/synth.h"
#include "bench/timing.h"
#include "index/indexer.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/dir.h"
#include "storage/status.h"

#define SAMPLES QUARRY_SOURCE_ROOT "/samples/articles"

/* A scratch directory for the test, removed afterwards. */
static char tmp[256];

static void make_tmp(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/quarry-test-bench-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void drop_tmp(void)
{
    if (tmp[0])
        qr_remove_tree(tmp);
}

static json_t *parse_json(const char *s)
{
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    cr_assert_not_null(j, "JSON does not parse: %s (line %d): %.300s", e.text, e.line, s);
    return j;
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    cr_assert_not_null(j, "%s does not parse: %s", path, e.text);
    return j;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "%s is not a number", key);
    return json_number_value(v);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* Builds the samples index into tmp/idx with `quarry bench index --keep`. */
static void samples_index(void)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "bench index --keep '%s/idx' '%s' 2>&1", tmp, SAMPLES), 0, "%s",
                 out);
    free(out);
}

/* ---- the FTS5 translation -------------------------------------------------------- */

static void check_translation(const char *q, const char *want)
{
    qr_buf b = {0};
    char err[256];
    int rc = qr_fts5_translate(&b, q, strlen(q), err, sizeof err);
    cr_assert_eq(rc, 0, "%s: %s", q, err);
    qr_buf_put_u8(&b, 0);
    cr_assert_str_eq((char *)b.p, want, "%s", q);
    qr_buf_free(&b);
}

static void check_refused(const char *q, int code, const char *msg_part)
{
    qr_buf b = {0};
    char err[256];
    int rc = qr_fts5_translate(&b, q, strlen(q), err, sizeof err);
    cr_assert_eq(rc, code, "%s: %d", q, rc);
    cr_assert(strstr(err, msg_part), "%s: '%s'", q, err);
    cr_assert_eq(b.n, 0, "nothing is left in the buffer");
    qr_buf_free(&b);
}

Test(bench_fts5, translates_every_generated_class)
{
    check_translation("crimea", "\"crimea\"");
    check_translation("know nine", "(\"know\" AND \"nine\")");
    check_translation("a AND b", "(\"a\" AND \"b\")");
    check_translation("way OR sustainable", "(\"way\" OR \"sustainable\")");
    check_translation("group NOT number", "(\"group\" NOT \"number\")");
    check_translation("\"wales captain\"", "\"wales captain\"");
    check_translation("\"backed chancellor gordon\"", "\"backed chancellor gordon\"");
    check_translation("fra*", "\"fra\"*");
    check_translation("madrid NEAR/5 morientes", "NEAR(\"madrid\" \"morientes\", 4)");
    check_translation("a NEAR b", "NEAR(\"a\" \"b\", 9)");
    check_translation("title:broadband", "title : \"broadband\"");
    check_translation("body:x", "body : \"x\"");
}

Test(bench_fts5, translates_the_rest_of_the_language)
{
    check_translation("a b NOT c", "((\"a\" AND \"b\") NOT \"c\")");
    check_translation("a -c -d", "((\"a\" NOT \"c\") NOT \"d\")");
    check_translation("a --c", "(\"a\" NOT \"c\")");
    check_translation("a -(b OR c)", "(\"a\" NOT (\"b\" OR \"c\"))");
    check_translation("a -\"b c\"", "(\"a\" NOT \"b c\")");
    check_translation("a OR b c", "(\"a\" OR (\"b\" AND \"c\"))");
    check_translation("(a OR b) c", "((\"a\" OR \"b\") AND \"c\")");
    check_translation("cease-fire", "(\"cease-fire\" OR \"ceasefire\")");
    check_translation("e-mail*", "\"email\"*");
    check_translation("say \"he\"\"s\"", "(\"say\" AND \"he\" AND \"s\")");
    check_translation("title:(a b:c)", "(title : \"a\" AND title : \"b:c\")");
    check_translation("title:(a body:b)", "(title : \"a\" AND body : \"b\")");
    check_translation("title: a", "title : \"a\"");
    check_translation("-title:a b", "(\"b\" NOT title : \"a\")");
    check_translation("title:(\"x y\" NEAR/3 zz*)", "title : NEAR(\"x y\" \"zz\"*, 2)");
    check_translation("a NEAR/0 b", "NEAR(\"a\" \"b\", 0)");
    check_translation("- a", "\"a\"");         /* a lone '-' is punctuation */
    check_translation("... a", "\"a\"");       /* a word without letters is dropped */
    check_translation("a NEAR ... ", "\"a\""); /* ... also from a NEAR */
    check_translation("...", "");              /* nothing left: matches nothing */
    check_translation("and or not", "(\"and\" AND \"or\" AND \"not\")");
    check_translation("NEAR/x", "\"NEAR/x\"");
    check_translation("Gdańsk", "\"Gdańsk\"");
}

Test(bench_fts5, refuses_what_fts5_cannot_say)
{
    check_refused("NOT a", QR_EINVAL, "purely negative");
    check_refused("-a -b", QR_EINVAL, "purely negative");
    check_refused("a OR -b", QR_EINVAL, "NOT under OR");
    check_refused("(a OR b) NEAR c", QR_EINVAL, "NEAR takes only");
    check_refused("title:a NEAR body:b", QR_EINVAL, "cannot mix fields");
}

Test(bench_fts5, reports_syntax_errors_with_columns)
{
    check_refused("", QR_ESYNTAX, "column 1: empty query");
    check_refused("   ", QR_ESYNTAX, "empty query");
    check_refused("a \"b c", QR_ESYNTAX, "column 3: unclosed quote");
    check_refused("(a b", QR_ESYNTAX, "column 1: unbalanced parenthesis");
    check_refused("a b)", QR_ESYNTAX, "column 4: unbalanced parenthesis");
    check_refused("a ()", QR_ESYNTAX, "column 3: empty parentheses");
    check_refused("a OR", QR_ESYNTAX, "column 3: operator without an operand");
    check_refused("OR a", QR_ESYNTAX, "column 1: operator without an operand");
    check_refused("AND a", QR_ESYNTAX, "operator without an operand");
    check_refused("a AND", QR_ESYNTAX, "operator without an operand");
    check_refused("a NOT", QR_ESYNTAX, "operator without an operand");
    check_refused("a NEAR", QR_ESYNTAX, "operator without an operand");
    check_refused("NEAR a", QR_ESYNTAX, "operator without an operand");
    check_refused("a NEAR -b", QR_ESYNTAX, "operator without an operand");
    check_refused("a OR OR b", QR_ESYNTAX, "operator without an operand");
    check_refused("u*", QR_ESYNTAX, "column 1: prefix shorter than 2 characters");
    check_refused("title:", QR_ESYNTAX, "field without a clause");
    check_refused("(title:)", QR_ESYNTAX, "field without a clause");
    char deep[700];
    memset(deep, '(', 300);
    strcpy(deep + 300, "a");
    memset(deep + 301, ')', 300);
    deep[601] = '\0';
    check_refused(deep, QR_ESYNTAX, "nested too deeply");
}

Test(bench_fts5, translate_command_prints_each_translation)
{
    make_tmp();
    char path[320], *out;
    snprintf(path, sizeof path, "%s/q.tsv", tmp);
    write_text(path, "# comment\nPhrase2\t\"told bbc\"\n\nHighTerm\tstrong\nnot one\tNOT a\n");
    cr_assert_eq(cli_quarry(&out, "bench translate '%s'", path), 0, "%s", out);
    cr_assert_str_eq(out, "Phrase2\t\"told bbc\"\t\"told bbc\"\n"
                          "HighTerm\tstrong\t\"strong\"\n"
                          "not one\tNOT a\tERROR: FTS5 cannot express a purely negative query\n");
    free(out);
    /* from standard input; a syntax error makes the exit status 2 */
    cr_assert_eq(cli_quarry(&out, "bench translate - <<'EOF'\n(a\nEOF"), 2);
    cr_assert(strstr(out, "-\t(a\tERROR: column 1: unbalanced parenthesis"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench translate '%s/missing' 2>&1", tmp), 2);
    cr_assert(strstr(out, "cannot read"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench translate a b 2>&1"), 2);
    free(out);
    drop_tmp();
}

/* ---- query lists and classes ------------------------------------------------------ */

Test(bench_queries, classes_parse_and_name)
{
    unsigned set;
    char bad[64];
    cr_assert_eq(qr_qclass_parse(&set, "all", bad, sizeof bad), 0);
    cr_assert_eq(set, QR_QC_ALL);
    cr_assert_eq(qr_qclass_parse(&set, "peers", bad, sizeof bad), 0);
    cr_assert_eq(set, QR_QC_ALL & ~(1u << QR_QC_NEAR) & ~(1u << QR_QC_TITLE));
    cr_assert_eq(qr_qclass_parse(&set, " hightterm", bad, sizeof bad), QR_EINVAL);
    cr_assert_str_eq(bad, "hightterm");
    cr_assert_eq(qr_qclass_parse(&set, "HighTerm, phrase2 ,Near", bad, sizeof bad), 0);
    cr_assert_eq(set, 1u << QR_QC_HIGH_TERM | 1u << QR_QC_PHRASE2 | 1u << QR_QC_NEAR);
    cr_assert_eq(qr_qclass_parse(&set, ",", bad, sizeof bad), QR_EINVAL);
    char longname[100];
    memset(longname, 'x', 99);
    longname[99] = '\0';
    cr_assert_eq(qr_qclass_parse(&set, longname, bad, sizeof bad), QR_EINVAL);
    for (unsigned c = 0; c < QR_QC_COUNT; c++) {
        qr_qclass back;
        cr_assert_eq(qr_qclass_find(qr_qclass_name((qr_qclass)c), &back), 0);
        cr_assert_eq(back, c);
    }
    cr_assert_str_eq(qr_qclass_name(QR_QC_COUNT), "?");
}

Test(bench_queries, files_read_and_write)
{
    const char text[] = "# a comment\n\nphrase2\t\"a b\"\r\nno class here\n  \t\nMine\tx y\n\tz\n";
    FILE *f = fmemopen((void *)text, sizeof text - 1, "r");
    qr_bq_list l = {0};
    cr_assert_eq(qr_bq_read(&l, f), 0);
    fclose(f);
    cr_assert_eq(l.n, 4);
    cr_assert_str_eq(l.q[0].cls, "Phrase2", "a known class gets its canonical spelling");
    cr_assert_str_eq(l.q[0].text, "\"a b\"");
    cr_assert_str_eq(l.q[1].cls, "-");
    cr_assert_str_eq(l.q[1].text, "no class here");
    cr_assert_str_eq(l.q[2].cls, "Mine");
    cr_assert_str_eq(l.q[3].cls, "-", "an empty class is none");
    cr_assert_str_eq(l.q[3].text, "z");
    const char **names;
    size_t n;
    cr_assert_eq(qr_bq_classes(&l, &names, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "Phrase2");
    cr_assert_str_eq(names[1], "-");
    cr_assert_str_eq(names[2], "Mine");
    qr_free(names);
    char buf[256];
    f = fmemopen(buf, sizeof buf, "w");
    cr_assert_eq(qr_bq_write(&l, f, "hello"), 0);
    fclose(f);
    cr_assert_str_eq(buf, "# hello\nPhrase2\t\"a b\"\n-\tno class here\nMine\tx y\n-\tz\n");
    qr_bq_list_free(&l);
    qr_bq_list_free(&l); /* a freed list is empty and may be freed again */
    qr_bq_list_free(NULL);
}

/* ---- the timing driver -------------------------------------------------------------- */

struct fake {
    unsigned calls[4];
    bool flip; /* query 1 returns a different total after the first call */
};

static int fake_exec(void *ctx, size_t i, uint64_t *out_total, char *err, size_t errlen)
{
    struct fake *f = ctx;
    f->calls[i]++;
    if (i == 2) {
        snprintf(err, errlen, "no such thing");
        return QR_ESYNTAX;
    }
    if (i == 3)
        return QR_EINVAL; /* no message: the status's phrase stands in */
    *out_total = i == 1 && f->flip && f->calls[i] > 1 ? 99 : 10 * (i + 1);
    return 0;
}

Test(bench_timing, passes_totals_errors_and_summaries)
{
    struct fake f = {.flip = true};
    qr_timing t;
    qr_timing_options o = {.repeat = 5, .warmup = 3};
    cr_assert_eq(qr_timing_run(&t, &o, 4, fake_exec, &f), 0);
    cr_assert_eq(t.passes, 5);
    cr_assert_eq(t.warmup_passes, 3);
    cr_assert_eq(f.calls[0], 8, "3 warm-up + 5 timed");
    cr_assert_eq(f.calls[2], 1, "a query in error runs once");
    cr_assert_eq(t.total[0], 10);
    cr_assert_eq(t.total[1], 20, "the first call's total is kept");
    cr_assert_eq(t.total[2], -1);
    cr_assert_str_eq(t.error[2], "no such thing");
    cr_assert_str_eq(t.error[3], qr_strerror(QR_EINVAL));
    cr_assert_eq(t.mismatches, 5, "query 1 changed its answer in every timed pass");
    cr_assert(isnan(t.ns[2]));
    for (size_t p = 0; p < t.passes; p++)
        cr_assert(t.ns[p * 4] >= 0);

    qr_bq_list l = {0};
    cr_assert_eq(qr_bq_add(&l, "A", "q0", 2), 0);
    cr_assert_eq(qr_bq_add(&l, "A", "q1", 2), 0);
    cr_assert_eq(qr_bq_add(&l, "B", "q2", 2), 0);
    cr_assert_eq(qr_bq_add(&l, "B", "q3", 2), 0);
    qr_latency a, b, all;
    cr_assert_eq(qr_latency_of(&a, &t, &l, "A"), 0);
    cr_assert_eq(qr_latency_of(&b, &t, &l, "B"), 0);
    cr_assert_eq(qr_latency_of(&all, &t, &l, NULL), 0);
    cr_assert_eq(a.queries, 2);
    cr_assert_eq(a.runs, 10);
    cr_assert_eq(a.hits, 30);
    cr_assert_float_eq(a.mean_hits, 15.0, 1e-9);
    cr_assert(a.median_us <= a.p90_us && a.p90_us <= a.p99_us && a.p99_us <= a.max_us);
    cr_assert(a.qps > 0);
    cr_assert_eq(b.queries, 0);
    cr_assert_eq(b.errors, 2);
    cr_assert(isnan(b.median_us) && isnan(b.qps) && isnan(b.mean_hits));
    cr_assert_eq(all.runs, 10);
    cr_assert_eq(all.errors, 2);
    qr_bq_list_free(&l);
    qr_timing_free(&t);
    qr_timing_free(&t);
}

Test(bench_timing, time_budget_and_percentiles)
{
    struct fake f = {0};
    qr_timing t;
    qr_timing_options o = {.seconds = 0.01, .warmup_seconds = 0.01};
    cr_assert_eq(qr_timing_run(&t, &o, 2, fake_exec, &f), 0);
    cr_assert(t.passes >= 1 && t.passes <= QR_TIMING_MAX_PASSES);
    cr_assert(t.warmup_passes >= 1);
    cr_assert_eq(t.mismatches, 0);
    qr_timing_free(&t);
    o = (qr_timing_options){0};
    cr_assert_eq(qr_timing_run(&t, &o, 0, fake_exec, &f), 0, "an empty list is no error");
    cr_assert_eq(t.passes, 1);
    qr_timing_free(&t);

    const double v[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    cr_assert_float_eq(qr_percentile(v, 10, 50), 5, 0);
    cr_assert_float_eq(qr_percentile(v, 10, 90), 9, 0);
    cr_assert_float_eq(qr_percentile(v, 10, 99), 10, 0);
    cr_assert_float_eq(qr_percentile(v, 10, 100), 10, 0);
    cr_assert_float_eq(qr_percentile(v, 10, 0.1), 1, 0);
    cr_assert_float_eq(qr_percentile(v, 1, 50), 1, 0);
    cr_assert(isnan(qr_percentile(v, 0, 50)));
}

/* ---- the synthetic corpus ------------------------------------------------------------- */

Test(bench_synth, deterministic_prefix_and_distinct_words)
{
    qr_synth *a, *b, *c;
    qr_synth_options o = {.seed = 7, .vocab = 5000, .median_words = 40};
    cr_assert_eq(qr_synth_open(&a, &o), 0);
    cr_assert_eq(qr_synth_open(&b, &o), 0);
    o.seed = 8;
    cr_assert_eq(qr_synth_open(&c, &o), 0);
    qr_buf x = {0}, y = {0}, z = {0};
    for (uint64_t i = 0; i < 20; i++) {
        qr_buf_reset(&x);
        qr_buf_reset(&y);
        cr_assert_eq(qr_synth_doc(a, i, &x), 0);
        cr_assert_eq(qr_synth_doc(b, 19 - i, &y), 0); /* another order */
        qr_buf_reset(&y);
        cr_assert_eq(qr_synth_doc(b, i, &y), 0);
        cr_assert(x.n == y.n && !memcmp(x.p, y.p, x.n), "doc %llu depends on (seed, i) only",
                  (unsigned long long)i);
        const char *nl = memchr(x.p, '\n', x.n);
        cr_assert(nl && nl[1] == '\n', "a title line, then a blank line");
        cr_assert(x.p[0] >= 'A' && x.p[0] <= 'Z', "a capitalised title");
        cr_assert_eq(x.p[x.n - 1], '\n');
    }
    qr_buf_reset(&z);
    cr_assert_eq(qr_synth_doc(c, 0, &z), 0);
    qr_buf_reset(&x);
    cr_assert_eq(qr_synth_doc(a, 0, &x), 0);
    cr_assert(x.n != z.n || memcmp(x.p, z.p, x.n), "another seed, another text");
    qr_buf_free(&x);
    qr_buf_free(&y);
    qr_buf_free(&z);
    qr_synth_close(a);
    qr_synth_close(b);
    qr_synth_close(c);
    qr_synth_close(NULL);

    /* spellings are a bijection of ranks: distinct over the first 100,000, short at the top */
    char w[32], prev[32] = "";
    size_t n0 = qr_synth_word(0, w);
    cr_assert(n0 >= 2 && n0 <= 5);
    char **seen = qr_calloc(100000, sizeof *seen);
    for (uint32_t r = 0; r < 100000; r++) {
        qr_synth_word(r, w);
        seen[r] = qr_strdup(w);
    }
    qsort(seen, 100000, sizeof *seen, (int (*)(const void *, const void *))strcmp);
    for (uint32_t r = 0; r < 100000; r++) {
        cr_assert(strcmp(prev, seen[r]) != 0, "rank spellings collide: %s", seen[r]);
        snprintf(prev, sizeof prev, "%s", seen[r]);
        qr_free(seen[r]);
    }
    qr_free(seen);
    cr_assert(qr_synth_word(UINT32_MAX, w) <= 24);

    char p[64];
    qr_synth_path(1234567, p, sizeof p);
    cr_assert_str_eq(p, "1234/1234567.txt");
    qr_synth_options badopt = {.sigma = 9};
    cr_assert_eq(qr_synth_open(&a, &badopt), QR_EINVAL);
    badopt = (qr_synth_options){.colloc = 2};
    cr_assert_eq(qr_synth_open(&a, &badopt), QR_EINVAL);
}

Test(bench_synth, synth_command_writes_files)
{
    make_tmp();
    char *out;
    cr_assert_eq(
        cli_quarry(&out, "bench synth --docs 1005 --seed 3 --vocab 1000 --words 20 '%s/c'", tmp), 0,
        "%s", out);
    cr_assert(strstr(out, "1005 documents"), "%s", out);
    free(out);
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/c/0001/0001004.txt", tmp);
    cr_assert_eq(stat(path, &st), 0, "the last file is in the second directory");
    snprintf(path, sizeof path, "%s/c/0001/0001005.txt", tmp);
    cr_assert_neq(stat(path, &st), 0);
    /* the same documents from the library */
    qr_synth *s;
    qr_synth_options o = {.seed = 3, .vocab = 1000, .median_words = 20};
    cr_assert_eq(qr_synth_open(&s, &o), 0);
    qr_buf b = {0};
    cr_assert_eq(qr_synth_doc(s, 1004, &b), 0);
    qr_buf_put_u8(&b, 0);
    snprintf(path, sizeof path, "%s/c/0001/0001004.txt", tmp);
    char *file = cli_slurp(path, NULL);
    cr_assert_str_eq(file, (char *)b.p);
    free(file);
    qr_buf_free(&b);
    qr_synth_close(s);
    /* errors */
    cr_assert_eq(cli_quarry(&out, "bench synth --docs 0 '%s/d' 2>&1", tmp), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench synth --vocab 5 '%s/d' 2>&1", tmp), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench synth 2>&1"), 2);
    cr_assert(strstr(out, "give one OUTDIR"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench synth --docs 2 /proc/quarry-cannot 2>&1"), 4);
    cr_assert(strstr(out, "writing /proc/quarry-cannot"), "%s", out);
    free(out);
    drop_tmp();
}

/* ---- SVG ---------------------------------------------------------------------------- */

Test(bench_svg, bars_and_lines_make_a_closed_document)
{
    qr_buf b = {0};
    const double v1[3] = {1.5, NAN, 100}, v2[3] = {10, 0, 2000};
    const char *cats[3] = {"HighTerm", "A&B", "<c>"};
    qr_svg_series s[2] = {{"quarry", v1}, {"FTS5 \"x\"", v2}};
    qr_svg_chart bars = {
        .title = "t", .logy = true, .n = 3, .cats = cats, .nseries = 2, .series = s};
    const double x[3] = {1000, 10000, 100000};
    qr_svg_chart lines = {
        .title = "l", .logx = true, .logy = false, .n = 3, .x = x, .nseries = 2, .series = s};
    qr_svg_begin(&b, 2, "head & shoulders", NULL);
    qr_svg_bars(&b, 0, &bars);
    qr_svg_lines(&b, 1, &lines);
    cr_assert_eq(qr_svg_end(&b), 0);
    qr_buf_put_u8(&b, 0);
    const char *svg = (const char *)b.p;
    cr_assert(!strncmp(svg, "<?xml", 5));
    cr_assert(strstr(svg, "</svg>\n"));
    cr_assert(strstr(svg, "head &amp; shoulders"));
    cr_assert(strstr(svg, "A&amp;B") && strstr(svg, "&lt;c&gt;") && strstr(svg, "&quot;x&quot;"));
    cr_assert(!strstr(svg, "nan") && !strstr(svg, "inf"), "no unprintable number");
    /* 4 bars (NaN and, on a log axis, 0 are not drawn), 2 plot frames, 2 legend boxes */
    size_t rects = 0;
    for (const char *p = svg; (p = strstr(p, "<rect x=")); p++)
        rects++;
    cr_assert_eq(rects, 4 + 2 + 2, "%zu rects", rects);
    size_t polys = 0;
    for (const char *p = svg; (p = strstr(p, "<polyline")); p++)
        polys++;
    cr_assert_eq(polys, 2);
    qr_buf_free(&b);
    qr_buf e = {0};
    qr_svg_escape(&e, "'");
    qr_svg_escape(&e, NULL);
    cr_assert_eq(e.n, 6);
    cr_assert(!memcmp(e.p, "&apos;", 6));
    qr_buf_free(&e);
}

/* ---- query generation ------------------------------------------------------------ */

/* A small in-memory index whose words have known document frequencies. */
static qr_dir *gen_index(void)
{
    enum { N = 200 };
    static char texts[N][512];
    static char paths[N][32];
    qr_mem_doc docs[N];
    for (int i = 0; i < N; i++) {
        /* common: every doc; frequent: 1 in 2; middling: 1 in 20; rare: 1 in 100 */
        snprintf(paths[i], sizeof paths[i], "c/%03d.txt", i);
        snprintf(texts[i], sizeof texts[i],
                 "Report %s number %d\n\nThe common words stand here %s %s, and the swiss army "
                 "knife %s cuts. Words near others matter %s.\n",
                 i % 3 ? "alpha" : "beta", i, i % 2 ? "frequent" : "other",
                 i % 20 ? "" : "middling", i % 100 ? "" : "rarest", i % 7 ? "" : "sevens");
        docs[i] = (qr_mem_doc){paths[i], texts[i], strlen(texts[i])};
    }
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_index_options o = {.threads = 1};
    cr_assert_eq(qr_index_build_docs(dir, &o, docs, N), 0);
    return dir;
}

static bool has(const qr_bq_list *l, const char *cls, const char *text)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->q[i].cls, cls) && !strcmp(l->q[i].text, text))
            return true;
    return false;
}

Test(bench_querygen, classes_from_an_index)
{
    qr_dir *dir = gen_index();
    qr_bq_list l = {0};
    qr_qgen_stats st;
    char err[256];
    qr_qgen_options o = {
        .seed = 1, .per_class = 50, .low_min_df = 1, .low_lo = 0.002, .low_hi = 0.011};
    cr_assert_eq(qr_qgen_run(&l, &st, dir, &o, err, sizeof err), 0, "%s", err);
    cr_assert_eq(st.docs, 200);
    cr_assert_eq(st.sampled_docs, 200);
    /* bands (df/N): High >= 0.10: common, words, stand, report, alpha, frequent, ... */
    cr_assert(has(&l, "HighTerm", "common"));
    cr_assert(has(&l, "HighTerm", "frequent"));
    cr_assert(!has(&l, "HighTerm", "the"), "stop words are never drawn");
    cr_assert(has(&l, "MedTerm", "middling"), "10 of 200 docs: 5 %%");
    cr_assert(has(&l, "LowTerm", "rarest"), "2 of 200 docs: 1 %%");
    for (size_t i = 0; i < l.n; i++) {
        const char *c = l.q[i].cls, *q = l.q[i].text;
        if (!strcmp(c, "AndHighHigh"))
            cr_assert(strchr(q, ' ') && !strstr(q, " OR "), "%s", q);
        if (!strcmp(c, "OrHighLow"))
            cr_assert(strstr(q, " OR "), "%s", q);
        if (!strcmp(c, "AndNot"))
            cr_assert(strstr(q, " NOT "), "%s", q);
        if (!strcmp(c, "Prefix3"))
            cr_assert(strlen(q) == 4 && q[3] == '*', "%s", q);
        if (!strcmp(c, "Title"))
            cr_assert(!strncmp(q, "title:", 6), "%s", q);
        if (!strcmp(c, "Near"))
            cr_assert(strstr(q, " NEAR/5 "), "%s", q);
        if (!strcmp(c, "Phrase2") || !strcmp(c, "Phrase3"))
            cr_assert(q[0] == '"', "%s", q);
    }
    cr_assert(has(&l, "Phrase3", "\"swiss army knife\""), "a real phrase in every document");
    cr_assert(has(&l, "Prefix3", "mid*"));
    cr_assert(st.made[QR_QC_PHRASE2] > 0 && st.made[QR_QC_NEAR] > 0 && st.made[QR_QC_TITLE] > 0);
    for (unsigned c = 0; c < QR_QC_COUNT; c++)
        cr_assert(st.made[c] <= st.wanted[c] && st.wanted[c] == 50);

    /* deterministic, and a class does not depend on the others asked for */
    qr_bq_list l2 = {0}, l3 = {0};
    cr_assert_eq(qr_qgen_run(&l2, &st, dir, &o, err, sizeof err), 0);
    cr_assert_eq(l2.n, l.n);
    for (size_t i = 0; i < l.n; i++)
        cr_assert_str_eq(l.q[i].text, l2.q[i].text);
    o.classes = 1u << QR_QC_PHRASE2;
    cr_assert_eq(qr_qgen_run(&l3, &st, dir, &o, err, sizeof err), 0);
    size_t k = 0;
    for (size_t i = 0; i < l.n; i++)
        if (!strcmp(l.q[i].cls, "Phrase2")) {
            cr_assert(k < l3.n);
            cr_assert_str_eq(l.q[i].text, l3.q[k++].text);
        }
    cr_assert_eq(k, l3.n);
    qr_bq_list_free(&l);
    qr_bq_list_free(&l2);
    qr_bq_list_free(&l3);

    /* phrases are checked on positions: a sample of 1 document still finds the phrase in 200 */
    o = (qr_qgen_options){
        .seed = 2, .per_class = 3, .sample_docs = 1, .classes = 1u << QR_QC_PHRASE3};
    cr_assert_eq(qr_qgen_run(&l, &st, dir, &o, err, sizeof err), 0);
    cr_assert_eq(st.sampled_docs, 1);
    cr_assert(l.n >= 1, "the phrases of the one document read are found in others");
    qr_bq_list_free(&l);
    qr_dir_close(dir);
}

Test(bench_querygen, errors)
{
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_memory(&dir), 0);
    qr_bq_list l = {0};
    qr_qgen_stats st;
    char err[256];
    cr_assert_eq(qr_qgen_run(&l, &st, dir, NULL, err, sizeof err), QR_ENOTFOUND);
    cr_assert(strstr(err, "no index"), "%s", err);
    qr_qgen_options o = {.med_lo = 0.5, .med_hi = 0.1};
    cr_assert_eq(qr_qgen_run(&l, &st, dir, &o, err, sizeof err), QR_EINVAL);
    cr_assert(strstr(err, "bands"), "%s", err);
    o = (qr_qgen_options){.high = 2};
    cr_assert_eq(qr_qgen_run(&l, &st, dir, &o, NULL, 0), QR_EINVAL);
    cr_assert_eq(l.n, 0);
    qr_dir_close(dir);
}

/* ---- the commands end to end ------------------------------------------------------------ */

Test(bench_cli, index_reports_json_and_table)
{
    make_tmp();
    char *out;
    cr_assert_eq(
        cli_quarry(&out, "bench index --json --threads 1 --repeat 2 --tmp '%s' '%s'", tmp, SAMPLES),
        0, "%s", out);
    json_t *j = parse_json(out);
    free(out);
    json_t *med = json_object_get(j, "median");
    cr_assert_eq(num(med, "docs"), 51);
    cr_assert_eq(json_array_size(json_object_get(j, "runs")), 2);
    cr_assert(num(med, "seconds") > 0 && num(med, "docs_per_s") > 0);
    cr_assert(num(json_object_get(med, "usage"), "peak_rss_bytes") > 0);
    json_t *bytes = json_object_get(med, "index_bytes");
    double sum = 0;
    const char *kinds[] = {"tdi", "doc", "pos", "sto", "dmt", "del", "manifest"};
    for (size_t k = 0; k < 7; k++) {
        double v = num(bytes, kinds[k]);
        cr_assert(v >= 0);
        sum += v;
    }
    cr_assert_float_eq(sum, num(bytes, "total"), 0, "the kinds add up to the total");
    cr_assert(num(med, "bits_per_doc") > 0 && num(med, "bits_per_freq") > 0 &&
              num(med, "bits_per_pos") > 0);
    cr_assert(json_is_string(json_object_get(json_object_get(j, "machine"), "cpu")));
    json_decref(j);

    /* the table, the kept index (new or empty directories only) and -o */
    cr_assert_eq(
        cli_quarry(&out, "bench index --keep '%s/idx' -o '%s/ix.json' '%s'", tmp, tmp, SAMPLES), 0,
        "%s", out);
    cr_assert(strstr(out, "51 docs"), "%s", out);
    cr_assert(strstr(out, "tdi") && strstr(out, "bits per posting: doc id"), "%s", out);
    free(out);
    char path[400];
    snprintf(path, sizeof path, "%s/ix.json", tmp);
    json_decref(load_json(path));
    snprintf(path, sizeof path, "%s/idx/LOCK", tmp);
    cr_assert(access(path, F_OK) == 0, "the index was kept");
    cr_assert_eq(cli_quarry(&out, "bench index --keep '%s/idx' '%s' 2>&1", tmp, SAMPLES), 2);
    cr_assert(strstr(out, "not a new or empty directory"), "%s", out);
    free(out);
    drop_tmp();
}

Test(bench_cli, index_optimize_ends_in_one_segment)
{
    make_tmp();
    char *out;
    const char *how[] = {"", "--optimize "};
    for (int opt = 0; opt < 2; opt++) {
        cr_assert_eq(cli_quarry(&out, "bench index --json --threads 2 --ram 1 %s--tmp '%s' '%s'",
                                how[opt], tmp, SAMPLES),
                     0, "%s", out);
        json_t *j = parse_json(out);
        free(out);
        json_t *med = json_object_get(j, "median");
        cr_assert_eq(json_is_true(json_object_get(j, "optimize")), opt);
        cr_assert_eq(num(med, "docs"), 51);
        if (opt) {
            cr_assert_eq(num(med, "segments"), 1);
            cr_assert(num(med, "optimize_seconds") > 0);
            cr_assert(num(med, "optimize_seconds") <= num(med, "seconds"));
        } else {
            cr_assert_gt(num(med, "segments"), 1, "--ram 1 flushes more than once");
            cr_assert_eq(num(med, "optimize_seconds"), 0);
        }
        json_decref(j);
    }
    drop_tmp();
}

Test(bench_cli, queries_generated_and_from_a_file)
{
    make_tmp();
    samples_index();
    char *out;
    cr_assert_eq(
        cli_quarry(&out,
                   "bench queries -i '%s/idx' --json -n 2 --repeat 3 --warmup 1 --low 0.01,0.05 "
                   "--low-min-df 1 --save-queries '%s/q.tsv' --svg '%s/q.svg'",
                   tmp, tmp, tmp),
        0, "%s", out);
    json_t *j = parse_json(out);
    free(out);
    cr_assert_eq(num(j, "docs"), 51);
    json_t *classes = json_object_get(j, "classes");
    cr_assert(json_array_size(classes) >= 10, "most classes exist even on 51 articles");
    size_t total = 0;
    for (size_t c = 0; c < json_array_size(classes); c++) {
        json_t *e = json_array_get(classes, c);
        cr_assert(json_is_string(json_object_get(e, "class")));
        total += (size_t)num(e, "queries");
        cr_assert_eq(num(e, "runs"), 3 * num(e, "queries"));
        cr_assert(num(e, "median_us") <= num(e, "p99_us"));
    }
    json_t *all = json_object_get(j, "all");
    cr_assert_eq(num(all, "queries"), total);
    json_t *qm = json_object_get(all, "query_medians");
    cr_assert(num(qm, "median_us") <= num(qm, "p95_us") && num(qm, "p95_us") <= num(qm, "p99_us"));
    cr_assert_eq(json_array_size(json_object_get(j, "per_query")), total);
    cr_assert_eq(num(json_object_get(j, "timing"), "passes"), 3);
    json_decref(j);
    char path[400];
    snprintf(path, sizeof path, "%s/q.svg", tmp);
    char *svg = cli_slurp(path, NULL);
    cr_assert(strstr(svg, "<svg") && strstr(svg, "</svg>"));
    free(svg);

    /* the saved queries run again from the file; an error is reported, not fatal */
    snprintf(path, sizeof path, "%s/q.tsv", tmp);
    FILE *f = fopen(path, "a");
    fputs("Broken\t(unbalanced\n", f);
    fclose(f);
    cr_assert_eq(cli_quarry(&out, "bench queries -i '%s/idx' --repeat 1 '%s'", tmp, path), 0, "%s",
                 out);
    cr_assert(strstr(out, "median µs") && strstr(out, "all "), "%s", out);
    cr_assert(strstr(out, "error: Broken\t(unbalanced: column 1"), "%s", out);
    free(out);
    /* --seconds instead of --repeat */
    cr_assert_eq(
        cli_quarry(&out, "bench queries -i '%s/idx' --json --seconds 0.05 --gen HighTerm", tmp), 0);
    j = parse_json(out);
    free(out);
    cr_assert(num(json_object_get(j, "timing"), "passes") >= 1);
    cr_assert_eq(json_array_size(json_object_get(j, "classes")), 1);
    json_decref(j);
    /* bench gen prints the same queries as class<TAB>query lines */
    cr_assert_eq(cli_quarry(&out, "bench gen -i '%s/idx' -n 2 --gen Phrase2,Title", tmp), 0);
    cr_assert(!strncmp(out, "# quarry bench gen", 18), "%s", out);
    cr_assert(strstr(out, "\nTitle\ttitle:"), "%s", out);
    free(out);
    drop_tmp();
}

Test(bench_cli, compare_with_fts5)
{
    make_tmp();
    char *out;
    int rc =
        cli_quarry(&out,
                   "bench compare --json -n 2 --repeat 2 --warmup 1 --low 0.01,0.05 --low-min-df 1 "
                   "--keep '%s/work' -o '%s/c.json' --svg '%s/c.svg' '%s' 2>'%s/err'",
                   tmp, tmp, tmp, SAMPLES, tmp);
    if (!qr_fts5_available()) {
        cr_assert_eq(rc, 4, "%s", out);
        free(out);
        char path[400];
        snprintf(path, sizeof path, "%s/err", tmp);
        out = cli_slurp(path, NULL);
        cr_assert(strstr(out, "built without SQLite FTS5"), "%s", out);
        free(out);
        drop_tmp();
        return;
    }
    cr_assert_eq(rc, 0, "%s", out);
    json_t *j = parse_json(out);
    free(out);
    cr_assert_eq(num(j, "docs"), 51);
    cr_assert_eq(num(j, "fts5_docs"), 51, "FTS5 indexes exactly the same documents");
    json_t *fb = json_object_get(json_object_get(j, "build"), "fts5");
    cr_assert_eq(num(fb, "docs"), 51);
    cr_assert(num(fb, "db_bytes") > 0);
    json_t *classes = json_object_get(j, "classes");
    cr_assert(json_array_size(classes) >= 10);
    for (size_t c = 0; c < json_array_size(classes); c++) {
        json_t *e = json_array_get(classes, c);
        cr_assert(num(e, "same_total") <= num(e, "compared"));
        cr_assert(json_is_object(json_object_get(e, "quarry")));
        cr_assert(json_is_object(json_object_get(e, "fts5")));
    }
    /* both engines find the frequent words; their exact totals differ only where their
     * analyzers do (Porter vs Snowball stems, "Kremlin’s" as one word or two): most agree */
    json_t *pq = json_object_get(j, "per_query");
    for (size_t i = 0; i < json_array_size(pq); i++) {
        json_t *e = json_array_get(pq, i);
        const char *cls = json_string_value(json_object_get(e, "class"));
        cr_assert(json_is_string(json_object_get(e, "fts5_query")));
        if (!strcmp(cls, "HighTerm"))
            cr_assert(num(e, "quarry_total") > 0 && num(e, "fts5_total") > 0);
    }
    json_t *all = json_object_get(j, "all");
    cr_assert(num(all, "same_total") * 2 >= num(all, "compared"), "%g of %g agree",
              num(all, "same_total"), num(all, "compared"));
    json_decref(j);
    char path[400];
    snprintf(path, sizeof path, "%s/c.json", tmp);
    json_decref(load_json(path));
    snprintf(path, sizeof path, "%s/c.svg", tmp);
    char *svg = cli_slurp(path, NULL);
    cr_assert(strstr(svg, "SQLite FTS5") && strstr(svg, "</svg>"));
    free(svg);
    snprintf(path, sizeof path, "%s/work/fts5.db", tmp);
    cr_assert(access(path, F_OK) == 0, "--keep keeps the database");

    /* the table, from a query file */
    snprintf(path, sizeof path, "%s/q.tsv", tmp);
    write_text(path, "HighTerm\tukraine\nAndNot\tukraine NOT russia\nNeg\tNOT ukraine\n");
    cr_assert_eq(cli_quarry(&out, "bench compare --repeat 1 --queries '%s' '%s'", path, SAMPLES), 0,
                 "%s", out);
    cr_assert(strstr(out, "FTS5/q") && strstr(out, "HighTerm") && strstr(out, "QPS"), "%s", out);
    cr_assert(strstr(out, "FTS5 error: Neg\tNOT ukraine: FTS5 cannot express"), "%s", out);
    free(out);
    cr_assert_eq(
        cli_quarry(&out, "bench compare --queries '%s' --gen all '%s' 2>&1", path, SAMPLES), 2);
    cr_assert(strstr(out, "either a query file or --gen"), "%s", out);
    free(out);
    drop_tmp();
}

Test(bench_cli, scale_on_tiny_synthetic_corpora)
{
    make_tmp();
    char *out;
    int rc = cli_quarry(
        &out,
        "bench scale --sizes 60,150 --vocab 2000 --words 30 -n 2 --repeat 2 --warmup 1 "
        "--low 0.01,0.05 --low-min-df 1 --tmp '%s' --json -o '%s/s.json' --svg '%s/s.svg'%s "
        "2>/dev/null",
        tmp, tmp, tmp, qr_fts5_available() ? " --fts5" : "");
    cr_assert_eq(rc, 0, "%s", out);
    json_t *j = parse_json(out);
    free(out);
    json_t *pts = json_object_get(j, "points");
    cr_assert_eq(json_array_size(pts), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *p = json_array_get(pts, i);
        double docs = num(p, "docs");
        cr_assert_eq(docs, i ? 150 : 60);
        cr_assert_eq(num(json_object_get(p, "quarry"), "docs"), docs);
        if (qr_fts5_available())
            cr_assert_eq(num(json_object_get(p, "fts5"), "docs"), docs);
        cr_assert(json_array_size(json_object_get(p, "classes")) >= 2);
    }
    cr_assert(num(json_array_get(pts, 1), "corpus_bytes") >
              num(json_array_get(pts, 0), "corpus_bytes"));
    json_decref(j);
    char path[400];
    snprintf(path, sizeof path, "%s/s.svg", tmp);
    char *svg = cli_slurp(path, NULL);
    cr_assert(strstr(svg, "scale curve") && strstr(svg, "<polyline"));
    free(svg);
    /* the scratch directory is removed: only the two outputs are left */
    DIR *d = opendir(tmp);
    cr_assert_not_null(d);
    size_t entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 2);
    drop_tmp();
}

Test(bench_cli, usage_errors_and_exit_statuses)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "bench 2>&1"), 2);
    cr_assert(strstr(out, "usage: quarry bench"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench --help"), 0);
    cr_assert(strstr(out, "compare") && strstr(out, "scale"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench queries --help"), 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench frobnicate 2>&1"), 2);
    cr_assert(strstr(out, "unknown command 'frobnicate'"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench index --nope x 2>&1"), 2);
    cr_assert(strstr(out, "unknown option '--nope'"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench index --gen all x 2>&1"), 2);
    cr_assert(strstr(out, "does not apply"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench index 2>&1"), 2);
    cr_assert(strstr(out, "missing DIR"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench compare 2>&1"), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench index --threads 2>&1"), 2);
    cr_assert(strstr(out, "needs a value"), "%s", out);
    free(out);
    const char *bad[] = {
        "--threads 0",
        "--ram x",
        "--repeat 0",
        "-n 0",
        "--seed -1",
        "-k 0",
        "--warmup x",
        "--seconds 0",
        "--high 2",
        "--med 0.5,0.1",
        "--low 1",
        "--low-min-df 0",
        "--near 0",
        "--sample 0",
        "--gen Nope",
        "--warmup-seconds x",
        "--sizes 10,5",
        "--sizes 0",
        "--sizes 5,,6",
        "--words 0",
        "--med 1234567890123456789012345678901234567890123456789012345678901234,2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(cli_quarry(&out, "bench scale %s 2>&1", bad[i]), 2, "%s: %s", bad[i], out);
        cr_assert(strstr(out, "invalid"), "%s: %s", bad[i], out);
        free(out);
    }
    cr_assert_eq(cli_quarry(&out, "bench scale extra 2>&1"), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench gen extra 2>&1"), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench queries a b 2>&1"), 2);
    free(out);
    /* no index: exit 3 */
    cr_assert_eq(cli_quarry(&out, "bench queries -i /nonexistent/idx 2>&1"), 3);
    cr_assert(strstr(out, "/nonexistent/idx"), "%s", out);
    free(out);
    setenv("QUARRY_INDEX", "/nonexistent/env", 1);
    cr_assert_eq(cli_quarry(&out, "bench gen 2>&1"), 3);
    cr_assert(strstr(out, "/nonexistent/env"), "%s", out);
    free(out);
    unsetenv("QUARRY_INDEX");
    /* a query file that cannot be read: 2; an empty one: 2 */
    cr_assert_eq(cli_quarry(&out, "bench queries -i /nonexistent /nonexistent/q.tsv 2>&1"), 2);
    cr_assert(strstr(out, "cannot read"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench queries /dev/null 2>&1"), 2);
    cr_assert(strstr(out, "no queries"), "%s", out);
    free(out);
    /* a corpus directory that does not exist */
    cr_assert_eq(cli_quarry(&out, "bench index /nonexistent/corpus 2>&1"), 3);
    cr_assert(strstr(out, "/nonexistent/corpus"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "bench index --tmp /nonexistent/tmp x 2>&1"), 4);
    cr_assert(strstr(out, "scratch directory"), "%s", out);
    free(out);
}

Test(bench_proc, child_results_and_failures)
{
    make_tmp();
    char dir[400];
    snprintf(dir, sizeof dir, "%s/a/b", tmp);
    cli_sh_ok("mkdir -p '%s' && printf 12345 > '%s/f' && printf 67 > '%s/../g'", dir, dir, dir);
    snprintf(dir, sizeof dir, "%s/a", tmp);
    cr_assert_eq(qr_tree_bytes(dir), 7);
    cr_assert_eq(qr_tree_bytes("/nonexistent"), 0);
    cr_assert_eq(qr_remove_tree(dir), 0);
    cr_assert_neq(access(dir, F_OK), 0);
    char t[300];
    cr_assert_eq(qr_make_temp_dir(t, sizeof t, tmp, "x"), 0);
    cr_assert(!strncmp(t, tmp, strlen(tmp)));
    cr_assert_eq(qr_make_temp_dir(t, 8, tmp, "x"), QR_EIO, "does not fit");
    cr_assert_eq(qr_make_temp_dir(t, sizeof t, "/nonexistent", "x"), QR_EIO);
    qr_machine m;
    qr_machine_get(&m);
    cr_assert(m.cores >= 1 && m.mem_gib > 0 && m.cpu[0]);
    drop_tmp();
}

static int child_ok(void *ctx, void *result, size_t size)
{
    (void)ctx;
    memset(result, 7, size);
    return QR_ENOTFOUND;
}

static int child_dies(void *ctx, void *result, size_t size)
{
    (void)ctx;
    (void)result;
    (void)size;
    _exit(3);
}

Test(bench_proc, forked_jobs)
{
    unsigned char r[16] = {0};
    qr_child_usage u;
    cr_assert_eq(qr_child_run(&u, child_ok, NULL, r, sizeof r), QR_ENOTFOUND, "the job's code");
    cr_assert_eq(r[0], 7);
    cr_assert_eq(r[15], 7);
    cr_assert(u.maxrss_kb > 0 && u.wall_s >= 0 && u.base_rss_kb > 0);
    cr_assert_eq(qr_child_run(&u, child_dies, NULL, r, sizeof r), QR_EIO);
}
