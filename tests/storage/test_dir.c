/*
 * Tests for the directory layer (storage/dir*.c). One suite of semantics
 * runs against both the POSIX and the in-memory directory (DIR_TEST), then
 * the fault-injecting wrapper over each, then what only POSIX has: the
 * writer lock across processes, errno mapping, real short writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "dir_fixture.h"
#include "storage/dir_impl.h"

/* ---- files: create, write, size, map ---- */

DIR_TEST(dir, write_in_pieces_then_map)
{
    qr_file *f;
    cr_assert_eq(qr_dir_create(fx.d, "a.bin", &f), 0);
    cr_assert(qr_dir_exists(fx.d, "a.bin"), "a file exists while it is written");
    cr_assert_eq(qr_file_write(f, "hello ", 6), 0);
    cr_assert_eq(qr_file_write(f, "", 0), 0);
    cr_assert_eq(qr_file_write(f, "world", 5), 0);
    cr_assert_eq(qr_file_sync(f), 0);
    cr_assert_eq(qr_file_close(f), 0);
    uint64_t size;
    cr_assert_eq(qr_dir_size(fx.d, "a.bin", &size), 0);
    cr_assert_eq(size, 11);
    fx_expect_text(fx.d, "a.bin", "hello world");
}

DIR_TEST(dir, large_file_roundtrip)
{
    size_t n = 3 * 1024 * 1024 + 17;
    uint8_t *p = malloc(n);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(i * 2654435761u >> 13);
    cr_assert_eq(qr_dir_write_file(fx.d, "big", p, n), 0);
    fx_expect_bytes(fx.d, "big", p, n);
    free(p);
}

DIR_TEST(dir, empty_file_maps_to_null)
{
    cr_assert_eq(qr_dir_write_file(fx.d, "empty", NULL, 0), 0);
    qr_mapping *m;
    qr_slice s = {(const uint8_t *)"x", 1};
    cr_assert_eq(qr_dir_map(fx.d, "empty", &m, &s), 0);
    cr_assert_null(s.p);
    cr_assert_eq(s.n, 0);
    qr_mapping_close(m);
    uint64_t size = 99;
    cr_assert_eq(qr_dir_size(fx.d, "empty", &size), 0);
    cr_assert_eq(size, 0);
}

DIR_TEST(dir, create_of_existing_name_fails)
{
    fx_put(fx.d, "x", "first");
    qr_file *f = (qr_file *)1;
    cr_assert_eq(qr_dir_create(fx.d, "x", &f), QR_EIO);
    cr_assert_null(f);
    cr_assert_eq(qr_dir_write_file(fx.d, "x", "second", 6), QR_EIO);
    fx_expect_text(fx.d, "x", "first");

    qr_file *g;
    cr_assert_eq(qr_dir_create(fx.d, "open", &g), 0);
    cr_assert_eq(qr_dir_create(fx.d, "open", &f), QR_EIO, "also while the first is open");
    cr_assert_eq(qr_file_close(g), 0);
}

DIR_TEST(dir, bad_names_are_einval)
{
    static const char *bad[] = {"", ".", "..", "a/b", "/abs", "dir/"};
    char longname[300];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    qr_file *f;
    qr_mapping *m;
    qr_slice s;
    qr_lock *l;
    uint64_t size;
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
        const char *name = i < sizeof bad / sizeof bad[0] ? bad[i] : longname;
        cr_assert_eq(qr_dir_create(fx.d, name, &f), QR_EINVAL, "'%s'", name);
        cr_assert_eq(qr_dir_write_file(fx.d, name, "x", 1), QR_EINVAL);
        cr_assert_eq(qr_dir_map(fx.d, name, &m, &s), QR_EINVAL);
        cr_assert_eq(qr_dir_rename(fx.d, name, "ok"), QR_EINVAL);
        cr_assert_eq(qr_dir_rename(fx.d, "ok", name), QR_EINVAL);
        cr_assert_eq(qr_dir_remove(fx.d, name), QR_EINVAL);
        cr_assert_eq(qr_dir_size(fx.d, name, &size), QR_EINVAL);
        cr_assert_eq(qr_dir_lock(fx.d, name, &l, NULL), QR_EINVAL);
        cr_assert_not(qr_dir_exists(fx.d, name));
    }
    longname[255] = '\0';
    fx_put(fx.d, longname, "255 bytes is the limit");
}

DIR_TEST(dir, missing_files_are_enotfound)
{
    qr_mapping *m;
    qr_slice s;
    uint64_t size;
    cr_assert_eq(qr_dir_map(fx.d, "nope", &m, &s), QR_ENOTFOUND);
    cr_assert_null(m);
    cr_assert_eq(qr_dir_size(fx.d, "nope", &size), QR_ENOTFOUND);
    cr_assert_eq(qr_dir_remove(fx.d, "nope"), QR_ENOTFOUND);
    cr_assert_eq(qr_dir_rename(fx.d, "nope", "other"), QR_ENOTFOUND);
    cr_assert_not(qr_dir_exists(fx.d, "nope"));
    cr_assert_not(qr_dir_exists(fx.d, "other"));
}

/* ---- names: rename, remove, list ---- */

DIR_TEST(dir, rename_moves_and_replaces)
{
    fx_put(fx.d, "a", "alpha");
    fx_put(fx.d, "b", "beta");
    qr_mapping *old_b;
    qr_slice s;
    cr_assert_eq(qr_dir_map(fx.d, "b", &old_b, &s), 0);

    cr_assert_eq(qr_dir_rename(fx.d, "a", "b"), 0);
    cr_assert_not(qr_dir_exists(fx.d, "a"));
    fx_expect_text(fx.d, "b", "alpha");
    cr_assert_eq(s.n, 4);
    cr_assert_eq(memcmp(s.p, "beta", 4), 0, "the replaced file stays readable through its mapping");
    qr_mapping_close(old_b);

    cr_assert_eq(qr_dir_rename(fx.d, "b", "c"), 0);
    fx_expect_text(fx.d, "c", "alpha");
    cr_assert_eq(qr_dir_rename(fx.d, "c", "c"), 0, "renaming onto itself changes nothing");
    fx_expect_text(fx.d, "c", "alpha");
    char listing[256];
    fx_listing(fx.d, listing, sizeof listing);
    cr_assert_str_eq(listing, "c");
}

DIR_TEST(dir, rename_of_a_file_being_written)
{
    qr_file *f;
    cr_assert_eq(qr_dir_create(fx.d, "part.tmp", &f), 0);
    cr_assert_eq(qr_file_write(f, "abc", 3), 0);
    cr_assert_eq(qr_file_close(f), 0);
    cr_assert_eq(qr_dir_rename(fx.d, "part.tmp", "part"), 0);
    fx_expect_text(fx.d, "part", "abc");
}

DIR_TEST(dir, mapping_outlives_remove)
{
    fx_put(fx.d, "seg", "immutable bytes");
    qr_mapping *m;
    qr_slice s;
    cr_assert_eq(qr_dir_map(fx.d, "seg", &m, &s), 0);
    cr_assert_eq(qr_dir_remove(fx.d, "seg"), 0);
    cr_assert_not(qr_dir_exists(fx.d, "seg"));
    cr_assert_eq(qr_dir_remove(fx.d, "seg"), QR_ENOTFOUND);
    fx_put(fx.d, "seg", "a new file, same name");
    cr_assert_eq(s.n, 15);
    cr_assert_eq(memcmp(s.p, "immutable bytes", 15), 0);
    qr_mapping_close(m);
    fx_expect_text(fx.d, "seg", "a new file, same name");
}

DIR_TEST(dir, mapping_outlives_directory)
{
    fx_put(fx.d, "f", "still here");
    qr_mapping *m;
    qr_slice s;
    cr_assert_eq(qr_dir_map(fx.d, "f", &m, &s), 0);
    qr_dir_close(fx.d);
    fx.d = NULL;
    cr_assert_eq(memcmp(s.p, "still here", 10), 0);
    qr_mapping_close(m);
}

DIR_TEST(dir, open_file_and_lock_outlive_directory)
{
    qr_file *f;
    qr_lock *l;
    cr_assert_eq(qr_dir_create(fx.d, "late", &f), 0);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, NULL), 0);
    qr_dir_close(fx.d);
    fx.d = NULL;
    cr_assert_eq(qr_file_write(f, "x", 1), 0);
    cr_assert_eq(qr_file_close(f), 0);
    qr_dir_unlock(l);
}

DIR_TEST(dir, list_is_sorted_bytewise)
{
    char **names = (char **)1;
    size_t n = 99;
    cr_assert_eq(qr_dir_list(fx.d, &names, &n), 0);
    cr_assert_eq(n, 0, "a new directory is empty");
    qr_dir_list_free(names, n);

    static const char *add[] = {"seg-02.doc", "b", "MANIFEST-01", "a", "B", "seg-01.doc"};
    for (size_t i = 0; i < sizeof add / sizeof add[0]; i++)
        fx_put(fx.d, add[i], add[i]);
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof name, "z%02d", 39 - i);
        fx_put(fx.d, name, "");
    }
    cr_assert_eq(qr_dir_list(fx.d, &names, &n), 0);
    cr_assert_eq(n, 46);
    cr_assert_str_eq(names[0], "B");
    cr_assert_str_eq(names[1], "MANIFEST-01");
    cr_assert_str_eq(names[2], "a");
    cr_assert_str_eq(names[3], "b");
    cr_assert_str_eq(names[4], "seg-01.doc");
    cr_assert_str_eq(names[5], "seg-02.doc");
    for (size_t i = 6; i < n; i++)
        cr_assert_lt(strcmp(names[i - 1], names[i]), 0);
    qr_dir_list_free(names, n);
    qr_dir_list_free(NULL, 0);
}

DIR_TEST(dir, abort_removes_the_file)
{
    qr_file *f;
    cr_assert_eq(qr_dir_create(fx.d, "doomed", &f), 0);
    cr_assert_eq(qr_file_write(f, "partial", 7), 0);
    qr_file_abort(f);
    qr_file_abort(NULL);
    cr_assert_not(qr_dir_exists(fx.d, "doomed"));
    fx_put(fx.d, "doomed", "the name is free again");
}

DIR_TEST(dir, sync_and_path)
{
    fx_put(fx.d, "f", "data");
    cr_assert_eq(qr_dir_sync(fx.d), 0);
    if (fx.posix)
        cr_assert_str_eq(qr_dir_path(fx.d), fx.path);
    else
        cr_assert_str_eq(qr_dir_path(fx.d), "(memory)");
    qr_dir_close(NULL);
    qr_mapping_close(NULL);
    qr_dir_unlock(NULL);
}

/* ---- the writer lock ---- */

DIR_TEST(dir, second_lock_in_process_conflicts)
{
    qr_lock *l1, *l2 = (qr_lock *)1;
    long holder = -1;
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l1, &holder), 0);
    cr_assert_eq(holder, 0);
    char pid[32];
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    fx_expect_text(fx.d, "LOCK", pid);

    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l2, &holder), QR_ELOCKED);
    cr_assert_null(l2);
    cr_assert_eq(holder, (long)getpid());
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l2, NULL), QR_ELOCKED, "pid out-param optional");

    cr_assert_eq(qr_dir_lock(fx.d, "OTHER", &l2, NULL), 0, "locks of other names are separate");
    qr_dir_unlock(l2);

    qr_dir_unlock(l1);
    fx_expect_text(fx.d, "LOCK", "");
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l2, &holder), 0, "free again after unlock");
    fx_expect_text(fx.d, "LOCK", pid);
    qr_dir_unlock(l2);
}

Test(dir_posix, lock_conflicts_between_two_opens_of_one_index, .init = fx_setup_posix,
     .fini = fx_teardown)
{
    qr_dir *again;
    qr_lock *l1, *l2;
    long holder = 0;
    cr_assert_eq(qr_dir_open_posix(&again, fx.path, false), 0);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l1, NULL), 0);
    cr_assert_eq(qr_dir_lock(again, "LOCK", &l2, &holder), QR_ELOCKED);
    cr_assert_eq(holder, (long)getpid());
    qr_dir_unlock(l1);
    cr_assert_eq(qr_dir_lock(again, "LOCK", &l2, &holder), 0);
    qr_dir_unlock(l2);
    qr_dir_close(again);
}

Test(dir_posix, lock_holder_unknown_reads_as_zero, .init = fx_setup_posix, .fini = fx_teardown)
{
    qr_lock *l1, *l2;
    long holder = -1;
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l1, NULL), 0);
    /* Someone scribbled over the pid: the conflict is still reported, the holder unknown. */
    char path[128];
    snprintf(path, sizeof path, "%s/LOCK", fx.path);
    int fd = open(path, O_WRONLY | O_TRUNC);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "pid?", 4), 4);
    close(fd);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l2, &holder), QR_ELOCKED);
    cr_assert_eq(holder, 0);
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l2, &holder), QR_ELOCKED);
    cr_assert_eq(holder, 0, "an empty lock file names no one");
    qr_dir_unlock(l1);
}

/* Child: opens the index anew and tries the lock; exits 0 when refused naming `expect`. */
static void child_expects_locked(const char *path, long expect)
{
    qr_dir *d;
    qr_lock *l;
    long holder = 0;
    if (qr_dir_open_posix(&d, path, false) != 0)
        _exit(10);
    int rc = qr_dir_lock(d, "LOCK", &l, &holder);
    _exit(rc == QR_ELOCKED && holder == expect ? 0 : 20 + (rc == 0));
}

Test(dir_posix, lock_conflicts_across_processes, .init = fx_setup_posix, .fini = fx_teardown)
{
    qr_lock *l;
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, NULL), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0)
        child_expects_locked(fx.path, (long)getppid());
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child saw status %d", WEXITSTATUS(st));
    qr_dir_unlock(l);
}

Test(dir_posix, lock_held_by_child_names_it_and_dies_with_it, .init = fx_setup_posix,
     .fini = fx_teardown)
{
    int locked[2], go[2];
    cr_assert_eq(pipe(locked), 0);
    cr_assert_eq(pipe(go), 0);
    pid_t child = fork();
    cr_assert_geq(child, 0);
    if (child == 0) {
        qr_dir *d;
        qr_lock *l;
        char c = 'L';
        if (qr_dir_open_posix(&d, fx.path, false) != 0 || qr_dir_lock(d, "LOCK", &l, NULL) != 0)
            c = 'E';
        if (write(locked[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(2);
        _exit(0); /* dies holding the lock: the kernel releases it */
    }
    char c = 0;
    cr_assert_eq(read(locked[0], &c, 1), 1);
    cr_assert_eq(c, 'L');
    qr_lock *l;
    long holder = 0;
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, &holder), QR_ELOCKED);
    cr_assert_eq(holder, (long)child);
    cr_assert_eq(write(go[1], "g", 1), 1);
    int st;
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, &holder), 0, "released when its holder died");
    qr_dir_unlock(l);
}

/* ---- POSIX specifics ---- */

Test(dir_posix, open_missing_create_and_errors)
{
    char base[] = "/tmp/quarry-test-XXXXXX";
    cr_assert_not_null(mkdtemp(base));
    char path[128];
    qr_dir *d = (qr_dir *)1;
    snprintf(path, sizeof path, "%s/index", base);
    cr_assert_eq(qr_dir_open_posix(&d, path, false), QR_ENOTFOUND);
    cr_assert_null(d);
    cr_assert_eq(qr_dir_open_posix(&d, path, true), 0);
    fx_put(d, "f", "x");
    qr_dir_close(d);
    cr_assert_eq(qr_dir_open_posix(&d, path, true), 0, "create opens an existing directory");
    cr_assert(qr_dir_exists(d, "f"));
    qr_dir_close(d);

    snprintf(path, sizeof path, "%s/missing/index", base);
    cr_assert_eq(qr_dir_open_posix(&d, path, true), QR_EIO, "one level only");
    snprintf(path, sizeof path, "%s/index/f", base);
    cr_assert_eq(qr_dir_open_posix(&d, path, false), QR_EIO, "not a directory");
    cr_assert_eq(qr_dir_open_posix(&d, path, true), QR_EIO);
    cr_assert_eq(qr_dir_open_posix(&d, "", false), QR_EINVAL);

    snprintf(path, sizeof path, "%s/index/f", base);
    unlink(path);
    snprintf(path, sizeof path, "%s/index", base);
    rmdir(path);
    rmdir(base);
}

Test(dir_posix, open_fails_cleanly_without_memory)
{
    qr_dir *d;
    for (long n = 0; n < 2; n++) {
        qr_alloc_fail_after(n);
        int rc = qr_dir_open_posix(&d, "/tmp", false);
        qr_alloc_fail_after(-1);
        cr_assert_eq(rc, QR_ENOMEM);
        cr_assert_null(d);
    }
}

Test(dir_posix, mapping_a_directory_is_eio, .init = fx_setup_posix, .fini = fx_teardown)
{
    char path[128];
    snprintf(path, sizeof path, "%s/sub", fx.path);
    cr_assert_eq(mkdir(path, 0777), 0);
    qr_mapping *m;
    qr_slice s;
    cr_assert_eq(qr_dir_map(fx.d, "sub", &m, &s), QR_EIO);
    cr_assert_eq(qr_dir_remove(fx.d, "sub"), QR_EIO, "remove takes files only");
    cr_assert_eq(qr_dir_rename(fx.d, "sub", "sub2"), 0);
    fx_put(fx.d, "f", "x");
    cr_assert_eq(qr_dir_rename(fx.d, "f", "sub2"), QR_EIO, "a file cannot replace a directory");
}

Test(dir_posix, short_writes_past_a_size_limit_are_eio, .init = fx_setup_posix, .fini = fx_teardown)
{
    /* RLIMIT_FSIZE makes write() stop short, then fail with EFBIG. */
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 1000;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char buf[3000];
    memset(buf, 'q', sizeof buf);
    qr_file *f;
    cr_assert_eq(qr_dir_create(fx.d, "capped", &f), 0);
    int rc = qr_file_write(f, buf, sizeof buf);
    cr_assert_eq(qr_file_close(f), 0);
    uint64_t size = 0;
    cr_assert_eq(qr_dir_size(fx.d, "capped", &size), 0);
    int rc2 = qr_dir_write_file(fx.d, "capped2", buf, sizeof buf);
    setrlimit(RLIMIT_FSIZE, &old);
    cr_assert_eq(rc, QR_EIO);
    cr_assert_eq(size, 1000, "the short write's bytes were kept, the rest refused");
    cr_assert_eq(rc2, QR_EIO);
    cr_assert_not(qr_dir_exists(fx.d, "capped2"), "write_file removes what it half wrote");
}

Test(dir_posix, lock_file_that_cannot_be_opened_is_eio, .init = fx_setup_posix, .fini = fx_teardown)
{
    char path[128];
    snprintf(path, sizeof path, "%s/LOCK", fx.path);
    cr_assert_eq(mkdir(path, 0777), 0);
    qr_lock *l;
    long holder = -1;
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, &holder), QR_EIO);
    cr_assert_null(l);
    cr_assert_eq(holder, 0);
}

Test(dir_posix, classic_fcntl_lock_holder_is_named, .init = fx_setup_posix, .fini = fx_teardown)
{
    /* A non-quarry process holding a classic lock (no pid in the file): F_GETLK names it. */
    char path[128];
    snprintf(path, sizeof path, "%s/LOCK", fx.path);
    int fd = open(path, O_RDWR | O_CREAT, 0666);
    cr_assert_geq(fd, 0);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    cr_assert_eq(fcntl(fd, F_SETLK, &fl), 0);
    qr_lock *l;
    long holder = 0;
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, &holder), QR_ELOCKED);
    cr_assert_eq(holder, (long)getpid());
    close(fd);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, &holder), 0);
    qr_dir_unlock(l);
}

Test(dir_posix, directory_removed_under_us, .init = fx_setup_posix, .fini = fx_teardown)
{
    fx_put(fx.d, "f", "x");
    qr_mapping *m;
    qr_slice s;
    cr_assert_eq(qr_dir_map(fx.d, "f", &m, &s), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/f", fx.path);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(fx.path), 0);
    qr_file *f;
    qr_lock *l;
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_create(fx.d, "g", &f), QR_EIO);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l, NULL), QR_EIO);
    cr_assert_eq(qr_dir_list(fx.d, &names, &n), 0);
    cr_assert_eq(n, 0, "a removed directory lists empty");
    cr_assert_eq(qr_dir_write_file(fx.d, "g", "x", 1), QR_EIO);
    cr_assert_eq(memcmp(s.p, "x", 1), 0, "mappings stay valid");
    qr_mapping_close(m);
}

Test(dir_posix, errno_mapping)
{
    cr_assert_eq(qr_dir_errno_status(ENOSPC, false), QR_ENOSPC);
    cr_assert_eq(qr_dir_errno_status(EDQUOT, true), QR_ENOSPC);
    cr_assert_eq(qr_dir_errno_status(ENOENT, true), QR_ENOTFOUND);
    cr_assert_eq(qr_dir_errno_status(ENOENT, false), QR_EIO);
    cr_assert_eq(qr_dir_errno_status(ENOMEM, false), QR_ENOMEM);
    cr_assert_eq(qr_dir_errno_status(EACCES, true), QR_EIO);
    cr_assert_eq(qr_dir_errno_status(EIO, true), QR_EIO);
}

Test(dir_memory, mapping_a_file_being_written_is_einval, .init = fx_setup_memory,
     .fini = fx_teardown)
{
    qr_file *f;
    qr_mapping *m;
    qr_slice s;
    cr_assert_eq(qr_dir_create(fx.d, "w", &f), 0);
    cr_assert_eq(qr_dir_map(fx.d, "w", &m, &s), QR_EINVAL);
    cr_assert_eq(qr_file_close(f), 0);
    cr_assert_eq(qr_dir_map(fx.d, "w", &m, &s), 0);
    qr_mapping_close(m);
}

DIR_TEST(dir, remove_while_writing_then_abort)
{
    /* The name is reused meanwhile: aborting the first file must not remove the second. */
    qr_file *f;
    cr_assert_eq(qr_dir_create(fx.d, "n", &f), 0);
    cr_assert_eq(qr_dir_remove(fx.d, "n"), 0);
    cr_assert_eq(qr_file_write(f, "orphan", 6), 0);
    if (!fx.posix) {
        fx_put(fx.d, "n", "second");
        qr_file_abort(f);
        fx_expect_text(fx.d, "n", "second");
    } else {
        qr_file_abort(f);
        cr_assert_not(qr_dir_exists(fx.d, "n"));
    }
}

/* ---- allocation failures ---- */

/* Each of these calls allocates; failing each allocation in turn must give QR_ENOMEM and no leak.
 */
DIR_TEST(dir, every_allocation_failure_is_enomem)
{
    fx_put(fx.d, "existing", "bytes");
    enum { CREATE, WRITE_FILE, MAP, LIST, LOCK, RENAME, STEPS };
    for (int step = 0; step < STEPS; step++) {
        for (long n = 0;; n++) {
            qr_file *f = NULL;
            qr_mapping *m = NULL;
            qr_lock *l = NULL;
            qr_slice s;
            char **names = NULL;
            size_t count = 0;
            int rc = 0;
            qr_alloc_fail_after(n);
            switch (step) {
            case CREATE:
                rc = qr_dir_create(fx.d, "new", &f);
                break;
            case WRITE_FILE:
                rc = qr_dir_write_file(fx.d, "new", "0123456789", 10);
                break;
            case MAP:
                rc = qr_dir_map(fx.d, "existing", &m, &s);
                break;
            case LIST:
                rc = qr_dir_list(fx.d, &names, &count);
                break;
            case LOCK:
                rc = qr_dir_lock(fx.d, "LOCK", &l, NULL);
                break;
            case RENAME:
                rc = qr_dir_rename(fx.d, "existing", "renamed");
                break;
            }
            long failed = qr_alloc_failures();
            qr_alloc_fail_after(-1);
            if (failed == 0) {
                cr_assert_eq(rc, 0, "step %d", step);
                qr_file_abort(f);
                if (step == WRITE_FILE)
                    cr_assert_eq(qr_dir_remove(fx.d, "new"), 0);
                qr_mapping_close(m);
                qr_dir_list_free(names, count);
                qr_dir_unlock(l);
                if (step == RENAME)
                    cr_assert_eq(qr_dir_rename(fx.d, "renamed", "existing"), 0);
                break;
            }
            cr_assert_eq(rc, QR_ENOMEM, "step %d, allocation %ld: %d", step, n, rc);
            cr_assert_not(qr_dir_exists(fx.d, "new"), "step %d: no half-made file", step);
            cr_assert(qr_dir_exists(fx.d, "existing"));
            cr_assert_null(f);
            cr_assert_null(m);
            cr_assert_null(l);
            cr_assert_null(names);
        }
    }
    qr_dir *faulty;
    for (long n = 0;; n++) {
        qr_alloc_fail_after(n);
        int rc = qr_dir_open_faulty(&faulty, fx.d);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failed == 0) {
            cr_assert_eq(rc, 0);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM);
    }
    for (long n = 0;; n++) {
        qr_file *f = NULL;
        qr_alloc_fail_after(n);
        int rc = qr_dir_create(faulty, "via-faulty", &f);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failed == 0) {
            cr_assert_eq(rc, 0);
            qr_file_abort(f);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM);
        cr_assert_not(qr_dir_exists(fx.d, "via-faulty"));
    }
    qr_dir_close(faulty);
}

Test(dir_memory, open_fails_cleanly_without_memory)
{
    qr_dir *d = (qr_dir *)1;
    qr_alloc_fail_after(0);
    int rc = qr_dir_open_memory(&d);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    cr_assert_null(d);
}

DIR_TEST(dir, sync_start_changes_nothing_but_the_timing)
{
    qr_file *f;
    cr_assert_eq(qr_dir_create(fx.d, "grow", &f), 0);
    cr_assert_eq(qr_file_sync_start(f), 0, "nothing written yet");
    cr_assert_eq(qr_file_write(f, "head ", 5), 0);
    cr_assert_eq(qr_file_sync_start(f), 0);
    cr_assert_eq(qr_file_write(f, "tail", 4), 0, "writes go on after a write-out started");
    cr_assert_eq(qr_file_sync_start(f), 0);
    cr_assert_eq(qr_file_sync_start(f), 0, "twice in a row");
    cr_assert_eq(qr_file_sync(f), 0);
    cr_assert_eq(qr_file_close(f), 0);
    fx_expect_text(fx.d, "grow", "head tail");
    cr_assert_eq(qr_dir_create(fx.d, "gone", &f), 0);
    cr_assert_eq(qr_file_write(f, "x", 1), 0);
    cr_assert_eq(qr_file_sync_start(f), 0);
    qr_file_abort(f);
    cr_assert_not(qr_dir_exists(fx.d, "gone"), "abort removes a file whose write-out started");
}

/* ---- the faulty wrapper ---- */

DIR_TEST(faulty, passes_everything_through)
{
    qr_dir *fd;
    cr_assert_eq(qr_dir_open_faulty(&fd, fx.d), 0);
    cr_assert_str_eq(qr_dir_path(fd), qr_dir_path(fx.d));
    fx_put(fd, "a", "alpha");
    cr_assert(qr_dir_exists(fx.d, "a"));
    cr_assert(qr_dir_exists(fd, "a"));
    uint64_t size;
    cr_assert_eq(qr_dir_size(fd, "a", &size), 0);
    cr_assert_eq(size, 5);
    fx_expect_text(fd, "a", "alpha");
    cr_assert_eq(qr_dir_rename(fd, "a", "b"), 0);
    char listing[64];
    fx_listing(fd, listing, sizeof listing);
    cr_assert_str_eq(listing, "b");
    qr_lock *l1, *l2;
    long holder;
    cr_assert_eq(qr_dir_lock(fd, "LOCK", &l1, NULL), 0);
    cr_assert_eq(qr_dir_lock(fx.d, "LOCK", &l2, &holder), QR_ELOCKED);
    qr_dir_unlock(l1);
    cr_assert_eq(qr_dir_remove(fd, "b"), 0);
    cr_assert_eq(qr_dir_sync(fd), 0);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_CREATE), 1);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_WRITE), 1);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_SYNC), 2, "file sync and directory sync");
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_RENAME), 1);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_REMOVE), 1);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_MAP), 1);
    qr_file *f;
    cr_assert_eq(qr_dir_create(fd, "c", &f), 0);
    cr_assert_eq(qr_file_write(f, "see", 3), 0);
    cr_assert_eq(qr_file_sync_start(f), 0);
    cr_assert_eq(qr_file_sync(f), 0);
    cr_assert_eq(qr_file_close(f), 0);
    fx_expect_text(fx.d, "c", "see");
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_SYNC_START), 1);
    qr_dir_close(fd);
}

/*
 * Performs one call of op through d (a faulty wrapper of fx.d); returns its
 * status. Needs a file "src"; undoes its effect through fx.d, uncounted.
 */
static int do_op(qr_dir *d, qr_fault_op op)
{
    qr_file *f;
    qr_mapping *m;
    qr_slice s;
    int rc;
    switch (op) {
    case QR_FAULT_CREATE:
        rc = qr_dir_create(d, "made", &f);
        if (rc == 0)
            qr_file_abort(f);
        return rc;
    case QR_FAULT_WRITE:
        cr_assert_eq(qr_dir_create(d, "made", &f), 0);
        rc = qr_file_write(f, "0123456789", 10);
        qr_file_abort(f);
        return rc;
    case QR_FAULT_SYNC:
        return qr_dir_sync(d);
    case QR_FAULT_RENAME:
        rc = qr_dir_rename(d, "src", "dst");
        if (rc == 0)
            cr_assert_eq(qr_dir_rename(fx.d, "dst", "src"), 0); /* uncounted */
        return rc;
    case QR_FAULT_REMOVE:
        rc = qr_dir_remove(d, "src");
        if (rc == 0)
            fx_put(fx.d, "src", "source");
        return rc;
    case QR_FAULT_MAP:
        rc = qr_dir_map(d, "src", &m, &s);
        if (rc == 0)
            qr_mapping_close(m);
        return rc;
    case QR_FAULT_SYNC_START:
        cr_assert_eq(qr_dir_create(d, "made", &f), 0);
        cr_assert_eq(qr_file_write(f, "0123456789", 10), 0);
        rc = qr_file_sync_start(f);
        qr_file_abort(f);
        return rc;
    case QR_FAULT_OP_COUNT:
        break;
    }
    return QR_EINVAL;
}

DIR_TEST(faulty, nth_call_of_each_kind_fails_with_the_armed_code)
{
    qr_dir *fd;
    cr_assert_eq(qr_dir_open_faulty(&fd, fx.d), 0);
    fx_put(fx.d, "src", "source");
    static const int codes[] = {QR_EIO, QR_ENOSPC, QR_ENOTFOUND};
    for (int op = 0; op < QR_FAULT_OP_COUNT; op++) {
        for (long nth = 0; nth < 3; nth++) {
            int code = codes[nth];
            qr_dir_fault_arm(fd, (qr_fault_op)op, nth, code);
            for (long call = 0; call < 5; call++) {
                long before = qr_dir_fault_calls(fd, (qr_fault_op)op);
                int rc = do_op(fd, (qr_fault_op)op);
                cr_assert_eq(rc, call == nth ? code : 0, "op %d nth %ld call %ld: %d", op, nth,
                             call, rc);
                cr_assert_geq(qr_dir_fault_calls(fd, (qr_fault_op)op), before + 1);
            }
        }
        qr_dir_fault_arm(fd, (qr_fault_op)op, 0, QR_EIO);
        qr_dir_fault_arm(fd, (qr_fault_op)op, -1, QR_EIO);
        cr_assert_eq(do_op(fd, (qr_fault_op)op), 0, "op %d: a negative nth disarms", op);
    }
    cr_assert(qr_dir_exists(fx.d, "src"), "failed removes and renames changed nothing");
    cr_assert_not(qr_dir_exists(fx.d, "dst"));
    cr_assert_not(qr_dir_exists(fx.d, "made"));
    qr_dir_close(fd);
}

DIR_TEST(faulty, failed_write_leaves_half_the_bytes)
{
    qr_dir *fd;
    cr_assert_eq(qr_dir_open_faulty(&fd, fx.d), 0);
    qr_file *f;
    cr_assert_eq(qr_dir_create(fd, "half", &f), 0);
    cr_assert_eq(qr_file_write(f, "head:", 5), 0);
    qr_dir_fault_arm(fd, QR_FAULT_WRITE, 0, QR_ENOSPC);
    cr_assert_eq(qr_file_write(f, "0123456789", 10), QR_ENOSPC);
    cr_assert_eq(qr_file_write(f, "x", 1), 0, "the next write works again");
    cr_assert_eq(qr_file_close(f), 0);
    fx_expect_text(fx.d, "half", "head:01234x");

    qr_dir_fault_arm(fd, QR_FAULT_WRITE, 0, QR_ENOSPC);
    cr_assert_eq(qr_dir_write_file(fd, "whole", "0123456789", 10), QR_ENOSPC);
    cr_assert_not(qr_dir_exists(fx.d, "whole"), "write_file removes the half-written file");
    qr_dir_fault_arm(fd, QR_FAULT_SYNC, 0, QR_EIO);
    cr_assert_eq(qr_dir_write_file(fd, "whole", "0123456789", 10), QR_EIO);
    cr_assert_not(qr_dir_exists(fx.d, "whole"), "also after a failed fsync");
    qr_dir_fault_arm(fd, QR_FAULT_CREATE, 0, QR_ENOSPC);
    cr_assert_eq(qr_dir_write_file(fd, "whole", "0123456789", 10), QR_ENOSPC);
    cr_assert_not(qr_dir_exists(fx.d, "whole"));
    cr_assert_eq(qr_dir_write_file(fd, "whole", "0123456789", 10), 0);
    fx_expect_text(fx.d, "whole", "0123456789");

    qr_dir_fault_arm(fd, QR_FAULT_WRITE, 0, QR_EIO);
    cr_assert_eq(qr_dir_create(fd, "one", &f), 0);
    cr_assert_eq(qr_file_write(f, "1", 1), QR_EIO);
    cr_assert_eq(qr_file_close(f), 0);
    fx_expect_text(fx.d, "one", "");
    qr_dir_close(fd);
}
