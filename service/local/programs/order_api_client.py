"""Call the order API's real handler in-process with the events API Gateway (HTTP API) sends."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from recovery_ops.service.local.engine.http_api_events import http_api_event
from recovery_ops.service.local.engine.iam_check import acting_as
from recovery_ops.service.local.engine.lambda_dispatch import LambdaContext


@dataclass(frozen=True)
class ApiAnswer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class LocalOrderApi:
    """POST /orders and GET /orders/{id}, as a client of the HTTP API would see them."""

    def __init__(self, stage: str = "$default", domain_name: str = "localhost") -> None:
        self._stage = stage
        self._domain_name = domain_name
        self.context = LambdaContext(
            "orders-api", "arn:aws:lambda:us-east-1:123456789012:function:recovery-ops-OrdersApiFunction"
        )

    def call(self, event: dict) -> ApiAnswer:
        from recovery_ops.service.example.handlers import orders_api

        with acting_as("OrdersApiFunction"):  # API Gateway invokes the template's function
            response = orders_api.lambda_handler(event, self.context)
        return ApiAnswer(response["statusCode"], json.loads(response["body"]), response.get("headers", {}))

    def place(self, body: Any) -> ApiAnswer:
        return self.call(
            http_api_event("POST", "/orders", body, stage=self._stage, domain_name=self._domain_name)
        )

    def get(self, order_id: str) -> ApiAnswer:
        return self.call(
            http_api_event(
                "GET", f"/orders/{order_id}", route_key="GET /orders/{id}", path_parameters={"id": order_id}
            )
        )
