#!/usr/bin/env python3
"""A small stand-in for postfix-mx-smart-router, for developing the e2e harness.

It speaks the same command line subset the e2e scripts use
(-c CONFIG -p PORT -H HOST --dns-server ADDR:PORT --cache-ttl SEC -v) and follows
the README's routing rules with a strict weighted round robin (earliest deadline), so
the scripts can be checked against Postfix before the real binary exists, and so a
failing e2e run can be told apart: harness bug (fails with the stand-in too) or router
bug (passes with the stand-in). Only the YAML subset that the e2e configs use is read.

Not a product: no config validation, no socketmap. --repeat-window SEC: a key
answered less than SEC ago gets the same relay again without a new pick, once (the
router's consume-once semantics); the routing log marks it "TARGET (repeat)". With -v every
request and reply goes to standard error; SIGTERM prints the picks per relay.
"""
import argparse
import random
import signal
import socket
import struct
import sys
import threading
import time


def parse_yaml(text):
    """Block mappings, `key: value`, `key: [a, b]`; order kept (dicts are ordered)."""
    root = {}
    stack = [(-1, root)]
    for raw in text.splitlines():
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        key, _, value = line.strip().partition(":")
        key, value = key.strip().strip("'\""), value.strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if value == "":
            parent[key] = {}
            stack.append((indent, parent[key]))
        elif value.startswith("["):
            parent[key] = [v.strip().strip("'\"") for v in value.strip("[]").split(",") if v.strip()]
        else:
            parent[key] = value.strip("'\"")
    return root


class Router:
    def __init__(self, cfg, dns, ttl, verbose, window=0):
        servers = cfg["servers"]
        self.names = servers["names"]
        self.groups = {"*all*": list(self.names)}
        for k, v in servers.items():
            if k != "names":
                self.groups[k] = list(v)
        self.rules = []
        self.default = None
        for k, v in (cfg.get("sender_rules") or {}).items():
            if k == "default":
                self.default = v
            else:
                self.rules.append((k.lower(), v))
        self.picks = {g: {s: 0 for s in members} for g, members in self.groups.items()}
        self.sent = {s: 0 for s in self.names}
        self.dns = dns
        self.ttl = ttl
        self.cache = {}
        self.lock = threading.Lock()
        self.verbose = verbose
        self.window = window
        self.recent = {}
        log_file = (cfg.get("config") or {}).get("log_file")
        self.log = open(log_file, "a", buffering=1) if log_file else None

    def weight(self, s):
        return int(self.names[s].get("perc", 100))

    def pick(self, group):
        with self.lock:
            counts = self.picks[group]
            live = [s for s in self.groups[group] if self.weight(s) > 0]
            best = min(live, key=lambda s: ((counts[s] + 1) / self.weight(s), self.groups[group].index(s)))
            counts[best] += 1
            self.sent[best] += 1
            return self.names[best]["address"]

    def mx(self, domain):
        now = time.time()
        hit = self.cache.get(domain)
        if hit and hit[0] > now:
            return hit[1]
        hosts = mx_query(self.dns, domain)
        if self.ttl > 0:
            self.cache[domain] = (now + self.ttl, hosts)
        return hosts

    def target(self, key, hosts):
        for host in (hosts or [None]):
            for pattern, target in self.rules:
                if pattern == key or pattern in key or (host is not None and pattern in host):
                    return target
        return self.default if self.default is not None else "*all*"

    def answer(self, key):
        if key == "*":
            return "500 NO%20RESULT"
        domain = key.rsplit("@", 1)[-1]
        try:
            hosts = [] if domain.startswith("[") or domain == "" else self.mx(domain)
        except OSError as e:
            return "400 " + encode("DNS failure for " + domain + ": " + str(e))
        target = self.target(key, hosts)
        if target == "NO RESULT":
            return "500 NO%20RESULT"
        if target in self.names:
            with self.lock:
                self.sent[target] += 1
            return "200 " + encode(self.names[target]["address"])
        if self.window > 0:
            now = time.time()
            with self.lock:
                hit = self.recent.pop(key, None)  # consume-once, as the router does
                if hit and now - hit[0] < self.window:
                    return "200 " + encode(hit[1]) + REPEAT
            relay = self.pick(target)
            with self.lock:
                self.recent[key] = (now, relay)
            return "200 " + encode(relay)
        return "200 " + encode(self.pick(target))


# answer() marks a reply the repeat window gave again; serve() moves the mark to the
# routing log's target, as the router writes it
REPEAT = " (repeat)"


def mx_query(server, domain):
    """One MX query over UDP; [] for NXDOMAIN or no MX; OSError for anything else."""
    host, port = server
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in domain.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", 15, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.connect((host, port))
        s.send(q)
        data = s.recv(4096)
    rid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", data[:12])
    rcode = flags & 15
    if rid != qid:
        raise OSError("bad reply id")
    if rcode == 3:
        return []
    if rcode != 0:
        raise OSError("rcode " + str(rcode))

    def name(off):
        labels, jumped, end = [], False, None
        while True:
            n = data[off]
            if n & 0xC0 == 0xC0:
                if not jumped:
                    end = off + 2
                off, jumped = ((n & 0x3F) << 8) | data[off + 1], True
                continue
            if n == 0:
                return ".".join(labels), (end if jumped else off + 1)
            labels.append(data[off + 1:off + 1 + n].decode().lower())
            off += 1 + n

    off = 12
    for _ in range(qd):
        _, off = name(off)
        off += 4
    hosts = []
    for _ in range(an):
        _, off = name(off)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        if rtype == 15:
            pref = struct.unpack(">H", data[off:off + 2])[0]
            hosts.append((pref, name(off + 2)[0]))
        off += rdlen
    return [h for _, h in sorted(hosts)]


def encode(text):
    out = []
    for b in text.encode():
        out.append("%%%02X" % b if b <= 32 or b >= 127 or b == 37 else chr(b))
    return "".join(out)


def decode(text):
    b, i, out = text.encode("latin-1", "replace"), 0, bytearray()
    while i < len(b):
        if b[i] == 37 and i + 2 < len(b) and all(c in b"0123456789abcdefABCDEF" for c in b[i + 1:i + 3]):
            out.append(int(b[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(b[i])
            i += 1
    return out.decode("utf-8", "replace")


def serve(conn, router):
    buf = b""
    with conn:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                line = line.rstrip(b"\r").decode("latin-1")
                target = "-"
                if line.startswith("get "):
                    reply = router.answer(decode(line[4:]).lower())
                    if reply.endswith(REPEAT):
                        reply, target = reply[: -len(REPEAT)], "-" + REPEAT
                else:
                    reply = "400 bad%20request"
                if router.log and line.startswith("get "):
                    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
                    router.log.write(stamp + " INFO     " + decode(line[4:]).lower() + "\t" + target + "\t" + reply + "\n")
                if router.verbose:
                    print("standin: " + line + " -> " + reply, file=sys.stderr, flush=True)
                conn.sendall(reply.encode() + b"\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-c", "--config", required=True)
    ap.add_argument("-p", "--port", type=int, default=10099)
    ap.add_argument("-H", "--host", default="127.0.0.1")
    ap.add_argument("--dns-server", required=True)
    ap.add_argument("--cache-ttl", type=int, default=3600)
    ap.add_argument("--repeat-window", type=int, default=0)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    dhost, _, dport = a.dns_server.partition(":")
    with open(a.config) as f:
        router = Router(parse_yaml(f.read()), (dhost, int(dport or 53)), a.cache_ttl, a.verbose, a.repeat_window)
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.host, a.port))
    srv.listen(64)

    def stop(*_):
        for s, n in router.sent.items():
            print("%-10s %6d" % (s, n), flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, router), daemon=True).start()


if __name__ == "__main__":
    main()
