import sys

from sciflow.cli import main

sys.exit(main())
