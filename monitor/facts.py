"""The facts a page states about who owns and runs it.

These frozen dataclasses are what ``extract`` produces, what ``compare`` compares and what the
store keeps (as the JSON of :meth:`Facts.to_json`).  They hold no I/O and no ORM state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """What an entity is to the site, as the page states it."""

    COPYRIGHT_HOLDER = "copyright_holder"
    OPERATOR = "operator"
    PARENT = "parent"
    LICENSOR = "licensor"
    VENDOR = "vendor"
    OTHER = "other"


class Source(StrEnum):
    """Where on the page a fact was found."""

    FOOTER = "footer"
    JSONLD = "jsonld"
    META = "meta"
    IMPRINT = "imprint"
    BODY = "body"


class RegistrationKind(StrEnum):
    """Kinds of registration number a page may display."""

    ICP_FILING = "icp_filing"  # 京ICP备12025439号-3: MIIT website filing
    ICP_LICENSE = "icp_license"  # 京ICP证030173号: commercial ICP licence
    TELECOM_LICENSE = "telecom_license"  # 沪B2-20180235: value-added telecom licence
    PSB_FILING = "psb_filing"  # 京公网安备 11010502030071号: public-security filing
    CN_LICENSE = "cn_license"  # other 许可证 (news, audio-visual, publishing ...)
    CN_USCC = "cn_uscc"  # 统一社会信用代码 (18 characters)
    UK_COMPANY = "uk_company"
    DE_VAT = "de_vat"
    DE_HRB = "de_hrb"
    EU_VAT = "eu_vat"


@dataclass(frozen=True, slots=True)
class Entity:
    """A legal entity named on the page, spelled as written (NFKC, whitespace folded).

    ``place`` is a leading place name kept apart from the rest (北京市 in
    北京市商汤科技开发有限公司, Beijing in "Beijing SenseTime ..."), because a change of
    place is the evidence investigators look for. ``core`` is the name without place and
    legal form; ``legal_form_code`` is the canonical form (``ltd``, ``gmbh``, ``coltd``...)
    used for comparison, never for display.
    """

    name: str
    legal_form: str | None
    role: Role
    source: Source
    place: str | None = None
    core: str | None = None
    legal_form_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "legal_form": self.legal_form,
            "role": self.role.value,
            "source": self.source.value,
            "place": self.place,
            "core": self.core,
            "legal_form_code": self.legal_form_code,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entity:
        return cls(
            name=data["name"],
            legal_form=data.get("legal_form"),
            role=Role(data["role"]),
            source=Source(data["source"]),
            place=data.get("place"),
            core=data.get("core"),
            legal_form_code=data.get("legal_form_code"),
        )


@dataclass(frozen=True, slots=True)
class CopyrightLine:
    """One copyright or ownership line, with the holders and the year range it names."""

    text: str
    holders: tuple[str, ...]
    years: tuple[int, int] | None
    source: Source = Source.FOOTER

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "holders": list(self.holders),
            "years": list(self.years) if self.years else None,
            "source": self.source.value,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CopyrightLine:
        years = data.get("years")
        return cls(
            text=data["text"],
            holders=tuple(data.get("holders", ())),
            years=(int(years[0]), int(years[1])) if years else None,
            source=Source(data.get("source", Source.FOOTER.value)),
        )


@dataclass(frozen=True, slots=True)
class Registration:
    """A registration number as spelled on the page, with the region its prefix names."""

    kind: RegistrationKind
    number: str
    region: str | None = None
    label: str | None = None  # the licence's own name for CN_LICENSE (互联网新闻信息服务许可证)
    valid: bool | None = None  # checksum verdict where the scheme has one (python-stdnum)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "number": self.number,
            "region": self.region,
            "label": self.label,
            "valid": self.valid,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Registration:
        return cls(
            kind=RegistrationKind(data["kind"]),
            number=data["number"],
            region=data.get("region"),
            label=data.get("label"),
            valid=data.get("valid"),
        )


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything one page says about its owner and operator.

    ``readable`` is False when the page carries no ownership signal at all (an error page, a
    bot challenge, a truncated body): such a capture is skipped, never read as the entity
    vanishing.  ``conflicts`` lists disagreements worth an analyst's eye, such as visible text
    and JSON-LD naming different entities.
    """

    operator: str | None
    copyright: tuple[CopyrightLine, ...] = ()
    entities: tuple[Entity, ...] = ()
    registrations: tuple[Registration, ...] = ()
    conflicts: tuple[str, ...] = ()
    readable: bool = True
    extractor_version: str = ""
    warnings: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "operator": self.operator,
            "copyright": [c.to_json() for c in self.copyright],
            "entities": [e.to_json() for e in self.entities],
            "registrations": [r.to_json() for r in self.registrations],
            "conflicts": list(self.conflicts),
            "readable": self.readable,
            "extractor_version": self.extractor_version,
            "warnings": list(self.warnings),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Facts:
        return cls(
            operator=data.get("operator"),
            copyright=tuple(CopyrightLine.from_json(c) for c in data.get("copyright", ())),
            entities=tuple(Entity.from_json(e) for e in data.get("entities", ())),
            registrations=tuple(Registration.from_json(r) for r in data.get("registrations", ())),
            conflicts=tuple(data.get("conflicts", ())),
            readable=bool(data.get("readable", True)),
            extractor_version=data.get("extractor_version", ""),
            warnings=tuple(data.get("warnings", ())),
        )
