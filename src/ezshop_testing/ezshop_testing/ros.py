"""In-process rclpy helpers for tests: a private context, spinning with deadlines."""

from __future__ import annotations

import time
from collections.abc import Callable

import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node


class RosHarness:
    """A private rclpy Context with an executor; nodes made here are spun by spin_until().

    Use as a context manager or call close(). Nodes under test are created with
    ``context=harness.context`` and added with add().
    """

    def __init__(self):
        self.context = Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.nodes: list[Node] = []

    def node(self, name: str, **kwargs) -> Node:
        """A plain probe node in this context."""
        return self.add(Node(name, context=self.context, **kwargs))

    def add(self, node: Node) -> Node:
        self.executor.add_node(node)
        self.nodes.append(node)
        return node

    def remove(self, node: Node) -> None:
        self.executor.remove_node(node)
        self.nodes.remove(node)
        node.destroy_node()

    def spin_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=min(0.05, max(0.0, deadline - time.monotonic())))

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Spin until predicate() is true; False if the deadline passed first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return predicate()

    def call(self, client, request, timeout: float = 10.0, resend_after: float | None = None):
        """Wait for the service, call it, return the response (raises on timeout).

        resend_after (s): for a request that may be answered twice (a read, setting the same
        value): send it again when no answer came this long. A service that answers before it
        has discovered the client's reply reader loses the reply (Fast DDS: "failed to send
        response (timeout)"), so a first call right after discovery can go unanswered."""
        if not self.spin_until(client.service_is_ready, timeout):
            raise TimeoutError(f'service {client.srv_name} not available within {timeout} s')
        deadline = time.monotonic() + timeout
        while True:
            future = client.call_async(request)
            wait = deadline - time.monotonic()
            if resend_after is not None:
                wait = min(wait, resend_after)
            if self.spin_until(future.done, max(0.0, wait)):
                return future.result()
            client.remove_pending_request(future)
            if time.monotonic() >= deadline:
                raise TimeoutError(f'service {client.srv_name} did not answer within '
                                   f'{timeout} s')

    def set_parameters(self, node_name: str, **values) -> list:
        """`ros2 param set` from a test: the node's SetParameters service over DDS; the
        results (SetParametersResult), in the order given."""
        from rcl_interfaces.srv import SetParameters
        from rclpy.parameter import Parameter

        setter = self.node(f'param_setter_{len(self.nodes)}')
        client = setter.create_client(SetParameters, f'{node_name}/set_parameters')
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        try:
            return list(self.call(client, request, timeout=20, resend_after=2.0).results)
        finally:
            self.remove(setter)

    def close(self) -> None:
        for node in list(self.nodes):
            self.executor.remove_node(node)
            node.destroy_node()
        self.nodes.clear()
        self.executor.shutdown()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
