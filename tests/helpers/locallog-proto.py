#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks a `local` log file with Google's protobuf runtime (python3-protobuf), an encoder and decoder
independent of stockade's: each record's framing ([u32 BE n][n bytes][u32 BE n]), its body parsed as
moby's LogEntry (entry.proto, built here from its field numbers), and the body serialized again by
protobuf, which must give the same bytes.  Prints one JSON object per record (line and id in hex).

usage: locallog-proto.py FILE     exit 0 if every record checks, 1 otherwise (the reason on stderr),
                                  77 if python3-protobuf is missing.
"""
import json
import struct
import sys

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
except ImportError:
    sys.exit(77)

F = descriptor_pb2.FieldDescriptorProto


def entry_class():
    fdp = descriptor_pb2.FileDescriptorProto(name="entry.proto", syntax="proto3")
    attr = fdp.message_type.add(name="LogAttr")
    attr.field.add(name="key", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    attr.field.add(name="value", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    meta = fdp.message_type.add(name="PartialLogEntryMetadata")
    meta.field.add(name="last", number=1, type=F.TYPE_BOOL, label=F.LABEL_OPTIONAL)
    meta.field.add(name="id", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    meta.field.add(name="ordinal", number=3, type=F.TYPE_INT32, label=F.LABEL_OPTIONAL)
    e = fdp.message_type.add(name="LogEntry")
    e.field.add(name="source", number=1, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    e.field.add(name="time_nano", number=2, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    e.field.add(name="line", number=3, type=F.TYPE_BYTES, label=F.LABEL_OPTIONAL)
    e.field.add(name="partial", number=4, type=F.TYPE_BOOL, label=F.LABEL_OPTIONAL)
    e.field.add(name="partial_log_metadata", number=5, type=F.TYPE_MESSAGE, label=F.LABEL_OPTIONAL,
                type_name=".PartialLogEntryMetadata")
    e.field.add(name="attrs", number=6, type=F.TYPE_MESSAGE, label=F.LABEL_REPEATED, type_name=".LogAttr")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("LogEntry")
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return message_factory.MessageFactory(pool).GetPrototype(desc)


def main():
    LogEntry = entry_class()
    data = open(sys.argv[1], "rb").read()
    off = 0
    while off < len(data):
        if len(data) - off < 8:
            sys.exit("record at %d: %d bytes left, too few for a frame" % (off, len(data) - off))
        (n,) = struct.unpack(">I", data[off:off + 4])
        if off + 8 + n > len(data):
            sys.exit("record at %d: length %d runs past the end" % (off, n))
        body = data[off + 4:off + 4 + n]
        (trailer,) = struct.unpack(">I", data[off + 4 + n:off + 8 + n])
        if trailer != n:
            sys.exit("record at %d: leading length %d, trailing %d" % (off, n, trailer))
        e = LogEntry()
        e.ParseFromString(body)
        again = e.SerializeToString()
        if again != body:
            sys.exit("record at %d: protobuf encodes it as %s, the file has %s" % (off, again.hex(), body.hex()))
        out = {"source": e.source, "time_nano": e.time_nano, "line": e.line.hex(), "partial": e.partial,
               "has_meta": e.HasField("partial_log_metadata")}
        if e.HasField("partial_log_metadata"):
            m = e.partial_log_metadata
            out["last"] = m.last
            out["id"] = m.id
            out["ordinal"] = m.ordinal
        print(json.dumps(out, sort_keys=True))
        off += 8 + n


main()
