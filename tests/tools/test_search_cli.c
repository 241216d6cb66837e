/*
 * End-to-end tests of `quarry search` (SPEC §5) on the bundled sample
 * articles: the text layout, JSON, --count, -k and --offset, --any, batch
 * queries on standard input, QUARRY_INDEX, and every exit status: hits, no
 * hits, syntax errors with their column, missing and corrupt indexes.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"

static char tmp[64];
static char idx[128];

static void setup(void)
{
    snprintf(tmp, sizeof tmp, "/tmp/quarry-search-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    snprintf(idx, sizeof idx, "%s/quarry.idx", tmp);
    char *out;
    int st = cli_quarry(&out, "index --quiet -i '%s' '%s/samples/articles' 2>&1", idx,
                        QUARRY_SOURCE_ROOT);
    cr_assert_eq(st, 0, "%s", out);
    free(out);
}

static void teardown(void)
{
    cli_sh_ok("rm -rf '%s'", tmp);
}

TestSuite(search_cli, .init = setup, .fini = teardown, .timeout = 120);

Test(search_cli, text_layout)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "search -i '%s' '\"cease-fire\" AND crimea'", idx), 0);
    /* RANK. PATH  (score S.SSSS) / 3-space title / 3-space snippet / blank ... N hits */
    cr_assert(!strncmp(out, "1. articles/ceasefire/001.txt  (score ", 38), "%s", out);
    char *l2 = strchr(out, '\n') + 1;
    cr_assert(!strncmp(l2, "   Cease-fire talks resume in Geneva", 36), "%s", out);
    char *l3 = strchr(l2, '\n') + 1;
    cr_assert(!strncmp(l3, "   ", 3) && strstr(l3, "[cease-fire]"), "%s", out);
    char *l4 = strchr(l3, '\n') + 1;
    cr_assert_eq(*l4, '\n');
    cr_assert(strstr(out, "\n2. articles/"), "%s", out);
    size_t n = strlen(out);
    cr_assert(n > 8 && !strcmp(out + n - 8, "\n2 hits\n"), "%s", out);
    free(out);
    /* one hit: "1 hit" */
    cr_assert_eq(cli_quarry(&out, "search -i '%s' 'title:\"christmas truce\"'", idx), 0);
    cr_assert(!strncmp(out, "1. articles/ceasefire/004.txt  (score ", 38), "%s", out);
    cr_assert(strstr(out, "\n\n1 hit\n"), "%s", out);
    free(out);
}

Test(search_cli, score_has_four_decimals_and_ranks_follow_offset)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "search -i '%s' -k 2 --offset 3 ceasefire", idx), 0);
    cr_assert(!strncmp(out, "4. articles/", 12), "%s", out);
    cr_assert(strstr(out, "\n5. articles/"), "%s", out);
    cr_assert_null(strstr(out, "\n6. "), "%s", out);
    const char *s = strstr(out, "(score ");
    cr_assert_not_null(s);
    double v;
    char close;
    cr_assert_eq(sscanf(s, "(score %lf%c", &v, &close), 2);
    cr_assert_eq(close, ')');
    cr_assert(strchr(s, '.') - s == 8 && s[13] == ')', "%s", s); /* d.dddd */
    free(out);
}

Test(search_cli, json_output)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --json -k 3 'ukrain* -russia'", idx), 0);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
    json_error_t e;
    json_t *o = json_loads(out, 0, &e);
    cr_assert_not_null(o, "%s: %s", e.text, out);
    cr_assert_eq(json_object_size(o), 4);
    cr_assert_str_eq(json_string_value(json_object_get(o, "query")), "ukrain* -russia");
    json_int_t total = json_integer_value(json_object_get(o, "total"));
    cr_assert_gt(total, 3);
    cr_assert(json_is_integer(json_object_get(o, "took_us")));
    json_t *hits = json_object_get(o, "hits");
    cr_assert_eq(json_array_size(hits), 3);
    double prev = 1e300;
    for (size_t i = 0; i < 3; i++) {
        json_t *h = json_array_get(hits, i);
        cr_assert_eq(json_object_size(h), 5);
        cr_assert_eq(json_integer_value(json_object_get(h, "rank")), (json_int_t)i + 1);
        cr_assert(json_is_real(json_object_get(h, "score")));
        double sc = json_real_value(json_object_get(h, "score"));
        cr_assert(sc <= prev);
        prev = sc;
        cr_assert(!strncmp(json_string_value(json_object_get(h, "path")), "articles/", 9));
        cr_assert(json_is_string(json_object_get(h, "title")));
        cr_assert(strchr(json_string_value(json_object_get(h, "snippet")), '['));
    }
    json_decref(o);
    free(out);
    /* the key order of SPEC §5 */
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --json -k 1 ceasefire", idx), 0);
    cr_assert(!strncmp(out, "{\"query\":\"ceasefire\",\"total\":", 29), "%s", out);
    cr_assert(strstr(out, "\"hits\":[{\"rank\":1,\"path\":"), "%s", out);
    free(out);
}

Test(search_cli, count_and_exit_statuses)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count ceasefire", idx), 0);
    cr_assert_str_eq(out, "13\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count --any 'ceasefire grain'", idx), 0);
    long any = atol(out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count 'ceasefire OR grain'", idx), 0);
    cr_assert_eq(atol(out), any);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' xylophonist", idx), 1);
    cr_assert_str_eq(out, "0 hits\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count xylophonist", idx), 1);
    cr_assert_str_eq(out, "0\n");
    free(out);
    /* punctuation is no error: it matches nothing */
    cr_assert_eq(cli_quarry(&out, "search -i '%s' ',,,'", idx), 1);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' 'putin AND (talks OR truce' 2>&1", idx), 2);
    cr_assert_str_eq(out, "quarry: query error at column 11: unbalanced parenthesis\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' 'crimea a*' 2>&1", idx), 2);
    cr_assert_str_eq(out, "quarry: query error at column 8: prefix shorter than 2 characters\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' -k x crimea 2>&1", idx), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' -k -1 crimea 2>&1", idx), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' 2>&1", idx), 2);
    cr_assert(strstr(out, "missing QUERY"), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search --bogus x 2>&1"), 2);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search --help"), 0);
    cr_assert(strstr(out, "usage: quarry search"));
    free(out);
    /* -k 0: the total only */
    cr_assert_eq(cli_quarry(&out, "search -i '%s' -k 0 ceasefire", idx), 0);
    cr_assert_str_eq(out, "13 hits\n");
    free(out);
}

/*
 * A refused option is named as typed: a letter inside a bundle with its
 * bundle (getopt has then not moved past it), and a query that starts with
 * '-' is told to go after '--', where it is a query (SPEC §3: NOT crimea).
 */
Test(search_cli, refused_options_are_named_and_dash_queries_go_after_double_dash)
{
    static const struct {
        const char *args, *err;
    } cases[] = {
        {"--json -crimea",
         "quarry: search: unknown option '-r' (in '-crimea'): a query that starts with '-' goes "
         "after '--' (quarry search -- -word)\n"},
        {"-crimea --json",
         "quarry: search: unknown option '-r' (in '-crimea'): a query that starts with '-' goes "
         "after '--' (quarry search -- -word)\n"},
        {"-cx crimea", "quarry: search: unknown option '-x' (in '-cx'): a query that starts with "
                       "'-' goes after '--' (quarry search -- -word)\n"},
        {"-x crimea", "quarry: search: unknown option '-x' (see `quarry search --help`)\n"},
        {"--json --frob crimea",
         "quarry: search: unknown option '--frob' (see `quarry search --help`)\n"},
        {"crimea -k", "quarry: search: option '-k' needs a value (see `quarry search --help`)\n"},
        {"crimea --offset",
         "quarry: search: option '--offset' needs a value (see `quarry search --help`)\n"},
    };
    char *out;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(cli_quarry(&out, "search -i '%s' %s 2>&1", idx, cases[i].args), 2, "%s",
                     cases[i].args);
        cr_assert_str_eq(out, cases[i].err, "%s", cases[i].args);
        free(out);
    }
    /* after --, -crimea is NOT crimea: every document but crimea's */
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count -- -crimea", idx), 0);
    long without = atol(out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count crimea", idx), 0);
    long with = atol(out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count -- -xylophonist", idx), 0);
    cr_assert_eq(without + with, atol(out));
    cr_assert_gt(with, 0);
    cr_assert_gt(without, 0);
    free(out);
}

Test(search_cli, index_from_environment_and_missing_index)
{
    char *out;
    /* ./quarry.idx by default */
    cr_assert_eq(
        cli_sh(&out, "cd '%s' && env -u QUARRY_INDEX '%s' search --count crimea", tmp, QUARRY_BIN),
        0);
    long here = atol(out);
    cr_assert_gt(here, 0);
    free(out);
    /* else $QUARRY_INDEX */
    cr_assert_eq(
        cli_sh(&out, "cd / && QUARRY_INDEX='%s' '%s' search --count crimea", idx, QUARRY_BIN), 0);
    cr_assert_eq(atol(out), here);
    free(out);
    cr_assert_eq(cli_sh(&out, "cd / && env -u QUARRY_INDEX '%s' search crimea 2>&1", QUARRY_BIN),
                 3);
    cr_assert_str_eq(out, "quarry: no index at quarry.idx (run quarry index first)\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s/nothing' crimea 2>&1", tmp), 3);
    char want[256];
    snprintf(want, sizeof want, "quarry: no index at %s/nothing (run quarry index first)\n", tmp);
    cr_assert_str_eq(out, want);
    free(out);
    /* a directory without a manifest is no index either */
    cr_assert_eq(cli_quarry(&out, "search -i '%s' crimea 2>&1", tmp), 3);
    free(out);
}

/* The name of the first file of the index ending with ext. */
static void find_file(const char *ext, char *out, size_t len)
{
    DIR *d = opendir(idx);
    cr_assert_not_null(d);
    struct dirent *e;
    out[0] = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), m = strlen(ext);
        if (n > m && !strcmp(e->d_name + n - m, ext)) {
            snprintf(out, len, "%s", e->d_name);
            break;
        }
    }
    closedir(d);
    cr_assert(out[0], "no *%s file", ext);
}

Test(search_cli, corrupt_index_is_one_line_naming_the_file)
{
    static const char *const exts[] = {".tdi", ".doc", ".pos", ".sto", ".dmt"};
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
        char name[128], *out;
        find_file(exts[i], name, sizeof name);
        /* flip one byte in the middle of the file (a copy is kept to restore it) */
        cr_assert_eq(cli_sh(&out,
                            "cd '%s' && cp '%s' keep && size=$(stat -c %%s '%s') && "
                            "printf '\\377' | dd of='%s' bs=1 seek=$((size / 2)) "
                            "conv=notrunc status=none",
                            idx, name, name, name),
                     0);
        free(out);
        cr_assert_eq(cli_quarry(&out, "search -i '%s' crimea 2>&1", idx), 3, "%s", name);
        cr_assert(strstr(out, name), "%s: %s", name, out);
        cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
        cr_assert(!strncmp(out, "quarry: ", 8), "%s", out);
        free(out);
        cr_assert_eq(cli_sh(&out, "cd '%s' && mv keep '%s'", idx, name), 0);
        free(out);
    }
    /* a truncated manifest */
    char *out;
    cr_assert_eq(cli_sh(&out, "cd '%s' && for f in MANIFEST-*; do : > \"$f\"; done", idx), 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' crimea 2>&1", idx), 3);
    cr_assert(strstr(out, "MANIFEST-"), "%s", out);
    free(out);
}

Test(search_cli, batch_from_stdin)
{
    char *out;
    cr_assert_eq(cli_quarry(&out,
                            "search -i '%s' --count - <<'EOF'\nceasefire\nxylophonist\ncrimea\nEOF",
                            idx),
                 0);
    cr_assert(!strncmp(out, "13\n0\n", 5), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' --count - <<'EOF'\nxylophonist\nEOF", idx), 1);
    free(out);
    /* a syntax error is reported and the batch goes on; the status is then 2 */
    cr_assert_eq(
        cli_quarry(&out, "search -i '%s' --json -k 1 - <<'EOF'\ncrimea\n(broken\ngrain\nEOF", idx),
        2);
    char *l1 = out, *l2 = strchr(l1, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    cr_assert(!strncmp(l1, "{\"query\":\"crimea\",\"total\":", 26), "%s", out);
    const char *want =
        "{\"query\":\"(broken\",\"error\":\"unbalanced parenthesis\",\"column\":1}\n";
    cr_assert(!strncmp(l2, want, strlen(want)), "%s", out);
    cr_assert(!strncmp(l3, "{\"query\":\"grain\"", 16), "%s", out);
    free(out);
    cr_assert_eq(cli_quarry(&out, "search -i '%s' -k 1 - 2>&1 <<'EOF'\ncrimea\nNOT\nEOF", idx), 2);
    cr_assert(strstr(out, "quarry: query error at column 1: NOT without an operand\n"), "%s", out);
    cr_assert(strstr(out, "1. articles/"), "%s", out);
    free(out);
}
