"""Request bodies and query limits of the shop API (the same for both systems)."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shop.schema import PAYMENT_METHODS

BIGINT_MAX = 2**63 - 1
MAX_QUANTITY = 100
MAX_ITEMS = 50
MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY = 200
PAGE_SIZE = 20
MAX_PAGE = 10_000
MAX_DASHBOARD_LIMIT = 1_000
MAX_REVENUE_DAYS = 366
DECLINED_TOKEN = "tok_declined"  # noqa: S105 - the test gateway declines this token, like Stripe's test cards


def _integral(value: object) -> object:
    """JSON Schema, so the OpenAPI document, calls 2.0 an integer: so does the API.

    2.5, "2" and true are still refused (strict integers otherwise).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integral = BeforeValidator(_integral)
Id = Annotated[int, Integral, Field(strict=True, gt=0, le=BIGINT_MAX)]
PaymentMethod = Literal["card", "paypal", "gift_card", "apple_pay"]
assert set(PaymentMethod.__args__) == set(PAYMENT_METHODS)  # type: ignore[attr-defined]


class CheckoutItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Id
    quantity: Annotated[int, Integral, Field(strict=True, gt=0, le=MAX_QUANTITY)]


class Payment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: PaymentMethod = "card"
    token: Annotated[str, Field(min_length=1, max_length=200)] = "tok_visa"  # noqa: S105


class CheckoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    items: Annotated[list[CheckoutItem], Field(min_length=1, max_length=MAX_ITEMS)]
    payment: Payment = Field(default_factory=Payment)

    @model_validator(mode="after")
    def _distinct_products(self) -> CheckoutRequest:
        ids = [item.product_id for item in self.items]
        if len(set(ids)) != len(ids):
            raise ValueError("each product may appear only once in items")
        return self

    def fingerprint(self) -> str:
        """Identifies the request's content, to tell a retry from a reused key."""
        canonical = json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class ErrorDetail(BaseModel):
    """What went wrong; some errors add fields (``details``, ``product_id``)."""

    code: str
    message: str


class ErrorResponse(BaseModel):
    """Every error the API answers, whatever its status."""

    error: ErrorDetail
