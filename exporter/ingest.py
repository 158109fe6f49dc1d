"""Decoding OTLP/HTTP metric request bodies.

::

    request = decode_request(body, "application/x-protobuf")   # or "application/json"
    payload, content_type = encode_response(response, "application/json")

Bodies are decoded with OpenTelemetry's own ``opentelemetry-proto`` messages;
JSON follows the OTLP/HTTP JSON mapping (lowerCamelCase or snake_case field
names, integer enums, 64-bit integers as strings or numbers; unknown fields
are ignored as the spec requires). ``decompress`` inflates gzip bodies with a
hard cap, so a gzip bomb costs at most ``limit`` bytes.
"""

from __future__ import annotations

import zlib

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

__all__ = [
    "PROTOBUF",
    "JSON",
    "BodyTooLarge",
    "MalformedBody",
    "media_type",
    "decompress",
    "decode_request",
    "encode_message",
    "ExportMetricsServiceRequest",
    "ExportMetricsServiceResponse",
    "ExportTraceServiceRequest",
    "ExportTraceServiceResponse",
]

PROTOBUF = "application/x-protobuf"
JSON = "application/json"


class BodyTooLarge(Exception):
    """The body, as sent or once decompressed, is over the limit."""


class MalformedBody(Exception):
    """The body cannot be decoded."""


def media_type(content_type: str | None) -> str | None:
    """``PROTOBUF`` or ``JSON`` for a Content-Type header, else None."""
    kind = (content_type or "").split(";", 1)[0].strip().lower()
    if kind in (PROTOBUF, "application/protobuf"):
        return PROTOBUF
    if kind == JSON:
        return JSON
    return None


def decompress(body: bytes, limit: int) -> bytes:
    """Inflate a gzip (or zlib) body, raising ``BodyTooLarge`` past ``limit`` bytes of output."""
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header, detected
    chunks = []
    size = 0
    data = body
    try:
        while data:
            chunk = inflater.decompress(data, limit + 1 - size)
            size += len(chunk)
            chunks.append(chunk)
            if size > limit:
                raise BodyTooLarge(f"body is over {limit} bytes once decompressed")
            data = inflater.unconsumed_tail
            if inflater.eof:
                break
        if not inflater.eof:
            raise MalformedBody("gzip body is truncated")
    except zlib.error as error:
        raise MalformedBody(f"gzip body cannot be decompressed: {error}") from None
    return b"".join(chunks)


def decode_request(body: bytes, kind: str, message_type=ExportMetricsServiceRequest, what: str = "metrics"):
    """Decode an ``ExportMetricsServiceRequest`` (or ``message_type``, e.g. ``ExportTraceServiceRequest``
    with ``what="traces"``) from protobuf or JSON bytes."""
    request = message_type()
    try:
        if kind == PROTOBUF:
            request.ParseFromString(body)
        else:
            json_format.Parse(body.decode("utf-8"), request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError, TypeError, RecursionError) as error:
        raise MalformedBody(f"body is not a valid OTLP {'protobuf' if kind == PROTOBUF else 'JSON'} {what} request: {error}") from None
    return request


def encode_message(message: Message, kind: str) -> bytes:
    """Encode a response message (``ExportMetricsServiceResponse`` or ``google.rpc.Status``) as ``kind``."""
    if kind == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()
