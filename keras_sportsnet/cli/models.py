"""``keras-sportsnet presets`` and ``summary``: the registered presets; one model's layers, clip and cost."""

import json

from keras_sportsnet.cli.common import FUSIONS
from keras_sportsnet.cli.common import RESOLUTIONS
from keras_sportsnet.cli.common import SUCCESS
from keras_sportsnet.cli.common import UsageError
from keras_sportsnet.cli.common import Subcommand
from keras_sportsnet.cli.common import check_weights
from keras_sportsnet.cli.common import positive_int

__all__ = ["SUBCOMMANDS"]

PRESETS_EXAMPLES = (
    "keras-sportsnet presets",
    "keras-sportsnet presets slow_fusion_synthetic",
)
SUMMARY_EXAMPLES = (
    "keras-sportsnet summary --weights slow_fusion_synthetic",
    'keras-sportsnet summary --fusion late --spec "C(16,5,2)-N-P-FC(64)" --classes 10',
)


def _presets(args):
    from keras_sportsnet.presets import list_presets
    from keras_sportsnet.presets import resolve_preset

    if not args.preset:
        print(list_presets())
        return SUCCESS
    preset = resolve_preset(args.preset)
    if isinstance(preset, str):
        raise UsageError(f"{args.preset!r} is a bare weights file: it carries no metadata to describe.")
    print(json.dumps(preset.metadata, indent=2))
    return SUCCESS


def _summary(args):
    from keras_sportsnet.analysis import count_flops
    from keras_sportsnet.models import build_model
    from keras_sportsnet.workflows import load_model

    if args.weights:
        model = load_model(args.weights).model
    else:
        model = build_model(args.fusion, resolution=args.resolution, spec=args.spec, classes=args.classes)
    model.backbone.summary(print_fn=lambda line, **_: print(line))
    geometry = model.clip_geometry
    print(f"clip: {geometry['num_frames']} frames, stride {geometry['frame_stride']}, "
          f"{geometry['image_size'][0]}x{geometry['image_size'][1]}; params {model.count_params():,}; "
          f"{count_flops(model) / 1e9:.3f} GFLOPs per clip; {model.num_classes} classes")
    return SUCCESS


def _presets_arguments(parser, parents):
    parser.add_argument("preset", nargs="?", help="a preset name, hf://org/repo[@revision] or a preset folder")


def _summary_arguments(parser, parents):
    parser.add_argument("--weights", help="preset name, hf:// handle or folder")
    parser.add_argument("--fusion", default="slow", choices=FUSIONS)
    parser.add_argument("--resolution", default="full", choices=RESOLUTIONS)
    parser.add_argument("--spec", help="layer shorthand (default: the paper's)")
    parser.add_argument("--classes", type=positive_int, default=487)


SUBCOMMANDS = (
    Subcommand(
        "presets",
        help="list the registered weights presets, or show one's metadata",
        description="Lists the registered presets (name, architecture, dataset, parameters, metrics), or prints the "
                    "metadata of one preset (a name, an hf:// handle or a preset folder).",
        examples=PRESETS_EXAMPLES, arguments=_presets_arguments, handler=_presets,
        check=lambda args: check_weights(args.preset, "preset"), needs=("keras",)),
    Subcommand(
        "summary",
        help="layers, clip, parameters and FLOPs of a model or preset",
        description="Prints the layers, clip geometry, parameter count and analytic FLOPs per clip of a preset "
                    "(--weights) or of an architecture built from the arguments.",
        examples=SUMMARY_EXAMPLES, arguments=_summary_arguments, handler=_summary,
        check=lambda args: check_weights(args.weights), needs=("keras",)),
)
