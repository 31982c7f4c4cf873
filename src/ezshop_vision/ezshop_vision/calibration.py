"""Camera calibration files in the standard camera_calibration (camera_info_manager) YAML
format. Plain Python, no rclpy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml


class CalibrationError(ValueError):
    """The calibration file is unreadable or malformed; the message names the key."""


@dataclass(frozen=True)
class Calibration:
    camera_name: str
    width: int
    height: int
    distortion_model: str
    d: tuple[float, ...]
    k: tuple[float, ...]
    r: tuple[float, ...]
    p: tuple[float, ...]


def _matrix(data: dict, key: str, rows: int | None, cols: int | None) -> tuple[float, ...]:
    node = data.get(key)
    if not isinstance(node, dict) or 'data' not in node:
        raise CalibrationError(f'{key}: missing or not a {{rows, cols, data}} mapping')
    values = node['data']
    if not isinstance(values, list) or not all(isinstance(v, (int, float)) for v in values):
        raise CalibrationError(f'{key}.data: must be a list of numbers')
    if rows is not None and len(values) != rows * cols:
        raise CalibrationError(f'{key}.data: expected {rows * cols} values, got {len(values)}')
    return tuple(float(v) for v in values)


def load_calibration(path: str | Path) -> Calibration:
    """Read image_width, image_height, camera_name, camera_matrix, distortion_model,
    distortion_coefficients, rectification_matrix and projection_matrix."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CalibrationError(f'{path}: cannot read calibration: {exc}') from None
    if not isinstance(data, dict):
        raise CalibrationError(f'{path}: not a mapping')
    try:
        width, height = int(data['image_width']), int(data['image_height'])
    except (KeyError, TypeError, ValueError):
        raise CalibrationError(f'{path}: image_width / image_height missing or not integers'
                               ) from None
    try:
        return Calibration(
            camera_name=str(data.get('camera_name', '')), width=width, height=height,
            distortion_model=str(data.get('distortion_model', 'plumb_bob')),
            d=_matrix(data, 'distortion_coefficients', None, None),
            k=_matrix(data, 'camera_matrix', 3, 3),
            r=_matrix(data, 'rectification_matrix', 3, 3),
            p=_matrix(data, 'projection_matrix', 3, 4))
    except CalibrationError as exc:
        raise CalibrationError(f'{path}: {exc}') from None
