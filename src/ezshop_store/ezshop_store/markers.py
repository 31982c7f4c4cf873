"""store_markers for rviz: shelves and lanes (item, stock) and the shoppers in the store.

Layout (metres, in the `markers_frame`): shelf i at x = 1.5 i, its lane j at y = 0.5 j; the
shoppers' list at x = -1.5. Built from plain values; only message types are imported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point, Pose, Quaternion, Vector3
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from ezshop_common.store_config import StoreConfig
from ezshop_store.store_service import ItemState
from ezshop_store.store_types import CartView

GREEN = ColorRGBA(r=0.2, g=0.8, b=0.3, a=0.9)
ORANGE = ColorRGBA(r=1.0, g=0.6, b=0.1, a=0.9)
RED = ColorRGBA(r=0.9, g=0.1, b=0.1, a=0.9)
WHITE = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)


def _marker(ns: str, marker_id: int, kind: int, x: float, y: float, z: float,
            frame_id: str, stamp: Time) -> Marker:
    marker = Marker(ns=ns, id=marker_id, type=kind, action=Marker.ADD)
    marker.header.frame_id = frame_id
    marker.header.stamp = stamp
    marker.pose = Pose(position=Point(x=x, y=y, z=z), orientation=Quaternion(w=1.0))
    return marker


def store_markers(store: StoreConfig, items: Mapping[str, ItemState],
                  carts: Sequence[CartView], frame_id: str, stamp: Time) -> MarkerArray:
    """A DELETEALL then one cube + label per lane and one label per shopper in the store
    (by customer id: names stay off the bus)."""
    clear = Marker(action=Marker.DELETEALL)
    clear.header.frame_id = frame_id
    clear.header.stamp = stamp
    markers = [clear]
    marker_id = 0
    for i, shelf in enumerate(store.shelves):
        for j, lane in enumerate(shelf.lanes):
            item = items.get(lane.item_id)
            stock = item.stock if item else 0
            cube = _marker('lanes', marker_id, Marker.CUBE, 1.5 * i, 0.5 * j, 0.2, frame_id,
                           stamp)
            cube.scale = Vector3(x=0.4, y=0.4, z=0.4)
            cube.color = RED if stock <= 0 else (
                ORANGE if item and stock <= item.low_stock_threshold else GREEN)
            label = _marker('lane_labels', marker_id, Marker.TEXT_VIEW_FACING, 1.5 * i,
                            0.5 * j, 0.6, frame_id, stamp)
            label.scale = Vector3(z=0.1)
            label.color = WHITE
            label.text = (f'{shelf.shelf_id}/{lane.lane_id}\n'
                          f'{item.name if item else lane.item_id}: {stock}')
            markers += [cube, label]
            marker_id += 1
    for k, cart in enumerate(c for c in carts if c.in_store):
        label = _marker('shoppers', k, Marker.TEXT_VIEW_FACING, -1.5, 0.4 * k, 0.5, frame_id,
                        stamp)
        label.scale = Vector3(z=0.1)
        label.color = WHITE
        count = sum(line.quantity for line in cart.lines)
        label.text = (f'{cart.customer_id}: {count} items, '
                      f'{cart.total_cents / 100:.2f} {cart.currency}')
        markers.append(label)
    return MarkerArray(markers=markers)
