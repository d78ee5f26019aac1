"""F5's nginx-ingress chart (the real package): the names, port order and annotations the workflow relies on."""
from chart_objects import find, names, write_values


def test_controller_is_named_after_the_release_like_the_real_chart(helm):
    objects = helm.render("nginx-ingress", release="ingress")
    assert ("Deployment", "ingress-nginx-ingress-controller") in names(objects)
    assert ("Service", "ingress-nginx-ingress-controller") in names(objects)


def test_a_release_named_nginx_ingress_is_not_repeated_in_the_name(helm):
    objects = helm.render("nginx-ingress", release="nginx-ingress")
    find(objects, "Service", "nginx-ingress-controller")


def test_fullname_override_and_controller_name_change_the_names(helm):
    objects = helm.render("nginx-ingress", "--set", "fullnameOverride=edge", "--set", "controller.name=ctl")
    find(objects, "Deployment", "edge-ctl")
    find(objects, "Service", "edge-ctl")


def test_service_is_a_load_balancer_with_http_first_then_https(helm):
    service = find(helm.render("nginx-ingress", release="ingress"), "Service", "ingress-nginx-ingress-controller")
    assert service["spec"]["type"] == "LoadBalancer"
    ports = [(p["name"], p["port"]) for p in service["spec"]["ports"]]
    assert ports == [("http", 80), ("https", 443)]


def test_service_annotations_and_type_come_from_values(helm, tmp_path):
    annotations = {
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port": "traffic-port",
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-protocol": "HTTP",
        "service.beta.kubernetes.io/aws-load-balancer-healthcheck-path": "/nginx-health",
    }
    values = write_values(tmp_path, {"controller": {"service": {"type": "NodePort", "annotations": annotations}}})
    service = find(helm.render("nginx-ingress", "--values", values, release="ingress"),
                   "Service", "ingress-nginx-ingress-controller")
    assert service["metadata"]["annotations"] == annotations
    assert service["spec"]["type"] == "NodePort"
    assert [p["name"] for p in service["spec"]["ports"]] == ["http", "https"]


def test_ingress_class_is_nginx_unless_values_say_otherwise(helm):
    find(helm.render("nginx-ingress"), "IngressClass", "nginx")
    objects = helm.render("nginx-ingress", "--set", "controller.ingressClass.name=edge")
    assert find(objects, "IngressClass", "edge")["spec"]["controller"] == "nginx.org/ingress-controller"

