#!/usr/bin/env python3
"""Turn the Vovida STUN client's verdict into a partial natcheck-result document.

  vovida.py STUN-OUTPUT.txt >RESULT.json

Debian's `stun` (stun-client 0.97, RFC 3489) prints one verdict line such as

  Primary: Independent Mapping, Port Dependent Filter, preserves ports, will hairpin

The lab uses it as a second opinion (sim/run.sh --measure vovida). It determines only some of
natcheck's fields; the others are left out of the document, and sim/lib/expect.py --partial
reports them as "not measured" instead of comparing them. RFC 3489 cannot tell
address-dependent from address-and-port-dependent mapping: "Dependent Mapping" becomes
udp.mapping = "dependent", which expect.py accepts for either.
"""
import json
import re
import sys

# RFC 3489 verdict -> (reachable, nat, mapping, filtering); None = not determined.
VERDICTS = [
    ("Independent Mapping, Independent Filter", (True, True, "endpoint-independent", "endpoint-independent")),
    ("Independent Mapping, Address Dependent Filter", (True, True, "endpoint-independent", "address-dependent")),
    ("Independent Mapping, Port Dependent Filter", (True, True, "endpoint-independent", "address-and-port-dependent")),
    ("Dependent Mapping", (True, True, "dependent", None)),
    ("Open", (True, False, "none", "none")),
    ("Firewall", (True, False, "none", None)),
    ("Blocked or could not reach STUN server", (False, None, None, None)),
]


def convert(text):
    m = re.search(r"^Primary: (.*)$", text, re.M)
    udp = {}
    doc = {"schema": "natcheck-result", "version": 1,
           "tool": {"name": "stun (Vovida, RFC 3489)", "version": "0.97"},
           "partial": True, "udp": udp, "vovida": m.group(1).strip() if m else None}
    if not m:
        return doc  # nothing recognised: every expectation reads "not measured"
    verdict = m.group(1).strip()
    for prefix, (reachable, nat, mapping, filtering) in VERDICTS:
        if verdict.startswith(prefix):
            udp["reachable"] = reachable
            for key, value in (("nat", nat), ("mapping", mapping), ("filtering", filtering)):
                if value is not None:
                    udp[key] = value
            break
    if not udp.get("reachable", False):
        return doc
    # The port and hairpin findings are only meaningful when the server answered.
    if "preserves ports" in verdict:
        udp["port_preservation"] = True
    elif "random port" in verdict:
        udp["port_preservation"] = False
    if "will hairpin" in verdict:
        udp["hairpin"] = True
    elif "no hairpin" in verdict:
        udp["hairpin"] = False
    return doc


def main(argv):
    if len(argv) != 1:
        print("usage: vovida.py STUN-OUTPUT.txt", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8", errors="replace") as f:
        doc = convert(f.read())
    json.dump(doc, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
