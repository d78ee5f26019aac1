"""The kernel stand-in: cells run for real, Jupyter messages in protocol 5.3, offline buffering (no cluster needed)."""
import queue
import uuid
from datetime import datetime, timezone

from coursehub_local.cluster.jupyter_kernels import Kernel, run_cell
from tests.conftest import eventually

MOMENT = datetime(2026, 12, 7, 8, 30, tzinfo=timezone.utc)


class Client:
    """A connection as the kernel sees one: it records what is sent to it."""

    def __init__(self):
        self.messages, self.closed = queue.Queue(), False

    def send(self, message):
        self.messages.put(message)

    def close(self):
        self.closed = True

    def until_reply(self, msg_id, timeout=20):
        seen = []
        while not any(m["msg_type"].endswith("_reply") for m in seen) or seen[-1]["msg_type"] != "status":
            message = self.messages.get(timeout=timeout)
            if message["parent_header"].get("msg_id") == msg_id:
                seen.append(message)
        return seen


def request(msg_type, content, session="s1"):
    return {"header": {"msg_id": str(uuid.uuid4()), "msg_type": msg_type, "session": session, "username": "u",
                       "date": "2026-12-07T08:30:00Z", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "content": content}


def test_a_cell_runs_in_a_real_interpreter():
    assert run_cell("print(6*7)") == ("42\n", "", {"result": None})
    assert run_cell("x = 2\nx ** 10") == ("", "", {"result": "1024"})
    stdout, _, outcome = run_cell("print('before')\n1/0")
    assert stdout == "before\n" and outcome["ename"] == "ZeroDivisionError" and outcome["evalue"] == "division by zero"
    assert outcome["traceback"][-1] == "ZeroDivisionError: division by zero\n"
    assert run_cell("import sys; sys.stderr.write('warn')")[1] == "warn"
    assert run_cell("def broken(:")[2]["ename"] == "SyntaxError"
    assert run_cell("import time; time.sleep(5)", timeout=0.5)[2]["ename"] == "KeyboardInterrupt"


def test_an_execute_request_gets_the_iopub_sequence_and_an_execute_reply():
    kernel, client = Kernel(lambda: MOMENT), Client()
    assert kernel.connect("s1", client) == []
    sent = request("execute_request", {"code": "print(6*7)\n'done'", "silent": False})
    kernel.handle("shell", sent, "s1")
    seen = client.until_reply(sent["header"]["msg_id"])
    assert [(m["channel"], m["msg_type"]) for m in seen] == [
        ("iopub", "status"), ("iopub", "execute_input"), ("iopub", "stream"), ("iopub", "execute_result"),
        ("shell", "execute_reply"), ("iopub", "status")]
    assert [m["content"].get("execution_state") for m in (seen[0], seen[-1])] == ["busy", "idle"]
    assert seen[2]["content"] == {"name": "stdout", "text": "42\n"}
    assert seen[3]["content"]["data"] == {"text/plain": "'done'"}
    assert seen[4]["content"]["status"] == "ok" and seen[4]["content"]["execution_count"] == 1
    for message in seen:
        assert message["parent_header"] == sent["header"]
        assert message["header"]["date"] == "2026-12-07T08:30:00Z" and message["header"]["version"] == "5.3"
        assert message["header"]["session"] == kernel.session and message["msg_id"] == message["header"]["msg_id"]
    assert kernel.model()["execution_state"] == "idle" and kernel.model()["connections"] == 1


def test_cells_run_one_at_a_time_in_the_order_they_came():
    kernel, client = Kernel(lambda: MOMENT), Client()
    kernel.connect("s1", client)
    slow = request("execute_request", {"code": "import time; time.sleep(0.5); print('first')"})
    fast = request("execute_request", {"code": "print('second')"})
    kernel.handle("shell", slow, "s1")
    kernel.handle("shell", fast, "s1")
    order = []
    while len(order) < 2:
        message = client.messages.get(timeout=20)
        if message["msg_type"] == "execute_reply":
            order.append((message["parent_header"]["msg_id"], message["content"]["execution_count"]))
    assert order == [(slow["header"]["msg_id"], 1), (fast["header"]["msg_id"], 2)]


def test_an_exception_is_an_error_message_and_an_error_reply():
    kernel, client = Kernel(lambda: MOMENT), Client()
    kernel.connect("s1", client)
    sent = request("execute_request", {"code": "raise ValueError('no')"})
    kernel.handle("shell", sent, "s1")
    seen = {m["msg_type"]: m for m in client.until_reply(sent["header"]["msg_id"])}
    assert seen["error"]["content"]["ename"] == "ValueError" and seen["error"]["content"]["evalue"] == "no"
    assert seen["execute_reply"]["content"]["status"] == "error"
    assert seen["execute_reply"]["content"]["ename"] == "ValueError"


def test_kernel_info_is_answered_on_the_channel_it_was_asked_on():
    kernel, client = Kernel(lambda: MOMENT), Client()
    kernel.connect("s1", client)
    sent = request("kernel_info_request", {})
    kernel.handle("control", sent, "s1")
    reply = next(m for m in client.until_reply(sent["header"]["msg_id"]) if m["msg_type"] == "kernel_info_reply")
    assert reply["channel"] == "control" and reply["content"]["protocol_version"] == "5.3"
    assert reply["content"]["language_info"]["name"] == "python"


def test_while_no_client_is_connected_messages_wait_for_the_same_session_only():
    kernel, first = Kernel(lambda: MOMENT), Client()
    kernel.connect("s1", first)
    kernel.disconnect("s1", first)
    sent = request("execute_request", {"code": "print('offline')"})
    kernel.handle("shell", sent, "s1")
    again = Client()
    eventually(lambda: kernel.buffer and any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
                                             for m in kernel.buffer[1]))
    replayed = kernel.connect("s1", again)
    assert [m["msg_type"] for m in replayed] == ["status", "execute_input", "stream", "execute_reply", "status"]
    assert first.messages.empty()

    kernel.disconnect("s1", again)
    kernel.handle("shell", request("execute_request", {"code": "print(1)"}), "s1")
    eventually(lambda: len(kernel.buffer[1]) == 5)
    assert kernel.connect("another", Client()) == []  # another session: the buffer is discarded
    assert kernel.buffer is None


def test_a_shut_down_kernel_closes_its_connections_and_buffers_nothing():
    kernel, client = Kernel(lambda: MOMENT), Client()
    kernel.connect("s1", client)
    kernel.shut_down()
    assert client.closed and kernel.model()["execution_state"] == "dead"
    kernel.disconnect("s1", client)
    assert kernel.buffer is None
