#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# chart.py: draws bench-peers.csv as one SVG: QPS per server and mode, latency at the fixed rate.
"""Draws the peer benchmark's results as an SVG chart, with the standard library only.

    python3 tests/bench/chart.py [bench-peers.csv] [-o bench-peers.svg] [--title TEXT]

Left: median QPS per mode (udp, tcp, udp-pin, ...), one bar per server, with a
whisker from the slowest to the fastest round. Right: latency at the fixed
rate (mode "lat"), p50 and p99 per server. `make bench` draws it next to
bench-peers.csv; run this to redraw any CSV the bench wrote. Columns used:
server, mode, qps_med, qps_min, qps_max, p50_us, p99_us (others are ignored).
"""

import argparse
import csv
import math
import os
import sys
from xml.sax.saxutils import escape

COLOURS = {"srvd": "#1f6feb", "nsd": "#8250df", "knot": "#bf8700", "ceiling": "#8c959f"}
SPARE = ["#1a7f37", "#cf222e", "#0a7c86", "#6e7781"]
LAT_MODE = "lat"
W, H = 960, 420
FONT = "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\""


def number(text):
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def read(path):
    """Rows of the CSV as dicts, numbers parsed; raises ValueError on a foreign CSV."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    need = {"server", "mode", "qps_med"}
    if not rows or not need <= set(rows[0]):
        raise ValueError("%s: not a bench-peers CSV (needs columns %s)" %
                         (path, ", ".join(sorted(need))))
    for r in rows:
        for k in ("qps_med", "qps_min", "qps_max", "p50_us", "p99_us"):
            r[k] = number(r.get(k))
    return rows


def ordered(values):
    """Unique values in first-seen order."""
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def nice_max(v):
    """A round axis maximum at or above v, and its tick step (4 to 10 ticks)."""
    if v <= 0:
        return 1, 1
    mag = 10 ** math.floor(math.log10(v))
    top = next(m * mag for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if v <= m * mag)
    ratio = top / mag
    step = mag * (0.2 if ratio <= 2 else 0.5 if ratio <= 4 else 1)
    return top, step


def short(v):
    if v >= 1e6:
        return "%.1fM" % (v / 1e6)
    if v >= 1e4:
        return "%.0fk" % (v / 1e3)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


class Svg:
    def __init__(self):
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, anchor="start", weight="normal", fill="#1f2328", rotate=None):
        tr = ' transform="rotate(%d %.1f %.1f)"' % (rotate, x, y) if rotate else ""
        self.add('<text x="%.1f" y="%.1f" font-size="%d" text-anchor="%s" font-weight="%s" '
                 'fill="%s"%s>%s</text>' % (x, y, size, anchor, weight, fill, tr, escape(s)))

    def rect(self, x, y, w, h, fill, title=None):
        t = "<title>%s</title>" % escape(title) if title else ""
        self.add('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">%s</rect>' %
                 (x, y, w, max(h, 0.5), fill, t))

    def line(self, x1, y1, x2, y2, stroke="#d0d7de", width=1):
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="%g"/>'
                 % (x1, y1, x2, y2, stroke, width))


def panel(svg, x0, y0, w, h, title, groups, series, value, whisker, unit, colour):
    """Grouped bars: groups along x, one bar per series in each; value(g, s) -> number or None,
    whisker(g, s) -> (lo, hi) or None."""
    svg.text(x0 + w / 2, y0, title, 14, "middle", "bold")
    top_y, left = y0 + 26, x0 + 54
    plot_w, plot_h = w - 60, h - 86
    vals = [value(g, s) for g in groups for s in series]
    vals += [hi for g in groups for s in series for _, hi in [whisker(g, s) or (0, 0)]]
    vmax, step = nice_max(max([v for v in vals if v] or [1]))
    ybase = top_y + plot_h
    k = 0.0
    while k <= vmax + step / 2:
        y = ybase - plot_h * k / vmax
        svg.line(left, y, left + plot_w, y, "#eaeef2" if k else "#8c959f")
        svg.text(left - 6, y + 4, short(k), 11, "end", fill="#57606a")
        k += step
    svg.text(x0 + 12, top_y + plot_h / 2, unit, 11, "middle", fill="#57606a", rotate=-90)
    gw = plot_w / max(len(groups), 1)
    bw = min(34, (gw - 16) / max(len(series), 1))
    for gi, g in enumerate(groups):
        gx = left + gi * gw + (gw - bw * len(series)) / 2
        svg.text(left + gi * gw + gw / 2, ybase + 18, g, 12, "middle", "bold")
        for si, s in enumerate(series):
            v = value(g, s)
            if v is None:
                continue
            x = gx + si * bw
            bh = plot_h * v / vmax
            svg.rect(x + 1, ybase - bh, bw - 2, bh, colour(si, s), "%s %s: %s" % (s, g, short(v)))
            wk = whisker(g, s)
            label_y = ybase - bh
            if wk and wk[0] is not None and wk[1] is not None:
                lo, hi = (ybase - plot_h * wk[0] / vmax, ybase - plot_h * wk[1] / vmax)
                cx = x + bw / 2
                svg.line(cx, lo, cx, hi, "#24292f", 1)
                svg.line(cx - 3, hi, cx + 3, hi, "#24292f", 1)
                svg.line(cx - 3, lo, cx + 3, lo, "#24292f", 1)
                label_y = min(label_y, hi)
            if bw >= 18:
                svg.text(x + bw / 2, label_y - 4, short(v), 9, "middle", fill="#24292f")


def draw(rows, title=None):
    servers = ordered(r["server"] for r in rows)
    modes = [m for m in ordered(r["mode"] for r in rows) if m != LAT_MODE]
    by = {(r["server"], r["mode"]): r for r in rows}
    spare = iter(SPARE * 4)
    colours = {s: COLOURS.get(s) or next(spare) for s in servers}
    lat = [s for s in servers if (s, LAT_MODE) in by and by[(s, LAT_MODE)]["p50_us"] is not None]

    svg = Svg()
    svg.add('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            '%s>' % (W, H, W, H, FONT))
    svg.add('<rect width="100%" height="100%" fill="#ffffff"/>')
    svg.text(W / 2, 24, title or "make bench: srvd and its peers on 127.0.0.1", 16, "middle",
             "bold")
    qps_w = W * (0.62 if lat else 1.0)
    panel(svg, 0, 52, qps_w, H - 52 - 30,
          "QPS, median of rounds (whiskers: min to max)", modes, servers,
          lambda g, s: by.get((s, g), {}).get("qps_med"),
          lambda g, s: (by[(s, g)]["qps_min"], by[(s, g)]["qps_max"]) if (s, g) in by else None,
          "queries per second", lambda i, s: colours[s])
    if lat:
        qps_rate = by[(lat[0], LAT_MODE)]["qps_med"]
        shades = {"p50": 0, "p99": 1}
        panel(svg, qps_w, 52, W - qps_w, H - 52 - 30,
              "Latency at %s QPS (lower is better)" % short(qps_rate or 0), lat, ["p50", "p99"],
              lambda g, s: by[(g, LAT_MODE)][s + "_us"], lambda g, s: None, "microseconds",
              lambda i, s: "#57606a" if shades[s] else "#afb8c1")
    # legend
    x = 60
    y = H - 12
    for s in servers:
        svg.rect(x, y - 10, 12, 12, colours[s])
        svg.text(x + 16, y, s, 12)
        x += 24 + 8 * len(s) + 10
    if lat:
        for name, fill in (("p50", "#afb8c1"), ("p99", "#57606a")):
            svg.rect(x, y - 10, 12, 12, fill)
            svg.text(x + 16, y, name + " latency", 12)
            x += 100
    svg.add("</svg>")
    return "\n".join(svg.parts) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", nargs="?", default="bench-peers.csv")
    ap.add_argument("-o", "--out", help="output SVG (default: the CSV's name with .svg)")
    ap.add_argument("--title")
    a = ap.parse_args(argv)
    out = a.out or os.path.splitext(a.csv)[0] + ".svg"
    try:
        text = draw(read(a.csv), a.title)
    except (OSError, ValueError) as e:
        sys.stderr.write("chart.py: %s\n" % e)
        return 1
    tmp = out + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(text)
    os.replace(tmp, out)
    print("chart.py: wrote %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
