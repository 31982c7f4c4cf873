"""Camera frames of the simulated store (bgr8, numpy + OpenCV), a few ms per frame.

Every camera gets a drawn background (door cameras: a doorway; shelf cameras: the shelf with
the lanes it covers and their items). Each shopper in view is drawn as a body and a real face
photo (a crop around the face of one of the person's appearance photos), its face box centred
on the pose the world model gives and scaled to the pose's size, with small per-frame changes
of position, size, brightness and blur; a shopper looking away from a door camera shows the
back of the head (a hair-coloured ellipse, no face). Faces are drawn far to near, so nearer
ones cover those behind: at a door whoever started the pass earlier is nearer (the world lays
out groups there); at a shelf, faces whose crops would overlap are moved side by side.
All randomness is a function of (seed, camera, frame index): frames replay identically.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ezshop_common.store_config import ROLE_SHELF, Camera
from ezshop_sim.photos import FaceCrop, load_face_crop
from ezshop_sim.world import World

#: Crops are pre-scaled so the face box is this wide (pixels): per-frame resizes stay small.
NORMALIZED_FACE = 200
#: Per-frame jitter: position (pixels, sd), size (relative sd), brightness gain / offset, blur.
JITTER_PX = 1.5
JITTER_SIZE = 0.02
#: A face whose pose is the same this long before and after is standing still.
STILL_S = 0.1
GAIN_RANGE = (0.85, 1.15)
OFFSET_RANGE = (-12.0, 12.0)
BLUR_CHANCE = 0.3

_WALL = (186, 196, 204)
_FLOOR = (120, 128, 136)
_SHELF = (60, 90, 120)
_ITEM_COLOURS = [(40, 40, 200), (200, 120, 30), (40, 160, 220), (60, 160, 60),
                 (150, 60, 150), (30, 200, 200)]
_HAIR_COLOURS = [(30, 35, 45), (25, 45, 80), (60, 130, 180), (140, 140, 145), (35, 60, 120)]


@dataclass
class _Face:
    x: float
    y: float
    size: float
    crop: FaceCrop | None
    colour: tuple[int, int, int]
    reach_to: tuple[int, int] | None
    away: bool = False  # looking away: the camera sees the back of the head
    hair: tuple[int, int, int] = _HAIR_COLOURS[0]
    identity: str = ''
    standing: bool = True  # standing still (not walking, not reaching)


class FrameRenderer:
    """Draws the frames of every camera of a World."""

    def __init__(self, world: World, seed: int):
        self.world = world
        self.store = world.store
        self.seed = seed
        self._crops: dict[Path, FaceCrop] = {}
        for views in world.appearances.values():
            for view in views:
                if view.photo is not None and view.photo not in self._crops:
                    self._crops[view.photo] = _normalize(load_face_crop(view.photo))
        self._backgrounds: dict[tuple, np.ndarray] = {}
        self._zone_bottom = {}
        for camera in self.store.cameras:
            for zone in camera.coverage:
                self._zone_bottom[(camera.camera_id, zone.shelf_id, zone.lane_id)] = (
                    int(zone.x + zone.width / 2), zone.y + zone.height)

    def render(self, camera_id: str, t: float, frame_index: int) -> np.ndarray:
        """The frame camera ``camera_id`` takes at scenario time t (frame number for jitter)."""
        camera = self.store.camera(camera_id)
        frame = self._background(camera, t).copy()
        rng = random.Random(f'{self.seed}:{camera_id}:{frame_index}')
        placed = self.placed_faces(camera_id, t)
        for face in placed:
            face.x += rng.gauss(0.0, JITTER_PX)
            face.y += rng.gauss(0.0, JITTER_PX)
            face.size *= 1.0 + rng.gauss(0.0, JITTER_SIZE)
            self._draw_body(frame, face)
        for face in placed:
            self._draw_face(frame, face, rng)
        return frame

    def placed_faces(self, camera_id: str, t: float) -> list[_Face]:
        """The faces camera ``camera_id`` shows at time t, where they are drawn (before the
        per-frame jitter), in drawing order."""
        camera = self.store.camera(camera_id)
        faces = []
        for view, (x, y, size) in self.world.in_view(camera_id, t):
            reach_to = None
            if any(a <= t < b for a, b in view.reaching) and camera.role == ROLE_SHELF:
                reach_to = self._reach_target(camera, x)
            still = view.pose_at(t - STILL_S) == view.pose_at(t + STILL_S) == (x, y, size)
            faces.append(_Face(x, y, size, self._crops.get(view.photo),
                               _shopper_colour(view.identity), reach_to,
                               view.looks_away(t), _hair_colour(view.identity),
                               view.identity, still and reach_to is None))
        if camera.role == ROLE_SHELF:
            return _side_by_side(faces, camera.width)
        return list(reversed(faces))  # in view order = who started first = nearest: drawn last

    def _reach_target(self, camera: Camera, x: float) -> tuple[int, int] | None:
        best = None
        for zone in camera.coverage:
            cx = zone.x + zone.width / 2.0
            if best is None or abs(cx - x) < abs(best[0] - x):
                best = (int(cx), zone.y + zone.height)
        return best

    def _background(self, camera: Camera, t: float) -> np.ndarray:
        counts = tuple(self.world.lanes[(z.shelf_id, z.lane_id)].count_at(t)
                       for z in camera.coverage)
        key = (camera.camera_id, counts)
        if key not in self._backgrounds:
            if len(self._backgrounds) > 256:
                self._backgrounds.clear()
            self._backgrounds[key] = self._draw_background(camera, counts)
        return self._backgrounds[key]

    def _draw_background(self, camera: Camera, counts: tuple[int, ...]) -> np.ndarray:
        w, h = camera.width, camera.height
        img = np.empty((h, w, 3), np.uint8)
        img[:] = _WALL
        img[int(0.8 * h):] = _FLOOR
        if camera.role != ROLE_SHELF:
            cv2.rectangle(img, (int(0.15 * w), int(0.08 * h)), (int(0.85 * w), int(0.8 * h)),
                          (90, 90, 90), 6)
            cv2.putText(img, f'{camera.camera_id} ({camera.role})', (10, h - 12),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.6, (30, 30, 30), 1, cv2.LINE_AA)
            return img
        shelf_top = int(0.82 * h)
        cv2.rectangle(img, (0, shelf_top), (w - 1, h - 1), _SHELF, -1)
        for zone, count in zip(camera.coverage, counts, strict=True):
            lane = self.store.lane(zone.shelf_id, zone.lane_id)
            colour = _ITEM_COLOURS[zlib.crc32(lane.item_id.encode()) % len(_ITEM_COLOURS)]
            cv2.line(img, (zone.x, shelf_top), (zone.x, h - 1), (30, 50, 70), 2)
            box_w = max(6, min(28, (zone.width - 20) // max(1, lane.capacity)))
            for i in range(count):
                x0 = zone.x + 10 + i * (box_w + 2)
                cv2.rectangle(img, (x0, shelf_top + 12), (x0 + box_w, shelf_top + 50),
                              colour, -1)
            cv2.putText(img, f'{lane.lane_id}: {lane.item_id} x{count}',
                        (zone.x + 8, h - 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                        (230, 230, 230), 1, cv2.LINE_AA)
        return img

    @staticmethod
    def _draw_body(frame: np.ndarray, face: _Face) -> None:
        """Shoulders and torso below the face, an arm to the lane when reaching."""
        x, y, size = face.x, face.y, face.size
        cv2.ellipse(frame, (int(x), int(y + 1.45 * size)), (int(0.95 * size), int(0.85 * size)),
                    0, 0, 360, face.colour, -1)
        if face.reach_to is not None:
            cv2.line(frame, (int(x + 0.5 * size), int(y + 1.1 * size)), face.reach_to,
                     face.colour, max(4, int(0.18 * size)))

    @staticmethod
    def _draw_face(frame: np.ndarray, face: _Face, rng: random.Random) -> None:
        x, y, size = face.x, face.y, face.size
        if face.away:
            cv2.ellipse(frame, (int(x), int(y - 0.05 * size)), (int(0.5 * size),
                        int(0.62 * size)), 0, 0, 360, face.hair, -1, cv2.LINE_AA)
            return
        if face.crop is None:
            cv2.circle(frame, (int(x), int(y)), int(0.6 * size), (150, 170, 200), -1)
            return
        crop = face.crop
        scale = size / crop.face_box[2]
        patch = cv2.resize(crop.image, None, fx=scale, fy=scale,
                           interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR)
        gain = rng.uniform(*GAIN_RANGE)
        offset = rng.uniform(*OFFSET_RANGE)
        patch = cv2.convertScaleAbs(patch, alpha=gain, beta=offset)
        if rng.random() < BLUR_CHANCE:
            patch = cv2.GaussianBlur(patch, (3, 3), rng.uniform(0.3, 1.0))
        fx, fy, fw, fh = crop.face_box
        left = int(round(x - (fx + fw / 2.0) * scale))
        top = int(round(y - (fy + fh / 2.0) * scale))
        _paste(frame, patch, left, top)


def _normalize(crop: FaceCrop) -> FaceCrop:
    """Scale a crop so its face box is NORMALIZED_FACE pixels wide (fast per-frame resizes)."""
    scale = NORMALIZED_FACE / max(1, crop.face_box[2])
    if abs(scale - 1.0) < 0.05:
        return crop
    image = cv2.resize(crop.image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1.0 else cv2.INTER_CUBIC)
    box = tuple(int(round(v * scale)) for v in crop.face_box)
    return FaceCrop(image=image, face_box=box, source=crop.source)


def _paste(frame: np.ndarray, patch: np.ndarray, left: int, top: int) -> None:
    h, w = frame.shape[:2]
    ph, pw = patch.shape[:2]
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(w, left + pw), min(h, top + ph)
    if x1 <= x0 or y1 <= y0:
        return
    frame[y0:y1, x0:x1] = patch[y0 - top:y1 - top, x0 - left:x1 - left]


def _shopper_colour(identity: str) -> tuple[int, int, int]:
    h = zlib.crc32(identity.encode())
    return (60 + h % 150, 60 + (h >> 8) % 150, 60 + (h >> 16) % 150)


def _hair_colour(identity: str) -> tuple[int, int, int]:
    return _HAIR_COLOURS[zlib.crc32(identity.encode()) % len(_HAIR_COLOURS)]


def _side_by_side(faces: list[_Face], width: int) -> list[_Face]:
    """Where each face is drawn, and in which order.

    ``faces`` come in arrival order (the world's view order). A face leaning in to reach or
    walking is drawn where it is, in front of or behind whoever it passes (by size: nearer the
    camera is bigger), as a real camera sees it. The world places standing shoppers apart (a
    spot each, or a queue a step behind); should two standing faces still be inside each other,
    the later one steps a little sideways, else behind (higher up and smaller), else stays
    (partly covered). Standing faces make way only for standing faces, so nobody's place
    depends on a neighbour's reach: moving standing faces out of a reaching face's way made them
    jump ~50 px in the frame a neighbour leant in (a jump no camera sees), and the face node's
    tracker passed a customer's track to the walk-in leaning in beside her. Returns the faces
    in drawing order: far (small) first, near (big) last.
    """
    standing: list[_Face] = []
    for face in faces:
        if not face.standing:
            continue
        if any(_inside(p, face) for p in standing):
            spot = _free_spot(face, standing, width)
            if spot is not None:
                face.x, face.y, face.size = spot
        standing.append(face)
    return sorted(faces, key=lambda f: f.size)


def _free_spot(face: _Face, placed: list[_Face], width: int):
    """Nearest free spot: a step aside, else behind (higher, smaller; partly hidden at worst);
    None when the shelf is too crowded (the face then stays put, partly covered)."""
    behind = (face.y - 0.5 * face.size, 0.8 * face.size)
    for (y, size), max_shift, clear in (((face.y, face.size), 0.6 * face.size, _overlap),
                                        (behind, 1.5 * face.size, _hides),
                                        (behind, 1.5 * face.size, _touches)):
        step = 0.1 * size
        for k in range(1, int(max_shift / step) + 1):
            for x in (face.x - k * step, face.x + k * step):
                if 0.5 * size <= x <= width - 0.5 * size and y >= 0.5 * size and not any(
                        clear(p, x, y, size) for p in placed):
                    return (x, y, size)
    return None


def _inside(a: _Face, b: _Face) -> bool:
    """Whether two faces' centres are within half a face of each other."""
    reach = 0.25 * (a.size + b.size)
    return abs(a.x - b.x) < reach and abs(a.y - b.y) < reach


def _touches(front: _Face, x: float, y: float, size: float) -> bool:
    """Whether two face boxes overlap (a face partly hidden by a crop's margin is still seen)."""
    reach = 0.5 * (front.size + size)
    return abs(front.x - x) < reach and abs(front.y - y) < reach


def _hides(front: _Face, x: float, y: float, size: float) -> bool:
    """Whether ``front``'s crop would cover the face box of a face behind it at (x, y)."""
    reach = 0.85 * front.size + 0.5 * size
    return abs(front.x - x) < reach and abs(front.y - y) < reach


def _overlap(a: _Face, x: float, y: float, size: float) -> bool:
    """Whether face ``a``'s crop and a crop at (x, y, size) overlap (crops: ~1.7 sizes wide)."""
    reach = 0.85 * (a.size + size)
    return abs(a.x - x) < reach and abs(a.y - y) < reach
