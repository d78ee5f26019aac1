"""``chalice package`` with the merge template gives a template cfn-lint accepts."""
import json

from coursehub import packaging


def test_the_packaged_template_lints_clean_and_has_a_policy_per_function(tmp_path):
    out = packaging.package("dev", tmp_path)
    packaging.lint(out)  # raises on any cfn-lint finding
    template = json.loads((out / "sam.json").read_text())
    resources = template["Resources"]
    functions = [n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    assert "NotifySlack" in functions
    for name in functions:
        role = resources[name]["Properties"]["Role"]["Fn::GetAtt"][0]
        assert resources[role]["Type"] == "AWS::IAM::Role"
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["SLACK_WEBHOOK_SECRET_ARN"] == {"Ref": "SlackWebhookSecretArn"}
        assert variables["KUBE_ROLE_ARNS"]["Fn::Join"][1] == [
            {"Fn::GetAtt": [role, "Arn"]} for role in ("InstallReleaseRole", "ConfigureLoadBalancerRole",
                                                            "CheckCertificatesRole", "UninstallReleasesRole")]
    machine = resources["ProvisionStateMachine"]["Properties"]
    assert machine["DefinitionSubstitutions"]["InstallReleaseArn"] == {"Fn::GetAtt": ["InstallRelease", "Arn"]}
    table = resources["HubTable"]["Properties"]
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert (out / "deployment.zip").stat().st_size > 0
