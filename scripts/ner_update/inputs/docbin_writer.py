"""Write a .spacy file one doc at a time; prints nothing.

DocBin keeps every doc's arrays until `to_bytes` joins them (and copies them
twice more), so its memory grows with the corpus. `write_docs` writes the same
bytes as `DocBin(docs=docs, store_user_data=False).to_disk(path)` (a test
checks it), streaming the token arrays into the compressor; what it keeps is a
byte or two per token (spaces), a few bytes per doc and the set of strings.
It uses DocBin.add for each doc, so the per-doc content is spaCy's own.
"""

import zlib
from array import array
from pathlib import Path
from typing import BinaryIO, Iterable

from spacy.tokens import Doc, DocBin
from srsly import msgpack


class _Stream:
    """msgpack pieces, zlib-compressed into a file."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.packer = msgpack.Packer(use_bin_type=True)
        self.zlib = zlib.compressobj()

    def raw(self, data: bytes) -> None:
        self.handle.write(self.zlib.compress(data))

    def pack(self, obj: object) -> None:
        self.raw(self.packer.pack(obj))

    def bin_header(self, size: int) -> None:
        """The header of a msgpack bin of `size` bytes, as msgpack itself writes it."""
        if size < 2**8:
            self.raw(b"\xc4" + size.to_bytes(1, "big"))
        elif size < 2**16:
            self.raw(b"\xc5" + size.to_bytes(2, "big"))
        else:
            self.raw(b"\xc6" + size.to_bytes(4, "big"))

    def close(self) -> None:
        self.handle.write(self.zlib.flush())


def write_docs(docs: Iterable[Doc], n_tokens: int, path: Path) -> int:
    """Write docs (with `n_tokens` tokens in all) to a .spacy file; return the number of docs.

    Raises ValueError if the docs do not have n_tokens tokens.
    """
    attrs = DocBin(store_user_data=False).attrs
    spaces, lengths, strings = bytearray(), array("i"), set()
    cats, flags, span_groups = bytearray(), bytearray(), bytearray()
    packer = msgpack.Packer(use_bin_type=True)
    written = 0
    with path.open("wb") as handle:
        out = _Stream(handle)
        out.raw(packer.pack_map_header(9))  # the keys of DocBin.to_bytes, in its order
        for key, value in (("version", DocBin().version), ("attrs", attrs)):
            out.pack(key)
            out.pack(value)
        out.pack("tokens")
        out.bin_header(n_tokens * len(attrs) * 8)
        for doc in docs:
            one = DocBin(attrs=attrs, store_user_data=False)
            one.add(doc)
            out.raw(one.tokens[0].tobytes("C"))
            spaces += one.spaces[0].tobytes("C")
            lengths.append(len(one.tokens[0]))
            strings |= one.strings
            cats += packer.pack(one.cats[0])
            flags += packer.pack(one.flags[0])
            span_groups += packer.pack(one.span_groups[0])
            written += len(one.tokens[0])
        if written != n_tokens:
            raise ValueError(f"expected {n_tokens} tokens, the docs have {written}")
        out.pack("spaces")
        out.pack(bytes(spaces))
        out.pack("lengths")
        out.pack(lengths.tobytes())
        out.pack("strings")
        out.pack(sorted(strings))
        for key, packed in (("cats", cats), ("flags", flags), ("span_groups", span_groups)):
            out.pack(key)
            out.raw(packer.pack_array_header(len(lengths)))
            out.raw(bytes(packed))
        out.close()
    return len(lengths)
