"""Staging and production hubs on the stack: a staging certificate verifies only against the staging roots.

As with Let's Encrypt, whose staging roots no trust store holds: the stack's default bundle (``ca_bundle``,
``SSL_CERT_FILE``) has only its production root, and ``acme_staging_roots`` the staging one, which the
provisioning workflow's HTTPS check uses (``ACME_STAGING_ROOTS``) for a request with ``acme_staging``.
"""
import json
import uuid

import pytest

from chalicelib import hub_records, https_check
from tests.local.test_provision_workflow import hub_request, provision


def provisioned(stack, staging):
    course = f"a{uuid.uuid4().hex[:6]}"
    described, _ = provision(stack, f"hub-{course}", {**hub_request(stack, course), "acme_staging": staging})
    assert described["status"] == "SUCCEEDED", described.get("cause")
    record = hub_records.get(stack.client("dynamodb"), stack.seeded.environment["HUB_TABLE_NAME"], f"hub-{course}")
    assert record["steps"]["Verify the hub over HTTPS"]["outcome"] == "SUCCEEDED"
    return [record["urls"][k].removeprefix("https://") for k in ("binder", "hub")]


def test_the_stack_lists_its_staging_roots_apart_from_the_default_bundle(stack):
    details = stack.details()
    staging = open(details["acme_staging_roots"], "rb").read()
    assert staging == stack.acme_ca.staging_ca_pem and staging not in open(details["ca_bundle"], "rb").read()
    assert json.loads(json.dumps(details))["acme_staging_roots"]  # in .coursehub/local.json


def test_a_staging_hub_verifies_against_the_staging_roots_and_is_rejected_against_the_default_bundle(stack):
    binder, hub = provisioned(stack, staging=True)  # the workflow's own check used ACME_STAGING_ROOTS
    verified = https_check.verify_hub(binder, hub, cafile=stack.details()["acme_staging_roots"])
    assert verified["jupyterhub_version"]
    with pytest.raises(https_check.CertificateRejected, match="unable to get local issuer certificate"):
        https_check.verify_hub(binder, hub)  # what "Verify the hub over HTTPS" did before: the default store


def test_a_production_hub_verifies_against_the_default_bundle_and_not_the_staging_roots(stack):
    binder, hub = provisioned(stack, staging=False)
    assert https_check.verify_hub(binder, hub)["jupyterhub_version"]
    with pytest.raises(https_check.CertificateRejected):
        https_check.verify_hub(binder, hub, cafile=stack.details()["acme_staging_roots"])
