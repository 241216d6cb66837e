/*
 * `quarry stats [-i INDEX] [--json]`: what the last commit of an index holds
 * (documents, deletions, segments, terms, postings, positions, bytes per
 * file kind, bits per doc id, frequency and position, average document
 * length, language), as aligned "key: value" lines or one JSON object.
 * Reads without taking the writer lock.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index/stats.h"
#include "storage/dir.h"
#include "storage/segment.h"
#include "storage/status.h"
#include "tools/cli.h"

static void help(FILE *f)
{
    fputs("usage: quarry stats [-i INDEX] [--json]\n"
          "\n"
          "Print what the index holds: documents (live and deleted), segments,\n"
          "distinct terms, postings, positions, bytes per file kind, bits per doc\n"
          "id, frequency and position, average document length and language.\n"
          "\n"
          "  -i, --index INDEX  the index directory (default $QUARRY_INDEX, else ./quarry.idx)\n"
          "  -j, --json         one JSON object instead of key: value lines\n"
          "  -h, --help         this help\n",
          f);
}

/* Human names of the segment file kinds, in qr_seg_file order. */
static const char *kind_names[QR_SEG_FILE_COUNT] = {
    [QR_SEG_TDI] = "terms",  [QR_SEG_DOC] = "doc ids",   [QR_SEG_POS] = "positions",
    [QR_SEG_STO] = "stored", [QR_SEG_DMT] = "doc table",
};

static void print_text(const char *index, const qr_index_stats *s)
{
    printf("%-24s %s\n", "index:", index);
    printf("%-24s %s\n", "language:", s->language);
    printf("%-24s %llu\n", "generation:", (unsigned long long)s->generation);
    printf("%-24s %llu\n", "documents:", (unsigned long long)s->docs);
    printf("%-24s %llu\n", "deleted:", (unsigned long long)s->deleted);
    printf("%-24s %llu\n", "segments:", (unsigned long long)s->segments);
    printf("%-24s %llu\n", "distinct terms:", (unsigned long long)s->terms);
    printf("%-24s %llu\n", "postings:", (unsigned long long)s->postings);
    printf("%-24s %llu\n", "positions:", (unsigned long long)s->positions);
    printf("%-24s %.1f\n", "avg doc length:", s->avg_doc_len);
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++) {
        char key[64];
        snprintf(key, sizeof key, "bytes %s (.%s):", kind_names[k],
                 qr_seg_file_ext((qr_seg_file)k));
        printf("%-24s %llu\n", key, (unsigned long long)s->bytes[k]);
    }
    printf("%-24s %llu\n", "bytes deletions:", (unsigned long long)s->del_bytes);
    printf("%-24s %llu\n", "bytes manifest:", (unsigned long long)s->manifest_bytes);
    printf("%-24s %llu\n", "bytes total:", (unsigned long long)s->total_bytes);
    printf("%-24s %.2f\n", "bits/doc id:", s->bits_per_doc);
    printf("%-24s %.2f\n", "bits/frequency:", s->bits_per_freq);
    printf("%-24s %.2f\n", "bits/position:", s->bits_per_pos);
}

static int print_json(const char *index, const qr_index_stats *s)
{
    json_t *bytes = json_object();
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        json_object_set_new(bytes, qr_seg_file_ext((qr_seg_file)k),
                            json_integer((json_int_t)s->bytes[k]));
    json_object_set_new(bytes, "del", json_integer((json_int_t)s->del_bytes));
    json_object_set_new(bytes, "manifest", json_integer((json_int_t)s->manifest_bytes));
    json_object_set_new(bytes, "total", json_integer((json_int_t)s->total_bytes));
    json_t *o =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:f, s:f, s:f}", "index",
                  index, "language", s->language, "generation", (json_int_t)s->generation,
                  "documents", (json_int_t)s->docs, "deleted", (json_int_t)s->deleted, "segments",
                  (json_int_t)s->segments, "terms", (json_int_t)s->terms, "postings",
                  (json_int_t)s->postings, "positions", (json_int_t)s->positions, "avg_doc_length",
                  s->avg_doc_len, "bytes", bytes, "bits_per_doc_id", s->bits_per_doc,
                  "bits_per_freq", s->bits_per_freq, "bits_per_position", s->bits_per_pos);
    if (!o)
        return QR_ENOMEM;
    char *txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    if (!txt)
        return QR_ENOMEM;
    puts(txt);
    free(txt);
    return QR_OK;
}

int qr_cmd_stats(int argc, char **argv)
{
    static const struct option opts[] = {
        {"index", required_argument, NULL, 'i'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *index = getenv("QUARRY_INDEX");
    if (!index || !*index)
        index = "quarry.idx";
    bool json = false;
    int c;
    char opt[160];
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":i:jh", opts, NULL)) != -1) {
        switch (c) {
        case 'i':
            index = optarg;
            break;
        case 'j':
            json = true;
            break;
        case 'h':
            help(stdout);
            return QR_EXIT_OK;
        case ':':
            qr_die_msg("stats: option %s needs a value (see `quarry stats --help`)",
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        default:
            qr_die_msg("stats: unknown option %s (see `quarry stats --help`)",
                       qr_cli_refused(opt, sizeof opt, argc, argv));
            return QR_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        qr_die_msg("stats: unexpected argument '%s' (see `quarry stats --help`)", argv[optind]);
        return QR_EXIT_USAGE;
    }
    qr_dir *dir = NULL;
    int rc = qr_dir_open_posix(&dir, index, false);
    if (rc) {
        if (rc == QR_ENOTFOUND)
            qr_die_msg("no index at %s", index);
        else
            qr_die_msg("cannot open index %s: %s", index, qr_strerror(rc));
        return QR_EXIT_INDEX;
    }
    qr_index_stats s;
    rc = qr_index_stats_read(&s, dir);
    qr_dir_close(dir);
    if (rc) {
        if (rc == QR_ENOTFOUND)
            qr_die_msg("no index at %s", index);
        else
            qr_die_msg("cannot read index %s: %s", index, qr_strerror(rc));
        return rc == QR_ENOTFOUND || rc == QR_ECORRUPT || rc == QR_EVERSION ? QR_EXIT_INDEX
                                                                            : QR_EXIT_RUNTIME;
    }
    if (json) {
        if ((rc = print_json(index, &s))) {
            qr_die_msg("stats: %s", qr_strerror(rc));
            return QR_EXIT_RUNTIME;
        }
    } else {
        print_text(index, &s);
    }
    return QR_EXIT_OK;
}
