/*
 * `quarry bench ...`: the benchmark suite on the command line (the work is
 * in bench/suite.h). Subcommands:
 *
 *   index      build an index of DIR... in a scratch place: speed, peak RSS, sizes
 *   queries    time queries (a file or generated) on an index, per class
 *   gen        print generated queries, class<TAB>query
 *   compare    quarry and SQLite FTS5 side by side on DIR...
 *   scale      synthetic corpora of growing sizes: the scale curve
 *   synth      write a synthetic corpus
 *   translate  print the FTS5 translation of queries
 *
 * Each parses its options here and calls the suite; a table goes to
 * standard output (or JSON with --json), -o writes the JSON document and
 * --svg the picture from the same run.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/fts5.h"
#include "bench/queries.h"
#include "bench/suite.h"
#include "bench/synth.h"
#include "storage/alloc.h"
#include "storage/status.h"
#include "tools/cli.h"

/* Which options a subcommand takes. */
enum {
    O_QUERY = 1 << 0,     /* -i, --gen, -n, --seed, -k, timing, bands, --save-queries */
    O_BUILD = 1 << 1,     /* --threads, --ram, --language, --optimize, --keep, --tmp */
    O_OUT = 1 << 2,       /* --json, -o */
    O_SVG = 1 << 3,       /* --svg */
    O_SYNTH = 1 << 4,     /* --seed, --vocab, --words */
    O_SCALE = 1 << 5,     /* --sizes, --fts5 */
    O_REPEAT_IX = 1 << 6, /* --repeat means builds (bench index) */
    O_DOCS = 1 << 7,      /* --docs */
    O_QFILE = 1 << 8,     /* --queries FILE (compare, scale) */
};

enum {
    OPT_GEN = 256,
    OPT_SEED,
    OPT_REPEAT,
    OPT_WARMUP,
    OPT_WARMUP_SECONDS,
    OPT_SECONDS,
    OPT_HIGH,
    OPT_MED,
    OPT_LOW,
    OPT_LOW_MIN_DF,
    OPT_NEAR,
    OPT_SAMPLE,
    OPT_SAVE,
    OPT_THREADS,
    OPT_RAM,
    OPT_LANGUAGE,
    OPT_OPTIMIZE,
    OPT_KEEP,
    OPT_TMP,
    OPT_JSON,
    OPT_SVG,
    OPT_SIZES,
    OPT_FTS5,
    OPT_VOCAB,
    OPT_WORDS,
    OPT_DOCS,
    OPT_QUERIES,
};

static const struct option all_opts[] = {
    {"index", required_argument, NULL, 'i'},
    {"gen", required_argument, NULL, OPT_GEN},
    {"per-class", required_argument, NULL, 'n'},
    {"seed", required_argument, NULL, OPT_SEED},
    {"k", required_argument, NULL, 'k'},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"warmup-seconds", required_argument, NULL, OPT_WARMUP_SECONDS},
    {"seconds", required_argument, NULL, OPT_SECONDS},
    {"high", required_argument, NULL, OPT_HIGH},
    {"med", required_argument, NULL, OPT_MED},
    {"low", required_argument, NULL, OPT_LOW},
    {"low-min-df", required_argument, NULL, OPT_LOW_MIN_DF},
    {"near", required_argument, NULL, OPT_NEAR},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"save-queries", required_argument, NULL, OPT_SAVE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"ram", required_argument, NULL, OPT_RAM},
    {"language", required_argument, NULL, OPT_LANGUAGE},
    {"optimize", no_argument, NULL, OPT_OPTIMIZE},
    {"keep", required_argument, NULL, OPT_KEEP},
    {"tmp", required_argument, NULL, OPT_TMP},
    {"json", no_argument, NULL, OPT_JSON},
    {"output", required_argument, NULL, 'o'},
    {"svg", required_argument, NULL, OPT_SVG},
    {"sizes", required_argument, NULL, OPT_SIZES},
    {"fts5", no_argument, NULL, OPT_FTS5},
    {"vocab", required_argument, NULL, OPT_VOCAB},
    {"words", required_argument, NULL, OPT_WORDS},
    {"docs", required_argument, NULL, OPT_DOCS},
    {"queries", required_argument, NULL, OPT_QUERIES},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char usage_text[] =
    "usage: quarry bench COMMAND [OPTIONS] [ARGS]\n"
    "\n"
    "  index   [build] [--repeat R] [out] DIR...      build an index of DIR... in a scratch\n"
    "                                                 place: docs/s, MB/s, peak RSS, bytes per\n"
    "                                                 file kind, bits per doc id/freq/position\n"
    "  queries [query] [out] [--svg F] [QUERY_FILE]   time queries on an index, per class\n"
    "  gen     [query]                                print generated queries: class<TAB>query\n"
    "  compare [query] [build] [--queries F] [out] [--svg F] DIR...\n"
    "                                                 quarry and SQLite FTS5 side by side\n"
    "  scale   [--sizes N,N,...] [--fts5] [synth] [query] [build] [out] [--svg F]\n"
    "                                                 indexing and queries on synthetic corpora\n"
    "                                                 of growing sizes (default 10000,100000)\n"
    "  synth   [--docs N] [synth] OUTDIR              write a synthetic corpus\n"
    "  translate [QUERY_FILE|-]                       print the FTS5 form of each query\n"
    "\n"
    "query options:\n"
    "  -i, --index DIR        the index (default $QUARRY_INDEX, else ./quarry.idx)\n"
    "  --gen CLASSES          generate queries of these classes from the index (comma-separated,\n"
    "                         `all` or `peers`): HighTerm MedTerm LowTerm AndHighHigh AndHighMed\n"
    "                         AndHighLow OrHighHigh OrHighMed OrHighLow AndNot Phrase2 Phrase3\n"
    "                         Prefix3 Near Title; the default without a QUERY_FILE is all\n"
    "  -n, --per-class N      queries per class (20)      --seed S   generation seed (42)\n"
    "  --high F --med LO,HI --low LO,HI --low-min-df N   document-frequency bands (0.10;\n"
    "                         0.02,0.10; 0.002,0.01; 3)   --near K  NEAR distance (5)\n"
    "  --sample N             documents read for words and phrases (20000)\n"
    "  --save-queries FILE    write the queries used\n"
    "  -k, --k N              hits collected per query (10)\n"
    "  --repeat R             timed passes over the queries (20)\n"
    "  --warmup W             untimed passes first (2)   --warmup-seconds S   and at least S s\n"
    "  --seconds S            timed passes until S seconds are spent (instead of --repeat)\n"
    "build options:\n"
    "  --threads N  --ram MB  --language L  --optimize   as quarry index (--optimize:\n"
    "                         the build ends in one segment, as FTS5's and Lucene's do)\n"
    "  --keep DIR             keep what is built in DIR (new or empty) instead of a scratch place\n"
    "  --tmp DIR              where scratch directories go (default $TMPDIR, else /tmp)\n"
    "synth options:\n"
    "  --seed S (42)  --vocab N (2000000 words)  --words N (median body length, 250)\n"
    "output options:\n"
    "  --json                 print the JSON document instead of the table\n"
    "  -o, --output FILE      also write the JSON document to FILE\n"
    "  --svg FILE             write the picture (self-contained SVG)\n"
    "\n"
    "Query files: one query a line, optionally CLASS<TAB>query; blank and # lines skipped.\n"
    "Timing is in-process around parse + execute + top-k with the exact total, one thread.\n";

static void help(FILE *f)
{
    fputs(usage_text, f);
}

/* Everything the options may set. */
struct args {
    qr_suite_options o;
    unsigned per_class;
    bool gen_given;
    bool repeat_given;     /* --repeat: else --seconds alone sets no limit on passes */
    const char *qfile_opt; /* --queries */
    uint64_t *sizes;
    size_t nsizes;
    uint64_t docs; /* synth --docs */
};

static int bad(const char *what, const char *arg)
{
    qr_die_msg("bench: invalid %s '%s' (see `quarry bench --help`)", what, arg);
    return QR_EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
    uint64_t v;
    if (!parse_u64(s, &v) || v > max)
        return false;
    *out = (unsigned)v;
    return true;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || !*s || *end || !(v >= 0) || v > 1e9)
        return false;
    *out = v;
    return true;
}

static bool parse_pair(const char *s, double *lo, double *hi)
{
    char buf[64];
    const char *c = strchr(s, ',');
    if (!c || (size_t)(c - s) >= sizeof buf)
        return false;
    memcpy(buf, s, (size_t)(c - s));
    buf[c - s] = '\0';
    return parse_double(buf, lo) && parse_double(c + 1, hi) && *lo < *hi;
}

static int parse_sizes(struct args *a, const char *s)
{
    size_t n = 1;
    for (const char *p = s; *p; p++)
        n += *p == ',';
    uint64_t *v = qr_calloc(n, sizeof *v);
    if (!v)
        return QR_EXIT_RUNTIME;
    size_t k = 0;
    const char *p = s;
    while (k < n) {
        char buf[32];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof buf) {
            qr_free(v);
            return bad("--sizes", s);
        }
        memcpy(buf, p, len);
        buf[len] = '\0';
        if (!parse_u64(buf, &v[k]) || v[k] == 0 || v[k] > 100000000 || (k && v[k] <= v[k - 1])) {
            qr_free(v);
            return bad("--sizes (increasing document counts)", s);
        }
        k++;
        p += len + (p[len] == ',');
    }
    qr_free(a->sizes);
    a->sizes = v;
    a->nsizes = n;
    return 0;
}

/* Parses argv for a subcommand that takes the option groups in `allow`; optind = first operand. */
static int parse(struct args *a, int argc, char **argv, unsigned allow)
{
    int c;
    char badname[64];
    char opt[160];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:n:k:o:h", all_opts, NULL)) != -1) {
        unsigned need;
        switch (c) {
        case 'h':
            help(stdout);
            return -1;
        case 'i':
        case OPT_GEN:
        case 'n':
        case 'k':
        case OPT_WARMUP:
        case OPT_WARMUP_SECONDS:
        case OPT_SECONDS:
        case OPT_HIGH:
        case OPT_MED:
        case OPT_LOW:
        case OPT_LOW_MIN_DF:
        case OPT_NEAR:
        case OPT_SAMPLE:
        case OPT_SAVE:
            need = O_QUERY;
            break;
        case OPT_SEED:
            need = O_QUERY | O_SYNTH;
            break;
        case OPT_REPEAT:
            need = O_QUERY | O_REPEAT_IX;
            break;
        case OPT_THREADS:
        case OPT_RAM:
        case OPT_LANGUAGE:
        case OPT_OPTIMIZE:
        case OPT_KEEP:
        case OPT_TMP:
            need = O_BUILD;
            break;
        case OPT_JSON:
        case 'o':
            need = O_OUT;
            break;
        case OPT_SVG:
            need = O_SVG;
            break;
        case OPT_SIZES:
        case OPT_FTS5:
            need = O_SCALE;
            break;
        case OPT_VOCAB:
        case OPT_WORDS:
            need = O_SYNTH;
            break;
        case OPT_DOCS:
            need = O_DOCS;
            break;
        case OPT_QUERIES:
            need = O_QFILE;
            break;
        case ':':
            qr_die_msg("bench %s: option %s needs a value", argv[0],
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        default:
            qr_die_msg("bench %s: unknown option %s (see `quarry bench --help`)", argv[0],
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        }
        if (!(allow & need)) {
            qr_die_msg("bench %s: option %s does not apply here (see `quarry bench --help`)",
                       argv[0], argv[optind - 1]);
            return QR_EXIT_USAGE;
        }
        qr_suite_options *o = &a->o;
        uint64_t u;
        switch (c) {
        case 'i':
            o->index = optarg;
            break;
        case OPT_GEN:
            if (qr_qclass_parse(&o->gen.classes, optarg, badname, sizeof badname))
                return bad("query class", badname);
            a->gen_given = true;
            break;
        case 'n':
            if (!parse_uint(optarg, 100000, &o->gen.per_class) || !o->gen.per_class)
                return bad("--per-class", optarg);
            break;
        case OPT_SEED:
            if (!parse_u64(optarg, &o->gen.seed))
                return bad("--seed", optarg);
            o->synth.seed = o->gen.seed;
            break;
        case 'k':
            if (!parse_u64(optarg, &u) || u == 0 || u > 100000)
                return bad("-k", optarg);
            o->k = (size_t)u;
            break;
        case OPT_REPEAT:
            if (allow & O_REPEAT_IX) {
                if (!parse_uint(optarg, 1000, &o->ix_repeat) || !o->ix_repeat)
                    return bad("--repeat", optarg);
            } else if (!parse_uint(optarg, QR_TIMING_MAX_PASSES, &o->timing.repeat) ||
                       !o->timing.repeat) {
                return bad("--repeat", optarg);
            }
            a->repeat_given = true;
            break;
        case OPT_WARMUP:
            if (!parse_uint(optarg, 100000, &o->timing.warmup))
                return bad("--warmup", optarg);
            break;
        case OPT_WARMUP_SECONDS:
            if (!parse_double(optarg, &o->timing.warmup_seconds))
                return bad("--warmup-seconds", optarg);
            break;
        case OPT_SECONDS:
            if (!parse_double(optarg, &o->timing.seconds) || o->timing.seconds <= 0)
                return bad("--seconds", optarg);
            break;
        case OPT_HIGH:
            if (!parse_double(optarg, &o->gen.high) || o->gen.high <= 0 || o->gen.high > 1)
                return bad("--high", optarg);
            break;
        case OPT_MED:
            if (!parse_pair(optarg, &o->gen.med_lo, &o->gen.med_hi))
                return bad("--med", optarg);
            break;
        case OPT_LOW:
            if (!parse_pair(optarg, &o->gen.low_lo, &o->gen.low_hi))
                return bad("--low", optarg);
            break;
        case OPT_LOW_MIN_DF:
            if (!parse_uint(optarg, UINT_MAX, &o->gen.low_min_df) || !o->gen.low_min_df)
                return bad("--low-min-df", optarg);
            break;
        case OPT_NEAR:
            if (!parse_uint(optarg, 1000, &o->gen.near_k) || !o->gen.near_k)
                return bad("--near", optarg);
            break;
        case OPT_SAMPLE:
            if (!parse_uint(optarg, UINT32_MAX, &o->gen.sample_docs) || !o->gen.sample_docs)
                return bad("--sample", optarg);
            break;
        case OPT_SAVE:
            o->save_queries = optarg;
            break;
        case OPT_THREADS:
            if (!parse_uint(optarg, 256, &o->ix.threads) || !o->ix.threads)
                return bad("--threads", optarg);
            break;
        case OPT_RAM:
            if (!parse_u64(optarg, &u) || u < 1 || u > (1u << 20))
                return bad("--ram (MB)", optarg);
            o->ix.ram_bytes = u << 20;
            break;
        case OPT_LANGUAGE:
            o->ix.language = optarg;
            break;
        case OPT_OPTIMIZE:
            o->ix.optimize = true;
            break;
        case OPT_KEEP:
            o->keep = optarg;
            break;
        case OPT_TMP:
            o->tmp = optarg;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case 'o':
            o->json_path = optarg;
            break;
        case OPT_SVG:
            o->svg_path = optarg;
            break;
        case OPT_SIZES: {
            int rc = parse_sizes(a, optarg);
            if (rc)
                return rc;
            break;
        }
        case OPT_FTS5:
            o->fts5 = true;
            break;
        case OPT_VOCAB: {
            unsigned v;
            if (!parse_uint(optarg, 1u << 30, &v) || v < 100)
                return bad("--vocab", optarg);
            o->synth.vocab = v;
            break;
        }
        case OPT_WORDS:
            if (!parse_double(optarg, &o->synth.median_words) || o->synth.median_words < 1 ||
                o->synth.median_words > 1e6)
                return bad("--words", optarg);
            break;
        case OPT_DOCS:
            if (!parse_u64(optarg, &a->docs) || !a->docs || a->docs > 100000000)
                return bad("--docs", optarg);
            break;
        case OPT_QUERIES:
            a->qfile_opt = optarg;
            break;
        }
    }
    if (a->o.timing.seconds > 0 && !a->repeat_given)
        a->o.timing.repeat = 0; /* the time budget alone decides */
    return 0;
}

static void defaults(struct args *a)
{
    memset(a, 0, sizeof *a);
    a->o.gen.seed = 42;
    a->o.synth.seed = 42;
    a->o.timing.repeat = 20;
    a->o.timing.warmup = 2;
    const char *env = getenv("QUARRY_INDEX");
    a->o.index = env && *env ? env : "quarry.idx";
}

/* Maps a suite failure to an exit status and prints its message. */
static int fail(int rc, const char *cmd, const char *err)
{
    qr_die_msg("bench %s: %s", cmd, err[0] ? err : qr_strerror(rc));
    if (rc == QR_ENOTFOUND && !qr_fts5_available() && strstr(err, "FTS5"))
        return QR_EXIT_RUNTIME;
    return qr_exit_for(rc);
}

static int finish(int rc, const char *cmd, const char *err)
{
    if (rc)
        return fail(rc, cmd, err);
    if (fflush(stdout) != 0) {
        qr_die_msg("bench %s: cannot write standard output", cmd);
        return QR_EXIT_RUNTIME;
    }
    return QR_EXIT_OK;
}

static int cmd_index(struct args *a, int argc, char **argv)
{
    char err[512] = "";
    int rc = parse(a, argc, argv, O_BUILD | O_OUT | O_REPEAT_IX);
    if (rc)
        return rc < 0 ? QR_EXIT_OK : rc;
    if (optind >= argc) {
        qr_die_msg("bench index: missing DIR (see `quarry bench --help`)");
        return QR_EXIT_USAGE;
    }
    rc = qr_suite_index(&a->o, (const char *const *)argv + optind, (size_t)(argc - optind), stdout,
                        err, sizeof err);
    return finish(rc, "index", err);
}

/* Query source: a QUERY_FILE operand or --queries, else generation (all classes by default). */
static int query_source(struct args *a, const char *cmd, const char *file)
{
    if (file && a->gen_given) {
        qr_die_msg("bench %s: give either a query file or --gen, not both", cmd);
        return QR_EXIT_USAGE;
    }
    a->o.query_file = file;
    return 0;
}

static int cmd_queries(struct args *a, int argc, char **argv)
{
    char err[512] = "";
    int rc = parse(a, argc, argv, O_QUERY | O_OUT | O_SVG);
    if (rc)
        return rc < 0 ? QR_EXIT_OK : rc;
    if (argc - optind > 1) {
        qr_die_msg("bench queries: one QUERY_FILE at most");
        return QR_EXIT_USAGE;
    }
    if ((rc = query_source(a, "queries", optind < argc ? argv[optind] : NULL)))
        return rc;
    rc = qr_suite_queries(&a->o, stdout, err, sizeof err);
    return finish(rc, "queries", err);
}

static int cmd_gen(struct args *a, int argc, char **argv)
{
    char err[512] = "";
    int rc = parse(a, argc, argv, O_QUERY);
    if (rc)
        return rc < 0 ? QR_EXIT_OK : rc;
    if (optind < argc) {
        qr_die_msg("bench gen: unexpected argument '%s'", argv[optind]);
        return QR_EXIT_USAGE;
    }
    rc = qr_suite_gen(&a->o, stdout, err, sizeof err);
    return finish(rc, "gen", err);
}

static int cmd_compare(struct args *a, int argc, char **argv)
{
    char err[512] = "";
    int rc = parse(a, argc, argv, O_QUERY | O_BUILD | O_OUT | O_SVG | O_QFILE);
    if (rc)
        return rc < 0 ? QR_EXIT_OK : rc;
    if (optind >= argc) {
        qr_die_msg("bench compare: missing DIR (see `quarry bench --help`)");
        return QR_EXIT_USAGE;
    }
    if ((rc = query_source(a, "compare", a->qfile_opt)))
        return rc;
    rc = qr_suite_compare(&a->o, (const char *const *)argv + optind, (size_t)(argc - optind),
                          stdout, err, sizeof err);
    return finish(rc, "compare", err);
}

static int cmd_scale(struct args *a, int argc, char **argv)
{
    char err[512] = "";
    int rc = parse(a, argc, argv, O_QUERY | O_BUILD | O_OUT | O_SVG | O_SCALE | O_SYNTH | O_QFILE);
    if (rc)
        return rc < 0 ? QR_EXIT_OK : rc;
    if (optind < argc) {
        qr_die_msg("bench scale: unexpected argument '%s'", argv[optind]);
        return QR_EXIT_USAGE;
    }
    if ((rc = query_source(a, "scale", a->qfile_opt)))
        return rc;
    if (!a->sizes && (rc = parse_sizes(a, "10000,100000")))
        return rc;
    a->o.sizes = a->sizes;
    a->o.nsizes = a->nsizes;
    rc = qr_suite_scale(&a->o, stdout, err, sizeof err);
    return finish(rc, "scale", err);
}

static int cmd_synth(struct args *a, int argc, char **argv)
{
    int rc = parse(a, argc, argv, O_SYNTH | O_DOCS);
    if (rc)
        return rc < 0 ? QR_EXIT_OK : rc;
    if (argc - optind != 1) {
        qr_die_msg("bench synth: give one OUTDIR (see `quarry bench --help`)");
        return QR_EXIT_USAGE;
    }
    uint64_t n = a->docs ? a->docs : 10000, bytes = 0;
    qr_synth *s;
    if ((rc = qr_synth_open(&s, &a->o.synth))) {
        qr_die_msg("bench synth: %s", qr_strerror(rc));
        return qr_exit_for(rc);
    }
    rc = qr_synth_write(s, argv[optind], n, &bytes);
    qr_synth_close(s);
    if (rc) {
        qr_die_msg("bench synth: writing %s: %s", argv[optind],
                   rc == QR_EIO ? strerror(errno) : qr_strerror(rc));
        return QR_EXIT_RUNTIME;
    }
    printf("%llu documents, %llu bytes written to %s (seed %llu)\n", (unsigned long long)n,
           (unsigned long long)bytes, argv[optind], (unsigned long long)a->o.synth.seed);
    return finish(0, "synth", "");
}

static int cmd_translate(struct args *a, int argc, char **argv)
{
    int rc = parse(a, argc, argv, 0);
    if (rc)
        return rc < 0 ? QR_EXIT_OK : rc;
    if (argc - optind > 1) {
        qr_die_msg("bench translate: one QUERY_FILE at most");
        return QR_EXIT_USAGE;
    }
    const char *path = optind < argc ? argv[optind] : "-";
    FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
    if (!f) {
        qr_die_msg("bench translate: cannot read %s: %s", path, strerror(errno));
        return QR_EXIT_USAGE;
    }
    qr_bq_list l = {0};
    rc = qr_bq_read(&l, f);
    if (f != stdin)
        fclose(f);
    if (rc) {
        qr_die_msg("bench translate: %s: %s", path, qr_strerror(rc));
        qr_bq_list_free(&l);
        return QR_EXIT_RUNTIME;
    }
    qr_buf b = {0};
    int status = QR_EXIT_OK;
    for (size_t i = 0; i < l.n; i++) {
        char err[256];
        qr_buf_reset(&b);
        int r = qr_fts5_translate(&b, l.q[i].text, strlen(l.q[i].text), err, sizeof err);
        if (r == QR_ENOMEM) {
            qr_die_msg("bench translate: %s", qr_strerror(r));
            status = QR_EXIT_RUNTIME;
            break;
        }
        if (r) {
            printf("%s\t%s\tERROR: %s\n", l.q[i].cls, l.q[i].text, err);
            if (r == QR_ESYNTAX)
                status = QR_EXIT_USAGE;
        } else {
            printf("%s\t%s\t%.*s\n", l.q[i].cls, l.q[i].text, (int)b.n, b.p ? (char *)b.p : "");
        }
    }
    qr_buf_free(&b);
    qr_bq_list_free(&l);
    rc = finish(0, "translate", "");
    return status ? status : rc;
}

int qr_cmd_bench(int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(struct args *a, int argc, char **argv);
    } subs[] = {
        {"index", cmd_index},         {"queries", cmd_queries}, {"gen", cmd_gen},
        {"compare", cmd_compare},     {"scale", cmd_scale},     {"synth", cmd_synth},
        {"translate", cmd_translate},
    };
    if (argc < 2) {
        help(stderr);
        return QR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        help(stdout);
        return QR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        if (strcmp(argv[1], subs[i].name))
            continue;
        struct args a;
        defaults(&a);
        int rc = subs[i].fn(&a, argc - 1, argv + 1);
        qr_free(a.sizes);
        return rc;
    }
    qr_die_msg("bench: unknown command '%s' (see `quarry bench --help`)", argv[1]);
    return QR_EXIT_USAGE;
}
