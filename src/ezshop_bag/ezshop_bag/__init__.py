"""Record the store into rosbag2 MCAP bags and replay them into a store graph.

Plain-Python cores (no rclpy): rosbag2 (the bag layout, writer, reader), selection (topics,
throttling, QoS, the replay clock), receipts (recorded against replayed), queued_writer.
Thin nodes: record_node, replay_node; the `ezshop` command line: cli.
"""
