"""Shoppers at a shelf stand side by side: two standing faces share one spot only when every
spot of the camera is taken (then one queues behind the other)."""

import pytest

from ezshop_common.store_config import ROLE_SHELF, load_store
from ezshop_sim import poses
from ezshop_sim.generator import random_scenario
from ezshop_sim.world import build_world

IDENTITIES = ['alex_lacamoire', 'bbt_amy', 'bbt_bernadette', 'bbt_raj', 'biden', 'df_p04',
              'df_p08', 'obama', 'rose_leslie', 'kit_harington']
STEP_S = 0.1


@pytest.fixture(scope='module')
def store(repo_root):
    return load_store(repo_root / 'config' / 'store.yaml')


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


def test_no_shopper_steps_onto_a_taken_spot_while_a_spot_is_free(store):
    stacked = []
    for seed in range(12):
        scenario = random_scenario(1000 + seed, store, IDENTITIES, shoppers=8,
                                   difficulty='hard')
        world = build_world(scenario, store)
        for camera in store.cameras:
            if camera.role != ROLE_SHELF:
                continue
            spots = min(len(poses.standing_spots(camera, zone)) for zone in camera.coverage)
            views = world.appearances[camera.camera_id]
            for view in views:
                for t in _arrivals(view, world.end_s):
                    others = [v for v in views if v is not view and v.pose_at(t) is not None]
                    if len(others) >= spots:
                        continue  # every spot may be taken: queueing behind someone is right
                    x1, y1, size = view.pose_at(t)
                    for other in others:
                        pose = _standing(other, t)
                        if pose and abs(pose[0] - x1) < 0.5 * size \
                                and abs(pose[1] - y1) < 0.5 * size:
                            stacked.append(f'{scenario.name} {camera.camera_id} {t:.1f} s: '
                                           f'{view.identity} onto {other.identity}')
    assert not stacked, stacked[:10]
