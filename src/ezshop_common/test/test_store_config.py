"""The store description loader: the shipped demo store loads; every kind of error names its key."""

import copy
import math

import pytest
import yaml

from ezshop_common.store_config import (
    SENSOR_LIGHT,
    SENSOR_ULTRASONIC,
    StoreConfigError,
    load_store,
    parse_store,
)


@pytest.fixture(scope='module')
def demo_data(config_dir):
    return yaml.safe_load((config_dir / 'store.yaml').read_text())


def test_demo_store_loads(config_dir):
    store = load_store(config_dir / 'store.yaml')
    assert store.currency == 'EUR'
    assert [s.shelf_id for s in store.shelves] == ['shelf_a', 'shelf_b']
    assert len(store.lanes) == 6
    kinds = {lane.sensor for lane in store.lanes}
    assert kinds == {SENSOR_ULTRASONIC, SENSOR_LIGHT}
    assert {d.role for d in store.doors} == {'entrance', 'exit'}
    shelf_cams = [c for c in store.cameras if c.role == 'shelf']
    assert len(shelf_cams) == 2
    covering = store.cameras_covering('shelf_b', 'lane_2')
    assert [c.camera_id for c, _ in covering] == ['cam_shelf_b']
    assert store.item('cola').price_cents == 150


def test_ultrasonic_geometry_round_trips(config_dir):
    lane = load_store(config_dir / 'store.yaml').lane('shelf_a', 'lane_1')
    geo = lane.ultrasonic
    for n in range(lane.capacity + 1):
        assert math.isclose(geo.count_for_distance(geo.distance_for_count(n), lane.capacity), n)
    assert geo.count_for_distance(10.0, lane.capacity) == 0.0
    assert geo.count_for_distance(0.0, lane.capacity) == lane.capacity


def _expect_error(data, fragment):
    with pytest.raises(StoreConfigError) as info:
        parse_store(data)
    assert fragment in str(info.value), str(info.value)


@pytest.mark.parametrize('mutate, fragment', [
    (lambda d: d.pop('store'), 'store: missing required key'),
    (lambda d: d['store'].update(currency='euro'), 'store.currency: must be an ISO 4217'),
    (lambda d: d['catalogue'][0].update(price_cents=1.5), 'catalogue[0].price_cents: must be an integer'),
    (lambda d: d['catalogue'][0].update(price_cents=-1), 'catalogue[0].price_cents: must be >= 0'),
    (lambda d: d['catalogue'][1].update(id='cola'), "catalogue: duplicate item id 'cola'"),
    (lambda d: d['catalogue'][0].update(colour='red'), 'catalogue[0].colour: unknown key'),
    (lambda d: d['shelves'][0]['lanes'][0].update(item='beer'), "shelves[0].lanes[0].item: unknown item 'beer'"),
    (lambda d: d['shelves'][0]['lanes'][0].update(sensor='laser'), 'shelves[0].lanes[0].sensor: must be one of'),
    (lambda d: d['shelves'][0]['lanes'][0]['ultrasonic'].update(item_depth_m=-0.1),
     'shelves[0].lanes[0].ultrasonic.item_depth_m: must be > 0.0'),
    (lambda d: d['shelves'][0]['lanes'][0]['ultrasonic'].pop('lane_length_m'),
     'shelves[0].lanes[0].ultrasonic.lane_length_m: missing required key'),
    (lambda d: d['shelves'][0]['lanes'][0].update(capacity=20), 'shelves[0].lanes[0].capacity: 20 items'),
    (lambda d: d['shelves'][0]['lanes'][2].update(capacity=2),
     'shelves[0].lanes[2].capacity: a light lane holds exactly 1 item'),
    (lambda d: d['shelves'][0]['lanes'][1].update(id='lane_1'), "shelves[0].lanes: duplicate lane id 'lane_1'"),
    (lambda d: d['shelves'][0].update(id='shelf a'), 'shelves[0].id:'),
    (lambda d: d['cameras'][2]['coverage'][0].update(lane='lane_9'),
     'cameras[2].coverage[0]: unknown lane shelf_a/lane_9'),
    (lambda d: d['cameras'][2]['coverage'][0].update(reach_zone=[600, 0, 100, 100]),
     'cameras[2].coverage[0].reach_zone: [x, y, width, height] = [600, 0, 100, 100] must lie inside'),
    (lambda d: d['cameras'][2]['coverage'][0].update(reach_zone=[1, 2, 3]),
     'cameras[2].coverage[0].reach_zone: must be a list of 4 integers'),
    (lambda d: d['cameras'][0].update(coverage=[]), 'cameras[0].coverage: only shelf cameras'),
    (lambda d: d['doors'][0].update(camera='cam_nowhere'), "doors[0].camera: unknown camera 'cam_nowhere'"),
    (lambda d: d['doors'][0].update(camera='cam_exit'), "doors[0].camera: camera 'cam_exit' has role 'exit'"),
    (lambda d: d['doors'].pop(1), "doors: needs at least one door with role 'exit'"),
    (lambda d: d.update(extra=1), 'extra: unknown key'),
])
def test_errors_name_the_bad_key(demo_data, mutate, fragment):
    data = copy.deepcopy(demo_data)
    mutate(data)
    _expect_error(data, fragment)


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(StoreConfigError, match='cannot read store file'):
        load_store(tmp_path / 'missing.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('store: [unclosed\n')
    with pytest.raises(StoreConfigError, match='not valid YAML'):
        load_store(bad)
    top = tmp_path / 'list.yaml'
    top.write_text('- 1\n- 2\n')
    with pytest.raises(StoreConfigError, match=r'list.yaml: <top level>: must be a mapping'):
        load_store(top)


def test_default_store_file_follows_environment(tmp_path, monkeypatch, config_dir):
    target = tmp_path / 'mystore.yaml'
    target.write_text((config_dir / 'store.yaml').read_text())
    monkeypatch.setenv('EZSHOP_STORE_FILE', str(target))
    assert load_store().source == str(target)
