"""``keras-sportsnet scan`` and ``prepare``: check a video collection, write clip shards."""

import argparse
import os
import sys
import warnings

from keras_sportsnet.cli.common import FUSIONS
from keras_sportsnet.cli.common import RESOLUTIONS
from keras_sportsnet.cli.common import SHORT_VIDEO_POLICIES
from keras_sportsnet.cli.common import SOME_INPUTS_BAD
from keras_sportsnet.cli.common import SUCCESS
from keras_sportsnet.cli.common import UsageError
from keras_sportsnet.cli.common import add_max_pixels_argument
from keras_sportsnet.cli.common import Subcommand
from keras_sportsnet.cli.common import check_crop_fits
from keras_sportsnet.cli.common import check_inputs_exist
from keras_sportsnet.cli.common import check_output_file
from keras_sportsnet.cli.common import check_output_folder
from keras_sportsnet.cli.common import comma_list
from keras_sportsnet.cli.common import int_at_least
from keras_sportsnet.cli.common import is_uri
from keras_sportsnet.cli.common import non_negative_int
from keras_sportsnet.cli.common import positive_int

__all__ = ["SUBCOMMANDS"]

SCAN_EXAMPLES = (
    "keras-sportsnet scan my_videos/ --manifest my_videos.manifest.json --min-frames 10",
    "keras-sportsnet scan my_videos/ my_video.mp4 --json scan_report.json --quiet",
)
PREPARE_EXAMPLES = (
    "keras-sportsnet prepare my_videos/ shards/ --fusion slow --image-size 64 --resize-to 72 --clips-per-video 4",
    "keras-sportsnet prepare my_videos/ shards_host0/ --fusion slow --num-shards 2 --shard-index 0 --workers 1",
)


def _check_scan(args):
    check_inputs_exist(args.paths, "paths")
    check_output_file(args.manifest, "--manifest")
    check_output_file(args.json, "--json")


def _scan(args):
    from keras_sportsnet.data.scan import scan_videos
    from keras_sportsnet.utils.files import write_text

    report = scan_videos(
        args.paths,
        extensions=args.extensions,
        follow_links=args.follow_links,
        min_frames=args.min_frames,
        num_workers=args.workers,
        manifest=args.manifest,
        verbose=not args.quiet,
        **({} if args.max_pixels is None else {"max_pixels": args.max_pixels}),
    )
    lines = str(report).splitlines()
    # Unless --quiet, scan_videos has already written the summary line (and progress) to stderr.
    if args.quiet or len(lines) > 1:
        print("\n".join(lines if args.quiet else lines[1:]))
    if args.json:
        write_text(args.json, report.to_json())
    return SOME_INPUTS_BAD if report.bad else SUCCESS


def _read_videos(args):
    """The `VideoList` that ``prepare`` reads, from its source arguments (and ``--split``)."""
    from keras_sportsnet.data import lists

    if args.ucf101_fold is not None:
        videos = lists.read_ucf101_split(args.source, fold=args.ucf101_fold, subset=args.ucf101_subset)
    elif args.sports1m_partition:
        videos = lists.read_sports1m_partition(args.sports1m_partition, args.source)
    elif os.path.isdir(args.source):
        videos = lists.read_video_folder(args.source, follow_links=args.follow_links)
    elif os.path.isfile(args.source):
        videos = lists.read_video_list(args.source)
    else:
        raise UsageError(f"`source`: {args.source} does not exist (give a folder of class folders or a list file).")
    if args.split is not None:
        videos = lists.split_videos(videos, args.split, fractions=tuple(args.split_fractions), seed=args.split_seed)
    return videos


def _fractions(text):
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"must be three comma-separated fractions such as 0.7,0.1,0.2; "
                                         f"received {text!r}")
    return values


def _write_text(path, text):
    """Writes ``text`` to a local path (atomically) or to a tf.io.gfile URI (temporary name, then a rename)."""
    if not is_uri(path):
        from keras_sportsnet.utils.files import write_text

        write_text(path, text)
        return
    from keras_sportsnet.utils.imports import require_tensorflow

    tf = require_tensorflow(f"writing {path}")
    tf.io.gfile.makedirs(path.rsplit("/", 1)[0])
    temporary = f"{path}.incomplete{os.getpid()}"
    with tf.io.gfile.GFile(temporary, "w") as file:
        file.write(text)
    tf.io.gfile.rename(temporary, path, overwrite=True)


def _clip_geometry(args):
    """`ClipGeometry` from ``--fusion/--resolution`` or the explicit clip arguments."""
    from keras_sportsnet.data.sampling import ClipGeometry
    from keras_sportsnet.models.backbone import FULL_FRAME_SIZE
    from keras_sportsnet.models.backbone import MULTIRES_FRAME_SIZE
    from keras_sportsnet.models.backbone import TEMPORAL_PLANS

    if args.fusion is not None:
        plan = TEMPORAL_PLANS[args.fusion]
        size = args.image_size or (FULL_FRAME_SIZE if args.resolution == "full" else MULTIRES_FRAME_SIZE)
        return ClipGeometry(plan["num_frames"], plan["frame_stride"], size)
    return ClipGeometry(args.num_frames, args.frame_stride or 1, args.image_size or FULL_FRAME_SIZE)


def _check_prepare_arguments(args):
    """Every usage mistake of ``prepare``, found before any video is read."""
    if args.fusion is not None and (args.num_frames is not None or args.frame_stride is not None):
        raise UsageError("Pass either --fusion or --num-frames/--frame-stride, not both.")
    if args.fusion is None and args.num_frames is None:
        raise UsageError("Say which clips to make: --fusion (and --resolution), or --num-frames.")
    check_crop_fits(args.image_size, args.resize_to, resolution=args.resolution if args.fusion else "full")
    if args.shard_index >= args.num_shards:
        raise UsageError(f"`--shard-index` must be in [0, --num-shards) = [0, {args.num_shards}). "
                         f"Received: --shard-index {args.shard_index}")
    if args.ucf101_fold is None and not args.sports1m_partition:
        check_inputs_exist([args.source], "source")
    for partition in args.sports1m_partition or ():
        check_inputs_exist([partition], "--sports1m-partition")
    check_output_file(args.report, "--report")
    check_output_file(args.missing_list, "--missing-list")
    check_output_folder(args.output, "output")  # last: it makes the folder


def _prepare_shards(args, videos, geometry):
    from keras_sportsnet.data.shards import prepare_shards

    return prepare_shards(
        videos,
        args.output,
        num_frames=geometry.num_frames,
        frame_stride=geometry.frame_stride,
        image_size=geometry.image_size,
        clips_per_video=args.clips_per_video,
        max_clips_per_video=args.max_clips_per_video,
        sampling_mode=args.sampling,
        resize_to=args.resize_to,
        num_files=args.num_files,
        clips_per_file=args.clips_per_file,
        seed=args.seed,
        short_video_policy=args.short_video_policy,
        on_error="raise" if args.strict else "skip",
        jpeg_quality=args.jpeg_quality,
        num_workers=args.workers,
        parallelism=args.parallelism,
        shard=(args.num_shards, args.shard_index),
    )


def _prepare(args):
    geometry = _clip_geometry(args)
    videos = _read_videos(args)
    if args.clips_per_video is None and args.max_clips_per_video is None:
        if args.sports1m_partition:
            args.max_clips_per_video = 100  # the paper: "up to 100 half-second clips from every video"
        else:
            args.clips_per_video = 1
    missing_list = args.missing_list or (args.output.rstrip("/") + "/missing_videos.txt")
    if videos.missing:
        _write_text(missing_list, "".join(f"{m}\n" for m in videos.missing))
        print(f"{len(videos.missing)} listed video(s) not found (e.g. {videos.missing[0]}); the list: {missing_list}",
              file=sys.stderr)
    clips = (f"{args.clips_per_video} clips" if args.max_clips_per_video is None
             else f"up to {args.max_clips_per_video} clips")
    split = f" ({args.split} split)" if args.split else ""
    print(f"Preparing {len(videos)} videos{split} x {clips} of {geometry.num_frames} frames "
          f"(stride {geometry.frame_stride}) -> {args.output}", file=sys.stderr)
    with warnings.catch_warnings():  # the skipped videos are listed below, one line each
        warnings.filterwarnings("ignore", message=r"prepare_shards skipped", category=UserWarning)
        index = _prepare_shards(args, videos, geometry)
    num_files = index["settings"]["num_files"]
    if args.report:
        import json

        _write_text(args.report, json.dumps({
            "output": args.output, "videos": len(videos), "complete": index["complete"],
            "files_done": len(index["shards"]), "num_files": num_files, "clips": index["clips"],
            "skipped": index["skipped"], "missing": list(videos.missing),
        }, indent=2))
    if not index["complete"]:
        print(f"Wrote {index['clips']} clips in {len(index['shards'])} of {num_files} files "
              f"(shard {args.shard_index} of {args.num_shards}); the other shards' files are not all done yet.")
    else:
        print(f"Wrote {index['clips']} clips in {len(index['shards'])} files to {args.output}; "
              f"{len(index['skipped'])} video(s) skipped, {len(videos.missing)} missing.")
    for path, reason in sorted(index["skipped"].items()):
        print(f"  skipped {path}: {reason}", file=sys.stderr)
    return SOME_INPUTS_BAD if (index["skipped"] or videos.missing) else SUCCESS


def _scan_arguments(parser, parents):
    parser.add_argument("paths", nargs="+", help="folders (searched recursively) and/or video files")
    parser.add_argument("--manifest", help="JSON manifest to reuse and rewrite (unchanged files are not probed again)")
    parser.add_argument("--min-frames", type=positive_int, default=1, help="report videos with fewer frames as too short")
    parser.add_argument("--extensions", type=comma_list,
                        help="comma-separated extensions to pick up in folders (default: common video types)")
    parser.add_argument("--follow-links", action="store_true", help="descend into symbolic links to folders")
    parser.add_argument("--workers", type=positive_int, help="probing threads (default: 2 x CPUs, at most 8)")
    parser.add_argument("--json", help="also write the full report (every video's probe) as JSON to this path")
    add_max_pixels_argument(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def _prepare_arguments(parser, parents):
    parser.add_argument("source", help="folder of class folders, a CSV/TSV list, or the video root of "
                                       "--ucf101-fold/--sports1m-partition")
    parser.add_argument("output", help="output folder (local path or a tf.io.gfile URI such as gs://bucket/dir)")
    parser.add_argument("--ucf101-fold", type=int, choices=(1, 2, 3), help="read UCF-101's official split of this fold")
    parser.add_argument("--ucf101-subset", default="train", choices=("train", "test"))
    parser.add_argument("--sports1m-partition", action="append",
                        help="a Sports-1M partition file (train_partition.txt ...); repeat to read several")
    parser.add_argument("--split", choices=("train", "validation", "test"),
                        help="keep only this part of a by-video split (the paper's 70/10/20 on Sports-1M)")
    parser.add_argument("--split-fractions", type=_fractions, default=(0.7, 0.1, 0.2),
                        help="train,validation,test fractions of --split (default 0.7,0.1,0.2)")
    parser.add_argument("--split-seed", type=int, default=0,
                        help="seed of --split (a video's part depends only on it and its id)")
    parser.add_argument("--fusion", choices=FUSIONS, help="take the clip geometry of this fusion")
    parser.add_argument("--resolution", default="full", choices=RESOLUTIONS,
                        help="with --fusion: full (170) or multires/fovea/context (178)")
    parser.add_argument("--num-frames", type=positive_int, help="frames per clip (instead of --fusion)")
    parser.add_argument("--frame-stride", type=positive_int, help="gap between clip frames (instead of --fusion)")
    parser.add_argument("--image-size", type=positive_int, help="crop the reader makes (default 170, or 178 for multires)")
    clips = parser.add_mutually_exclusive_group()
    clips.add_argument("--clips-per-video", type=positive_int, help="exactly this many clips from every video (default 1)")
    clips.add_argument("--max-clips-per-video", type=positive_int,
                       help="up to this many clips per video, as many as fit end to end "
                            "(default 100 with --sports1m-partition)")
    parser.add_argument("--sampling", default="random", choices=("random", "uniform"))
    parser.add_argument("--resize-to", type=positive_int, default=200,
                        help="side of the stored square frames (default 200)")
    parser.add_argument("--num-files", type=positive_int, help="number of shard files (default: about --clips-per-file clips each)")
    parser.add_argument("--clips-per-file", type=positive_int, default=500, help="target clips per shard file (default 500)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--short-video-policy", default="loop", choices=SHORT_VIDEO_POLICIES,
                        help="videos shorter than a clip (default: loop)")
    parser.add_argument("--jpeg-quality", type=int_at_least(1, 100), default=90, help="1..100 (default 90)")
    parser.add_argument("--workers", type=positive_int, help="files written at once (default: CPU count)")
    parser.add_argument("--parallelism", choices=("processes", "threads"),
                        help="worker processes (default; decoding is GIL-bound) or threads")
    parser.add_argument("--num-shards", type=positive_int, default=1,
                        help="run as one of this many independent jobs (e.g. hosts), each writing its share of the files")
    parser.add_argument("--shard-index", type=non_negative_int, default=0, help="this job's index in [0, --num-shards)")
    parser.add_argument("--missing-list",
                        help="where to write the listed videos not found (default: OUTPUT/missing_videos.txt)")
    parser.add_argument("--report",
                        help="also write a JSON report (counts, skipped and missing videos) to this path or tf.io.gfile URI")
    parser.add_argument("--follow-links", action="store_true")
    parser.add_argument("--strict", action="store_true", help="fail on the first bad video instead of skipping it")


SUBCOMMANDS = (
    Subcommand(
        "scan",
        help="probe every video, report the bad ones with the reason",
        description="Probes every video of folders (searched recursively) and files, in parallel, and reports the "
                    "unreadable, empty, truncated, non-video and too-short ones with the reason. Exit code 1 when "
                    "a file is bad, 2 when a path does not exist.",
        examples=SCAN_EXAMPLES,
        arguments=_scan_arguments, handler=_scan, check=_check_scan, needs=("keras",)),
    Subcommand(
        "prepare",
        help="write sampled clips as sharded TFRecord files of JPEG frames",
        description="Samples clips from a video collection and writes them as sharded TFRecord files of JPEG frames "
                    "(the path for Sports-1M-sized data; `train --shards` reads them). Resumable: finished files "
                    "are kept. Exit code 1 when videos were skipped or missing.",
        examples=PREPARE_EXAMPLES,
        arguments=_prepare_arguments, handler=_prepare, check=_check_prepare_arguments, needs=("keras", "tensorflow")),
)
