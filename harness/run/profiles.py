"""Load plans per profile: phase lengths, rates and the size of the report storm.

Kept beside the dataset profiles; every value can be overridden on the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.core.errors import BadInput


@dataclass(frozen=True)
class LoadProfile:
    steady_s: float
    storm_s: float
    recovery_s: float
    checkout_rate: float
    shoppers: int
    admins: int
    admin_interval_s: float


LOAD_PROFILES = {
    "smoke": LoadProfile(
        20, 30, 20, checkout_rate=20, shoppers=10, admins=12, admin_interval_s=1.0
    ),
    "quick": LoadProfile(40, 60, 40, checkout_rate=25, shoppers=20, admins=8, admin_interval_s=2.0),
    "standard": LoadProfile(
        60, 120, 60, checkout_rate=25, shoppers=20, admins=6, admin_interval_s=3.0
    ),
    "black-friday": LoadProfile(
        120, 240, 120, checkout_rate=40, shoppers=40, admins=10, admin_interval_s=3.0
    ),
}


def load_profile(name: str) -> LoadProfile:
    if name not in LOAD_PROFILES:
        raise BadInput(f"unknown profile {name!r} (known: {', '.join(LOAD_PROFILES)})")
    return LOAD_PROFILES[name]
