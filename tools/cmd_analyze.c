/*
 * `quarry analyze [--language L] TEXT|-`: prints the tokens quarry makes of
 * TEXT (or of standard input for `-`), one per line as position<TAB>term,
 * analysing it as one field exactly as the indexer and the query parser do.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "index/analyzer.h"
#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/status.h"
#include "tools/cli.h"

static void help(FILE *f)
{
    fputs("usage: quarry analyze [--language L] TEXT|-\n"
          "\n"
          "Print the tokens of TEXT (or of standard input, for -), one a line:\n"
          "position<TAB>term. TEXT is analysed as one field; several TEXT\n"
          "arguments are joined with spaces.\n"
          "\n"
          "  -l, --language L   stemming language (default english; none = no stemming)\n"
          "  -h, --help         this help\n",
          f);
}

static int print_token(void *ctx, const qr_token *t)
{
    FILE *f = ctx;
    fprintf(f, "%u\t%.*s\n", t->pos, (int)t->len, t->term);
    return 0;
}

static void list_languages(FILE *f)
{
    fputs("available languages:", f);
    for (const char **l = qr_analyzer_languages(); *l; l++)
        fprintf(f, " %s", *l);
    fputc('\n', f);
}

int qr_cmd_analyze(int argc, char **argv)
{
    static const struct option opts[] = {
        {"language", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *language = "english";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            language = optarg;
            break;
        case 'h':
            help(stdout);
            return QR_EXIT_OK;
        default:
            help(stderr);
            return QR_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        qr_die_msg("analyze: missing TEXT (see `quarry analyze --help`)");
        return QR_EXIT_USAGE;
    }
    qr_analyzer *a = NULL;
    int rc = qr_analyzer_open(&a, language);
    if (rc == QR_EINVAL) {
        qr_die_msg("unknown language '%s'", language);
        list_languages(stderr);
        return QR_EXIT_USAGE;
    }
    if (rc) {
        qr_die_msg("analyze: %s", qr_strerror(rc));
        return QR_EXIT_RUNTIME;
    }
    qr_buf text = {0};
    int status = QR_EXIT_OK;
    if (argc - optind == 1 && !strcmp(argv[optind], "-")) {
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
            qr_buf_put(&text, chunk, n);
        if (ferror(stdin)) {
            qr_die_msg("analyze: cannot read standard input");
            status = QR_EXIT_RUNTIME;
            goto out;
        }
    } else {
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                qr_buf_put_u8(&text, ' ');
            qr_buf_put(&text, argv[i], strlen(argv[i]));
        }
    }
    if (text.err) {
        qr_die_msg("analyze: %s", qr_strerror(text.err));
        status = QR_EXIT_RUNTIME;
        goto out;
    }
    rc = qr_analyze(a, (const char *)text.p, text.n, 0, 0, print_token, stdout, NULL);
    if (rc) {
        qr_die_msg("analyze: %s", qr_strerror(rc));
        status = QR_EXIT_RUNTIME;
    }
    if (fflush(stdout) != 0) {
        qr_die_msg("analyze: cannot write standard output");
        status = QR_EXIT_RUNTIME;
    }
out:
    qr_buf_free(&text);
    qr_analyzer_close(a);
    return status;
}
