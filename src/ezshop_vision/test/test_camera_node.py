"""camera_node over real DDS: an image folder becomes image_raw + camera_info (with the
calibration), a video file plays, a missing source is retried with backoff and reported, the
rate is one `ros2 param set` away and the wiring is read-only."""

import cv2
import numpy as np
from rclpy.parameter import Parameter

from ezshop_ros.topics import CAMERA_INFO, IMAGE_RAW
from ezshop_vision.camera_node import CameraNode
from ezshop_vision.camera_source import Backoff
from ezshop_vision.image_conversion import imgmsg_to_cv2

CALIBRATION = """\
image_width: 160
image_height: 120
camera_name: cam_t
camera_matrix: {rows: 3, cols: 3, data: [200.0, 0.0, 80.0, 0.0, 200.0, 60.0, 0.0, 0.0, 1.0]}
distortion_model: plumb_bob
distortion_coefficients: {rows: 1, cols: 5, data: [0.1, -0.05, 0.0, 0.0, 0.0]}
rectification_matrix: {rows: 3, cols: 3, data: [1, 0, 0, 0, 1, 0, 0, 0, 1]}
projection_matrix: {rows: 3, cols: 4, data: [200, 0, 80, 0, 0, 200, 60, 0, 0, 0, 1, 0]}
"""


def _write_frames(folder, count=3):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        frame = np.full((240, 320, 3), 40 * (i + 1), np.uint8)
        cv2.imwrite(str(folder / f'{i + 1}.png'), frame)


def _camera(ros, source, **params):
    overrides = [Parameter('source', value=str(source)), Parameter('camera_id', value='cam_t'),
                 Parameter('fps', value=30.0), Parameter('width', value=160),
                 Parameter('height', value=120),
                 Parameter('diagnostic_updater.period', value=0.2)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    node = ros.add(CameraNode(context=ros.context, parameter_overrides=overrides))
    probe = ros.node('camera_probe')
    images, infos = [], []
    IMAGE_RAW.subscription(probe, images.append, camera='cam_t')
    CAMERA_INFO.subscription(probe, infos.append, camera='cam_t')
    return node, images, infos


def test_image_folder_with_calibration(ros, tmp_path):
    _write_frames(tmp_path / 'frames')
    calibration = tmp_path / 'cam.yaml'
    calibration.write_text(CALIBRATION)
    _, images, infos = _camera(ros, tmp_path / 'frames', calibration_file=str(calibration),
                               frame_id='cam_t_optical')
    assert ros.spin_until(lambda: len(images) >= 4 and infos, 10.0)
    image = images[-1]
    assert (image.width, image.height, image.encoding) == (160, 120, 'bgr8')
    assert image.header.frame_id == 'cam_t_optical'
    levels = {int(imgmsg_to_cv2(m)[0, 0, 0]) for m in images}
    assert levels <= {40, 80, 120} and len(levels) >= 2, levels
    info = infos[-1]
    assert (info.width, info.height) == (160, 120)
    assert list(info.k) == [200.0, 0.0, 80.0, 0.0, 200.0, 60.0, 0.0, 0.0, 1.0]
    assert info.distortion_model == 'plumb_bob' and len(info.d) == 5


def test_video_file_plays(ros, tmp_path):
    path = tmp_path / 'clip.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 15, (320, 240))
    assert writer.isOpened(), 'OpenCV cannot write MJPG here'
    for i in range(5):
        writer.write(np.full((240, 320, 3), 50 * i, np.uint8))
    writer.release()
    _, images, _ = _camera(ros, path)
    assert ros.spin_until(lambda: len(images) >= 6, 10.0), 'video did not play (and loop)'


def test_missing_source_is_retried_with_backoff_until_it_appears(ros, tmp_path, diag_probe):
    folder = tmp_path / 'later'
    _, images, _ = _camera(ros, folder, reconnect_initial_s=0.05, reconnect_max_s=0.2)
    assert ros.spin_until(lambda: int((diag_probe('camera_node: cam_t') or {}).get(
        'read_failures', 0)) >= 3, 10.0)
    values = diag_probe('camera_node: cam_t')
    assert values['_message'].startswith('source down') and images == []
    _write_frames(folder)
    assert ros.spin_until(lambda: len(images) >= 2, 10.0), 'did not reconnect'
    assert ros.spin_until(lambda: diag_probe('camera_node: cam_t')['_message'] == 'streaming',
                          5.0)


def test_ros2_param_set_changes_the_frame_rate_and_refuses_wiring(ros, tmp_path):
    _write_frames(tmp_path / 'frames')
    # One frame every 10 s: the first would come 10 s after the start.
    _, images, _ = _camera(ros, tmp_path / 'frames', fps=0.1)
    ros.spin_for(1.0)
    assert images == []
    result, = ros.set_parameters('/camera_node', fps=30.0)
    assert result.successful, result.reason
    assert ros.spin_until(lambda: len(images) >= 5, 5.0), 'the new rate was not applied'
    # Out of range, and wiring read once at start: refused, not silently ignored.
    too_fast, camera_id, width = ros.set_parameters('/camera_node', fps=1000.0,
                                                camera_id='cam_other', width=320)
    assert not too_fast.successful
    for refused in (camera_id, width):
        assert not refused.successful and 'read-only' in refused.reason.replace(' ', '-')


def test_backoff_doubles_up_to_the_cap_and_resets():
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
    backoff = Backoff(0.5, 8.0)
    assert [backoff.next_delay() for _ in range(4)] == [0.5, 1.0, 2.0, 4.0]
    backoff.maximum_s = 1.0  # lowered by `ros2 param set` while the source is down
    assert [backoff.next_delay() for _ in range(2)] == [1.0, 1.0]
