"""face_node: detect, track and identify faces in one or several camera streams.

The image callbacks only keep the newest frame per camera (counting the ones replaced before
they were processed as skipped); worker threads (``worker_threads``; the cameras split in the
order given into contiguous groups, each worker with its own dlib models) process the newest
frames with one FacePipeline per camera and publish cameras/<cam>/faces (header = the
image's). dlib releases the GIL, so two workers use two cores: a crowd at one door no longer
starves the other cameras.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import Image, RegionOfInterest

from ezshop_msgs.msg import FaceArray, FaceDetection, Gallery
from ezshop_ros.process import init_node_process, shutdown_node_process
from ezshop_vision.annotate import annotate
from ezshop_vision.face_engine import DetectorSettings, FaceEngine
from ezshop_vision.face_pipeline import FacePipeline, PipelineSettings
from ezshop_vision.gallery import MatchPolicy
from ezshop_vision.gallery_msgs import gallery_from_msg
from ezshop_vision.image_conversion import ImageConversionError, cv2_to_imgmsg, imgmsg_to_cv2
from ezshop_vision.ros_params import (
    declare,
    diagnostic_array,
    diagnostics_qos,
    image_qos,
    latched_qos,
    reliable_qos,
    stamp_to_seconds,
    status,
)
from ezshop_vision.tracker import TrackerSettings, new_id_source


@dataclass
class _Camera:
    """One camera's pipeline, endpoints, newest unprocessed frame and counters."""

    camera_id: str
    pipeline: FacePipeline
    faces_pub: object = None
    annotated_pub: object = None
    pending: Image | None = None
    worker: int = 0
    received: int = 0
    processed: int = 0
    skipped: int = 0
    rejected: int = 0
    errors: int = 0
    last_processed: int = 0
    last_rejected: int = 0
    last_frame_wall: float = 0.0
    processing_s: float = 0.0
    counters: dict = field(default_factory=dict)


@dataclass
class _Worker:
    """A thread with its own face engine and the cameras it processes."""

    cameras: list[_Camera] = field(default_factory=list)
    wake: threading.Event = field(default_factory=threading.Event)
    gallery: object | None = None
    thread: threading.Thread | None = None


class FaceNode(Node):
    """Faces of cameras/<cam>/image_raw -> cameras/<cam>/faces (+ image_annotated)."""

    def __init__(self, **kwargs):
        super().__init__('face_node', **kwargs)
        camera_ids = declare(self, 'camera_ids', ['cam_entrance'],
                             'Cameras to process (one pipeline each; topics '
                             'cameras/<id>/image_raw -> cameras/<id>/faces)')
        model = declare(self, 'detector_model', 'hog', "face_recognition detector: 'hog' "
                        "(CPU) or 'cnn' (needs a CUDA dlib)")
        upsample = declare(self, 'upsample', 0, 'Times the detector upsamples the image '
                           '(finds smaller faces, ~4x slower per step)', 0, 3)
        downscale = declare(self, 'downscale', 1.0, 'Scale applied to the image before '
                            'detection (0.5 = half size, faster, misses small faces)', 0.1, 1.0)
        landmarks = declare(self, 'landmark_model', 'large', "Face alignment before encoding: "
                            "'large' (68 points) or 'small' (5 points)")
        detect_every = declare(self, 'detect_every', 3, 'Run the detector on every n-th '
                               'processed frame; faces are followed by template matching '
                               'in between', 1, 30)
        max_enc = declare(self, 'max_encodings_per_frame', 1, 'Most face encodings computed '
                          'in one frame (~0.1 s each)', 1, 16)
        tolerance = declare(self, 'tolerance', 0.55, 'Largest embedding distance that can '
                            'identify a customer', 0.1, 1.0)
        margin = declare(self, 'margin', 0.05, 'Needed distance gap between the best and the '
                         'second-best customer', 0.0, 1.0)
        votes_needed = declare(self, 'votes_needed', 2, 'Agreeing encodings needed to name a '
                               'customer', 1, 20)
        vote_window = declare(self, 'vote_window', 5, 'Encodings (votes) kept per track', 1, 20)
        recheck = declare(self, 'recheck_interval_s', 2.0, 'Re-encode an already decided '
                          'track this often (s)', 0.1, 60.0)
        unknown_recheck = declare(self, 'unknown_recheck_interval_s', 0.5, 'Re-encode a track '
                                  'that is still unknown after vote_window votes this often '
                                  '(s): a walk-in\'s track may pass to a customer', 0.05, 60.0)
        min_face_px = declare(self, 'min_face_px', 40, 'Faces smaller than this (pixels) are '
                              'tracked but not identified', 8, 1000)
        min_iou = declare(self, 'min_iou', 0.2, 'Overlap needed to continue a track with a '
                          'detection', 0.01, 1.0)
        max_misses = declare(self, 'max_misses', 2, 'Detection rounds a track may go unmatched '
                             'before it ends', 0, 30)
        follow_score = declare(self, 'min_follow_score', 0.5, 'Template-match score needed '
                               'to follow a face between detections', -1.0, 1.0)
        tracking_scale = declare(self, 'tracking_scale', 0.5, 'Image scale used for template '
                                 'following', 0.1, 1.0)
        min_appearance = declare(self, 'min_appearance', 0.3, 'Template similarity (-1..1) a '
                                 'detection needs to continue a track: lower lets a track jump '
                                 'to a neighbour who crosses it (a crowd at a shelf)', -1.0, 1.0)
        self._annotated = declare(self, 'publish_annotated', False, 'Publish '
                                  'cameras/<id>/image_annotated (boxes, track ids, names)')
        period = declare(self, 'diagnostics_period_s', 1.0, 'Period of /diagnostics (s)',
                         0.1, 60.0)
        threads = declare(self, 'worker_threads', 2, 'Threads processing the cameras (each '
                          'with its own face models; cameras are shared out among them)', 1, 8)

        camera_ids = list(dict.fromkeys(c for c in camera_ids if c))
        self._workers = [_Worker() for _ in range(max(1, min(threads, len(camera_ids))))]
        engines = [FaceEngine(DetectorSettings(model, upsample, downscale),
                              landmarks=landmarks) for _ in self._workers]
        settings = PipelineSettings(detect_every, max_enc, votes_needed, vote_window, recheck,
                                    min_face_px, unknown_recheck)
        tracker_settings = TrackerSettings(min_iou, max_misses, follow_score,
                                           tracking_scale=tracking_scale,
                                           min_appearance=min_appearance)
        self._policy = MatchPolicy(tolerance, margin)
        ids = new_id_source()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._names: dict[str, str] = {}
        self._gallery_size = 0
        self._gallery_rejected = 0
        self._cameras: dict[str, _Camera] = {}
        for index, camera_id in enumerate(camera_ids):
            # Contiguous groups in the order given: list the door cameras together so a
            # crowd at a door and the shelves it is heading for are worked on side by side.
            worker = index * len(self._workers) // len(camera_ids)
            camera = _Camera(camera_id, FacePipeline(engines[worker], settings, self._policy,
                                                     None, tracker_settings, ids),
                             worker=worker)
            self._workers[worker].cameras.append(camera)
            camera.faces_pub = self.create_publisher(
                FaceArray, f'cameras/{camera_id}/faces', reliable_qos(10))
            if self._annotated:
                camera.annotated_pub = self.create_publisher(
                    Image, f'cameras/{camera_id}/image_annotated', image_qos())
            self.create_subscription(
                Image, f'cameras/{camera_id}/image_raw',
                lambda msg, cam=camera: self._on_image(cam, msg), image_qos())
            self._cameras[camera_id] = camera
        if not self._cameras:
            self.get_logger().error('no camera_ids given: nothing to process')
        self.create_subscription(Gallery, 'gallery', self._on_gallery, latched_qos())
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                               diagnostics_qos())
        self._last_diag = time.monotonic()
        self.create_timer(period, self._publish_diagnostics)
        for index, worker in enumerate(self._workers):
            worker.thread = threading.Thread(target=self._work, args=(worker,), daemon=True,
                                             name=f'face_node_worker_{index}')
            worker.thread.start()
        self.get_logger().info(
            f'processing {", ".join(self._cameras)} in {len(self._workers)} worker(s): {model} '
            f'upsample {upsample} downscale {downscale}, detect every {detect_every} frames, '
            f'tolerance {tolerance} margin {margin}')

    # Executor thread: keep the newest frame only.
    def _on_image(self, camera: _Camera, msg: Image) -> None:
        with self._lock:
            camera.received += 1
            if camera.pending is not None:
                camera.skipped += 1
            camera.pending = msg
        self._workers[camera.worker].wake.set()

    def _on_gallery(self, msg: Gallery) -> None:
        gallery, problems = gallery_from_msg(msg)
        for problem in problems:
            self.get_logger().warning(f'gallery entry ignored: {problem}')
        with self._lock:
            for worker in self._workers:
                worker.gallery = gallery
            self._names = dict(gallery.names)
            self._gallery_size = len(gallery)
            self._gallery_rejected += len(problems)
        self.get_logger().info(f'gallery: {len(gallery)} customers')
        for worker in self._workers:
            worker.wake.set()

    # Worker threads: process the newest frame of each of their cameras.
    def _work(self, worker: _Worker) -> None:
        while not self._stop.is_set():
            if not worker.wake.wait(timeout=0.2):
                continue
            worker.wake.clear()
            for camera in worker.cameras:
                with self._lock:
                    msg, camera.pending = camera.pending, None
                    gallery, worker.gallery = worker.gallery, None
                if gallery is not None:
                    for cam in worker.cameras:
                        cam.pipeline.set_gallery(gallery)
                if msg is not None and not self._stop.is_set():
                    self._process(camera, msg)

    def _process(self, camera: _Camera, msg: Image) -> None:
        start = time.monotonic()
        try:
            rgb = imgmsg_to_cv2(msg, 'rgb8')
        except ImageConversionError as exc:
            camera.rejected += 1
            self.get_logger().warning(
                f'{camera.camera_id}: image rejected: {exc}', throttle_duration_sec=5.0)
            return
        try:
            results = camera.pipeline.process(rgb, stamp_to_seconds(msg.header.stamp))
        except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the node
            camera.errors += 1
            self.get_logger().error(f'{camera.camera_id}: processing failed: {exc!r}',
                                    throttle_duration_sec=5.0)
            return
        out = FaceArray(header=msg.header, camera_id=camera.camera_id)
        for face in results:
            box = face.box.clipped(msg.width, msg.height)
            out.faces.append(FaceDetection(
                track_id=face.track_id, customer_id=face.customer_id,
                match_distance=float(face.distance), confidence=float(face.confidence),
                roi=RegionOfInterest(x_offset=int(box.x), y_offset=int(box.y),
                                     width=int(box.w), height=int(box.h))))
        try:
            camera.faces_pub.publish(out)
        except Exception:  # noqa: BLE001 - the context may close under the worker at shutdown
            if self.context.ok():
                raise
            return
        if camera.annotated_pub is not None and camera.annotated_pub.get_subscription_count():
            bgr = rgb[:, :, ::-1]
            with self._lock:
                names = dict(self._names)
            camera.annotated_pub.publish(cv2_to_imgmsg(annotate(bgr, results, names), 'bgr8',
                                                       header=msg.header))
        camera.processed += 1
        camera.last_frame_wall = time.monotonic()
        camera.processing_s += camera.last_frame_wall - start

    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        elapsed = max(now - self._last_diag, 1e-6)
        self._last_diag = now
        statuses = []
        for camera in self._cameras.values():
            stats = camera.pipeline.stats
            fps = (camera.processed - camera.last_processed) / elapsed
            new_rejects = camera.rejected - camera.last_rejected
            camera.last_processed, camera.last_rejected = camera.processed, camera.rejected
            mean_ms = 1000 * camera.processing_s / max(camera.processed, 1)
            level, message = DiagnosticStatus.OK, 'ok'
            if new_rejects:
                level, message = DiagnosticStatus.WARN, f'{new_rejects} malformed image(s)'
            elif camera.processed == 0 or now - camera.last_frame_wall > 5.0:
                level, message = DiagnosticStatus.WARN, 'no images'
            statuses.append(status(
                f'{self.get_name()}: {camera.camera_id}', level, message, {
                    'frames_received': camera.received,
                    'frames_processed': camera.processed,
                    'frames_skipped': camera.skipped,
                    'images_rejected': camera.rejected,
                    'processing_errors': camera.errors,
                    'fps': f'{fps:.1f}',
                    'mean_processing_ms': f'{mean_ms:.1f}',
                    'tracks': len(camera.pipeline.tracker.tracks),
                    'detections_run': stats.detections_run,
                    'encodings': stats.encodings,
                    'gallery_customers': self._gallery_size,
                    'gallery_entries_rejected': self._gallery_rejected,
                }, hardware_id=camera.camera_id))
        self._diag_pub.publish(diagnostic_array(self, statuses))

    def destroy_node(self):
        self._stop.set()
        for worker in self._workers:
            worker.wake.set()
        for worker in self._workers:
            if worker.thread is not None and worker.thread.is_alive():
                worker.thread.join(timeout=5.0)
        return super().destroy_node()


def main(args=None):
    init_node_process(args)
    node = FaceNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        shutdown_node_process()
