"""RFC 6455 frames as the server end of a kernel WebSocket reads and writes them (tornado's WebSocketProtocol13).

Read in tornado/websocket.py (``_receive_frame``, ``_handle_message``, ``close``, ``_write_frame``):

- a frame is ``FIN|RSV|opcode``, ``MASK|length`` (7 bits; 126 then 16 bits; 127 then 64 bits), a 4-byte
  mask key when MASK is set, then the payload XORed with the key (RFC 6455 section 5.2-5.3). tornado
  unmasks what is masked and does not itself refuse an unmasked client frame (section 5.1 says a server
  MUST close then); the stand-in does as tornado does;
- tornado *aborts* (drops the TCP connection, no close frame) on reserved bits without a negotiated
  extension, a control frame with 126 bytes or more or fragmented, a continuation with nothing to
  continue, a new data frame inside a fragmented message, an unknown opcode and text that is not UTF-8;
- a message over ``websocket_max_message_size`` (10 MiB) gets close code 1009 "message too big", then abort;
- a close frame is echoed with the code it carried (section 5.5.1); a ping is answered by a pong with
  the same payload; the server's own frames are never masked.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from typing import Callable

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
FIN, RSV_MASK, OPCODE_MASK, MASK_BIT = 0x80, 0x70, 0x0F, 0x80
MAX_MESSAGE_SIZE = 10 * 1024 * 1024  # tornado's websocket_max_message_size default
TOO_BIG = 1009  # RFC 6455 section 7.4.1: a message too big to process


class ProtocolError(Exception):
    """A frame tornado answers by aborting the connection; ``close_code`` if it sends a close frame first."""

    def __init__(self, message: str, close_code: int | None = None):
        super().__init__(message)
        self.close_code = close_code


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes


def mask(key: bytes, data: bytes) -> bytes:
    """XOR ``data`` with the 4-byte ``key`` repeated (RFC 6455 section 5.3); masking twice unmasks."""
    if not data:
        return b""
    whole = (key * (len(data) // 4 + 1))[:len(data)]
    return (int.from_bytes(data, "big") ^ int.from_bytes(whole, "big")).to_bytes(len(data), "big")


def encode(opcode: int, payload: bytes, masked: bool = False, fin: bool = True, key: bytes | None = None) -> bytes:
    """One frame; a client's frames are ``masked`` with a random key (or ``key``), a server's never are."""
    head = bytes([(FIN if fin else 0) | opcode])
    length = len(payload)
    bit = MASK_BIT if masked else 0
    if length < 126:
        head += bytes([bit | length])
    elif length < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    key = key or os.urandom(4)
    return head + key + mask(key, payload)


def close_payload(code: int | None, reason: str = "") -> bytes:
    """A close frame's body: the 2-byte code, then the reason in UTF-8 (nothing when there is no code)."""
    return b"" if code is None else struct.pack("!H", code) + reason.encode()


def read_frame(read: Callable[[int], bytes]) -> Frame:
    """The next frame, unmasked; ``read(n)`` returns exactly n bytes or raises EOFError."""
    first, second = read(2)
    opcode, length = first & OPCODE_MASK, second & 0x7F
    if first & RSV_MASK:
        raise ProtocolError("reserved bits set without an extension")
    if opcode & 0x8 and length >= 126:
        raise ProtocolError("control frame payload of 126 bytes or more")
    if length == 126:
        length = struct.unpack("!H", read(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", read(8))[0]
    if length > MAX_MESSAGE_SIZE:
        raise ProtocolError("message too big", TOO_BIG)
    key = read(4) if second & MASK_BIT else None
    payload = read(length) if length else b""
    return Frame(bool(first & FIN), opcode, mask(key, payload) if key else payload)


class MessageReader:
    """Whole messages from frames: fragments joined, control frames passed through as they come."""

    def __init__(self, read: Callable[[int], bytes]):
        self._read = read
        self._opcode: int | None = None
        self._parts: bytearray | None = None

    def next(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next message or control frame; text is checked to be UTF-8."""
        while True:
            frame = read_frame(self._read)
            if frame.opcode & 0x8:
                if frame.opcode not in (CLOSE, PING, PONG):
                    raise ProtocolError(f"unknown control opcode {frame.opcode:#x}")
                if not frame.fin:
                    raise ProtocolError("fragmented control frame")
                return frame.opcode, frame.payload
            if frame.opcode == CONTINUATION:
                if self._parts is None:
                    raise ProtocolError("continuation frame with nothing to continue")
                self._parts.extend(frame.payload)
            elif frame.opcode in (TEXT, BINARY):
                if self._parts is not None:
                    raise ProtocolError("new message inside a fragmented one")
                self._opcode, self._parts = frame.opcode, bytearray(frame.payload)
            else:
                raise ProtocolError(f"unknown data opcode {frame.opcode:#x}")
            if len(self._parts) > MAX_MESSAGE_SIZE:
                raise ProtocolError("message too big", TOO_BIG)
            if frame.fin:
                opcode, data = self._opcode, bytes(self._parts)
                self._opcode, self._parts = None, None
                if opcode == TEXT:
                    try:
                        data.decode("utf-8")
                    except UnicodeDecodeError as error:
                        raise ProtocolError("text message is not UTF-8") from error
                return opcode, data


def exact_reader(sock) -> Callable[[int], bytes]:
    """``read(n)`` over a socket: exactly n bytes, EOFError when the peer closed first."""
    def read(n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("connection closed")
            data.extend(chunk)
        return bytes(data)
    return read
