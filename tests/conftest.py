"""Shared pytest set-up: every test runs with cspr_det imported (registries,
checkpoint loader) and on CPU."""
import os

os.environ.setdefault('CUDA_VISIBLE_DEVICES', '')

import cspr_det  # noqa: E402,F401
