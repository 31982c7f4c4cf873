"""One enrolled customer's face embeddings, as the store keeps them and the gallery carries them.
Plain Python."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GalleryEntry:
    """A customer with their embeddings (float32, shape (n, dim)) from face model `model`."""

    customer_id: str
    name: str
    dim: int
    model: str
    embeddings: np.ndarray
