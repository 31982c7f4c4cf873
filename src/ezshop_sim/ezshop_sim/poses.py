"""Where a shopper's face appears in a camera image (pixels): door passes and shelf poses.

A pose is (x, y, size): the centre of the face box and its side in pixels. The world model
strings poses into keyframes; the renderer interpolates between them.
"""

from __future__ import annotations

from ezshop_common.store_config import Camera, ReachZone

Pose = tuple[float, float, float]

#: Face size when a door camera sees a shopper far away, and when close (pixels).
DOOR_FAR_SIZE = 50.0
DOOR_CLOSE_SIZE = 165.0
#: Height of the face centre in a door camera's image, as a fraction of the image height.
DOOR_Y = 0.42


def door_slot_x(camera: Camera, slot: int, n_slots: int) -> float:
    """Centre x of slot ``slot`` when ``n_slots`` people pass the door side by side."""
    return camera.width * (slot + 0.5) / n_slots


def door_close_size(camera: Camera, n_slots: int) -> float:
    """Face size at the door when close; smaller when several pass side by side."""
    return min(DOOR_CLOSE_SIZE, 0.58 * camera.width / n_slots)


def door_keyframes(camera: Camera, t0: float, slot: int, n_slots: int, approach_s: float,
                   hold_s: float, leave_s: float, leave_right: bool
                   ) -> list[tuple[float, float, float, float]]:
    """A pass through a door: far -> close (the face grows), hold, then out of view sideways."""
    x = door_slot_x(camera, slot, n_slots)
    y = camera.height * DOOR_Y
    close = door_close_size(camera, n_slots)
    mid = DOOR_FAR_SIZE + 0.55 * (close - DOOR_FAR_SIZE)
    x_out = camera.width + close if leave_right else -close
    return [
        (t0, x, y, DOOR_FAR_SIZE),
        (t0 + 0.45 * approach_s, x, y, mid),
        (t0 + approach_s, x, y, close),
        (t0 + approach_s + hold_s, x, y, close),
        (t0 + approach_s + hold_s + leave_s, x_out, y, close),
    ]


def stand_size(zone: ReachZone) -> float:
    """Face size of a shopper standing in front of a lane (pixels)."""
    return max(50.0, min(100.0, 0.5 * zone.width, 0.4 * zone.height))


def stand_pose(zone: ReachZone, x: float | None = None) -> Pose:
    """Standing at the lane, not reaching: the face above the reach zone (a shopper leans
    down and in to take something), at image column ``x`` (default: the lane's centre)."""
    size = stand_size(zone)
    return (zone.x + zone.width / 2.0 if x is None else x, zone.y - 0.45 * size, size)


def standing_spots(camera: Camera, zone: ReachZone) -> list[float]:
    """Image columns where shoppers can stand side by side in front of a shelf camera, at least
    1.1 face widths apart and spread evenly over the image: people never stand inside each
    other."""
    size = stand_size(zone)
    span = camera.width - 1.2 * size
    count = max(1, int(span // (1.1 * size)) + 1)
    if count == 1:
        return [camera.width / 2.0]
    return [0.6 * size + i * span / (count - 1) for i in range(count)]


def reach_pose(zone: ReachZone) -> Pose:
    """Reaching into the lane: leaning in, the face inside the reach zone and closer."""
    return (zone.x + zone.width / 2.0, zone.y + 0.35 * zone.height, 1.25 * stand_size(zone))


def offscreen_pose(camera: Camera, zone: ReachZone) -> Pose:
    """Just outside the image, on the side nearer the lane (where a shopper walks in from)."""
    x, y, size = stand_pose(zone)
    out_x = -0.7 * size if x < camera.width / 2.0 else camera.width + 0.7 * size
    return (out_x, y, size)
