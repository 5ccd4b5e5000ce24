"""What a photo carries besides its pixels, kept on what ``enhance`` writes.

``read_metadata`` takes from an open photo its EXIF, ICC profile and XMP packet; ``pillow_options``
gives the options that write them with Pillow in PNG, JPEG, WebP and TIFF (BMP holds none), the
EXIF rewritten for the picture actually written: no orientation (it is applied), no tags of the
input file's own layout (bits per sample, strips, compression: a TIFF's, which the writer sets
anew), the pixel dimensions of the output (a super-resolution model enlarges it); the XMP likewise.
``png_chunks`` gives the same as PNG chunks for the 16-bit writer, ``copy_times`` puts the input
file's access and modification times on the output (photo managers sort by them).
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image, PngImagePlugin

ORIENTATION = 0x0112
XMP_TAG = 700  # a TIFF's XMP packet
ICC_TAG = 34675  # a TIFF's ICC profile
# tags of a TIFF file's layout, which Pillow's getexif() returns with the EXIF of a TIFF: they describe
# the input file, not the output (a TIFF writer sets its own; in a PNG or JPEG they would lie)
LAYOUT_TAGS = frozenset(
    {
        0x00FE, 0x00FF, 0x0100, 0x0101, 0x0102, 0x0103, 0x0106, 0x0107, 0x010A, 0x0111, 0x0115, 0x0116,
        0x0117, 0x0118, 0x0119, 0x011C, 0x0122, 0x0123, 0x0124, 0x0125, 0x013D, 0x0140, 0x0142, 0x0143,
        0x0144, 0x0145, 0x014A, 0x0152, 0x0153, 0x0154, 0x0155, 0x0201, 0x0202, 0x0211, 0x0212, 0x0213,
        0x0214, ORIENTATION, XMP_TAG, ICC_TAG,
    }
)  # fmt: skip
SUB_IFDS = (ExifTags.IFD.Exif, ExifTags.IFD.GPSInfo)
PIXEL_X, PIXEL_Y = 0xA002, 0xA003  # in the Exif IFD: the picture's width and height
INTEROP = 0xA005  # in the Exif IFD: an offset, which would point nowhere once written elsewhere


@dataclass(frozen=True)
class Metadata:
    exif: Image.Exif | None  # as read; rewritten by ``exif_for`` for each output
    icc: bytes | None
    xmp: bytes | None


def read_metadata(image: Image.Image) -> Metadata:
    """The EXIF, ICC profile and XMP of an open photo (a CMYK photo's profile is dropped: its
    pixels are written as RGB, and a CMYK profile would lie about them)."""
    exif: Image.Exif | None = None
    try:
        exif = image.getexif()
        for ifd in SUB_IFDS:
            exif.get_ifd(ifd)  # read now, while the file is open
    except Exception:  # a broken EXIF block does not make the photo unusable
        exif = None
    icc = image.info.get("icc_profile") if image.mode != "CMYK" else None
    xmp = image.info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode()
    return Metadata(exif if exif else None, icc or None, xmp or None)


def exif_for(exif: Image.Exif | None, width: int, height: int) -> Image.Exif | None:
    """``exif`` as the EXIF of a written picture of ``width`` × ``height`` (None: nothing to write)."""
    if exif is None:
        return None
    written = Image.Exif()
    for tag, value in exif.items():
        if tag in SUB_IFDS:
            value = {key: item for key, item in exif.get_ifd(tag).items() if key != INTEROP}
            if tag == ExifTags.IFD.Exif and PIXEL_X in value:
                value.update({PIXEL_X: width, PIXEL_Y: height})
        if tag not in LAYOUT_TAGS:
            written[tag] = value
    if not written:
        return None
    try:
        written.tobytes()
    except Exception:  # a value Pillow cannot write back: the EXIF is left out rather than the photo
        return None
    return written


def xmp_for(xmp: bytes | None, width: int, height: int) -> bytes | None:
    """``xmp`` with the orientation of the picture as written (upright) and its dimensions."""
    if xmp is None:
        return None
    for name, value in (
        (b"tiff:Orientation", 1),
        (b"exif:PixelXDimension", width),
        (b"exif:PixelYDimension", height),
        (b"tiff:ImageWidth", width),
        (b"tiff:ImageLength", height),
    ):
        new = str(value).encode()
        xmp = re.sub(rb"(" + name + rb'=")[^"]*(")', rb"\g<1>" + new + rb"\g<2>", xmp)
        xmp = re.sub(rb"(<" + name + rb">)[^<]*(</)", rb"\g<1>" + new + rb"\g<2>", xmp)
    return xmp


def pillow_options(kind: str, metadata: Metadata, size: tuple[int, int]) -> dict[str, Any]:
    """The options of Pillow's ``save`` that write ``metadata`` into a ``kind`` file (PNG, JPEG,
    WEBP, TIFF; BMP holds none) of ``size`` (width, height)."""
    if kind not in ("PNG", "JPEG", "WEBP", "TIFF"):
        return {}
    options: dict[str, Any] = {}
    if metadata.icc:
        options["icc_profile"] = metadata.icc
    exif = exif_for(metadata.exif, *size)
    xmp = xmp_for(metadata.xmp, *size)
    if kind == "TIFF":  # Pillow writes a TIFF's tags from one mapping: the EXIF, and the XMP among them
        if xmp is not None:
            exif = exif if exif is not None else Image.Exif()
            exif[XMP_TAG] = xmp
        return {**options, "exif": exif.tobytes()} if exif is not None else options
    if exif is not None:
        options["exif"] = exif.tobytes()
    if xmp is None:
        return options
    if kind == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"))
        options["pnginfo"] = info
    else:
        options["xmp"] = xmp
    return options


def png_chunks(metadata: Metadata, size: tuple[int, int]) -> list[tuple[bytes, bytes]]:
    """``metadata`` as PNG chunks (type, data) for a picture of ``size``: iCCP, eXIf, iTXt (XMP)."""
    chunks = []
    if metadata.icc:
        chunks.append((b"iCCP", b"ICC Profile\0\0" + zlib.compress(metadata.icc)))
    if (exif := exif_for(metadata.exif, *size)) is not None:
        chunks.append((b"eXIf", exif.tobytes()[6:]))  # without the "Exif\0\0" of a JPEG's APP1
    if (xmp := xmp_for(metadata.xmp, *size)) is not None:
        chunks.append((b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + xmp))
    return chunks


def with_png_chunks(png: bytes, chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG file's bytes with ``chunks`` inserted after its header chunk (IHDR)."""
    end_of_header = 8 + 4 + 4 + 13 + 4  # signature, then IHDR: length, type, 13 bytes, CRC
    extra = b"".join(
        len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big") for kind, data in chunks
    )
    return png[:end_of_header] + extra + png[end_of_header:]


def copy_times(source: Path, target: Path) -> None:
    """Give ``target`` the access and modification times of ``source``."""
    status = source.stat()
    os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns))
