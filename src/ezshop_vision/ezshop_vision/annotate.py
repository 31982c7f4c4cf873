"""Draw face boxes, track ids and names on a BGR image (for rqt_image_view). Plain Python."""

from __future__ import annotations

import cv2
import numpy as np

KNOWN_COLOUR = (60, 200, 60)     # BGR green
UNKNOWN_COLOUR = (40, 160, 255)  # BGR orange


def annotate(bgr: np.ndarray, faces, names: dict[str, str] | None = None) -> np.ndarray:
    """A copy of ``bgr`` with one box and label per face (FaceResult-like objects)."""
    out = bgr.copy()
    names = names or {}
    for face in faces:
        box = face.box
        x0, y0 = int(box.x), int(box.y)
        x1, y1 = int(box.x + box.width), int(box.y + box.height)
        colour = KNOWN_COLOUR if face.customer_id else UNKNOWN_COLOUR
        cv2.rectangle(out, (x0, y0), (x1, y1), colour, 2)
        who = names.get(face.customer_id) or face.customer_id or 'unknown'
        label = f'#{face.track_id} {who}'
        cv2.putText(out, label, (x0, max(y0 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    colour, 1, cv2.LINE_AA)
    return out
