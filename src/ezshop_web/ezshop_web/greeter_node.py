"""greeter_node: "Welcome, Ana!" when a shopper comes in through the entrance, "Goodbye Ana,
your total is 4.89 euros." on their receipt; spoken with espeak-ng (to the audio device or to
WAV files) and published on `announcements`. Without espeak-ng it says so once and keeps
publishing the words."""

from __future__ import annotations

import sys
import threading

from rclpy.node import Node

from ezshop_common.clock_skew import ClockSkewSettings
from ezshop_msgs.msg import Announcement
from ezshop_ros.diagnostics import OK, WARN, RefusedInput, diagnostics_updater, fill
from ezshop_ros.gallery import GalleryClient, WholeGallery
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import run_node
from ezshop_ros.stamp_guard import StampGuard
from ezshop_ros.stamps import stamp_ns, time_from_ns
from ezshop_ros.topics import ANNOUNCEMENTS, CUSTOMER_EVENTS, RECEIPTS
from ezshop_web.greeter_settings import GreeterSettings
from ezshop_web.greeting import WELCOME, Greeter, Greeting
from ezshop_web.messages import customer_event_dict, gallery_names, receipt_dict
from ezshop_web.speech import Speaker

KINDS = {WELCOME: Announcement.WELCOME}


class GreeterNode(Node):
    def __init__(self, **kwargs):
        super().__init__('greeter_node', **kwargs)
        self.settings = declare_settings(self, GreeterSettings)
        self.greeter = Greeter()
        self.counts = {'welcomes': 0, 'goodbyes': 0, 'spoken': 0, 'speech_failures': 0,
                       'old_receipts_ignored': 0}
        self._lock = threading.Lock()
        self._last_error = ''
        self.speaker = Speaker(self.settings.wav_dir, self.settings.voice,
                               self.settings.words_per_minute, done=self._spoken) \
            if self.settings.speak else None
        if self.speaker is not None and not self.speaker.available:
            self.get_logger().warning('espeak-ng is not installed (apt-get install espeak-ng):'
                                      ' greetings are published, not spoken')
        self._stamps = StampGuard(self, declare_settings(
            self, ClockSkewSettings, on_change=lambda settings: self._stamps.use(settings)))
        self._refused = RefusedInput()
        # Receipts are latched: the ones issued before this node started are history.
        self._started_ns = self.get_clock().now().nanoseconds
        self.pub = ANNOUNCEMENTS.publisher(self)
        # Names only: the greeter never needs a face embedding.
        self.gallery = GalleryClient(self, WholeGallery(self._on_gallery), with_embeddings=False)
        CUSTOMER_EVENTS.subscription(self, self._on_customer_event)
        RECEIPTS.subscription(self, self._on_receipt)
        self._diagnostics = diagnostics_updater(self, self.get_name())
        self._diagnostics.add('greeter', self._status)

    def _on_gallery(self, customers) -> None:
        """The store's whole gallery (ids and names) of one revision."""
        names, refused = gallery_names(customers)
        if refused:
            self._refuse('gallery_entries', f'{refused} without an id or with an id or name '
                         'too long to be a customer\'s', refused)
        self.greeter.names = names

    def _on_customer_event(self, msg) -> None:
        if not self._stamps.accept(msg.header.stamp, 'customer_events'):
            return
        event = customer_event_dict(msg)
        problem = self.greeter.check_event(event)
        if problem:
            self._refuse('customer_events', problem)
            return
        self._announce(self.greeter.on_customer_event(event), msg.header.stamp)

    def _on_receipt(self, msg) -> None:
        if not self._stamps.accept(msg.header.stamp, 'receipts'):
            return
        if stamp_ns(msg.header.stamp) < self._started_ns:
            self.counts['old_receipts_ignored'] += 1
            return
        receipt = receipt_dict(msg)
        problem = self.greeter.check_receipt(receipt)
        if problem:
            self._refuse('receipts', problem)
            return
        self._announce(self.greeter.on_receipt(receipt), msg.header.stamp)

    def _refuse(self, what: str, problem: str, count: int = 1) -> None:
        """Nothing said for bad input: counted, and logged (throttled)."""
        self.counts[f'bad_{what}'] = self.counts.get(f'bad_{what}', 0) + count
        self.get_logger().warning(f'bad {what} ignored: {problem}', throttle_duration_sec=5.0)

    def _announce(self, greeting: Greeting | None, stamp) -> None:
        if greeting is None:
            return
        self.counts['welcomes' if greeting.kind == WELCOME else 'goodbyes'] += 1
        wav_path = ''
        if self.speaker is not None and self.speaker.available:
            wav_path = self.speaker.say(greeting.text,
                                        f'{greeting.kind}_{greeting.customer_id}_'
                                        f'{stamp_ns(stamp)}')
        msg = Announcement(kind=KINDS.get(greeting.kind, Announcement.GOODBYE),
                           customer_id=greeting.customer_id, text=greeting.text,
                           wav_path=wav_path)
        msg.header.stamp = time_from_ns(stamp_ns(stamp))
        self.pub.publish(msg)
        # The words carry the customer's name: the log names only the customer id.
        self.get_logger().info(f'{greeting.kind} for {greeting.customer_id} published')

    def _spoken(self, text: str, wav_path: str, error: str) -> None:
        with self._lock:
            if error:
                self.counts['speech_failures'] += 1
                if error != self._last_error:
                    self.get_logger().error(f'could not speak a greeting: {error}')
                self._last_error = error
            else:
                self.counts['spoken'] += 1

    def _status(self, stat):
        stat.hardware_id = self.get_name()
        speaking = 'off' if self.speaker is None else (
            'espeak-ng' if self.speaker.available else 'espeak-ng missing')
        level = WARN if self.counts['speech_failures'] or speaking == 'espeak-ng missing' \
            else OK
        warning = self._refused.warning(self.counts, self._stamps.rising())
        values = {'speech': speaking, **self.counts, **self._stamps.values(),
                  **self._gallery_values()}
        if warning:
            return fill(stat, WARN, f'speech {speaking}; {warning}', values)
        return fill(stat, level, f'speech {speaking}', values)

    def _gallery_values(self) -> dict:
        """What the greeter holds of the store's gallery: how many, never who."""
        held = self.gallery.have  # (gallery id, revision); None before the first
        return {'gallery_customers': len(self.greeter.names or {}),
                'gallery_revision': held[1] if held else 0,
                'gallery_fetches': self.gallery.fetches,
                'gallery_fetch_failures': self.gallery.failures}

    def destroy_node(self):
        if self.speaker is not None:
            self.speaker.close()
        return super().destroy_node()


def main(args=None) -> int:
    return run_node(GreeterNode, args)


def console_main() -> None:
    sys.exit(main())
