"""camera_node: frames from a device, video file, stream URL or image folder ->
cameras/<cam>/image_raw (bgr8) and camera_info; reconnects with backoff when the source fails.
Keeps a few frames a second of its recent past and serves them on cameras/<cam>/recent_frames
for a face node that restarted.
"""

from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from ezshop_ros.diagnostics import ERROR, OK, diagnostics_updater, task
from ezshop_ros.parameters import declare_read_only, declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.topics import CAMERA_INFO, IMAGE_RAW
from ezshop_vision.calibration import CalibrationError, load_calibration
from ezshop_vision.camera_source import (
    Backoff,
    CameraSettings,
    FrameSource,
    SourceError,
    fit_frame,
)
from ezshop_vision.image_conversion import cv2_to_imgmsg
from ezshop_vision.recent_frames import RecentFrames, RecentFramesSettings
from ezshop_vision.recent_frames_service import RecentFramesServer


class CameraNode(Node):
    """Publishes one camera's frames at a fixed rate."""

    def __init__(self, **kwargs):
        super().__init__('camera_node', **kwargs)
        source = declare_read_only(self, 'source', '0', 'Device index ("0"), video file, '
                                   'stream URL (rtsp://, http://) or a folder of images')
        self.camera_id = declare_read_only(self, 'camera_id', 'cam_entrance', 'Camera id; '
                                           'topics are cameras/<camera_id>/image_raw and '
                                           'camera_info')
        self.frame_id = declare_read_only(self, 'frame_id', '', 'frame_id of the images '
                                          '(empty = camera_id)') or self.camera_id
        calibration_file = declare_read_only(self, 'calibration_file', '', 'camera_calibration'
                                             ' YAML for camera_info (empty = camera_info '
                                             'without intrinsics)')
        self.settings = declare_settings(self, CameraSettings, on_change=self._on_settings)
        self._recent = RecentFramesServer(self, self.camera_id, self.frame_id, RecentFrames(
            declare_settings(self, RecentFramesSettings)))
        self._start_when_subscribed = self.settings.start_when_subscribed
        self._backoff = Backoff(self.settings.reconnect_initial_s,
                                self.settings.reconnect_max_s)
        self._calibration = None
        if calibration_file:
            try:
                self._calibration = load_calibration(calibration_file)
            except CalibrationError as exc:
                self.get_logger().error(f'{exc}; publishing camera_info without intrinsics')
        self._source = FrameSource(source, loop=self.settings.loop)
        self._next_attempt = 0.0
        self._finished = False
        self.published = 0
        self.failures = 0
        self.reconnects = 0
        self._opened_once = False
        self._last_error = ''
        self._image_pub = IMAGE_RAW.publisher(self, camera=self.camera_id)
        self._info_pub = CAMERA_INFO.publisher(self, camera=self.camera_id)
        self._timer = self.create_timer(1.0 / self.settings.fps, self._tick)
        self._diagnostics = diagnostics_updater(self, self.camera_id)
        self._diagnostics.add(self.camera_id, task(self._camera_status))
        self.get_logger().info(f'camera {self.camera_id}: {self._source.kind} {source} at '
                               f'{self.settings.fps} fps')

    def _on_settings(self, settings: CameraSettings) -> None:
        """A `ros2 param set` of the rate or the reconnect delays: applied at once."""
        if settings.fps != self.settings.fps:
            self.destroy_timer(self._timer)
            self._timer = self.create_timer(1.0 / settings.fps, self._tick)
        self._backoff.initial_s = settings.reconnect_initial_s
        self._backoff.maximum_s = settings.reconnect_max_s
        self.settings = settings

    def _tick(self) -> None:
        if self._finished:
            return
        if self._start_when_subscribed:
            if not self._image_pub.get_subscription_count():
                return
            self._start_when_subscribed = False
        if not self._source.is_open:
            if time.monotonic() < self._next_attempt:
                return
            try:
                self._source.open()
            except SourceError as exc:
                self._fail(str(exc))
                return
            if self._opened_once:
                self.reconnects += 1
                self.get_logger().info(f'{self.camera_id}: source reconnected')
            self._opened_once = True
        try:
            frame = self._source.read()
        except SourceError as exc:
            self._source.close()
            self._fail(str(exc))
            return
        if frame is None:
            self._finished = True
            self.get_logger().info(f'{self.camera_id}: end of source')
            return
        self._backoff.reset()
        frame = fit_frame(frame, self.settings.width, self.settings.height)
        image = cv2_to_imgmsg(frame, 'bgr8')
        now = self.get_clock().now()
        image.header.stamp = now.to_msg()
        image.header.frame_id = self.frame_id
        self._image_pub.publish(image)
        self._info_pub.publish(self._camera_info(image))
        self._recent.recent.add(now.nanoseconds, frame)
        self.published += 1

    def _fail(self, reason: str) -> None:
        self.failures += 1
        delay = self._backoff.next_delay()
        self._next_attempt = time.monotonic() + delay
        self._last_error = reason
        self.get_logger().warning(f'{self.camera_id}: {reason}; retrying in {delay:.1f} s',
                                  throttle_duration_sec=5.0)

    def _camera_info(self, image: Image) -> CameraInfo:
        info = CameraInfo(header=image.header, width=image.width, height=image.height)
        cal = self._calibration
        if cal is not None:
            info.distortion_model = cal.distortion_model
            info.d = list(cal.d)
            info.k = list(cal.k)
            info.r = list(cal.r)
            info.p = list(cal.p)
        return info

    def _camera_status(self):
        if self._finished:
            level, message = OK, 'end of source'
        elif self._source.is_open:
            level, message = OK, 'streaming'
        else:
            level, message = ERROR, f'source down: {self._last_error}'
        return level, message, {
            'source': self._source.source,
            'source_kind': self._source.kind,
            'frames_published': self.published,
            'read_failures': self.failures,
            'reconnects': self.reconnects,
            'recent_frames_kept': len(self._recent.recent),
            'recent_frames_served': self._recent.frames_served,
            'recent_frames_refused': self._recent.refused,
        }

    def destroy_node(self):
        if hasattr(self, '_source'):  # not when it refused its configuration
            self._source.close()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(CameraNode, args)
