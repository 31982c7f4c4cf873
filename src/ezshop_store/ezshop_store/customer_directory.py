"""Customer id -> name, from the store database, without holding every customer in memory
(a chain has a million): each id is read when first asked for and the most recent are kept.
Plain Python (SQLAlchemy), no rclpy."""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ezshop_store.db import models as m

#: Customers whose name (or forgotten state) stays in memory: a store's regulars.
KEPT_CUSTOMERS = 100_000
_UNKNOWN = object()


class CustomerDirectory:
    """Looks like a dict of the customers the store knows: `get(id)` is the name (None once
    forgotten, or for an unknown id), `id in directory` is whether they were ever enrolled.
    An id not enrolled is asked of the database each time (a customer enrolled at another
    store sharing the database is known at once)."""

    def __init__(self, engine: Engine, kept: int = KEPT_CUSTOMERS):
        self._engine = engine
        self._kept_max = kept
        self._kept: OrderedDict[str, str | None] = OrderedDict()

    def _lookup(self, customer_id: str):
        if customer_id in self._kept:
            self._kept.move_to_end(customer_id)
            return self._kept[customer_id]
        with Session(self._engine) as s:
            row = s.execute(select(m.Customer.name, m.Customer.forgotten_at_ns)
                            .where(m.Customer.id == customer_id)).first()
        if row is None:
            return _UNKNOWN
        name = None if row.forgotten_at_ns is not None else row.name
        self[customer_id] = name
        return name

    def get(self, customer_id: str, default=None) -> str | None:
        found = self._lookup(customer_id)
        return default if found is _UNKNOWN or found is None else found

    def __contains__(self, customer_id: object) -> bool:
        return isinstance(customer_id, str) and self._lookup(customer_id) is not _UNKNOWN

    def __setitem__(self, customer_id: str, name: str | None) -> None:
        """Note an enrolment (name) or a forget (None) committed to the database."""
        self._kept[customer_id] = name
        self._kept.move_to_end(customer_id)
        while len(self._kept) > self._kept_max:
            self._kept.popitem(last=False)

    def __len__(self) -> int:
        """Customers held in memory (not every customer enrolled)."""
        return len(self._kept)
