"""Requests and results of deposits, withdrawals and the payments behind them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from du_core.validation import AmountText, Exact, IdempotencyKey, Paging, Request, View, clean_text

Gateway = Literal["manual", "sandbox"]


class Deposit(Request):
    amount: AmountText
    currency: str = Field(max_length=10)
    method: Gateway
    idempotency_key: IdempotencyKey | None = None


class Withdraw(Request):
    amount: AmountText
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
    """An operator's (or a gateway's) verdict on an open payment.

    `start` marks it processing (the money is on its way; it can still fail), `complete` settles
    it in the books, `fail` ends it and releases what it held.
    """

    payment_id: uuid.UUID
    outcome: Literal["start", "complete", "fail"] = "complete"
    reason: str | None = Field(default=None, max_length=200)
    gateway_reference: str | None = Field(default=None, max_length=128)

    @field_validator("reason", "gateway_reference")
    @classmethod
    def _text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        return clean_text(value, field=str(info.field_name), max_length=200) or None

    @model_validator(mode="after")
    def _reason_only_on_failure(self) -> ProcessPayment:
        if self.reason is not None and self.outcome != "fail":
            raise ValueError("a reason goes with a failure (--fail) only")
        return self


class PaymentQuery(Paging):
    status: Literal["pending", "processing", "completed", "failed", "cancelled"] | None = None
    kind: Literal["deposit", "withdrawal"] | None = None
    currency: str | None = Field(default=None, max_length=10)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str | None) -> str | None:
        return value.upper() if value else None


class PaymentView(View):
    id: uuid.UUID
    user_id: uuid.UUID
    kind: str
    currency: str
    amount: Exact  # exactly the asset's decimal places
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
