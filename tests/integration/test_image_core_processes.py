"""The image core as processes: its command line (docs/processor.md), and what a fresh
interpreter loads (pillow-heif only for ISO media files; Pillow's plugins for the formats it
reads and writes only; no Pillow below the decode budget; no AWS anywhere in the core)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.images import CORPUS, encode, photo


def test_the_cli_runs_as_a_module(tmp_path):
    """`python -m handlers.imaging FILE... --out DIR`, as docs/processor.md shows it."""
    photo_path = tmp_path / "photo.png"
    photo_path.write_bytes(encode(photo(64, 48), "PNG"))
    done = subprocess.run(
        [sys.executable, "-m", "handlers.imaging", str(photo_path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    line = json.loads(done.stdout)
    assert (line["status"], line["width"], line["height"]) == ("processed", 64, 48)
    assert (tmp_path / "out" / "photo.thumbnail.avif").is_file()


def test_a_jpeg_does_not_load_the_heif_decoder():
    """pillow-heif (libheif) costs every cold start; it is imported for ISO media files only."""
    code = (
        "import io, sys; from PIL import Image; from handlers.imaging import make_renditions;"
        "data = io.BytesIO(); Image.new('RGB', (64, 48), 'red').save(data, 'JPEG');"
        "make_renditions(data.getvalue()); print('pillow_heif' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    heic = CORPUS / "avif_hopper.heif"
    code = (
        f"import sys; from handlers.imaging import make_renditions; make_renditions(open({str(heic)!r}, 'rb').read())"
    )
    subprocess.run([sys.executable, "-c", code + "; assert 'pillow_heif' in sys.modules"], check=True)


def test_the_probes_and_the_budget_decode_nothing_and_know_nothing_of_aws():
    """The budget is decided before any decoder exists: the probes and the budget's arithmetic
    load neither Pillow nor a codec, and the image core none of boto3."""
    code = (
        "import sys; import handlers.probe, handlers.probe.budget;"
        "print(sorted(m for m in ('PIL', 'pillow_heif') if m in sys.modules));"
        "import handlers.imaging;"
        "print(sorted(m for m in ('boto3', 'botocore') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout == "[]\n[]\n"


def test_a_fresh_process_loads_only_the_plugins_of_the_formats_it_reads_and_writes(tmp_path):
    """Naming a format Pillow has not registered, in an open or a save, makes it import every one of
    its ~45 plugins (~30 ms of each cold start, docs/benchmarks.md); the renderer imports its own."""
    files = {"phone.jpg": encode(photo(800, 600), "JPEG"), "clear.png": encode(photo(300, 200, "RGBA"), "PNG")}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    code = (
        "import sys; from handlers.imaging import main; assert main(sys.argv[1:]) == 0;"
        "print(*sorted(m for m in sys.modules if m.startswith('PIL.') and m.endswith('ImagePlugin')))"
    )
    args = [*(str(tmp_path / name) for name in files), "--out", str(tmp_path / "out")]
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.splitlines()[-1].split())
    ours = {"Jpeg", "Png", "WebP", "Gif", "Avif"}  # rendering.DECODERS' and the encoders' (AVIF, JPEG, WebP)
    # Image.preinit imports Bmp, Gif, Jpeg, Ppm and Png itself, and a JPEG's EXIF is read through
    # Tiff: Avif and WebP are the two whose absence made an open or a save import every plugin.
    pillows_own = {"Bmp", "Ppm", "Tiff"}
    assert {f"PIL.{name}ImagePlugin" for name in ours} <= loaded
    assert loaded <= {f"PIL.{name}ImagePlugin" for name in ours | pillows_own}
