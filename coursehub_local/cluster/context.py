"""What every controller of one cluster shares."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from coursehub_local.clock import Clock
from coursehub_local.kube.server import KubeApiServer
from coursehub_local.kube.store import ObjectStore
from coursehub_local.timeline import Timeline


@dataclass(frozen=True)
class ControllerTimings:
    """Simulated seconds the cluster takes to react (typical figures)."""

    workload_ready: float = 45
    load_balancer_ready: float = 60
    elb_security_group_release: float = 60  # a deleted ELB holds its group that long (an estimate)
    health_check_resync: float = 300
    certificate_issue: float = 30
    volume_ready: float = 10
    job_complete: float = 20  # a small hook Job's pod: pull, start, run, exit (an estimate)


@dataclass
class ClusterContext:
    """One cluster: its moto record, its API server, the stack's clock and AWS clients."""

    name: str
    cluster: Any  # moto's EKS Cluster
    server: KubeApiServer
    clock: Clock
    timeline: Timeline
    client: Callable[[str], Any]  # service name -> boto3 client for the stack
    timings: ControllerTimings

    @property
    def store(self) -> ObjectStore:
        return self.server.store
