/*
 * End-to-end tests of `quarry check`: a small on-disk index written with
 * the storage writers (words split on ASCII letters, lower-cased: the
 * analyzer is not what is tested here) is checked by the built binary;
 * then damaged byte by byte, cut short, missing files, orphans, a missing
 * deletion file, an index that is not there, an I/O error, and usage
 * errors, each with its exit status (0 sound, 2 usage, 3 damaged or
 * missing, 4 I/O) and its lines on stderr and stdout. Last, indexes that
 * `quarry index` makes of the sample articles, changed and re-indexed
 * (deletions, several segments), check sound, and an orphan that check
 * warns about is gone after the next `quarry index`.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_run.h"
#include "storage/dir.h"
#include "storage/manifest.h"
#include "storage/segment.h"
#include "storage/status.h"

/* ---- a small index ---- */

static char root[64]; /* a temporary directory; the index is root/quarry.idx */
static char idx[96];

typedef struct tok {
    char term[32];
    uint32_t doc, pos;
} tok;

static int cmp_tok(const void *a, const void *b)
{
    const tok *x = a, *y = b;
    int c = strcmp(x->term, y->term);
    if (c)
        return c;
    if (x->doc != y->doc)
        return x->doc < y->doc ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Writes a segment of documents "path|text" (text: title only); returns its manifest record. */
static qr_manifest_seg write_seg(qr_dir *d, uint64_t id, const char *const *docs, uint32_t n,
                                 uint64_t *terms, uint64_t *postings)
{
    qr_segment_writer *w;
    cr_assert_eq(qr_segment_writer_open(&w, d, id), 0);
    static tok toks[1024];
    size_t nt = 0;
    qr_manifest_seg ms = {id, n, 0, 0, 0};
    for (uint32_t i = 0; i < n; i++) {
        const char *bar = strchr(docs[i], '|'), *text = bar + 1;
        uint32_t pos = 0;
        for (const char *p = text; *p;) {
            while (*p && !isalpha((unsigned char)*p))
                p++;
            if (!*p)
                break;
            tok *t = &toks[nt++];
            size_t k = 0;
            while (isalpha((unsigned char)*p))
                t->term[k++] = (char)tolower((unsigned char)*p++);
            t->term[k] = '\0';
            t->doc = i;
            t->pos = pos++;
        }
        qr_doc_in in = {
            docs[i], (size_t)(bar - docs[i]), text, strlen(text), "", 0, pos, pos, strlen(text), 0,
            i};
        cr_assert_eq(qr_segment_writer_add_doc(w, &in), 0);
        ms.live_positions += pos;
    }
    qsort(toks, nt, sizeof *toks, cmp_tok);
    for (size_t i = 0; i < nt;) {
        size_t j = i;
        while (j < nt && !strcmp(toks[j].term, toks[i].term))
            j++;
        cr_assert_eq(qr_segment_writer_begin_term(w, toks[i].term, strlen(toks[i].term)), 0);
        for (size_t p = i; p < j;) {
            uint32_t pos[64], tf = 0;
            size_t q = p;
            while (q < j && toks[q].doc == toks[p].doc)
                pos[tf++] = toks[q++].pos;
            cr_assert_eq(qr_segment_writer_add_posting(w, toks[p].doc, tf, pos), 0);
            p = q;
        }
        cr_assert_eq(qr_segment_writer_end_term(w), 0);
        i = j;
    }
    qr_segment_info info;
    cr_assert_eq(qr_segment_writer_finish(w, &info), 0);
    *terms += info.terms;
    *postings += info.postings;
    return ms;
}

static const char *const seg1[] = {
    "news/a.txt|Cease fire talks resume in Geneva",
    "news/b.txt|Grain corridor reopens after talks",
    "news/c.txt|Talks talks talks",
};
static const char *const seg2[] = {
    "news/b.txt|Grain corridor closes again",
    "sport/d.txt|Geneva open begins",
};

static uint64_t n_terms, n_postings;

/* root/quarry.idx: segment 1 (news/b.txt deleted), segment 2 (its new version). */
static void setup(void)
{
    strcpy(root, "/tmp/quarry-check-cli-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    snprintf(idx, sizeof idx, "%s/quarry.idx", root);
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, idx, true), 0);
    n_terms = n_postings = 0;
    qr_manifest_seg segs[2] = {write_seg(d, 1, seg1, 3, &n_terms, &n_postings),
                               write_seg(d, 2, seg2, 2, &n_terms, &n_postings)};
    qr_deletes del;
    qr_deletes_init(&del, 3);
    cr_assert_eq(qr_deletes_add(&del, 1), 0);
    cr_assert_eq(qr_deletes_write(d, 1, 1, &del), 0);
    qr_deletes_free(&del);
    segs[0].deleted = 1;
    segs[0].del_gen = 1;
    segs[0].live_positions -= 5; /* "Grain corridor reopens after talks" */
    qr_manifest m = {1, 3, "english", 2, segs};
    cr_assert_eq(qr_manifest_commit(d, &m), 0);
    qr_dir_close(d);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void expect_sound(void)
{
    char *out, *err;
    int st = cli_sh2(&out, &err, "\"$QUARRY\" check -i '%s'", idx);
    cr_assert_eq(st, 0, "stderr: %s", err);
    char want[256];
    snprintf(want, sizeof want,
             "ok: 4 documents in 2 segments, %llu terms, %llu postings checked\n",
             (unsigned long long)n_terms, (unsigned long long)n_postings);
    cr_assert_str_eq(out, want);
    cr_assert_str_eq(err, "");
    free(out);
    free(err);
}

/* ---- sound ---- */

TestSuite(check_cli, .init = setup, .fini = teardown, .timeout = 300);

Test(check_cli, sound_index_and_where_it_is_looked_for)
{
    expect_sound();
    char *out, *err;
    /* $QUARRY_INDEX, then ./quarry.idx */
    cr_assert_eq(cli_sh2(&out, &err, "cd / && QUARRY_INDEX='%s' \"$QUARRY\" check", idx), 0, "%s",
                 err);
    cr_assert(!strncmp(out, "ok: 4 documents", 15), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(cli_sh2(&out, &err, "cd '%s' && QUARRY_INDEX= \"$QUARRY\" check", root), 0, "%s",
                 err);
    cr_assert(!strncmp(out, "ok: 4 documents", 15), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(cli_sh2(&out, &err, "cd '%s' && \"$QUARRY\" check --index quarry.idx", root), 0);
    free(out);
    free(err);
}

Test(check_cli, missing_index_is_one_line_and_exit_3)
{
    char *out, *err;
    cr_assert_eq(cli_sh2(&out, &err, "\"$QUARRY\" check -i '%s/nothing'", root), 3);
    char want[256];
    snprintf(want, sizeof want, "quarry: check: no index at %s/nothing\n", root);
    cr_assert_str_eq(err, want);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
    /* a directory without a manifest or segment files is no index either */
    cr_assert_eq(
        cli_sh2(&out, &err, "mkdir '%s/empty' && \"$QUARRY\" check -i '%s/empty'", root, root), 3);
    snprintf(want, sizeof want, "quarry: check: no index at %s/empty\n", root);
    cr_assert_str_eq(err, want);
    free(out);
    free(err);
}

/* ---- damaged ---- */

static const char *const files[] = {
    "MANIFEST-0000000000000001", "seg-0000000000000001.tdi",
    "seg-0000000000000001.doc",  "seg-0000000000000001.pos",
    "seg-0000000000000001.sto",  "seg-0000000000000001.dmt",
    "seg-0000000000000002.tdi",  "seg-0000000000000002.doc",
    "seg-0000000000000002.pos",  "seg-0000000000000002.sto",
    "seg-0000000000000002.dmt",  "seg-0000000000000001-0000000000000001.del",
};

Test(check_cli, damaged_files_are_named_and_exit_3)
{
    char **names;
    size_t n;
    qr_dir *d;
    cr_assert_eq(qr_dir_open_posix(&d, idx, false), 0);
    cr_assert_eq(qr_dir_list(d, &names, &n), 0);
    cr_assert_eq(n, sizeof files / sizeof files[0], "the index holds every file listed here");
    qr_dir_list_free(names, n);
    qr_dir_close(d);
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        char path[256];
        snprintf(path, sizeof path, "%s/%s", idx, files[f]);
        struct stat stt;
        cr_assert_eq(stat(path, &stt), 0);
        size_t size = (size_t)stt.st_size;
        /* a few flips spread over the file, its first and last bytes, and two cuts */
        size_t at[] = {0, size / 3, size / 2, size - 9, size - 1};
        for (size_t i = 0; i < sizeof at / sizeof at[0] + 2; i++) {
            char *out, *err;
            int st;
            if (i < sizeof at / sizeof at[0])
                st = cli_sh2(&out, &err,
                             "cp '%s' '%s/saved' && printf '\\377' | dd of='%s' bs=1 seek=%zu "
                             "conv=notrunc 2>/dev/null && \"$QUARRY\" check -i '%s'; s=$?; "
                             "mv '%s/saved' '%s'; exit $s",
                             path, root, path, at[i], idx, root, path);
            else
                st = cli_sh2(
                    &out, &err,
                    "cp '%s' '%s/saved' && truncate -s %zu '%s' && \"$QUARRY\" check -i '%s'; "
                    "s=$?; mv '%s/saved' '%s'; exit $s",
                    path, root, i == sizeof at / sizeof at[0] ? size / 2 : (size_t)3, path, idx,
                    root, path);
            cr_assert_eq(st, 3, "%s, case %zu: exit %d, stderr: %s", files[f], i, st, err);
            char want[256];
            snprintf(want, sizeof want, "quarry: check: %s/%s", idx, files[f]);
            cr_assert(strstr(err, want), "%s, case %zu not named: %s", files[f], i, err);
            cr_assert(!strncmp(out, "damaged: ", 9) && strstr(out, " problems\n"), "%s", out);
            free(out);
            free(err);
        }
    }
    expect_sound();
}

Test(check_cli, one_line_per_problem_with_file_and_offset)
{
    char *out, *err;
    /* the last byte of segment 2's dictionary: its checksum */
    char path[256];
    snprintf(path, sizeof path, "%s/seg-0000000000000002.tdi", idx);
    struct stat stt;
    cr_assert_eq(stat(path, &stt), 0);
    int st = cli_sh2(&out, &err,
                     "printf '\\377' | dd of='%s' bs=1 seek=%lld conv=notrunc 2>/dev/null && "
                     "rm '%s/seg-0000000000000001.pos' && \"$QUARRY\" check -i '%s'",
                     path, (long long)stt.st_size - 1, idx, idx);
    cr_assert_eq(st, 3);
    char want[1024];
    snprintf(want, sizeof want,
             "quarry: check: %s/seg-0000000000000001.pos: missing (MANIFEST-0000000000000001 "
             "names it)\n"
             "quarry: check: %s/seg-0000000000000002.tdi@%lld: checksum mismatch: stored ",
             idx, idx, (long long)stt.st_size - 8);
    cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
    cr_assert_eq(strchr(err + strlen(want), '\n')[1], '\0', "two lines: %s", err);
    cr_assert_str_eq(out, "damaged: 2 problems\n");
    free(out);
    free(err);
}

Test(check_cli, missing_deletion_file)
{
    char *out, *err;
    int st = cli_sh2(&out, &err,
                     "rm '%s/seg-0000000000000001-0000000000000001.del' && "
                     "\"$QUARRY\" check -i '%s'",
                     idx, idx);
    cr_assert_eq(st, 3);
    char want[512];
    snprintf(want, sizeof want,
             "quarry: check: %s/seg-0000000000000001-0000000000000001.del: missing "
             "(MANIFEST-0000000000000001 names it)\n",
             idx);
    cr_assert_str_eq(err, want);
    cr_assert_str_eq(out, "damaged: 1 problems\n");
    free(out);
    free(err);
}

Test(check_cli, orphan_is_a_warning_and_exit_0)
{
    char *out, *err;
    int st = cli_sh2(&out, &err, "echo x > '%s/notes.txt' && \"$QUARRY\" check -i '%s'", idx, idx);
    cr_assert_eq(st, 0, "%s", err);
    char want[512];
    snprintf(want, sizeof want,
             "quarry: check: %s/notes.txt: warning: orphan file, removed by the next `quarry "
             "index`\n",
             idx);
    cr_assert_str_eq(err, want);
    cr_assert(strstr(out, "postings checked (1 warnings)\n"), "%s", out);
    free(out);
    free(err);
}

Test(check_cli, io_error_exits_4)
{
    /* a directory where a segment file should be: it cannot be read */
    char *out, *err;
    int st = cli_sh2(&out, &err,
                     "rm '%s/seg-0000000000000002.sto' && mkdir '%s/seg-0000000000000002.sto' && "
                     "\"$QUARRY\" check -i '%s'",
                     idx, idx, idx);
    cr_assert_eq(st, 4, "%s", err);
    cr_assert(strstr(err, "quarry: check: "), "%s", err);
    cr_assert(strstr(err, "input/output error; the check stopped"), "%s", err);
    cr_assert_str_eq(out, "");
    free(out);
    free(err);
}

Test(check_cli, usage_errors_exit_2_and_help)
{
    char *out, *err;
    cr_assert_eq(cli_sh2(&out, &err, "\"$QUARRY\" check --bogus"), 2);
    cr_assert_str_eq(err, "quarry: check: unknown option '--bogus' (see `quarry check --help`)\n");
    free(out);
    free(err);
    cr_assert_eq(cli_sh2(&out, &err, "\"$QUARRY\" check -i"), 2);
    cr_assert_str_eq(err, "quarry: check: option '-i' needs a value (see `quarry check --help`)\n");
    free(out);
    free(err);
    cr_assert_eq(cli_sh2(&out, &err, "\"$QUARRY\" check -i '%s' extra", idx), 2);
    cr_assert_str_eq(err,
                     "quarry: check: unexpected argument 'extra' (see `quarry check --help`)\n");
    free(out);
    free(err);
    cr_assert_eq(cli_sh2(&out, &err, "\"$QUARRY\" check --help"), 0);
    cr_assert(!strncmp(out, "usage: quarry check [-i INDEX]\n", 31), "%s", out);
    free(out);
    free(err);
    cr_assert_eq(cli_sh2(&out, &err, "\"$QUARRY\" --help"), 0);
    cr_assert(strstr(out, "  check     verify every file of an index"), "%s", out);
    free(out);
    free(err);
}

/* ---- indexes that `quarry index` makes ---- */

Test(check_cli, indexes_made_by_quarry_index_are_sound)
{
    char *out, *err;
    int st = cli_sh2(&out, &err,
                     "cp -r '%s/samples/articles' '%s/articles' && "
                     "\"$QUARRY\" index --quiet -i '%s/ix' '%s/articles' >/dev/null && "
                     "\"$QUARRY\" check -i '%s/ix'",
                     QUARRY_SOURCE_ROOT, root, root, root, root);
    cr_assert_eq(st, 0, "%s", err);
    cr_assert(!strncmp(out, "ok: 51 documents in ", 20), "%s", out);
    cr_assert_str_eq(err, "");
    free(out);
    free(err);

    /* one article changed, one removed, one added: deletions in the old segments */
    st = cli_sh2(&out, &err,
                 "printf 'Changed\\n\\nA new body.\\n' > '%s/articles/nato/001.txt' && "
                 "rm '%s/articles/grain/002.txt' && "
                 "printf 'Added\\n\\nAnother body.\\n' > '%s/articles/nato/099.txt' && "
                 "\"$QUARRY\" index --quiet -i '%s/ix' '%s/articles' >/dev/null && "
                 "\"$QUARRY\" stats -i '%s/ix' | grep -E '^deleted: +[1-9]' >/dev/null && "
                 "\"$QUARRY\" check -i '%s/ix'",
                 root, root, root, root, root, root, root);
    cr_assert_eq(st, 0, "%s", err);
    cr_assert(!strncmp(out, "ok: 51 documents in ", 20), "%s", out);
    free(out);
    free(err);

    /* an orphan is a warning, and the next `quarry index` removes it, as the warning says */
    st = cli_sh2(
        &out, &err,
        "touch '%s/ix/seg-00000000000000ff.tdi' && \"$QUARRY\" check -i '%s/ix' >/dev/null && "
        "\"$QUARRY\" index --quiet -i '%s/ix' '%s/articles' >/dev/null && "
        "\"$QUARRY\" check -i '%s/ix'",
        root, root, root, root, root);
    cr_assert_eq(st, 0, "%s", err);
    char want[256];
    snprintf(want, sizeof want, "quarry: check: %s/ix/seg-00000000000000ff.tdi: warning: ", root);
    cr_assert(!strncmp(err, want, strlen(want)), "%s", err);
    cr_assert(!strchr(err, '\n')[1], "only the first check warns: %s", err);
    cr_assert(!strstr(out, "warnings"), "%s", out);
    free(out);
    free(err);
}
