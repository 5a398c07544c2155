"""Torch runs on one intra-op thread in these tests: bit-identical resumed training needs the same thread count
in every run, and the machine's cores are shared."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)
