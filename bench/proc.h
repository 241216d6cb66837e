/*
 * Process and file helpers for the benchmarks: running a job in a forked
 * child so that its peak resident set size is its own (wait4's rusage of
 * that one child, not the maximum over every child as RUSAGE_CHILDREN
 * gives), scratch directories, directory sizes, and a description of the
 * machine for the reports.
 */
#ifndef QR_BENCH_PROC_H
#define QR_BENCH_PROC_H

#include <stddef.h>
#include <stdint.h>

/*
 * The job run in the child: fills result[0..size) and returns 0 or a
 * negative code. The child's memory is its own copy of the parent's.
 */
typedef int (*qr_child_fn)(void *ctx, void *result, size_t size);

/* What the child cost. */
typedef struct qr_child_usage {
    double wall_s; /* fork to exit, measured by the parent */
    double user_s; /* CPU time of the child (all its threads) */
    double sys_s;
    long maxrss_kb;   /* the child's peak resident set size (includes pages inherited at fork) */
    long base_rss_kb; /* the parent's resident set size at fork, for reference */
} qr_child_usage;

/*
 * Runs fn in a forked child and copies its result (size bytes) back through
 * a pipe. Returns fn's code, or QR_EIO when fork, the pipe or the child
 * failed (a child killed by a signal or that exited without a result).
 */
int qr_child_run(qr_child_usage *out, qr_child_fn fn, void *ctx, void *result, size_t size);

/*
 * Makes a new directory named prefix-XXXXXX under parent (NULL: $TMPDIR, else
 * /tmp) and writes its path into out (cap bytes). 0 or QR_EIO.
 */
int qr_make_temp_dir(char *out, size_t cap, const char *parent, const char *prefix);
/* Removes a directory tree (no symlink followed). 0 or QR_EIO. */
int qr_remove_tree(const char *path);
/* Bytes of the regular files below path (apparent sizes). */
uint64_t qr_tree_bytes(const char *path);

/* A one-line description of the machine: CPU model, cores, memory, kernel. */
typedef struct qr_machine {
    char cpu[128];
    long cores;      /* online processors */
    double mem_gib;  /* total memory */
    char kernel[96]; /* uname -sr */
    char compiler[64];
} qr_machine;

void qr_machine_get(qr_machine *out);

#endif
