/*
 * A test fixture shared by the directory and manifest tests: one test body
 * runs against both directory implementations. DIR_TEST(suite, name) defines
 * the body once and registers two Criterion tests, <suite>_posix/<name> (a
 * fresh mkdtemp directory under /tmp, removed afterwards) and
 * <suite>_memory/<name>. The body sees the open directory as `fx.d`.
 */
#ifndef QR_TESTS_STORAGE_DIR_FIXTURE_H
#define QR_TESTS_STORAGE_DIR_FIXTURE_H

#include <criterion/criterion.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/alloc.h"
#include "storage/dir.h"
#include "storage/status.h"

typedef struct dir_fixture {
    qr_dir *d;     /* the directory under test */
    bool posix;    /* which implementation */
    char path[64]; /* POSIX: the temporary directory */
} dir_fixture;

static dir_fixture fx;

static void fx_setup_posix(void)
{
    memset(&fx, 0, sizeof fx);
    fx.posix = true;
    strcpy(fx.path, "/tmp/quarry-test-XXXXXX");
    cr_assert_not_null(mkdtemp(fx.path));
    cr_assert_eq(qr_dir_open_posix(&fx.d, fx.path, false), 0);
}

static void fx_setup_memory(void)
{
    memset(&fx, 0, sizeof fx);
    cr_assert_eq(qr_dir_open_memory(&fx.d), 0);
}

static int fx_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void fx_teardown(void)
{
    qr_alloc_fail_after(-1);
    qr_dir_close(fx.d);
    fx.d = NULL;
    if (fx.posix && fx.path[0])
        nftw(fx.path, fx_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#define DIR_TEST(suite, name)                                                                      \
    static void suite##_##name##_body(void);                                                       \
    Test(suite##_posix, name, .init = fx_setup_posix, .fini = fx_teardown)                         \
    {                                                                                              \
        suite##_##name##_body();                                                                   \
    }                                                                                              \
    Test(suite##_memory, name, .init = fx_setup_memory, .fini = fx_teardown)                       \
    {                                                                                              \
        suite##_##name##_body();                                                                   \
    }                                                                                              \
    static void suite##_##name##_body(void)

/* Writes a whole file through the layer under test. */
static inline void fx_put(qr_dir *d, const char *name, const char *text)
{
    cr_assert_eq(qr_dir_write_file(d, name, text, strlen(text)), 0, "writing %s", name);
}

/* Asserts that file `name` holds exactly n bytes p. */
static inline void fx_expect_bytes(qr_dir *d, const char *name, const void *p, size_t n)
{
    qr_mapping *m;
    qr_slice s;
    cr_assert_eq(qr_dir_map(d, name, &m, &s), 0, "mapping %s", name);
    cr_assert_eq(s.n, n, "%s: %zu bytes, expected %zu", name, s.n, n);
    if (n)
        cr_assert_eq(memcmp(s.p, p, n), 0, "%s: content differs", name);
    qr_mapping_close(m);
}

static inline void fx_expect_text(qr_dir *d, const char *name, const char *text)
{
    fx_expect_bytes(d, name, text, strlen(text));
}

/* The listing joined by spaces into out (for whole-directory comparisons). */
static inline void fx_listing(qr_dir *d, char *out, size_t cap)
{
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(d, &names, &n), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i)
            strncat(out, " ", cap - strlen(out) - 1);
        strncat(out, names[i], cap - strlen(out) - 1);
    }
    qr_dir_list_free(names, n);
}

#endif
