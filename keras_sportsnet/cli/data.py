"""``keras-sportsnet scan`` and ``prepare``: check a video collection, write clip shards."""

import json
import os
import sys

from keras_sportsnet.cli.common import write_json_atomically


def _scan(args):
    from keras_sportsnet.data.scan import scan_videos

    report = scan_videos(
        args.paths,
        extensions=args.extensions.split(",") if args.extensions else None,
        follow_links=args.follow_links,
        min_frames=args.min_frames,
        num_workers=args.workers,
        manifest=args.manifest,
        verbose=not args.quiet,
    )
    lines = str(report).splitlines()
    # Unless --quiet, scan_videos has already written the summary line (and progress) to stderr.
    if args.quiet or len(lines) > 1:
        print("\n".join(lines if args.quiet else lines[1:]))
    if args.json:
        write_json_atomically(args.json, json.loads(report.to_json()))
    return 1 if (args.strict and report.bad) else 0


def _read_videos(args):
    """The `VideoList` that ``prepare`` reads, from its source arguments."""
    from keras_sportsnet.data import lists

    if args.ucf101_fold is not None:
        return lists.read_ucf101_split(args.source, fold=args.ucf101_fold, subset=args.ucf101_subset)
    if args.sports1m_partition:
        return lists.read_sports1m_partition(args.sports1m_partition, args.source)
    if os.path.isdir(args.source):
        return lists.read_video_folder(args.source, follow_links=args.follow_links)
    if os.path.isfile(args.source):
        return lists.read_video_list(args.source)
    raise ValueError(f"`source` {args.source!r} is neither a folder of class folders nor a list file")


def _clip_geometry(args):
    """`ClipGeometry` from ``--fusion/--resolution`` or the explicit clip arguments."""
    from keras_sportsnet.data.sampling import ClipGeometry
    from keras_sportsnet.models.backbone import FULL_FRAME_SIZE
    from keras_sportsnet.models.backbone import MULTIRES_FRAME_SIZE
    from keras_sportsnet.models.backbone import TEMPORAL_PLANS
    from keras_sportsnet.validation import check_choice

    if args.fusion is not None:
        if args.num_frames is not None or args.frame_stride is not None:
            raise ValueError("Pass either --fusion or --num-frames/--frame-stride, not both.")
        check_choice("--fusion", args.fusion, tuple(TEMPORAL_PLANS))
        check_choice("--resolution", args.resolution, ("full", "multires", "fovea", "context"))
        plan = TEMPORAL_PLANS[args.fusion]
        size = args.image_size or (FULL_FRAME_SIZE if args.resolution == "full" else MULTIRES_FRAME_SIZE)
        return ClipGeometry(plan["num_frames"], plan["frame_stride"], size)
    if args.num_frames is None:
        raise ValueError("Say which clips to make: --fusion (and --resolution), or --num-frames.")
    return ClipGeometry(args.num_frames, args.frame_stride or 1, args.image_size or FULL_FRAME_SIZE)


def _prepare(args):
    from keras_sportsnet.data.shards import prepare_shards

    geometry = _clip_geometry(args)
    videos = _read_videos(args)
    if videos.missing:
        print(f"{len(videos.missing)} listed video(s) not found, e.g. {videos.missing[0]}", file=sys.stderr)
    print(
        f"Preparing {len(videos)} videos x {args.clips_per_video} clips of {geometry.num_frames} frames "
        f"(stride {geometry.frame_stride}) -> {args.output}",
        file=sys.stderr,
    )
    index = prepare_shards(
        videos,
        args.output,
        num_frames=geometry.num_frames,
        frame_stride=geometry.frame_stride,
        image_size=geometry.image_size,
        clips_per_video=args.clips_per_video,
        sampling_mode=args.sampling,
        resize_to=args.resize_to,
        num_shards=args.num_shards,
        seed=args.seed,
        short_video_policy=args.short_video_policy,
        on_error="raise" if args.strict else "skip",
        jpeg_quality=args.jpeg_quality,
        num_workers=args.workers,
        worker=(args.jobs, args.job_index),
    )
    if not index["complete"]:
        print(
            f"Wrote {index['clips']} clips in {len(index['shards'])} of {args.num_shards or 'the'} shards "
            f"(job {args.job_index} of {args.jobs}); the other jobs' shards are not all done yet."
        )
        return 0
    print(
        f"Wrote {index['clips']} clips in {len(index['shards'])} shards to {args.output}; "
        f"{len(index['skipped'])} video(s) skipped."
    )
    for path, reason in sorted(index["skipped"].items()):
        print(f"  skipped {path}: {reason}")
    return 0


def register(commands):
    scan = commands.add_parser("scan", help="probe every video, report the bad ones with the reason")
    scan.add_argument("paths", nargs="+", help="folders (searched recursively) and/or video files")
    scan.add_argument("--manifest", help="JSON manifest to reuse and rewrite (unchanged files are not probed again)")
    scan.add_argument("--min-frames", type=int, default=1, help="report videos with fewer frames as too short")
    scan.add_argument("--extensions", help="comma-separated extensions to pick up in folders (default: common video types)")
    scan.add_argument("--follow-links", action="store_true", help="descend into symbolic links to folders")
    scan.add_argument("--workers", type=int, help="probing threads (default: 2 x CPUs, at most 8)")
    scan.add_argument("--json", help="also write the full report (every video's probe) as JSON to this path")
    scan.add_argument("--strict", action="store_true", help="exit with status 1 if any file is bad")
    scan.add_argument("--quiet", action="store_true", help="no progress line")
    scan.set_defaults(handler=_scan)

    prepare = commands.add_parser("prepare", help="write sampled clips as sharded TFRecord files of JPEG frames")
    prepare.add_argument("source", help="folder of class folders, a CSV/TSV list, or the video root of --ucf101-fold/--sports1m-partition")
    prepare.add_argument("output", help="output folder (local path or a tf.io.gfile URI such as gs://bucket/dir)")
    prepare.add_argument("--ucf101-fold", type=int, choices=(1, 2, 3), help="read UCF-101's official split of this fold")
    prepare.add_argument("--ucf101-subset", default="train", choices=("train", "test"))
    prepare.add_argument("--sports1m-partition", help="a Sports-1M partition file (train_partition.txt ...)")
    prepare.add_argument("--fusion", help="take the clip geometry of this fusion: single_frame, early, late, slow")
    prepare.add_argument("--resolution", default="full", help="with --fusion: full (170) or multires/fovea/context (178)")
    prepare.add_argument("--num-frames", type=int, help="frames per clip (instead of --fusion)")
    prepare.add_argument("--frame-stride", type=int, help="gap between clip frames (instead of --fusion)")
    prepare.add_argument("--image-size", type=int, help="crop the reader makes (default 170, or 178 for multires)")
    prepare.add_argument("--clips-per-video", type=int, default=1)
    prepare.add_argument("--sampling", default="random", choices=("random", "uniform"))
    prepare.add_argument("--resize-to", type=int, default=200, help="side of the stored square frames (default 200)")
    prepare.add_argument("--num-shards", type=int, help="number of shard files (default: about 500 clips each)")
    prepare.add_argument("--seed", type=int, default=0)
    prepare.add_argument("--short-video-policy", default="loop", help="loop, repeat_last, pad or skip")
    prepare.add_argument("--jpeg-quality", type=int, default=90)
    prepare.add_argument("--workers", type=int, help="threads writing shards (default: CPU count)")
    prepare.add_argument("--jobs", type=int, default=1, help="run as one of this many independent jobs (e.g. hosts)")
    prepare.add_argument("--job-index", type=int, default=0, help="this job's index in [0, --jobs)")
    prepare.add_argument("--follow-links", action="store_true")
    prepare.add_argument("--strict", action="store_true", help="fail on the first bad video instead of skipping it")
    prepare.set_defaults(handler=_prepare)
