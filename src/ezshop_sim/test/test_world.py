"""The world model: ground truth, lane counts over time, who is where in which camera."""

import pytest

from ezshop_common.store_config import load_store
from ezshop_sim.scenario import load_scenario, parse_scenario
from ezshop_sim.world import build_world


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


def test_ground_truth_of_the_end_to_end_scenario(store):
    world = build_world(load_scenario('two_shoppers_one_shelf'), store)
    events = [(e.kind, e.shopper, e.shelf_id, e.lane_id, e.item_id, e.quantity)
              for e in world.events]
    assert events == [
        ('ENTERED', 'obama', '', '', '', 0),
        ('ENTERED', 'bbt_penny', '', '', '', 0),
        ('TAKE', 'obama', 'shelf_a', 'lane_1', 'cola', 1),
        ('TAKE', 'bbt_penny', 'shelf_a', 'lane_3', 'sandwich', 1),
        ('TAKE', 'obama', 'shelf_a', 'lane_2', 'water', 1),
        ('PUT_BACK', 'obama', 'shelf_a', 'lane_2', 'water', 1),
        ('EXITED', 'bbt_penny', '', '', '', 0),
        ('EXITED', 'obama', '', '', '', 0),
        ('SCENARIO_DONE', '', '', '', '', 0),
    ]
    times = [e.t for e in world.events]
    assert times == sorted(times)
    assert world.events[-1].t == pytest.approx(world.end_s)


def test_lane_counts_follow_the_takes(store):
    world = build_world(load_scenario('two_shoppers_one_shelf'), store)
    take = next(e for e in world.events if e.kind == 'TAKE' and e.item_id == 'water')
    put = next(e for e in world.events if e.kind == 'PUT_BACK')
    water = world.lanes[('shelf_a', 'lane_2')]
    assert water.count_at(0.0) == 6
    assert water.count_at(take.t + 0.01) == 5
    assert water.count_at(put.t + 0.01) == 6
    assert water.hand_at(take.t - 0.1) is not None and water.hand_at(take.t + 0.1) is None
    assert world.counts_at(world.end_s)[('shelf_a', 'lane_1')] == 5


def test_the_same_seed_gives_the_same_world_and_another_seed_other_timings(store):
    scenario = load_scenario('demo')
    a, b = build_world(scenario, store), build_world(scenario, store)
    assert a.events == b.events
    other = build_world(parse_scenario({**_as_data(scenario), 'seed': 999}), store)
    assert [e.t for e in other.events] != [e.t for e in a.events]


def _as_data(scenario):
    from ezshop_sim.scenario import scenario_to_dict
    return scenario_to_dict(scenario)


def test_door_camera_sees_the_face_grow_then_leave(store):
    world = build_world(load_scenario('one_shopper'), store)
    entered = world.events[0]
    views = world.appearances['cam_entrance']
    assert len(views) == 1
    sizes = [world.in_view('cam_entrance', t)[0][1][2] for t in (0.1, 0.9, entered.t)]
    assert sizes[0] < sizes[1] < sizes[2] and 120 <= sizes[2] <= 200
    assert world.in_view('cam_entrance', views[0].t_end + 0.1) == []


def test_three_entering_together_stand_side_by_side(store):
    world = build_world(load_scenario('three_enter_together'), store)
    t = world.events[0].t
    seen = world.in_view('cam_entrance', t)
    assert len(seen) == 3
    xs = sorted(pose[0] for _, pose in seen)
    sizes = [pose[2] for _, pose in seen]
    assert min(sizes) >= 110
    assert all(b - a > max(sizes) for a, b in zip(xs, xs[1:], strict=False))


def test_reaching_shopper_has_the_face_in_the_lanes_reach_zone(store):
    world = build_world(load_scenario('neighbours_adjacent_lanes'), store)
    camera = store.camera('cam_shelf_b')
    zones = {(z.shelf_id, z.lane_id): z for z in camera.coverage}
    for event in (e for e in world.events if e.kind == 'TAKE'):
        zone = zones[(event.shelf_id, event.lane_id)]
        seen = {view.identity: pose for view, pose in world.in_view('cam_shelf_b', event.t)}
        x, y, _ = seen[event.shopper]
        assert zone.x <= x <= zone.x + zone.width and zone.y <= y <= zone.y + zone.height
        # The neighbour is in view too, but not in this lane's zone.
        others = [pose for name, pose in seen.items() if name != event.shopper]
        assert others and all(not zone.x <= p[0] <= zone.x + zone.width for p in others)


def test_changes_of_one_lane_are_spaced_by_the_lane_gap(store):
    world = build_world(load_scenario('four_shoppers_one_shelf'), store)
    gap = world.scenario.timing.lane_gap_s
    takes = [e.t for e in world.events if e.kind == 'TAKE' and e.lane_id == 'lane_1']
    assert len(takes) == 2 and takes[1] - takes[0] >= gap


@pytest.mark.parametrize('seed', [1, 2, 3])
def test_shoppers_at_one_shelf_stand_side_by_side_above_the_reach_zones(store, seed):
    """Crowded shelf: people standing still in a shelf camera's view are never inside each other
    and a standing face is outside the reach zones (only a reaching face is inside)."""
    from ezshop_sim.generator import random_scenario
    identities = ['obama', 'biden', 'kit_harington', 'rose_leslie']
    scenario = random_scenario(seed, store, identities, shoppers=4, crowding=4)
    world = build_world(scenario, store)
    standing_checked = 0
    for camera in (c for c in store.cameras if c.role == 'shelf'):
        top = min(z.y for z in camera.coverage)
        t = 0.0
        while t < world.end_s:
            standing = []
            for view in world.appearances[camera.camera_id]:
                pose, later = view.pose_at(t), view.pose_at(t + 0.2)
                reaching = any(a <= t <= b for a, b in view.reaching)
                if pose is not None and pose == later and not reaching:  # standing still
                    standing.append(pose)
            for i, (x1, y1, s1) in enumerate(standing):
                assert y1 < top, f'a standing face inside a reach zone at {t:.1f} s'
                for x2, y2, s2 in standing[i + 1:]:
                    if abs(y1 - y2) < 1 and abs(x1 - x2) < 1e-6 + 0.5 * (s1 + s2):
                        pytest.fail(f'two shoppers stand inside each other at {t:.1f} s in '
                                    f'{camera.camera_id}: x {x1:.0f} and {x2:.0f}')
            standing_checked += len(standing)
            t += 0.1
    assert standing_checked > 100


def test_a_lone_shopper_walks_down_the_middle_of_the_door(store):
    world = build_world(load_scenario('one_shopper'), store)
    view = world.appearances['cam_entrance'][0]
    assert [k[1] for k in view.keyframes[:4]] == [320.0] * 4
    assert [k[3] for k in view.keyframes] == [50.0, pytest.approx(113.25), 165.0, 165.0, 165.0]


def test_a_group_waits_at_the_exit_and_leaves_together(store):
    scenario = load_scenario('group_of_four')
    world = build_world(scenario, store)
    exits = {e.shopper: e.t for e in world.events if e.kind == 'EXITED'}
    takes = {e.shopper: e.t for e in world.events if e.kind == 'TAKE'}
    # Whoever finished shopping first waited for the last one.
    last_done = max(takes.values())
    timing = scenario.timing
    walk_out = timing.hold_s + timing.reach_in_s + timing.arrive_s + timing.walk_s
    first_exit = min(exits.values())
    assert first_exit == pytest.approx(last_done + walk_out + timing.door_approach_s, abs=1e-6)
    for shopper in scenario.shoppers:
        assert exits[shopper.identity] == pytest.approx(first_exit + shopper.exit_delay_s)


def test_looking_away_is_kept_on_the_door_pass(store):
    world = build_world(load_scenario('look_away_entrance'), store)
    view = next(v for v in world.appearances['cam_entrance'] if v.identity == 'obama')
    duration = 1.8 + 0.5 + 0.6
    assert view.looking_away == [(pytest.approx(0.2 * duration), pytest.approx(0.45 * duration))]
    assert view.looks_away(1.0) and not view.looks_away(2.0)
    assert all(not v.looking_away for v in world.appearances['cam_exit'])


def test_everyone_at_a_door_is_close_and_clearly_visible_for_a_second(store):
    from ezshop_sim.poses import DOOR_CLEAR_S
    from ezshop_sim.scenario import scenario_names

    for name in scenario_names():
        world = build_world(load_scenario(name), store)
        for camera in ('cam_entrance', 'cam_exit'):
            for view in world.appearances[camera]:
                assert view.clear_s >= DOOR_CLEAR_S - 1e-6, (name, camera, view.identity)
