"""One rank of a distributed fine-tuning run (started by `mlx.launch`; see launch.py)."""

from __future__ import annotations

import json
import os
import sys



def main(args_file: str) -> int:
    from .args import FinetuneArgs
    from .run import run_finetune

    run_finetune(FinetuneArgs(**json.loads(open(args_file).read())))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
