"""`ezshop customer export <id>` / `ezshop customer forget <id>`: a customer's rights from the
command line, through the running store's services (export_customer, forget_customer), so the
store stays the one place that reads and deletes personal data.

  ezshop customer export c_1a2b3c4d5e6f > c_1a2b3c4d5e6f.json
  ezshop customer forget c_1a2b3c4d5e6f
  ezshop customer export c_... --ros-args -r __ns:=/store1      a namespaced store
"""

from __future__ import annotations

import json
import os
import sys

#: Exit codes: done, the store refused (unknown customer...), no store answered.
EXIT_OK, EXIT_REFUSED, EXIT_NO_STORE = 0, 1, 3


def add_commands(commands) -> None:
    """The `customer` command group of the ezshop CLI."""
    customer = commands.add_parser('customer', help="a customer's data: export (access right) "
                                   'or forget (erasure), through the running store')
    actions = customer.add_subparsers(dest='action', required=True)
    for action, help_text in (('export', 'print everything the store holds about a customer '
                                          '(JSON)'),
                              ('forget', "delete a customer's name and face data (an open "
                                         'visit is closed first)')):
        parser = actions.add_parser(action, help=help_text)
        parser.add_argument('customer_id')
        parser.add_argument('--timeout', type=float, default=15.0,
                            help='seconds to wait for the store (default: %(default)s)')


def run(args, ros_args: list[str]) -> int:
    """Call the store's service for args.action; print the answer."""
    import rclpy
    from rclpy.node import Node

    from ezshop_msgs.srv import ExportCustomer, ForgetCustomer
    from ezshop_ros.process import PRIVATE_UMASK

    os.umask(PRIVATE_UMASK)  # its ROS log, like every node's, is the owner's only

    service, kind = {'export': ('export_customer', ExportCustomer),
                     'forget': ('forget_customer', ForgetCustomer)}[args.action]
    rclpy.init(args=['ezshop', *ros_args])
    node = Node('ezshop_customer_cli')
    try:
        client = node.create_client(kind, service)
        if not client.wait_for_service(timeout_sec=args.timeout):
            where = node.resolve_service_name(service)
            print(f'ezshop customer {args.action}: no store offers {where} (is store_node '
                  'running, in this namespace and ROS_DOMAIN_ID?)',
                  file=sys.stderr)
            return EXIT_NO_STORE
        future = client.call_async(kind.Request(customer_id=args.customer_id))
        rclpy.spin_until_future_complete(node, future, timeout_sec=args.timeout)
        response = future.result()
        if response is None:
            print(f'ezshop customer {args.action}: the store did not answer within '
                  f'{args.timeout:g} s', file=sys.stderr)
            return EXIT_NO_STORE
        if not response.success:
            print(f'ezshop customer {args.action}: {response.message}', file=sys.stderr)
            return EXIT_REFUSED
        if args.action == 'export':
            print(json.dumps(json.loads(response.data_json), indent=2))
        else:
            print(f'forgot {args.customer_id}: name and face data deleted')
        return EXIT_OK
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
