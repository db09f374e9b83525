"""Pipeline config loading: typed, validated, and errors that name the key."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from landmarkgait.data.sampler_config import SamplerConfig
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.models.registry import SCHEDULES
from landmarkgait.models.training_config import LossWeights, OptimizerConfig
from landmarkgait.pipelines.config import PipelineConfig, load_config
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.redaction import redact_uri

REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONFIGS = sorted((REPO / "ray_configs").glob("*.yaml"))
PIPELINE_CONFIGS = [path for path in SHIPPED_CONFIGS if path.stem in ("quickstart", "casia_b", "oumvlp")]


@pytest.mark.parametrize("path", PIPELINE_CONFIGS, ids=lambda path: path.stem)
def test_shipped_pipeline_configs_load(path: Path) -> None:
    config = load_config(path)
    assert config.stages.landmark.total_iter > 0
    assert config.flat_params()["stages.recognition.total_iter"] == config.stages.recognition.total_iter


def test_paper_config_matches_official_settings() -> None:
    config = load_config(REPO / "ray_configs" / "casia_b.yaml")
    assert config.model.preset == "paper" and config.model.num_landmark == 25
    assert [config.stages.of(stage).total_iter for stage in ("landmark", "parsing", "recognition")] == [
        30000,
        30000,
        80000,
    ]
    assert [
        config.stages.of(stage).optimizer.milestones for stage in ("landmark", "parsing", "recognition")
    ] == [
        [20000],
        [20000],
        [70000],
    ]
    sampler = config.stages.recognition.sampler
    assert (sampler.subjects_per_batch, sampler.sequences_per_subject, sampler.frames) == (8, 8, 30)
    assert config.stages.recognition.optimizer.lr == pytest.approx(1e-4)
    assert (
        config.scaling.num_workers == 4
        and config.scaling.use_gpu
        and config.scaling.resolved_backend == "nccl"
    )


def test_set_override_is_typed(tmp_path: Path) -> None:
    config = load_config(
        REPO / "ray_configs" / "quickstart.yaml",
        ["model.num_landmark=30", "stages.recognition.loss.triplet=0.5", "scaling.use_gpu=true"],
    )
    assert config.model.num_landmark == 30
    assert config.stages.recognition.loss.triplet == 0.5
    assert config.scaling.resolved_backend == "nccl"


def test_unknown_override_key_names_valid_keys() -> None:
    with pytest.raises(
        ConfigError, match=r"model.num_landmarks.*valid keys at model: num_landmark, overrides, preset"
    ):
        load_config(REPO / "ray_configs" / "quickstart.yaml", ["model.num_landmarks=30"])


def test_mistyped_override_names_key() -> None:
    with pytest.raises(ConfigError, match=r"stages.landmark.total_iter.*expected an integer"):
        load_config(REPO / "ray_configs" / "quickstart.yaml", ["stages.landmark.total_iter=many"])


def test_unknown_yaml_key_names_file_and_key(tmp_path: Path) -> None:
    raw = yaml.safe_load((REPO / "ray_configs" / "quickstart.yaml").read_text())
    raw["stages"]["parsing"]["totl_iter"] = 5
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        ConfigError, match=r"bad.yaml.*unknown config key 'stages.parsing.totl_iter'.*total_iter"
    ):
        load_config(path)


def test_invalid_value_names_section() -> None:
    with pytest.raises(ConfigError, match=r"stages.landmark.sampler.*sample_type must be one of"):
        load_config(REPO / "ray_configs" / "quickstart.yaml", ["stages.landmark.sampler.sample_type=random"])


def test_data_read_threads_must_be_positive() -> None:
    with pytest.raises(ConfigError, match=r"data.*read_threads must be >= 1, got 0"):
        load_config(REPO / "ray_configs" / "quickstart.yaml", ["data.read_threads=0"])


def test_missing_config_file() -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config("/nonexistent/config.yaml")


def test_round_trip_through_dict() -> None:
    config = load_config(REPO / "ray_configs" / "quickstart.yaml")
    assert PipelineConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("command", ["run", "train", "evaluate", "import", "sweep"])
def test_cli_reports_a_config_error_without_loading_torch_ray_or_mlflow(command: str) -> None:
    """Bad input is answered at once: the CLI parses options and config before heavy imports."""
    extra = {
        "train": ["--stage", "parsing"],
        "evaluate": ["--run", "0123"],
        "import": ["--stage", "landmark", "x.pt"],
    }
    config = "sweep_quickstart.yaml" if command == "sweep" else "quickstart.yaml"
    argv = [
        command,
        str(REPO / "ray_configs" / config),
        "--set",
        "model.bogus=1",
        *extra.get(command, []),
    ]
    probe = (
        "import sys\n"
        "from landmarkgait.pipelines.cli import main\n"
        f"code = main({argv!r})\n"
        "print(code, sorted({'torch', 'ray', 'mlflow'} & set(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert result.stdout.strip() == "2 []", result.stdout + result.stderr
    assert "unknown config key 'model.bogus'" in result.stderr


@pytest.mark.parametrize(
    ("assignment", "named"),
    [
        ("model.num_landmark=2", r"section 'model'.*'num_landmark'.*>= 3.*got 2"),
        ("model.preset=bogus", r"section 'model'.*preset 'bogus'.*micro, paper, small"),
        ("model.overrides={num_lanmark: 3}", r"section 'model'.*'num_lanmark' is not a model config field"),
        ("model.overrides={channels: [1, 2]}", r"section 'model'.*'channels'.*three positive integers"),
        ("stages.recognition.optimizer.lr=-1", r"'stages.recognition.optimizer'.*'lr'.*>= 0, got -1"),
        ("stages.parsing.optimizer.milestones=[-5]", r"'stages.parsing.optimizer'.*milestones"),
        ("stages.landmark.loss.triplet=-2", r"'stages.landmark.loss'.*'triplet'.*>= 0"),
        (
            "stages.recognition.loss.label_smoothing=1",
            r"'stages.recognition.loss'.*label_smoothing.*\[0, 1\)",
        ),
        ("stages.landmark.sampler.frames=0", r"'stages.landmark.sampler'.*frames must be >= 1"),
        ("data.synthetic.subjects=1", r"'data.synthetic'.*subjects must be an integer in \[2, 999\]"),
        ("data.synthetic.views=['999']", r"'data.synthetic'.*views: unknown value '999'"),
        ("evaluation.max_frames=0", r"'evaluation'.*max_frames must be >= 1 or null"),
    ],
)
def test_every_value_is_validated_when_the_config_loads(assignment: str, named: str) -> None:
    """Values no component accepts are refused by load_config, before Ray or MLflow start."""
    with pytest.raises(ConfigError, match=named):
        load_config(REPO / "ray_configs" / "quickstart.yaml", [assignment])


def test_stage_sections_follow_the_stage_registry() -> None:
    config = load_config(REPO / "ray_configs" / "quickstart.yaml")
    assert [field.name for field in dataclasses.fields(config.stages)] == list(SCHEDULES)
    assert isinstance(config.stages.recognition.loss, LossWeights)
    assert isinstance(config.stages.recognition.optimizer, OptimizerConfig)
    assert isinstance(config.stages.recognition.sampler, SamplerConfig)
    assert isinstance(config.data.synthetic, SynthConfig)


def test_recognition_branches_choose_the_stages_a_pipeline_trains() -> None:
    quickstart = REPO / "ray_configs" / "quickstart.yaml"
    assert load_config(quickstart).model.stages == ("landmark", "parsing", "recognition")
    holistic = load_config(quickstart, ["model.recognition_branches=holistic"])
    assert holistic.model.stages == ("holistic",)
    assert holistic.stages.of("holistic") is holistic.stages.recognition  # one schedule for both rows
    with pytest.raises(ConfigError, match=r"'model'.*recognition_branches 'both'.*all, holistic"):
        load_config(quickstart, ["model.recognition_branches=both"])


def test_credentials_in_the_tracking_uri_are_never_logged() -> None:
    secret_uri = "https://alice:s3cret@mlflow.example:5000/?token=abc&region=eu"
    config = load_config(REPO / "ray_configs" / "quickstart.yaml", [f"tracking.tracking_uri={secret_uri}"])
    assert config.tracking.tracking_uri == secret_uri  # workers still connect with it
    logged = config.flat_params()["tracking.tracking_uri"]
    assert logged == "https://***@mlflow.example:5000/?token=***&region=***"  # every query value
    assert "s3cret" not in config.to_yaml() and "abc" not in config.to_yaml()
    assert redact_uri("postgresql://user:pw@db/mlflow") == "postgresql://***@db/mlflow"
    assert redact_uri("sqlite:////tmp/mlflow.db") == "sqlite:////tmp/mlflow.db"
