"""Random scenarios: valid, deterministic for a seed, crowded as asked."""

import hashlib
import json

import pytest
import yaml

from ezshop_common.store_config import load_store
from ezshop_sim.generator import main, random_scenario, random_suite
from ezshop_sim.photos import identities_dir, list_identities
from ezshop_sim.scenario import Take, load_scenario, scenario_to_dict
from ezshop_sim.world import build_world

IDENTITIES = ['alex_lacamoire', 'bbt_amy', 'bbt_raj', 'biden', 'df_p04', 'obama', 'rose_leslie']


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


def test_same_seed_same_scenario_other_seed_other(store):
    a = random_scenario(5, store, IDENTITIES, shoppers=4, crowding=2)
    b = random_scenario(5, store, IDENTITIES, shoppers=4, crowding=2)
    c = random_scenario(6, store, IDENTITIES, shoppers=4, crowding=2)
    assert scenario_to_dict(a) == scenario_to_dict(b) != scenario_to_dict(c)


def test_crowding_puts_that_many_shoppers_at_one_shelf(store):
    for seed in range(10):
        scenario = random_scenario(seed, store, IDENTITIES, shoppers=4, crowding=4)
        homes = {a.shelf_id for s in scenario.shoppers for a in s.actions[:1]}
        assert len(homes) <= 2  # all share one home shelf; a first stop elsewhere is rare
        assert len({s.identity for s in scenario.shoppers}) == 4
        world = build_world(scenario, store)
        assert sum(e.kind == 'TAKE' for e in world.events) >= 4
    spread = random_scenario(1, store, IDENTITIES, shoppers=2, crowding=1)
    assert len({s.actions[0].shelf_id for s in spread.shoppers}) == 2


def test_many_random_scenarios_are_valid(store):
    suite = random_suite(40, 123, store, IDENTITIES, max_shoppers=4, max_crowding=4)
    assert len(suite) == 40
    for scenario in suite:
        world = build_world(scenario, store)
        assert world.end_s < 120
        assert all(count >= 0 for count in world.counts_at(world.end_s).values())
    assert any(isinstance(a, Take) and a.quantity == 2
               for s in suite for sh in s.shoppers for a in sh.actions)


#: Output of the normal generator captured before the hard difficulty was added: normal
#: scenarios must stay the same for the same seed (sha256 of the sorted JSON of the dicts).
NORMAL_SUITE_SHA256 = '184f0c567aecab3753167c914893d5f6ab216f1f95adc11281a8989081b81cf1'
NORMAL_ONE_SHA256 = '2118df11fcfa163c399ad371df0aaeef5998a2f1c121adf0e311f77ba8ba2049'
NORMAL_SEED_11 = {
    'name': 'random_s11_n2_c1', 'description': 'Random: 2 shoppers, crowding 1, seed 11.',
    'seed': 11, 'shoppers': [
        {'identity': 'biden', 'enrolled': True, 'enter_s': 0.0, 'actions': [
            {'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_1'}}, {'take': 1},
            {'walk_to': {'shelf': 'shelf_b', 'lane': 'lane_2'}}, {'take': 1}, {'wait': 1.7},
            {'walk_to': {'shelf': 'shelf_b', 'lane': 'lane_2'}}, {'take': 1}, 'exit']},
        {'identity': 'df_p04', 'enrolled': True, 'enter_s': 0.8, 'actions': [
            {'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_1'}}, {'take': 2}, {'wait': 0.5},
            {'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_1'}}, {'take': 1},
            {'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_2'}}, {'take': 1}, 'exit']}]}


def _sha256(scenarios):
    data = [scenario_to_dict(s) for s in scenarios]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def test_normal_difficulty_is_unchanged_for_a_seed(store):
    assert scenario_to_dict(random_scenario(11, store, IDENTITIES, shoppers=2, crowding=1)) \
        == NORMAL_SEED_11
    assert _sha256([random_scenario(5, store, IDENTITIES, shoppers=4, crowding=2,
                                    unenrolled=1)]) == NORMAL_ONE_SHA256
    assert _sha256(random_suite(40, 123, store, IDENTITIES, max_shoppers=4, max_crowding=4,
                                difficulty='normal')) == NORMAL_SUITE_SHA256
    assert _sha256(random_suite(40, 123, store, IDENTITIES, max_crowding=4)) \
        == NORMAL_SUITE_SHA256


def test_unenrolled_and_bad_arguments(store):
    scenario = random_scenario(3, store, IDENTITIES, shoppers=3, unenrolled=1)
    assert sum(not s.enrolled for s in scenario.shoppers) == 1
    with pytest.raises(ValueError, match='identities'):
        random_scenario(3, store, IDENTITIES[:2], shoppers=3)
    with pytest.raises(ValueError, match='difficulty must be one of normal, hard'):
        random_scenario(3, store, IDENTITIES, difficulty='insane')


def test_scenario_gen_writes_loadable_files(tmp_path, faces_root, store):
    assert main(['--seed', '9', '--shoppers', '3', '--crowding', '3', '--count', '2',
                 '--faces-dir', str(faces_root), '--out', str(tmp_path)]) == 0
    files = sorted(tmp_path.glob('*.yaml'))
    assert len(files) == 2
    known = set(list_identities(identities_dir(faces_root)))
    for path in files:
        scenario = load_scenario(path)
        assert {s.identity for s in scenario.shoppers} <= known
        build_world(scenario, store)
        assert yaml.safe_load(path.read_text())['seed'] in (9, 10)
