"""The ``coursehub`` command."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from coursehub import arguments
from coursehub.arguments import STATE_FILE


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    from coursehub import hub_commands

    parser = argparse.ArgumentParser(prog="coursehub", description="BinderHubs for teaching on AWS")
    arguments.add_options(parser, on_command=False)
    commands = parser.add_subparsers(dest="command", required=True)
    hub_commands.add_commands(commands)

    local = commands.add_parser("local", help="the local stack").add_subparsers(dest="action", required=True)
    up = local.add_parser("up", help="run the local stack in the foreground until interrupted")
    _stack_options(up, default_scale=1.0)
    up.add_argument("--aws-port", type=int, default=5055, help="port of the AWS endpoint (default 5055)")
    up.add_argument("--slack-port", type=int, default=5056, help="port of the Slack receiver (default 5056)")
    up.set_defaults(run=_local_up)

    demo = commands.add_parser("demo", help="rehearse on the local stack, end to end, through the API")
    _stack_options(demo, default_scale=600.0)
    demo.add_argument("--fault", action="append", type=_fault, default=[], metavar="SERVICE:OPERATION",
                      help="make every call of this AWS operation fail with AccessDeniedException, "
                           "e.g. eks:CreateNodegroup (repeatable)")
    demo.set_defaults(run=_demo)

    package = commands.add_parser("package", help="build the CloudFormation template (and lint it)")
    package.add_argument("--stage", default="dev")
    package.add_argument("--no-lint", action="store_true")
    package.set_defaults(run=_package)

    for name, text in (("deploy", "package, lint and deploy the stack coursehub-STAGE (--dry-run: only show it)"),
                       ("plan", "package, lint and show what a deploy would create, without AWS (deploy --dry-run)")):
        deploy = commands.add_parser(name, help=text, description=text)
        deploy.add_argument("--stage", default="dev")
        deploy.add_argument("--region", default=argparse.SUPPRESS, help="the AWS region to deploy to")
        deploy.add_argument("--parameter", action="append", type=_parameter, default=[], metavar="KEY=VALUE",
                            help="a template parameter, e.g. SlackWebhookSecretArn=arn:... (repeatable)")
        if name == "deploy":
            deploy.add_argument("--bucket", help="S3 bucket (in that region) for the code and the template")
            deploy.add_argument("--dry-run", action="store_true", help="show what would be created; no AWS access")
        deploy.set_defaults(run=_deploy, parser=deploy, dry_run=name == "plan", bucket=None)

    commands.add_parser("tools", help="fetch the kubectl/helm layer and its binaries").set_defaults(run=_tools)

    chart_values = commands.add_parser("values", help="print the values the workflow installs for a request")
    chart_values.add_argument("request", help="a hub request file (JSON), e.g. examples/cs101.json")
    chart_values.add_argument("--chart", default="binderhub",
                              choices=("ingress", "cert-manager", "issuer", "binderhub"))
    chart_values.set_defaults(run=_values)

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args.run(args)


def _stack_options(parser: argparse.ArgumentParser, default_scale: float) -> None:
    parser.add_argument("--time-scale", type=arguments.positive, default=default_scale,
                        help=f"simulated seconds per real second (default {default_scale:g})")
    parser.add_argument("--stage", default="dev")


def _fault(text: str) -> tuple[str, str]:
    """``service:Operation`` as botocore names them, e.g. ``eks:CreateNodegroup``."""
    import botocore.session
    from botocore.exceptions import DataNotFoundError, UnknownServiceError
    from botocore.model import OperationNotFoundError

    service, _, operation = text.partition(":")
    if not service or not operation:
        raise argparse.ArgumentTypeError(f"not SERVICE:OPERATION (e.g. eks:CreateNodegroup): {text!r}")
    try:
        botocore.session.get_session().get_service_model(service).operation_model(operation)
    except (UnknownServiceError, DataNotFoundError, OperationNotFoundError):
        raise argparse.ArgumentTypeError(f"no AWS operation {text!r} (botocore's names, e.g. eks:CreateNodegroup)") \
            from None
    return service, operation


def _local_up(args: argparse.Namespace) -> int:
    from coursehub_local.stack import LocalStack, PortInUse, StackConfig

    config = StackConfig(stage=args.stage, time_scale=args.time_scale, aws_port=args.aws_port,
                         slack_port=args.slack_port, state_file=STATE_FILE.resolve())
    stack = LocalStack(config)
    try:
        stack.start()
    except PortInUse as error:
        print(f"coursehub local up: {error}", file=sys.stderr)
        return 2
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    details = stack.details()
    print(f"local stack up: AWS at {details['aws_endpoint_url']}, API at {details['api_url']}, "
          f"Slack receiver at {details['slack_url']}, time x{details['time_scale']:g}")
    print(f"AWS faults to rehearse failures: POST, GET or DELETE {details['faults_url']} (see the README)")
    print(f"connection details in {STATE_FILE}; Ctrl-C to stop")
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    return 0


def _demo(args: argparse.Namespace) -> int:
    from coursehub.demo import run

    return run(stage=args.stage, time_scale=args.time_scale, faults=args.fault)


def _package(args: argparse.Namespace) -> int:
    from coursehub import packaging

    out = packaging.package(args.stage)
    if not args.no_lint:
        packaging.lint(out)
        print(f"cfn-lint: {out / 'sam.json'} is clean")
    return 0


def _parameter(text: str) -> tuple[str, str]:
    from coursehub.deploy import parameter

    try:
        return parameter(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _deploy(args: argparse.Namespace) -> int:
    import subprocess

    from botocore.exceptions import BotoCoreError, ClientError

    from coursehub import deploy

    if not args.dry_run and not (args.region and args.bucket):
        args.parser.error("a deploy needs --region and --bucket (or --dry-run)")
    try:
        deploy.run(args.stage, dict(args.parameter), dry_run=args.dry_run, region=args.region, bucket=args.bucket)
    except deploy.DeployError as error:
        print(f"coursehub {args.command}: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:  # chalice package or cfn-lint said why on stderr
        print(f"coursehub {args.command}: {Path(error.cmd[0]).name} failed (exit {error.returncode})", file=sys.stderr)
        return 1
    except (BotoCoreError, ClientError) as error:  # no credentials, no access, a bucket that is not there
        print(f"coursehub {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


def _values(args: argparse.Namespace) -> int:
    from coursehub import values_command

    return values_command.run(args.request, args.chart)


def _tools(args: argparse.Namespace) -> int:
    from coursehub import tools

    return tools.main([])


if __name__ == "__main__":
    sys.exit(main())
