"""The trainer keeps freed tensor memory for the next step: no page faults for memory used again."""

import resource
import sys

import pytest
import torch

from sciflow.training.allocator import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="mallopt is glibc's")
def test_memory_freed_by_a_step_is_reused_without_page_faults():
    assert keep_freed_memory() == "glibc mmap threshold 32 MiB, trim threshold 512 MiB"

    def step():  # like a training step: ~100 MB of tensors made, written, all freed
        tensors = [torch.empty(3 * 2**20).fill_(1.0) for _ in range(8)]
        return sum(float(t[0]) for t in tensors)

    step(), step()  # the heap grows to the step's size
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(4):
        step()
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 500  # returned to the OS each step, they would cost 4 × 8 × 3072 faults
