/*
 * Index statistics (`quarry stats`): what the last commit of an index
 * holds, read without taking the writer lock.
 */
#ifndef QR_INDEX_STATS_H
#define QR_INDEX_STATS_H

#include <stdint.h>

#include "storage/dir.h"
#include "storage/segment.h"

typedef struct qr_index_stats {
    uint64_t generation;
    char language[32];
    uint64_t docs;    /* live documents */
    uint64_t deleted; /* deleted documents still in segments */
    uint64_t segments;
    uint64_t terms;                    /* distinct terms over all segments */
    uint64_t postings;                 /* (term, document) pairs, deleted documents included */
    uint64_t positions;                /* term occurrences, deleted documents included */
    uint64_t live_positions;           /* sum of the live documents' lengths */
    uint64_t bytes[QR_SEG_FILE_COUNT]; /* per segment file kind */
    uint64_t del_bytes;                /* deletion files */
    uint64_t manifest_bytes;           /* the manifest */
    uint64_t total_bytes;              /* all of the above */
    double bits_per_doc;  /* doc stream bits per posting for doc ids (gaps, term heads, skips) */
    double bits_per_freq; /* doc stream bits per posting for frequencies */
    double bits_per_pos;  /* position stream bits per position (the .pos file) */
    double avg_doc_len;   /* live_positions / docs */
} qr_index_stats;

/*
 * Reads the statistics of the last commit of dir (no lock taken). Returns
 * 0, QR_ENOTFOUND (no index), QR_ECORRUPT, QR_EVERSION, QR_ENOMEM or QR_EIO.
 */
int qr_index_stats_read(qr_index_stats *out, qr_dir *dir);

#endif
