"""Deterministic shop data: Faker builds the pools, numpy draws the rows.

Faker is called once per pool value (a few thousand calls), never per row;
every row is drawn with numpy from those pools with realistic skew: a few
customers and products account for much of the volume, and orders follow
daily and weekly cycles over a year that ends on Black Friday. Rows are made
in chunks so memory stays bounded whatever the size. The same spec gives the
same bytes on every run: every random stream is seeded from (seed, purpose,
chunk).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from faker import Faker

from harness.seed.copybinary import Fixed, Pooled, encode_rows, fixed_text, timestamptz
from harness.seed.spec import MAX_ITEMS_PER_ORDER, DatasetSpec
from shop.schema import ORDER_STATUSES, PAYMENT_METHODS, PAYMENT_STATUSES

ORDERS_PER_CHUNK = 100_000
US_PER_DAY = 86_400_000_000

CATEGORIES = (
    "Electronics",
    "Books",
    "Home & Kitchen",
    "Toys & Games",
    "Clothing",
    "Sports & Outdoors",
    "Beauty",
    "Garden",
    "Grocery",
    "Automotive",
    "Office",
    "Pet Supplies",
)
CATEGORY_NOUNS = {
    "Electronics": ("Headphones", "Charger", "Speaker", "Camera", "Monitor", "Keyboard"),
    "Books": ("Novel", "Cookbook", "Atlas", "Guide", "Anthology", "Biography"),
    "Home & Kitchen": ("Kettle", "Pan", "Lamp", "Blender", "Mug Set", "Rug"),
    "Toys & Games": ("Puzzle", "Board Game", "Robot", "Doll", "Kite", "Blocks"),
    "Clothing": ("Jacket", "Sweater", "Sneakers", "Scarf", "Jeans", "Hoodie"),
    "Sports & Outdoors": ("Tent", "Yoga Mat", "Bottle", "Backpack", "Helmet", "Dumbbells"),
    "Beauty": ("Serum", "Lotion", "Palette", "Brush Set", "Shampoo", "Perfume"),
    "Garden": ("Planter", "Hose", "Shears", "Seeds", "Bird Feeder", "Trowel"),
    "Grocery": ("Coffee", "Tea", "Olive Oil", "Chocolate", "Granola", "Honey"),
    "Automotive": ("Dash Cam", "Wiper Set", "Seat Cover", "Tire Gauge", "Jump Starter", "Wax"),
    "Office": ("Notebook", "Pen Set", "Desk Lamp", "Stapler", "Planner", "Chair Mat"),
    "Pet Supplies": ("Leash", "Cat Tree", "Dog Bed", "Chew Toy", "Feeder", "Litter Box"),
}
# Share of orders by weekday (Mon..Sun) and by hour of day (UTC).
WEEKDAY_WEIGHTS = np.array([1.0, 0.95, 0.95, 1.0, 1.1, 1.3, 1.25])
HOUR_WEIGHTS = np.array(
    [
        *(0.2, 0.12, 0.08, 0.06, 0.06, 0.1, 0.25, 0.5, 0.8, 1.0, 1.1, 1.2),
        *(1.4, 1.35, 1.15, 1.1, 1.1, 1.2, 1.4, 1.7, 1.8, 1.5, 1.0, 0.5),
    ]
)
ITEM_COUNT_WEIGHTS = np.array([0.36, 0.25, 0.16, 0.11, 0.07, 0.05])  # 1..6 items
# Pools stay well inside what Faker's en_US lists hold, so filling them is quick.
NAME_POOL_SIZE = 400


@dataclass(frozen=True)
class Pools:
    first_names: list[str]
    last_names: list[str]
    cities: list[str]
    email_domains: list[str]
    product_words: list[str]


def build_pools(seed: int) -> Pools:
    fake = Faker("en_US")
    fake.seed_instance(seed)

    def unique(make: object, size: int) -> list[str]:
        values: dict[str, None] = {}
        attempts = 0
        while len(values) < size and attempts < size * 4:
            values[str(make())] = None  # type: ignore[operator]
            attempts += 1
        return list(values)

    return Pools(
        first_names=unique(fake.first_name, NAME_POOL_SIZE),
        last_names=unique(fake.last_name, NAME_POOL_SIZE),
        cities=unique(fake.city, 200),
        email_domains=unique(fake.free_email_domain, 3),
        product_words=unique(fake.color_name, 60),
    )


def _rng(seed: int, purpose: int, chunk: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, purpose, chunk])


def _skewed_weights(rng: np.random.Generator, n: int, shape: float) -> npt.NDArray[np.float64]:
    """Pareto weights: a small share of the population gets most of the mass."""
    weights: npt.NDArray[np.float64] = rng.pareto(shape, n) + 1.0
    normalized: npt.NDArray[np.float64] = weights / weights.sum()
    return normalized


class WeightedSampler:
    """Draws indexes with given weights, exactly, faster than a plain searchsorted.

    A guide table (Chen's method) maps each of many equal slices of [0, 1) to
    the first index whose cumulative weight reaches it; a draw starts there and
    steps forward over the few indexes inside its slice.
    """

    def __init__(self, weights: npt.NDArray[np.float64], guide_factor: int = 4) -> None:
        cdf = np.cumsum(weights / weights.sum())
        cdf[-1] = 1.0
        self.cdf = cdf
        self.slices = len(cdf) * guide_factor
        self.guide = np.searchsorted(cdf, np.arange(self.slices) / self.slices)

    def draw(self, rng: np.random.Generator, size: int) -> npt.NDArray[np.int64]:
        uniform = rng.random(size)
        index = self.guide[(uniform * self.slices).astype(np.int64)]
        behind = np.flatnonzero(self.cdf[index] < uniform)
        while behind.size:
            index[behind] += 1
            behind = behind[self.cdf[index[behind]] < uniform[behind]]
        result: npt.NDArray[np.int64] = index.astype(np.int64)
        return result


@dataclass
class OrderChunk:
    index: int
    orders: bytes
    order_items: bytes
    payments: bytes
    order_count: int
    item_count: int
    units_sold: npt.NDArray[np.int64]  # per product index

    @property
    def rows(self) -> int:
        return 2 * self.order_count + self.item_count


@dataclass
class ShopGenerator:
    spec: DatasetSpec
    chunk_size: int = ORDERS_PER_CHUNK
    pools: Pools = field(init=False)

    def __post_init__(self) -> None:
        spec = self.spec
        self.pools = build_pools(spec.seed)
        rng = _rng(spec.seed, 0)
        self.user_sampler = WeightedSampler(_skewed_weights(rng, spec.users, 1.1))
        self.product_sampler = WeightedSampler(_skewed_weights(rng, spec.products, 1.2))
        self.product_category = rng.integers(0, len(CATEGORIES), spec.products)
        prices = np.exp(rng.normal(np.log(2_500), 0.9, spec.products))
        self.product_price = np.clip(np.round(prices / 50) * 50 - 1, 199, 199_999).astype(np.int64)
        self.hour_weight = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
        self.hour_cdf = np.cumsum(self.hour_weight)
        self.item_cdf = np.cumsum(ITEM_COUNT_WEIGHTS / ITEM_COUNT_WEIGHTS.sum())
        end = datetime(spec.end_date.year, spec.end_date.month, spec.end_date.day, tzinfo=UTC)
        self.first_day = end - timedelta(days=spec.days - 1)
        self.first_day_us = int(self.first_day.timestamp() * 1_000_000)
        day_weights = self._day_weights()
        self.orders_per_day = rng.multinomial(spec.orders, day_weights / day_weights.sum())
        self.day_end_order = np.cumsum(self.orders_per_day)  # orders 0..k-1 fall before day i+1

    def _day_weights(self) -> npt.NDArray[np.float64]:
        days = np.arange(self.spec.days)
        weekday0 = self.first_day.weekday()
        weights = WEEKDAY_WEIGHTS[(days + weekday0) % 7].astype(np.float64)
        weights *= np.linspace(0.8, 1.2, self.spec.days)  # the shop grows over the year
        weights[-min(5, self.spec.days) :] *= 2.5  # Black Friday week
        return weights

    @property
    def chunk_count(self) -> int:
        return -(-self.spec.orders // self.chunk_size)

    # -- users and products: small tables, text COPY -------------------------
    def users_tsv(self) -> bytes:
        spec, pools = self.spec, self.pools
        rng = _rng(spec.seed, 1)
        first = rng.integers(0, len(pools.first_names), spec.users)
        last = rng.integers(0, len(pools.last_names), spec.users)
        city = rng.integers(0, len(pools.cities), spec.users)
        domain = rng.integers(0, len(pools.email_domains), spec.users)
        signup_us = self.first_day_us - rng.integers(0, 3 * 365 * US_PER_DAY, spec.users)
        created = _iso(signup_us)
        lines = []
        for i in range(spec.users):
            f, la = pools.first_names[first[i]], pools.last_names[last[i]]
            email = f"{f}.{la}.{i + 1}@{pools.email_domains[domain[i]]}".lower().replace(" ", "")
            lines.append(f"{i + 1}\t{f} {la}\t{email}\t{pools.cities[city[i]]}\t{created[i]}\n")
        return _tsv_safe("".join(lines)).encode()

    def products_tsv(self, units_sold: npt.NDArray[np.int64]) -> bytes:
        """Products last: current stock is what is left after everything sold."""
        spec, pools = self.spec, self.pools
        rng = _rng(spec.seed, 2)
        word = rng.integers(0, len(pools.product_words), spec.products)
        noun = rng.integers(0, 6, spec.products)
        # what is left after a year of sales: best sellers are restocked more
        remaining = rng.integers(2_000, 20_000, spec.products) + units_sold // 10
        created = _iso(self.first_day_us - rng.integers(0, 2 * 365 * US_PER_DAY, spec.products))
        lines = []
        for i in range(spec.products):
            category = CATEGORIES[self.product_category[i]]
            name = f"{pools.product_words[word[i]]} {CATEGORY_NOUNS[category][noun[i]]} {i + 1}"
            price, stock = self.product_price[i], remaining[i]
            lines.append(f"{i + 1}\t{name}\t{category}\t{price}\t{stock}\t{created[i]}\n")
        return _tsv_safe("".join(lines)).encode()

    # -- orders, items, payments: big tables, binary COPY --------------------
    def order_chunks(self) -> Iterator[OrderChunk]:
        for index in range(self.chunk_count):
            yield self.order_chunk(index)

    def order_chunk(self, index: int) -> OrderChunk:
        spec = self.spec
        rng = _rng(spec.seed, 3, index)
        first = index * self.chunk_size
        n = min(self.chunk_size, spec.orders - first)
        order_idx = np.arange(first, first + n, dtype=np.int64)
        order_id = order_idx + 1

        user_id = self.user_sampler.draw(rng, n) + 1

        day = np.searchsorted(self.day_end_order, order_idx, side="right")
        created_us = self.order_times(order_idx, day, rng)

        items_per_order = np.searchsorted(self.item_cdf, rng.random(n)) + 1
        items_per_order = np.minimum(items_per_order, MAX_ITEMS_PER_ORDER)
        take = np.arange(MAX_ITEMS_PER_ORDER) < items_per_order[:, None]
        item_product_idx = self._distinct_products(rng, take)[take]
        item_order_id = np.repeat(order_id, items_per_order)
        quantity = np.minimum(rng.geometric(0.72, item_product_idx.size), 5).astype(np.int64)
        unit_price = self.product_price[item_product_idx]
        line_total = quantity * unit_price
        starts = np.concatenate(([0], np.cumsum(items_per_order)[:-1]))
        total = np.add.reduceat(line_total, starts)

        age_days = spec.days - 1 - day
        status = np.full(n, ORDER_STATUSES.index("delivered"), dtype=np.int64)
        status[age_days < 7] = ORDER_STATUSES.index("shipped")
        status[age_days < 2] = ORDER_STATUSES.index("paid")
        fate = rng.random(n)
        status[fate < 0.03] = ORDER_STATUSES.index("refunded")
        status[fate < 0.01] = ORDER_STATUSES.index("cancelled")

        orders = encode_rows(
            [
                Fixed(order_id, "int8"),
                Fixed(user_id.astype(np.int64), "int8"),
                Fixed(total, "int8"),
                timestamptz(created_us),
                Pooled(status, [s.encode() for s in ORDER_STATUSES]),
            ]
        )
        order_items = encode_rows(
            [
                Fixed(item_order_id, "int8"),
                Fixed(item_product_idx + 1, "int8"),
                Fixed(quantity.astype(np.int32), "int4"),
                Fixed(unit_price.astype(np.int32), "int4"),
            ]
        )
        payment_status = np.zeros(n, dtype=np.int64)  # captured
        payment_status[status == ORDER_STATUSES.index("refunded")] = PAYMENT_STATUSES.index(
            "refunded"
        )
        payment_status[status == ORDER_STATUSES.index("cancelled")] = PAYMENT_STATUSES.index(
            "voided"
        )
        method = np.searchsorted(np.cumsum([0.7, 0.2, 0.05, 0.05]), rng.random(n) * 0.99999)
        payments = encode_rows(
            [
                Fixed(order_id, "int8"),
                Fixed(total, "int8"),
                timestamptz(created_us + rng.integers(1_000_000, 30_000_000, n)),
                fixed_text(_gateway_refs(order_id, spec.seed)),
                Pooled(method, [m.encode() for m in PAYMENT_METHODS]),
                Pooled(payment_status, [s.encode() for s in PAYMENT_STATUSES]),
            ]
        )
        units = np.bincount(item_product_idx, weights=quantity, minlength=spec.products)
        return OrderChunk(
            index=index,
            orders=orders,
            order_items=order_items,
            payments=payments,
            order_count=n,
            item_count=int(item_product_idx.size),
            units_sold=units.astype(np.int64),
        )

    def order_times(
        self,
        order_idx: npt.NDArray[np.int64],
        day: npt.NDArray[np.int64],
        rng: np.random.Generator,
    ) -> npt.NDArray[np.int64]:
        """Creation times that follow the daily cycle and increase with the order id.

        Stratified sampling: the r-th of a day's c orders gets the time at
        quantile (r + jitter) / c of the hourly distribution, so times rise
        with ids even across chunk boundaries, with no sort.
        """
        day_start = self.day_end_order[day] - self.orders_per_day[day]
        quantile = (order_idx - day_start + rng.random(order_idx.size)) / self.orders_per_day[day]
        hour = np.minimum(np.searchsorted(self.hour_cdf, quantile, side="right"), 23)
        hour_floor = self.hour_cdf[hour] - self.hour_weight[hour]
        within = np.clip((quantile - hour_floor) / self.hour_weight[hour], 0.0, 0.999_999)
        us_in_day = hour * 3_600_000_000 + (within * 3_600_000_000).astype(np.int64)
        times: npt.NDArray[np.int64] = self.first_day_us + day * US_PER_DAY + us_in_day
        return times

    def _distinct_products(
        self, rng: np.random.Generator, take: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.int64]:
        """Product indexes drawn by popularity where ``take`` is set, distinct within each row."""
        candidates = np.full(take.shape, -1, dtype=np.int64)
        candidates[take] = self.product_sampler.draw(rng, int(take.sum()))
        for column in range(1, MAX_ITEMS_PER_ORDER):
            rows = np.flatnonzero(take[:, column])
            while rows.size:
                clash = (candidates[rows, column : column + 1] == candidates[rows, :column]).any(
                    axis=1
                )
                rows = rows[clash]
                # a uniform redraw always converges, even for the hottest products
                candidates[rows, column] = rng.integers(0, self.spec.products, rows.size)
        return candidates


def _gateway_refs(order_id: npt.NDArray[np.int64], seed: int) -> npt.NDArray[np.bytes_]:
    """Unique, opaque payment references like ``ch_9f1c0a7e3b2d4c11`` (hash of the order)."""
    mixed = order_id.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed)
    mixed ^= mixed >> np.uint64(31)
    mixed *= np.uint64(0xBF58476D1CE4E5B9)
    mixed ^= mixed >> np.uint64(29)
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((mixed[:, None] >> shifts) & np.uint64(0xF)).astype(np.uint8)
    hexdigits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    prefix = np.broadcast_to(np.frombuffer(b"ch_", dtype=np.uint8), (len(order_id), 3))
    raw = np.ascontiguousarray(np.hstack([prefix, hexdigits]))
    return raw.view("S19").ravel()


def _iso(unix_us: npt.NDArray[np.int64]) -> list[str]:
    stamps = np.datetime_as_string(unix_us.astype("datetime64[us]"), unit="s")
    return [f"{s.replace('T', ' ')}+00" for s in stamps.tolist()]


def _tsv_safe(text: str) -> str:
    # Faker values never hold these, but a COPY text stream must not break if one does.
    return text.replace("\\", "\\\\")
