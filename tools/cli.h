/*
 * Shared pieces of the `quarry` command line: the subcommand signature,
 * exit codes (SPEC §5) and error printing.
 */
#ifndef QR_TOOLS_CLI_H
#define QR_TOOLS_CLI_H

#include <stddef.h>

/* Exit statuses, SPEC §5. */
enum {
    QR_EXIT_OK = 0,      /* success with hits */
    QR_EXIT_NOHITS = 1,  /* a search found nothing */
    QR_EXIT_USAGE = 2,   /* usage or query syntax error */
    QR_EXIT_INDEX = 3,   /* index missing or corrupt */
    QR_EXIT_RUNTIME = 4, /* I/O or any other runtime error */
};

/* A subcommand: argv[0] is the subcommand's name; returns an exit status. */
typedef int (*qr_cmd_fn)(int argc, char **argv);

int qr_cmd_analyze(int argc, char **argv);
int qr_cmd_index(int argc, char **argv);
int qr_cmd_search(int argc, char **argv);
int qr_cmd_stats(int argc, char **argv);
int qr_cmd_check(int argc, char **argv);
int qr_cmd_bench(int argc, char **argv);

/* Prints "quarry: <formatted message>\n" to stderr. */
void qr_die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * The option getopt_long (opterr = 0) just refused with '?' or ':', quoted
 * as the user typed it, into buf: '--frob', '-x', or '-r' (in '-crimea')
 * for a letter inside a bundle. Returns buf.
 */
const char *qr_cli_refused(char *buf, size_t n, int argc, char **argv);

/* Maps a QR_E* status to an exit status: ENOTFOUND/ECORRUPT/EVERSION -> 3, ESYNTAX/EINVAL -> 2, else 4. */
int qr_exit_for(int status);

#endif
