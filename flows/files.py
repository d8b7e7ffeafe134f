"""A stored file as a flow carries it from its plan to its work: what is needed to copy it and
check its hash, without the ORM row (plans cross task boundaries and must be plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from storage.case.models import StoredFile


@dataclass(frozen=True)
class FileRef:
    id: int
    filename: str
    kind: str
    sha256: str
    size: int
    page_count: int
    object_key: str

    @classmethod
    def of(cls, f: StoredFile, **extra: Any) -> Self:
        return cls(id=f.id, filename=f.filename, kind=f.kind, sha256=f.sha256, size=f.size,
                   page_count=f.page_count, object_key=f.object_key, **extra)
