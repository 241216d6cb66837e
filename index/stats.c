/*
 * Index statistics for `quarry stats` (see stats.h): the last commit's
 * manifest and segment infos, the distinct terms by a k-way merge of the
 * dictionaries (merger.c), and the split of each doc stream into doc ids
 * and frequencies, which the postings format interleaves: every term's
 * doc ids and frequencies are re-encoded through a postings writer, whose
 * stats count the bytes of each part (positions are not decoded).
 */
#include "index/stats.h"

#include <stdio.h>
#include <string.h>

#include "index/merger.h"
#include "storage/alloc.h"
#include "storage/manifest.h"
#include "storage/postings.h"
#include "storage/status.h"

/*
 * Splits a segment's doc stream into doc ids and frequencies: its postings
 * are re-encoded through a postings writer (docs and frequencies only; the
 * positions given are dummies and their bytes are not counted), whose stats
 * tell the bytes of each part of the format. Adds them to *acc.
 */
static int doc_stream_split(const qr_segment *s, qr_postings_stats *acc)
{
    qr_buf doc = {0}, pos = {0};
    qr_postings_writer *w = NULL;
    uint32_t *dummy = NULL;
    uint32_t dummy_n = 0;
    int rc = qr_postings_writer_open(&w, &doc, &pos);
    if (rc)
        return rc;
    const qr_doctable *t = qr_segment_doctable(s);
    qr_termdict_iter ti;
    if ((rc = qr_segment_prefix(s, "", 0, &ti)))
        goto out;
    qr_slice term;
    qr_term_meta meta;
    int more;
    while ((more = qr_termdict_next(&ti, &term, &meta)) == 1) {
        qr_postings_iter it;
        memset(&it, 0, sizeof it);
        if ((rc = qr_segment_postings(s, &meta, &it))) {
            qr_postings_iter_free(&it);
            goto out;
        }
        qr_postings_begin(w);
        while (!rc && it.doc != QR_DOC_END) {
            if (it.doc >= qr_doctable_count(t)) {
                rc = QR_ECORRUPT;
                break;
            }
            uint32_t tf = qr_postings_freq(&it);
            if (tf > dummy_n) {
                uint32_t *nd = qr_reallocarray(dummy, tf, sizeof *nd);
                if (!nd) {
                    rc = QR_ENOMEM;
                    break;
                }
                dummy = nd;
                for (uint32_t i = dummy_n; i < tf; i++)
                    dummy[i] = i;
                dummy_n = tf;
            }
            if (!(rc = qr_postings_add(w, it.doc, tf, qr_doctable_positions(t, it.doc), dummy)))
                rc = qr_postings_next(&it);
        }
        qr_postings_iter_free(&it);
        qr_term_meta m2;
        if (rc || (rc = qr_postings_end(w, &m2)))
            goto out;
        qr_buf_reset(&doc);
        qr_buf_reset(&pos);
    }
    if (more < 0)
        rc = more;
out:
    if (!rc) {
        qr_postings_stats st;
        qr_postings_writer_stats(w, &st);
        acc->postings += st.postings;
        acc->head_bytes += st.head_bytes;
        acc->skip_bytes += st.skip_bytes;
        acc->doc_bytes += st.doc_bytes;
        acc->freq_bytes += st.freq_bytes;
    }
    qr_postings_writer_close(w);
    qr_buf_free(&doc);
    qr_buf_free(&pos);
    qr_free(dummy);
    return rc;
}

/* One attempt of qr_index_stats_read; *out_missing when a file the manifest names is missing. */
static int stats_once(qr_index_stats *out, qr_dir *dir, bool *out_missing)
{
    memset(out, 0, sizeof *out);
    qr_manifest m;
    char name[64];
    qr_postings_stats split = {0};
    int rc = qr_manifest_load(&m, dir);
    if (rc)
        return rc;
    qr_segment **segs = qr_calloc(m.nsegs ? m.nsegs : 1, sizeof *segs);
    if (!segs) {
        rc = QR_ENOMEM;
        goto out;
    }
    out->generation = m.generation;
    snprintf(out->language, sizeof out->language, "%s", m.language);
    out->segments = m.nsegs;
    out->docs = qr_manifest_live_docs(&m);
    out->live_positions = qr_manifest_live_positions(&m);
    for (uint32_t i = 0; i < m.nsegs; i++) {
        if ((rc = qr_segment_open(&segs[i], dir, m.segs[i].id, false))) {
            *out_missing = rc == QR_ENOTFOUND;
            goto out;
        }
        qr_segment_info info;
        qr_segment_get_info(segs[i], &info);
        out->deleted += m.segs[i].deleted;
        out->postings += info.postings;
        out->positions += info.positions;
        for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
            out->bytes[k] += info.bytes[k];
        if (m.segs[i].del_gen) {
            uint64_t s;
            qr_deletes_file_name(name, m.segs[i].id, m.segs[i].del_gen);
            if ((rc = qr_dir_size(dir, name, &s))) {
                *out_missing = rc == QR_ENOTFOUND;
                goto out;
            }
            out->del_bytes += s;
        }
        if ((rc = doc_stream_split(segs[i], &split)))
            goto out;
    }
    if ((rc = qr_merge_count_terms(&out->terms, (const qr_segment *const *)segs, m.nsegs)))
        goto out;
    qr_manifest_file_name(name, m.generation);
    if ((rc = qr_dir_size(dir, name, &out->manifest_bytes))) {
        *out_missing = rc == QR_ENOTFOUND;
        goto out;
    }
    out->total_bytes = out->del_bytes + out->manifest_bytes;
    for (int k = 0; k < QR_SEG_FILE_COUNT; k++)
        out->total_bytes += out->bytes[k];
    if (out->postings) {
        double p = (double)out->postings;
        out->bits_per_doc =
            8.0 * (double)(split.doc_bytes + split.head_bytes + split.skip_bytes) / p;
        out->bits_per_freq = 8.0 * (double)split.freq_bytes / p;
    }
    if (out->positions)
        out->bits_per_pos = 8.0 * (double)out->bytes[QR_SEG_POS] / (double)out->positions;
    if (out->docs)
        out->avg_doc_len = (double)out->live_positions / (double)out->docs;
out:
    if (segs)
        for (uint32_t i = 0; i < m.nsegs; i++)
            qr_segment_close(segs[i]);
    qr_free(segs);
    qr_manifest_free(&m);
    return rc;
}

int qr_index_stats_read(qr_index_stats *out, qr_dir *dir)
{
    for (int attempt = 0;; attempt++) {
        bool missing = false;
        int rc = stats_once(out, dir, &missing);
        if (!missing)
            return rc;
        /*
         * A missing file is damage, unless a writer committed a newer
         * generation meanwhile and collected the one being read: read that.
         */
        qr_manifest m;
        if (attempt == 16 || qr_manifest_load(&m, dir))
            return QR_ECORRUPT;
        bool newer = m.generation > out->generation;
        qr_manifest_free(&m);
        if (!newer)
            return QR_ECORRUPT;
    }
}
