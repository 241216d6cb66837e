/*
 * SVG charts (see svg.h). Every coordinate is computed here: a panel has a
 * plot area with margins for the axis labels; a linear axis gets "nice"
 * ticks (1, 2 or 5 times a power of ten), a logarithmic one a tick at each
 * power of ten (plus 2 and 5 when fewer than three decades show). Values
 * that cannot be drawn (NaN, or <= 0 on a log axis) are skipped.
 */
#include "bench/svg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HEAD_H   56.0 /* heading above the first panel */
#define M_LEFT   84.0 /* plot margins inside a panel */
#define M_RIGHT  180.0
#define M_TOP    40.0
#define M_BOTTOM 84.0

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
#define NCOLORS (sizeof palette / sizeof palette[0])

/* Lines of the second colour cycle are dashed, of the third dotted. */
static const char *dash(size_t series)
{
    static const char *const d[] = {"", " stroke-dasharray=\"8 4\"", " stroke-dasharray=\"2 3\""};
    return d[(series / NCOLORS) % 3];
}

static void put(qr_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(qr_buf *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof tmp) {
        qr_buf_put(out, tmp, (size_t)n);
        return;
    }
    if (qr_buf_reserve(out, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf((char *)out->p + out->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    out->n += (size_t)n;
}

void qr_svg_escape(qr_buf *out, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            qr_buf_put(out, "&amp;", 5);
            break;
        case '<':
            qr_buf_put(out, "&lt;", 4);
            break;
        case '>':
            qr_buf_put(out, "&gt;", 4);
            break;
        case '"':
            qr_buf_put(out, "&quot;", 6);
            break;
        case '\'':
            qr_buf_put(out, "&apos;", 6);
            break;
        default:
            qr_buf_put_u8(out, (uint8_t)*s);
        }
    }
}

static void text(qr_buf *out, double x, double y, const char *anchor, int size, const char *extra,
                 const char *s)
{
    put(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\"%s%s>", x, y, anchor,
        size, extra ? " " : "", extra ? extra : "");
    qr_svg_escape(out, s);
    qr_buf_put(out, "</text>\n", 8);
}

void qr_svg_begin(qr_buf *out, size_t panels, const char *heading, const char *note)
{
    double h = HEAD_H + (double)panels * QR_SVG_PANEL_H;
    put(out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%.0f\" "
        "viewBox=\"0 0 %d %.0f\" font-family=\"sans-serif\">\n"
        "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
        QR_SVG_WIDTH, h, QR_SVG_WIDTH, h);
    text(out, QR_SVG_WIDTH / 2.0, 24, "middle", 18, "font-weight=\"bold\"", heading ? heading : "");
    if (note)
        text(out, QR_SVG_WIDTH / 2.0, 44, "middle", 11, "fill=\"#555\"", note);
}

int qr_svg_end(qr_buf *out)
{
    qr_buf_put(out, "</svg>\n", 7);
    return out->err;
}

/* An axis: maps values to pixels between p0 (at lo) and p1 (at hi). */
struct axis {
    bool log;
    double lo, hi; /* value range (log10 of it on a log axis) */
    double p0, p1;
};

static bool drawable(const struct axis *a, double v)
{
    return !isnan(v) && !isinf(v) && (!a->log || v > 0);
}

static double to_px(const struct axis *a, double v)
{
    double t = a->log ? log10(v) : v;
    double f = a->hi > a->lo ? (t - a->lo) / (a->hi - a->lo) : 0.5;
    return a->p0 + f * (a->p1 - a->p0);
}

/* Fits the axis to [vmin, vmax]; linear axes start at 0. bars: a bar's value on a power of
 * ten gets the decade below on a log axis, so that the bar shows. */
static void fit(struct axis *a, double vmin, double vmax, bool bars)
{
    if (!(vmax >= vmin)) { /* nothing drawable */
        vmin = 1;
        vmax = 10;
    }
    if (a->log) {
        a->lo = floor(log10(vmin) - (bars ? 1e-9 : 0));
        a->hi = ceil(log10(vmax));
        if (a->hi <= a->lo)
            a->hi = a->lo + 1;
    } else {
        a->lo = vmin < 0 ? vmin : 0;
        double span = vmax - a->lo;
        if (span <= 0)
            span = 1;
        double step = pow(10, floor(log10(span / 5)));
        double m = span / 5 / step;
        step *= m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
        a->hi = a->lo + ceil(span / step) * step;
    }
}

static void fmt_num(char *out, size_t cap, double v)
{
    double a = fabs(v);
    if (a >= 1e9)
        snprintf(out, cap, "%gG", v / 1e9);
    else if (a >= 1e6)
        snprintf(out, cap, "%gM", v / 1e6);
    else if (a >= 1e4)
        snprintf(out, cap, "%gk", v / 1e3);
    else
        snprintf(out, cap, "%g", v);
}

/* Grid lines and labels along a vertical (vertical = true: y axis) or horizontal axis. */
static void ticks(qr_buf *out, const struct axis *a, bool vertical, double x0, double x1, double y0,
                  double y1)
{
    char label[32];
    double vals[64];
    size_t n = 0;
    if (a->log) {
        bool minor = a->hi - a->lo < 3;
        for (double e = a->lo; e <= a->hi && n < 60; e++) {
            double base = pow(10, e);
            vals[n++] = base;
            if (minor && e < a->hi) {
                vals[n++] = 2 * base;
                vals[n++] = 5 * base;
            }
        }
    } else {
        double span = a->hi - a->lo, step = pow(10, floor(log10(span / 5)));
        double m = span / 5 / step;
        step *= m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10;
        for (double v = a->lo; v <= a->hi + step * 1e-9 && n < 60; v += step)
            vals[n++] = v;
    }
    for (size_t i = 0; i < n; i++) {
        double p = to_px(a, vals[i]);
        fmt_num(label, sizeof label, vals[i]);
        if (vertical) {
            put(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                x0, p, x1, p);
            text(out, x0 - 6, p + 4, "end", 11, NULL, label);
        } else {
            put(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", p,
                y0, p, y1);
            text(out, p, y1 + 16, "middle", 11, NULL, label);
        }
    }
}

/* Title, plot border and axis labels; the x label sits xlab pixels below the plot. */
static void frame(qr_buf *out, const qr_svg_chart *c, double top, double px0, double px1,
                  double py0, double py1, double xlab)
{
    text(out, QR_SVG_WIDTH / 2.0, top + 24, "middle", 14, "font-weight=\"bold\"",
         c->title ? c->title : "");
    put(out,
        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
        "stroke=\"#333\"/>\n",
        px0, py1, px1 - px0, py0 - py1);
    char attr[96];
    snprintf(attr, sizeof attr, "transform=\"rotate(-90 %.1f %.1f)\"", 20.0, (py0 + py1) / 2);
    text(out, 20, (py0 + py1) / 2, "middle", 12, attr, c->ylabel ? c->ylabel : "");
    text(out, (px0 + px1) / 2, py0 + xlab, "middle", 12, NULL, c->xlabel ? c->xlabel : "");
}

static void legend(qr_buf *out, const qr_svg_chart *c, double x, double y, bool lines)
{
    for (size_t s = 0; s < c->nseries; s++) {
        const char *col = palette[s % NCOLORS];
        double yy = y + 18.0 * (double)s;
        if (lines)
            put(out,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"%s/>\n",
                x, yy - 4, x + 16, yy - 4, col, dash(s));
        else
            put(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"12\" height=\"12\" fill=\"%s\"/>\n", x,
                yy - 10, col);
        text(out, x + 22, yy, "start", 12, NULL, c->series[s].name ? c->series[s].name : "");
    }
}

void qr_svg_bars(qr_buf *out, size_t i, const qr_svg_chart *c)
{
    double top = HEAD_H + (double)i * QR_SVG_PANEL_H;
    double px0 = M_LEFT, px1 = QR_SVG_WIDTH - M_RIGHT;
    double py1 = top + M_TOP, py0 = top + QR_SVG_PANEL_H - M_BOTTOM;
    struct axis ya = {.log = c->logy, .p0 = py0, .p1 = py1};
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t s = 0; s < c->nseries; s++)
        for (size_t k = 0; k < c->n; k++)
            if (drawable(&ya, c->series[s].v[k])) {
                vmin = fmin(vmin, c->series[s].v[k]);
                vmax = fmax(vmax, c->series[s].v[k]);
            }
    fit(&ya, vmin, vmax, true);
    ticks(out, &ya, true, px0, px1, py0, py1);
    frame(out, c, top, px0, px1, py0, py1, 76);
    double slot = c->n ? (px1 - px0) / (double)c->n : 0;
    double bw = c->nseries ? slot * 0.8 / (double)c->nseries : 0;
    for (size_t k = 0; k < c->n; k++) {
        double sx = px0 + slot * (double)k + slot * 0.1;
        for (size_t s = 0; s < c->nseries; s++) {
            double v = c->series[s].v[k];
            if (!drawable(&ya, v))
                continue;
            double y = to_px(&ya, v);
            if (y > py0)
                y = py0;
            put(out,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                "<title>",
                sx + bw * (double)s, y, bw, py0 - y, palette[s % NCOLORS]);
            qr_svg_escape(out, c->series[s].name);
            put(out, " %s: %.4g</title></rect>\n", c->cats[k], v);
        }
        char attr[96];
        double cx = px0 + slot * ((double)k + 0.5);
        snprintf(attr, sizeof attr, "transform=\"rotate(-35 %.1f %.1f)\"", cx, py0 + 14);
        text(out, cx, py0 + 14, "end", 11, attr, c->cats[k]);
    }
    legend(out, c, px1 + 16, py1 + 12, false);
}

void qr_svg_lines(qr_buf *out, size_t i, const qr_svg_chart *c)
{
    double top = HEAD_H + (double)i * QR_SVG_PANEL_H;
    double px0 = M_LEFT, px1 = QR_SVG_WIDTH - M_RIGHT;
    double py1 = top + M_TOP, py0 = top + QR_SVG_PANEL_H - M_BOTTOM;
    struct axis xa = {.log = c->logx, .p0 = px0 + 10, .p1 = px1 - 10};
    struct axis ya = {.log = c->logy, .p0 = py0, .p1 = py1};
    double xmin = INFINITY, xmax = -INFINITY, vmin = INFINITY, vmax = -INFINITY;
    for (size_t k = 0; k < c->n; k++)
        if (drawable(&xa, c->x[k])) {
            xmin = fmin(xmin, c->x[k]);
            xmax = fmax(xmax, c->x[k]);
        }
    for (size_t s = 0; s < c->nseries; s++)
        for (size_t k = 0; k < c->n; k++)
            if (drawable(&ya, c->series[s].v[k])) {
                vmin = fmin(vmin, c->series[s].v[k]);
                vmax = fmax(vmax, c->series[s].v[k]);
            }
    fit(&xa, xmin, xmax, false);
    fit(&ya, vmin, vmax, false);
    ticks(out, &ya, true, px0, px1, py0, py1);
    ticks(out, &xa, false, px0, px1, py1, py0);
    frame(out, c, top, px0, px1, py0, py1, 40);
    for (size_t s = 0; s < c->nseries; s++) {
        const char *col = palette[s % NCOLORS];
        bool open = false;
        for (size_t k = 0; k < c->n; k++) {
            double v = c->series[s].v[k];
            if (!drawable(&ya, v) || !drawable(&xa, c->x[k]))
                continue;
            put(out, "%s%.1f,%.1f",
                open ? " " : "<polyline fill=\"none\" stroke-width=\"2\" points=\"",
                to_px(&xa, c->x[k]), to_px(&ya, v));
            open = true;
        }
        if (open)
            put(out, "\" stroke=\"%s\"%s/>\n", col, dash(s));
        for (size_t k = 0; k < c->n; k++) {
            double v = c->series[s].v[k];
            if (!drawable(&ya, v) || !drawable(&xa, c->x[k]))
                continue;
            put(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>",
                to_px(&xa, c->x[k]), to_px(&ya, v), col);
            qr_svg_escape(out, c->series[s].name);
            put(out, " at %g: %.4g</title></circle>\n", c->x[k], v);
        }
    }
    legend(out, c, px1 + 16, py1 + 12, true);
}
