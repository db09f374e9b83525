"""``landmarkgait config import``: OpenGait / official LandmarkGait configs -> one pipeline config.

The fixtures in tests/fixtures/opengait/ are the three official LandmarkGait stage configs'
settings written in their format. The three must map to ``ray_configs/casia_b.yaml`` in every
trained value; every key is either a commented value, a listed finding or a refusal (one line
each: file, key, value, why); ``restore_hint`` paths become ``landmarkgait import`` steps; the
output follows the output rule and the inputs the input rule. Two cases run the real CLI as a
subprocess; the rest call the command's handler in-process (no torch, Ray or MLflow: seconds).
"""

from __future__ import annotations

import copy
import os
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from data_helpers import REPO, run_cli

from landmarkgait.data.errors import DataError
from landmarkgait.data.evaluation.names import PROTOCOLS
from landmarkgait.models.registry import STAGE_SPECS
from landmarkgait.pipelines.cli import build_parser
from landmarkgait.pipelines.config import PipelineConfig, load_config
from landmarkgait.pipelines.errors import ConfigError
from landmarkgait.pipelines.opengait_import.assemble import MARKER_LINE, import_opengait_configs
from landmarkgait.pipelines.opengait_import.defaults import OPENGAIT_DEFAULTS, merge_over_defaults
from landmarkgait.pipelines.opengait_import.official import DATASET_PROTOCOLS, OFFICIAL_LOSS_OUTPUTS

FIXTURES = REPO / "tests" / "fixtures" / "opengait"
FILES = {
    "landmark": FIXTURES / "LandmarkGait_Silh_to_Landmark.yaml",
    "parsing": FIXTURES / "LandmarkGait_Landmark_to_Parsing.yaml",
    "recognition": FIXTURES / "LandmarkGait_Recognition.yaml",
}
CASIA_B = REPO / "ray_configs" / "casia_b.yaml"


def trained_values(config: PipelineConfig) -> dict[str, Any]:
    """What decides what a pipeline trains and how it is scored: every stage's network, schedule,
    sampler, optimiser and losses, the seed, SyncBatchNorm, the split and the evaluation."""
    return {
        "seed": config.seed,
        "model": config.model,
        "networks": {stage: config.model.network_config(stage) for stage in config.model.stages},
        "stages": config.stages,
        "sync_bn": config.scaling.sync_bn,
        "partition": config.data.partition,
        "evaluation": config.evaluation,
    }


def stage_config(stage: str) -> dict[str, Any]:
    return yaml.safe_load(FILES[stage].read_text())


def write(folder: Path, stage: str, config: dict[str, Any]) -> Path:
    """``config`` as the file of ``stage`` (its official file name) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FILES[stage].name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def edited(tmp_path: Path, **edits: Any) -> list[Path]:
    """The three fixtures, with ``edits[stage](config)`` applied to a stage's mapping."""
    paths = []
    for stage in FILES:
        config = stage_config(stage)
        if stage in edits:
            edits[stage](config)
        paths.append(write(tmp_path / "in", stage, config))
    return paths


def run_import(*argv: str | Path) -> int:
    """``landmarkgait config import ARGV`` through the command's own handler, in this process."""
    args = build_parser().parse_args(["config", "import", *map(str, argv)])
    return args.handler(args)


def value_lines(text: str) -> list[str]:
    """Lines of a YAML document that hold a value (not comments, not section headers)."""
    return [
        line
        for line in text.splitlines()
        if line.strip()
        and not line.lstrip().startswith("#")
        and not line.split("#")[0].rstrip().endswith(":")
    ]


def test_cli_maps_the_three_stage_configs_to_casia_b(tmp_path: Path) -> None:
    out = tmp_path / "imported.yaml"
    result = run_cli("config", "import", *FILES.values(), "--out", out)
    assert result.returncode == 0, result.stderr
    assert trained_values(load_config(out)) == trained_values(load_config(CASIA_B))
    text = out.read_text()
    assert text.splitlines()[0] == f"# {MARKER_LINE}"
    for line in value_lines(text):  # every value says where it came from
        assert " # " in line, line
    assert (
        "total_iter: 30000" in text and "# LandmarkGait_Silh_to_Landmark.yaml: trainer_cfg.total_iter" in text
    )
    assert "milestones: [70000]" in text and "LandmarkGait_Recognition.yaml: scheduler_cfg.milestones" in text
    # Listed, not dropped: keys that change nothing trained here, each on one line with its reason.
    assert "all 3 configs: optimizer_cfg.momentum = 0.9: Adam takes no momentum" in result.stdout
    assert "data_cfg.num_workers = 8: DataLoader processes" in result.stdout
    assert result.stdout.rstrip().endswith(f"landmarkgait run {out}")


def test_with_a_base_config_the_import_is_casia_b_itself(tmp_path: Path) -> None:
    result = import_opengait_configs(list(FILES.values()), str(tmp_path / "x.yaml"), CASIA_B)
    assert result.refused == []
    assert result.config == load_config(CASIA_B)
    assert "path: /data/casia-b-parquet" in result.text and "--base casia_b.yaml" in result.text


def test_file_order_does_not_matter(tmp_path: Path) -> None:
    forward = import_opengait_configs(list(FILES.values()), "out.yaml")
    backward = import_opengait_configs(list(reversed(FILES.values())), "out.yaml")
    assert forward.text == backward.text


def test_the_official_loss_outputs_are_the_registry_loss_terms() -> None:
    for spec in STAGE_SPECS.values():
        if spec.save_name in OFFICIAL_LOSS_OUTPUTS:
            assert sorted(OFFICIAL_LOSS_OUTPUTS[spec.save_name].values()) == sorted(spec.loss_terms)


def test_keys_are_merged_over_opengait_defaults_as_its_loader_does(tmp_path: Path) -> None:
    merged = merge_over_defaults(
        {"trainer_cfg": {"sampler": {"batch_size": [4, 4]}}, "loss_cfg": [{"type": "X"}]}
    )
    assert merged["trainer_cfg"]["sampler"]["batch_size"] == [4, 4]  # a list replaces the default
    assert merged["trainer_cfg"]["sampler"]["frames_num_fixed"] == 30  # a mapping merges key by key
    assert merged["trainer_cfg"]["enable_float16"] is True
    assert merged["loss_cfg"] == [{"type": "X"}]  # a list of losses replaces the default triplet loss
    assert OPENGAIT_DEFAULTS["trainer_cfg"]["sampler"]["batch_size"] == [8, 16]  # defaults untouched
    # A key the file leaves out takes OpenGait's default, and the comment says so.
    paths = edited(tmp_path, landmark=lambda config: config["trainer_cfg"].pop("log_iter"))
    text = import_opengait_configs(paths, "out.yaml").text
    assert "LandmarkGait_Silh_to_Landmark.yaml: trainer_cfg.log_iter (OpenGait default)" in text


def test_keys_that_cannot_be_honoured_are_refused_one_line_each(tmp_path: Path) -> None:
    def recognition(config: dict[str, Any]) -> None:
        config["optimizer_cfg"]["solver"] = "SGD"
        config["trainer_cfg"]["sampler"]["sample_type"] = "unfixed_ordered"
        config["trainer_cfg"]["fancy_option"] = 3
        del config["trainer_cfg"]["enable_float16"]  # OpenGait's default: mixed precision
        config["loss_cfg"] = [entry for entry in config["loss_cfg"] if entry["log_prefix"] != "softmax"]

    paths = edited(tmp_path, recognition=recognition)
    out = tmp_path / "out.yaml"
    result = run_cli("config", "import", *paths, "--out", out)
    assert result.returncode == 2
    assert not out.exists()
    lines = result.stderr.splitlines()
    refused = [line.removeprefix("landmarkgait: cannot honour ") for line in lines[:-1]]
    assert all(line.startswith("LandmarkGait_Recognition.yaml: ") for line in refused), lines
    for expected in (
        "optimizer_cfg.solver = 'SGD': landmarkgait trains with Adam only",
        "trainer_cfg.sampler.sample_type = 'unfixed_ordered': clip lengths drawn",
        "trainer_cfg.fancy_option = 3: not a key landmarkgait knows",
        "trainer_cfg.enable_float16 (OpenGait default) = True: mixed precision",
        "loss_cfg = ['reconstruction1', 'reconstruction2', 'triplet']: LandmarkGait_Recognition outputs 'softmax'",
    ):
        assert any(expected in line for line in refused), (expected, refused)
    assert len(refused) == 5, refused
    assert (
        lines[-1] == "landmarkgait: error: 5 OpenGait keys cannot be honoured (listed above); nothing written"
    )


def test_a_single_refusal_is_the_error_line(tmp_path: Path) -> None:
    paths = edited(tmp_path, landmark=lambda config: config["trainer_cfg"].update(fix_BN=True))
    with pytest.raises(
        ConfigError, match=r"^LandmarkGait_Silh_to_Landmark.yaml: trainer_cfg.fix_BN = True: "
    ):
        run_import(*paths, "--out", tmp_path / "out.yaml")


def test_one_stage_config_takes_the_other_stages_from_a_base(tmp_path: Path) -> None:
    out = str(tmp_path / "out.yaml")
    with pytest.raises(ConfigError, match=r"stages.landmark: no OpenGait config of stage landmark .* --base"):
        import_opengait_configs([FILES["recognition"]], out)
    result = import_opengait_configs([FILES["recognition"]], out, CASIA_B)
    assert result.config == load_config(CASIA_B)
    assert (
        "landmark:                                 # --base casia_b.yaml (no OpenGait config" in result.text
    )
    # The placeholder of the parsing checkpoint becomes an import step to fill in, then training.
    assert result.steps[0].startswith(f"landmarkgait import {out} --stage parsing YOUR_PARSING_CHECKPOINT.pt")
    assert result.steps[1] == f"landmarkgait train --stage recognition {out}"


def test_restore_hint_paths_become_import_steps(tmp_path: Path) -> None:
    parsing_checkpoint = "/ckpt/LandmarkGait_Landmark_to_Parsing-20000.pt"  # not the one stage 2 here saves
    evaluated_checkpoint = "/ckpt/official/LandmarkGait_Recognition-80000.pt"

    def recognition(config: dict[str, Any]) -> None:
        config["trainer_cfg"]["restore_hint"] = [parsing_checkpoint]
        config["evaluator_cfg"]["restore_hint"] = evaluated_checkpoint

    paths = edited(tmp_path, recognition=recognition)
    out = str(tmp_path / "out.yaml")
    result = import_opengait_configs(paths, out)
    assert result.refused == []
    imports = [shlex.split(step.partition("   #")[0]) for step in result.steps[:2]]
    for words, stage, checkpoint in zip(
        imports, ("parsing", "recognition"), (parsing_checkpoint, evaluated_checkpoint), strict=True
    ):
        args = build_parser().parse_args(words[1:])  # the real `landmarkgait import` command line
        assert (args.config, args.stage, args.checkpoint) == (out, stage, checkpoint)
    assert "it takes the place of training stage parsing" in result.steps[0]
    assert result.steps[2].startswith(f"landmarkgait evaluate --run RUN_ID {out}")
    assert "Next steps:" in result.text and f"#   landmarkgait import {out} --stage parsing" in result.text


def test_restore_hint_of_the_checkpoint_the_pipeline_trains_is_chaining(tmp_path: Path) -> None:
    saved = (
        "./output/CASIA-B/LandmarkGait_Silh_to_Landmark/x/checkpoints/LandmarkGait_Silh_to_Landmark-30000.pt"
    )
    paths = edited(tmp_path, parsing=lambda config: config["trainer_cfg"].update(restore_hint=[saved]))
    result = import_opengait_configs(paths, "out.yaml")
    assert result.steps == ["landmarkgait run out.yaml"]
    assert any(
        "starts from the run of stage landmark this pipeline trains" in line
        for line in result.lines("built_in")
    )
    wrong = "/ckpt/LandmarkGait_Recognition-80000.pt"
    paths = edited(tmp_path, parsing=lambda config: config["trainer_cfg"].update(restore_hint=wrong))
    assert "a checkpoint of stage recognition; stage parsing starts from stage landmark" in "".join(
        import_opengait_configs(paths, "out.yaml").refused
    )


def test_loss_class_defaults_apply_to_keys_a_loss_leaves_out(tmp_path: Path) -> None:
    def recognition(config: dict[str, Any]) -> None:
        softmax = next(entry for entry in config["loss_cfg"] if entry["log_prefix"] == "softmax")
        del softmax["scale"], softmax["label_smooth"]  # CrossEntropyLoss's defaults: 16, smoothed by 0.1

    result = import_opengait_configs(edited(tmp_path, recognition=recognition), "out.yaml")
    loss = result.config.stages.recognition.loss
    assert (loss.cross_entropy_scale, loss.label_smoothing) == (16, 0.1)
    assert "loss_cfg[1].scale (CrossEntropyLoss's default)" in result.text


def test_network_values_become_overrides_or_are_refused(tmp_path: Path) -> None:
    def landmarks(count: int) -> Any:
        return lambda config: config["model_cfg"]["landmarknet_cfg"]["landmark_cfg"].update(
            num_landmark=count
        )

    def channels(config: dict[str, Any]) -> None:
        config["model_cfg"]["landmarknet_cfg"]["landmark_cfg"]["channels"] = [16, 32, 64]
        if "channels" in config["model_cfg"]:
            config["model_cfg"]["channels"] = [16, 32, 64]

    paths = edited(
        tmp_path / "a",
        landmark=lambda c: (landmarks(30)(c), channels(c)),
        parsing=lambda c: (landmarks(30)(c), channels(c)),
        recognition=lambda c: (landmarks(30)(c), channels(c)),
    )
    config = import_opengait_configs(paths, "out.yaml").config
    assert config.model.num_landmark == 30 and config.model.overrides == {"channels": [16, 32, 64]}
    assert config.model.network_config("recognition")["channels"] == [16, 32, 64]
    # freeze_half is per stage in the official configs; one override cannot unfreeze stage 2 only.
    unfrozen = edited(
        tmp_path / "b",
        parsing=lambda c: c["model_cfg"]["landmarknet_cfg"]["landmark_cfg"].update(freeze_half=False),
    )
    refused = import_opengait_configs(unfrozen, "out.yaml").refused
    assert refused == [
        "LandmarkGait_Landmark_to_Parsing.yaml: model_cfg.landmarknet_cfg.landmark_cfg.freeze_half = False: "
        "the stages ask for freeze_landmark_encoder False and True; the model section sets one value for every stage"
    ]
    stages_disagree = edited(tmp_path / "c", recognition=landmarks(30))
    assert any(
        "num_landmark 25 and 30" in line for line in import_opengait_configs(stages_disagree, "o").refused
    )


def test_the_stages_share_one_dataset(tmp_path: Path) -> None:
    def oumvlp(config: dict[str, Any]) -> None:
        config["data_cfg"]["dataset_name"] = config["data_cfg"]["test_dataset_name"] = "OUMVLP"

    refused = import_opengait_configs(edited(tmp_path, recognition=oumvlp), "out.yaml").refused
    assert "LandmarkGait_Recognition.yaml: data_cfg.dataset_name = 'OUMVLP': differs from" in refused[0]


@pytest.mark.parametrize("dataset", sorted(DATASET_PROTOCOLS))
def test_the_test_dataset_selects_the_protocol(tmp_path: Path, dataset: str) -> None:
    """A dataset maps to its protocol where landmarkgait has it, and is refused in one line where not."""
    protocol, functions = DATASET_PROTOCOLS[dataset]

    def data(config: dict[str, Any]) -> None:
        config["data_cfg"]["dataset_name"] = config["data_cfg"]["test_dataset_name"] = dataset
        config["evaluator_cfg"]["eval_func"] = functions[0]

    result = import_opengait_configs(
        edited(tmp_path, landmark=data, parsing=data, recognition=data), "o.yaml"
    )
    if protocol in PROTOCOLS:
        assert result.refused == [] and result.config.evaluation.protocol == protocol
    else:
        assert result.refused == [
            f"LandmarkGait_Silh_to_Landmark.yaml: data_cfg.test_dataset_name = {dataset!r}: no evaluation "
            f"protocol for it here ({', '.join(PROTOCOLS)})"
        ]


def test_cross_view_gallery_is_its_protocol_where_there_is_one(tmp_path: Path) -> None:
    paths = edited(
        tmp_path, recognition=lambda config: config["evaluator_cfg"].update(cross_view_gallery=True)
    )
    result = import_opengait_configs(paths, "o.yaml")
    if "casia_b_cross_view" in PROTOCOLS:
        assert result.config.evaluation.protocol == "casia_b_cross_view"
    else:
        assert "evaluator_cfg.cross_view_gallery = True: landmarkgait has no cross-view" in result.refused[0]
    wrong_function = edited(
        tmp_path / "f", recognition=lambda config: config["evaluator_cfg"].update(eval_func="evaluate_Gait3D")
    )
    assert "evaluator_cfg.eval_func = 'evaluate_Gait3D': protocol casia_b is OpenGait's" in "".join(
        import_opengait_configs(wrong_function, "o.yaml").refused
    )


def test_a_pickle_root_becomes_a_conversion_step(tmp_path: Path) -> None:
    def root(config: dict[str, Any]) -> None:
        config["data_cfg"]["dataset_root"] = "/data/CASIA-B-pkl"
        config["data_cfg"]["dataset_partition"] = "./datasets/CASIA-B/CASIA-B.json"

    result = import_opengait_configs(
        edited(tmp_path, landmark=root, parsing=root, recognition=root), "o.yaml"
    )
    assert result.config.data.path == "/data/CASIA-B-pkl-parquet"
    assert result.config.data.partition is None  # OpenGait's CASIA-B.json split is the default one
    assert result.steps[0] == "landmarkgait data convert-pkl /data/CASIA-B-pkl /data/CASIA-B-pkl-parquet"


def test_a_value_our_config_refuses_names_the_opengait_file_and_key(tmp_path: Path) -> None:
    paths = edited(tmp_path, landmark=lambda config: config["trainer_cfg"].update(total_iter=-5))
    with pytest.raises(
        ConfigError,
        match=r"^LandmarkGait_Silh_to_Landmark.yaml: trainer_cfg.total_iter: .*total_iter must be >= 1",
    ):
        import_opengait_configs(paths, "out.yaml")


def test_a_config_of_another_opengait_model_is_refused(tmp_path: Path) -> None:
    baseline = write(tmp_path, "landmark", {"model_cfg": {"model": "Baseline"}})  # OpenGait's default model
    with pytest.raises(ConfigError, match=r"model_cfg.model 'Baseline': not a LandmarkGait stage"):
        import_opengait_configs([baseline], "out.yaml")
    duplicate = [FILES["landmark"], write(tmp_path / "copy", "landmark", stage_config("landmark"))]
    with pytest.raises(ConfigError, match=r"stage landmark is already given by"):
        import_opengait_configs(duplicate, "out.yaml")


def test_output_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "imported.yaml"
    assert run_import(*FILES.values(), "--out", out, "--json") == 0
    assert '"steps"' in capsys.readouterr().out
    with pytest.raises(DataError, match=r"--out .*already exists \(pass --overwrite"):
        run_import(*FILES.values(), "--out", out)
    out.write_text(out.read_text().replace("log_iter: 100", "log_iter: 50", 1))
    assert run_import(*FILES.values(), "--out", out, "--overwrite") == 0  # our own output: replaced
    assert "log_iter: 50" not in out.read_text()
    handwritten = tmp_path / "mine.yaml"
    handwritten.write_text(CASIA_B.read_text())
    with pytest.raises(DataError, match=r"not a config written by landmarkgait config import"):
        run_import(*FILES.values(), "--out", handwritten, "--overwrite")
    assert handwritten.read_text() == CASIA_B.read_text()
    with pytest.raises(DataError, match=r"is one of the OpenGait configs read"):
        run_import(FILES["landmark"], "--out", FILES["landmark"], "--overwrite")
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave no temporary files


def test_input_rule(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r": cannot read OpenGait config: it is a folder, not a regular file"
    ):
        import_opengait_configs([tmp_path], "out.yaml")
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=r"pipe.yaml: cannot read OpenGait config: it is a FIFO"):
        import_opengait_configs([fifo], "out.yaml")  # refused at once, never opened blocking
    broken = tmp_path / "broken.yaml"
    broken.write_text("model_cfg: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml is not valid YAML: line 2"):
        import_opengait_configs([broken], "out.yaml")
    aliases = tmp_path / "aliases.yaml"
    aliases.write_text("a: &x [1]\nb: *x\n")
    with pytest.raises(ConfigError, match=r"aliases.yaml is not valid YAML: .*alias \*x refused"):
        import_opengait_configs([aliases], "out.yaml")
    not_a_section = write(tmp_path, "landmark", {**copy.deepcopy(stage_config("landmark")), "trainer_cfg": 7})
    with pytest.raises(ConfigError, match=r"trainer_cfg: expected a mapping, got 7"):
        import_opengait_configs([not_a_section], "out.yaml")
