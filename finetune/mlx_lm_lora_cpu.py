"""`python -m distill.finetune.mlx_lm_lora_cpu ARGS...`: mlx-lm-lora's own command line (`python -m mlx_lm_lora.train
ARGS...`) on MLX's CPU backend. mlx-lm-lora 5.10's trainers read a Metal-only key of `mx.device_info()` and end in a
KeyError on Linux; this runs the same `main()` with that key reading 0. On Apple Silicon it changes nothing: use
`python -m mlx_lm_lora.train` directly there."""

from __future__ import annotations

import sys


def main() -> None:
    from mlx_lm_lora.train import main as mlx_lm_lora_main

    from .policy import cpu_device_info

    with cpu_device_info():
        mlx_lm_lora_main()


if __name__ == "__main__":
    sys.exit(main())
