/*
 * End-to-end tests of the `quarry` binary: each runs the built executable
 * (QUARRY_BIN) through the shell and checks its output and exit status.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "storage/buf.h"

/* Runs `QUARRY_BIN args` with sh; returns the exit status, output in *out (caller frees). */
static int quarry(char **out, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s", QUARRY_BIN, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    qr_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        qr_buf_put(&b, chunk, n);
    qr_buf_put_u8(&b, 0);
    int st = pclose(p);
    *out = (char *)b.p;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(cli, analyze_prints_position_tab_term)
{
    char *out;
    cr_assert_eq(quarry(&out, "analyze 'the cease-fire talks'"), 0);
    cr_assert_str_eq(out, "0\tthe\n1\tceas\n1\tceasefir\n2\tfire\n3\ttalk\n");
    free(out);
}

Test(cli, analyze_reads_stdin)
{
    char *out;
    cr_assert_eq(quarry(&out, "analyze - <<'EOF'\nGdańsk\nKraków\nEOF"), 0);
    cr_assert_str_eq(out, "0\tgdansk\n1\tkrakow\n");
    free(out);
}

Test(cli, analyze_unknown_language_exits_2_and_lists)
{
    char *out;
    cr_assert_eq(quarry(&out, "analyze --language klingon word 2>&1"), 2);
    cr_assert(strstr(out, "unknown language 'klingon'"), "%s", out);
    cr_assert(strstr(out, "english"), "%s", out);
    cr_assert(strstr(out, "none"), "%s", out);
    free(out);
}

Test(cli, analyze_language_none)
{
    char *out;
    cr_assert_eq(quarry(&out, "analyze --language none 'Talks running'"), 0);
    cr_assert_str_eq(out, "0\ttalks\n1\trunning\n");
    free(out);
}

Test(cli, help_version_and_usage_errors)
{
    char *out;
    cr_assert_eq(quarry(&out, "--help"), 0);
    cr_assert(strstr(out, "analyze"));
    free(out);
    cr_assert_eq(quarry(&out, "--version"), 0);
    cr_assert(strncmp(out, "quarry ", 7) == 0);
    free(out);
    cr_assert_eq(quarry(&out, "analyze --help"), 0);
    cr_assert(strstr(out, "usage: quarry analyze"));
    free(out);
    cr_assert_eq(quarry(&out, "frobnicate 2>&1"), 2);
    cr_assert(strstr(out, "unknown command"));
    free(out);
    cr_assert_eq(quarry(&out, "analyze 2>&1"), 2);
    cr_assert(strstr(out, "missing TEXT"));
    free(out);
    cr_assert_eq(quarry(&out, "2>&1"), 2);
    free(out);
}
