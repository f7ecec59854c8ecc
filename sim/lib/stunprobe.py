#!/usr/bin/env python3
"""A small STUN Binding client, independent of natcheck's code, for checking the ground truth
of lab profiles (sim/profiles/*.profile hooks). Python standard library only.

  stunprobe.py [--timeout S] [--tries N] [--interval S] [--fresh] [--for S] DEST...
        DEST is IP:PORT. Sends an RFC 8489 Binding request (with FINGERPRINT) to each DEST in
        turn, from one socket, or from a new socket per DEST with --fresh; each request is
        retransmitted every --interval seconds (default 0.1) up to --tries times (default 5)
        until an answer arrives. With --for S the whole round is repeated for S seconds
        (watching a binding over time). Prints one JSON object per request:
          {"t_ms": ms since start when the answer came (null: none), "sent": transmissions,
           "local": "ip:port", "dest": ..., "from": where the answer came from,
           "mapped": MAPPED-ADDRESS, "xor_mapped": XOR-MAPPED-ADDRESS,
           "fingerprint_ok": true/false/null (no FINGERPRINT)}
Exit status 0 (the caller judges the output), 2 on usage errors.
"""
import json
import os
import socket
import struct
import sys
import time
import zlib

COOKIE = 0x2112A442


def request(tid):
    body = b""
    head = struct.pack("!HHI", 0x0001, len(body) + 8, COOKIE) + tid
    crc = zlib.crc32(head + body) ^ 0x5354554E
    return head + body + struct.pack("!HHI", 0x8028, 4, crc)


def addr(value, xor):
    if len(value) < 8 or value[1] != 1:
        return None
    port = struct.unpack("!H", value[2:4])[0]
    ip = value[4:8]
    if xor:
        port ^= COOKIE >> 16
        ip = bytes(a ^ b for a, b in zip(ip, struct.pack("!I", COOKIE)))
    return f"{socket.inet_ntoa(ip)}:{port}"


def parse(data, tid):
    """(mapped, xor_mapped, fingerprint_ok) of a Binding success answering tid, else None."""
    if len(data) < 20:
        return None
    mtype, mlen, cookie = struct.unpack("!HHI", data[:8])
    if mtype != 0x0101 or cookie != COOKIE or data[8:20] != tid or 20 + mlen > len(data):
        return None
    mapped = xmapped = fp = None
    off = 20
    while off + 4 <= 20 + mlen:
        at, alen = struct.unpack("!HH", data[off:off + 4])
        value = data[off + 4:off + 4 + alen]
        if at == 0x0001:
            mapped = addr(value, False)
        elif at == 0x0020:
            xmapped = addr(value, True)
        elif at == 0x8028 and alen == 4:
            fp = struct.unpack("!I", value)[0] == (zlib.crc32(data[:off]) ^ 0x5354554E)
        off += 4 + alen + (-alen % 4)
    return mapped, xmapped, fp


def probe(sock, dest, tries, interval, t0):
    tid = os.urandom(12)
    host, port = dest.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as r:
        r.connect((host, int(port)))  # the source address the kernel picks for dest
        local = "%s:%d" % (r.getsockname()[0], sock.getsockname()[1])
    out = {"t_ms": None, "sent": 0, "local": local, "dest": dest,
           "from": None, "mapped": None, "xor_mapped": None, "fingerprint_ok": None}
    for _ in range(tries):
        sock.sendto(request(tid), (host, int(port)))
        out["sent"] += 1
        deadline = time.monotonic() + interval
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            sock.settimeout(left)
            try:
                data, src = sock.recvfrom(2048)
            except socket.timeout:
                break
            got = parse(data, tid)
            if got is None:
                continue
            out["t_ms"] = round((time.monotonic() - t0) * 1000)
            out["from"] = "%s:%d" % src
            out["mapped"], out["xor_mapped"], out["fingerprint_ok"] = got
            return out
    return out


def main(argv):
    tries, interval, fresh, duration, dests = 5, 0.1, False, 0.0, []
    try:
        while argv:
            a = argv.pop(0)
            if a == "--tries":
                tries = int(argv.pop(0))
            elif a == "--interval":
                interval = float(argv.pop(0))
            elif a == "--fresh":
                fresh = True
            elif a == "--for":
                duration = float(argv.pop(0))
            elif a.startswith("-"):
                raise ValueError(a)
            else:
                dests.append(a)
    except (IndexError, ValueError) as e:
        print(f"stunprobe.py: bad arguments ({e}); see the docstring", file=sys.stderr)
        return 2
    if not dests or tries < 1 or interval <= 0:
        print("stunprobe.py: need DEST... and positive --tries / --interval", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    sock = None
    while True:
        for d in dests:
            if fresh or sock is None:
                if sock:
                    sock.close()
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sock.bind(("0.0.0.0", 0))
            print(json.dumps(probe(sock, d, tries, interval, t0)), flush=True)
        if time.monotonic() - t0 >= duration:
            return 0
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
