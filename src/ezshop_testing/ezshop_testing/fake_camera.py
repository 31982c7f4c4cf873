"""A still photo as a Y4M video, for Chromium's fake camera in browser tests
(`--use-fake-device-for-media-stream --use-file-for-fake-video-capture=<file>.y4m`)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def photo_y4m(photo: str | Path, out: str | Path, width: int = 640, height: int = 480,
              frames: int = 10) -> Path:
    """The photo scaled to fit width x height (centred on grey), ``frames`` frames of it."""
    bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'cannot read image {photo}')
    scale = min(width / bgr.shape[1], height / bgr.shape[0])
    scaled = cv2.resize(bgr, (int(bgr.shape[1] * scale) // 2 * 2,
                              int(bgr.shape[0] * scale) // 2 * 2), interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 128, np.uint8)
    top, left = (height - scaled.shape[0]) // 2, (width - scaled.shape[1]) // 2
    canvas[top:top + scaled.shape[0], left:left + scaled.shape[1]] = scaled
    planes = cv2.cvtColor(canvas, cv2.COLOR_BGR2YUV_I420).tobytes()  # Y, then U, then V
    out = Path(out)
    with out.open('wb') as y4m:
        y4m.write(f'YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n'.encode())
        for _ in range(frames):
            y4m.write(b'FRAME\n' + planes)
    return out
