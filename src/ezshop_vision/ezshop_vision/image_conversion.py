"""sensor_msgs/Image <-> numpy arrays, with cv_bridge's behaviour for the encodings we use.

cv_bridge is not installable from PyPI, so this small module stands in for it where it is
missing (and agrees with it where it is installed; see the tests). Supported encodings:
``bgr8``, ``rgb8``, ``bgra8``, ``mono8``. Every message is validated (encoding, width, height,
step, data length) and a bad one raises :class:`ImageConversionError` with a clear reason,
never a numpy error or a crash.

This module does not import rclpy: it works on any object with the Image fields, and
:func:`cv2_to_imgmsg` imports sensor_msgs only when it builds a message.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Channels per supported encoding (all 8-bit unsigned).
CHANNELS = {'bgr8': 3, 'rgb8': 3, 'bgra8': 4, 'mono8': 1}
#: Largest image we accept (pixels per side): guards against absurd headers.
MAX_SIDE = 16384

# (from, to) -> cv2 colour conversion code; identical encodings need none.
_CONVERSIONS = {
    ('bgr8', 'rgb8'): cv2.COLOR_BGR2RGB,
    ('rgb8', 'bgr8'): cv2.COLOR_RGB2BGR,
    ('bgr8', 'mono8'): cv2.COLOR_BGR2GRAY,
    ('rgb8', 'mono8'): cv2.COLOR_RGB2GRAY,
    ('bgr8', 'bgra8'): cv2.COLOR_BGR2BGRA,
    ('rgb8', 'bgra8'): cv2.COLOR_RGB2BGRA,
    ('bgra8', 'bgr8'): cv2.COLOR_BGRA2BGR,
    ('bgra8', 'rgb8'): cv2.COLOR_BGRA2RGB,
    ('bgra8', 'mono8'): cv2.COLOR_BGRA2GRAY,
    ('mono8', 'bgr8'): cv2.COLOR_GRAY2BGR,
    ('mono8', 'rgb8'): cv2.COLOR_GRAY2RGB,
    ('mono8', 'bgra8'): cv2.COLOR_GRAY2BGRA,
}


class ImageConversionError(ValueError):
    """The image message (or array) cannot be converted; the message says why."""


def check_image_fields(width: int, height: int, encoding: str, step: int,
                       data_len: int) -> int:
    """Validate an Image's geometry; return the channel count or raise ImageConversionError."""
    if encoding not in CHANNELS:
        raise ImageConversionError(
            f'unsupported encoding {encoding!r} (supported: {", ".join(CHANNELS)})')
    if width <= 0 or height <= 0:
        raise ImageConversionError(f'empty image ({width}x{height})')
    if width > MAX_SIDE or height > MAX_SIDE:
        raise ImageConversionError(f'image too large ({width}x{height})')
    channels = CHANNELS[encoding]
    row_bytes = width * channels
    if step < row_bytes:
        raise ImageConversionError(
            f'step {step} is smaller than width*channels = {row_bytes} for {encoding}')
    if data_len != step * height:
        raise ImageConversionError(
            f'data length {data_len} != step*height = {step}*{height} = {step * height}')
    return channels


def imgmsg_to_cv2(msg, desired_encoding: str = 'passthrough') -> np.ndarray:
    """Convert a sensor_msgs/Image to an ndarray (HxW for mono8, HxWxC otherwise).

    ``desired_encoding`` 'passthrough' keeps the message's encoding; else the pixels are
    converted to it (one of the supported encodings). Row padding (step > width*channels) is
    dropped. The result never shares memory with the message.
    """
    data = msg.data
    data_len = len(data)
    channels = check_image_fields(msg.width, msg.height, msg.encoding, msg.step, data_len)
    if desired_encoding != 'passthrough' and desired_encoding not in CHANNELS:
        raise ImageConversionError(f'unsupported desired encoding {desired_encoding!r}')
    try:
        buffer = np.frombuffer(data, dtype=np.uint8)  # bytes, bytearray, array.array('B')
    except TypeError:
        buffer = np.asarray(data, dtype=np.uint8)  # a plain list of ints
    if buffer.size != data_len:
        raise ImageConversionError(f'data is not a byte buffer ({type(data).__name__})')
    rows = buffer.reshape(msg.height, msg.step)[:, :msg.width * channels]
    if channels == 1:
        image = np.ascontiguousarray(rows.reshape(msg.height, msg.width))
    else:
        image = np.ascontiguousarray(rows.reshape(msg.height, msg.width, channels))
    return convert_encoding(image, msg.encoding, desired_encoding)


def convert_encoding(image: np.ndarray, source: str, target: str) -> np.ndarray:
    """Convert pixels between supported encodings (a copy when no conversion is needed)."""
    if target in ('passthrough', source):
        return image if image.flags.owndata else image.copy()
    code = _CONVERSIONS.get((source, target))
    if code is None:
        raise ImageConversionError(f'cannot convert {source} to {target}')
    return cv2.cvtColor(image, code)


def image_fields(image: np.ndarray, encoding: str) -> dict:
    """The Image fields (height, width, encoding, is_bigendian, step, data) for an array."""
    if not isinstance(image, np.ndarray):
        raise ImageConversionError(f'expected a numpy array, got {type(image).__name__}')
    if encoding not in CHANNELS:
        raise ImageConversionError(
            f'unsupported encoding {encoding!r} (supported: {", ".join(CHANNELS)})')
    if image.dtype != np.uint8:
        raise ImageConversionError(f'{encoding} needs uint8 pixels, got {image.dtype}')
    channels = CHANNELS[encoding]
    shape_channels = 1 if image.ndim == 2 else (image.shape[2] if image.ndim == 3 else -1)
    if shape_channels != channels:
        raise ImageConversionError(
            f'{encoding} has {channels} channel(s) but the array has shape {image.shape}')
    height, width = image.shape[:2]
    if height == 0 or width == 0:
        raise ImageConversionError(f'empty image ({width}x{height})')
    data = np.ascontiguousarray(image).tobytes()
    return {'height': int(height), 'width': int(width), 'encoding': encoding,
            'is_bigendian': 0, 'step': int(width * channels), 'data': data}


def cv2_to_imgmsg(image: np.ndarray, encoding: str = 'bgr8', header=None):
    """Build a sensor_msgs/Image from an ndarray (data filled with ``tobytes()``, fast)."""
    from sensor_msgs.msg import Image

    msg = Image()
    for key, value in image_fields(image, encoding).items():
        setattr(msg, key, value)
    if header is not None:
        msg.header = header
    return msg


def encode_jpeg(bgr: np.ndarray, quality: int) -> bytes:
    """JPEG bytes of a BGR image (review snapshots, a camera's recent frames)."""
    ok, jpeg = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError('the frame could not be encoded')
    return jpeg.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray | None:
    """The BGR image of JPEG bytes, or None when they are not an image."""
    if not data:
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
