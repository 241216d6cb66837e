/*
 * The directory walk (see walk.h): openat/fdopendir recursion that never
 * follows a symbolic link, fstatat for each entry (but, with QR_WALK_NO_STAT,
 * not for the regular files the directory listing types as such), paths in
 * an arena of stable blocks, one sort at the end.
 *
 * The per-directory sort order would not give the bytewise order of whole
 * paths ("a-b" sorts before "a/x" although directory "a" sorts before file
 * "a-b"), so the walk collects everything and sorts the full document paths
 * once. Directories on the current descent are remembered by (device,
 * inode) so that a bind-mount loop cannot make the walk endless.
 */
#include "index/walk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/alloc.h"
#include "storage/status.h"

#define CHUNK (1u << 20)

static const char *reason_names[QR_SKIP_REASON_COUNT] = {
    [QR_SKIP_BINARY] = "binary",
    [QR_SKIP_TOO_BIG] = "too large",
    [QR_SKIP_UNREADABLE] = "unreadable",
    [QR_SKIP_VANISHED] = "vanished",
    [QR_SKIP_CHANGED] = "changed while read",
    [QR_SKIP_NOT_REGULAR] = "not a regular file",
};

const char *qr_skip_reason_name(qr_skip_reason r)
{
    return (unsigned)r < QR_SKIP_REASON_COUNT ? reason_names[r] : "unknown";
}

/* ---- small helpers ---- */

static int64_t mtime_of(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* A copy of s[0..n) in the arena, NUL-terminated; NULL on ENOMEM. */
static const char *arena_copy(qr_walk *w, const char *s, size_t n)
{
    if (!w->nchunks || w->chunk_used + n + 1 > w->chunk_size) {
        size_t size = n + 1 > CHUNK ? n + 1 : CHUNK;
        if (w->nchunks == w->chunks_cap) {
            size_t cap = w->chunks_cap ? 2 * w->chunks_cap : 16;
            char **nc = qr_reallocarray(w->chunks, cap, sizeof *nc);
            if (!nc)
                return NULL;
            w->chunks = nc;
            w->chunks_cap = cap;
        }
        char *c = qr_malloc(size);
        if (!c)
            return NULL;
        w->chunks[w->nchunks++] = c;
        w->chunk_used = 0;
        w->chunk_size = size;
    }
    char *p = w->chunks[w->nchunks - 1] + w->chunk_used;
    memcpy(p, s, n);
    p[n] = 0;
    w->chunk_used += n + 1;
    return p;
}

int qr_walk_add_skip(qr_walk *w, const char *path, qr_skip_reason reason)
{
    if (w->nskips == w->skips_cap) {
        size_t cap = w->skips_cap ? 2 * w->skips_cap : 16;
        qr_walk_skip *ns = qr_reallocarray(w->skips, cap, sizeof *ns);
        if (!ns)
            return QR_ENOMEM;
        w->skips = ns;
        w->skips_cap = cap;
    }
    char *p = qr_strdup(path);
    if (!p)
        return QR_ENOMEM;
    w->skips[w->nskips].path = p;
    w->skips[w->nskips].reason = reason;
    w->nskips++;
    return QR_OK;
}

/* Adds a file; size QR_WALK_SIZE_UNKNOWN (with mtime_ns 0) when it was not stat'ed. */
static int add_file(qr_walk *w, const qr_buf *path, uint32_t root, uint32_t rel, uint64_t size,
                    int64_t mtime_ns)
{
    if (w->nfiles == w->files_cap) {
        size_t cap = w->files_cap ? 2 * w->files_cap : 256;
        qr_walk_file *nf = qr_reallocarray(w->files, cap, sizeof *nf);
        if (!nf)
            return QR_ENOMEM;
        w->files = nf;
        w->files_cap = cap;
    }
    const char *p = arena_copy(w, (const char *)path->p, path->n);
    if (!p)
        return QR_ENOMEM;
    qr_walk_file *f = &w->files[w->nfiles++];
    f->path = p;
    f->root = root;
    f->rel = rel;
    f->size = size;
    f->mtime_ns = mtime_ns;
    if (size != QR_WALK_SIZE_UNKNOWN)
        w->bytes += size;
    return QR_OK;
}

/* Path buffer as a NUL-terminated string (the NUL is not counted in n). */
static const char *cstr(qr_buf *b)
{
    qr_buf_put_u8(b, 0);
    b->n--;
    return (const char *)b->p;
}

/* The directories being descended, to refuse a loop. */
struct stack {
    dev_t dev[256];
    ino_t ino[256];
    size_t n;
};

struct ctx {
    qr_walk *w;
    uint64_t max_size;
    dev_t ex_dev;
    ino_t ex_ino;
    uint32_t root;
    uint32_t rel; /* offset of the relative part in the path */
    struct stack *stack;
    bool no_stat; /* QR_WALK_NO_STAT */
};

static int skip_here(struct ctx *c, qr_buf *path, qr_skip_reason why)
{
    return qr_walk_add_skip(c->w, cstr(path), why);
}

/* Names are kept as their d_type byte followed by the NUL-terminated name. */
static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

/*
 * Walks the directory open at fd (closed here), whose document path is in
 * path (restored on return).
 */
static int walk_dir(struct ctx *c, int fd, qr_buf *path)
{
    int rc = QR_OK;
    char **names = NULL;
    size_t nnames = 0, cap = 0;
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        qr_buf_put_u8(path, '/');
        rc = skip_here(c, path, QR_SKIP_UNREADABLE);
        path->n--;
        return rc;
    }
    /* Read all names first, sorted: the skips then come in a stable order. */
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            if (errno) {
                qr_buf_put_u8(path, '/');
                rc = skip_here(c, path, QR_SKIP_UNREADABLE);
                path->n--;
                if (rc)
                    goto out;
            }
            break;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (nnames == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            char **nn = qr_reallocarray(names, ncap, sizeof *nn);
            if (!nn) {
                rc = QR_ENOMEM;
                goto out;
            }
            names = nn;
            cap = ncap;
        }
        size_t nl = strlen(e->d_name);
        if (!(names[nnames] = qr_malloc(nl + 2))) {
            rc = QR_ENOMEM;
            goto out;
        }
        names[nnames][0] = (char)e->d_type;
        memcpy(names[nnames] + 1, e->d_name, nl + 1);
        nnames++;
    }
    if (nnames)
        qsort(names, nnames, sizeof *names, cmp_names);
    size_t base = path->n;
    for (size_t i = 0; i < nnames && !rc; i++) {
        const char *name = names[i] + 1;
        path->n = base;
        qr_buf_put_u8(path, '/');
        qr_buf_put(path, name, strlen(name));
        if (path->err) {
            rc = path->err;
            break;
        }
        if (c->no_stat && names[i][0] == (char)DT_REG) {
            /* The read's own fstat gives the size, the mtime and the too-large check. */
            rc = add_file(c->w, path, c->root, c->rel, QR_WALK_SIZE_UNKNOWN, 0);
            continue;
        }
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            rc = skip_here(c, path, errno == ENOENT ? QR_SKIP_VANISHED : QR_SKIP_UNREADABLE);
            continue;
        }
        if (S_ISREG(st.st_mode)) {
            if ((uint64_t)st.st_size > c->max_size)
                rc = skip_here(c, path, QR_SKIP_TOO_BIG);
            else
                rc = add_file(c->w, path, c->root, c->rel, (uint64_t)st.st_size, mtime_of(&st));
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = skip_here(c, path, QR_SKIP_NOT_REGULAR);
            continue;
        }
        if (st.st_dev == c->ex_dev && st.st_ino == c->ex_ino)
            continue; /* the index itself */
        bool loop = false;
        for (size_t k = 0; k < c->stack->n; k++)
            if (c->stack->dev[k] == st.st_dev && c->stack->ino[k] == st.st_ino)
                loop = true;
        if (loop || c->stack->n == sizeof c->stack->dev / sizeof c->stack->dev[0]) {
            qr_buf_put_u8(path, '/');
            rc = skip_here(c, path, QR_SKIP_NOT_REGULAR);
            continue;
        }
        int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            int e = errno;
            qr_buf_put_u8(path, '/');
            rc = skip_here(c, path, e == ENOENT ? QR_SKIP_VANISHED : QR_SKIP_UNREADABLE);
            continue;
        }
        c->stack->dev[c->stack->n] = st.st_dev;
        c->stack->ino[c->stack->n] = st.st_ino;
        c->stack->n++;
        rc = walk_dir(c, sub, path);
        c->stack->n--;
    }
    path->n = base;
out:
    for (size_t i = 0; i < nnames; i++)
        qr_free(names[i]);
    qr_free(names);
    closedir(d);
    return rc;
}

/* Length of root without trailing slashes ("/" keeps its slash). */
static size_t trimmed_len(const char *root)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    return n;
}

int qr_walk_base_name(char *out, size_t cap, const char *root)
{
    size_t n = trimmed_len(root);
    size_t s = n;
    while (s > 0 && root[s - 1] != '/')
        s--;
    const char *name = root + s;
    size_t len = n - s;
    char *real = NULL;
    if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && !memcmp(name, "..", 2))) {
        real = realpath(root, NULL);
        if (!real)
            return QR_ENOTFOUND;
        const char *slash = strrchr(real, '/');
        name = slash ? slash + 1 : real;
        len = strlen(name);
        if (len == 0) {
            name = "root";
            len = 4;
        }
    }
    int rc = QR_OK;
    if (len + 1 > cap)
        rc = QR_ETOOBIG;
    else {
        memcpy(out, name, len);
        out[len] = 0;
    }
    free(real);
    return rc;
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const qr_walk_file *)a)->path, ((const qr_walk_file *)b)->path);
}

int qr_walk_run(qr_walk *out, const char *const *roots, size_t nroots, uint64_t max_size,
                dev_t exclude_dev, ino_t exclude_ino, size_t *err_root)
{
    return qr_walk_run_flags(out, roots, nroots, max_size, exclude_dev, exclude_ino, 0, err_root);
}

int qr_walk_run_flags(qr_walk *out, const char *const *roots, size_t nroots, uint64_t max_size,
                      dev_t exclude_dev, ino_t exclude_ino, unsigned flags, size_t *err_root)
{
    memset(out, 0, sizeof *out);
    int rc = QR_OK;
    qr_buf path = {0};
    struct stack *stack = NULL;
    out->roots = qr_calloc(nroots ? nroots : 1, sizeof *out->roots);
    out->bases = qr_calloc(nroots ? nroots : 1, sizeof *out->bases);
    stack = qr_calloc(1, sizeof *stack);
    if (!out->roots || !out->bases || !stack) {
        rc = QR_ENOMEM;
        goto out;
    }
    out->nroots = nroots;
    for (size_t i = 0; i < nroots; i++) {
        char base[NAME_MAX + 1];
        if (err_root)
            *err_root = i;
        if (!(out->roots[i] = qr_strndup(roots[i], trimmed_len(roots[i])))) {
            rc = QR_ENOMEM;
            goto out;
        }
        if ((rc = qr_walk_base_name(base, sizeof base, roots[i])))
            goto out;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(out->bases[j], base)) {
                rc = QR_EINVAL;
                goto out;
            }
        if (!(out->bases[i] = qr_strdup(base))) {
            rc = QR_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < nroots; i++) {
        if (err_root)
            *err_root = i;
        int fd = open(out->roots[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
            rc = errno == ENOENT ? QR_ENOTFOUND : errno == ENOTDIR ? QR_EINVAL : QR_EIO;
            goto out;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
            close(fd);
            rc = QR_EIO;
            goto out;
        }
        stack->dev[0] = st.st_dev;
        stack->ino[0] = st.st_ino;
        stack->n = 1;
        qr_buf_reset(&path);
        qr_buf_put(&path, out->bases[i], strlen(out->bases[i]));
        if (path.err) {
            close(fd);
            rc = path.err;
            goto out;
        }
        struct ctx c = {out,         max_size,
                        exclude_dev, exclude_ino,
                        (uint32_t)i, (uint32_t)path.n + 1,
                        stack,       (flags & QR_WALK_NO_STAT) != 0};
        if ((rc = walk_dir(&c, fd, &path)))
            goto out;
    }
    if (out->nfiles)
        qsort(out->files, out->nfiles, sizeof *out->files, cmp_files);
out:
    qr_buf_free(&path);
    qr_free(stack);
    if (rc) {
        qr_walk_free(out);
        memset(out, 0, sizeof *out);
    }
    return rc;
}

void qr_walk_free(qr_walk *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->nroots; i++) {
        if (w->roots)
            qr_free(w->roots[i]);
        if (w->bases)
            qr_free(w->bases[i]);
    }
    qr_free(w->roots);
    qr_free(w->bases);
    qr_free(w->files);
    for (size_t i = 0; i < w->nskips; i++)
        qr_free(w->skips[i].path);
    qr_free(w->skips);
    for (size_t i = 0; i < w->nchunks; i++)
        qr_free(w->chunks[i]);
    qr_free(w->chunks);
    memset(w, 0, sizeof *w);
}

const qr_walk_file *qr_walk_find(const qr_walk *w, const char *path, size_t len)
{
    size_t lo = 0, hi = w->nfiles;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *p = w->files[mid].path;
        size_t pn = strlen(p);
        int c = memcmp(p, path, pn < len ? pn : len);
        if (!c)
            c = (pn > len) - (pn < len);
        if (!c)
            return &w->files[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int qr_walk_fs_path(qr_buf *buf, const qr_walk *w, const qr_walk_file *f)
{
    const char *root = w->roots[f->root];
    size_t n = strlen(root);
    qr_buf_reset(buf);
    qr_buf_put(buf, root, n);
    if (n && root[n - 1] != '/')
        qr_buf_put_u8(buf, '/');
    const char *rel = f->path + f->rel;
    qr_buf_put(buf, rel, strlen(rel) + 1);
    if (buf->err)
        return buf->err;
    buf->n--;
    return QR_OK;
}

bool qr_is_binary(const void *bytes, size_t n)
{
    return memchr(bytes, 0, n < QR_BINARY_PROBE ? n : QR_BINARY_PROBE) != NULL;
}

int qr_walk_read_file(qr_buf *buf, uint64_t *out_size, int64_t *out_mtime_ns, int *out_skip,
                      const char *fs_path, uint64_t max_size)
{
    *out_skip = -1;
    qr_buf_reset(buf);
    /*
     * O_NONBLOCK: a file replaced by a FIFO (or a device) since the walk
     * must not block the run in open(); fstat below then skips it. For a
     * regular file the flag changes nothing.
     */
    int fd = open(fs_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        *out_skip = errno == ENOENT  ? QR_SKIP_VANISHED
                    : errno == ELOOP ? QR_SKIP_CHANGED
                                     : QR_SKIP_UNREADABLE;
        return QR_OK;
    }
    int rc = QR_OK;
    struct stat before, after;
    if (fstat(fd, &before) != 0) {
        *out_skip = QR_SKIP_UNREADABLE;
        goto out_close;
    }
    if (!S_ISREG(before.st_mode)) {
        *out_skip = QR_SKIP_CHANGED;
        goto out_close;
    }
    if ((uint64_t)before.st_size > max_size) {
        *out_skip = QR_SKIP_TOO_BIG;
        goto out_close;
    }
    size_t want = (size_t)before.st_size;
    /* One byte more than expected, to notice a file that grew. */
    if ((rc = qr_buf_reserve(buf, want + 1)))
        goto out_close;
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf->p + got, want + 1 - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            *out_skip = QR_SKIP_UNREADABLE;
            goto out_close;
        }
        if (r == 0)
            break;
        got += (size_t)r;
        if (got == want + 1)
            break;
    }
    if (fstat(fd, &after) != 0) {
        *out_skip = QR_SKIP_UNREADABLE;
        goto out_close;
    }
    if (got != want || after.st_size != before.st_size || mtime_of(&after) != mtime_of(&before)) {
        *out_skip = QR_SKIP_CHANGED;
        goto out_close;
    }
    buf->n = got;
    *out_size = (uint64_t)before.st_size;
    *out_mtime_ns = mtime_of(&before);
    if (qr_is_binary(buf->p, got))
        *out_skip = QR_SKIP_BINARY;
out_close:
    close(fd);
    return rc;
}

int qr_walk_read_walked(qr_buf *buf, uint64_t *out_size, int64_t *out_mtime_ns, int *out_skip,
                        const char *fs_path, const qr_walk_file *f, uint64_t max_size)
{
    *out_skip = -1;
    qr_buf_reset(buf);
    /*
     * The walk's stat stands for the one before the read: the fstat after
     * it finds any change since the walk. A matching file is complete once
     * its walked size is read (a longer file would not match). Anything
     * else is left to the full check (which also tells a file that changed
     * before the read, and is indexed as it is now, from one that changes
     * while read).
     */
    qr_walk_file seen;
    int fd;
    if (f->size == QR_WALK_SIZE_UNKNOWN) {
        /* Not stat'ed by the walk: an fstat of the open file stands in for it. */
        fd = open(fs_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return qr_walk_read_file(buf, out_size, out_mtime_ns, out_skip, fs_path, max_size);
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max_size ||
            (uint64_t)st.st_size >= SIZE_MAX) {
            close(fd);
            return qr_walk_read_file(buf, out_size, out_mtime_ns, out_skip, fs_path, max_size);
        }
        seen = *f;
        seen.size = (uint64_t)st.st_size;
        seen.mtime_ns = mtime_of(&st);
        f = &seen;
    } else {
        if (f->size > max_size || f->size >= SIZE_MAX)
            return qr_walk_read_file(buf, out_size, out_mtime_ns, out_skip, fs_path, max_size);
        fd = open(fs_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
            return qr_walk_read_file(buf, out_size, out_mtime_ns, out_skip, fs_path, max_size);
    }
    size_t want = (size_t)f->size, got = 0;
    int rc = qr_buf_reserve(buf, want + 1);
    if (rc) {
        close(fd);
        return rc;
    }
    bool ok = true;
    while (got <= want) {
        ssize_t r = read(fd, buf->p + got, want + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            ok = r == 0;
            break;
        }
        got += (size_t)r;
        if (got == want)
            break;
    }
    struct stat st;
    ok = ok && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && got == want &&
         (uint64_t)st.st_size == f->size && mtime_of(&st) == f->mtime_ns;
    close(fd);
    if (!ok)
        return qr_walk_read_file(buf, out_size, out_mtime_ns, out_skip, fs_path, max_size);
    buf->n = got;
    *out_size = f->size;
    *out_mtime_ns = f->mtime_ns;
    if (qr_is_binary(buf->p, got))
        *out_skip = QR_SKIP_BINARY;
    return QR_OK;
}
