"""The real cert-manager chart: Deployments named as the workflow expects, CRDs only on request."""
from chart_objects import find, names

CRDS = {
    "certificates.cert-manager.io", "issuers.cert-manager.io", "clusterissuers.cert-manager.io",
    "certificaterequests.cert-manager.io", "orders.acme.cert-manager.io", "challenges.acme.cert-manager.io",
}


def crd_names(objects):
    return {name for kind, name in names(objects) if kind == "CustomResourceDefinition"}


def test_three_deployments_in_the_release_namespace(helm):
    objects = helm.render("cert-manager", release="cert-manager", namespace="cert-manager")
    for name in ("cert-manager", "cert-manager-cainjector", "cert-manager-webhook"):
        assert find(objects, "Deployment", name)["metadata"]["namespace"] == "cert-manager"


def test_no_crds_by_default(helm):
    assert crd_names(helm.render("cert-manager", release="cert-manager")) == set()


def test_crds_enabled_installs_the_six_v1_crds(helm):
    objects = helm.render("cert-manager", "--set", "crds.enabled=true", release="cert-manager")
    assert crd_names(objects) == CRDS
    for name in CRDS:
        crd = find(objects, "CustomResourceDefinition", name)
        assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1" and version["served"] and version["storage"]
        assert version["subresources"] == {"status": {}}
        assert version["schema"]["openAPIV3Schema"]["type"] == "object"
    assert find(objects, "CustomResourceDefinition", "clusterissuers.cert-manager.io")["spec"]["scope"] == "Cluster"
    assert find(objects, "CustomResourceDefinition", "issuers.cert-manager.io")["spec"]["scope"] == "Namespaced"


def test_a_misspelt_crds_key_is_rejected_like_the_real_schema_does(helm):
    assert "enable" in helm.fails("cert-manager", "--set", "crds.enable=true")
