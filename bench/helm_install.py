"""Time of a helm install of the real BinderHub chart (pinned package) into a local EKS cluster, against a ``helm template`` of it.

Both run the same helm binary on the same chart and values in one run; the
ratio is what the local Kubernetes API adds to rendering.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.eks_token import get_token  # noqa: E402
from chalicelib.kubeconfig import for_cluster, write_private  # noqa: E402
from coursehub_local.charts import chart_path  # noqa: E402
from coursehub_local.stack import LocalStack, StackConfig  # noqa: E402
from coursehub.tools import tool_path  # noqa: E402

VALUES = {"service": {"type": "ClusterIP"}, "jupyterhub": {"proxy": {"service": {"type": "ClusterIP"}}},
          "config": {"BinderHub": {"use_registry": False, "hub_url": "https://hub.binder.courses.example.edu"}}}
RUNS = 5


def kubeconfig(stack: LocalStack, name: str, folder: Path) -> str:
    cluster = stack.client("eks").describe_cluster(name=name)["cluster"]
    return write_private(for_cluster(cluster, get_token(stack.client("sts"), name)), str(folder))


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - started


def main() -> int:
    helm = str(tool_path("helm"))
    with LocalStack(StackConfig(time_scale=600)) as stack, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        eks = stack.client("eks")
        eks.create_cluster(name="bench", roleArn=stack.seeded.roles["eks-cluster"],
                           resourcesVpcConfig={"subnetIds": stack.seeded.subnet_ids})
        stack.clock.advance(stack.config.eks.cluster_create)
        while eks.describe_cluster(name="bench")["cluster"]["status"] != "ACTIVE":
            time.sleep(0.05)
        config = kubeconfig(stack, "bench", folder)
        values = folder / "values.json"
        values.write_text(json.dumps(VALUES))
        chart = str(chart_path("binderhub"))
        template = [timed([helm, "template", "hub", chart, "-f", str(values)]) for _ in range(RUNS)]
        install = []
        for run in range(RUNS):
            install.append(timed([helm, "install", f"hub{run}", chart, "-f", str(values), "--namespace",
                                  f"hub{run}", "--create-namespace", "--kubeconfig", str(config)]))
        t, i = statistics.median(template), statistics.median(install)
        print(f"helm template binderhub chart:    {t * 1000:7.1f} ms (median of {RUNS})")
        print(f"helm install  binderhub chart:    {i * 1000:7.1f} ms  ratio {i / t:5.2f} x template")
    return 0


if __name__ == "__main__":
    sys.exit(main())
