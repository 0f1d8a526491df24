"""The named profiles: for each, the dataset both systems start from and the load they get.

One definition; every value can be overridden on the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from harness.core.errors import BadInput
from harness.seed.spec import DatasetSpec


@dataclass(frozen=True)
class LoadProfile:
    steady_s: float
    storm_s: float
    recovery_s: float
    checkout_rate: float
    shoppers: int
    admins: int
    admin_interval_s: float


@dataclass(frozen=True)
class Profile:
    name: str
    dataset: DatasetSpec
    load: LoadProfile


PROFILES = {
    profile.name: profile
    for profile in (
        Profile(
            "smoke",
            DatasetSpec(users=2_000, products=500, orders=20_000),
            LoadProfile(20, 30, 20, checkout_rate=20, shoppers=10, admins=12, admin_interval_s=1.0),
        ),
        # a day when one database copes: a low checkout rate, no report storm (one admin,
        # a report now and then), on the smoke dataset: what each architecture costs
        # when there is nothing to gain (8/s for 30 s: 240 checkouts a phase, enough
        # for a p95 in each phase)
        Profile(
            "quiet",
            DatasetSpec(users=2_000, products=500, orders=20_000),
            LoadProfile(30, 30, 30, checkout_rate=8, shoppers=5, admins=1, admin_interval_s=10.0),
        ),
        Profile(
            "quick",
            DatasetSpec(users=20_000, products=2_000, orders=300_000),
            LoadProfile(40, 60, 40, checkout_rate=25, shoppers=20, admins=8, admin_interval_s=2.0),
        ),
        Profile(
            "standard",
            DatasetSpec(users=200_000, products=10_000, orders=2_000_000),
            LoadProfile(60, 120, 60, checkout_rate=25, shoppers=20, admins=6, admin_interval_s=3.0),
        ),
        Profile(
            "black-friday",
            DatasetSpec(users=1_000_000, products=50_000, orders=10_000_000),
            LoadProfile(
                120, 240, 120, checkout_rate=40, shoppers=40, admins=10, admin_interval_s=3.0
            ),
        ),
    )
}
DEFAULT_PROFILE = "standard"


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise BadInput(f"unknown profile {name!r} (known: {', '.join(PROFILES)})")
    return PROFILES[name]


def load_profile(name: str) -> LoadProfile:
    return get_profile(name).load


def spec_for(
    profile: str,
    *,
    users: int | None = None,
    products: int | None = None,
    orders: int | None = None,
    seed: int | None = None,
) -> DatasetSpec:
    """The profile's dataset with the given overrides, validated."""
    overrides = {
        name: value
        for name, value in (
            ("users", users),
            ("products", products),
            ("orders", orders),
            ("seed", seed),
        )
        if value is not None
    }
    return replace(get_profile(profile).dataset, **overrides).validated()  # type: ignore[arg-type]
