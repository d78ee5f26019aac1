"""A user's Jupyter server behind the hub's proxy, reached over verified HTTPS: its API, its kernel WebSocket, its end.

One cluster with nginx-ingress, cert-manager and BinderHub (as in test_hub_https); the user's server is
the pod kubespawner would make. The tests run in file order: the kernel WebSocket is refused until the
hub's Ingress lists proxy-public in ``nginx.org/websocket-services``, and the last test shuts the server down.
"""
import calendar
import json
import time
import uuid

import pytest
import requests
import websocket

from tests.conftest import eventually
from tests.local.cluster.test_cluster_api import kubectl
from tests.local.cluster.test_hub_https import Hub, ingress_values, publish, ready

ZONE = "lab.courses.example.edu"  # in the seeded hosted zone
BINDER, HUB = f"binder.{ZONE}", f"hub.binder.{ZONE}"
USER, TOKEN = "gh-org-repo-4f2a1b", "binder-token-0123456789"
VALUES = {"service": {"type": "ClusterIP"}, "ingress": ingress_values(BINDER, "binder-tls"),
          "jupyterhub": {"proxy": {"service": {"type": "ClusterIP"}}, "ingress": ingress_values(HUB, "hub-tls")}}


def start_server(config, store, user, token):
    """The user's server pod as kubespawner (with BinderSpawnerMixin's args) and then the kubelet make it."""
    args = ["jupyter-notebook", "--ip=0.0.0.0", "--port=8888", f"--NotebookApp.base_url=/user/{user}/",
            f"--NotebookApp.token={token}", "--NotebookApp.trust_xheaders=True"]
    args += [a.replace("--NotebookApp.", "--ServerApp.") for a in args if a.startswith("--NotebookApp.")]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": f"jupyter-{user}", "namespace": "binderhub",
        "labels": {"app": "jupyterhub", "component": "singleuser-server", "release": "binderhub",
                   "hub.jupyter.org/username": user},
        "annotations": {"hub.jupyter.org/username": user}},
        "spec": {"restartPolicy": "OnFailure", "containers": [
            {"name": "notebook", "image": "registry.local/binder-gh-org-repo:abc", "args": args}]}}
    kubectl(config, "apply", "-f", "-", stdin=json.dumps(pod))
    store.set_status("v1", "Pod", "binderhub", f"jupyter-{user}", {
        "phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "notebook", "ready": True, "restartCount": 0,
                               "state": {"running": {"startedAt": "2026-12-07T08:00:00Z"}}}]})


class Lab(Hub):
    """The hub's cluster, where the tests start user servers."""

    @property
    def store(self):
        return self.stack.clusters.server(self.name).store

    def start_server(self, user=USER, token=TOKEN):
        start_server(self.config, self.store, user, token)

    def annotate_hub(self, **annotations):
        kubectl(self.config, "annotate", "--overwrite", "ingress", "jupyterhub", "-n", "binderhub",
                *[f"{k}={v}" for k, v in annotations.items()])


@pytest.fixture(scope="module")
def lab(stack, tmp_path_factory):
    """The charts installed, names published and certificates issued; the user's server running."""
    lab = Lab(stack, tmp_path_factory.mktemp("jupyter")).install_all(VALUES)
    publish(stack, BINDER, HUB, target=lab.ingress_hostname())
    stack.clock.advance(stack.clusters.timings.certificate_issue + 10)
    for name in ("binder-tls", "hub-tls"):
        eventually(lambda: ready(lab.get("certificate", name)), timeout=15)
    lab.start_server()
    return lab


def api(method, path, token=TOKEN, **kwargs):
    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.request(method, f"https://{HUB}/user/{USER}{path}", headers=headers, timeout=10,
                            allow_redirects=False, **kwargs)


def channels(kernel_id, session_id, token=TOKEN, user=USER):
    """A kernel WebSocket through the stack's HTTPS proxy and the hub's public name, verified as any client."""
    return websocket.create_connection(
        f"wss://{HUB}/user/{user}/api/kernels/{kernel_id}/channels?session_id={session_id}",
        header=[f"Authorization: token {token}"], timeout=10, redirect_limit=0)


def execute(ws, code, session_id):
    header = {"msg_id": uuid.uuid4().hex, "msg_type": "execute_request", "username": "student",
              "session": session_id, "date": "2026-12-07T08:00:00Z", "version": "5.3"}
    ws.send(json.dumps({"header": header, "parent_header": {}, "metadata": {}, "channel": "shell",
                        "content": {"code": code, "silent": False, "store_history": True,
                                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    return header


def replies_to(ws, header):
    """Messages about ``header``'s request, up to the reply and the idle status that follows it."""
    seen = []
    while not (any(m["msg_type"] == "execute_reply" for m in seen) and seen[-1]["msg_type"] == "status"
               and seen[-1]["content"]["execution_state"] == "idle"):
        message = json.loads(ws.recv())
        if message["parent_header"].get("msg_id") == header["msg_id"]:
            seen.append(message)
    return seen


@pytest.fixture(scope="module")
def kernel(lab):
    response = api("POST", "/api/kernels", json={"name": "python3"})
    assert response.status_code == 201
    return response.json()


def test_the_kernels_api_answers_as_jupyter_server(stack, kernel):
    assert set(kernel) == {"id", "name", "last_activity", "execution_state", "connections"}
    assert kernel["name"] == "python3" and kernel["connections"] == 0
    assert kernel["last_activity"].endswith("Z")
    assert api("GET", f"/api/kernels/{kernel['id']}").json()["id"] == kernel["id"]
    assert [k["id"] for k in api("GET", "/api/kernels").json()] == [kernel["id"]]

    created = api("POST", "/api/kernels")
    assert created.headers["Location"] == f"/user/{USER}/api/kernels/{created.json()['id']}"
    assert api("DELETE", f"/api/kernels/{created.json()['id']}").status_code == 204
    bad = api("POST", "/api/kernels", data=b"{not json")
    assert bad.status_code == 400 and bad.json() == {"message": "Invalid JSON in body of request", "reason": None}
    assert api("POST", "/api/kernels", json={"name": "julia-1.10"}).status_code == 500  # NoSuchKernel, uncaught
    gone = api("GET", f"/api/kernels/{created.json()['id']}")
    assert gone.status_code == 404
    assert gone.json() == {"message": f"Kernel does not exist: {created.json()['id']}", "reason": None}


def test_a_wrong_or_missing_token_is_forbidden(stack, kernel):
    for token in ("wrong", None):
        response = api("GET", f"/api/kernels/{kernel['id']}", token=token)
        assert response.status_code == 403 and response.json() == {"message": "Forbidden", "reason": None}
    assert requests.get(f"https://{HUB}/user/{USER}/api/kernels?token={TOKEN}", timeout=10).status_code == 200
    assert requests.get(f"https://{HUB}/user/{USER}/api/kernels?token=wrong", timeout=10).status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        channels(kernel["id"], "s", token="wrong")
    assert refused.value.status_code == 403 and b"403 : Forbidden" in refused.value.resp_body


def test_without_websocket_forwarding_the_kernel_channel_gets_tornados_400(stack, kernel):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        channels(kernel["id"], "s")
    assert refused.value.status_code == 400
    assert refused.value.resp_body == b'Can "Upgrade" only to "WebSocket".'


def test_an_unknown_kernel_is_404_before_the_upgrade_is_looked_at(stack, kernel):
    unknown = str(uuid.uuid4())
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        channels(unknown, "s")
    assert refused.value.status_code == 404 and f"Kernel does not exist: {unknown}".encode() in refused.value.resp_body


def test_a_user_without_a_server_gets_what_jupyterhub_answers(stack, lab):
    path = "/user/nobody/api/kernels"
    response = requests.get(f"https://{HUB}{path}?token={TOKEN}", timeout=10, allow_redirects=False)
    assert response.status_code == 302 and response.headers["Location"] == f"/hub{path}?token={TOKEN}"
    response = requests.get(f"https://{HUB}/hub{path}", timeout=10, allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/hub/login?next=%2Fhub%2Fuser%2Fnobody%2Fapi%2Fkernels"
    assert requests.post(f"https://{HUB}{path}", timeout=10).status_code == 405  # PrefixRedirectHandler: GET only
    response = requests.post(f"https://{HUB}/hub{path}", timeout=10)
    assert response.status_code == 424
    assert response.json()["message"] == (f"JupyterHub server no longer running at {path}."
                                          f" Restart the server at https://{HUB}/hub/spawn/nobody")
    with pytest.raises(websocket.WebSocketException, match="Redirect limit exhausted"):
        channels(str(uuid.uuid4()), "s", user="nobody")  # the handshake got the same 302, not a 101


def test_with_websocket_forwarding_a_cell_runs_and_its_output_comes_back(stack, lab, kernel):
    # as the product's values: the default 60 s read timeout is a tenth of a real second at the stack's pace
    lab.annotate_hub(**{"nginx.org/websocket-services": "proxy-public", "nginx.org/proxy-read-timeout": "3600s"})
    session = uuid.uuid4().hex
    ws = eventually(lambda: _connect(kernel["id"], session))
    before = stack.clock.time()
    sent = execute(ws, "print(6*7)", session)
    seen = replies_to(ws, sent)
    ws.close()
    types = [(m["channel"], m["msg_type"]) for m in seen]
    assert types[:2] == [("iopub", "status"), ("iopub", "execute_input")] and types[-1] == ("iopub", "status")
    stream = next(m for m in seen if m["msg_type"] == "stream")
    assert stream["content"] == {"name": "stdout", "text": "42\n"}
    reply = next(m for m in seen if m["msg_type"] == "execute_reply")
    assert reply["channel"] == "shell" and reply["content"]["status"] == "ok"
    for message in seen:
        assert message["parent_header"] == sent and message["header"]["version"] == "5.3"
        date = calendar.timegm(time.strptime(message["header"]["date"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert before - 1 <= date <= stack.clock.time() + 1  # the stack's clock, not the machine's


def test_the_websocket_answers_pings_echoes_a_close_and_drops_a_message_that_is_not_json(stack, lab, kernel):
    ws = channels(kernel["id"], uuid.uuid4().hex)
    ws.ping(b"p")
    assert ws.recv_data_frame(control_frame=True)[1].data == b"p"
    ws.send_close(status=4001)
    frame = ws.recv_data_frame(control_frame=True)[1]
    assert frame.opcode == websocket.ABNF.OPCODE_CLOSE and frame.data[:2] == (4001).to_bytes(2, "big")

    ws = channels(kernel["id"], uuid.uuid4().hex)
    ws.send("not json")  # on_message raises: tornado aborts the connection without a close frame
    ws.settimeout(2)  # well within the read timeout (3600 s: 6 real seconds), so it is the server that closed
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
        ws.recv()


def _connect(kernel_id, session):
    try:
        return channels(kernel_id, session)
    except websocket.WebSocketBadStatusException:
        return None


def test_messages_sent_while_disconnected_are_replayed_to_the_same_session_only(stack, lab, kernel):
    session = uuid.uuid4().hex
    ws = channels(kernel["id"], session)
    sent = execute(ws, "import time\ntime.sleep(1)\nprint('finished offline')", session)
    ws.close()
    eventually(lambda: api("GET", f"/api/kernels/{kernel['id']}").json()["execution_state"] == "idle")
    assert api("GET", f"/api/kernels/{kernel['id']}").json()["connections"] == 0

    again = channels(kernel["id"], session)
    seen = replies_to(again, sent)
    again.close()
    assert {"name": "stdout", "text": "finished offline\n"} in [m["content"] for m in seen]
    assert next(m for m in seen if m["msg_type"] == "execute_reply")["content"]["status"] == "ok"

    ws = channels(kernel["id"], session)
    sent = execute(ws, "print('for nobody')", session)
    ws.close()
    eventually(lambda: api("GET", f"/api/kernels/{kernel['id']}").json()["execution_state"] == "idle")
    other = channels(kernel["id"], uuid.uuid4().hex)  # another session: the buffer is discarded
    info = {"msg_id": uuid.uuid4().hex, "msg_type": "kernel_info_request", "username": "student",
            "session": "other", "date": "2026-12-07T08:00:00Z", "version": "5.3"}
    other.send(json.dumps({"header": info, "parent_header": {}, "metadata": {}, "content": {}, "channel": "shell"}))
    received = []
    while not received or received[-1]["msg_type"] != "kernel_info_reply":
        received.append(json.loads(other.recv()))
    other.close()
    assert received[-1]["content"]["protocol_version"] == "5.3"
    assert not [m for m in received if m["parent_header"].get("msg_id") == sent["msg_id"]]


def test_a_quiet_websocket_lasts_as_long_as_the_proxy_read_timeout(stack, lab, kernel):
    session = uuid.uuid4().hex
    ws = eventually(lambda: (w := channels(kernel["id"], session)) and _still_open_after(stack, w, 600) and w)
    assert any(m["msg_type"] == "stream" for m in replies_to(ws, execute(ws, "print('still here')", session)))
    ws.close()

    lab.annotate_hub(**{"nginx.org/proxy-read-timeout": "30s"})
    ws = eventually(lambda: (w := channels(kernel["id"], session)) and not _still_open_after(stack, w, 31) and w)
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
        ws.recv()  # nginx closed both sides after 30 s without a byte either way
    lab.annotate_hub(**{"nginx.org/proxy-read-timeout": "3600s"})


def _still_open_after(stack, ws, seconds):
    """Whether ``ws`` still relays after ``seconds`` of simulated quiet: a ping gets its pong."""
    stack.clock.advance(seconds)
    time.sleep(0.2)
    try:
        ws.ping(b"here?")
        return ws.recv_data_frame(control_frame=True)[1].data == b"here?"
    except (websocket.WebSocketException, ConnectionError, OSError):
        return False


def test_a_server_whose_process_has_exited_is_503_until_the_hub_notices(stack, lab):
    lab.start_server(user="exited", token="t")
    lab.store.set_status("v1", "Pod", "binderhub", "jupyter-exited", {
        "phase": "Succeeded", "conditions": [{"type": "Ready", "status": "False", "reason": "PodCompleted"}]})
    response = requests.get(f"https://{HUB}/user/exited/api/kernels?token=t", timeout=10)
    assert response.status_code == 503 and b"Your server appears to be down." in response.content


def test_shutdown_ends_the_server_and_the_hub_then_answers_for_it(stack, lab, kernel):
    ws = channels(kernel["id"], uuid.uuid4().hex)
    since = lab.store.resource_version
    assert api("POST", "/api/shutdown").status_code == 200
    ws.settimeout(2)
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
        ws.recv()  # the server's process is gone, and its connections with it

    eventually(lambda: lab.get("pod", f"jupyter-{USER}") is None)  # the hub's poll 30 s later: kubespawner deletes
    changes = [(e.type, (e.obj.get("status") or {}).get("phase")) for e in lab.store.events_after(since, 1)
               if e.key == ("", "pods") and e.obj["metadata"]["name"] == f"jupyter-{USER}"]
    assert changes == [("MODIFIED", "Succeeded"), ("DELETED", "Succeeded")]
    assert api("GET", "/api/kernels").status_code == 302
    assert api("POST", "/api/kernels").status_code == 405
