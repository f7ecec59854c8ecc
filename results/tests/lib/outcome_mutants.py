"""Single-field mutations of the punch outcome examples, for the schema agreement test.

  outcome_mutants.py DIR SCHEMA EXAMPLE...   writes DIR/mNNNN.json and prints, one line per
                                             document, what the JSON Schema says: "ok" or
                                             "refused"
Every member (at every depth) is deleted, set to null, and set to each value of a pool that
holds every type, the enum words of both NAT-class enums and the methods, bounds and near
misses; unknown members are added at every level.
"""
import copy
import json
import os
import sys

import jsonschema

POOL = [None, True, False, 0, 1, -1, 1.0, 1.5, 2, 4294967295, 4294967296, "", "x", [], {},
        "punch-outcome", "natcheck-result", "endpoint-independent", "address-dependent",
        "address-and-port-dependent", "none", "unknown", "preserving", "sequential", "random",
        "cone", "udp-punch", "birthday", "relay", "stun", "punchvpn", "0.1.0", "punch vpn",
        "a" * 31, "a" * 32, "2026-12-06T00:00:00Z", "2026-12-06T00:00:01Z", "2026-13-01T00:00:00Z",
        {"name": "x"}, {"mapping": "none"}]


def paths(d, pre=()):
    for k, v in d.items():
        yield pre + (k,)
        if isinstance(v, dict):
            yield from paths(v, pre + (k,))


def setp(d, p, v, delete=False):
    for k in p[:-1]:
        d = d[k]
    if delete:
        del d[p[-1]]
    else:
        d[p[-1]] = v


def main():
    out, schema = sys.argv[1], json.load(open(sys.argv[2]))
    v = jsonschema.Draft202012Validator(schema)
    docs = []
    for ex in sys.argv[3:]:
        base = json.load(open(ex))
        docs.append(base)
        objs = [()] + [p for p in paths(base) if isinstance(eval_path(base, p), dict)]
        for p in list(paths(base)):
            d = copy.deepcopy(base)
            setp(d, p, None, delete=True)
            docs.append(d)
            for val in POOL:
                d = copy.deepcopy(base)
                setp(d, p, copy.deepcopy(val))
                docs.append(d)
        for p in objs:
            d = copy.deepcopy(base)
            setp(d, p + ("zz_unknown",), {"addr": "192.0.2.1"})
            docs.append(d)
    seen, n = set(), 0
    for d in docs:
        key = json.dumps(d, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        with open(os.path.join(out, "m%04d.json" % n), "w") as f:
            json.dump(d, f)
        print("ok" if v.is_valid(d) else "refused")
        n += 1


def eval_path(d, p):
    for k in p:
        d = d[k]
    return d


if __name__ == "__main__":
    main()
