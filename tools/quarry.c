/*
 * The `quarry` binary: dispatches to one subcommand (index, search, analyze,
 * stats, check, bench) and prints the top-level help and version.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "storage/status.h"
#include "tools/cli.h"

#ifndef QUARRY_VERSION
#define QUARRY_VERSION "unknown"
#endif

struct command {
    const char *name;    /* as typed after `quarry` */
    qr_cmd_fn fn;        /* its entry point */
    const char *summary; /* one line for `quarry --help` */
};

static const struct command commands[] = {
    {"index", qr_cmd_index, "make an index mirror directories of articles"},
    {"search", qr_cmd_search, "search an index: ranked hits with snippets, or a count"},
    {"analyze", qr_cmd_analyze, "print the tokens quarry makes of a text"},
    {"stats", qr_cmd_stats, "print what an index holds"},
    {"check", qr_cmd_check, "verify every file of an index; exit 0 only when sound"},
    {"bench", qr_cmd_bench, "benchmarks: indexing, queries, SQLite FTS5 side by side, scale"},
};

void qr_die_msg(const char *fmt, ...)
{
    va_list ap;
    fputs("quarry: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

const char *qr_cli_refused(char *buf, size_t n, int argc, char **argv)
{
    /*
     * getopt_long leaves optind on a bundle it has not finished ("-crimea":
     * -c taken, -r refused, optind still on "-crimea", argv[optind - 1] the
     * word before it) and past one it has; optopt is 0 for an unknown long
     * option, else the short option's letter (or a long option's own).
     */
    const char *w = argv[optind - 1];
    if (optopt && optind < argc && argv[optind][0] == '-' && argv[optind][1] &&
        argv[optind][1] != '-' && strchr(argv[optind] + 1, optopt))
        w = argv[optind];
    if (!optopt || w[0] != '-' || w[1] == '-')
        snprintf(buf, n, "'%s'", w);
    else if (strlen(w) > 2)
        snprintf(buf, n, "'-%c' (in '%s')", optopt, w);
    else
        snprintf(buf, n, "'-%c'", optopt);
    return buf;
}

int qr_exit_for(int status)
{
    switch (status) {
    case QR_OK:
        return QR_EXIT_OK;
    case QR_ENOTFOUND:
    case QR_ECORRUPT:
    case QR_EVERSION:
        return QR_EXIT_INDEX;
    case QR_ESYNTAX:
    case QR_EINVAL:
        return QR_EXIT_USAGE;
    default:
        return QR_EXIT_RUNTIME;
    }
}

static void usage(FILE *f)
{
    fputs("usage: quarry COMMAND [OPTIONS] [ARGS]\n"
          "\n"
          "A full-text search engine for collections of articles.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Run `quarry COMMAND --help` for a command's options.\n"
          "Options: --help, --version.\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return QR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return QR_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("quarry %s\n", QUARRY_VERSION);
        return QR_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    qr_die_msg("unknown command '%s' (see `quarry --help`)", argv[1]);
    return QR_EXIT_USAGE;
}
