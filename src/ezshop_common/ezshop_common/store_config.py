"""The store description: catalogue, planogram, doors and cameras, from store.yaml
(ezshop_bringup/config/store.yaml for the demo store).

One validating loader, used by every package. Errors name the offending key path, e.g.
``shelves[0].lanes[2].ultrasonic.item_depth_m: must be > 0 (got -0.1)``.

Ultrasonic lane geometry (all metres): the HC-SR04 sits ``sensor_offset_m`` in front of the
lane's front edge and looks along the lane to its back wall, ``lane_length_m`` further on.
Items are pushed to the back, so with ``n`` items the echo comes from the front face of the
frontmost item: ``distance = sensor_offset_m + lane_length_m - n * item_depth_m``.
Light lanes hold a single item over a light sensor: dark means present.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ezshop_common.boxes import Box
from ezshop_common.paths import config_dir
from ezshop_common.yaml_fields import Field

SENSOR_ULTRASONIC = 'ultrasonic'
SENSOR_LIGHT = 'light'
SENSOR_KINDS = (SENSOR_ULTRASONIC, SENSOR_LIGHT)

ROLE_ENTRANCE = 'entrance'
ROLE_EXIT = 'exit'
ROLE_SHELF = 'shelf'
DOOR_ROLES = (ROLE_ENTRANCE, ROLE_EXIT)
CAMERA_ROLES = (ROLE_ENTRANCE, ROLE_EXIT, ROLE_SHELF)

FRIDGE = 'fridge'
FREEZER = 'freezer'
FRIDGE_KINDS = (FRIDGE, FREEZER)
#: A fridge's probe: a DS18B20 on a Pi's 1-Wire bus, an MQTT controller, or the simulator.
PROBE_DS18B20 = 'ds18b20'
PROBE_MQTT = 'mqtt'
PROBE_SIM = 'sim'
PROBE_KINDS = (PROBE_DS18B20, PROBE_MQTT, PROBE_SIM)
#: Limits a fridge's min_c / max_c must lie within (degrees C; a DS18B20 reads -55..125).
FRIDGE_LIMITS_C = (-60.0, 60.0)
#: A 1-Wire device id as the kernel names it: family code, '-', 48-bit serial (hex).
W1_ID_PATTERN = re.compile(r'[0-9a-f]{2}-[0-9a-f]{12}')

#: Environment variable naming the store file; else ezshop_bringup config/store.yaml.
STORE_FILE_ENV = 'EZSHOP_STORE_FILE'


class StoreConfigError(ValueError):
    """The store description is invalid; the message names the bad key."""


@dataclass(frozen=True)
class Item:
    """A catalogue item. Money is integer cents."""

    item_id: str
    name: str
    price_cents: int
    initial_stock: int
    low_stock_threshold: int


@dataclass(frozen=True)
class UltrasonicGeometry:
    """Geometry of an HC-SR04 lane (metres); see the module docstring."""

    lane_length_m: float
    sensor_offset_m: float
    item_depth_m: float
    max_range_m: float = 4.0
    min_range_m: float = 0.02

    @property
    def empty_distance_m(self) -> float:
        """Echo distance of an empty lane: the back wall."""
        return self.sensor_offset_m + self.lane_length_m

    def distance_for_count(self, count: int) -> float:
        """Expected echo distance with ``count`` items in the lane."""
        return self.empty_distance_m - count * self.item_depth_m

    def count_for_distance(self, distance_m: float, capacity: int) -> float:
        """Fractional item count for an echo distance, clamped to [0, capacity]."""
        count = (self.empty_distance_m - distance_m) / self.item_depth_m
        return min(max(count, 0.0), float(capacity))


@dataclass(frozen=True)
class LightGeometry:
    """A single-item light lane: illuminance below ``dark_below_lux`` means the item is there."""

    dark_below_lux: float
    bright_lux: float = 400.0


@dataclass(frozen=True)
class Lane:
    """One shelf lane stocked with one item."""

    shelf_id: str
    lane_id: str
    item_id: str
    capacity: int
    initial_count: int
    sensor: str
    frame_id: str
    ultrasonic: UltrasonicGeometry | None = None
    light: LightGeometry | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.shelf_id, self.lane_id)


@dataclass(frozen=True)
class Shelf:
    shelf_id: str
    lanes: tuple[Lane, ...]


@dataclass(frozen=True)
class ReachZone:
    """Where a hand reaching into a lane appears in a shelf camera's image (pixels)."""

    shelf_id: str
    lane_id: str
    x: int
    y: int
    width: int
    height: int

    @property
    def box(self) -> Box:
        return Box(self.x, self.y, self.width, self.height)

    @property
    def center(self) -> tuple[float, float]:
        return self.box.center


@dataclass(frozen=True)
class Camera:
    camera_id: str
    role: str
    width: int
    height: int
    frame_id: str
    fps: float
    coverage: tuple[ReachZone, ...] = ()


@dataclass(frozen=True)
class Door:
    door_id: str
    role: str
    camera_id: str


@dataclass(frozen=True)
class Fridge:
    """A fridge or freezer with its temperature probe and limits (degrees C)."""

    fridge_id: str
    name: str
    kind: str
    min_c: float
    max_c: float
    #: Out of limits this long without a break (s) = an alarm; a door opened for a moment is
    #: none.
    alarm_after_s: float
    sensor: str
    #: The DS18B20's 1-Wire id (/sys/bus/w1/devices/<w1_id>), '' for other probes.
    w1_id: str = ''
    frame_id: str = ''


@dataclass(frozen=True)
class StoreConfig:
    """The whole store description."""

    name: str
    currency: str
    items: tuple[Item, ...]
    shelves: tuple[Shelf, ...]
    cameras: tuple[Camera, ...]
    doors: tuple[Door, ...]
    fridges: tuple[Fridge, ...] = ()
    source: str = ''
    _lanes: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        for shelf in self.shelves:
            for lane in shelf.lanes:
                self._lanes[lane.key] = lane

    @property
    def lanes(self) -> tuple[Lane, ...]:
        return tuple(self._lanes.values())

    def lane(self, shelf_id: str, lane_id: str) -> Lane:
        try:
            return self._lanes[(shelf_id, lane_id)]
        except KeyError:
            raise KeyError(f'unknown lane {shelf_id}/{lane_id}') from None

    def item(self, item_id: str) -> Item:
        for item in self.items:
            if item.item_id == item_id:
                return item
        raise KeyError(f'unknown item {item_id!r}')

    def camera(self, camera_id: str) -> Camera:
        for camera in self.cameras:
            if camera.camera_id == camera_id:
                return camera
        raise KeyError(f'unknown camera {camera_id!r}')

    def cameras_covering(self, shelf_id: str, lane_id: str) -> list[tuple[Camera, ReachZone]]:
        """Every shelf camera that sees the lane, with the lane's reach zone in its image."""
        found = []
        for camera in self.cameras:
            for zone in camera.coverage:
                if (zone.shelf_id, zone.lane_id) == (shelf_id, lane_id):
                    found.append((camera, zone))
        return found

    def fridge(self, fridge_id: str) -> Fridge:
        for fridge in self.fridges:
            if fridge.fridge_id == fridge_id:
                return fridge
        raise KeyError(f'unknown fridge {fridge_id!r}')

    def door_for_camera(self, camera_id: str) -> Door | None:
        for door in self.doors:
            if door.camera_id == camera_id:
                return door
        return None


def default_store_file() -> Path:
    """$EZSHOP_STORE_FILE, else store.yaml of ezshop_bringup's config (paths.config_dir)."""
    if os.environ.get(STORE_FILE_ENV):
        return Path(os.environ[STORE_FILE_ENV])
    return config_dir() / 'store.yaml'


def load_store(path: str | os.PathLike | None = None) -> StoreConfig:
    """Read and validate a store file; raises StoreConfigError naming the bad key."""
    path = Path(path) if path else default_store_file()
    try:
        text = path.read_text()
    except OSError as exc:
        raise StoreConfigError(f'{path}: cannot read store file: {exc.strerror}') from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise StoreConfigError(f'{path}: not valid YAML: {exc}') from None
    try:
        return parse_store(data, source=str(path))
    except StoreConfigError as exc:
        raise StoreConfigError(f'{path}: {exc}') from None


def parse_store(data: Any, source: str = '') -> StoreConfig:
    """Validate an already-parsed store description (a dict) and build typed objects."""
    root = Field(data, '', StoreConfigError)
    root.mapping('store', 'catalogue', 'shelves', 'cameras', 'doors', 'fridges')
    store = root.child('store')
    store.mapping('name', 'currency')
    name = store.child('name').string()
    currency = store.child('currency').string()
    if len(currency) != 3 or not currency.isupper():
        store.child('currency').fail(f'must be an ISO 4217 code like "EUR" (got {currency!r})')

    items = tuple(_parse_item(node) for node in root.child('catalogue').sequence(min_len=1))
    _unique(root.child('catalogue'), [i.item_id for i in items], 'item id')
    item_ids = {i.item_id for i in items}

    shelves = tuple(_parse_shelf(node, item_ids) for node in root.child('shelves').sequence())
    _unique(root.child('shelves'), [s.shelf_id for s in shelves], 'shelf id')
    lane_keys = {lane.key for shelf in shelves for lane in shelf.lanes}

    cameras = tuple(_parse_camera(node, lane_keys) for node in root.child('cameras').sequence())
    _unique(root.child('cameras'), [c.camera_id for c in cameras], 'camera id')
    cameras_by_id = {c.camera_id: c for c in cameras}

    doors = tuple(_parse_door(node, cameras_by_id) for node in root.child('doors').sequence())
    _unique(root.child('doors'), [d.door_id for d in doors], 'door id')
    for role in DOOR_ROLES:
        if not any(d.role == role for d in doors):
            root.child('doors').fail(f'needs at least one door with role {role!r}')

    fridges_node = root.child('fridges', [])
    fridges = tuple(_parse_fridge(node) for node in fridges_node.sequence())
    _unique(fridges_node, [f.fridge_id for f in fridges], 'fridge id')

    return StoreConfig(name=name, currency=currency, items=items, shelves=shelves,
                       cameras=cameras, doors=doors, fridges=fridges, source=source)


def _parse_item(node: Field) -> Item:
    node.mapping('id', 'name', 'price_cents', 'stock', 'low_stock_threshold')
    return Item(
        item_id=node.child('id').identifier(),
        name=node.child('name').string(),
        price_cents=node.child('price_cents').integer(minimum=0),
        initial_stock=node.child('stock', default=0).integer(minimum=0),
        low_stock_threshold=node.child('low_stock_threshold', default=0).integer(minimum=0),
    )


def _parse_shelf(node: Field, item_ids: set[str]) -> Shelf:
    node.mapping('id', 'lanes')
    shelf_id = node.child('id').identifier()
    lanes_node = node.child('lanes')
    lanes = tuple(_parse_lane(n, shelf_id, item_ids) for n in lanes_node.sequence(min_len=1))
    _unique(lanes_node, [lane.lane_id for lane in lanes], 'lane id')
    return Shelf(shelf_id=shelf_id, lanes=lanes)


def _parse_lane(node: Field, shelf_id: str, item_ids: set[str]) -> Lane:
    node.mapping('id', 'item', 'capacity', 'count', 'sensor', 'frame_id', 'ultrasonic',
                    'light')
    lane_id = node.child('id').identifier()
    item_id = node.child('item').string()
    if item_id not in item_ids:
        node.child('item').fail(f'unknown item {item_id!r} (not in catalogue)')
    sensor = node.child('sensor').choice(SENSOR_KINDS)
    capacity = node.child('capacity').integer(minimum=1)
    count = node.child('count', default=capacity).integer(minimum=0, maximum=capacity)
    frame_id = node.child('frame_id', default=f'{shelf_id}_{lane_id}').string()
    ultrasonic = light = None
    if sensor == SENSOR_ULTRASONIC:
        if 'light' in node.value:
            node.child('light').fail('given for an ultrasonic lane')
        geo = node.child('ultrasonic')
        geo.mapping('lane_length_m', 'sensor_offset_m', 'item_depth_m', 'max_range_m',
                       'min_range_m')
        ultrasonic = UltrasonicGeometry(
            lane_length_m=geo.child('lane_length_m').number(exclusive_minimum=0.0),
            sensor_offset_m=geo.child('sensor_offset_m').number(minimum=0.0),
            item_depth_m=geo.child('item_depth_m').number(exclusive_minimum=0.0),
            max_range_m=geo.child('max_range_m', default=4.0).number(exclusive_minimum=0.0),
            min_range_m=geo.child('min_range_m', default=0.02).number(minimum=0.0),
        )
        if capacity * ultrasonic.item_depth_m > ultrasonic.lane_length_m + 1e-9:
            node.child('capacity').fail(
                f'{capacity} items of {ultrasonic.item_depth_m} m do not fit a lane of '
                f'{ultrasonic.lane_length_m} m')
        if ultrasonic.empty_distance_m > ultrasonic.max_range_m:
            geo.child('max_range_m').fail('is shorter than the empty lane (offset + length)')
    else:
        if 'ultrasonic' in node.value:
            node.child('ultrasonic').fail('given for a light lane')
        if capacity != 1:
            node.child('capacity').fail(f'a light lane holds exactly 1 item (got {capacity})')
        geo = node.child('light')
        geo.mapping('dark_below_lux', 'bright_lux')
        light = LightGeometry(
            dark_below_lux=geo.child('dark_below_lux').number(exclusive_minimum=0.0),
            bright_lux=geo.child('bright_lux', default=400.0).number(exclusive_minimum=0.0),
        )
        if light.bright_lux <= light.dark_below_lux:
            geo.child('bright_lux').fail('must be above dark_below_lux')
    return Lane(shelf_id=shelf_id, lane_id=lane_id, item_id=item_id, capacity=capacity,
                initial_count=count, sensor=sensor, frame_id=frame_id,
                ultrasonic=ultrasonic, light=light)


def _parse_camera(node: Field, lane_keys: set[tuple[str, str]]) -> Camera:
    node.mapping('id', 'role', 'width', 'height', 'frame_id', 'fps', 'coverage')
    camera_id = node.child('id').identifier()
    role = node.child('role').choice(CAMERA_ROLES)
    width = node.child('width', default=640).integer(minimum=16)
    height = node.child('height', default=480).integer(minimum=16)
    coverage = []
    if role == ROLE_SHELF:
        for zone_node in node.child('coverage').sequence(min_len=1):
            zone_node.mapping('shelf', 'lane', 'reach_zone')
            key = (zone_node.child('shelf').string(), zone_node.child('lane').string())
            if key not in lane_keys:
                zone_node.fail(f'unknown lane {key[0]}/{key[1]}')
            box = zone_node.child('reach_zone')
            x, y, w, h = box.int_list(4)
            if w <= 0 or h <= 0 or x < 0 or y < 0 or x + w > width or y + h > height:
                box.fail(f'[x, y, width, height] = {[x, y, w, h]} must lie inside the '
                         f'{width}x{height} image')
            coverage.append(ReachZone(key[0], key[1], x, y, w, h))
    elif 'coverage' in node.value:
        node.child('coverage').fail(f'only shelf cameras cover lanes (role is {role!r})')
    return Camera(
        camera_id=camera_id, role=role, width=width, height=height,
        frame_id=node.child('frame_id', default=camera_id).string(),
        fps=node.child('fps', default=15.0).number(exclusive_minimum=0.0),
        coverage=tuple(coverage))


def _parse_door(node: Field, cameras: dict[str, Camera]) -> Door:
    node.mapping('id', 'role', 'camera')
    role = node.child('role').choice(DOOR_ROLES)
    camera_id = node.child('camera').string()
    if camera_id not in cameras:
        node.child('camera').fail(f'unknown camera {camera_id!r}')
    if cameras[camera_id].role != role:
        node.child('camera').fail(
            f'camera {camera_id!r} has role {cameras[camera_id].role!r}, door has {role!r}')
    return Door(door_id=node.child('id').identifier(), role=role, camera_id=camera_id)


def _parse_fridge(node: Field) -> Fridge:
    node.mapping('id', 'name', 'kind', 'min_c', 'max_c', 'alarm_after_s', 'sensor', 'w1_id',
                 'frame_id')
    fridge_id = node.child('id').identifier()
    low, high = FRIDGE_LIMITS_C
    min_c = node.child('min_c').number(minimum=low, maximum=high)
    max_c = node.child('max_c').number(minimum=low, maximum=high)
    if max_c <= min_c:
        node.child('max_c').fail(f'must be above min_c ({min_c}) (got {max_c})')
    sensor = node.child('sensor').choice(PROBE_KINDS)
    w1_id = ''
    if sensor == PROBE_DS18B20:
        w1_id = node.child('w1_id').string()
        if not W1_ID_PATTERN.fullmatch(w1_id):
            node.child('w1_id').fail(f'must be a 1-Wire id like "28-0316a2794cff" (family '
                                     f'code, -, 12 lower-case hex digits) (got {w1_id!r})')
    elif node.has('w1_id'):
        node.child('w1_id').fail(f'only for sensor {PROBE_DS18B20} (sensor is {sensor!r})')
    return Fridge(
        fridge_id=fridge_id, name=node.child('name', fridge_id).string(),
        kind=node.child('kind').choice(FRIDGE_KINDS), min_c=min_c, max_c=max_c,
        alarm_after_s=node.child('alarm_after_s', 600.0).number(minimum=0.0, maximum=86400.0),
        sensor=sensor, w1_id=w1_id,
        frame_id=node.child('frame_id', fridge_id).string())


def _unique(node: Field, ids: list[str], what: str) -> None:
    seen = set()
    for i, ident in enumerate(ids):
        if ident in seen:
            node.fail(f'duplicate {what} {ident!r} (entry {i})')
        seen.add(ident)


