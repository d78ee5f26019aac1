"""Jobs run their pod to completion on a Ready node, after a while on the stack's clock.

The real charts install hook Jobs that helm waits for: cert-manager's
``startupapicheck`` is a ``post-install`` hook (cert-manager
``deploy/charts/cert-manager/templates/startupapicheck-job.yaml``), and helm's
install returns only once the Job reports ``Complete`` (helm
``pkg/kube/client.go`` ``waitForJob``: a Job is done when its ``Complete``
condition is True, failed when ``Failed`` is). Without a Ready node no pod can
run, so the Job stays active and helm times out, as on a fresh node group.
The status written is the Job controller's (Kubernetes ``pkg/controller/job``:
``SuccessCriteriaMet`` then ``Complete`` since 1.31, ``succeeded``,
``startTime``/``completionTime``).
"""
from __future__ import annotations

import logging

from coursehub_local.cluster.nodes import NodeFollower
from coursehub_local.kube.errors import ApiError
from coursehub_local.kube.store import now_iso

log = logging.getLogger(__name__)
KEY = ("batch", "jobs")


class JobController(NodeFollower):
    """Plays the Job controller and the kubelet for Jobs: each completes ``job_complete`` s after it can run."""

    def nodes_changed(self) -> None:
        """Nodes came: Jobs that had nowhere to run start now."""
        if self.nodes.ready_nodes() == 0:
            return
        store = self.ctx.store
        for job in store.list(store.resource_type("batch/v1", "Job"))[0]:
            if not _finished(job):
                self._schedule(job)

    def _on_event(self, event) -> None:
        if event.key != KEY or event.type != "ADDED":
            return
        job = event.obj
        self._set(job, {"active": 1, "startTime": now_iso(), "ready": 0, "terminating": 0,
                        "uncountedTerminatedPods": {}})
        if self.nodes.ready_nodes() > 0:
            self._schedule(job)

    def _schedule(self, job: dict) -> None:
        namespace, name, uid = job["metadata"].get("namespace"), job["metadata"]["name"], job["metadata"].get("uid")

        def complete() -> None:
            try:
                current = self.ctx.store.get_object("batch/v1", "Job", namespace, name)
            except ApiError:
                return  # deleted meanwhile
            if current["metadata"].get("uid") != uid or _finished(current) or self.nodes.ready_nodes() == 0:
                return
            done = now_iso()
            succeeded = (current.get("spec") or {}).get("completions") or 1
            conditions = [{"type": kind, "status": "True", "reason": reason, "message": message,
                           "lastProbeTime": done, "lastTransitionTime": done}
                          for kind, reason, message in (
                              ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                              ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"))]
            status = dict(current.get("status") or {}, active=0, ready=0, succeeded=succeeded,
                          completionTime=done, conditions=conditions)
            status.setdefault("startTime", done)
            self._set(current, status)
        self.ctx.timeline.after(self.ctx.timings.job_complete, complete)

    def _set(self, job: dict, status: dict) -> None:
        try:
            self.ctx.store.set_status("batch/v1", "Job", job["metadata"].get("namespace"), job["metadata"]["name"],
                                      status)
        except ApiError as error:
            log.debug("status of Job %s not set: %s", job["metadata"]["name"], error)


def _finished(job: dict) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (job.get("status") or {}).get("conditions", []))
