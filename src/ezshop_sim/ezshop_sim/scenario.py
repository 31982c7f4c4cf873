"""Scenarios: YAML files describing who walks into the simulated store and what they do.

A scenario names the store file (the layout: doors, shelves, lanes, cameras and reach zones), a
seed, the shoppers (identity folder, enrolled or not, enter time, a list of actions, when they
look away from a door camera, the group they leave with) and scenario-level events such as a
lane sensor glitch. See docs/packages/ezshop_sim.md for the
format. Loading validates everything and raises ScenarioError naming the bad key; whether lanes
exist and counts suffice is checked against the store by ``check_against_store`` (and by the
world model, which also checks item counts over time).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ezshop_common.store_config import DOOR_ROLES, StoreConfig
from ezshop_sim.fields import Field, ScenarioError
from ezshop_sim.fridges import DoorOpening

__all__ = ['ScenarioError', 'Scenario', 'Shopper', 'WalkTo', 'Take', 'PutBack', 'Wait', 'Exit',
           'LookAway', 'SensorDead', 'SpikeBurst', 'Timing', 'load_scenario', 'parse_scenario',
           'scenario_names', 'scenarios_dir', 'check_against_store', 'scenario_to_dict']


@dataclass(frozen=True)
class WalkTo:
    """Walk to a lane (and stand in front of it)."""

    shelf_id: str
    lane_id: str


@dataclass(frozen=True)
class Take:
    """Take ``quantity`` items from the lane the shopper stands at (one reach)."""

    quantity: int


@dataclass(frozen=True)
class PutBack:
    """Put ``quantity`` held items back into the lane the shopper stands at (one reach)."""

    quantity: int


@dataclass(frozen=True)
class Wait:
    """Stand still for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Exit:
    """Walk to the exit and leave the store (always the last action)."""


Action = WalkTo | Take | PutBack | Wait | Exit


@dataclass(frozen=True)
class LookAway:
    """The shopper turns away from a door camera for part of the pass through that door:
    from ``start_frac`` to ``end_frac`` of the pass (0 = first seen far away, 1 = out of view;
    the face is closest at about 0.62 with the default timing)."""

    door: str  # 'entrance' or 'exit'
    start_frac: float
    end_frac: float


@dataclass(frozen=True)
class Shopper:
    """One visit of one person: identity folder name, enrolled or not, when, what they do.

    Shoppers with the same ``group`` leave together: each walks to the exit when done and waits
    there (unseen) for the rest; once all are there each passes the exit camera
    ``exit_delay_s`` after the last one arrived.
    """

    identity: str
    enrolled: bool
    enter_s: float
    actions: tuple[Action, ...]
    path: str = ''  # key path in the scenario file, for error messages
    look_away: tuple[LookAway, ...] = ()
    group: str = ''
    exit_delay_s: float = 0.0


@dataclass(frozen=True)
class SensorDead:
    """A lane sensor says nothing (mode 'silent') or NaN (mode 'nan') for a while."""

    shelf_id: str
    lane_id: str
    start_s: float
    duration_s: float
    mode: str = 'silent'
    path: str = ''


@dataclass(frozen=True)
class SpikeBurst:
    """A lane sensor returns bad echoes (0 / max range / random) at ``rate`` for a while."""

    shelf_id: str
    lane_id: str
    start_s: float
    duration_s: float
    rate: float = 0.5
    path: str = ''


SensorEvent = SensorDead | SpikeBurst


@dataclass(frozen=True)
class Timing:
    """How long people take to do things (seconds). Every field can be set in ``timing:``."""

    door_approach_s: float = 1.8   # face grows from far to close at a door camera
    door_hold_s: float = 0.5       # stays close to the door camera
    door_leave_s: float = 0.6      # walks out of the door camera's view
    walk_s: float = 3.0            # door <-> shelf, shelf <-> shelf
    step_s: float = 0.8            # lane -> lane at the same shelf
    arrive_s: float = 0.8          # steps into / out of a shelf camera's view
    reach_in_s: float = 0.8        # leans from standing into the reach zone
    hand_min_s: float = 0.5        # hand in the lane (sensor dip), at least ...
    hand_max_s: float = 1.2        # ... and at most
    hold_s: float = 1.0            # stays in the reach zone after the hand leaves
    lane_gap_s: float = 4.0        # least time between two changes of one lane (people queue)
    end_padding_s: float = 2.0     # after the last exit, before SCENARIO_DONE


@dataclass(frozen=True)
class Scenario:
    """A validated scenario."""

    name: str
    description: str
    seed: int
    shoppers: tuple[Shopper, ...]
    events: tuple[SensorEvent, ...] = ()
    timing: Timing = field(default_factory=Timing)
    store_file: Path | None = None   # None = ezshop_common.store_config.default_store_file()
    source: str = ''
    #: Fridge and freezer doors standing open (ezshop_sim.fridges).
    fridge_doors: tuple[DoorOpening, ...] = ()

    @property
    def identities(self) -> list[str]:
        """Distinct identity folders, in order of first appearance."""
        return list(dict.fromkeys(s.identity for s in self.shoppers))

    @property
    def enrolled_identities(self) -> list[str]:
        return list(dict.fromkeys(s.identity for s in self.shoppers if s.enrolled))


def scenarios_dir() -> Path:
    """Folder of the shipped scenarios (installed share/ezshop_sim/scenarios, else source)."""
    try:
        from ament_index_python.packages import get_package_share_directory

        shared = Path(get_package_share_directory('ezshop_sim')) / 'scenarios'
        if shared.is_dir():
            return shared
    except (ImportError, LookupError, ValueError):
        pass
    return Path(__file__).resolve().parent.parent / 'scenarios'


def scenario_names() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in scenarios_dir().glob('*.yaml'))


def load_scenario(name_or_path: str | os.PathLike) -> Scenario:
    """Load a shipped scenario by name, or a scenario YAML file by path."""
    text_name = str(name_or_path)
    path = Path(text_name)
    if not (text_name.endswith(('.yaml', '.yml')) or os.sep in text_name):
        path = scenarios_dir() / f'{text_name}.yaml'
        if not path.is_file():
            raise ScenarioError(f'unknown scenario {text_name!r} (shipped: '
                                f'{", ".join(scenario_names())}; or give a path to a .yaml)')
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ScenarioError(f'{path}: cannot read scenario file: {exc.strerror}') from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f'{path}: not valid YAML: {exc}') from None
    try:
        return parse_scenario(data, source=str(path), base_dir=path.parent)
    except ScenarioError as exc:
        raise ScenarioError(f'{path}: {exc}') from None


def parse_scenario(data: Any, source: str = '', base_dir: Path | None = None) -> Scenario:
    """Validate an already-parsed scenario (a dict) and build typed objects."""
    root = Field(data).mapping('name', 'description', 'seed', 'store_file', 'timing',
                               'shoppers', 'events', 'fridge_doors')
    store_file = None
    if root.has('store_file') and root.child('store_file').value not in (None, ''):
        store_file = Path(root.child('store_file').string())
        if not store_file.is_absolute() and base_dir is not None:
            store_file = base_dir / store_file
    shoppers = tuple(_parse_shopper(node) for node in root.child('shoppers').sequence(1))
    _check_revisits(root.child('shoppers'), shoppers)
    _check_groups(root.child('shoppers'), shoppers)
    events = tuple(_parse_event(node) for node in root.child('events', []).sequence())
    return Scenario(
        name=root.child('name', Path(source).stem or 'scenario').string(),
        description=root.child('description', '').text(),
        seed=root.child('seed', 0).integer(minimum=0),
        shoppers=shoppers, events=events,
        timing=_parse_timing(root.child('timing', {})),
        store_file=store_file, source=source,
        fridge_doors=tuple(_parse_fridge_door(node)
                           for node in root.child('fridge_doors', []).sequence()))


def _parse_fridge_door(node: Field) -> DoorOpening:
    node.mapping('fridge', 'at_s', 'open_s')
    return DoorOpening(node.child('fridge').string(), node.child('at_s').number(minimum=0.0),
                       node.child('open_s').number(exclusive_minimum=0.0), path=node.path)


def _parse_timing(node: Field) -> Timing:
    names = [f.name for f in fields(Timing)]
    node.mapping(*names)
    values = {name: node.child(name).number(minimum=0.0) for name in names if node.has(name)}
    timing = Timing(**values)
    if timing.hand_max_s < timing.hand_min_s:
        node.child('hand_max_s', timing.hand_max_s).fail(
            f'must be >= hand_min_s ({timing.hand_min_s})')
    return timing


def _parse_shopper(node: Field) -> Shopper:
    node.mapping('identity', 'enrolled', 'enter_s', 'actions', 'look_away', 'group',
                 'exit_delay_s')
    identity = node.child('identity').string()
    if '/' in identity or identity.startswith('.'):
        node.child('identity').fail(f'must be a folder name, not a path (got {identity!r})')
    actions_node = node.child('actions')
    actions = tuple(_parse_action(a) for a in actions_node.sequence(min_len=1))
    for i, action in enumerate(actions):
        if isinstance(action, Exit) and i != len(actions) - 1:
            actions_node.sequence()[i].fail('exit must be the last action')
    if not isinstance(actions[-1], Exit):
        actions_node.fail('the last action must be exit')
    group = node.child('group').string() if node.has('group') else ''
    if node.has('exit_delay_s') and not group:
        node.child('exit_delay_s').fail('only for a shopper in a group (set group)')
    return Shopper(identity=identity, enrolled=node.child('enrolled', True).boolean(),
                   enter_s=node.child('enter_s', 0.0).number(minimum=0.0),
                   actions=actions, path=node.path,
                   look_away=tuple(_parse_look_away(n)
                                   for n in node.child('look_away', []).sequence()),
                   group=group,
                   exit_delay_s=node.child('exit_delay_s', 0.0).number(minimum=0.0,
                                                                       maximum=60.0))


def _parse_look_away(node: Field) -> LookAway:
    node.mapping('door', 'start_frac', 'end_frac')
    start = node.child('start_frac').number(minimum=0.0, maximum=1.0)
    end = node.child('end_frac').number(minimum=0.0, maximum=1.0)
    if end <= start:
        node.child('end_frac').fail(f'must be > start_frac ({start}) (got {end})')
    return LookAway(node.child('door').choice(DOOR_ROLES), start, end)


def _check_groups(node: Field, shoppers: tuple[Shopper, ...]) -> None:
    """A group leaves together, so it needs at least two members."""
    sizes = Counter(s.group for s in shoppers if s.group)
    for i, shopper in enumerate(shoppers):
        if shopper.group and sizes[shopper.group] < 2:
            node.sequence()[i].child('group').fail(
                f'no other shopper is in group {shopper.group!r} (a group leaves together)')


_ACTION_KINDS = ('walk_to', 'take', 'put_back', 'wait', 'exit')


def _parse_action(node: Field) -> Action:
    if node.value == 'exit':
        return Exit()
    if not isinstance(node.value, dict) or len(node.value) != 1:
        node.fail('an action is a mapping with one key, one of '
                  f'{", ".join(_ACTION_KINDS)} (or the string "exit")')
    node.mapping(*_ACTION_KINDS)
    kind = next(iter(node.value))
    arg = node.child(kind)
    if kind == 'walk_to':
        arg.mapping('shelf', 'lane')
        return WalkTo(arg.child('shelf').string(), arg.child('lane').string())
    if kind == 'take':
        return Take(arg.integer(minimum=1))
    if kind == 'put_back':
        return PutBack(arg.integer(minimum=1))
    if kind == 'wait':
        return Wait(arg.number(exclusive_minimum=0.0))
    if arg.value not in (None, {}):
        arg.fail('exit takes no arguments')
    return Exit()


def _check_revisits(node: Field, shoppers: tuple[Shopper, ...]) -> None:
    """The same identity may visit twice, but only one visit can start at a given time."""
    seen: dict[tuple[str, float], int] = {}
    for i, shopper in enumerate(shoppers):
        key = (shopper.identity, shopper.enter_s)
        if key in seen:
            node.sequence()[i].fail(
                f'{shopper.identity!r} already enters at {shopper.enter_s} s '
                f'(shoppers[{seen[key]}])')
        seen[key] = i


_EVENT_KINDS = ('sensor_dead', 'spike_burst')


def _parse_event(node: Field) -> SensorEvent:
    node.mapping('kind', 'shelf', 'lane', 'start_s', 'duration_s', 'mode', 'rate')
    kind = node.child('kind').choice(_EVENT_KINDS)
    common = dict(shelf_id=node.child('shelf').string(), lane_id=node.child('lane').string(),
                  start_s=node.child('start_s').number(minimum=0.0),
                  duration_s=node.child('duration_s').number(exclusive_minimum=0.0),
                  path=node.path)
    if kind == 'sensor_dead':
        if node.has('rate'):
            node.child('rate').fail('only for spike_burst')
        return SensorDead(mode=node.child('mode', 'silent').choice(('silent', 'nan')), **common)
    if node.has('mode'):
        node.child('mode').fail('only for sensor_dead')
    return SpikeBurst(rate=node.child('rate', 0.5).number(minimum=0.0, maximum=1.0), **common)


def check_against_store(scenario: Scenario, store: StoreConfig) -> None:
    """Every lane a scenario names must exist in the store; raises ScenarioError."""
    lanes = {lane.key for lane in store.lanes}
    for shopper in scenario.shoppers:
        for j, action in enumerate(shopper.actions):
            if isinstance(action, WalkTo) and (action.shelf_id, action.lane_id) not in lanes:
                raise ScenarioError(
                    f'{shopper.path}.actions[{j}].walk_to: unknown lane '
                    f'{action.shelf_id}/{action.lane_id} (store {store.source or store.name})')
    for event in scenario.events:
        if (event.shelf_id, event.lane_id) not in lanes:
            raise ScenarioError(f'{event.path}: unknown lane {event.shelf_id}/{event.lane_id}')
    fridges = {fridge.fridge_id for fridge in store.fridges}
    for door in scenario.fridge_doors:
        if door.fridge_id not in fridges:
            raise ScenarioError(f'{door.path}.fridge: unknown fridge {door.fridge_id!r} '
                                f'(store {store.source or store.name})')


def scenario_to_dict(scenario: Scenario) -> dict:
    """The YAML-ready form of a scenario (inverse of parse_scenario)."""
    def action(a: Action):
        if isinstance(a, WalkTo):
            return {'walk_to': {'shelf': a.shelf_id, 'lane': a.lane_id}}
        if isinstance(a, Take):
            return {'take': a.quantity}
        if isinstance(a, PutBack):
            return {'put_back': a.quantity}
        if isinstance(a, Wait):
            return {'wait': a.seconds}
        return 'exit'

    def shopper(s: Shopper) -> dict:
        out = {'identity': s.identity, 'enrolled': s.enrolled, 'enter_s': s.enter_s,
               'actions': [action(a) for a in s.actions]}
        if s.look_away:
            out['look_away'] = [{'door': a.door, 'start_frac': a.start_frac,
                                 'end_frac': a.end_frac} for a in s.look_away]
        if s.group:
            out['group'] = s.group
            out['exit_delay_s'] = s.exit_delay_s
        return out

    def event(e: SensorEvent):
        out = {'kind': 'sensor_dead' if isinstance(e, SensorDead) else 'spike_burst',
               'shelf': e.shelf_id, 'lane': e.lane_id, 'start_s': e.start_s,
               'duration_s': e.duration_s}
        if isinstance(e, SensorDead):
            out['mode'] = e.mode
        else:
            out['rate'] = e.rate
        return out

    data: dict = {'name': scenario.name, 'description': scenario.description,
                  'seed': scenario.seed}
    if scenario.store_file is not None:
        data['store_file'] = str(scenario.store_file)
    timing = {f.name: getattr(scenario.timing, f.name) for f in fields(Timing)
              if getattr(scenario.timing, f.name) != f.default}
    if timing:
        data['timing'] = timing
    data['shoppers'] = [shopper(s) for s in scenario.shoppers]
    if scenario.events:
        data['events'] = [event(e) for e in scenario.events]
    if scenario.fridge_doors:
        data['fridge_doors'] = [{'fridge': d.fridge_id, 'at_s': d.at_s, 'open_s': d.open_s}
                                for d in scenario.fridge_doors]
    return data
