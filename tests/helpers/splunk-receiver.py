#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A strict Splunk HTTP Event Collector for the splunk log driver's tests (standard library only).

It answers what docker's splunk driver sends, and refuses everything else with the status and JSON
answer HEC gives ({"text": ..., "code": N}), recording each refusal:

  OPTIONS /services/collector/event/1.0   docker's connection check (no Authorization): 200
  POST    /services/collector/event/1.0   Authorization: Splunk <token>; Content-Length (no chunked
          request bodies); Content-Encoding absent or gzip (a whole, valid gzip stream);
          Content-Type absent or application/json; the body: one or more JSON objects one after
          the other (whitespace between allowed, as HEC allows), each with exactly docker's keys:
            event       an inline/json event {"line": any, "source": "stdout"|"stderr",
                        "tag"?: str, "attrs"?: {str: str}} or a raw string (not blank)
            time        a string "<seconds>.<6 digits>" (docker's %f)
            host        a string
            source, sourcetype, index   optional non-empty strings
          Strict JSON: valid UTF-8, no NaN/Infinity, no duplicate keys.

Accepted events are appended, one JSON object per line, to --out (a whole request at once); each
refusal is a line in --errors; each request a line in --requests ("<connection#> <method> <path>
<status> <encoding> <events>").  --status-file: while that file exists, POSTs get the status it
holds (a dead collector).  --tls-cert/--tls-key serve HTTPS.  --idle-timeout closes idle connections.
The listening port is written to --port-file once the socket is bound.
"""
import argparse
import gzip
import json
import os
import re
import socket
import ssl
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATH = "/services/collector/event/1.0"
TIME_RE = re.compile(r"^[0-9]+\.[0-9]{6}$")
BODY_MAX = 64 << 20

lock = threading.Lock()
conn_counter = [0]


class Refused(Exception):
    def __init__(self, status, code, text, detail, extra=None):
        super().__init__(detail)
        self.status, self.code, self.text, self.detail, self.extra = status, code, text, detail, extra or {}


def no_dups(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise ValueError("duplicate key %r" % k)
        d[k] = v
    return d


def no_constants(name):
    raise ValueError("%s is not JSON" % name)


DECODER = json.JSONDecoder(object_pairs_hook=no_dups, parse_constant=no_constants)


def check_event(ev, n):
    def bad(msg):
        raise Refused(400, 6, "Invalid data format", "event %d: %s" % (n, msg), {"invalid-event-number": n})

    if not isinstance(ev, dict):
        bad("not a JSON object")
    allowed = {"event", "time", "host", "source", "sourcetype", "index"}
    extra = set(ev) - allowed
    if extra:
        bad("unexpected keys %s" % sorted(extra))
    for k in ("event", "time", "host"):
        if k not in ev:
            bad("no %r" % k)
    if not isinstance(ev["time"], str) or not TIME_RE.match(ev["time"]):
        bad("time %r is not docker's '<sec>.<6 digits>' string" % (ev["time"],))
    if not isinstance(ev["host"], str) or not ev["host"]:
        bad("host %r is not a non-empty string" % (ev["host"],))
    for k in ("source", "sourcetype", "index"):
        if k in ev and (not isinstance(ev[k], str) or not ev[k]):
            bad("%s %r is not a non-empty string (docker omits empty ones)" % (k, ev[k]))
    e = ev["event"]
    if isinstance(e, str):
        if not e.strip():
            raise Refused(400, 13, "Event field cannot be blank", "event %d: blank raw event" % n,
                          {"invalid-event-number": n})
    elif isinstance(e, dict):
        extra = set(e) - {"line", "source", "tag", "attrs"}
        if extra:
            bad("event: unexpected keys %s" % sorted(extra))
        if "line" not in e:
            bad("event: no 'line'")
        if e.get("source") not in ("stdout", "stderr"):
            bad("event: source %r is not stdout or stderr" % (e.get("source"),))
        if "tag" in e and (not isinstance(e["tag"], str) or not e["tag"]):
            bad("event: tag %r is not a non-empty string (docker omits an empty one)" % (e["tag"],))
        if "attrs" in e:
            a = e["attrs"]
            if not isinstance(a, dict) or not a or not all(isinstance(v, str) for v in a.values()):
                bad("event: attrs %r is not a non-empty object of strings" % (a,))
    else:
        bad("event is neither a raw string nor an inline object")


def parse_body(raw):
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise Refused(400, 6, "Invalid data format", "body is not UTF-8: %s" % e)
    events, i, n = [], 0, 0
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i == len(text):
            break
        try:
            obj, end = DECODER.raw_decode(text, i)
        except ValueError as e:
            raise Refused(400, 6, "Invalid data format", "event %d: invalid JSON: %s" % (n, e),
                          {"invalid-event-number": n})
        check_event(obj, n)
        events.append(obj)
        i, n = end, n + 1
    if not events:
        raise Refused(400, 5, "No data", "empty body")
    return events


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "splunk-receiver"
    sys_version = ""

    def setup(self):
        with lock:
            conn_counter[0] += 1
            self.conn_id = conn_counter[0]
        if self.server.tls:
            self.request.settimeout(10)
            try:
                self.request = self.server.tls.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.server.record_error("connection %d: TLS handshake failed: %s" % (self.conn_id, e))
                raise
        # A connection idle this long is closed (HEC's keep-alive is similar); the tests shorten it.
        self.timeout = self.server.idle_timeout or 60
        super().setup()

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj, encoding="-", events=0):
        # Recorded before the answer goes: a client that has its answer finds the request in the log.
        self.server.record_request("%d %s %s %d %s %d" % (self.conn_id, self.command, self.path, status, encoding,
                                                           events))
        body = json.dumps(obj, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def refuse(self, r, encoding="-"):
        self.server.record_error("%s %s: %d %s" % (self.command, self.path, r.status, r.detail))
        obj = {"text": r.text, "code": r.code}
        obj.update(r.extra)
        self.answer(r.status, obj, encoding)

    def read_body(self):
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            raise Refused(411, 6, "Invalid data format", "Transfer-Encoding %r: a Content-Length is required"
                          % self.headers["Transfer-Encoding"])
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) != 1 or not lengths[0].isdigit():
            self.close_connection = True
            raise Refused(411, 6, "Invalid data format", "Content-Length %r" % (lengths,))
        n = int(lengths[0])
        if n > BODY_MAX:
            self.close_connection = True
            raise Refused(413, 6, "Invalid data format", "body of %d bytes" % n)
        body = self.rfile.read(n)
        if len(body) != n:
            self.close_connection = True
            raise Refused(400, 6, "Invalid data format", "body cut short: %d of %d bytes" % (len(body), n))
        return body

    def do_OPTIONS(self):
        if self.path != PATH:
            return self.refuse(Refused(404, 404, "The requested URL was not found on this server.",
                                       "OPTIONS on %r" % self.path))
        if "Content-Length" in self.headers and self.headers["Content-Length"] != "0":
            return self.refuse(Refused(400, 6, "Invalid data format", "OPTIONS with a body"))
        self.answer(200, {"text": "Success", "code": 0})

    def do_POST(self):
        enc = self.headers.get("Content-Encoding", "-")
        try:
            body = self.read_body()
            if self.path != PATH:
                raise Refused(404, 404, "The requested URL was not found on this server.", "POST to %r" % self.path)
            auth = self.headers.get_all("Authorization") or []
            if not auth:
                raise Refused(401, 2, "Token is required", "no Authorization header")
            if len(auth) != 1 or auth[0] != "Splunk " + self.server.token:
                raise Refused(403, 4, "Invalid token", "Authorization %r" % auth)
            ctype = self.headers.get("Content-Type")
            if ctype is not None and ctype.split(";")[0].strip().lower() != "application/json":
                raise Refused(400, 6, "Invalid data format", "Content-Type %r" % ctype)
            if enc == "gzip":
                try:
                    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    plain = d.decompress(body, BODY_MAX + 1)
                    if not d.eof or d.unused_data or d.unconsumed_tail or len(plain) > BODY_MAX:
                        raise ValueError("not exactly one whole gzip stream")
                    body = plain
                except (zlib.error, ValueError) as e:
                    raise Refused(400, 6, "Invalid data format", "gzip body: %s" % e)
            elif enc != "-":
                raise Refused(415, 6, "Invalid data format", "Content-Encoding %r" % enc)
            try:
                with open(self.server.status_file) as f:
                    forced = int(f.read().strip() or "503")
            except (OSError, TypeError, ValueError):
                forced = None
            if forced:
                return self.answer(forced, {"text": "Server is busy", "code": 9}, enc)
            events = parse_body(body)
        except Refused as r:
            return self.refuse(r, enc)
        self.server.record_events(events)
        self.answer(200, {"text": "Success", "code": 0}, enc, len(events))

    def refuse_method(self):
        self.refuse(Refused(405, 6, "Invalid data format", "method %s" % self.command))

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = refuse_method


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, args):
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, Handler)
        self.token = args.token
        self.out, self.errors, self.requests = args.out, args.errors, args.requests
        self.status_file = args.status_file
        self.idle_timeout = args.idle_timeout
        self.tls = None
        if args.tls_cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(args.tls_cert, args.tls_key)

    def append(self, path, lines):
        if not path:
            return
        with lock:
            with open(path, "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))

    def record_events(self, events):
        self.append(self.out, [json.dumps(e, ensure_ascii=False, separators=(",", ":")) for e in events])

    def record_error(self, msg):
        self.append(self.errors, [msg.replace("\n", " ")])

    def record_request(self, msg):
        self.append(self.requests, [msg])

    def handle_error(self, request, client_address):
        e = sys.exc_info()[1]
        if not isinstance(e, (ssl.SSLError, ConnectionError, TimeoutError, socket.timeout)):
            self.record_error("handler: %r" % (e,))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--errors", required=True)
    ap.add_argument("--requests")
    ap.add_argument("--status-file")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--idle-timeout", type=float, default=0)
    args = ap.parse_args()
    srv = Server((args.listen, args.port), args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
