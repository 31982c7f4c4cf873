"""The gallery of enrolled faces and the identification rule. Plain Python, no rclpy.

Identification: for every enrolled customer, the distance from a face embedding to that
customer's nearest enrolled embedding (Euclidean, dlib space). The face is that customer only
when the best distance is within ``tolerance`` AND the second-best customer is at least
``margin`` further away; otherwise it is unknown (never the "least bad" customer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ezshop_common.settings import setting

#: Defaults chosen with bench/recognition.py on ../shared/faces (see docs/packages).
DEFAULT_TOLERANCE = 0.55
DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class MatchPolicy:
    """When a nearest embedding counts as a match; read on every identification, so both may
    change at run time."""

    tolerance: float = setting(DEFAULT_TOLERANCE, 'Largest embedding distance that can '
                               'identify a customer', 0.1, 1.0, dynamic=True)
    margin: float = setting(DEFAULT_MARGIN, 'Needed distance gap between the best and the '
                            'second-best customer', 0.0, 1.0, dynamic=True)

    def __post_init__(self):
        if not 0.0 < self.tolerance <= 2.0:
            raise ValueError(f'tolerance must be in (0, 2], got {self.tolerance}')
        if not 0.0 <= self.margin <= 2.0:
            raise ValueError(f'margin must be in [0, 2], got {self.margin}')


@dataclass(frozen=True)
class Match:
    """Outcome of comparing one embedding with the gallery.

    ``customer_id`` is '' when unknown; ``nearest_id`` / ``distance`` describe the nearest
    customer whether accepted or not (NaN distance when the gallery is empty).
    """

    customer_id: str
    distance: float
    nearest_id: str = ''
    second_distance: float = math.inf

    @property
    def known(self) -> bool:
        return bool(self.customer_id)


@dataclass
class Gallery:
    """Enrolled customers and their embeddings (float32, one row per embedding)."""

    dim: int = 128
    names: dict[str, str] = field(default_factory=dict)
    _ids: list[str] = field(default_factory=list)
    _rows: list[np.ndarray] = field(default_factory=list)
    _matrix: np.ndarray | None = None
    _labels: np.ndarray | None = None

    def add(self, customer_id: str, embeddings, name: str = '') -> None:
        """Add a customer's embeddings (shape (n, dim) or flat n*dim); validates them."""
        if not customer_id:
            raise ValueError('customer_id is empty')
        array = np.asarray(embeddings, dtype=np.float32)
        if array.ndim == 1:
            if array.size == 0 or array.size % self.dim:
                raise ValueError(f'{customer_id}: {array.size} values is not a multiple of '
                                 f'embedding_dim {self.dim}')
            array = array.reshape(-1, self.dim)
        if array.ndim != 2 or array.shape[1] != self.dim or array.shape[0] == 0:
            raise ValueError(f'{customer_id}: embeddings have shape {array.shape}, expected '
                             f'(n, {self.dim})')
        if not np.all(np.isfinite(array)):
            raise ValueError(f'{customer_id}: embeddings contain NaN or infinity')
        self.names[customer_id] = name
        if customer_id not in self._ids:
            self._ids.append(customer_id)
            self._rows.append(array)
        else:
            index = self._ids.index(customer_id)
            self._rows[index] = np.vstack([self._rows[index], array])
        self._matrix = None

    def remove(self, customer_id: str) -> bool:
        """Forget a customer; False when they were not in the gallery."""
        if customer_id not in self.names:
            return False
        index = self._ids.index(customer_id)
        del self._ids[index], self._rows[index], self.names[customer_id]
        self._matrix = None
        return True

    def embeddings_of(self, customer_id: str) -> np.ndarray:
        """The customer's embeddings, shape (n, dim)."""
        return self._rows[self._ids.index(customer_id)]

    @property
    def customer_ids(self) -> list[str]:
        return list(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, customer_id: str) -> bool:
        return customer_id in self.names

    def _build(self) -> None:
        if self._matrix is None:
            if self._rows:
                self._matrix = np.vstack(self._rows)
                self._labels = np.concatenate(
                    [np.full(len(r), i) for i, r in enumerate(self._rows)])
            else:
                self._matrix = np.zeros((0, self.dim), np.float32)
                self._labels = np.zeros(0, int)

    def distances(self, embedding: np.ndarray) -> dict[str, float]:
        """Distance to each customer's nearest embedding."""
        self._build()
        if not self._ids:
            return {}
        d = np.linalg.norm(self._matrix - np.asarray(embedding, np.float32), axis=1)
        per_customer = np.full(len(self._ids), np.inf)
        np.minimum.at(per_customer, self._labels, d)
        return {cid: float(per_customer[i]) for i, cid in enumerate(self._ids)}

    def identify(self, embedding: np.ndarray, policy: MatchPolicy) -> Match:
        """Nearest customer within tolerance and with a margin over the second best."""
        distances = self.distances(embedding)
        if not distances:
            return Match('', math.nan)
        ranked = sorted(distances.items(), key=lambda item: item[1])
        nearest_id, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else math.inf
        accepted = best <= policy.tolerance and second - best >= policy.margin
        return Match(nearest_id if accepted else '', best, nearest_id, second)


def gallery_from_entries(entries, dim: int = 128, model: str = '') -> tuple[Gallery, list[str]]:
    """Build a gallery from (customer_id, name, embedding_dim, model, flat embeddings) tuples.

    Customers whose data does not fit (wrong dimension or model, bad length, NaN) are left
    out; the second value lists why, one line each.
    """
    gallery = Gallery(dim=dim)
    problems = []
    for customer_id, name, entry_dim, entry_model, flat in entries:
        if entry_dim != dim:
            problems.append(f'{customer_id}: embedding_dim {entry_dim}, expected {dim}')
            continue
        if model and entry_model and entry_model != model:
            problems.append(f'{customer_id}: model {entry_model!r}, expected {model!r}')
            continue
        try:
            gallery.add(customer_id, np.asarray(flat, dtype=np.float32), name)
        except ValueError as exc:
            problems.append(str(exc))
    return gallery, problems
