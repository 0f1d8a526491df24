"""Invalid requests of the HTTP contract, shared by the real-database contract suite
(tests/contract) and the in-process validation matrix (tests/unit)."""

from __future__ import annotations

import json

INVALID_BODIES: list[tuple[str, object]] = [
    ("missing user", {"items": [{"product_id": 1, "quantity": 1}]}),
    ("missing items", {"user_id": 1}),
    ("empty items", {"user_id": 1, "items": []}),
    ("zero quantity", {"user_id": 1, "items": [{"product_id": 1, "quantity": 0}]}),
    ("negative quantity", {"user_id": 1, "items": [{"product_id": 1, "quantity": -2}]}),
    ("absurd quantity", {"user_id": 1, "items": [{"product_id": 1, "quantity": 1_000_000}]}),
    (
        "duplicate items",
        {
            "user_id": 1,
            "items": [{"product_id": 1, "quantity": 1}, {"product_id": 1, "quantity": 2}],
        },
    ),
    ("string id", {"user_id": "1", "items": [{"product_id": 1, "quantity": 1}]}),
    ("bool id", {"user_id": True, "items": [{"product_id": 1, "quantity": 1}]}),
    ("float quantity", {"user_id": 1, "items": [{"product_id": 1, "quantity": 1.5}]}),
    ("huge id", {"user_id": 2**70, "items": [{"product_id": 1, "quantity": 1}]}),
    ("zero id", {"user_id": 0, "items": [{"product_id": 1, "quantity": 1}]}),
    (
        "client-side price",
        {"user_id": 1, "items": [{"product_id": 1, "quantity": 1, "unit_price_cents": 1}]},
    ),
    (
        "unknown payment method",
        {"user_id": 1, "items": [{"product_id": 1, "quantity": 1}], "payment": {"method": "cash"}},
    ),
    ("items not a list", {"user_id": 1, "items": {"product_id": 1}}),
    ("body not an object", [1, 2, 3]),
    (
        "too many items",
        {"user_id": 1, "items": [{"product_id": i, "quantity": 1} for i in range(1, 60)]},
    ),
]

MALFORMED_BODIES: list[tuple[str, bytes]] = [
    ("not json", b"{user_id: 1"),
    ("empty", b""),
    ("oversized", json.dumps({"user_id": 1, "pad": "x" * 70_000}).encode()),
]
