"""Random scenarios from a seed: how many shoppers, how crowded, what they do.

Crowding is the number of shoppers who shop at one shelf at about the same time: the
shoppers are spread over ceil(shoppers / crowding) shelves and enter within a few seconds of
each other. Shoppers are drawn from whatever <identity>/ folders the photo folder holds.
Every generated scenario is played through the world model before it is returned, so it is
valid for the store it was made for.

The ``scenario_gen`` console script writes generated scenarios as YAML files.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from pathlib import Path

import yaml

from ezshop_common.store_config import SENSOR_LIGHT, StoreConfig, load_store
from ezshop_sim.photos import DEFAULT_SUBDIR, identities_dir, list_identities
from ezshop_sim.scenario import (
    Action,
    Exit,
    PutBack,
    Scenario,
    ScenarioError,
    Shopper,
    Take,
    Wait,
    WalkTo,
    scenario_to_dict,
)
from ezshop_sim.world import build_world


def random_scenario(seed: int, store: StoreConfig, identities: list[str], shoppers: int = 3,
                    crowding: int = 2, unenrolled: int = 0, put_back_chance: float = 0.3,
                    store_file: Path | None = None) -> Scenario:
    """A valid random scenario; the same arguments always give the same scenario."""
    if shoppers < 1 or crowding < 1:
        raise ValueError('shoppers and crowding must be >= 1')
    if shoppers > len(identities):
        raise ValueError(f'{shoppers} shoppers need {shoppers} identities; the photo folder '
                         f'holds {len(identities)}')
    if not 0 <= unenrolled <= shoppers:
        raise ValueError(f'unenrolled must be between 0 and {shoppers}')
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


def random_suite(count: int, seed: int, store: StoreConfig, identities: list[str],
                 max_shoppers: int = 4, max_crowding: int = 4) -> list[Scenario]:
    """``count`` random scenarios with 1..max_shoppers shoppers and crowding up to the max."""
    rng = random.Random(seed)
    suite = []
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
    parser.add_argument('--count', type=int, default=1,
                        help='how many scenarios (seeds seed, seed+1, ...)')
    parser.add_argument('--store-file', default=None, help='store layout (default: the repo\'s)')
    parser.add_argument('--faces-dir', default=None, help='faces folder (default $EZSHOP_FACES)')
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
                                     if args.store_file else None)
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
