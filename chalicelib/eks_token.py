"""EKS bearer tokens (what ``aws eks get-token`` prints), made from an STS client.

The token is ``k8s-aws-v1.`` + unpadded base64url of a presigned STS
GetCallerIdentity URL that also signs the header ``x-k8s-aws-id: <cluster>``,
as the AWS CLI does (awscli/customizations/eks/get_token.py). The cluster name
travels in the request params and context rather than in a closure, so the
handlers are registered once per client (by unique id) and concurrent calls for
different clusters on one client do not mix.
"""
from __future__ import annotations

import base64

TOKEN_PREFIX = "k8s-aws-v1."
CLUSTER_ID_HEADER = "x-k8s-aws-id"
# Seconds the presigned URL is valid for; EKS itself accepts a token for 15 minutes at most.
URL_EXPIRES_IN = 60
_HANDLER_ID = "coursehub-eks-token"


def _retrieve_cluster_id(params, context, **kwargs):
    """Move the cluster name out of the API params (STS does not know it) into the request context."""
    if CLUSTER_ID_HEADER in params:
        context[CLUSTER_ID_HEADER] = params.pop(CLUSTER_ID_HEADER)


def _inject_cluster_id_header(request, **kwargs):
    """Add the cluster name header before signing, so the signature covers it."""
    if CLUSTER_ID_HEADER in request.context:
        request.headers[CLUSTER_ID_HEADER] = request.context[CLUSTER_ID_HEADER]


def get_token(sts_client, cluster_name: str) -> str:
    """A bearer token for the EKS cluster ``cluster_name``, signed with ``sts_client``'s credentials."""
    events = sts_client.meta.events
    # Registering with a unique id is idempotent: repeated calls add no handlers.
    events.register("provide-client-params.sts.GetCallerIdentity", _retrieve_cluster_id,
                    unique_id=f"{_HANDLER_ID}-params")
    events.register("before-sign.sts.GetCallerIdentity", _inject_cluster_id_header,
                    unique_id=f"{_HANDLER_ID}-header")
    url = sts_client.generate_presigned_url(
        "get_caller_identity", Params={CLUSTER_ID_HEADER: cluster_name},
        ExpiresIn=URL_EXPIRES_IN, HttpMethod="GET",
    )
    encoded = base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")
    return TOKEN_PREFIX + encoded
