"""``landmarkgait export``: a run's recognition network as an ONNX or TorchScript file, verified.

The exported graph maps one sequence's silhouettes ``sils`` ``[1, T, H, W]`` (float in [0, 1], any
T >= 3) to its embedding ``[1, C, P]``, the network in eval mode (what evaluation and ``identify`` use). It
is built with PyTorch's plain convolutions and records no data-dependent shortcut (see
``models.layers.tracing_graph``), so it runs in any ONNX runtime or libtorch. Before the file
appears (atomically) it is loaded back and compared with the PyTorch network on two samples of
different lengths; then it is logged to the run under ``export/``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from landmarkgait.data.atomic import atomic_path
from landmarkgait.data.destination import check_file_destination
from landmarkgait.models.stages import MIN_FRAMES
from landmarkgait.pipelines.deploy.trained_run import TrainedRun
from landmarkgait.pipelines.errors import PipelineError

log = logging.getLogger(__name__)

FORMATS = ("onnx", "torchscript")
# Largest absolute difference between the exported graph's embeddings and PyTorch's that passes.
TOLERANCE = 1e-4
# Frame counts of the verification samples: the trace length and another one (dynamic length).
SAMPLE_FRAMES = (30, 17)


class EmbeddingGraph(nn.Module):
    """The recognition network reduced to ``sils -> embeddings``, the exported signature."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, sils: torch.Tensor) -> torch.Tensor:
        return self.network(sils)["embeddings"]


@dataclass(frozen=True)
class ExportReport:
    path: Path
    format: str
    max_abs_diff: float
    run_id: str
    artifact_path: str


def verification_samples(height: int, width: int, seed: int = 0) -> list[torch.Tensor]:
    """Silhouette-like inputs ``[1, T, H, W]``: a noisy upright blob, one per ``SAMPLE_FRAMES``.

    One sequence per call, as evaluation embeds them (sequences differ in length): the exported
    graph's batch size is 1 (torch.export specialises that dimension of this network).
    """
    generator = torch.Generator().manual_seed(seed)
    rows = torch.linspace(-1, 1, height)[:, None]
    columns = torch.linspace(-1, 1, width)[None, :]
    body = ((rows / 0.9) ** 2 + (columns / 0.35) ** 2 <= 1).float()
    return [
        (body * (torch.rand(frames, height, width, generator=generator) > 0.1)).unsqueeze(0)
        for frames in SAMPLE_FRAMES
    ]


def export_run(
    run: TrainedRun, format_: str, out: Path, *, overwrite: bool = False, log_to_run: bool = True
) -> ExportReport:
    """Export ``run``'s network to ``out`` in ``format_`` (``onnx`` or ``torchscript``), verified.

    An existing ``out`` is replaced only with ``overwrite``, and only if it is a regular file.
    """
    if format_ not in FORMATS:
        raise PipelineError(f"--format must be one of {', '.join(FORMATS)}, got {format_!r}")
    out = Path(out)
    check_file_destination(out, overwrite=overwrite, what="OUT")
    graph = EmbeddingGraph(run.network(cpu_kernels=False)).eval()
    samples = verification_samples(*run.input_size)
    with torch.no_grad():
        expected = [graph(sample) for sample in samples]
    with atomic_path(out) as temporary:
        if format_ == "onnx":
            outputs = _export_onnx(graph, samples, temporary)
        else:
            outputs = _export_torchscript(graph, samples, temporary)
        difference = max(float((got - want).abs().max()) for got, want in zip(outputs, expected, strict=True))
        if not difference <= TOLERANCE:
            raise PipelineError(
                f"export of run {run.run_id} to {format_}: the exported graph differs from PyTorch by "
                f"{difference:.3g} (> {TOLERANCE}); nothing written"
            )
    artifact_path = f"export/{format_}"
    if log_to_run:
        run.tracker.log_artifact(run.run_id, out, artifact_path)
    log.info("exported run %s to %s (%s, max abs diff %.2g)", run.run_id, out, format_, difference)
    return ExportReport(out, format_, difference, run.run_id, f"{artifact_path}/{out.name}")


def _export_onnx(graph: nn.Module, samples: list[torch.Tensor], path: Path) -> list[torch.Tensor]:
    try:
        import onnxruntime
    except ImportError:
        raise PipelineError(
            "--format onnx needs the onnx extra: pip install 'landmarkgait[onnx]' (onnx, onnxscript, onnxruntime)"
        ) from None
    frames = torch.export.Dim("frames", min=MIN_FRAMES)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (samples[0],),
            str(path),
            input_names=["sils"],
            output_names=["embeddings"],
            dynamic_shapes={"sils": {1: frames}},
            dynamo=True,
            external_data=False,  # one self-contained file (the network is far below ONNX's 2 GB limit)
            verbose=False,
        )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return [torch.from_numpy(session.run(None, {"sils": sample.numpy()})[0]) for sample in samples]


def _export_torchscript(graph: nn.Module, samples: list[torch.Tensor], path: Path) -> list[torch.Tensor]:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(graph, samples[0], check_trace=False)
        traced.save(str(path))
        loaded = torch.jit.load(str(path), map_location="cpu")
        return [loaded(sample) for sample in samples]
