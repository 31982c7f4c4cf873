"""EZShop's ROS layer shared by every node (rclpy allowed here, never in the cores)."""
