#!/usr/bin/env python3
"""Compare a natcheck result document with expectations.

  expect.py RESULT.json FIELD=VALUE...      each FIELD is a JSON path (udp.mapping,
                                            udp.allocation.delta, tcp.unsolicited, ...);
                                            VALUE is compared as JSON (true/false/null/1)
                                            or, failing that, as a string
  expect.py --same A.json B.json FIELD...   the fields A determined (not null/unknown) must
                                            be equal in B

Prints one line per mismatch ("udp.mapping: expected X, measured Y") and exits 1 if there
is any, 2 if a document cannot be read.
"""
import json
import sys


def get(doc, path):
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return "<missing>"
        node = node[key]
    return node


def parse(value):
    try:
        return json.loads(value)
    except ValueError:
        return value


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        print(f"cannot read {path}: {e}")
        sys.exit(2)


def show(v):
    return json.dumps(v) if not isinstance(v, str) else v


def main(argv):
    bad = []
    if argv[:1] == ["--same"]:
        a, b = load(argv[1]), load(argv[2])
        for field in argv[3:]:
            if get(a, field) in (None, "unknown", "<missing>"):
                continue  # the replayed result never determined it: nothing to reproduce
            if get(a, field) != get(b, field):
                bad.append(f"{field}: {show(get(a, field))} in the replayed result, "
                           f"{show(get(b, field))} measured through the replay")
    else:
        doc = load(argv[0])
        for exp in argv[1:]:
            field, want = exp.split("=", 1)
            got = get(doc, field)
            if got != parse(want):
                bad.append(f"{field}: expected {want}, measured {show(got)}")
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
