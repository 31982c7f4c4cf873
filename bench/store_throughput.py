"""Sustained events/s through store_node: cart actions over DDS, applied and committed.

Starts the installed store_node as its own process (SQLite WAL file, then a fresh PostgreSQL
schema), enrols and admits shoppers, then publishes cart actions at an offered rate for a few
seconds (every 20th one a re-sent duplicate) and times until the database holds every one of
them. Checks that none were lost or applied twice: the committed cart events, the carts the
store reports (GetCart) and the expected quantities must agree.

    scripts/run python bench/store_throughput.py [--rates 2000 4000 8000] [--seconds 4]

Writes bench/results/store_throughput.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sqlalchemy import create_engine, func, select

from ezshop_common.paths import config_dir
from ezshop_msgs.msg import Cart, CartAction, CustomerEvent
from ezshop_msgs.srv import GetCart, RegisterCustomer
from ezshop_ros.stamps import time_from_ns
from ezshop_ros.topics import CART_ACTIONS, CARTS, CUSTOMER_EVENTS
from ezshop_store.db import models as m
from ezshop_testing.env import claim_domain_for_this_process, ros_env
from ezshop_testing.processes import ChildProcess
from ezshop_testing.scratch_db import postgres_schema, postgres_unavailable_reason

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
STORE_NODE = ROOT / 'install' / 'ezshop_store' / 'lib' / 'ezshop_store' / 'store_node'
SHOPPERS = 20
DUPLICATE_EVERY = 20


class Bench:
    """A private rclpy context with the publishers and clients the bench drives."""

    def __init__(self):
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('store_bench', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.events = CUSTOMER_EVENTS.publisher(self.node)
        self.actions = CART_ACTIONS.publisher(self.node)
        self.carts: list[Cart] = []
        CARTS.subscription(self.node, self.carts.append)
        self.register = self.node.create_client(RegisterCustomer, 'register_customer')
        self.get_cart = self.node.create_client(GetCart, 'get_cart')

    def spin_until(self, predicate, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.02)
        return predicate()

    def call(self, client, request, timeout=20.0):
        if not self.spin_until(client.service_is_ready, timeout):
            raise TimeoutError(f'{client.srv_name} not available')
        future = client.call_async(request)
        if not self.spin_until(future.done, timeout):
            raise TimeoutError(f'{client.srv_name} did not answer')
        return future.result()

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def run_backend(backend: str, url: str, rates: list[int], seconds: float) -> list[dict]:
    proc = ChildProcess([str(STORE_NODE), '--ros-args', '-p', f'database_url:={url}',
                         '-p', f'store_file:={config_dir() / "store.yaml"}'], env=ros_env())
    bench = Bench()
    engine = create_engine(url)
    rows = []
    try:
        if not proc.wait_for_line('store ready', 30):
            raise RuntimeError(f'store_node did not start:\n{proc.output}')
        shoppers = [bench.call(bench.register, RegisterCustomer.Request(
            name=f'Shopper {i}', embeddings=[0.1] * 128, dim=128, model='bench')).customer_id
            for i in range(SHOPPERS)]
        assert bench.spin_until(lambda: bench.actions.get_subscription_count() > 0, 20)
        t0 = bench.node.get_clock().now().nanoseconds
        for i, cid in enumerate(shoppers):
            msg = CustomerEvent(event_id=f'enter-{i}-{t0}', kind=CustomerEvent.ENTERED,
                                customer_id=cid, door_id='entrance', confidence=1.0)
            msg.header.stamp = time_from_ns(t0)
            bench.events.publish(msg)
        assert bench.spin_until(lambda: {c.customer_id for c in bench.carts if c.visit_id}
                                >= set(shoppers), 20), 'shoppers not admitted'
        expected = dict.fromkeys(shoppers, 0)
        sent = 0
        for rate in rates:
            rows.append(run_rate(bench, engine, backend, shoppers, expected, rate, seconds,
                                 sent, t0))
            sent += rows[-1]['unique_events']
            print_row(rows[-1])
        # Every shopper's cart as the store reports it matches what was sent.
        for cid in shoppers:
            cart = bench.call(bench.get_cart, GetCart.Request(customer_id=cid)).cart
            held = sum(line.quantity for line in cart.lines)
            rows[-1]['carts_match'] = rows[-1].get('carts_match', True) and held == expected[cid]
    finally:
        bench.close()
        proc.stop()
        if os.environ.get('EZSHOP_BENCH_VERBOSE'):
            print(proc.output[-3000:])
        engine.dispose()
    return rows


def run_rate(bench, engine, backend, shoppers, expected, rate, seconds, offset, t0) -> dict:
    count = int(rate * seconds)
    ids = [f'r{rate}-{offset + i}' for i in range(count)]
    start = time.monotonic()
    published = duplicates = blocked = 0
    for i, event_id in enumerate(ids):
        target = start + i / rate
        while time.monotonic() < target:
            bench.executor.spin_once(timeout_sec=0)
        cid = shoppers[i % len(shoppers)]
        msg = CartAction(event_id=event_id, customer_id=cid, item_id='cola', quantity=1,
                         confidence=1.0)
        msg.header.stamp = time_from_ns(t0 + 1_000_000 + i)
        blocked += publish(bench, msg)
        published += 1
        if i % DUPLICATE_EVERY == DUPLICATE_EVERY - 1:
            duplicate = ids[i - DUPLICATE_EVERY // 2]
            msg.event_id = duplicate
            msg.customer_id = shoppers[(i - DUPLICATE_EVERY // 2) % len(shoppers)]
            blocked += publish(bench, msg)
            duplicates += 1
        expected[cid] += 1
    publish_end = time.monotonic()

    def committed():
        with engine.connect() as connection:
            return connection.scalar(select(func.count()).select_from(m.CartEvent)
                                     .where(m.CartEvent.event_id.like(f'r{rate}-%')))
    done = None
    deadline = time.monotonic() + 60
    last = -1
    while time.monotonic() < deadline:
        now_count = committed()
        if now_count >= count:
            done = time.monotonic()
            break
        if now_count == last and time.monotonic() - publish_end > 10:
            break  # nothing moves any more: events were lost
        last = now_count
        bench.executor.spin_once(timeout_sec=0.02)
    final = committed()
    with engine.connect() as connection:
        applied = connection.scalar(select(func.sum(m.CartEvent.applied_quantity))
                                    .where(m.CartEvent.event_id.like(f'r{rate}-%'))) or 0
    elapsed = (done or time.monotonic()) - start
    return {
        'backend': backend, 'offered_rate': rate, 'unique_events': count,
        'duplicates_sent': duplicates, 'committed': final, 'lost': count - final,
        'doubled': int(applied) - final, 'publish_s': round(publish_end - start, 3),
        'publisher_blocked': blocked,
        'commit_lag_s': round((done or time.monotonic()) - publish_end, 3),
        'events_per_s': round(final / elapsed, 1),
    }


def publish(bench: Bench, msg: CartAction) -> int:
    """Publish; when the store's KEEP_ALL reader is full the writer blocks and fails after
    its max blocking time: retry (flow control, nothing lost). Returns the number of retries."""
    retries = 0
    while True:
        try:
            bench.actions.publish(msg)
            return retries
        except RuntimeError:  # rclpy RCLError: the writer blocked too long
            retries += 1
            bench.executor.spin_once(timeout_sec=0.001)


def print_row(row: dict) -> None:
    print(f"{row['backend']:<10} offered {row['offered_rate']:>6}/s  committed "
          f"{row['committed']:>6}/{row['unique_events']:<6} lost {row['lost']:<4} doubled "
          f"{row['doubled']:<3} blocked {row['publisher_blocked']:<5} lag "
          f"{row['commit_lag_s']:>6.3f} s  -> {row['events_per_s']:>8.1f} events/s", flush=True)


def write_results(rows: list[dict], args) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {'command': ' '.join(['scripts/run python bench/store_throughput.py', *sys.argv[1:]]),
            'machine': f'{platform.machine()}, {os.cpu_count()} cores, {platform.system()}',
            'shoppers': SHOPPERS, 'duplicate_every': DUPLICATE_EVERY,
            'seconds_per_rate': args.seconds, 'target_events_per_s_sqlite': 2000}
    (RESULTS / 'store_throughput.json').write_text(json.dumps(
        {'meta': meta, 'rows': rows}, indent=2) + '\n')
    lines = ['# store_throughput', '',
             'Cart actions over DDS into store_node (own process), applied and committed; '
             f'{SHOPPERS} shoppers, every {DUPLICATE_EVERY}th action re-sent as a duplicate.',
             f"Command: `{meta['command']}` on {meta['machine']}.", '',
             '| backend | offered/s | events | committed | lost | doubled | publisher blocked | '
             'commit lag s | events/s |', '|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['backend']} | {r['offered_rate']} | {r['unique_events']} | "
                     f"{r['committed']} | {r['lost']} | {r['doubled']} | "
                     f"{r['publisher_blocked']} | {r['commit_lag_s']} | "
                     f"{r['events_per_s']} |")
    lines += ['', 'events/s = committed / (time from the first publish to the last commit). '
              'The bench publishes KEEP_ALL: above what the store takes, the writer blocks '
              '(publisher blocked = retries after a blocked publish) instead of losing events. '
              'Carts reported by GetCart matched the sent quantities: '
              + ', '.join(f"{r['backend']}={r.get('carts_match', '-')}" for r in rows
                          if 'carts_match' in r), '']
    (RESULTS / 'store_throughput.md').write_text('\n'.join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rates', type=int, nargs='+', default=[2000, 4000, 8000, 16000])
    parser.add_argument('--seconds', type=float, default=4.0)
    parser.add_argument('--backends', nargs='+', default=['sqlite', 'postgres'])
    args = parser.parse_args()
    if not STORE_NODE.exists():
        print(f'{STORE_NODE} missing: run scripts/build ezshop_store', file=sys.stderr)
        return 2
    claim_domain_for_this_process()
    rows = []
    if 'sqlite' in args.backends:
        with tempfile.TemporaryDirectory() as folder:
            rows += run_backend('sqlite', f'sqlite:///{folder}/store.db', args.rates,
                                args.seconds)
    if 'postgres' in args.backends:
        reason = postgres_unavailable_reason()
        if reason:
            print(f'postgres skipped: {reason}')
        else:
            with postgres_schema() as url:
                rows += run_backend('postgres', url, args.rates, args.seconds)
    write_results(rows, args)
    bad = [r for r in rows if r['lost'] or r['doubled'] or not r.get('carts_match', True)]
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
