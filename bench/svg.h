/*
 * A minimal writer of self-contained SVG charts for the benchmark reports:
 * grouped bar charts (latency per query class, one bar per engine) and line
 * charts (a measure against corpus size, one line per series), linear or
 * logarithmic axes, several panels stacked in one picture. No external
 * fonts, scripts or styles: the file opens in any browser as it is.
 */
#ifndef QR_BENCH_SVG_H
#define QR_BENCH_SVG_H

#include <stdbool.h>
#include <stddef.h>

#include "storage/buf.h"

/* One series: a name for the legend and one value per category (bars) or per x (lines). */
typedef struct qr_svg_series {
    const char *name;
    const double *v; /* NaN or (on a log axis) <= 0: no bar / no point */
} qr_svg_series;

/* One panel. */
typedef struct qr_svg_chart {
    const char *title;
    const char *xlabel;
    const char *ylabel;
    bool logx; /* lines only */
    bool logy;
    size_t n;                /* categories (bars) or x values (lines) */
    const char *const *cats; /* bars: category names */
    const double *x;         /* lines: x values, increasing */
    size_t nseries;
    const qr_svg_series *series;
} qr_svg_chart;

/* Panels are laid out one below the other, each QR_SVG_PANEL_H high. */
#define QR_SVG_WIDTH   960
#define QR_SVG_PANEL_H 400

/* Starts a document of `panels` panels, with a heading and a line of small print (may be NULL). */
void qr_svg_begin(qr_buf *out, size_t panels, const char *heading, const char *note);
/* Draws a bar / line chart as panel number i (0-based). */
void qr_svg_bars(qr_buf *out, size_t i, const qr_svg_chart *c);
void qr_svg_lines(qr_buf *out, size_t i, const qr_svg_chart *c);
/* Ends the document; returns out->err (0 or QR_ENOMEM). */
int qr_svg_end(qr_buf *out);

/* Appends s with &, <, >, " and ' escaped for XML. */
void qr_svg_escape(qr_buf *out, const char *s);

#endif
