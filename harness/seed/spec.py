"""What a dataset is: its sizes, seed and time span (the named profiles are in harness.profiles)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date

from harness.core.errors import BadInput
from shop.schema import SCHEMA_VERSION

MAX_ITEMS_PER_ORDER = 6
# Fixed, so the same seed gives the same rows whenever it runs: the dataset's
# last day is Black Friday 2026.
DEFAULT_END_DATE = date(2026, 11, 27)


@dataclass(frozen=True)
class DatasetSpec:
    users: int
    products: int
    orders: int
    seed: int = 42
    end_date: date = DEFAULT_END_DATE
    days: int = 365

    def validated(self) -> DatasetSpec:
        for name in ("users", "products", "orders", "days"):
            value = getattr(self, name)
            if value <= 0:
                raise BadInput(f"--{name} must be a positive number, got {value}")
        if self.products < MAX_ITEMS_PER_ORDER:
            raise BadInput(
                f"--products {self.products} is fewer than the {MAX_ITEMS_PER_ORDER} distinct "
                "products an order may hold"
            )
        if self.seed < 0:
            raise BadInput(f"--seed must not be negative, got {self.seed}")
        return self

    def key(self, pg_major: int | None) -> str:
        """Cache key: schema version, every parameter, seed, PostgreSQL major."""
        material = {
            "schema_version": SCHEMA_VERSION,
            "generator_version": GENERATOR_VERSION,
            **{k: str(v) for k, v in asdict(self).items()},
            "pg_major": pg_major,
        }
        digest = hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:12]
        major = "portable" if pg_major is None else f"pg{pg_major}"
        return f"o{self.orders}-u{self.users}-p{self.products}-s{self.seed}-{major}-{digest}"

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        data["end_date"] = self.end_date.isoformat()
        return data


# Bump when the generator's output for a given spec changes.
GENERATOR_VERSION = 1
