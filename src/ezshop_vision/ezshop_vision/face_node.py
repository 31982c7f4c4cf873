"""face_node: detect, track and identify faces in one or several camera streams.

The image callbacks only keep the newest frame per camera (counting the ones replaced before
they were processed as skipped); worker threads (``worker_threads``, each with its own dlib
models) process the newest frames with one FacePipeline per camera and publish
cameras/<cam>/faces (header = the image's). The workers share every camera (work_queue): a free
worker takes the camera whose frame has waited longest (a shelf camera with a face at a lane
not named yet gets a head start, ``lane_head_start_s``), and a camera is processed by one worker
at a time. dlib releases the GIL, so two workers use two cores, and a crowd at one camera gets
both while the others are quiet.

A shelf camera (one covering lanes in the store file) also gets a second look: where someone
stands at a lane and the detector found no face, dlib's CNN detector looks again, at most every
``second_look_interval_s`` (ezshop_vision.second_look).

Each camera also keeps a few frames a second of its recent past with their faces
(snapshots.FrameHistory); the ``~/get_snapshot`` service draws one as a JPEG for the review
queue.

On start (a respawn after a crash) a catch-up thread fetches what each camera kept of the last
``catch_up_s`` (cameras/<cam>/recent_frames, page by page); the workers process those frames
oldest first, publishing their faces with the frames' own stamps, before they go live: a reach
or a door pass during the restart is decided from the faces it had. Consumers drop what they
already had (faces stamped at or before their newest of that camera).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import cv2
from rclpy.node import Node
from sensor_msgs.msg import Image, RegionOfInterest
from std_msgs.msg import Header

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import FaceArray, FaceDetection, TrackIdentity
from ezshop_msgs.srv import GetRecentFrames, GetSnapshot
from ezshop_ros.diagnostics import OK, WARN, diagnostics_updater, fill
from ezshop_ros.gallery import GalleryClient
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamps import stamp_ns, stamp_seconds, time_from_ns
from ezshop_ros.topics import FACES, IMAGE_ANNOTATED, IMAGE_RAW, TRACK_IDENTITIES
from ezshop_vision.annotate import annotate
from ezshop_vision.face_engine import FaceEngine, FaceEngineSettings
from ezshop_vision.face_pipeline import FacePipeline, PipelineSettings
from ezshop_vision.gallery import MatchPolicy
from ezshop_vision.image_conversion import ImageConversionError, cv2_to_imgmsg, imgmsg_to_cv2
from ezshop_vision.messages import GalleryKeeper
from ezshop_vision.recent_frames import (
    CATCH_UP_TIME_FACTOR,
    CAUGHT_UP_FRAMES,
    CatchUpSettings,
)
from ezshop_vision.recent_frames_service import (
    RECENT_FRAMES_SERVICE,
    PastFrame,
    RecentFramesError,
    fetch_page,
)
from ezshop_vision.second_look import SecondLookSettings, second_look_for
from ezshop_vision.snapshots import FrameHistory, SnapshotSettings, render_snapshot
from ezshop_vision.tracker import TrackerSettings, new_id_source
from ezshop_vision.visit_memory import TrackLink, VisitMemory, VisitMemorySettings
from ezshop_vision.work_queue import CameraQueue


@dataclass
class _Camera:
    """One camera's pipeline, endpoints, newest unprocessed frame and counters."""

    camera_id: str
    pipeline: FacePipeline
    faces_pub: object = None
    annotated_pub: object = None
    pending: Image | None = None
    gallery: object | None = None  # a newer gallery for the pipeline, set by the next worker
    received: int = 0
    processed: int = 0
    skipped: int = 0
    rejected: int = 0
    errors: int = 0
    last_processed: int = 0
    last_rejected: int = 0
    last_frame_wall: float = 0.0
    last_report_wall: float = 0.0
    processing_s: float = 0.0
    counters: dict = field(default_factory=dict)
    history: FrameHistory | None = None
    frame_id: str = ''  # of the newest frame (the camera's optical frame)
    last_stamp_ns: int = -1  # of the newest frame processed: older live frames are stale
    backlog: deque = field(default_factory=deque)  # PastFrames fetched, oldest first
    catching_up: bool = False  # live frames wait until the backlog is fetched and done
    catch_up: str = 'live'  # in words, for diagnostics
    caught_up: int = 0  # past frames processed
    stale: int = 0  # live frames not newer than one processed (after a catch-up)


@dataclass
class _Worker:
    """A thread with its own face engine (dlib objects are not safe for concurrent use)."""

    engine: FaceEngine
    thread: threading.Thread | None = None


class FaceNode(Node):
    """Faces of cameras/<cam>/image_raw -> cameras/<cam>/faces (+ image_annotated)."""

    def __init__(self, **kwargs):
        super().__init__('face_node', **kwargs)
        camera_ids = declare_read_only(self, 'camera_ids', ['cam_entrance'],
                                       'Cameras to process (one pipeline each; topics '
                                       'cameras/<id>/image_raw -> cameras/<id>/faces)')
        self._annotated = declare_read_only(self, 'publish_annotated', False, 'Publish '
                                            'cameras/<id>/image_annotated (boxes, track ids, '
                                            'names)')
        store_file = declare_read_only(self, 'store_file', '', 'Store description (YAML): the '
                                       "shelf cameras' reach zones; empty = ezshop_bringup's "
                                       'config/store.yaml')
        self._engine_settings = declare_settings(self, FaceEngineSettings,
                                                 on_change=self._on_engine)
        self._pipeline_settings = declare_settings(self, PipelineSettings,
                                                   on_change=self._on_pipeline)
        self._tracker_settings = declare_settings(self, TrackerSettings,
                                                  on_change=self._on_tracker)
        self._policy = declare_settings(self, MatchPolicy, on_change=self._on_policy)
        self._snapshot_settings = declare_settings(self, SnapshotSettings)
        self._catch_up_settings = declare_settings(self, CatchUpSettings)
        self._visit_memory = VisitMemory(declare_settings(self, VisitMemorySettings,
                                                          on_change=self._on_visit_memory))
        self._second_look_settings = declare_settings(self, SecondLookSettings,
                                                      on_change=self._on_second_look)
        store_cameras = {c.camera_id: c for c in load_store(store_file or None).cameras}
        self._started_ns = self.get_clock().now().nanoseconds
        engine = self._engine_settings

        camera_ids = list(dict.fromkeys(c for c in camera_ids if c))
        self._stop = threading.Event()
        self._queue = CameraQueue()
        self._workers = [_Worker(FaceEngine(engine.detector, landmarks=engine.landmark_model))
                         for _ in range(max(1, min(engine.worker_threads, len(camera_ids))))]
        ids = new_id_source()
        self._lock = threading.Lock()
        self._keeper = GalleryKeeper(self._on_gallery, self.get_logger())
        self._gallery_ready = threading.Event()
        self._cameras: dict[str, _Camera] = {}
        for camera_id in camera_ids:
            # The engine is the processing worker's, set before each frame.
            camera = _Camera(camera_id, FacePipeline(
                self._workers[0].engine, self._pipeline_settings, self._policy, None,
                self._tracker_settings, ids, self._visit_memory, camera_id,
                second_look_for(store_cameras.get(camera_id), self._second_look_settings)),
                history=FrameHistory(self._snapshot_settings))
            camera.faces_pub = FACES.publisher(self, camera=camera_id)
            if self._annotated:
                camera.annotated_pub = IMAGE_ANNOTATED.publisher(self, camera=camera_id)
            IMAGE_RAW.subscription(self, lambda msg, cam=camera: self._on_image(cam, msg),
                                   camera=camera_id)
            camera.catching_up = self._catch_up_settings.catch_up_s > 0
            self._cameras[camera_id] = camera
        if not self._cameras:
            self.get_logger().error('no camera_ids given: nothing to process')
        self._identities_pub = TRACK_IDENTITIES.publisher(self)
        self._tracks_linked = 0
        self._gallery_client = GalleryClient(self, self._keeper, with_embeddings=True)
        self._snapshots_served = 0
        self._snapshots_refused = 0
        self.create_service(GetSnapshot, '~/get_snapshot', self._on_get_snapshot)
        self._diagnostics = diagnostics_updater(self, self.get_name())
        for camera in self._cameras.values():
            camera.last_report_wall = time.monotonic()
            self._diagnostics.add(camera.camera_id,
                                  lambda stat, cam=camera: self._camera_status(stat, cam))
        for index, worker in enumerate(self._workers):
            worker.thread = threading.Thread(target=self._work, args=(worker,), daemon=True,
                                             name=f'face_node_worker_{index}')
            worker.thread.start()
        self._recent_clients = {
            camera_id: self.create_client(GetRecentFrames,
                                          RECENT_FRAMES_SERVICE.format(camera=camera_id))
            for camera_id in self._cameras} if self._catch_up_settings.catch_up_s > 0 else {}
        self._catch_up_thread = threading.Thread(target=self._catch_up, daemon=True,
                                                 name='face_node_catch_up')
        if self._recent_clients:
            self._catch_up_thread.start()
        self.get_logger().info(
            f'processing {", ".join(self._cameras)} in {len(self._workers)} worker(s): '
            f'{engine.detector_model} upsample {engine.upsample} downscale {engine.downscale}, '
            f'detect every {self._pipeline_settings.detect_every} frames, '
            f'tolerance {self._policy.tolerance} margin {self._policy.margin}')

    # Executor thread: `ros2 param set` of a dynamic setting; the workers read it next frame.
    def _on_engine(self, settings: FaceEngineSettings) -> None:
        self._engine_settings = settings
        for worker in self._workers:
            worker.engine.settings = settings.detector

    def _on_second_look(self, settings: SecondLookSettings) -> None:
        self._second_look_settings = settings
        for camera in self._cameras.values():
            if camera.pipeline.second_look is not None:
                camera.pipeline.second_look.settings = settings

    def _on_pipeline(self, settings: PipelineSettings) -> None:
        self._pipeline_settings = settings
        for camera in self._cameras.values():
            camera.pipeline.settings = settings

    def _on_tracker(self, settings: TrackerSettings) -> None:
        self._tracker_settings = settings
        for camera in self._cameras.values():
            camera.pipeline.tracker.settings = settings

    def _on_policy(self, policy: MatchPolicy) -> None:
        self._policy = policy
        for camera in self._cameras.values():
            camera.pipeline.policy = policy

    def _on_visit_memory(self, settings: VisitMemorySettings) -> None:
        self._visit_memory.settings = settings

    # Executor thread: keep the newest frame only.
    def _on_image(self, camera: _Camera, msg: Image) -> None:
        with self._lock:
            camera.received += 1
            if camera.pending is not None:
                camera.skipped += 1
            camera.pending = msg
        self._queue.ready(camera.camera_id, self._head_start(camera))

    def _head_start(self, camera: _Camera) -> float:
        return self._engine_settings.lane_head_start_s if camera.pipeline.unnamed_at_lane \
            else 0.0

    # Executor thread: the gallery is complete at a revision; the workers take it.
    def _on_gallery(self, revision, whole: bool) -> None:
        with self._lock:
            for camera in self._cameras.values():
                camera.gallery = self._keeper.gallery  # re-decides the tracks it holds
        self._visit_memory.use_gallery(self._keeper.gallery, self._policy)
        self._gallery_ready.set()
        if whole:
            self.get_logger().info(f'gallery: {len(self._keeper.gallery)} customers '
                                   f'(revision {revision[1]})')
        for camera_id in self._cameras:
            self._queue.ready(camera_id)

    # Catch-up thread: fetch each camera's recent past into its backlog, page by page.
    def _catch_up(self) -> None:
        settings = self._catch_up_settings
        log = self.get_logger()
        cameras = [self._cameras[c] for c in self._recent_clients]
        for camera in cameras:
            client = self._recent_clients[camera.camera_id]
            if not client.wait_for_service(timeout_sec=settings.catch_up_wait_s):
                self._go_live(camera, 'live only: the camera kept no recent frames for us '
                              '(recent_frames not offered)')
        if any(c.catching_up for c in cameras) and \
                not self._gallery_ready.wait(settings.catch_up_wait_s):
            log.warning('catching up without a gallery (none received yet): the faces of the '
                        'frames before start stay unknown')
        after = {c.camera_id: self._started_ns - int(settings.catch_up_s * 1e9) for c in cameras}
        give_up = time.monotonic() + settings.catch_up_wait_s + \
            CATCH_UP_TIME_FACTOR * settings.catch_up_s
        fetched = {c.camera_id: 0 for c in cameras}
        while not self._stop.is_set():
            waiting = [c for c in cameras if c.catching_up]
            if not waiting:
                break
            if time.monotonic() > give_up:
                for camera in waiting:
                    self._go_live(camera, 'gave up catching up: the camera publishes faster '
                                  'than this node processed its past')
                break
            due = [c for c in waiting if len(c.backlog) <= 1]
            if not due:
                self._stop.wait(0.02)
                continue
            for camera in due:
                try:
                    page = fetch_page(self._recent_clients[camera.camera_id],
                                      after[camera.camera_id], timeout_s=5.0)
                except RecentFramesError as exc:
                    self._go_live(camera, f'catch-up stopped: {exc}')
                    continue
                if page.undecodable:
                    camera.rejected += page.undecodable
                if page.frames:
                    after[camera.camera_id] = page.frames[-1].stamp_ns
                    fetched[camera.camera_id] += len(page.frames)
                    with self._lock:
                        camera.backlog.extend(page.frames)
                    self._queue.ready(camera.camera_id)
                if not page.more and len(page.frames) <= CAUGHT_UP_FRAMES:
                    self._go_live(camera, f'caught up ({fetched[camera.camera_id]} past '
                                  'frames)')

    def _go_live(self, camera: _Camera, how: str) -> None:
        with self._lock:
            camera.catching_up = False
            camera.catch_up = how
        self.get_logger().info(f'{camera.camera_id}: {how}')
        self._queue.ready(camera.camera_id)

    # Worker threads: the camera waiting longest; its fetched past oldest first, then its
    # newest frame.
    def _work(self, worker: _Worker) -> None:
        while not self._stop.is_set():
            camera_id = self._queue.take(timeout=0.2)
            if camera_id is None:
                continue
            camera = self._cameras[camera_id]
            try:
                self._work_on(camera, worker.engine)
            finally:
                with self._lock:
                    more = bool(camera.backlog) and not self._stop.is_set()
                self._queue.done(camera_id)
                if more:
                    self._queue.ready(camera_id, self._head_start(camera))

    def _work_on(self, camera: _Camera, engine: FaceEngine) -> None:
        msg = past = None
        with self._lock:
            if camera.backlog:
                past = camera.backlog.popleft()
            elif not camera.catching_up:
                msg, camera.pending = camera.pending, None
            gallery, camera.gallery = camera.gallery, None
        camera.pipeline.engine = engine
        if gallery is not None:
            camera.pipeline.set_gallery(gallery)
        if self._stop.is_set():
            return
        if past is not None:
            self._process_past(camera, past)
        elif msg is not None:
            self._process_live(camera, msg)

    def _process_live(self, camera: _Camera, msg: Image) -> None:
        if stamp_ns(msg.header.stamp) <= camera.last_stamp_ns:
            camera.stale += 1  # the catch-up already processed a frame this new
            return
        start = time.monotonic()
        try:
            rgb = imgmsg_to_cv2(msg, 'rgb8')
        except ImageConversionError as exc:
            camera.rejected += 1
            self.get_logger().warning(
                f'{camera.camera_id}: image rejected: {exc}', throttle_duration_sec=5.0)
            return
        self._process(camera, msg.header, msg.width, msg.height, rgb, start)

    def _process_past(self, camera: _Camera, past: PastFrame) -> None:
        if past.stamp_ns <= camera.last_stamp_ns:
            camera.stale += 1
            return
        start = time.monotonic()
        rgb = cv2.cvtColor(past.bgr, cv2.COLOR_BGR2RGB)
        header = Header(stamp=time_from_ns(past.stamp_ns), frame_id=past.frame_id)
        if self._process(camera, header, rgb.shape[1], rgb.shape[0], rgb, start):
            camera.caught_up += 1

    def _process(self, camera: _Camera, header: Header, width: int, height: int, rgb,
                 start: float) -> bool:
        """Faces of one frame, published with its header; True when published."""
        try:
            results = camera.pipeline.process(rgb, stamp_seconds(header.stamp))
        except Exception as exc:  # noqa: BLE001 - one bad frame must not stop the node
            camera.errors += 1
            self.get_logger().error(f'{camera.camera_id}: processing failed: {exc!r}',
                                    throttle_duration_sec=5.0)
            return False
        out = FaceArray(header=header, camera_id=camera.camera_id)
        for face in results:
            box = face.box.clipped(width, height)
            out.faces.append(FaceDetection(
                track_id=face.track_id, customer_id=face.customer_id,
                match_distance=float(face.distance), confidence=float(face.confidence),
                roi=RegionOfInterest(x_offset=int(box.x), y_offset=int(box.y),
                                     width=int(box.width), height=int(box.height))))
        links, camera.pipeline.links = camera.pipeline.links, []
        try:
            for link in links:
                self._identities_pub.publish(self._identity_msg(link, header))
            camera.faces_pub.publish(out)
        except Exception:  # noqa: BLE001 - the context may close under the worker at shutdown
            if self.context.ok():
                raise
            return False
        with self._lock:
            self._tracks_linked += len(links)
        for link in links:
            self.get_logger().info(
                f'{link.camera_id} track {link.track_id} (unknown) is {link.customer_id}: '
                f'identified since at {camera.camera_id} (distance {link.distance:.2f})')
        if camera.annotated_pub is not None and camera.annotated_pub.get_subscription_count():
            bgr = rgb[:, :, ::-1]
            with self._lock:
                names = self._keeper.gallery.names
            camera.annotated_pub.publish(cv2_to_imgmsg(annotate(bgr, results, names), 'bgr8',
                                                       header=header))
        camera.history.add(stamp_ns(header.stamp), rgb, results)
        camera.frame_id = header.frame_id
        camera.last_stamp_ns = stamp_ns(header.stamp)
        camera.processed += 1
        camera.last_frame_wall = time.monotonic()
        camera.processing_s += camera.last_frame_wall - start
        return True

    @staticmethod
    def _identity_msg(link: TrackLink, header: Header) -> TrackIdentity:
        return TrackIdentity(
            header=Header(stamp=header.stamp),
            camera_id=link.camera_id, track_id=link.track_id, customer_id=link.customer_id,
            match_distance=float(link.distance), confidence=float(link.confidence),
            first_seen=time_from_ns(int(round(link.first_seen * 1e9))),
            last_seen=time_from_ns(int(round(link.last_seen * 1e9))))

    # Executor thread: a review snapshot (rare; the JPEG is made only now).
    def _on_get_snapshot(self, request: GetSnapshot.Request, response: GetSnapshot.Response):
        camera = self._cameras.get(request.camera_id)
        wanted = stamp_ns(request.stamp)
        frame = camera.history.nearest(wanted) if camera is not None else None
        if frame is None:
            self._snapshots_refused += 1
            response.success = False
            response.message = (f'unknown camera {request.camera_id!r}' if camera is None else
                                f'{request.camera_id}: no frame kept within '
                                f'{self._snapshot_settings.snapshot_max_offset_s:g} s of that '
                                'moment (older than snapshot_history_s?)')
            return response
        roi = request.highlight
        with self._lock:
            names = self._keeper.gallery.names
        response.image.format = 'jpeg'
        response.image.header.stamp = time_from_ns(frame.stamp_ns)
        response.image.header.frame_id = camera.frame_id
        response.image.data = render_snapshot(
            frame, names, (roi.x_offset, roi.y_offset, roi.width, roi.height))
        response.offset_s = (frame.stamp_ns - wanted) / 1e9
        response.success = True
        self._snapshots_served += 1
        return response

    def _camera_status(self, stat, camera: _Camera):
        """The diagnostic_updater task of one camera (hardware id = the camera)."""
        now = time.monotonic()
        elapsed = max(now - camera.last_report_wall, 1e-6)
        camera.last_report_wall = now
        stats = camera.pipeline.stats
        fps = (camera.processed - camera.last_processed) / elapsed
        new_rejects = camera.rejected - camera.last_rejected
        camera.last_processed, camera.last_rejected = camera.processed, camera.rejected
        mean_ms = 1000 * camera.processing_s / max(camera.processed, 1)
        level, message = OK, 'ok'
        if new_rejects:
            level, message = WARN, f'{new_rejects} malformed image(s)'
        elif camera.processed == 0 or now - camera.last_frame_wall > 5.0:
            level, message = WARN, 'no images'
        stat.hardware_id = camera.camera_id
        return fill(stat, level, message, {
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
            'visit_matches': stats.visit_matches,
            'second_looks': stats.second_looks,
            'second_look_faces': stats.second_look_faces,
            'weak_encodings': stats.weak_encodings,
            'weak_faces': stats.weak_faces,
            'visit_memory_customers': len(self._visit_memory),
            'ended_tracks_kept': self._visit_memory.ended_tracks,
            'tracks_linked': self._tracks_linked,
            'gallery_customers': len(self._keeper.gallery),
            'gallery_revision': (self._gallery_client.have or ('', 0))[1],
            'snapshot_frames_kept': len(camera.history),
            'snapshots_served': self._snapshots_served,
            'snapshots_refused': self._snapshots_refused,
            'gallery_entries_rejected': self._keeper.rejected,
            'catch_up': camera.catch_up if not camera.catching_up else 'catching up',
            'frames_caught_up': camera.caught_up,
            'frames_stale': camera.stale,
        })

    def destroy_node(self):
        if not hasattr(self, '_workers'):  # refused its configuration before starting any
            return super().destroy_node()
        self._stop.set()
        self._queue.close()
        for thread in [w.thread for w in self._workers] + [self._catch_up_thread]:
            if thread is not None and thread.is_alive():
                thread.join(timeout=5.0)
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(FaceNode, args)
