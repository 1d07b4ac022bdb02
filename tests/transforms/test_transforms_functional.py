"""The functional clip ops: the one implementation the layers and the tf.data pipelines share."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_sportsnet.transforms import CenterCropResize
from keras_sportsnet.transforms import EvaluationViews
from keras_sportsnet.transforms import functional as F
from test_transforms_layers import coordinate_clips


def numpy_(x):
    return keras.ops.convert_to_numpy(x)


def test_crop_and_flip_per_clip_match_numpy_slicing():
    clips = coordinate_clips(3, 2, 20, 30)
    top, left = np.array([0, 5, 10]), np.array([7, 0, 14])
    cropped = numpy_(F.crop(clips, top, left, (10, 16)))
    for b in range(3):
        np.testing.assert_array_equal(cropped[b], clips[b, :, top[b] : top[b] + 10, left[b] : left[b] + 16])
    flipped = numpy_(F.flip_left_right(clips, [True, False, True]))
    np.testing.assert_array_equal(flipped[0], clips[0, :, :, ::-1])
    np.testing.assert_array_equal(flipped[1], clips[1])
    # One clip: scalar offsets and flag give the same as the batch path.
    np.testing.assert_array_equal(numpy_(F.crop(clips[1], 5, 0, (10, 16))), cropped[1])
    np.testing.assert_array_equal(numpy_(F.flip_left_right(clips[0], True)), flipped[0])


def test_the_tf_data_path_calls_the_same_ops_inside_a_graph():
    clips = coordinate_clips(1, 3, 24, 24)[0]
    draws = np.array([5, 9, 3], np.int32)  # top 5 % (24-16+1), left 9 % 9 = 0, odd: flipped

    def augment(clip):
        return F.paper_crop_flip(clip, tf.constant(draws), 16)

    from_graph = next(iter(tf.data.Dataset.from_tensors(clips).map(augment))).numpy()
    np.testing.assert_array_equal(from_graph, clips[:, 5:21, 0:16][:, :, ::-1])
    eager = numpy_(F.paper_crop_flip(clips, draws, 16))
    np.testing.assert_array_equal(eager, from_graph)
    np.testing.assert_array_equal(numpy_(F.paper_crop_flip(clips, draws, 16, training=False)), clips[:, 4:20, 4:20])


def test_centre_resize_and_views_are_what_the_layers_compute():
    frames = np.random.default_rng(0).integers(0, 256, (2, 3, 24, 32, 3), np.uint8)
    np.testing.assert_array_equal(numpy_(F.centre_crop_resize(frames, 16)),
                                  numpy_(CenterCropResize(16, output_dtype="uint8")(frames)))
    assert F.centre_crop_resize(frames, 16).dtype == "uint8"
    assert keras.backend.standardize_dtype(F.centre_crop_resize(frames.astype("float32"), 16).dtype) == "float32"
    resized = numpy_(F.centre_crop_resize(frames, 20, dtype="float32"))
    np.testing.assert_allclose(numpy_(F.evaluation_views(resized, 16)), numpy_(EvaluationViews(16, 20)(frames)))
    np.testing.assert_array_equal(numpy_(F.centre_crop(frames[0], 10)), frames[0, :, 7:17, 11:21])


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"`resize_to` must be at least `crop_size`.*crop_size=64, resize_to=40"):
        F.check_crop_and_resize(64, 40)
    with pytest.raises(ValueError, match=r"at least the crop size \(30, 30\)"):
        F.crop(np.zeros((1, 2, 20, 20, 3)), [0], [0], 30)
    with pytest.raises(ValueError, match=r"`position` must be one of"):
        F.crop_offsets("middle", 10, 10, 5, 5)
    with pytest.raises(ValueError, match=r"rank 5 .* or rank 4"):
        F.flip_left_right(np.zeros((2, 3)), [True])
