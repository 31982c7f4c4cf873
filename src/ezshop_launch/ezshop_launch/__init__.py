"""EZShop launch runner: the subset of ROS 2 launch XML we use, for pip-only installs."""
