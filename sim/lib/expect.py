#!/usr/bin/env python3
"""Compare a natcheck result document with expectations.

  expect.py [--partial] [--summary FILE] RESULT.json [--new] FIELD=VALUE...
        each FIELD is a JSON path (udp.mapping, udp.allocation.delta, tcp.unsolicited, ...);
        VALUE is compared as JSON (true/false/null/1) or, failing that, as a string. A list
        matches a list with the same members in any order (e.g. unreachable endpoints).
        --new FIELD=VALUE: an expectation on a field natcheck's JSON does not have yet (issue
        13 asks for it; the profile's EXPECT_NEW). While the result has no such field it is
        PENDING: printed as "PENDING FIELD: ..." and not a mismatch; once natcheck writes the
        field it is compared like any other.
        --partial: the document comes from a measurer that determines only some fields
        (sim/lib/vovida.py): a field it left out is "not measured", not a mismatch, and its
        mapping "dependent" (RFC 3489) matches an expected address-dependent or
        address-and-port-dependent mapping.
        --summary FILE: write "EXPECTED<TAB>MEASURED<TAB>CHECKED<TAB>NOT-MEASURED", the short
        verdicts (e.g. EIM+APDF) and counts the matrix prints.
  expect.py [--summary FILE] --same A.json B.json FIELD...
        the fields A determined (not null/unknown) must be equal in B; the summary's
        expected verdict is A's

Prints one line per mismatch ("udp.mapping: expected X, measured Y") and one per pending
expectation, and exits 1 if there is any mismatch, 2 if a document cannot be read.
"""
import json
import sys

MISSING = "<missing>"
SHORT_MAPPING = {"endpoint-independent": "EIM", "address-dependent": "ADM",
                 "address-and-port-dependent": "APDM", "dependent": "ADM|APDM"}
SHORT_FILTERING = {"endpoint-independent": "EIF", "address-dependent": "ADF",
                   "address-and-port-dependent": "APDF"}


def get(doc, path):
    node = doc
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return MISSING
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


def short(lookup):
    """EIM+APDF, no-NAT, blocked, ...: the verdict in a few characters; * = not given."""
    if lookup("udp.reachable") is False:
        return "blocked"
    if lookup("udp.nat") is False:
        return "no-NAT"
    m, f = lookup("udp.mapping"), lookup("udp.filtering")
    if m == MISSING and f == MISSING:
        return "*"
    ms = "*" if m == MISSING else SHORT_MAPPING.get(m, "?")
    fs = "*" if f == MISSING else SHORT_FILTERING.get(f, "?")
    return f"{ms}+{fs}"


def same_members(want, got):
    try:
        return sorted(json.dumps(x, sort_keys=True) for x in want) == \
            sorted(json.dumps(x, sort_keys=True) for x in got)
    except TypeError:
        return False


def matches(want, got, partial):
    if got == want:
        return True
    if isinstance(want, list) and isinstance(got, list):
        return same_members(want, got)
    return partial and got == "dependent" and want in ("address-dependent", "address-and-port-dependent")


def main(argv):
    bad = []
    partial, summary = False, None
    while argv[:1] in (["--partial"], ["--summary"]):
        if argv[0] == "--partial":
            partial, argv = True, argv[1:]
        else:
            summary, argv = argv[1], argv[2:]
    if argv[:1] == ["--same"]:
        a, b = load(argv[1]), load(argv[2])
        for field in argv[3:]:
            if get(a, field) in (None, "unknown", MISSING):
                continue  # the replayed result never determined it: nothing to reproduce
            if get(a, field) != get(b, field):
                bad.append(f"{field}: {show(get(a, field))} in the replayed result, "
                           f"{show(get(b, field))} measured through the replay")
        if summary:
            with open(summary, "w", encoding="utf-8") as f:
                f.write(f"{short(lambda k: get(a, k))}\t{short(lambda k: get(b, k))}\t{len(argv) - 3}\t0\n")
    else:
        doc = load(argv[0])
        wanted, new = {}, set()
        unmeasured = 0
        pending = []
        args = argv[1:]
        while args:
            is_new = args[0] == "--new"
            if is_new:
                args = args[1:]
                if not args:
                    print("--new needs FIELD=VALUE")
                    return 2
            exp, args = args[0], args[1:]
            field, sep, want = exp.partition("=")
            if not sep or not field:
                print(f"bad expectation '{exp}' (FIELD=VALUE)")
                return 2
            wanted[field] = parse(want)  # a later one (an override) replaces an earlier one
            if is_new:
                new.add(field)
            else:
                new.discard(field)
        for field, want in wanted.items():
            got = get(doc, field)
            if partial and got == MISSING:
                unmeasured += 1
            elif field in new and got == MISSING:
                pending.append(f"PENDING {field}: expected {show(want)}; natcheck does not "
                               f"report this field yet (issue 13)")
            elif not matches(want, got, partial):
                bad.append(f"{field}: expected {show(want)}, measured {show(got)}")
        if summary:
            with open(summary, "w", encoding="utf-8") as f:
                f.write(f"{short(lambda k: wanted.get(k, MISSING))}\t{short(lambda k: get(doc, k))}\t"
                        f"{len(wanted) - unmeasured}\t{unmeasured}\n")
        for line in pending:
            print(line)
    for line in bad:
        print(line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
