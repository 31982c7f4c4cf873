"""enroll: enrol customers from photos through the store's register_customer service.

  enroll --name "Ada Lovelace" ada1.jpg ada2.jpg
  enroll --folder src/ezshop_common/faces/dev --photos 1,2     (one customer per sub-folder)

Each photo must show exactly one usable face; only embeddings are sent, never photos.
Python API: register_people([Person(name, photos), ...]) (used by the simulator).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from ezshop_msgs.srv import RegisterCustomer
from ezshop_vision.enrollment import (
    Person,
    PhotoRules,
    make_engine,
    parse_photo_numbers,
    person_embeddings,
)
from ezshop_vision.face_engine import EMBEDDING_DIM, EMBEDDING_MODEL
from ezshop_vision.face_photos import list_identities, select_photos


@dataclass
class EnrolResult:
    """What happened to one person."""

    name: str
    success: bool
    customer_id: str = ''
    message: str = ''
    photos_used: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)


def people_from_folder(folder: str | Path, numbers: list[int] | None = None) -> list[Person]:
    """One Person per sub-folder (its name = the folder name), with the chosen photos."""
    people = []
    for identity in list_identities(folder):
        photos = select_photos(identity.photos, numbers)
        if photos:
            people.append(Person(identity.name, tuple(photos)))
    return people


def register_people(people: list[Person], service: str = 'register_customer',
                    timeout_s: float = 10.0, context: Context | None = None,
                    rules: PhotoRules | None = None, num_jitters: int = 1,
                    log: Callable[[str], None] = print,
                    namespace: str = '') -> list[EnrolResult]:
    """Check photos, compute embeddings and call RegisterCustomer once per person (the
    service of the store in `namespace`, '' = the root namespace)."""
    engine = make_engine(num_jitters)
    prepared = []
    for person in people:
        embeddings, checks = person_embeddings(engine, person, rules)
        refused = [(str(c.path), c.reason) for c in checks if not c.ok]
        for path, reason in refused:
            log(f'{person.name}: {path} refused: {reason}')
        prepared.append((person, embeddings, refused))

    own_context = context is None
    if own_context:
        context = Context()
        rclpy.init(context=context)
    # Global --ros-args (e.g. a launch's __node remap for the host process) are not ours.
    node = Node('ezshop_enroll', namespace=namespace, context=context,
                use_global_arguments=False)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    results = []
    try:
        client = node.create_client(RegisterCustomer, service)
        deadline = time.monotonic() + timeout_s
        while not client.service_is_ready() and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        for person, embeddings, refused in prepared:
            if len(embeddings) == 0:
                results.append(EnrolResult(person.name, False, message='no usable photo',
                                           refused=refused))
                continue
            if not client.service_is_ready():
                results.append(EnrolResult(person.name, False, refused=refused,
                                           message=f'service {service} not available'))
                continue
            request = RegisterCustomer.Request(
                name=person.name, embeddings=embeddings.reshape(-1).tolist(),
                dim=EMBEDDING_DIM, model=EMBEDDING_MODEL)
            future = client.call_async(request)
            end = time.monotonic() + timeout_s
            while not future.done() and time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
            if not future.done():
                future.cancel()
                results.append(EnrolResult(person.name, False, refused=refused,
                                           message=f'{service} did not answer in '
                                                   f'{timeout_s} s'))
                continue
            response = future.result()
            results.append(EnrolResult(person.name, response.success, response.customer_id,
                                       response.message, len(embeddings), refused))
    finally:
        executor.remove_node(node)
        node.destroy_node()
        executor.shutdown()
        if own_context:
            rclpy.try_shutdown(context=context)
    return results


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='enroll', description='Enrol customers from face photos (only embeddings are '
        'sent to the store, never photos).')
    parser.add_argument('photos', nargs='*', help='photos of one person (with --name)')
    parser.add_argument('--name', help='display name of the person in the photos')
    parser.add_argument('--folder', help='bulk mode: a folder of <person>/<photos> folders')
    parser.add_argument('--photos', dest='numbers', default='',
                        help='bulk mode: only photos with these numbers, e.g. 1,2')
    parser.add_argument('--service', default='register_customer',
                        help='RegisterCustomer service name (default: %(default)s)')
    parser.add_argument('--timeout', type=float, default=10.0,
                        help='seconds to wait for the service (default: %(default)s)')
    parser.add_argument('--min-face-px', type=int, default=PhotoRules.min_face_px,
                        help='smallest usable face (default: %(default)s)')
    parser.add_argument('--min-sharpness', type=float, default=PhotoRules.min_sharpness,
                        help='least sharpness (Laplacian variance) (default: %(default)s)')
    parser.add_argument('--jitters', type=int, default=1,
                        help='dlib re-samples per embedding (slower, steadier)')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.folder:
            if args.photos or args.name:
                raise ValueError('--folder takes no --name or photo arguments')
            people = people_from_folder(args.folder, parse_photo_numbers(args.numbers))
        elif args.name and args.photos:
            missing = [p for p in args.photos if not Path(p).is_file()]
            if missing:
                raise ValueError(f'no such file: {", ".join(missing)}')
            people = [Person(args.name, tuple(Path(p) for p in args.photos))]
        else:
            raise ValueError('give --name NAME PHOTO... or --folder DIR')
        if not people:
            raise ValueError('no photos found')
    except (ValueError, FileNotFoundError) as exc:
        print(f'enroll: {exc}', file=sys.stderr)
        return 2
    rules = PhotoRules(args.min_face_px, args.min_sharpness)
    results = register_people(people, args.service, args.timeout, rules=rules,
                              num_jitters=args.jitters)
    failed = 0
    for result in results:
        if result.success:
            print(f'enrolled {result.name}: customer_id={result.customer_id} '
                  f'({result.photos_used} photos)')
        else:
            failed += 1
            print(f'FAILED {result.name}: {result.message}')
    print(f'{len(results) - failed} of {len(results)} enrolled')
    return 1 if failed else 0


def console_main() -> None:
    """Console-script entry point; rclpy arguments are not used."""
    raise SystemExit(main(sys.argv[1:]))
