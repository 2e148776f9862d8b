"""Requests and results of deposits, withdrawals and the payments behind them."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from du_core.validation import IdempotencyKey, Paging, Request, View, clean_text

Gateway = Literal["manual", "sandbox"]


class Deposit(Request):
    amount: str = Field(max_length=64)  # text: parsed with the asset's precision by the operation
    currency: str = Field(max_length=10)
    method: Gateway
    idempotency_key: IdempotencyKey | None = None


class Withdraw(Request):
    amount: str = Field(max_length=64)
    currency: str = Field(max_length=10)
    method: Gateway
    destination: str = Field(max_length=200)  # bank account or wallet address, as the gateway needs it
    idempotency_key: IdempotencyKey | None = None

    @field_validator("destination")
    @classmethod
    def _destination(cls, value: str) -> str:
        value = clean_text(value, field="destination", max_length=200)
        if not value:
            raise ValueError("destination is empty")
        return value


class PaymentId(Request):
    payment_id: uuid.UUID


class ProcessPayment(Request):
    """An operator's (or a gateway's) verdict on a pending payment."""

    payment_id: uuid.UUID
    outcome: Literal["complete", "fail"] = "complete"
    reason: str | None = Field(default=None, max_length=200)
    gateway_reference: str | None = Field(default=None, max_length=128)


class PaymentQuery(Paging):
    status: Literal["pending", "processing", "completed", "failed", "cancelled"] | None = None
    kind: Literal["deposit", "withdrawal"] | None = None
    currency: str | None = Field(default=None, max_length=10)


class PaymentView(View):
    id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    currency: str
    amount: Decimal  # exactly the asset's decimal places; a string in JSON
    method: str
    status: str
    destination: str | None
    gateway_reference: str | None
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime | None
    completed_at: datetime | None


class PaymentPage(View):
    items: list[PaymentView]
    page: int
    limit: int
    total: int
