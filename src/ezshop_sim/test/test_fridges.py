"""The simulated fridges (plain Python): held within limits when closed, the shipped
fridge_door_left_open scenario judged by the real temperature monitor core."""

import pytest

from ezshop_sensors.temperature_monitor import (
    KIND_HIGH,
    KIND_RECOVERED,
    TemperatureMonitor,
    TemperatureSettings,
)
from ezshop_sim.fields import ScenarioError
from ezshop_sim.fridges import DoorOpening, FridgeModel
from ezshop_sim.scenario import (
    check_against_store,
    load_scenario,
    parse_scenario,
    scenario_to_dict,
)
from ezshop_sim.world import build_world

NS = 1_000_000_000


@pytest.fixture(scope='module')
def store(config_dir):
    from ezshop_common.store_config import load_store

    return load_store(config_dir / 'store.yaml')


def play(store, scenario, end_s, hold_s):
    monitor = TemperatureMonitor(store.fridges,
                                 TemperatureSettings(alarm_after_override_s=hold_s), NS)
    alerts = []
    for fridge in store.fridges:
        model = FridgeModel(fridge, scenario.fridge_doors, scenario.seed)
        for k in range(int(end_s)):
            alerts += monitor.add(fridge.fridge_id, (k + 1) * NS, model.temperature(k, k))
    return alerts


def test_closed_units_stay_within_their_limits_for_hours(store):
    for fridge in store.fridges:
        model = FridgeModel(fridge, [], seed=5)
        values = [model.temperature(t, t) for t in range(0, 4 * 3600, 7)]
        assert fridge.min_c < min(values) and max(values) < fridge.max_c


def test_door_left_open_scenario_alarms_the_freezer_once_and_recovers(store):
    scenario = load_scenario('fridge_door_left_open')
    check_against_store(scenario, store)
    world = build_world(scenario, store)
    alerts = play(store, scenario, world.end_s, hold_s=30.0)  # sim.launch.xml's hold
    assert [(a.fridge_id, a.kind) for a in alerts] == [('freezer', KIND_HIGH),
                                                       ('freezer', KIND_RECOVERED)]
    # With the store file's holds (15 and 10 minutes) nothing is an alarm.
    assert play(store, scenario, world.end_s, hold_s=0.0) == []


def test_fridge_doors_round_trip_and_unknown_fridges_are_named(store):
    data = {'name': 't', 'seed': 1, 'shoppers': [{
        'identity': 'obama', 'actions': [{'walk_to': {'shelf': 'shelf_a', 'lane': 'lane_1'}},
                                         'exit']}],
        'fridge_doors': [{'fridge': 'freezer', 'at_s': 2.0, 'open_s': 5.0}]}
    scenario = parse_scenario(data)
    assert scenario.fridge_doors == (DoorOpening('freezer', 2.0, 5.0, 'fridge_doors[0]'),)
    assert parse_scenario(scenario_to_dict(scenario)) == scenario
    data['fridge_doors'][0]['fridge'] = 'oven'
    with pytest.raises(ScenarioError, match=r"fridge_doors\[0\].fridge: unknown fridge 'oven'"):
        check_against_store(parse_scenario(data), store)
    data['fridge_doors'][0]['open_s'] = 0
    with pytest.raises(ScenarioError, match=r'fridge_doors\[0\].open_s: must be > 0'):
        parse_scenario(data)
