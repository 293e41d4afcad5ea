"""purebench's command line; see ``python run_bench.py --help``."""

import sys

from bench.allocator import keep_freed_memory
from bench.cli import main

if __name__ == "__main__":
    keep_freed_memory()
    sys.exit(main())
