"""The nearest customers to a face embedding among many: exact search while the gallery is
small, an approximate faiss index above a size. Plain Python, no rclpy; not thread-safe
(ezshop_vision.gallery.Gallery holds the lock).

Rows: one float32 row per embedding in one contiguous matrix grown by doubling (Gallery makes
the copy outside its lock: growth_plan / grown_matrix / adopt). A customer is
a slot (an int) whose rows are chained (first / next / last arrays), so adding and removing
cost O(1) bookkeeping at any size. A removed row is cleared at once (zeros, squared norm inf:
never anyone's nearest) and reused by later adds; when more than half of the rows are free
the matrix is compacted (O(rows), after at least rows/2 removals: amortised O(1)).

Exact search: squared distances to every row (one matrix-vector product with the kept
norms), then the nearest rows' customers, each customer once.

Approximate search (from `IndexSettings.ann_min_embeddings` embeddings on): a faiss IVF index
with 4-bit product-quantised fast-scan codes (``IVF<nlist>,PQ<dim/2>x4fs``, 32 bytes per
128-d embedding) scans `probe_fraction` of its lists and proposes `candidates` rows; the
exact distances of every row of the customers they belong to (from the matrix) decide. So
distances are always exact, customers are ranked by their nearest embedding, and a
customer is missed only if none of its embeddings was proposed. Rows added since the index
last took rows are searched exactly beside it and go into it in batches (`index_batch`);
removed rows leave it in batches (faiss scans its lists to remove: ~5 ms at 3M rows,
whatever the batch size) and are skipped until then: their float32 rows are zeroed at once,
only their 32-byte codes wait in the index for the purge. Measured with
bench/gallery_scale.py.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ezshop_common.settings import setting

#: Below this many embeddings exact search is cheaper than the index (bench/gallery_scale.py).
DEFAULT_ANN_MIN_EMBEDDINGS = 30_000
#: faiss wants >= 39 training points per list; an IVF index needs at least this many rows.
_MIN_LISTS, _MAX_LISTS, _POINTS_PER_LIST = 16, 1024, 40
#: Removed rows still in the index are purged at least every this many removals.
_MIN_PURGE = 64
#: Rows per faiss add call when the index is built (bounds the copy a gather makes).
_BUILD_CHUNK = 65_536


@dataclass(frozen=True)
class IndexSettings:
    """When and how the gallery uses its approximate index."""

    ann_min_embeddings: int = setting(
        DEFAULT_ANN_MIN_EMBEDDINGS, 'Embeddings from which identification uses the approximate '
        'index (below: exact search; it drops back below half of this)', 1000, 100_000_000)
    probe_fraction: float = setting(0.25, 'Share of the index lists scanned per face', 0.01, 1.0)
    candidates: int = setting(256, 'Embeddings the index proposes per face (their exact '
                              'distances decide)', 16, 4096)
    index_batch: int = setting(1024, 'Embeddings added before they go into the index (until '
                               'then they are searched exactly)', 1, 65_536)

    def __post_init__(self):
        if self.ann_min_embeddings < 1000:
            raise ValueError(f'ann_min_embeddings must be >= 1000, got {self.ann_min_embeddings}')
        if not 0.0 < self.probe_fraction <= 1.0:
            raise ValueError(f'probe_fraction must be in (0, 1], got {self.probe_fraction}')
        if self.candidates < 1 or self.index_batch < 1:
            raise ValueError('candidates and index_batch must be positive')


def list_count(rows: int) -> int:
    """IVF lists for an index built on this many rows: a power of two near sqrt(rows) / 2,
    16..1024, with enough rows to train every list."""
    nlist = 2 ** round(math.log2(max(1.0, math.sqrt(rows) / 2)))
    nlist = min(_MAX_LISTS, max(_MIN_LISTS, nlist))
    while nlist > _MIN_LISTS and rows < _POINTS_PER_LIST * nlist:
        nlist //= 2
    return nlist


class _Ivf:
    """faiss IVF + 4-bit PQ fast-scan, ids = matrix rows."""

    def __init__(self, dim: int, vectors: np.ndarray, rows: np.ndarray):
        import faiss  # only galleries this large pay for it

        self._faiss = faiss
        self.nlist = list_count(len(rows))
        self.index = faiss.index_factory(dim, f'IVF{self.nlist},PQ{dim // 2}x4fs')
        self._ivf = faiss.extract_index_ivf(self.index)
        self._nprobe = 0
        sample = rows
        if len(rows) > 64 * self.nlist:
            sample = np.sort(np.random.default_rng(0).choice(rows, 64 * self.nlist,
                                                             replace=False))
        self._threads(build=True)
        self.index.train(np.ascontiguousarray(vectors[sample]))
        for start in range(0, len(rows), _BUILD_CHUNK):
            self.add(vectors, rows[start:start + _BUILD_CHUNK])

    def _threads(self, build: bool) -> None:
        # Per calling thread (OpenMP): builds use the cores, a single face never needs them.
        self._faiss.omp_set_num_threads((os.cpu_count() or 1) if build else 1)

    def add(self, vectors: np.ndarray, rows: np.ndarray) -> None:
        self._threads(build=True)
        self.index.add_with_ids(np.ascontiguousarray(vectors[rows]), rows.astype(np.int64))

    def remove(self, rows: list[int]) -> None:
        self._threads(build=True)
        self.index.remove_ids(self._faiss.IDSelectorBatch(np.asarray(rows, np.int64)))

    def search(self, query: np.ndarray, k: int, nprobe: int) -> np.ndarray:
        """Up to k proposed rows (fewer when the scanned lists hold fewer)."""
        self._threads(build=False)
        if nprobe != self._nprobe:
            self._ivf.nprobe = self._nprobe = nprobe
        _, ids = self.index.search(query[None, :], k)
        ids = ids[0]
        return ids[ids >= 0]


class EmbeddingIndex:
    """Customers (int slots) and their embeddings; nearest customers by exact distance."""

    def __init__(self, dim: int, settings: IndexSettings | None = None):
        self.dim = dim
        self.settings = settings or IndexSettings()
        #: While > 0 (Gallery.bulk), adds neither build nor feed the index: sync() does.
        self.deferred = 0
        self._matrix = np.zeros((0, dim), np.float32)
        self._sq = np.zeros(0, np.float32)          # squared norm; inf: free or removed row
        self._slot_of = np.zeros(0, np.int32)       # -1: free or removed
        self._next = np.zeros(0, np.int32)          # the slot's next row, -1: last
        self._indexed = np.zeros(0, bool)           # the row is in the faiss index
        self._high = 0                              # rows below this were used
        self._free: list[int] = []                  # reusable rows below _high
        self._live = 0
        self._first = np.zeros(0, np.int32)         # per slot, -1: no rows
        self._last = np.zeros(0, np.int32)
        self._slot_high = 0
        self._free_slots: list[int] = []
        self._ann: _Ivf | None = None
        self._pending: list[int] = []               # live rows not yet in the index
        self._pending_array: np.ndarray | None = None
        self._dead: list[int] = []                  # removed rows still in the index
        self._version = 0                           # +1 whenever rows are written
        self.compactions = 0
        self.builds = 0

    # -- bookkeeping ------------------------------------------------------------------------

    def __len__(self) -> int:
        """Live embeddings."""
        return self._live

    @property
    def approximate(self) -> bool:
        return self._ann is not None

    def new_slot(self) -> int:
        if self._free_slots:
            return self._free_slots.pop()
        if self._slot_high == len(self._first):
            grown = max(1024, 2 * len(self._first))
            self._first = _grown(self._first, grown, -1)
            self._last = _grown(self._last, grown, -1)
        self._slot_high += 1
        return self._slot_high - 1

    def add(self, slot: int, vectors: np.ndarray) -> None:
        """Append rows (validated float32, shape (n, dim)) to a slot from new_slot()."""
        rows = self._new_rows(len(vectors))
        self._matrix[rows] = vectors
        self._sq[rows] = np.einsum('ij,ij->i', vectors, vectors)
        self._slot_of[rows] = slot
        self._next[rows[:-1]] = rows[1:]
        self._next[rows[-1]] = -1
        if self._first[slot] < 0:
            self._first[slot] = rows[0]
        else:
            self._next[self._last[slot]] = rows[0]
        self._last[slot] = rows[-1]
        self._live += len(rows)
        if self._ann is not None:
            self._pending.extend(rows.tolist())
            self._pending_array = None
        if not self.deferred:
            self._keep_up()

    def remove_slot(self, slot: int) -> None:
        """Clear the slot's rows at once (never found again) and free the slot."""
        row = int(self._first[slot])
        while row >= 0:
            following = int(self._next[row])
            self._matrix[row] = 0.0
            self._sq[row] = np.inf
            self._slot_of[row] = -1
            self._next[row] = -1
            self._live -= 1
            if self._indexed[row]:
                self._dead.append(row)
            else:
                if self._ann is not None:
                    self._pending.remove(row)
                    self._pending_array = None
                self._free.append(row)
            row = following
        self._first[slot] = self._last[slot] = -1
        self._free_slots.append(slot)
        self._version += 1
        if not self.deferred:
            self._keep_up()

    def rows(self, slot: int) -> list[int]:
        out, row = [], int(self._first[slot])
        while row >= 0:
            out.append(row)
            row = int(self._next[row])
        return out

    def vectors(self, slot: int) -> np.ndarray:
        return self._matrix[self.rows(slot)].copy()

    def sync(self) -> None:
        """Bring the index up to date (after a bulk load)."""
        self._keep_up(force=True)

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {
            'search': 'ivf_pq_fastscan' if self._ann else 'exact', 'embeddings': self._live,
            'matrix_rows': len(self._matrix), 'free_rows': len(self._free)}
        if self._ann is not None:
            info.update(nlist=self._ann.nlist, nprobe=self._nprobe(),
                        candidates=self.settings.candidates, pending=len(self._pending),
                        awaiting_removal=len(self._dead))
        return info

    # -- growth: the big copy can be made without the lock ---------------------------------

    def growth_plan(self, count: int) -> tuple[int, int, int] | None:
        """(capacity, rows to copy, version) when adding count rows needs a larger matrix."""
        fresh = count - min(count, len(self._free))
        if self._high + fresh <= len(self._matrix):
            return None
        capacity = max(1024, len(self._matrix))
        while capacity < self._high + fresh:
            capacity *= 2
        return capacity, self._high, self._version

    def grown_matrix(self, plan: tuple[int, int, int]) -> np.ndarray:
        """The larger matrix of a plan, filled from the current one. Needs no lock: it only
        reads, and adopt() refuses it if anything was written meanwhile."""
        capacity, high, _ = plan
        matrix = np.zeros((capacity, self.dim), np.float32)  # pages not written cost nothing
        matrix[:high] = self._matrix[:high]
        return matrix

    def adopt(self, plan: tuple[int, int, int], matrix: np.ndarray) -> bool:
        """Take a grown matrix (with the lock), unless the rows changed since the plan."""
        if plan[2] != self._version or plan[1] != self._high:
            return False
        self._resize(plan[0], matrix)
        return True

    def _new_rows(self, count: int) -> np.ndarray:
        plan = self.growth_plan(count)
        if plan is not None:
            self.adopt(plan, self.grown_matrix(plan))
        reused = [self._free.pop() for _ in range(min(count, len(self._free)))]
        fresh = count - len(reused)
        rows = np.empty(count, np.int64)
        rows[:len(reused)] = reused
        rows[len(reused):] = np.arange(self._high, self._high + fresh)
        self._high += fresh
        self._version += 1
        return rows

    def _resize(self, capacity: int, matrix: np.ndarray) -> None:
        self._matrix = matrix
        self._sq = _grown(self._sq, capacity, np.inf)
        self._slot_of = _grown(self._slot_of, capacity, -1)
        self._next = _grown(self._next, capacity, -1)
        self._indexed = _grown(self._indexed, capacity, False)

    def _keep_up(self, force: bool = False) -> None:
        """Index built or dropped at the thresholds, batches moved in and out, compaction."""
        threshold = self.settings.ann_min_embeddings
        if self._high >= 4096 and len(self._free) + len(self._dead) > self._live:
            self._compact()
        if self._ann is None:
            if self._live >= threshold and self.dim % 2 == 0:
                self._build()
            return
        if self._live < threshold // 2:
            self._drop()
            return
        if self._pending and (force or len(self._pending) >= self.settings.index_batch):
            rows = np.asarray(self._pending, np.int64)
            self._ann.add(self._matrix, rows)
            self._indexed[rows] = True
            self._pending, self._pending_array = [], None
        if self._dead and (force or len(self._dead) >= max(_MIN_PURGE, self._live // 1024)):
            self._ann.remove(self._dead)
            self._indexed[self._dead] = False
            self._free.extend(self._dead)
            self._dead = []

    def _live_rows(self) -> np.ndarray:
        return np.flatnonzero(self._slot_of[:self._high] >= 0)

    def _build(self) -> None:
        rows = self._live_rows()
        self._ann = _Ivf(self.dim, self._matrix, rows)
        self._indexed[rows] = True
        self._pending, self._pending_array = [], None
        self.builds += 1

    def _drop(self) -> None:
        self._ann = None
        self._indexed[:] = False
        self._free.extend(self._dead)
        self._dead, self._pending, self._pending_array = [], [], None

    def _compact(self) -> None:
        """Live rows moved to the front, in order; the index rebuilt on them if there is one."""
        rows = self._live_rows()
        moved = np.full(self._high, -1, np.int32)
        moved[rows] = np.arange(len(rows), dtype=np.int32)
        capacity = max(1024, 1 << int(max(len(rows), 1) - 1).bit_length())
        matrix = np.zeros((capacity, self.dim), np.float32)
        matrix[:len(rows)] = self._matrix[rows]
        sq = np.full(capacity, np.inf, np.float32)
        sq[:len(rows)] = self._sq[rows]
        slot_of = np.full(capacity, -1, np.int32)
        slot_of[:len(rows)] = self._slot_of[rows]
        following = np.full(capacity, -1, np.int32)
        old_next = self._next[rows]
        following[:len(rows)] = np.where(old_next >= 0, moved[np.maximum(old_next, 0)], -1)
        used = self._first[:self._slot_high] >= 0
        self._first[:self._slot_high][used] = moved[self._first[:self._slot_high][used]]
        self._last[:self._slot_high][used] = moved[self._last[:self._slot_high][used]]
        self._matrix, self._sq, self._slot_of, self._next = matrix, sq, slot_of, following
        self._indexed = np.zeros(capacity, bool)
        self._high, self._free, self._dead = len(rows), [], []
        self._version += 1
        self._pending, self._pending_array = [], None
        had_index, self._ann = self._ann is not None, None
        if had_index and self._live >= self.settings.ann_min_embeddings // 2:
            self._build()
        self.compactions += 1

    # -- search -----------------------------------------------------------------------------

    def nearest(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The k nearest slots (distance to each one's nearest row), nearest first."""
        if k <= 0 or self._live == 0:
            return []
        if self._ann is None:
            return self._exact(query, k)
        return self._approximate(query, k)

    def _nprobe(self) -> int:
        return max(1, min(self._ann.nlist, round(self._ann.nlist * self.settings.probe_fraction)))

    def _exact(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        # Squared distance less |q|^2 (the same for every row: the order is what counts).
        scores = self._matrix[:self._high] @ query
        scores *= -2.0
        scores += self._sq[:self._high]
        slots = []
        if k <= 4:
            while len(slots) < k:
                row = int(np.argmin(scores))
                if not np.isfinite(scores[row]):
                    break
                slot = int(self._slot_of[row])
                slots.append(slot)
                scores[self.rows(slot)] = np.inf
        else:
            seen = set()
            for row in np.argsort(scores, kind='stable'):
                if not np.isfinite(scores[row]) or len(slots) == k:
                    break
                slot = int(self._slot_of[row])
                if slot not in seen:
                    seen.add(slot)
                    slots.append(slot)
        return self._ranked(np.asarray(slots, np.int64), query)[:k]

    def _approximate(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        wanted = max(self.settings.candidates, 8 * k)
        nprobe = self._nprobe()
        while True:
            proposed = self._ann.search(query, wanted, nprobe)
            exhausted = len(proposed) < wanted
            if self._pending:
                if self._pending_array is None:
                    self._pending_array = np.asarray(self._pending, np.int64)
                proposed = np.concatenate([proposed, self._pending_array])
            slots = self._slot_of[proposed]
            slots = np.unique(slots[slots >= 0])
            if len(slots) >= k:
                return self._ranked(slots, query)[:k]
            if exhausted and nprobe < self._ann.nlist:
                nprobe = min(self._ann.nlist, nprobe * 4)
            elif not exhausted and wanted < self._live:
                wanted *= 4
            else:
                return self._exact(query, k)

    def _ranked(self, slots: np.ndarray, query: np.ndarray) -> list[tuple[int, float]]:
        """Every row of these slots, exact distances, each slot at its nearest row, sorted."""
        if len(slots) == 0:
            return []
        rows, owners = [], []
        current, owner = self._first[slots].astype(np.int64), slots
        while len(current):
            rows.append(current)
            owners.append(owner)
            following = self._next[current]
            keep = following >= 0
            current, owner = following[keep].astype(np.int64), owner[keep]
        rows, owners = np.concatenate(rows), np.concatenate(owners)
        diff = self._matrix[rows] - query
        distances = np.sqrt(np.einsum('ij,ij->i', diff, diff))
        order = np.lexsort((distances, owners))      # by slot, nearest row first
        owners, distances = owners[order], distances[order]
        first = np.ones(len(owners), bool)
        first[1:] = owners[1:] != owners[:-1]
        owners, distances = owners[first], distances[first]
        best = np.argsort(distances, kind='stable')
        return [(int(owners[i]), float(distances[i])) for i in best]


def _grown(array: np.ndarray, capacity: int, fill) -> np.ndarray:
    out = np.full(capacity, fill, array.dtype)
    out[:len(array)] = array
    return out
