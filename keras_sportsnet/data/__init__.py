"""Video data for keras_sportsnet: decoding, clip sampling, augmentation, datasets.

Small separate pieces: `probe_video`/`read_clip` (PyAV decoder), the clip
samplers, the augmentation layers, and datasets composed from them.
"""

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
from keras_sportsnet.data.errors import VideoError
from keras_sportsnet.data.lists import VideoList
from keras_sportsnet.data.lists import class_names
from keras_sportsnet.data.lists import read_sports1m_partition
from keras_sportsnet.data.lists import read_ucf101_split
from keras_sportsnet.data.lists import read_video_folder
from keras_sportsnet.data.lists import read_video_list
from keras_sportsnet.data.lists import SPLIT_FRACTIONS
from keras_sportsnet.data.lists import split_videos
from keras_sportsnet.data.lists import video_split
from keras_sportsnet.data.lists import ucf101_class_groups
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
from keras_sportsnet.data.transforms import CenterCropResize
from keras_sportsnet.data.transforms import EvaluationViews
from keras_sportsnet.data.transforms import PaperAugmentation
from keras_sportsnet.data.transforms import RandomClipCrop
from keras_sportsnet.data.transforms import RandomClipFlip
from keras_sportsnet.data.transforms import average_views
from keras_sportsnet.data.transforms import centre_square_resize
