"""F5 NGINX's servers from Ingresses: who owns a host, and what the annotations set (no cluster needed)."""
import pytest

from coursehub_local.cluster import nginx_config


def ingress(name, hosts, created="2026-12-01T10:00:00Z", uid="a", annotations=None, paths=None, tls=()):
    rules = [{"host": h, "http": {"paths": paths or [{"path": "/", "pathType": "Prefix",
                                                       "backend": {"service": {"name": f"{name}-svc"}}}]}}
             for h in hosts]
    return {"metadata": {"name": name, "namespace": "hub", "uid": uid, "creationTimestamp": created,
                         "annotations": annotations or {}},
            "spec": {"rules": rules, "tls": [{"hosts": list(tls), "secretName": f"{name}-tls"}] if tls else []}}


def test_the_oldest_ingress_owns_a_host_and_a_later_one_for_it_is_rejected():
    hub = ingress("hub", ["hub.test"], created="2026-12-01T10:00:00Z")
    solver = ingress("cm-acme-http-solver-abcde", ["hub.test"], created="2026-12-01T10:00:05Z", uid="z")
    config = nginx_config.build([solver, hub])
    assert config.server_for("hub.test").ingress is hub
    assert config.rejected == [solver]


def test_on_the_same_second_the_greater_uid_wins():
    first = ingress("first", ["hub.test"], uid="0001")
    second = ingress("second", ["hub.test"], uid="ffff")
    config = nginx_config.build([first, second])
    assert config.server_for("hub.test").ingress is second and config.rejected == [first]


def test_an_ingress_that_keeps_one_of_its_hosts_is_not_rejected():
    old = ingress("old", ["a.test"])
    both = ingress("both", ["a.test", "b.test"], created="2026-12-01T11:00:00Z")
    config = nginx_config.build([old, both])
    assert config.rejected == []
    assert config.server_for("a.test").ingress is old and config.server_for("b.test").ingress is both


def test_defaults_are_f5s_and_annotations_override_them():
    plain = nginx_config.build([ingress("hub", ["hub.test"], tls=["hub.test"])]).server_for("hub.test")
    location = plain.location_for("/anything")
    assert (location.client_max_body_size, location.proxy_buffering, location.read_timeout,
            location.send_timeout, location.websocket) == (1024 * 1024, True, 60, 60, False)
    assert plain.tls_secret == "hub-tls" and plain.ssl_redirect

    annotated = nginx_config.build([ingress("hub", ["hub.test"], annotations={
        "nginx.org/websocket-services": "other, hub-svc", "nginx.org/client-max-body-size": "64m",
        "nginx.org/proxy-buffering": "false", "nginx.org/proxy-read-timeout": "3600s",
        "nginx.org/proxy-send-timeout": "1h", "nginx.org/ssl-redirect": "false"})]).server_for("hub.test")
    location = annotated.location_for("/")
    assert (location.client_max_body_size, location.proxy_buffering, location.read_timeout,
            location.send_timeout, location.websocket) == (64 * 1024 * 1024, False, 3600, 3600, True)
    assert annotated.tls_secret is None and not annotated.ssl_redirect


def test_an_exact_location_wins_over_any_prefix():
    paths = [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "hub"}}},
             {"path": "/.well-known/acme-challenge/t0k", "pathType": "Exact", "backend": {"service": {"name": "s"}}}]
    server = nginx_config.build([ingress("hub", ["hub.test"], paths=paths)]).server_for("hub.test")
    assert server.location_for("/.well-known/acme-challenge/t0k").service == "s"
    assert server.location_for("/.well-known/acme-challenge/t0k2").service == "hub"


@pytest.mark.parametrize("text, seconds", [("60s", 60), ("3600", 3600), ("1m30s", 90), ("2h", 7200), ("bad", 60)])
def test_nginx_times(text, seconds):
    assert nginx_config.parse_time(text, 60) == seconds


@pytest.mark.parametrize("text, size", [("1m", 1 << 20), ("64M", 64 << 20), ("512k", 512 << 10), ("0", 0),
                                        ("nonsense", 1 << 20)])
def test_nginx_sizes(text, size):
    assert nginx_config.parse_size(text) == size
