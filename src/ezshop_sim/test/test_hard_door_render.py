"""Groups at the door cameras, as the real face detector sees the rendered frames: everyone of
a group is found as a face of their own while close, and a shopper looking away is not."""

import numpy as np
import pytest

from ezshop_common.store_config import load_store
from ezshop_sim.photos import identities_dir, split_photos
from ezshop_sim.poses import DOOR_SEEN_SIZE
from ezshop_sim.render import FrameRenderer
from ezshop_sim.scenario import load_scenario, parse_scenario
from ezshop_sim.world import build_world

FPS = 10
#: A detection belongs to a person when its centre is this close to their face (face sizes).
MATCH = 0.35
#: The door node counts a pass after ~0.5 s of steady sightings: every person must be found
#: as a face of their own in at least this many frames of the close part of the pass.
MIN_FRAMES_FOUND = 6


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


@pytest.fixture(scope='module')
def engine():
    from ezshop_vision.face_engine import DetectorSettings, FaceEngine

    return FaceEngine(DetectorSettings(model='hog', upsample=0))  # as config/vision.yaml


def _render(scenario, store, faces_root):
    folder = identities_dir(faces_root)
    photos = {i: list(split_photos(folder, i).appearance) for i in scenario.identities}
    world = build_world(scenario, store, photos)
    return world, FrameRenderer(world, scenario.seed)


def _found_alone(world, renderer, engine, camera, k):
    """Who in view at frame k is detected as a face of their own: identity -> box height."""
    t = k / FPS
    frame = renderer.render(camera, t, k)
    boxes = engine.detect(np.ascontiguousarray(frame[:, :, ::-1]))
    seen = world.in_view(camera, t)
    owners = {}
    for i, box in enumerate(boxes):
        cx, cy = box.x + box.width / 2, box.y + box.height / 2
        near = [view.identity for view, (x, y, size) in seen
                if abs(cx - x) < MATCH * size and abs(cy - y) < MATCH * size]
        if len(near) == 1:
            owners.setdefault(near[0], []).append(i)
    return {name: boxes[hits[0]].height for name, hits in owners.items() if len(hits) == 1}


@pytest.mark.parametrize(('name', 'camera'), [('group_of_four', 'cam_entrance'),
                                              ('walk_in_crowd', 'cam_exit')])
def test_each_member_of_a_group_is_a_separate_face_when_close(store, faces_root, engine, name,
                                                              camera):
    world, renderer = _render(load_scenario(name), store, faces_root)
    views = world.appearances[camera]
    start = min(v.t_start for v in views)
    end = max(v.t_end for v in views)
    found = {v.identity: 0 for v in views}
    for k in range(int(start * FPS), int(end * FPS) + 1):
        close = [v.identity for v, (_, _, size) in world.in_view(camera, k / FPS)
                 if size >= DOOR_SEEN_SIZE]
        if not close:
            continue
        for identity, height in _found_alone(world, renderer, engine, camera, k).items():
            if identity in close and height >= 80:
                found[identity] += 1
    assert all(n >= MIN_FRAMES_FOUND for n in found.values()), found


def test_faces_of_a_group_are_never_stacked(store):
    """At every moment two faces in a door camera are apart (or one has left)."""
    for name in ('group_of_four', 'walk_in_crowd', 'four_adjacent_reaches',
                 'three_enter_together', 'look_away_entrance'):
        world = build_world(load_scenario(name), store)
        for camera in ('cam_entrance', 'cam_exit'):
            for k in range(int(world.end_s * FPS)):
                poses = [pose for _, pose in world.in_view(camera, k / FPS)]
                for i, (x1, y1, s1) in enumerate(poses):
                    for x2, y2, s2 in poses[i + 1:]:
                        apart = 0.5 * max(s1, s2)
                        assert abs(x1 - x2) >= apart or abs(y1 - y2) >= apart, \
                            f'{name}: faces stacked in {camera} at {k / FPS:.1f} s'


def test_a_shopper_looking_away_shows_no_face(store, faces_root, engine):
    data = {'name': 'away', 'seed': 3, 'shoppers': [{
        'identity': 'obama', 'enter_s': 0.0,
        'look_away': [{'door': 'entrance', 'start_frac': 0.55, 'end_frac': 0.75}],
        'actions': [{'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_1'}}, {'take': 1}, 'exit']}]}
    world, renderer = _render(parse_scenario(data), store, faces_root)
    view = world.appearances['cam_entrance'][0]
    (away_from, away_to), = view.looking_away
    assert 1.5 < away_from < away_to < 2.3  # close to the camera
    before = after = 0
    for k in range(int(view.t_start * FPS) + 5, int(view.t_end * FPS)):
        t = k / FPS
        found = 'obama' in _found_alone(world, renderer, engine, 'cam_entrance', k)
        if away_from <= t < away_to:
            assert not found, f'a face found while looking away at {t:.1f} s'
        elif t < away_from:
            before += found
        else:
            after += found
    assert before >= 5 and after >= 2


def test_look_away_of_the_shipped_scenario_hides_the_face(store, faces_root, engine):
    world, renderer = _render(load_scenario('look_away_entrance'), store, faces_root)
    view = next(v for v in world.appearances['cam_entrance'] if v.identity == 'obama')
    (away_from, away_to), = view.looking_away
    found_after = 0
    for k in range(int(away_from * FPS) + 1, int(view.t_end * FPS)):
        found = 'obama' in _found_alone(world, renderer, engine, 'cam_entrance', k)
        if k / FPS < away_to:
            assert not found
        else:
            found_after += found
    assert found_after >= MIN_FRAMES_FOUND
