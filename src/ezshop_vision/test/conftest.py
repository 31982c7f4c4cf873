"""Shared fixtures for ezshop_vision tests: real photos, their faces and embeddings (computed
once per session; cached on disk by photo content, see ezshop_vision.photo_encodings)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope='session')
def dev_identities(faces_root):
    from ezshop_vision.face_photos import list_identities

    return list_identities(faces_root / 'dev')


@pytest.fixture(scope='session')
def dev_faces(dev_identities):
    """PhotoFaces (boxes, embeddings) of every dev photo, keyed by path."""
    from ezshop_vision.photo_encodings import photo_faces

    return photo_faces([p for ident in dev_identities for p in ident.photos])


@pytest.fixture(scope='session')
def engine():
    """One FaceEngine (HOG, upsample 0) for the session: face_recognition loads once."""
    from ezshop_vision.face_engine import DetectorSettings, FaceEngine

    return FaceEngine(DetectorSettings(upsample=0))


@pytest.fixture(scope='session')
def enrolled_gallery(dev_identities, dev_faces):
    """Factory: a Gallery of the given identities from their photos 1-2."""
    import numpy as np

    from ezshop_vision.gallery import Gallery

    def build(names=None):
        gallery = Gallery()
        for ident in dev_identities:
            if names is None or ident.name in names:
                gallery.add(ident.name, np.vstack([dev_faces[p].embeddings[0]
                                                   for p in ident.photos[:2]]), ident.name)
        return gallery

    return build


def diagnostic_values(array, name_prefix: str) -> dict | None:
    """key -> value of the first DiagnosticStatus whose name starts with name_prefix."""
    for status in array.status:
        if status.name.startswith(name_prefix):
            values = {kv.key: kv.value for kv in status.values}
            values['_level'] = status.level
            values['_message'] = status.message
            return values
    return None


@pytest.fixture
def diag_probe(ros):
    """A subscription to /diagnostics; returns a function giving the newest values of a
    status by name prefix (or None)."""

    from ezshop_ros.topics import DIAGNOSTICS

    seen = []
    node = ros.node('diag_probe')
    DIAGNOSTICS.subscription(node, seen.append)

    def latest(prefix):
        for array in reversed(seen):
            values = diagnostic_values(array, prefix)
            if values is not None:
                return values
        return None

    def level(prefix):
        """The newest level (DiagnosticStatus OK / WARN / ...) of a status, or None."""
        for array in reversed(seen):
            for status in array.status:
                if status.name.startswith(prefix):
                    return status.level
        return None
    latest.level = level
    return latest
