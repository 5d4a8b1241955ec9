#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""A strict fluentd forward input for the fluentd log driver's tests.

It decodes with Debian's python3-msgpack (an implementation independent of stockade's encoder, hence
/usr/bin/python3, not whichever python3 comes first in PATH) and accepts only what docker's fluentd
driver sends: the forward protocol v1's Message mode, one msgpack array per event, back to back on a
TCP or unix stream connection:

  [tag, time, record]  or  [tag, time, record, option]

  tag     a non-empty str, valid UTF-8
  time    an integer from 0 to 2**32-1, or an EventTime: ext type 0 of exactly 8 bytes (32-bit seconds,
          32-bit nanoseconds below 10**9, big-endian)
  record  a map of str keys (valid UTF-8, no duplicates) to str values (a log line's bytes may be any
          bytes, as docker sends them), holding docker's fields: container_id (64 lowercase hex),
          container_name ("/..."), source ("stdout" or "stderr"), log; and, for a piece of a long
          line, all four of partial_message ("true"), partial_id (64 hex), partial_ordinal (a
          positive integer in decimal) and partial_last ("true" or "false")
  option  a map with only "chunk" (a non-empty str) and "size" (the event count: 1) keys

Anything else is refused: another type or shape at the top (Forward and PackedForward modes, a nil
heartbeat), a bin where a str belongs, an ext of another type or size, a duplicate key, bytes left
over at the end of the connection.  A refusal is a line in --errors, and the connection is closed, as
fluentd closes it.

Each accepted event is a JSON line in --out:
  {"conn": N, "transport": "tcp"|"unix", "tag": ..., "time": <int> | {"sec": s, "nsec": n},
   "record": {...}, "option": {...} | null}
where a record value that is not valid UTF-8 is written as {"hex": "<its bytes in hex>"}.

With a "chunk" option the event is acknowledged with {"ack": <chunk>} once it is written to --out.
--bad-ack-once answers the first chunk with another id; --no-ack never answers; --close-after N closes
each connection after N events (a server restart, as the driver sees it).  The TCP port (127.0.0.1,
--port or one the kernel picks) is written to --port-file once both sockets listen.  SIGTERM stops it.
"""
import argparse
import json
import os
import re
import signal
import socket
import socketserver
import sys
import threading

import msgpack

HEX64 = re.compile(r"^[0-9a-f]{64}$")
ORDINAL = re.compile(r"^[1-9][0-9]*$")
BUFFER_MAX = 16 << 20
PARTIAL_KEYS = ("partial_message", "partial_id", "partial_ordinal", "partial_last")


class Refused(Exception):
    pass


def utf8_ok(s):
    try:
        s.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def pairs_hook(pairs):
    out = {}
    for k, v in pairs:
        if not isinstance(k, str):
            raise Refused("a map key that is not a str: %r" % (k,))
        if not utf8_ok(k):
            raise Refused("a map key that is not valid UTF-8")
        if k in out:
            raise Refused("duplicate map key %r" % k)
        out[k] = v
    return out


class EventTime:
    def __init__(self, sec, nsec):
        self.sec, self.nsec = sec, nsec


def ext_hook(code, data):
    if code != 0:
        raise Refused("ext type %d (only EventTime, type 0, belongs here)" % code)
    if len(data) != 8:
        raise Refused("EventTime of %d bytes (it is 8)" % len(data))
    sec = int.from_bytes(data[:4], "big")
    nsec = int.from_bytes(data[4:], "big")
    if nsec >= 10**9:
        raise Refused("EventTime nanoseconds %d out of range" % nsec)
    return EventTime(sec, nsec)


def json_value(v):
    if utf8_ok(v):
        return v
    return {"hex": v.encode("utf-8", "surrogateescape").hex()}


def check_event(ev):
    """Returns (tag, time, record, option) or raises Refused."""
    if not isinstance(ev, list):
        raise Refused("an event that is not an array: %s" % type(ev).__name__)
    if len(ev) not in (3, 4):
        raise Refused("an array of %d elements (Message mode has 3 or 4)" % len(ev))
    tag, tm, record = ev[0], ev[1], ev[2]
    option = ev[3] if len(ev) == 4 else None
    if isinstance(tm, (list, bytes, str)):
        raise Refused("Forward or PackedForward mode (docker's driver sends Message mode)")
    if not isinstance(tag, str) or not tag or not utf8_ok(tag):
        raise Refused("a tag that is not a non-empty UTF-8 str: %r" % (tag,))
    if isinstance(tm, EventTime):
        time_json = {"sec": tm.sec, "nsec": tm.nsec}
    elif isinstance(tm, int) and not isinstance(tm, bool):
        if not 0 <= tm < 2**32:
            raise Refused("time %d out of range" % tm)
        time_json = tm
    else:
        raise Refused("time that is neither an integer nor an EventTime: %r" % (tm,))
    if not isinstance(record, dict):
        raise Refused("a record that is not a map: %s" % type(record).__name__)
    for k, v in record.items():
        if not isinstance(v, str):
            raise Refused("record field %r is a %s, not a str" % (k, type(v).__name__))
    for k in ("container_id", "container_name", "source", "log"):
        if k not in record:
            raise Refused("record without %r" % k)
    if not HEX64.match(record["container_id"]):
        raise Refused("container_id %r is not 64 hex" % record["container_id"])
    if not record["container_name"].startswith("/"):
        raise Refused("container_name %r does not start with /" % record["container_name"])
    if record["source"] not in ("stdout", "stderr"):
        raise Refused("source %r" % record["source"])
    present = [k for k in PARTIAL_KEYS if k in record]
    if present:
        if len(present) != len(PARTIAL_KEYS):
            raise Refused("partial fields %s without the others" % present)
        if record["partial_message"] != "true":
            raise Refused("partial_message %r" % record["partial_message"])
        if not HEX64.match(record["partial_id"]):
            raise Refused("partial_id %r is not 64 hex" % record["partial_id"])
        if not ORDINAL.match(record["partial_ordinal"]):
            raise Refused("partial_ordinal %r" % record["partial_ordinal"])
        if record["partial_last"] not in ("true", "false"):
            raise Refused("partial_last %r" % record["partial_last"])
    if option is not None:
        if not isinstance(option, dict):
            raise Refused("an option that is not a map")
        for k, v in option.items():
            if k == "chunk":
                if not isinstance(v, str) or not v:
                    raise Refused("chunk option %r" % (v,))
            elif k == "size":
                if not isinstance(v, int) or isinstance(v, bool) or v != 1:
                    raise Refused("size option %r (one event)" % (v,))
            else:
                raise Refused("option key %r" % k)
    return tag, time_json, {k: json_value(v) for k, v in record.items()}, option


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.conns = 0
        self.bad_ack_pending = args.bad_ack_once
        self.out = open(args.out, "a", encoding="utf-8")
        self.errors = open(args.errors, "a", encoding="utf-8") if args.errors else None

    def next_conn(self):
        with self.lock:
            self.conns += 1
            return self.conns

    def event(self, line):
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()

    def refuse(self, conn, why):
        with self.lock:
            msg = "conn %d: %s" % (conn, why)
            print("fluentd-receiver: " + msg, file=sys.stderr, flush=True)
            if self.errors:
                self.errors.write(msg + "\n")
                self.errors.flush()

    def take_bad_ack(self):
        with self.lock:
            if self.bad_ack_pending:
                self.bad_ack_pending = False
                return True
            return False


class Handler(socketserver.BaseRequestHandler):
    transport = "tcp"

    def handle(self):
        st = self.server.state
        conn = st.next_conn()
        unpacker = msgpack.Unpacker(raw=False, unicode_errors="surrogateescape", strict_map_key=True,
                                    object_pairs_hook=pairs_hook, ext_hook=ext_hook, use_list=True,
                                    max_buffer_size=BUFFER_MAX)
        fed = 0
        done = 0  # bytes of the whole events read (Unpacker.tell() right after each)
        events = 0
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    break
                fed += len(data)
                unpacker.feed(data)
                for ev in unpacker:
                    done = unpacker.tell()
                    tag, tm, record, option = check_event(ev)
                    st.event(json.dumps({"conn": conn, "transport": self.transport, "tag": tag, "time": tm,
                                         "record": record, "option": option}))
                    events += 1
                    chunk = option.get("chunk") if option else None
                    if chunk is not None and not st.args.no_ack:
                        ack = chunk + "-wrong" if st.take_bad_ack() else chunk
                        self.request.sendall(msgpack.packb({"ack": ack}))
                    if st.args.close_after and events >= st.args.close_after:
                        return
            if fed != done:
                raise Refused("%d bytes left over at the end of the connection" % (fed - done))
        except Refused as e:
            st.refuse(conn, str(e))
        except (msgpack.ExtraData, msgpack.FormatError, msgpack.StackError, msgpack.OutOfData,
                msgpack.BufferFull, ValueError, TypeError) as e:
            st.refuse(conn, "malformed msgpack: %s: %s" % (type(e).__name__, e))
        except OSError:
            pass


class UnixHandler(Handler):
    transport = "unix"


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--errors")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--unix")
    ap.add_argument("--bad-ack-once", action="store_true")
    ap.add_argument("--no-ack", action="store_true")
    ap.add_argument("--close-after", type=int, default=0)
    args = ap.parse_args()

    # SIGTERM and SIGINT are taken with sigwait, blocked from here on (the server threads inherit the
    # mask): a handler that sets an Event can deadlock when it lands inside Event.wait's own lock.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    state = State(args)
    servers = []
    tcp = TCPServer(("127.0.0.1", args.port), Handler)
    tcp.state = state
    servers.append(tcp)
    if args.unix:
        try:
            os.unlink(args.unix)
        except FileNotFoundError:
            pass
        unix = UnixServer(args.unix, UnixHandler)
        unix.state = state
        servers.append(unix)
    for s in servers:
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % tcp.server_address[1])
        os.rename(tmp, args.port_file)

    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    for s in servers:
        s.shutdown()
        s.server_close()
    if args.unix:
        try:
            os.unlink(args.unix)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    main()
