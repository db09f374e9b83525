"""Hostile values, round two (issue 35): bounded config reading, values a network or a cluster cannot
use, SIGTERM, non-finite embeddings, credentials, and untrusted text on the terminal.

Through the real ``landmarkgait`` CLI as subprocesses wherever a user would meet the case: exit 2
(143 / 129 for signals), one ``landmarkgait: error:`` line naming the key, no traceback. The
config cases fail before Ray or MLflow start and take seconds; the cases that need a cluster (a
request it can never hold, SIGTERM during training) use the session's Ray head and are marked slow.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from cluster_helpers import RayHead, cli_process, wait_until, write_micro_config
from data_helpers import make_records
from test_gallery import write_embeddings

from landmarkgait.data.errors import DataError
from landmarkgait.data.format import list_shards
from landmarkgait.data.writer import write_dataset
from landmarkgait.pipelines.bounded_yaml import load_bounded
from landmarkgait.pipelines.config import load_config
from landmarkgait.pipelines.deploy.embedding import check_finite
from landmarkgait.pipelines.deploy.gallery import read_embeddings
from landmarkgait.pipelines.redaction import redact_uri

REPO = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"
QUICKSTART = REPO / "ray_configs" / "quickstart.yaml"
ERROR = "landmarkgait: error:"


def alias_bomb() -> str:
    """The 'billion laughs': nine levels of nine aliases, 9**9 strings once expanded (~1.2 KB)."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def quickstart_with(extra: str) -> str:
    """The quickstart config's text with ``extra`` appended under ``model.overrides``."""
    config = yaml.safe_load(QUICKSTART.read_text())
    config["model"]["overrides"] = {}
    text = yaml.safe_dump(config, sort_keys=False).replace("overrides: {}", "overrides:\n" + extra)
    return text


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hostile-values")
    bomb = "\n".join(f"    {line}" for line in alias_bomb().splitlines())
    files = {
        "bomb": quickstart_with(bomb),
        "deep": quickstart_with(f"    deep: {'[' * 2000}{']' * 2000}"),
        "bigint": QUICKSTART.read_text().replace("seed: 0\n", f"seed: {'9' * 5000}\n", 1),
        "tag": QUICKSTART.read_text().replace(
            "name: quickstart", 'name: !!python/object/apply:os.system ["true"]'
        ),
        "longkey": QUICKSTART.read_text() + f"{'k' * 1000}: 1\n",  # YAML's longest plain key is 1024
        "sweep_seed": yaml.safe_dump(
            {
                "name": "s",
                "base": str(QUICKSTART),
                "search": {
                    "space": {"model.num_landmark": {"grid": [20]}},
                    "metric": "recognition/eval/rank1/NM",
                    "seed": 2**40,
                },
            }
        ),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = root / f"{name}.yaml"
        paths[name].write_text(text)
    paths["root"] = root
    return paths


def run_cli(argv: list[str], tmp_path: Path, timeout_s: float = 120, **popen) -> subprocess.CompletedProcess:
    env = {**os.environ, "LANDMARKGAIT_HOME": str(tmp_path / "home"), "MLFLOW_TRACKING_URI": ""}
    return subprocess.run(
        [str(BIN / "landmarkgait"), *argv],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=tmp_path,
        env=env,
        **popen,
    )


def one_error_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single error line of a failed command (asserting exit code, one line, no traceback)."""
    assert result.returncode == code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith(ERROR)]
    assert len(errors) == 1, result.stderr[-3000:]
    assert len(errors[0]) < 1000, errors[0][:3000]
    return errors[0]


def q(key: str, value: str) -> list[str]:
    return ["run", str(QUICKSTART), "--set", f"{key}={value}"]


# (case id, argv with {placeholders} from the fixture, text the one error line must contain)
CASES = [
    ("deep-yaml", ["run", "{deep}"], "nested deeper than 32"),
    ("deep-set", q("model.overrides", "[" * 3000 + "]" * 3000), "nested deeper than 32"),
    ("deep-set-mapping", q("model.overrides", "{a: " * 500 + "1" + "}" * 500), "nested deeper than 32"),
    ("bigint-yaml", ["run", "{bigint}"], "integer of 5000 digits"),
    ("bigint-set", q("seed", "9" * 5000), "integer of 5000 digits"),
    ("yaml-tag", ["run", "{tag}"], "could not determine a constructor for the tag"),
    ("long-unknown-key", ["run", "{longkey}"], "unknown config key 'kkkk"),
    ("long-value", q("model.preset", "p" * 100_000), "model preset 'ppp"),
    ("lr-nan", q("stages.recognition.optimizer.lr", ".nan"), "'stages.recognition.optimizer.lr'"),
    ("lr-inf", q("stages.landmark.optimizer.landmark_lr", ".inf"), "'stages.landmark.optimizer.landmark_lr'"),
    ("lr-overflow", q("stages.parsing.optimizer.lr", "1.0e999"), "'stages.parsing.optimizer.lr'"),
    ("gamma-nan", q("stages.parsing.optimizer.gamma", ".nan"), "'stages.parsing.optimizer.gamma'"),
    ("weight-decay-inf", q("stages.recognition.optimizer.weight_decay", ".inf"), "weight_decay"),
    ("loss-weight-inf", q("stages.landmark.loss.triplet", ".inf"), "'stages.landmark.loss.triplet'"),
    ("loss-weight-nan", q("stages.recognition.loss.cross_entropy", ".nan"), "cross_entropy"),
    ("smoothing-nan", q("stages.recognition.loss.label_smoothing", ".nan"), "label_smoothing"),
    ("cpus-negative", q("scaling.cpus_per_worker", "-1"), "cpus_per_worker"),
    ("cpus-nan", q("scaling.cpus_per_worker", ".nan"), "cpus_per_worker"),
    ("cpus-zero", q("scaling.cpus_per_worker", "0"), "cpus_per_worker"),
    ("gpus-negative", q("scaling.gpus_per_worker", "-1"), "gpus_per_worker"),
    ("resource-negative", q("scaling.resources_per_worker", "{slot: -1}"), "resources_per_worker"),
    ("resource-inf", q("scaling.resources_per_worker", "{slot: .inf}"), "resources_per_worker.slot"),
    ("max-failures", q("scaling.max_failures", "-100"), "max_failures"),
    ("embed-batch-zero", q("scaling.embed_batch_size", "0"), "embed_batch_size"),
    ("seed-2**40", q("seed", str(2**40)), "'seed'"),
    ("seed-negative", q("seed", "-1"), "'seed'"),
    ("synth-seed", q("data.synthetic.seed", str(2**32)), "seed"),
    ("synth-cli-seed", ["data", "synth", "--out", "{root}/s", "--seed", str(2**40)], "seed"),
    ("sweep-seed", ["sweep", "{sweep_seed}"], "search.seed"),
]


def fill(argv: list[str], inputs: dict[str, Path]) -> list[str]:
    """``{name}`` placeholders replaced by the fixture's paths (other braces are YAML, left alone)."""
    filled = []
    for word in argv:
        for key, value in inputs.items():
            word = word.replace(f"{{{key}}}", str(value))
        filled.append(word)
    return filled


@pytest.mark.parametrize(("argv", "named"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_a_hostile_value_is_one_line_naming_the_key(
    argv: list[str], named: str, inputs: dict[str, Path], tmp_path: Path
) -> None:
    line = one_error_line(run_cli(fill(argv, inputs), tmp_path))
    assert named in line, line
    assert not (tmp_path / "home" / "mlflow.db").exists()  # refused before MLflow


def test_the_alias_bomb_is_refused_in_bounded_time_and_memory(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    """It cost 35 s, 3.2 GB and an 802 MB error line. Now the loader stops at the first alias; the
    command runs under a 1.5 GiB address-space limit that the expanded bomb would exceed."""
    started = time.monotonic()
    with pytest.raises(yaml.YAMLError, match="alias"):
        load_bounded(alias_bomb())
    assert time.monotonic() - started < 1

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (3 << 29, 3 << 29))

    started = time.monotonic()
    result = run_cli(["run", str(inputs["bomb"])], tmp_path, preexec_fn=limit_memory)
    elapsed = time.monotonic() - started
    line = one_error_line(result)
    assert "alias *a refused" in line and str(inputs["bomb"]) in line, line
    assert elapsed < 60, elapsed  # the CLI's own start-up dominates: seconds on an idle machine


def test_a_yaml_tag_error_is_one_line_with_file_line_and_column(
    inputs: dict[str, Path], tmp_path: Path
) -> None:
    """PyYAML's message spans four lines (problem, file, line, caret); it used to print as such."""
    result = run_cli(["run", str(inputs["tag"])], tmp_path)
    line = one_error_line(result)
    number = QUICKSTART.read_text().splitlines().index("name: quickstart") + 1
    assert str(inputs["tag"]) in line and f"line {number}, column 7" in line and "python/object" in line, line
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_credentials_and_every_query_value_are_redacted_when_printed(tmp_path: Path) -> None:
    uri = "http://alice:s3cret@127.0.0.1:1/mlflow?pwd=hunter2&sig=abc123#token=zzz"
    line = one_error_line(run_cli(["run", str(QUICKSTART), "--tracking-uri", uri], tmp_path))
    assert "http://***@127.0.0.1:1/mlflow?pwd=***&sig=***#***" in line, line
    for secret in ("alice", "s3cret", "hunter2", "abc123", "zzz"):
        assert secret not in line
    config = load_config(QUICKSTART, [f"tracking.tracking_uri={uri}"])
    for secret in ("alice", "s3cret", "hunter2", "abc123", "zzz"):
        assert secret not in config.to_yaml() and secret not in json.dumps(config.flat_params())
    assert redact_uri("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"  # nothing to hide: unchanged


@pytest.fixture
def evil_dataset(tmp_path: Path) -> Path:
    """A dataset whose name holds a clear-screen escape and whose first key holds a forged error line."""
    dataset = write_dataset(
        make_records(), tmp_path / "evil", name="evil\x1b[2J\x1b]0;owned\x07", source="x\ny"
    )
    return dataset


def test_data_inspect_escapes_names_from_the_dataset(evil_dataset: Path, tmp_path: Path) -> None:
    result = run_cli(["data", "inspect", str(evil_dataset)], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "evil\\x1b[2J\\x1b]0;owned\\x07" in result.stdout
    assert "source        x\\ny" in result.stdout


def test_a_key_holding_a_newline_cannot_forge_an_error_line(evil_dataset: Path, tmp_path: Path) -> None:
    for shard in list_shards(evil_dataset):
        table = pq.read_table(shard)
        subjects = pa.array(
            ["001\nlandmarkgait: error: forged\x1b[2J" for _ in range(table.num_rows)], pa.string()
        )
        table = table.set_column(table.schema.get_field_index("subject"), "subject", subjects)
        pq.write_table(table, shard, row_group_size=1)
    for command in (["data", "inspect"], ["data", "validate"]):
        result = run_cli([*command, str(evil_dataset)], tmp_path)
        assert result.returncode in (1, 2), result.stderr[-3000:]
        assert "Traceback" not in result.stderr
        assert "\x1b" not in result.stdout + result.stderr
        lines = (result.stdout + result.stderr).splitlines()
        assert not any(line.startswith("landmarkgait: error: forged") for line in lines), lines
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_non_finite_gallery_embeddings_are_refused_naming_the_sequence(tmp_path: Path) -> None:
    """A NaN (or one subject at +inf) made identify's open-set threshold NaN: every probe 'unknown'."""
    vectors = np.random.default_rng(0).standard_normal((12, 6, 4)).astype(np.float32)
    vectors[7, 2, 1] = np.inf
    path = write_embeddings(tmp_path / "g.emb", [f"{i % 4:03d}" for i in range(12)], vectors)
    with pytest.raises(DataError, match=r"row \d+: the embedding of sequence 003/nm-02/126 holds NaN or inf"):
        read_embeddings(path)
    with pytest.raises(
        DataError, match=r"out\.emb: nothing written, run R's network diverged .*003/nm-02/126"
    ):
        check_finite(path, tmp_path / "out.emb", "R")


def test_userinfo_in_the_tracking_uri_becomes_basic_auth(tmp_path: Path) -> None:
    """``http://user:password@host`` works: the health check goes to the host, and every MLflow
    request carries the credentials as basic auth (MLflow's basic-auth app needs Flask-WTF, not
    installed here, so a loopback server checks the Authorization header as that app does)."""
    with basic_auth_server("alice", "p@ss:word") as server:
        uri = f"http://alice:p%40ss%3Aword@127.0.0.1:{server.port}"
        result = run_cli(["report", "--experiment", "no-such", "--tracking-uri", uri], tmp_path)
        line = one_error_line(result)
        assert "no-such" in line and "not found" in line and "p%40ss" not in line and "alice" not in line, (
            line
        )
        assert server.api_requests and all(server.authorized(request) for request in server.api_requests)
        server.api_requests.clear()
        wrong = f"http://alice:wrong@127.0.0.1:{server.port}"
        line = one_error_line(run_cli(["report", "--experiment", "x", "--tracking-uri", wrong], tmp_path))
        assert "UNAUTHENTICATED" in line and "wrong" not in line, line


class _AuthServer(http.server.ThreadingHTTPServer):
    def __init__(self, user: str, password: str) -> None:
        super().__init__(("127.0.0.1", 0), _AuthHandler)
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.api_requests: list[dict[str, str]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("Authorization") == self.expected


class _AuthHandler(http.server.BaseHTTPRequestHandler):
    server: _AuthServer

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path.startswith("/health"):
            self._answer(200, {})
            return
        headers = dict(self.headers.items())
        self.server.api_requests.append(headers)
        if not self.server.authorized(headers):
            self._answer(401, {"error_code": "UNAUTHENTICATED", "message": "You are not authenticated."})
        else:  # experiments/get-by-name: the experiment does not exist
            self._answer(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "No such experiment"})

    do_POST = do_GET


class basic_auth_server:
    def __init__(self, user: str, password: str) -> None:
        self.server = _AuthServer(user, password)

    def __enter__(self) -> _AuthServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_ray_token_file_the_tool_creates_is_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from landmarkgait.pipelines.runtime.ray_runtime import private_token_file

    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(name, raising=False)
    private_token_file()
    token = tmp_path / ".ray" / "auth_token"
    assert token.stat().st_mode & 0o777 == 0o600 and len(token.read_text()) == 64
    before = token.read_text()
    private_token_file()  # an existing token is left alone
    assert token.read_text() == before


def test_sigterm_ends_data_synth_like_ctrl_c(tmp_path: Path) -> None:
    """SIGTERM (timeout, systemd, Kubernetes, Slurm) and SIGHUP: staging removed, local Ray stopped,
    exit 128 + the signal."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        out = tmp_path / f"synth-{signum}"
        env = {**os.environ, "LANDMARKGAIT_HOME": str(tmp_path / "home"), "RAY_ADDRESS": ""}
        process = subprocess.Popen(
            [str(BIN / "landmarkgait"), "data", "synth", "--out", str(out), "--subjects", "8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
        try:
            wait_until(
                lambda out=out, process=process: (
                    process.poll() is not None or any(tmp_path.glob(f".{out.name}.tmp-*"))
                ),
                240,
                "the synth staging folder",
            )
            assert process.poll() is None, process.communicate()[1][-3000:]
            process.send_signal(signum)
            _, stderr = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        assert process.returncode == 128 + signum, stderr[-3000:]
        assert f"landmarkgait: terminated by {signal.Signals(signum).name}" in stderr
        assert "Traceback" not in stderr, stderr[-3000:]
        assert not out.exists() and not any(tmp_path.glob(f".{out.name}.tmp-*"))


# -- on the session's Ray head (2 CPUs, no GPU) -----------------------------------------------------


@pytest.fixture
def micro_config(tmp_path: Path, micro_dataset: Path) -> tuple[Path, str]:
    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = write_micro_config(
        tmp_path / "c.yaml",
        micro_dataset,
        tracking,
        "hostile-values",
        total_iter=400,
        save_iter=4,
        num_workers=1,
        storage_path=tmp_path / "ray_results",
    )
    return config, tracking


def runs_of(tracking: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name("hostile-values")
    return [] if experiment is None else client.search_runs([experiment.experiment_id])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("override", "named", "cluster_has"),
    [
        ("scaling.use_gpu=true", "'scaling.use_gpu'", "has no such resource"),
        ("scaling.cpus_per_worker=1000", "'scaling.cpus_per_worker'", "has 2"),
        (
            "scaling.resources_per_worker={bogus_slot: 1}",
            "'scaling.resources_per_worker.bogus_slot'",
            "no such",
        ),
    ],
    ids=["gpu-on-a-gpu-less-cluster", "1000-cpus", "unknown-custom-resource"],
)
def test_a_request_the_cluster_can_never_hold_ends_in_seconds(
    ray_cluster: RayHead,
    micro_config: tuple[Path, str],
    tmp_path: Path,
    override: str,
    named: str,
    cluster_has: str,
) -> None:
    """Ray Train waited for such workers forever, the run RUNNING. Now: one line naming the key and
    what the cluster has, before any MLflow run opens."""
    config, tracking = micro_config
    argv = [
        "train",
        str(config),
        "--stage",
        "landmark",
        "--ray-address",
        ray_cluster.address,
        "--set",
        override,
    ]
    started = time.monotonic()
    line = one_error_line(run_cli(argv, tmp_path, timeout_s=300))
    assert time.monotonic() - started < 120  # seconds of work; the rest is importing torch and Ray
    assert named in line and cluster_has in line and "2 CPU, 0 GPU" in line, line
    assert runs_of(tracking) == []


@pytest.mark.slow
def test_sigterm_during_training_marks_the_runs_killed_and_exits_143(
    ray_cluster: RayHead, micro_config: tuple[Path, str], tmp_path: Path
) -> None:
    config, tracking = micro_config
    argv = ["train", str(config), "--stage", "landmark", "--ray-address", ray_cluster.address]
    with cli_process(*argv, log=tmp_path / "log") as process:
        # The stage run is opened by the Ray Train worker: from then on the job is training.
        wait_until(
            lambda: (
                process.poll() is not None
                or any(run.data.tags.get("landmarkgait.kind") == "stage" for run in runs_of(tracking))
            ),
            900,
            "the stage run",
            interval_s=2,
        )
        assert process.poll() is None, (tmp_path / "log").read_text()[-3000:]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=180) == 143, (tmp_path / "log").read_text()[-3000:]
    output = (tmp_path / "log").read_text()
    assert "landmarkgait: terminated by SIGTERM" in output, output[-3000:]
    statuses = {run.data.tags.get("landmarkgait.kind"): run.info.status for run in runs_of(tracking)}
    assert statuses == {"pipeline": "KILLED", "stage": "KILLED"}, statuses


def test_there_are_at_least_twenty_five_cases() -> None:
    assert len(CASES) >= 25 and len({case[0] for case in CASES}) == len(CASES)


@pytest.fixture(autouse=True)
def _no_stray_output(tmp_path: Path) -> Iterator[None]:
    yield
    assert not (tmp_path / "home" / "ray_results").exists()
