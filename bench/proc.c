/*
 * Process and file helpers for the benchmarks (see proc.h).
 */
#include "bench/proc.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/timing.h"
#include "storage/alloc.h"
#include "storage/status.h"

/* Resident set size now, from /proc/self/statm (0 when unknown). */
static long rss_now_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static size_t read_all(int fd, void *p, size_t n)
{
    char *c = p;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, c + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

int qr_child_run(qr_child_usage *out, qr_child_fn fn, void *ctx, void *result, size_t size)
{
    int fds[2];
    qr_child_usage u = {.base_rss_kb = rss_now_kb()};
    if (pipe(fds) != 0)
        return QR_EIO;
    fflush(NULL); /* nothing buffered is written twice */
    double t0 = qr_now();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return QR_EIO;
    }
    if (pid == 0) {
        close(fds[0]);
        int rc = fn(ctx, result, size);
        int ok = write_all(fds[1], &rc, sizeof rc) == 0 && write_all(fds[1], result, size) == 0;
        _exit(ok ? 0 : 1);
    }
    close(fds[1]);
    int rc = 0;
    size_t got = read_all(fds[0], &rc, sizeof rc);
    if (got == sizeof rc)
        got += read_all(fds[0], result, size);
    close(fds[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    u.wall_s = qr_now() - t0;
    u.user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    u.sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
    u.maxrss_kb = ru.ru_maxrss;
    if (out)
        *out = u;
    if (got != sizeof rc + size || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return QR_EIO;
    return rc;
}

int qr_make_temp_dir(char *out, size_t cap, const char *parent, const char *prefix)
{
    if (!parent || !*parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    int n = snprintf(out, cap, "%s/%s-XXXXXX", parent, prefix);
    if (n < 0 || (size_t)n >= cap)
        return QR_EIO;
    return mkdtemp(out) ? 0 : QR_EIO;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    int r = type == FTW_DP ? rmdir(path) : unlink(path);
    return r == 0 || errno == ENOENT ? 0 : -1;
}

int qr_remove_tree(const char *path)
{
    return nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : QR_EIO;
}

static uint64_t tree_sum;

static int add_size(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F && S_ISREG(sb->st_mode))
        tree_sum += (uint64_t)sb->st_size;
    return 0;
}

uint64_t qr_tree_bytes(const char *path)
{
    tree_sum = 0;
    if (nftw(path, add_size, 32, FTW_PHYS) != 0)
        return 0;
    return tree_sum;
}

void qr_machine_get(qr_machine *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->cpu, sizeof out->cpu, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (!strncmp(line, "model name", 10)) {
                const char *c = strchr(line, ':');
                if (c) {
                    c += 1 + strspn(c + 1, " \t");
                    snprintf(out->cpu, sizeof out->cpu, "%.*s", (int)strcspn(c, "\n"), c);
                }
                break;
            }
        }
        fclose(f);
    }
    out->cores = sysconf(_SC_NPROCESSORS_ONLN);
    out->mem_gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) /
                   (1024.0 * 1024.0 * 1024.0);
    struct utsname un;
    if (uname(&un) == 0)
        snprintf(out->kernel, sizeof out->kernel, "%.40s %.50s", un.sysname, un.release);
#ifdef __VERSION__
    snprintf(out->compiler, sizeof out->compiler, "%s", __VERSION__);
#endif
}
