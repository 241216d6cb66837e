/*
 * End-to-end tests of the `quarry` binary: each runs the built executable
 * (QUARRY_BIN) through the shell and checks its output and exit status.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_run.h"

Test(cli, analyze_prints_position_tab_term)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "analyze 'the cease-fire talks'"), 0);
    cr_assert_str_eq(out, "0\tthe\n1\tceas\n1\tceasefir\n2\tfire\n3\ttalk\n");
    free(out);
}

Test(cli, analyze_reads_stdin)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "analyze - <<'EOF'\nGdańsk\nKraków\nEOF"), 0);
    cr_assert_str_eq(out, "0\tgdansk\n1\tkrakow\n");
    free(out);
}

Test(cli, analyze_unknown_language_exits_2_and_lists)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "analyze --language klingon word 2>&1"), 2);
    cr_assert(strstr(out, "unknown language 'klingon'"), "%s", out);
    cr_assert(strstr(out, "english"), "%s", out);
    cr_assert(strstr(out, "none"), "%s", out);
    free(out);
}

Test(cli, analyze_language_none)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "analyze --language none 'Talks running'"), 0);
    cr_assert_str_eq(out, "0\ttalks\n1\trunning\n");
    free(out);
}

Test(cli, analyze_stdin_with_invalid_utf8)
{
    /* /bin/sh's printf has no \x: octal \303 = 0xc3 (a truncated ó), \377 = 0xff. An
     * invalid byte separates words (SPEC §2.1); a valid ó further on still folds. */
    char *out;
    cr_assert_eq(
        cli_quarry(&out,
                   "analyze - <<EOF\n$(printf 'Gda\\303sk ab\\377cd\\nKrak\\303\\263w')\nEOF"),
        0);
    cr_assert_str_eq(out, "0\tgda\n1\tsk\n2\tab\n3\tcd\n4\tkrakow\n");
    free(out);
    /* only invalid bytes: no tokens, still success */
    cr_assert_eq(cli_quarry(&out, "analyze - < /dev/null"), 0);
    cr_assert_str_eq(out, "");
    free(out);
    cr_assert_eq(cli_quarry(&out, "analyze - <<EOF\n$(printf '\\377\\376\\300\\257')\nEOF"), 0);
    cr_assert_str_eq(out, "");
    free(out);
}

Test(cli, analyze_sample_with_invalid_utf8)
{
    /* samples/articles/sanctions/006.txt breaks words with \xff and a lone \xc3. */
    char *out;
    cr_assert_eq(
        cli_quarry(&out, "analyze - < '" QUARRY_SOURCE_ROOT "/samples/articles/sanctions/006.txt'"),
        0);
    cr_assert(strstr(out, "\tkrakow\n"), "the valid Kraków of the headline");
    cr_assert(strstr(out, "\tkrak\n"), "Krak\\xc3w splits before the bad byte");
    cr_assert(strstr(out, "\tsanc\n"), "sanc\\xfftions splits");
    cr_assert(strstr(out, "\ttion\n"), "... and the stemmed rest follows");
    free(out);
    cr_assert_eq(
        cli_quarry(&out, "analyze - < '" QUARRY_SOURCE_ROOT "/samples/articles/elections/006.txt'"),
        0);
    cr_assert_str_eq(out, "", "the empty sample has no tokens");
    free(out);
}

Test(cli, analyze_joins_several_text_args_with_spaces)
{
    char *out;
    /* joined with a space, not glued: no "ceasefir" concatenation */
    cr_assert_eq(cli_quarry(&out, "analyze cease fire talks"), 0);
    cr_assert_str_eq(out, "0\tceas\n1\tfire\n2\ttalk\n");
    free(out);
    /* a hyphen at the end of one argument does not join the next */
    cr_assert_eq(cli_quarry(&out, "analyze 'cease-' fire"), 0);
    cr_assert_str_eq(out, "0\tceas\n1\tfire\n");
    free(out);
    /* after --, a word that starts with - is text */
    cr_assert_eq(cli_quarry(&out, "analyze -- cease -fire"), 0);
    cr_assert_str_eq(out, "0\tceas\n1\tfire\n");
    free(out);
    /* positions run on across arguments; a compound inside one argument stays one */
    cr_assert_eq(cli_quarry(&out, "analyze 'Zelensky’s' '24-hour' 'Gdańsk talks'"), 0);
    cr_assert_str_eq(out, "0\tzelenski\n1\t24\n1\t24hour\n2\thour\n3\tgdansk\n4\ttalk\n");
    free(out);
    /* several arguments, even "-" among them, are text, not stdin */
    cr_assert_eq(cli_quarry(&out, "analyze - talks < /dev/null"), 0);
    cr_assert_str_eq(out, "0\ttalk\n");
    free(out);
}

Test(cli, analyze_language_other_than_english)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "analyze --language russian 'Переговоры о перемирии'"), 0);
    cr_assert_str_eq(out, "0\tпереговор\n1\tо\n2\tперемир\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "analyze --language=french 'Négociations continuellement'"), 0);
    cr_assert_str_eq(out, "0\tnegoci\n1\tcontinuel\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "analyze -l german Verhandlungen Waffenstillstand"), 0);
    cr_assert_str_eq(out, "0\tverhandl\n1\twaffenstillstand\n");
    free(out);
    /* english leaves Cyrillic unstemmed; the language really changes the terms */
    cr_assert_eq(cli_quarry(&out, "analyze 'Переговоры'"), 0);
    cr_assert_str_eq(out, "0\tпереговоры\n");
    free(out);
    /* with stdin too */
    cr_assert_eq(cli_quarry(&out, "analyze --language greek - <<'EOF'\nΕλλάδα\nEOF"), 0);
    cr_assert_str_eq(out, "0\tελλαδ\n");
    free(out);
}

Test(cli, analyze_newline_in_text_separates_words)
{
    /* SPEC §6: analyze takes TEXT as one field; a newline separates words and positions
     * continue on the next line. */
    char *out;
    cr_assert_eq(cli_quarry(&out, "analyze 'cease\nfire'"), 0);
    cr_assert_str_eq(out, "0\tceas\n1\tfire\n");
    free(out);
    /* a hyphen before the newline does not make a compound */
    cr_assert_eq(cli_quarry(&out, "analyze 'cease-\nfire'"), 0);
    cr_assert_str_eq(out, "0\tceas\n1\tfire\n");
    free(out);
    /* a title line and a body line from stdin: one field, one run of positions */
    cr_assert_eq(
        cli_quarry(&out, "analyze - <<'EOF'\nCease-fire talks\n\nEnvoys met in Gdańsk\nEOF"), 0);
    cr_assert_str_eq(out, "0\tceas\n0\tceasefir\n1\tfire\n2\ttalk\n3\tenvoy\n4\tmet\n5\tin\n"
                          "6\tgdansk\n");
    free(out);
    cr_assert_eq(cli_quarry(&out, "analyze 'Ukraine\r\nRussia'"), 0);
    cr_assert_str_eq(out, "0\tukrain\n1\trussia\n");
    free(out);
}

Test(cli, help_version_and_usage_errors)
{
    char *out;
    cr_assert_eq(cli_quarry(&out, "--help"), 0);
    cr_assert(strstr(out, "analyze"));
    free(out);
    cr_assert_eq(cli_quarry(&out, "--version"), 0);
    cr_assert(strncmp(out, "quarry ", 7) == 0);
    free(out);
    cr_assert_eq(cli_quarry(&out, "analyze --help"), 0);
    cr_assert(strstr(out, "usage: quarry analyze"));
    free(out);
    cr_assert_eq(cli_quarry(&out, "frobnicate 2>&1"), 2);
    cr_assert(strstr(out, "unknown command"));
    free(out);
    cr_assert_eq(cli_quarry(&out, "analyze 2>&1"), 2);
    cr_assert(strstr(out, "missing TEXT"));
    free(out);
    cr_assert_eq(cli_quarry(&out, "2>&1"), 2);
    free(out);
}
