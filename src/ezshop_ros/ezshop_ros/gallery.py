"""The gallery off the open bus: the store serves its enrolled customers on the get_gallery
service, a page at a time, and announces each change on gallery_revision (no name, no
embedding there); the nodes that need the gallery fetch it when the revision changes.

    GalleryServer(node, lambda: entries)       # store_node; server.changed() after a change
    GalleryClient(node, on_gallery, with_embeddings=True)   # face_node, web_node, greeter...

Both ends are the real thing: tests and benches stand in for the store with a GalleryServer
of their own entries.
"""

from __future__ import annotations

import bisect
import time
import uuid
from collections.abc import Callable, Iterable

from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import GalleryCustomer, GalleryRevision
from ezshop_msgs.srv import GetGallery
from ezshop_ros.topics import GALLERY_REVISION

#: The store's service (relative: the store's namespace applies).
GET_GALLERY_SERVICE = 'get_gallery'
#: Most customers in one page (3 dlib embeddings each: ~1.6 KB; a page ~0.8 MB).
MAX_PAGE = 500
#: A page not answered within this long is asked for again.
PAGE_TIMEOUT_S = 5.0


def gallery_customers(entries: Iterable[GalleryEntry],
                      with_embeddings: bool = True) -> list[GalleryCustomer]:
    """GalleryCustomer messages (embeddings float32, flattened row by row, or none)."""
    return [GalleryCustomer(
        customer_id=entry.customer_id, name=entry.name,
        embedding_dim=entry.dim if with_embeddings else 0, model=entry.model,
        embeddings=entry.embeddings.astype('float32').ravel().tolist() if with_embeddings
        else []) for entry in entries]


class GalleryServer:
    """Serves `entries()` (read again after each changed()) on get_gallery and announces
    each change on gallery_revision."""

    def __init__(self, node: Node, entries: Callable[[], Iterable[GalleryEntry]]):
        self._node = node
        self._entries_of = entries
        self.gallery_id = uuid.uuid4().hex
        self.revision = 0
        self.pages_served = 0
        self.refused = 0
        self._entries: list[GalleryEntry] = []
        self._ids: list[str] = []
        self._revision_pub = GALLERY_REVISION.publisher(node)
        node.create_service(GetGallery, GET_GALLERY_SERVICE, self._on_request)
        self.changed()

    def changed(self) -> None:
        """The gallery changed: read it again and announce the new revision."""
        self._entries = sorted(self._entries_of(), key=lambda e: e.customer_id)
        self._ids = [e.customer_id for e in self._entries]
        self.revision += 1
        msg = GalleryRevision(gallery_id=self.gallery_id, revision=self.revision,
                              customers=len(self._entries))
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._revision_pub.publish(msg)

    def __len__(self) -> int:
        return len(self._entries)

    def _on_request(self, request: GetGallery.Request,
                    response: GetGallery.Response) -> GetGallery.Response:
        response.gallery_id, response.revision = self.gallery_id, self.revision
        if not 1 <= request.max_customers <= MAX_PAGE:
            self.refused += 1
            response.success = False
            response.message = f'max_customers must be 1..{MAX_PAGE} (got {request.max_customers})'
            return response
        first = bisect.bisect_right(self._ids, request.after_customer_id) \
            if request.after_customer_id else 0
        page = self._entries[first:first + request.max_customers]
        response.customers = gallery_customers(page, request.with_embeddings)
        response.more = first + len(page) < len(self._entries)
        response.success = True
        self.pages_served += 1
        return response


class GalleryClient:
    """A node's copy of the store's gallery: when gallery_revision announces a revision it
    does not have, fetches every page of get_gallery (asynchronously, on the node's executor)
    and calls on_gallery(customers) with the whole gallery of one revision. Announcements that
    come while it fetches make one more fetch (a flood of them costs a fetch at a time)."""

    def __init__(self, node: Node, on_gallery: Callable[[list[GalleryCustomer]], None],
                 with_embeddings: bool, page_size: int = MAX_PAGE):
        self._node = node
        self._on_gallery = on_gallery
        self._with_embeddings = with_embeddings
        self._page_size = page_size
        self._client = node.create_client(GetGallery, GET_GALLERY_SERVICE)
        self._stale = False  # an announced revision differs from the one we have
        self.have: tuple[str, int] | None = None
        self._pages: list[GalleryCustomer] | None = None
        self._page_of: tuple[str, int] | None = None
        self._future = None
        self._sent_at = 0.0
        self.fetches = 0
        self.failures = 0
        GALLERY_REVISION.subscription(node, self._on_revision)
        # Steady time: with use_sim_time and no /clock yet, the retries still run.
        node.create_timer(0.2, self._poll, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _on_revision(self, msg: GalleryRevision) -> None:
        if (msg.gallery_id, msg.revision) != self.have:
            self._stale = True
            self._poll()

    def _poll(self) -> None:
        if self._future is not None:
            if self._future.done() or time.monotonic() - self._sent_at < PAGE_TIMEOUT_S:
                return
            self._client.remove_pending_request(self._future)
            self._fail('get_gallery did not answer in time')
        if self._pages is None and (not self._stale or not self._client.service_is_ready()):
            return
        if self._pages is None:
            self._pages, self._page_of = [], None
            self._stale = False
        cursor = self._pages[-1].customer_id if self._pages else ''
        self._future = self._client.call_async(GetGallery.Request(
            after_customer_id=cursor, max_customers=self._page_size,
            with_embeddings=self._with_embeddings))
        self._sent_at = time.monotonic()
        self._future.add_done_callback(self._on_page)

    def _fail(self, why: str) -> None:
        self.failures += 1
        self._future, self._pages, self._stale = None, None, True
        self._node.get_logger().warning(f'gallery: {why}; asking again',
                                        throttle_duration_sec=5.0)

    def _on_page(self, future) -> None:
        if future is not self._future:
            return  # timed out and asked again meanwhile
        response = future.result()
        if response is None or not response.success:
            self._fail(response.message if response is not None else 'no answer')
            return
        self._future = None
        revision = (response.gallery_id, response.revision)
        if self._page_of is not None and revision != self._page_of:
            self._pages, self._stale = None, True  # it changed between pages: start over
            self._poll()
            return
        self._page_of = revision
        self._pages.extend(response.customers)
        if response.more:
            self._poll()
            return
        customers, self._pages = self._pages, None
        self.have = revision
        self.fetches += 1
        self._on_gallery(customers)
        self._poll()
