"""The visit memory: synthetic vectors for the rule, real dev photos for the behaviour (a
view the enrolment photos do not reach is named once the customer was identified in another
view; strangers stay unknown however many customers were seen)."""

import math

import numpy as np
import pytest

from ezshop_vision.gallery import Gallery, Match, MatchPolicy
from ezshop_vision.visit_memory import VisitMemory, VisitMemorySettings

POLICY = MatchPolicy(tolerance=0.5, margin=0.1)


def _unit(i, dim=128):
    v = np.zeros(dim, np.float32)
    v[i] = 1.0
    return v


def _mix(a, b, share_b):
    v = (1.0 - share_b) * _unit(a) + share_b * _unit(b)
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.fixture
def gallery():
    g = Gallery()
    g.add('ada', _unit(0))
    g.add('bob', _unit(1))
    return g


def test_a_face_the_gallery_rejects_is_named_from_the_customers_accepted_face(gallery):
    memory = VisitMemory()
    seen = _mix(0, 2, 0.5)       # ada in another light: 0.77 from her enrolment photo
    probe = _mix(0, 2, 0.6)      # a harder view still
    assert not gallery.identify(probe, POLICY).known
    assert gallery.identify(probe, POLICY).nearest_id == 'ada'
    assert not memory.identify(probe, gallery.identify(probe, POLICY), POLICY).known
    memory.remember('ada', seen, stamp=10.0)
    match = memory.identify(probe, gallery.identify(probe, POLICY), POLICY)
    assert match.customer_id == 'ada' and match.from_visit
    assert match.distance == pytest.approx(float(np.linalg.norm(probe - seen)), abs=1e-6)
    assert memory.revision == 1


def test_the_gallery_must_find_the_same_customer_nearest(gallery):
    memory = VisitMemory()
    memory.remember('ada', _mix(1, 2, 0.6), stamp=0.0)  # an accepted face of ada's
    probe = _mix(1, 2, 0.5)  # nearest enrolled: bob, beyond the tolerance
    gallery_match = gallery.identify(probe, POLICY)
    assert gallery_match.nearest_id == 'bob' and not gallery_match.known
    assert not memory.identify(probe, gallery_match, POLICY).known


def test_another_remembered_customer_within_the_margin_leaves_the_face_unknown(gallery):
    memory = VisitMemory()
    probe = _mix(0, 2, 0.6)
    memory.remember('ada', _mix(0, 2, 0.55), stamp=0.0)
    memory.remember('bob', probe + 0.01 * _unit(5), stamp=0.0)  # bob's face is as close
    assert not memory.identify(probe, gallery.identify(probe, POLICY), POLICY).known


def test_a_known_match_is_left_as_the_gallery_gave_it(gallery):
    memory = VisitMemory()
    memory.remember('bob', _unit(0), stamp=0.0)
    match = gallery.identify(_unit(0), POLICY)
    assert memory.identify(_unit(0), match, POLICY) is match


def test_faces_are_forgotten_after_visit_memory_s_and_with_the_customer(gallery):
    memory = VisitMemory(VisitMemorySettings(visit_memory_s=60.0, visit_faces_kept=2))
    probe = _mix(0, 2, 0.6)
    memory.remember('ada', _mix(0, 2, 0.5), stamp=0.0)
    memory.expire(59.0)
    assert memory.identify(probe, gallery.identify(probe, POLICY), POLICY).known
    memory.expire(61.0)
    assert len(memory) == 0
    assert not memory.identify(probe, gallery.identify(probe, POLICY), POLICY).known
    for stamp in (70.0, 71.0, 72.0):
        memory.remember('ada', _mix(0, 2, 0.5), stamp=stamp)
    assert len(memory) == 1
    only_bob = Gallery()
    only_bob.add('bob', _unit(1))
    memory.use_gallery(only_bob, POLICY)  # ada was forgotten by the store
    assert len(memory) == 0


def test_off_bad_embeddings_and_unknown_nearest_change_nothing(gallery):
    off = VisitMemory(VisitMemorySettings(visit_memory_s=0.0))
    off.remember('ada', _mix(0, 2, 0.5), stamp=0.0)
    assert len(off) == 0
    memory = VisitMemory()
    nan = np.full(128, np.nan, np.float32)
    memory.remember('ada', nan, stamp=0.0)
    assert len(memory) == 0
    memory.remember('ada', _mix(0, 2, 0.5), stamp=0.0)
    empty = Match('', math.nan)
    assert memory.identify(_mix(0, 2, 0.6), empty, POLICY) is empty
    unknown = gallery.identify(_mix(0, 2, 0.6), POLICY)
    assert memory.identify(nan, unknown, POLICY) is unknown


# ---------------------------------------------------------------- real photos

def _embedding(dev_identities, dev_faces, name, index):
    photo = next(i for i in dev_identities if i.name == name).photos[index]
    return dev_faces[photo].embeddings[0]


def test_a_rejected_photo_is_named_after_another_photo_of_the_customer_was_accepted(
        dev_identities, dev_faces, enrolled_gallery):
    """bbt_stuart/5.jpg: the recogniser's one reject on the dev photos (photos 1-2 enrolled).
    Once his photo 3 was accepted in the store, photo 5 is him."""
    gallery, memory, policy = enrolled_gallery(), VisitMemory(), MatchPolicy()
    rejected = _embedding(dev_identities, dev_faces, 'bbt_stuart', 4)
    accepted = _embedding(dev_identities, dev_faces, 'bbt_stuart', 2)
    assert not gallery.identify(rejected, policy).known
    first = gallery.identify(accepted, policy)
    assert first.customer_id == 'bbt_stuart'
    memory.remember('bbt_stuart', accepted, stamp=0.0)
    match = memory.identify(rejected, gallery.identify(rejected, policy), policy)
    assert match.customer_id == 'bbt_stuart' and match.from_visit


def test_strangers_stay_unknown_with_every_customer_remembered(
        dev_identities, dev_faces, enrolled_gallery, faces_root):
    """Every dev photo the gallery accepts is remembered (everyone in the store at once);
    no face of the group photos' strangers is named."""
    from ezshop_vision.face_photos import load_groups
    from ezshop_vision.photo_encodings import photo_faces

    gallery, memory, policy = enrolled_gallery(), VisitMemory(), MatchPolicy()
    remembered = 0
    for ident in dev_identities:
        for photo in ident.photos[2:]:
            embedding = dev_faces[photo].embeddings[0]
            if gallery.identify(embedding, policy).customer_id == ident.name:
                memory.remember(ident.name, embedding, stamp=0.0)
                remembered += 1
    assert len(memory) >= 10 and remembered >= 20
    strangers = [g['path'] for g in load_groups(faces_root)
                 if g['file'].startswith('groups/dlib_')]
    probes = [e for faces in photo_faces(strangers).values() for e in faces.embeddings]
    assert probes
    named = [memory.identify(e, gallery.identify(e, policy), policy).customer_id
             for e in probes]
    assert not any(named)


@pytest.fixture(scope='module')
def upsampling_engine():
    """HOG with upsample 1: photo 5 of bbt_stuart is found only so."""
    from ezshop_vision.face_engine import DetectorSettings, FaceEngine

    return FaceEngine(DetectorSettings(upsample=1))


def _still(dev_identities, dev_faces, name, index):
    from ezshop_testing.scenes import Mover, make_sprite
    from ezshop_vision.face_photos import load_bgr

    photo = next(i for i in dev_identities if i.name == name).photos[index]
    sprite = make_sprite(load_bgr(photo), dev_faces[photo].boxes[0], name, face_px=110,
                         context=0.8)  # the detector misses photo 5 cropped tighter
    return Mover(sprite, 150, 60, 0, 0)


def _play(pipeline, mover, first_frame, frames):
    from ezshop_testing.scenes import background, render

    base = background()
    results = []
    for i in range(first_frame, first_frame + frames):
        frame, _ = render([mover], base)
        results = pipeline.process(frame[:, :, ::-1].copy(), stamp=i / 10.0)
    return results


@pytest.mark.parametrize('with_memory', [True, False])
def test_a_shelf_track_seen_before_the_customer_was_identified_elsewhere_is_named(
        upsampling_engine, dev_identities, dev_faces, enrolled_gallery, with_memory):
    """Two cameras of one face node: the shelf camera shows bbt_stuart in the view the gallery
    rejects (photo 5) and keeps the track unknown; the door camera identifies him (photo 3).
    With the visit memory, the shelf track, still in view, is named from its kept votes
    without encoding again, and is a link once (the node publishes it on track_identities,
    as it does an ended track: fusion settles the picks given up for that face); without it,
    it stays unknown."""
    from ezshop_vision.face_pipeline import FacePipeline, PipelineSettings

    memory = VisitMemory() if with_memory else None
    settings = PipelineSettings(detect_every=1)
    gallery = enrolled_gallery()
    shelf = FacePipeline(upsampling_engine, settings, gallery=gallery, visit_memory=memory,
                         camera_id='cam_shelf_a')
    door = FacePipeline(upsampling_engine, settings, gallery=gallery, visit_memory=memory,
                        camera_id='cam_entrance')
    hard = _still(dev_identities, dev_faces, 'bbt_stuart', 4)
    results = _play(shelf, hard, 0, 8)
    assert [r.customer_id for r in results] == ['']
    shelf_track = results[0].track_id
    assert [r.customer_id for r in _play(door, _still(dev_identities, dev_faces, 'bbt_stuart',
                                                      2), 8, 4)] == ['bbt_stuart']
    encodings = shelf.stats.encodings
    results = _play(shelf, hard, 12, 1)
    assert [r.track_id for r in results] == [shelf_track]
    assert [r.customer_id for r in results] == (['bbt_stuart'] if with_memory else [''])
    links = [(x.camera_id, x.track_id, x.customer_id) for x in shelf.links + door.links]
    if with_memory:
        assert shelf.stats.encodings == encodings, 'named from its kept votes'
        assert shelf.stats.visit_matches >= 2 and door.stats.visit_matches == 0
        assert links == [('cam_shelf_a', shelf_track, 'bbt_stuart')]
        assert shelf.links[0].first_seen == 0.0 and shelf.links[0].confidence > 0.0
        shelf.links = []
        _play(door, _still(dev_identities, dev_faces, 'bbt_stuart', 2), 13, 2)
        _play(shelf, hard, 15, 2)
        assert shelf.links == [], 'named once'
    else:
        assert links == []


def test_a_track_that_ended_unknown_is_linked_once_when_its_customer_is_identified(gallery):
    memory = VisitMemory()
    probe = _mix(0, 2, 0.6)
    unknown = gallery.identify(probe, POLICY)
    memory.track_ended('cam_shelf', 7, 10.0, 12.0, [probe, probe, probe],
                       [unknown, unknown, unknown])
    other = gallery.identify(_unit(1), POLICY)  # a vote naming bob: not kept
    memory.track_ended('cam_shelf', 8, 10.0, 12.0, [probe, _unit(1)], [unknown, other])
    assert memory.ended_tracks == 1
    assert memory.remember('bob', _unit(1), 50.0, POLICY) == []
    links = memory.remember('ada', _mix(0, 2, 0.55), 60.0, POLICY, votes_needed=2)
    assert [(x.camera_id, x.track_id, x.customer_id, x.first_seen, x.last_seen, x.stamp)
            for x in links] == [('cam_shelf', 7, 'ada', 10.0, 12.0, 60.0)]
    assert 0.0 < links[0].confidence <= 1.0 and links[0].distance < POLICY.tolerance
    assert memory.ended_tracks == 0
    assert memory.remember('ada', _mix(0, 2, 0.55), 61.0, POLICY) == []


def test_ended_tracks_are_forgotten_after_visit_memory_s_or_named_by_a_new_gallery(gallery):
    memory = VisitMemory(VisitMemorySettings(visit_memory_s=60.0))
    probe = _mix(0, 2, 0.6)
    unknown = gallery.identify(probe, POLICY)
    memory.track_ended('cam_shelf', 7, 10.0, 12.0, [probe, probe], [unknown, unknown])
    assert memory.remember('ada', _mix(0, 2, 0.55), 80.0, POLICY) == []  # ended at 12 s
    memory.track_ended('cam_shelf', 9, 90.0, 92.0, [probe, probe], [unknown, unknown])
    memory.track_ended('cam_shelf', 10, 90.0, 92.0, [_unit(3), _unit(3)],
                       [gallery.identify(_unit(3), POLICY)] * 2)
    assert memory.ended_tracks == 2
    gallery.add('cy', _unit(3))  # enrolled meanwhile: track 10 was her, never unknown
    memory.use_gallery(gallery, POLICY)
    assert memory.ended_tracks == 1
    links = memory.remember('ada', _mix(0, 2, 0.55), 95.0, POLICY)
    assert [x.track_id for x in links] == [9]
