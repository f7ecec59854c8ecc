#!/usr/bin/env python3
"""The pair cases' summary: a Markdown table (summary.md) and an HTML grid (grid.html).

  pairs_report.py --list PAIRS.list [--title T] OUTDIR

Reads OUTDIR/NAME.pair.json (sim/lib/pairs_check.py) for every pair of the list, in its order,
or OUTDIR/NAME.line for a case that wrote no document (it did not run). The grid has the
list's profiles as rows and columns (plus "same router" when a pair puts both hosts behind
one router); the pair's cell sits at row A, column B, and its mirror at row B, column A. Each
cell is coloured by the measured path (direct, relay; failed and not-run cases have their
own style) and shows the path, the method, the time from the second `up` to the first ping
and the introduction->direct time. The page is self-contained: inline CSS, no scripts.
"""
import argparse
import html
import json
import os

SAME = "same"


def load(outdir, name):
    try:
        with open(os.path.join(outdir, name + ".pair.json"), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        pass
    line = ""
    try:
        with open(os.path.join(outdir, name + ".line"), encoding="utf-8") as f:
            line = f.read().strip()
    except OSError:
        pass
    fields = line.split("\t")
    return {"pair": name, "result": fields[1] if len(fields) > 1 else "ERROR",
            "failures": [x for x in (fields[5] if len(fields) > 5 else "the case did not run").split(";") if x],
            "notes": [], "measured": "-", "hosts": {}, "first_ping_ms": None, "intro_direct_ms": None}


def pairs(listfile):
    out = []
    with open(listfile, encoding="utf-8") as f:
        for line in f:
            w = line.split("#")[0].split()
            if len(w) < 3:
                continue
            method = w[3] if len(w) > 3 and w[3] != "-" and "<=" not in w[3] else None
            out.append((w[0], w[1], w[2], method))
    return out


def measured_path(doc):
    """The path both hosts agree on, else None."""
    hosts = doc.get("hosts") or {}
    paths = {h.get("path") for h in hosts.values()} if hosts else set()
    return paths.pop() if len(paths) == 1 else None


def ms(v):
    return "-" if v is None else f"{v} ms"


def markdown(title, rows):
    out = [f"# {title}", "",
           "| pair | expected | measured | pings | first ping | intro->direct | result | details |",
           "|---|---|---|---|---|---|---|---|"]
    for (a, b, path, method), doc in rows:
        exp = path + (f"/{method}" if method else "")
        pings = doc.get("pings") or {}
        pg = f"{pings.get('received')}/{pings.get('sent')}" if pings.get("received") is not None else "-"
        det = "<br>".join((doc.get("failures") or []) + (doc.get("notes") or []))
        cells = [f"{a} x {'same router' if b == SAME else b}", exp, doc.get("measured") or "-", pg,
                 ms(doc.get("first_ping_ms")), ms(doc.get("intro_direct_ms")), doc.get("result", "ERROR"), det]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    passed = sum(1 for _, d in rows if d.get("result") == "PASS")
    out += ["", f"{len(rows)} pair(s), {passed} passed, {len(rows) - passed} not passed.", ""]
    return "\n".join(out)


CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
table.grid { border-collapse: collapse; }
table.grid th, table.grid td { border: 1px solid #999; padding: 4px 6px; min-width: 6.5em;
  font-size: 12px; text-align: center; vertical-align: middle; }
table.grid th.row { text-align: right; white-space: nowrap; }
table.grid th.col { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; }
td.direct { background: #b9e4b4; }
td.relay { background: #ffd699; }
td.other { background: #d9d9d9; }
td.fail { outline: 3px solid #c62828; outline-offset: -3px; }
td.error { background: #eee; color: #777; }
td.mirror { opacity: 0.45; }
td.none { background: #fff; }
.path { font-weight: bold; display: block; }
.method, .time, .verdict { display: block; }
.verdict { color: #c62828; font-weight: bold; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; border: 1px solid #999; }
"""


def cell(doc, expected, mirror):
    path = measured_path(doc)
    result = doc.get("result", "ERROR")
    cls = []
    if result in ("ERROR", "SKIP") or not doc.get("hosts"):
        cls.append("error" if result != "PASS" else "other")
    else:
        cls.append(path if path in ("direct", "relay") else "other")
    if result != "PASS":
        cls.append("fail")
    if mirror:
        cls.append("mirror")
    shown = doc.get("measured") or "-"
    if "/" in shown and "|" not in shown:
        p, m = shown.split("/", 1)
    else:
        p, m = shown, ""
    title = f"{doc.get('pair')}: expected {expected}, measured {shown}, {result}"
    if doc.get("failures"):
        title += ": " + "; ".join(doc["failures"])
    attrs = (f' class="{" ".join(cls)}" data-pair="{html.escape(doc.get("pair", ""))}"'
             f' data-path="{html.escape(path or "none")}" data-expected="{html.escape(expected)}"'
             f' data-result="{html.escape(result)}"' + (' data-mirror="1"' if mirror else "") +
             f' title="{html.escape(title)}"')
    body = [f'<span class="path">{html.escape(p)}</span>']
    if m:
        body.append(f'<span class="method">{html.escape(m)}</span>')
    body.append(f'<span class="time">{html.escape(ms(doc.get("first_ping_ms")))}'
                f'{" / " + html.escape(ms(doc.get("intro_direct_ms"))) if doc.get("intro_direct_ms") is not None else ""}</span>')
    if result != "PASS":
        body.append(f'<span class="verdict">{html.escape(result)} (want {html.escape(expected)})</span>')
    return f"<td{attrs}>{''.join(body)}</td>"


def grid(title, rows):
    profiles = []
    for (a, b, _, _), _ in rows:
        for p in (a, b):
            if p != SAME and p not in profiles:
                profiles.append(p)
    cols = profiles + ([SAME] if any(b == SAME for (_, b, _, _), _ in rows) else [])
    at = {}
    for (a, b, path, method), doc in rows:
        exp = path + (f"/{method}" if method else "")
        at[(a, b)] = (doc, exp, False)
        if b != SAME and (b, a) not in at:
            at[(b, a)] = (doc, exp, True)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title>", f"<style>{CSS}</style></head><body>",
           f"<h1>{html.escape(title)}</h1>",
           '<p class="legend"><span style="background:#b9e4b4">direct</span>'
           '<span style="background:#ffd699">relay</span>'
           '<span style="background:#d9d9d9">other / not measured</span>'
           '<span style="outline:3px solid #c62828;outline-offset:-3px">not as expected</span>'
           " Each cell: measured path, method, time from the second <code>punchvpn up</code> to the"
           " first ping through the tunnel / introduction to first direct packet. Faded cells"
           " mirror the pair across the diagonal.</p>",
           '<table class="grid" id="pairs"><tr><th></th>']
    for c in cols:
        out.append(f'<th class="col" scope="col">{html.escape("same router" if c == SAME else c)}</th>')
    out.append("</tr>")
    for r in profiles:
        out.append(f'<tr><th class="row" scope="row">{html.escape(r)}</th>')
        for c in cols:
            if (r, c) in at:
                out.append(cell(*at[(r, c)]))
            else:
                out.append('<td class="none"></td>')
        out.append("</tr>")
    passed = sum(1 for _, d in rows if d.get("result") == "PASS")
    out += ["</table>", f"<p>{len(rows)} pair(s), {passed} passed, {len(rows) - passed} not passed.</p>",
            "</body></html>", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--list", required=True)
    ap.add_argument("--title", default="sim/run.sh pairs")
    ap.add_argument("outdir")
    o = ap.parse_args()
    rows = [((a, b, p, m), load(o.outdir, f"{a}+{b}")) for a, b, p, m in pairs(o.list)]
    with open(os.path.join(o.outdir, "summary.md"), "w", encoding="utf-8") as f:
        f.write(markdown(o.title, rows))
    with open(os.path.join(o.outdir, "grid.html"), "w", encoding="utf-8") as f:
        f.write(grid(o.title, rows))


if __name__ == "__main__":
    main()
