"""The local-cluster walkthrough of ray_configs/README.md, run exactly as written.

The bash block under "Try it on one machine" is taken from ray_configs/README.md and run by
``bash -e`` from the repository root in a clean environment: a fresh ``HOME`` (no Ray token, no
``~/.landmarkgait``), only the virtualenv on ``PATH``, and none of the variables conftest.py sets
for the rest of the suite (token, single-node mode, LANDMARKGAIT_HOME). The harness adds one
thing around the block: an exit trap that stops the head and the server if a command fails
before the block's own last line does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psutil
import pytest
from cluster_helpers import BIN, REPO
from mlflow.tracking import MlflowClient

pytestmark = pytest.mark.slow

WALKTHROUGH = REPO / "ray_configs" / "README.md"
HEADING = "### Try it on one machine"


def walkthrough_block() -> str:
    text = WALKTHROUGH.read_text()
    section = text[text.index(HEADING) :]
    start = section.index("```bash\n") + len("```bash\n")
    return section[start : section.index("```", start)]


def stop_processes_of_home(home: Path) -> None:
    """Kill whatever the block left running (its processes carry the test's HOME)."""
    for process in psutil.process_iter():
        try:
            if process.environ().get("HOME") == str(home):
                process.kill()
        except psutil.Error:
            continue


def test_readme_local_cluster_walkthrough_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    cleanup = 'trap \'kill "${RAY_HEAD_PID:-}" "${MLFLOW_PID:-}" 2> /dev/null || true; wait\' EXIT\n'
    try:
        result = subprocess.run(
            ["bash", "-e", "-c", cleanup + walkthrough_block()],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
    finally:
        stop_processes_of_home(home)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-5000:]
    assert output.count("succeeded") >= 2, output[-5000:]

    demo = home / ".landmarkgait" / "cluster-demo"
    client = MlflowClient(f"sqlite:///{demo / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("landmarkgait-cluster-demo").experiment_id
    stage_runs = client.search_runs([experiment], "tags.`landmarkgait.kind` = 'stage'")
    # Stage 1 trained once, by the first job; the second job found it and trained the rest.
    assert sorted(run.data.tags["landmarkgait.stage"] for run in stage_runs) == [
        "landmark",
        "parsing",
        "recognition",
    ]
    assert all(run.info.status == "FINISHED" for run in stage_runs)
    jobs = client.search_runs(
        [experiment], "tags.`landmarkgait.kind` = 'pipeline'", order_by=["attributes.start_time ASC"]
    )
    assert [run.info.status for run in jobs] == ["FINISHED", "FINISHED"]
    assert "eval/rank1/NM" in jobs[1].data.metrics
    assert (home / ".ray" / "auth_token").exists()
