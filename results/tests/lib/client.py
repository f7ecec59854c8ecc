#!/usr/bin/env python3
"""HTTP clients for the collector's integration tests: single posts, concurrent bursts that
record every acknowledged id, floods from one source address, and a slow client.

  client.py post URL FILE [--key K] [--source IP] [--chunked]   prints "STATUS BODY"
  client.py burst URL FILE --n N --conc C --out FILE --prefix P [--key-set]
  client.py flood URL FILE --n N --source IP                     prints "status:count ..."
  client.py slow URL --source IP                                 prints seconds until cut off
  client.py ids URL                                              prints "sub_id id" per row
"""
import argparse
import http.client
import json
import socket
import sys
import threading
import time
import urllib.parse


def target(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80, u.path or "/"


def conn(url, source=None, timeout=10):
    host, port, _ = target(url)
    return http.client.HTTPConnection(host, port, timeout=timeout,
                                      source_address=(source, 0) if source else None)


def post(c, path, body, key=None, chunked=False):
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Idempotency-Key"] = key
    if chunked:
        c.request("POST", path, body=iter([body]), headers=headers, encode_chunked=True)
    else:
        c.request("POST", path, body=body, headers=headers)
    r = c.getresponse()
    return r.status, r.read().decode(errors="replace"), r.getheader("Retry-After")


def cmd_post(a):
    body = open(a.file, "rb").read()
    c = conn(a.url, a.source)
    try:
        st, text, _ = post(c, target(a.url)[2], body, a.key, a.chunked)
        print(st, text.strip())
    except (ConnectionError, http.client.HTTPException, socket.timeout) as e:
        print("closed", type(e).__name__)


def cmd_burst(a):
    body = open(a.file, "rb").read()
    path = target(a.url)[2]
    lock = threading.Lock()
    out = open(a.out, "a", buffering=1)
    todo = list(range(a.n))
    stats = {"acked": 0, "failed": 0}

    def worker():
        c = None
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop()
            key = "%s%06d" % (a.prefix, i)
            try:
                if c is None:
                    c = conn(a.url)
                st, text, _ = post(c, path, body, key)
                if st in (200, 201):
                    with lock:
                        # Written (line-buffered) the moment the answer is read: what the
                        # file holds was acknowledged.
                        out.write("%s %d\n" % (key, json.loads(text)["id"]))
                        stats["acked"] += 1
                else:
                    with lock:
                        stats["failed"] += 1
            except (OSError, http.client.HTTPException):
                c = None
                with lock:
                    stats["failed"] += 1
                if a.stop_on_error:
                    time.sleep(0.01)

    ts = [threading.Thread(target=worker) for _ in range(a.conc)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("acked %d failed %d" % (stats["acked"], stats["failed"]))


def cmd_flood(a):
    body = open(a.file, "rb").read()
    path = target(a.url)[2]
    counts = {}
    retry_after = set()
    c = conn(a.url, a.source)
    for i in range(a.n):
        try:
            st, _, ra = post(c, path, body, "flood%s%06d" % (a.source.replace(".", ""), i))
        except (OSError, http.client.HTTPException):
            st, ra = "closed", None
            c = conn(a.url, a.source)
        counts[st] = counts.get(st, 0) + 1
        if ra:
            retry_after.add(ra)
    print(" ".join("%s:%d" % kv for kv in sorted(counts.items(), key=str)),
          "retry-after:" + ",".join(sorted(retry_after)))


def cmd_slow(a):
    """Sends headers and a little body, then goes silent (or, with --trickle, sends one more
    byte every half second); prints the seconds until the collector closed the connection."""
    host, port, path = target(a.url)
    s = socket.create_connection((host, port), source_address=(a.source, 0))
    s.sendall(("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               "Content-Length: 1000\r\n\r\n{\"schema\":" % path).encode())
    start = time.monotonic()
    s.settimeout(0.5 if a.trickle else 30)
    while time.monotonic() - start < 30:
        try:
            if not s.recv(4096):
                break
        except socket.timeout:
            try:
                s.sendall(b" ")
            except OSError:
                break
        except OSError:
            break
    print("%.1f" % (time.monotonic() - start))


def cmd_ids(a):
    host, port, path = target(a.url)
    since = 0
    while True:
        c = conn(a.url)
        c.request("GET", "%s?since=%d&limit=10000" % (path, since))
        r = c.getresponse()
        lines = r.read().decode().splitlines()
        if r.status != 200:
            sys.exit("export answered %d" % r.status)
        for line in lines:
            row = json.loads(line)
            print(row["submission_id"], row["id"], row.get("vendor") or "-")
            since = row["id"]
        if len(lines) < 10000:
            break


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    x = sub.add_parser("post"); x.add_argument("url"); x.add_argument("file")
    x.add_argument("--key"); x.add_argument("--source"); x.add_argument("--chunked", action="store_true")
    x = sub.add_parser("burst"); x.add_argument("url"); x.add_argument("file")
    x.add_argument("--n", type=int, required=True); x.add_argument("--conc", type=int, default=20)
    x.add_argument("--out", required=True); x.add_argument("--prefix", required=True)
    x.add_argument("--stop-on-error", action="store_true")
    x = sub.add_parser("flood"); x.add_argument("url"); x.add_argument("file")
    x.add_argument("--n", type=int, required=True); x.add_argument("--source", required=True)
    x = sub.add_parser("slow"); x.add_argument("url"); x.add_argument("--source", required=True)
    x.add_argument("--trickle", action="store_true")
    x = sub.add_parser("ids"); x.add_argument("url")
    a = p.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
