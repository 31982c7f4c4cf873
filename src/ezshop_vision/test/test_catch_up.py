"""A face node that (re)starts catches up on what its camera saw before it was up, over real
DDS: camera_node keeps a few frames a second of a real photo stream and serves them on
cameras/<cam>/recent_frames (JPEG pages, oldest first, bounded); a face_node started seconds
later publishes the faces of those frames, with their own stamps, identified, in stamp order,
before it goes live; and a face_node whose camera keeps nothing goes live at once."""

import shutil

from rclpy.parameter import Parameter

from ezshop_msgs.srv import GetRecentFrames
from ezshop_ros.gallery import EntryList, GalleryServer
from ezshop_ros.stamps import NS_PER_S, stamp_ns, time_from_ns
from ezshop_ros.topics import FACES
from ezshop_vision.camera_node import CameraNode
from ezshop_vision.face_node import FaceNode
from ezshop_vision.image_conversion import decode_jpeg
from ezshop_vision.messages import gallery_entries
from ezshop_vision.recent_frames import MAX_PAGE
from ezshop_vision.recent_frames_service import RECENT_FRAMES_SERVICE

CAM = 'cam_catch'


def _camera(ros, tmp_path, faces_root, **params):
    folder = tmp_path / 'stream'
    folder.mkdir()
    shutil.copy(faces_root / 'dev' / 'obama' / '4.jpg', folder / '1.jpg')
    overrides = [Parameter('source', value=str(folder)), Parameter('camera_id', value=CAM),
                 Parameter('frame_id', value=f'{CAM}_optical'), Parameter('fps', value=10.0),
                 Parameter('recent_frames_s', value=10.0),
                 Parameter('recent_frames_interval_s', value=0.2)]
    overrides += [Parameter(k, value=v) for k, v in params.items()]
    return ros.add(CameraNode(context=ros.context, parameter_overrides=overrides))


def _face_node(ros, **params):
    return ros.add(FaceNode(context=ros.context, parameter_overrides=[
        Parameter('camera_ids', value=[CAM]), Parameter('detect_every', value=1),
        Parameter('diagnostic_updater.period', value=0.2),
        *[Parameter(k, value=v) for k, v in params.items()]]))


def test_the_camera_serves_its_recent_past_in_bounded_jpeg_pages(ros, tmp_path, faces_root):
    camera = _camera(ros, tmp_path, faces_root)
    client = ros.node('recent_probe').create_client(
        GetRecentFrames, RECENT_FRAMES_SERVICE.format(camera=CAM))
    assert ros.spin_until(lambda: len(camera._recent.recent) >= MAX_PAGE + 3, 15.0)
    first = ros.call(client, GetRecentFrames.Request(max_frames=MAX_PAGE))
    assert first.success and first.more and len(first.frames) == MAX_PAGE
    stamps = [stamp_ns(f.header.stamp) for f in first.frames]
    assert stamps == sorted(stamps) and len(set(stamps)) == MAX_PAGE
    assert min(b - a for a, b in zip(stamps, stamps[1:], strict=False)) >= 0.19 * NS_PER_S
    image = first.frames[0]
    assert image.format == 'jpeg' and image.header.frame_id == f'{CAM}_optical'
    assert decode_jpeg(bytes(image.data)).shape == (480, 640, 3)
    rest = ros.call(client, GetRecentFrames.Request(after=time_from_ns(stamps[-1]),
                                                    max_frames=MAX_PAGE))
    assert rest.success and rest.frames and stamp_ns(rest.frames[0].header.stamp) > stamps[-1]
    too_many = ros.call(client, GetRecentFrames.Request(max_frames=MAX_PAGE + 1))
    assert not too_many.success and 'above the page' in too_many.message
    assert camera._recent.refused == 1


def test_a_face_node_started_late_publishes_the_faces_of_the_frames_it_missed(
        ros, tmp_path, faces_root, enrolled_gallery, diag_probe):
    camera = _camera(ros, tmp_path, faces_root)
    probe = ros.node('catch_up_probe')
    entries = gallery_entries(enrolled_gallery(['obama', 'biden']))
    GalleryServer(probe, EntryList(entries))
    faces = []
    FACES.subscription(probe, faces.append, camera=CAM)
    # The camera has been streaming for 3 s before the face node (re)starts.
    assert ros.spin_until(lambda: len(camera._recent.recent) >= 15, 15.0)
    node = _face_node(ros, catch_up_s=10.0)
    started = node._started_ns

    def caught_up():
        values = diag_probe(f'face_node: {CAM}') or {}
        return values.get('catch_up', '').startswith('caught up') and \
            any(stamp_ns(f.header.stamp) > started for f in faces)

    assert ros.spin_until(caught_up, 60.0), (diag_probe(f'face_node: {CAM}'), len(faces))
    stamps = [stamp_ns(f.header.stamp) for f in faces]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps), 'out of order'
    past = [f for f in faces if stamp_ns(f.header.stamp) < started]
    # Frames from before the node existed, 5 a second, reaching back to the camera's start.
    assert len(past) >= 12, len(past)
    assert started - stamp_ns(past[0].header.stamp) > 2.5 * NS_PER_S
    assert all(f.header.frame_id == f'{CAM}_optical' for f in faces)
    named = [f for f in past if any(face.customer_id == 'obama' for face in f.faces)]
    assert len(named) >= len(past) // 2, 'the past frames were not identified'
    assert ros.spin_until(lambda: int((diag_probe(f'face_node: {CAM}') or {}).get(
        'frames_caught_up', 0)) >= len(past), 10.0)


def test_a_camera_that_keeps_nothing_means_live_at_once(ros, tmp_path, faces_root,
                                                        enrolled_gallery, diag_probe):
    _camera(ros, tmp_path, faces_root, recent_frames_s=0.0)
    probe = ros.node('live_probe')
    entries = gallery_entries(enrolled_gallery(['obama']))
    GalleryServer(probe, EntryList(entries))
    faces = []
    FACES.subscription(probe, faces.append, camera=CAM)
    ros.spin_for(1.0)
    node = _face_node(ros, catch_up_s=10.0)
    assert ros.spin_until(lambda: any(stamp_ns(f.header.stamp) > node._started_ns
                                      for f in faces), 30.0)
    assert all(stamp_ns(f.header.stamp) > node._started_ns for f in faces), 'no past to catch up'
    assert ros.spin_until(lambda: (diag_probe(f'face_node: {CAM}') or {}).get(
        'catch_up', '') == 'caught up (0 past frames)', 10.0)
