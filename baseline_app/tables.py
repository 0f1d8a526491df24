"""baseline_app's tables: the shared normalized schema, nothing else."""

from shop.schema import (
    idempotency_keys,
    metadata,
    order_items,
    orders,
    payments,
    products,
    users,
)

__all__ = ["idempotency_keys", "metadata", "order_items", "orders", "payments", "products", "users"]
