"""What the greeter says: a welcome on an entrance pass, a goodbye with the total on the first
receipt of a visit. Each event and receipt is answered once. Plain Python, no rclpy."""

from __future__ import annotations

from dataclasses import dataclass

from ezshop_common.limits import MAX_ID_CHARS

WELCOME = 'welcome'
GOODBYE = 'goodbye'
#: Currencies by ISO 4217 code, as said aloud (plural).
CURRENCY_WORDS = {'EUR': 'euros', 'USD': 'dollars', 'GBP': 'pounds', 'CHF': 'francs'}
#: Events and receipts remembered as answered (older ones are forgotten first).
REMEMBERED = 10000


@dataclass(frozen=True)
class Greeting:
    kind: str
    customer_id: str
    text: str
    stamp: float   # of the customer event or receipt it answers (s)


def amount_words(cents: int, currency: str) -> str:
    return f'{cents / 100:.2f} {CURRENCY_WORDS.get(currency, currency)}'


def _too_long(record: dict, keys: tuple[str, ...]) -> str:
    """'' unless one of these ids is longer than any the store keeps: then which."""
    key = next((key for key in keys if len(record[key]) > MAX_ID_CHARS), '')
    return f'{key} is longer than {MAX_ID_CHARS} characters' if key else ''


class Greeter:
    def __init__(self):
        #: customer id -> name, from the store's gallery; None until the gallery came.
        self.names: dict[str, str] | None = None
        self._answered: dict[str, None] = {}

    def check_event(self, event: dict) -> str:
        """'' for a customer event worth answering, else why it is refused."""
        too_long = _too_long(event, ('event_id', 'customer_id'))
        if too_long:
            return too_long
        if event['kind'] == 'entered' and self.names is not None \
                and event['customer_id'] not in self.names:
            return f'{event["customer_id"]!r} is not an enrolled customer'
        return ''

    @staticmethod
    def check_receipt(receipt: dict) -> str:
        """'' for a receipt worth answering, else why it is refused."""
        too_long = _too_long(receipt, ('receipt_id', 'customer_id'))
        if too_long:
            return too_long
        if receipt['total_cents'] < 0 or receipt['revision'] < 1:
            return f'total {receipt["total_cents"]} cents, revision {receipt["revision"]}'
        return ''

    def _first_time(self, key: str) -> bool:
        if key in self._answered:
            return False
        self._answered[key] = None
        if len(self._answered) > REMEMBERED:
            del self._answered[next(iter(self._answered))]
        return True

    def _name(self, customer_id: str, fallback: str = '') -> str:
        return (self.names or {}).get(customer_id) or fallback

    def on_customer_event(self, event: dict) -> Greeting | None:
        """ENTERED through the entrance: a welcome (once per event id)."""
        if event['kind'] != 'entered' or not self._first_time(f'event:{event["event_id"]}'):
            return None
        name = self._name(event['customer_id'])
        return Greeting(WELCOME, event['customer_id'],
                        f'Welcome, {name}!' if name else 'Welcome!', event['stamp'])

    def on_receipt(self, receipt: dict) -> Greeting | None:
        """The first receipt of a visit: goodbye with the total (adjustments say nothing)."""
        if receipt['revision'] != 1 or not self._first_time(f'receipt:{receipt["receipt_id"]}'):
            return None
        name = self._name(receipt['customer_id'], receipt.get('customer_name', ''))
        hello = f'Goodbye {name}' if name else 'Goodbye'
        if receipt['total_cents'] > 0:
            text = (f'{hello}, your total is '
                    f'{amount_words(receipt["total_cents"], receipt["currency"])}.')
        else:
            text = f'{hello}, nothing was charged. See you soon!'
        return Greeting(GOODBYE, receipt['customer_id'], text, receipt['exited_at'])
