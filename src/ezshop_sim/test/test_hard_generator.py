"""The hard random scenarios: groups at the doors, adjacent-lane reaches, lane swaps, walk-ins,
faces turned away, put-backs; deterministic for a seed and always playable."""

from collections import defaultdict

import pytest
import yaml

from ezshop_common.store_config import load_store
from ezshop_sim.generator import (
    ADJACENT_REACH_S,
    HARD_MAX_SHOPPERS,
    HARD_MEMBER_GAP_S,
    main,
    random_scenario,
    random_suite,
)
from ezshop_sim.poses import DOOR_CLEAR_S
from ezshop_sim.scenario import PutBack, Take, WalkTo, load_scenario, scenario_to_dict
from ezshop_sim.world import build_world

#: The 17 people of the shared dev photo folder.
IDENTITIES = ['alex_lacamoire', 'bbt_amy', 'bbt_bernadette', 'bbt_howard', 'bbt_leonard',
              'bbt_penny', 'bbt_raj', 'bbt_sheldon', 'bbt_stuart', 'biden', 'df_angelina',
              'df_p04', 'df_p05', 'df_p08', 'kit_harington', 'obama', 'rose_leslie']
GAP_LOW, GAP_HIGH = HARD_MEMBER_GAP_S
EPS = 1e-6


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


@pytest.fixture(scope='module')
def suite(store):
    scenarios = random_suite(12, 77, store, IDENTITIES, difficulty='hard')
    return [(scenario, build_world(scenario, store)) for scenario in scenarios]


def test_the_same_seed_gives_the_same_hard_scenario(store):
    a = random_scenario(4, store, IDENTITIES, shoppers=8, difficulty='hard')
    b = random_scenario(4, store, IDENTITIES, shoppers=8, difficulty='hard')
    c = random_scenario(5, store, IDENTITIES, shoppers=8, difficulty='hard')
    assert scenario_to_dict(a) == scenario_to_dict(b) != scenario_to_dict(c)
    assert [scenario_to_dict(s) for s in random_suite(3, 9, store, IDENTITIES,
                                                      difficulty='hard')] == \
        [scenario_to_dict(s) for s in random_suite(3, 9, store, IDENTITIES, difficulty='hard')]


def test_up_to_eight_shoppers_with_walk_ins(suite):
    sizes = [len(scenario.shoppers) for scenario, _ in suite]
    assert max(sizes) == HARD_MAX_SHOPPERS and min(sizes) >= 4
    for scenario, world in suite:
        walk_ins = [s for s in scenario.shoppers if not s.enrolled]
        assert 1 <= len(walk_ins) < len(scenario.shoppers), scenario.name
        inside = max(_in_store_at(world, e.t) for e in world.events)
        assert inside >= 4, scenario.name


def _in_store_at(world, t):
    entered = sum(1 for e in world.events if e.kind == 'ENTERED' and e.t <= t)
    return entered - sum(1 for e in world.events if e.kind == 'EXITED' and e.t <= t)


def test_groups_enter_and_leave_a_few_tenths_of_a_second_apart(suite):
    for scenario, world in suite:
        groups = defaultdict(list)
        for shopper in scenario.shoppers:
            assert shopper.group, f'{scenario.name}: {shopper.identity} walks alone'
            groups[shopper.group].append(shopper.identity)
        assert all(2 <= len(members) <= 4 for members in groups.values()), scenario.name
        for members in groups.values():
            for kind in ('ENTERED', 'EXITED'):
                times = sorted(e.t for e in world.events if e.kind == kind
                               and e.shopper in members)
                gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
                assert all(GAP_LOW - EPS <= g <= GAP_HIGH + EPS for g in gaps), \
                    f'{scenario.name}: {kind} gaps {gaps} in a group'


def test_every_door_pass_shows_each_face_close_and_clear_long_enough(suite):
    for scenario, world in suite:
        for camera in ('cam_entrance', 'cam_exit'):
            views = world.appearances[camera]
            assert len(views) == len(scenario.shoppers)
            for view in views:
                assert view.clear_s >= DOOR_CLEAR_S - EPS, \
                    f'{scenario.name}: {view.identity} at {camera} clear {view.clear_s} s'
                close = max(size for _, _, _, size in view.keyframes)
                assert close >= 100


def test_neighbours_reach_into_adjacent_lanes_within_a_second(suite, store):
    position = {lane.key: i for shelf in store.shelves for i, lane in enumerate(shelf.lanes)}
    for scenario, world in suite:
        reaches = [e for e in world.events if e.kind in ('TAKE', 'PUT_BACK')]
        assert any(a.shopper != b.shopper and a.shelf_id == b.shelf_id
                   and abs(position[(a.shelf_id, a.lane_id)]
                           - position[(b.shelf_id, b.lane_id)]) == 1
                   and abs(a.t - b.t) <= ADJACENT_REACH_S
                   for i, a in enumerate(reaches) for b in reaches[i + 1:]), scenario.name


def test_changes_of_one_lane_stay_a_lane_gap_apart(suite):
    for scenario, world in suite:
        gap = scenario.timing.lane_gap_s
        for timeline in world.lanes.values():
            times = [t for t, _ in timeline.changes[1:]]
            assert all(b - a >= gap - EPS for a, b in zip(times, times[1:], strict=False))
            assert all(count >= 0 for _, count in timeline.changes)


def test_the_suite_has_lane_swaps_put_backs_and_faces_turned_away(suite):
    swaps = put_backs = look_aways = 0
    for scenario, _ in suite:
        lanes = {s.identity: [(a.shelf_id, a.lane_id) for a in s.actions
                              if isinstance(a, WalkTo)] for s in scenario.shoppers}
        swaps += sum(1 for a in lanes for b in lanes if a < b and len(lanes[a]) > 1
                     and len(lanes[b]) > 1 and lanes[a][:2] == lanes[b][:2][::-1])
        put_backs += sum(isinstance(a, PutBack) for s in scenario.shoppers for a in s.actions)
        look_aways += sum(len(s.look_away) for s in scenario.shoppers)
    assert swaps >= 3 and put_backs >= 6 and look_aways >= 3


def test_hard_scenarios_are_short_enough_and_take_things(suite):
    for scenario, world in suite:
        assert world.end_s < 120, scenario.name
        assert sum(isinstance(a, Take) for s in scenario.shoppers for a in s.actions) >= 4


def test_scenario_gen_writes_hard_scenarios(tmp_path, faces_root, store):
    assert main(['--seed', '3', '--shoppers', '6', '--difficulty', 'hard', '--count', '2',
                 '--faces-dir', str(faces_root), '--out', str(tmp_path)]) == 0
    files = sorted(tmp_path.glob('hard_*.yaml'))
    assert len(files) == 2
    for path in files:
        scenario = load_scenario(path)
        assert len(scenario.shoppers) == 6 and all(s.group for s in scenario.shoppers)
        build_world(scenario, store)
        assert 'group' in yaml.safe_load(path.read_text())['shoppers'][0]
