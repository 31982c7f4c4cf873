"""What the console shows, folded from the store's messages (as dicts, see messages.py): who
is in the store with their live cart, inventory, alerts, receipts, the health of every sensor
and camera, the fridges and freezers (fridge_view.py). Each ``on_*`` returns the updates to
push to open consoles, as (section, data) pairs; ``snapshot()`` is everything at once for a
page that just opened. Plain Python."""

from __future__ import annotations

from collections import deque

from ezshop_web.fridge_view import FridgeView
from ezshop_web.web_settings import WebSettings

Update = tuple[str, object]


class StoreView:
    def __init__(self, alerts_kept: int = WebSettings.alerts_kept,
                 receipts_kept: int = WebSettings.receipts_kept, fridges=(),
                 fridge_stale_s: float = WebSettings.fridge_stale_s):
        self.names: dict[str, str] = {}
        self.carts: dict[str, dict] = {}          # customer_id -> cart of the open visit
        self.arrivals: dict[str, dict] = {}       # customer_id -> last entered / seen event
        self.inventory: list[dict] = []
        self.alerts: deque[dict] = deque(maxlen=alerts_kept)
        self.receipts: dict[tuple[str, int], dict] = {}
        self.receipts_kept = receipts_kept
        self.health: dict[str, dict] = {}
        self._next_alert_id = 1
        self.fridges = FridgeView(fridges, fridge_stale_s)
        #: The newest time (s, the node's clock) the view was told: ages are measured to it.
        self.now_s = 0.0

    # -- input -------------------------------------------------------------------------------
    def on_gallery(self, names: dict[str, str]) -> list[Update]:
        self.names = dict(names)
        return [('presence', self.presence()), ('customers', self.customers())]

    def on_customer_event(self, event: dict) -> list[Update]:
        if event['kind'] in ('entered', 'seen') and event['customer_id']:
            self.arrivals[event['customer_id']] = event
            return [('presence', self.presence())]
        return []

    def on_cart(self, cart: dict) -> list[Update]:
        if cart['visit_id']:
            self.carts[cart['customer_id']] = cart
        elif self.carts.pop(cart['customer_id'], None) is None:
            return []
        return [('presence', self.presence())]

    def on_receipt(self, receipt: dict) -> list[Update]:
        self.receipts[(receipt['receipt_id'], receipt['revision'])] = receipt
        while len(self.receipts) > self.receipts_kept:
            oldest = min(self.receipts, key=lambda key: self.receipts[key]['exited_at'])
            del self.receipts[oldest]
        return [('receipts', self.receipt_list())]

    def on_inventory(self, items: list[dict]) -> list[Update]:
        self.inventory = sorted(items, key=lambda item: item['item_id'])
        return [('inventory', self.inventory)]

    def on_alert(self, alert: dict, now_s: float | None = None) -> list[Update]:
        self.alerts.appendleft({**alert, 'alert_id': self._next_alert_id,
                                'acknowledged_by': '', 'acknowledged_at': None})
        self._next_alert_id += 1
        updates: list[Update] = [('alerts', list(self.alerts))]
        if self.fridges.on_alert(alert):
            updates += self._fridge_update(self._clock(now_s))
        return updates

    def on_temperature(self, fridge_id: str, stamp_s: float, value_c: float,
                       now_s: float) -> list[Update]:
        """A fridge's probe reading (degrees C, stamped at the reading)."""
        if not self.fridges.on_reading(fridge_id, stamp_s, value_c):
            return []
        return self._fridge_update(self._clock(now_s))

    def fridges_tick(self, now_s: float) -> list[Update]:
        """On a timer: a probe that fell silent, and the ages of the readings shown."""
        return self._fridge_update(self._clock(now_s), refresh=True)

    def _fridge_update(self, now_s: float, refresh: bool = False) -> list[Update]:
        rows = self.fridges.update(now_s, refresh)
        return [('fridges', rows)] if rows is not None else []

    def _clock(self, now_s: float | None) -> float:
        if now_s is not None:
            self.now_s = now_s
        return self.now_s

    def acknowledge(self, alert_id: int | None, staff_id: str,
                    now_s: float) -> tuple[int, list[Update]]:
        """Staff saw an alert (alert_id None: every alert shown). Returns how many were newly
        acknowledged (acknowledging twice changes nothing) and the updates."""
        count = 0
        for index, alert in enumerate(self.alerts):
            if (alert_id is None or alert['alert_id'] == alert_id) \
                    and not alert['acknowledged_by']:
                # A new dict: pages may still be sending the old one.
                self.alerts[index] = {**alert, 'acknowledged_by': staff_id,
                                      'acknowledged_at': now_s}
                count += 1
        return count, ([('alerts', list(self.alerts))] if count else [])

    def has_alert(self, alert_id: int) -> bool:
        return any(alert['alert_id'] == alert_id for alert in self.alerts)

    def on_health(self, statuses: list[dict]) -> list[Update]:
        changed = False
        for status in statuses:
            key = status['name']
            if self.health.get(key) != status:
                self.health[key] = status
                changed = True
        return [('health', self.health_list())] if changed else []

    # -- output ------------------------------------------------------------------------------
    def name_of(self, customer_id: str) -> str:
        return self.names.get(customer_id, customer_id)

    def presence(self) -> list[dict]:
        """Who is in the store, longest there first, with the live cart."""
        people = []
        for customer_id, cart in self.carts.items():
            arrival = self.arrivals.get(customer_id, {})
            people.append({
                'customer_id': customer_id, 'name': self.name_of(customer_id),
                'entered_at': arrival.get('stamp'),
                'opened_by': 'late entry' if arrival.get('kind') == 'seen' else 'entrance',
                'visit_id': cart['visit_id'], 'lines': cart['lines'],
                'total_cents': cart['total_cents'], 'currency': cart['currency']})
        return sorted(people, key=lambda p: (p['entered_at'] is None, p['entered_at'] or 0.0))

    def customers(self) -> list[dict]:
        return sorted(({'customer_id': cid, 'name': name} for cid, name in self.names.items()),
                      key=lambda c: c['name'].lower())

    def receipt_list(self) -> list[dict]:
        return sorted(self.receipts.values(),
                      key=lambda r: (r['exited_at'], r['revision']), reverse=True)

    def health_list(self) -> list[dict]:
        return sorted(self.health.values(), key=lambda s: s['name'])

    def customer_state(self, customer_id: str) -> dict[str, object]:
        """What one customer may see: their name, open cart, receipts. Nobody else's."""
        return {'name': self.name_of(customer_id),
                'cart': customer_entry(self.presence(), customer_id),
                'receipts': customer_receipts(self.receipt_list(), customer_id)}

    def snapshot(self, now_s: float | None = None) -> dict[str, object]:
        return {'presence': self.presence(), 'customers': self.customers(),
                'inventory': self.inventory, 'alerts': list(self.alerts),
                'receipts': self.receipt_list(), 'health': self.health_list(),
                'fridges': self.fridges.rows(self._clock(now_s))}


def customer_entry(presence: list[dict], customer_id: str) -> dict | None:
    """The customer's own entry of a presence list (their open cart), or None."""
    return next((p for p in presence if p['customer_id'] == customer_id), None)


def customer_receipts(receipts: list[dict], customer_id: str) -> list[dict]:
    return [r for r in receipts if r['customer_id'] == customer_id]


class CustomerFeed:
    """One customer's live events from the console's updates: their cart when it changes, each
    of their receipts once. Nothing about anybody else gets through."""

    def __init__(self, customer_id: str):
        self.customer_id = customer_id
        self.cart: dict | None = None
        self.sent: set[tuple[str, int]] = set()

    def start(self, state: dict) -> dict:
        """The customer's state as their page opens (what later events are measured from)."""
        self.cart = state['cart']
        self.sent = {(r['receipt_id'], r['revision']) for r in state['receipts']}
        return state

    def events(self, section: str, data) -> list[tuple[str, object]]:
        if section == 'presence':
            own = customer_entry(data, self.customer_id)
            if own == self.cart:
                return []
            self.cart = own
            return [('cart', own)]
        if section == 'receipts':
            new = []
            for receipt in reversed(customer_receipts(data, self.customer_id)):
                key = (receipt['receipt_id'], receipt['revision'])
                if key not in self.sent:
                    self.sent.add(key)
                    new.append(('receipt', receipt))
            return new
        return []
