"""Progress lines of the workers: a bar, the rate and the time left, readable through Ray's log forwarding."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import pytest

from landmarkgait.data.errors import DataError
from landmarkgait.pipelines.errors import TrackingUnavailable
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


def _synchronization_actor_killed(how: str) -> Exception:
    from ray.core.generated.common_pb2 import ActorDiedErrorContext
    from ray.exceptions import ActorDiedError

    context = ActorDiedErrorContext(class_name="SynchronizationActor", actor_id=bytes(16), error_message=how)
    return ActorDiedError(context)


def _shown_when_ray_train_logs(error: Exception) -> bool:
    """Whether the filter lets Ray Train's record through, logged as Ray Train logs it: from inside
    the ``except`` block of the training function's exception."""
    from landmarkgait.pipelines.log_setup import drop_user_error_tracebacks

    record = logging.LogRecord("ray.train.v2._internal.util", logging.ERROR, "util.py", 1, "", None, None)
    try:
        raise error
    except Exception:
        record.msg = f"Error in training function:\n{traceback.format_exc()}"
        return drop_user_error_tracebacks(record)


@pytest.mark.parametrize(
    ("make_error", "shown"),
    [
        # a user error the driver reports in one line: its worker traceback stays off the console
        (lambda: TrackingUnavailable("MLflow tracking server down"), False),
        (lambda: DataError("shard.parquet: row 3: field 'frames'"), False),
        # another worker's echo of it: Ray Train killed the actor this worker waited on in report
        (
            lambda: _synchronization_actor_killed("The actor is dead because it was killed by `ray.kill`."),
            False,
        ),
        # anything else is a bug or a crash, and its traceback is what a user needs
        (lambda: RuntimeError("CUDA out of memory"), True),
        (lambda: _synchronization_actor_killed("The actor is dead because its node has died."), True),
    ],
)
def test_only_tracebacks_of_user_errors_and_their_echoes_are_dropped(
    make_error: Callable[[], Exception], shown: bool
) -> None:
    from landmarkgait.pipelines.log_setup import drop_user_error_tracebacks

    assert _shown_when_ray_train_logs(make_error()) is shown
    other = logging.LogRecord("ray.train", logging.ERROR, "x.py", 1, "worker group failed", None, None)
    assert drop_user_error_tracebacks(other) is True
