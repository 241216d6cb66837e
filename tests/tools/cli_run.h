/*
 * Running commands from the end-to-end tests of tests/tools: a shell
 * command (sh -c) formatted printf-style, its standard output captured
 * whole into a NUL-terminated string the caller frees, and its exit status
 * returned (-1 when a signal ended it). cli_quarry puts the quoted built
 * binary (QUARRY_BIN) before the arguments; cli_sh2 keeps stdout and stderr
 * apart and exports QUARRY, the binary's path, to the script; cli_sh_ok
 * runs a set-up step that must succeed, its output left alone; cli_slurp
 * reads a whole file. Standard error is never captured but by cli_sh2:
 * a call site that wants it writes 2>&1. Failures to run are Criterion
 * assertion failures.
 */
#ifndef QR_TESTS_CLI_RUN_H
#define QR_TESTS_CLI_RUN_H

#include <stddef.h>

/* Runs `sh -c cmd`; returns its exit status or -1, stdout in *out (caller frees). */
int cli_sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs `'QUARRY_BIN' args` the same way. */
int cli_quarry(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs `( script )` with QUARRY='QUARRY_BIN' exported; stdout in *out and stderr in *err
 * (caller frees both); returns the exit status or -1. */
int cli_sh2(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Runs a command with system(3) and asserts that it exits 0. */
void cli_sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The bytes of the file at path, NUL-terminated (caller frees); their count in *n unless
 * n is NULL. */
char *cli_slurp(const char *path, size_t *n);

#endif
