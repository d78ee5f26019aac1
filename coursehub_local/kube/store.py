"""In-memory object store: resourceVersions, an event log for watches, and delete semantics.

Every committed change bumps one cluster-wide resourceVersion and appends one
event to a bounded log; watches (HTTP or in-process subscribers) read the log
from the resourceVersion they start at, so no change is missed between a list
and the following watch.
"""
from __future__ import annotations

import collections
import copy
import datetime
import random
import string
import threading
import uuid
from typing import Callable

from . import lifecycle, node_ports
from .catalogue import Catalogue, ResourceType
from .defaults import apply_defaults
from .errors import ApiError, already_exists, bad_request, conflict, not_found
from .events import Event, EventLog
from .validation import validate

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def now_iso() -> str:
    """Current time in the RFC 3339 form Kubernetes uses."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ObjectStore:
    """Objects by (group, plural) then (namespace, name); thread-safe."""

    def __init__(self, catalogue: Catalogue | None = None, namespace_finalize_delay: float = 0.2,
                 log_size: int = 20000) -> None:
        self.catalogue = catalogue or Catalogue()
        self.namespace_finalize_delay = namespace_finalize_delay
        self._lock = threading.RLock()
        self.lock = self._lock  # held across read-modify-write (patches) by the REST layer
        self._changed = threading.Condition(self._lock)
        self._objects: dict[tuple[str, str], dict[tuple[str, str], dict]] = collections.defaultdict(dict)
        self._rv = 0
        self.events = EventLog(self._changed, log_size)
        self._timers: list[threading.Timer] = []
        namespaces = self.resource_type("v1", "Namespace")
        for name in SYSTEM_NAMESPACES:
            self.create(namespaces, {"metadata": {"name": name}})

    # -- lookups ---------------------------------------------------------------
    def resource_type(self, api_version: str, kind: str) -> ResourceType:
        """The served type for ``apiVersion``/``kind``; 404 if unknown."""
        rtype = self.catalogue.by_kind(api_version, kind)
        if rtype is None:
            raise not_found(kind.lower(), api_version, kind)
        return rtype

    def _bucket(self, rtype: ResourceType) -> dict[tuple[str, str], dict]:
        return self._objects[rtype.key]

    def _scope(self, rtype: ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rtype.namespaced else ""

    def present(self, rtype: ResourceType, obj: dict) -> dict:
        """A copy of a stored object as the API shows it (with its apiVersion and kind)."""
        shown = copy.deepcopy(obj)
        shown["apiVersion"], shown["kind"] = rtype.api_version, rtype.kind
        return shown

    @property
    def resource_version(self) -> int:
        """The latest committed resourceVersion."""
        with self._lock:
            return self._rv

    def get(self, rtype: ResourceType, namespace: str | None, name: str) -> dict:
        """A copy of one object; 404 if absent."""
        with self._lock:
            obj = self._bucket(rtype).get((self._scope(rtype, namespace), name))
            if obj is None:
                raise not_found(rtype.plural, rtype.group, name)
            return self.present(rtype, obj)

    def list(self, rtype: ResourceType, namespace: str | None = None,
             predicate: Callable[[dict], bool] | None = None) -> tuple[list[dict], int]:
        """Copies of matching objects (all namespaces when ``namespace`` is None) and the list RV."""
        with self._lock:
            items = [self.present(rtype, obj) for (ns, _), obj in sorted(self._bucket(rtype).items())
                     if (namespace is None or ns == namespace) and (predicate is None or predicate(obj))]
            return items, self._rv

    # -- writes ----------------------------------------------------------------
    def create(self, rtype: ResourceType, obj: dict, namespace: str | None = None,
               dry_run: bool = False, keep_status: bool = True) -> dict:
        """Store a new object; the server fills in uid, timestamps and defaults."""
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        if rtype.namespaced:
            if namespace and meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the namespace sent on the request")
            namespace = namespace or meta.get("namespace") or "default"
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        if not keep_status and "status" in rtype.subresources:
            obj.pop("status", None)
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        validate(rtype, obj)
        with self._lock:
            if rtype.namespaced:
                lifecycle.check_namespace_open(self, namespace)
            key = (self._scope(rtype, namespace), meta["name"])
            if key in self._bucket(rtype):
                raise already_exists(rtype.plural, rtype.group, meta["name"])
            for field in ("resourceVersion", "deletionTimestamp", "selfLink"):
                meta.pop(field, None)
            meta.update(uid=str(uuid.uuid4()), creationTimestamp=now_iso())
            if rtype.custom or "status" in rtype.subresources:
                meta["generation"] = 1
            apply_defaults(rtype, obj)
            self._allocate(rtype, obj, None)
            if dry_run:
                meta["resourceVersion"] = str(self._rv)
                return self.present(rtype, obj)
            self.commit(rtype, key, obj, None)
            lifecycle.after_write(self, rtype, obj)
            return self.present(rtype, obj)

    def update(self, rtype: ResourceType, obj: dict, namespace: str | None, name: str,
               subresource: str | None = None, dry_run: bool = False, keep_status: bool = True) -> dict:
        """Replace an object (or only its status); 409 if ``resourceVersion`` is stale."""
        obj = copy.deepcopy(obj)
        with self._lock:
            key = (self._scope(rtype, namespace), name)
            current = self._bucket(rtype).get(key)
            if current is None:
                raise not_found(rtype.plural, rtype.group, name)
            meta = obj.setdefault("metadata", {})
            if meta.get("name", name) != name:
                raise bad_request(f'the name of the object ({meta.get("name")}) does not match the name on the URL ({name})')
            wanted_rv = meta.get("resourceVersion")
            if wanted_rv and wanted_rv != current["metadata"]["resourceVersion"]:
                raise conflict(rtype.plural, rtype.group, name)
            if subresource == "status":
                new = copy.deepcopy(current)
                new["status"] = obj.get("status")
            else:
                new = obj
                if not keep_status and "status" in rtype.subresources:
                    new["status"] = copy.deepcopy(current.get("status"))
            if new.get("status") is None:
                new.pop("status", None)
            lifecycle.carry_over(rtype, current, new)
            new["apiVersion"], new["kind"] = rtype.api_version, rtype.kind
            validate(rtype, new)
            apply_defaults(rtype, new)
            self._allocate(rtype, new, current)
            if "generation" in current["metadata"] and _spec_of(new) != _spec_of(current):
                new["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
            if _comparable(new) == _comparable(current):
                return self.present(rtype, current)
            if dry_run:
                return self.present(rtype, new)
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers") \
                    and rtype.kind != "Namespace":
                self.remove(rtype, key, "Background")
                return self.present(rtype, new)
            self.commit(rtype, key, new, current)
            lifecycle.after_write(self, rtype, new)
            return self.present(rtype, new)

    def _allocate(self, rtype: ResourceType, obj: dict, current: dict | None) -> None:
        """The values kube-apiserver allocates in the write itself (a Service's NodePorts)."""
        if rtype.kind == "Service" and not rtype.group:
            node_ports.allocate(obj, current, self._bucket(rtype).values())

    def delete(self, rtype: ResourceType, namespace: str | None, name: str, dry_run: bool = False,
               propagation: str | None = None, preconditions: dict | None = None) -> tuple[dict, bool]:
        """Delete (or mark for deletion when finalizers remain); returns (object, gone now)."""
        with self._lock:
            key = (self._scope(rtype, namespace), name)
            current = self._bucket(rtype).get(key)
            if current is None:
                raise not_found(rtype.plural, rtype.group, name)
            preconditions = preconditions or {}
            for field in ("uid", "resourceVersion"):
                if preconditions.get(field) and preconditions[field] != current["metadata"].get(field):
                    raise conflict(rtype.plural, rtype.group, name, f"Precondition failed: {field} does not match")
            if dry_run:
                return self.present(rtype, current), False
            if rtype.kind == "Namespace" and not rtype.group:
                return lifecycle.start_namespace_termination(self, rtype, key, current), False
            if current["metadata"].get("finalizers"):
                if not current["metadata"].get("deletionTimestamp"):
                    marked = copy.deepcopy(current)
                    marked["metadata"]["deletionTimestamp"] = now_iso()
                    marked["metadata"]["deletionGracePeriodSeconds"] = 0
                    self.commit(rtype, key, marked, current)
                    current = marked
                return self.present(rtype, current), False
            return self.present(rtype, self.remove(rtype, key, propagation or "Background")), True

    # -- conveniences for in-process controllers and tests ------------------------
    def get_object(self, api_version: str, kind: str, namespace: str | None, name: str) -> dict:
        """``get`` by apiVersion/kind."""
        return self.get(self.resource_type(api_version, kind), namespace, name)

    def put_object(self, obj: dict) -> dict:
        """Create ``obj`` or replace the stored one (status included), by its apiVersion/kind."""
        rtype = self.resource_type(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        with self._lock:
            try:
                current = self.get(rtype, meta.get("namespace"), meta["name"])
            except ApiError as exc:
                if exc.code != 404:
                    raise
                return self.create(rtype, obj)
            merged = dict(obj, metadata=dict(meta, resourceVersion=current["metadata"]["resourceVersion"]))
            return self.update(rtype, merged, meta.get("namespace"), meta["name"])

    def set_status(self, api_version: str, kind: str, namespace: str | None, name: str, status: dict) -> dict:
        """Replace an object's ``status`` (what a controller does through ``/status``)."""
        rtype = self.resource_type(api_version, kind)
        return self.update(rtype, {"status": status}, namespace, name, subresource="status")

    # -- what lifecycle reacts with (callers hold ``lock``) ----------------------
    def stored(self, rkey: tuple[str, str], okey: tuple[str, str]) -> dict | None:
        """The stored object itself (not a copy) of type ``rkey`` under (namespace, name), or None."""
        return self._objects.get(rkey, {}).get(okey)

    def keys_of(self, rkey: tuple[str, str]) -> list[tuple[str, str]]:
        """The (namespace, name) of every stored object of type ``rkey``."""
        return list(self._objects.get(rkey, {}))

    def stored_items(self) -> list[tuple[tuple[str, str], tuple[str, str], dict]]:
        """(type key, (namespace, name), stored object) of every object, a snapshot of the store's keys."""
        return [(rkey, okey, obj) for rkey, bucket in self._objects.items() for okey, obj in bucket.items()]

    def remove(self, rtype: ResourceType, key: tuple[str, str], propagation: str) -> dict:
        """Remove a stored object now (a DELETED event), then collect what depended on it; returns it."""
        obj = self._bucket(rtype).pop(key)
        self._rv += 1
        gone_obj = copy.deepcopy(obj)
        gone_obj["metadata"]["resourceVersion"] = str(self._rv)
        self.events.append(Event(self._rv, "DELETED", rtype.key, gone_obj, obj))
        lifecycle.after_delete(self, rtype, gone_obj, propagation)
        return gone_obj

    def commit(self, rtype: ResourceType, key: tuple[str, str], obj: dict, old: dict | None) -> None:
        """Store ``obj`` under the next resourceVersion (an ADDED or MODIFIED event)."""
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        self._bucket(rtype)[key] = obj
        self.events.append(Event(self._rv, "ADDED" if old is None else "MODIFIED", rtype.key,
                                 copy.deepcopy(obj), old))

    def call_later(self, delay: float, action: Callable[[], None]) -> None:
        """Run ``action`` on a timer thread after ``delay`` s, unless ``close`` comes first."""
        timer = threading.Timer(delay, action)
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    # -- events -----------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once ``close`` ran."""
        return self.events.closed

    def events_after(self, rv: int, timeout: float) -> list[Event]:
        """Events newer than ``rv``, waiting up to ``timeout`` s; 410 if ``rv`` left the log."""
        return self.events.after(rv, timeout)

    def subscribe(self, callback: Callable[[Event], None], since: int | None = None) -> Callable[[], None]:
        """Call ``callback(event)`` on a background thread for every change; returns an unsubscribe function."""
        return self.events.subscribe(callback, self.resource_version if since is None else since)

    def wait_for_watch(self, api_version: str, kind: str, timeout: float = 10.0) -> bool:
        """Block until an HTTP watch on this kind is open (True) or ``timeout`` passes (False)."""
        return self.events.wait_for_watch(self.resource_type(api_version, kind).key, timeout)

    def close(self) -> None:
        """Stop timers and wake every waiting watch so it can finish."""
        with self._changed:
            for timer in self._timers:
                timer.cancel()
        self.events.close()


def _spec_of(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _comparable(obj: dict) -> dict:
    shown = {k: v for k, v in obj.items() if k != "metadata"}
    shown["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    return shown
