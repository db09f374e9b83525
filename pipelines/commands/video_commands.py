"""``landmarkgait data convert-video | synth-videos``: silhouettes from videos, and synthetic test videos.

Parses arguments, calls ``landmarkgait.data.video`` inside a loopback-only Ray session and prints
the outcome. No extraction or rendering logic lives here.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from landmarkgait.data.video.settings import DEFAULT_THRESHOLDS, SubtractionSettings
from landmarkgait.pipelines.commands.arguments import add_command
from landmarkgait.pipelines.commands.data_commands import add_dataset_output_arguments, print_conversion
from landmarkgait.pipelines.commands.synth_commands import comma_list


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``convert-video`` and ``synth-videos`` under ``landmarkgait data``."""
    convert = add_command(subparsers, "convert-video", _convert_video)
    convert.add_argument(
        "src",
        type=Path,
        metavar="SRC",
        help="a video, a folder SRC/<subject>/<type>/<view>.mp4 or a CSV manifest",
    )
    convert.add_argument("dst", type=Path, metavar="DST", help="Parquet dataset directory to create")
    convert.add_argument(
        "--method", default="MOG2", help="background subtractor: MOG2 or KNN (default: MOG2)"
    )
    convert.add_argument(
        "--warm-up",
        type=int,
        default=SubtractionSettings.warm_up,
        help="first frames, which should show the empty scene, the background is learnt from "
        f"(default: {SubtractionSettings.warm_up})",
    )
    convert.add_argument(
        "--history",
        type=int,
        default=SubtractionSettings.history,
        help=f"after the warm-up the background learns at 1/HISTORY per frame (default: {SubtractionSettings.history})",
    )
    convert.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="foreground threshold; 0 = the method's default ("
        + ", ".join(f"{method} {value:g}" for method, value in DEFAULT_THRESHOLDS.items())
        + ")",
    )
    convert.add_argument(
        "--min-area",
        type=float,
        default=0.002,
        help="smallest person as a fraction of the frame (default: 0.002)",
    )
    convert.add_argument("--frame-step", type=int, default=1, help="use every n-th frame (default: 1)")
    convert.add_argument(
        "--img-size", type=int, default=64, help="output frame height and width (default: 64)"
    )
    convert.add_argument("--subject", help="subject of a single video (default: the file's stem)")
    convert.add_argument(
        "--type", dest="type_", default="nm-01", help="type of a single video (default: nm-01)"
    )
    convert.add_argument("--view", default="000", help="view of a single video (default: 000)")
    add_dataset_output_arguments(convert)
    convert.add_argument("--workers", type=int, default=None, help="parallel Ray tasks (default: all CPUs)")
    convert.add_argument("--ray-address", help="join this Ray cluster (default: a loopback-only local Ray)")
    convert.add_argument("--overwrite", action="store_true", help="replace DST if it exists")

    synth = add_command(subparsers, "synth-videos", _synth_videos)
    synth.add_argument("--out", type=Path, required=True, metavar="DIR", help="video tree to create")
    synth.add_argument(
        "--subject-ids",
        type=comma_list,
        default=None,
        metavar="S,S,...",
        help="subjects to film (default: all 124)",
    )
    synth.add_argument(
        "--types", type=comma_list, default=None, metavar="T,T,...", help="sequence types (default: all 10)"
    )
    synth.add_argument(
        "--views", type=comma_list, default=None, metavar="V,V,...", help="views (default: all 11)"
    )
    synth.add_argument("--seed", type=int, default=0, help="the dataset generator's seed (default: 0)")
    synth.add_argument("--width", type=int, default=320, help="frame width (default: 320)")
    synth.add_argument("--height", type=int, default=240, help="frame height (default: 240)")
    synth.add_argument("--fps", type=int, default=25, help="frames per second (default: 25)")
    synth.add_argument("--lead-in", type=int, default=25, help="frames of the empty room first (default: 25)")
    synth.add_argument("--container", default="mp4", help="mp4 (mp4v) or avi (MJPG) (default: mp4)")
    synth.add_argument("--workers", type=int, default=None, help="parallel Ray tasks (default: all CPUs)")
    synth.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")


def _convert_video(args: argparse.Namespace) -> int:
    """extract silhouettes from videos by background subtraction into a Parquet dataset

    Turn videos into a Parquet dataset: SRC is one video (keyed by --subject/--type/--view), a folder
    SRC/<subject>/<type>/<view>.{mp4,avi,mov,mkv} or a CSV manifest with the columns subject,type,view,path
    (paths relative to the manifest). Each video is background-subtracted with OpenCV (MOG2 or KNN, warmed
    up on the first frames, which should show the empty scene; shadows dropped; opening and closing; the largest
    person-sized component), frames without a person are dropped, and the masks are pretreated exactly as
    convert-frames does. One Ray task per chunk of videos; DST appears only when complete. A video in
    which no person is found is skipped and reported (--strict: the run fails).
    """
    from landmarkgait.data.staging import check_destination
    from landmarkgait.data.video.sources import resolve_videos

    settings = SubtractionSettings(
        args.method, args.warm_up, args.history, args.threshold, args.min_area, args.frame_step
    )
    items = resolve_videos(args.src, subject=args.subject, type_=args.type_, view=args.view)
    check_destination(args.dst, overwrite=args.overwrite, source=args.src)  # before Ray starts
    from landmarkgait.data.video.convert import convert_videos
    from landmarkgait.pipelines.runtime.ray_runtime import ray_session

    started = time.perf_counter()
    with ray_session(args.ray_address, include_dashboard=False):
        report = convert_videos(
            args.src,
            items,
            args.dst,
            settings,
            img_size=args.img_size,
            name=args.name,
            workers=args.workers,
            sequences_per_shard=args.sequences_per_shard,
            overwrite=args.overwrite,
            strict=args.strict,
        )
    print_conversion(report)
    print(f"converted {len(items)} videos in {time.perf_counter() - started:.1f} s")
    return 0


def _synth_videos(args: argparse.Namespace) -> int:
    """film synthetic walkers as colour videos with ground-truth masks

    Write OUT/<subject>/<type>/<view>.mp4 (and <view>.masks.npz with the true person masks): the walks
    of the synthetic benchmark (same subjects, seed, body and gait as data synth) filmed by a still
    camera in colour over a textured room, with a cast shadow, a slow lighting drift, sensor noise and
    lossy compression, for testing convert-video against ground truth. One Ray task per video.
    """
    from landmarkgait.data.staging import check_destination
    from landmarkgait.data.synth.config import SynthConfig
    from landmarkgait.data.video.synthetic import VideoSettings, generate_videos

    chosen = {"types": args.types, "views": args.views}
    config = SynthConfig(seed=args.seed, workers=args.workers, **{k: v for k, v in chosen.items() if v})
    settings = VideoSettings(args.width, args.height, args.fps, args.lead_in, args.container)
    check_destination(args.out, overwrite=args.overwrite)
    from landmarkgait.pipelines.runtime.ray_runtime import ray_session

    started = time.perf_counter()
    with ray_session(num_cpus=args.workers, include_dashboard=False):
        out = generate_videos(config, args.out, settings, subjects=args.subject_ids, overwrite=args.overwrite)
    count = sum(1 for _ in out.glob(f"*/*/*.{settings.container}"))
    print(f"wrote {out}: {count} videos in {time.perf_counter() - started:.1f} s")
    return 0
