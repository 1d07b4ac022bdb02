"""Video data for keras_sportsnet: decoding, clip sampling, the pipeline config and the dataset object.

The pieces, each in one place: `probe_video`/`read_clip` (decoding), the clip
samplers (`sampling`), the frozen `PipelineConfig` (`config`), the random keys
(`random`), the sources of clips (`sources`, `shards`) and the one
`VideoDataset` (`dataset`) that the front doors `video_dataset_from_directory`,
`video_dataset_from_list` and `shard_dataset` return. The clip transforms live
in `keras_sportsnet.transforms`.

Example:
```python
train = ksn.data.video_dataset_from_directory("my_videos/", model=model, seed=0, batch_size=8)
model.fit(train, epochs=3)
```
"""

from keras_sportsnet.data import random
from keras_sportsnet.data.config import AUGMENTATIONS
from keras_sportsnet.data.config import LABEL_MODES
from keras_sportsnet.data.config import PipelineConfig
from keras_sportsnet.data.dataset import VideoDataset
from keras_sportsnet.data.datasets import video_dataset_from_directory
from keras_sportsnet.data.datasets import video_dataset_from_list
from keras_sportsnet.data.decoding import BLACK_FRAME
from keras_sportsnet.data.decoding import DEFAULT_MAX_PIXELS
from keras_sportsnet.data.decoding import VideoDecoder
from keras_sportsnet.data.decoding import VideoInfo
from keras_sportsnet.data.decoding import get_decoder
from keras_sportsnet.data.decoding import probe_video
from keras_sportsnet.data.decoding import read_clip
from keras_sportsnet.data.decoding import read_clips
from keras_sportsnet.data.decoding import register_decoder
from keras_sportsnet.data.errors import ShardError
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import SPLIT_FRACTIONS
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.data.lists import class_names
from keras_sportsnet.data.lists import multi_hot
from keras_sportsnet.data.lists import read_sports1m_partition
from keras_sportsnet.data.lists import read_ucf101_split
from keras_sportsnet.data.lists import read_video_folder
from keras_sportsnet.data.lists import read_video_list
from keras_sportsnet.data.lists import split_videos
from keras_sportsnet.data.lists import ucf101_class_groups
from keras_sportsnet.data.lists import video_split
from keras_sportsnet.data.sampling import SHORT_VIDEO_POLICIES
from keras_sportsnet.data.sampling import ClipGeometry
from keras_sportsnet.data.sampling import SampledClip
from keras_sportsnet.data.sampling import clip_at
from keras_sportsnet.data.sampling import random_clip
from keras_sportsnet.data.sampling import random_clips
from keras_sportsnet.data.sampling import uniform_clips
from keras_sportsnet.data.scan import ScanReport
from keras_sportsnet.data.scan import scan_videos
from keras_sportsnet.data.shards import prepare_shards
from keras_sportsnet.data.shards import shard_dataset

__all__ = [
    "AUGMENTATIONS",
    "BLACK_FRAME",
    "DEFAULT_MAX_PIXELS",
    "LABEL_MODES",
    "SHORT_VIDEO_POLICIES",
    "SPLIT_FRACTIONS",
    "ClipGeometry",
    "PipelineConfig",
    "SampledClip",
    "ScanReport",
    "VideoDataset",
    "VideoDecoder",
    "ShardError",
    "VideoError",
    "VideoInfo",
    "VideoList",
    "class_names",
    "clip_at",
    "get_decoder",
    "multi_hot",
    "prepare_shards",
    "probe_video",
    "random",
    "random_clip",
    "random_clips",
    "read_clip",
    "read_clips",
    "read_sports1m_partition",
    "read_ucf101_split",
    "read_video_folder",
    "read_video_list",
    "register_decoder",
    "scan_videos",
    "shard_dataset",
    "split_videos",
    "ucf101_class_groups",
    "uniform_clips",
    "video_dataset_from_directory",
    "video_dataset_from_list",
    "video_split",
]
