"""Reader of the IDX format of MNIST and Fashion-MNIST (raw or gzipped files).

An IDX file is a magic number (two zero bytes, the element type, the number of dimensions), one
big-endian uint32 per dimension, then the data, which must fill the rest of the file exactly.
"""

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from .files import check_digest, check_labels, known_digest

_IDX_IMAGES_MAGIC = 2051  # unsigned bytes, 3 dimensions
_IDX_LABELS_MAGIC = 2049  # unsigned bytes, 1 dimension
_IDX_IMAGE_SHAPE = (28, 28)


def _read_bytes(path):
    """Return the bytes of `path`, decompressed when its name ends in ``.gz``."""
    path = Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(
            f"{path} is not a readable gzip file ({exc}): it is corrupt or truncated. Delete it "
            "and download it again."
        ) from exc


_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path, *, expected_magic=None, digest=None):
    """Read an IDX file (raw or ``.gz``) into an array of the dimensions its header gives.

    The magic number is the first four bytes read as a big-endian int: two zero bytes, the
    element type and the number of dimensions (2051 for unsigned-byte images of three
    dimensions, 2049 for unsigned-byte labels of one). Then come one big-endian uint32 per
    dimension and the data, which must fill the rest of the file exactly.
    """
    data = _read_bytes(path)
    check_digest(data, path, digest)
    if len(data) < 4:
        raise ValueError(f"{path} holds {len(data)} bytes, too few for an IDX header.")
    magic = int.from_bytes(data[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(
            f"{path} has magic number {magic}, expected {expected_magic} "
            f"({'images' if expected_magic == _IDX_IMAGES_MAGIC else 'labels'} in IDX format). "
            "It is not the file its name says, or it is corrupt: download it again."
        )
    type_code, n_dims = data[2], data[3]
    if data[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES or n_dims == 0:
        raise ValueError(
            f"{path} is not an IDX file (magic number {magic}: the first two bytes must be zero, "
            f"the third one of {sorted(_IDX_DTYPES)}, the fourth a positive dimension count)."
        )
    header_end = 4 + 4 * n_dims
    if len(data) < header_end:
        raise ValueError(f"{path} is truncated inside its IDX header ({len(data)} bytes).")
    dims = struct.unpack(f">{n_dims}I", data[4:header_end])
    dtype = _IDX_DTYPES[type_code]
    count = math.prod(dims)
    n_bytes = len(data) - header_end
    if n_bytes != count * dtype.itemsize:
        raise ValueError(
            f"{path}: its header announces dimensions {dims} ({count * dtype.itemsize} bytes of "
            f"data) but {n_bytes} bytes follow. The file is truncated or corrupt: download it "
            "again."
        )
    return np.frombuffer(data, dtype=dtype, count=count, offset=header_end).reshape(dims)


def read_idx_pair(name, images_path, labels_path):
    """Read and cross-check an IDX images file and its labels file."""
    images = read_idx(
        images_path,
        expected_magic=_IDX_IMAGES_MAGIC,
        digest=known_digest(name, images_path),
    )
    labels = read_idx(
        labels_path,
        expected_magic=_IDX_LABELS_MAGIC,
        digest=known_digest(name, labels_path),
    )
    if images.shape[1:] != _IDX_IMAGE_SHAPE:
        raise ValueError(
            f"{images_path} holds images of {images.shape[1]}×{images.shape[2]} pixels; "
            f"{name} images are {_IDX_IMAGE_SHAPE[0]}×{_IDX_IMAGE_SHAPE[1]}."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; they must come from the same split. Download both again."
        )
    check_labels(labels, labels_path)
    return images.reshape(images.shape[0], -1), labels.astype(np.int64)
