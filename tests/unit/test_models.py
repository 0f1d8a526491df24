"""The checkout request model and its validators, used directly (no app, no database)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from shop.models import BIGINT_MAX, MAX_ITEMS, MAX_QUANTITY, CheckoutRequest
from shop.schema import PAYMENT_METHODS
from tests.httpcases import INVALID_BODIES


def body(**changes: Any) -> dict[str, Any]:
    return {"user_id": 1, "items": [{"product_id": 1, "quantity": 1}], **changes}


def parse(data: object) -> CheckoutRequest:
    """As the app receives it: JSON text."""
    return CheckoutRequest.model_validate_json(json.dumps(data))


def test_a_minimal_body_gets_a_test_card() -> None:
    request = parse(body())
    assert request.user_id == 1
    assert [(i.product_id, i.quantity) for i in request.items] == [(1, 1)]
    assert (request.payment.method, request.payment.token) == ("card", "tok_visa")


@pytest.mark.parametrize(("case", "payload"), INVALID_BODIES, ids=[c for c, _ in INVALID_BODIES])
def test_every_invalid_body_of_the_contract_is_refused(case: str, payload: object) -> None:
    with pytest.raises(ValidationError):
        parse(payload)


@pytest.mark.parametrize(
    ("quantity", "valid"), [(1, True), (MAX_QUANTITY, True), (0, False), (MAX_QUANTITY + 1, False)]
)
def test_quantity_bounds(quantity: int, valid: bool) -> None:
    payload = body(items=[{"product_id": 1, "quantity": quantity}])
    if valid:
        assert parse(payload).items[0].quantity == quantity
    else:
        with pytest.raises(ValidationError, match="quantity"):
            parse(payload)


@pytest.mark.parametrize(("count", "valid"), [(1, True), (MAX_ITEMS, True), (MAX_ITEMS + 1, False)])
def test_item_count_bounds(count: int, valid: bool) -> None:
    payload = body(items=[{"product_id": i, "quantity": 1} for i in range(1, count + 1)])
    if valid:
        assert len(parse(payload).items) == count
    else:
        with pytest.raises(ValidationError, match=f"at most {MAX_ITEMS} items"):
            parse(payload)


@pytest.mark.parametrize(
    ("ident", "valid"),
    [(1, True), (BIGINT_MAX, True), (0, False), (-1, False), (BIGINT_MAX + 1, False)],
)
def test_ids_fit_a_bigint_and_are_positive(ident: int, valid: bool) -> None:
    for payload in (body(user_id=ident), body(items=[{"product_id": ident, "quantity": 1}])):
        if valid:
            parse(payload)
        else:
            with pytest.raises(ValidationError):
                parse(payload)


@pytest.mark.parametrize("value", ["1", 1.5, True, None, [1], float("inf"), float("nan")])
def test_numbers_are_strict(value: object) -> None:
    """Integers only; 1.0 is one (JSON Schema says so), see test_integral_floats_are_integers."""
    with pytest.raises(ValidationError):
        parse(body(user_id=value))
    with pytest.raises(ValidationError):
        parse(body(items=[{"product_id": 1, "quantity": value}]))


def test_integral_floats_are_integers() -> None:
    parsed = parse(body(user_id=7.0, items=[{"product_id": 3.0, "quantity": 2.0}]))
    assert (parsed.user_id, parsed.items[0].product_id, parsed.items[0].quantity) == (7, 3, 2)
    assert all(type(v) is int for v in (parsed.user_id, parsed.items[0].quantity))


def test_duplicate_products_are_refused_with_a_reason() -> None:
    items = [{"product_id": 4, "quantity": 1}, {"product_id": 5, "quantity": 1}]
    items.append({"product_id": 4, "quantity": 2})
    with pytest.raises(ValidationError, match="each product may appear only once"):
        parse(body(items=items))


@pytest.mark.parametrize("method", sorted(PAYMENT_METHODS))
def test_every_payment_method_of_the_schema_is_accepted(method: str) -> None:
    assert parse(body(payment={"method": method})).payment.method == method


@pytest.mark.parametrize(
    "payment",
    [
        {"method": "cash"},
        {"method": "CARD"},
        {"token": ""},
        {"token": "t" * 201},
        {"method": "card", "token": "tok_visa", "cvv": "123"},
        "card",
    ],
    ids=[
        "unknown method",
        "method case",
        "empty token",
        "long token",
        "extra field",
        "not an object",
    ],
)
def test_bad_payments_are_refused(payment: object) -> None:
    with pytest.raises(ValidationError):
        parse(body(payment=payment))


@pytest.mark.parametrize(
    "extra",
    [{"coupon": "FREE"}, {"items": [{"product_id": 1, "quantity": 1, "price": 1}]}],
    ids=["top level", "in an item"],
)
def test_unknown_fields_are_refused(extra: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        parse(body(**extra))


def test_fingerprint_identifies_content_not_formatting() -> None:
    first = CheckoutRequest.model_validate_json(
        '{"user_id": 1, "items": [{"product_id": 2, "quantity": 3}]}'
    )
    reordered = CheckoutRequest.model_validate_json(
        '{ "items":[{"quantity":3,"product_id":2}],"user_id":1,'
        ' "payment": {"method": "card", "token": "tok_visa"} }'
    )
    assert first.fingerprint() == reordered.fingerprint()
    for other in (
        body(items=[{"product_id": 2, "quantity": 4}]),
        body(user_id=2, items=[{"product_id": 2, "quantity": 3}]),
        body(items=[{"product_id": 2, "quantity": 3}], payment={"method": "paypal"}),
    ):
        assert parse(other).fingerprint() != first.fingerprint()
