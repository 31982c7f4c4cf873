"""The drivers on the mock pin factory that `pin_factory: mock` uses: every reading is the
configured mock value, exactly, however late the machine wakes gpiozero's mock threads."""

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory

from ezshop_sensors.lane_drivers import (
    KIND_LIGHT,
    KIND_ULTRASONIC,
    LaneSpec,
    PingSequencer,
    Sample,
    lux_from_light_value,
    open_sensor,
    prepare_mock_pins,
)


def readings(spec, count):
    """The first ``count`` distinct raw readings of one mock lane."""
    factory = MockFactory()
    prepare_mock_pins(factory, spec)
    sensor = open_sensor(spec, factory, PingSequencer(gap_s=0.0), clock=time.monotonic_ns)
    try:
        seen = {}
        deadline = time.monotonic() + 60.0
        while len(seen) < count and time.monotonic() < deadline:
            sample = sensor.latest()
            if sample is not None:
                seen[sample.seq] = sample.value
            time.sleep(0.002)
        return list(seen.values())
    finally:
        sensor.close()
        factory.close()


def busy(stop):
    """Keep a core busy in this process, as the rest of a store PC does."""
    while not stop.is_set():
        sum(i * i for i in range(5000))


@pytest.fixture
def busy_machine():
    stop = threading.Event()
    thread = threading.Thread(target=busy, args=(stop,))
    thread.start()
    yield
    stop.set()
    thread.join()


def test_mock_hc_sr04_reads_its_mock_distance_to_the_millimetre(busy_machine):
    spec = LaneSpec(lane_id='lane_1', kind=KIND_ULTRASONIC, frame_id='f', echo_pin='GPIO24',
                    trigger_pin='GPIO23', mock_value=0.2)
    values = readings(spec, 12)
    assert len(values) == 12
    assert all(abs(v - 0.2) < 0.001 for v in values), values


def test_mock_ldr_reads_its_mock_lux(busy_machine):
    spec = LaneSpec(lane_id='lane_3', kind=KIND_LIGHT, frame_id='f', pin='GPIO18',
                    charge_time_limit_s=0.05, full_scale_lux=100.0, mock_value=20.0)
    values = [lux_from_light_value(v, spec.full_scale_lux) for v in readings(spec, 4)]
    assert len(values) == 4
    assert all(abs(v - 20.0) < 0.5 for v in values), values


def test_latest_is_the_median_up_to_the_reading_it_stamps():
    """A reading's value comes with it: gpiozero's queue takes the raw reading only after the
    read returned, so its median, read in between, was the previous one (0.0 at first)."""
    factory = MockFactory()  # no echo ever: the sensor's own thread records only failures
    spec = LaneSpec(lane_id='lane_9', kind=KIND_ULTRASONIC, frame_id='f', echo_pin='GPIO5',
                    trigger_pin='GPIO6', max_distance_m=2.0, queue_len=3)
    sensor = open_sensor(spec, factory, PingSequencer(gap_s=0.0), clock=time.monotonic_ns)
    try:
        assert sensor.latest() is None
        medians = []
        for stamp, raw in enumerate((0.1, 0.3, 0.2, 0.4), start=1):
            sensor._record(raw, stamp)  # what a successful read records
            medians.append(sensor.latest())
        assert medians == [Sample(1, 0.2, 1), Sample(2, 0.4, 2), Sample(3, 0.4, 3),
                           Sample(4, 0.6, 4)]
    finally:
        sensor.close()
        factory.close()
