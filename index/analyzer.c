/*
 * The analyzer: UTF-8 text in, a stream of (position, term) tokens out,
 * following SPEC §2 and §6 (the rules are summarised in analyzer.h).
 *
 * The scanner walks code points once. A word is a maximal run of letters,
 * marks and digits; an apostrophe joins it when a letter stands right before
 * and right after. Words joined by single hyphens (with a word character on
 * both sides) form a compound. Each word's raw bytes are looked up in a
 * cache that maps them to their normalised (utf8proc; plain ASCII folding
 * for an ASCII word, which is what utf8proc does to it) and stemmed
 * (libstemmer) forms, so that each distinct surface form is normalised and
 * stemmed once per analyzer; a capitalised ASCII word takes the stem of its
 * lowercase form's entry when there is one, and an ASCII compound's
 * concatenation is cached as the word it spells (20 % fewer stemmer calls on
 * bbc). The cache is an open-addressing table of 64-byte lines; a word whose
 * three forms fit in a line keeps them there (one cache line per lookup),
 * longer ones keep them in an arena. The table is flushed when it holds
 * CACHE_MAX_ENTRIES forms or the arena CACHE_MAX_ARENA bytes (48 MiB at most
 * in all). Words are scanned a batch ahead and their table lines prefetched
 * (on huge pages when the table is big), so that the misses of a batch
 * overlap. Tokens point into the table, the arena or scratch buffers that
 * the analyzer reuses: no heap allocation per token.
 */
#include "index/analyzer.h"

#include <libstemmer.h>
#include <pthread.h>
#include <string.h>
#include <utf8proc.h>
#define XXH_INLINE_ALL /* the hash of a short word is a few instructions: inline it */
#include <xxhash.h>

#include "storage/alloc.h"
#include "storage/buf.h"
#include "storage/status.h"

#define NORM_OPTIONS                                                                               \
    ((utf8proc_option_t)(UTF8PROC_CASEFOLD | UTF8PROC_COMPAT | UTF8PROC_STRIPMARK |                \
                         UTF8PROC_COMPOSE))

#define CACHE_MAX_CAP     (1u << 19)              /* table slots at most (32 MiB) */
#define CACHE_MAX_ENTRIES (CACHE_MAX_CAP / 4 * 3) /* flush the cache past this many forms */
#define CACHE_MAX_ARENA   (16u << 20)             /* ... or past this many bytes of arena strings */
#define RAW_CACHE_LIMIT   (4 * QR_MAX_TERM_BYTES) /* longer words bypass the cache */
#define INLINE_BYTES      44 /* raw + norm + stem up to this size stay inline */
#define NO_SLOT           UINT32_MAX
#define BATCH_WORDS       32 /* words scanned (and prefetched) ahead */

/*
 * One cached surface form: one 64-byte table line. When the raw, normalised and
 * stemmed forms fit in INLINE_BYTES they sit in bytes[] one after the other, so a
 * hit reads a single cache line; otherwise bytes[] holds three uint32 arena
 * offsets (raw, norm, stem).
 */
struct entry {
    uint64_t hash;     /* xxh3 of the raw bytes, | 1 so that 0 marks an empty slot */
    uint32_t norm_len; /* normalised, unstemmed form */
    uint32_t stem_len; /* stemmed form (== norm when not stemming) */
    uint16_t raw_len;  /* raw bytes of the word as it appeared in the text */
    uint8_t inl;       /* strings inline in bytes[] */
    uint8_t pad;
    char bytes[INLINE_BYTES];
};

_Static_assert(sizeof(struct entry) == 64, "an entry is one cache line");

/* A word of the current batch, as the scanner found it. */
struct part {
    uint32_t start, end; /* byte range in the text */
    uint64_t hash;       /* xxh3 of the raw bytes | 1 (0: too long for the cache) */
    uint32_t slot;       /* table slot holding its forms inline, or NO_SLOT */
    uint32_t norm_off;   /* otherwise: normalised form, arena offset (stable until a flush) */
    uint32_t stem_off;   /* stemmed form: arena offset */
    uint32_t norm_len;
    uint32_t stem_len;
    uint32_t nparts; /* first word of a compound: its number of words; others 0 */
};

struct qr_analyzer {
    char language[32];          /* as opened: "english", "none", ... */
    struct sb_stemmer *stemmer; /* NULL for "none" */
    struct entry *table;        /* open-addressing hash table, cap slots, 64-byte aligned */
    void *table_mem;            /* the allocation holding table */
    uint32_t cap;               /* slots, a power of two */
    uint32_t used;              /* occupied slots */
    qr_buf arena;               /* the cached strings */
    utf8proc_int32_t *cps;      /* scratch for utf8proc_decompose_custom; one spare slot */
    size_t cps_cap;             /* code points cps may hold (cps_cap + 1 are allocated) */
    struct part *parts;         /* words of the batch being emitted */
    size_t parts_cap;
    qr_buf concat;  /* normalised concatenation of a compound */
    qr_buf scratch; /* normalised form of the word being looked up */
};

static const char *none_lang = "none";

/* libstemmer's list plus "none", built once (pthread_once: analyzers live in threads). */
static const char *lang_list[64];
static pthread_once_t lang_once = PTHREAD_ONCE_INIT;

static void build_lang_list(void)
{
    const char **sb = sb_stemmer_list();
    size_t n = 0;
    for (; sb[n] && n < 62; n++)
        lang_list[n] = sb[n];
    lang_list[n] = none_lang;
    lang_list[n + 1] = NULL;
}

const char **qr_analyzer_languages(void)
{
    pthread_once(&lang_once, build_lang_list);
    return lang_list;
}

static bool known_language(const char *lang)
{
    for (const char **l = sb_stemmer_list(); *l; l++)
        if (!strcmp(*l, lang))
            return true;
    return false;
}

/* A zeroed table of cap entries (qr_calloc_table); *mem receives the allocation. */
static struct entry *alloc_table(uint32_t cap, void **mem)
{
    return qr_calloc_table((size_t)cap * sizeof(struct entry), mem);
}

int qr_analyzer_open(qr_analyzer **out, const char *language)
{
    *out = NULL;
    if (!language)
        language = "english";
    if (strlen(language) >= sizeof((qr_analyzer *)0)->language)
        return QR_EINVAL;
    bool none = !strcmp(language, none_lang);
    if (!none && !known_language(language))
        return QR_EINVAL;
    qr_analyzer *a = qr_calloc(1, sizeof *a);
    if (!a)
        return QR_ENOMEM;
    strcpy(a->language, language);
    if (!none) {
        a->stemmer = sb_stemmer_new(language, "UTF_8");
        if (!a->stemmer) {
            qr_free(a);
            return QR_ENOMEM;
        }
    }
    a->cap = 64;
    a->table = alloc_table(a->cap, &a->table_mem);
    if (!a->table) {
        qr_analyzer_close(a);
        return QR_ENOMEM;
    }
    *out = a;
    return 0;
}

void qr_analyzer_close(qr_analyzer *a)
{
    if (!a)
        return;
    if (a->stemmer)
        sb_stemmer_delete(a->stemmer);
    qr_free(a->table_mem);
    qr_buf_free(&a->arena);
    qr_free(a->cps);
    qr_free(a->parts);
    qr_buf_free(&a->concat);
    qr_buf_free(&a->scratch);
    qr_free(a);
}

const char *qr_analyzer_language(const qr_analyzer *a)
{
    return a->language;
}

/* ---- character classes ------------------------------------------------- */

static bool is_letter(utf8proc_int32_t cp)
{
    if (cp < 0x80)
        return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return true;
    default:
        return false;
    }
}

static bool is_word_char(utf8proc_int32_t cp)
{
    if (cp < 0x80)
        return ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9');
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

static bool is_apostrophe(utf8proc_int32_t cp)
{
    return cp == 0x27 || cp == 0x2019;
}

static bool is_hyphen(utf8proc_int32_t cp)
{
    return cp == 0x2d || cp == 0x2010 || cp == 0x2011;
}

/* Decodes the code point at text[i]; returns its byte length, or 0 for an invalid sequence. */
static size_t decode(const char *text, size_t len, size_t i, utf8proc_int32_t *cp)
{
    unsigned char c = (unsigned char)text[i];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    utf8proc_ssize_t n =
        utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), cp);
    return n > 0 ? (size_t)n : 0;
}

/* ---- normalisation, stemming and the cache ------------------------------ */

/* Normalises raw[0..n) (valid UTF-8) into b: utf8proc, then U+2019 -> U+0027. */
static int normalize(qr_analyzer *a, const char *raw, size_t n, qr_buf *b)
{
    qr_buf_reset(b);
    /* A word of ASCII bytes holds only letters, digits and apostrophes: the utf8proc
     * mapping folds A-Z to a-z and leaves every other such byte as it is. */
    size_t k = 0;
    while (k < n && (unsigned char)raw[k] < 0x80)
        k++;
    if (k == n) {
        if (qr_buf_reserve(b, n))
            return QR_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)raw[i];
            b->p[i] = c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
        }
        b->n = n;
        return 0;
    }
    for (;;) {
        utf8proc_ssize_t r = 0;
        if (a->cps_cap)
            r = utf8proc_decompose_custom((const utf8proc_uint8_t *)raw, (utf8proc_ssize_t)n,
                                          a->cps, (utf8proc_ssize_t)a->cps_cap, NORM_OPTIONS, NULL,
                                          NULL);
        if (r < 0)
            return 0; /* cannot happen on valid UTF-8; treat as an empty form */
        if (a->cps_cap && (size_t)r <= a->cps_cap) {
            r = utf8proc_reencode(a->cps, r, NORM_OPTIONS);
            if (r < 0)
                return 0;
            const uint8_t *s = (const uint8_t *)a->cps;
            if (qr_buf_reserve(b, (size_t)r))
                return QR_ENOMEM;
            for (utf8proc_ssize_t i = 0; i < r; i++) {
                if (i + 2 < r && s[i] == 0xe2 && s[i + 1] == 0x80 && s[i + 2] == 0x99) {
                    b->p[b->n++] = '\'';
                    i += 2;
                } else {
                    b->p[b->n++] = s[i];
                }
            }
            return 0;
        }
        size_t want = a->cps_cap ? (size_t)r : n + 16;
        if (want < 64)
            want = 64;
        /* utf8proc_reencode writes a NUL after the UTF-8 it makes in place: with cps_cap
         * code points of 4 bytes each, that is one byte past 4 * cps_cap. Keep a spare
         * slot for it (utf8proc_map allocates the same + 1). */
        utf8proc_int32_t *p = qr_reallocarray(a->cps, want + 1, sizeof *p);
        if (!p)
            return QR_ENOMEM;
        a->cps = p;
        a->cps_cap = want;
    }
}

/* Stems norm into *out (pointing into the stemmer's or the caller's memory). */
static int stem(qr_analyzer *a, const char *norm, size_t n, const char **out, size_t *out_len)
{
    if (!a->stemmer || n == 0 || n > QR_MAX_TERM_BYTES) {
        *out = norm;
        *out_len = n;
        return 0;
    }
    const sb_symbol *s = sb_stemmer_stem(a->stemmer, (const sb_symbol *)norm, (int)n);
    if (!s)
        return QR_ENOMEM;
    *out = (const char *)s;
    *out_len = (size_t)sb_stemmer_length(a->stemmer);
    return 0;
}

static void cache_flush(qr_analyzer *a)
{
    memset(a->table, 0, (size_t)a->cap * sizeof *a->table);
    a->used = 0;
    qr_buf_reset(&a->arena);
}

static int cache_grow(qr_analyzer *a)
{
    uint32_t cap = a->cap * 2;
    void *mem;
    struct entry *t = alloc_table(cap, &mem);
    if (!t)
        return QR_ENOMEM;
    for (uint32_t i = 0; i < a->cap; i++) {
        if (!a->table[i].hash)
            continue;
        uint32_t j = (uint32_t)a->table[i].hash & (cap - 1);
        while (t[j].hash)
            j = (j + 1) & (cap - 1);
        t[j] = a->table[i];
    }
    qr_free(a->table_mem);
    a->table_mem = mem;
    a->table = t;
    a->cap = cap;
    return 0;
}

static uint32_t off_at(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The raw bytes of an occupied entry. */
static const char *entry_raw(const qr_analyzer *a, const struct entry *e)
{
    return e->inl ? e->bytes : (const char *)a->arena.p + off_at(e->bytes);
}

/* The stemmed form of an occupied entry. */
static const char *entry_stem(const qr_analyzer *a, const struct entry *e)
{
    return e->inl ? e->bytes + e->raw_len + e->norm_len
                  : (const char *)a->arena.p + off_at(e->bytes + 8);
}

/* The slot of raw[0..n) (hash h) in the cache: its entry, or the empty slot to fill. */
static uint32_t find_slot(const qr_analyzer *a, uint64_t h, const char *raw, size_t n)
{
    uint32_t mask = a->cap - 1;
    uint32_t i = (uint32_t)h & mask;
    for (; a->table[i].hash; i = (i + 1) & mask) {
        const struct entry *t = &a->table[i];
        if (t->hash == h && t->raw_len == n && !memcmp(entry_raw(a, t), raw, n))
            break;
    }
    return i;
}

/* The normalised and stemmed forms of a looked-up word. */
static const char *part_norm(const qr_analyzer *a, const struct part *p)
{
    if (p->slot != NO_SLOT)
        return a->table[p->slot].bytes + a->table[p->slot].raw_len;
    return (const char *)a->arena.p + p->norm_off;
}

static const char *part_stem(const qr_analyzer *a, const struct part *p)
{
    if (p->slot != NO_SLOT)
        return part_norm(a, p) + p->norm_len;
    return (const char *)a->arena.p + p->stem_off;
}

/*
 * The stem of an ASCII word with capitals (in a->scratch, normalised) from the
 * cache entry of its lowercase form, when there is one: the normalisation of an
 * ASCII word is its lowercase form, whose own normalisation is itself, so that
 * entry holds the same normalised form and its stem. Copies the stem to
 * out (RAW_CACHE_LIMIT bytes); 0 when found, else -1.
 */
static int cached_stem(const qr_analyzer *a, const char *raw, size_t n, char *out, size_t *out_len)
{
    size_t nl = a->scratch.n;
    if (nl != n || nl > RAW_CACHE_LIMIT || !memcmp(raw, a->scratch.p, n))
        return -1; /* not a changed ASCII word (a word with non-ASCII bytes changes length or
                      is left to utf8proc: its lowercase need not be its normalisation) */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)raw[i] >= 0x80)
            return -1;
    const char *norm = (const char *)a->scratch.p;
    uint64_t h = XXH3_64bits(norm, nl) | 1;
    const struct entry *e = &a->table[find_slot(a, h, norm, nl)];
    if (!e->hash || e->stem_len > RAW_CACHE_LIMIT)
        return -1;
    memcpy(out, entry_stem(a, e), e->stem_len);
    *out_len = e->stem_len;
    return 0;
}

/*
 * Normalises and stems the word raw[0..n) of p. With slot != NO_SLOT (the empty
 * slot of its hash) the forms are cached there: inline when they fit, else in the
 * arena with the raw bytes; otherwise they go to the arena only.
 */
static int remember(qr_analyzer *a, const char *raw, size_t n, struct part *p, uint32_t slot)
{
    int rc;
    if ((rc = normalize(a, raw, n, &a->scratch)))
        return rc;
    const char *s;
    size_t sl;
    size_t nl = a->scratch.n;
    char known[RAW_CACHE_LIMIT];
    if (!cached_stem(a, raw, n, known, &sl)) {
        s = known;
    } else if ((rc = stem(a, (const char *)a->scratch.p, nl, &s, &sl))) {
        return rc;
    }
    p->norm_len = (uint32_t)nl;
    p->stem_len = (uint32_t)sl;
    struct entry *e = slot != NO_SLOT ? &a->table[slot] : NULL;
    if (e && n + nl + sl <= INLINE_BYTES) {
        /* an empty normalisation or stem may come with a NULL pointer: no memcpy then */
        memcpy(e->bytes, raw, n);
        if (nl)
            memcpy(e->bytes + n, a->scratch.p, nl);
        if (sl)
            memcpy(e->bytes + n + nl, s, sl);
        e->inl = 1;
        p->slot = slot;
    } else {
        qr_buf *ar = &a->arena;
        if (qr_buf_reserve(ar, (e ? n : 0) + nl + sl))
            return QR_ENOMEM;
        uint32_t raw_off = (uint32_t)ar->n;
        if (e)
            qr_buf_put(ar, raw, n);
        p->norm_off = (uint32_t)ar->n;
        qr_buf_put(ar, a->scratch.p, nl);
        p->stem_off = (uint32_t)ar->n;
        qr_buf_put(ar, s, sl);
        p->slot = NO_SLOT;
        if (!e)
            return 0;
        uint32_t offs[3] = {raw_off, p->norm_off, p->stem_off};
        memcpy(e->bytes, offs, sizeof offs);
        e->inl = 0;
    }
    e->raw_len = (uint16_t)n;
    e->norm_len = (uint32_t)nl;
    e->stem_len = (uint32_t)sl;
    e->hash = p->hash;
    a->used++;
    return 0;
}

/* Fills p's normalised and stemmed forms for the word text[p->start..p->end). */
static int lookup(qr_analyzer *a, const char *text, struct part *p)
{
    const char *raw = text + p->start;
    size_t n = p->end - p->start;
    uint32_t i = NO_SLOT;
    if (p->hash) {
        i = find_slot(a, p->hash, raw, n);
        const struct entry *e = &a->table[i];
        if (e->hash) {
            p->norm_len = e->norm_len;
            p->stem_len = e->stem_len;
            if (e->inl) {
                p->slot = i;
            } else {
                p->slot = NO_SLOT;
                p->norm_off = off_at(e->bytes + 4);
                p->stem_off = off_at(e->bytes + 8);
            }
            return 0;
        }
        /* The table grows between compounds only, so that the slots of a compound's
         * words stay put; past 3/4 full a word is not cached. */
        if ((a->used + 1) * 4 > a->cap * 3)
            i = NO_SLOT;
    }
    return remember(a, raw, n, p, i);
}

/* ---- emitting a compound ------------------------------------------------ */

/*
 * The stem of a compound's concatenation (in a->concat, 1..QR_MAX_TERM_BYTES
 * bytes) into *out. An ASCII concatenation is its own normalisation (the parts'
 * normalised forms are lowercase), so it goes through the cache as the word it
 * spells ("ceasefire"), and a compound met again is stemmed once; any other is
 * stemmed each time.
 */
static int concat_stem(qr_analyzer *a, const char **out, size_t *out_len)
{
    const char *c = (const char *)a->concat.p;
    size_t cn = a->concat.n;
    for (size_t i = 0; i < cn; i++)
        if ((unsigned char)c[i] >= 0x80)
            return stem(a, c, cn, out, out_len);
    /* lookup() by hand: with a second caller it would not be inlined in the hot loop. */
    struct part p = {.start = 0, .end = (uint32_t)cn, .hash = XXH3_64bits(c, cn) | 1};
    uint32_t i = find_slot(a, p.hash, c, cn);
    const struct entry *e = &a->table[i];
    if (e->hash) {
        *out = entry_stem(a, e);
        *out_len = e->stem_len;
        return 0;
    }
    int rc = remember(a, c, cn, &p, (a->used + 1) * 4 > a->cap * 3 ? NO_SLOT : i);
    if (rc)
        return rc;
    *out = part_stem(a, &p);
    *out_len = p.stem_len;
    return 0;
}

static int emit_compound(qr_analyzer *a, struct part *parts, size_t nparts, uint32_t first_pos,
                         const char *text, unsigned flags, qr_token_fn fn, void *ctx)
{
    int rc;
    /* Flush and grow between compounds only, so that the slots and arena offsets of this
     * compound's words stay valid. A failed growth leaves the arena's sticky error set;
     * flushing clears it, so that an analyzer that once returned QR_ENOMEM works again
     * when memory is back. */
    if (a->used >= CACHE_MAX_ENTRIES || a->arena.n >= CACHE_MAX_ARENA || a->arena.err)
        cache_flush(a);
    else if (((size_t)a->used + nparts) * 4 > (size_t)a->cap * 3 && a->cap < CACHE_MAX_CAP &&
             (rc = cache_grow(a)))
        return rc;
    for (size_t i = 0; i < nparts; i++)
        if ((rc = lookup(a, text, &parts[i])))
            return rc;
    bool compound = nparts > 1;
    bool nostem = flags & QR_ANALYZE_NOSTEM;
    for (size_t i = 0; i < nparts; i++) {
        struct part *p = &parts[i];
        if (p->norm_len > 0 && p->norm_len <= QR_MAX_TERM_BYTES) {
            qr_token t = {nostem ? part_norm(a, p) : part_stem(a, p),
                          nostem ? p->norm_len : p->stem_len,
                          first_pos + (uint32_t)i,
                          p->start,
                          p->end,
                          false,
                          compound};
            if (t.len > 0 && (rc = fn(ctx, &t)))
                return rc;
        }
        if (i == 0 && compound) {
            qr_buf_reset(&a->concat);
            for (size_t j = 0; j < nparts; j++)
                qr_buf_put(&a->concat, part_norm(a, &parts[j]), parts[j].norm_len);
            if (a->concat.err)
                return a->concat.err;
            size_t cn = a->concat.n;
            if (cn == 0 || cn > QR_MAX_TERM_BYTES)
                continue;
            const char *s = (const char *)a->concat.p;
            size_t sl = cn;
            if (!nostem && (rc = concat_stem(a, &s, &sl)))
                return rc;
            qr_token t = {s, sl, first_pos, p->start, parts[nparts - 1].end, true, true};
            if (sl > 0 && (rc = fn(ctx, &t)))
                return rc;
        }
    }
    return 0;
}

/* Adds word n of the batch, hashes it and prefetches its cache line. */
static int add_part(qr_analyzer *a, const char *text, size_t n, uint32_t start, uint32_t end)
{
    if (n == a->parts_cap) {
        size_t cap = a->parts_cap ? a->parts_cap * 2 : 64;
        struct part *p = qr_reallocarray(a->parts, cap, sizeof *p);
        if (!p)
            return QR_ENOMEM;
        a->parts = p;
        a->parts_cap = cap;
    }
    struct part *p = &a->parts[n];
    memset(p, 0, sizeof *p);
    p->start = start;
    p->end = end;
    if (end - start <= RAW_CACHE_LIMIT) {
        p->hash = XXH3_64bits(text + start, end - start) | 1;
        __builtin_prefetch(&a->table[(uint32_t)p->hash & (a->cap - 1)]);
    }
    return 0;
}

/*
 * Scans from *i for up to BATCH_WORDS words (whole compounds) into a->parts; the first
 * word of each compound records the compound's number of words. *out_n receives the
 * number of words; *i is left after the last one.
 */
static int scan_batch(qr_analyzer *a, const char *text, size_t len, size_t *i_io, size_t *out_n)
{
    size_t i = *i_io, nw = 0;
    int rc = 0;
    while (i < len && nw < BATCH_WORDS) {
        utf8proc_int32_t cp;
        size_t n = decode(text, len, i, &cp);
        if (n == 0) {
            i++;
            continue;
        }
        if (!is_word_char(cp)) {
            i += n;
            continue;
        }
        /* A compound: one or more words joined by single hyphens. */
        size_t first = nw;
        for (;;) {
            size_t start = i;
            utf8proc_int32_t prev = cp;
            i += n;
            while (i < len) {
                utf8proc_int32_t c2, c3;
                size_t n2 = decode(text, len, i, &c2);
                if (n2 == 0)
                    break;
                if (is_word_char(c2)) {
                    prev = c2;
                    i += n2;
                    continue;
                }
                if (is_apostrophe(c2) && is_letter(prev) && i + n2 < len) {
                    size_t n3 = decode(text, len, i + n2, &c3);
                    if (n3 && is_letter(c3)) {
                        prev = c2;
                        i += n2;
                        continue;
                    }
                }
                break;
            }
            if ((rc = add_part(a, text, nw, (uint32_t)start, (uint32_t)i)))
                goto out;
            nw++;
            /* A single hyphen with a word character after it continues the compound. */
            utf8proc_int32_t h, c4;
            size_t nh = i < len ? decode(text, len, i, &h) : 0;
            if (nh && is_hyphen(h) && i + nh < len) {
                size_t n4 = decode(text, len, i + nh, &c4);
                if (n4 && is_word_char(c4)) {
                    i += nh;
                    cp = c4;
                    n = n4;
                    continue;
                }
            }
            break;
        }
        a->parts[first].nparts = (uint32_t)(nw - first);
    }
out:
    *i_io = i;
    *out_n = nw;
    return rc;
}

int qr_analyze(qr_analyzer *a, const char *text, size_t len, uint32_t first_pos, unsigned flags,
               qr_token_fn fn, void *ctx, uint32_t *out_positions)
{
    uint32_t pos = first_pos;
    size_t i = 0;
    int rc = 0;
    if (len > UINT32_MAX)
        len = UINT32_MAX; /* offsets are 32-bit; the indexer's size limit is far below this */
    /* Words are scanned a batch ahead so that their cache lines load while the words
     * before them are emitted: the misses of a batch overlap instead of adding up. */
    while (i < len) {
        size_t nw;
        if ((rc = scan_batch(a, text, len, &i, &nw)))
            goto out;
        for (size_t k = 0; k < nw;) {
            size_t np = a->parts[k].nparts;
            if ((rc = emit_compound(a, &a->parts[k], np, pos, text, flags, fn, ctx)))
                goto out;
            pos += (uint32_t)np;
            k += np;
        }
    }
out:
    if (out_positions)
        *out_positions = pos - first_pos;
    return rc;
}
