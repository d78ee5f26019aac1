"""RFC 6455 frames as tornado reads and writes them, and the handshake it answers (no cluster needed)."""
import io
import struct

import pytest
from websocket._abnf import ABNF

from coursehub_local.cluster import websocket_frames as frames
from coursehub_local.cluster.websocket_upgrade import accept_value, upgrade


def reader(data):
    stream = io.BytesIO(data)

    def read(n):
        chunk = stream.read(n)
        if len(chunk) < n:
            raise EOFError
        return chunk
    return frames.MessageReader(read)


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65535, 65536, 70000])
def test_a_masked_client_frame_of_any_length_reads_back_as_sent(size):
    payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    data = frames.encode(frames.BINARY, payload, masked=True)
    assert data[1] & 0x80  # the MASK bit
    assert reader(data).next() == (frames.BINARY, payload)


def test_frames_match_what_the_websocket_client_package_writes_and_reads():
    key = b"\x01\x02\x03\x04"
    client = ABNF.create_frame("héllo", ABNF.OPCODE_TEXT)
    client.get_mask_key = lambda n: key
    assert frames.encode(frames.TEXT, "héllo".encode(), masked=True, key=key) == client.format()
    server = frames.encode(frames.TEXT, b'{"a": 1}')
    assert server == ABNF(1, 0, 0, 0, ABNF.OPCODE_TEXT, 0, b'{"a": 1}').format()  # servers never mask
    assert reader(client.format()).next() == (frames.TEXT, "héllo".encode())


def test_the_rfc_6455_examples():
    # RFC 6455 section 5.7: a single-frame unmasked "Hello", the same masked, and a fragmented one
    assert reader(bytes.fromhex("810548656c6c6f")).next() == (frames.TEXT, b"Hello")
    assert reader(bytes.fromhex("818537fa213d7f9f4d5158")).next() == (frames.TEXT, b"Hello")
    assert reader(bytes.fromhex("010348656c80026c6f")).next() == (frames.TEXT, b"Hello")


def test_a_control_frame_inside_a_fragmented_message_comes_first():
    data = (frames.encode(frames.TEXT, b"Hel", masked=True, fin=False) + frames.encode(frames.PING, b"p", masked=True)
            + frames.encode(frames.CONTINUATION, b"lo", masked=True))
    messages = reader(data)
    assert messages.next() == (frames.PING, b"p")
    assert messages.next() == (frames.TEXT, b"Hello")


@pytest.mark.parametrize("data, reason", [
    (bytes([0x80 | 0x40 | frames.TEXT, 0]), "reserved bits"),
    (bytes([0x80 | frames.PING, 126]) + struct.pack("!H", 126) + b"x" * 126, "126 bytes or more"),
    (bytes([frames.PING, 0]), "fragmented control frame"),
    (bytes([0x80 | frames.CONTINUATION, 0]), "nothing to continue"),
    (bytes([frames.TEXT, 1]) + b"a" + bytes([0x80 | frames.TEXT, 1]) + b"b", "inside a fragmented one"),
    (bytes([0x80 | 0x3, 0]), "unknown data opcode"),
    (bytes([0x80 | 0xB, 0]), "unknown control opcode"),
    (bytes([0x80 | frames.TEXT, 2]) + b"\xc3\x28", "not UTF-8"),
])
def test_what_tornado_aborts_on(data, reason):
    with pytest.raises(frames.ProtocolError, match=reason) as raised:
        reader(data).next()
    assert raised.value.close_code is None  # an abort: no close frame


def test_a_message_over_ten_mebibytes_is_closed_with_1009():
    head = bytes([0x80 | frames.BINARY, 127]) + struct.pack("!Q", frames.MAX_MESSAGE_SIZE + 1)
    with pytest.raises(frames.ProtocolError, match="too big") as raised:
        reader(head).next()
    assert raised.value.close_code == 1009


def test_a_close_frame_carries_its_code_and_reason():
    assert frames.close_payload(1000, "bye") == b"\x03\xe8bye"
    assert frames.close_payload(None) == b""
    assert reader(frames.encode(frames.CLOSE, b"\x03\xe8", masked=True)).next() == (frames.CLOSE, b"\x03\xe8")


def test_the_handshake_answers_as_tornado():
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3's example
    assert accept_value(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    good = {"host": "hub.test", "upgrade": "websocket", "connection": "keep-alive, Upgrade",
            "sec-websocket-key": key, "sec-websocket-version": "13"}
    response, accepted = upgrade(good)
    assert accepted and response.status == 101 and response.headers["Sec-WebSocket-Accept"] == accept_value(key)
    assert "Sec-WebSocket-Protocol" not in response.headers  # the legacy protocol: no subprotocol selected
    cases = [({"upgrade": ""}, 400, b'Can "Upgrade" only to "WebSocket".'),
             ({"connection": "close"}, 400, b'"Connection" must be "Upgrade".'),
             ({"sec-websocket-version": "12"}, 426, b""),
             ({"sec-websocket-key": ""}, 400, b"Missing/Invalid WebSocket headers")]
    for change, status, body in cases:
        response, accepted = upgrade(dict(good, **change))
        assert not accepted and response.status == status
        assert b"".join(chunk for _, chunk in response.chunks) == body
    assert upgrade(dict(good, **{"sec-websocket-version": "12"}))[0].headers == {"Sec-WebSocket-Version": "7, 8, 13"}
