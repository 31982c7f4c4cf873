"""A second look at a shelf camera's lanes with a stronger face detector. Plain Python, no rclpy.

HOG (the detector face_node runs on every detection round) misses some faces outright: a head
turned away or cut by an edge as a shopper leans into a lane (measured on the dev photos: one
photo, turned three-quarters and cut at the forehead, HOG finds at no size, upsampled or not;
dlib's CNN detector finds it from 72 px: bench/detection.py, test_second_look.py). A pick
whose taker has no face near the lane is held for staff, so such a shopper's picks never reach
the receipt. dlib's CNN detector (face_recognition's
``model='cnn'``) finds them, but costs ~0.5 s per 640x480 frame on one CPU core, too much for
every frame. So it looks only where it is needed, at most every ``second_look_interval_s`` per
camera: at the region of one lane (its reach zone and the band above it, where the face of
someone standing at or leaning into the lane is) where something is in front of the shelf
(OpenCV's MOG2 background subtractor says so) and the detector found no face this round. The
lane looked at longest ago goes first. Its faces join the round's detections and are tracked,
encoded and identified like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ezshop_common.boxes import Box
from ezshop_common.settings import setting
from ezshop_common.store_config import Camera

#: A lane's region reaches this far above its reach zone, in zone heights (the face of a
#: shopper standing at the lane is above the zone, a leaning one inside it).
ABOVE_ZONE = 0.4
#: ... and this far to each side, in zone widths.
BESIDE_ZONE = 0.1
#: Someone standing still for about this many detection rounds becomes background (the looks
#: were taken long before); the empty shelf is learned from the first frame.
STILL_ROUNDS = 300
#: MOG2's learning rate for that: a new colour becomes background once its weight passes
#: 1 - backgroundRatio (0.1 by default), i.e. after about 0.1 / rate frames.
LEARNING_RATE = 0.1 / STILL_ROUNDS


@dataclass(frozen=True)
class SecondLookSettings:
    """When a shelf camera's lanes get a look with the CNN face detector."""

    second_look_interval_s: float = setting(
        1.0, "Shortest time between two looks with dlib's CNN face detector at one shelf "
        "camera's lanes (s; ~0.15 s of one core each); 0 = never", 0.0, 60.0, dynamic=True)
    second_look_foreground: float = setting(
        0.05, 'Share of a lane region that must differ from the empty shelf (background '
        'model) for it to be looked at', 0.0, 1.0, dynamic=True)


def lane_regions(zones: list[Box], width: int, height: int) -> list[Box]:
    """Where the faces of shoppers at each lane are: the reach zone, the band above it and a
    little to each side, inside the image."""
    regions = []
    for zone in zones:
        grown = Box(zone.x - BESIDE_ZONE * zone.width, zone.y - ABOVE_ZONE * zone.height,
                    zone.width * (1 + 2 * BESIDE_ZONE), zone.height * (1 + ABOVE_ZONE))
        regions.append(grown.clipped(width, height))
    return [r for r in regions if r.area > 0]


class SecondLook:
    """Chooses, for one shelf camera, the lane region (if any) to look at this round."""

    def __init__(self, regions: list[Box], settings: SecondLookSettings | None = None):
        self.regions = list(regions)
        self.settings = settings or SecondLookSettings()
        self._background = cv2.createBackgroundSubtractorMOG2(detectShadows=False)
        self._looked_at = [float('-inf')] * len(self.regions)
        self._last_look = float('-inf')
        self._has_background = False

    def choose(self, gray: np.ndarray, scale: float, stamp: float,
               detections: list[Box]) -> Box | None:
        """The region to look at now, or None. ``gray`` is the frame at ``scale`` (the
        tracker's small grey image), ``detections`` the faces found this round (full-size
        pixels). Every call feeds the background model."""
        foreground = self._background.apply(gray, learningRate=LEARNING_RATE)
        if not self._has_background:
            self._has_background = True
            return None  # the model's first frame: all of it is new to it
        interval = self.settings.second_look_interval_s
        if interval <= 0 or not self.regions or \
                0.0 <= stamp - self._last_look < interval:
            return None
        candidates = []
        for index, region in enumerate(self.regions):
            if any(region.contains(*d.center) for d in detections):
                continue  # a face is found there already
            if self._foreground_share(foreground, region, scale) < \
                    self.settings.second_look_foreground:
                continue
            candidates.append((self._looked_at[index], index))
        if not candidates:
            return None
        _, index = min(candidates)
        self._looked_at[index] = self._last_look = stamp
        return self.regions[index]

    def at_lane(self, box: Box) -> bool:
        """Whether a face (full-size pixels) is where the face of a shopper at a lane is."""
        return any(region.contains(*box.center) for region in self.regions)

    @staticmethod
    def _foreground_share(foreground: np.ndarray, region: Box, scale: float) -> float:
        x0, y0 = int(region.x * scale), int(region.y * scale)
        x1, y1 = int((region.x + region.width) * scale), int((region.y + region.height) * scale)
        part = foreground[y0:y1, x0:x1]
        return float(np.count_nonzero(part)) / part.size if part.size else 0.0


def second_look_for(camera: Camera | None,
                    settings: SecondLookSettings | None = None) -> SecondLook | None:
    """The second look of a camera of the store file: None for one that covers no lane."""
    if camera is None or not camera.coverage:
        return None
    zones = [zone.box for zone in camera.coverage]
    return SecondLook(lane_regions(zones, camera.width, camera.height), settings)
