/*
 * Benchmark query lists and query files (see queries.h).
 */
#include "bench/queries.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "storage/alloc.h"
#include "storage/status.h"

static const char *const class_names[QR_QC_COUNT] = {
    "HighTerm",   "MedTerm",    "LowTerm",   "AndHighHigh", "AndHighMed",
    "AndHighLow", "OrHighHigh", "OrHighMed", "OrHighLow",   "AndNot",
    "Phrase2",    "Phrase3",    "Prefix3",   "Near",        "Title",
};

const char *qr_qclass_name(qr_qclass c)
{
    return (unsigned)c < QR_QC_COUNT ? class_names[c] : "?";
}

int qr_qclass_find(const char *name, qr_qclass *out)
{
    for (unsigned c = 0; c < QR_QC_COUNT; c++)
        if (!strcasecmp(name, class_names[c])) {
            *out = (qr_qclass)c;
            return 0;
        }
    return QR_ENOTFOUND;
}

int qr_qclass_parse(unsigned *out, const char *list, char *bad, size_t badlen)
{
    unsigned set = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char name[64];
        while (n && (*p == ' ' || *p == '\t')) {
            p++;
            n--;
        }
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n) {
            qr_qclass c;
            if (n >= sizeof name) {
                snprintf(bad, badlen, "%.*s", (int)n, p);
                return QR_EINVAL;
            }
            memcpy(name, p, n);
            name[n] = '\0';
            if (!strcasecmp(name, "all"))
                set |= QR_QC_ALL;
            else if (!strcasecmp(name, "peers"))
                set |= QR_QC_PEERS;
            else if (qr_qclass_find(name, &c) == 0)
                set |= 1u << c;
            else {
                snprintf(bad, badlen, "%s", name);
                return QR_EINVAL;
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    if (!set) {
        snprintf(bad, badlen, "%s", list);
        return QR_EINVAL;
    }
    *out = set;
    return 0;
}

int qr_bq_add(qr_bq_list *l, const char *cls, const char *text, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        qr_bq *q = qr_reallocarray(l->q, cap, sizeof *q);
        if (!q)
            return QR_ENOMEM;
        l->q = q;
        l->cap = cap;
    }
    qr_qclass k;
    if (cls && qr_qclass_find(cls, &k) == 0)
        cls = class_names[k]; /* canonical spelling, so classes compare with strcmp */
    char *c = qr_strdup(cls ? cls : "-");
    char *t = qr_strndup(text, len);
    if (!c || !t) {
        qr_free(c);
        qr_free(t);
        return QR_ENOMEM;
    }
    l->q[l->n].cls = c;
    l->q[l->n].text = t;
    l->n++;
    return 0;
}

void qr_bq_list_free(qr_bq_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        qr_free(l->q[i].cls);
        qr_free(l->q[i].text);
    }
    qr_free(l->q);
    *l = (qr_bq_list){0};
}

int qr_bq_read(qr_bq_list *l, FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &cap, f)) >= 0) {
        size_t n = (size_t)got;
        if (n && line[n - 1] == '\n')
            n--;
        if (n && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        size_t lead = strspn(line, " \t");
        if (lead == n || line[lead] == '#')
            continue;
        char *tab = memchr(line, '\t', n);
        if (tab) {
            *tab = '\0';
            const char *q = tab + 1;
            rc = qr_bq_add(l, *line ? line : "-", q, n - (size_t)(q - line));
        } else {
            rc = qr_bq_add(l, NULL, line, n);
        }
        if (rc)
            break;
    }
    if (!rc && ferror(f))
        rc = QR_EIO;
    free(line);
    return rc;
}

int qr_bq_write(const qr_bq_list *l, FILE *f, const char *comment)
{
    if (comment)
        fprintf(f, "# %s\n", comment);
    for (size_t i = 0; i < l->n; i++)
        fprintf(f, "%s\t%s\n", l->q[i].cls, l->q[i].text);
    return fflush(f) == 0 && !ferror(f) ? 0 : QR_EIO;
}

int qr_bq_classes(const qr_bq_list *l, const char ***out, size_t *out_n)
{
    const char **names = qr_calloc(l->n + QR_QC_COUNT + 1, sizeof *names);
    size_t n = 0;
    if (!names)
        return QR_ENOMEM;
    bool known[QR_QC_COUNT] = {false};
    for (size_t i = 0; i < l->n; i++) {
        qr_qclass c;
        if (qr_qclass_find(l->q[i].cls, &c) == 0)
            known[c] = true;
    }
    for (unsigned c = 0; c < QR_QC_COUNT; c++)
        if (known[c])
            names[n++] = class_names[c];
    for (size_t i = 0; i < l->n; i++) {
        qr_qclass c;
        if (qr_qclass_find(l->q[i].cls, &c) == 0)
            continue;
        size_t k = 0;
        while (k < n && strcmp(names[k], l->q[i].cls))
            k++;
        if (k == n)
            names[n++] = l->q[i].cls;
    }
    *out = names;
    *out_n = n;
    return 0;
}
