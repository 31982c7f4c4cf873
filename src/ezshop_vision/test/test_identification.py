"""Identification rule: synthetic vectors for the rule itself, real dev photos for the
behaviour (enrolled from photos 1-2, identified from the others; strangers stay unknown)."""

import math

import numpy as np
import pytest

from ezshop_vision.gallery import Gallery, MatchPolicy, gallery_from_entries


def _unit(i, dim=128):
    v = np.zeros(dim, np.float32)
    v[i] = 1.0
    return v


def test_nearest_within_tolerance_and_margin():
    gallery = Gallery()
    gallery.add('ada', np.vstack([_unit(0), _unit(1)]))
    gallery.add('bob', _unit(2))
    policy = MatchPolicy(tolerance=0.5, margin=0.1)
    probe = _unit(1) * 0.9 + _unit(3) * 0.1
    match = gallery.identify(probe, policy)
    assert match.customer_id == 'ada' and match.distance < 0.2
    far = gallery.identify(_unit(5), policy)
    assert far.customer_id == '' and far.nearest_id in ('ada', 'bob')


def test_no_margin_means_unknown_not_least_bad():
    gallery = Gallery()
    gallery.add('ada', _unit(0))
    gallery.add('bob', _unit(1))
    between = (_unit(0) + _unit(1)) / 2.0  # 0.707 from both
    assert gallery.identify(between, MatchPolicy(tolerance=1.0, margin=0.05)).customer_id == ''
    assert gallery.identify(between, MatchPolicy(tolerance=1.0, margin=0.0)).known


def test_empty_gallery_gives_unknown_with_nan_distance():
    match = Gallery().identify(_unit(0), MatchPolicy())
    assert match.customer_id == '' and math.isnan(match.distance)


def test_bad_gallery_entries_are_left_out_with_reasons():
    flat = np.concatenate([_unit(0), _unit(1)])
    nan = _unit(2).copy()
    nan[3] = np.nan
    gallery, problems = gallery_from_entries([
        ('ada', 'Ada', 128, 'm', flat),
        ('bob', 'Bob', 64, 'm', _unit(0, 64)),
        ('cy', 'Cy', 128, 'm', flat[:200]),
        ('dee', 'Dee', 128, 'm', nan),
        ('eve', 'Eve', 128, 'other_model', _unit(4)),
    ], dim=128, model='m')
    assert gallery.customer_ids == ['ada']
    assert len(problems) == 4
    assert any('embedding_dim 64' in p for p in problems)
    assert any('multiple' in p for p in problems)
    assert any('NaN' in p for p in problems)
    assert any('model' in p for p in problems)


def test_enrolled_people_are_identified_from_their_other_photos(dev_identities, dev_faces,
                                                                enrolled_gallery):
    gallery = enrolled_gallery()
    policy = MatchPolicy()
    correct = wrong = total = 0
    for ident in dev_identities:
        for photo in ident.photos[2:]:
            match = gallery.identify(dev_faces[photo].embeddings[0], policy)
            total += 1
            correct += match.customer_id == ident.name
            wrong += match.known and match.customer_id != ident.name
    assert total >= 40
    assert wrong == 0
    assert correct / total >= 0.95, f'{correct}/{total}'


def test_people_not_enrolled_stay_unknown(dev_identities, dev_faces, enrolled_gallery):
    names = [ident.name for ident in dev_identities]
    left_out = set(names[::3])
    gallery = enrolled_gallery([n for n in names if n not in left_out])
    policy = MatchPolicy()
    probes = [p for ident in dev_identities if ident.name in left_out for p in ident.photos]
    assert len(probes) >= 20
    accepted = [(p.parent.name, gallery.identify(dev_faces[p].embeddings[0], policy))
                for p in probes]
    assert [(who, m.customer_id) for who, m in accepted if m.known] == []


def test_unenrolled_group_faces_stay_unknown(faces_with, enrolled_gallery):
    from ezshop_vision.face_photos import load_groups
    from ezshop_vision.photo_encodings import photo_faces

    strangers = [g['path'] for g in load_groups(faces_with('groups/groups.json'))
                 if g['file'].startswith('groups/dlib_')][:4]
    gallery = enrolled_gallery()
    found = photo_faces(strangers)
    embeddings = [e for faces in found.values() for e in faces.embeddings]
    assert len(embeddings) >= 10
    assert [gallery.identify(e, MatchPolicy()).customer_id for e in embeddings
            if gallery.identify(e, MatchPolicy()).known] == []


@pytest.mark.parametrize('enrolled,other', [('alex_lacamoire', 'bbt_raj'),
                                            ('bbt_raj', 'alex_lacamoire')])
def test_look_alikes_are_not_confused(dev_identities, dev_faces, enrolled_gallery,
                                      enrolled, other):
    by_name = {i.name: i for i in dev_identities}
    # Only one of the pair enrolled: the other must not be taken for them.
    alone = enrolled_gallery([enrolled, 'obama', 'bbt_sheldon'])
    for photo in by_name[other].photos:
        assert alone.identify(dev_faces[photo].embeddings[0], MatchPolicy()).customer_id \
            != enrolled
    # Both enrolled: each of the other photos goes to the right one (or stays unknown).
    both = enrolled_gallery([enrolled, other])
    for photo in by_name[other].photos[2:]:
        assert both.identify(dev_faces[photo].embeddings[0], MatchPolicy()).customer_id \
            in (other, '')
