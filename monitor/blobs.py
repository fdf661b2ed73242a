"""Raw bodies as the store keeps them, read back checked, and ``verify`` over all of them.

Bodies are named by SHA-256 and compressed with zlib, each on its own.

Every blob decodes alone (``zlib.decompress`` or the bytes as they are), so a damaged blob harms
only the captures that share it and anyone can get the bytes back without this package.  Delta
encoding against a page's previous version would store near-duplicates in less space, but would
make one blob depend on another; the ``encoding`` column leaves room for it later.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from monitor.errors import IntegrityError
from monitor.models import BlobRow, CaptureRow, ChangeRow

if TYPE_CHECKING:
    from monitor.store import Store

# zlib's default level: on the 62 real pages of tests/data/footers it stores 19.4 % of the raw
# bytes against 19.2 % for level 9, in half the time.
ZLIB_LEVEL = 6
VERIFY_BATCH = 200  # blobs read per round trip while verifying


class Encoding(StrEnum):
    """How a blob's stored bytes encode the raw body."""

    ZLIB = "zlib"
    IDENTITY = "identity"  # kept as is when compression would not make it smaller


@dataclass(frozen=True, slots=True)
class EncodedBlob:
    """A body ready to store: its hash and size, and the bytes to write."""

    sha256: str
    size: int
    encoding: Encoding
    data: bytes


def sha256_hex(body: bytes) -> str:
    """The lowercase hex SHA-256 of ``body``: the name of its blob."""
    return hashlib.sha256(body).hexdigest()


def encode(body: bytes) -> EncodedBlob:
    """Compress ``body`` for storage, keeping it as is when zlib does not help."""
    packed = zlib.compress(body, ZLIB_LEVEL)
    if len(packed) < len(body):
        return EncodedBlob(sha256_hex(body), len(body), Encoding.ZLIB, packed)
    return EncodedBlob(sha256_hex(body), len(body), Encoding.IDENTITY, body)


def decode(encoding: str, data: bytes) -> bytes:
    """The raw body from stored bytes; ``ValueError`` when they cannot be decoded."""
    if encoding == Encoding.IDENTITY:
        return data
    if encoding == Encoding.ZLIB:
        try:
            return zlib.decompress(data)
        except zlib.error as exc:
            raise ValueError(f"zlib data is damaged: {exc}") from exc
    raise ValueError(f"unknown blob encoding {encoding!r}")


def read_body(session: Session, sha256: str) -> bytes:
    """The raw body with this SHA-256, checked against it.

    Raises :class:`IntegrityError` when the stored bytes are missing or no longer match.
    """
    row = session.execute(
        select(BlobRow.encoding, BlobRow.data).where(BlobRow.sha256 == sha256)
    ).one_or_none()
    if row is None:
        raise IntegrityError(f"blob {sha256}: missing from the store")
    try:
        body = decode(row.encoding, row.data)
    except ValueError as exc:
        raise IntegrityError(f"blob {sha256}: {exc}") from exc
    if sha256_hex(body) != sha256:
        raise IntegrityError(f"blob {sha256}: stored bytes hash to {sha256_hex(body)}")
    return body


class ProblemKind(StrEnum):
    """What :func:`verify` found wrong."""

    HASH_MISMATCH = "hash mismatch"  # the stored bytes no longer hash to their name
    UNDECODABLE = "undecodable"  # the stored bytes cannot be decompressed
    SIZE_MISMATCH = "size mismatch"  # a capture or blob records another size than the bytes
    MISSING_BLOB = "missing blob"  # a capture names a body the store does not hold


@dataclass(frozen=True)
class Problem:
    """One failed check, with the evidence it touches."""

    kind: ProblemKind
    sha256: str
    detail: str
    capture_ids: tuple[int, ...] = ()
    change_ids: tuple[int, ...] = ()

    def describe(self) -> str:
        """One line for the terminal."""
        line = f"{self.kind.value}: blob {self.sha256}: {self.detail}"
        line += f"; captures {_ids(self.capture_ids)}; changes {_ids(self.change_ids)}"
        return line


def _ids(ids: tuple[int, ...]) -> str:
    return ", ".join(map(str, ids)) if ids else "none"


@dataclass(frozen=True)
class VerifyReport:
    """How many blobs and captures :func:`verify` checked, and what failed."""

    blobs_checked: int
    captures_checked: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return not self.problems

    def summary(self) -> str:
        """One line for the terminal."""
        verdict = "all intact" if self.ok else f"{len(self.problems)} problem(s)"
        return f"checked {self.blobs_checked} blobs and {self.captures_checked} captures: {verdict}"


def verify(store: Store) -> VerifyReport:
    """Re-hash every blob against its SHA-256 and check every capture against its blob.

    Reads in its own read-only transaction, so writers go on while it runs.
    """
    with store.session(write=False) as session:
        found, blobs_checked = _check_blobs(session)
        found += _check_captures(session)
        captures_checked = session.scalar(select(func.count()).select_from(CaptureRow)) or 0
        problems = tuple(_with_evidence(session, problem) for problem in found)
    return VerifyReport(blobs_checked, captures_checked, problems)


def _check_blobs(session: Session) -> tuple[list[Problem], int]:
    problems: list[Problem] = []
    count = 0
    stmt = select(BlobRow.sha256, BlobRow.size, BlobRow.encoding, BlobRow.data)
    for row in session.execute(stmt.execution_options(yield_per=VERIFY_BATCH)):
        count += 1
        try:
            body = decode(row.encoding, row.data)
        except ValueError as exc:
            problems.append(Problem(ProblemKind.UNDECODABLE, row.sha256, str(exc)))
            continue
        actual = sha256_hex(body)
        if actual != row.sha256:
            problems.append(
                Problem(ProblemKind.HASH_MISMATCH, row.sha256, f"bytes hash to {actual}")
            )
        elif len(body) != row.size:
            detail = f"{len(body)} bytes, recorded as {row.size}"
            problems.append(Problem(ProblemKind.SIZE_MISMATCH, row.sha256, detail))
    return problems, count


def _check_captures(session: Session) -> list[Problem]:
    # A missing blob cannot happen through this module (a foreign key guards it), but a file
    # edited by hand or restored from a partial backup can lose one.
    stmt = (
        select(CaptureRow.sha256, CaptureRow.size, BlobRow.size.label("blob_size"))
        .outerjoin(BlobRow, BlobRow.sha256 == CaptureRow.sha256)
        .where(or_(BlobRow.sha256.is_(None), BlobRow.size != CaptureRow.size))
        .distinct()
    )
    problems: list[Problem] = []
    for row in session.execute(stmt):
        if row.blob_size is None:
            problems.append(Problem(ProblemKind.MISSING_BLOB, row.sha256, "no such blob"))
        else:
            detail = f"a capture records {row.size} bytes, the blob {row.blob_size}"
            problems.append(Problem(ProblemKind.SIZE_MISMATCH, row.sha256, detail))
    return problems


def _with_evidence(session: Session, problem: Problem) -> Problem:
    captures = tuple(
        session.scalars(
            select(CaptureRow.id).where(CaptureRow.sha256 == problem.sha256).order_by(CaptureRow.id)
        )
    )
    touching = or_(
        ChangeRow.before_capture_id.in_(captures), ChangeRow.after_capture_id.in_(captures)
    )
    changes = tuple(session.scalars(select(ChangeRow.id).where(touching).order_by(ChangeRow.id)))
    return Problem(problem.kind, problem.sha256, problem.detail, captures, changes)
