/*
 * Tests for storage/manifest.c: the manifest's byte format, commit and load
 * (newest wins, no fallback past a corrupt one), corruption of every byte,
 * faults and allocation failures during commit and load, garbage collection,
 * and the deletion bitmaps. Every directory-level test runs against both the
 * POSIX and the memory directory (DIR_TEST).
 */
#include <sys/stat.h>

#include "dir_fixture.h"
#include "storage/buf.h"
#include "storage/checksum.h"
#include "storage/manifest.h"

static qr_manifest_seg three_segs[] = {
    {.id = 1, .docs = 100, .deleted = 3, .del_gen = 2, .live_positions = 12345},
    {.id = 4, .docs = 7, .deleted = 0, .del_gen = 0, .live_positions = 99},
    {.id = 2, .docs = 1, .deleted = 1, .del_gen = 1, .live_positions = 0},
};

/* A valid manifest of generation gen over the three segments above (not owned: don't free). */
static qr_manifest sample(uint64_t gen)
{
    qr_manifest m = {.generation = gen, .next_id = 5, .nsegs = 3, .segs = three_segs};
    strcpy(m.language, "english");
    return m;
}

static void expect_same(const qr_manifest *a, const qr_manifest *b)
{
    cr_assert_eq(a->generation, b->generation);
    cr_assert_eq(a->next_id, b->next_id);
    cr_assert_str_eq(a->language, b->language);
    cr_assert_eq(a->nsegs, b->nsegs);
    for (uint32_t i = 0; i < a->nsegs; i++) {
        cr_assert_eq(a->segs[i].id, b->segs[i].id, "seg %u", i);
        cr_assert_eq(a->segs[i].docs, b->segs[i].docs);
        cr_assert_eq(a->segs[i].deleted, b->segs[i].deleted);
        cr_assert_eq(a->segs[i].del_gen, b->segs[i].del_gen);
        cr_assert_eq(a->segs[i].live_positions, b->segs[i].live_positions);
    }
}

/* Asserts that load gives generation gen. */
static void expect_loads(qr_dir *d, uint64_t gen)
{
    qr_manifest got;
    int rc = qr_manifest_load(&got, d);
    cr_assert_eq(rc, 0, "load: %s", qr_strerror(rc));
    cr_assert_eq(got.generation, gen);
    qr_manifest_free(&got);
}

/* Asserts that no *.tmp file is in the directory. */
static void expect_no_tmp(qr_dir *d)
{
    char **names;
    size_t n;
    cr_assert_eq(qr_dir_list(d, &names, &n), 0);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        cr_assert(len < 4 || strcmp(names[i] + len - 4, ".tmp") != 0, "left behind: %s", names[i]);
    }
    qr_dir_list_free(names, n);
}

/* ---- names and in-memory helpers ---- */

Test(manifest, file_names)
{
    char name[48];
    qr_manifest_file_name(name, 0x1a);
    cr_assert_str_eq(name, "MANIFEST-000000000000001a");
    qr_manifest_file_name(name, UINT64_MAX);
    cr_assert_str_eq(name, "MANIFEST-ffffffffffffffff");
    qr_deletes_file_name(name, 0xabc, 3);
    cr_assert_str_eq(name, "seg-0000000000000abc-0000000000000003.del");
}

Test(manifest, live_counts_and_copy)
{
    qr_manifest m = sample(1);
    cr_assert_eq(qr_manifest_live_docs(&m), 97 + 7 + 0);
    cr_assert_eq(qr_manifest_live_positions(&m), 12345 + 99);
    qr_manifest c;
    cr_assert_eq(qr_manifest_copy(&c, &m), 0);
    cr_assert_neq(c.segs, m.segs, "a deep copy");
    expect_same(&c, &m);
    qr_manifest_free(&c);
    cr_assert_null(c.segs);
    qr_manifest_free(NULL);

    qr_alloc_fail_after(0);
    int rc = qr_manifest_copy(&c, &m);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    cr_assert_null(c.segs);

    qr_manifest empty = {.generation = 1, .next_id = 1};
    cr_assert_eq(qr_manifest_copy(&c, &empty), 0);
    cr_assert_eq(c.nsegs, 0);
    cr_assert_eq(qr_manifest_live_docs(&c), 0);
    qr_manifest_free(&c);
}

/* ---- commit and load ---- */

DIR_TEST(manifest, commit_then_load_roundtrip)
{
    qr_manifest m = sample(1), got;
    cr_assert_eq(qr_manifest_load(&got, fx.d), QR_ENOTFOUND, "no manifest at all");
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    cr_assert(qr_dir_exists(fx.d, "MANIFEST-0000000000000001"));
    expect_no_tmp(fx.d);
    cr_assert_eq(qr_manifest_load(&got, fx.d), 0);
    expect_same(&got, &m);
    qr_manifest_free(&got);
    cr_assert_eq(qr_manifest_load_gen(&got, fx.d, 1), 0);
    expect_same(&got, &m);
    qr_manifest_free(&got);
    cr_assert_eq(qr_manifest_load_gen(&got, fx.d, 2), QR_ENOTFOUND);

    qr_manifest empty = {.generation = 2, .next_id = 0};
    strcpy(empty.language, "none");
    cr_assert_eq(qr_manifest_commit(fx.d, &empty), 0);
    cr_assert_eq(qr_manifest_load(&got, fx.d), 0);
    expect_same(&got, &empty);
    cr_assert_null(got.segs);
    qr_manifest_free(&got);

    qr_manifest longest = sample(3);
    strcpy(longest.language, "abcdefghijklmnopqrstuvwxyz_-.01"); /* 31 bytes */
    cr_assert_eq(qr_manifest_commit(fx.d, &longest), 0);
    cr_assert_eq(qr_manifest_load(&got, fx.d), 0);
    expect_same(&got, &longest);
    qr_manifest_free(&got);
}

Test(manifest_memory, golden_bytes, .init = fx_setup_memory, .fini = fx_teardown)
{
    qr_manifest_seg seg = {
        .id = 0x0102, .docs = 3, .deleted = 1, .del_gen = 7, .live_positions = 0x0a0b};
    qr_manifest m = {.generation = 0x2a, .next_id = 0x0103, .nsegs = 1, .segs = &seg};
    strcpy(m.language, "en");
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    static const uint8_t head[] = {
        0x51, 0x52, 0x4d, 0x46, 1, 0, 0, 0, /* "QRMF", version 1 */
        0x2a, 0,    0,    0,    0, 0, 0, 0, /* generation */
        0x03, 0x01, 0,    0,    0, 0, 0, 0, /* next_id */
        2,    'e',  'n',                    /* language */
        1,    0,    0,    0,                /* nsegs */
        0x02, 0x01, 0,    0,    0, 0, 0, 0, /* id */
        3,    0,    0,    0,    1, 0, 0, 0, /* docs, deleted */
        7,    0,    0,    0,    0, 0, 0, 0, /* del_gen */
        0x0b, 0x0a, 0,    0,    0, 0, 0, 0, /* live_positions */
        0xae, 0xad, 0xb2, 0xb9,             /* ~magic */
    };
    uint8_t want[sizeof head + 8];
    memcpy(want, head, sizeof head);
    qr_store_u64(want + sizeof head, qr_checksum(head, sizeof head));
    fx_expect_bytes(fx.d, "MANIFEST-000000000000002a", want, sizeof want);
}

DIR_TEST(manifest, newest_wins_and_odd_names_are_ignored)
{
    for (uint64_t g = 1; g <= 3; g++) {
        qr_manifest m = sample(g);
        m.next_id = 5 + g;
        cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    }
    fx_put(fx.d, "MANIFEST-0000000000000009.tmp", "torn garbage");
    fx_put(fx.d, "MANIFEST-00000000000000AA", "uppercase hex is not ours");
    fx_put(fx.d, "MANIFEST-ff", "too short");
    fx_put(fx.d, "MANIFEST-00000000000000ff0", "too long");
    fx_put(fx.d, "MANIFEST-0000000000000009.bak", "a suffix");
    fx_put(fx.d, "MANIFEST-000000000000000g", "not hex");
    qr_manifest got;
    cr_assert_eq(qr_manifest_load(&got, fx.d), 0);
    cr_assert_eq(got.generation, 3);
    cr_assert_eq(got.next_id, 8);
    qr_manifest_free(&got);
    cr_assert_eq(qr_manifest_load_gen(&got, fx.d, 1), 0, "older generations stay loadable");
    cr_assert_eq(got.next_id, 6);
    qr_manifest_free(&got);
}

DIR_TEST(manifest, commit_refuses_what_is_not_newer_or_not_sound)
{
    qr_manifest m = sample(5);
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    m.generation = 5;
    cr_assert_eq(qr_manifest_commit(fx.d, &m), QR_EINVAL, "same generation");
    m.generation = 4;
    cr_assert_eq(qr_manifest_commit(fx.d, &m), QR_EINVAL, "older generation");

    qr_manifest_seg segs[2];
    uint64_t gen = 6;
#define REFUSED(why, ...)                                                                          \
    do {                                                                                           \
        qr_manifest b = sample(gen);                                                               \
        memcpy(segs, three_segs, sizeof segs);                                                     \
        b.segs = segs;                                                                             \
        b.nsegs = 2;                                                                               \
        __VA_ARGS__;                                                                               \
        cr_assert_eq(qr_manifest_commit(fx.d, &b), QR_EINVAL, why);                                \
    } while (0)
    REFUSED("generation 0", b.generation = 0);
    REFUSED("empty language", b.language[0] = '\0');
    REFUSED("language of 32 bytes", memset(b.language, 'a', sizeof b.language));
    REFUSED("language with a space", strcpy(b.language, "en us"));
    REFUSED("language with a control byte", strcpy(b.language, "en\n"));
    REFUSED("deleted > docs", segs[1].deleted = 8);
    REFUSED("deletions without a file", segs[0].del_gen = 0);
    REFUSED("duplicate id", segs[1].id = segs[0].id);
    REFUSED("id not below next_id", segs[1].id = 5);
    REFUSED("segments missing", b.segs = NULL);
#undef REFUSED
    expect_loads(fx.d, 5);
    char listing[256];
    fx_listing(fx.d, listing, sizeof listing);
    cr_assert_str_eq(listing, "MANIFEST-0000000000000005", "refusals write nothing");
}

/* ---- corruption ---- */

/* Fields of a hand-made manifest file with a valid frame (for semantic corruption). */
typedef struct raw_manifest {
    uint32_t version;
    uint64_t generation;
    uint64_t next_id;
    const char *lang;
    size_t lang_len;   /* language bytes written */
    int lang_len_byte; /* the length byte written when >= 0; -1: lang_len; -2: none */
    bool omit_count;   /* the body stops before the count field */
    uint32_t nsegs;    /* as written in the count field */
    const qr_manifest_seg *segs;
    size_t segs_written; /* records actually written */
    size_t trailing;     /* extra zero bytes after the records */
} raw_manifest;

static raw_manifest raw_sample(void)
{
    raw_manifest r = {.version = 1,
                      .generation = 7,
                      .next_id = 5,
                      .lang = "english",
                      .lang_len = 7,
                      .lang_len_byte = -1,
                      .nsegs = 3,
                      .segs = three_segs,
                      .segs_written = 3};
    return r;
}

static void put_raw(qr_dir *d, const raw_manifest *r)
{
    qr_buf b = {0};
    qr_file_begin(&b, QR_MANIFEST_MAGIC, r->version);
    qr_buf_put_u64(&b, r->generation);
    qr_buf_put_u64(&b, r->next_id);
    if (r->lang_len_byte != -2) /* -2: no length byte at all */
        qr_buf_put_u8(&b, (uint8_t)(r->lang_len_byte >= 0 ? r->lang_len_byte : (int)r->lang_len));
    qr_buf_put(&b, r->lang, r->lang_len);
    if (!r->omit_count)
        qr_buf_put_u32(&b, r->nsegs);
    for (size_t i = 0; i < r->segs_written; i++) {
        qr_buf_put_u64(&b, r->segs[i].id);
        qr_buf_put_u32(&b, r->segs[i].docs);
        qr_buf_put_u32(&b, r->segs[i].deleted);
        qr_buf_put_u64(&b, r->segs[i].del_gen);
        qr_buf_put_u64(&b, r->segs[i].live_positions);
    }
    for (size_t i = 0; i < r->trailing; i++)
        qr_buf_put_u8(&b, 0);
    qr_file_end(&b, QR_MANIFEST_MAGIC);
    cr_assert_eq(b.err, 0);
    (void)qr_dir_remove(d, "MANIFEST-0000000000000007");
    cr_assert_eq(qr_dir_write_file(d, "MANIFEST-0000000000000007", b.p, b.n), 0);
    qr_buf_free(&b);
}

DIR_TEST(manifest, well_framed_but_unsound_is_corrupt)
{
    raw_manifest r = raw_sample();
    put_raw(fx.d, &r);
    expect_loads(fx.d, 7); /* the builder itself makes sound files */

    qr_manifest_seg segs[3];
    qr_manifest got;
#define CORRUPT(why, ...)                                                                          \
    do {                                                                                           \
        r = raw_sample();                                                                          \
        memcpy(segs, three_segs, sizeof segs);                                                     \
        r.segs = segs;                                                                             \
        __VA_ARGS__;                                                                               \
        put_raw(fx.d, &r);                                                                         \
        int rc_ = qr_manifest_load(&got, fx.d);                                                    \
        cr_assert_eq(rc_, QR_ECORRUPT, "%s: %s", why, qr_strerror(rc_));                           \
        cr_assert_null(got.segs);                                                                  \
    } while (0)
    CORRUPT("trailing bytes", r.trailing = 1);
    CORRUPT("trailing record", r.nsegs = 2);
    CORRUPT("count larger than the records", r.nsegs = 4);
    CORRUPT("count that cannot fit", r.nsegs = UINT32_MAX);
    CORRUPT("record cut short", r.trailing = 31, r.nsegs = 4);
    CORRUPT("no count at all", r.omit_count = true, r.segs_written = 0);
    CORRUPT("no language length", r.omit_count = true, r.segs_written = 0, r.lang_len = 0,
            r.lang_len_byte = -2);
    CORRUPT("deleted > docs", segs[1].deleted = 8);
    CORRUPT("deletions without a file", segs[0].del_gen = 0);
    CORRUPT("duplicate id", segs[2].id = segs[0].id);
    CORRUPT("id not below next_id", r.next_id = 4);
    CORRUPT("generation 0", r.generation = 0);
    CORRUPT("generation differs from the name", r.generation = 8);
    CORRUPT("empty language", r.lang = "", r.lang_len = 0);
    CORRUPT("language too long", r.lang = "abcdefghijklmnopqrstuvwxyz012345", r.lang_len = 32);
    CORRUPT("language with a NUL", r.lang = "en\0sh", r.lang_len = 5);
    CORRUPT("language with a high byte", r.lang = "fran\xc3\xa7", r.lang_len = 6);
    CORRUPT("language longer than the body", r.lang_len_byte = 255, r.segs_written = 0,
            r.nsegs = 0);
#undef CORRUPT
    r = raw_sample();
    r.version = 2;
    put_raw(fx.d, &r);
    cr_assert_eq(qr_manifest_load(&got, fx.d), QR_EVERSION, "a newer format is not corruption");
}

DIR_TEST(manifest, every_flipped_byte_and_every_truncation_is_corrupt)
{
    qr_manifest m = sample(1);
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    qr_mapping *map;
    qr_slice s;
    cr_assert_eq(qr_dir_map(fx.d, "MANIFEST-0000000000000001", &map, &s), 0);
    size_t n = s.n;
    uint8_t *good = malloc(n), *bad = malloc(n);
    memcpy(good, s.p, n);
    qr_mapping_close(map);
    cr_assert_eq(qr_dir_remove(fx.d, "MANIFEST-0000000000000001"), 0);

    qr_manifest got;
    static const uint8_t flips[] = {0x01, 0x80, 0xff};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof flips; k++) {
            memcpy(bad, good, n);
            bad[i] ^= flips[k];
            cr_assert_eq(qr_dir_write_file(fx.d, "MANIFEST-0000000000000001", bad, n), 0);
            int rc = qr_manifest_load(&got, fx.d);
            cr_assert_eq(rc, QR_ECORRUPT, "byte %zu ^ %#x: %s", i, flips[k], qr_strerror(rc));
            cr_assert_eq(qr_dir_remove(fx.d, "MANIFEST-0000000000000001"), 0);
        }
    }
    for (size_t len = 0; len < n; len++) {
        cr_assert_eq(qr_dir_write_file(fx.d, "MANIFEST-0000000000000001", good, len), 0);
        int rc = qr_manifest_load(&got, fx.d);
        cr_assert_eq(rc, QR_ECORRUPT, "truncated to %zu: %s", len, qr_strerror(rc));
        cr_assert_eq(qr_dir_remove(fx.d, "MANIFEST-0000000000000001"), 0);
    }
    cr_assert_eq(qr_dir_write_file(fx.d, "MANIFEST-0000000000000001", good, n), 0);
    expect_loads(fx.d, 1);
    free(good);
    free(bad);
}

DIR_TEST(manifest, corrupt_newest_is_reported_not_skipped)
{
    qr_manifest m = sample(1);
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    fx_put(fx.d, "MANIFEST-0000000000000002", "damaged by something other than a crash");
    qr_manifest got;
    cr_assert_eq(qr_manifest_load(&got, fx.d), QR_ECORRUPT);
    cr_assert_eq(qr_manifest_load_gen(&got, fx.d, 1), 0, "the old one is there, on purpose only");
    qr_manifest_free(&got);
}

DIR_TEST(manifest, load_looks_again_when_the_newest_vanishes)
{
    qr_manifest m = sample(1);
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    qr_dir *fd;
    cr_assert_eq(qr_dir_open_faulty(&fd, fx.d), 0);
    /* As if a writer committed and collected between our listing and our mapping. */
    qr_dir_fault_arm(fd, QR_FAULT_MAP, 0, QR_ENOTFOUND);
    expect_loads(fd, 1);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_MAP), 2);
    qr_dir_fault_arm(fd, QR_FAULT_MAP, 0, QR_EIO);
    qr_manifest got;
    cr_assert_eq(qr_manifest_load(&got, fd), QR_EIO, "other errors are not retried");
    qr_dir_close(fd);
}

Test(manifest_posix, a_name_that_never_opens_is_corrupt, .init = fx_setup_posix,
     .fini = fx_teardown)
{
    qr_manifest m = sample(1);
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/MANIFEST-0000000000000002", fx.path);
    cr_assert_eq(symlink("nowhere", path), 0);
    qr_manifest got;
    cr_assert_eq(qr_manifest_load(&got, fx.d), QR_ECORRUPT);
}

/* ---- faults during commit ---- */

DIR_TEST(manifest, a_fault_anywhere_in_commit_keeps_the_previous_generation)
{
    qr_manifest m1 = sample(1), m2 = sample(2);
    m2.next_id = 9;
    cr_assert_eq(qr_manifest_commit(fx.d, &m1), 0);
    qr_dir *fd;
    cr_assert_eq(qr_dir_open_faulty(&fd, fx.d), 0);
    static const qr_fault_op ops[] = {QR_FAULT_CREATE, QR_FAULT_WRITE, QR_FAULT_SYNC,
                                      QR_FAULT_RENAME, QR_FAULT_REMOVE};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        int code = ops[k] == QR_FAULT_WRITE ? QR_ENOSPC : QR_EIO;
        uint64_t gen = 2 + k;
        m2.generation = gen;
        long failures = 0;
        for (long n = 0;; n++) {
            cr_assert_lt(n, 50, "op %d never stops failing", ops[k]);
            qr_dir_fault_arm(fd, ops[k], n, code);
            int rc = qr_manifest_commit(fd, &m2);
            qr_dir_fault_arm(fd, ops[k], -1, 0);
            if (rc == 0)
                break;
            failures++;
            cr_assert_eq(rc, code, "op %d call %ld: %s", ops[k], n, qr_strerror(rc));
            expect_loads(fx.d, gen - 1);
            expect_no_tmp(fx.d);
            char name[48];
            qr_manifest_file_name(name, gen);
            cr_assert_not(qr_dir_exists(fx.d, name));
        }
        cr_assert_geq(failures, 1, "op %d is part of a commit", ops[k]);
        expect_loads(fx.d, gen);
    }
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_MAP), 0, "commit reads nothing");
    long before[QR_FAULT_OP_COUNT];
    for (int op = 0; op < QR_FAULT_OP_COUNT; op++)
        before[op] = qr_dir_fault_calls(fd, (qr_fault_op)op);
    m2.generation = 100;
    cr_assert_eq(qr_manifest_commit(fd, &m2), 0);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_CREATE) - before[QR_FAULT_CREATE], 1);
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_SYNC) - before[QR_FAULT_SYNC], 2,
                 "the file, then the directory");
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_RENAME) - before[QR_FAULT_RENAME], 1);
    /* the directory sync comes after the rename: failing it takes the new generation back */
    m2.generation = 101;
    qr_dir_fault_arm(fd, QR_FAULT_SYNC, 1, QR_EIO);
    cr_assert_eq(qr_manifest_commit(fd, &m2), QR_EIO);
    expect_loads(fx.d, 100);
    qr_dir_close(fd);
}

DIR_TEST(manifest, commit_replaces_a_stale_tmp_file)
{
    fx_put(fx.d, "MANIFEST-0000000000000001.tmp", "left by a writer that died");
    qr_manifest m = sample(1);
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    expect_loads(fx.d, 1);
    expect_no_tmp(fx.d);
}

/* ---- allocation failures ---- */

DIR_TEST(manifest, every_allocation_failure_in_commit_and_load_is_enomem)
{
    qr_manifest m1 = sample(1), m2 = sample(2), got;
    cr_assert_eq(qr_manifest_commit(fx.d, &m1), 0);
    for (long n = 0;; n++) {
        qr_alloc_fail_after(n);
        int rc = qr_manifest_commit(fx.d, &m2);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failed == 0) {
            cr_assert_eq(rc, 0);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %s", n, qr_strerror(rc));
        expect_loads(fx.d, 1);
        expect_no_tmp(fx.d);
    }
    expect_loads(fx.d, 2);
    for (long n = 0;; n++) {
        qr_alloc_fail_after(n);
        int rc = qr_manifest_load(&got, fx.d);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failed == 0) {
            cr_assert_eq(rc, 0);
            expect_same(&got, &m2);
            qr_manifest_free(&got);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %s", n, qr_strerror(rc));
        cr_assert_null(got.segs);
    }
    for (long n = 0;; n++) {
        qr_alloc_fail_after(n);
        int rc = qr_manifest_gc(fx.d, &m2);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failed == 0) {
            cr_assert_eq(rc, 0);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM, "allocation %ld: %s", n, qr_strerror(rc));
    }
}

/* ---- garbage collection ---- */

DIR_TEST(manifest, gc_removes_exactly_what_the_manifest_does_not_name)
{
    static const char *exts[] = {"tdi", "doc", "pos", "sto", "dmt"};
    for (uint64_t id = 1; id <= 5; id++) {
        for (size_t e = 0; e < 5; e++) {
            char name[48];
            snprintf(name, sizeof name, "seg-%016llx.%s", (unsigned long long)id, exts[e]);
            fx_put(fx.d, name, "segment bytes");
        }
    }
    static const char *others[] = {
        "seg-0000000000000001-0000000000000001.del", /* live segment, old deletions */
        "seg-0000000000000001-0000000000000002.del", /* live segment, current deletions */
        "seg-0000000000000002-0000000000000001.del", /* live segment, current deletions */
        "seg-0000000000000003-0000000000000001.del", /* dead segment */
        "seg-0000000000000004-0000000000000001.del", /* live, but it has no deletions */
        "seg-0000000000000001-odd",                  /* a live segment's: kept */
        "seg-0000000000000003-odd",                  /* a dead segment's: removed */
        "MANIFEST-0000000000000007.tmp",
        "seg-0000000000000009.tdi.tmp",
        "scratch.tmp",
        "notes.txt",
        "seg-xyz",
        "seg-0000000000000001x",
        "seg-00000000000000",
        "MANIFEST-abc",
        "MANIFEST-0000000000000001.bak",
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        fx_put(fx.d, others[i], "x");
    for (uint64_t g = 1; g <= 3; g++) {
        qr_manifest m = sample(g);
        cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    }
    qr_lock *l;
    cr_assert_eq(qr_dir_lock(fx.d, QR_LOCK_FILE, &l, NULL), 0);

    qr_manifest m = sample(3); /* live: 1 (del_gen 2), 4 (none), 2 (del_gen 1) */
    cr_assert_eq(qr_manifest_gc(fx.d, &m), 0);
    char listing[2048];
    fx_listing(fx.d, listing, sizeof listing);
    cr_assert_str_eq(listing, "LOCK MANIFEST-0000000000000001.bak MANIFEST-0000000000000003 "
                              "MANIFEST-abc notes.txt "
                              "seg-00000000000000 "
                              "seg-0000000000000001-0000000000000002.del "
                              "seg-0000000000000001-odd "
                              "seg-0000000000000001.dmt seg-0000000000000001.doc "
                              "seg-0000000000000001.pos seg-0000000000000001.sto "
                              "seg-0000000000000001.tdi "
                              "seg-0000000000000001x "
                              "seg-0000000000000002-0000000000000001.del "
                              "seg-0000000000000002.dmt seg-0000000000000002.doc "
                              "seg-0000000000000002.pos seg-0000000000000002.sto "
                              "seg-0000000000000002.tdi "
                              "seg-0000000000000004.dmt seg-0000000000000004.doc "
                              "seg-0000000000000004.pos seg-0000000000000004.sto "
                              "seg-0000000000000004.tdi "
                              "seg-xyz");
    expect_loads(fx.d, 3);
    cr_assert_eq(qr_manifest_gc(fx.d, &m), 0, "a second collection finds nothing");
    char again[2048];
    fx_listing(fx.d, again, sizeof again);
    cr_assert_str_eq(again, listing);
    qr_dir_unlock(l);
}

DIR_TEST(manifest, gc_with_a_stale_or_uncommitted_manifest_removes_nothing)
{
    for (uint64_t g = 1; g <= 2; g++) {
        qr_manifest m = sample(g);
        cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    }
    fx_put(fx.d, "seg-0000000000000009.doc", "named by nobody");
    char before[512], after[512];
    fx_listing(fx.d, before, sizeof before);
    qr_manifest old = sample(1), uncommitted = sample(3);
    cr_assert_eq(qr_manifest_gc(fx.d, &old), QR_EINVAL);
    cr_assert_eq(qr_manifest_gc(fx.d, &uncommitted), QR_EINVAL);
    fx_listing(fx.d, after, sizeof after);
    cr_assert_str_eq(after, before);
}

DIR_TEST(manifest, gc_reports_failures_and_still_collects_the_rest)
{
    qr_manifest m = sample(2);
    cr_assert_eq(qr_manifest_commit(fx.d, &m), 0);
    fx_put(fx.d, "a.tmp", "x");
    fx_put(fx.d, "b.tmp", "x");
    fx_put(fx.d, "c.tmp", "x");
    qr_dir *fd;
    cr_assert_eq(qr_dir_open_faulty(&fd, fx.d), 0);
    qr_dir_fault_arm(fd, QR_FAULT_REMOVE, 1, QR_EIO);
    cr_assert_eq(qr_manifest_gc(fd, &m), QR_EIO);
    char listing[256];
    fx_listing(fx.d, listing, sizeof listing);
    cr_assert_str_eq(listing, "MANIFEST-0000000000000002 b.tmp");
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_SYNC), 1, "the directory is synced anyway");
    qr_dir_fault_arm(fd, QR_FAULT_SYNC, 0, QR_EIO);
    cr_assert_eq(qr_manifest_gc(fd, &m), QR_EIO);
    fx_listing(fx.d, listing, sizeof listing);
    cr_assert_str_eq(listing, "MANIFEST-0000000000000002");
    long syncs = qr_dir_fault_calls(fd, QR_FAULT_SYNC);
    qr_dir_fault_arm(fd, QR_FAULT_SYNC, 0, QR_EIO);
    cr_assert_eq(qr_manifest_gc(fd, &m), 0, "nothing to remove: no directory sync to fail");
    cr_assert_eq(qr_dir_fault_calls(fd, QR_FAULT_SYNC), syncs);
    qr_dir_fault_arm(fd, QR_FAULT_SYNC, -1, QR_EIO);
    qr_dir_close(fd);
}

/* ---- deletion bitmaps ---- */

DIR_TEST(deletes, roundtrip_at_edge_sizes)
{
    static const uint32_t sizes[] = {0, 1, 63, 64, 65, 127, 128, 129, 1000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        uint32_t docs = sizes[k];
        qr_deletes d;
        cr_assert_eq(qr_deletes_init(&d, docs), 0);
        cr_assert_eq(d.count, 0);
        for (uint32_t doc = 0; doc < docs; doc++)
            cr_assert_not(qr_deletes_has(&d, doc));
        /* every third doc, plus the last, each twice (idempotent) */
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t doc = 0; doc < docs; doc += 3)
                cr_assert_eq(qr_deletes_add(&d, doc), 0);
            if (docs)
                cr_assert_eq(qr_deletes_add(&d, docs - 1), 0);
        }
        uint32_t expect = docs ? (docs + 2) / 3 + ((docs - 1) % 3 != 0) : 0;
        cr_assert_eq(d.count, expect, "docs %u", docs);
        cr_assert_eq(qr_deletes_add(&d, docs), QR_EINVAL, "doc past the segment");
        cr_assert_eq(qr_deletes_write(fx.d, 7, k + 1, &d), 0);

        qr_deletes got;
        cr_assert_eq(qr_deletes_read(&got, fx.d, 7, k + 1, docs), 0);
        cr_assert_eq(got.docs, docs);
        cr_assert_eq(got.count, expect);
        for (uint32_t doc = 0; doc < docs; doc++)
            cr_assert_eq(qr_deletes_has(&got, doc), qr_deletes_has(&d, doc), "doc %u", doc);
        if (expect == 0)
            cr_assert_null(got.bits);
        qr_deletes_free(&got);
        qr_deletes_free(&d);
    }
    qr_deletes_free(NULL);
}

DIR_TEST(deletes, empty_set_roundtrip)
{
    qr_deletes d, got;
    qr_deletes_init(&d, 70);
    cr_assert_eq(qr_deletes_write(fx.d, 1, 1, &d), 0);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), 0);
    cr_assert_eq(got.count, 0);
    cr_assert_null(got.bits);
    cr_assert_not(qr_deletes_has(&got, 69));
}

Test(deletes_memory, golden_bytes, .init = fx_setup_memory, .fini = fx_teardown)
{
    qr_deletes d;
    qr_deletes_init(&d, 66);
    cr_assert_eq(qr_deletes_add(&d, 0), 0);
    cr_assert_eq(qr_deletes_add(&d, 65), 0);
    cr_assert_eq(qr_deletes_write(fx.d, 0x10, 2, &d), 0);
    static const uint8_t head[] = {
        0x51, 0x52, 0x44, 0x4c, 1, 0, 0, 0, /* "QRDL", version 1 */
        66,   0,    0,    0,    2, 0, 0, 0, /* docs, count */
        1,    0,    0,    0,    0, 0, 0, 0, /* word 0: doc 0 */
        2,    0,    0,    0,    0, 0, 0, 0, /* word 1: doc 65 */
        0xae, 0xad, 0xbb, 0xb3,             /* ~magic */
    };
    uint8_t want[sizeof head + 8];
    memcpy(want, head, sizeof head);
    qr_store_u64(want + sizeof head, qr_checksum(head, sizeof head));
    fx_expect_bytes(fx.d, "seg-0000000000000010-0000000000000002.del", want, sizeof want);
    qr_deletes_free(&d);
}

/* Writes a well-framed deletion file with the given fields. */
static void put_raw_deletes(qr_dir *d, uint32_t docs, uint32_t count, const uint64_t *words,
                            size_t nwords)
{
    qr_buf b = {0};
    qr_file_begin(&b, QR_DELETES_MAGIC, 1);
    qr_buf_put_u32(&b, docs);
    qr_buf_put_u32(&b, count);
    for (size_t i = 0; i < nwords; i++)
        qr_buf_put_u64(&b, words[i]);
    qr_file_end(&b, QR_DELETES_MAGIC);
    (void)qr_dir_remove(d, "seg-0000000000000001-0000000000000001.del");
    cr_assert_eq(qr_dir_write_file(d, "seg-0000000000000001-0000000000000001.del", b.p, b.n), 0);
    qr_buf_free(&b);
}

DIR_TEST(deletes, corruption_is_detected)
{
    qr_deletes got;
    uint64_t w[3] = {0x5, 0x1, 0};
    put_raw_deletes(fx.d, 70, 3, w, 2);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), 0, "the builder makes sound files");
    qr_deletes_free(&got);

    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 71), QR_ECORRUPT, "another segment's size");
    put_raw_deletes(fx.d, 70, 2, w, 2);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), QR_ECORRUPT, "count below popcount");
    put_raw_deletes(fx.d, 70, 4, w, 2);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), QR_ECORRUPT, "count above popcount");
    w[1] = 0x41; /* bit 64 + 6 = doc 70: one past the last */
    put_raw_deletes(fx.d, 70, 4, w, 2);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), QR_ECORRUPT, "a bit past docs");
    w[1] = UINT64_C(1) << 63;
    put_raw_deletes(fx.d, 70, 3, w, 2);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), QR_ECORRUPT, "the top bit past docs");
    w[1] = 1;
    put_raw_deletes(fx.d, 70, 3, w, 3);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), QR_ECORRUPT, "a word too many");
    put_raw_deletes(fx.d, 70, 2, w, 1);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), QR_ECORRUPT, "a word too few");
    put_raw_deletes(fx.d, 70, 0, w, 0);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 70), QR_ECORRUPT, "no words");
    cr_assert_null(got.bits);

    /* every flipped byte and truncation of a real file */
    qr_deletes d;
    qr_deletes_init(&d, 100);
    cr_assert_eq(qr_deletes_add(&d, 42), 0);
    cr_assert_eq(qr_deletes_write(fx.d, 2, 1, &d), 0);
    qr_deletes_free(&d);
    const char *name = "seg-0000000000000002-0000000000000001.del";
    qr_mapping *map;
    qr_slice s;
    cr_assert_eq(qr_dir_map(fx.d, name, &map, &s), 0);
    size_t n = s.n;
    uint8_t *good = malloc(n), *bad = malloc(n);
    memcpy(good, s.p, n);
    qr_mapping_close(map);
    for (size_t i = 0; i <= 2 * n; i++) {
        memcpy(bad, good, n);
        size_t len = n;
        if (i < n)
            bad[i] ^= 0x10;
        else
            len = i - n;
        if (len == n && i >= n)
            continue;
        cr_assert_eq(qr_dir_remove(fx.d, name), 0);
        cr_assert_eq(qr_dir_write_file(fx.d, name, bad, len), 0);
        cr_assert_eq(qr_deletes_read(&got, fx.d, 2, 1, 100), QR_ECORRUPT, "case %zu", i);
    }
    free(good);
    free(bad);
}

DIR_TEST(deletes, errors_and_allocation_failures)
{
    qr_deletes d, got;
    qr_deletes_init(&d, 10);
    qr_alloc_fail_after(0);
    int rc = qr_deletes_add(&d, 3);
    qr_alloc_fail_after(-1);
    cr_assert_eq(rc, QR_ENOMEM);
    cr_assert_null(d.bits);
    cr_assert_eq(d.count, 0);
    cr_assert_eq(qr_deletes_add(&d, 3), 0);

    cr_assert_eq(qr_deletes_write(fx.d, 1, 0, &d), QR_EINVAL, "del_gen 0 means none");
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 0, 10), QR_EINVAL);
    cr_assert_eq(qr_deletes_read(&got, fx.d, 1, 1, 10), QR_ENOTFOUND);
    cr_assert_eq(qr_deletes_write(fx.d, 1, 1, &d), 0);
    cr_assert_eq(qr_deletes_write(fx.d, 1, 1, &d), QR_EIO, "deletion files are written once");

    for (long n = 0;; n++) {
        qr_alloc_fail_after(n);
        rc = qr_deletes_write(fx.d, 1, 2, &d);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failed == 0) {
            cr_assert_eq(rc, 0);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM);
        cr_assert_not(qr_dir_exists(fx.d, "seg-0000000000000001-0000000000000002.del"));
    }
    for (long n = 0;; n++) {
        qr_alloc_fail_after(n);
        rc = qr_deletes_read(&got, fx.d, 1, 2, 10);
        long failed = qr_alloc_failures();
        qr_alloc_fail_after(-1);
        if (failed == 0) {
            cr_assert_eq(rc, 0);
            cr_assert(qr_deletes_has(&got, 3));
            qr_deletes_free(&got);
            break;
        }
        cr_assert_eq(rc, QR_ENOMEM);
        cr_assert_null(got.bits);
    }
    qr_dir *fd;
    cr_assert_eq(qr_dir_open_faulty(&fd, fx.d), 0);
    qr_dir_fault_arm(fd, QR_FAULT_WRITE, 0, QR_ENOSPC);
    cr_assert_eq(qr_deletes_write(fd, 1, 3, &d), QR_ENOSPC);
    cr_assert_not(qr_dir_exists(fx.d, "seg-0000000000000001-0000000000000003.del"));
    qr_dir_fault_arm(fd, QR_FAULT_MAP, 0, QR_EIO);
    cr_assert_eq(qr_deletes_read(&got, fd, 1, 2, 10), QR_EIO);
    qr_dir_close(fd);
    qr_deletes_free(&d);
}
