"""The records of one CloudTrail log file: a gzipped `{"Records": [...]}`. A file of up to
`WHOLE` bytes of text is decoded in one go (most are well under); a larger one is streamed, read
a chunk at a time and decoded one record at a time, so memory is bounded by the largest record,
not by the file (CloudTrail User Guide, "CloudTrail log file examples")."""

from __future__ import annotations

import codecs
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from typing import IO, Any

CHUNK = 256 * 1024
# Decoded at once up to this much text: several times faster than record by record, and a few
# tens of MB of objects at most.
WHOLE = 4 * 1024 * 1024
# No CloudTrail record comes near this (a record is at most a few hundred kB); past it the
# object is taken as corrupt rather than buffered without end.
MAX_RECORD = 8 * 1024 * 1024
_SPACE = " \t\r\n"
_decoder = json.JSONDecoder()


class CorruptObject(Exception):
    """The object is not a whole gzipped CloudTrail log file; the reason says what was wrong."""


class _Text:
    """Decompressed text with a read position; compacted as records are consumed."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._gz = gzip.GzipFile(fileobj=raw)
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self.buf = ""
        self.pos = 0
        self.eof = False

    def more(self) -> bool:
        """Read the next chunk; False at the end of the file."""
        if self.eof:
            return False
        try:
            data = self._gz.read(CHUNK)
        except (OSError, EOFError, zlib.error) as exc:
            raise CorruptObject(f"not a whole gzip file ({exc})") from None
        try:
            text = self._utf8.decode(data, final=not data)
        except UnicodeDecodeError:
            raise CorruptObject("not UTF-8 text") from None
        if not data:
            self.eof = True
            return False
        if self.pos:
            self.buf, self.pos = self.buf[self.pos :], 0
        self.buf += text
        return True

    def skip_space(self) -> str:
        """The next non-blank character (read as needed), '' at the end of the file."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in _SPACE:
                self.pos += 1
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self.more():
                return ""

    def expect(self, token: str, what: str) -> None:
        self.skip_space()
        while len(self.buf) - self.pos < len(token) and self.more():
            pass
        if not self.buf.startswith(token, self.pos):
            raise CorruptObject(f"expected {what}")
        self.pos += len(token)

    def value(self) -> Any:
        """Decode the JSON value at the position, reading more while it is incomplete."""
        self.skip_space()  # raw_decode does not skip blanks itself
        while True:
            try:
                value, end = _decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError:
                if len(self.buf) - self.pos > MAX_RECORD:
                    raise CorruptObject("a record larger than 8 MiB") from None
                if not self.more():
                    raise CorruptObject("truncated or not JSON") from None
                continue
            self.pos = end
            return value


def records_of(body: bytes) -> Iterator[dict[str, Any]]:
    """Each record of a gzipped log file, in order; raises CorruptObject (possibly after the
    records before the fault) when the file is cut off, not gzip, or not CloudTrail's JSON."""
    text = _whole(body)
    if text is None:
        return iter_records(io.BytesIO(body))
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise CorruptObject("truncated or not JSON") from None
    records = doc.get("Records") if isinstance(doc, dict) else None
    if not isinstance(records, list) or set(doc) != {"Records"}:
        raise CorruptObject('expected a "Records" list')
    if not all(isinstance(r, dict) for r in records):
        raise CorruptObject("a record that is not an object")
    return iter(records)


def _whole(body: bytes) -> bytes | None:
    """The decompressed file when it is at most WHOLE bytes; None when it is larger."""
    inflate = zlib.decompressobj(wbits=31)  # gzip
    try:
        text = inflate.decompress(body, WHOLE + 1)
        if len(text) > WHOLE or inflate.unconsumed_tail:
            return None
        text += inflate.flush()
    except zlib.error as exc:
        raise CorruptObject(f"not a whole gzip file ({exc})") from None
    if not inflate.eof:
        raise CorruptObject("not a whole gzip file (it ends early)")
    if inflate.unused_data:
        return None  # several gzip members: the stream reads them all
    return text


def iter_records(raw: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Each record of the gzipped log file in `raw`, streamed, in order; raises CorruptObject
    (after the records before the fault) when the file is cut off, not gzip, or not
    CloudTrail's JSON."""
    text = _Text(raw)
    text.expect("{", "a JSON object")
    text.expect('"Records"', 'a "Records" list')
    text.expect(":", "':'")
    text.expect("[", "a list of records")
    if text.skip_space() == "]":
        text.pos += 1
        _end(text)
        return
    while True:
        record = text.value()
        if not isinstance(record, dict):
            raise CorruptObject("a record that is not an object")
        yield record
        nxt = text.skip_space()
        if nxt == ",":
            text.pos += 1
            continue
        if nxt == "]":
            text.pos += 1
            _end(text)
            return
        raise CorruptObject("truncated or not JSON")


def _end(text: _Text) -> None:
    # Keys after "Records" are not CloudTrail's; a cut-off file ends before the closing brace.
    if text.skip_space() != "}":
        raise CorruptObject("truncated after the records")
    text.pos += 1
    if text.skip_space():
        raise CorruptObject("text after the log file's object")
