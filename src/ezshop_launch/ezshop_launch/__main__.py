import sys

from ezshop_launch.cli import main

sys.exit(main())
