"""Enrolment's checks on real face photos: consent and name first, then each photo, then the
faces together (one person, not already enrolled)."""

import pytest

from ezshop_vision.gallery import Gallery, MatchPolicy
from ezshop_web.enrolment import MAX_ENROL_PHOTOS, check_details, prepare
from ezshop_web.face_login import FaceLogin


@pytest.fixture(scope='module')
def faces():
    return FaceLogin()


def photos(folder, *names):
    return [(name, (folder / name).read_bytes()) for name in names]


def test_the_form_needs_a_name_consent_and_one_to_ten_photos():
    assert check_details('Ann', True, 2) == ''
    assert 'name' in check_details('  ', True, 2)
    assert 'longer' in check_details('A' * 81, True, 1)
    assert 'control' in check_details('Ann\x00', True, 1)
    assert 'consent' in check_details('Ann', False, 2)
    assert 'no photo' in check_details('Ann', True, 0)
    assert 'at most' in check_details('Ann', True, MAX_ENROL_PHOTOS + 1)


def test_photos_of_one_new_person_are_ready_and_bad_photos_are_refused_one_by_one(
        faces, faces_root):
    obama = faces_root / 'dev' / 'obama'
    sent = photos(obama, '1.jpg', '2.jpg', '3.jpg') + [
        ('notes.txt', b'not a photo'),
        ('group.jpg', next((faces_root / 'groups').glob('*.jpg')).read_bytes())]
    enrolment = prepare(faces, ' Barack ', sent, Gallery(), MatchPolicy())
    assert enrolment.ready and enrolment.name == 'Barack'
    assert enrolment.embeddings.shape == (3, 128)
    reasons = dict(enrolment.refused)
    assert set(reasons) == {'notes.txt', 'group.jpg'}
    assert 'not an image' in reasons['notes.txt'] and 'faces' in reasons['group.jpg']


def test_nothing_usable_two_people_or_a_face_already_enrolled_is_not_ready(faces, faces_root):
    dev = faces_root / 'dev'
    nothing = prepare(faces, 'Ann', [('a.txt', b'x')], Gallery(), MatchPolicy())
    assert not nothing.ready and 'no usable photo' in nothing.problem

    two = prepare(faces, 'Ann', photos(dev / 'obama', '1.jpg') + photos(dev / 'biden', '1.jpg'),
                  Gallery(), MatchPolicy())
    assert not two.ready and 'one person' in two.problem

    gallery = Gallery()
    joe = faces.check((dev / 'biden' / '1.jpg').read_bytes()).embedding
    gallery.add('c_joe', joe[None, :], 'Joe')
    again = prepare(faces, 'Joseph', photos(dev / 'biden', '2.jpg'), gallery, MatchPolicy())
    assert not again.ready and again.already_enrolled == 'c_joe'
    other = prepare(faces, 'Amy', photos(dev / 'bbt_amy', '1.jpg', '2.jpg'), gallery,
                    MatchPolicy())
    assert other.ready, other.problem
