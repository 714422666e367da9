"""`recovery-ops serve [--local]`: the Slack app on this machine (``recovery_ops.slack_app.serve``).

Its configuration is the Slack app's own (``recovery_ops.slack_app.serve`` and the services'
``ServicesConfig``), so the
help names every environment variable they read.
"""

from __future__ import annotations

import argparse
import sys

SERVE_ENVIRONMENT = """environment:
  SLACK_BOT_TOKEN         the app's bot token (xoxb-…), always needed
  SLACK_APP_TOKEN         an app-level token (xapp-…): Socket Mode instead of HTTP on --port
  SLACK_SIGNING_SECRET    the app's signing secret (HTTP, when SLACK_APP_TOKEN is not set)
  SLACK_API_URL           another Slack Web API endpoint (a local stand-in)
  SLACK_ALLOWED_USER_IDS, SLACK_ALLOWED_USER_GROUP   who may act (with --local: everyone when unset)

against a deployed stack (as its Slack app function reads them):
  RECOVERIES_TABLE_NAME   the recoveries table (stack output RecoveriesTableName), needed
  PAYLOADS_BUCKET         the recoveries' large inputs and causes (stack output PayloadsBucketName)
  SLACK_VIEWER_USER_IDS, SLACK_VIEWER_USER_GROUP     who may see without acting
  SLACK_MEMBERSHIP_CACHE_SECONDS   how long a user group's members are cached (default 300)
  INPUT_SCHEMAS_PARAMETER the SSM parameter of the input schemas (/<stack>/recovery/input-schemas)
  ROUTING_RULES_PARAMETER the SSM parameter of the routing rules: each rule's team and viewers
  BULK_RESUME_RATE_PER_SECOND      pace of bulk actions (default 50)
  RECOVERY_RETENTION_DAYS          how long closed recoveries are kept (default 90)
  ORDERS_DLQ_URL, RECOVERY_DLQ_URL, RECOVERY_QUEUE_URL   the queues of `/recoveries dlq`
  DLQ_REDRIVE_RATE_PER_SECOND      pace of a DLQ redrive (default 10)
  CIRCUIT_BREAKER_TABLE_NAME       the circuit breakers' table, shown in the Home tab
  DURABLE_ENDPOINT_URL    another endpoint of Lambda's durable-execution API (a local host)

with --local:
  SLACK_CHANNEL           where the local recoveries are posted (default recoveries)
"""


def add_arguments(serve: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops serve`, its description and the environment it reads."""
    serve.description = (
        "The Slack app on this machine, against your real workspace: Socket Mode when "
        "SLACK_APP_TOKEN is set, otherwise HTTP on --port at /slack/events."
    )
    serve.epilog = SERVE_ENVIRONMENT
    serve.formatter_class = argparse.RawDescriptionHelpFormatter
    serve.add_argument(
        "--port", type=int, default=3000, help="HTTP port, without SLACK_APP_TOKEN (default 3000)"
    )
    serve.add_argument(
        "--local", action="store_true", help="act on an embedded moto stack with paused demo orders, not AWS"
    )


def serve_command(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 when the Slack app is not configured."""
    from recovery_ops.service.config import ConfigurationError, ServeSettings
    from recovery_ops.slack_app.serve import ServeError, app_for_this_machine, deployed_services, run

    try:
        settings = ServeSettings.from_environment()
        if args.local:
            from recovery_ops.service.local.programs.serve_local import local_services

            with local_services(settings) as services:
                run(app_for_this_machine(services, settings), args.port, settings)
        else:
            run(app_for_this_machine(deployed_services, settings), args.port, settings)
    except (ServeError, ConfigurationError) as exc:
        print(f"recovery-ops serve: {exc}", file=sys.stderr)
        return 2
    return 0
