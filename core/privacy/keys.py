"""The data key and what it seals: content (AES-GCM) and participant identifiers (AES-SIV).

A configured key (32 random bytes, base64: ``switchboard privacy generate-key``) is never used
as it is: HKDF-SHA256 derives from it

- a key id (8 hex digits), written in every sealed value, so a value names the key that opens
  it (rotation, and a clear error for data sealed with a key that is not configured);
- an AES-256-GCM key for content: a random nonce per value, authenticated;
- an AES-256-SIV key for participant identifiers: deterministic (the same identifier seals to
  the same text under one key), so an equality lookup or a unique index works on the sealed
  column itself, and the identifier can still be shown. What it gives away is equality only,
  exactly what a keyed hash beside it would (docs/privacy.md).

A sealed value is text: ``sb:e1:<key id>:<base64url>`` (content) or ``sb:p1:<key id>:<base64url>``
(an identifier). The prefix, version and key id are authenticated with the value.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ConfigError

PREFIX = "sb:"
CONTENT = "sb:e1:"
IDENTIFIER = "sb:p1:"
_NONCE = 12
# Media files: a header naming the key, then the AES-GCM nonce and ciphertext of the whole file.
FILE_MAGIC = b"SBSEALED1\n"
# Large files (reports): a header naming the key with a random salt, then chunks of
# ``STREAM_CHUNK`` bytes each sealed on its own (below), so that neither sealing nor opening
# holds the file in memory.
STREAM_MAGIC = b"SBSTREAM1\n"
STREAM_CHUNK = 1 << 20
_SALT = 16
_TAG = 16
KEY_BYTES = 32


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class KeyMissing(Exception):
    """A sealed value names a key that is not configured, or does not open with it."""


def generate_key() -> str:
    """A new data key, as ``[privacy] key`` takes it (base64url, 32 random bytes)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")


def _decode_key(text: str, setting: str) -> bytes:
    cleaned = text.strip()
    try:
        raw = base64.urlsafe_b64decode(cleaned.replace("+", "-").replace("/", "_") + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != KEY_BYTES:
        raise ConfigError(
            f"{setting}: not a data key (expected 32 bytes in base64; make one with `switchboard privacy generate-key`)"
        )
    return raw


def _derive(master: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(master)


@dataclass(frozen=True)
class DataKey:
    id: str
    content: AESGCM
    identifier: AESSIV
    # What each chunked file's own key is derived from, with the file's salt (``seal_stream``).
    stream: bytes

    @classmethod
    def from_text(cls, text: str, setting: str) -> DataKey:
        master = _decode_key(text, setting)
        kid = _derive(master, b"switchboard privacy key id", 4).hex()
        return cls(
            kid,
            AESGCM(_derive(master, b"switchboard privacy content", 32)),
            AESSIV(_derive(master, b"switchboard privacy identifier", 64)),
            _derive(master, b"switchboard privacy stream", 32),
        )

    def file_key(self, salt: bytes) -> AESGCM:
        """The key of one chunked file: its chunks' nonces are counters, unique under it."""
        return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"switchboard file").derive(self.stream))


def _chunk_nonce(index: int, final: bool) -> bytes:
    # STREAM (Hoang, Reyhanitabar, Rogaway, Vizar 2015), as age and Tink use it: the chunk's
    # number, and whether it is the last, are in its nonce; a file cut at a chunk's end, or
    # chunks reordered, does not open.
    return index.to_bytes(11, "big") + (b"\x01" if final else b"\x00")


_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode()


class _Nonces:
    """Random 96-bit nonces, drawn from the OS a few hundred at a time (one system call per
    batch instead of one per value; each nonce is still independent and random)."""

    _BATCH = 512

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        with self._lock:
            if self._at >= len(self._pool):
                self._pool, self._at = os.urandom(_NONCE * self._BATCH), 0
            nonce = self._pool[self._at : self._at + _NONCE]
            self._at += _NONCE
            return nonce


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keyring:
    """The current key (what is written) and the previous ones (what may still be read)."""

    def __init__(self, current: str, previous: list[str] | tuple[str, ...] = ()) -> None:
        self.current = DataKey.from_text(current, "[privacy] key")
        self.keys: dict[str, DataKey] = {self.current.id: self.current}
        for i, text in enumerate(previous):
            key = DataKey.from_text(text, f"[privacy] previous_keys[{i}]")
            self.keys.setdefault(key.id, key)
        self._nonces = _Nonces()
        self._content_head = f"{CONTENT}{self.current.id}:"
        self._content_aad = self._content_head.encode()

    @property
    def ids(self) -> list[str]:
        """Every configured key's id, the current one first."""
        return list(self.keys)

    def _key(self, kid: str) -> DataKey:
        key = self.keys.get(kid)
        if key is None:
            raise KeyMissing(
                f"personal data is sealed with key id {kid}, which is not configured in [privacy] key or previous_keys"
            )
        return key

    # Content.
    def seal(self, text: str | bytes) -> str:
        """``text`` (or UTF-8 bytes) sealed with the current key (a fresh nonce each time)."""
        data = text.encode() if isinstance(text, str) else text
        nonce = self._nonces.next()
        return self._content_head + _b64(nonce + self.current.content.encrypt(nonce, data, self._content_aad))

    def seal_bytes(self, data: bytes) -> bytes:
        """A file's bytes sealed with the current key (``FILE_MAGIC``, key id, nonce, ciphertext)."""
        nonce = self._nonces.next()
        head = FILE_MAGIC + self.current.id.encode()
        return head + nonce + self.current.content.encrypt(nonce, data, head)

    def open_bytes(self, data: bytes) -> bytes:
        """A file's bytes as stored: opened if sealed, as they are otherwise."""
        if not data.startswith(FILE_MAGIC):
            return data
        head = data[: len(FILE_MAGIC) + 8]
        key = self._key(head[len(FILE_MAGIC) :].decode("ascii", "replace"))
        body = data[len(head) :]
        try:
            return key.content.decrypt(body[:_NONCE], body[_NONCE:], head)
        except InvalidTag as exc:
            raise KeyMissing(f"a media file sealed with key id {key.id} does not open with it") from exc

    def seal_stream(self, source: Readable, target: BinaryIO) -> None:
        """Write ``source``'s bytes to ``target`` sealed with the current key, a chunk at a time."""
        with self.sealing_writer(target) as sealed:
            while chunk := source.read(STREAM_CHUNK):
                sealed.write(chunk)

    def sealing_writer(self, target: BinaryIO) -> SealingWriter:
        """A file-like object whose ``write``s go to ``target`` sealed as ``seal_stream`` seals
        (for a writer that makes its output bit by bit, such as ``zipfile``). Close it (or use it
        as a context manager) to write the last chunk: a file not closed does not open."""
        salt = os.urandom(_SALT)
        head = STREAM_MAGIC + self.current.id.encode() + salt
        target.write(head)
        return SealingWriter(target, self.current.file_key(salt), head)

    def open_stream(self, source: BinaryIO) -> Iterator[bytes]:
        """The clear bytes of what ``seal_stream`` wrote, a chunk at a time (``KeyMissing`` when
        its key is not configured, or it was altered or cut short)."""
        head = source.read(len(STREAM_MAGIC) + 8 + _SALT)
        if not head.startswith(STREAM_MAGIC) or len(head) < len(STREAM_MAGIC) + 8 + _SALT:
            raise KeyMissing("not a sealed file")
        key = self._key(head[len(STREAM_MAGIC) : len(STREAM_MAGIC) + 8].decode("ascii", "replace"))
        aead = key.file_key(head[-_SALT:])
        index, block = 0, source.read(STREAM_CHUNK + _TAG)
        while True:
            following = source.read(STREAM_CHUNK + _TAG)
            final = not following
            try:
                yield aead.decrypt(_chunk_nonce(index, final), block, head)
            except InvalidTag as exc:
                raise KeyMissing(f"a file sealed with key id {key.id} does not open: altered or cut short") from exc
            if final:
                return
            index, block = index + 1, following

    # Identifiers.
    def seal_identifier(self, value: str, key: DataKey | None = None) -> str:
        """``value`` sealed deterministically (the same text each time, for lookups)."""
        key = key or self.current
        head = f"{IDENTIFIER}{key.id}:"
        return head + _b64(key.identifier.encrypt(value.encode(), [head.encode()]))

    def identifier_forms(self, value: str) -> list[str]:
        """``value`` sealed with each configured key (a lookup during a rotation matches them all)."""
        return [self.seal_identifier(value, key) for key in self.keys.values()]

    # Either.
    def open(self, value: str) -> str:
        """A sealed value's text; a value that is not sealed (stored before the key was set) as it is."""
        if not value.startswith(PREFIX):
            return value
        head_end = value.find(":", 6)
        if head_end != 14 or value[:6] not in (CONTENT, IDENTIFIER):
            return value
        head = value[: head_end + 1]
        key = self._key(value[6:head_end])
        try:
            data = _unb64(value[head_end + 1 :])
            if value[:6] == CONTENT:
                plain = key.content.decrypt(data[:_NONCE], data[_NONCE:], head.encode())
            else:
                plain = key.identifier.decrypt(data, [head.encode()])
        except (InvalidTag, binascii.Error, ValueError) as exc:
            raise KeyMissing(f"a value sealed with key id {key.id} does not open with it") from exc
        return plain.decode()

    def is_current(self, value: str) -> bool:
        """Whether a stored value is sealed with the current key (rotation skips it)."""
        return value[6:14] == self.current.id and value[:6] in (CONTENT, IDENTIFIER)


def sealed_key_id(value: str) -> str | None:
    """The key id a stored value names (``None``: not sealed)."""
    if value.startswith(PREFIX) and value[:6] in (CONTENT, IDENTIFIER) and value[14:15] == ":":
        return value[6:14]
    return None


class SealingWriter(io.RawIOBase):
    """Seals what is written in chunks of ``STREAM_CHUNK`` (``Keyring.sealing_writer``).

    A chunk is sealed once more bytes follow it, so that the last one (possibly empty, possibly
    whole) is sealed as the last when the writer is closed. ``tell`` counts the clear bytes
    written; the writer cannot seek (``zipfile`` then writes sizes after each member).
    """

    def __init__(self, target: BinaryIO, aead: AESGCM, head: bytes) -> None:
        self._target, self._aead, self._head = target, aead, head
        self._buffer = bytearray()
        self._index = 0
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        if self.closed:
            raise ValueError("write to a closed sealing writer")
        view = memoryview(data).cast("B")
        size = len(view)
        self._written += size
        while view:
            if len(self._buffer) == STREAM_CHUNK:  # full, and more follows: not the last chunk
                self._seal(self._buffer, final=False)
                self._buffer.clear()
            room = STREAM_CHUNK - len(self._buffer)
            self._buffer += view[:room]
            view = view[room:]
        return size

    def tell(self) -> int:
        return self._written

    def close(self) -> None:
        if not self.closed:
            self._seal(self._buffer, final=True)
            self._buffer.clear()
        super().close()

    def _seal(self, chunk: bytearray, *, final: bool) -> None:
        self._target.write(self._aead.encrypt(_chunk_nonce(self._index, final), chunk, self._head))
        self._index += 1
