/*
 * Running commands from the end-to-end tests (see cli_run.h): popen or
 * system over a command formatted into memory, output read whole into a
 * qr_buf, the wait status turned into an exit status.
 */
#include "cli_run.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/buf.h"

/* prefix followed by fmt formatted (caller frees). */
static char *vformat(const char *prefix, const char *fmt, va_list ap)
{
    char *args, *cmd;
    cr_assert_geq(vasprintf(&args, fmt, ap), 0);
    cr_assert_geq(asprintf(&cmd, "%s%s", prefix, args), 0);
    free(args);
    return cmd;
}

static int exit_status(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Appends all of f to b, then a NUL. */
static void read_all(qr_buf *b, FILE *f)
{
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        qr_buf_put(b, chunk, n);
    qr_buf_put_u8(b, 0);
    cr_assert_eq(b->err, 0, "out of memory");
}

static int vrun(char **out, const char *prefix, const char *fmt, va_list ap)
{
    char *cmd = vformat(prefix, fmt, ap);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "%s", cmd);
    free(cmd);
    qr_buf b = {0};
    read_all(&b, p);
    int st = pclose(p);
    *out = (char *)b.p;
    return exit_status(st);
}

int cli_sh(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = vrun(out, "", fmt, ap);
    va_end(ap);
    return st;
}

int cli_quarry(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int st = vrun(out, "'" QUARRY_BIN "' ", fmt, ap);
    va_end(ap);
    return st;
}

int cli_sh2(char **out, char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *script = vformat("", fmt, ap);
    va_end(ap);
    char o[] = "/tmp/quarry-cli-out-XXXXXX", e[] = "/tmp/quarry-cli-err-XXXXXX";
    int fo = mkstemp(o), fe = mkstemp(e);
    cr_assert(fo >= 0 && fe >= 0);
    close(fo);
    close(fe);
    char *cmd;
    cr_assert_geq(
        asprintf(&cmd, "QUARRY='%s'; export QUARRY; ( %s ) >'%s' 2>'%s'", QUARRY_BIN, script, o, e),
        0);
    free(script);
    int st = system(cmd);
    free(cmd);
    *out = cli_slurp(o, NULL);
    *err = cli_slurp(e, NULL);
    unlink(o);
    unlink(e);
    return exit_status(st);
}

void cli_sh_ok(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *cmd = vformat("", fmt, ap);
    va_end(ap);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
    free(cmd);
}

char *cli_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    qr_buf b = {0};
    read_all(&b, f);
    fclose(f);
    if (n)
        *n = b.n - 1;
    return (char *)b.p;
}
