"""EZShop shared pure-Python code (no rclpy)."""
