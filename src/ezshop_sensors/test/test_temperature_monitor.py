"""The temperature judge (plain Python): hold time, hysteresis, silent probes, garbage."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ezshop_common.store_config import Fridge, StoreConfigError, parse_store
from ezshop_sensors.temperature_monitor import (
    ERROR,
    INFO,
    KIND_HIGH,
    KIND_LOW,
    KIND_RECOVERED,
    KIND_SENSOR_DEAD,
    KIND_SENSOR_RECOVERED,
    NS,
    OK,
    WARN,
    TemperatureMonitor,
    TemperatureSettings,
)

FREEZER = Fridge('freezer', 'Ice cream', 'freezer', -25.0, -15.0, 600.0, 'sim')
DAIRY = Fridge('dairy', 'Dairy', 'fridge', 0.0, 7.0, 900.0, 'sim')
START = 1_000 * NS


def monitor(**settings):
    return TemperatureMonitor([FREEZER, DAIRY], TemperatureSettings(**settings), START)


def play(mon, fridge_id, samples, period_s=5.0, t0_s=0.0):
    """Readings period_s apart; every alert."""
    alerts = []
    for i, value in enumerate(samples):
        alerts += mon.add(fridge_id, START + int((t0_s + i * period_s) * NS), value)
    return alerts


def test_ten_minutes_above_minus_15_is_one_alarm_then_one_recovery():
    mon = monitor()
    alerts = play(mon, 'freezer', [-20.0] * 10 + [-12.0] * 200 + [-20.0] * 5)
    assert [a.kind for a in alerts] == [KIND_HIGH, KIND_RECOVERED]
    high, back = alerts
    assert high.level == ERROR and back.level == INFO
    # First reading out at 50 s; 600 s later (a reading every 5 s) is the alarm.
    assert high.stamp_ns == START + 650 * NS
    assert high.value_c == -12.0 and 'above -15 C for 600 s' in high.message
    assert back.stamp_ns == START + 1050 * NS
    assert mon.units['freezer'].counters['alarms'] == 1


def test_a_door_opened_for_a_moment_is_no_alarm():
    mon = monitor()
    door = [-20.0] * 5 + [-14.0, -10.0, -8.0, -12.0, -16.0] + [-20.0] * 5
    assert play(mon, 'freezer', door * 20) == []
    unit = mon.units['freezer']
    assert unit.status()[0] == OK and unit.alarm is None


def test_out_of_limits_within_the_hold_warns_on_diagnostics():
    mon = monitor()
    play(mon, 'freezer', [-20.0, -14.0, -13.0])
    level, message = mon.units['freezer'].status()
    assert level == WARN and 'out of limits for 5 s' in message


def test_too_cold_is_a_low_alarm():
    mon = monitor()
    alerts = play(mon, 'dairy', [-1.0] * 200)
    assert [a.kind for a in alerts] == [KIND_LOW]
    assert 'below 0 C' in alerts[0].message


def test_recovery_needs_the_hysteresis():
    mon = monitor(hysteresis_c=0.5, alarm_after_override_s=10.0)
    alerts = play(mon, 'freezer', [-14.0, -14.0, -14.0, -15.2, -14.9, -15.2, -15.6, -15.6])
    assert [a.kind for a in alerts] == [KIND_HIGH, KIND_RECOVERED]
    assert alerts[1].value_c == -15.6


def test_override_replaces_every_units_hold_time():
    mon = monitor(alarm_after_override_s=20.0)
    assert mon.units['freezer'].hold_s == 20.0
    alerts = play(mon, 'freezer', [-10.0] * 6)
    assert [(a.kind, a.stamp_ns) for a in alerts] == [(KIND_HIGH, START + 20 * NS)]


def test_garbage_is_counted_and_ignored():
    mon = monitor()
    unit = mon.units['freezer']
    for value in (math.nan, math.inf, -math.inf, 85.5, -127.0, 'x', None):
        assert mon.add('freezer', START + NS, value) == []
    assert unit.counters['bad_nan'] == 5 and unit.counters['bad_absurd'] == 2
    assert mon.add('freezer', START + 10 * NS, -20.0) == []
    assert mon.add('freezer', START + 10 * NS, -10.0) == []  # same stamp: out of order
    assert mon.add('freezer', START + 5 * NS, -10.0) == []
    assert unit.counters['bad_out_of_order'] == 2
    assert unit.bad_readings == 9 and unit.counters['readings'] == 1
    assert unit.last_c == -20.0 and unit.out_side is None


def test_a_silent_probe_is_dead_once_and_recovers_on_its_next_reading():
    mon = monitor(sensor_timeout_s=60.0)
    assert mon.check(START + 30 * NS) == []
    dead = mon.check(START + 61 * NS)  # neither unit ever read
    assert sorted((a.fridge_id, a.kind, a.level) for a in dead) == [
        ('dairy', KIND_SENSOR_DEAD, ERROR), ('freezer', KIND_SENSOR_DEAD, ERROR)]
    assert all(a.stamp_ns == START + 61 * NS for a in dead)
    assert mon.check(START + 200 * NS) == []
    assert mon.units['freezer'].status()[0] == ERROR
    back = mon.add('freezer', START + 201 * NS, -20.0)
    assert [a.kind for a in back] == [KIND_SENSOR_RECOVERED]
    assert mon.check(START + 250 * NS) == []
    assert [a.kind for a in mon.check(START + 262 * NS)] == [KIND_SENSOR_DEAD]


def test_garbage_only_is_a_dead_probe():
    mon = monitor(sensor_timeout_s=60.0)
    play(mon, 'freezer', [-20.0])
    for i in range(20):
        mon.add('freezer', START + (i + 1) * 5 * NS, math.nan)
    # The freezer's last valid reading was at 0 s, the dairy fridge never read.
    assert sorted(a.fridge_id for a in mon.check(START + 70 * NS)
                  if a.kind == KIND_SENSOR_DEAD) == ['dairy', 'freezer']
    assert mon.units['freezer'].counters['bad_nan'] == 20


def test_sim_time_starting_late_counts_silence_from_the_first_tick():
    mon = TemperatureMonitor([FREEZER], TemperatureSettings(sensor_timeout_s=60.0), 0)
    assert mon.check(500 * NS) == []
    assert mon.check(559 * NS) == []
    assert len(mon.check(561 * NS)) == 1


@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                          st.just(-14.0), st.just(-20.0)), max_size=300),
       st.lists(st.integers(min_value=-10 * NS, max_value=30 * NS), max_size=300))
def test_any_readings_alarm_and_recover_alternately_and_never_crash(values, steps):
    mon = monitor(alarm_after_override_s=30.0)
    stamp = START
    kinds = []
    for value, step in zip(values, steps, strict=False):
        stamp += step
        kinds += [a.kind for a in mon.add('freezer', stamp, value)]
        kinds += [a.kind for a in mon.check(stamp)]
    alarms = [k for k in kinds if k in (KIND_HIGH, KIND_LOW, KIND_RECOVERED)]
    assert all(a != b for a, b in zip(alarms, alarms[1:], strict=False))
    assert not alarms or alarms[0] != KIND_RECOVERED
    dead = [k for k in kinds if k in (KIND_SENSOR_DEAD, KIND_SENSOR_RECOVERED)]
    assert all(a != b for a, b in zip(dead, dead[1:], strict=False))


STORE = {
    'store': {'name': 'T', 'currency': 'EUR'},
    'catalogue': [{'id': 'cola', 'name': 'Cola', 'price_cents': 100}],
    'shelves': [],
    'cameras': [{'id': 'cam_in', 'role': 'entrance'}, {'id': 'cam_out', 'role': 'exit'}],
    'doors': [{'id': 'in', 'role': 'entrance', 'camera': 'cam_in'},
              {'id': 'out', 'role': 'exit', 'camera': 'cam_out'}],
}


def store_with(*fridges):
    return parse_store({**STORE, 'fridges': list(fridges)})


def test_store_file_fridges_parse_with_defaults():
    store = store_with({'id': 'freezer', 'kind': 'freezer', 'min_c': -25, 'max_c': -15,
                        'sensor': 'ds18b20', 'w1_id': '28-0316a27c11ff'},
                       {'id': 'dairy', 'kind': 'fridge', 'min_c': 0, 'max_c': 7,
                        'alarm_after_s': 900, 'sensor': 'mqtt'})
    assert store.fridge('freezer') == Fridge('freezer', 'freezer', 'freezer', -25.0, -15.0,
                                             600.0, 'ds18b20', '28-0316a27c11ff', 'freezer')
    assert store.fridge('dairy').alarm_after_s == 900.0 and store.fridge('dairy').w1_id == ''
    assert parse_store(STORE).fridges == ()


GOOD = {'id': 'f', 'kind': 'fridge', 'min_c': 0, 'max_c': 7, 'sensor': 'sim'}


@pytest.mark.parametrize(('change', 'message'), [
    ({'kind': 'oven'}, 'fridges[0].kind: must be one of fridge, freezer'),
    ({'max_c': -1}, 'fridges[0].max_c: must be above min_c'),
    ({'min_c': -80}, 'fridges[0].min_c: must be >= -60.0'),
    ({'alarm_after_s': -1}, 'fridges[0].alarm_after_s: must be >= 0.0'),
    ({'sensor': 'ds18b20'}, 'fridges[0].w1_id: missing required key'),
    ({'sensor': 'ds18b20', 'w1_id': '28-XYZ'}, 'fridges[0].w1_id: must be a 1-Wire id'),
    ({'w1_id': '28-0316a27c11ff'}, 'fridges[0].w1_id: only for sensor ds18b20'),
    ({'colour': 'white'}, 'fridges[0].colour: unknown key'),
    ({'id': 'bad id'}, 'fridges[0].id:'),
])
def test_a_bad_fridge_is_named(change, message):
    with pytest.raises(StoreConfigError, match=message.replace('.', r'\.').replace('[', r'\[')):
        store_with({**GOOD, **change})


def test_duplicate_fridge_ids_are_refused():
    with pytest.raises(StoreConfigError, match="duplicate fridge id 'f'"):
        store_with(GOOD, GOOD)
