"""How well ``convert-video``'s background subtraction finds the walker: mean silhouette IoU against ground truth.

Films synthetic walks (``data synth-videos``: colour, textured room, cast shadow, lighting drift,
sensor noise, mp4 compression; by default subjects 003-005, held out from
the videos of subjects 001-002 on which the default thresholds were chosen, x nm-01 / bg-01 / cl-01 x views
000 / 090 / 180 = 27 videos) or reads a tree that ``synth-videos`` wrote, extracts the person
masks exactly as ``convert-video`` does and compares them, frame by frame, with the true masks
stored beside each video. Per video: mean IoU over the frames where the walker is in the picture
(a frame the extractor dropped counts as IoU 0), frames missed, and frames of the empty room it
wrongly kept, and the same IoU after pretreatment (64x64, what the network sees: there a pixel
of extra outline or a missed head changes the whole frame's scale). Prints a table per video, the means per view and type, and the overall mean (goal:
>= 0.85).

    python benchmarks/video_silhouettes.py                     # 27 videos, MOG2
    python benchmarks/video_silhouettes.py --method KNN
    python benchmarks/video_silhouettes.py --videos DIR        # a tree from `data synth-videos`
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from landmarkgait.data.pretreatment import pretreat_sequence
from landmarkgait.data.synth.config import SynthConfig
from landmarkgait.data.video.settings import SubtractionSettings
from landmarkgait.data.video.silhouettes import extract_silhouettes
from landmarkgait.data.video.sources import resolve_videos
from landmarkgait.data.video.synthetic import VideoSettings, generate_videos, load_ground_truth
from landmarkgait.pipelines.runtime.ray_runtime import ray_session

GOAL = 0.85


def video_scores(video: Path, settings: SubtractionSettings) -> dict[str, float]:
    """IoU of the extracted masks against the truth over the frames that show the walker."""
    truth = load_ground_truth(video)
    extracted = extract_silhouettes(video, settings)
    found = np.zeros(truth.shape, dtype=bool)
    found[extracted.indices] = extracted.frames > 0
    present = truth.reshape(len(truth), -1).any(axis=1)
    intersection = (found & truth).reshape(len(truth), -1).sum(axis=1)
    union = (found | truth).reshape(len(truth), -1).sum(axis=1)
    iou = intersection[present] / np.maximum(union[present], 1)
    kept = np.zeros(len(truth), dtype=bool)
    kept[extracted.indices] = True
    return {
        "iou": float(iou.mean()),
        "pretreated_iou": float(
            np.mean(
                [pretreated_iou(mask, true) for mask, true in zip(found, truth, strict=True) if true.any()]
            )
        ),
        "missed": int((present & ~kept).sum()),
        "false_frames": int((~present & kept).sum()),
        "frames": int(present.sum()),
    }


def pretreated_iou(found: np.ndarray, truth: np.ndarray) -> float:
    """IoU of one frame's extracted and true masks after pretreatment; 0 if pretreatment drops the
    extracted one (too small, or not found at all)."""
    aligned = [pretreat_sequence([mask.astype(np.uint8) * 255]).frames for mask in (found, truth)]
    if any(len(frames) == 0 for frames in aligned):
        return 0.0
    extracted, true = (frames[0] > 127 for frames in aligned)
    return float((extracted & true).sum() / max((extracted | true).sum(), 1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--videos", type=Path, help="a tree written by `landmarkgait data synth-videos`")
    parser.add_argument("--subjects", default="003,004,005")
    parser.add_argument("--types", default="nm-01,bg-01,cl-01")
    parser.add_argument("--views", default="000,090,180")
    parser.add_argument("--method", default="MOG2")
    parser.add_argument("--warm-up", type=int, default=SubtractionSettings.warm_up)
    parser.add_argument("--history", type=int, default=SubtractionSettings.history)
    parser.add_argument("--threshold", type=float, default=0.0, help="0: the method's default")
    parser.add_argument("--min-area", type=float, default=SubtractionSettings.min_area)
    args = parser.parse_args()
    settings = SubtractionSettings(args.method, args.warm_up, args.history, args.threshold, args.min_area)
    with tempfile.TemporaryDirectory() as scratch:
        videos = args.videos
        if videos is None:
            videos = Path(scratch) / "videos"
            config = SynthConfig(types=tuple(args.types.split(",")), views=tuple(args.views.split(",")))
            started = time.perf_counter()
            with ray_session(include_dashboard=False):
                generate_videos(config, videos, VideoSettings(), subjects=tuple(args.subjects.split(",")))
            print(f"filmed the videos in {time.perf_counter() - started:.1f} s")
        items = resolve_videos(videos)
        started = time.perf_counter()
        rows = [(item, video_scores(item.path, settings)) for item in items]
        elapsed = time.perf_counter() - started
    print(f"{'video':<22} {'IoU':>6} {'64x64':>6} {'frames':>7} {'missed':>7} {'false':>6}")
    by_view, by_type = defaultdict(list), defaultdict(list)
    for item, scores in rows:
        print(
            f"{'/'.join(item.key):<22} {scores['iou']:6.3f} {scores['pretreated_iou']:6.3f} {scores['frames']:7d} {scores['missed']:7d} "
            f"{scores['false_frames']:6d}"
        )
        by_view[item.view].append(scores["iou"])
        by_type[item.type].append(scores["iou"])
    for title, groups in (("view", by_view), ("type", by_type)):
        print(
            f"mean IoU by {title}: " + ", ".join(f"{k} {np.mean(v):.3f}" for k, v in sorted(groups.items()))
        )
    mean = float(np.mean([scores["iou"] for _, scores in rows]))
    pretreated = float(np.mean([scores["pretreated_iou"] for _, scores in rows]))
    print(
        f"{settings.method}: mean IoU {mean:.3f} over {len(rows)} videos (goal >= {GOAL}: "
        f"{'met' if mean >= GOAL else 'NOT met'}), after pretreatment {pretreated:.3f}; "
        f"extraction and scoring {elapsed:.1f} s"
    )


if __name__ == "__main__":
    main()
