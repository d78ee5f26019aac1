"""HTTP request handling: authentication, routing, JSON answers and chunked watch streams."""
from __future__ import annotations

import json
import logging
import traceback
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from . import discovery, openapi, rest, tables, watch
from .errors import ApiError, status_body, unauthorized

log = logging.getLogger(__name__)


def _path_not_found() -> ApiError:
    """404 for a path no API serves."""
    return ApiError(404, "NotFound", "the server could not find the requested resource")


class KubeRequestHandler(BaseHTTPRequestHandler):
    """One connection; ``self.server.api`` is the owning ``KubeApiServer``."""

    protocol_version = "HTTP/1.1"
    server_version = "coursehub-local-kube"

    def setup(self) -> None:
        # The TLS handshake runs here, on the connection's own thread, so a slow
        # client cannot stall the accept loop.
        self.request.settimeout(10)
        self.request.do_handshake()
        self.request.settimeout(None)
        self.server.track(self.request)
        super().setup()

    def finish(self) -> None:
        super().finish()
        self.server.untrack(self.request)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - signature from the base class
        log.debug("%s " + format, self.address_string(), *args)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = lambda self: self._handle()

    def _handle(self) -> None:
        try:
            body = self._read_body()
            log.debug("%s %s [%s]", self.command, self.path, self.headers.get("Content-Type", ""))
            self._authenticate()
            self._route(body)
        except ApiError as exc:
            self._send_json(exc.code, exc.body())
        except OSError:  # the client went away (broken pipe, reset, TLS EOF): nothing to answer
            self.close_connection = True
        except Exception as exc:  # a server bug must still answer, as a 500 Status
            log.error("internal error on %s %s:\n%s", self.command, self.path, traceback.format_exc())
            self._send_json(500, status_body(500, "InternalError", f"internal error: {exc}"))

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        verify = self.server.api.verify_token
        try:
            accepted = verify is None or verify(token)
        except Exception:  # a verifier that cannot parse a token rejects it
            log.debug("token verifier raised:\n%s", traceback.format_exc())
            accepted = False
        if not accepted:
            raise unauthorized()

    def _route(self, body: bytes) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        parts = [p for p in url.path.split("/") if p]
        catalogue, accept = self.server.api.store.catalogue, self.headers.get("Accept", "")
        if url.path in ("/healthz", "/livez", "/readyz"):
            return self._send(200, b"ok", "text/plain")
        if parts == ["version"]:
            return self._send_json(200, discovery.version_info(self.server.api.kubernetes_version))
        if parts[:2] == ["openapi", "v3"]:
            return self._openapi(parts[2:])
        if parts in (["api"], ["apis"]):
            if discovery.wants_aggregated(accept):
                doc = discovery.aggregated(catalogue, legacy=parts == ["api"])
                return self._send_json(200, doc, discovery.AGGREGATED_V2)
            if parts == ["api"]:
                return self._send_json(200, discovery.api_versions(self.server.api.endpoint.split("//")[1]))
            return self._send_json(200, discovery.api_group_list(catalogue))
        if len(parts) >= 2 and parts[0] == "api":
            group, version, rest_parts = "", parts[1], parts[2:]
        elif len(parts) >= 3 and parts[0] == "apis":
            group, version, rest_parts = parts[1], parts[2], parts[3:]
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(catalogue, parts[1])
            return self._send_json(200, doc) if doc else self._send_json(404, _path_not_found().body())
        else:
            raise _path_not_found()
        if not rest_parts:
            doc = discovery.api_resource_list(catalogue, group, version)
            return self._send_json(200, doc) if doc else self._send_json(404, _path_not_found().body())
        return self._resource(group, version, rest_parts, query, body)

    def _openapi(self, parts: list[str]) -> None:
        """``/openapi/v3`` and ``/openapi/v3/api/v1`` or ``/openapi/v3/apis/<group>/<version>``."""
        catalogue = self.server.api.store.catalogue
        if not parts:
            return self._send_json(200, openapi.root_document(catalogue))
        doc = None
        if parts[0] == "api" and len(parts) == 2:
            doc = openapi.group_version_document(catalogue, "", parts[1])
        elif parts[0] == "apis" and len(parts) == 3:
            doc = openapi.group_version_document(catalogue, parts[1], parts[2])
        if doc is None:
            raise _path_not_found()
        self._send_json(200, doc)

    def _resource(self, group: str, version: str, parts: list[str], query: dict, body: bytes) -> None:
        namespace = None
        if parts[0] == "namespaces" and len(parts) >= 3 and not (len(parts) == 3 and parts[2] in ("status", "finalize")):
            namespace, parts = parts[1], parts[2:]
        if len(parts) > 3:
            raise _path_not_found()
        rtype = self.server.api.store.catalogue.by_path(group, version, parts[0])
        if rtype is None or (namespace is not None and not rtype.namespaced):
            raise _path_not_found()
        req = rest.ResourceRequest(
            method=self.command, rtype=rtype, namespace=namespace,
            name=parts[1] if len(parts) > 1 else None, subresource=parts[2] if len(parts) > 2 else None,
            query=query, content_type=self.headers.get("Content-Type", ""), body=body,
            accept=self.headers.get("Accept", ""))
        if req.name is not None and rtype.namespaced and namespace is None:
            raise _path_not_found()
        if self.command == "GET" and req.name is None and req.flag("watch"):
            return self._watch(req)
        code, doc = rest.dispatch(self.server.api.store, req)
        if self.command == "GET" and code == 200 and not req.subresource and tables.wants_table(req.accept):
            return self._send_json(code, tables.as_table(rtype, doc), tables.TABLE_CONTENT_TYPE)
        self._send_json(code, doc)

    def _watch(self, req: rest.ResourceRequest) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        api = self.server.api

        as_table = tables.wants_table(req.accept)
        sent_columns = []

        def send(event: dict) -> None:
            if as_table and event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                # Like kube-apiserver: column definitions ride on the first event only.
                table = tables.as_table(req.rtype, event["object"])
                table["columnDefinitions"] = [] if sent_columns else table["columnDefinitions"]
                sent_columns.append(True)
                event = dict(event, object=table)
            data = json.dumps(event).encode() + b"\n"
            self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        watch.WatchStream(api.store, req, send).run(lambda: api.stopping)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _send_json(self, code: int, doc: dict, content_type: str = "application/json") -> None:
        self._send(code, json.dumps(doc).encode(), content_type)

    def _send(self, code: int, data: bytes, content_type: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.write(data)
