"""Runs last (run_tests.py): every native handle the suite made has been freed."""
import gc

import q8


def test_no_handle_left_behind():
    gc.collect()
    assert q8.live_handles() == 0
