"""What ``coursehub values`` prints for every example request renders with the real charts, with helm 3 and 4."""
import json
import subprocess
import sys
from datetime import date, timedelta

import pytest
from chart_objects import names

from coursehub_local.stack import ROOT

EXAMPLES = sorted((ROOT / "examples").glob("*.json"))
CHARTS = {"ingress": "nginx-ingress", "cert-manager": "cert-manager", "binderhub": "binderhub"}


@pytest.fixture(scope="module", params=EXAMPLES, ids=[e.stem for e in EXAMPLES])
def printed(request, tmp_path_factory):
    """The values ``coursehub values`` prints for one example, per chart, as files helm reads."""
    data = json.loads(request.param.read_text())
    data["term_end"] = (date.today() + timedelta(days=90)).isoformat()  # the examples' dates age
    folder = tmp_path_factory.mktemp(request.param.stem)
    (folder / "request.json").write_text(json.dumps(data))
    files = {}
    for option, chart in CHARTS.items():
        result = subprocess.run([sys.executable, "-m", "coursehub.cli", "values", str(folder / "request.json"),
                                 "--chart", option], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        files[chart] = folder / f"{chart}.json"
        files[chart].write_text(result.stdout)
    return files


@pytest.mark.parametrize("chart", CHARTS.values())
def test_the_printed_values_render_with_the_pinned_real_chart(helm, printed, chart):
    objects = helm.render(chart, "--values", str(printed[chart]), release=chart,
                          namespace={"nginx-ingress": "ingress"}.get(chart, chart))
    assert objects
    if chart == "binderhub":
        assert {("Ingress", "binderhub"), ("Ingress", "jupyterhub"), ("PersistentVolumeClaim", "hub-db-dir")} \
            <= set(names(objects))
    if chart == "cert-manager":
        assert sum(kind == "CustomResourceDefinition" for kind, _ in names(objects)) == 6
