"""Core objects to ROS messages and back: ezshop_msgs/Gallery <-> ezshop_vision.gallery.Gallery."""

from __future__ import annotations

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import Gallery as GalleryMsg
from ezshop_ros.gallery import gallery_msg
from ezshop_vision.face_engine import EMBEDDING_DIM, EMBEDDING_MODEL
from ezshop_vision.gallery import Gallery, gallery_from_entries


def gallery_to_msg(gallery: Gallery, model: str = EMBEDDING_MODEL) -> GalleryMsg:
    """A Gallery message (embeddings float32, flattened) for the given gallery."""
    return gallery_msg(GalleryEntry(customer_id, gallery.names.get(customer_id, ''), gallery.dim,
                                    model, gallery.embeddings_of(customer_id))
                       for customer_id in gallery.customer_ids)


def gallery_from_msg(msg: GalleryMsg) -> tuple[Gallery, list[str]]:
    """The gallery of a message, and the reasons for any customer left out."""
    entries = [(c.customer_id, c.name, c.embedding_dim, c.model, c.embeddings)
               for c in msg.customers]
    return gallery_from_entries(entries, EMBEDDING_DIM, EMBEDDING_MODEL)
