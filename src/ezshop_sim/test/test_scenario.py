"""Scenario files: the shipped ones load and play; bad ones fail naming the bad key."""

import pytest
import yaml

from ezshop_common.store_config import load_store
from ezshop_sim.scenario import (
    Exit,
    LookAway,
    PutBack,
    ScenarioError,
    SensorDead,
    SpikeBurst,
    Take,
    WalkTo,
    load_scenario,
    parse_scenario,
    scenario_names,
    scenario_to_dict,
)
from ezshop_sim.world import build_world

REQUIRED = {'one_shopper', 'two_shoppers_one_shelf', 'four_shoppers_one_shelf',
            'neighbours_adjacent_lanes', 'put_back', 'two_item_grab', 'unenrolled_walk_in',
            'lookalikes', 'three_enter_together', 'sensor_glitch', 'demo', 'group_of_four',
            'four_adjacent_reaches', 'lane_swap', 'walk_in_crowd', 'look_away_entrance'}


@pytest.fixture(scope='module')
def store(config_dir):
    return load_store(config_dir / 'store.yaml')


def minimal(**overrides):
    data = {'name': 't', 'seed': 3, 'shoppers': [{
        'identity': 'obama', 'enter_s': 0.0,
        'actions': [{'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_1'}}, {'take': 1}, 'exit']}]}
    data.update(overrides)
    return data


def test_every_required_scenario_is_shipped_and_plays(store):
    assert REQUIRED <= set(scenario_names())
    for name in scenario_names():
        scenario = load_scenario(name)
        world = build_world(scenario, store)
        assert world.events[-1].kind == 'SCENARIO_DONE'
        assert world.end_s < 120.0, name


def test_end_to_end_scenario_is_short_with_a_put_back(store):
    world = build_world(load_scenario('two_shoppers_one_shelf'), store)
    kinds = [e.kind for e in world.events]
    assert world.end_s < 40.0
    assert 'PUT_BACK' in kinds and kinds.count('ENTERED') == 2 and kinds.count('EXITED') == 2


def test_group_and_look_away_round_trip():
    data = minimal()
    second = dict(data['shoppers'][0], identity='biden', enter_s=0.3, group='pair',
                  exit_delay_s=0.4)
    data['shoppers'][0].update(group='pair', look_away=[
        {'door': 'entrance', 'start_frac': 0.1, 'end_frac': 0.3}])
    data['shoppers'].append(second)
    scenario = parse_scenario(data)
    first, other = scenario.shoppers
    assert first.look_away == (LookAway('entrance', 0.1, 0.3),) and other.look_away == ()
    assert (first.group, first.exit_delay_s, other.exit_delay_s) == ('pair', 0.0, 0.4)
    assert parse_scenario(scenario_to_dict(scenario)) == scenario
    plain = scenario_to_dict(parse_scenario(minimal()))['shoppers'][0]
    assert not {'look_away', 'group', 'exit_delay_s'} & set(plain)


def test_new_crowd_scenarios_have_what_their_names_promise(store):
    group = load_scenario('group_of_four')
    assert [s.enter_s for s in group.shoppers] == [0.0, 0.3, 0.6, 0.9]
    assert len({s.group for s in group.shoppers}) == 1
    world = build_world(group, store)
    exits = sorted(e.t for e in world.events if e.kind == 'EXITED')
    assert [round(b - a, 2) for a, b in zip(exits, exits[1:], strict=False)] == [0.3] * 3
    adjacent = build_world(load_scenario('four_adjacent_reaches'), store)
    takes = [e for e in adjacent.events if e.kind == 'TAKE' and e.shelf_id == 'shelf_b']
    first = sorted(takes, key=lambda e: e.t)[:3]
    assert len(takes) == 4 and {e.lane_id for e in first} == {'lane_1', 'lane_2', 'lane_3'}
    assert first[-1].t - first[0].t <= 1.0
    swap = build_world(load_scenario('lane_swap'), store)
    by_shopper = {}
    for e in (e for e in swap.events if e.kind == 'TAKE'):
        by_shopper.setdefault(e.shopper, []).append(e.lane_id)
    assert sorted(by_shopper.values()) == [['lane_1', 'lane_2'], ['lane_2', 'lane_1']]
    crowd = load_scenario('walk_in_crowd')
    assert len(crowd.shoppers) >= 4 and sum(not s.enrolled for s in crowd.shoppers) == 1
    away = load_scenario('look_away_entrance')
    assert any(look.door == 'entrance' for s in away.shoppers for look in s.look_away)
    for name in ('group_of_four', 'four_adjacent_reaches', 'lane_swap', 'walk_in_crowd',
                 'look_away_entrance'):
        assert build_world(load_scenario(name), store).end_s < 60.0, name


def test_special_scenarios_have_what_their_names_promise(store):
    unenrolled = load_scenario('unenrolled_walk_in')
    assert any(not s.enrolled and any(isinstance(a, Take) for a in s.actions)
               for s in unenrolled.shoppers)
    assert {'alex_lacamoire', 'bbt_raj'} <= set(load_scenario('lookalikes').identities)
    together = load_scenario('three_enter_together')
    assert len({s.enter_s for s in together.shoppers}) == 1 and len(together.shoppers) == 3
    assert any(isinstance(a, Take) and a.quantity == 2
               for s in load_scenario('two_item_grab').shoppers for a in s.actions)
    glitch = load_scenario('sensor_glitch')
    assert any(isinstance(e, SensorDead) for e in glitch.events)
    assert any(isinstance(e, SpikeBurst) for e in glitch.events)
    demo = build_world(load_scenario('demo'), store)
    assert any(e.kind == 'PUT_BACK' for e in demo.events) and demo.end_s < 120.0


def test_parse_builds_typed_actions():
    scenario = parse_scenario(minimal())
    actions = scenario.shoppers[0].actions
    assert actions == (WalkTo('shelf_a', 'lane_1'), Take(1), Exit())
    assert scenario.shoppers[0].enrolled is True
    assert parse_scenario(scenario_to_dict(scenario)) == scenario


@pytest.mark.parametrize(('mutate', 'message'), [
    (lambda d: d.update(colour='red'), 'colour: unknown key'),
    (lambda d: d['shoppers'][0].update(enter_s=-1), 'shoppers[0].enter_s: must be >= 0.0'),
    (lambda d: d['shoppers'][0]['actions'].insert(1, {'take': 0}),
     'shoppers[0].actions[1].take: must be >= 1'),
    (lambda d: d['shoppers'][0]['actions'].insert(1, {'jump': 1}),
     'shoppers[0].actions[1].jump: unknown key'),
    (lambda d: d['shoppers'][0]['actions'].pop(), 'shoppers[0].actions: the last action must be exit'),
    (lambda d: d['shoppers'][0]['actions'].insert(0, 'exit'),
     'shoppers[0].actions[0]: exit must be the last action'),
    (lambda d: d['shoppers'][0].pop('identity'), 'shoppers[0].identity: missing required key'),
    (lambda d: d['shoppers'][0].update(enrolled='yes'), 'shoppers[0].enrolled: must be true or false'),
    (lambda d: d.update(events=[{'kind': 'meteor', 'shelf': 'shelf_a', 'lane': 'lane_1',
                                 'start_s': 1, 'duration_s': 1}]), 'events[0].kind: must be one of'),
    (lambda d: d.update(timing={'walk_s': 'slow'}), 'timing.walk_s: must be a finite number'),
    (lambda d: d['shoppers'][0].update(look_away=[{'door': 'window', 'start_frac': 0.1,
                                                   'end_frac': 0.2}]),
     'shoppers[0].look_away[0].door: must be one of entrance, exit'),
    (lambda d: d['shoppers'][0].update(look_away=[{'door': 'exit', 'start_frac': 0.5,
                                                   'end_frac': 0.2}]),
     'shoppers[0].look_away[0].end_frac: must be > start_frac (0.5)'),
    (lambda d: d['shoppers'][0].update(look_away=[{'door': 'exit', 'start_frac': 0.1,
                                                   'end_frac': 1.5}]),
     'shoppers[0].look_away[0].end_frac: must be <= 1.0'),
    (lambda d: d['shoppers'][0].update(look_away=[{'door': 'exit', 'start': 0.1}]),
     'shoppers[0].look_away[0].start: unknown key'),
    (lambda d: d['shoppers'][0].update(look_away={'door': 'exit'}),
     'shoppers[0].look_away: must be a list'),
    (lambda d: d['shoppers'][0].update(exit_delay_s=0.3),
     'shoppers[0].exit_delay_s: only for a shopper in a group'),
    (lambda d: d['shoppers'][0].update(group='friends'),
     "shoppers[0].group: no other shopper is in group 'friends'"),
    (lambda d: d['shoppers'][0].update(group='friends', exit_delay_s=-1),
     'shoppers[0].exit_delay_s: must be >= 0.0'),
])
def test_invalid_scenarios_name_the_bad_key(mutate, message):
    data = minimal()
    mutate(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert message in str(info.value)


@pytest.mark.parametrize(('actions', 'message'), [
    ([{'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_9'}}, 'exit'],
     'shoppers[0].actions[0].walk_to: unknown lane shelf_a/lane_9'),
    ([{'take': 1}, 'exit'], 'shoppers[0].actions[0].take: the shopper is at no lane'),
    ([{'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_3'}}, {'take': 2}, 'exit'],
     'shoppers[0].actions[1].take: takes 2 sandwich from shelf_a/lane_3 but only 1'),
    ([{'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_1'}}, {'put_back': 1}, 'exit'],
     'shoppers[0].actions[1].put_back: puts back 1 cola but holds 0'),
])
def test_scenarios_that_cannot_happen_in_the_store_name_the_action(store, actions, message):
    data = minimal()
    data['shoppers'][0]['actions'] = actions
    with pytest.raises(ScenarioError) as info:
        build_world(parse_scenario(data), store)
    assert message in str(info.value)


def test_load_errors_name_the_file(tmp_path):
    bad = tmp_path / 'bad.yaml'
    bad.write_text(yaml.safe_dump(minimal(seed=-2)))
    with pytest.raises(ScenarioError, match=r'bad\.yaml: seed: must be >= 0'):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match='unknown scenario'):
        load_scenario('no_such_scenario')


def test_store_file_is_relative_to_the_scenario(tmp_path, repo_root):
    path = tmp_path / 's.yaml'
    path.write_text(yaml.safe_dump(minimal(store_file='stores/mine.yaml')))
    assert load_scenario(path).store_file == tmp_path / 'stores' / 'mine.yaml'
    assert load_scenario('one_shopper').store_file is None


def test_put_back_action_parses():
    data = minimal()
    data['shoppers'][0]['actions'][2:2] = [{'put_back': 1}, {'wait': 0.5}]
    actions = parse_scenario(data).shoppers[0].actions
    assert actions[2] == PutBack(1)
