"""One rank of a distributed fine-tuning run (started by `mlx.launch` with its settings as JSON; see launch.py)."""

from __future__ import annotations

import json
import sys


def main(args_json: str) -> int:
    """`args_json`: the FinetuneArgs as JSON, on the command line (no file: other hosts have none)."""
    from .args import FinetuneArgs
    from .run import run_finetune

    run_finetune(FinetuneArgs(**json.loads(args_json)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
