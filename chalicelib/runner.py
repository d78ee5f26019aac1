"""The one place that runs helm and kubectl: argv lists, a minimal environment, named and scrubbed errors.

Only known transient failures are retried, at most twice and quickly; the state
machine's Retry does the rest. AWS CDK's kubectl handler retries only
"Broken pipe" (``kubectl-handler/helm/__init__.py``) and "i/o timeout"
(``kubectl-handler/apply/__init__.py``), each in its own copy of the loop;
here one list covers both tools.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from typing import Iterable

from chalicelib.errors import KubeCommandFailed, KubeNotFound, KubeTransientError, SettingsError

# Failures that say nothing about the request itself, only about the moment it was made.
TRANSIENT_MESSAGES = (
    # AWS CDK kubectl handler (helm: Broken pipe, apply: i/o timeout)
    "i/o timeout", "broken pipe",
    # Go net/http and TLS while the API endpoint or its load balancer is busy or not yet reachable
    "connection refused", "connection reset by peer", "tls handshake timeout", "unexpected eof",
    "http2: client connection lost", "net/http: request canceled", "context deadline exceeded",
    # k8s.io/apimachinery NewGenericServerResponse: 503, 504 and 429
    "the server is currently unable to handle the request",
    "the server was unable to return a response in the time allotted",
    "too many requests",
    # etcd behind the API server
    "etcdserver: request timed out", "etcdserver: leader changed",
    # a webhook (cert-manager's) or a CRD installed moments ago is not serving yet
    "no endpoints available for service", "ensure crds are installed first",
    # optimistic concurrency: the object changed between read and write
    "the object has been modified",
)
# What helm and kubectl print when the release or object does not exist.
NOT_FOUND_MESSAGES = ("release: not found", "(notfound)", "the server could not find the requested resource")
RETRY_DELAYS = (1.0, 3.0)  # seconds before the first and second retry
MAX_ERROR_CHARS = 4000
# Variables passed through when set: proxies and CA bundles the tools need to reach the API or a chart repo.
PASS_THROUGH = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                "SSL_CERT_FILE", "SSL_CERT_DIR", "TMPDIR")
_SECRET_PATTERNS = (
    re.compile(r"k8s-aws-v1\.[A-Za-z0-9_\-]*"),  # EKS bearer tokens, whole or cut off
    re.compile(r"(?i)(bearer\s+)[^\s\"',]+"),
    re.compile(r"(?i)(authorization\s*[:=]\s*)[^\r\n]+"),
    re.compile(r"(?i)(x-amz-(?:signature|credential|security-token)=)[^&\s\"']+"),
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,})"),
    re.compile(r"(?i)(\"?(?:password|passwd|token|secret|client-key-data|access_token)\"?\s*[:=]\s*)"
               r"(\"[^\"]*\"|[^\s,}]+)"),
)
_MIN_SECRET_CHARS = 4  # shorter literals would redact ordinary words


class Runner:
    """Runs helm and kubectl from ``bin_dir`` (``/opt`` layer layout or one flat folder) against one kubeconfig."""

    def __init__(self, bin_dir: str, kubeconfig_path: str, timeout: float, *, home: str | None = None,
                 retry_delays: Iterable[float] = RETRY_DELAYS, environ: dict | None = None):
        self.bin_dir = str(bin_dir)
        self.kubeconfig_path = str(kubeconfig_path)
        self.timeout = timeout
        self.retry_delays = tuple(retry_delays)
        self._environ = os.environ if environ is None else environ
        self._home = home
        self._owns_home = home is None
        self._secrets = kubeconfig_secrets(self.kubeconfig_path)

    @property
    def home(self) -> str:
        """Private (0700) folder for HOME, the tool caches and temporary files such as values files."""
        if self._home is None:
            self._home = tempfile.mkdtemp(prefix="coursehub-tools-")
        return self._home

    def close(self) -> None:
        """Remove the private home if this runner made it."""
        if self._owns_home and self._home:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def helm(self, *args, stdin: str | None = None, timeout: float | None = None, retry: bool = True,
             redact: Iterable[str] = ()) -> str:
        """Run helm; its stdout. ``retry=False`` for commands that must not run twice (upgrade, rollback)."""
        return self._run("helm", args, stdin, timeout, retry, redact)

    def kubectl(self, *args, stdin: str | None = None, timeout: float | None = None, retry: bool = True,
                redact: Iterable[str] = ()) -> str:
        """Run kubectl; its stdout."""
        return self._run("kubectl", args, stdin, timeout, retry, redact)

    def binary(self, tool: str) -> str:
        """Path of ``tool``: ``<bin_dir>/<tool>/<tool>`` (the kubectl layer under /opt) or ``<bin_dir>/<tool>``."""
        for candidate in (os.path.join(self.bin_dir, tool, tool), os.path.join(self.bin_dir, tool)):
            if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
                return candidate
        raise SettingsError(f"no executable {tool} in {self.bin_dir} (looked for {tool}/{tool} and {tool})")

    def environment(self) -> dict[str, str]:
        """Everything the tools see: no AWS credentials, no user config, caches in the private home."""
        home = self.home
        tool_dirs = [os.path.dirname(self.binary(tool)) for tool in ("helm", "kubectl") if self._has(tool)]
        env = {
            "PATH": os.pathsep.join(dict.fromkeys(tool_dirs + ["/usr/local/bin", "/usr/bin", "/bin"])),
            "HOME": home,
            "KUBECONFIG": self.kubeconfig_path,
            "KUBECACHEDIR": os.path.join(home, ".kube", "cache"),
            "HELM_CACHE_HOME": os.path.join(home, ".cache", "helm"),
            "HELM_CONFIG_HOME": os.path.join(home, ".config", "helm"),
            "HELM_DATA_HOME": os.path.join(home, ".local", "share", "helm"),
        }
        env.update({name: self._environ[name] for name in PASS_THROUGH if self._environ.get(name)})
        return env

    def _has(self, tool: str) -> bool:
        try:
            self.binary(tool)
            return True
        except SettingsError:
            return False

    def _run(self, tool, args, stdin, timeout, retry, redact) -> str:
        argv = [self.binary(tool), *(str(arg) for arg in args)]
        secrets = self._secrets + literal_secrets(redact)
        shown = scrub(" ".join([tool, *argv[1:]]), secrets)
        budget = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + budget
        delays = list(self.retry_delays) if retry else []
        while True:
            try:
                done = subprocess.run(argv, input=stdin, capture_output=True, text=True, encoding="utf-8",
                                      errors="replace", env=self.environment(), cwd=self.home,
                                      timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired as expired:
                stderr = scrub(_text(expired.stderr), secrets)
                raise KubeTransientError(_message(f"{shown}: no answer within {budget:g} s", stderr),
                                         command=shown, stderr=stderr) from None
            if done.returncode == 0:
                return done.stdout
            stderr = scrub(done.stderr.strip() or done.stdout.strip(), secrets)
            error = classify(shown, done.returncode, stderr)
            if isinstance(error, KubeTransientError) and delays and deadline - time.monotonic() > delays[0] + 1:
                time.sleep(delays.pop(0))
                continue
            raise error


def classify(command: str, returncode: int, stderr: str):
    """The named error for a failed command, from what it printed."""
    lowered = stderr.lower()
    if any(message in lowered for message in TRANSIENT_MESSAGES):
        kind = KubeTransientError
    elif any(message in lowered for message in NOT_FOUND_MESSAGES):
        kind = KubeNotFound
    else:
        kind = KubeCommandFailed
    return kind(_message(f"{command} failed (exit {returncode})", stderr), command=command,
                returncode=returncode, stderr=stderr)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without the given secret values (and their base64) nor anything shaped like a credential."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.re.groups else "") + "***", text)
    return text


def literal_secrets(values: Iterable[str]) -> list[str]:
    """Secret strings worth redacting, with their base64 forms (Secret objects carry values base64-encoded)."""
    out = []
    for value in values:
        if isinstance(value, str) and len(value) >= _MIN_SECRET_CHARS:
            out += [value, base64.b64encode(value.encode()).decode()]
    return out


def kubeconfig_secrets(path: str) -> list[str]:
    """The credentials in a kubeconfig (token, password, client key), to keep out of error messages."""
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError:
        return []
    try:
        users = json.loads(text).get("users") or []
        found = [user.get("user", {}).get(key) for user in users
                 for key in ("token", "password", "client-key-data")]
    except (ValueError, AttributeError):  # a YAML kubeconfig: take the values of those keys line by line
        found = re.findall(r"^\s*(?:token|password|client-key-data):\s*\"?([^\s\"]+)", text, re.MULTILINE)
    return literal_secrets(value for value in found if value)


def _text(output) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", errors="replace")
    return output or ""


def _message(head: str, stderr: str) -> str:
    if len(stderr) > MAX_ERROR_CHARS:  # helm and kubectl put the decisive line last
        stderr = "..." + stderr[-MAX_ERROR_CHARS:]
    return f"{head}: {stderr}" if stderr else head
