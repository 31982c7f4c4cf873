"""The whole vision chain as separate processes over DDS: camera_node plays a folder of frames
in which an enrolled customer walks up to the entrance camera (a real photo, growing) and
leaves; face_node identifies them and door_node publishes exactly one ENTERED."""

import cv2
from ament_index_python.packages import get_package_prefix

from ezshop_msgs.msg import CustomerEvent
from ezshop_ros.gallery import EntryList, GalleryServer
from ezshop_ros.topics import CUSTOMER_EVENTS, FACES
from ezshop_testing.processes import ChildProcess
from ezshop_testing.scenes import Mover, background, make_sprite, render
from ezshop_vision.face_photos import load_bgr
from ezshop_vision.gallery import Gallery
from ezshop_vision.messages import gallery_entries


def _write_pass(folder, photo, face_box):
    """0.7 s empty, a face growing from 60 to 160 px over 2 s, staying 1 s, 1 s empty."""
    folder.mkdir()
    base = background()
    bgr = load_bgr(photo)
    frames = []
    for i in range(30):
        sprite = make_sprite(bgr, face_box, 'x', face_px=60 + 100 * i // 29)
        h, w = sprite.image.shape[:2]
        frames.append(render([Mover(sprite, 320 - w / 2, 240 - h / 2, 0, 0)], base)[0])
    frames = [base] * 10 + frames + [frames[-1]] * 15 + [base] * 15
    for n, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / f'{n}.png'), frame)


def test_one_entered_event_for_one_pass(ros, config_dir, tmp_path, dev_identities, dev_faces):
    obama = next(i for i in dev_identities if i.name == 'obama')
    _write_pass(tmp_path / 'frames', obama.photos[3], dev_faces[obama.photos[3]].boxes[0])
    gallery = Gallery()
    for ident in dev_identities:
        gallery.add(f'cust_{ident.name}', dev_faces[ident.photos[0]].embeddings, ident.name)

    probe = ros.node('graph_probe')
    events, faces = [], []
    CUSTOMER_EVENTS.subscription(probe, events.append)
    FACES.subscription(probe, faces.append, camera='cam_entrance')
    entries = gallery_entries(gallery)
    GalleryServer(probe, EntryList(entries))  # the store's side: face_node fetches it

    lib = f"{get_package_prefix('ezshop_vision')}/lib/ezshop_vision"
    config = str(config_dir / 'vision.yaml')
    store = str(config_dir / 'store.yaml')
    face = ChildProcess([f'{lib}/face_node', '--ros-args', '--params-file', config,
                         '-p', "camera_ids:=['cam_entrance']"])
    door = ChildProcess([f'{lib}/door_node', '--ros-args', '--params-file', config,
                         '-p', f'store_file:={store}', '-p', 'door_id:=entrance'])
    camera = None
    try:
        assert ros.spin_until(
            lambda: probe.count_subscribers('cameras/cam_entrance/image_raw') > 0
            and probe.count_subscribers('cameras/cam_entrance/faces') > 1
            and face.output.count('gallery: 17 customers'), 30.0), \
            f'nodes not ready\n{face.output}\n{door.output}'
        camera = ChildProcess([f'{lib}/camera_node', '--ros-args', '--params-file', config,
                               '-p', f"source:={tmp_path / 'frames'}",
                               '-p', 'camera_id:=cam_entrance', '-p', 'loop:=false',
                               '-p', 'start_when_subscribed:=true'])
        assert ros.spin_until(lambda: 'end of source' in camera.output, 30.0), camera.output
        ros.spin_for(1.0)  # the last frames' faces and any (wrong) second event
    finally:
        for child in (camera, face, door):
            if child is not None:
                child.stop()
    identified = [f for a in faces for f in a.faces if f.customer_id]
    assert identified and {f.customer_id for f in identified} == {'cust_obama'}
    assert [(e.kind, e.customer_id, e.door_id) for e in events] == \
        [(CustomerEvent.ENTERED, 'cust_obama', 'entrance')], \
        f'{events}\n{door.output}'
