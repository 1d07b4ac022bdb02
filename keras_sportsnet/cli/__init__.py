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
    predict         classify videos with a preset: top-5 with class names.
    train           train a model on a folder of videos (or shards) with the
                    paper's recipe; resumable; writes a preset.
    evaluate        the paper's video-level evaluation (20 clips x 4 views):
                    Hit@1/5, mAP, accuracy vs clips and views; saves scores.
    transfer        fine-tune a trained model on new classes (top layer, top 3
                    layers, all layers, or from scratch).
    summary         layers, clip geometry, parameters and FLOPs of a model.
    plot            figures: first-layer filters, training curves, prediction
                    strips, confusion matrix, accuracy vs views, Table 2.

Exit codes: 0 success; 1 finished but some inputs were bad (listed on stderr);
2 usage or input error (the message names the file or argument); 130 interrupted.

Example:
    keras-sportsnet architectures
    keras-sportsnet architectures --spec "C(16,5,2)-N-P-C(32,3,1)-P-FC(64)" --classes 101 --json out.json
    keras-sportsnet scan videos/ --manifest videos.manifest.json --min-frames 10
    keras-sportsnet prepare videos/ shards/ --fusion slow --clips-per-video 4 --seed 0
"""

import argparse
import os
import sys

from keras_sportsnet.cli import architectures
from keras_sportsnet.cli import data
from keras_sportsnet.cli import models
from keras_sportsnet.cli import plots
from keras_sportsnet.cli import workflow

SUBCOMMAND_MODULES = (architectures, data, models, workflow, plots)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-sportsnet",
        description="Video CNNs of Karpathy et al. (CVPR 2014) for Keras 3.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in SUBCOMMAND_MODULES:
        module.register(commands)
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
    except (ValueError, FileNotFoundError, FileExistsError, FloatingPointError) as error:  # VideoError, PresetError too
        print(f"keras-sportsnet {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"keras-sportsnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
