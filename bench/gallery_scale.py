"""Identification at a chain's scale (issue 16): the Gallery (ezshop_vision.gallery) with N
customers x 3 embeddings, against exact search.

Synthetic faces drawn like real ones: a Gaussian fitted to the dlib encodings of the face
photos (ezshop_vision.photo_encodings): people (the dev identities' mean encodings and the
strangers of the dlib_* group photos) give the mean and the shape of the spread between
people, the dev identities' photos the spread of one person; each is shrunk towards isotropic
(10% / 30%) and scaled so that pairs of different people are as far apart as the real
strangers (~0.83 median) and two photos of one person as close as the real ones (~0.41
median), one person's spread varying like the real (x lognormal, sigma 0.2). Each customer is
enrolled with 3 such embeddings; probes are new embeddings of enrolled customers (genuine)
and embeddings of people never enrolled (impostors). With a million people many faces have
a stranger close by: the rule leaves more of them unknown, as it should.

For each size: gallery build time (a snapshot loaded in bulk: Gallery.bulk, one add per
customer, then the index) and the memory it holds (RSS delta); identification per face
(single queries, as face_node makes them) p50 / p99 with the gallery's own choice of search,
and the exact and the approximate search timed alone (the crossover); recall@1 against exact
search (same accepted customer or the same rejection) on the genuine probes; false accepts on
the impostors, the gallery's and exact search's; adding and removing one customer at that
size (p50 / max: the max includes a batch moving into or out of the index).

Exact search as the reference: numpy matrix products in batches, once per size.

Writes bench/results/gallery_scale.json (keeps the "graph" key that bench/gallery_graph.py
writes: registration -> identifiable, face_node and store start-up; placeholders until then),
gallery_scale.md and gallery_scale.png (log-log, time vs size); prints the table.

    scripts/run python bench/gallery_scale.py [--quick | --sizes 1000 10000 100000 1000000]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import psutil

from ezshop_common.paths import faces_root, shared_faces
from ezshop_vision.face_photos import list_identities, load_groups
from ezshop_vision.gallery import Gallery, MatchPolicy
from ezshop_vision.gallery_index import IndexSettings
from ezshop_vision.photo_encodings import photo_faces

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
DIM = 128
PER_CUSTOMER = 3
DEFAULT_SIZES = [1000, 10_000, 100_000, 1_000_000]
QUICK_SIZES = [1000, 10_000]
GRAPH_KEYS = ('store_startup_s', 'store_peak_mib', 'face_node_startup_s', 'face_node_peak_mib',
              'registration_to_identified_p50_s', 'registration_to_identified_max_s')


# -- synthetic faces ---------------------------------------------------------------------------

def real_encodings(root: Path) -> tuple[list[np.ndarray], np.ndarray]:
    """Per dev identity its photos' encodings; the strangers' (dlib_* group photos)."""
    identities = list_identities(root / 'dev')
    faces = photo_faces([p for i in identities for p in i.photos])
    people = [np.vstack([faces[p].embeddings[0] for p in i.photos if len(faces[p].embeddings)])
              for i in identities]
    strangers = [g['path'] for g in load_groups(root) if g['file'].startswith('groups/dlib_')]
    found = photo_faces(strangers)
    return people, np.vstack([f.embeddings for f in found.values() if len(f.embeddings)])


def _pairs(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    d = np.linalg.norm(a[:, None] - (a if b is None else b)[None], axis=-1)
    return d[np.triu_indices(len(a), 1)] if b is None else d.ravel()


class FaceModel:
    """Identity centres ~ N(mu, B B^T); a person's embeddings ~ centre + s * N(0, W W^T)."""

    def __init__(self, people: list[np.ndarray], strangers: np.ndarray):
        within = [p for p in people if len(p) > 1]
        self.real_same = np.concatenate([_pairs(p) for p in within])
        self.real_different = _pairs(strangers)
        persons = np.vstack([np.vstack([p.mean(0) for p in people]), strangers])
        self.mu = persons.mean(0).astype(np.float32)
        deviations = np.vstack([p - p.mean(0) for p in within])
        cov_w = _shrunk(deviations.T @ deviations / len(deviations), 0.3)
        cov_b = _shrunk(np.cov(persons.T), 0.1)
        # E|e1 - e2|^2: same person 2 tr(Sw); different people 2 tr(Sb) + 2 tr(Sw).
        target_w = np.mean(self.real_same ** 2) / 2
        target_b = np.mean(self.real_different ** 2) / 2 - target_w
        self.W = _root(cov_w * target_w / np.trace(cov_w))
        self.B = _root(cov_b * target_b / np.trace(cov_b))

    def centres(self, n: int, rng) -> np.ndarray:
        out = np.empty((n, DIM), np.float32)
        for s in range(0, n, 100_000):
            m = min(n, s + 100_000) - s
            out[s:s + m] = self.mu + rng.standard_normal((m, DIM), np.float32) @ self.B.T
        return out

    def samples(self, centres: np.ndarray, per: int, rng, spread=None) -> np.ndarray:
        """per embeddings of every centre, rows grouped by centre."""
        n = len(centres)
        if spread is None:
            spread = self.spread(n, rng)
        out = np.empty((n * per, DIM), np.float32)
        owner = np.repeat(np.arange(n), per)
        for s in range(0, n * per, 300_000):
            e = min(n * per, s + 300_000)
            noise = rng.standard_normal((e - s, DIM), np.float32) @ self.W.T
            out[s:e] = centres[owner[s:e]] + noise * spread[owner[s:e], None]
        return out

    @staticmethod
    def spread(n: int, rng) -> np.ndarray:
        s = rng.lognormal(0.0, 0.2, n).astype(np.float32)
        return s / np.sqrt(np.mean(s ** 2))

    def check(self, rng) -> dict:
        centres = self.centres(1000, rng)
        e = self.samples(centres, 2, rng)
        same = np.linalg.norm(e[0::2] - e[1::2], axis=1)
        different = _pairs(e[0::2][:300], e[1::2][300:600])

        def pct(values, ps):
            return {f'p{p}': round(float(np.percentile(values, p)), 3) for p in ps}
        return {'real_same_person': pct(self.real_same, (5, 50, 95)),
                'synthetic_same_person': pct(same, (5, 50, 95)),
                'real_different_people': pct(self.real_different, (1, 5, 50, 95)),
                'synthetic_different_people': pct(different, (1, 5, 50, 95))}


def _shrunk(cov: np.ndarray, alpha: float) -> np.ndarray:
    return (1 - alpha) * cov + alpha * np.trace(cov) / len(cov) * np.eye(len(cov))


def _root(cov: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(cov)
    return (v * np.sqrt(np.maximum(w, 0))).astype(np.float32)


# -- exact reference ----------------------------------------------------------------------------

def exact_top2(db: np.ndarray, queries: np.ndarray, batch: int = 512,
               chunk: int = 16_384 * PER_CUSTOMER) -> tuple[np.ndarray, np.ndarray]:
    """The two nearest customers (rows grouped by customer, PER_CUSTOMER each) of every query
    and their distances, by brute force (matrix products)."""
    db_norms = np.einsum('ij,ij->i', db, db)
    ids = np.zeros((len(queries), 2), np.int64)
    dist2 = np.full((len(queries), 2), np.inf, np.float32)
    for q0 in range(0, len(queries), batch):
        q = queries[q0:q0 + batch]
        best_d = np.full((len(q), 2), np.inf, np.float32)
        best_i = np.zeros((len(q), 2), np.int64)
        for r0 in range(0, len(db), chunk):
            x = db[r0:r0 + chunk]
            d2 = q @ x.T
            d2 *= -2.0
            d2 += db_norms[None, r0:r0 + chunk]
            d2 = d2.reshape(len(q), -1, PER_CUSTOMER).min(axis=2)
            if d2.shape[1] >= 2:
                two = np.argpartition(d2, 1, axis=1)[:, :2]
            else:
                two = np.zeros((len(q), 1), np.int64)
            values = np.take_along_axis(d2, two, 1)
            merged_d = np.hstack([best_d, values])
            merged_i = np.hstack([best_i, two + r0 // PER_CUSTOMER])
            order = np.argsort(merged_d, axis=1)[:, :2]
            best_d = np.take_along_axis(merged_d, order, 1)
            best_i = np.take_along_axis(merged_i, order, 1)
        ids[q0:q0 + batch], dist2[q0:q0 + batch] = best_i, best_d
    # The two distances again, directly (as the gallery computes them).
    rows = db.reshape(-1, PER_CUSTOMER, DIM)
    exact = np.stack([np.linalg.norm(rows[ids[:, j]] - queries[:, None], axis=2).min(1)
                      for j in range(2)], axis=1)
    return ids, exact


def decide(ids: np.ndarray, dist: np.ndarray, policy: MatchPolicy) -> np.ndarray:
    accepted = (dist[:, 0] <= policy.tolerance) & (dist[:, 1] - dist[:, 0] >= policy.margin)
    return np.where(accepted, ids[:, 0], -1)


# -- one size -------------------------------------------------------------------------------------

def _rss() -> int:
    gc.collect()
    return psutil.Process().memory_info().rss


def _ms(values) -> dict:
    v = np.asarray(values) * 1000.0
    return {'p50': float(np.percentile(v, 50)), 'p99': float(np.percentile(v, 99)),
            'max': float(v.max()), 'mean': float(v.mean())}


def _fill(gallery: Gallery, db: np.ndarray, names: bool) -> tuple[float, float]:
    """One add per customer inside bulk(), as a snapshot loads: (adds s, index s)."""
    start = time.perf_counter()
    with gallery.bulk():
        for i in range(len(db) // PER_CUSTOMER):
            gallery.add(f'c{i:07d}', db[i * PER_CUSTOMER:(i + 1) * PER_CUSTOMER],
                        f'Customer {i}' if names else '')
        added = time.perf_counter()
    return added - start, time.perf_counter() - added


def _time_queries(search, queries) -> list[float]:
    for q in queries[:5]:
        search(q)
    times = []
    for q in queries:
        start = time.perf_counter()
        search(q)
        times.append(time.perf_counter() - start)
    return times


def measure(size: int, model: FaceModel, args, policy: MatchPolicy) -> dict:
    rng = np.random.default_rng(args.seed + size)
    print(f'\n== {size:,} customers x {PER_CUSTOMER} embeddings', flush=True)
    centres = model.centres(size + args.impostors + args.churn, rng)
    spread = model.spread(len(centres), rng)
    db = model.samples(centres[:size], PER_CUSTOMER, rng, spread[:size])
    enrolled = rng.choice(size, args.queries, replace=size < args.queries)
    genuine = model.samples(centres[enrolled], 1, rng, spread[enrolled])
    strangers = np.arange(size, size + args.impostors)
    impostors = model.samples(centres[strangers], 1, rng, spread[strangers])
    newcomers = model.samples(centres[size + args.impostors:], PER_CUSTOMER, rng,
                              spread[size + args.impostors:])
    queries = np.vstack([genuine, impostors])

    settings = IndexSettings(**({'ann_min_embeddings': args.ann_min_embeddings}
                                if args.ann_min_embeddings else {}))
    before = _rss()
    gallery = Gallery(index_settings=settings)
    adds_s, index_s = _fill(gallery, db, names=True)
    memory = (_rss() - before) / 2 ** 20
    info = gallery.describe()
    print(f'built in {adds_s + index_s:.1f} s (adds {adds_s:.1f} s, index {index_s:.1f} s), '
          f'{memory:.0f} MiB: {info}', flush=True)

    decisions = []

    def identify(q):
        decisions.append(gallery.identify(q, policy))
    identify_times = _time_queries(identify, queries)
    decisions = decisions[5:]
    got = np.array([int(m.customer_id[1:]) if m.known else -1 for m in decisions])

    start = time.perf_counter()
    ref_ids, ref_dist = exact_top2(db, queries)
    reference_s = time.perf_counter() - start
    want = decide(ref_ids, ref_dist, policy)
    g = args.queries
    recall = float(np.mean(got[:g] == want[:g]))
    print(f'identify p50 {np.percentile(identify_times, 50) * 1000:.2f} ms, p99 '
          f'{np.percentile(identify_times, 99) * 1000:.2f} ms; recall@1 {recall * 100:.2f}% '
          f'(exact reference {reference_s:.0f} s)', flush=True)

    # Exact and approximate search alone at this size (the crossover).
    index = gallery._index            # the searches the gallery chooses between, timed alone
    timing_queries = queries[:args.timing_queries]
    with gallery._lock:
        exact_times = _time_queries(lambda q: index._exact(q, 2), timing_queries[:200])
    if index.approximate:
        approx_times = identify_times
    else:
        forced = Gallery(index_settings=IndexSettings(ann_min_embeddings=1000))
        _fill(forced, db, names=False)
        approx_times = (_time_queries(lambda q: forced.identify(q, policy), timing_queries)
                        if forced.describe()['search'] != 'exact' else [])
        del forced

    # One customer more, one less, at this size.
    add_times, remove_times = [], []
    for i in range(args.churn):
        rows = newcomers[i * PER_CUSTOMER:(i + 1) * PER_CUSTOMER]
        start = time.perf_counter()
        gallery.add(f'n{i:07d}', rows, f'Newcomer {i}')
        add_times.append(time.perf_counter() - start)
    for i in rng.choice(size, args.churn, replace=False):
        start = time.perf_counter()
        gallery.remove(f'c{i:07d}')
        remove_times.append(time.perf_counter() - start)

    # What the max of a single add / remove can include: the batch moving into the index and
    # the removed rows purged from it (sync does both now, as bulk() ends).
    start = time.perf_counter()
    with gallery.bulk():
        pending = gallery.describe()
    sync_s = time.perf_counter() - start

    row = {
        'customers': size, 'embeddings': size * PER_CUSTOMER, 'search': info['search'],
        'index': {k: v for k, v in info.items() if k not in ('customers', 'search')},
        'build_s': adds_s + index_s, 'build_adds_s': adds_s, 'build_index_s': index_s,
        'rss_delta_mib': memory,
        'identify_ms': _ms(identify_times),
        'exact_search_ms': _ms(exact_times),
        'approximate_search_ms': _ms(approx_times) if approx_times else None,
        'genuine_probes': g, 'impostor_probes': args.impostors,
        'recall_at_1': recall,
        'recall_misses': int(np.sum(got[:g] != want[:g])),
        'impostor_agreement': float(np.mean(got[g:] == want[g:])),
        'genuine_identified_right': float(np.mean(got[:g] == enrolled)),
        'genuine_identified_right_exact': float(np.mean(want[:g] == enrolled)),
        'genuine_wrong_customer': int(np.sum((got[:g] >= 0) & (got[:g] != enrolled))),
        'false_accepts': int(np.sum(got[g:] >= 0)),
        'false_accepts_exact': int(np.sum(want[g:] >= 0)),
        'add_one_ms': _ms(add_times), 'remove_one_ms': _ms(remove_times),
        'index_sync_ms': sync_s * 1000.0,
        'index_sync_rows': {k: pending.get(k, 0) for k in ('pending', 'awaiting_removal')},
        'reference_s': reference_s,
    }
    return row


# -- reports --------------------------------------------------------------------------------------

def table(rows: list[dict]) -> str:
    lines = ['| customers | search | build | RSS | identify p50 / p99 | exact alone p50 | '
             'index alone p50 | recall@1 | false accepts (exact) | enrolled named right (exact) | '
             'add one p50 / max | remove one p50 / max |', '|' + '---|' * 12]
    for r in rows:
        approx = r['approximate_search_ms']
        lines.append(
            f"| {r['customers']:,} | {r['search']} | {r['build_s']:.1f} s | "
            f"{r['rss_delta_mib']:.0f} MiB | {r['identify_ms']['p50']:.2f} / "
            f"{r['identify_ms']['p99']:.2f} ms | {r['exact_search_ms']['p50']:.2f} ms | "
            + (f"{approx['p50']:.2f} ms" if approx else '-') + ' | '
            f"{r['recall_at_1'] * 100:.2f}% ({r['recall_misses']}/{r['genuine_probes']}) | "
            f"{r['false_accepts']} ({r['false_accepts_exact']}) of {r['impostor_probes']} | "
            f"{r['genuine_identified_right'] * 100:.1f}% "
            f"({r['genuine_identified_right_exact'] * 100:.1f}%) | "
            f"{r['add_one_ms']['p50']:.2f} / {r['add_one_ms']['max']:.0f} ms | "
            f"{r['remove_one_ms']['p50']:.2f} / {r['remove_one_ms']['max']:.0f} ms |")
    return '\n'.join(lines)


def graph_table(graph: dict) -> str:
    rows = graph.get('rows') or []
    if not rows or all(r.get('face_node_startup_s') is None for r in rows):
        return ('Graph level (registration -> identifiable in a running face_node, face_node '
                'and store start-up and memory): not measured yet; bench/gallery_graph.py '
                'fills the "graph" key of gallery_scale.json.')
    lines = ['| customers | ' + ' | '.join(GRAPH_KEYS) + ' |', '|' + '---|' * (1 + len(
        GRAPH_KEYS))]
    for r in rows:
        lines.append(f"| {r['customers']:,} | " + ' | '.join(
            '-' if r.get(k) is None else f'{r[k]:.2f}' for k in GRAPH_KEYS) + ' |')
    return '\n'.join(lines)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    sizes = [r['customers'] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    left.plot(sizes, [r['identify_ms']['p50'] for r in rows], 'o-', label='identify p50')
    left.plot(sizes, [r['identify_ms']['p99'] for r in rows], 'o--', label='identify p99')
    left.plot(sizes, [r['exact_search_ms']['p50'] for r in rows], 's:', label='exact search p50')
    approx = [(r['customers'], r['approximate_search_ms']['p50']) for r in rows
              if r['approximate_search_ms']]
    if approx:
        left.plot(*zip(*approx, strict=True), '^:', label='index (IVF-PQ) p50')
    left.plot(sizes, [r['add_one_ms']['p50'] for r in rows], 'x-', label='add one customer p50')
    left.plot(sizes, [r['remove_one_ms']['p50'] for r in rows], '+-', label='remove one p50')
    left.axhline(10, color='grey', lw=0.8)
    left.set(xscale='log', yscale='log', xlabel='customers (x3 embeddings)',
             ylabel='ms per operation', title='Identification per face')
    left.legend(fontsize=8)
    right.plot(sizes, [r['build_s'] for r in rows], 'o-', label='gallery build (s)')
    right.plot(sizes, [r['rss_delta_mib'] / 1024 for r in rows], 's-', label='gallery RSS (GiB)')
    right.axhline(60, color='grey', lw=0.8)
    right.set(xscale='log', yscale='log', xlabel='customers (x3 embeddings)',
              title='Build time and memory')
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=DEFAULT_SIZES,
                        help='customers per run (3 embeddings each)')
    parser.add_argument('--quick', action='store_true', help=f'sizes {QUICK_SIZES}')
    parser.add_argument('--queries', type=int, default=2000,
                        help='genuine probes (new embeddings of enrolled customers)')
    parser.add_argument('--impostors', type=int, default=1000, help='probes never enrolled')
    parser.add_argument('--timing-queries', type=int, default=1000,
                        help='probes timing the index alone below the threshold')
    parser.add_argument('--churn', type=int, default=200, help='customers added and removed')
    parser.add_argument('--ann-min-embeddings', type=int, default=0,
                        help='IndexSettings.ann_min_embeddings (0: the default)')
    parser.add_argument('--seed', type=int, default=16)
    parser.add_argument('--faces-dir', type=Path, default=None,
                        help='face photos (default ../shared/faces, else the shipped ones)')
    parser.add_argument('--out', type=Path, default=RESULTS / 'gallery_scale.json')
    parser.add_argument('--report', action='store_true',
                        help='only write the markdown and the plot again from --out')
    args = parser.parse_args(argv)
    if args.report:
        results = json.loads(args.out.read_text())
        print(report(results, args.out))
        return 0
    sizes = QUICK_SIZES if args.quick else args.sizes
    root = args.faces_dir or (shared_faces() if (shared_faces() / 'dev').is_dir()
                              else faces_root())
    model = FaceModel(*real_encodings(root))
    calibration = model.check(np.random.default_rng(args.seed))
    print('synthetic faces vs real:', json.dumps(calibration))
    policy = MatchPolicy()
    rows = [measure(size, model, args, policy) for size in sizes]

    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results['identification'] = {
        'when': time.strftime('%Y-%m-%d %H:%M'),
        'machine': f'{platform.machine()}, {os.cpu_count()} cores, '
                   f'{psutil.virtual_memory().total / 2 ** 30:.0f} GiB',
        'policy': {'tolerance': policy.tolerance, 'margin': policy.margin},
        'index_settings': vars(IndexSettings()),
        'faces': os.path.relpath(root, ROOT), 'calibration': calibration, 'rows': rows,
        'reproduce': 'scripts/run python bench/gallery_scale.py --sizes '
                     + ' '.join(str(s) for s in sizes)}
    results.setdefault('graph', {
        'placeholder': 'graph-level numbers: bench/gallery_graph.py writes this key',
        'rows': [{'customers': s, **dict.fromkeys(GRAPH_KEYS)} for s in sizes]})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print('\n' + report(results, args.out))
    return 0


def report(results: dict, out: Path) -> str:
    """Write the markdown and the plot of a results file; the table."""
    ident = results['identification']
    rows, calibration, policy = ident['rows'], ident['calibration'], ident['policy']
    png = out.with_suffix('.png')
    plot(rows, png)
    text = table(rows)
    out.with_suffix('.md').write_text(
        '# Gallery at scale (bench/gallery_scale.py)\n\n'
        f"{ident['when']}, {ident['machine']}; tolerance {policy['tolerance']}, margin "
        f"{policy['margin']}; {rows[0]['genuine_probes']} genuine and "
        f"{rows[0]['impostor_probes']} impostor probes per size; synthetic faces fitted to "
        f"real dlib encodings (same person p50 {calibration['synthetic_same_person']['p50']}, "
        f"real {calibration['real_same_person']['p50']}; different people p50 "
        f"{calibration['synthetic_different_people']['p50']}, real "
        f"{calibration['real_different_people']['p50']}). RSS: what the gallery holds after "
        'the build. recall@1: the same decision as exact search (customer or unknown) on the '
        'genuine probes. Enrolled named right: genuine probes accepted as their customer '
        '(the rest unknown: with more customers a stranger is more often within the margin). '
        f'Plot: {png.name}.\n\n{text}\n\n{graph_table(results.get("graph", {}))}\n\n'
        f"Reproduce: `{ident['reproduce']}`\n")
    return text


if __name__ == '__main__':
    sys.exit(main())
