"""Fakes of what the workflow steps talk to besides the hub table: EKS, EC2 subnets, EventBridge Scheduler, ECR,
helm/kubectl.

Each keeps the state a test sets up or asserts on, answers with the shapes the real services give, and raises
the errors the steps catch by name (``client.exceptions.X``) or match on (``KubeNotFound``).
"""
from __future__ import annotations

import copy
import json

from chalicelib.errors import KubeNotFound


class _Error(Exception):
    pass


class EksErrors:
    class ResourceNotFoundException(_Error):
        pass

    class ResourceInUseException(_Error):
        pass


class FakeEks:
    """Clusters, the node group, add-ons, Pod Identity associations and access entries of EKS, by cluster name."""

    exceptions = EksErrors

    def __init__(self):
        self.clusters: dict[str, dict] = {}
        self.nodegroups: dict[str, dict] = {}  # by cluster: the one node group ("workers")
        self.addons: dict[tuple[str, str], dict] = {}
        self.associations: list[dict] = []
        self.access_entries: set[tuple[str, str]] = set()
        self.access_policies: list[dict] = []
        self.deleted: list[str] = []

    def add_cluster(self, name: str, hub_id: str, status: str = "ACTIVE", mode: str = "API",
                    stage: str = "dev") -> dict:
        self.clusters[name] = {"name": name, "status": status, "version": "1.33", "endpoint": f"https://{name}.eks",
                               "tags": {"coursehub:hub": hub_id, "coursehub:stage": stage},
                               "accessConfig": {"authenticationMode": mode}}
        return self.clusters[name]

    def describe_cluster(self, name: str) -> dict:
        if name not in self.clusters:
            raise EksErrors.ResourceNotFoundException(f"No cluster found for name: {name}.")
        return {"cluster": copy.deepcopy(self.clusters[name])}

    def create_cluster(self, *, name: str, version: str, roleArn: str, resourcesVpcConfig: dict,
                       accessConfig: dict, tags: dict) -> dict:
        self.clusters[name] = {"name": name, "status": "CREATING", "version": version, "roleArn": roleArn,
                               "subnets": resourcesVpcConfig["subnetIds"], "tags": tags,
                               "accessConfig": {"authenticationMode": accessConfig["authenticationMode"]}}
        return {"cluster": copy.deepcopy(self.clusters[name])}

    def delete_cluster(self, name: str) -> dict:
        self.describe_cluster(name)
        self.clusters[name]["status"] = "DELETING"
        self.deleted.append(f"cluster {name}")
        return {}

    def create_access_entry(self, *, clusterName: str, principalArn: str, type: str) -> dict:
        if (clusterName, principalArn) in self.access_entries:
            raise EksErrors.ResourceInUseException("The specified access entry resource is already in use")
        self.access_entries.add((clusterName, principalArn))
        return {}

    def associate_access_policy(self, **parameters) -> dict:
        self.access_policies.append(parameters)
        return {}

    def describe_nodegroup(self, *, clusterName: str, nodegroupName: str) -> dict:
        found = self.nodegroups.get(clusterName)
        if found is None or found["nodegroupName"] != nodegroupName:
            raise EksErrors.ResourceNotFoundException(f"No node group found for name: {nodegroupName}.")
        return {"nodegroup": copy.deepcopy(found)}

    def create_nodegroup(self, *, clusterName: str, nodegroupName: str, **parameters) -> dict:
        self.nodegroups[clusterName] = {"nodegroupName": nodegroupName, "status": "CREATING", **parameters}
        return {"nodegroup": copy.deepcopy(self.nodegroups[clusterName])}

    def update_nodegroup_config(self, *, clusterName: str, nodegroupName: str, scalingConfig: dict) -> dict:
        found = self.describe_nodegroup(clusterName=clusterName, nodegroupName=nodegroupName)["nodegroup"]
        if found["status"] != "ACTIVE":
            raise EksErrors.ResourceInUseException(f"Nodegroup {nodegroupName} is currently {found['status']}")
        self.nodegroups[clusterName].update(status="UPDATING", scalingConfig=dict(scalingConfig))
        return {"update": {"type": "ConfigUpdate", "status": "InProgress"}}

    def delete_nodegroup(self, *, clusterName: str, nodegroupName: str) -> dict:
        found = self.describe_nodegroup(clusterName=clusterName, nodegroupName=nodegroupName)["nodegroup"]
        if found["status"] in ("DELETING", "UPDATING", "CREATING"):
            raise EksErrors.ResourceInUseException(f"Nodegroup {nodegroupName} is currently {found['status']}")
        self.nodegroups[clusterName]["status"] = "DELETING"
        self.deleted.append(f"nodegroup {nodegroupName}")
        return {}

    def create_addon(self, *, clusterName: str, addonName: str, tags: dict, configurationValues: str = "") -> dict:
        if (clusterName, addonName) in self.addons:
            raise EksErrors.ResourceInUseException(f"Addon {addonName} already exists")
        self.addons[clusterName, addonName] = {"addonName": addonName, "status": "CREATING", "tags": tags,
                                               "addonVersion": "v1.0.0-eksbuild.1",
                                               "configurationValues": configurationValues}
        return {"addon": copy.deepcopy(self.addons[clusterName, addonName])}

    def describe_addon(self, *, clusterName: str, addonName: str) -> dict:
        return {"addon": copy.deepcopy(self.addons[clusterName, addonName])}

    def list_pod_identity_associations(self, *, clusterName: str, namespace: str, serviceAccount: str) -> dict:
        return {"associations": [a for a in self.associations if (a["clusterName"], a["namespace"],
                                                                   a["serviceAccount"]) ==
                                 (clusterName, namespace, serviceAccount)]}

    def create_pod_identity_association(self, **parameters) -> dict:
        association = {**parameters, "associationId": f"a-{len(self.associations) + 1:017d}"}
        self.associations.append(association)
        return {"association": association}


class FakeEc2:
    """Subnets and their Availability Zone IDs."""

    def __init__(self, zone_ids: dict[str, str]):
        self.zone_ids = zone_ids

    def describe_subnets(self, *, SubnetIds: list[str]) -> dict:
        return {"Subnets": [{"SubnetId": s, "AvailabilityZoneId": self.zone_ids[s]} for s in SubnetIds]}


class SchedulerErrors:
    class ConflictException(_Error):
        pass

    class ResourceNotFoundException(_Error):
        pass


class FakeScheduler:
    """Schedules by (group, name), with what each was created or updated with."""

    exceptions = SchedulerErrors

    def __init__(self):
        self.schedules: dict[tuple[str, str], dict] = {}

    def create_schedule(self, **parameters) -> dict:
        key = (parameters["GroupName"], parameters["Name"])
        if key in self.schedules:
            raise SchedulerErrors.ConflictException(f"Schedule {key[1]} already exists.")
        self.schedules[key] = parameters
        return {"ScheduleArn": f"arn:aws:scheduler:us-east-1:123456789012:schedule/{key[0]}/{key[1]}"}

    def update_schedule(self, **parameters) -> dict:
        self.schedules[parameters["GroupName"], parameters["Name"]] = parameters
        return {}

    def delete_schedule(self, *, GroupName: str, Name: str) -> dict:
        if self.schedules.pop((GroupName, Name), None) is None:
            raise SchedulerErrors.ResourceNotFoundException(f"Schedule {Name} does not exist.")
        return {}

    def get_paginator(self, operation: str):
        assert operation == "list_schedules"
        return self

    def paginate(self, *, GroupName: str, NamePrefix: str):
        names = sorted(name for group, name in self.schedules if group == GroupName and name.startswith(NamePrefix))
        return [{"Schedules": [{"Name": name} for name in names]}]


class FakeRunner:
    """helm and kubectl on one cluster: releases with their revisions and values, Services, certificates."""

    def __init__(self, home: str):
        self.home = home
        self.history: dict[str, list[dict]] = {}  # by release name, oldest first
        self.values: dict[str, dict] = {}  # by release name: the values of the last upgrade
        self.services: list[dict] = []
        self.certificates: list[dict] = []
        self.challenges: list[dict] = []
        self.nodes: list[dict] = []
        self.applied: list[dict] = []
        self.commands: list[tuple[str, ...]] = []

    def helm(self, *args: str, stdin: str | None = None, timeout: float | None = None, retry: bool = True,
             redact=()) -> str:
        self.commands.append(("helm", *args))
        verb, release = args[0], args[1]
        if verb == "history":
            if not self.history.get(release):
                raise KubeNotFound("Error: release: not found", command="helm history")
            return json.dumps(self.history[release])
        if verb == "upgrade":
            with open(args[args.index("--values") + 1]) as values:
                self.values[release] = json.load(values)
            revisions = self.history.setdefault(release, [])
            for revision in revisions:
                revision["status"] = "superseded"
            revisions.append({"revision": len(revisions) + 1, "status": "deployed", "chart": args[2]})
            return ""
        if verb == "uninstall":
            if not self.history.pop(release, None):
                raise KubeNotFound("Error: uninstall: Release not loaded: not found", command="helm uninstall")
            return ""
        raise NotImplementedError(args)

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float | None = None, retry: bool = True,
                redact=()) -> str:
        self.commands.append(("kubectl", *args))
        if args[:2] == ("get", "services"):
            return json.dumps({"items": self.services})
        if args[:2] == ("get", "certificates"):
            return json.dumps({"items": self.certificates})
        if args[:2] == ("get", "nodes"):
            return json.dumps({"items": self.nodes})
        if args[:2] == ("get", "challenges"):
            return json.dumps({"items": self.challenges})
        if args[0] == "apply":
            manifest = json.loads(stdin)
            self.applied.append(manifest)
            return f"{manifest['kind'].lower()}/{manifest['metadata']['name']} serverside-applied"
        if args[0] == "delete":
            return ""
        if args[0] == "patch":
            return f"{args[1]}.apps/{args[2]} patched"
        raise NotImplementedError(args)


class FakeElb:
    """Classic load balancers (``elb``), or with no balancers an empty ``elbv2``: what the health-check fix reads."""

    def __init__(self, balancers: list[dict] = ()):
        self.balancers = list(balancers)

    def get_paginator(self, operation: str):
        assert operation == "describe_load_balancers"
        return self

    def paginate(self):
        return [{"LoadBalancerDescriptions": self.balancers, "LoadBalancers": []}]

    def configure_health_check(self, *, LoadBalancerName: str, HealthCheck: dict) -> dict:
        (balancer,) = [b for b in self.balancers if b["LoadBalancerName"] == LoadBalancerName]
        balancer["HealthCheck"] = HealthCheck
        return {"HealthCheck": HealthCheck}


class EcrErrors:
    class TemplateAlreadyExistsException(_Error):
        pass

    class TemplateNotFoundException(_Error):
        pass

    class RepositoryNotFoundException(_Error):
        pass


class _Pages:
    def __init__(self, pages: list[dict]):
        self.pages = pages

    def paginate(self, **_):
        return iter(self.pages)


class FakeEcr:
    """One registry: creation templates by prefix, repositories by name, and the logins it gave (in order)."""

    exceptions = EcrErrors

    def __init__(self, account: str = "123456789012", region: str = "us-east-1"):
        self.endpoint = f"https://{account}.dkr.ecr.{region}.amazonaws.com"
        self.templates: dict[str, dict] = {}
        self.repositories: list[str] = []
        self.calls: list[tuple[str, str]] = []  # (operation, prefix or repository)
        self.logins = 0

    def create_repository_creation_template(self, **template):
        self.calls.append(("create_repository_creation_template", template["prefix"]))
        if template["prefix"] in self.templates:
            raise EcrErrors.TemplateAlreadyExistsException(template["prefix"])
        self.templates[template["prefix"]] = template

    def update_repository_creation_template(self, **template):
        self.calls.append(("update_repository_creation_template", template["prefix"]))
        if template["prefix"] not in self.templates:
            raise EcrErrors.TemplateNotFoundException(template["prefix"])
        self.templates[template["prefix"]] = template

    def delete_repository_creation_template(self, prefix):
        self.calls.append(("delete_repository_creation_template", prefix))
        if self.templates.pop(prefix, None) is None:
            raise EcrErrors.TemplateNotFoundException(prefix)

    def delete_repository(self, repositoryName, force):
        self.calls.append(("delete_repository", repositoryName))
        if repositoryName not in self.repositories or not force:
            raise EcrErrors.RepositoryNotFoundException(repositoryName)
        self.repositories.remove(repositoryName)

    def get_authorization_token(self):
        import base64
        from datetime import datetime, timedelta, timezone

        self.logins += 1
        token = base64.b64encode(f"AWS:ecr-login-{self.logins}".encode()).decode()
        return {"authorizationData": [{"authorizationToken": token, "proxyEndpoint": self.endpoint,
                                       "expiresAt": datetime(2026, 12, 1, tzinfo=timezone.utc) + timedelta(hours=12)}]}

    def get_paginator(self, operation):
        if operation == "describe_repositories":
            return _Pages([{"repositories": [{"repositoryName": name} for name in self.repositories[:1]]},
                           {"repositories": [{"repositoryName": name} for name in self.repositories[1:]]}])
        if operation == "describe_repository_creation_templates":
            return _Pages([{"repositoryCreationTemplates": list(self.templates.values())}])
        raise NotImplementedError(operation)
