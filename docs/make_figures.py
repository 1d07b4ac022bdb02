"""Writes the README's figures (docs/figures/*.png) from the shipped presets and the embedded dataset.

    python docs/make_figures.py            # about 30 s on 2 CPU cores (imports included)

Every figure is made by `keras_sportsnet.visualization` from a run of this
script: the shipped presets (weights/, trained by benchmarks/reproduce_paper.py
on synthetic sports) evaluated on freshly generated test videos (seed 2, the
test seed of reproduce_paper.py) with the paper's 20 clips x 4 views.
"""

import argparse
import os
import sys
import tempfile
import time

import keras_sportsnet as ksn
from keras_sportsnet import visualization as viz
from keras_sportsnet.datasets import synthetic_sports as sports

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join(HERE, "figures"))
    parser.add_argument("--videos-per-class", type=int, default=8)
    args = parser.parse_args(argv)
    os.makedirs(args.output, exist_ok=True)
    start = time.perf_counter()

    slow = ksn.SlowFusion(weights="slow_fusion_synthetic")
    single = ksn.SingleFrame(weights="single_frame_synthetic")
    multires = ksn.SingleFrame(weights="single_frame_multires_synthetic")
    viz.plot_first_layer_filters(slow, path=os.path.join(args.output, "filters_slow_fusion.png"))
    viz.plot_first_layer_filters(multires, path=os.path.join(args.output, "filters_multires.png"))
    viz.animate_first_layer_filters(slow, os.path.join(args.output, "filters_slow_fusion.gif"), fps=2, scale=6)

    with tempfile.TemporaryDirectory() as work:
        folder = os.path.join(work, "test")
        sports.write_synthetic_sports(folder, args.videos_per_class, class_set="sports", seed=2, num_frames=40, size=64)
        videos = ksn.data.read_video_folder(folder)
        scores = {name: ksn.evaluate_videos(model, videos, clips_per_video=20, views=4, seed=0, resize_to=64)
                  for name, model in (("Slow Fusion", slow), ("Single-Frame", single))}
        # one video of each motion class: where the two models differ
        motion = [i for i, label in enumerate(videos.labels) if videos.class_names[label[0]].startswith("gym_")]
        shown = [i for n, i in enumerate(motion) if n % args.videos_per_class == 0]
        viz.plot_video_predictions(scores["Slow Fusion"], videos=shown, columns=4,
                                   path=os.path.join(args.output, "predictions_slow_fusion.png"))
        viz.plot_per_class_ap_difference(scores["Slow Fusion"], scores["Single-Frame"],
                                         names=("Slow Fusion", "Single-Frame"),
                                         path=os.path.join(args.output, "ap_slow_vs_single.png"))
        viz.plot_confusion_matrix(scores["Single-Frame"], highlight=4,
                                  path=os.path.join(args.output, "confusion_single_frame.png"))
        for name, value in scores.items():
            metrics = value.metrics()
            print(f"{name}: video hit@1 {metrics['video_hit@1']:.3f} on {value.num_videos} videos", file=sys.stderr)
    print(f"figures in {args.output} ({time.perf_counter() - start:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main()
