"""Face identification accuracy on the real photos of ../shared/faces.

It needs the whole shared set (all 11 dlib_* group photos; EZShop ships 4 of them):
--faces-dir, else $EZSHOP_FACES, else $EZSHOP_SHARED_FACES or ../shared/faces beside the checkout.

Protocol: enrol k photos of each dev identity (photos 1..k), identify the rest of their
photos; treat as impostors the faces of people never enrolled: the dlib_* group photos
(strangers; 66 faces) and, by rotation over 4 folds, a quarter of the dev identities left out
of the gallery (all their photos). Faces and embeddings: face_recognition, HOG upsample 1,
68-point alignment, cached by photo content (ezshop_vision.photo_encodings).

Prints and writes (bench/results/recognition.json, .md), for the chosen tolerance and margin
and for a sweep around them:
- rank-1: genuine probes whose nearest identity is right (no threshold)
- correct identification: genuine probes accepted as the right customer
- FRR: genuine probes left unknown; wrong id: genuine probes accepted as someone else
- FAR: impostor faces accepted as anyone
- the same with the visit memory (ezshop_vision.visit_memory): every genuine photo the
  gallery accepts is remembered for its customer (everyone in the store at once, every view
  seen), and each probe is identified by the gallery and then the memory (a genuine probe
  never with its own photo remembered)

Run: scripts/run python bench/recognition.py [--k 2,3] [--tolerance 0.55] [--margin 0.05]
     [--faces-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from ezshop_common.paths import FACES_ENV, faces_root, shared_faces
from ezshop_vision.face_photos import list_identities, load_groups
from ezshop_vision.gallery import DEFAULT_MARGIN, DEFAULT_TOLERANCE, Gallery, MatchPolicy
from ezshop_vision.photo_encodings import photo_faces
from ezshop_vision.visit_memory import VisitMemory

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
FOLDS = 4


def build_folds(root: Path, k: int):
    """[(gallery, genuine [(identity, embedding, photo)], impostors [(embedding, source)])]."""
    identities = list_identities(root / 'dev')
    faces = photo_faces([p for i in identities for p in i.photos])
    strangers = [g['path'] for g in load_groups(root) if g['file'].startswith('groups/dlib_')]
    stranger_faces = photo_faces(strangers)
    stranger_probes = [(e, f'{p.name}#{n}') for p, f in stranger_faces.items()
                       for n, e in enumerate(f.embeddings)]
    folds = []
    for fold in range(FOLDS):
        gallery, genuine, impostors = Gallery(), [], list(stranger_probes)
        for index, ident in enumerate(identities):
            embeddings = [faces[p].embeddings[0] for p in ident.photos]
            if index % FOLDS == fold:
                impostors += [(e, f'{ident.name}/{p.name} (left out)')
                              for e, p in zip(embeddings, ident.photos, strict=True)]
                continue
            gallery.add(ident.name, np.vstack(embeddings[:k]), ident.name)
            genuine += [(ident.name, e, f'{ident.name}/{p.name}')
                        for e, p in zip(embeddings[k:], ident.photos[k:], strict=True)]
        folds.append((gallery, genuine, impostors))
    return folds, len(identities), len(faces), len(stranger_probes)


def _memory(gallery, genuine, policy: MatchPolicy, leave_out: str = '') -> VisitMemory:
    """Every genuine photo the gallery accepts as its customer, remembered (but one)."""
    memory = VisitMemory()
    for identity, embedding, name in genuine:
        if name != leave_out and gallery.identify(embedding, policy).customer_id == identity:
            memory.remember(identity, embedding, 0.0)
    return memory


def evaluate(folds, policy: MatchPolicy, visit_memory: bool = False) -> dict:
    rank1 = correct = rejected = wrong = genuine_n = accepted_impostors = impostor_n = 0
    errors = []

    def identify(gallery, embedding, memory):
        match = gallery.identify(embedding, policy)
        return memory.identify(embedding, match, policy) if memory is not None else match

    for gallery, genuine, impostors in folds:
        everyone = _memory(gallery, genuine, policy) if visit_memory else None
        for identity, embedding, name in genuine:
            memory = _memory(gallery, genuine, policy, name) if visit_memory else None
            match = identify(gallery, embedding, memory)
            genuine_n += 1
            rank1 += match.nearest_id == identity
            if match.customer_id == identity:
                correct += 1
            elif match.known:
                wrong += 1
                errors.append(f'{name} -> {match.customer_id} ({match.distance:.3f})')
            else:
                rejected += 1
                errors.append(f'{name} unknown (nearest {match.nearest_id} '
                              f'{match.distance:.3f}, 2nd {match.second_distance:.3f})')
        for embedding, name in impostors:
            match = identify(gallery, embedding, everyone)
            impostor_n += 1
            if match.known:
                accepted_impostors += 1
                errors.append(f'impostor {name} -> {match.customer_id} ({match.distance:.3f})')
    return {
        'tolerance': policy.tolerance, 'margin': policy.margin,
        'genuine_probes': genuine_n, 'impostor_probes': impostor_n,
        'rank1_accuracy': rank1 / genuine_n,
        'correct_identification': correct / genuine_n,
        'false_reject_rate': rejected / genuine_n,
        'wrong_identity_rate': wrong / genuine_n,
        'false_accept_rate': accepted_impostors / impostor_n,
        'false_accepts': accepted_impostors,
        'errors': sorted(set(errors)),
    }


def row(r: dict) -> str:
    return (f"| {r['tolerance']:.2f} | {r['margin']:.2f} | {100 * r['rank1_accuracy']:.1f}% | "
            f"{100 * r['correct_identification']:.1f}% | {100 * r['false_reject_rate']:.1f}% | "
            f"{100 * r['wrong_identity_rate']:.1f}% | {100 * r['false_accept_rate']:.2f}% "
            f"({r['false_accepts']}) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--k', default='2,3', help='photos enrolled per identity; a comma '
                        'list runs each (the sweep uses the first)')
    parser.add_argument('--tolerance', type=float, default=DEFAULT_TOLERANCE)
    parser.add_argument('--margin', type=float, default=DEFAULT_MARGIN)
    parser.add_argument('--faces-dir', default='', help='faces folder with dev/ and groups/ '
                        '(default $EZSHOP_FACES, else the shared set: $EZSHOP_SHARED_FACES or '
                        '../shared/faces)')
    args = parser.parse_args()
    root = Path(args.faces_dir) if args.faces_dir else (
        faces_root() if os.environ.get(FACES_ENV) else shared_faces())
    if not (root / 'dev').is_dir() or not load_groups(root):
        parser.error(f'no face photos with groups/groups.json at {root}: put ../shared/faces '
                     'beside the checkout or set EZSHOP_SHARED_FACES or --faces-dir')
    ks = [int(k) for k in args.k.split(',')]
    start = time.monotonic()
    policy = MatchPolicy(args.tolerance, args.margin)
    per_k = {}
    for k in ks:
        folds_k, n_ids, n_photos, n_strangers = build_folds(root, k)
        per_k[k] = evaluate(folds_k, policy)
    folds, *_ = build_folds(root, ks[0])
    encode_s = time.monotonic() - start
    chosen = per_k[ks[0]]
    sweep = [evaluate(folds, MatchPolicy(t, m)) for t in (0.45, 0.5, 0.55, 0.58, 0.6)
             for m in (0.0, 0.05, 0.1)]
    per_k_memory = {k: evaluate(build_folds(root, k)[0], policy, visit_memory=True)
                    for k in ks}
    header = ('| tolerance | margin | rank-1 | correct id | FRR | wrong id | FAR (count) |\n'
              '|---|---|---|---|---|---|---|')
    lines = [
        f'# Face identification ({n_ids} dev identities, {n_photos} photos, k photos '
        f'enrolled each, {FOLDS} folds with a quarter of the identities left out, '
        f'{n_strangers} stranger faces from group photos)', '',
        '## Chosen setting', '',
        '| k | genuine probes | impostor probes |' + header.split('\n')[0][1:],
        '|---|---|---' + header.split('\n')[1],
        *[f"| {k} | {r['genuine_probes']} | {r['impostor_probes']} " + row(r)
          for k, r in per_k.items()], '',
        '## With the visit memory (every view the gallery accepts remembered, everyone in '
        'the store at once)', '',
        '| k | genuine probes | impostor probes |' + header.split('\n')[0][1:],
        '|---|---|---' + header.split('\n')[1],
        *[f"| {k} | {r['genuine_probes']} | {r['impostor_probes']} " + row(r)
          for k, r in per_k_memory.items()], '',
        *[f'- k = {k}: {e}' for k, r in per_k_memory.items() for e in r['errors']], '',
        f'## Sweep (k = {ks[0]})', '', header, *[row(r) for r in sweep], '',
        f'## Misses at the chosen setting (k = {ks[0]})', '',
        *[f'- {e}' for e in chosen['errors']], '',
        f'Machine: {platform.machine()}, {platform.python_version()}; photo encoding '
        f'(cached by content) {encode_s:.1f} s.',
    ]
    text = '\n'.join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / 'recognition.md').write_text(text + '\n')
    (RESULTS / 'recognition.json').write_text(json.dumps(
        {'k': ks, 'identities': n_ids, 'photos': n_photos, 'stranger_faces': n_strangers,
         'folds': FOLDS, 'chosen': {str(k): r for k, r in per_k.items()},
         'with_visit_memory': {str(k): r for k, r in per_k_memory.items()},
         'sweep': [{k: v for k, v in r.items() if k != 'errors'} for r in sweep]},
        indent=1) + '\n')


if __name__ == '__main__':
    main()
