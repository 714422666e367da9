"""The cost of recoveries in dollars: what a run counted, priced at AWS's published on-demand prices.

The prices are us-east-1's (US East, N. Virginia), on-demand, past every free tier, at the first
volume tier, as found on these pages (looked up for issue 29; prices change, check them again):

- **DynamoDB on demand**, Standard table class: $0.625 per million write request units, $0.125 per
  million read request units (after AWS's November 2024 halving of on-demand prices). Reported for
  US East by https://airbyte.com/data-engineering-resources/dynamodb-pricing; AWS's own post
  https://aws.amazon.com/blogs/aws/amazon-dynamodb-on-demand-no-capacity-planning-and-pay-per-request-pricing
  (updated January 2025) notes the reduction. AWS's pricing page itself was not in the sources
  searched: **an assumption** until checked there.
- **Lambda**: $0.20 per million requests; duration $0.0000166667 per GB-second on x86_64,
  $0.0000133334 on arm64 (first tier). AWS's page https://aws.amazon.com/lambda/pricing/ renders its
  figures in the browser; the figures are as https://cloudchipr.com/blog/aws-lambda-pricing reports
  them for US East (N. Virginia).
- **SQS**, standard queue: $0.40 per million requests (first 100 billion a month), every 64 KB
  chunk of a request's payload billed as one request
  (https://cloudburn.io/blog/amazon-sqs-pricing, US East (N. Virginia), March 2026).
- **Step Functions**, Standard workflows: $0.025 per 1,000 state transitions, US East (N. Virginia)
  (https://aws.amazon.com/step-functions/pricing/) A Standard workflow is billed by its transitions
  alone: API calls such as SendTaskSuccess are not billed apart.
- **S3 Standard**: $0.005 per 1,000 PUT requests, $0.0004 per 1,000 GET requests, $0.023 per
  GB-month stored (first 50 TB), US East (N. Virginia). The PUT price as
  https://www.cloudkaramchari.com/blog/understanding-per-1000-put-copy-post-or-list-requests-in-amazon-s3-pricing/
  quotes it; the GET and storage prices are the long-standing figures of AWS's S3 pricing page,
  which was not in the sources searched: **an assumption** until checked there. Objects are billed
  for the whole time they are kept (``s3_storage_months``: the payloads bucket's default expiry).
- **EventBridge custom events** (looked up for issue 30): $1.00 per million custom events published
  to a bus, each 64 KB chunk of an event's payload billed as one event. The chunk rule is AWS's own
  (https://aws.amazon.com/eventbridge/pricing/: "Each 64 KB chunk of a payload is billed as one
  event"); the price per million is not in the part of that page the sources held, and is as
  https://blog.awsfundamentals.com/aws-eventbridge-pricing-guide and
  https://www.wring.co/blog/aws-eventbridge-pricing-guide report it (us-east-1): **an assumption**
  until checked on AWS's page.
- **EventBridge archive**: $0.10 per GB of events archived (taken in) and $0.023 per GB-month
  stored. Neither was found on an AWS page: third-party guides disagree on the unit
  (https://www.wring.co/blog/aws-eventbridge-pricing-guide: "$0.10/GB stored";
  https://www.factualminds.com/blog/amazon-eventbridge-pricing-events-pipes-schema-archive/:
  "$0.10/GB-month"). Both are **assumptions**, the archive billed for ``eventbridge_archive_months``
  (the template's ``AuditArchiveRetentionDays`` default, about 7 years). AWS's archive page says
  only that EventBridge charges apply to archives
  (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-archive.html).
- **DynamoDB Streams read by Lambda**: free. "Read requests made by AWS Lambda-based consumers of
  DynamoDB Streams are free" (AWS's DynamoDB developer guide, "Evaluate your DynamoDB streams
  usage", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CostOptimization_StreamsUsage.html,
  as held at docs.amazonaws.cn); the stream itself is not billed for being enabled. The chronicle's
  records read are counted, not priced; its invocations are Lambda's (``other_functions``).

The model (docs/operating/cost.md says it in prose): DynamoDB is the partition-load accountant's
write and read units, table and indexes; Lambda is one collector invocation per batch the run
delivered (retries included), its duration estimated from the run, at the template's memory and
architecture; SQS is each contract message sent once, received once per delivery and deleted once;
Step Functions is the transitions a recovery adds to its execution, and ``other_transitions``
(self-healing's own state machine, an execution that pauses again); ``other_functions`` are more
Lambda functions (self-healing's rounds, the chronicle's invocations), each at its own memory and
architecture; EventBridge is the audit events' billed chunks and the archive's bytes, taken in and
kept.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

SQS_CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Prices:
    """US dollars, us-east-1, on demand (sources in the module's docstring)."""

    dynamodb_per_million_write_units: float = 0.625
    dynamodb_per_million_read_units: float = 0.125
    lambda_per_million_requests: float = 0.20
    lambda_per_gb_second_x86_64: float = 0.0000166667
    lambda_per_gb_second_arm64: float = 0.0000133334
    sqs_per_million_requests: float = 0.40
    step_functions_per_1000_transitions: float = 0.025
    s3_per_1000_puts: float = 0.005
    s3_per_1000_gets: float = 0.0004
    s3_per_gb_month: float = 0.023
    eventbridge_per_million_custom_events: float = 1.00
    eventbridge_archive_per_gb: float = 0.10
    eventbridge_archive_per_gb_month: float = 0.023


@dataclass(frozen=True)
class Counted:
    """What one run counted, for ``recoveries`` recoveries."""

    recoveries: int
    write_units: float
    read_units: float
    invocations: int
    invocation_seconds: float  # the collector's estimated duration, all invocations together
    memory_mb: int
    architecture: str  # x86_64 or arm64, as template.yaml says
    sqs_requests: int  # 64 KB chunks counted
    transitions_per_recovery: int
    #: other functions' invocations (self-healing's rounds), each at its own memory and architecture
    other_functions: tuple[FunctionUse, ...] = ()
    #: transitions beyond the recoveries' own (self-healing's state machine, executions paused again)
    other_transitions: int = 0
    #: inputs and causes kept apart: objects written and read, bytes stored, and for how long
    s3_puts: int = 0
    s3_gets: int = 0
    s3_bytes: int = 0
    s3_storage_months: float = 0.0
    #: audit events: the billed custom events (each entry's 64 KB chunks), the bytes the archive
    #: takes in, and how long it keeps them
    eventbridge_events: int = 0
    eventbridge_archived_bytes: int = 0
    eventbridge_archive_months: float = 0.0


@dataclass(frozen=True)
class FunctionUse:
    """One more Lambda function's invocations and their summed duration, as a run counted them."""

    name: str
    invocations: int
    seconds: float
    memory_mb: int
    architecture: str


def sqs_requests(body_bytes: int) -> int:
    """The billed requests one SQS call carrying ``body_bytes`` costs: one per 64 KB chunk."""
    return max(1, math.ceil(body_bytes / SQS_CHUNK_BYTES))


def _lambda_dollars(
    invocations: int, seconds: float, memory_mb: int, architecture: str, prices: Prices
) -> tuple[float, float]:
    """(dollars, GB-seconds) of ``invocations`` lasting ``seconds`` in all."""
    per_gb_second = (
        prices.lambda_per_gb_second_arm64 if architecture == "arm64" else prices.lambda_per_gb_second_x86_64
    )
    gb_seconds = seconds * memory_mb / 1024
    return invocations / 1e6 * prices.lambda_per_million_requests + gb_seconds * per_gb_second, gb_seconds


def _archive_dollars(counted: Counted, prices: Prices) -> float:
    """The audit bus's archive: the bytes it takes in, and their storage for as long as it keeps them."""
    gb = counted.eventbridge_archived_bytes / 2**30
    stored = counted.eventbridge_archive_months * prices.eventbridge_archive_per_gb_month
    return gb * (prices.eventbridge_archive_per_gb + stored)


def cost_per_1000(counted: Counted, prices: Prices = Prices()) -> dict[str, Any]:
    """Dollars per 1,000 recoveries, per service and in total."""
    lambda_dollars, gb_seconds = _lambda_dollars(
        counted.invocations, counted.invocation_seconds, counted.memory_mb, counted.architecture, prices
    )
    for use in counted.other_functions:
        more, _ = _lambda_dollars(use.invocations, use.seconds, use.memory_mb, use.architecture, prices)
        lambda_dollars += more
    transitions = counted.recoveries * counted.transitions_per_recovery + counted.other_transitions
    dollars = {
        "dynamodb": counted.write_units / 1e6 * prices.dynamodb_per_million_write_units
        + counted.read_units / 1e6 * prices.dynamodb_per_million_read_units,
        "lambda": lambda_dollars,
        "sqs": counted.sqs_requests / 1e6 * prices.sqs_per_million_requests,
        "step_functions": transitions / 1000 * prices.step_functions_per_1000_transitions,
        "s3": counted.s3_puts / 1000 * prices.s3_per_1000_puts
        + counted.s3_gets / 1000 * prices.s3_per_1000_gets
        + counted.s3_bytes / 2**30 * counted.s3_storage_months * prices.s3_per_gb_month,
        "eventbridge": counted.eventbridge_events / 1e6 * prices.eventbridge_per_million_custom_events
        + _archive_dollars(counted, prices),
    }
    scale = 1000 / counted.recoveries
    per_1000 = {service: round(value * scale, 6) for service, value in dollars.items()}
    return {
        "cost_usd_per_1000_recoveries": round(sum(dollars.values()) * scale, 4),
        "cost_usd_per_1000_recoveries_by_service": per_1000,
        "cost_counted": {**asdict(counted), "lambda_gb_seconds": round(gb_seconds, 3)},
    }
