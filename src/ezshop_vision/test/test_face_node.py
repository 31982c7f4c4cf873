"""face_node over real DDS: several faces identified in real photos, the image header kept,
annotated images, malformed images rejected and counted without a crash, thresholds that
`ros2 param set` really changes and wiring it refuses."""

import time
from types import SimpleNamespace

import pytest
from rclpy.parameter import Parameter
from sensor_msgs.msg import Image

from ezshop_ros.gallery import EntryList, GalleryServer
from ezshop_ros.topics import FACES, IMAGE_ANNOTATED, IMAGE_RAW
from ezshop_vision.face_node import FaceNode
from ezshop_vision.face_photos import load_bgr
from ezshop_vision.image_conversion import cv2_to_imgmsg
from ezshop_vision.messages import gallery_entries

CAM = 'cam_test'
CAM2 = 'cam_test2'
#: Kit Harington and Rose Leslie in one photo (relative to a faces folder).
KIT_WITH_ROSE = 'groups/fr_kit_with_rose.jpg'


@pytest.fixture
def face_graph(ros, diag_probe, enrolled_gallery):
    node = ros.add(FaceNode(context=ros.context, parameter_overrides=[
        Parameter('camera_ids', value=[CAM, CAM2]),
        Parameter('detect_every', value=1),
        Parameter('max_encodings_per_frame', value=2),
        Parameter('publish_annotated', value=True),
        Parameter('diagnostic_updater.period', value=0.2)]))
    probe = ros.node('face_probe')
    entries = gallery_entries(enrolled_gallery(['kit_harington', 'rose_leslie', 'obama']))
    GalleryServer(probe, EntryList(entries))  # the store's side
    image_pub = IMAGE_RAW.publisher(probe, camera=CAM)
    faces, annotated = [], []
    FACES.subscription(probe, faces.append, camera=CAM)
    IMAGE_ANNOTATED.subscription(probe, annotated.append, camera=CAM)
    image2_pub = IMAGE_RAW.publisher(probe, camera=CAM2)
    faces2 = []
    FACES.subscription(probe, faces2.append, camera=CAM2)
    assert ros.spin_until(lambda: image_pub.get_subscription_count() > 0
                          and image2_pub.get_subscription_count() > 0
                          and node.count_publishers(f'cameras/{CAM}/faces') > 0, 10.0)
    assert ros.spin_until(lambda: (diag_probe(f'face_node: {CAM}') or {}).get(
        'gallery_customers') == '3', 10.0), 'gallery not received'
    return SimpleNamespace(node=node, image_pub=image_pub, faces=faces, annotated=annotated,
                           image2_pub=image2_pub, faces2=faces2)


def _send(ros, image_pub, faces, image, sec, timeout=10.0):
    """Publish one frame (stamp sec) and wait for its FaceArray; retries lost frames."""
    image.header.stamp.sec = sec
    image.header.frame_id = 'cam_test_optical'
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image_pub.publish(image)
        if ros.spin_until(lambda: any(f.header.stamp.sec == sec for f in faces), 3.0):
            return next(f for f in faces if f.header.stamp.sec == sec)
    raise AssertionError(f'no FaceArray for frame {sec}')


def test_identifies_two_faces_keeps_header_and_annotates(ros, faces_root, faces_with,
                                                         face_graph):
    image_pub, faces, annotated = face_graph.image_pub, face_graph.faces, face_graph.annotated
    bgr = load_bgr(faces_with(KIT_WITH_ROSE) / KIT_WITH_ROSE)
    image = cv2_to_imgmsg(bgr, 'bgr8')
    for sec in range(1, 4):
        result = _send(ros, image_pub, faces, image, sec)
    assert result.camera_id == CAM
    assert result.header.frame_id == 'cam_test_optical'
    assert result.header.stamp.sec == 3 and result.header.stamp.nanosec == 0
    assert len(result.faces) == 2
    assert len({f.track_id for f in result.faces}) == 2
    by_x = sorted(result.faces, key=lambda f: f.roi.x_offset)
    assert [f.customer_id for f in by_x] == ['rose_leslie', 'kit_harington']
    for face in result.faces:
        assert 0.0 < face.match_distance < 0.55 and 0.0 < face.confidence <= 1.0
        assert face.roi.width > 40 and face.roi.x_offset + face.roi.width <= bgr.shape[1]
    assert ros.spin_until(lambda: len(annotated) > 0, 5.0)
    assert annotated[-1].encoding == 'bgr8'
    assert (annotated[-1].width, annotated[-1].height) == (bgr.shape[1], bgr.shape[0])
    assert annotated[-1].header.frame_id == 'cam_test_optical'
    # The same node serves a second camera with its own tracks.
    image2_pub, faces2 = face_graph.image2_pub, face_graph.faces2
    other = cv2_to_imgmsg(load_bgr(faces_root / 'dev' / 'obama' / '4.jpg'), 'bgr8')
    for sec in range(1, 3):
        second = _send(ros, image2_pub, faces2, other, sec)
    assert second.camera_id == CAM2
    assert [f.customer_id for f in second.faces] == ['obama']
    assert second.faces[0].track_id not in {f.track_id for f in result.faces}


def test_get_snapshot_draws_the_faces_of_the_frame_nearest_a_moment(ros, faces_with,
                                                                   face_graph):
    import cv2
    import numpy as np
    from sensor_msgs.msg import RegionOfInterest

    from ezshop_msgs.srv import GetSnapshot
    from ezshop_vision.snapshots import HIGHLIGHT_COLOUR

    bgr = load_bgr(faces_with(KIT_WITH_ROSE) / KIT_WITH_ROSE)
    image = cv2_to_imgmsg(bgr, 'bgr8')
    for sec in range(1, 4):
        result = _send(ros, face_graph.image_pub, face_graph.faces, image, sec)
    client = ros.node('snapshot_probe').create_client(GetSnapshot, 'face_node/get_snapshot')
    assert ros.spin_until(client.service_is_ready, 10.0)

    def ask(camera, sec, nanosec=0, highlight=None):
        request = GetSnapshot.Request(camera_id=camera, highlight=highlight or RegionOfInterest())
        request.stamp.sec, request.stamp.nanosec = sec, nanosec
        future = client.call_async(request)
        assert ros.spin_until(future.done, 10.0)
        return future.result()

    zone = RegionOfInterest(x_offset=5, y_offset=5, width=60, height=40)
    answer = ask(CAM, 2, 300_000_000, zone)
    assert answer.success, answer.message
    assert answer.image.format == 'jpeg' and answer.image.header.stamp.sec == 2
    assert answer.image.header.frame_id == 'cam_test_optical'
    assert abs(answer.offset_s + 0.3) < 1e-6
    drawn = cv2.imdecode(np.frombuffer(bytes(answer.image.data), np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == bgr.shape
    # Each face's box is drawn on its edge, and the zone is outlined.
    for face in result.faces:
        x, y = face.roi.x_offset, face.roi.y_offset + face.roi.height // 2
        assert np.abs(drawn[y, x - 1:x + 2].astype(int) - bgr[y, x - 1:x + 2]).max() > 60
    assert np.abs(drawn[25, 5].astype(int) - HIGHLIGHT_COLOUR).max() < 60

    far = ask(CAM, 30)
    assert not far.success and 'no frame kept' in far.message
    unknown = ask('cam_nowhere', 2)
    assert not unknown.success and 'unknown camera' in unknown.message


def test_malformed_images_are_rejected_counted_and_survived(ros, diag_probe, faces_root,
                                                            face_graph, capfd):
    image_pub, faces = face_graph.image_pub, face_graph.faces
    good = cv2_to_imgmsg(load_bgr(faces_root / 'dev' / 'obama' / '1.jpg'), 'bgr8')
    bad = [
        Image(height=4, width=4, encoding='32FC1', step=16, data=bytes(64)),
        Image(height=4, width=4, encoding='bgr8', step=8, data=bytes(32)),
        Image(height=0, width=0, encoding='bgr8', step=0, data=b''),
        Image(height=4, width=4, encoding='bgr8', step=12, data=bytes(47)),
    ]
    for n, image in enumerate(bad, start=1):
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            image_pub.publish(image)
            if ros.spin_until(lambda n=n: (diag_probe(f'face_node: {CAM}') or {}).get(
                    'images_rejected') == str(n), 2.0):
                break
        else:
            raise AssertionError(f'bad image {n} not counted')
    values = diag_probe(f'face_node: {CAM}')
    assert values['_message'].endswith('malformed image(s)') or values['images_rejected'] == '4'
    assert not any(f.header.stamp.sec == 0 and f.faces for f in faces)
    result = _send(ros, image_pub, faces, good, 42)
    assert [f.customer_id for f in result.faces] in (['obama'], [''])
    assert diag_probe(f'face_node: {CAM}')['processing_errors'] == '0'
    logged = capfd.readouterr()
    assert 'image rejected: unsupported encoding' in logged.out + logged.err


def test_ros2_param_set_changes_min_face_px_and_refuses_wiring(ros, faces_with, diag_probe,
                                                               face_graph):
    image_pub, faces = face_graph.image_pub, face_graph.faces
    image = cv2_to_imgmsg(load_bgr(faces_with(KIT_WITH_ROSE) / KIT_WITH_ROSE), 'bgr8')
    # Both faces are smaller than 1000 px: tracked, never encoded, so never named.
    result, = ros.set_parameters('/face_node', min_face_px=1000)
    assert result.successful, result.reason
    for sec in range(1, 4):
        seen = _send(ros, image_pub, faces, image, sec)
        assert len(seen.faces) == 2 and {f.customer_id for f in seen.faces} == {''}
    assert ros.spin_until(lambda: (diag_probe(f'face_node: {CAM}') or {}).get(
        'frames_processed') == '3', 5.0)
    assert diag_probe(f'face_node: {CAM}')['encodings'] == '0'
    result, = ros.set_parameters('/face_node', min_face_px=40)
    assert result.successful, result.reason
    for sec in range(4, 7):
        seen = _send(ros, image_pub, faces, image, sec)
    assert sorted(f.customer_id for f in seen.faces) == ['kit_harington', 'rose_leslie']
    # Wiring read once at start, a value out of range and one the settings reject
    # (votes_needed > vote_window): refused, not silently ignored.
    camera_ids, window, too_many = ros.set_parameters(
        '/face_node', camera_ids=['cam_other'], vote_window=3, votes_needed=10)
    for refused in (camera_ids, window):
        assert not refused.successful and 'read-only' in refused.reason.replace(' ', '-')
    assert not too_many.successful and 'votes_needed' in too_many.reason
    assert face_graph.node.get_parameter('votes_needed').value == 2
    result, = ros.set_parameters('/face_node', votes_needed=3)  # the node still answers
    assert result.successful, result.reason
