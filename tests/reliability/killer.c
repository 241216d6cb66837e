/*
 * rel_killer: runs a command and kills it with SIGKILL at a chosen moment,
 * for tests/reliability/crash_test.sh. The moment is a delay, or the nth
 * file-system event of a kind in the index directory (inotify), so that
 * kills also land inside phases too short to hit by chance: a segment file
 * being written, the manifest's temporary file being written, just after
 * the manifest's rename, garbage collection. The kill follows the event by
 * the time the kernel takes to deliver it: the command is somewhere in the
 * step the event began.
 *
 *   rel_killer DIR WHEN N -- COMMAND ARGS...
 *     WHEN  ms      N milliseconds after the command started
 *           seg     the Nth segment file (seg-*) created in DIR
 *           tmp     the Nth temporary file (*.tmp) created in DIR
 *           commit  the Nth manifest (MANIFEST-*) renamed into place in DIR
 *           remove  the Nth file removed from DIR
 *           count   never: counts the events of every kind
 *
 * Prints one line: "killed", or "exited S" when the command ended first
 * (S its exit status, or 128 + signal), followed for `count` by
 * "seg=A tmp=B commit=C remove=D". Exits 0, or 2 on a usage or system error.
 * DIR must exist before the command starts.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { K_SEG, K_TMP, K_COMMIT, K_REMOVE, K_COUNT };

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* The kind of an event, or -1. */
static int kind_of(const struct inotify_event *e)
{
    if (!e->len)
        return -1;
    if (e->mask & IN_DELETE)
        return K_REMOVE;
    if ((e->mask & IN_MOVED_TO) && !strncmp(e->name, "MANIFEST-", 9) && !ends_with(e->name, ".tmp"))
        return K_COMMIT;
    if (e->mask & IN_CREATE) {
        if (ends_with(e->name, ".tmp"))
            return K_TMP;
        if (!strncmp(e->name, "seg-", 4))
            return K_SEG;
    }
    return -1;
}

static int usage(void)
{
    fputs("usage: rel_killer DIR ms|seg|tmp|commit|remove|count N -- COMMAND ARGS...\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[4], "--"))
        return usage();
    const char *dir = argv[1], *when = argv[2];
    long n = strtol(argv[3], NULL, 10);
    static const char *const names[] = {"seg", "tmp", "commit", "remove"};
    int want = -1;
    bool count_only = !strcmp(when, "count"), by_time = !strcmp(when, "ms");
    for (int k = 0; k < K_COUNT; k++)
        if (!strcmp(when, names[k]))
            want = k;
    if (want < 0 && !count_only && !by_time)
        return usage();

    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd < 0 || inotify_add_watch(fd, dir, IN_CREATE | IN_MOVED_TO | IN_DELETE) < 0) {
        fprintf(stderr, "rel_killer: %s: %s\n", dir, strerror(errno));
        return 2;
    }
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        perror("rel_killer: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[5], argv + 5);
        perror("rel_killer: exec");
        _exit(127);
    }
    long seen[K_COUNT] = {0};
    bool killed = false, ended = false;
    int status = 0;
    for (;;) {
        /* Once the command has ended, what is left in the queue is read, then we stop. */
        if (!ended && waitpid(pid, &status, WNOHANG) == pid)
            ended = true;
        int timeout = ended ? 0 : 5;
        if (by_time && !ended) {
            double left = (double)n - (now_ms() - t0);
            if (left <= 0) {
                kill(pid, SIGKILL);
                killed = true;
                break;
            }
            timeout = left < 5 ? (int)left + 1 : 5;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, timeout) <= 0) {
            if (ended)
                break;
            continue;
        }
        char buf[64 * 1024] __attribute__((aligned(__alignof__(struct inotify_event))));
        ssize_t len = read(fd, buf, sizeof buf);
        for (ssize_t at = 0; at < len && !killed;) {
            const struct inotify_event *e = (const struct inotify_event *)(buf + at);
            int k = kind_of(e);
            if (k >= 0) {
                seen[k]++;
                if (k == want && seen[k] == n) {
                    kill(pid, SIGKILL);
                    killed = true;
                }
            }
            at += (ssize_t)sizeof *e + e->len;
        }
        if (killed)
            break;
    }
    if (killed && waitpid(pid, &status, 0) != pid) {
        perror("rel_killer: waitpid");
        return 2;
    }
    if (killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        printf("killed");
    else
        printf("exited %d", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (count_only)
        printf(" seg=%ld tmp=%ld commit=%ld remove=%ld", seen[K_SEG], seen[K_TMP], seen[K_COMMIT],
               seen[K_REMOVE]);
    putchar('\n');
    close(fd);
    return 0;
}
