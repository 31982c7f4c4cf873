"""Core objects to ROS messages and back: the store's gallery (GalleryCustomer messages from
get_gallery) <-> ezshop_vision.gallery.Gallery."""

from __future__ import annotations

from collections.abc import Iterable

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import GalleryCustomer
from ezshop_vision.face_engine import EMBEDDING_DIM, EMBEDDING_MODEL
from ezshop_vision.gallery import Gallery, gallery_from_entries


def gallery_entries(gallery: Gallery, model: str = EMBEDDING_MODEL) -> list[GalleryEntry]:
    """The entries a GalleryServer serves for this gallery (tests and benches stand in for the
    store with them)."""
    return [GalleryEntry(customer_id, gallery.names.get(customer_id, ''), gallery.dim, model,
                         gallery.embeddings_of(customer_id))
            for customer_id in gallery.customer_ids]


def gallery_from_customers(customers: Iterable[GalleryCustomer]) -> tuple[Gallery, list[str]]:
    """The gallery of the store's customers, and the reasons for any customer left out."""
    entries = [(c.customer_id, c.name, c.embedding_dim, c.model, c.embeddings)
               for c in customers]
    return gallery_from_entries(entries, EMBEDDING_DIM, EMBEDDING_MODEL)
