"""Random scenarios from a seed: how many shoppers, how crowded, what they do.

Two difficulties. ``normal``: crowding is the number of shoppers who shop at one shelf at about
the same time; the shoppers are spread over ceil(shoppers / crowding) shelves and enter within
a few seconds of each other. ``hard``: up to 8 shoppers in groups of 2-4 who walk in and out
a few tenths of a second apart, reach into adjacent lanes of one shelf within a second, swap
lanes and put items back; some look away from the door cameras for part of a pass, and
walk-ins nobody enrolled shop among them (see ``_hard_scenario``). Shoppers are drawn from
whatever <identity>/ folders the photo folder holds. Every generated scenario is played
through the world model before it is returned, so it is valid for the store it was made for.

The ``scenario_gen`` console script writes generated scenarios as YAML files.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ezshop_common.store_config import (
    DOOR_ROLES,
    ROLE_EXIT,
    SENSOR_LIGHT,
    StoreConfig,
    load_store,
)
from ezshop_sim.photos import DEFAULT_SUBDIR, identities_dir, list_identities
from ezshop_sim.poses import DOOR_CLEAR_S
from ezshop_sim.scenario import (
    Action,
    Exit,
    LookAway,
    PutBack,
    Scenario,
    ScenarioError,
    Shopper,
    Take,
    Wait,
    WalkTo,
    scenario_to_dict,
)
from ezshop_sim.world import PUT_BACK, TAKE, build_world

DIFFICULTIES = ('normal', 'hard')


def random_scenario(seed: int, store: StoreConfig, identities: list[str], shoppers: int = 3,
                    crowding: int = 2, unenrolled: int = 0, put_back_chance: float = 0.3,
                    store_file: Path | None = None, difficulty: str = 'normal') -> Scenario:
    """A valid random scenario; the same arguments always give the same scenario.

    ``hard`` ignores ``crowding`` (groups decide who shops where) and ``put_back_chance``, and
    has at least one walk-in when there are two shoppers or more.
    """
    if difficulty not in DIFFICULTIES:
        raise ValueError(f'difficulty must be one of {", ".join(DIFFICULTIES)} '
                         f'(got {difficulty!r})')
    if shoppers < 1 or crowding < 1:
        raise ValueError('shoppers and crowding must be >= 1')
    if shoppers > len(identities):
        raise ValueError(f'{shoppers} shoppers need {shoppers} identities; the photo folder '
                         f'holds {len(identities)}')
    if not 0 <= unenrolled <= shoppers:
        raise ValueError(f'unenrolled must be between 0 and {shoppers}')
    if difficulty == 'hard':
        return _hard_scenario(seed, store, identities, shoppers, unenrolled, store_file)
    rng = random.Random(seed)
    people = rng.sample(sorted(identities), shoppers)
    n_shelves = min(len(store.shelves), max(1, math.ceil(shoppers / crowding)))
    shelves = rng.sample(list(store.shelves), n_shelves)
    # Items still free to take per lane, so no lane is ever emptied below zero.
    left = {lane.key: lane.initial_count for lane in store.lanes}
    not_enrolled = set(rng.sample(range(shoppers), unenrolled))
    out, enter = [], 0.0
    for i, identity in enumerate(people):
        home = shelves[i % n_shelves]
        actions = _shopping_trip(rng, store, home, left, put_back_chance)
        out.append(Shopper(identity=identity, enrolled=i not in not_enrolled,
                           enter_s=round(enter, 1), actions=tuple(actions),
                           path=f'shoppers[{i}]'))
        # The next one enters soon after (or, sometimes, in the same frame).
        enter += 0.0 if rng.random() < 0.15 else rng.uniform(0.8, 2.5)
    scenario = Scenario(
        name=f'random_s{seed}_n{shoppers}_c{crowding}',
        description=f'Random: {shoppers} shoppers, crowding {crowding}, seed {seed}.',
        seed=seed, shoppers=tuple(out), store_file=store_file)
    build_world(scenario, store)  # raises ScenarioError if it could not happen
    return scenario


def _shopping_trip(rng: random.Random, store: StoreConfig, home, left: dict,
                   put_back_chance: float) -> list[Action]:
    actions: list[Action] = []
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        shelf = home if rng.random() < 0.8 else rng.choice(store.shelves)
        lanes = [lane for lane in shelf.lanes if left[lane.key] > 0]
        if not lanes:
            continue
        lane = rng.choice(lanes)
        n = 2 if lane.sensor != SENSOR_LIGHT and left[lane.key] >= 2 and rng.random() < 0.2 \
            else 1
        left[lane.key] -= n
        actions += [WalkTo(shelf.shelf_id, lane.lane_id), Take(n)]
        if rng.random() < 0.3:
            actions.append(Wait(round(rng.uniform(0.5, 2.0), 1)))
        if rng.random() < put_back_chance:
            actions.append(PutBack(1))
    return actions + [Exit()]


# --- hard: groups at the doors, adjacent lanes, lane swaps, walk-ins, faces turned away ---

HARD_MIN_SHOPPERS = 4
HARD_MAX_SHOPPERS = 8
#: People per group, seconds between group members at a door, seconds between groups.
HARD_GROUP_SIZES = (2, 3, 4)
HARD_MEMBER_GAP_S = (0.2, 0.6)
HARD_GROUP_GAP_S = (3.0, 5.0)
#: Chances: a shopper looks away during a door pass (per door), a group has two members swap
#: lanes, a take is followed by a put-back, a reach takes two items.
HARD_LOOK_AWAY_CHANCE = 0.15
HARD_SWAP_CHANCE = 0.6
HARD_PUT_BACK_CHANCE = 0.35
HARD_TWO_ITEM_CHANCE = 0.15
#: Every hard scenario has two shoppers reaching into adjacent lanes within this long (s).
ADJACENT_REACH_S = 1.0
#: Draws tried per seed; exit delays added when a group's exit hides someone at the exit.
_HARD_ATTEMPTS = 20
_SETTLE_STEPS = 12
_EXIT_SHIFT_S = 1.5


@dataclass
class _Plan:
    """A shopper being drawn (becomes a Shopper)."""

    identity: str
    enrolled: bool
    enter_s: float
    actions: list[Action]
    group: str = ''
    exit_delay_s: float = 0.0
    look_away: list[LookAway] = field(default_factory=list)


def _hard_scenario(seed: int, store: StoreConfig, identities: list[str], shoppers: int,
                   unenrolled: int, store_file: Path | None) -> Scenario:
    """Groups of 2-4 entering HARD_MEMBER_GAP_S apart, groups HARD_GROUP_GAP_S apart; each
    group starts at adjacent lanes of one shelf (a fourth member queues), two members may swap
    lanes, then each shops a little more (put-backs, two-item grabs, waits); each group leaves
    together, members HARD_MEMBER_GAP_S apart (scenario groups, see Shopper). At least one
    walk-in (two or more shoppers); some door passes with the face turned away for a while.

    Each attempt draws from its own random stream and is played through the world model: a
    group whose exit hides someone at the exit camera (closer and clearly visible for less
    than poses.DOOR_CLEAR_S) leaves a little later, a look-away that hides the face too long
    is dropped, and (with two shoppers or more) the attempt must have two shoppers reaching
    into adjacent lanes within ADJACENT_REACH_S. The first attempt that passes is returned.
    """
    for attempt in range(_HARD_ATTEMPTS):
        rng = random.Random(f'{seed}:hard:{attempt}')
        plans = _draw_hard(rng, store, identities, shoppers, unenrolled)
        scenario = _settle(plans, seed, store, store_file)
        if scenario is not None:
            return scenario
    raise ScenarioError(f'no hard scenario found for seed {seed} with {shoppers} shoppers')


def _draw_hard(rng: random.Random, store: StoreConfig, identities: list[str], n: int,
               unenrolled: int) -> list[_Plan]:
    people = rng.sample(sorted(identities), n)
    walk_ins = max(unenrolled, min(n - 1, rng.choice((1, 1, 2))))
    not_enrolled = set(rng.sample(range(n), walk_ins))
    left = {lane.key: lane.initial_count for lane in store.lanes}
    plans: list[_Plan] = []
    enter = 0.0
    for g, size in enumerate(_group_sizes(rng, n)):
        members = []
        for j in range(size):
            if j:
                enter = round(enter + round(rng.uniform(*HARD_MEMBER_GAP_S), 2), 2)
            i = len(plans)
            members.append(_Plan(people[i], i not in not_enrolled, enter, []))
            plans.append(members[-1])
        home = rng.choice(store.shelves)
        firsts = _adjacent_lanes(rng, store, home, size, left)
        for member, lane in zip(members, firsts, strict=True):
            if lane is not None:
                _reach(rng, member, lane, left)
        if size >= 2 and rng.random() < HARD_SWAP_CHANCE:
            _swap_lanes(rng, members, firsts, left)
        for member in members:
            member.actions += _more_shopping(rng, store, home, left)
            member.actions.append(Exit())
            for door in DOOR_ROLES:
                if rng.random() < HARD_LOOK_AWAY_CHANCE:
                    member.look_away.append(_look_away(rng, door))
        if size >= 2:
            delay = 0.0
            for j in rng.sample(range(size), size):
                members[j].group, members[j].exit_delay_s = f'group_{g + 1}', delay
                delay = round(delay + round(rng.uniform(*HARD_MEMBER_GAP_S), 2), 2)
        enter = round(enter + rng.uniform(*HARD_GROUP_GAP_S), 1)
    return plans


def _group_sizes(rng: random.Random, n: int) -> list[int]:
    """n people in groups of 2-4 (one person alone only when n is 1)."""
    sizes = []
    while n:
        size = min(rng.choice(HARD_GROUP_SIZES), n)
        if n - size == 1:
            size = size + 1 if size < max(HARD_GROUP_SIZES) else size - 1
        sizes.append(size)
        n -= size
    return sizes


def _adjacent_lanes(rng: random.Random, store: StoreConfig, home, size: int, left: dict):
    """First lanes for a group: a run of neighbouring lanes with items, on the home shelf if
    it has any; members beyond the run queue at one of its lanes. None: nothing left."""
    for shelf in [home] + [s for s in store.shelves if s is not home]:
        runs, run = [], []
        for lane in shelf.lanes:
            if left[lane.key] > 0:
                run.append(lane)
            elif run:
                runs, run = runs + [run], []
        runs += [run] if run else []
        if runs:
            run = max(runs, key=len)
            start = rng.randint(0, max(0, len(run) - size))
            lanes = run[start:start + size]
            lanes += [rng.choice(run) for _ in range(size - len(lanes))]
            return rng.sample(lanes, size)
    return [None] * size


def _reach(rng: random.Random, plan: _Plan, lane, left: dict) -> None:
    """Walk to the lane and take one or two (if still there), sometimes put one back."""
    if left[lane.key] <= 0:
        return
    n = 2 if lane.sensor != SENSOR_LIGHT and left[lane.key] >= 2 \
        and rng.random() < HARD_TWO_ITEM_CHANCE else 1
    left[lane.key] -= n
    plan.actions += [WalkTo(lane.shelf_id, lane.lane_id), Take(n)]
    if rng.random() < HARD_PUT_BACK_CHANCE:
        if rng.random() < 0.5:
            plan.actions.append(Wait(round(rng.uniform(0.5, 1.5), 1)))
        plan.actions.append(PutBack(1))


def _swap_lanes(rng: random.Random, members: list[_Plan], firsts: list, left: dict) -> None:
    """Two members who started at different lanes each move to the lane the other was at."""
    pairs = [(a, b) for a in range(len(members)) for b in range(a + 1, len(members))
             if firsts[a] is not None and firsts[b] is not None and firsts[a] != firsts[b]
             and left[firsts[a].key] > 0 and left[firsts[b].key] > 0]
    if not pairs:
        return
    a, b = rng.choice(pairs)
    for member, lane in ((members[a], firsts[b]), (members[b], firsts[a])):
        left[lane.key] -= 1
        member.actions += [WalkTo(lane.shelf_id, lane.lane_id), Take(1)]


def _more_shopping(rng: random.Random, store: StoreConfig, home, left: dict) -> list[Action]:
    plan = _Plan('', True, 0.0, [])
    for _ in range(rng.choice((0, 1, 1, 2))):
        shelf = home if rng.random() < 0.7 else rng.choice(store.shelves)
        lanes = [lane for lane in shelf.lanes if left[lane.key] > 0]
        if lanes:
            _reach(rng, plan, rng.choice(lanes), left)
        if rng.random() < 0.3:
            plan.actions.append(Wait(round(rng.uniform(0.5, 2.0), 1)))
    return plan.actions


def _look_away(rng: random.Random, door: str) -> LookAway:
    """Turned away far from the camera, while coming closer, or while walking out."""
    kind = rng.choice(('far', 'closer', 'out'))
    if kind == 'far':
        start = round(rng.uniform(0.0, 0.1), 2)
        end = round(rng.uniform(0.25, 0.4), 2)
    elif kind == 'closer':
        start = round(rng.uniform(0.25, 0.4), 2)
        end = round(start + rng.uniform(0.1, 0.2), 2)
    else:
        start, end = round(rng.uniform(0.8, 0.9), 2), 1.0
    return LookAway(door, start, end)


def _settle(plans: list[_Plan], seed: int, store: StoreConfig,
            store_file: Path | None) -> Scenario | None:
    """Play the plan through; fix passes that hide someone; None when it cannot be fixed."""
    for _ in range(_SETTLE_STEPS):
        scenario = _to_scenario(plans, seed, store_file)
        try:
            world = build_world(scenario, store)
        except ScenarioError:
            return None
        hidden = _first_hidden_pass(world)
        if hidden is None:
            alone = len(plans) < 2
            return scenario if alone or _adjacent_reaches(world, store) else None
        plan = plans[hidden.shopper_index]
        door = next(d.role for d in store.doors if d.camera_id == hidden.camera_id)
        if any(look.door == door for look in plan.look_away):
            plan.look_away = [look for look in plan.look_away if look.door != door]
        elif door == ROLE_EXIT:
            for member in (p for p in plans if p is plan or (plan.group
                                                              and p.group == plan.group)):
                _delay_exit(member, _EXIT_SHIFT_S)
        else:
            return None
    return None


def _to_scenario(plans: list[_Plan], seed: int, store_file: Path | None) -> Scenario:
    shoppers = tuple(Shopper(identity=p.identity, enrolled=p.enrolled, enter_s=p.enter_s,
                             actions=tuple(p.actions), path=f'shoppers[{i}]',
                             look_away=tuple(p.look_away), group=p.group,
                             exit_delay_s=p.exit_delay_s) for i, p in enumerate(plans))
    groups = len({p.group for p in plans if p.group})
    walk_ins = sum(not p.enrolled for p in plans)
    return Scenario(
        name=f'hard_s{seed}_n{len(plans)}',
        description=f'Random hard: {len(plans)} shoppers in {groups} groups, {walk_ins} '
                    f'walk-in(s), seed {seed}.',
        seed=seed, shoppers=shoppers, store_file=store_file)


def _first_hidden_pass(world):
    """The earliest door pass whose face is close and clearly visible for too short a time."""
    passes = [view for camera in world.store.cameras if camera.role in DOOR_ROLES
              for view in world.appearances[camera.camera_id]]
    hidden = [v for v in passes if v.clear_s is not None and v.clear_s < DOOR_CLEAR_S - 1e-6]
    return min(hidden, key=lambda v: v.t_start) if hidden else None


def _delay_exit(plan: _Plan, seconds: float) -> None:
    """Wait a little longer before walking to the exit."""
    before = plan.actions[-2] if len(plan.actions) >= 2 else None
    if isinstance(before, Wait):
        plan.actions[-2] = Wait(round(before.seconds + seconds, 2))
    else:
        plan.actions.insert(len(plan.actions) - 1, Wait(seconds))


def _adjacent_reaches(world, store: StoreConfig) -> bool:
    """Whether two shoppers reach into neighbouring lanes of a shelf within ADJACENT_REACH_S."""
    position = {lane.key: i for shelf in store.shelves for i, lane in enumerate(shelf.lanes)}
    reaches = [e for e in world.events if e.kind in (TAKE, PUT_BACK)]
    return any(a.shopper != b.shopper and a.shelf_id == b.shelf_id
               and abs(position[(a.shelf_id, a.lane_id)] - position[(b.shelf_id, b.lane_id)]) == 1
               and abs(a.t - b.t) <= ADJACENT_REACH_S
               for k, a in enumerate(reaches) for b in reaches[k + 1:])


def random_suite(count: int, seed: int, store: StoreConfig, identities: list[str],
                 max_shoppers: int | None = None, max_crowding: int = 4,
                 difficulty: str = 'normal') -> list[Scenario]:
    """``count`` random scenarios. normal: 1..max_shoppers (default 4) shoppers and crowding
    up to the max; hard: HARD_MIN_SHOPPERS..max_shoppers (default HARD_MAX_SHOPPERS)."""
    rng = random.Random(seed)
    suite = []
    if difficulty == 'hard':
        most = min(max_shoppers or HARD_MAX_SHOPPERS, len(identities))
        for _ in range(count):
            n = rng.randint(min(HARD_MIN_SHOPPERS, most), most)
            suite.append(random_scenario(rng.randrange(1_000_000), store, identities,
                                         shoppers=n, difficulty='hard'))
        return suite
    max_shoppers = max_shoppers or 4
    for _ in range(count):
        n = rng.randint(1, min(max_shoppers, len(identities)))
        suite.append(random_scenario(rng.randrange(1_000_000), store, identities, shoppers=n,
                                     crowding=rng.randint(1, max_crowding)))
    return suite


def main(argv: list[str] | None = None) -> int:
    """scenario_gen: write random scenarios as YAML files."""
    parser = argparse.ArgumentParser(
        prog='scenario_gen', description='Write random EZShop simulator scenarios (YAML).')
    parser.add_argument('--seed', type=int, default=0, help='random seed (default 0)')
    parser.add_argument('--shoppers', type=int, default=3, help='shoppers per scenario')
    parser.add_argument('--crowding', type=int, default=2, help='shoppers per shelf')
    parser.add_argument('--unenrolled', type=int, default=0, help='unenrolled walk-ins')
    parser.add_argument('--difficulty', choices=DIFFICULTIES, default='normal',
                        help='normal, or hard: groups at the doors, adjacent-lane reaches, lane '
                        'swaps, walk-ins, faces turned away (default normal)')
    parser.add_argument('--count', type=int, default=1,
                        help='how many scenarios (seeds seed, seed+1, ...)')
    parser.add_argument('--store-file', default=None, help='store layout (default: the repo\'s)')
    parser.add_argument('--faces-dir', default=None,
                        help='faces folder (default $EZSHOP_FACES, else the shipped photos)')
    parser.add_argument('--subdir', default=DEFAULT_SUBDIR,
                        help='subfolder of the faces folder holding <identity>/ folders')
    parser.add_argument('--out', default='-',
                        help='output: a .yaml file (count 1), a folder, or - for stdout')
    args = parser.parse_args(argv)
    try:
        store = load_store(args.store_file)
        identities = list_identities(identities_dir(args.faces_dir, args.subdir))
        scenarios = [random_scenario(args.seed + i, store, identities, args.shoppers,
                                     args.crowding, args.unenrolled,
                                     store_file=Path(args.store_file).resolve()
                                     if args.store_file else None,
                                     difficulty=args.difficulty)
                     for i in range(args.count)]
    except (ValueError, ScenarioError) as exc:
        print(f'scenario_gen: {exc}', file=sys.stderr)
        return 2
    for scenario in scenarios:
        text = yaml.safe_dump(scenario_to_dict(scenario), sort_keys=False)
        if args.out == '-':
            print('---\n' + text, end='')
            continue
        out = Path(args.out)
        if out.suffix in ('.yaml', '.yml') and args.count == 1:
            target = out
        else:
            out.mkdir(parents=True, exist_ok=True)
            target = out / f'{scenario.name}.yaml'
        target.write_text(text)
        print(target)
    return 0


if __name__ == '__main__':
    sys.exit(main())
