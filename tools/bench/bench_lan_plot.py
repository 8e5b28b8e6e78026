#!/usr/bin/env python3
"""Plots of bench_lan's samples (bench_lan --out DIR) as plain SVG files.

usage: bench_lan_plot.py DIR [OUTDIR]     (OUTDIR defaults to docs/)

  propagation.tsv -> bench_lan_propagation.svg: the distribution (CDF) of
                     the propagation latency, request -> visible on B and
                     ack on A -> visible on B, with the goals.
  catchup.tsv     -> bench_lan_catchup.svg: events held by the new
                     register and its resident memory (all, and anonymous)
                     over time.

No third-party modules: the SVG is written by hand.
"""
import os
import sys

W, H = 720, 400
L, R, T, B = 70, 30, 40, 60          # margins


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            rows.append([float(x) for x in line.split()])
    return rows


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Svg:
    def __init__(self, title):
        self.parts = [
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'font-family="sans-serif" font-size="12">' % (W, H),
            '<rect width="100%" height="100%" fill="white"/>',
            '<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>'
            % (L, esc(title)),
        ]

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, anchor="start", color="black", rot=None):
        tr = ' transform="rotate(%d %d %d)"' % (rot, x, y) if rot else ""
        self.add('<text x="%.1f" y="%.1f" text-anchor="%s" fill="%s"%s>%s'
                 '</text>' % (x, y, anchor, color, tr, esc(s)))

    def line(self, x1, y1, x2, y2, color="black", dash=None, width=1):
        d = ' stroke-dasharray="%s"' % dash if dash else ""
        self.add('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" '
                 'stroke="%s" stroke-width="%s"%s/>'
                 % (x1, y1, x2, y2, color, width, d))

    def poly(self, pts, color, width=2):
        self.add('<polyline fill="none" stroke="%s" stroke-width="%s" '
                 'points="%s"/>' % (color, width,
                                    " ".join("%.1f,%.1f" % p for p in pts)))

    def save(self, path):
        self.add("</svg>")
        with open(path, "w") as f:
            f.write("\n".join(self.parts) + "\n")


def axes(svg, xmax, ymax, xlabel, ylabel, xticks, yticks, yfmt="%g"):
    x0, y0, x1, y1 = L, H - B, W - R, T
    sx = lambda v: x0 + (x1 - x0) * v / xmax
    sy = lambda v: y0 - (y0 - y1) * v / ymax
    svg.line(x0, y0, x1, y0)
    svg.line(x0, y0, x0, y1)
    for t in xticks:
        svg.line(sx(t), y0, sx(t), y0 + 4)
        svg.line(sx(t), y0, sx(t), y1, color="#e5e5e5")
        svg.text(sx(t), y0 + 18, "%g" % t, anchor="middle")
    for t in yticks:
        svg.line(x0 - 4, sy(t), x0, sy(t))
        svg.line(x0, sy(t), x1, sy(t), color="#e5e5e5")
        svg.text(x0 - 8, sy(t) + 4, yfmt % t, anchor="end")
    svg.text((x0 + x1) / 2, H - 18, xlabel, anchor="middle")
    svg.text(18, (y0 + y1) / 2, ylabel, anchor="middle", rot=-90)
    return sx, sy


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p / 100 * (len(v) - 1) + 0.5))]


def propagation(src, dst):
    rows = read_tsv(src)
    req = sorted(r[1] / 1000 for r in rows)     # ms
    ack = sorted(r[2] / 1000 for r in rows)
    n = len(req)
    xmax = max(10.5, pct(req, 99.5) * 1.1)
    step = 1 if xmax <= 12 else 2 if xmax <= 25 else 5
    svg = Svg("Propagation A -> B on loopback, %d events (CDF)" % n)
    sx, sy = axes(svg, xmax, 100, "milliseconds",
                  "% of events visible on B",
                  [i * step for i in range(int(xmax / step) + 1)],
                  [0, 25, 50, 75, 90, 100])
    for data, color, name in ((req, "#1f77b4", "request to A -> visible on B"),
                              (ack, "#2ca02c", "ack from A -> visible on B")):
        pts = [(sx(min(v, xmax)), sy(100.0 * (i + 1) / n))
               for i, v in enumerate(data)]
        svg.poly([(sx(0), sy(0))] + pts, color)
    for g, label in ((2, "goal p50 < 2 ms"), (10, "goal p99 < 10 ms")):
        if g <= xmax:
            svg.line(sx(g), sy(0), sx(g), sy(100), "#d62728", dash="5,4")
            svg.text(sx(g) + 4, sy(100) + 14 + (12 if g == 10 else 0),
                     label, color="#d62728")
    y = T + 40
    for color, name, d in (("#1f77b4", "request -> visible on B", req),
                           ("#2ca02c", "ack on A -> visible on B", ack)):
        svg.line(W - R - 250, y - 4, W - R - 225, y - 4, color, width=2)
        svg.text(W - R - 220, y, "%s: p50 %.2f, p99 %.2f ms"
                 % (name, pct(d, 50), pct(d, 99)))
        y += 18
    svg.save(dst)


def catchup(src, dst):
    rows = read_tsv(src)
    t = [r[0] for r in rows]
    ev = [r[1] for r in rows]
    rss = [r[2] / 1024 for r in rows]          # MiB
    tmax = max(t) * 1.05
    emax = max(ev) * 1.1
    rmax = max(rss) * 1.1
    svg = Svg("Catch-up of a new register: %d events in %.1f s"
              % (ev[-1] - ev[0], t[-1]))
    tstep = max(1, int(tmax / 8))
    estep = max(1, int(emax / 5 / 100000 + 0.5)) * 100000
    sx, sy = axes(svg, tmax, emax, "seconds since the agent started",
                  "events held",
                  [i * tstep for i in range(int(tmax / tstep) + 1)],
                  [i * estep for i in range(int(emax / estep) + 1)],
                  yfmt="%.0f")
    svg.poly([(sx(a), sy(b)) for a, b in zip(t, ev)], "#1f77b4")
    sr = lambda v: (H - B) - ((H - B) - T) * v / rmax
    svg.poly([(sx(a), sr(b)) for a, b in zip(t, rss)], "#ff7f0e")
    anon = [r[3] / 1024 for r in rows] if len(rows[0]) > 3 else None
    if anon:
        svg.poly([(sx(a), sr(b)) for a, b in zip(t, anon)], "#9467bd")
        svg.text(L + 10, T + 48, "of it anonymous memory (RssAnon: heap), "
                 "peak %.0f MiB; the rest is LMDB's mapped file" % max(anon),
                 color="#9467bd")
    rstep = max(10, int(rmax / 5 / 10 + 0.5) * 10)
    for i in range(int(rmax / rstep) + 1):
        svg.text(W - R + 4, sr(i * rstep) + 4, "%d" % (i * rstep),
                 color="#ff7f0e")
    svg.text(W - R - 4, T - 6, "RSS MiB", anchor="end", color="#ff7f0e")
    svg.text(L + 10, T + 16, "events held", color="#1f77b4")
    svg.text(L + 10, T + 32, "resident memory (VmRSS) of the new agent, "
             "peak %.0f MiB" % max(rss), color="#ff7f0e")
    svg.save(dst)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    dst = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs")
    os.makedirs(dst, exist_ok=True)
    done = []
    for name, fn in (("propagation", propagation), ("catchup", catchup)):
        p = os.path.join(src, name + ".tsv")
        if os.path.exists(p):
            out = os.path.join(dst, "bench_lan_%s.svg" % name)
            fn(p, out)
            done.append(os.path.normpath(out))
    print("\n".join(done) if done else "no samples in " + src)


if __name__ == "__main__":
    main()
