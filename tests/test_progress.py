"""Progress lines of the workers: a bar, the rate and the time left, readable through Ray's log forwarding."""

from __future__ import annotations

import logging

import pytest

from landmarkgait.pipelines.worker.progress import StageProgress, bar, duration


@pytest.mark.parametrize(
    ("seconds", "shown"), [(0, "0s"), (42.4, "42s"), (185, "3m05s"), (3725, "1h02m"), (-3, "0s")]
)
def test_durations_are_short(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_bar_fills_in_proportion() -> None:
    assert bar(0, 10, width=10) == "[----------]"
    assert bar(5, 10, width=10) == "[#####-----]"
    assert bar(12, 10, width=10) == "[##########]"


def test_a_stage_prints_a_header_and_lines_with_its_position_eta_and_metrics(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter([100.0, 120.0])  # started at 100 s, 20 s later 10 iterations are done
    monkeypatch.setattr("landmarkgait.pipelines.worker.progress.time.monotonic", lambda: next(clock))
    progress = StageProgress("parsing", 2, 3, total_iter=50, start_iter=0)
    with caplog.at_level(logging.INFO, logger="landmarkgait.pipelines.worker.progress"):
        progress.header("from scratch")
        progress.update(10, {"loss/total": 0.51234, "quality/landmark_spread": 0.25, "lr/group0": 1e-3})
    header, line = (record.getMessage() for record in caplog.records)
    assert header == "parsing (2/3): 50 iterations, from scratch"
    assert line == (
        "parsing (2/3) [####----------------] 10/50 · 2.00 s/it · 1m20s left · loss 0.5123 · landmark spread 0.25"
    )


def _training_function_error(exception_line: str) -> logging.LogRecord:
    message = f'Error in training function:\nTraceback (most recent call last):\n  File "loop.py"\n{exception_line}\n'
    return logging.LogRecord("ray.train.v2._internal.util", logging.ERROR, "util.py", 1, message, None, None)


@pytest.mark.parametrize(
    ("exception_line", "shown"),
    [
        # a user error the driver reports in one line: its worker traceback stays off the console
        ("landmarkgait.pipelines.errors.TrackingUnavailable: MLflow tracking server down", False),
        ("landmarkgait.data.errors.DataError: shard.parquet: row 3: field 'frames'", False),
        # anything else is a bug or a crash, and its traceback is what a user needs
        ("RuntimeError: CUDA out of memory", True),
        ("landmarkgait.pipelines.errors.NoSuchClass: not a class we know", True),
    ],
)
def test_only_user_error_tracebacks_of_workers_are_dropped(exception_line: str, shown: bool) -> None:
    from landmarkgait.pipelines.log_setup import drop_user_error_tracebacks

    assert drop_user_error_tracebacks(_training_function_error(exception_line)) is shown
    other = logging.LogRecord("ray.train", logging.ERROR, "x.py", 1, "worker group failed", None, None)
    assert drop_user_error_tracebacks(other) is True
