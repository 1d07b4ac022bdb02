"""keras_sportsnet.visualization: every plot is checked for what it shows, not only that it renders."""

import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from conftest import TINY_SIZE, TINY_SPEC

import keras_sportsnet as ksn
from keras_sportsnet import visualization as viz
from keras_sportsnet.evaluation import VideoScores, compare_per_class_ap, confusion_matrix, most_confused_pairs
from keras_sportsnet.visualization.figures import CORRECT_COLOUR, INCORRECT_COLOUR

GREEN = np.array([0x2C, 0xA0, 0x2C, 0xFF]) / 255
RED = np.array([0xD6, 0x27, 0x28, 0xFF]) / 255


def tiny(fusion, resolution="full", frames=None, classes=5):
    frames = frames or {"single_frame": 1, "early": 10, "late": 2, "slow": 10}[fusion]
    size = TINY_SIZE if resolution == "full" else TINY_SIZE + 4
    return ksn.build_model(fusion, resolution=resolution, spec=TINY_SPEC, classes=classes,
                           input_shape=(frames, size, size, 3), weights=None)


def tiles(ax):
    return {image.get_label(): image for image in ax.images}


def bars(ax):
    return [patch for patch in ax.patches if patch.get_width() != 0 or patch.get_height() != 0]


# --------------------------------------------------------------------------- filters


def test_first_layer_filters_are_the_first_convolution_kernels():
    model = tiny("slow")
    kernels = viz.first_layer_filters(model)
    assert list(kernels) == ["full"]
    np.testing.assert_array_equal(kernels["full"], model.backbone.get_layer("full_0_conv").kernel.numpy())
    assert kernels["full"].shape == (model.backbone.get_layer("full_0_conv").kernel.shape)


def test_multires_filters_give_context_then_fovea():
    model = tiny("single_frame", "multires")
    kernels = viz.first_layer_filters(model)
    assert list(kernels) == ["context", "fovea"]
    np.testing.assert_array_equal(kernels["fovea"], model.backbone.get_layer("fovea_0_conv").kernel.numpy())


def test_filters_of_a_model_without_a_sportsnet_convolution_are_refused():
    import keras

    foreign = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="no first convolution"):
        viz.first_layer_filters(foreign)
    average = ksn.CNNAverage([tiny("single_frame"), tiny("slow")])
    with pytest.raises(ValueError, match="plot one of its members"):
        viz.plot_first_layer_filters(average)


def test_filter_grid_has_one_tile_per_filter_and_frame_with_its_normalised_pixels():
    model = tiny("slow")
    kernel = viz.first_layer_filters(model)["full"]  # (4, 5, 5, 3, 8)
    figure = viz.plot_first_layer_filters(model)
    (ax,) = figure.axes
    assert "full stream" in ax.get_title() and "8 filters" in ax.get_title()
    shown = tiles(ax)
    frames, filters = kernel.shape[0], kernel.shape[-1]
    assert len(shown) == filters * frames
    for f in (0, 5):
        stack = np.stack([shown[f"filter {f} t={t}"].get_array() for t in range(frames)])
        raw = kernel[..., f]
        expected = (raw - raw.min()) / (raw.max() - raw.min())
        np.testing.assert_allclose(stack, expected, atol=1e-6)
        # time runs left to right inside the cell
        lefts = [shown[f"filter {f} t={t}"].get_extent()[0] for t in range(frames)]
        assert lefts == sorted(lefts) and len(set(lefts)) == frames


def test_filter_grid_layer_normalisation_and_max_filters():
    model = tiny("early")
    kernel = viz.first_layer_filters(model)["full"]
    figure = viz.plot_first_layer_filters(model, max_filters=3, normalize="layer")
    shown = tiles(figure.axes[0])
    assert len(shown) == 3 * kernel.shape[0]
    low, high = kernel[..., :3].min(), kernel[..., :3].max()
    np.testing.assert_allclose(shown["filter 2 t=1"].get_array(), (kernel[1, ..., 2] - low) / (high - low), atol=1e-6)
    with pytest.raises(ValueError, match="`normalize` must be one of"):
        viz.plot_first_layer_filters(model, normalize="global")
    with pytest.raises(ValueError, match="`max_filters` must be an int >= 1"):
        viz.plot_first_layer_filters(model, max_filters=0)


def test_multires_filters_are_side_by_side():
    figure = viz.plot_first_layer_filters(tiny("single_frame", "multires"))
    context, fovea = figure.axes
    assert context.get_title().startswith("context stream") and fovea.get_title().startswith("fovea stream")
    assert context.get_position().x1 <= fovea.get_position().x0
    assert len(context.images) == len(fovea.images) == 8


def test_animated_filters_have_one_gif_frame_per_time_step(tmp_path):
    from PIL import Image

    path = viz.animate_first_layer_filters(tiny("slow"), tmp_path / "filters.gif", scale=2)
    with Image.open(path) as gif:
        assert gif.n_frames == 4
        first = np.asarray(gif.convert("RGB"))
        gif.seek(3)
        last = np.asarray(gif.convert("RGB"))
    assert first.shape[0] % 2 == 0 and not np.array_equal(first, last)  # the filters change over time
    with Image.open(viz.animate_first_layer_filters(tiny("single_frame"), tmp_path / "single.gif")) as gif:
        assert gif.n_frames == 1
    with pytest.raises(ValueError, match="must end in '.gif'"):
        viz.animate_first_layer_filters(tiny("slow"), tmp_path / "filters.png")


# --------------------------------------------------------------------------- predictions


def test_prediction_strip_marks_the_true_class_green_and_others_red():
    probabilities = np.array([[0.1, 0.6, 0.2, 0.05, 0.05], [0.5, 0.1, 0.1, 0.2, 0.1]])
    names = ["archery", "bowling", "curling", "diving", "fencing"]
    images = np.random.default_rng(0).integers(0, 255, (2, 16, 16, 3), dtype=np.uint8)
    figure = viz.plot_predictions(probabilities, labels=[1, 3], class_names=names, images=images, top=3)
    strips = [ax for ax in figure.axes if ax.get_label().startswith("predictions")]
    assert [ax.get_label() for ax in strips] == ["predictions 0", "predictions 1"]
    first, second = (bars(ax) for ax in strips)
    assert [b.get_width() for b in first] == pytest.approx([0.6, 0.2, 0.1])  # longest first
    assert [t.get_text() for t in strips[0].get_yticklabels()] == ["bowling", "curling", "archery"]
    np.testing.assert_allclose([b.get_facecolor() for b in first], [GREEN, RED, RED], atol=1e-3)
    # video 1: truth "diving" is the second-best class
    assert [t.get_text() for t in strips[1].get_yticklabels()] == ["archery", "diving", "bowling"]
    np.testing.assert_allclose([b.get_facecolor() for b in second], [RED, GREEN, RED], atol=1e-3)
    thumbnails = [ax for ax in figure.axes if ax.images]
    np.testing.assert_allclose(thumbnails[0].images[0].get_array(), images[0] / 255, atol=1e-6)
    assert thumbnails[1].get_xlabel() == "diving"
    assert CORRECT_COLOUR != INCORRECT_COLOUR


def test_prediction_strip_multi_label_and_unlabelled():
    probabilities = np.array([[0.5, 0.3, 0.2]])
    figure = viz.plot_predictions(probabilities, labels=[(0, 2)], class_names=["a", "b", "c"])
    (strip,) = [ax for ax in figure.axes if ax.get_label() == "predictions 0"]
    np.testing.assert_allclose([b.get_facecolor() for b in bars(strip)], [GREEN, RED, GREEN], atol=1e-3)
    plain = viz.plot_predictions(probabilities, top=10)
    (strip,) = [ax for ax in plain.axes if ax.get_label() == "predictions 0"]
    assert len(bars(strip)) == 3  # top is capped at the number of classes
    assert {tuple(np.round(b.get_facecolor(), 3)) for b in bars(strip)} == {(0.498, 0.498, 0.498, 1.0)}


def test_prediction_strip_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="`labels` must have one entry per row"):
        viz.plot_predictions(np.full((2, 3), 1 / 3), labels=[0])
    with pytest.raises(ValueError, match="`class_names` must have 3 entries"):
        viz.plot_predictions(np.full((1, 3), 1 / 3), class_names=["a", "b"])
    with pytest.raises(ValueError, match="`images` must have one entry per row"):
        viz.plot_predictions(np.full((2, 3), 1 / 3), images=[None])
    with pytest.raises(ValueError, match="must be finite"):
        viz.plot_predictions(np.array([[np.nan, 1.0]]))


def test_video_predictions_show_the_middle_frame_of_each_video(tmp_path):
    from keras_sportsnet.testing.videos import index_frames
    from keras_sportsnet.data.encoding import write_video

    paths = [write_video(str(tmp_path / f"v{i}.mp4"), index_frames(9 + i, 32, 32)) for i in range(3)]
    logits = np.zeros((3, 2, 1, 4), np.float32)
    logits[0, ..., 2] = 5  # right
    logits[1, ..., 0] = 5  # wrong (truth 1)
    logits[2, ..., 3] = 5  # right
    scores = VideoScores(logits, labels=[2, 1, 3], class_names=list("abcd"), video_ids=paths)
    figure = viz.plot_video_predictions(scores, top=2)
    thumbnails = [ax for ax in figure.axes if ax.images]
    for path, ax in zip(paths, thumbnails):
        middle = ksn.data.read_clip(path, [ksn.data.probe_video(path).num_frames // 2])[0]
        np.testing.assert_allclose(ax.images[0].get_array(), middle / 255, atol=1e-6)
        assert ax.get_title() == os.path.basename(path)
    strips = [ax for ax in figure.axes if ax.get_label().startswith("predictions")]
    tops = [bars(ax)[0].get_facecolor() for ax in strips]
    np.testing.assert_allclose(tops, [GREEN, RED, GREEN], atol=1e-3)
    only = viz.plot_video_predictions(scores, videos=[1])
    assert len([ax for ax in only.axes if ax.get_label().startswith("predictions")]) == 1
    with pytest.raises(ValueError, match=r"`videos` must be indices in \[0, 3\)"):
        viz.plot_video_predictions(scores, videos=[3])
    with pytest.raises(TypeError, match="VideoScores"):
        viz.plot_video_predictions(np.zeros((3, 4)))


# --------------------------------------------------------------------------- evaluation plots


def random_scores(seed, videos=30, classes=6, clips=3, views=2, ids=None):
    rng = np.random.default_rng(seed)
    labels = np.arange(videos) % classes
    logits = rng.normal(size=(videos, clips, views, classes)).astype(np.float32)
    logits[np.arange(videos), ..., labels] += rng.uniform(0, 3, size=(videos, 1, 1))
    return VideoScores(logits, labels=labels, class_names=[f"class_{c}" for c in range(classes)])


def test_ap_difference_bars_are_table_2():
    a, b = random_scores(0), random_scores(1)
    figure = viz.plot_per_class_ap_difference(a, b, names=("slow", "single"), top=2)
    (ax,) = figure.axes
    a_better, b_better = compare_per_class_ap(a.per_class_ap(), b.per_class_ap(), a.class_names, top=2)
    expected = a_better + b_better[::-1]
    assert [bar.get_width() for bar in bars(ax)] == pytest.approx([row[3] for row in expected])
    assert [t.get_text() for t in ax.get_yticklabels()] == [row[0] for row in expected]
    assert ax.get_xlabel() == "AP(slow) \u2212 AP(single)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["slow better", "single better"]
    from_arrays = viz.plot_per_class_ap_difference(a.per_class_ap(), b.per_class_ap(), class_names=a.class_names, top=2)
    assert [bar.get_width() for bar in bars(from_arrays.axes[0])] == pytest.approx([row[3] for row in expected])
    with pytest.raises(ValueError, match="`class_names` is required"):
        viz.plot_per_class_ap_difference(a.per_class_ap(), b.per_class_ap())
    with pytest.raises(TypeError, match="both be VideoScores"):
        viz.plot_per_class_ap_difference(a, b.per_class_ap())


def test_confusion_matrix_shows_row_fractions_and_boxes_the_most_confused_pairs():
    from matplotlib.patches import Rectangle

    scores = random_scores(2)
    counts = confusion_matrix(scores.video_scores(), scores.labels, scores.num_classes)
    figure = viz.plot_confusion_matrix(scores, highlight=3)
    ax = figure.axes[0]
    np.testing.assert_allclose(ax.images[0].get_array(), counts / counts.sum(axis=1, keepdims=True))
    boxes = sorted((int(r.get_y() + 0.5), int(r.get_x() + 0.5)) for r in ax.patches if isinstance(r, Rectangle))
    pairs = most_confused_pairs(counts, scores.class_names, top=3)
    index = {n: i for i, n in enumerate(scores.class_names)}
    assert boxes == sorted((index[t], index[p]) for t, p, _, _ in pairs)
    listed = " ".join(text.get_text() for a in figure.axes for text in a.texts)
    assert all(f"{t} \u2192 {p}" in listed for t, p, _, _ in pairs)
    raw = viz.plot_confusion_matrix(counts, class_names=scores.class_names, normalize=False, highlight=0)
    np.testing.assert_array_equal(raw.axes[0].images[0].get_array(), counts)
    assert not [p for p in raw.axes[0].patches if isinstance(p, Rectangle)]
    with pytest.raises(ValueError, match="square count matrix"):
        viz.plot_confusion_matrix(np.zeros((3, 4)))


def test_confusion_matrix_of_many_classes_leaves_out_the_names():
    names = [f"class_{i}" for i in range(60)]
    figure = viz.plot_confusion_matrix(np.eye(60, dtype=int), class_names=names, highlight=0)
    figure.canvas.draw()
    assert not [t for t in figure.axes[0].get_xticklabels() if t.get_text().startswith("class_")]
    few = viz.plot_confusion_matrix(np.eye(3, dtype=int), class_names=names[:3], highlight=0)
    assert [t.get_text() for t in few.axes[0].get_xticklabels()] == names[:3]


def test_accuracy_vs_views_lines_are_the_views_table():
    scores = random_scores(3, clips=4, views=3)
    table = scores.accuracy_vs_views()
    figure = viz.plot_accuracy_vs_views(scores)
    (ax, *_) = figure.axes
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert sorted(lines) == ["1 view", "2 views", "3 views"]
    for v in range(3):
        np.testing.assert_array_equal(lines[f"{v + 1} view{'s' if v else ''}"].get_xdata(), [1, 2, 3, 4])
        np.testing.assert_allclose(lines[f"{v + 1} view{'s' if v else ''}"].get_ydata(), table.values[:, v] * 100)
    both = viz.plot_accuracy_vs_views({"slow": scores, "single": random_scores(4, clips=4, views=3)}, max_views=2)
    assert sorted(l.get_label() for l in both.axes[0].get_lines()) == [
        "single 1 view", "single 2 views", "slow 1 view", "slow 2 views"]
    with pytest.raises(TypeError, match="VideoScores, a ViewsTable"):
        viz.plot_accuracy_vs_views([1, 2])


# --------------------------------------------------------------------------- training curves


def test_training_curves_from_a_run_folder(tmp_path):
    from keras_sportsnet.training.checkpoints import write_history_csv

    history = [{"epoch": e, "loss": 2.0 / e, "val_loss": 2.5 / e + (e == 3), "hit_at_1": 0.2 * e,
                "val_hit_at_1": [0.1, 0.5, 0.3][e - 1], "learning_rate": 0.001, "seconds": 9.0} for e in (1, 2, 3)]
    write_history_csv(str(tmp_path), history)
    figure = viz.plot_training_curves(str(tmp_path))
    titles = [ax.get_title() for ax in figure.axes if ax.get_visible()]
    assert titles == ["loss", "hit_at_1", "learning_rate"]  # no "seconds", no separate val_ panels
    hit = figure.axes[1]
    lines = {line.get_label(): line for line in hit.get_lines()}
    np.testing.assert_allclose(lines["train"].get_ydata(), [0.2, 0.4, 0.6])
    np.testing.assert_allclose(lines["validation"].get_ydata(), [0.1, 0.5, 0.3])
    assert lines["best validation (epoch 2)"].get_xdata()[0] == 2
    loss = {line.get_label() for line in figure.axes[0].get_lines()}
    assert "best validation (epoch 2)" in loss  # lowest val_loss: 1.25 at epoch 2 (epoch 3 has 1.83)
    only = viz.plot_training_curves(history, metrics=["loss"])
    assert [ax.get_title() for ax in only.axes if ax.get_visible()] == ["loss"]
    with pytest.raises(ValueError, match="`metrics` must be among the logged metrics"):
        viz.plot_training_curves(history, metrics=["accuracy"])
    with pytest.raises(FileNotFoundError, match="history.csv"):
        viz.plot_training_curves(str(tmp_path / "missing"))


def test_training_curves_from_keras_fit():
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x, y = np.random.default_rng(0).normal(size=(16, 3)), np.arange(16) % 2
    history = model.fit(x, y, validation_data=(x, y), epochs=2, verbose=0)
    figure = viz.plot_training_curves(history)
    (loss,) = [ax for ax in figure.axes if ax.get_title() == "loss"]
    train = [line for line in loss.get_lines() if line.get_label() == "train"][0]
    np.testing.assert_allclose(train.get_ydata(), history.history["loss"])
    np.testing.assert_array_equal(train.get_xdata(), [1, 2])


# --------------------------------------------------------------------------- clips


def test_clip_montage_from_an_array_shows_evenly_spaced_frames():
    clips = np.random.default_rng(0).integers(0, 255, (3, 10, 12, 16, 3)).astype(np.float32)
    figure = viz.plot_clip_montage(clips, labels=[0, 2, 1], class_names=["a", "b", "c"], max_frames=4)
    assert len(figure.axes) == 3 * 4
    assert [ax.get_title() for ax in figure.axes[:4]] == ["frame 0", "frame 3", "frame 6", "frame 9"]
    np.testing.assert_allclose(figure.axes[4 + 1].images[0].get_array(), clips[1, 3] / 255, atol=1e-6)
    assert [figure.axes[4 * r].get_ylabel() for r in range(3)] == ["a", "c", "b"]
    with pytest.raises(ValueError, match=r"`clips` must be an array \(N, T, H, W, 3\)"):
        viz.plot_clip_montage(np.zeros((2, 3)))


def test_clip_montage_from_a_dataset_uses_its_labels_and_class_names(tmp_path):
    import tensorflow as tf

    from keras_sportsnet.testing.videos import index_frames

    from keras_sportsnet.data.encoding import write_video

    clips = np.random.default_rng(1).uniform(0, 255, (5, 4, 8, 8, 3)).astype(np.float32)
    batches = tf.data.Dataset.from_tensor_slices((clips, np.array([0, 1, 1, 0, 1]))).batch(2)
    figure = viz.plot_clip_montage(batches, class_names=["walk", "swim"], max_clips=3, max_frames=2)
    assert len(figure.axes) == 3 * 2  # two batches read, three clips kept
    np.testing.assert_allclose(figure.axes[2 * 2 + 1].images[0].get_array(), clips[2, 3] / 255, atol=1e-6)
    assert [figure.axes[2 * r].get_ylabel() for r in range(3)] == ["walk", "swim", "swim"]

    for name in ("jump", "run"):
        os.makedirs(tmp_path / name)
        for i in range(2):
            write_video(str(tmp_path / name / f"{i}.mp4"), index_frames(12, 32, 32))
    dataset = ksn.data.video_dataset_from_directory(str(tmp_path), num_frames=10, image_size=TINY_SIZE, resize_to=48,
                                                    batch_size=3, seed=0, shuffle=False, verbose=False)
    figure = viz.plot_clip_montage(dataset, max_clips=4, max_frames=2)
    assert len(figure.axes) == 4 * 2
    assert [figure.axes[2 * r].get_ylabel() for r in range(4)] == ["jump", "jump", "run", "run"]


# --------------------------------------------------------------------------- figures


@pytest.mark.parametrize("extension", ["png", "svg", "pdf"])
def test_save_figure_writes_the_format_atomically(tmp_path, extension):
    figure = viz.plot_predictions(np.array([[0.7, 0.3]]))
    path = viz.save_figure(figure, tmp_path / f"strip.{extension}")
    with open(path, "rb") as file:
        head = file.read(8)
    assert {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}[extension] in head
    assert os.listdir(tmp_path) == [f"strip.{extension}"]  # no temporary left behind
    assert os.stat(path).st_mode & stat.S_IROTH or os.umask(os.umask(0)) & 0o004  # readable like any new file


def test_save_figure_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match=r"`path extension` must be one of \['png', 'svg', 'pdf'\]"):
        viz.save_figure(viz.new_figure(1, 1), tmp_path / "plot.jpg")
    assert not os.listdir(tmp_path)


def test_plots_render_headless_without_pyplot(tmp_path):
    script = f"""
import numpy as np
from keras_sportsnet import visualization as viz
viz.plot_predictions(np.array([[0.2, 0.8]]), labels=[1], path={str(tmp_path / 'a.png')!r})
viz.plot_confusion_matrix(np.array([[3, 1], [0, 2]]), path={str(tmp_path / 'b.png')!r})
import matplotlib.pyplot as plt  # keras itself imports pyplot; its figure list must stay empty
print("pyplot figures:", plt.get_fignums())
"""
    environment = dict(os.environ, MPLBACKEND="", DISPLAY="")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith("pyplot figures: []")
    assert os.path.getsize(tmp_path / "a.png") > 1000


def test_every_text_is_readable_at_the_default_size():
    scores = random_scores(5)
    figures = [viz.plot_confusion_matrix(scores), viz.plot_per_class_ap_difference(scores, random_scores(6)),
               viz.plot_predictions(scores.video_scores()[:4], labels=scores.labels[:4]),
               viz.plot_first_layer_filters(tiny("slow"))]
    for figure in figures:
        figure.canvas.draw()
        texts = [t for t in figure.findobj(lambda o: hasattr(o, "get_fontsize") and hasattr(o, "get_text"))
                 if t.get_text() and t.get_visible()]
        assert texts and min(t.get_fontsize() for t in texts) >= 6
        width, height = figure.get_size_inches()
        assert 2 <= width <= 16 and 1.5 <= height <= 16
        assert figure.get_suptitle() or any(ax.get_title() for ax in figure.axes)


def test_figures_display_inline_in_jupyter_without_pyplot():
    from IPython.core.formatters import DisplayFormatter

    figure = viz.plot_predictions(np.array([[0.6, 0.4]]), labels=[0])
    data, _ = DisplayFormatter().format(figure)
    assert data["image/png"][:4] == b"\x89PNG"


def test_the_readme_figures_script_runs(tmp_path):
    import runpy

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    script = os.path.join(repo, "docs", "make_figures.py")
    runpy.run_path(script, run_name="make_figures")["main"](["--output", str(tmp_path), "--videos-per-class", "1"])
    assert sorted(os.listdir(tmp_path)) == ["ap_slow_vs_single.png", "confusion_single_frame.png",
                                            "filters_multires.png", "filters_slow_fusion.gif", "filters_slow_fusion.png",
                                            "predictions_slow_fusion.png"]
