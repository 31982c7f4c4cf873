"""The shipped scenarios need nothing beside the clone: with no $EZSHOP_FACES and no shared
faces folder, every shopper of every shipped scenario has enrolment and appearance photos among
the photos shipped with ezshop_common, and the demo's shoppers enrol from them."""

import pytest

from ezshop_common.paths import FACES_ENV, SHARED_FACES_ENV, shipped_faces
from ezshop_sim.photos import enrolment_photos, identities_dir, split_photos
from ezshop_sim.scenario import load_scenario, scenario_names
from ezshop_vision.enrollment import check_photo, make_engine


@pytest.fixture
def no_shared_faces(monkeypatch, tmp_path):
    """No $EZSHOP_FACES, and the shared set pointed at a folder that does not exist."""
    monkeypatch.delenv(FACES_ENV, raising=False)
    monkeypatch.setenv(SHARED_FACES_ENV, str(tmp_path / 'no_shared_faces'))


def test_every_shipped_scenario_finds_its_shoppers_in_the_shipped_photos(no_shared_faces):
    folder = identities_dir()
    assert folder == shipped_faces() / 'dev'
    names = scenario_names()
    assert 'demo' in names and len(names) >= 10
    for name in names:
        scenario = load_scenario(name)
        for identity in scenario.identities:
            split = split_photos(folder, identity)
            assert split.enrolment and split.appearance, (name, identity)
        photos = enrolment_photos(scenario)
        assert set(photos) == set(scenario.enrolled_identities), name
        assert all(p.is_file() and p.is_relative_to(folder)
                   for paths in photos.values() for p in paths), name


def test_the_demo_shoppers_enrol_from_the_shipped_photos(no_shared_faces):
    photos = enrolment_photos(load_scenario('demo'))
    engine = make_engine()
    checks = [check_photo(engine, p) for paths in photos.values() for p in paths]
    assert len(photos) >= 4 and len(checks) >= len(photos)
    assert [(c.path.name, c.reason) for c in checks if not c.ok] == []
