"""The ``keras-sportsnet`` command line.

Subcommands:
    architectures   build every paper architecture and print a table of
                    parameters, input clip, analytic GFLOPs per clip, output.
    scan            probe every video of folders/files in parallel, report the
                    unreadable, empty, truncated, non-video and too-short ones
                    (with a reusable manifest).
    prepare         sample clips of a video collection into sharded TFRecord
                    files of JPEG frames (the path for Sports-1M-sized data).
    presets         list the registered weights presets (name, architecture,
                    dataset, params, metrics), or describe one preset.

Example:
    keras-sportsnet architectures
    keras-sportsnet architectures --spec "C(16,5,2)-N-P-C(32,3,1)-P-FC(64)" --classes 101 --json out.json
    keras-sportsnet scan videos/ --manifest videos.manifest.json --min-frames 10
    keras-sportsnet prepare videos/ shards/ --fusion slow --clips-per-video 4 --seed 0
"""

import argparse
import json
import os
import sys


def _architectures(args):
    from keras_sportsnet.analysis import ARCHITECTURES
    from keras_sportsnet.analysis import architecture_table
    from keras_sportsnet.analysis import format_table

    names = None
    if args.only:
        names = [n.strip() for n in args.only.split(",")]
        unknown = [n for n in names if n not in ARCHITECTURES]
        if unknown:
            raise SystemExit(
                f"keras-sportsnet: --only has unknown architecture(s) {unknown}; "
                f"choose from {list(ARCHITECTURES)}"
            )
    overrides = {"classes": args.classes}
    if args.spec:
        overrides["spec"] = args.spec
    print(f"Building the paper's architectures (spec: {args.spec or 'the paper'}) ...", file=sys.stderr)
    rows = architecture_table(names, include_cnn_average=names is None, **overrides)
    print(format_table(rows))
    if args.json:
        _write_json_atomically(args.json, rows)
    return 0


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
        _write_json_atomically(args.json, json.loads(report.to_json()))
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


def _presets(args):
    from keras_sportsnet.presets import list_presets
    from keras_sportsnet.presets import resolve_preset

    if not args.preset:
        print(list_presets())
        return 0
    preset = resolve_preset(args.preset)
    if isinstance(preset, str):
        raise ValueError(f"{args.preset!r} is a bare weights file: it carries no metadata to describe.")
    print(json.dumps(preset.metadata, indent=2))
    return 0


def _write_json_atomically(path, data):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2)
    os.replace(tmp, path)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-sportsnet",
        description="Video CNNs of Karpathy et al. (CVPR 2014) for Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    table = commands.add_parser(
        "architectures",
        help="build every paper architecture and print params, input clip, GFLOPs, output",
    )
    table.add_argument("--spec", help="layer shorthand to use instead of the paper's")
    table.add_argument("--classes", type=int, default=487, help="number of classes (default 487)")
    table.add_argument("--only", help="comma-separated Table 1 names to build")
    table.add_argument("--json", help="also write the table as JSON to this path")
    table.set_defaults(handler=_architectures)

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

    presets = commands.add_parser("presets", help="list the registered weights presets, or show one's metadata")
    presets.add_argument("preset", nargs="?", help="a preset name, hf://org/repo[@revision] or a preset folder")
    presets.set_defaults(handler=_presets)
    return parser


def main(argv=None):
    """Entry point of the ``keras-sportsnet`` command."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except ValueError as error:  # VideoError included: it names the file
        print(f"keras-sportsnet {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
