"""BinderHub's build and image names, launcher's user names and kubespawner's pod names (no cluster needed)."""
from coursehub_local.cluster import binderhub_names as names
from coursehub_local.cluster import jupyterhub_spawns as spawns

SHA = "f" * 40


def test_image_and_build_names_are_made_as_builder_py_makes_them():
    prefix = "123456789012.dkr.ecr.us-east-1.amazonaws.com/coursehub-dev/c1/"
    # escapism: "-" is the escape character, so it becomes -2d; a sha256 prefix ends the slug
    assert names.image_name(prefix, "binder-examples-requirements", SHA) == \
        f"{prefix}binder-2dexamples-2drequirements-55ab5c:{SHA}"
    assert names.image_name("courses/binder-", "Owner_x-Repo", "abc") == "courses/binder-owner-5fx-2drepo-260a3e:abc"
    # the ref part: 3 escaped characters and 2 of its hash
    assert names.build_name("binder-examples-requirements", SHA) == \
        "build-binder-2dexamples-2drequirements-55ab5c-fff-50"
    assert names.build_name("a" * 200, SHA) != names.build_name("a" * 199 + "b", SHA)
    assert len(names.build_name("a" * 200, SHA)) <= 63


def test_registry_hosts_follow_docker_references():
    assert names.registry_of("courses/binder-x:1") == names.DOCKERHUB
    assert names.registry_of("docker.io/courses/binder-x:1") == names.DOCKERHUB
    assert names.registry_of("1234.dkr.ecr.us-east-1.amazonaws.com/p/x:1") == "1234.dkr.ecr.us-east-1.amazonaws.com"


def test_anonymous_users_and_their_pods_are_named_as_launcher_and_kubespawner_name_them():
    name = names.unique_name_from_repo("https://github.com/binder-examples/requirements")
    assert name.startswith("binder-examples-requirements-") and len(name) == len("binder-examples-requirements-") + 8
    long = names.unique_name_from_repo("https://github.com/a-very-long-organisation/an-even-longer-repository.git")
    assert long.startswith("a-very-long-org-nger-repository-")
    assert spawns.pod_name(name) == f"jupyter-{name}"
    assert spawns.pod_name("Has--Dashes").startswith("jupyter-has-dashes---")
    assert spawns.memory_bytes("1G") == 2 ** 30 and spawns.memory_bytes(None) is None
