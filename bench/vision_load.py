"""Door passes and shelf naming when face_node has less CPU than it needs, without ROS.

Plays random scenarios (the receipt bench's generator and seeds) through one face pipeline per
camera, as face_node schedules them: ``--workers`` threads share the cameras, a free one takes
the camera whose frame has waited longest (work_queue.CameraQueue), the newest frame only. The
detections and encodings are computed for real, one at a time; each takes ``--slowdown`` times
its measured duration on a virtual clock (3 ~ a face node left with a third of the machine),
and the frames that arrive meanwhile are skipped, as in the graph. Door cameras feed door_logic;
the passes it decides are matched to the ground truth as the referee does. For every take and
put-back of an enrolled shopper it notes whether the shelf camera had that shopper's face named
when the reach began, and, for those it had not, whether the face node named the reach's
track after it ended (its visit memory: a TrackIdentity for fusion).

Fast to repeat (no DDS, no sim node, no other process competing): the place to compare
scheduling and encoding policies before a receipt bench confirms them.

    scripts/run python bench/vision_load.py --seed 77 --count 6 --slowdown 3
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'scripts'))

from camera_replay import (  # noqa: E402
    build_engine,
    build_pipeline,
    build_visit_memory,
    enrolled_gallery,
    face_node_settings,
    settings_from,
)

from ezshop_common.paths import config_dir  # noqa: E402
from ezshop_common.store_config import ROLE_ENTRANCE, load_store  # noqa: E402
from ezshop_sim.generator import random_suite  # noqa: E402
from ezshop_sim.photos import identities_dir, list_identities, split_photos  # noqa: E402
from ezshop_sim.render import FrameRenderer  # noqa: E402
from ezshop_sim.scoring import (  # noqa: E402
    GT_ENTERED,
    GT_EXITED,
    DoorPass,
    TruthEvent,
    missed_door_passes,
)
from ezshop_sim.world import ENTERED, EXITED, PUT_BACK, TAKE, build_world  # noqa: E402
from ezshop_store.fusion_settings import FusionSettings  # noqa: E402
from ezshop_testing.param_files import node_parameters  # noqa: E402
from ezshop_vision.door_logic import KIND_PASS, DoorLogic, DoorSettings, FaceSeen  # noqa: E402
from ezshop_vision.face_engine import FaceEngine, FaceEngineSettings  # noqa: E402
from ezshop_vision.work_queue import CameraQueue  # noqa: E402

RESULTS = Path(__file__).resolve().parent / 'results'
#: A reach counts as named when the shopper's face was named within this long before it (s).
NAMED_BEFORE_S = 1.0
#: store.launch's fusion node (its window around a shelf event).
FUSION_NODE = 'fusion_node'
#: --costs fixed: the time (ms, before --slowdown) of a frame (grey copy, template following),
#: of each detection, encoding, second look (CNN) and track followed: a least-squares fit of
#: 4544 frames measured on a 2-core x86_64 with dlib on OpenBLAS (seed 9090, two scenarios).
#: The same costs every run, so an A/B of two policies plays the same virtual timeline until
#: the policies differ; measured costs vary with whatever else the machine does.
FIXED_COSTS_MS = {'frame': 1.2, 'detection': 26.0, 'encoding': 19.5, 'second_look': 129.0,
                  'track': 0.35}


def play(scenario, store, folder: Path, params: dict, engine: FaceEngine, fps: float,
         workers: int, slowdown: float, gallery, door_settings: dict[str, DoorSettings],
         head_start_s: float, window: tuple[float, float], fixed_costs: bool = True) -> dict:
    """One scenario on the virtual clock: door passes found and reaches named. ``window``:
    fusion's (before, after) a shelf event (s), where a name counts for the pick.
    ``fixed_costs``: each frame costs FIXED_COSTS_MS for what it did, else its measured time."""
    photos = {i: list(split_photos(folder, i).appearance) for i in scenario.identities}
    world = build_world(scenario, store, photos)
    renderer = FrameRenderer(world, scenario.seed)
    cameras = [c.camera_id for c in store.cameras]
    memory = build_visit_memory(params)  # one face node: its cameras share it
    pipelines = {c.camera_id: build_pipeline(params, engine, gallery, memory, c.camera_id, c)
                 for c in store.cameras}
    links = []
    doors = {d.camera_id: d for d in store.doors}
    logic = {c: DoorLogic(door_settings[c]) for c in doors}
    named_at: dict[str, list[tuple[float, str]]] = defaultdict(list)  # camera -> (t, name)
    passes: list[DoorPass] = []
    clock = [0.0]  # the virtual clock (s), face_node's queue runs on it
    queue = CameraQueue(lambda: clock[0])
    at_lane = dict.fromkeys(cameras, False)  # the pipeline's flag when its last frame was done
    in_flight: dict[str, tuple[float, bool]] = {}  # camera -> (done at, its flag then)
    taken = dict.fromkeys(cameras, -1)  # index of the newest frame taken
    arrived = -1  # index of the newest frame the cameras have published
    processed = Counter()
    skipped = Counter()
    last_frame = int(world.end_s * fps)
    while True:
        while len(in_flight) < workers:
            camera = queue.take(0)
            if camera is None:
                break
            skipped[camera] += arrived - taken[camera] - 1
            taken[camera] = arrived
            t = arrived / fps
            image = renderer.render(camera, t, arrived)
            stats = pipelines[camera].stats
            before = (stats.detections_run, stats.encodings, stats.second_looks,
                      len(pipelines[camera].tracker.tracks))
            start = time.perf_counter()
            results = pipelines[camera].process(image[:, :, ::-1].copy(), stamp=t)
            cost = (time.perf_counter() - start) * slowdown
            if fixed_costs:
                cost = slowdown * _fixed_cost(stats.detections_run - before[0],
                                              stats.encodings - before[1],
                                              stats.second_looks - before[2], before[3])
            in_flight[camera] = (clock[0] + cost, pipelines[camera].unnamed_at_lane)
            processed[camera] += 1
            links += pipelines[camera].links
            pipelines[camera].links = []
            for r in results:
                if r.customer_id:
                    named_at[camera].append((t, r.customer_id))
            if camera in logic:
                door = doors[camera]
                faces = [FaceSeen(r.track_id, r.customer_id, float(r.box.height), r.confidence)
                         for r in results]
                for decision in logic[camera].update(t, faces):
                    if decision.kind == KIND_PASS:
                        kind = GT_ENTERED if door.role == ROLE_ENTRANCE else GT_EXITED
                        passes.append(DoorPass(kind, decision.customer_id, decision.stamp))
        next_frame = (arrived + 1) / fps if arrived < last_frame else math.inf
        finishing = min(in_flight, key=lambda c: in_flight[c][0], default=None)
        next_done = in_flight[finishing][0] if finishing is not None else math.inf
        if next_done == next_frame == math.inf:
            break
        if next_done <= next_frame:
            clock[0] = next_done
            _, at_lane[finishing] = in_flight.pop(finishing)
            queue.done(finishing)
        else:
            clock[0] = next_frame
            arrived += 1
            for camera in cameras:
                queue.ready(camera, head_start_s if at_lane[camera] else 0.0)
    truth = [e for e in world.events if e.kind in (ENTERED, EXITED)]
    missed = missed_door_passes(_as_truth(truth), passes)
    reaches = [e for e in world.events if e.kind in (TAKE, PUT_BACK) and e.enrolled]
    unnamed, named_later, not_in_window = [], [], []
    for event in reaches:
        cameras_there = [c.camera_id for c, _ in store.cameras_covering(event.shelf_id,
                                                                         event.lane_id)]
        names = [(t, n) for camera in cameras_there for (t, n) in named_at.get(camera, ())
                 if n == event.shopper]
        if not any(event.t - window[0] <= t <= event.t + window[1] for t, _ in names):
            not_in_window.append(f'{event.shopper} {event.kind} {event.shelf_id}/'
                                 f'{event.lane_id} at {event.t:.1f} s')
        if not any(event.t - NAMED_BEFORE_S <= t <= event.t for t, _ in names):
            unnamed.append(f'{event.shopper} {event.kind} {event.shelf_id}/{event.lane_id} '
                           f'at {event.t:.1f} s')
            if any(link.camera_id in cameras_there and link.customer_id == event.shopper
                   and link.first_seen <= event.t <= link.last_seen + NAMED_BEFORE_S
                   for link in links):
                named_later.append(unnamed[-1])
    door_truth = [e for e in truth if e.enrolled]
    return {'scenario': scenario.name, 'door_passes': len(door_truth),
            'missed_door_passes': [f'{e.shopper} {e.kind} at {e.stamp:.1f} s'
                                   for e in missed],
            'reaches': len(reaches), 'unnamed_reaches': unnamed,
            'not_named_in_fusion_window': not_in_window,
            'unnamed_reaches_named_later': named_later,
            'tracks_named_later': [f'{x.camera_id} track {x.track_id} {x.customer_id} '
                                   f'{x.first_seen:.1f}-{x.last_seen:.1f} s (at {x.stamp:.1f} s,'
                                   f' distance {x.distance:.2f})' for x in links],
            'second_looks': sum(p.stats.second_looks for p in pipelines.values()),
            'second_look_faces': sum(p.stats.second_look_faces for p in pipelines.values()),
            'fps': {c: round(processed[c] / max(world.end_s, 1e-9), 2) for c in cameras},
            'skipped': dict(skipped)}


def _fixed_cost(detections: int, encodings: int, second_looks: int, tracks: int) -> float:
    """A frame's processing time (s, before the slowdown) by FIXED_COSTS_MS."""
    c = FIXED_COSTS_MS
    return (c['frame'] + c['detection'] * detections + c['encoding'] * encodings
            + c['second_look'] * second_looks + c['track'] * tracks) / 1000.0


def _as_truth(events):
    """World events as the referee's TruthEvents (stamp in seconds)."""
    kinds = {ENTERED: GT_ENTERED, EXITED: GT_EXITED}
    return [TruthEvent(kinds[e.kind], e.shopper, e.enrolled, stamp=e.t) for e in events]


def engine_timings(engine: FaceEngine, folder: Path, repeats: int = 10) -> dict:
    """Median detection (640x480 frame, one face) and one-face encoding times (ms)."""
    photo = sorted(folder.glob('*/*.jpg'))[0]
    face = cv2.imread(str(photo))
    scale = 200 / max(face.shape[:2])
    face = cv2.resize(face, None, fx=scale, fy=scale)
    frame = np.full((480, 640, 3), 90, np.uint8)
    frame[100:100 + face.shape[0], 200:200 + face.shape[1]] = face
    rgb = frame[:, :, ::-1].copy()
    boxes = engine.detect(rgb)[:1]
    detect, encode = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        engine.detect(rgb)
        detect.append(time.perf_counter() - start)
        start = time.perf_counter()
        engine.encode(rgb, boxes)
        encode.append(time.perf_counter() - start)
    return {'detect_ms': round(1000 * float(np.median(detect)), 1),
            'encode_ms': round(1000 * float(np.median(encode)), 1) if boxes else None}


def markdown(meta: dict, reports: list[dict]) -> str:
    """The short table of a run."""
    doors = sum(r['door_passes'] for r in reports)
    missed = sum(len(r['missed_door_passes']) for r in reports)
    reaches = sum(r['reaches'] for r in reports)
    unnamed = sum(len(r['unnamed_reaches']) for r in reports)
    later = sum(len(r['unnamed_reaches_named_later']) for r in reports)
    window = sum(len(r['not_named_in_fusion_window']) for r in reports)
    fixed = ', '.join(f'{k} {v:g} ms' for k, v in (meta['fixed_costs_ms'] or {}).items())
    costs = (f'each frame costs the fixed time of what it did ({fixed})' if fixed
             else 'each frame costs its measured time')
    lines = [f"# Face node under load, offline ({meta['date']})", '',
             f"{len(reports)} hard scenarios (seed {meta['seed']}), {meta['workers']} workers "
             f"(lane head start {meta['lane_head_start_s']:g} s), "
             f"processing x{meta['slowdown']:g} on the virtual clock, dlib "
             f"{'on OpenBLAS' if meta['dlib_blas'] else 'without BLAS (dlib-bin)'}: detection "
             f"{meta['timings']['detect_ms']} ms per 640x480 frame, "
             f"{meta['timings']['encode_ms']} ms per encoding (measured before the run); "
             f"{costs}.", '',
             '| scenario | missed door passes | reaches not named | ... named after the track '
             "ended | not named in fusion's window | fps (per camera) |",
             '|---|---|---|---|---|---|']
    for r in reports:
        fps = ' / '.join(f'{v:.1f}' for v in r['fps'].values())
        lines.append(f"| {r['scenario']} | {len(r['missed_door_passes'])}/{r['door_passes']} "
                     f"| {len(r['unnamed_reaches'])}/{r['reaches']} "
                     f"| {len(r['unnamed_reaches_named_later'])} "
                     f"| {len(r['not_named_in_fusion_window'])} | {fps} |")
    lines += [f'| **total** | **{missed}/{doors}** | **{unnamed}/{reaches}** | **{later}** '
              f'| **{window}** | |',
              '',
              f"Reproduce: `{meta['command']}`", '']
    return '\n'.join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--seed', type=int, default=77)
    parser.add_argument('--count', type=int, default=6, help='hard scenarios (default 6)')
    parser.add_argument('--only', default='', help='comma-separated scenario names')
    parser.add_argument('--slowdown', type=float, default=3.0,
                        help='virtual seconds per measured second of processing (default 3)')
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--lane-head-start', type=float, default=None,
                        help="face_node's lane_head_start_s (default: the vision config's)")
    parser.add_argument('--costs', choices=('fixed', 'measured'), default='fixed',
                        help='a frame costs the fixed time of what it did (FIXED_COSTS_MS: the '
                        'same timeline every run) or its measured time (this machine, now)')
    parser.add_argument('--fps', type=float, default=10.0, help="the simulator's fps")
    parser.add_argument('--faces-subdir', default='dev')
    parser.add_argument('--vision-config', type=Path, default=config_dir() / 'vision.yaml')
    parser.add_argument('--store-nodes-config', type=Path,
                        default=config_dir() / 'store_nodes.yaml')
    parser.add_argument('--out', type=Path, default=RESULTS / 'vision_load',
                        help='folder for <date>-<label>.json and .md')
    parser.add_argument('--label', default='', help='suffix of the result files')
    args = parser.parse_args(argv)

    import dlib
    store = load_store(None)
    folder = identities_dir(None, args.faces_subdir)
    identities = list_identities(folder)
    suite = random_suite(args.count, args.seed, store, identities, difficulty='hard')
    if args.only:
        suite = [s for s in suite if s.name in args.only.split(',')]
    params = face_node_settings(args.vision_config)
    nodes = node_parameters(args.vision_config)
    # store.launch names each door's node door_<door_id>
    door_settings = {d.camera_id: settings_from(DoorSettings, nodes.get(f'door_{d.door_id}', {}))
                     for d in store.doors}
    head_start_s = args.lane_head_start if args.lane_head_start is not None else \
        settings_from(FaceEngineSettings, params).lane_head_start_s
    fusion = settings_from(FusionSettings, node_parameters(args.store_nodes_config).get(
        FUSION_NODE, {}))
    window = (fusion.window_before_s, fusion.window_after_s)
    engine = build_engine(params)
    timings = engine_timings(engine, folder)
    reports = []
    for scenario in suite:
        gallery = enrolled_gallery(scenario, folder)
        report = play(scenario, store, folder, params, engine, args.fps, args.workers,
                      args.slowdown, gallery, door_settings, head_start_s, window,
                      args.costs == 'fixed')
        reports.append(report)
        print(f"{report['scenario']}: missed doors {len(report['missed_door_passes'])}/"
              f"{report['door_passes']}, unnamed reaches {len(report['unnamed_reaches'])}/"
              f"{report['reaches']} (not in fusion's window "
              f"{len(report['not_named_in_fusion_window'])}), fps {report['fps']}", flush=True)
        for line in report['missed_door_passes'] + report['unnamed_reaches']:
            print(f'    {line}')
        for line in report['tracks_named_later']:
            print(f'    named later: {line}')
    meta = {'date': time.strftime('%Y-%m-%d'), 'seed': args.seed, 'slowdown': args.slowdown,
            'workers': args.workers, 'lane_head_start_s': head_start_s, 'costs': args.costs,
            'fixed_costs_ms': FIXED_COSTS_MS if args.costs == 'fixed' else None,
            'dlib_blas': bool(dlib.DLIB_USE_BLAS), 'timings': timings,
            'command': 'scripts/run python bench/vision_load.py ' + ' '.join(
                argv if argv is not None else sys.argv[1:])}
    text = markdown(meta, reports)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    name = meta['date'] + (f'-{args.label}' if args.label else '')
    (args.out / f'{name}.json').write_text(json.dumps({**meta, 'scenarios': reports}, indent=1))
    (args.out / f'{name}.md').write_text(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
