"""Store messages as plain dicts for the console (JSON to the browser), and back. No rclpy
import: the node hands messages in, the core and the app see only dicts."""

from __future__ import annotations

from ezshop_common.limits import MAX_ID_CHARS, MAX_NAME_CHARS
from ezshop_ros.stamps import stamp_seconds

#: CustomerEvent kinds, by number (ezshop_msgs/CustomerEvent).
CUSTOMER_EVENT_KINDS = {0: 'entered', 1: 'exited', 2: 'unknown_person', 3: 'seen', 4: 'absent'}
OPENED_BY = {0: 'entrance', 1: 'late entry'}
ENDED_BY = {0: 'exit', 1: 'absent', 2: 'staff'}
LEVELS = {0: 'info', 1: 'warn', 2: 'error'}                        # Alert levels
HEALTH_LEVELS = {0: 'ok', 1: 'warn', 2: 'error', 3: 'stale'}        # DiagnosticStatus levels


def line_dicts(lines) -> list[dict]:
    return [{'item_id': line.item_id, 'name': line.name, 'quantity': int(line.quantity),
             'unit_price_cents': int(line.unit_price_cents),
             'line_total_cents': int(line.line_total_cents)} for line in lines]


def cart_dict(msg) -> dict:
    return {'customer_id': msg.customer_id, 'visit_id': msg.visit_id,
            'stamp': stamp_seconds(msg.header.stamp), 'lines': line_dicts(msg.lines),
            'total_cents': int(msg.total_cents), 'currency': msg.currency}


def receipt_dict(msg) -> dict:
    return {'receipt_id': msg.receipt_id, 'revision': int(msg.revision),
            'visit_id': msg.visit_id, 'customer_id': msg.customer_id,
            'customer_name': msg.customer_name, 'lines': line_dicts(msg.lines),
            'total_cents': int(msg.total_cents), 'currency': msg.currency,
            'entered_at': stamp_seconds(msg.entered_at),
            'exited_at': stamp_seconds(msg.exited_at),
            'opened_by': OPENED_BY.get(msg.opened_by, str(msg.opened_by)),
            'ended_by': ENDED_BY.get(msg.ended_by, str(msg.ended_by))}


def inventory_dicts(msg) -> list[dict]:
    return [{'item_id': item.item_id, 'name': item.name, 'price_cents': int(item.price_cents),
             'stock': int(item.stock), 'low_stock_threshold': int(item.low_stock_threshold)}
            for item in msg.items]


def alert_dict(msg) -> dict:
    return {'stamp': stamp_seconds(msg.header.stamp), 'level': LEVELS.get(msg.level, 'info'),
            'kind': msg.kind, 'message': msg.message, 'refs': list(msg.refs),
            'source': msg.source}


def customer_event_dict(msg) -> dict:
    return {'event_id': msg.event_id,
            'kind': CUSTOMER_EVENT_KINDS.get(msg.kind, str(msg.kind)),
            'customer_id': msg.customer_id, 'stamp': stamp_seconds(msg.header.stamp)}


def gallery_names(customers) -> tuple[dict[str, str], int]:
    """customer id -> name of the store's gallery (the GalleryCustomer messages of one
    revision, as GalleryClient hands them over), and how many entries could not be a
    customer (left out)."""
    customers = list(customers)
    names = {customer.customer_id: customer.name for customer in customers
             if 0 < len(customer.customer_id) <= MAX_ID_CHARS
             and len(customer.name) <= MAX_NAME_CHARS}
    return names, len(customers) - len(names)


def health_dicts(msg) -> list[dict]:
    return [{'name': status.name, 'hardware_id': status.hardware_id,
             'level': HEALTH_LEVELS.get(int.from_bytes(status.level, 'little')
                                 if isinstance(status.level, bytes) else int(status.level),
                                 'error'),
             'message': status.message} for status in msg.status]


def held_action_dict(msg) -> dict:
    return {'event_id': msg.event_id, 'stamp': stamp_seconds(msg.stamp),
            'shelf_id': msg.shelf_id, 'lane_id': msg.lane_id, 'item_id': msg.item_id,
            'quantity': int(msg.quantity), 'reason': msg.reason,
            'customer_id': msg.customer_id,
            'candidates': [{'customer_id': cid, 'score': round(float(score), 3)}
                           for cid, score in zip(msg.candidate_ids, msg.candidate_scores,
                                                 strict=False)]}
