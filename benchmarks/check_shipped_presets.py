"""Re-checks the shipped presets: re-runs their recorded evaluation and compares with what they record.

For every preset in ``keras_sportsnet/presets/shipped`` (registered in
``keras_sportsnet/presets/shipped.json``) this loads the preset, renders the
synthetic-sports test set its metadata names (``dataset.test_videos_per_class``
videos per class, generator seed ``dataset.generator_seeds.test``), runs
``ksn.evaluate_videos`` with the recorded protocol (``evaluation.protocol``:
clips per video, views, seed; ``resize_to`` from the preset's preprocessor)
and the small ``evaluation.check`` run the test suite repeats, and prints
recorded vs measured. Exit status 1 if any metric differs by more than
``--tolerance``.

``--resave`` first re-saves every shipped preset in the current preset format
(same weights, same metadata; no compile state) and rewrites the registry's
sha256 entries: what was done once when the preset format changed.

Usage::

    python benchmarks/check_shipped_presets.py              # about 5 minutes on 2 cores
    python benchmarks/check_shipped_presets.py --resave     # re-save, then check
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)

import keras_sportsnet as ksn  # noqa: E402
from keras_sportsnet.datasets import synthetic_sports as sports  # noqa: E402
from keras_sportsnet.presets import registry  # noqa: E402
from keras_sportsnet.presets.resolve import resolve_preset  # noqa: E402
from keras_sportsnet.utils.files import write_json  # noqa: E402

KEEP = ("name", "description", "class_names", "dataset", "evaluation", "training", "trained_by", "hardware", "license")


def log(message):
    print(message, file=sys.stderr, flush=True)


def resave(name):
    """Loads a shipped preset and saves it again in the current format, metadata kept."""
    preset = resolve_preset(name)
    model = ksn.from_preset(name)
    metadata = {key: preset.metadata[key] for key in KEEP if key in preset.metadata}
    metadata["trained_by"] = "benchmarks/reproduce_paper.py --save-presets keras_sportsnet/presets/shipped"
    metadata["date_trained"] = preset.metadata.get("date_trained") or preset.metadata.get("date_saved")
    folder = os.path.join(registry.SHIPPED_ROOT, name)
    ksn.save_preset(model, folder, metadata=metadata, overwrite=True)
    return folder


def evaluate(name, work):
    preset = resolve_preset(name)
    model = ksn.from_preset(name)
    dataset = preset.metadata["dataset"]
    evaluation = preset.metadata["evaluation"]
    protocol, check = evaluation["protocol"], evaluation["check"]
    folder = os.path.join(work, f"test_{dataset['test_videos_per_class']}_{dataset['generator_seeds']['test']}")
    if not os.path.isdir(folder):
        sports.write_synthetic_sports(folder, dataset["test_videos_per_class"], class_set=dataset["class_set"],
                                      seed=dataset["generator_seeds"]["test"], num_frames=dataset["frames"],
                                      size=dataset["size"])
    measured = ksn.evaluate_videos(model, folder, clips_per_video=protocol["clips_per_video"], views=protocol["views"],
                                   seed=protocol["seed"], resize_to=model.preprocessor.resize_to,
                                   verbose=False).metrics()
    data = sports.synthetic_sports(check["num_videos_per_class"], num_frames=dataset["frames"], size=dataset["size"],
                                   seed=check["seed"])
    with tempfile.TemporaryDirectory() as scratch:
        videos = data.write(scratch)
        check_hit = ksn.evaluate_videos(model, videos, clips_per_video=check["clips_per_video"], views=check["views"],
                                        seed=check["eval_seed"], resize_to=model.preprocessor.resize_to,
                                        verbose=False).metrics()["video_hit@1"]
    return evaluation["metrics"], measured, check["video_hit@1"], check_hit


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resave", action="store_true", help="re-save every shipped preset in the current format")
    parser.add_argument("--tolerance", type=float, default=1e-6, help="largest accepted |recorded - measured|")
    parser.add_argument("--work", default=os.path.join(REPO_ROOT, ".reproduce_work", "check_presets"))
    args = parser.parse_args(argv)
    names = sorted(registry.SHIPPED_PRESETS)
    if args.resave:
        entries = {}
        for name in names:
            folder = resave(name)
            entry = registry.shipped_registry_entry(folder)
            entry["summary"]["dataset"] = "synthetic_sports"
            entries[name] = entry
            log(f"re-saved {folder}")
        write_json(registry.SHIPPED_FILE, entries)
        registry.SHIPPED_PRESETS.clear()
        registry.SHIPPED_PRESETS.update(entries)
        registry.PRESETS.update(entries)
        log(f"registry written: {registry.SHIPPED_FILE}")
    failures = 0
    print("| preset | metric | recorded | measured |")
    print("|---|---|---|---|")
    for name in names:
        start = time.perf_counter()
        recorded, measured, check_recorded, check_measured = evaluate(name, args.work)
        rows = [(key, recorded[key], measured[key]) for key in recorded]
        rows.append(("check video_hit@1", check_recorded, check_measured))
        for key, old, new in rows:
            bad = abs(old - new) > args.tolerance
            failures += bad
            print(f"| {name} | {key} | {old:.4f} | {new:.4f}{' **differs**' if bad else ''} |", flush=True)
        log(f"{name}: {time.perf_counter() - start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
