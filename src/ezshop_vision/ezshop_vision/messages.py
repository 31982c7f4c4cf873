"""Core objects to ROS messages and back: the store's gallery (GalleryCustomer messages from
get_gallery) <-> ezshop_vision.gallery.Gallery."""

from __future__ import annotations

from collections.abc import Iterable

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import GalleryCustomer
from ezshop_vision.face_engine import EMBEDDING_MODEL
from ezshop_vision.gallery import Gallery, add_entries


def gallery_entries(gallery: Gallery, model: str = EMBEDDING_MODEL) -> list[GalleryEntry]:
    """The entries a GalleryServer serves for this gallery (tests and benches stand in for the
    store with them)."""
    return [GalleryEntry(customer_id, gallery.names.get(customer_id, ''), gallery.dim, model,
                         gallery.embeddings_of(customer_id))
            for customer_id in gallery.customer_ids]


def add_customers(gallery: Gallery, customers: Iterable[GalleryCustomer]) -> list[str]:
    """Add the store's customers straight into a gallery; why any was left out."""
    return add_entries(gallery, ((c.customer_id, c.name, c.embedding_dim, c.model,
                                  c.embeddings) for c in customers), EMBEDDING_MODEL)


class GalleryKeeper:
    """A face node's gallery kept from the store's (an ezshop_ros.gallery.GalleryListener):
    a whole gallery is built aside while the live one stays in use, then swapped in; a change
    is applied to the live one (Gallery is safe to change while workers identify).
    on_synced(revision, whole) runs when it is complete at a revision."""

    def __init__(self, on_synced, logger):
        self.gallery = Gallery()
        self.rejected = 0
        self._incoming: Gallery | None = None
        self._bulk = None  # the incoming gallery's bulk load
        self._on_synced = on_synced
        self._logger = logger

    def reset(self) -> None:
        self._end_bulk()
        self._incoming = Gallery()
        # Its index is built once, when it is complete, not page by page.
        self._bulk = self._incoming.bulk()
        self._bulk.__enter__()

    def _end_bulk(self) -> None:
        if self._bulk is not None:
            self._bulk.__exit__(None, None, None)
            self._bulk = None

    def add(self, customers) -> None:
        target = self._incoming if self._incoming is not None else self.gallery
        problems = add_customers(target, customers)
        for problem in problems:
            self._logger.warning(f'gallery entry ignored: {problem}')
        self.rejected += len(problems)

    def remove(self, customer_ids) -> None:
        for customer_id in customer_ids:
            self.gallery.remove(customer_id)

    def synced(self, revision) -> None:
        whole = self._incoming is not None
        if whole:
            self._end_bulk()
            self.gallery, self._incoming = self._incoming, None
        self._on_synced(revision, whole)
