"""The commonest data mistakes get an answer with the fix (issue 13, finding 4), and the config is checked once."""

import os

import numpy as np
import pytest

import keras_sportsnet as ksn
from keras_sportsnet import data
from keras_sportsnet.testing.videos import index_frames
from keras_sportsnet.data.encoding import write_video
from conftest import write_class_videos

SIZE = 32
KWARGS = dict(num_frames=2, image_size=SIZE, resize_to=SIZE, verbose=False)


@pytest.fixture(scope="module")
def four_classes(tmp_path_factory):
    return write_class_videos(tmp_path_factory.mktemp("four"), ["a", "b", "c", "d"], 2,
                              lambda label, video: index_frames(12, SIZE, SIZE, seed=label))


def test_a_flat_folder_says_videos_go_in_one_sub_folder_per_class(tmp_path):
    for i in range(3):
        write_video(str(tmp_path / f"clip{i}.mp4"), index_frames(8, SIZE, SIZE))
    with pytest.raises(ValueError) as caught:
        data.video_dataset_from_directory(str(tmp_path), **KWARGS)
    message = str(caught.value)
    assert "holds 3 video(s) (clip0.mp4, clip1.mp4, clip2.mp4) but no class sub-folders" in message
    assert "videos go in one sub-folder per class" in message and os.path.join(str(tmp_path), "<class>", "<video>") in message
    assert "labels=None" in message
    unlabelled = data.video_dataset_from_directory(str(tmp_path), labels=None, **KWARGS)
    assert unlabelled.class_names == [] and unlabelled.config.label_mode is None and len(unlabelled.file_paths) == 3


def test_an_empty_folder_and_class_folders_without_videos(tmp_path):
    with pytest.raises(ValueError, match=r"is empty \(no video files\): videos go in one sub-folder per class"):
        data.video_dataset_from_directory(str(tmp_path), **KWARGS)
    os.makedirs(tmp_path / "tennis")
    (tmp_path / "tennis" / "notes.txt").write_text("no video here")
    with pytest.raises(ValueError, match=r"1 class sub-folder\(s\) \(tennis\) but none holds a video file"):
        data.video_dataset_from_directory(str(tmp_path), **KWARGS)
    with pytest.raises(ValueError, match="does not exist"):
        data.video_dataset_from_directory(str(tmp_path / "no_such_dir"), **KWARGS)


def test_one_class_is_a_warning(tmp_path):
    write_class_videos(str(tmp_path), ["only"], 2, lambda label, video: index_frames(8, SIZE, SIZE))
    with pytest.warns(UserWarning, match=r"one class sub-folder \('only'\): a classifier needs at least two"):
        ds = data.video_dataset_from_directory(str(tmp_path), **KWARGS)
    assert ds.num_classes == 1


def test_a_validation_split_that_leaves_no_file_says_how_many_files(four_classes):
    with pytest.raises(ValueError) as caught:
        data.video_dataset_from_directory(str(four_classes), validation_split=0.1, subset="both", seed=0, **KWARGS)
    message = str(caught.value)
    assert "leaves no file for validation" in message and "holds 8 file(s)" in message
    assert "validation_split >= 0.125 (1/8)" in message
    train, val = data.video_dataset_from_directory(str(four_classes), validation_split=0.125, subset="both", seed=0,
                                                   **KWARGS)
    assert (len(train.file_paths), len(val.file_paths)) == (7, 1)


def test_check_model_refuses_other_class_counts_and_clip_geometries(four_classes):
    ds = data.video_dataset_from_directory(str(four_classes), **KWARGS)
    two = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(2, SIZE, SIZE, 3), classes=2)
    with pytest.raises(ValueError, match=r"The model predicts 2 classes but the data has 4 \(a, b, c, d\).*classes=4"):
        ds.check_model(two)
    four = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(2, SIZE, SIZE, 3), classes=4)
    ds.check_model(four)
    other = ksn.EarlyFusion(spec="C(4,5,2)-N-P-FC(8)", input_shape=(4, SIZE, SIZE, 3), classes=4)
    with pytest.raises(ValueError, match=r"reads clips of 4 frames of \(32, 32\) but the data makes clips of 2"):
        ds.check_model(other)
    with pytest.raises(ValueError, match="The model predicts 2 classes but the data has 4"):
        ksn.training.train(two, ds, run_dir=str(four_classes) + "_run", epochs=1, tensorboard=False, verbose=0)


def test_defaults_come_from_the_model_preprocessor_by_duck_typing(four_classes):
    class Preprocessor:
        def get_config(self):
            return {"num_frames": 2, "frame_stride": 1, "image_size": (24, 24), "resize_to": 28}

    class Model:  # any object with a preprocessor (and no clip_geometry) will do
        preprocessor = Preprocessor()

    ds = data.video_dataset_from_directory(str(four_classes), model=Model(), verbose=False)
    assert (ds.config.num_frames, ds.config.image_size, ds.config.resize_to) == (2, (24, 24), 28)
    with pytest.warns(UserWarning, match=r"`resize_to=40` differs from the model's preprocessor \(resize_to=28\)"):
        ds = data.video_dataset_from_directory(str(four_classes), model=Model(), resize_to=40, verbose=False)
    assert ds.config.resize_to == 40
    plain = data.video_dataset_from_directory(str(four_classes), num_frames=2, image_size=SIZE, verbose=False)
    assert plain.config.resize_to == 200  # the paper's, without a model
    with pytest.raises(ValueError, match="Pass either `model`"):
        data.video_dataset_from_directory(str(four_classes), model=Model(), num_frames=3, verbose=False)


def test_pipeline_config_is_frozen_checked_and_round_trips():
    config = data.PipelineConfig(num_frames=10, image_size=170, seed=3)
    assert config.image_size == (170, 170) and config.resize_to == 200 and config.geometry.span == 10
    with pytest.raises(AttributeError):
        config.seed = 4
    assert data.PipelineConfig.from_dict(config.to_dict()) == config
    assert config.replace(batch_size=None).batch_size is None
    with pytest.raises(ValueError, match=r"`resize_to` must be at least the crop size `image_size`.*\(64, 64\) crop"
                                         r".*Received: image_size=\(64, 64\), resize_to=40"):
        data.PipelineConfig(num_frames=2, image_size=64, resize_to=40)
    with pytest.raises(ValueError, match=r"`augmentation` must be one of \['paper', 'centre', 'deferred'\]"
                                         r".*Did you mean 'paper'"):
        data.PipelineConfig(num_frames=2, image_size=64, augmentation="papers")
    with pytest.raises(ValueError, match="`clips_per_video` must be an int >= 1"):
        data.PipelineConfig(num_frames=2, image_size=64, clips_per_video=0)
    with pytest.raises(ValueError, match="`batch_size` must be an int >= 1 or None"):
        data.PipelineConfig(num_frames=2, image_size=64, batch_size=0)


def test_an_unreadable_image_size_resize_to_pair_is_refused_before_any_work(four_classes, tmp_path):
    with pytest.raises(ValueError, match=r"image_size=\(64, 64\), resize_to=40"):
        data.video_dataset_from_directory(str(four_classes), num_frames=2, image_size=64, resize_to=40, verbose=False)
    with pytest.raises(ValueError, match=r"image_size=\(64, 64\), resize_to=40"):
        data.prepare_shards(data.read_video_folder(str(four_classes)), str(tmp_path / "shards"), num_frames=2,
                            image_size=64, resize_to=40, verbose=False)
    assert not os.path.exists(tmp_path / "shards")


def test_multi_hot_is_the_one_builder():
    table = data.multi_hot([(0, 2), (), 1], 3)
    np.testing.assert_array_equal(table, [[1, 0, 1], [0, 0, 0], [0, 1, 0]])
    assert table.dtype == np.float32 and data.multi_hot([(1,)], 2, dtype="uint8").dtype == np.uint8
    with pytest.raises(ValueError, match=r"Label 3 of row 0 is outside the 3 classes"):
        data.multi_hot([(3,)], 3)
