"""The gallery of enrolled faces and the identification rule. Plain Python, no rclpy.

Identification: for every enrolled customer, the distance from a face embedding to that
customer's nearest enrolled embedding (Euclidean, dlib space). The face is that customer only
when the best distance is within ``tolerance`` AND the second-best customer is at least
``margin`` further away; otherwise it is unknown (never the "least bad" customer). The margin
is between customers, not embeddings: two embeddings of one customer never make a face
ambiguous. The search behind it is indexed (ezshop_vision.gallery_index).
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ezshop_common.settings import setting
from ezshop_vision.gallery_index import EmbeddingIndex, IndexSettings

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


def vote_confidence(agreeing: int, votes: int, mean_distance: float,
                    policy: MatchPolicy) -> float:
    """A track's confidence in a name (0..1): the share of its votes that name it times how
    close they came (1 at distance 0, 0.5 at the tolerance)."""
    closeness = max(0.0, 1.0 - 0.5 * mean_distance / policy.tolerance)
    return float(agreeing / votes * closeness)


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
    #: Named through the faces the customer showed this visit (visit_memory), not the
    #: enrolment photos: never remembered itself.
    from_visit: bool = False

    @property
    def known(self) -> bool:
        return bool(self.customer_id)


class Gallery:
    """Enrolled customers and their embeddings (float32, dim values each), and the rule.

    Safe to change while other threads identify: one lock guards every method (identify
    holds it for one search: ~0.1-5 ms, see EmbeddingIndex). Customers are kept in the order
    they were first added. Search: exact below ``IndexSettings.ann_min_embeddings``
    embeddings, an approximate faiss index above (ezshop_vision.gallery_index).
    """

    def __init__(self, dim: int = 128, index_settings: IndexSettings | None = None):
        self.dim = dim
        #: customer id -> name, in the order the customers were added.
        self.names: dict[str, str] = {}
        self._slots: dict[str, int] = {}
        self._ids: list[str] = []          # slot -> customer id ('' when free)
        self._index = EmbeddingIndex(dim, index_settings)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f'Gallery({len(self)} customers, {self._index.describe()})'

    def add(self, customer_id: str, embeddings, name: str = '') -> None:
        """Add a customer's embeddings (shape (n, dim) or flat n*dim); validates them. A known
        customer keeps the embeddings they had and gets these too (and the new name)."""
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
        grown = None
        while True:
            with self._lock:
                if grown is not None:
                    self._index.adopt(*grown)
                plan = self._index.growth_plan(len(array))
                if plan is None:
                    self._add(customer_id, array, name)
                    return
            # The matrix doubles: the copy (~1 s at 1M customers) is made while others identify.
            grown = plan, self._index.grown_matrix(plan)

    def _add(self, customer_id: str, array: np.ndarray, name: str) -> None:
        slot = self._slots.get(customer_id)
        if slot is None:
            slot = self._slots[customer_id] = self._index.new_slot()
            if slot == len(self._ids):
                self._ids.append(customer_id)
            else:
                self._ids[slot] = customer_id
        self.names[customer_id] = name
        self._index.add(slot, array)

    def remove(self, customer_id: str) -> bool:
        """Forget a customer (their embeddings are cleared at once); False when they were not
        in the gallery."""
        with self._lock:
            slot = self._slots.pop(customer_id, None)
            if slot is None:
                return False
            del self.names[customer_id]
            self._ids[slot] = ''
            self._index.remove_slot(slot)
            return True

    @contextmanager
    def bulk(self):
        """Many adds (and removes) at once: the approximate index is built or fed once at
        the end instead of in batches along the way (a snapshot loaded at start). The gallery
        stays usable meanwhile: what is not indexed yet is searched exactly."""
        with self._lock:
            self._index.deferred += 1
        try:
            yield self
        finally:
            with self._lock:
                self._index.deferred -= 1
                if not self._index.deferred:
                    self._index.sync()

    def embeddings_of(self, customer_id: str) -> np.ndarray:
        """A copy of the customer's embeddings, shape (n, dim), in the order added."""
        with self._lock:
            return self._index.vectors(self._slots[customer_id])

    @property
    def customer_ids(self) -> list[str]:
        with self._lock:
            return list(self.names)

    @property
    def embedding_count(self) -> int:
        return len(self._index)

    def describe(self) -> dict[str, object]:
        """How the gallery searches now (for /diagnostics): exact or the index, its sizes."""
        with self._lock:
            return {'customers': len(self._slots), **self._index.describe()}

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, customer_id: str) -> bool:
        return customer_id in self._slots

    def nearest_customers(self, embedding, k: int) -> list[tuple[str, float]]:
        """The k nearest customers (distance to each one's nearest embedding), nearest first;
        fewer when the gallery has fewer, none for a NaN embedding."""
        query = self._query(embedding)
        if query is None:
            return []
        with self._lock:
            return [(self._ids[slot], distance)
                    for slot, distance in self._index.nearest(query, k)]

    def identify(self, embedding: np.ndarray, policy: MatchPolicy) -> Match:
        """Nearest customer within tolerance and with a margin over the second best."""
        ranked = self.nearest_customers(embedding, 2)
        if not ranked:
            return Match('', math.nan)
        nearest_id, best = ranked[0]
        second = ranked[1][1] if len(ranked) > 1 else math.inf
        accepted = best <= policy.tolerance and second - best >= policy.margin
        return Match(nearest_id if accepted else '', best, nearest_id, second)

    def _query(self, embedding) -> np.ndarray | None:
        query = np.asarray(embedding, dtype=np.float32).reshape(-1)
        if query.size != self.dim:
            raise ValueError(f'embedding has {query.size} values, expected {self.dim}')
        return query if np.all(np.isfinite(query)) else None


def add_entries(gallery: Gallery, entries, model: str = '') -> list[str]:
    """Add (customer_id, name, embedding_dim, model, flat embeddings) tuples to a gallery.
    Customers whose data does not fit (wrong dimension or model, bad length, NaN) are left
    out; returns why, one line each."""
    problems = []
    for customer_id, name, entry_dim, entry_model, flat in entries:
        if entry_dim != gallery.dim:
            problems.append(f'{customer_id}: embedding_dim {entry_dim}, expected {gallery.dim}')
            continue
        if model and entry_model and entry_model != model:
            problems.append(f'{customer_id}: model {entry_model!r}, expected {model!r}')
            continue
        try:
            gallery.add(customer_id, np.asarray(flat, dtype=np.float32), name)
        except ValueError as exc:
            problems.append(str(exc))
    return problems


def gallery_from_entries(entries, dim: int = 128, model: str = '') -> tuple[Gallery, list[str]]:
    """A new gallery of (customer_id, name, embedding_dim, model, flat embeddings) tuples, and
    why any customer was left out (add_entries)."""
    gallery = Gallery(dim=dim)
    with gallery.bulk():
        problems = add_entries(gallery, entries, model)
    return gallery, problems
