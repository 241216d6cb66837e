/*
 * `quarry check [-i INDEX]`: verifies every file of the index (index/check.h)
 * and says whether it is sound. Each problem is one line on stderr,
 *
 *   quarry: check: INDEX/FILE@OFFSET: message      (offset in bytes, when known)
 *   quarry: check: INDEX/FILE: message
 *   quarry: check: INDEX/FILE: warning: message    (orphan files: the index is still sound)
 *
 * then one summary line on stdout: `ok: N documents in S segments, T terms,
 * P postings checked` or `damaged: K problems`. Exit status 0 when sound, 3
 * when damaged or missing, 4 when an I/O error kept the check from running.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "index/check.h"
#include "storage/dir.h"
#include "storage/status.h"
#include "tools/cli.h"

static void help(FILE *f)
{
    fputs("usage: quarry check [-i INDEX]\n"
          "\n"
          "Verify every file of the index: checksums, then what the files say about\n"
          "each other (document counts, deletions, every term's postings against its\n"
          "df and ttf, positions against document lengths, stored documents). Each\n"
          "problem is a line on stderr naming the file and the byte offset; files no\n"
          "manifest names are warnings. Exit status 0 when the index is sound, 3 when\n"
          "it is damaged or missing, 4 when an I/O error stops the check.\n"
          "\n"
          "  -i, --index INDEX  the index directory (default $QUARRY_INDEX, else ./quarry.idx)\n"
          "  -h, --help         this help\n",
          f);
}

static void print_problem(void *ctx, const qr_check_problem *p)
{
    const char *index = ctx;
    if (p->warning)
        fprintf(stderr, "quarry: check: %s/%s: warning: %s\n", index, p->file, p->message);
    else if (p->offset >= 0)
        fprintf(stderr, "quarry: check: %s/%s@%" PRId64 ": %s\n", index, p->file, p->offset,
                p->message);
    else
        fprintf(stderr, "quarry: check: %s/%s: %s\n", index, p->file, p->message);
}

int qr_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *index = getenv("QUARRY_INDEX");
    if (!index || !*index)
        index = "quarry.idx";
    int c;
    char opt[160];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            index = optarg;
            break;
        case 'h':
            help(stdout);
            return QR_EXIT_OK;
        case ':':
            qr_die_msg("check: option %s needs a value (see `quarry check --help`)",
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        default:
            qr_die_msg("check: unknown option %s (see `quarry check --help`)",
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        qr_die_msg("check: unexpected argument '%s' (see `quarry check --help`)", argv[optind]);
        return QR_EXIT_USAGE;
    }

    qr_dir *dir = NULL;
    int rc = qr_dir_open_posix(&dir, index, false);
    if (rc == QR_ENOTFOUND) {
        qr_die_msg("check: no index at %s", index);
        return QR_EXIT_INDEX;
    }
    if (rc) {
        qr_die_msg("check: cannot open %s: %s", index, qr_strerror(rc));
        return QR_EXIT_INDEX;
    }
    qr_check_stats st;
    rc = qr_check(dir, print_problem, (void *)index, &st);
    qr_dir_close(dir);
    fflush(stderr);
    switch (rc) {
    case 0:
        printf("ok: %" PRIu64 " documents in %" PRIu64 " segments, %" PRIu64 " terms, %" PRIu64
               " postings checked",
               st.live_docs, st.segments, st.terms, st.postings);
        if (st.warnings)
            printf(" (%" PRIu64 " warnings)", st.warnings);
        putchar('\n');
        break;
    case QR_ENOTFOUND:
        qr_die_msg("check: no index at %s", index);
        return QR_EXIT_INDEX;
    case QR_ECORRUPT:
        printf("damaged: %" PRIu64 " problems\n", st.problems);
        break;
    default:
        qr_die_msg("check: %s: %s; the check stopped (%" PRIu64 " problems found before)", index,
                   qr_strerror(rc), st.problems);
        return QR_EXIT_RUNTIME;
    }
    if (fflush(stdout) != 0) {
        qr_die_msg("check: cannot write standard output");
        return QR_EXIT_RUNTIME;
    }
    return rc ? QR_EXIT_INDEX : QR_EXIT_OK;
}
