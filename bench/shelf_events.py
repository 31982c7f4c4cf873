"""Shelf event accuracy: the lane filter on >= 10,000 random, seeded lane-minutes.

Every lane-minute takes a lane of the demo store, a random starting count and a random minute
of shopping (picks, two-item grabs, put-backs, slow pushes, hand dips, leaning shoppers,
drift, dead sensors) from ezshop_testing.lane_traces, and runs the core filter on it
directly (no ROS). Prints and writes (bench/results/shelf_events.json, .md):
- precision: events that match a real change (same delta, stamp between the hand's arrival
  - 0.5 s and the new level's arrival + --match-s) / events
- recall: real changes matched / real changes
- count accuracy: lane-minutes whose final accepted count equals the true count
- delay: confirmation time - first reading of the new level (slow pushes: - push end),
  and that delay minus the lane's settle time (target <= 100 ms)
- stamp error: event stamp - true change time

Run: scripts/run python bench/shelf_events.py [--lane-minutes 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

from ezshop_common.paths import config_dir
from ezshop_common.store_config import SENSOR_ULTRASONIC, load_store
from ezshop_sensors.lane_filter import NS, FilterParams, LaneFilter
from ezshop_testing.lane_traces import (
    CountChange,
    DeadSensor,
    NoiseModel,
    generate_trace,
    random_episodes,
)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'


def run_lane_minute(lane, seed: int, params: FilterParams, noise: NoiseModel,
                    duration_s: float) -> dict:
    rng = random.Random(seed)
    start = rng.randint(0, lane.capacity)
    episodes = random_episodes(lane, duration_s, rng, initial_count=start)
    trace = generate_trace(lane, episodes, duration_s, rng, noise, initial_count=start)
    lane_filter = LaneFilter(lane, params, start_ns=0, initial_count=start)
    events = []
    health = []
    next_check = 0.0
    for t, value in trace.samples + [(duration_s, None)]:
        while next_check <= t:  # the node's timer checks timeouts every 0.5 s
            health.extend(lane_filter.check_timeout(int(next_check * NS)))
            next_check += 0.5
        if value is None:
            break
        new_events, changes = lane_filter.add(int(t * NS), value)
        events.extend(new_events)
        health.extend(changes)
    pushes = {e.end_s: e.push_s for e in episodes if isinstance(e, CountChange)}
    dead = [e for e in episodes if isinstance(e, DeadSensor)]
    alerts = [h.stamp_ns / NS for h in health if not h.ok]
    dead_long = [e for e in dead if e.duration_s > params.sensor_timeout_s + 0.3]
    detected = sum(1 for e in dead_long
                   if any(e.start_s <= a <= e.start_s + e.duration_s for a in alerts))
    false_alerts = sum(1 for a in alerts if not any(  # the timer ticks every 0.5 s
        e.start_s <= a <= e.start_s + e.duration_s + 0.6 for e in dead))
    return {'trace': trace, 'events': events, 'pushes': pushes, 'health': health,
            'dead_long': len(dead_long), 'dead_detected': detected,
            'false_alerts': false_alerts, 'final_count': lane_filter.count,
            'settle_s': lane_filter.settle_for}


def match(changes, events, window_s: float):
    """Pair true changes with events (same delta, stamp close to the change)."""
    unmatched = list(events)
    pairs = []
    for change in changes:
        for event in unmatched:
            stamp = event.stamp_ns / NS
            if event.delta == change.delta and \
                    change.began_s - 0.5 <= stamp <= change.settled_s + window_s:
                pairs.append((change, event))
                unmatched.remove(event)
                break
    return pairs


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float('nan')
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--lane-minutes', type=int, default=10_000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--match-s', type=float, default=1.5,
                        help='max |event stamp - true change| for a match')
    parser.add_argument('--no-write', action='store_true', help='print only')
    args = parser.parse_args()

    store = load_store(config_dir() / 'store.yaml')
    lanes = store.lanes
    params = FilterParams()
    noise = NoiseModel()
    totals = {'changes': 0, 'events': 0, 'matched': 0, 'final_ok': 0, 'dead_long': 0,
              'dead_detected': 0, 'false_alerts': 0, 'samples': 0}
    per_kind = {kind: {'changes': 0, 'events': 0, 'matched': 0} for kind in
                ('ultrasonic', 'light')}
    delays, over_settle, stamp_errors, push_delays = [], [], [], []
    misses, false_events = [], []
    started = time.perf_counter()
    for i in range(args.lane_minutes):
        lane = lanes[i % len(lanes)]
        seed = args.seed * 1_000_003 + i
        result = run_lane_minute(lane, seed, params, noise, 60.0)
        trace, events = result['trace'], result['events']
        pairs = match(trace.changes, events, args.match_s)
        kind = 'ultrasonic' if lane.sensor == SENSOR_ULTRASONIC else 'light'
        for key, value in (('changes', len(trace.changes)), ('events', len(events)),
                           ('matched', len(pairs))):
            totals[key] += value
            per_kind[kind][key] += value
        totals['samples'] += len(trace.samples)
        totals['final_ok'] += result['final_count'] == trace.final_count
        totals['dead_long'] += result['dead_long']
        totals['dead_detected'] += result['dead_detected']
        totals['false_alerts'] += result['false_alerts']
        for change, event in pairs:
            stamp_errors.append(event.stamp_ns / NS - change.change_s)
            if result['pushes'].get(change.change_s):
                push_delays.append(event.confirmed_ns / NS - change.settled_s)
            else:
                delay = event.confirmed_ns / NS - change.change_s
                delays.append(delay)
                settle = result['settle_s'](change.count_before, change.count_after) / NS
                over_settle.append(delay - settle)
        matched_events = {id(e) for _, e in pairs}
        matched_changes = {id(c) for c, _ in pairs}
        false_events += [(seed, lane.key, e.stamp_ns / NS, e.delta) for e in events
                         if id(e) not in matched_events]
        misses += [(seed, lane.key, c.change_s, c.delta) for c in trace.changes
                   if id(c) not in matched_changes]
    elapsed = time.perf_counter() - started

    precision = totals['matched'] / max(1, totals['events'])
    recall = totals['matched'] / max(1, totals['changes'])
    result = {
        'lane_minutes': args.lane_minutes, 'seed': args.seed, 'samples': totals['samples'],
        'true_changes': totals['changes'], 'events': totals['events'],
        'matched': totals['matched'], 'precision': precision, 'recall': recall,
        'count_accuracy': totals['final_ok'] / args.lane_minutes,
        'per_kind': per_kind,
        'delay_s': {'p50': percentile(delays, 0.5), 'p95': percentile(delays, 0.95),
                    'max': max(delays, default=float('nan'))},
        'delay_minus_settle_s': {'p50': percentile(over_settle, 0.5),
                                 'p95': percentile(over_settle, 0.95),
                                 'p99': percentile(over_settle, 0.99),
                                 'max': max(over_settle, default=float('nan'))},
        'slow_push_delay_after_push_end_s': {'p50': percentile(push_delays, 0.5),
                                             'max': max(push_delays, default=float('nan'))},
        'stamp_error_s': {'p50': percentile(stamp_errors, 0.5),
                          'max_abs': max((abs(x) for x in stamp_errors), default=float('nan'))},
        'dead_sensor_periods_over_timeout': totals['dead_long'],
        'dead_sensor_periods_detected': totals['dead_detected'],
        'sensor_alerts_outside_dead_periods': totals['false_alerts'],
        'false_events_sample': false_events[:20], 'missed_sample': misses[:20],
        'settle_s': params.settle_s, 'putback_settle_s': params.putback_settle_s,
        'light_settle_s': params.light_settle_s,
        'params': params.__dict__, 'noise': noise.__dict__,
        'elapsed_s': round(elapsed, 1), 'python': platform.python_version(),
        'machine': platform.machine(),
    }
    table = render(result)
    print(table)
    if not args.no_write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / 'shelf_events.json').write_text(json.dumps(result, indent=2) + '\n')
        (RESULTS / 'shelf_events.md').write_text(
            '# bench/shelf_events.py\n\n'
            f'`scripts/run python bench/shelf_events.py --lane-minutes {args.lane_minutes} '
            f'--seed {args.seed}`\n\n' + table + '\n')


def render(r: dict) -> str:
    ms = 1000.0
    rows = [
        ('lane-minutes', f"{r['lane_minutes']:,} ({r['samples']:,} readings)"),
        ('true changes / events / matched', f"{r['true_changes']:,} / {r['events']:,} / "
                                            f"{r['matched']:,}"),
        ('precision', f"{100 * r['precision']:.3f} %"),
        ('recall', f"{100 * r['recall']:.3f} %"),
        *[(f'{kind} lanes: changes / events / matched',
           f"{k['changes']:,} / {k['events']:,} / {k['matched']:,}")
          for kind, k in r['per_kind'].items()],
        ('count accuracy (final count right)', f"{100 * r['count_accuracy']:.3f} %"),
        ('delay change -> event p50 / p95 / max',
         f"{r['delay_s']['p50'] * ms:.0f} / {r['delay_s']['p95'] * ms:.0f} / "
         f"{r['delay_s']['max'] * ms:.0f} ms"),
        ('delay - settle time p50 / p95 / p99 / max (target <= 100 ms)',
         f"{r['delay_minus_settle_s']['p50'] * ms:.0f} / "
         f"{r['delay_minus_settle_s']['p95'] * ms:.0f} / "
         f"{r['delay_minus_settle_s']['p99'] * ms:.0f} / "
         f"{r['delay_minus_settle_s']['max'] * ms:.0f} ms"),
        ('slow push: delay after push end p50 / max',
         f"{r['slow_push_delay_after_push_end_s']['p50'] * ms:.0f} / "
         f"{r['slow_push_delay_after_push_end_s']['max'] * ms:.0f} ms"),
        ('stamp - true change p50 / max |.|',
         f"{r['stamp_error_s']['p50'] * ms:.0f} / {r['stamp_error_s']['max_abs'] * ms:.0f} ms"),
        ('dead sensor > timeout: periods / detected / false alerts',
         f"{r['dead_sensor_periods_over_timeout']} / {r['dead_sensor_periods_detected']} / "
         f"{r['sensor_alerts_outside_dead_periods']}"),
        ('settle (ultrasonic fewer / more items, light)',
         f"{r['settle_s']} s / {r['putback_settle_s']} s, {r['light_settle_s']} s"),
        ('run time', f"{r['elapsed_s']} s"),
    ]
    lines = ['| metric | value |', '|---|---|']
    lines += [f'| {name} | {value} |' for name, value in rows]
    return '\n'.join(lines)


if __name__ == '__main__':
    main()
