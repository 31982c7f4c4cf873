"""Face detection recall by face size: HOG (upsample 0 and 1), HOG with its weak boxes (the
face pipeline's weak_face_score) and dlib's CNN (the second look).

Every dev photo's face (the simulator's crop of it) is pasted at the centre of a plain
640x480 frame at each size, as the simulator draws shoppers; a detector finds it when one of
its boxes overlaps the pasted face (IoU > 0.3). HOG runs on the whole frame, as every
detection round does; the CNN on a 300x300 region around the face, as a second look at one
lane does. Printed and written (bench/results/detection.json, .md): found / photos per size,
median time per call, the photos a detector misses at every size from 80 px, and its boxes
elsewhere in the frames (IoU <= 0.1 with the face: not this face).

Run: scripts/run python bench/detection.py [--sizes 56,64,72,80,90,100,112,125]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from ezshop_common.boxes import Box
from ezshop_sim.photos import PhotoError, identities_dir, list_identities, load_face_crop
from ezshop_vision.face_engine import DetectorSettings, FaceEngine
from ezshop_vision.face_pipeline import PipelineSettings

RESULTS = Path(__file__).resolve().parent / 'results'
WIDTH, HEIGHT = 640, 480
CENTRE = (320, 240)
#: The CNN looks at a region this big around the face (about one lane's region).
REGION_PX = 300
#: A box this much like the pasted face counts as found.
MIN_IOU = 0.3
BACKGROUND_BGR = (186, 196, 204)  # the simulator's wall
#: The face pipeline's default weak_face_score.
WEAK_SCORE = PipelineSettings().weak_face_score
#: A box overlapping the face at most this much is somewhere else.
ELSEWHERE_IOU = 0.1


def frame_with(crop, size: float) -> tuple[np.ndarray, Box]:
    """An RGB frame with the crop's face ``size`` px wide at CENTRE, and the face's box."""
    frame = np.full((HEIGHT, WIDTH, 3), BACKGROUND_BGR, np.uint8)
    fx, fy, fw, fh = crop.face_box
    scale = size / fw
    patch = cv2.resize(crop.image, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    left = int(round(CENTRE[0] - (fx + fw / 2) * scale))
    top = int(round(CENTRE[1] - (fy + fh / 2) * scale))
    x0, y0 = max(left, 0), max(top, 0)
    x1 = min(left + patch.shape[1], WIDTH)
    y1 = min(top + patch.shape[0], HEIGHT)
    frame[y0:y1, x0:x1] = patch[y0 - top:y1 - top, x0 - left:x1 - left]
    face = Box(left + fx * scale, top + fy * scale, fw * scale, fh * scale)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), face


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--sizes', default='56,64,72,80,90,100,112,125',
                        help='face widths in pixels, comma-separated')
    parser.add_argument('--faces-subdir', default='dev')
    parser.add_argument('--out', type=Path, default=RESULTS)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(',')]
    root = Path(identities_dir(None, args.faces_subdir))
    crops = {}
    for identity in list_identities(root):
        for photo in sorted((root / identity).glob('*.jpg')):
            try:
                crops[f'{identity}/{photo.name}'] = load_face_crop(photo)
            except PhotoError:
                continue
    hog0 = FaceEngine(DetectorSettings(upsample=0))
    hog1 = FaceEngine(DetectorSettings(upsample=1))
    region = Box(CENTRE[0] - REGION_PX / 2, CENTRE[1] - REGION_PX / 2, REGION_PX, REGION_PX)
    def with_weak(rgb):
        strong, weak = hog0.detect_scored(rgb, WEAK_SCORE)
        return strong + [box for box, _ in weak]

    detectors = {'HOG, upsample 0 (frame)': hog0.detect, 'HOG, upsample 1 (frame)': hog1.detect,
                 f'HOG, upsample 0, weak boxes from {WEAK_SCORE} (frame)': with_weak,
                 f'CNN ({REGION_PX}x{REGION_PX} region)':
                     lambda rgb: hog0.detect_closely(rgb, region)}
    found = {name: {size: [] for size in sizes} for name in detectors}
    times = {name: [] for name in detectors}
    elsewhere = {name: 0 for name in detectors}
    for name_photo, crop in crops.items():
        for size in sizes:
            rgb, face = frame_with(crop, size)
            for name, detect in detectors.items():
                start = time.perf_counter()
                boxes = detect(rgb)
                times[name].append(time.perf_counter() - start)
                if any(b.iou(face) > MIN_IOU for b in boxes):
                    found[name][size].append(name_photo)
                elsewhere[name] += sum(b.iou(face) <= ELSEWHERE_IOU for b in boxes)
    results = {
        'date': time.strftime('%Y-%m-%d'), 'machine': platform.machine(),
        'photos': len(crops), 'sizes': sizes,
        'detectors': {name: {
            'found': {str(size): len(found[name][size]) for size in sizes},
            'median_ms': round(1000 * float(np.median(times[name])), 1),
            'boxes_elsewhere': elsewhere[name],
            'missed_from_80px': sorted(p for p in crops if all(
                p not in found[name][s] for s in sizes if s >= 80))}
            for name in detectors}}
    lines = [f"# Face detection by face size ({results['date']})", '',
             f"{len(crops)} dev photos, each pasted at the centre of a plain 640x480 frame at "
             'each face width; found = a box with IoU > 0.3.', '',
             '| detector | ' + ' | '.join(f'{s} px' for s in sizes)
             + ' | median time | missed at every size from 80 px | boxes elsewhere |',
             '|---|' + '---|' * len(sizes) + '---|---|---|']
    for name, r in results['detectors'].items():
        lines.append(f'| {name} | ' + ' | '.join(f"{r['found'][str(s)]}" for s in sizes)
                     + f" | {r['median_ms']} ms | {', '.join(r['missed_from_80px']) or '-'} | "
                     f"{r['boxes_elsewhere']} |")
    lines += ['', 'Reproduce: `scripts/run python bench/detection.py`', '']
    markdown = '\n'.join(lines)
    print(markdown)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'detection.json').write_text(json.dumps(results, indent=1) + '\n')
    (args.out / 'detection.md').write_text(markdown)


if __name__ == '__main__':
    main()
