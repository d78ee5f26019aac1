"""Verify a hub over HTTPS as a student's browser would: DNS, a trusted certificate for the host, and 200s.

Uses the standard library with default verification, so the standard proxy and
CA settings (HTTPS_PROXY, SSL_CERT_FILE) apply as they do to any client. A hub
with a Let's Encrypt staging certificate chains to roots no trust store holds
(letsencrypt.org/docs/staging-environment): it is verified against those roots
alone (``cafile``), with the same checks otherwise.
"""
from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

from chalicelib.errors import CourseHubError

TIMEOUT_SECONDS = 10


class HubNotAnswering(CourseHubError):
    """The hub does not answer 200 yet (retry later)."""


class CertificateRejected(CourseHubError):
    """The served certificate does not verify for the host."""


def check(url: str, timeout: float = TIMEOUT_SECONDS, cafile: str | None = None) -> dict:
    """GET ``url``; return its status and JSON body, or raise a named error saying why not.

    ``cafile``: trust only the roots in that PEM file; None: the default trust store."""
    context = ssl.create_default_context(cafile=cafile)  # with a cafile, the default store is not loaded
    opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))
    try:
        with opener.open(url, timeout=timeout) as response:
            body = response.read(65536)
            status = response.status
    except urllib.error.HTTPError as error:
        raise HubNotAnswering(f"{url} answered HTTP {error.code}") from None
    except urllib.error.URLError as error:
        if isinstance(error.reason, ssl.SSLCertVerificationError):
            raise CertificateRejected(f"{url}: {error.reason.verify_message}") from None
        raise HubNotAnswering(f"{url} is not reachable: {error.reason}") from None
    except (TimeoutError, ConnectionError) as error:
        raise HubNotAnswering(f"{url} is not reachable: {type(error).__name__}") from None
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    return {"url": url, "status": status, "json": payload}


def verify_hub(binder_host: str, hub_host: str, timeout: float = TIMEOUT_SECONDS, cafile: str | None = None) -> dict:
    """BinderHub's /health and JupyterHub's /hub/api both answer 200 over HTTPS verified against ``cafile``
    (None: the default trust store)."""
    binder = check(f"https://{binder_host}/health", timeout, cafile)
    hub = check(f"https://{hub_host}/hub/api", timeout, cafile)
    return {"binder_url": f"https://{binder_host}", "hub_url": f"https://{hub_host}",
            "jupyterhub_version": (hub["json"] or {}).get("version")}
