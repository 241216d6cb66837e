/*
 * Damaged indexes through `quarry search` (README "Reliability", promise 3:
 * a damaged file is reported, never served, and never crashes the reader).
 *
 * A small index (two segments, a deletion file, a manifest: about 1.6 KB
 * in all) is damaged one way at a time, and a batch of queries reaching
 * every structure (terms, phrases, prefixes, NEAR, NOT, fields, stored
 * text for snippets) is run over it with the binary:
 *   - each byte of each file flipped: searching opens the index verifying
 *     every checksum, so the answer is exit 3 with one line on stderr that
 *     names the damaged file, and nothing on stdout;
 *   - each file truncated to each shorter length: the same;
 *   - each byte flipped and the checksum made right again (damage that
 *     checksums cannot see, reaching every codec's bounds checks): exit 3
 *     with one line (after the answers of the queries before the one that
 *     met the damage), or answers (exit 0 or 1); never a crash, a hang, a
 *     sanitizer report or another status.
 * Between two cases the file is restored. Under sanitizers each process
 * costs ten times more: there every 7th byte and length is taken for the
 * first two kinds and every 2nd for the third (QUARRY_CORRUPT_STRIDE=N
 * sets all three). quarry check's side of damage is tests/index/test_check.c.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli_run.h"
#include "storage/checksum.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define HANG_SECONDS 60 /* a search of this tiny index taking longer has hung */

static char tmp[128];
static char idx[160];
static char queries[160];
static char out_path[160];
static char err_path[160];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmp, rel);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

/* Replaces the file at path by bytes[0..n). */
static void spit(const char *path, const uint8_t *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(bytes, 1, n, f), n);
    cr_assert_eq(fclose(f), 0);
}

/* What one `quarry search` did. */
struct outcome {
    int status;   /* exit status, or -1 */
    int signal;   /* the signal that ended it, or 0 */
    bool hung;    /* killed after HANG_SECONDS */
    char *out;    /* stdout (owned) */
    size_t n_out; /* its length */
    char *err;    /* stderr (owned) */
};

static void outcome_free(struct outcome *o)
{
    free(o->out);
    free(o->err);
}

/* Runs `quarry search -i idx -k 5 -` on the queries, without a shell. */
static struct outcome search(void)
{
    struct outcome o = {.status = -1};
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        int in = open(queries, O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || out < 0 || err < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
            _exit(126);
        execl(QUARRY_BIN, QUARRY_BIN, "search", "-i", idx, "-k", "5", "-", (char *)NULL);
        _exit(127);
    }
    int st;
    struct timespec t0, now, nap = {0, 2000000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid)
            break;
        cr_assert_eq(w, 0, "waitpid: %s", strerror(errno));
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > HANG_SECONDS) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            o.hung = true;
            break;
        }
        nanosleep(&nap, NULL);
    }
    if (!o.hung && WIFEXITED(st))
        o.status = WEXITSTATUS(st);
    else if (!o.hung && WIFSIGNALED(st))
        o.signal = WTERMSIG(st);
    o.out = cli_slurp(out_path, &o.n_out);
    o.err = cli_slurp(err_path, NULL);
    return o;
}

static bool sanitizer_report(const char *err)
{
    return strstr(err, "Sanitizer") || strstr(err, "runtime error:");
}

static size_t lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* The undamaged index's answers. */
static struct outcome reference;

static const char *const query_text = "grain\n"
                                      "\"cease fire\"\n"
                                      "ceasefire\n"
                                      "gen*\n"
                                      "talks NEAR/4 truce\n"
                                      "grain -ships\n"
                                      "title:envoys OR body:kyiv\n"
                                      "-zzzz\n"
                                      "(grain OR dollar) (ships OR geneva)\n";

static void setup(void)
{
    strcpy(tmp, "/tmp/quarry-corrupt-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(idx, sizeof idx, "%s/idx", tmp);
    snprintf(queries, sizeof queries, "%s/queries", tmp);
    snprintf(out_path, sizeof out_path, "%s/out", tmp);
    snprintf(err_path, sizeof err_path, "%s/err", tmp);
    put("queries", query_text);
    cli_sh_ok("mkdir '%s/articles'", tmp);
    put("articles/a.txt", "Grain deal\nShips leave Odesa with grain under the cease-fire.\n");
    put("articles/b.txt", "Envoys meet\nTalks in Geneva about a truce and grain.\n");
    put("articles/c.txt", "Markets\nThe dollar and the yen.\n");
    put("articles/d.txt", "Empty title follows\n");
    cli_sh_ok("'%s' index -i '%s' -q '%s/articles' >/dev/null", QUARRY_BIN, idx, tmp);
    /* A second commit: a second segment, and a deletion file for the first. */
    put("articles/b.txt", "Envoys meet again\nTalks in Geneva about a truce, grain and ships.\n");
    cli_sh_ok("rm '%s/articles/c.txt'", tmp);
    put("articles/e.txt", "Kyiv\nA new story about grain and the general mood.\n");
    cli_sh_ok("'%s' index -i '%s' -q '%s/articles' >/dev/null", QUARRY_BIN, idx, tmp);
    reference = search();
    cr_assert_eq(reference.status, 0, "the undamaged index answers: %s", reference.err);
    cr_assert_str_empty(reference.err);
}

static void teardown(void)
{
    outcome_free(&reference);
    cli_sh_ok("rm -rf '%s'", tmp);
}

TestSuite(corrupt_cli, .init = setup, .fini = teardown, .timeout = 3600);

/* The index's files but the lock, and their sizes. */
static size_t index_files(char names[][64], size_t cap)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "ls '%s'", idx);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = 0;
    char line[128];
    while (fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (strcmp(line, "LOCK") && n < cap)
            snprintf(names[n++], 64, "%.63s", line);
    }
    pclose(p);
    return n;
}

static long stride(long sanitized_default)
{
    const char *s = getenv("QUARRY_CORRUPT_STRIDE");
    if (s && atol(s) > 0)
        return atol(s);
    return SANITIZED ? sanitized_default : 1;
}

/* Damage is refused: exit 3, nothing on stdout, one line on stderr naming the file. */
static void assert_refused(const struct outcome *o, const char *name, const char *what)
{
    cr_assert(!o->hung, "%s: search hung", what);
    cr_assert_eq(o->signal, 0, "%s: search died of signal %d", what, o->signal);
    cr_assert(!sanitizer_report(o->err), "%s: %s", what, o->err);
    cr_assert_eq(o->status, 3, "%s: exit %d, want 3; stderr: %s", what, o->status, o->err);
    cr_assert_eq(o->n_out, 0, "%s: output of a damaged index: %s", what, o->out);
    cr_assert_eq(lines(o->err), 1, "%s: want one line: %s", what, o->err);
    cr_assert(!strncmp(o->err, "quarry: ", 8), "%s: %s", what, o->err);
    cr_assert(strstr(o->err, name), "%s: the message names %s: %s", what, name, o->err);
}

/* Every damaged case of one kind: damage(copy, n, at) returns the new length (or 0: skip). */
static void sweep(size_t (*damage)(uint8_t *copy, size_t n, size_t at), long step, bool refused,
                  const char *kind)
{
    char names[32][64];
    size_t nf = index_files(names, 32);
    cr_assert_geq(nf, 12, "two segments, a deletion file, a manifest");
    long cases = 0, answered = 0;
    for (size_t f = 0; f < nf; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", idx, names[f]);
        size_t n;
        uint8_t *orig = (uint8_t *)cli_slurp(path, &n);
        uint8_t *copy = malloc(n + 1);
        for (size_t at = 0; at < n; at += (size_t)step) {
            memcpy(copy, orig, n);
            size_t len = damage(copy, n, at);
            if (len == (size_t)-1)
                continue;
            spit(path, copy, len);
            struct outcome o = search();
            char what[160];
            snprintf(what, sizeof what, "%s %s at %zu", kind, names[f], at);
            cases++;
            if (refused) {
                assert_refused(&o, names[f], what);
            } else {
                cr_assert(!o.hung, "%s: search hung", what);
                cr_assert_eq(o.signal, 0, "%s: died of signal %d", what, o.signal);
                cr_assert(!sanitizer_report(o.err), "%s: %s", what, o.err);
                cr_assert(o.status == 0 || o.status == 1 || o.status == 3, "%s: exit %d: %s", what,
                          o.status, o.err);
                if (o.status == 3) {
                    /* The queries before the one that met the damage may have answered. */
                    cr_assert_eq(lines(o.err), 1, "%s: want one line: %s", what, o.err);
                } else {
                    answered++;
                    cr_assert_str_empty(o.err, "%s: %s", what, o.err);
                }
            }
            outcome_free(&o);
        }
        spit(path, orig, n);
        free(orig);
        free(copy);
    }
    cr_assert_gt(cases, 0);
    if (!refused)
        cr_log_info("%s: %ld cases, %ld answered", kind, cases, answered);
    /* Restored: the same answers as before. */
    struct outcome o = search();
    cr_assert_eq(o.status, 0);
    cr_assert(o.n_out == reference.n_out && !memcmp(o.out, reference.out, o.n_out));
    outcome_free(&o);
}

static size_t flip(uint8_t *copy, size_t n, size_t at)
{
    (void)n;
    copy[at] ^= 0xff;
    return n;
}

static size_t truncate_at(uint8_t *copy, size_t n, size_t at)
{
    (void)copy;
    (void)n;
    return at;
}

/* A flip the checksum does not see: before the footer, with the checksum recomputed. */
static size_t flip_refooter(uint8_t *copy, size_t n, size_t at)
{
    if (n < QR_FILE_HEADER_SIZE + QR_FILE_FOOTER_SIZE || at >= n - QR_FILE_FOOTER_SIZE)
        return (size_t)-1;
    copy[at] ^= 0x01 << (at % 8);
    qr_store_u64(copy + n - 8, qr_checksum(copy, n - 8));
    return n;
}

Test(corrupt_cli, every_flipped_byte_is_refused_naming_the_file)
{
    sweep(flip, stride(7), true, "flip");
}

Test(corrupt_cli, every_truncation_is_refused_naming_the_file)
{
    sweep(truncate_at, stride(7), true, "truncation");
}

Test(corrupt_cli, damage_behind_a_right_checksum_never_crashes)
{
    sweep(flip_refooter, stride(2), false, "refootered flip");
}

Test(corrupt_cli, a_missing_file_is_refused_naming_it)
{
    char names[32][64];
    size_t nf = index_files(names, 32);
    for (size_t f = 0; f < nf; f++) {
        if (!strncmp(names[f], "MANIFEST-", 9))
            continue; /* without its manifest a directory holds no index: "no index at" */
        char path[256], moved[300];
        snprintf(path, sizeof path, "%s/%s", idx, names[f]);
        snprintf(moved, sizeof moved, "%s/moved", tmp);
        cr_assert_eq(rename(path, moved), 0);
        struct outcome o = search();
        assert_refused(&o, names[f], names[f]);
        outcome_free(&o);
        cr_assert_eq(rename(moved, path), 0);
    }
}
