/*
 * Phrase and NEAR iterators (SPEC §3, §4 and §6), both two-phase: their
 * candidates come from a conjunction of their parts (led by the rarest; a
 * phrase of three terms or more leaves its commonest out, read only where
 * the others' positions agree), and a candidate matches only when
 * positions agree.
 *
 * A phrase matches at every start position s where each term i stands at
 * s + off_i, overlapping matches included, with the whole span inside one
 * field (never from the title into the body) and inside the clause's field;
 * its tf is the number of such starts and its idf the sum of its terms'.
 *
 * `a NEAR/k b` compares occurrence spans: the gap between an occurrence of a
 * and one of b, max(0, s_b - e_a, s_a - e_b), must be at most k, both in the
 * same field. Its tf is the number of such pairs (counted in O((|a| + |b|)
 * log |b|) per document, never by enumerating pairs); its idf is the sum
 * over every term of both sides, computed by the plan. As an operand of
 * another NEAR, an occurrence of a NEAR is each matching pair, spanning
 * both.
 *
 * The constructors are declared in iter.h (qr_phrase_open, qr_near_open).
 */
#ifndef QR_QUERY_PHRASE_H
#define QR_QUERY_PHRASE_H

#include <stddef.h>
#include <stdint.h>

#include "query/iter.h"

/*
 * Counts the pairs (a in A, b in B) with gap <= k, where A and B are spans
 * of one field. Sorts B's scratch arrays starts/ends (nb entries each, which
 * the caller fills with B's starts and ends). Exposed for tests.
 */
uint64_t qr_near_count(const qr_span *a, size_t na, uint32_t *starts, uint32_t *ends, size_t nb,
                       uint32_t k);

#endif
