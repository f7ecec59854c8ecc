#!/usr/bin/env python3
"""A hostile (or unlucky) RFC 5780 STUN server for natcheck's failure tests.

  hostile_stun.py --mode MODE [--a1 127.0.0.1] [--a2 127.0.0.2] [--p1 3478] [--p2 3479]
                  [--ready FILE] [--log FILE]

It listens on A1:P1, A1:P2, A2:P1 and A2:P2 and answers Binding requests as an honest
RFC 5780 server would (XOR-MAPPED-ADDRESS, MAPPED-ADDRESS, OTHER-ADDRESS = A2:P2,
RESPONSE-ORIGIN, CHANGE-REQUEST honoured, FINGERPRINT), except for what MODE changes:

  honest            nothing
  errors            every request gets a STUN error response (400 and 500 in turn)
  wrong-source      every answer leaves from A1:P2 (another port than asked), CHANGE-REQUEST
                    or not
  bad-other-family  OTHER-ADDRESS with address family 0x03 (malformed)
  bogus-other=EP    OTHER-ADDRESS = EP (e.g. 0.0.0.0:3479, 224.0.0.1:3479, 10.9.9.9:3479)
  v6-mapped         XOR-MAPPED-ADDRESS and MAPPED-ADDRESS are IPv6 (2001:db8::1) for IPv4
  alg               a naive ALG: MAPPED-ADDRESS rewritten to 192.168.77.7 after FINGERPRINT
                    was computed (stale), XOR-MAPPED-ADDRESS intact
  blackout=S        drops everything for S seconds after the first request arrives
  overload=N        the mapped port comes from a pool of N ports (40000 + src port % N),
                    as a NAT that overloads its ports would show it
  port-firewall     only port P1 is reachable: requests to P2 are dropped, answers that
                    would leave from P2 (CHANGE-REQUEST port) are dropped

Every received request is logged as "recv SRC -> DST" in --log; --ready FILE is written
once the sockets are bound. Stops on SIGTERM.
"""
import argparse
import ipaddress
import os
import select
import signal
import socket
import struct
import sys
import time
import zlib

COOKIE = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
BINDING_ERROR = 0x0111
MAPPED, CHANGE_REQUEST, ERROR_CODE, XOR_MAPPED = 0x0001, 0x0003, 0x0009, 0x0020
SOFTWARE, FINGERPRINT, RESPONSE_ORIGIN, OTHER_ADDRESS = 0x8022, 0x8028, 0x802B, 0x802C


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def addr_value(ip, port, family=None):
    a = ipaddress.ip_address(ip)
    fam = family if family is not None else (1 if a.version == 4 else 2)
    return struct.pack("!BBH", 0, fam, port) + a.packed


def xor_addr_value(ip, port, tid):
    a = ipaddress.ip_address(ip)
    key = struct.pack("!I", COOKIE) + tid
    packed = bytes(b ^ k for b, k in zip(a.packed, key))
    return struct.pack("!BBH", 0, 1 if a.version == 4 else 2, port ^ (COOKIE >> 16)) + packed


def message(mtype, tid, attrs, fingerprint=True):
    body = b"".join(attrs)
    if fingerprint:
        head = struct.pack("!HHI", mtype, len(body) + 8, COOKIE) + tid
        crc = zlib.crc32(head + body) ^ 0x5354554E
        body += attr(FINGERPRINT, struct.pack("!I", crc & 0xFFFFFFFF))
    return struct.pack("!HHI", mtype, len(body), COOKIE) + tid + body


def parse_request(data):
    """(tid, change_flags) of a Binding request with the magic cookie, else None."""
    if len(data) < 20:
        return None
    mtype, mlen, cookie = struct.unpack("!HHI", data[:8])
    if mtype != BINDING_REQUEST or cookie != COOKIE or 20 + mlen != len(data):
        return None
    tid, off, change = data[8:20], 20, 0
    while off + 4 <= len(data):
        t, n = struct.unpack("!HH", data[off:off + 4])
        if t == CHANGE_REQUEST and n == 4:
            change = struct.unpack("!I", data[off + 4:off + 8])[0]
        off += 4 + n + (4 - n % 4) % 4
    return tid, change


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", default="honest")
    ap.add_argument("--a1", default="127.0.0.1")
    ap.add_argument("--a2", default="127.0.0.2")
    ap.add_argument("--p1", type=int, default=3478)
    ap.add_argument("--p2", type=int, default=3479)
    ap.add_argument("--ready")
    ap.add_argument("--log")
    o = ap.parse_args()
    mode, _, arg = o.mode.partition("=")

    socks = {}
    for ip in (o.a1, o.a2):
        for port in (o.p1, o.p2):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((ip, port))
            socks[(ip, port)] = s
    log = open(o.log, "a", buffering=1) if o.log else None
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if o.ready:
        with open(o.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    first = None
    turn = 0
    other = (o.a2, o.p2)

    while True:
        ready, _, _ = select.select(list(socks.values()), [], [])
        for s in ready:
            data, src = s.recvfrom(2048)
            dst = s.getsockname()
            if log:
                log.write("recv %s:%d -> %s:%d\n" % (src[0], src[1], dst[0], dst[1]))
            req = parse_request(data)
            if req is None:
                continue
            tid, change = req
            now = time.monotonic()
            if first is None:
                first = now
            if mode == "blackout" and now - first < float(arg):
                continue
            if mode == "port-firewall" and dst[1] == o.p2:
                continue
            turn += 1
            # RFC 5780 §6: the answer leaves from the address/port the request asks for.
            rip = (o.a2 if dst[0] == o.a1 else o.a1) if change & 0x4 else dst[0]
            rport = (o.p2 if dst[1] == o.p1 else o.p1) if change & 0x2 else dst[1]
            if mode == "wrong-source":
                rip, rport = o.a1, o.p2
            if mode == "port-firewall" and rport == o.p2:
                continue
            out = socks[(rip, rport)]
            if mode == "errors":
                code = 400 if turn % 2 else 500
                reason = b"Bad Request" if code == 400 else b"Server Error"
                val = struct.pack("!HBB", 0, code // 100, code % 100) + reason
                out.sendto(message(BINDING_ERROR, tid, [attr(ERROR_CODE, val)]), src)
                continue
            mip, mport = src
            if mode == "overload":
                mport = 40000 + src[1] % int(arg)
            if mode == "v6-mapped":
                mip = "2001:db8::1"
            oth = addr_value(*other)
            if mode == "bad-other-family":
                oth = addr_value(other[0], other[1], family=3)
            elif mode == "bogus-other":
                bip, _, bport = arg.rpartition(":")
                oth = addr_value(bip, int(bport))
            attrs = [attr(XOR_MAPPED, xor_addr_value(mip, mport, tid)),
                     attr(MAPPED, addr_value(mip, mport)),
                     attr(RESPONSE_ORIGIN, addr_value(rip, rport)),
                     attr(OTHER_ADDRESS, oth),
                     attr(SOFTWARE, b"hostile_stun " + mode.encode())]
            msg = message(BINDING_SUCCESS, tid, attrs)
            if mode == "alg":
                # Rewrite MAPPED-ADDRESS in place, as a naive ALG does; FINGERPRINT stays.
                good = attr(MAPPED, addr_value(mip, mport))
                bad = attr(MAPPED, addr_value("192.168.77.7", mport))
                msg = msg.replace(good, bad, 1)
            out.sendto(msg, src)


if __name__ == "__main__":
    main()
