/*
 * Tests for the embedding API (include/quarry.h): analyse, open an index
 * on disk, search, iterate hits with titles and snippets, count, errors.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/indexer.h"
#include "quarry.h"
#include "storage/dir.h"

static char root[64];

static void make_index(void)
{
    static const qr_mem_doc docs[] = {
        {"a/1", "Cease-fire talks resume\nThe cease-fire in Crimea held overnight.", 0},
        {"a/2", "Grain deal\nUkraine's grain exports rose; a ceasefire was agreed.", 0},
        {"a/3", "Weather\nRain in Kyiv.", 0},
    };
    qr_mem_doc d[3];
    for (int i = 0; i < 3; i++) {
        d[i] = docs[i];
        d[i].len = strlen(d[i].text);
    }
    snprintf(root, sizeof root, "/tmp/quarry-api-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    char path[128];
    snprintf(path, sizeof path, "%s/idx", root);
    qr_dir *dir;
    cr_assert_eq(qr_dir_open_posix(&dir, path, true), 0);
    cr_assert_eq(qr_index_build_docs(dir, NULL, d, 3), 0);
    qr_dir_close(dir);
}

static void remove_index(void)
{
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(api, .init = make_index, .fini = remove_index);

static int count_tokens(void *ctx, const char *term, size_t len, uint32_t pos)
{
    char *out = ctx;
    char buf[64];
    snprintf(buf, sizeof buf, "%s%u:%.*s", *out ? " " : "", pos, (int)len, term);
    strcat(out, buf);
    return 0;
}

Test(api, analyze)
{
    quarry_analyzer *a;
    cr_assert_eq(quarry_analyzer_open(&a, NULL), QUARRY_OK);
    char out[256] = "";
    cr_assert_eq(quarry_analyze(a, "the cease-fire talks", 20, count_tokens, out), 0);
    cr_assert_str_eq(out, "0:the 1:ceas 1:ceasefir 2:fire 3:talk");
    quarry_analyzer_close(a);
    cr_assert_eq(quarry_analyzer_open(&a, "klingon"), QUARRY_EINVAL);
    cr_assert_null(a);
    quarry_analyzer_close(NULL);
}

Test(api, search_and_iterate)
{
    char path[128];
    snprintf(path, sizeof path, "%s/idx", root);
    quarry_index *ix;
    quarry_error err;
    cr_assert_eq(quarry_index_open(&ix, path, &err), QUARRY_OK, "%s", err.message);
    cr_assert_eq(quarry_index_docs(ix), 3);
    quarry_hits *h;
    cr_assert_eq(quarry_search(&h, ix, "ceasefire", NULL, &err), QUARRY_OK);
    cr_assert_eq(quarry_hits_total(h), 2);
    cr_assert_eq(quarry_hits_count(h), 2);
    quarry_hit hit;
    cr_assert_eq(quarry_hits_next(h, &hit), 1);
    cr_assert_eq(hit.rank, 1);
    cr_assert_str_eq(hit.path, "a/1");
    cr_assert_str_eq(hit.title, "Cease-fire talks resume");
    cr_assert_str_eq(hit.snippet, "The [cease-fire] in Crimea held overnight.");
    cr_assert_gt(hit.score, 0);
    cr_assert_eq(quarry_hits_next(h, &hit), 1);
    cr_assert_str_eq(hit.path, "a/2");
    cr_assert_str_eq(hit.snippet, "Ukraine's grain exports rose; a [ceasefire] was agreed.");
    cr_assert_eq(quarry_hits_next(h, &hit), 0);
    quarry_hits_free(h);
    /* options: offset, marks, counting, OR juxtaposition */
    quarry_search_options o = {1, 1, QUARRY_SEARCH_ANY, "<", ">"};
    cr_assert_eq(quarry_search(&h, ix, "rain grain", &o, &err), QUARRY_OK);
    cr_assert_eq(quarry_hits_total(h), 2);
    cr_assert_eq(quarry_hits_next(h, &hit), 1);
    cr_assert_eq(hit.rank, 2);
    cr_assert(strstr(hit.snippet, "<"), "%s", hit.snippet);
    quarry_hits_free(h);
    o = (quarry_search_options){10, 0, QUARRY_SEARCH_COUNT_ONLY, NULL, NULL};
    cr_assert_eq(quarry_search(&h, ix, "-rain", &o, &err), QUARRY_OK);
    cr_assert_eq(quarry_hits_total(h), 2);
    cr_assert_eq(quarry_hits_count(h), 0);
    cr_assert_eq(quarry_hits_next(h, &hit), 0);
    quarry_hits_free(h);
    o = (quarry_search_options){10, 0, QUARRY_SEARCH_NO_SNIPPETS, NULL, NULL};
    cr_assert_eq(quarry_search(&h, ix, "kyiv", &o, &err), QUARRY_OK);
    cr_assert_eq(quarry_hits_next(h, &hit), 1);
    cr_assert_str_eq(hit.path, "a/3");
    cr_assert_str_eq(hit.snippet, "");
    quarry_hits_free(h);
    /* a syntax error names its column */
    cr_assert_eq(quarry_search(&h, ix, "crimea (talks", NULL, &err), QUARRY_ESYNTAX);
    cr_assert_null(h);
    cr_assert_eq(err.column, 8);
    cr_assert_str_eq(err.message, "query error at column 8: unbalanced parenthesis");
    quarry_hits_free(NULL);
    quarry_index_close(ix);
}

Test(api, open_errors)
{
    quarry_index *ix;
    quarry_error err;
    cr_assert_eq(quarry_index_open(&ix, "/nonexistent/idx", &err), QUARRY_ENOTFOUND);
    cr_assert_null(ix);
    cr_assert(strstr(err.message, "/nonexistent/idx"), "%s", err.message);
    cr_assert_eq(quarry_index_open(&ix, root, NULL), QUARRY_ENOTFOUND); /* a directory, no index */
    cr_assert_str_eq(quarry_strerror(QUARRY_ECORRUPT), "corrupt data");
    quarry_index_close(NULL);
}
