"""``threads: auto`` counts the cores busy now, not only the lagging load average."""

import os

from sciflow.training import threads


def test_auto_threads_leave_a_core_to_a_run_started_a_moment_ago(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "available_cores", lambda: 2)
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))  # the average has not seen it yet
    monkeypatch.setattr(threads, "running_now", lambda: 1)
    assert threads.choose_threads("auto")[0] == 1
    monkeypatch.setattr(threads, "running_now", lambda: 0)
    assert threads.choose_threads("auto")[0] == 2
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))  # busy a minute ago, idle now
    assert threads.choose_threads("auto")[0] == 1


def test_running_now_reads_the_fourth_field_of_loadavg_less_the_caller(tmp_path):
    f = tmp_path / "loadavg"
    f.write_text("0.52 0.41 0.30 3/120 4242\n")  # 3 running: the caller and two others
    assert threads.running_now(str(f)) == 2
    f.write_text("garbled\n")
    assert threads.running_now(str(f)) == 0 and threads.running_now(str(tmp_path / "absent")) == 0
    assert threads.choose_threads(3) == (3, "spec threads")
