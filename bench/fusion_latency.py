"""ShelfEvent -> CartAction latency through fusion_node (own process), p50 / p99.

Two shelf cameras send FaceArray messages at 15 Hz in real time (stamped with capture time),
three shoppers stand at three lanes; shelf events arrive `--settle` s after their stamp (the
shelf monitor confirms a change after its settle time) at `--rate` Hz. The latency of a cart
action is its arrival time minus the shelf event's stamp; the decision has to wait for frames up
to stamp + window_after_s, so the figure that matters is latency - window_after_s (target: p99 <
250 ms). Also counts how many actions went to the shopper standing at the lane.

    scripts/run python bench/fusion_latency.py [--events 100] [--rate 5]

Writes bench/results/fusion_latency.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import RegionOfInterest

from ezshop_common.paths import config_dir
from ezshop_msgs.msg import CartAction, CustomerEvent, FaceArray, FaceDetection, ShelfEvent
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import CART_ACTIONS, CUSTOMER_EVENTS, FACES, SHELF_EVENTS
from ezshop_testing.env import claim_domain_for_this_process, ros_env
from ezshop_testing.processes import ChildProcess

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
FUSION_NODE = ROOT / 'install' / 'ezshop_store' / 'lib' / 'ezshop_store' / 'fusion_node'
FPS = 15.0
#: (camera, shelf, lane, item, shopper, face centre x) - everyone stands at their lane.
STATIONS = [('cam_shelf_a', 'shelf_a', 'lane_1', 'cola', 'alice', 100),
            ('cam_shelf_a', 'shelf_a', 'lane_2', 'water', 'bob', 320),
            ('cam_shelf_b', 'shelf_b', 'lane_1', 'chips', 'carol', 110)]


def run(args) -> dict:
    context = Context()
    rclpy.init(context=context)
    node = rclpy.create_node('fusion_bench', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    faces = {cam: FACES.publisher(node, camera=cam) for cam in ('cam_shelf_a', 'cam_shelf_b')}
    shelf = SHELF_EVENTS.publisher(node)
    doors = CUSTOMER_EVENTS.publisher(node)
    received: dict[str, tuple[float, CartAction]] = {}
    CART_ACTIONS.subscription(
        node, lambda msg: received.setdefault(msg.event_id, (time.time(), msg)))
    proc = ChildProcess([str(FUSION_NODE), '--ros-args',
                         '-p', f'store_file:={config_dir() / "store.yaml"}',
                         '-p', f'window_after_s:={args.window_after}',
                         '-p', f'window_before_s:={args.window_before}'], env=ros_env())
    sent: dict[str, tuple[int, str]] = {}
    try:
        pubs = [shelf, doors, *faces.values()]
        deadline = time.monotonic() + 30
        while not all(p.get_subscription_count() > 0 for p in pubs) \
                or node.count_publishers('cart_actions') == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f'fusion_node not connected:\n{proc.output}')
            executor.spin_once(timeout_sec=0.05)
        for shopper in {s[4] for s in STATIONS}:
            doors.publish(CustomerEvent(event_id=str(uuid.uuid4()), kind=CustomerEvent.ENTERED,
                                        customer_id=shopper, door_id='entrance',
                                        header=_header(time.time_ns() - 10**9)))
        rng = random.Random(7)
        start = time.monotonic()
        next_frame = start
        first_event = start + args.window_before + 0.5  # let the buffers fill first
        event_times = [first_event + i / args.rate for i in range(args.events)]
        pending = []  # (publish_at, msg)
        end = event_times[-1] + args.settle + args.window_after + 2.0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_frame:
                stamp = time.time_ns()
                for cam, pub in faces.items():
                    pub.publish(FaceArray(camera_id=cam, header=_header(stamp), faces=[
                        FaceDetection(track_id=i + 1, customer_id=who, confidence=0.9,
                                      roi=RegionOfInterest(x_offset=x - 40, y_offset=160,
                                                           width=80, height=80))
                        for i, (c, _, _, _, who, x) in enumerate(STATIONS) if c == cam]))
                next_frame += 1.0 / FPS
            while event_times and now >= event_times[0]:
                event_times.pop(0)
                station = rng.choice(STATIONS)
                event_id = str(uuid.uuid4())
                msg = ShelfEvent(event_id=event_id, shelf_id=station[1], lane_id=station[2],
                                 item_id=station[3], quantity_delta=-1, count_before=5,
                                 count_after=4, confidence=1.0, header=_header(time.time_ns()))
                sent[event_id] = (stamp_ns(msg.header.stamp), station[4])
                pending.append((now + args.settle, msg))
            while pending and now >= pending[0][0]:
                shelf.publish(pending.pop(0)[1])
            executor.spin_once(timeout_sec=max(0.0, min(next_frame - time.monotonic(), 0.005)))
    finally:
        proc.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown(context=context)
    latencies = []
    correct = 0
    for event_id, (stamp, shopper) in sent.items():
        if event_id in received:
            arrival, msg = received[event_id]
            latencies.append(arrival - stamp / 1e9)
            correct += msg.customer_id == shopper
    lat = np.array(latencies) if latencies else np.array([float('nan')])
    beyond = lat - args.window_after
    return {
        'events': len(sent), 'actions': len(latencies), 'attributed_correctly': correct,
        'window_before_s': args.window_before, 'window_after_s': args.window_after,
        'settle_s': args.settle, 'camera_fps': FPS,
        'latency_p50_ms': round(float(np.percentile(lat, 50)) * 1000, 1),
        'latency_p99_ms': round(float(np.percentile(lat, 99)) * 1000, 1),
        'beyond_window_p50_ms': round(float(np.percentile(beyond, 50)) * 1000, 1),
        'beyond_window_p99_ms': round(float(np.percentile(beyond, 99)) * 1000, 1),
        'beyond_window_max_ms': round(float(np.max(beyond)) * 1000, 1),
    }


def _header(ns: int):
    from std_msgs.msg import Header
    return Header(stamp=time_from_ns(ns))


def write_results(row: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {'command': ' '.join(['scripts/run python bench/fusion_latency.py', *sys.argv[1:]]),
            'machine': f'{platform.machine()}, {os.cpu_count()} cores, {platform.system()}',
            'target_beyond_window_p99_ms': 250}
    (RESULTS / 'fusion_latency.json').write_text(json.dumps({'meta': meta, 'result': row},
                                                             indent=2) + '\n')
    lines = ['# fusion_latency', '',
             'ShelfEvent -> CartAction through fusion_node (own process); two shelf cameras at '
             f"{row['camera_fps']:.0f} Hz in real time, three shoppers at three lanes, shelf "
             f"events published {row['settle_s']} s after their stamp.",
             f"Command: `{meta['command']}` on {meta['machine']}.", '',
             '| events | actions | right shopper | window_after_s (ms) | latency p50 ms | '
             'latency p99 ms | beyond window p50 ms | beyond window p99 ms | max ms |',
             '|---|---|---|---|---|---|---|---|---|',
             f"| {row['events']} | {row['actions']} | {row['attributed_correctly']} | "
             f"{row['window_after_s'] * 1000:.0f} | {row['latency_p50_ms']} | "
             f"{row['latency_p99_ms']} | {row['beyond_window_p50_ms']} | "
             f"{row['beyond_window_p99_ms']} | {row['beyond_window_max_ms']} |", '',
             'latency = arrival of the CartAction - the shelf event stamp; "beyond window" '
             'subtracts window_after_s (the wait for frames the decision needs). Target: p99 '
             '< 250 ms beyond window_after_s.', '']
    (RESULTS / 'fusion_latency.md').write_text('\n'.join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--events', type=int, default=100)
    parser.add_argument('--rate', type=float, default=5.0, help='shelf events per second')
    parser.add_argument('--settle', type=float, default=0.3,
                        help='s between a shelf event stamp and its publication')
    parser.add_argument('--window-before', type=float, default=1.5)
    parser.add_argument('--window-after', type=float, default=0.5)
    args = parser.parse_args()
    if not FUSION_NODE.exists():
        print(f'{FUSION_NODE} missing: run scripts/build ezshop_store', file=sys.stderr)
        return 2
    claim_domain_for_this_process()
    row = run(args)
    print(' '.join(f'{k}={v}' for k, v in row.items()))
    write_results(row)
    return 0 if row['actions'] == row['events'] else 1


if __name__ == '__main__':
    sys.exit(main())
