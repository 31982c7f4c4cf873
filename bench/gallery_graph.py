"""The gallery at scale in a running graph (issue 16): a store database with N customers x 3
embeddings, then store_node and face_node started on it.

For each size: store start-up (to "store ready") and its peak memory; face_node start-up (to
holding the whole gallery) and its peak memory; registration -> identifiable: a face node
watching a camera that shows a real person (photos of ../shared/faces), that person enrolled
through register_customer, the time until the face node names them (repeated with other
people; each forgotten after). The synthetic customers are random unit vectors (far from any
real face), written straight into the database (registering a million through the service
would take hours); the gallery then reaches the face node through get_gallery as in a store.

    scripts/run python bench/gallery_graph.py --sizes 1000 10000 100000 1000000

Merges its numbers into bench/results/gallery_scale.json (key "graph") and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from sqlalchemy import insert

from ezshop_common.paths import config_dir, faces_root
from ezshop_msgs.srv import ForgetCustomer, RegisterCustomer
from ezshop_ros.topics import FACES, IMAGE_RAW
from ezshop_store.db import models as m
from ezshop_store.db.engine import make_engine, upgrade
from ezshop_testing.env import claim_domain_for_this_process, ros_env
from ezshop_testing.processes import ChildProcess
from ezshop_testing.workdirs import add_keep_databases_option, bench_workdir
from ezshop_vision.face_photos import list_identities, load_bgr
from ezshop_vision.image_conversion import cv2_to_imgmsg
from ezshop_vision.photo_encodings import photo_faces

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
INSTALL = ROOT / 'install'
CAMERA = 'cam_scale'
DIM = 128
EMBEDDINGS_PER_CUSTOMER = 3
MODEL = 'dlib_face_recognition_resnet_model_v1'
FEED_HZ = 10.0


def fill_database(url: str, customers: int, seed: int = 16) -> float:
    """N synthetic customers x 3 embeddings, written in bulk; returns the seconds it took."""
    start = time.monotonic()
    engine = make_engine(url)
    upgrade(engine)
    rng = np.random.default_rng(seed)
    chunk = 20_000
    with engine.begin() as connection:
        for first in range(0, customers, chunk):
            ids = [f'c_synthetic_{k:08d}' for k in range(first, min(first + chunk, customers))]
            connection.execute(insert(m.Customer.__table__), [
                {'id': cid, 'name': f'customer {cid[-8:]}', 'consent_at_ns': 0,
                 'consent_notice': 'bench'} for cid in ids])
            vectors = rng.normal(size=(len(ids) * EMBEDDINGS_PER_CUSTOMER, DIM))
            vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype('<f4')
            connection.execute(insert(m.FaceEmbedding.__table__), [
                {'customer_id': ids[k // EMBEDDINGS_PER_CUSTOMER], 'dim': DIM, 'model': MODEL,
                 'vector': vectors[k].tobytes()} for k in range(len(vectors))])
    engine.dispose()
    return time.monotonic() - start


def peak_rss_mib(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) / 1024
    return float('nan')


class Probe:
    """The bench's node: a camera showing one person, the face node's output, the store's
    enrolment services."""

    def __init__(self):
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('gallery_graph_bench', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.image_pub = IMAGE_RAW.publisher(self.node, camera=CAMERA)
        self.named: list[tuple[float, str]] = []
        FACES.subscription(self.node, self._on_faces, camera=CAMERA)
        self.register = self.node.create_client(RegisterCustomer, 'register_customer')
        self.forget = self.node.create_client(ForgetCustomer, 'forget_customer')
        self.frame = None
        self._next_frame = 0.0

    def _on_faces(self, msg) -> None:
        now = time.monotonic()
        for face in msg.faces:
            if face.customer_id:
                self.named.append((now, face.customer_id))

    def spin(self, seconds: float, until=None) -> bool:
        """Spin (showing the frame at FEED_HZ) for up to seconds or until until()."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if until is not None and until():
                return True
            if self.frame is not None and time.monotonic() >= self._next_frame:
                msg = cv2_to_imgmsg(self.frame, 'bgr8')
                msg.header.stamp = self.node.get_clock().now().to_msg()
                self.image_pub.publish(msg)
                self._next_frame = time.monotonic() + 1.0 / FEED_HZ
            self.executor.spin_once(timeout_sec=0.01)
        return until is not None and until()

    def call(self, client, request, timeout: float = 30.0):
        if not self.spin(timeout, client.service_is_ready):
            raise RuntimeError(f'{client.srv_name} not available')
        future = client.call_async(request)
        if not self.spin(timeout, future.done):
            raise RuntimeError(f'{client.srv_name} did not answer')
        return future.result()

    def close(self) -> None:
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def registration_latencies(probe: Probe, people: list, repeats: int) -> list[float]:
    """Show a person, enrol them, time until the face node names them; forget them."""
    latencies = []
    for person in people[:repeats]:
        faces = photo_faces(person.photos)
        shown, enrolled = person.photos[-1], person.photos[:-1]
        embeddings = np.vstack([faces[p].embeddings[:1] for p in enrolled if
                                len(faces[p].embeddings)])
        probe.frame = load_bgr(shown)
        probe.spin(2.0)  # the face node tracks them, unknown
        probe.named.clear()
        sent = time.monotonic()
        answer = probe.call(probe.register, RegisterCustomer.Request(
            name=person.name, embeddings=embeddings.ravel().tolist(), dim=DIM, model=MODEL,
            consent_notice='bench'))
        if not answer.success:
            raise RuntimeError(answer.message)
        def identified(enrolled_id=answer.customer_id) -> bool:
            return any(cid == enrolled_id for _, cid in probe.named)

        if probe.spin(20.0, identified):
            first = min(t for t, cid in probe.named if cid == answer.customer_id)
            latencies.append(first - sent)
        else:
            latencies.append(float('inf'))
        probe.call(probe.forget, ForgetCustomer.Request(customer_id=answer.customer_id))
        probe.frame = None
        probe.spin(1.0)
    return latencies


def measure(size: int, work: Path, env: dict, people: list, repeats: int) -> dict:
    url = f'sqlite:///{work}/gallery_{size}.db'
    fill_s = fill_database(url, size)
    print(f'[{size:>8}] database filled in {fill_s:.1f} s', flush=True)
    started = time.monotonic()
    store = ChildProcess([str(INSTALL / 'ezshop_store/lib/ezshop_store/store_node'),
                          '--ros-args', '-p', f'database_url:={url}',
                          '-p', f'store_file:={config_dir() / "store.yaml"}'], env=env)
    face = None
    probe = Probe()
    try:
        if not store.wait_for_line('store ready', 600):
            raise RuntimeError(f'store_node did not start:\n{store.output[-3000:]}')
        store_s = time.monotonic() - started
        store_mib = peak_rss_mib(store.proc.pid)
        started = time.monotonic()
        face = ChildProcess([str(INSTALL / 'ezshop_vision/lib/ezshop_vision/face_node'),
                             '--ros-args', '-p', f"camera_ids:=['{CAMERA}']",
                             '-p', 'detect_every:=1', '-p', 'catch_up_s:=0.0'], env=env)
        if not face.wait_for_line(f'gallery: {size} customers', 900):
            raise RuntimeError(f'face_node did not load the gallery:\n{face.output[-3000:]}')
        face_s = time.monotonic() - started
        face_mib = peak_rss_mib(face.proc.pid)
        print(f'[{size:>8}] store ready in {store_s:.1f} s ({store_mib:.0f} MiB), face_node '
              f'holds the gallery in {face_s:.1f} s ({face_mib:.0f} MiB)', flush=True)
        latencies = registration_latencies(probe, people, repeats)
        print(f'[{size:>8}] registration -> identified: '
              + ', '.join(f'{s:.2f}' for s in latencies) + ' s', flush=True)
    finally:
        probe.close()
        for process in (face, store):
            if process is not None:
                process.stop()
    return {'customers': size, 'database_fill_s': fill_s, 'store_startup_s': store_s,
            'store_peak_mib': store_mib, 'face_node_startup_s': face_s,
            'face_node_peak_mib': face_mib, 'registration_to_identified_s': latencies,
            'registration_to_identified_p50_s': float(np.median(latencies)),
            'registration_to_identified_max_s': float(max(latencies))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10_000, 100_000])
    parser.add_argument('--repeats', type=int, default=8, help='people enrolled per size')
    parser.add_argument('--out', type=Path, default=RESULTS / 'gallery_scale.json')
    add_keep_databases_option(parser)
    args = parser.parse_args(argv)
    work = bench_workdir('ezshop-gallery-graph-', args.keep_databases)
    env = ros_env(claim_domain_for_this_process())
    people = [p for p in list_identities(faces_root() / 'dev') if len(p.photos) >= 3]
    rows = [measure(size, work, env, people, args.repeats) for size in args.sizes]
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results['graph'] = {'when': time.strftime('%Y-%m-%d %H:%M'), 'rows': rows,
                        'reproduce': 'scripts/run python bench/gallery_graph.py --sizes '
                                     + ' '.join(str(s) for s in args.sizes)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print('\n| customers | store start | store peak | face_node start | face_node peak | '
          'registration -> identified p50 / max |\n|---|---|---|---|---|---|')
    for r in rows:
        print(f"| {r['customers']:,} | {r['store_startup_s']:.1f} s | "
              f"{r['store_peak_mib']:.0f} MiB | {r['face_node_startup_s']:.1f} s | "
              f"{r['face_node_peak_mib']:.0f} MiB | {r['registration_to_identified_p50_s']:.2f}"
              f" / {r['registration_to_identified_max_s']:.2f} s |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
