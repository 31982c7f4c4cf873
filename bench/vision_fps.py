"""Vision throughput: the naive loop vs face_node on moving 640x480 frames of 1 to 4 faces.

Frames are built from real dev photos (ezshop_testing.scenes): 1, 2, 3 then 4 faces (each
person's photos 3+, the gallery enrolled from photos 1-2 of every dev identity), each face
moving inside its own quarter of the frame. The same seeded sequence runs through
(a) the naive loop, as tutorials write it: face_recognition detection (HOG, upsample 0) and an
    encoding of every face in every frame, each identified with the same gallery and rule;
(b) face_node, the installed executable with config/vision.yaml (ezshop_bringup), as a separate
    process: the bench publishes the frames at --feed-fps on cameras/cam_bench/image_raw
    (best effort, depth 1) and counts the FaceArrays that come back.
Printed and written (bench/results/vision_fps.json, .md), per face count: fps (frames
processed per wall second), CPU (% of one core, the process doing the work) and identification
accuracy (truth faces in processed frames reported with the right customer id; a missed face
or a not-yet-identified one counts as wrong) and wrong ids (a face given someone else's id).

Run: scripts/run python bench/vision_fps.py [--segment-s 6] [--naive-frames 12] [--feed-fps 30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path

import numpy as np

from ezshop_common.paths import config_dir, faces_root
from ezshop_testing.scenes import Mover, background, make_sprite, render
from ezshop_vision.face_photos import list_identities, load_bgr
from ezshop_vision.gallery import Gallery, MatchPolicy
from ezshop_vision.photo_encodings import photo_faces

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / 'bench' / 'results'
WIDTH, HEIGHT = 640, 480
CAM = 'cam_bench'
QUARTERS = [(0, 0, 320, 240), (320, 0, 640, 240), (0, 240, 320, 480), (320, 240, 640, 480)]


def load_people():
    identities = list_identities(faces_root() / 'dev')
    faces = photo_faces([p for i in identities for p in i.photos])
    gallery = Gallery()
    for ident in identities:
        gallery.add(ident.name, np.vstack([faces[p].embeddings[0] for p in ident.photos[:2]]),
                    ident.name)
    probes = [(ident.name, p, faces[p].boxes[0]) for ident in identities
              for p in ident.photos[2:]]
    return gallery, probes


class Scenario:
    """Segments of 1..4 moving faces; frame(i) renders frame i of a segment."""

    def __init__(self, probes, seed: int, face_px: int = 100):
        rng = random.Random(seed)
        self.segments = []
        for count in (1, 2, 3, 4):
            chosen = rng.sample(probes, count)
            movers = []
            for quarter, (name, path, box) in zip(QUARTERS, chosen, strict=False):
                sprite = make_sprite(load_bgr(path), box, name, face_px=face_px)
                h, w = sprite.image.shape[:2]
                x0, y0, x1, y1 = quarter
                movers.append(Mover(sprite, rng.uniform(x0, max(x0, x1 - w)),
                                    rng.uniform(y0, max(y0, y1 - h)),
                                    rng.choice((-1, 1)) * rng.uniform(2, 5),
                                    rng.choice((-1, 1)) * rng.uniform(1, 3), quarter))
            self.segments.append(movers)
        self.base = background(WIDTH, HEIGHT, seed)

    def fresh(self, index: int) -> list[Mover]:
        return [Mover(m.sprite, m.x, m.y, m.vx, m.vy, m.bounds) for m in self.segments[index]]


def score(results, truth) -> tuple[int, int]:
    """(correct, wrong id) over the truth faces of one frame; results: [(box, customer)]."""
    correct = wrong = 0
    for box, identity in truth:
        best = max(results, key=lambda r: r[0].iou(box), default=None)
        if best is None or best[0].iou(box) < 0.3:
            continue
        if best[1] == identity:
            correct += 1
        elif best[1]:
            wrong += 1
    return correct, wrong


def run_naive(scenario: Scenario, gallery: Gallery, policy: MatchPolicy, frames: int) -> list:
    import face_recognition

    from ezshop_common.boxes import Box

    rows = []
    for index in range(len(scenario.segments)):
        movers = scenario.fresh(index)
        correct = wrong = total = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(frames):
            for mover in movers:
                mover.step(WIDTH, HEIGHT)
            frame, truth = render(movers, scenario.base)
            rgb = frame[:, :, ::-1].copy()
            locations = face_recognition.face_locations(rgb, number_of_times_to_upsample=0)
            encodings = face_recognition.face_encodings(rgb, locations, model='large')
            results = [(Box.from_trbl(*loc), gallery.identify(enc, policy).customer_id)
                       for loc, enc in zip(locations, encodings, strict=True)]
            c, w = score(results, truth)
            correct, wrong, total = correct + c, wrong + w, total + len(truth)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows.append({'faces': index + 1, 'frames': frames, 'fps': frames / wall,
                     'cpu_percent': 100 * cpu / wall, 'accuracy': correct / total,
                     'wrong_ids': wrong, 'truth_faces': total})
        print(f'naive     {index + 1} face(s): {rows[-1]["fps"]:.1f} fps', flush=True)
    return rows


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def run_face_node(scenario: Scenario, gallery: Gallery, segment_s: float, feed_fps: float,
                  gap_s: float, extra_params: list[str]) -> tuple[list, dict]:
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from ezshop_common.boxes import Box
    from ezshop_ros.gallery import EntryList, GalleryServer
    from ezshop_ros.stamps import NS_PER_S, stamp_ns
    from ezshop_ros.topics import DIAGNOSTICS, FACES, IMAGE_RAW
    from ezshop_testing.processes import ChildProcess
    from ezshop_vision.image_conversion import cv2_to_imgmsg
    from ezshop_vision.messages import gallery_entries

    exe = ROOT / 'install' / 'ezshop_vision' / 'lib' / 'ezshop_vision' / 'face_node'
    cmd = [str(exe), '--ros-args', '--params-file', str(config_dir() / 'vision.yaml'),
           '-p', f"camera_ids:=['{CAM}']", *sum((['-p', p] for p in extra_params), [])]
    context = Context()
    rclpy.init(context=context)
    node = Node('vision_fps_bench', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    arrays, diags = [], []
    FACES.subscription(node, arrays.append, camera=CAM)
    DIAGNOSTICS.subscription(node, diags.append)
    image_pub = IMAGE_RAW.publisher(node, camera=CAM)
    entries = gallery_entries(gallery)
    GalleryServer(node, EntryList(entries))  # the store's side
    child = ChildProcess(cmd)
    rows, skipped = [], {}
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (
                image_pub.get_subscription_count() and child.output.count('gallery: ')):
            executor.spin_once(timeout_sec=0.05)
        if not image_pub.get_subscription_count():
            raise RuntimeError(f'face_node did not start:\n{child.output}')
        period = 1.0 / feed_fps
        def feed_empty(seconds):
            next_tick = time.perf_counter()
            for _ in range(int(seconds * feed_fps)):
                image = cv2_to_imgmsg(scenario.base, 'bgr8')
                image.header.stamp = node.get_clock().now().to_msg()
                image_pub.publish(image)
                next_tick += period
                while (remaining := next_tick - time.perf_counter()) > 0:
                    executor.spin_once(timeout_sec=remaining)

        for index in range(len(scenario.segments)):
            movers = scenario.fresh(index)
            truth_by_stamp = {}
            feed_empty(gap_s)  # the previous people leave before the next ones come
            arrays.clear()
            cpu0, wall0 = _proc_cpu_s(child.proc.pid), time.perf_counter()
            next_tick = time.perf_counter()
            frames = int(segment_s * feed_fps)
            for _ in range(frames):
                for mover in movers:
                    mover.step(WIDTH, HEIGHT)
                frame, truth = render(movers, scenario.base)
                image = cv2_to_imgmsg(frame, 'bgr8')
                image.header.stamp = node.get_clock().now().to_msg()
                image.header.frame_id = CAM
                truth_by_stamp[stamp_ns(image.header.stamp)] = truth
                image_pub.publish(image)
                next_tick += period
                while (remaining := next_tick - time.perf_counter()) > 0:
                    executor.spin_once(timeout_sec=remaining)
            end = time.perf_counter() + 1.0  # let the last frame come back
            while time.perf_counter() < end:
                executor.spin_once(timeout_sec=0.05)
            wall = time.perf_counter() - wall0
            cpu = _proc_cpu_s(child.proc.pid) - cpu0
            correct = wrong = total = settled_correct = settled_total = 0
            first = min(truth_by_stamp)
            for array in arrays:
                key = stamp_ns(array.header.stamp)
                truth = truth_by_stamp.get(key)
                if truth is None:
                    continue
                results = [(Box(f.roi.x_offset, f.roi.y_offset, f.roi.width, f.roi.height),
                            f.customer_id) for f in array.faces]
                c, w = score(results, truth)
                correct, wrong, total = correct + c, wrong + w, total + len(truth)
                if key - first >= NS_PER_S // 2:
                    settled_correct += c
                    settled_total += len(truth)
            processed = sum(1 for a in arrays if stamp_ns(a.header.stamp) in truth_by_stamp)
            busy = wall - 1.0
            rows.append({'faces': index + 1, 'frames_fed': frames, 'frames': processed,
                         'fps': processed / busy, 'cpu_percent': 100 * cpu / wall,
                         'accuracy': correct / max(total, 1), 'wrong_ids': wrong,
                         'truth_faces': total,
                         'accuracy_after_0_5_s': settled_correct / max(settled_total, 1)})
            print(f'face_node {index + 1} face(s): {rows[-1]["fps"]:.1f} fps', flush=True)
        for array in reversed(diags):
            for status in array.status:
                if status.name.endswith(CAM):
                    skipped = {kv.key: kv.value for kv in status.values}
                    break
            if skipped:
                break
    finally:
        child.stop()
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        rclpy.try_shutdown(context=context)
    return rows, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--segment-s', type=float, default=6.0,
                        help='seconds of face_node input per face count (longer = steadier)')
    parser.add_argument('--naive-frames', type=int, default=12,
                        help='frames per face count for the naive loop (it is slow)')
    parser.add_argument('--feed-fps', type=float, default=30.0,
                        help='rate the bench publishes frames at (above the 15 fps target)')
    parser.add_argument('--gap-s', type=float, default=1.0,
                        help='empty frames between face counts (people leave, others come)')
    parser.add_argument('--seed', type=int, default=3)
    parser.add_argument('--param', action='append', default=[],
                        help='extra face_node parameter, e.g. --param detect_every:=4')
    args = parser.parse_args()
    gallery, probes = load_people()
    policy = MatchPolicy()
    scenario = Scenario(probes, args.seed)
    naive = run_naive(scenario, gallery, policy, args.naive_frames)
    node_rows, node_diag = run_face_node(scenario, gallery, args.segment_s, args.feed_fps,
                                         args.gap_s, args.param)
    lines = ['# Vision throughput: naive loop vs face_node (640x480, moving faces)', '',
             f'Feed {args.feed_fps:g} fps, {args.segment_s:g} s per face count for face_node; '
             f'{args.naive_frames} frames per face count for the naive loop. CPU = % of one '
             f'core of the working process. {os.cpu_count()} cores, shared.', '',
             'face_node fps is capped by the feed rate; "frames per CPU-s" (fps / CPU share) is '
             'the capacity of one core. Accuracy: truth faces of processed frames reported with '
             'the right id (a new face is unknown until its votes agree, so face_node also '
             'shows the accuracy from 0.5 s after the faces appear).', '',
             '| faces | naive fps | naive CPU | naive frames per CPU-s | naive accuracy '
             '| face_node fps | face_node CPU | face_node frames per CPU-s | face_node accuracy '
             '(after 0.5 s) | speed-up (fps) | speed-up (per CPU-s) | wrong ids (naive / node) |',
             '|---|---|---|---|---|---|---|---|---|---|---|---|']
    for a, b in zip(naive, node_rows, strict=True):
        a['frames_per_cpu_s'] = a['fps'] / max(a['cpu_percent'] / 100, 1e-6)
        b['frames_per_cpu_s'] = b['fps'] / max(b['cpu_percent'] / 100, 1e-6)
        lines.append(
            f"| {a['faces']} | {a['fps']:.1f} | {a['cpu_percent']:.0f}% | "
            f"{a['frames_per_cpu_s']:.1f} | {100 * a['accuracy']:.1f}% | {b['fps']:.1f} | "
            f"{b['cpu_percent']:.0f}% | {b['frames_per_cpu_s']:.1f} | "
            f"{100 * b['accuracy']:.1f}% ({100 * b['accuracy_after_0_5_s']:.1f}%) | "
            f"{b['fps'] / a['fps']:.1f}x | "
            f"{b['frames_per_cpu_s'] / a['frames_per_cpu_s']:.1f}x | "
            f"{a['wrong_ids']} / {b['wrong_ids']} |")
    lines += ['', 'face_node diagnostics at the end: ' + ', '.join(
        f'{k}={v}' for k, v in node_diag.items()), '',
              f'Machine: {platform.machine()}, Python {platform.python_version()}.']
    text = '\n'.join(lines)
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / 'vision_fps.md').write_text(text + '\n')
    (RESULTS / 'vision_fps.json').write_text(json.dumps(
        {'args': vars(args), 'naive': naive, 'face_node': node_rows,
         'face_node_diagnostics': node_diag}, indent=1) + '\n')


if __name__ == '__main__':
    main()
