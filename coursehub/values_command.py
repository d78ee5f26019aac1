"""``coursehub values``: print the exact values the workflow installs for a request, secrets as placeholders."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import ValidationError

from chalicelib import hub_names, values
from chalicelib.hub_request import HubRequest, Limits

CHARTS = ("ingress", "cert-manager", "issuer", "binderhub")
# Secret ARNs a request leaves out come from the stage at provisioning time; values never need them.
_ARN_FIELDS = ("dockerhub_secret_arn", "github_token_secret_arn", "slack_webhook_secret_arn")
_STAGE_DEFAULT = "arn:aws:secretsmanager:us-east-1:000000000000:secret:coursehub/stage-default"


def render(request: HubRequest, chart: str) -> dict:
    """The values (or manifest, for the issuer) of one chart."""
    if chart == "ingress":  # the stage and hub id are the deployment's and the API's; shown as placeholders
        return values.ingress_values(request, hub_names.tags("STAGE", "HUB-ID", request.course_id))
    if chart == "cert-manager":
        return values.cert_manager_values(request)
    if chart == "issuer":
        return values.issuer(request, namespace="binderhub")
    return values.binderhub_values(request, values.ChartSecrets.placeholders(request))


def run(path: str, chart: str) -> int:
    """Validate the request file and print the chart's values as JSON; 2 with the reasons if it is invalid."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        print(f"coursehub values: cannot read {path}: {error}", file=sys.stderr)
        return 2
    try:
        request = HubRequest.parse(data, Limits(), {name: _STAGE_DEFAULT for name in _ARN_FIELDS})
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "request"
            print(f"coursehub values: {field}: {problem['msg']}", file=sys.stderr)
        return 2
    print(json.dumps(render(request, chart), indent=2, sort_keys=True))
    return 0
