"""`recovery-ops audit verify`: is every audit trail still what was sealed?

  recovery-ops audit verify ID [ID ...]       those items' trails (rec-…, fail-…, dlq#…, access#…)
  recovery-ops audit verify --all             every item with a chain
  recovery-ops audit verify --events FILE     …and against the published events (JSON lines)

Each trail is recomputed from the table and compared with its chain (``chain#<id>``): a changed,
removed or reordered entry is reported; entries not sealed yet are reported as pending (not
tampering). With ``--events`` (the audit bus's archive replayed to a file, or its S3 copy) the trail
is also checked against the hashes published when each entry was sealed, which catches a rewrite
of both the trail and its chain; without IDs or ``--all``, the subjects of the file are checked.
``--all`` reads the chain items with a Scan filtered on their prefix: an offline compliance check,
not for a busy hour. The exit status is 1 on any finding, 0 when every trail is intact, 2 when the
request cannot be run. The table comes from ``--table``, else ``--stack``'s output
``RecoveriesTableName``, else ``RECOVERIES_TABLE_NAME``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from recovery_ops.service.cli.operate import deployment_options

if TYPE_CHECKING:
    from recovery_ops.service.config import OperatorSettings
    from recovery_ops.service.recovery.chronicle.verify import AuditVerifier

Print = Callable[[str], None]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `recovery-ops audit` (on the subparser ``audit``)."""
    parser.add_argument("action", choices=["verify"], help="verify: recompute the trails and their chains")
    parser.add_argument("ids", nargs="*", metavar="ID", help="the items whose trails to verify")
    parser.add_argument("--all", action="store_true", help="every item with a chain (a Scan: offline use)")
    parser.add_argument(
        "--events",
        metavar="FILE",
        help="the published audit events as JSON lines (the archive's or S3 copy): checked too",
    )
    deployment_options(parser)


def run(args: argparse.Namespace) -> int:
    """`audit verify` on the ``OperatorSettings`` of the environment."""
    from recovery_ops.service.cli.commands import environment_settings
    from recovery_ops.service.config import OperatorSettings

    return audit_command(args, environment_settings(OperatorSettings.from_environment, "audit"))


def audit_command(args: argparse.Namespace, settings: OperatorSettings, out: Print = print) -> int:
    from recovery_ops.service import aws_clients
    from recovery_ops.service.cli.deployment import on_deployment
    from recovery_ops.service.recovery.chronicle.verify import AuditVerifier, published_hashes
    from recovery_ops.service.recovery.storage.audit_chain import ChainItems
    from recovery_ops.service.stack_outputs import RECOVERIES_TABLE, StackOutputError

    try:
        deployment = on_deployment(settings, args.stack, {"table": args.table}, {"table": RECOVERIES_TABLE})
        published: dict[str, dict[int, str]] = {}
        if args.events:
            with open(args.events, encoding="utf-8") as lines:
                published = published_hashes(lines)
    except (StackOutputError, OSError, ValueError, KeyError) as exc:
        print(f"recovery-ops audit: {exc}", file=sys.stderr)
        return 2
    if not deployment.recoveries_table_name:
        print("recovery-ops audit: no table: --table, --stack or RECOVERIES_TABLE_NAME", file=sys.stderr)
        return 2
    verifier = AuditVerifier(ChainItems(deployment.recoveries_table_name, aws_clients.client("dynamodb")))
    ids = list(dict.fromkeys(args.ids))
    if args.all:
        ids += [found for found in verifier.subjects() if found not in ids]
    if not ids and not args.all:
        ids = list(published)
    if not ids:
        print("recovery-ops audit: name the items (ID …), --all, or --events FILE", file=sys.stderr)
        return 2
    return verify_all(verifier, ids, published, out)


def verify_all(
    verifier: AuditVerifier, ids: list[str], published: dict[str, dict[int, str]], out: Print
) -> int:
    """Verify each id and say what was found; 1 when anything was."""
    tampered = 0
    for subject_id in ids:
        verified = verifier.verify(subject_id, published.get(subject_id))
        tampered += len(verified.tampered)
        pending = f", {verified.pending} pending" if verified.pending else ""
        state = "intact" if not verified.tampered else f"{len(verified.tampered)} finding(s)"
        out(f"{subject_id}: {verified.entries} entries, {verified.sealed} sealed{pending}: {state}")
        for finding in verified.findings:
            out(f"  #{finding.seq} {finding.problem}: {finding.what}")
    out(f"{len(ids)} trail(s) verified, {tampered} finding(s)")
    return 1 if tampered else 0
