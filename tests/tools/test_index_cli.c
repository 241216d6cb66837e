/*
 * End-to-end tests of `quarry index` and `quarry stats`: the bundled sample
 * articles (counts, every title against its file, mirror semantics after
 * adding, touching, editing and deleting files, skip reasons), a real
 * corpus from ../shared/corpora when present (documents = files - skips),
 * the writer lock, usage errors and exit statuses.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli_run.h"
#include "storage/buf.h"
#include "storage/dir.h"
#include "storage/docstore.h"
#include "storage/manifest.h"
#include "storage/segment.h"

/* A scratch directory holding a copy of the sample articles as `articles/`. */
static char tmp[256];
static char art[320];
static char idx[320];

static void setup_samples(void)
{
    strcpy(tmp, "/tmp/quarry-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(art, sizeof art, "%s/articles", tmp);
    snprintf(idx, sizeof idx, "%s/idx", tmp);
    cli_sh_ok("cp -r '%s/samples/articles' '%s'", QUARRY_SOURCE_ROOT, tmp);
}

static void teardown_samples(void)
{
    cli_sh_ok("rm -rf '%s'", tmp);
}

static unsigned count_files(const char *dir)
{
    char *out;
    cr_assert_eq(cli_sh(&out, "find '%s' -type f | wc -l", dir), 0);
    unsigned n = 0;
    cr_assert_eq(sscanf(out, "%u", &n), 1);
    free(out);
    return n;
}

static void expect_line(const char *out, const char *line)
{
    cr_assert(strstr(out, line), "expected [%s] in:\n%s", line, out);
}

/* The title SPEC §1 gives a file: its first non-blank line, trimmed. */
static void file_title(const char *path, char *out, size_t cap)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char line[4096];
    out[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char *s = line, *e = line + strlen(line);
        while (*s && strchr(" \t\r\n\v\f", *s))
            s++;
        while (e > s && strchr(" \t\r\n\v\f", e[-1]))
            e--;
        if (e > s) {
            snprintf(out, cap, "%.*s", (int)(e - s), s);
            break;
        }
    }
    fclose(f);
}

/* Every live document's stored title equals its file's first non-blank line. */
static unsigned check_titles(const char *index, const char *root_parent)
{
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, index, false), 0);
    qr_manifest m;
    cr_assert_eq(qr_manifest_load(&m, d), 0);
    unsigned checked = 0;
    for (uint32_t i = 0; i < m.nsegs; i++) {
        qr_segment *s;
        cr_assert_eq(qr_segment_open(&s, d, m.segs[i].id, true), 0);
        qr_deletes del;
        if (m.segs[i].del_gen)
            cr_assert_eq(qr_deletes_read(&del, d, m.segs[i].id, m.segs[i].del_gen, m.segs[i].docs),
                         0);
        else
            cr_assert_eq(qr_deletes_init(&del, m.segs[i].docs), 0);
        const qr_doctable *t = qr_segment_doctable(s);
        for (uint32_t doc = 0; doc < qr_doctable_count(t); doc++) {
            if (qr_deletes_has(&del, doc))
                continue;
            qr_slice p = qr_doctable_path(t, doc), title, body;
            cr_assert_eq(qr_docstore_get(qr_segment_docstore(s), doc, &title, &body), 0);
            char path[1024], want[4096];
            snprintf(path, sizeof path, "%s/%.*s", root_parent, (int)p.n, p.p);
            file_title(path, want, sizeof want);
            cr_assert(title.n == strlen(want) && !memcmp(title.p, want, title.n),
                      "%s: title [%.*s], want [%s]", path, (int)title.n, title.p, want);
            checked++;
        }
        qr_deletes_free(&del);
        qr_segment_close(s);
    }
    qr_manifest_free(&m);
    qr_dir_close(d);
    return checked;
}

TestSuite(index_cli, .init = setup_samples, .fini = teardown_samples);

Test(index_cli, samples_counts_titles_and_stats)
{
    char *out;
    unsigned files = count_files(art);
    cr_assert_gt(files, 10);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s' 2>&1", idx, art), 0, "%s", out);
    char line[128];
    snprintf(line, sizeof line, "added:      %u\n", files);
    expect_line(out, line);
    snprintf(line, sizeof line, "documents:  %u in the index", files);
    expect_line(out, line);
    expect_line(out, "skipped:    0\n");
    cr_assert(!strchr(out, '\r'), "no progress line on a pipe");
    free(out);
    cr_assert_eq(check_titles(idx, tmp), files);

    cr_assert_eq(cli_quarry(&out, "stats -i '%s'", idx), 0);
    snprintf(line, sizeof line, "documents:               %u\n", files);
    expect_line(out, line);
    expect_line(out, "language:                english\n");
    expect_line(out, "deleted:                 0\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    snprintf(line, sizeof line, "\"documents\":%u,", files);
    expect_line(out, line);
    expect_line(out, "\"language\":\"english\"");
    expect_line(out, "\"bytes\":{\"tdi\":");
    cr_assert_eq(out[0], '{');
    free(out);
}

static void set_mtime(const char *path, time_t t)
{
    struct timeval tv[2] = {{t, 0}, {t, 0}};
    cr_assert_eq(utimes(path, tv), 0);
}

Test(index_cli, mirror_add_touch_edit_delete)
{
    char *out;
    unsigned files = count_files(art);
    cr_assert_eq(cli_quarry(&out, "index -q -i '%s' '%s'", idx, art), 0);
    free(out);
    /* Nothing changed. */
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s'", idx, art), 0);
    expect_line(out, "nothing changed");
    char line[128];
    snprintf(line, sizeof line, "unchanged:  %u\n", files);
    expect_line(out, line);
    free(out);
    /* Touch one file: read again, same content: unchanged, still nothing to commit. */
    char path[512];
    snprintf(path, sizeof path, "%s/ceasefire/001.txt", art);
    set_mtime(path, 1234567890);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s'", idx, art), 0);
    expect_line(out, "nothing changed");
    expect_line(out, line);
    free(out);
    /* Edit one, add one, delete one. */
    cli_sh_ok("printf 'Edited headline\\nNew body.\\n' > '%s/ceasefire/001.txt'", art);
    cli_sh_ok("printf '\\n\\n  Brand new   \\nbody\\n' > '%s/crimea/999.txt'", art);
    cli_sh_ok("rm '%s/ceasefire/002.txt'", art);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s'", idx, art), 0);
    expect_line(out, "added:      1\n");
    expect_line(out, "replaced:   1\n");
    expect_line(out, "removed:    1\n");
    snprintf(line, sizeof line, "unchanged:  %u\n", files - 2);
    expect_line(out, line);
    snprintf(line, sizeof line, "documents:  %u in the index", files);
    expect_line(out, line);
    free(out);
    cr_assert_eq(check_titles(idx, tmp), files);
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    cr_assert(!strstr(out, "\"deleted\":0,"), "replaced and removed docs are deleted: %s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s'", idx, art), 0);
    expect_line(out, "nothing changed");
    free(out);
}

Test(index_cli, skipped_files_are_named_with_their_reason)
{
    char *out;
    unsigned files = count_files(art);
    cli_sh_ok("printf 'GIF89a\\000\\001' > '%s/image.gif'", art);
    cli_sh_ok("head -c 1500000 /dev/zero | tr '\\000' 'x' > '%s/huge.txt'", art);
    cli_sh_ok("ln -s ceasefire/001.txt '%s/link.txt'", art);
    cli_sh_ok(": > '%s/empty.txt'", art);
    cr_assert_eq(cli_quarry(&out, "index --max-file-size 1 -i '%s' '%s'", idx, art), 0);
    char line[128];
    snprintf(line, sizeof line, "added:      %u\n", files + 1); /* and the empty file */
    expect_line(out, line);
    expect_line(out, "skipped:    3 (1 binary, 1 too large, 1 not a regular file)\n");
    expect_line(out, "  skipped binary: articles/image.gif\n");
    expect_line(out, "  skipped too large: articles/huge.txt\n");
    expect_line(out, "  skipped not a regular file: articles/link.txt\n");
    free(out);
    /* With the default limit the large file is indexed. */
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s'", idx, art), 0);
    expect_line(out, "added:      1\n");
    expect_line(out, "skipped:    2 (1 binary, 1 not a regular file)\n");
    free(out);
}

Test(index_cli, second_writer_fails_at_once)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "index -q -i '%s' '%s'", idx, art), 0);
    free(out);
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, idx, false), 0);
    qr_lock *lock;
    long holder;
    cr_assert_eq(qr_dir_lock(d, QR_LOCK_FILE, &lock, &holder), 0);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s' 2>&1", idx, art), 4);
    char want[128];
    snprintf(want, sizeof want, "quarry: index is being written by pid %ld\n", (long)getpid());
    cr_assert_str_eq(out, want);
    free(out);
    /* Readers do not lock. */
    cr_assert_eq(cli_quarry(&out, "stats -i '%s'", idx), 0);
    free(out);
    qr_dir_unlock(lock);
    qr_dir_close(d);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s'", idx, art), 0);
    free(out);
}

Test(index_cli, language_is_kept_and_checked)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "index -q --language french -i '%s' '%s'", idx, art), 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "index --language english -i '%s' '%s' 2>&1", idx, art), 2);
    expect_line(out, "language 'french'");
    free(out);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s'", idx, art), 0,
                 "no --language: the index's own");
    expect_line(out, "(french)");
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats -i '%s'", idx), 0);
    expect_line(out, "language:                french\n");
    free(out);
    char other[400];
    snprintf(other, sizeof other, "%s/idx2", tmp);
    cr_assert_eq(cli_quarry(&out, "index --language klingon -i '%s' '%s' 2>&1", other, art), 2);
    expect_line(out, "unknown language 'klingon'");
    expect_line(out, "available languages:");
    free(out);
}

Test(index_cli, index_defaults_to_quarry_index_env_then_quarry_idx)
{
    char *out;
    cr_assert_eq(cli_sh(&out,
                        "cd '%s' && QUARRY_INDEX=env.idx '%s' index -q articles >/dev/null && "
                        "env -u QUARRY_INDEX '%s' index -q articles >/dev/null && "
                        "QUARRY_INDEX=env.idx '%s' stats --json | grep -c '\"documents\":' && "
                        "env -u QUARRY_INDEX '%s' stats --json | grep -c '\"documents\":'",
                        tmp, QUARRY_BIN, QUARRY_BIN, QUARRY_BIN, QUARRY_BIN),
                 0, "%s", out);
    cr_assert_str_eq(out, "1\n1\n");
    free(out);
    char path[400];
    struct stat st;
    snprintf(path, sizeof path, "%s/env.idx", tmp);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
    snprintf(path, sizeof path, "%s/quarry.idx", tmp);
    cr_assert_eq(stat(path, &st), 0);
    cr_assert(S_ISDIR(st.st_mode));
}

Test(index_cli, usage_errors_exit_2)
{
    char *out;
    struct {
        const char *args;
        const char *msg;
    } cases[] = {
        {"index --frob x", "unknown option '--frob'"},
        {"index --threads x d", "--threads needs a whole number from 1 to 256, not 'x'"},
        {"index --threads 0 d", "--threads needs a whole number"},
        {"index --ram -5 d", "--ram needs a number of MB"},
        {"index --max-file-size 1e3 d", "--max-file-size needs a number of MB"},
        {"index --max-file-size 1024 d", "from 1 to 1023, not '1024'"},
        {"index --ram", "option '--ram' needs a value"},
        {"index -qz d", "unknown option '-z' (in '-qz')"},
        {"index -q -t", "option '-t' needs a value"},
        {"index", "missing DIR"},
        {"index -q /nonexistent/quarry/dir", "'/nonexistent/quarry/dir' does not exist"},
        {"index /etc/hostname", "'/etc/hostname' is not a directory"},
        {"stats --frob", "unknown option '--frob'"},
        {"stats extra", "unexpected argument 'extra'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(cli_quarry(&out, "%s 2>&1", cases[i].args), 2, "%s: %s", cases[i].args, out);
        expect_line(out, cases[i].msg);
        free(out);
    }
    char a[400], b[400];
    snprintf(a, sizeof a, "%s/x/same", tmp);
    snprintf(b, sizeof b, "%s/y/same", tmp);
    cli_sh_ok("mkdir -p '%s' '%s'", a, b);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s' '%s/' 2>&1", idx, a, b), 2);
    expect_line(out, "have the same base name 'same'");
    free(out);
    cr_assert_eq(cli_quarry(&out, "index --help"), 0);
    expect_line(out, "usage: quarry index");
    expect_line(out, "--max-file-size");
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats --help"), 0);
    expect_line(out, "usage: quarry stats");
    free(out);
    cr_assert_eq(cli_quarry(&out, "--help"), 0);
    expect_line(out, "  index ");
    expect_line(out, "  stats ");
    free(out);
}

Test(index_cli, unusable_index_paths_exit_3)
{
    char *out;
    char p[400];
    /* No index yet. */
    snprintf(p, sizeof p, "%s/none", tmp);
    cr_assert_eq(cli_quarry(&out, "stats -i '%s' 2>&1", p), 3);
    expect_line(out, "no index at");
    free(out);
    cli_sh_ok("mkdir '%s'", p);
    cr_assert_eq(cli_quarry(&out, "stats -i '%s' 2>&1", p), 3);
    expect_line(out, "no index at");
    free(out);
    /* A directory of other files is not an index, and is left alone. */
    cli_sh_ok("echo hello > '%s/notes.txt'", p);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s' 2>&1", p, art), 3);
    expect_line(out, "is not a quarry index");
    free(out);
    cli_sh_ok("test -f '%s/notes.txt'", p);
    /* A file where the index should be. */
    snprintf(p, sizeof p, "%s/file", tmp);
    cli_sh_ok("echo x > '%s'", p);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s' 2>&1", p, art), 3);
    expect_line(out, "cannot open index");
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats -i '%s' 2>&1", p), 3);
    free(out);
    /* A corrupt manifest. */
    cr_assert_eq(cli_quarry(&out, "index -q -i '%s' '%s'", idx, art), 0);
    free(out);
    cli_sh_ok("for f in '%s'/MANIFEST-*; do printf 'garbage' > \"$f\"; done", idx);
    cr_assert_eq(cli_quarry(&out, "stats -i '%s' 2>&1", idx), 3);
    expect_line(out, "cannot read index");
    free(out);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s' 2>&1", idx, art), 3);
    expect_line(out, "manifest");
    free(out);
}

Test(index_cli, real_corpus_documents_equal_files_minus_skips)
{
    char tarball[600];
    snprintf(tarball, sizeof tarball, "%s/adi/adi.tar.zst", QUARRY_CORPORA);
    if (access(tarball, R_OK) != 0)
        cr_skip_test("%s not found", tarball);
    cli_sh_ok("tar --zstd -xf '%s' -C '%s'", tarball, tmp);
    char docs[400];
    snprintf(docs, sizeof docs, "%s/adi/docs", tmp);
    unsigned files = count_files(docs);
    cr_assert_gt(files, 50);
    char *out;
    cr_assert_eq(cli_quarry(&out, "index --threads 2 -i '%s' '%s'", idx, docs), 0);
    unsigned added = 0, skipped = 0, indexed = 0;
    const char *a = strstr(out, "added:"), *s = strstr(out, "skipped:"),
               *d = strstr(out, "documents:");
    cr_assert(a && s && d, "%s", out);
    sscanf(a, "added: %u", &added);
    sscanf(s, "skipped: %u", &skipped);
    sscanf(d, "documents: %u", &indexed);
    cr_assert_eq(indexed, files - skipped, "%s", out);
    cr_assert_eq(added, indexed);
    free(out);
    char parent[400];
    snprintf(parent, sizeof parent, "%s/adi", tmp);
    cr_assert_eq(check_titles(idx, parent), indexed, "paths are docs/... below adi/");
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    char want[64];
    snprintf(want, sizeof want, "\"documents\":%u,", indexed);
    expect_line(out, want);
    free(out);
}

Test(index_cli, progress_line_only_on_a_terminal)
{
    /* script(1) gives the command a terminal; its output is the terminal's. */
    char *out;
    cr_assert_eq(cli_sh(&out, "script -qec \"'%s' index --ram 1 -i '%s' '%s'\" /dev/null",
                        QUARRY_BIN, idx, art),
                 0);
    expect_line(out, "\r\033[Kindexing: ");
    expect_line(out, " files  ");
    expect_line(out, " MB/s  ETA ");
    /* The line is erased before the summary. */
    const char *clear = strstr(out, "\r\033[K");
    cr_assert(clear);
    expect_line(out, "\r\033[Kindex:      ");
    free(out);
    /* --quiet: no progress, even on a terminal. */
    cr_assert_eq(
        cli_sh(&out, "script -qec \"'%s' index -q -i '%s' '%s'\" /dev/null", QUARRY_BIN, idx, art),
        0);
    cr_assert(!strstr(out, "indexing:"), "%s", out);
    expect_line(out, "nothing changed");
    free(out);
}

Test(index_cli, a_corrupt_segment_fails_the_run_and_keeps_the_commit)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "index -q --threads 1 -i '%s' '%s'", idx, art), 0);
    free(out);
    /* Damage the stored text, then delete 31 of 51 files: the segment must be rewritten. */
    cli_sh_ok("for f in '%s'/seg-*.sto; do printf 'XXXX' | dd of=\"$f\" bs=1 seek=100 conv=notrunc "
              "2>/dev/null; done",
              idx);
    cli_sh_ok("cd '%s' && rm -r ceasefire crimea elections envoys grain", art);
    cr_assert_eq(cli_quarry(&out, "index -i '%s' '%s' 2>&1", idx, art), 3);
    expect_line(out, "quarry: index: cannot read segment ");
    expect_line(out, "to merge it: corrupt data");
    free(out);
    /* The last commit is intact: stats still reads it. */
    cr_assert_eq(cli_quarry(&out, "stats -i '%s'", idx), 0);
    expect_line(out, "deleted:                 0\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats -i 2>&1"), 2);
    expect_line(out, "option '-i' needs a value");
    free(out);
}

/* The value of "key": N in a JSON text. */
static unsigned long long json_num(const char *json, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(json, k);
    cr_assert_not_null(p, "%s in %s", key, json);
    return strtoull(p + strlen(k), NULL, 10);
}

Test(index_cli, a_tiny_ram_budget_gives_the_same_index_content)
{
    char *a, *b, *out, small[400];
    snprintf(small, sizeof small, "%s/small.idx", tmp);
    cr_assert_eq(cli_quarry(&out, "index -q --threads 1 -i '%s' '%s'", idx, art), 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "index --threads 2 --ram 1 -i '%s' '%s'", small, art), 0);
    free(out);
    cr_assert_eq(cli_quarry(&a, "stats --json -i '%s'", idx), 0);
    cr_assert_eq(cli_quarry(&b, "stats --json -i '%s'", small), 0);
    cr_assert_eq(json_num(a, "segments"), 1);
    cr_assert_gt(json_num(b, "segments"), 1, "%s", b);
    const char *keys[] = {"documents", "terms", "postings", "positions"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(json_num(a, keys[i]), json_num(b, keys[i]), "%s", keys[i]);
    free(a);
    free(b);
}

/* `search --json` with the timing taken out, for comparing two indexes' answers. */
static char *answers(const char *index, const char *query)
{
    char *out;
    int rc = cli_sh(&out, "'%s' search --json -k 50 -i '%s' '%s' | sed 's/\"took_us\": *[0-9]*//'",
                    QUARRY_BIN, index, query);
    cr_assert_eq(rc, 0, "%s", query);
    return out;
}

Test(index_cli, optimize_merges_into_one_segment_and_drops_deletions)
{
    static const char *queries[] = {"ceasefire", "\"cease-fire\" AND crimea", "ukrain* -russia",
                                    "title:talks", "putin NEAR/5 zelensky"};
    enum { NQ = sizeof queries / sizeof queries[0] };
    char *out, *before[NQ];
    cr_assert_eq(cli_quarry(&out, "index -q --threads 2 --ram 1 -i '%s' '%s'", idx, art), 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    cr_assert_gt(json_num(out, "segments"), 1, "%s", out);
    free(out);
    for (size_t i = 0; i < NQ; i++)
        before[i] = answers(idx, queries[i]);

    /* Nothing changed, several segments: one commit more, one segment, the same answers. */
    cr_assert_eq(cli_quarry(&out, "index -q --optimize -i '%s' '%s'", idx, art), 0);
    cr_assert_null(strstr(out, "nothing changed"), "%s", out);
    expect_line(out, "unchanged:  51\n");
    expect_line(out, "documents:  51 in the index, 1 segment\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    cr_assert_eq(json_num(out, "segments"), 1, "%s", out);
    cr_assert_eq(json_num(out, "generation"), 2, "%s", out);
    free(out);
    for (size_t i = 0; i < NQ; i++) {
        char *after = answers(idx, queries[i]);
        cr_assert_str_eq(after, before[i], "%s", queries[i]);
        free(after);
        free(before[i]);
    }
    /* One segment, no deletions: nothing to do. */
    cr_assert_eq(cli_quarry(&out, "index -q --optimize -i '%s' '%s'", idx, art), 0);
    expect_line(out, "nothing changed: the index is up to date\n");
    free(out);

    /* Removals leave deletions in place; --optimize merges them away. */
    cli_sh_ok("cd '%s' && rm -r ceasefire crimea", art);
    unsigned left = count_files(art);
    cr_assert_eq(cli_quarry(&out, "index -q --optimize -i '%s' '%s'", idx, art), 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    cr_assert_eq(json_num(out, "segments"), 1, "%s", out);
    cr_assert_eq(json_num(out, "documents"), left, "%s", out);
    cr_assert_eq(json_num(out, "deleted"), 0, "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "check -i '%s'", idx), 0, "%s", out);
    free(out);
}

Test(index_cli, optimize_refuses_a_damaged_segment_and_keeps_the_commit)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "index -q --threads 2 --ram 1 -i '%s' '%s'", idx, art), 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    cr_assert_gt(json_num(out, "segments"), 1, "%s", out);
    unsigned long long segs = json_num(out, "segments");
    free(out);
    /* Nothing changed, so the merge is the only work; it verifies checksums and meets the damage.
     */
    cli_sh_ok("f=$(ls '%s'/seg-*.pos | head -1); printf 'XXXX' | dd of=\"$f\" bs=1 seek=12 "
              "conv=notrunc 2>/dev/null",
              idx);
    cr_assert_eq(cli_quarry(&out, "index -q --optimize -i '%s' '%s' 2>&1", idx, art), 3);
    expect_line(out, "quarry: index: merging into one segment failed (the index stays as the run "
                     "left it): cannot read segment ");
    expect_line(out, "corrupt data\n");
    free(out);
    /* The commit stands, every segment of it. */
    cr_assert_eq(cli_quarry(&out, "stats --json -i '%s'", idx), 0);
    cr_assert_eq(json_num(out, "segments"), segs, "%s", out);
    cr_assert_eq(json_num(out, "generation"), 1, "%s", out);
    free(out);
}
