#!/usr/bin/env python3
"""Plot of bench_append's latency percentiles (bench_append --csv FILE) as a
plain SVG file: 1 client and 8 clients, each percentile of the durable
append latency, with the LMDB commit+fsync p50 of the same run.

usage: plot_append.py FILE.csv [OUT.svg]   (default docs/bench_append_latency.svg)

No third-party modules: the SVG is written by hand.
"""
import math
import os
import sys

W, H = 720, 420
L, R, T, B = 80, 150, 50, 70


def read(path):
    meta, rows, head = {}, [], None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                for kv in line[1:].split():
                    k, v = kv.split("=")
                    meta[k] = float(v)
                continue
            if head is None:
                head = line.split(",")
                continue
            rows.append([float(x) for x in line.split(",")])
    return meta, head, rows


def label(us):
    if us >= 1e6:
        return "%g s" % (us / 1e6)
    if us >= 1000:
        return "%g ms" % (us / 1000)
    return "%g us" % us


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
        "bench_append_latency.svg")
    meta, head, rows = read(src)
    # percentiles in order: min (0) first, max (100) last
    rows.sort(key=lambda r: (r[0] == 100, r[0] != 0, r[0]))
    labels = ["min" if r[0] == 0 else "max" if r[0] == 100 else
              "p%g" % r[0] for r in rows]
    series = [(head[1].replace("clients_", "").replace("_us", ""),
               [r[1] for r in rows], "#1f77b4"),
              (head[2].replace("clients_", "").replace("_us", ""),
               [r[2] for r in rows], "#d62728")]
    vals = [v for _, s, _ in series for v in s] + [meta.get("fsync_p50_us", 1)]
    lo = 10 ** math.floor(math.log10(max(min(vals), 1)))
    hi = 10 ** math.ceil(math.log10(max(vals)))
    pw, ph = W - L - R, H - T - B

    def x(i):
        return L + pw * i / (len(labels) - 1)

    def y(v):
        return T + ph * (1 - (math.log10(v) - math.log10(lo)) /
                         (math.log10(hi) - math.log10(lo)))

    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
         'font-family="sans-serif" font-size="12">' % (W, H),
         '<rect width="100%" height="100%" fill="white"/>',
         '<text x="%d" y="24" font-size="15">Durable append through the '
         'control socket: latency by percentile</text>' % L]
    d = lo
    while d <= hi * 1.0001:
        for m in (1, 2, 5):
            v = d * m
            if lo <= v <= hi:
                o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" '
                         'stroke="#ddd"/>' % (L, L + pw, y(v), y(v)))
                o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>'
                         % (L - 6, y(v) + 4, label(v)))
        d *= 10
    for i, lab in enumerate(labels):
        o.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>'
                 % (x(i), T + ph + 18, lab))
    o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" '
             'stroke="#444"/>' % (L, T, pw, ph))
    if "fsync_p50_us" in meta:
        fy = y(meta["fsync_p50_us"])
        o.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#2ca02c" '
                 'stroke-dasharray="6,4"/>' % (L, L + pw, fy, fy))
        o.append('<text x="%d" y="%.1f" fill="#2ca02c">LMDB commit+fsync '
                 'p50</text>' % (L + pw + 6, fy + 4))
    for k, (name, s, col) in enumerate(series):
        pts = " ".join("%.1f,%.1f" % (x(i), y(v)) for i, v in enumerate(s))
        o.append('<polyline points="%s" fill="none" stroke="%s" '
                 'stroke-width="2"/>' % (pts, col))
        for i, v in enumerate(s):
            o.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>'
                     % (x(i), y(v), col))
        rate = meta.get("per_s_%s" % name)
        o.append('<text x="%d" y="%d" fill="%s">%s client%s%s</text>'
                 % (L + pw + 6, T + 16 + 18 * k, col, name,
                    "" if name == "1" else "s",
                    (": %.0f/s" % rate) if rate else ""))
    o.append('<text x="%d" y="%d" text-anchor="middle">percentile of the '
             'append latency (request sent to durable acknowledgement)'
             '</text>' % (L + pw / 2, H - 20))
    o.append("</svg>")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        f.write("\n".join(o) + "\n")
    print("wrote", out)


if __name__ == "__main__":
    main()
