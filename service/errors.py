"""The root of every error recovery-ops raises: ``except RecoveryOpsError`` catches all of ours.

Each error class of ``service/`` and ``slack_app/`` derives from ``RecoveryOpsError`` (directly or
through its room's own base, e.g. ``DeskError``, ``VendorError``), and keeps the built-in class it
has always been (``ValueError``, ``LookupError``, ``TimeoutError``, ``AssertionError``...) as a
second base, so code that catches those keeps working. Names end in ``Error``, except where the
class name is an error name of a state machine (a Lambda function's error type is its exception's
class name, which ``Retry`` and ``Catch`` match): the order example's ``CircuitOpen``,
``VendorUnavailable``, ``VendorThrottled``, ``VendorRejectedRequest`` and ``InvalidOrderData`` keep
theirs. What a person reads is written at the edge (the Slack app's replies, the command line).
"""

from __future__ import annotations


class RecoveryOpsError(Exception):
    """An error of recovery-ops, as opposed to one of Python, the AWS SDK or Slack's."""
