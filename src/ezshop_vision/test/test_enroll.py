"""Enrolment: photo checks (one usable face), the enroll CLI against a real
register_customer service, bulk mode over a folder, and the Python API."""

import time

import cv2
import numpy as np
import pytest
from ament_index_python.packages import get_package_prefix

from ezshop_msgs.srv import RegisterCustomer
from ezshop_testing.processes import ChildProcess
from ezshop_vision.enroll_cli import main, register_people
from ezshop_vision.enrollment import Person, check_photo, make_engine, parse_photo_numbers
from ezshop_vision.face_engine import EMBEDDING_MODEL
from ezshop_vision.face_photos import load_bgr

#: A group photo (relative to a faces folder): enrolment must refuse it.
TWO_PEOPLE = 'groups/fr_two_people.jpg'


@pytest.fixture(scope='module')
def enrol_engine():
    return make_engine()


def test_photo_checks(faces_root, faces_with, tmp_path, enrol_engine, dev_faces):
    obama = faces_root / 'dev' / 'obama' / '1.jpg'
    good = check_photo(enrol_engine, obama)
    assert good.ok and good.embedding.shape == (128,)
    assert np.linalg.norm(good.embedding - dev_faces[obama].embeddings[0]) < 0.02
    two = check_photo(enrol_engine, faces_with(TWO_PEOPLE) / TWO_PEOPLE)
    assert not two.ok and '2 faces' in two.reason
    bgr = load_bgr(obama)
    face_w = dev_faces[obama].boxes[0].width
    cv2.imwrite(str(tmp_path / 'blurred.jpg'), cv2.GaussianBlur(bgr, (0, 0), face_w / 40))
    blurred = check_photo(enrol_engine, tmp_path / 'blurred.jpg')
    assert not blurred.ok and 'blurred' in blurred.reason
    scale = 50 / face_w
    cv2.imwrite(str(tmp_path / 'small.jpg'), cv2.resize(bgr, None, fx=scale, fy=scale,
                                                        interpolation=cv2.INTER_AREA))
    small = check_photo(enrol_engine, tmp_path / 'small.jpg')
    assert not small.ok and ('too small' in small.reason or '0 faces' in small.reason)
    (tmp_path / 'junk.jpg').write_bytes(b'not a jpeg')
    assert 'cannot read' in check_photo(enrol_engine, tmp_path / 'junk.jpg').reason


def test_photo_numbers():
    assert parse_photo_numbers('1,2') == [1, 2]
    assert parse_photo_numbers('') is None
    with pytest.raises(ValueError, match='--photos'):
        parse_photo_numbers('1,x')


@pytest.fixture
def fake_store(ros):
    """A real register_customer service recording every request."""
    requests = []

    def handle(request, response):
        requests.append(request)
        response.success = True
        response.customer_id = f'cust_{len(requests)}'
        return response

    ros.node('fake_store').create_service(RegisterCustomer, 'register_customer', handle)
    return requests


def _run_enroll(ros, args, timeout=60.0):
    exe = f"{get_package_prefix('ezshop_vision')}/lib/ezshop_vision/enroll"
    proc = ChildProcess([exe, *args])
    deadline = time.monotonic() + timeout
    try:
        while proc.proc.poll() is None and time.monotonic() < deadline:
            ros.spin_for(0.05)
        assert proc.proc.poll() is not None, f'enroll did not finish:\n{proc.output}'
    finally:
        code = proc.stop()
    return code, proc.output


def test_enroll_cli_single_person_and_folder(ros, faces_root, faces_with, tmp_path, fake_store,
                                             dev_faces):
    dev = faces_root / 'dev'
    code, out = _run_enroll(ros, ['--name', 'Barack Obama', str(dev / 'obama' / '1.jpg'),
                                  str(dev / 'obama' / '2.jpg'),
                                  str(faces_with(TWO_PEOPLE) / TWO_PEOPLE)])
    assert code == 0, out
    assert 'fr_two_people.jpg refused: 2 faces found' in out
    assert 'enrolled Barack Obama: customer_id=cust_1 (2 photos)' in out
    request = fake_store[0]
    assert (request.name, request.dim, request.model) == ('Barack Obama', 128,
                                                          EMBEDDING_MODEL)
    sent = np.asarray(request.embeddings, np.float32).reshape(-1, 128)
    assert sent.shape == (2, 128)
    assert np.linalg.norm(sent[0] - dev_faces[dev / 'obama' / '1.jpg'].embeddings[0]) < 0.02

    people = tmp_path / 'people'
    people.mkdir()
    for name in ('alex_lacamoire', 'bbt_raj'):
        (people / name).symlink_to(dev / name)  # a view of the photos, not a copy
    code, out = _run_enroll(ros, ['--folder', str(people), '--photos', '1,2'])
    assert code == 0, out
    assert [r.name for r in fake_store[1:]] == ['alex_lacamoire', 'bbt_raj']
    assert all(len(r.embeddings) == 2 * 128 for r in fake_store[1:])
    assert '2 of 2 enrolled' in out


def test_enroll_cli_usage_errors(capsys, tmp_path):
    assert main(['--name', 'Nobody']) == 2
    assert 'give --name NAME PHOTO... or --folder DIR' in capsys.readouterr().err
    assert main(['--name', 'Nobody', str(tmp_path / 'missing.jpg')]) == 2
    assert 'no such file' in capsys.readouterr().err
    assert main(['--folder', str(tmp_path)]) == 2
    assert 'no photos found' in capsys.readouterr().err


def test_python_api_reports_a_missing_service(faces_root):
    results = register_people([Person('Ada', (faces_root / 'dev' / 'biden' / '1.jpg',))],
                              service='no_such_register_customer', timeout_s=1.0,
                              log=lambda line: None)
    assert len(results) == 1 and not results[0].success
    assert 'not available' in results[0].message
