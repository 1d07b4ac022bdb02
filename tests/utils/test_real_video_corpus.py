"""The real-video corpus fixture delivers every file, each a real video container."""

import os


def test_corpus_has_every_sample_video(real_videos):
    assert len(real_videos) == 8
    for name, path in real_videos.items():
        assert os.path.getsize(path) > 1000, name
        with open(path, "rb") as file:
            head = file.read(12)
        assert head[:4] == b"RIFF" or head[4:8] == b"ftyp", name
