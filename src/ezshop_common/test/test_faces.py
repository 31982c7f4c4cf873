"""Where face photos are found (ezshop_common.paths): the shipped photos by default, found from
any folder once installed; $EZSHOP_FACES instead; ../shared/faces only for what is not shipped.
Every shipped photo keeps its source and licence."""

import json
import re
import shutil
from pathlib import Path

import pytest
from ament_index_python.packages import get_package_share_directory

from ezshop_common.paths import (
    FACES_ENV,
    SHARED_FACES_ENV,
    faces_root,
    faces_with,
    shared_faces,
    shipped_faces,
)

#: A group photo that is shipped, and one that is only in ../shared/faces.
SHIPPED_GROUP = 'groups/fr_two_people.jpg'
UNSHIPPED_GROUP = 'groups/dlib_2009_004587.jpg'
#: Source repositories of the shipped photos -> their licence files in faces/licenses.
LICENCES = {
    'ageitgey/face_recognition': ['face_recognition.LICENSE'],
    'serengil/deepface': ['deepface.LICENSE'],
    'justadudewhohacks/face-api.js': ['face-api.js.LICENSE'],
    'davisking/dlib': ['dlib.LICENSE_FOR_EXAMPLE_PROGRAMS.txt', 'dlib.LICENSE.txt'],
}


@pytest.fixture
def no_shared_faces(monkeypatch, tmp_path):
    """No $EZSHOP_FACES, and the shared set pointed at a folder that does not exist."""
    monkeypatch.delenv(FACES_ENV, raising=False)
    monkeypatch.setenv(SHARED_FACES_ENV, str(tmp_path / 'no_shared_faces'))


def _shipped_photos() -> set[str]:
    root = shipped_faces()
    return {p.relative_to(root).as_posix() for p in root.rglob('*.jpg')}


def test_without_shared_faces_the_shipped_photos_are_the_default(no_shared_faces):
    assert not shared_faces().exists()
    assert faces_root() == shipped_faces()
    identities = [p for p in (faces_root() / 'dev').iterdir() if p.is_dir()]
    assert len(identities) == 17
    assert all(len(list(p.glob('*.jpg'))) >= 2 for p in identities)
    assert faces_with(SHIPPED_GROUP) == shipped_faces()
    assert faces_with(UNSHIPPED_GROUP) is None


def test_installed_photos_are_found_from_any_folder(no_shared_faces, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('EZSHOP_ROOT')
    installed = Path(get_package_share_directory('ezshop_common')) / 'faces'
    assert faces_root() == installed
    assert (installed / 'dev' / 'obama' / '1.jpg').is_file()


def test_ezshop_faces_replaces_the_default_and_shared_faces_serve_the_rest(monkeypatch,
                                                                          tmp_path):
    mine, shared = tmp_path / 'mine', tmp_path / 'shared'
    (mine / 'dev' / 'ada').mkdir(parents=True)
    shutil.copy(shipped_faces() / 'dev' / 'obama' / '1.jpg', mine / 'dev' / 'ada' / '1.jpg')
    (shared / 'groups').mkdir(parents=True)
    shutil.copy(shipped_faces() / SHIPPED_GROUP, shared / UNSHIPPED_GROUP)
    monkeypatch.setenv(FACES_ENV, str(mine))
    monkeypatch.setenv(SHARED_FACES_ENV, str(shared))
    assert faces_root() == mine
    assert faces_with('dev/ada/1.jpg') == mine
    assert faces_with(SHIPPED_GROUP) == shipped_faces()
    assert faces_with(UNSHIPPED_GROUP) == shared
    # All the files asked for come from one folder.
    assert faces_with(SHIPPED_GROUP, UNSHIPPED_GROUP) is None


def test_shared_faces_default_to_the_folder_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv(SHARED_FACES_ENV, raising=False)
    monkeypatch.setenv('EZSHOP_ROOT', str(tmp_path / 'checkout'))
    assert shared_faces() == tmp_path / 'shared' / 'faces'


def test_every_shipped_photo_has_its_source_and_licence():
    root = shipped_faces()
    rows = re.findall(r'^\| ((?:dev|groups)/\S+\.jpg) \| (\S+) \| (.+?) \| (.+?) \|$',
                      (root / 'SOURCES.md').read_text(), re.MULTILINE)
    assert {row[0] for row in rows} == _shipped_photos()
    for _, repo, _, _ in rows:
        for licence in LICENCES[repo]:
            assert (root / 'licenses' / licence).is_file(), licence
    groups = json.loads((root / 'groups' / 'groups.json').read_text())
    assert {g['file'] for g in groups} == {p for p in _shipped_photos()
                                           if p.startswith('groups/')}
