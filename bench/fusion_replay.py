"""Who-took-it accuracy of fusion alone, replayed offline from recorded scenarios.

Records made with `bench/receipts.py --record DIR` hold every face array, shelf event, door
event and the simulator's ground truth. This feeds them, in recorded order, to a fresh
FusionEngine (the same core fusion_node runs) with the settings you give, and judges every
cart decision against the take or put-back it derives from. One run over 15 hard scenarios
takes seconds instead of 20 minutes, so settings can be compared on the very same camera
output (the live bench varies from run to run); confirm a choice with bench/receipts.py.

  scripts/run python bench/receipts.py --difficulty hard --hard 15 --no-suite --record /tmp/bags
  scripts/run python bench/fusion_replay.py /tmp/bags
  scripts/run python bench/fusion_replay.py /tmp/bags --set distance_scale_px=45 \
      --set late_naming=false

Receipts here are "attribution-only": a shopper's units judged as if every door pass had been
seen (door misses are bench/receipts.py's business).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path

from ezshop_bag.rosbag2 import BagError, BagReader
from rclpy.serialization import deserialize_message

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import (
    Cart,
    CustomerEvent,
    FaceArray,
    Gallery,
    GroundTruth,
    ShelfEvent,
    TrackIdentity,
)
from ezshop_ros.stamps import stamp_ns
from ezshop_ros.topics import FACES
from ezshop_sim.referee_node import truth_event
from ezshop_sim.scoring import (
    GT_PUT_BACK,
    GT_TAKE,
    CartActionView,
    TruthEvent,
    expected_carts,
    matching_truth,
)
from ezshop_store import fusion_core as core
from ezshop_store import messages
from ezshop_store.fusion_settings import FusionSettings

S = 1_000_000_000
#: The engine's timer period in fusion_node (s): ticks are replayed between messages.
TICK_NS = 20_000_000


def parse_settings(pairs: list[str]) -> FusionSettings:
    """FusionSettings with ``name=value`` overrides (typed by the field's default)."""
    defaults = FusionSettings()
    changes = {}
    for pair in pairs:
        name, _, text = pair.partition('=')
        if not hasattr(defaults, name):
            raise SystemExit(f'fusion_replay.py: no setting {name!r}')
        current = getattr(defaults, name)
        if isinstance(current, bool):
            changes[name] = text.lower() in ('1', 'true', 'yes', 'on')
        else:
            changes[name] = type(current)(text)
    return dataclasses.replace(defaults, **changes)


def replay(bag: Path, settings: FusionSettings) -> dict:
    """One recorded scenario through a fresh engine; its decisions judged against the truth."""
    store = load_store()
    faces_topics = {'/' + FACES.topic_name(camera=c.camera_id): c.camera_id
                    for c in store.cameras}
    engine = settings.engine(store)
    names: dict[str, str] = {}
    truth: list[TruthEvent] = []
    decisions: list[core.Decision] = []
    holdings: dict[str, Counter] = {}
    reader = BagReader(bag)
    next_tick = None

    def take(effects):
        for decision in effects.actions:
            decisions.append(decision)
            if decision.customer_id:
                cart = holdings.setdefault(decision.customer_id, Counter())
                cart[decision.item_id] += decision.quantity
                engine.holdings[decision.customer_id] = dict(cart)

    for message in reader.messages():
        now = message.log_time_ns
        while next_tick is not None and next_tick <= now:
            take(engine.tick(next_tick))
            next_tick += TICK_NS
        if next_tick is None:
            next_tick = now + TICK_NS
        topic = message.topic
        if topic in faces_topics:
            msg = deserialize_message(message.data, FaceArray)
            frame, _ = messages.frame(msg, faces_topics[topic])  # as fusion_node: bad faces out
            take(engine.on_frame(frame, now))
        elif topic == '/shelf_events':
            msg = deserialize_message(message.data, ShelfEvent)
            take(engine.on_shelf_event(messages.shelf_change(msg), now))
        elif topic == '/customer_events':
            msg = deserialize_message(message.data, CustomerEvent)
            if msg.kind in (CustomerEvent.ENTERED, CustomerEvent.EXITED):
                take(engine.on_door_event(msg.kind == CustomerEvent.ENTERED, msg.customer_id,
                                          stamp_ns(msg.header.stamp), msg.camera_id))
        elif topic == '/track_identities':
            link = messages.track_identity_in(deserialize_message(message.data, TrackIdentity))
            take(engine.on_track_identity(link.camera_id, link.track_id, link.customer_id,
                                          link.first_ns, link.last_ns, link.confidence))
        elif topic == '/carts':
            msg = deserialize_message(message.data, Cart)
            lines = dict(holdings.get(msg.customer_id, {}))
            take(engine.on_cart(msg.customer_id, bool(msg.visit_id), lines,
                                stamp_ns(msg.header.stamp)))
        elif topic == '/gallery':
            msg = deserialize_message(message.data, Gallery)
            names.update({c.customer_id: c.name for c in msg.customers})
        elif topic == '/sim/ground_truth':
            event = truth_event(deserialize_message(message.data, GroundTruth))
            if event is not None and event.kind in (GT_TAKE, GT_PUT_BACK):
                truth.append(event)
    for _ in range(int(10 * S / TICK_NS)):  # let late attributions and deadlines run out
        take(engine.tick(next_tick))
        next_tick += TICK_NS
    return judge(bag.name, decisions, truth, names)


def judge(scenario: str, decisions: list[core.Decision], truth: list[TruthEvent],
          names: dict[str, str]) -> dict:
    """Each shelf event's final attribution against its truth; receipts by attribution."""
    final: dict[str, core.Decision] = {}
    for decision in decisions:
        key = decision.resolves_event_id or decision.event_id
        if key not in final or final[key].held:
            final[key] = decision
    counts = Counter()
    details = []
    charged: dict[str, Counter] = {}
    for event_id, decision in final.items():
        view = CartActionView(event_id, decision.customer_id, decision.item_id,
                              decision.quantity, decision.shelf_id, decision.lane_id,
                              decision.stamp_ns / S)
        match = matching_truth(view, truth)
        who = names.get(decision.customer_id, decision.customer_id)
        if decision.customer_id:
            charged.setdefault(who, Counter())[decision.item_id] += decision.quantity
        if match is None:
            outcome = 'phantom'
        elif not match.enrolled:
            outcome = 'wrong_walk_in' if decision.customer_id else 'held_walk_in'
        elif not decision.customer_id:
            outcome = 'held_enrolled'
        elif who == match.shopper:
            outcome = 'late_right' if decision.resolves_event_id else 'right'
        else:
            outcome = 'wrong_person'
        counts[outcome] += 1
        if outcome not in ('right', 'held_walk_in', 'late_right'):
            details.append(f'{outcome}: {decision.item_id} {decision.quantity:+d} at '
                           f'{decision.shelf_id}/{decision.lane_id} t={decision.stamp_ns / S:.1f}'
                           f' taker {match.shopper if match else "?"}, decided '
                           f'{who or "held"} ({decision.outcome}, conf '
                           f'{decision.confidence:.2f}); candidates '
                           + ', '.join(f'{names.get(c, c)} {s:.2f}'
                                       for c, s in decision.candidates)
                           + (f'; {decision.reason}' if decision.reason else ''))
    expected = expected_carts([event for event in truth if event.enrolled])
    shoppers = set(expected) | set(charged)
    right = sum(1 for s in shoppers
                if +expected.get(s, Counter()) == +charged.get(s, Counter()))
    return {'scenario': scenario, 'outcomes': dict(counts), 'details': details,
            'receipts_right': right, 'receipts': len(shoppers)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('bags', help='a bag, or a folder of bags written by bench/receipts.py '
                        '--record')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE',
                        help="a fusion_node setting (repeatable), e.g. distance_scale_px=30")
    parser.add_argument('--details', action='store_true', help='print every miss')
    parser.add_argument('--json', default='', help='write the results here')
    args = parser.parse_args(argv)
    settings = parse_settings(args.set)
    folder = Path(args.bags)
    one_bag = (folder / 'metadata.yaml').exists() or any(folder.glob('*.mcap'))
    bags = [folder] if one_bag else sorted(p for p in folder.iterdir() if p.is_dir())
    results = []
    for bag in bags:
        try:
            results.append(replay(bag, settings))
        except BagError as exc:  # a recording still being written, or cut short
            print(f'{bag.name}: skipped ({exc})', file=sys.stderr)
    total = Counter()
    for result in results:
        total.update(result['outcomes'])
        print(f"{result['scenario']:<24} receipts {result['receipts_right']}/"
              f"{result['receipts']}  " + ', '.join(
                  f'{k} {v}' for k, v in sorted(result['outcomes'].items())))
        if args.details:
            for line in result['details']:
                print('    ' + line)
    right = sum(r['receipts_right'] for r in results)
    receipts = sum(r['receipts'] for r in results)
    print(f'\nsettings: {" ".join(args.set) or "defaults"}')
    print(f'receipts right by attribution: {right}/{receipts}; ' + ', '.join(
        f'{k} {v}' for k, v in sorted(total.items())))
    if args.json:
        Path(args.json).write_text(json.dumps({'settings': args.set, 'results': results},
                                              indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
