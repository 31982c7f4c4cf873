"""Readings per second through mqtt_bridge, with none lost at QoS 1, and the latency.

A store of SHELVES x LANES ultrasonic lanes (a generated store file); simulated MQTT lane
controllers (ezshop_mqtt.devices, in a process of their own) publish readings at an offered
rate, QoS 1, stamped at publication; the installed mqtt_bridge (its own process, as launched)
turns them into sensor_msgs/Range on each lane's topic; this process subscribes to every lane
topic and matches each reading by lane and stamp. Lost = acknowledged by the broker and never
received on DDS. Latency = received on DDS - stamped by the device (device -> broker -> bridge
-> DDS -> reader: an upper bound of the bridge's own).

    scripts/run python bench/mqtt_bridge.py [--rates 1000 2000 3000] [--seconds 10]
        [--repeat 2] [--broker mqtt://127.0.0.1:1883] [--devices c|python] [--cpu-hog]

Writes bench/results/mqtt_bridge.json and .md. Target: 2,000 readings/s, 0 lost, p99 < 20 ms.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import rclpy
import yaml
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sensor_msgs.msg import Range

from ezshop_common.paths import config_dir
from ezshop_mqtt.broker import BrokerSettings, broker_address
from ezshop_mqtt.devices import SimulatedDevices
from ezshop_mqtt.readings import KIND_RANGE, encode_reading, reading_topic, wire_stamp_ns
from ezshop_ros.topics import DIAGNOSTICS, RANGE
from ezshop_testing.env import claim_domain_for_this_process, ros_env
from ezshop_testing.mqtt_broker import mqtt_unavailable_reason, mqtt_url, unique_store_id
from ezshop_testing.processes import ChildProcess

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
BRIDGE = ROOT / 'install' / 'ezshop_mqtt' / 'lib' / 'ezshop_mqtt' / 'mqtt_bridge'
SHELVES, LANES = 20, 7  # 140 lanes: 2,000 readings/s is ~14 Hz each, as HC-SR04 lanes read
#: A bound on waiting for the last readings (s): never a speed target.
DRAIN_S = 30.0
CPU_HOG = [sys.executable, '-c', 'while True: pass']
HOG_NOTE = ', one core kept busy by a CPU hog'
DEVICES_NICE = 10
DEVICES_NOTE = {'c': 'one mosquitto_pub per lane', 'python': 'one niced paho client'}
CDR_STAMP = struct.Struct('<iI')
#: The reader takes what has arrived this often (s): end-to-end latency includes up to this.
POLL_S = 0.005


def bench_store(folder: Path) -> Path:
    """The demo store's catalogue and doors with SHELVES x LANES ultrasonic lanes (no shelf
    cameras)."""
    demo = yaml.safe_load((config_dir() / 'store.yaml').read_text())
    lane = next(lane for shelf in demo['shelves'] for lane in shelf['lanes']
                if lane['sensor'] == 'ultrasonic')
    cameras = [camera for camera in demo['cameras'] if not camera.get('coverage')]
    store = {'store': demo['store'], 'catalogue': demo['catalogue'], 'cameras': cameras,
             'doors': demo.get('doors', []), 'shelves': [
        {'id': f'shelf_{s:02d}', 'lanes': [dict(lane, id=f'lane_{n}') for n in
                                           range(1, LANES + 1)]}
        for s in range(1, SHELVES + 1)]}
    path = folder / 'bench_store.yaml'
    path.write_text(yaml.safe_dump(store))
    return path


def lanes() -> list[tuple[str, str]]:
    return [(f'shelf_{s:02d}', f'lane_{n}') for s in range(1, SHELVES + 1)
            for n in range(1, LANES + 1)]


def paced_readings(rate: float, seconds: float):
    """(lane, seq, value) at `rate` readings/s, round-robin over the lanes, each yielded at
    its due time (a late one at once); the caller stamps and sends it."""
    all_lanes = lanes()
    start = time.monotonic()
    for k in range(int(rate * seconds)):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield all_lanes[k % len(all_lanes)], k // len(all_lanes) + 1, 0.06 + (k % 7) * 0.01


def publish_devices(url: str, store_id: str, rate: float, seconds: float, out) -> None:
    """In a process of its own: publish at `rate` readings/s round-robin over the lanes;
    report (lane, seq, stamp_ns) of every reading and which ones the broker acknowledged.
    Niced: the controllers are hardware of their own in a store, their simulation here must
    not take the store PC's cores from the bridge."""
    os.nice(DEVICES_NICE)
    devices = SimulatedDevices(BrokerSettings(broker_url=url), store_id,
                               f'bench_devices_{store_id}').start()
    devices.connected.wait(30)
    sent = []
    start = time.monotonic()
    for lane, seq, value in paced_readings(rate, seconds):
        stamp_s = time.time()
        devices.publish(KIND_RANGE, lane, value, stamp_s)  # the devices count the same seq
        sent.append((lane, seq, wire_stamp_ns(stamp_s)))
    publish_s = time.monotonic() - start
    deadline = time.monotonic() + DRAIN_S
    while devices.acked_count() < len(sent) and time.monotonic() < deadline:
        time.sleep(0.05)
    acked = {(lane, seq) for lane, seqs in devices.acked.items() for seq in seqs}
    devices.stop()
    out.put({'sent': sent, 'acked': sorted(acked), 'publish_s': publish_s})


def publish_with_mosquitto_pub(url: str, store_id: str, rate: float, seconds: float,
                               out) -> None:
    """In a process of its own: one `mosquitto_pub -l -q 1` per lane (C, like a controller's
    own firmware: one MQTT client per device), fed one reading per line at `rate` readings/s
    round-robin over the lanes; report (lane, seq, stamp_ns) of every reading written."""
    host, port, _ = broker_address(url)
    all_lanes = lanes()
    clients = {lane: subprocess.Popen(
        ['mosquitto_pub', '-h', host, '-p', str(port), '-q', '1', '-l', '-V', 'mqttv5',
         '-i', f'bench_{store_id}_{lane[0]}_{lane[1]}',
         '-t', reading_topic('ezshop', store_id, KIND_RANGE, lane)],
        stdin=subprocess.PIPE) for lane in all_lanes}
    time.sleep(1.0)  # every client connected
    sent = []
    start = time.monotonic()
    for lane, seq, value in paced_readings(rate, seconds):
        stamp_s = time.time()
        pipe = clients[lane].stdin
        pipe.write(encode_reading(KIND_RANGE, lane, value, stamp_s, seq) + b'\n')
        pipe.flush()
        sent.append((lane, seq, wire_stamp_ns(stamp_s)))
    publish_s = time.monotonic() - start
    for client in clients.values():
        client.stdin.close()  # mosquitto_pub sends what it has, then disconnects
    for client in clients.values():
        client.wait(DRAIN_S)
    # mosquitto_pub says nothing per message: every reading written counts as acknowledged,
    # so anything lost on the way to the broker counts as lost too.
    out.put({'sent': sent, 'acked': [(lane, seq) for lane, seq, _ in sent],
             'publish_s': publish_s})


class Reader:
    """Every lane's Range topic, with the time each reading arrived."""

    def __init__(self):
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('mqtt_bench_reader', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.got: dict[tuple[tuple[str, str], int], float] = {}
        self.bridge_status: dict[str, str] = {}  # its latest 'readings in' values
        self.callbacks = 0
        DIAGNOSTICS.subscription(self.node, self._on_diagnostics)
        # Serialized (raw): the stamp is read from the CDR bytes, so this reader of 2,000
        # messages/s takes as little of the two cores as it can from the bridge it measures.
        for shelf, lane in lanes():
            self.node.create_subscription(
                Range, RANGE.topic_name(shelf=shelf, lane=lane),
                lambda data, key=(shelf, lane): self._on(key, data),
                RANGE.subscriber_qos.profile(), raw=True)

    def _on_diagnostics(self, msg) -> None:
        self.callbacks += 1
        for status in msg.status:
            if status.name.endswith('readings in'):
                self.bridge_status = {v.key: v.value for v in status.values}

    def _on(self, key, data: bytes) -> None:
        # CDR: a 4-byte encapsulation header, then std_msgs/Header's stamp (int32, uint32).
        sec, nanosec = CDR_STAMP.unpack_from(data, 4)
        self.got[(key, sec * 1_000_000_000 + nanosec)] = time.time()
        self.callbacks += 1

    def spin_until(self, predicate, timeout: float) -> bool:
        """Every POLL_S, take what has arrived: one wait set of 140 subscriptions per poll, not
        per message (rclpy builds it anew on each wake-up, which alone would take a core)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            while True:
                before = self.callbacks
                self.executor.spin_once(timeout_sec=0)
                if self.callbacks == before:
                    break
            time.sleep(POLL_S)
        return predicate()

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_rate(url: str, store_file: Path, rate: float, seconds: float, devices: str) -> dict:
    store_id = unique_store_id()
    bridge = ChildProcess([str(BRIDGE), '--ros-args', '-p', f'store_file:={store_file}',
                           '-p', f'broker_url:={url}', '-p', f'store_id:={store_id}',
                           '-p', 'mirror_receipts:=false', '-p', 'mirror_alerts:=false',
                           '-p', 'mirror_inventory:=false'], env=ros_env())
    reader = Reader()
    try:
        assert bridge.wait_for_line('connected to', 60), bridge.output[-2000:]
        reader.spin_until(lambda: all(
            reader.node.count_publishers(RANGE.topic_name(shelf=s, lane=n)) > 0
            for s, n in lanes()), 60)
        cpu_before = cpu_seconds(bridge.proc.pid)
        cpu_at = {}  # received so far -> (bridge CPU s, time): CPU while readings came
        out = multiprocessing.Queue()
        target = publish_with_mosquitto_pub if devices == 'c' else publish_devices
        devices = multiprocessing.Process(target=target,
                                          args=(url, store_id, rate, seconds, out))
        wall_start = time.monotonic()
        devices.start()
        result = None
        while result is None:
            reader.spin_until(lambda: not out.empty(), 0.2)
            if not out.empty():
                result = out.get()
            elif not devices.is_alive():
                raise RuntimeError('the device process ended without a result')
        devices.join()
        sent = {(lane, seq): stamp for lane, seq, stamp in result['sent']}
        acked = [tuple(item) for item in result['acked']]
        acked = [(tuple(lane), seq) for lane, seq in acked]
        wanted = {(lane, sent[(lane, seq)]) for lane, seq in acked}
        def all_in() -> bool:
            cpu_at.setdefault(len(reader.got), (cpu_seconds(bridge.proc.pid), time.monotonic()))
            return wanted <= set(reader.got)
        reader.spin_until(all_in, DRAIN_S)
        reader.spin_until(lambda: int(reader.bridge_status.get('published', 0)) >= len(acked),
                          DRAIN_S)
        in_bridge = dict(reader.bridge_status)
        # Up to the last reading that came (not the drain timeout of a run that lost some).
        cpu_end, end = cpu_at[max(cpu_at)] if cpu_at else (cpu_seconds(bridge.proc.pid),
                                                            time.monotonic())
        wall_s = end - wall_start
        bridge_cpu = cpu_end - cpu_before
    finally:
        reader_got = dict(reader.got)
        reader.close()
        bridge.stop()
    latencies = [(reader_got[key] - key[1] / 1e9) * 1000 for key in wanted if key in reader_got]
    lost = len(wanted - set(reader_got))
    if os.environ.get('MQTT_BENCH_DEBUG'):
        by_stamp = {stamp: (lane, seq) for (lane, seq), stamp in sent.items()}
        missing = sorted(by_stamp[stamp] for _, stamp in wanted - set(reader_got))
        print('missing', missing[:20], '...', missing[-5:], file=sys.stderr)
        print(bridge.output[-3000:], file=sys.stderr)
    return {'offered_per_s': rate, 'seconds': seconds, 'sent': len(sent),
            'acked': len(acked), 'received': len(set(reader_got) & wanted), 'lost': lost,
            'achieved_per_s': round(len(sent) / result['publish_s'], 1),
            'latency_p50_ms': round(percentile(latencies, 0.50), 2),
            'latency_p99_ms': round(percentile(latencies, 0.99), 2),
            'latency_max_ms': round(max(latencies), 2),
            'bridge_latency_p50_ms': float(in_bridge.get('latency_p50_ms', 'nan')),
            'bridge_latency_p99_ms': float(in_bridge.get('latency_p99_ms', 'nan')),
            'bridge_latency_max_ms': float(in_bridge.get('latency_max_ms', 'nan')),
            'bridge_cpu_percent': round(100 * bridge_cpu / wall_s, 1)}


def write_results(rows: list[dict], meta: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / 'mqtt_bridge.json').write_text(json.dumps({'meta': meta, 'rows': rows},
                                                         indent=2))
    lines = ['# mqtt_bridge: readings/s at QoS 1', '',
             f"{meta['date']}, {meta['machine']}, broker {meta['broker']}, "
             f"{meta['lanes']} lanes{HOG_NOTE if meta['cpu_hog'] else ''}, devices: "
             f"{DEVICES_NOTE[meta['devices']]}. "
             'Bridge latency: device stamp -> published on DDS by the bridge (its /diagnostics; '
             'device -> broker -> bridge). End to end: -> received by one Python reader of every '
             "lane's topic (that reader's own queueing included).", '',
             '| offered/s | achieved/s | sent | acked | received | lost | bridge p50 ms | '
             'bridge p99 ms | bridge max ms | end-to-end p50 ms | end-to-end p99 ms | '
             'bridge CPU % |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        lines.append(f"| {r['offered_per_s']:.0f} | {r['achieved_per_s']} | {r['sent']} | "
                     f"{r['acked']} | {r['received']} | {r['lost']} | "
                     f"{r['bridge_latency_p50_ms']} | {r['bridge_latency_p99_ms']} | "
                     f"{r['bridge_latency_max_ms']} | {r['latency_p50_ms']} | "
                     f"{r['latency_p99_ms']} | {r['bridge_cpu_percent']} |")
    lines += ['', 'Reproduce: `scripts/run python bench/mqtt_bridge.py` '
              '(`--cpu-hog` beside a busy core). Target: 2,000 readings/s, 0 lost, p99 < 20 ms.']
    (RESULTS / 'mqtt_bridge.md').write_text('\n'.join(lines) + '\n')
    print('\n'.join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rates', type=float, nargs='+', default=[1000, 2000, 3000])
    parser.add_argument('--seconds', type=float, default=10.0)
    parser.add_argument('--repeat', type=int, default=2, help='runs per rate (the tail '
                        'latency of a 2-core machine varies from run to run)')
    parser.add_argument('--broker', default=mqtt_url())
    parser.add_argument('--cpu-hog', action='store_true', help='run beside a busy core')
    parser.add_argument('--devices', choices=('c', 'python'), default='c',
                        help="c: one mosquitto_pub per lane (a controller's own MQTT client); "
                             'python: ezshop_mqtt.devices, all lanes in one paho client, '
                             'niced (default: %(default)s)')
    args = parser.parse_args()
    reason = mqtt_unavailable_reason(args.broker)
    if reason:
        print(reason, file=sys.stderr)
        return 2
    claim_domain_for_this_process()
    hog = subprocess.Popen(CPU_HOG, start_new_session=True) if args.cpu_hog else None
    rows = []
    try:
        with tempfile.TemporaryDirectory() as folder:
            store_file = bench_store(Path(folder))
            for rate in args.rates:
                for _ in range(args.repeat):
                    row = run_rate(args.broker, store_file, rate, args.seconds, args.devices)
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait()
    write_results(rows, {'date': time.strftime('%Y-%m-%d'), 'broker': args.broker,
                         'machine': f'{platform.machine()}, {os.cpu_count()} cores',
                         'lanes': SHELVES * LANES, 'cpu_hog': args.cpu_hog,
                         'devices': args.devices})
    return 0 if all(row['lost'] == 0 for row in rows) else 1


if __name__ == '__main__':
    sys.exit(main())
