"""camera_node: frames from a device, video file, stream URL or image folder ->
cameras/<cam>/image_raw (bgr8) and camera_info; reconnects with backoff when the source fails.
"""

from __future__ import annotations

import time

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from sensor_msgs.msg import CameraInfo, Image

from ezshop_ros.process import init_node_process, shutdown_node_process
from ezshop_vision.calibration import CalibrationError, load_calibration
from ezshop_vision.camera_source import Backoff, FrameSource, SourceError, fit_frame
from ezshop_vision.image_conversion import cv2_to_imgmsg
from ezshop_vision.ros_params import (
    declare,
    diagnostic_array,
    diagnostics_qos,
    image_qos,
    status,
)


class CameraNode(Node):
    """Publishes one camera's frames at a fixed rate."""

    def __init__(self, **kwargs):
        super().__init__('camera_node', **kwargs)
        source = declare(self, 'source', '0', 'Device index ("0"), video file, stream URL '
                         '(rtsp://, http://) or a folder of images')
        self.camera_id = declare(self, 'camera_id', 'cam_entrance', 'Camera id; topics are '
                                 'cameras/<camera_id>/image_raw and camera_info')
        self.frame_id = declare(self, 'frame_id', '', 'frame_id of the images (empty = '
                                'camera_id)') or self.camera_id
        fps = declare(self, 'fps', 15.0, 'Frames published per second', 0.1, 120.0)
        self.width = declare(self, 'width', 640, 'Output width in pixels (0 = as the source)',
                             0, 8192)
        self.height = declare(self, 'height', 480, 'Output height in pixels (0 = as the '
                              'source)', 0, 8192)
        loop = declare(self, 'loop', True, 'Start a video file or image folder again at its '
                       'end')
        self._start_when_subscribed = declare(
            self, 'start_when_subscribed', False, 'Read no frame until image_raw has a '
            'subscriber (plays a clip or folder from its start for a late face_node)')
        calibration_file = declare(self, 'calibration_file', '', 'camera_calibration YAML '
                                   'for camera_info (empty = camera_info without intrinsics)')
        self._backoff = Backoff(
            declare(self, 'reconnect_initial_s', 0.5, 'First reconnect delay (s); doubles '
                    'after each failure', 0.01, 60.0),
            declare(self, 'reconnect_max_s', 10.0, 'Longest reconnect delay (s)', 0.01, 600.0))
        period = declare(self, 'diagnostics_period_s', 1.0, 'Period of /diagnostics (s)',
                         0.1, 60.0)
        self._calibration = None
        if calibration_file:
            try:
                self._calibration = load_calibration(calibration_file)
            except CalibrationError as exc:
                self.get_logger().error(f'{exc}; publishing camera_info without intrinsics')
        self._source = FrameSource(source, loop=loop)
        self._next_attempt = 0.0
        self._finished = False
        self.published = 0
        self.failures = 0
        self.reconnects = 0
        self._opened_once = False
        self._last_error = ''
        self._image_pub = self.create_publisher(
            Image, f'cameras/{self.camera_id}/image_raw', image_qos())
        self._info_pub = self.create_publisher(
            CameraInfo, f'cameras/{self.camera_id}/camera_info', image_qos())
        self._diag_pub = self.create_publisher(DiagnosticArray, '/diagnostics',
                                               diagnostics_qos())
        self.create_timer(1.0 / fps, self._tick)
        self.create_timer(period, self._publish_diagnostics)
        self.get_logger().info(f'camera {self.camera_id}: {self._source.kind} {source} at '
                               f'{fps} fps')

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
        frame = fit_frame(frame, self.width, self.height)
        image = cv2_to_imgmsg(frame, 'bgr8')
        image.header.stamp = self.get_clock().now().to_msg()
        image.header.frame_id = self.frame_id
        self._image_pub.publish(image)
        self._info_pub.publish(self._camera_info(image))
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

    def _publish_diagnostics(self) -> None:
        if self._finished:
            level, message = DiagnosticStatus.OK, 'end of source'
        elif self._source.is_open:
            level, message = DiagnosticStatus.OK, 'streaming'
        else:
            level, message = DiagnosticStatus.ERROR, f'source down: {self._last_error}'
        self._diag_pub.publish(diagnostic_array(self, [status(
            f'{self.get_name()}: {self.camera_id}', level, message, {
                'source': self._source.source,
                'source_kind': self._source.kind,
                'frames_published': self.published,
                'read_failures': self.failures,
                'reconnects': self.reconnects,
            }, hardware_id=self.camera_id)]))

    def destroy_node(self):
        self._source.close()
        return super().destroy_node()


def main(args=None):
    init_node_process(args)
    node = CameraNode()
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        shutdown_node_process()
