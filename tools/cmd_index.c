/*
 * `quarry index [-i INDEX] [--language L] [--threads N] [--ram MB]
 * [--max-file-size MB] [--optimize] [--quiet] DIR...`: makes the index mirror the
 * directories (SPEC §5) through index/indexer.h, shows a progress line on a
 * terminal and prints the run's summary on stdout.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/analyzer.h"
#include "index/indexer.h"
#include "index/walk.h"
#include "storage/dir.h"
#include "storage/status.h"
#include "tools/cli.h"

static void help(FILE *f)
{
    fputs("usage: quarry index [-i INDEX] [--language L] [--threads N] [--ram MB]\n"
          "                    [--max-file-size MB] [--optimize] [--quiet] DIR...\n"
          "\n"
          "Make the index mirror each DIR: every regular file below DIR (symlinks\n"
          "not followed) is a document whose path is DIR's base name, '/', and its\n"
          "path below DIR. New files are added, changed files (size, mtime or\n"
          "content) replaced, files gone from DIR removed; documents indexed from\n"
          "directories of other base names are kept. Binary files (a NUL byte in\n"
          "the first 8 KiB), files over the size limit and unreadable files are\n"
          "skipped and named in the summary. The run ends with one atomic commit;\n"
          "searches meanwhile see the previous one.\n"
          "\n"
          "  -i, --index INDEX      the index directory (default $QUARRY_INDEX, else\n"
          "                         ./quarry.idx); created on first use\n"
          "  -l, --language L       stemming language of a new index (default english;\n"
          "                         none = no stemming); an existing index keeps its own\n"
          "  -t, --threads N        analysis threads (default: the number of processors)\n"
          "      --ram MB           memory budget for in-memory postings (default 256)\n"
          "      --max-file-size MB skip larger files (default 64)\n"
          "      --optimize         end with the whole index in one segment, deletions\n"
          "                         merged away (even when nothing else changed):\n"
          "                         slower to build, fastest to search\n"
          "  -q, --quiet            no progress line (the summary is still printed)\n"
          "  -h, --help             this help\n"
          "\n"
          "The progress line (files, MB, MB/s, ETA) appears only when standard error\n"
          "is a terminal. Exit status: 0 done, 2 usage, 3 index unreadable or not an\n"
          "index, 4 I/O error or the index is being written by another process.\n",
          f);
}

/* Parses a whole number in [lo, hi]; false when it is not one. */
static bool parse_num(const char *s, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
    if (!*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* The live progress line on stderr. */
static void progress(void *ctx, const qr_index_progress *p)
{
    (void)ctx;
    double mb = (double)p->bytes_done / 1e6;
    double rate = p->seconds > 0 ? mb / p->seconds : 0;
    char eta[32] = "--:--";
    if (rate > 0 && p->bytes_total >= p->bytes_done) {
        double left = ((double)(p->bytes_total - p->bytes_done) / 1e6) / rate;
        unsigned s = (unsigned)(left + 0.5);
        snprintf(eta, sizeof eta, "%u:%02u", s / 60, s % 60);
    }
    fprintf(stderr, "\r\033[Kindexing: %llu/%llu files  %.1f/%.1f MB  %.1f MB/s  ETA %s",
            (unsigned long long)p->files_done, (unsigned long long)p->files_total, mb,
            (double)p->bytes_total / 1e6, rate, eta);
    fflush(stderr);
}

static void list_languages(FILE *f)
{
    fputs("available languages:", f);
    for (const char **l = qr_analyzer_languages(); *l; l++)
        fprintf(f, " %s", *l);
    fputc('\n', f);
}

static void summary(const char *index, const char *language, const qr_index_result *r)
{
    FILE *f = stdout;
    uint64_t skipped = 0;
    for (int i = 0; i < QR_SKIP_REASON_COUNT; i++)
        skipped += r->skipped[i];
    if (!r->committed)
        fprintf(f, "nothing changed: the index is up to date\n");
    fprintf(f, "index:      %s (%s)\n", index, language);
    fprintf(f, "added:      %llu\n", (unsigned long long)r->added);
    fprintf(f, "replaced:   %llu\n", (unsigned long long)r->replaced);
    fprintf(f, "removed:    %llu\n", (unsigned long long)r->removed);
    fprintf(f, "unchanged:  %llu\n", (unsigned long long)r->unchanged);
    fprintf(f, "skipped:    %llu", (unsigned long long)skipped);
    const char *sep = " (";
    for (int i = 0; i < QR_SKIP_REASON_COUNT; i++)
        if (r->skipped[i]) {
            fprintf(f, "%s%llu %s", sep, (unsigned long long)r->skipped[i],
                    qr_skip_reason_name((qr_skip_reason)i));
            sep = ", ";
        }
    fputs(skipped ? ")\n" : "\n", f);
    for (size_t i = 0; i < r->nskips; i++)
        fprintf(f, "  skipped %s: %s\n", qr_skip_reason_name(r->skips[i].reason), r->skips[i].path);
    fprintf(f, "documents:  %llu in the index, %llu segment%s\n", (unsigned long long)r->docs,
            (unsigned long long)r->segments, r->segments == 1 ? "" : "s");
    double raw = (double)r->raw_bytes / 1e6;
    fprintf(f, "raw:        %.2f MB read\n", raw);
    fprintf(f, "index:      %.2f MB\n", (double)r->index_bytes / 1e6);
    fprintf(f, "time:       %.2f s, %.1f MB/s\n", r->seconds,
            r->seconds > 0 ? raw / r->seconds : 0.0);
}

int qr_cmd_index(int argc, char **argv)
{
    enum { OPT_RAM = 256, OPT_MAXSIZE, OPT_OPTIMIZE };
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'i'},
        {"language", required_argument, NULL, 'l'},
        {"threads", required_argument, NULL, 't'},
        {"ram", required_argument, NULL, OPT_RAM},
        {"max-file-size", required_argument, NULL, OPT_MAXSIZE},
        {"optimize", no_argument, NULL, OPT_OPTIMIZE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *index = getenv("QUARRY_INDEX");
    if (!index || !*index)
        index = "quarry.idx";
    qr_index_options o = {0};
    bool quiet = false, optimize = false;
    unsigned long long v;
    int c;
    char opt[160];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:l:t:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            index = optarg;
            break;
        case 'l':
            o.language = optarg;
            break;
        case 't':
            if (!parse_num(optarg, 1, 256, &v)) {
                qr_die_msg("index: --threads needs a whole number from 1 to 256, not '%s'", optarg);
                return QR_EXIT_USAGE;
            }
            o.threads = (unsigned)v;
            break;
        case OPT_RAM:
            if (!parse_num(optarg, 1, 1u << 20, &v)) {
                qr_die_msg("index: --ram needs a number of MB from 1 to 1048576, not '%s'", optarg);
                return QR_EXIT_USAGE;
            }
            o.ram_bytes = v << 20;
            break;
        case OPT_MAXSIZE:
            if (!parse_num(optarg, 1, 1023, &v)) {
                qr_die_msg("index: --max-file-size needs a number of MB from 1 to 1023, not '%s'",
                           optarg);
                return QR_EXIT_USAGE;
            }
            o.max_file_size = v << 20;
            break;
        case OPT_OPTIMIZE:
            optimize = true;
            break;
        case 'q':
            quiet = true;
            break;
        case 'h':
            help(stdout);
            return QR_EXIT_OK;
        case ':':
            qr_die_msg("index: option %s needs a value (see `quarry index --help`)",
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        default:
            qr_die_msg("index: unknown option %s (see `quarry index --help`)",
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        qr_die_msg("index: missing DIR (see `quarry index --help`)");
        return QR_EXIT_USAGE;
    }
    const char *const *dirs = (const char *const *)argv + optind;
    size_t ndirs = (size_t)(argc - optind);
    char(*bases)[NAME_MAX + 1] = calloc(ndirs, sizeof *bases);
    if (!bases) {
        qr_die_msg("index: out of memory");
        return QR_EXIT_RUNTIME;
    }
    int status = QR_EXIT_USAGE;
    for (size_t i = 0; i < ndirs; i++) {
        struct stat st;
        if (stat(dirs[i], &st) != 0) {
            if (errno == ENOENT)
                qr_die_msg("index: '%s' does not exist", dirs[i]);
            else
                qr_die_msg("index: '%s': %s", dirs[i], strerror(errno));
            goto out_bases;
        }
        if (!S_ISDIR(st.st_mode)) {
            qr_die_msg("index: '%s' is not a directory", dirs[i]);
            goto out_bases;
        }
        if (qr_walk_base_name(bases[i], sizeof bases[i], dirs[i])) {
            qr_die_msg("index: cannot resolve the base name of '%s'", dirs[i]);
            goto out_bases;
        }
        for (size_t j = 0; j < i; j++)
            if (!strcmp(bases[i], bases[j])) {
                qr_die_msg("index: '%s' and '%s' have the same base name '%s'; document paths "
                           "would collide",
                           dirs[j], dirs[i], bases[i]);
                goto out_bases;
            }
    }
    if (!quiet && isatty(STDERR_FILENO))
        o.progress = progress;
    /*
     * glibc raises its mmap threshold each time a large block is freed, so
     * the buffers of one flush (tables, streams, stored text, all tens of
     * MB) end up in the heap, which fragments and keeps them: on the
     * Wikipedia sample the peak RSS of a run then exceeded the budget by 40%.
     * A fixed threshold gives every block over 1 MiB back when it is freed.
     */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);

    qr_dir *dir = NULL;
    int rc = qr_dir_open_posix(&dir, index, true);
    if (rc) {
        qr_die_msg("cannot open index %s: %s", index, qr_strerror(rc));
        status = QR_EXIT_INDEX;
        goto out_bases;
    }
    qr_indexer *ix = NULL;
    char err[512];
    rc = qr_indexer_open(&ix, dir, &o, err, sizeof err);
    if (rc) {
        qr_die_msg("%s", err);
        if (rc == QR_EINVAL && strstr(err, "unknown language"))
            list_languages(stderr);
        status = rc == QR_ELOCKED ? QR_EXIT_RUNTIME : qr_exit_for(rc);
        goto out_dir;
    }
    qr_index_result res;
    rc = qr_indexer_run(ix, dirs, ndirs, &res);
    if (o.progress) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    if (!rc && optimize) {
        /* A second commit: the run's own is already safe if the merge fails. */
        qr_index_result m;
        rc = qr_indexer_merge_all(ix, &m);
        if (rc) {
            qr_die_msg("index: merging into one segment failed (the index stays as the run "
                       "left it): %s",
                       qr_indexer_error(ix));
            status = qr_exit_for(rc) == QR_EXIT_USAGE ? QR_EXIT_RUNTIME : qr_exit_for(rc);
        } else {
            res.committed |= m.committed;
            res.merges += m.merges;
            res.segments = m.segments;
            res.docs = m.docs;
            res.generation = m.generation;
            res.index_bytes = m.index_bytes;
            res.seconds += m.seconds;
        }
        qr_index_result_free(&m);
        if (rc)
            goto out_res;
    }
    if (rc) {
        qr_die_msg("index: %s", qr_indexer_error(ix));
        status = qr_exit_for(rc) == QR_EXIT_USAGE ? QR_EXIT_RUNTIME : qr_exit_for(rc);
    } else {
        summary(index, qr_indexer_language(ix), &res);
        status = QR_EXIT_OK;
    }
out_res:
    qr_index_result_free(&res);
    qr_indexer_close(ix);
out_dir:
    qr_dir_close(dir);
out_bases:
    free(bases);
    return status;
}
