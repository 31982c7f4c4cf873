"""Face detection and 128-d embeddings with face_recognition (dlib). Plain Python, no rclpy.

``face_recognition`` is imported on first use (it takes ~1.7 s), so modules that only need
boxes or the gallery stay quick to import.

Every FaceEngine loads its own dlib models (face_recognition's model files, the same steps as
``face_recognition.face_locations`` / ``face_encodings``): dlib objects are not safe for
concurrent use, and dlib releases the GIL while it works, so one engine per worker thread lets
a face node use every core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from ezshop_common.boxes import Box
from ezshop_common.settings import setting

# A face node runs one engine per worker thread; OpenBLAS's own threads (make setup builds dlib
# on OpenBLAS, scripts/setup.sh) would only compete with them and spin on a busy
# machine (measured beside the receipt bench: 64 ms per encoding with its default threads,
# 32 ms with one). Set before dlib loads OpenBLAS; an explicit setting wins.
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')

#: Length of a dlib face embedding.
EMBEDDING_DIM = 128
#: Name of the model that makes the embeddings (carried in Gallery / RegisterCustomer).
EMBEDDING_MODEL = 'dlib_face_recognition_resnet_model_v1'
DETECTOR_MODELS = ('hog', 'cnn')
#: Landmark models used to align a face before encoding (68-point 'large' is more accurate
#: on our photos, see bench/recognition.py; 5-point 'small' is face_recognition's default).
LANDMARK_MODELS = ('large', 'small')


class _DlibModels:
    """One private copy of the dlib models face_recognition uses."""

    def __init__(self, detector_model: str):
        import dlib
        import face_recognition.api as api
        import face_recognition_models as files

        self.api = api
        self.hog = dlib.get_frontal_face_detector()
        self.cnn = (dlib.cnn_face_detection_model_v1(files.cnn_face_detector_model_location())
                    if detector_model == 'cnn' else None)
        self._files = files
        self._second_look_cnn = None
        self.landmarks = {
            'large': dlib.shape_predictor(files.pose_predictor_model_location()),
            'small': dlib.shape_predictor(files.pose_predictor_five_point_model_location())}
        self.encoder = dlib.face_recognition_model_v1(files.face_recognition_model_location())

    def cnn_detector(self):
        """The CNN detector: the engine's own, or (a HOG engine's second look) loaded on
        first use and kept apart, so the engine's detections stay HOG."""
        if self.cnn is not None:
            return self.cnn
        if self._second_look_cnn is None:
            import dlib

            self._second_look_cnn = dlib.cnn_face_detection_model_v1(
                self._files.cnn_face_detector_model_location())
        return self._second_look_cnn


@dataclass(frozen=True)
class DetectorSettings:
    """How faces are found: dlib model, upsampling and a downscale factor applied first."""

    model: str = 'hog'
    upsample: int = 0
    downscale: float = 1.0

    def __post_init__(self):
        if self.model not in DETECTOR_MODELS:
            raise ValueError(f'detector model must be one of {DETECTOR_MODELS}, got '
                             f'{self.model!r}')
        if self.upsample < 0 or self.upsample > 3:
            raise ValueError(f'upsample must be 0..3, got {self.upsample}')
        if not 0.1 <= self.downscale <= 1.0:
            raise ValueError(f'downscale must be in [0.1, 1.0], got {self.downscale}')


@dataclass(frozen=True)
class FaceEngineSettings:
    """The face engines of a node: detector and alignment models, one engine per worker
    thread, and how the threads share the cameras. The detector's upsampling and downscale are
    read on every detection and the lane head start on every frame, so they may change at run
    time; the models are loaded and the threads started once."""

    detector_model: str = setting('hog', "face_recognition detector: 'hog' (CPU) or 'cnn' "
                                  '(needs a CUDA dlib)')
    upsample: int = setting(0, 'Times the detector upsamples the image (finds smaller faces, '
                            '~4x slower per step)', 0, 3, dynamic=True)
    downscale: float = setting(1.0, 'Scale applied to the image before detection (0.5 = half '
                               'size, faster, misses small faces)', 0.1, 1.0, dynamic=True)
    landmark_model: str = setting('large', "Face alignment before encoding: 'large' (68 "
                                  "points) or 'small' (5 points)")
    worker_threads: int = setting(2, 'Threads processing the cameras (each with its own face '
                                  'models); a free thread takes the camera whose frame has '
                                  'waited longest', 1, 8)
    lane_head_start_s: float = setting(
        0.3, 'A shelf camera with a face at a lane that is not named yet goes before cameras '
        'whose frames waited up to this much longer (s): under load, the frames that name '
        'the taker of a pick come first; 0 = longest waiting first for all', 0.0, 5.0,
        dynamic=True)

    @property
    def detector(self) -> DetectorSettings:
        return DetectorSettings(self.detector_model, self.upsample, self.downscale)


class FaceEngine:
    """Detects faces and computes embeddings on RGB uint8 images."""

    def __init__(self, settings: DetectorSettings | None = None, num_jitters: int = 1,
                 landmarks: str = 'large'):
        if landmarks not in LANDMARK_MODELS:
            raise ValueError(f'landmarks must be one of {LANDMARK_MODELS}, got {landmarks!r}')
        self.settings = settings or DetectorSettings()
        self.num_jitters = num_jitters
        self.landmarks = landmarks
        self._models = _DlibModels(self.settings.model)

    def detect(self, rgb: np.ndarray) -> list[Box]:
        """Face boxes in the pixel coordinates of ``rgb``."""
        return self.detect_scored(rgb)[0]

    def detect_scored(self, rgb: np.ndarray, weak_score: float = 0.0) \
            -> tuple[list[Box], list[tuple[Box, float]]]:
        """Face boxes (the detector's own threshold) and, for HOG, the weaker ones scoring
        from ``weak_score`` (< 0) up to that threshold, with their scores: mostly turned
        faces, sometimes not a face at all."""
        scale = self.settings.downscale
        small = rgb
        if scale < 1.0:
            small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        models = self._models
        if models.cnn is not None:
            found = [(f.rect, 1.0) for f in models.cnn(small, self.settings.upsample)]
        else:
            rects, scores, _ = models.hog.run(small, self.settings.upsample, min(weak_score, 0.0))
            found = list(zip(rects, scores, strict=True))
        height, width = rgb.shape[:2]
        strong, weak = [], []
        boxes = self._boxes([rect for rect, _ in found], small.shape)
        for (_, score), box in zip(found, boxes, strict=True):
            box = (box.scaled(1.0 / scale) if scale < 1.0 else box).clipped(width, height)
            if box.area <= 0:
                continue
            if score >= 0.0:
                strong.append(box)
            else:
                weak.append((box, float(score)))
        return strong, weak

    def detect_closely(self, rgb: np.ndarray, region: Box) -> list[Box]:
        """Face boxes found by dlib's CNN detector inside ``region`` of ``rgb`` (full-image
        pixels): slower than HOG (~0.15 s for a 300x300 region on one core), finds turned and
        tilted faces HOG misses."""
        height, width = rgb.shape[:2]
        region = region.clipped(width, height)
        x0, y0 = int(region.x), int(region.y)
        x1, y1 = int(region.x + region.width), int(region.y + region.height)
        if x1 <= x0 or y1 <= y0:
            return []
        part = np.ascontiguousarray(rgb[y0:y1, x0:x1])
        found = self._models.cnn_detector()(part, 0)
        return [b.shifted(x0, y0) for b in self._boxes([f.rect for f in found], part.shape)
                if b.area > 0]

    def _boxes(self, rects, shape) -> list[Box]:
        """dlib rectangles as Boxes inside an image of ``shape`` (face_recognition's steps)."""
        api = self._models.api
        return [Box.from_trbl(*api._trim_css_to_bounds(api._rect_to_css(rect), shape))
                for rect in rects]

    def encode(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """One float32 embedding (EMBEDDING_DIM) per box, shape (len(boxes), EMBEDDING_DIM)."""
        if not boxes:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        models = self._models
        predictor = models.landmarks[self.landmarks]
        encodings = [models.encoder.compute_face_descriptor(
            rgb, predictor(rgb, models.api._css_to_rect(b.to_trbl())), self.num_jitters)
            for b in boxes]
        return np.asarray(encodings, dtype=np.float32).reshape(len(boxes), EMBEDDING_DIM)


def sharpness(rgb: np.ndarray, box: Box) -> float:
    """Variance of the Laplacian over the face box (low = blurred), on a 128 px face."""
    height, width = rgb.shape[:2]
    b = box.clipped(width, height)
    x0, y0 = int(b.x), int(b.y)
    crop = rgb[y0:y0 + max(int(b.height), 1), x0:x0 + max(int(b.width), 1)]
    if crop.size == 0:
        return 0.0
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    gray = cv2.resize(gray, (128, 128), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())
