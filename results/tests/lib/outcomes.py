"""Punch outcome fixtures for the results tests, and an independent reading of the report's
"Hole punching per pair of NAT classes" table.

  outcomes.py fixture DIR     writes the fixture documents DIR/outcome-NN.json
  outcomes.py check FILE DIR  checks the Markdown report FILE's table against DIR's documents
                              (exit 1 with the differences)
"""
import json
import os
import sys

BEH = ["unknown", "none", "endpoint-independent", "address-dependent", "address-and-port-dependent"]
MAP = {"unknown": "unknown mapping", "none": "no NAT", "endpoint-independent": "EIM",
       "address-dependent": "ADM", "address-and-port-dependent": "APDM"}
FILT = {"unknown": "unknown filtering", "none": "no filter", "endpoint-independent": "EIF",
        "address-dependent": "ADF", "address-and-port-dependent": "APDF"}

# (local mapping, local filtering, peer mapping, peer filtering, method, successes, failures)
CASES = [
    ("endpoint-independent", "address-and-port-dependent", "endpoint-independent", "address-and-port-dependent", "udp-punch", 5, 0),
    # the same unordered pair written from the other side
    ("address-and-port-dependent", "address-and-port-dependent", "endpoint-independent", "address-and-port-dependent", "birthday", 3, 1),
    ("endpoint-independent", "address-and-port-dependent", "address-and-port-dependent", "address-and-port-dependent", "birthday", 4, 0),
    ("endpoint-independent", "address-and-port-dependent", "address-and-port-dependent", "address-and-port-dependent", "udp-punch", 0, 2),
    ("address-and-port-dependent", "address-and-port-dependent", "address-and-port-dependent", "address-and-port-dependent", "udp-punch", 0, 3),
    ("address-and-port-dependent", "address-and-port-dependent", "address-and-port-dependent", "address-and-port-dependent", "relay", 3, 0),
    ("none", "none", "address-dependent", "address-dependent", "public-address", 2, 0),
    ("address-dependent", "endpoint-independent", "endpoint-independent", "endpoint-independent", "tcp-simultaneous-open", 1, 1),
]


def doc(lm, lf, pm, pf, method, ok):
    return {
        "schema": "punch-outcome", "version": 1,
        "tool": {"name": "punchvpn", "version": "0.1.0"},
        "started": "2026-12-06T00:00:00Z",
        "local": {"mapping": lm, "filtering": lf, "allocation": "random", "port_mapping": False, "udp_blocked": False},
        "peer": {"mapping": pm, "filtering": pf, "allocation": "unknown", "port_mapping": None, "udp_blocked": None},
        "method": method, "success": ok, "first_packet_ms": 250 if ok else None,
    }


def fixture(d):
    n = 0
    for lm, lf, pm, pf, method, good, badn in CASES:
        for ok in [True] * good + [False] * badn:
            with open(os.path.join(d, "outcome-%02d.json" % n), "w") as f:
                json.dump(doc(lm, lf, pm, pf, method, ok), f, indent=2)
            n += 1
    print(n)


def label(m, f):
    return "%s+%s" % (MAP[m], FILT[f])


def expected(d):
    cells = {}
    for name in sorted(os.listdir(d)):
        if not name.endswith(".json"):
            continue
        o = json.load(open(os.path.join(d, name)))
        if o.get("schema") != "punch-outcome":
            continue
        a = (BEH.index(o["local"]["mapping"]), BEH.index(o["local"]["filtering"]))
        b = (BEH.index(o["peer"]["mapping"]), BEH.index(o["peer"]["filtering"]))
        lo, hi = sorted([a, b])
        pair = "%s x %s" % (label(BEH[lo[0]], BEH[lo[1]]), label(BEH[hi[0]], BEH[hi[1]]))
        n, m = cells.get((pair, o["method"]), (0, 0))
        cells[(pair, o["method"])] = (n + (1 if o["success"] else 0), m + 1)
    return cells


def cell(n, m):
    return "%d/%d (%d%%)" % (n, m, (n * 200 + m) // (2 * m))


def check(md, d):
    want = expected(d)
    text = open(md).read()
    sec = text[text.index("## Hole punching per pair of NAT classes"):]
    rows = [l for l in sec.splitlines() if l.startswith("|")]
    head = [c.strip() for c in rows[0].strip("|").split("|")]
    got = {}
    for l in rows[2:]:
        cols = [c.strip().strip("*") for c in l.strip("|").split("|")]
        if cols[0] == "All pairs":
            continue
        for k, meth in enumerate(head[2:], start=2):
            if cols[k] != "-":
                got[(cols[0], meth)] = cols[k]
    want_s = {k: cell(*v) for k, v in want.items()}
    bad = 0
    for k in sorted(set(want_s) | set(got)):
        if want_s.get(k) != got.get(k):
            print("  %s / %s: report %s, documents say %s" % (k[0], k[1], got.get(k), want_s.get(k)))
            bad += 1
    print("%d cells checked, %d differ" % (len(want_s), bad))
    sys.exit(1 if bad or not want_s else 0)


if __name__ == "__main__":
    {"fixture": lambda: fixture(sys.argv[2]), "check": lambda: check(sys.argv[2], sys.argv[3])}[sys.argv[1]]()
