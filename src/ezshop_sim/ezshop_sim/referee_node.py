"""referee: enrols a scenario's shoppers, watches the store graph play it, judges the receipts.

Started by launch/sim.launch.xml with on_exit="shutdown": when the scenario is over and every
shopper who left has a receipt (or the deadline passes) it prints each receipt beside the ground
truth, writes the results as JSON when asked, and exits, which ends the launch.

The simulator waits for a subscriber on sim/ground_truth before its clock starts; the referee
subscribes only after enrolment, so no shopper reaches the entrance before they are enrolled.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

from ezshop_common.store_config import load_store
from ezshop_msgs.msg import CartAction, CustomerEvent, GroundTruth, Receipt, ShelfEvent
from ezshop_msgs.srv import ForgetCustomer
from ezshop_ros.gallery import GalleryClient, WholeGallery
from ezshop_ros.parameters import declare_settings
from ezshop_ros.process import give_up_after, run_node, spin_once
from ezshop_ros.stamps import stamp_seconds
from ezshop_ros.topics import (
    CART_ACTIONS,
    CUSTOMER_EVENTS,
    DIAGNOSTICS,
    GROUND_TRUTH,
    RECEIPTS,
    SHELF_EVENTS,
)
from ezshop_sim.photos import enrolment_photos, identities_dir
from ezshop_sim.referee import (
    CUSTOMER_ABSENT,
    CUSTOMER_ENTERED,
    CUSTOMER_EXITED,
    CUSTOMER_SEEN,
    CUSTOMER_UNKNOWN,
    CameraStats,
    Referee,
    report_lines,
    verdict_line,
)
from ezshop_sim.referee_settings import RefereeSettings
from ezshop_sim.scenario import load_scenario
from ezshop_sim.scoring import (
    GT_ENTERED,
    GT_EXITED,
    GT_PUT_BACK,
    GT_TAKE,
    VISIT_ENDED_ABSENT,
    VISIT_ENDED_EXIT,
    VISIT_ENDED_STAFF,
    VISIT_OPENED_AT_ENTRANCE,
    VISIT_OPENED_LATE,
    CartActionView,
    ReceiptView,
    TruthEvent,
)

TRUTH_KINDS = {GroundTruth.ENTERED: GT_ENTERED, GroundTruth.EXITED: GT_EXITED,
               GroundTruth.TAKE: GT_TAKE, GroundTruth.PUT_BACK: GT_PUT_BACK}
CUSTOMER_KINDS = {CustomerEvent.ENTERED: CUSTOMER_ENTERED, CustomerEvent.EXITED: CUSTOMER_EXITED,
                  CustomerEvent.UNKNOWN_PERSON: CUSTOMER_UNKNOWN,
                  CustomerEvent.SEEN: CUSTOMER_SEEN, CustomerEvent.ABSENT: CUSTOMER_ABSENT}
VISIT_OPENED = {Receipt.OPENED_AT_ENTRANCE: VISIT_OPENED_AT_ENTRANCE,
                Receipt.OPENED_LATE: VISIT_OPENED_LATE}
VISIT_ENDED = {Receipt.ENDED_EXIT: VISIT_ENDED_EXIT, Receipt.ENDED_ABSENT: VISIT_ENDED_ABSENT,
               Receipt.ENDED_STAFF: VISIT_ENDED_STAFF}
EXIT_OK = 0
EXIT_TIMEOUT = 1
EXIT_WRONG = 3
EXIT_SETUP_FAILED = 4


def truth_event(msg: GroundTruth) -> TruthEvent | None:
    """A ground-truth message as the score's TruthEvent; None for SCENARIO_DONE (or an
    unknown kind)."""
    kind = TRUTH_KINDS.get(msg.kind)
    if kind is None:
        return None
    return TruthEvent(kind, msg.shopper, msg.enrolled, msg.item_id, msg.quantity,
                      msg.shelf_id, msg.lane_id, stamp_seconds(msg.header.stamp))


class RefereeNode(Node):
    """Judges one simulated scenario end to end."""

    def __init__(self, **kwargs):
        super().__init__('referee', **kwargs)
        self.cfg = declare_settings(self, RefereeSettings)
        self.scenario = load_scenario(self.cfg.scenario)
        self.store = load_store(self.cfg.store_file or self.scenario.store_file)
        self.referee = Referee(prices={i.item_id: i.price_cents for i in self.store.items})
        self.started = time.monotonic()
        self.enrolled: dict[str, str] = {}  # name -> customer_id
        self._gallery: GalleryClient | None = None  # the store's, names only (enrolment)
        self._galleries: list[list] = []

    # -- enrolment -------------------------------------------------------------------------
    def enrol(self, executor) -> bool:
        """Forget stale customers of the same names, then enrol every enrolled shopper."""
        from ezshop_vision.enroll_cli import register_people
        from ezshop_vision.enrollment import Person

        folder = identities_dir(self.cfg.faces_dir or None, self.cfg.faces_subdir or None)
        photos = enrolment_photos(self.scenario, folder)
        self._forget_stale(executor, set(photos))
        people = [Person(name, tuple(paths)) for name, paths in sorted(photos.items())]
        self.say(f'enrolling {len(people)} shoppers from {folder}: '
                 + ', '.join(p.name for p in people))
        results = register_people(people, timeout_s=self.cfg.service_timeout_s,
                                  context=self.context, log=self.say,
                                  namespace=self.get_namespace())
        ok = True
        for result in results:
            if result.success:
                self.enrolled[result.name] = result.customer_id
                self.referee.enrolled_ids[result.customer_id] = result.name
            else:
                ok = False
                self.say(f'enrolment of {result.name} failed: {result.message}')
        return ok

    def _forget_stale(self, executor, names: set[str]) -> None:
        """A database kept from an earlier run may hold the same people: forget them, or the
        gallery would hold two identities with one face and nobody would be recognised."""
        galleries = self._read_gallery(executor)
        if not galleries:
            self.say('no gallery from the store yet; enrolling anyway')
            return
        stale = [c.customer_id for c in galleries[-1] if c.name in names]
        if not stale:
            return
        client = self.create_client(ForgetCustomer, 'forget_customer')
        for customer_id in stale:
            future = client.call_async(ForgetCustomer.Request(customer_id=customer_id))
            end = time.monotonic() + 10.0
            while not future.done() and time.monotonic() < end:
                spin_once(executor, 0.05)
        self.destroy_client(client)
        self.say(f'forgot {len(stale)} customers left from an earlier run')

    def _read_gallery(self, executor) -> list[list]:
        """The store's gallery (ids and names, no embeddings): [customers], or [] when it did
        not come within service_timeout_s. The client stays (a few names; enrolling changes
        the gallery, so later revisions are fetched too, and nobody reads them): a node made
        and destroyed for the read could hang a Ctrl-C that came during it."""
        galleries: list[list] = []
        if self._gallery is None:
            self._gallery = GalleryClient(self, WholeGallery(self._galleries.append),
                                          with_embeddings=False)
        deadline = time.monotonic() + self.cfg.service_timeout_s
        while not self._galleries and time.monotonic() < deadline and self.context.ok():
            spin_once(executor, 0.1)
        galleries[:] = self._galleries[-1:]
        return galleries

    # -- watching --------------------------------------------------------------------------
    def watch(self) -> None:
        """Subscribe to everything judged; the simulator starts once we subscribe to truth."""
        self.started = time.monotonic()
        GROUND_TRUTH.subscription(self, self._on_truth)
        SHELF_EVENTS.subscription(self, self._on_shelf_event)
        CART_ACTIONS.subscription(self, self._on_cart_action)
        CUSTOMER_EVENTS.subscription(self, self._on_customer_event)
        RECEIPTS.subscription(self, self._on_receipt)
        DIAGNOSTICS.subscription(self, self._on_diagnostics)
        self.say('watching; the simulator starts when the graph is ready')

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        print(f'[{self.elapsed():6.1f} s] {text}', flush=True)

    def _on_truth(self, msg: GroundTruth) -> None:
        now = time.monotonic()
        if msg.kind == GroundTruth.SCENARIO_DONE:
            self.referee.on_truth(None, now)
            self.say('scenario over; waiting for the last receipts')
            return
        event = truth_event(msg)
        if event is None:
            return
        kind = event.kind
        self.referee.on_truth(event, now)
        who = msg.shopper + ('' if msg.enrolled else ' (not enrolled)')
        if kind in (GT_TAKE, GT_PUT_BACK):
            verb = 'takes' if kind == GT_TAKE else 'puts back'
            self.say(f'truth     {who} {verb} {msg.quantity}x {msg.item_id}'
                     f' at {msg.shelf_id}/{msg.lane_id}')
        else:
            self.say(f'truth     {who} {kind}')

    def _on_shelf_event(self, msg: ShelfEvent) -> None:
        if self.referee.on_shelf_event(msg.event_id, time.monotonic()):
            self.say(f'shelf     {msg.shelf_id}/{msg.lane_id} {msg.item_id} '
                     f'{msg.quantity_delta:+d} ({msg.count_before} -> {msg.count_after})')

    def _on_cart_action(self, msg: CartAction) -> None:
        action = CartActionView(msg.event_id, msg.customer_id, msg.item_id, msg.quantity,
                                msg.shelf_id, msg.lane_id, stamp_seconds(msg.header.stamp),
                                msg.resolves_event_id, msg.ambiguous)
        if not self.referee.on_cart_action(action, time.monotonic()):
            return
        who = self.referee.enrolled_ids.get(msg.customer_id, msg.customer_id) or 'NOBODY'
        resolves = f' (resolves {msg.resolves_event_id})' if msg.resolves_event_id else ''
        flags = (' AMBIGUOUS' if msg.ambiguous else '') + (' HELD' if action.held else '')
        self.say(f'cart      {who} {msg.quantity:+d} {msg.item_id}{resolves} '
                 f'(confidence {msg.confidence:.2f}){flags}')

    def _on_customer_event(self, msg: CustomerEvent) -> None:
        kind = CUSTOMER_KINDS.get(msg.kind)
        if kind is None or not self.referee.on_customer_event(
                msg.event_id, kind, msg.customer_id, stamp_seconds(msg.header.stamp),
                time.monotonic(), msg.camera_id):
            return
        name = self.referee.enrolled_ids.get(msg.customer_id, msg.customer_id)
        camera = msg.camera_id or 'an unnamed camera'
        if kind == CUSTOMER_EXITED:
            self.say(f'door      {name} left through {msg.door_id}')
        elif kind == CUSTOMER_ENTERED:
            self.say(f'door      {name} entered through {msg.door_id}')
        elif kind == CUSTOMER_SEEN:
            self.say(f'presence  {name} seen in the store at {camera}: late entry')
        elif kind == CUSTOMER_ABSENT:
            self.say(f'presence  {name} not seen for a while (last at {camera}): '
                     'absent, visit closed')
        else:
            self.say(f'door      unknown person at {msg.door_id or camera}')

    def _on_receipt(self, msg: Receipt) -> None:
        lines = {line.item_id: line.quantity for line in msg.lines}
        view = ReceiptView(msg.customer_name or
                           self.referee.enrolled_ids.get(msg.customer_id, msg.customer_id),
                           lines, msg.total_cents, msg.revision, msg.visit_id,
                           VISIT_OPENED.get(msg.opened_by, VISIT_OPENED_AT_ENTRANCE),
                           VISIT_ENDED.get(msg.ended_by, VISIT_ENDED_EXIT))
        self.referee.on_receipt(msg.customer_id, view, time.monotonic())
        how = (', opened late' if view.opened_by == VISIT_OPENED_LATE else '') + (
            '' if view.ended_by == VISIT_ENDED_EXIT else f', ended {view.ended_by}')
        self.say(f'receipt   {view.customer_name}: {msg.total_cents / 100:.2f} '
                 f'{msg.currency} ({len(msg.lines)} lines, revision {msg.revision}{how})')

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if 'frames_processed' not in values or not status.hardware_id:
                continue
            try:
                self.referee.on_camera(status.hardware_id, CameraStats(
                    fps=float(values.get('fps', 0)),
                    frames_received=int(values.get('frames_received', 0)),
                    frames_processed=int(values['frames_processed']),
                    frames_skipped=int(values.get('frames_skipped', 0))))
            except ValueError:
                continue

    # -- verdict ---------------------------------------------------------------------------
    def run(self, executor) -> int:
        deadline = self.started + self.cfg.timeout_s
        while time.monotonic() < deadline:
            spin_once(executor, 0.1)
            if self.referee.finished():
                break
            done_at = self.referee.scenario_done_at
            if done_at is not None and time.monotonic() - done_at > self.cfg.receipt_wait_s:
                break
        return self.verdict()

    def verdict(self) -> int:
        report = self.referee.report()
        report.update(scenario=self.scenario.name, elapsed_s=self.elapsed(),
                      finished=self.referee.finished())
        print('\n' + self.referee.table(self.store.currency), flush=True)
        print('\n' + '\n'.join(report_lines(report)), flush=True)
        if self.cfg.results_file:
            path = Path(self.cfg.results_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=2))
        print(verdict_line(report, self.referee.scenario_done_at is not None), flush=True)
        if not report['finished']:
            return EXIT_TIMEOUT
        return EXIT_WRONG if self.cfg.fail_on_wrong and not report['all_right'] else EXIT_OK


def judge(node: RefereeNode) -> int:
    """Enrol the scenario's shoppers, watch the graph, give the verdict (the exit code)."""
    executor = SingleThreadedExecutor(context=node.context)
    executor.add_node(node)
    try:
        with give_up_after(node.cfg.enrol_timeout_s, 'referee: enrolment', EXIT_SETUP_FAILED):
            enrolled = node.enrol(executor)
        if not enrolled:
            node.say('enrolment failed; is store_node running?')
            return EXIT_SETUP_FAILED
        node.watch()
        return node.run(executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        # Stopped on request (Ctrl-C, SIGTERM): no verdict, and not a failure either.
        print('referee: stopped before the verdict', file=sys.stderr, flush=True)
        return EXIT_OK
    finally:
        executor.shutdown()


def main(args=None) -> int:
    return run_node(RefereeNode, args, run=judge)


def console_main() -> None:
    sys.exit(main())
