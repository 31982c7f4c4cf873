"""The image converter: every supported encoding, padding, conversions, malformed messages."""

import importlib.util

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import Image

from ezshop_vision.image_conversion import (
    ImageConversionError,
    cv2_to_imgmsg,
    image_fields,
    imgmsg_to_cv2,
)


def _bgr(height=6, width=5, seed=1):
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _image(**fields):
    msg = Image()
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


@pytest.mark.parametrize('encoding,channels', [('bgr8', 3), ('rgb8', 3), ('bgra8', 4),
                                               ('mono8', 1)])
def test_round_trip_every_encoding(encoding, channels):
    shape = (6, 5) if channels == 1 else (6, 5, channels)
    array = np.random.default_rng(2).integers(0, 256, shape, dtype=np.uint8)
    msg = cv2_to_imgmsg(array, encoding)
    assert (msg.height, msg.width, msg.step, msg.encoding) == (6, 5, 5 * channels, encoding)
    back = imgmsg_to_cv2(msg)
    assert back.shape == array.shape and back.dtype == np.uint8
    assert np.array_equal(back, array)


def test_conversions_match_opencv():
    bgr = _bgr()
    msg = cv2_to_imgmsg(bgr, 'bgr8')
    assert np.array_equal(imgmsg_to_cv2(msg, 'rgb8'), bgr[:, :, ::-1])
    assert np.array_equal(imgmsg_to_cv2(msg, 'mono8'), cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))
    assert imgmsg_to_cv2(msg, 'bgra8').shape == (6, 5, 4)
    mono = cv2_to_imgmsg(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), 'mono8')
    rgb_from_mono = imgmsg_to_cv2(mono, 'rgb8')
    assert rgb_from_mono.shape == (6, 5, 3)
    assert np.array_equal(rgb_from_mono[:, :, 0], rgb_from_mono[:, :, 2])


def test_row_padding_is_dropped():
    bgr = _bgr()
    padded = np.zeros((6, 5 * 3 + 4), np.uint8)
    padded[:, :15] = bgr.reshape(6, 15)
    padded[:, 15:] = 77
    msg = _image(height=6, width=5, encoding='bgr8', step=19, data=padded.tobytes())
    assert np.array_equal(imgmsg_to_cv2(msg), bgr)


def test_result_does_not_share_the_message_buffer():
    msg = cv2_to_imgmsg(_bgr(), 'bgr8')
    out = imgmsg_to_cv2(msg)
    out[:] = 0
    assert imgmsg_to_cv2(msg).any()


@pytest.mark.parametrize('fields,reason', [
    (dict(height=6, width=5, encoding='32FC1', step=20, data=bytes(120)), 'unsupported'),
    (dict(height=6, width=5, encoding='yuv422', step=10, data=bytes(60)), 'unsupported'),
    (dict(height=0, width=0, encoding='bgr8', step=0, data=b''), 'empty'),
    (dict(height=6, width=5, encoding='bgr8', step=10, data=bytes(60)), 'step'),
    (dict(height=6, width=5, encoding='bgr8', step=15, data=bytes(89)), 'data length'),
    (dict(height=6, width=5, encoding='bgr8', step=15, data=b''), 'data length'),
    (dict(height=6, width=5, encoding='mono8', step=5, data=bytes(31)), 'data length'),
])
def test_malformed_messages_are_rejected_with_a_reason(fields, reason):
    with pytest.raises(ImageConversionError, match=reason):
        imgmsg_to_cv2(_image(**fields))


def test_bad_arrays_are_rejected():
    with pytest.raises(ImageConversionError, match='channel'):
        image_fields(_bgr(), 'mono8')
    with pytest.raises(ImageConversionError, match='uint8'):
        image_fields(_bgr().astype(np.float32), 'bgr8')
    with pytest.raises(ImageConversionError, match='unsupported'):
        image_fields(_bgr(), 'hsv8')
    with pytest.raises(ImageConversionError, match='desired'):
        imgmsg_to_cv2(cv2_to_imgmsg(_bgr(), 'bgr8'), 'hsv8')


@pytest.mark.skipif(importlib.util.find_spec('cv_bridge') is None,
                    reason='cv_bridge is not installed (PyPI has no working build)')
def test_agrees_with_cv_bridge():
    from cv_bridge import CvBridge

    bridge = CvBridge()
    bgr = _bgr(48, 64)
    for encoding, array in (('bgr8', bgr), ('rgb8', bgr[:, :, ::-1].copy()),
                            ('bgra8', cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)),
                            ('mono8', cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY))):
        ours, theirs = cv2_to_imgmsg(array, encoding), bridge.cv2_to_imgmsg(array, encoding)
        assert (ours.height, ours.width, ours.step, ours.encoding) == \
            (theirs.height, theirs.width, theirs.step, theirs.encoding)
        assert bytes(ours.data) == bytes(theirs.data)
        for desired in ('passthrough', 'bgr8', 'rgb8', 'mono8'):
            assert np.array_equal(imgmsg_to_cv2(theirs, desired),
                                  bridge.imgmsg_to_cv2(theirs, desired))
