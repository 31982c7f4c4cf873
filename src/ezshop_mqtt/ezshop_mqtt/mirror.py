"""What the bridge mirrors from the store graph to MQTT, for other systems (accounting, a
dashboard, a building controller): topic, payload and whether the broker keeps it. No rclpy.

    <prefix>/<store>/receipts            every receipt (and each revision of one)   QoS 1
    <prefix>/<store>/alerts              every alert                                QoS 1
    <prefix>/<store>/inventory           the latest stock, kept by the broker       QoS 1, retained
    <prefix>/<store>/bridge/status       "online" / "offline" (the bridge's will)   QoS 1, retained

Delivery is at least once (a restarted bridge mirrors the store's latched receipts again):
a consumer keys receipts on (receipt_id, revision). Receipts name customers by id only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

KIND_RECEIPT = 'receipt'
KIND_ALERT = 'alert'
KIND_INVENTORY = 'inventory'
#: kind -> (topic suffix, retained)
MIRRORED = {KIND_RECEIPT: ('receipts', False), KIND_ALERT: ('alerts', False),
            KIND_INVENTORY: ('inventory', True)}
STATUS_ONLINE = b'online'
STATUS_OFFLINE = b'offline'


@dataclass(frozen=True)
class Outgoing:
    topic: str
    payload: bytes
    retain: bool


def status_topic(prefix: str, store_id: str) -> str:
    return f'{prefix}/{store_id}/bridge/status'


def mirrored(prefix: str, store_id: str, kind: str, fields: dict) -> Outgoing:
    """The MQTT message for one store message (its fields as a dict, e.g. rosidl_runtime_py's
    message_to_ordereddict): {"v": 1, "kind": ..., "data": {...}}."""
    suffix, retain = MIRRORED[kind]
    payload = json.dumps({'v': 1, 'kind': kind, 'data': fields}, separators=(',', ':'),
                         allow_nan=False, default=str)
    return Outgoing(f'{prefix}/{store_id}/{suffix}', payload.encode(), retain)
