"""The decode budget: what an image will really cost to decode, read from its bytes before any
decoder runs, and whether that fits the limits.

Headers lie, and the decoder believes the codec, not the container: Pillow reports what a
container declares, so the size that counts is read from the codec's own headers. One module per
container, standard library only (nothing is decoded):
- `jpeg`: the primary image's frame header, sampling factors and number of scans (`jpeg_structure`);
- `heif` (over `isobmff`, `av1` and `hevc`): a HEIF's or an AVIF's image items and image sequence
  tracks, the size the container declares and the size the codec gives: AV1 sequence and frame
  headers, the HEVC SPS, a grid's output (`heif_structure`, `heif_primary_size`, `avif_frame_size`);
- `webp`: the canvas its decoder allocates as the file is opened (`webp_canvas_size`).
PNG and GIF need no probe for the budget: Pillow's own header is what its decoder produces.
(`png` walks a PNG's chunks for `handlers.shrink_on_load`: whether libvips may stream it.)

`budget` turns those sizes into the checks the renderer makes before decoding: pixels on the
real size, memory in bytes (decoding, and encoding the renditions), a JPEG's scans.

Hostile bytes are expected: work is linear in the input, every loop is capped (markers, boxes,
items, samples, OBUs, NAL units) and nothing recurses on the file's structure. Malformed input
raises ValueError, never another exception; the budget turns it into a typed refusal.
"""

from handlers.probe.heif import HeifItem, HeifStructure, HeifTrack, avif_frame_size, heif_primary_size, heif_structure
from handlers.probe.jpeg import JpegStructure, jpeg_structure
from handlers.probe.readers import Size
from handlers.probe.webp import webp_canvas_size

__all__ = [
    "HeifItem",
    "HeifStructure",
    "HeifTrack",
    "JpegStructure",
    "Size",
    "avif_frame_size",
    "heif_primary_size",
    "heif_structure",
    "jpeg_structure",
    "webp_canvas_size",
]
