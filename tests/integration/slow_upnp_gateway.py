#!/usr/bin/env python3
"""A UPnP-IGD gateway that answers SSDP at once and then drips HTTP (issue 13, item 1).

Usage: slow_upnp_gateway.py LAN_IP [--drip-after N] [--drip-s S] [--http-port P]

SSDP M-SEARCH on UDP 1900 is answered at once with LOCATION http://LAN_IP:P/rootDesc.xml.
The first N GETs of the description (default 1: the port-mapping probe's) and every SOAP
POST (GetStatusInfo, GetExternalIPAddress -> 2.1.1.1) are answered at once; every later GET
(the real test's own discovery) gets its reply one byte every S seconds (default 2), which
miniupnpc waits for 5 s per byte. Runs until killed. Prints one line per request to stdout.
"""
import argparse
import socket
import sys
import threading
import time

DESC = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">
<specVersion><major>1</major><minor>0</minor></specVersion>
<device>
<deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>slow gateway</friendlyName>
<UDN>uuid:00000000-0000-0000-0000-000000000001</UDN>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<serviceList><service>
<serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId>
<controlURL>/ctl/CmnIfCfg</controlURL><eventSubURL>/evt/CmnIfCfg</eventSubURL>
<SCPDURL>/WANCfg.xml</SCPDURL>
</service></serviceList>
<deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service>
<serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
<controlURL>/ctl/IPConn</controlURL><eventSubURL>/evt/IPConn</eventSubURL>
<SCPDURL>/WANIPCn.xml</SCPDURL>
</service></serviceList>
</device></deviceList>
</device></deviceList>
</device>
</root>
"""

SOAP = """<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" \
s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>\
<u:{action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">{body}\
</u:{action}Response></s:Body></s:Envelope>"""

BODIES = {
    "GetStatusInfo": "<NewConnectionStatus>Connected</NewConnectionStatus>"
                     "<NewLastConnectionError>ERROR_NONE</NewLastConnectionError>"
                     "<NewUptime>1000</NewUptime>",
    "GetExternalIPAddress": "<NewExternalIPAddress>2.1.1.1</NewExternalIPAddress>",
}


def log(*a):
    print(*a, flush=True)


def ssdp(lan_ip, http_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 1900))
    while True:
        data, peer = s.recvfrom(2048)
        if not data.startswith(b"M-SEARCH"):
            continue
        log("ssdp", peer[0])
        s.sendto(("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                  "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                  "USN: uuid:00000000-0000-0000-0000-000000000001::"
                  "urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                  "EXT:\r\nSERVER: slow/1.0 UPnP/1.1\r\n"
                  "LOCATION: http://%s:%d/rootDesc.xml\r\n\r\n" % (lan_ip, http_port)).encode(),
                 peer)


def read_request(c):
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = c.recv(4096)
        if not d:
            return None, b""
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(rest) < length:
        d = c.recv(4096)
        if not d:
            break
        rest += d
    return head.decode(errors="replace"), rest


def serve(c, state, args):
    try:
        head, body = read_request(c)
        if head is None:
            return
        first = head.split("\r\n")[0]
        if first.startswith("POST"):
            action = ""
            for line in head.split("\r\n"):
                if line.lower().startswith("soapaction:"):
                    action = line.split("#")[-1].strip().strip('"')
            log("soap", action)
            payload = SOAP.format(action=action, body=BODIES.get(action, ""))
            drip = False
        else:
            with state["lock"]:
                state["gets"] += 1
                n = state["gets"]
            drip = n > args.drip_after
            log("get", n, "drip" if drip else "fast")
            payload = DESC
        reply = ("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nConnection: close\r\n"
                 "Content-Length: %d\r\n\r\n%s" % (len(payload), payload)).encode()
        if not drip:
            c.sendall(reply)
            return
        for i in range(len(reply)):
            c.sendall(reply[i:i + 1])
            time.sleep(args.drip_s)
    except OSError:
        pass
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("lan_ip")
    ap.add_argument("--drip-after", type=int, default=1)
    ap.add_argument("--drip-s", type=float, default=2.0)
    ap.add_argument("--http-port", type=int, default=5000)
    args = ap.parse_args()
    threading.Thread(target=ssdp, args=(args.lan_ip, args.http_port), daemon=True).start()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((args.lan_ip, args.http_port))
    srv.listen(16)
    log("ready")
    state = {"gets": 0, "lock": threading.Lock()}
    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c, state, args), daemon=True).start()


if __name__ == "__main__":
    sys.exit(main())
