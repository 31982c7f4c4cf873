"""FaceEngine on real photos: the same boxes and embeddings as face_recognition, and engines
used from two threads at once give the same answers as one after the other."""

import glob
import os
import threading

import dlib
import face_recognition
import numpy as np
import pytest

from ezshop_vision.face_engine import DetectorSettings, FaceEngine


def photo(faces_root, name):
    return face_recognition.load_image_file(faces_root / 'dev' / name / '1.jpg')


def test_boxes_and_embeddings_match_face_recognition(faces_root, engine):
    image = photo(faces_root, 'obama')
    boxes = engine.detect(image)
    expected = face_recognition.face_locations(image, number_of_times_to_upsample=0)
    assert [b.to_trbl() for b in boxes] == [tuple(loc) for loc in expected]
    ours = engine.encode(image, boxes)
    theirs = face_recognition.face_encodings(image, expected, model='large')
    assert ours.shape == (1, 128)
    assert np.allclose(ours[0], theirs[0], atol=1e-5)


def test_two_engines_in_two_threads_agree_with_one_thread(faces_root):
    images = [photo(faces_root, name) for name in ('obama', 'biden', 'bbt_penny', 'rose_leslie')]
    engines = [FaceEngine(DetectorSettings(upsample=0)) for _ in range(2)]
    alone = [engines[0].encode(img, engines[0].detect(img)) for img in images]
    results: dict[int, list] = {}

    def work(index):
        eng = engines[index]
        results[index] = [eng.encode(img, eng.detect(img)) for img in images for _ in range(2)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(2):
        got = results[index][::2]
        assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(got, alone, strict=True))


def test_dlib_uses_openblas():
    # make setup builds dlib against OpenBLAS (encodings ~5x cheaper) unless
    # EZSHOP_DLIB_BLAS=0 or the machine has no OpenBLAS: then the pinned dlib-bin is in use.
    if os.environ.get('EZSHOP_DLIB_BLAS', '1') != '1':
        pytest.skip('EZSHOP_DLIB_BLAS=0: the pinned dlib-bin (no BLAS) is in use')
    if not (glob.glob('/usr/lib*/libopenblas.so') or glob.glob('/usr/lib*/*/libopenblas.so')):
        pytest.skip('no OpenBLAS on this machine (apt-get install libopenblas-dev, then make '
                    'setup): the pinned dlib-bin (no BLAS) is in use')
    assert dlib.DLIB_USE_BLAS, 'OpenBLAS is installed, but dlib was not built with it: ' \
        'run make setup'
