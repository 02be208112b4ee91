"""The command line (room: cli): argparse front in `main.py`, one module per subject."""

from router.cli.main import main

__all__ = ["main"]
