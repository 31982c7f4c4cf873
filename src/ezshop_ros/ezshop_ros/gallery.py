"""The Gallery message built from gallery entries: the store publishes it, tests and benches
stand in for the store with it."""

from __future__ import annotations

from collections.abc import Iterable

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import Gallery, GalleryCustomer


def gallery_msg(entries: Iterable[GalleryEntry]) -> Gallery:
    """A Gallery message (embeddings float32, flattened row by row); the caller stamps it."""
    return Gallery(customers=[GalleryCustomer(
        customer_id=entry.customer_id, name=entry.name, embedding_dim=entry.dim,
        model=entry.model, embeddings=entry.embeddings.astype('float32').ravel().tolist())
        for entry in entries])
