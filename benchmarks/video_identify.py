"""The README's video demo: walking videos -> silhouettes -> ``identify`` against an embedded gallery.

For a trained recognition run and its synthetic dataset: the gallery is the first ``--subjects``
test subjects' nm-01..nm-04 sequences of all views, embedded with ``embed`` (Ray Data); the
probes are the same subjects' unseen walks (``--types`` x ``--views``), once as colour videos
filmed by ``data synth-videos`` and background-subtracted as ``convert-video`` does, once as the
generator's own pretreated sequences of the same walks (``DATASET:s/t/v``), and once as the
videos' ground-truth masks (PNG folders: the video path without background-subtraction errors).
It prints identify's closed-set rank-1 for each, per type, and the loss the video path costs
(goal: <= 10 points).

    python benchmarks/video_identify.py --run RUN_ID [--tracking-uri URI] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from landmarkgait.data.partition import resolve_partition
from landmarkgait.data.reader import SilhouetteDataset
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.video.synthetic import VideoSettings, generate_videos, load_ground_truth
from landmarkgait.data.writer import write_dataset
from landmarkgait.pipelines.deploy.embedding import embed_dataset
from landmarkgait.pipelines.deploy.identify import identify
from landmarkgait.pipelines.deploy.trained_run import open_trained_run
from landmarkgait.pipelines.runtime.ray_runtime import ray_session

GALLERY_TYPES = ("nm-01", "nm-02", "nm-03", "nm-04")


def rank1_by_type(outcome, truths: list[tuple[str, str]]) -> dict[str, float]:
    """Closed-set rank-1 (%) per probe type: the nearest gallery identity is the walker."""
    hits: dict[str, list[bool]] = defaultdict(list)
    for identification, (subject, type_) in zip(outcome.probes, truths, strict=True):
        hits[type_[:2]].append(identification.candidates[0].subject == subject)
    table = {kind: 100.0 * sum(values) / len(values) for kind, values in sorted(hits.items())}
    table["all"] = 100.0 * sum(sum(v) for v in hits.values()) / sum(len(v) for v in hits.values())
    return table


def write_truth_frames(video: Path, folder: Path) -> Path:
    """The video's ground-truth person masks as a folder of PNG frames: the video path without
    background-subtraction errors, to tell them apart from how the videos are drawn."""
    folder.mkdir(parents=True)
    for number, mask in enumerate(load_ground_truth(video)):
        if mask.any():
            cv2.imwrite(str(folder / f"{number:04d}.png"), mask.astype(np.uint8) * 255)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", required=True, help="a finished recognition run (id or runs:/RUN_ID)")
    parser.add_argument("--tracking-uri", default=None)
    home = Path(os.environ.get("LANDMARKGAIT_HOME", Path.home() / ".landmarkgait"))
    parser.add_argument("--dataset", type=Path, default=home / "datasets" / "synth-casia-b")
    parser.add_argument("--subjects", type=int, default=10, help="the first N test subjects")
    parser.add_argument("--types", default="nm-05,bg-01,cl-01")
    parser.add_argument("--views", default="000,090,180")
    args = parser.parse_args()
    run = open_trained_run(args.run, args.tracking_uri)
    dataset = SilhouetteDataset(args.dataset)
    subjects = list(resolve_partition(dataset, None).test_set[: args.subjects])
    types, views = tuple(args.types.split(",")), tuple(args.views.split(","))
    gallery_keys = [
        (e.subject, e.type, e.view)
        for e in dataset.entries
        if e.subject in subjects and e.type in GALLERY_TYPES
    ]
    probe_keys = [(s, t, v) for s in subjects for t in types for v in views]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch_name, ray_session(include_dashboard=False):
        scratch = Path(scratch_name)
        write_dataset(
            (dataset[dataset.find(*key)] for key in gallery_keys),
            scratch / "gallery",
            name="gallery",
            source="demo",
        )
        embed_dataset(
            run,
            scratch / "gallery",
            scratch / "gallery.emb",
            run.config.scaling,
            max_frames=run.config.evaluation.max_frames,
        )
        recorded = {**dataset.metadata.extra["synth"], "types": types, "views": views}
        config = SynthConfig(**{key: tuple(v) if isinstance(v, list) else v for key, v in recorded.items()})
        videos = generate_videos(config, scratch / "videos", VideoSettings(), subjects=tuple(subjects))
        truths = [(s, t) for s, t, _ in probe_keys]
        by_video = identify(
            args.run,
            scratch / "gallery.emb",
            [str(videos / s / t / f"{v}.mp4") for s, t, v in probe_keys],
            tracking_uri=args.tracking_uri,
            false_accept_rate=None,
        )
        truth_folders = [
            write_truth_frames(videos / s / t / f"{v}.mp4", scratch / "truth" / s / t / v)
            for s, t, v in probe_keys
        ]
        by_truth = identify(
            args.run,
            scratch / "gallery.emb",
            [str(folder) for folder in truth_folders],
            tracking_uri=args.tracking_uri,
            false_accept_rate=None,
        )
        by_dataset = identify(
            args.run,
            scratch / "gallery.emb",
            [f"{args.dataset}:{s}/{t}/{v}" for s, t, v in probe_keys],
            tracking_uri=args.tracking_uri,
            false_accept_rate=None,
        )
    video, sequences = rank1_by_type(by_video, truths), rank1_by_type(by_dataset, truths)
    truth = rank1_by_type(by_truth, truths)
    print(
        f"run {run.run_id}: {len(gallery_keys)} gallery sequences ({len(subjects)} subjects, "
        f"{','.join(GALLERY_TYPES)}, all views), {len(probe_keys)} probe walks; {time.perf_counter() - started:.0f} s"
    )
    print(f"{'rank-1 %':<28}" + "".join(f"{kind:>8}" for kind in video))
    print(f"{'dataset sequences':<28}" + "".join(f"{sequences[kind]:8.2f}" for kind in video))
    print(f"{'videos, true masks':<28}" + "".join(f"{truth[kind]:8.2f}" for kind in video))
    print(f"{'videos -> convert-video':<28}" + "".join(f"{video[kind]:8.2f}" for kind in video))
    loss = sequences["all"] - video["all"]
    print(f"the video path loses {loss:.2f} points (goal <= 10: {'met' if loss <= 10 else 'NOT met'})")


if __name__ == "__main__":
    main()
