"""Indexed identification agrees with brute force: exact search below the size threshold, the
faiss index above it (forced here with a low threshold), adds, appends and removes in both;
the margin is between customers, not embeddings; identify is safe while others add."""

import threading

import numpy as np
import pytest

from ezshop_vision.gallery import Gallery, MatchPolicy, gallery_from_entries
from ezshop_vision.gallery_index import EmbeddingIndex, IndexSettings, list_count

DIM = 128
#: ~3 embeddings per customer: the index takes over from 1,000 embeddings.
LOW = IndexSettings(ann_min_embeddings=1000, index_batch=50)
POLICY = MatchPolicy()


def people(rng, n, per=3):
    """Synthetic people with dlib-like spread: different people ~0.9 apart, one person's
    embeddings ~0.3 apart."""
    centers = rng.standard_normal((n, DIM)).astype(np.float32) * 0.056
    return centers, centers[:, None, :] + rng.standard_normal((n, per, DIM)).astype(
        np.float32) * 0.019


class BruteForce:
    """The reference: every customer's distance (to their nearest embedding), sorted."""

    def __init__(self, customers: dict):
        self.ids = list(customers)
        self.matrix = np.vstack([customers[c] for c in self.ids])
        self.owner = np.concatenate([np.full(len(customers[c]), i)
                                     for i, c in enumerate(self.ids)])

    def ranked(self, query) -> list[tuple[str, float]]:
        rows = np.linalg.norm(self.matrix - query, axis=1)
        best = np.full(len(self.ids), np.inf)
        np.minimum.at(best, self.owner, rows)
        return [(self.ids[i], float(best[i])) for i in np.argsort(best, kind='stable')]

    def match(self, query) -> str:
        ranked = self.ranked(query)
        best = ranked[0][1]
        second = ranked[1][1] if len(ranked) > 1 else np.inf
        return ranked[0][0] if best <= POLICY.tolerance and second - best >= POLICY.margin \
            else ''


def check_agrees(gallery, customers, queries, exact: bool):
    reference = BruteForce(customers)
    agree = 0
    for query in queries:
        got = gallery.nearest_customers(query, 2)
        want = reference.ranked(query)[:2]
        if exact:
            assert [c for c, _ in got] == [c for c, _ in want]
            assert np.allclose([d for _, d in got], [d for _, d in want], rtol=1e-5)
        elif [c for c, _ in got] == [c for c, _ in want]:
            # The index only proposes candidates: the distances are the exact ones.
            assert np.allclose([d for _, d in got], [d for _, d in want], rtol=1e-5)
        agree += gallery.identify(query, POLICY).customer_id == reference.match(query)
    return agree / len(queries)


@pytest.mark.parametrize('n,approximate', [(200, False), (3000, True)])
def test_add_append_remove_identify_agree_with_brute_force(n, approximate):
    rng = np.random.default_rng(n)
    centers, embeddings = people(rng, n)
    gallery = Gallery(index_settings=LOW)
    customers = {}
    for i in range(n):
        gallery.add(f'c{i}', embeddings[i, :2], f'name {i}')
        customers[f'c{i}'] = embeddings[i, :2]
    for i in range(0, n, 2):                  # a third embedding for half of them
        gallery.add(f'c{i}', embeddings[i, 2:], f'renamed {i}')
        customers[f'c{i}'] = embeddings[i]
    for i in range(0, n, 5):
        assert gallery.remove(f'c{i}')
        del customers[f'c{i}']
    for i in range(n, n + 7):                 # newcomers, some still waiting for the index
        extra = people(rng, 1)[1][0]
        gallery.add(f'c{i}', extra)
        customers[f'c{i}'] = extra
    assert gallery.describe()['search'] == ('ivf_pq_fastscan' if approximate else 'exact')
    assert len(gallery) == len(customers) and gallery.embedding_count == sum(
        len(e) for e in customers.values())
    assert gallery.names['c2'] == 'renamed 2' and gallery.names['c1'] == 'name 1'
    np.testing.assert_array_equal(gallery.embeddings_of('c2'), embeddings[2])

    enrolled = [c for c in range(n) if f'c{c}' in customers]
    genuine = centers[enrolled[:150]] + rng.standard_normal((150, DIM)).astype(
        np.float32) * 0.019
    strangers = people(rng, 100)[1][:, 0]
    removed = embeddings[0:n:5][:50, 0]       # the forgotten, seen again
    queries = np.vstack([genuine, strangers, removed])
    agreement = check_agrees(gallery, customers, queries, exact=not approximate)
    assert agreement >= (1.0 if not approximate else 0.99)
    assert sum(gallery.identify(q, POLICY).known for q in genuine) >= 140


def test_removed_customers_are_never_found_again_in_either_search():
    rng = np.random.default_rng(7)
    _, embeddings = people(rng, 1500)
    gallery = Gallery(index_settings=LOW)
    with gallery.bulk():
        for i, e in enumerate(embeddings):
            gallery.add(f'c{i}', e)
    assert gallery.describe()['search'] == 'ivf_pq_fastscan'
    for i in range(0, 1500, 3):
        assert gallery.remove(f'c{i}')
    assert not gallery.remove('c0') and not gallery.remove('nobody')
    for i in range(0, 1500, 3):
        found = gallery.nearest_customers(embeddings[i, 0], 3)
        assert f'c{i}' not in [c for c, _ in found]
        assert gallery.identify(embeddings[i, 0], POLICY).customer_id != f'c{i}'
    assert 'c0' not in gallery and 'c0' not in gallery.names
    assert 'c0' not in gallery.customer_ids and 'c1' in gallery.customer_ids
    with pytest.raises(KeyError):
        gallery.embeddings_of('c0')
    gallery.add('c0', embeddings[0])          # enrolled again: found again
    assert gallery.identify(embeddings[0, 1], POLICY).customer_id == 'c0'
    # Most forgotten: rows compacted, back to exact search, still right.
    for i in range(1, 1500):
        gallery.remove(f'c{i}')
    assert len(gallery) == 1 and gallery.describe()['search'] == 'exact'
    assert gallery._index.compactions >= 1
    assert gallery.nearest_customers(embeddings[0, 2], 5) == [
        ('c0', pytest.approx(0.0, abs=1e-6))]
    gallery.remove('c0')
    assert gallery.nearest_customers(embeddings[0, 2], 1) == []
    assert np.isnan(gallery.identify(embeddings[0, 2], POLICY).distance)


@pytest.mark.parametrize('size', [10, 1500])
def test_the_margin_is_between_customers_not_embeddings(size):
    rng = np.random.default_rng(3)
    _, embeddings = people(rng, size)
    gallery = Gallery(index_settings=LOW)
    for i, e in enumerate(embeddings):
        gallery.add(f'c{i}', e)
    probe = embeddings[0, 0] + 0.001
    twin = embeddings[0, 0] + 0.002           # a second embedding of c0 right beside the first
    gallery.add('c0', twin[None, :])
    match = gallery.identify(probe, POLICY)
    assert match.customer_id == 'c0' and match.second_distance > 0.5
    # Another customer as close is ambiguous: unknown, not the least bad.
    gallery.add('look_alike', (embeddings[0, 0] + 0.003)[None, :])
    match = gallery.identify(probe, POLICY)
    assert match.customer_id == '' and match.nearest_id in ('c0', 'look_alike')


def test_nearest_customers_are_distinct_and_sorted_and_nan_is_unknown():
    rng = np.random.default_rng(5)
    _, embeddings = people(rng, 6)
    gallery = Gallery()
    for i, e in enumerate(embeddings):
        gallery.add(f'c{i}', e)
    found = gallery.nearest_customers(embeddings[2, 0], 10)
    assert [c for c, _ in found][0] == 'c2' and len(found) == 6
    assert len({c for c, _ in found}) == 6
    assert [d for _, d in found] == sorted(d for _, d in found)
    assert gallery.nearest_customers(embeddings[2, 0], 0) == []
    nan = np.full(DIM, np.nan, np.float32)
    assert gallery.nearest_customers(nan, 2) == [] and not gallery.identify(nan, POLICY).known
    with pytest.raises(ValueError):
        gallery.identify(np.zeros(64, np.float32), POLICY)


def test_a_bulk_load_builds_the_index_once_at_its_size():
    rng = np.random.default_rng(11)
    _, embeddings = people(rng, 2000)
    entries = [(f'c{i}', '', DIM, 'm', e.reshape(-1)) for i, e in enumerate(embeddings)]
    gallery, problems = gallery_from_entries(entries, DIM, 'm')
    assert problems == [] and len(gallery) == 2000
    # The default threshold keeps 6,000 embeddings exact; a low one builds once, at the end.
    assert gallery.describe()['search'] == 'exact'
    indexed = Gallery(index_settings=LOW)
    with indexed.bulk():
        for customer_id, _, _, _, flat in entries:
            indexed.add(customer_id, flat)
    assert indexed._index.builds == 1
    assert indexed.describe()['nlist'] == list_count(6000)
    assert indexed.identify(embeddings[9, 1], POLICY).customer_id == 'c9'


def test_list_count_grows_with_the_rows_and_trains_every_list():
    assert list_count(1000) == 16 and list_count(3_000_000) == 1024
    assert all(rows >= 40 * list_count(rows) or list_count(rows) == 16
               for rows in (1000, 5000, 30_000, 300_000))
    with pytest.raises(ValueError):
        IndexSettings(ann_min_embeddings=10)


def test_identify_in_threads_while_customers_come_and_go():
    rng = np.random.default_rng(13)
    _, embeddings = people(rng, 1200)
    gallery = Gallery(index_settings=LOW)
    for i in range(200):
        gallery.add(f'c{i}', embeddings[i])
    errors, stop = [], threading.Event()
    seen = set()

    def identify_loop(seed):
        local = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                i = int(local.integers(0, 1200))
                match = gallery.identify(embeddings[i, 0], POLICY)
                seen.add(match.customer_id)
                assert match.nearest_id.startswith('c')
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=identify_loop, args=(s,)) for s in range(3)]
    for thread in threads:
        thread.start()
    try:
        for i in range(200, 1200):            # crosses the threshold: the index is built
            gallery.add(f'c{i}', embeddings[i])
            if i % 4 == 0:
                gallery.remove(f'c{i - 150}')
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    assert errors == []
    assert gallery.describe()['search'] == 'ivf_pq_fastscan'
    assert len(seen) > 10
    assert gallery.identify(embeddings[1199, 1], POLICY).customer_id == 'c1199'


def test_index_rows_are_reused_and_the_matrix_doubles():
    index = EmbeddingIndex(4)
    slots = [index.new_slot() for _ in range(3)]
    for slot in slots:
        index.add(slot, np.eye(4, dtype=np.float32)[slot:slot + 1].repeat(2, axis=0))
    assert len(index) == 6 and index.rows(slots[1]) == [2, 3]
    index.remove_slot(slots[1])
    reused = index.new_slot()
    index.add(reused, np.ones((3, 4), np.float32))
    assert reused == slots[1] and sorted(index.rows(reused)[:2]) == [2, 3]
    assert index.rows(reused)[2] == 6
    assert index.nearest(np.ones(4, np.float32), 1) == [(reused, 0.0)]


def test_a_matrix_grown_without_the_lock_is_refused_if_rows_changed_meanwhile():
    index = EmbeddingIndex(4)
    first = index.new_slot()
    index.add(first, np.ones((1024, 4), np.float32))
    plan = index.growth_plan(1)
    assert plan is not None and plan[0] == 2048
    stale = index.grown_matrix(plan)
    index.remove_slot(first)                  # written meanwhile: the copy is out of date
    assert not index.adopt(plan, stale)
    second = index.new_slot()
    index.add(second, np.full((1025, 4), 2.0, np.float32))
    plan = index.growth_plan(2000)
    assert index.adopt(plan, index.grown_matrix(plan))
    assert len(index) == 1025 and index.nearest(np.full(4, 2.0, np.float32), 1) == [
        (second, 0.0)]
    np.testing.assert_array_equal(index.vectors(second), np.full((1025, 4), 2.0))
