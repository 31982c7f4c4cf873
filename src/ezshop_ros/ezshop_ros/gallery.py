"""The gallery off the open bus, incremental: the store serves its enrolled customers on the
get_gallery service (pages by id, or named customers) and announces each change on
gallery_revision with the ids it added and removed (no name, no embedding there); the nodes
that need the gallery fetch the whole of it once, then only what each revision changed.

    GalleryServer(node, StoreGallery(...))                  # store_node
    server.changed(added=[customer_id])                     # after an enrolment
    GalleryClient(node, listener, with_embeddings=True)     # face_node: keeps its own index
    GalleryClient(node, WholeGallery(on_gallery), False)    # greeter: the whole list each time

Both ends are the real thing: tests and benches stand in for the store with a GalleryServer of
their own entries (EntryList).
"""

from __future__ import annotations

import bisect
import time
import uuid
from array import array
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from rclpy.clock import Clock, ClockType
from rclpy.node import Node

from ezshop_common.gallery_entry import GalleryEntry
from ezshop_msgs.msg import GalleryCustomer, GalleryRevision
from ezshop_msgs.srv import GetGallery
from ezshop_ros.topics import GALLERY_REVISION

#: The store's service (relative: the store's namespace applies).
GET_GALLERY_SERVICE = 'get_gallery'
#: Most customers in one page (3 dlib embeddings each: ~1.6 KB; a page ~3 MB, well under the
#: shared-memory transport's 32 MiB segment).
MAX_PAGE = 2000
#: A page not answered within this long is asked for again.
PAGE_TIMEOUT_S = 10.0


def gallery_customers(entries: Iterable[GalleryEntry],
                      with_embeddings: bool = True) -> list[GalleryCustomer]:
    """GalleryCustomer messages (embeddings float32, flattened row by row, or none)."""
    return [GalleryCustomer(
        customer_id=entry.customer_id, name=entry.name,
        embedding_dim=entry.dim if with_embeddings else 0, model=entry.model,
        # array('f') goes into the message as it is (a numpy array is checked value by value:
        # most of a page's cost at a million customers).
        embeddings=array('f', entry.embeddings.astype('<f4').tobytes()) if with_embeddings
        else array('f')) for entry in entries]


class GallerySource(Protocol):
    """Where a GalleryServer reads the gallery (the store's database)."""

    def count(self) -> int: ...

    def page(self, after_id: str, limit: int) -> list[GalleryEntry]: ...

    def by_ids(self, customer_ids: list[str]) -> list[GalleryEntry]: ...


class EntryList:
    """A GallerySource over entries in memory (tests and benches standing in for the store)."""

    def __init__(self, entries: Iterable[GalleryEntry] = ()):
        self.entries = {e.customer_id: e for e in entries}

    def count(self) -> int:
        return len(self.entries)

    def page(self, after_id: str, limit: int) -> list[GalleryEntry]:
        ids = sorted(self.entries)
        first = bisect.bisect_right(ids, after_id) if after_id else 0
        return [self.entries[i] for i in ids[first:first + limit]]

    def by_ids(self, customer_ids: list[str]) -> list[GalleryEntry]:
        return [self.entries[i] for i in sorted(set(customer_ids)) if i in self.entries]


class GalleryServer:
    """Serves a GallerySource on get_gallery and announces each change on gallery_revision."""

    def __init__(self, node: Node, source: GallerySource):
        self._node = node
        self.source = source
        self.gallery_id = uuid.uuid4().hex
        self.revision = 0
        self.customers = source.count()
        self.pages_served = 0
        self.refused = 0
        self._revision_pub = GALLERY_REVISION.publisher(node)
        node.create_service(GetGallery, GET_GALLERY_SERVICE, self._on_request)
        self.changed()

    def changed(self, added: Iterable[str] = (), removed: Iterable[str] = ()) -> None:
        """The gallery changed by these customers: announce the next revision."""
        added, removed = list(added), list(removed)
        self.customers += len(added) - len(removed)
        self.revision += 1
        msg = GalleryRevision(gallery_id=self.gallery_id, revision=self.revision,
                              customers=max(self.customers, 0), added=added, removed=removed)
        msg.header.stamp = self._node.get_clock().now().to_msg()
        self._revision_pub.publish(msg)

    def __len__(self) -> int:
        return self.customers

    def _on_request(self, request: GetGallery.Request,
                    response: GetGallery.Response) -> GetGallery.Response:
        response.gallery_id, response.revision = self.gallery_id, self.revision
        wanted = list(request.customer_ids)
        if not 1 <= request.max_customers <= MAX_PAGE or len(wanted) > request.max_customers:
            self.refused += 1
            response.success = False
            response.message = (f'max_customers must be 1..{MAX_PAGE} and cover customer_ids '
                                f'(got {request.max_customers} for {len(wanted)} ids)')
            return response
        if wanted:
            page, response.more = self.source.by_ids(wanted), False
        else:
            page = self.source.page(request.after_customer_id, request.max_customers + 1)
            response.more = len(page) > request.max_customers
            page = page[:request.max_customers]
        response.customers = gallery_customers(page, request.with_embeddings)
        response.success = True
        self.pages_served += 1
        return response


class GalleryListener(Protocol):
    """What a GalleryClient tells its node, always on the node's executor, in order."""

    def reset(self) -> None:
        """A whole gallery follows (pages of add()): forget what you hold."""

    def add(self, customers: list[GalleryCustomer]) -> None:
        """Customers to hold (new, or again after a reset)."""

    def remove(self, customer_ids: list[str]) -> None:
        """Customers forgotten."""

    def synced(self, revision: tuple[str, int]) -> None:
        """You now hold this revision of the gallery."""


class WholeGallery:
    """A GalleryListener that keeps every customer and hands the whole list to on_gallery at
    each revision (nodes with a small or names-only gallery: greeter, console, tools)."""

    def __init__(self, on_gallery: Callable[[list[GalleryCustomer]], None]):
        self._on_gallery = on_gallery
        self.customers: dict[str, GalleryCustomer] = {}

    def reset(self) -> None:
        self.customers = {}

    def add(self, customers: list[GalleryCustomer]) -> None:
        self.customers.update((c.customer_id, c) for c in customers)

    def remove(self, customer_ids: list[str]) -> None:
        for customer_id in customer_ids:
            self.customers.pop(customer_id, None)

    def synced(self, revision: tuple[str, int]) -> None:
        self._on_gallery([self.customers[i] for i in sorted(self.customers)])


class GalleryClient:
    """A node's copy of the store's gallery, kept by a GalleryListener: the whole gallery
    (pages of get_gallery) at start, after a store restart or a missed revision; after that,
    each revision's own change (its removed ids, its added customers fetched by id). All
    requests are asynchronous, on the node's executor."""

    def __init__(self, node: Node, listener: GalleryListener, with_embeddings: bool,
                 page_size: int = MAX_PAGE):
        self._node = node
        self._listener = listener
        self._with_embeddings = with_embeddings
        self._page_size = page_size
        self._client = node.create_client(GetGallery, GET_GALLERY_SERVICE)
        self.have: tuple[str, int] | None = None
        self.announced: tuple[str, int] | None = None  # the newest revision on the topic
        self._announced_at_start: tuple[str, int] | None = None  # of the whole fetch
        self._changes: deque[GalleryRevision] = deque()  # announced, not yet applied
        self._whole = False  # a whole-gallery fetch is due or under way
        self._cursor: str | None = None  # of the whole fetch under way
        self._fetch_of: tuple[str, int] | None = None
        self._future = None
        self._sent_at = 0.0
        self.fetches = 0
        self.changes_applied = 0
        self.failures = 0
        GALLERY_REVISION.subscription(node, self._on_revision)
        # Steady time: with use_sim_time and no /clock yet, the retries still run.
        node.create_timer(0.2, self._poll, clock=Clock(clock_type=ClockType.STEADY_TIME))

    def _on_revision(self, msg: GalleryRevision) -> None:
        if self.announced is None or msg.gallery_id != self.announced[0] \
                or msg.revision > self.announced[1]:
            self.announced = (msg.gallery_id, msg.revision)
        newest = self._changes[-1] if self._changes else None
        known = (newest.gallery_id, newest.revision) if newest else self.have
        if known is not None and msg.gallery_id == known[0] and msg.revision <= known[1]:
            return  # old news (a late joiner gets the history)
        if known is not None and msg.gallery_id == known[0] and msg.revision == known[1] + 1 \
                and not self._whole:
            self._changes.append(msg)
        else:
            self._whole, self._changes = True, deque()
        self._poll()

    def _poll(self) -> None:
        if self._future is not None:
            if self._future.done() or time.monotonic() - self._sent_at < PAGE_TIMEOUT_S:
                return
            self._client.remove_pending_request(self._future)
            self._fail('get_gallery did not answer in time')
        if not self._client.service_is_ready():
            return
        if self._whole:
            if self._cursor is None:
                self._cursor, self._fetch_of = '', None
                self._announced_at_start = self.announced
            self._send(GetGallery.Request(after_customer_id=self._cursor,
                                          max_customers=self._page_size))
        elif self._changes:
            change = self._changes[0]
            if not change.added:
                self._apply(change, [])
                self._poll()
                return
            self._send(GetGallery.Request(customer_ids=list(change.added),
                                          max_customers=max(len(change.added), 1)))

    def _send(self, request: GetGallery.Request) -> None:
        request.with_embeddings = self._with_embeddings
        self._future = self._client.call_async(request)
        self._sent_at = time.monotonic()
        self._future.add_done_callback(self._on_answer)

    def _fail(self, why: str) -> None:
        self.failures += 1
        self._future = None
        self._node.get_logger().warning(f'gallery: {why}; asking again',
                                        throttle_duration_sec=5.0)

    def _restart_whole(self) -> None:
        self._whole, self._cursor, self._changes = True, None, deque()

    def _on_answer(self, future) -> None:
        if future is not self._future:
            return  # timed out and asked again meanwhile
        self._future = None
        response = future.result()
        if response is None or not response.success:
            self._fail(response.message if response is not None else 'no answer')
            return
        revision = (response.gallery_id, response.revision)
        if self._whole:
            if self._fetch_of is not None and revision != self._fetch_of:
                self._restart_whole()  # it changed between pages: start over
            else:
                if self._fetch_of is None:
                    self._fetch_of = revision
                    self._listener.reset()
                more = response.more and len(response.customers) > 0
                if more:
                    # The store reads the next page while this one is added.
                    self._cursor = response.customers[-1].customer_id
                    self._poll()
                self._listener.add(list(response.customers))
                if not more:
                    self._whole, self._cursor = False, None
                    self.have = revision
                    self.fetches += 1
                    self._listener.synced(revision)
                    if self.announced != self._announced_at_start and \
                            self._behind(revision):
                        # A revision announced while the pages came is not in them (its
                        # message arrived before this answer): fetch the whole again.
                        self._restart_whole()
        elif self._changes:
            change = self._changes[0]
            if response.gallery_id != change.gallery_id or response.revision < change.revision:
                self._restart_whole()
            else:
                self._apply(change, list(response.customers))
        self._poll()

    def _behind(self, revision: tuple[str, int]) -> bool:
        """Whether a newer revision than ``revision`` was announced."""
        announced = self.announced
        return announced is not None and (announced[0] != revision[0]
                                          or announced[1] > revision[1])

    def _apply(self, change: GalleryRevision, added: list[GalleryCustomer]) -> None:
        """One revision's change (the customers it added, as fetched now)."""
        self._changes.popleft()
        self._listener.remove(list(change.removed))
        if added:
            self._listener.add(added)
        self.have = (change.gallery_id, change.revision)
        self.changes_applied += 1
        self._listener.synced(self.have)
