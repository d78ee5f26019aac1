"""Events the ingress controller records on the objects it judges, as client-go's event recorder writes them."""
from __future__ import annotations

import logging
import secrets

from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.store import now_iso

log = logging.getLogger(__name__)
COMPONENT = "nginx-ingress-controller"  # cmd/nginx-ingress/main.go: EventSource{Component: ...}


def record_warning(store, obj: dict, reason: str, message: str) -> None:
    """A core/v1 Warning Event about ``obj`` (in its namespace), as ``recorder.Event(obj, Warning, reason, message)``."""
    meta, now = obj["metadata"], now_iso()
    event = {
        "apiVersion": "v1", "kind": "Event",
        # client-go names an Event "<object name>.<hex timestamp>"; a random suffix is as unique here
        "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": meta.get("namespace", "default")},
        "involvedObject": {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "namespace": meta.get("namespace"),
                           "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion")},
        "reason": reason, "message": message, "type": "Warning", "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": COMPONENT}, "reportingComponent": COMPONENT, "reportingInstance": "",
    }
    try:
        store.put_object(event)
    except ApiError as error:
        log.debug("event on %s %s not recorded: %s", obj["kind"], meta["name"], error)
