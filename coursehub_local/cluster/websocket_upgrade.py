"""The server end of a kernel WebSocket: tornado's handshake checks, then Jupyter messages over RFC 6455 frames.

Handshake (tornado/websocket.py ``WebSocketHandler.get`` and ``WebSocketProtocol13.accept_connection``), in
order: 400 ``Can "Upgrade" only to "WebSocket".`` without ``Upgrade: websocket``; 400 ``"Connection" must
be "Upgrade".``; 426 with ``Sec-WebSocket-Version: 7, 8, 13`` for another version; 400 ``Missing/Invalid
WebSocket headers`` without ``Host``/``Sec-WebSocket-Key``; else 101 with ``Sec-WebSocket-Accept`` =
base64(SHA-1(key + GUID)) (RFC 6455 section 4.2.2).

After 101, jupyter_server's legacy protocol: each text message is one JSON Jupyter message with a
``channel`` key (``ZMQChannelsWebsocketConnection.handle_incoming_message``; no channel means shell, an
unknown channel is dropped). A message that is not JSON raises in ``on_message`` and tornado aborts the
connection (``_run_callback``). Binary messages (the legacy binary-buffer format) are not modelled: dropped.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import socket
import threading
from typing import TYPE_CHECKING

from coursehub_local.cluster import websocket_frames as frames

if TYPE_CHECKING:
    from coursehub_local.cluster.jupyter_kernels import Kernel
    from coursehub_local.cluster.stand_in_backends import Response

log = logging.getLogger(__name__)
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 section 1.3
CHANNELS = ("shell", "iopub", "stdin", "control")
TEXT_HTML = "text/html; charset=UTF-8"  # tornado's default Content-Type


def accept_value(key: str) -> str:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key."""
    return base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()


def upgrade(headers: dict[str, str]) -> tuple["Response", bool]:
    """tornado's answer to the handshake request (lower-case header names), and whether it is 101."""
    from coursehub_local.cluster.stand_in_backends import Response  # that module routes to this one

    if headers.get("upgrade", "").lower() != "websocket":
        return Response.of(400, b'Can "Upgrade" only to "WebSocket".', TEXT_HTML), False
    if "upgrade" not in [v.strip().lower() for v in headers.get("connection", "").split(",")]:
        return Response.of(400, b'"Connection" must be "Upgrade".', TEXT_HTML), False
    if headers.get("sec-websocket-version") not in ("7", "8", "13"):
        return Response(426, TEXT_HTML, [(0, b"")], {"Sec-WebSocket-Version": "7, 8, 13"}), False
    if not headers.get("host") or not headers.get("sec-websocket-key"):
        return Response.of(400, b"Missing/Invalid WebSocket headers", TEXT_HTML), False
    return Response(101, "", [], {"Upgrade": "websocket", "Connection": "Upgrade",
                                  "Sec-WebSocket-Accept": accept_value(headers["sec-websocket-key"])}), True


class Connection:
    """One client's WebSocket to a kernel: frames out under a lock, closed once."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.lock = threading.Lock()
        self.closed = False

    def send(self, message: dict) -> None:
        self.write(frames.TEXT, json.dumps(message).encode())

    def write(self, opcode: int, payload: bytes) -> None:
        with self.lock:
            if self.closed:
                raise OSError("connection closed")
            self.sock.sendall(frames.encode(opcode, payload))

    def close(self) -> None:
        """Drop the TCP connection (tornado's ``_abort``; also what a dying server process does)."""
        with self.lock:
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def serve_connection(sock: socket.socket, kernel: "Kernel", session_id: str) -> None:
    """Relay between one client and the kernel until either side ends the connection."""
    connection = Connection(sock)
    with connection.lock:  # the replay goes out before anything the kernel sends meanwhile
        for message in kernel.connect(session_id, connection):
            sock.sendall(frames.encode(frames.TEXT, json.dumps(message).encode()))
    reader = frames.MessageReader(frames.exact_reader(sock))
    try:
        while True:
            opcode, data = reader.next()
            if opcode == frames.TEXT:
                message = json.loads(data)  # not JSON: on_message raises and tornado aborts
                channel = message.pop("channel", None) or "shell"
                if channel in CHANNELS:
                    kernel.handle(channel, message, session_id)
            elif opcode == frames.PING:
                connection.write(frames.PONG, data)
            elif opcode == frames.CLOSE:
                code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
                connection.write(frames.CLOSE, frames.close_payload(code))
                break
    except frames.ProtocolError as error:
        log.debug("kernel WebSocket aborted: %s", error)
        if error.close_code:
            try:
                connection.write(frames.CLOSE, frames.close_payload(error.close_code, str(error)))
            except OSError:
                pass
    except ValueError as error:
        log.debug("kernel WebSocket aborted: %s", error)
    except (EOFError, OSError):
        pass
    finally:
        kernel.disconnect(session_id, connection)
        connection.close()
