#!/usr/bin/env python3
"""A hostile STUN-over-TCP server for natcheck's tests (issue 13 item 2).

    hostile_tcp.py MODE PORTFILE

Listens on 127.0.0.1 (a free port, written to PORTFILE), reads whatever the client sends and
answers every connection with Binding success responses whose transaction ids match nothing:
  flood    back to back, as fast as the socket takes them (the loop that never saw EAGAIN)
  trickle  one every 5 ms, for ever (a loop that waits between messages)
Each response is well-formed (XOR-MAPPED-ADDRESS 192.0.2.1:1), so only its id is wrong.
Runs until killed; prints one line per connection with the bytes it sent to stderr."""
import os
import socket
import struct
import sys
import tempfile
import threading
import time

MAGIC = 0x2112A442


def response():
    tid = os.urandom(12)
    port = 1 ^ (MAGIC >> 16)
    ip = struct.unpack("!I", socket.inet_aton("192.0.2.1"))[0] ^ MAGIC
    attr = struct.pack("!HHBBHI", 0x0020, 8, 0, 1, port, ip)
    return struct.pack("!HHI", 0x0101, len(attr), MAGIC) + tid + attr


# sendfile(2) from a file of responses: the kernel refills the socket faster than any reader
# takes 32-byte messages two reads at a time, so the client's socket never runs dry.
FLOOD = b"".join(response() for _ in range(16384)) * 8


FLOOD_FILE = None


def flood_file(conn):
    """Sends FLOOD_FILE round and round (sendfile(2) does not move the shared file offset)."""
    size, sent = os.fstat(FLOOD_FILE.fileno()).st_size, 0
    try:
        while True:
            off = 0
            while off < size:
                n = os.sendfile(conn.fileno(), FLOOD_FILE.fileno(), off, size - off)
                if n == 0:
                    return sent
                off += n
                sent += n
    except OSError:
        return sent


def serve(conn, mode):
    sent = 0
    try:
        if mode == "flood":
            conn.setblocking(True)
            sent = flood_file(conn)
            return
        conn.settimeout(0.001)
        while True:
            try:
                conn.recv(4096)
            except (socket.timeout, BlockingIOError):
                pass
            conn.sendall(response())
            sent += 32
            time.sleep(0.005)
    except OSError:
        pass
    finally:
        print(f"hostile_tcp: {mode}: {sent} bytes sent on one connection", file=sys.stderr, flush=True)
        conn.close()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("flood", "trickle"):
        print(__doc__, file=sys.stderr)
        return 2
    global FLOOD_FILE
    FLOOD_FILE = tempfile.TemporaryFile()
    FLOOD_FILE.write(FLOOD)
    FLOOD_FILE.flush()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(str(srv.getsockname()[1]))
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, sys.argv[1]), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
