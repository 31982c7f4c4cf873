"""Test support for EZShop: real processes and real rclpy nodes, with deadlines."""
