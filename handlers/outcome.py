"""What the image core hands back: the renditions it made (`Processed`, each `Rendition` of one
size in several formats, each `Source` one encoded file), or a typed refusal (`ImageRejected`);
and `describe`, their JSON shape, the one the record stores. Plain data: no Pillow, no AWS."""

from __future__ import annotations

from dataclasses import dataclass, field

# Refusals the processor makes of a whole file (not of its pixels): exact duplicates
# (`handlers.duplicates`). The image core's own codes are raised where they are found.
HASH_MISMATCH = "hash_mismatch"  # the bytes are not the ones whose SHA-256 the upload declared
DUPLICATE = "duplicate"  # the owner already has an image with these bytes: `duplicateOf` names it


class ImageRejected(Exception):
    """The input is not something we can turn into renditions; `code` is stable. `fields`: what
    the refused record and its manifest keep besides the error (a duplicate's `duplicateOf`)."""

    def __init__(self, code: str, message: str, fields: dict | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}


@dataclass(frozen=True)
class Source:
    """One encoded file of a rendition."""

    data: bytes = field(repr=False)
    width: int
    height: int
    content_type: str

    @property
    def extension(self) -> str:
        return _EXTENSIONS[self.content_type]


_EXTENSIONS = {"image/avif": "avif", "image/jpeg": "jpg", "image/webp": "webp", "image/png": "png"}


@dataclass(frozen=True)
class Rendition:
    """One size of the photo, in each format of the spec: `sources` modern first (what a browser
    that supports it picks, in `<picture>`), the last one the fallback that every browser shows."""

    name: str
    sources: tuple[Source, ...]

    @property
    def fallback(self) -> Source:
        return self.sources[-1]

    # The fallback stands for the rendition where one file is meant.
    data = property(lambda self: self.fallback.data)
    width = property(lambda self: self.fallback.width)
    height = property(lambda self: self.fallback.height)
    content_type = property(lambda self: self.fallback.content_type)


@dataclass(frozen=True)
class Processed:
    """What we learned about the source, and the renditions made from it."""

    format: str
    content_type: str
    width: int  # oriented: as a person sees it
    height: int
    frames: int
    has_alpha: bool
    colour: str  # "srgb" (converted from an embedded ICC profile) or "assumed-srgb"
    renditions: dict[str, Rendition]
    spec_version: str = ""
    placeholder: str = ""  # ThumbHash, base64: the page paints it before the image arrives
    dominant_color: str = ""  # "#rrggbb", painted before the placeholder is decoded
    facts: dict = field(default_factory=dict)  # photo facts from EXIF (never GPS or serial numbers)
    peak_bytes: int = 0  # the decode budget's estimate of this file's peak memory (handlers.probe.budget)
    phash: str = ""  # the perceptual hash of the smallest rendition, 16 hex digits (handlers.similarity)

    @property
    def rendition_bytes(self) -> int:
        """Every file of every rendition, each once (sizes a small source cannot fill share theirs)."""
        files = {id(source): source for rendition in self.renditions.values() for source in rendition.sources}
        return sum(len(source.data) for source in files.values())


def describe(result: Processed) -> dict:
    """A JSON-friendly summary, the same shape the record stores. Each rendition's own fields are
    its fallback's (what one-file clients show); `sources` lists every format, modern first."""
    return {
        "format": result.format,
        "contentType": result.content_type,
        "width": result.width,
        "height": result.height,
        "frames": result.frames,
        "hasAlpha": result.has_alpha,
        "colour": result.colour,
        "specVersion": result.spec_version,
        "placeholder": result.placeholder,
        "dominantColor": result.dominant_color,
        "facts": result.facts,
        "phash": result.phash,
        "renditions": {
            name: {**_describe_source(r.fallback), "sources": [_describe_source(s) for s in r.sources]}
            for name, r in result.renditions.items()
        },
    }


def _describe_source(source: Source) -> dict:
    return {
        "width": source.width,
        "height": source.height,
        "bytes": len(source.data),
        "contentType": source.content_type,
    }
