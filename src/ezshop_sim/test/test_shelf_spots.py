"""Shoppers at a shelf stand side by side, or queue a step behind when the spots near their
lane are taken; the renderer draws standing faces where they stand."""

import pytest

from ezshop_common.store_config import ROLE_SHELF, load_store
from ezshop_sim import poses
from ezshop_sim.generator import random_scenario
from ezshop_sim.world import build_world

IDENTITIES = ['alex_lacamoire', 'bbt_amy', 'bbt_bernadette', 'bbt_raj', 'biden', 'df_p04',
              'df_p08', 'obama', 'rose_leslie', 'kit_harington']
STEP_S = 0.1


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


def _standing(view, t):
    """The face pose when the shopper stands still around t (not walking, not reaching)."""
    pose = view.pose_at(t)
    if pose is None or view.pose_at(t - STEP_S) != pose or view.pose_at(t + STEP_S) != pose:
        return None
    return pose


def _arrivals(view, end_s):
    """Times the shopper comes to stand somewhere (after walking in or along the shelf)."""
    was_standing = False
    for k in range(int(view.t_start / STEP_S), int(min(view.t_end, end_s) / STEP_S) + 1):
        standing = _standing(view, k * STEP_S) is not None
        if standing and not was_standing:
            yield k * STEP_S
        was_standing = standing


def _hard_worlds(store, first_seed, count):
    for seed in range(count):
        scenario = random_scenario(first_seed + seed, store, IDENTITIES, shoppers=8,
                                   difficulty='hard')
        yield scenario, build_world(scenario, store)


def test_no_shopper_stands_inside_another_at_a_crowded_shelf(store):
    """A shopper arriving at a taken spot queues a step behind, never on the same place."""
    stacked, arrivals = [], 0
    for scenario, world in _hard_worlds(store, 1000, 12):
        for camera in store.cameras:
            if camera.role != ROLE_SHELF:
                continue
            views = world.appearances[camera.camera_id]
            for view in views:
                for t in _arrivals(view, world.end_s):
                    arrivals += 1
                    x1, y1, size = view.pose_at(t)
                    for other in views:
                        pose = _standing(other, t) if other is not view else None
                        if pose and abs(pose[0] - x1) < 0.5 * size \
                                and abs(pose[1] - y1) < 0.5 * size:
                            stacked.append(f'{scenario.name} {camera.camera_id} {t:.1f} s: '
                                           f'{view.identity} onto {other.identity}')
    assert arrivals > 100
    assert not stacked, stacked[:10]


def test_nobody_reaches_into_a_lane_from_further_than_two_spots(store):
    """With the spots near a lane taken, a shopper queues there rather than reaching in across
    the whole shelf (a face sweeping through every neighbour's in one second)."""
    far = []
    for scenario, world in _hard_worlds(store, 1000, 12):
        for camera in (c for c in store.cameras if c.role == ROLE_SHELF):
            spots = poses.standing_spots(camera, camera.coverage[0])
            spacing = spots[1] - spots[0]
            for view in world.appearances[camera.camera_id]:
                for start, _end in view.reaching:
                    x_from = view.pose_at(start)[0]
                    x_to = view.pose_at(start + scenario.timing.reach_in_s)[0]
                    if abs(x_to - x_from) > 2 * spacing + 0.5 * poses.stand_size(
                            camera.coverage[0]):
                        far.append(f'{scenario.name} {camera.camera_id} {start:.1f} s: '
                                   f'{view.identity} from x {x_from:.0f} to {x_to:.0f}')
    assert not far, far[:10]


def test_a_standing_face_is_drawn_where_it_stands_whoever_leans_in_beside_it(store):
    """A standing face is drawn at its place in the world: a neighbour leaning in or walking
    past never moves it (such a jump, which no camera sees, passed a customer's track to
    the walk-in beside her in the face node)."""
    from ezshop_sim.render import FrameRenderer

    moved, checked = [], 0
    for scenario, world in _hard_worlds(store, 2000, 6):
        renderer = FrameRenderer(world, scenario.seed)
        for camera in (c for c in store.cameras if c.role == ROLE_SHELF):
            for k in range(int(world.end_s / STEP_S)):
                faces = renderer.placed_faces(camera.camera_id, k * STEP_S)
                poses_now = {v.identity: p for v, p in world.in_view(camera.camera_id,
                                                                     k * STEP_S)}
                for face in (f for f in faces if f.standing):
                    x, y, size = poses_now[face.identity]
                    checked += 1
                    if (face.x, face.y, face.size) != (x, y, size):
                        moved.append(f'{scenario.name} {camera.camera_id} {k * STEP_S:.1f} s: '
                                     f'{face.identity} drawn at {face.x:.0f},{face.y:.0f} '
                                     f'standing at {x:.0f},{y:.0f}')
    assert checked > 1000
    assert not moved, moved[:10]
