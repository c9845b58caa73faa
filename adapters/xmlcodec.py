"""Shared machinery of the XML adapters (法院、检察院、公安): secure parsing, XSD validation and a
small declarative mapping between native documents and canonical messages.

Each native document type is one table of rows (native path, canonical dotted path, converter
pair) read in one direction by `XmlFormat.parse` and written in the other by `XmlFormat.render`,
so that native → canonical → native keeps every field by construction. Tables speak in terms of
the canonical *message* (`message_id`, `sender`, `documents`); `parse` then keeps only what a
draft may claim, because the sender and the message id are the gateway's to set.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

import contracts
from adapters.base import InboundError, UnsupportedKind
from contracts.catalog import spec_of
from contracts.common import Agency
from contracts.envelope import AttachmentClaim, Draft

XSD_DIR = Path(contracts.__file__).parent / "xsd"

MAX_DOCUMENT_BYTES = 4 * 1024 * 1024  # the XML only: legal documents travel as separate files
BEIJING = timezone(timedelta(hours=8))  # agency systems write local time without an offset

ERROR_CODES = {
    "xml_empty": "报文为空",
    "xml_limit_exceeded": "超出大小或嵌套层数限制",
    "xml_forbidden_dtd": "含有DOCTYPE或ENTITY声明",
    "xml_encoding_unsupported": "声明的字符编码不是UTF-8、GBK或GB18030",
    "xml_encoding_invalid": "字节不符合声明的字符编码",
    "xml_malformed": "不是格式正确的XML",
    "xml_wrong_namespace": "根元素的命名空间或版本不是本接口所支持的",
    "xml_unknown_document": "命名空间正确但文书（根元素）未知",
    "xml_schema_violation": "不符合本机关的XSD",
    "field_invalid": "符合XSD但内容不符合协同平台的报文契约（如身份号码校验位）",
}
"""The stable codes of the `InboundError`s an XML adapter raises, with what each means."""

# ---------------------------------------------------------------------------------------------
# Converters: native text <-> canonical JSON value (what `Message.model_dump(mode="json")` holds)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Codec:
    """A converter pair; `inbound` raises ValueError with a Chinese reason on a bad native text."""

    inbound: Callable[[str], Any]
    outbound: Callable[[Any], str]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _as_beijing(value: Any) -> datetime:
    """A canonical time as Beijing time; a naive time is taken to be Beijing time already."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=BEIJING) if moment.tzinfo is None else moment.astimezone(BEIJING)


def _reading(parse: Callable[[str], Any], expected: str) -> Callable[[str], Any]:
    """Wrap a parser so that any failure reads as “不是有效的<expected>”."""

    def inbound(text: str) -> Any:
        try:
            return parse(text)
        except (ValueError, TypeError, OverflowError):
            raise ValueError(f"不是有效的{expected}") from None

    return inbound


TEXT = Codec(lambda text: text, str)
INTEGER = Codec(_reading(int, "整数"), str)
ISO_DATE = Codec(
    _reading(lambda text: date.fromisoformat(text).isoformat(), "日期（YYYY-MM-DD）"), lambda v: _as_date(v).isoformat()
)
COMPACT_DATE = Codec(
    _reading(lambda text: datetime.strptime(text, "%Y%m%d").date().isoformat(), "日期（YYYYMMDD）"),
    lambda v: _as_date(v).isoformat().replace("-", ""),
)
ISO_DATETIME = Codec(
    _reading(lambda text: _as_beijing(text).isoformat(), "时间（如2025-03-18T09:30:00+08:00）"),
    lambda v: _as_beijing(v).isoformat(),
)


def local_time(pattern: str, example: str) -> Codec:
    """Beijing time in a fixed pattern without an offset, e.g. `%Y%m%d%H%M%S` (GA/T style)."""
    return Codec(
        _reading(
            lambda text: datetime.strptime(text, pattern).replace(tzinfo=BEIJING).isoformat(), f"时间（如{example}）"
        ),
        lambda v: _as_beijing(v).strftime(pattern),
    )


def code_table(codes: Mapping[str, Any]) -> Codec:
    """A code table (代码表): native code <-> canonical value (an enum value, a bool)."""
    back = {canonical: native for native, canonical in codes.items()}

    def inbound(text: str) -> Any:
        if text not in codes:
            raise ValueError(f"不在代码表中（可选：{'、'.join(codes)}）")
        return codes[text]

    return Codec(inbound, lambda value: back[value])


GENDER_GBT_2261 = code_table({"1": "male", "2": "female"})  # GB/T 2261.1 人的性别代码

_ETHNIC_GROUPS = (
    "汉族 蒙古族 回族 藏族 维吾尔族 苗族 彝族 壮族 布依族 朝鲜族 满族 侗族 瑶族 白族 土家族 哈尼族"
    " 哈萨克族 傣族 黎族 傈僳族 佤族 畲族 高山族 拉祜族 水族 东乡族 纳西族 景颇族 柯尔克孜族 土族"
    " 达斡尔族 仫佬族 羌族 布朗族 撒拉族 毛南族 仡佬族 锡伯族 阿昌族 普米族 塔吉克族 怒族 乌孜别克族"
    " 俄罗斯族 鄂温克族 德昂族 保安族 裕固族 京族 塔塔尔族 独龙族 鄂伦春族 赫哲族 门巴族 珞巴族 基诺族"
).split()  # GB 3304 codes 01–56, in order
_ETHNICITY_NAMES = {f"{number:02d}": name for number, name in enumerate(_ETHNIC_GROUPS, 1)}
_ETHNICITY_NAMES.update({"97": "其他", "98": "外国血统中国籍人士"})
_ETHNICITY_CODES = {name: code for code, name in _ETHNICITY_NAMES.items()}


def _ethnicity_code(name: Any) -> str:
    """民族 as free text -> GB 3304 code: exact name, or the name without 族 (“回”), else 97 其他."""
    text = str(name).strip()
    return _ETHNICITY_CODES.get(text) or _ETHNICITY_CODES.get(f"{text}族") or "97"


ETHNICITY_GB_3304 = Codec(code_table(_ETHNICITY_NAMES).inbound, _ethnicity_code)  # GB 3304 民族代码

# ---------------------------------------------------------------------------------------------
# Mapping rows
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """One element (`a/b`), attribute (`a/@b`) or the element's own text (`.`) <-> one value."""

    native: str
    canonical: str
    codec: Codec = TEXT


@dataclass(frozen=True)
class OneOf:
    """A value held in one of several elements, the element telling a second canonical field:
    公民身份号码 or 护照号码 sets `id_type`. `natives` maps that field's values to native paths;
    the first is used when the field is absent."""

    canonical: str
    tag: str
    natives: Mapping[str, str]


@dataclass(frozen=True)
class Each:
    """Repeated elements (`list/item`) <-> a canonical list, of objects (`rows`, relative to each
    item element) or, without rows, of scalars held in the item's text (`codec`)."""

    native: str
    canonical: str
    rows: tuple[Row, ...] = ()
    codec: Codec = TEXT


Row = Leaf | OneOf | Each


def _join(prefix: str, path: str, separator: str) -> str:
    return separator.join(part for part in (prefix, path) if part)


def under(native: str, canonical: str, rows: Iterable[Row]) -> tuple[Row, ...]:
    """The same rows placed below a native element and a canonical object, so that a block
    (person, address, sentence) is written once and reused."""
    placed: list[Row] = []
    for row in rows:
        if isinstance(row, Leaf):
            placed.append(Leaf(_join(native, row.native, "/"), _join(canonical, row.canonical, "."), row.codec))
        elif isinstance(row, OneOf):
            natives = {tag: _join(native, path, "/") for tag, path in row.natives.items()}
            placed.append(OneOf(_join(canonical, row.canonical, "."), _join(canonical, row.tag, "."), natives))
        else:
            placed.append(
                Each(_join(native, row.native, "/"), _join(canonical, row.canonical, "."), row.rows, row.codec)
            )
    return tuple(placed)


def payload(*rows: Row) -> tuple[Row, ...]:
    """Rows whose canonical paths lie in the message's payload."""
    return under("", "payload", rows)


@dataclass(frozen=True)
class NativeDocument:
    """One native document type: the root element that carries one message kind, and its table."""

    kind: str
    root: str
    rows: tuple[Row, ...]


def family_documents(package: str) -> tuple[NativeDocument, ...]:
    """Every `DOCUMENTS` table in the modules of `package` (one module per message family), so a
    new family is a new module and nothing else in the adapter changes."""
    found: list[NativeDocument] = []
    modules = pkgutil.iter_modules(importlib.import_module(package).__path__)
    for info in sorted(modules, key=lambda info: info.name):
        found.extend(getattr(importlib.import_module(f"{package}.{info.name}"), "DOCUMENTS", ()))
    return tuple(found)


# ---------------------------------------------------------------------------------------------
# Secure parsing
# ---------------------------------------------------------------------------------------------

_DECLARED_ENCODING = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([^"']*)["']""")
_FORBIDDEN_DECLARATION = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_ENCODINGS = {"utf-8": "utf-8", "gbk": "gbk", "gb18030": "gb18030"}
_UTF8_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16/UTF-32


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _decode(data: bytes) -> str:
    """The document's text in its declared encoding (none declared: UTF-8), strictly."""
    has_bom = data.startswith(_UTF8_BOM)
    body = data[len(_UTF8_BOM) :] if has_bom else data
    declared = _DECLARED_ENCODING.match(body)
    name = declared.group(1).decode("ascii", "replace") if declared else "UTF-8"
    codec = _ENCODINGS.get(name.strip().lower())
    if codec is None:
        raise InboundError(
            "xml_encoding_unsupported", f"不支持声明的字符编码“{name}”，请使用UTF-8、GBK或GB18030", line=1
        )
    if has_bom and codec != "utf-8":
        raise InboundError("xml_encoding_invalid", f"文件以UTF-8字节顺序标记开头，却声明为{name}编码", line=1)
    try:
        return body.decode(codec)
    except UnicodeDecodeError as exc:
        line = _line_at(body, exc.start)
        bad = body[exc.start : exc.end].hex(" ").upper()
        raise InboundError(
            "xml_encoding_invalid", f"第{line}行：字节 {bad} 不符合声明的{name}编码，请检查文件的实际编码", line=line
        ) from None


def read_xml(data: bytes) -> etree._Element:
    """Parse native bytes safely: no DTD, no entities, no network, bounded size and depth.

    Accepts UTF-8, GBK and GB18030. The text is decoded strictly in Python and handed to lxml as
    UTF-8, so a wrong encoding is reported with its line and libxml2's converters play no part.
    """
    if len(data) > MAX_DOCUMENT_BYTES:
        raise InboundError(
            "xml_limit_exceeded", f"报文超过{MAX_DOCUMENT_BYTES // (1024 * 1024)}MB；法律文书请作为附件另行上传"
        )
    if not data.strip():
        raise InboundError("xml_empty", "报文为空")
    if data.startswith(_OTHER_BOMS):
        raise InboundError("xml_encoding_unsupported", "不支持UTF-16/UTF-32编码，请使用UTF-8、GBK或GB18030", line=1)
    if not data.removeprefix(_UTF8_BOM).lstrip().startswith(b"<"):
        raise InboundError("xml_malformed", "第1行：不是XML文档（应以“<”开头），法律文书请作为附件上传", line=1)
    forbidden = _FORBIDDEN_DECLARATION.search(data)  # every accepted encoding is ASCII-compatible
    if forbidden:
        line = _line_at(data, forbidden.start())
        raise InboundError(
            "xml_forbidden_dtd", f"第{line}行：不接受文档类型定义（DOCTYPE）或实体（ENTITY）声明", line=line
        )
    text = _decode(data)
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        encoding="utf-8",
    )
    try:
        return etree.fromstring(text.encode("utf-8"), parser)
    except etree.XMLSyntaxError as exc:
        where: int = exc.lineno or 1
        if exc.code == etree.ErrorTypes.ERR_RESOURCE_LIMIT:
            raise InboundError(
                "xml_limit_exceeded",
                f"第{where}行：超出解析限制（如元素嵌套超过256层）：{exc.msg}",
                line=where,
            ) from None
        raise InboundError("xml_malformed", f"第{where}行：XML格式错误：{exc.msg}", line=where) from None


# ---------------------------------------------------------------------------------------------
# XSD validation
# ---------------------------------------------------------------------------------------------


@dataclass
class _Schema:
    """A compiled XSD; lxml keeps the last error log on the schema object, hence the lock."""

    xsd: etree.XMLSchema
    lock: threading.Lock = field(default_factory=threading.Lock)


@cache
def _schema(path: Path) -> _Schema:
    """The compiled XSD of `path`, compiled once: `XmlFormat` compiles its XSDs when it is built, since
    libxml2 compiling a schema while other threads compile or validate fails at random (a 500 seen
    under load: "xmlSchemaPValAttrNodeValue, the given type is not a built-in type")."""
    return _Schema(etree.XMLSchema(etree.parse(str(path))))


def _local(text: str) -> str:
    """Drop `{namespace}` from element names, keeping regex quantifiers such as `{6}`."""
    return re.sub(r"\{[^{}:]*:[^{}]*\}", "", text)


_SCHEMA_REASONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (
            r"\[facet 'pattern'\] The value '(.*)' is not accepted by the pattern '(.*)'",
            "值“{0}”格式不对（应符合 {1}）",
        ),
        (
            r"\[facet 'enumeration'\] The value '(.*)' is not an element of the set \{(.*)\}",
            "值“{0}”不在代码表中（可选：{1}）",
        ),
        (
            r"\[facet '(?:maxLength|length)'\] The value (?:'.*' )?has a length of '(\d+)'; this exceeds .* '(\d+)'",
            "长度{0}超过上限{1}",
        ),
        (
            r"\[facet '(?:minLength|length)'\] The value (?:'.*' )?has a length of '(\d+)'; this underruns .* '(\d+)'",
            "长度{0}不足{1}",
        ),
        (r"\[facet 'maxInclusive'\] The value '(.*)' is greater than .* \('(.*)'\)", "值{0}超过上限{1}"),
        (r"\[facet 'minInclusive'\] The value '(.*)' is less than .* \('(.*)'\)", "值{0}低于下限{1}"),
        (r"'(.*)' is not a valid value of the atomic type '(.*)'", "值“{0}”不符合类型“{1}”"),
        (r"'(.*)' is not a valid value of the local atomic type", "值“{0}”不合规定"),
        (r"This element is not expected\. Expected is (?:one of )?\( (.*) \)", "此处不应出现该元素，应为：{0}"),
        (r"This element is not expected", "此处不应出现该元素"),
        (r"Missing child element\(s\)\. Expected is (?:one of )?\( (.*) \)", "缺少子元素：{0}"),
        (r"The attribute '(.*)' is required but missing", "缺少属性“{0}”"),
        (r"The attribute '(.*)' is not allowed", "不允许属性“{0}”"),
        (r"The attribute is not allowed", "不允许此属性"),
        (r"The value '(.*)' does not match the fixed value constraint '(.*)'", "值“{0}”应为“{1}”"),
        (r"Character content other than whitespace is not allowed", "此处不应有文字内容"),
        (r"Element content is not allowed", "此处不应有子元素"),
    )
)
_SCHEMA_SUBJECT = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")


def _schema_error(entry: etree._LogEntry) -> InboundError:
    """libxml2's first validation error, in Chinese, with its line and element (元素)."""
    message = _local(entry.message)
    subject = _SCHEMA_SUBJECT.match(message)
    element, attribute = (subject.group(1), subject.group(2)) if subject else (None, None)
    detail = message[subject.end() :] if subject else message
    reason = detail.rstrip(".")
    for pattern, template in _SCHEMA_REASONS:
        found = pattern.search(detail)
        if found:
            reason = template.format(*(group if group is not None else "" for group in found.groups()))
            break
    where = f"<{element} {attribute}>" if attribute else f"<{element}>"
    name = f"{element}@{attribute}" if attribute else element
    return InboundError("xml_schema_violation", f"第{entry.line}行 {where}：{reason}", line=entry.line, field=name)


# ---------------------------------------------------------------------------------------------
# Reading (native -> canonical) and writing (canonical -> native)
# ---------------------------------------------------------------------------------------------

FieldPath = tuple[str | int, ...]


@dataclass(frozen=True)
class _Origin:
    """Where a canonical field came from: the element holding it (or, if absent, the one that
    should contain it), its native name and text, so that a contract error can point at it."""

    element: etree._Element
    name: str
    text: str | None

    @property
    def line(self) -> int | None:
        return self.element.sourceline


@cache
def _steps(native: str) -> tuple[tuple[str, ...], str | None]:
    """`a/b/@c` -> (("a", "b"), "c"); `.` and `` name the context element itself. Cached: the
    contracts hold a few hundred paths, and every document reads each of its own."""
    path, _, attribute = native.partition("@")
    return tuple(step for step in path.split("/") if step not in ("", ".")), attribute or None


def _native_name(native: str, context: etree._Element) -> str:
    steps, attribute = _steps(native)
    element = steps[-1] if steps else etree.QName(context).localname
    return f"{element}@{attribute}" if attribute else element


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[last] = value


def _get(source: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(source, Mapping):
            return None
        source = source.get(part)
    return source


class _Reader:
    """Reads rows from a native document, remembering each canonical field's origin."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.origins: dict[FieldPath, _Origin] = {}
        self._children: dict[etree._Element, dict[str, etree._Element]] = {}

    def _child(self, element: etree._Element, step: str) -> etree._Element | None:
        """The first child named `step`. Each element's children are indexed once: every field is
        read from the root down, and lxml's `find` parsed its path again each time (a fifth of parsing)."""
        children = self._children.get(element)
        if children is None:
            children = self._children[element] = {}
            for child in element:
                children.setdefault(child.tag, child)
        return children.get(f"{{{self.namespace}}}{step}")

    def _find(self, context: etree._Element, steps: tuple[str, ...]) -> tuple[etree._Element | None, etree._Element]:
        """The element at `steps` (None if absent) and the deepest element found on the way."""
        deepest = context
        for step in steps:
            child = self._child(deepest, step)
            if child is None:
                return None, deepest
            deepest = child
        return deepest, deepest

    def read(self, context: etree._Element, rows: Iterable[Row], at: FieldPath = ()) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for row in rows:
            if isinstance(row, Leaf):
                self._leaf(context, row, found, at)
            elif isinstance(row, OneOf):
                self._one_of(context, row, found, at)
            else:
                self._each(context, row, found, at)
        return found

    def _text(self, element: etree._Element, attribute: str | None) -> str | None:
        text = element.get(attribute) if attribute else element.text or ""
        return None if text is None else text.strip()

    def _convert(self, codec: Codec, origin: _Origin) -> Any:
        try:
            return codec.inbound(origin.text or "")
        except (ValueError, KeyError) as exc:
            raise InboundError(
                "field_invalid",
                f"第{origin.line}行 <{origin.name}>：“{origin.text}”{exc}",
                line=origin.line,
                field=origin.name,
            ) from None

    def _leaf(self, context: etree._Element, row: Leaf, found: dict[str, Any], at: FieldPath) -> None:
        steps, attribute = _steps(row.native)
        element, deepest = self._find(context, steps)
        text = None if element is None else self._text(element, attribute)
        origin = _Origin(deepest, _native_name(row.native, context), text)
        self.origins[at + tuple(row.canonical.split("."))] = origin
        if text is not None:
            _put(found, row.canonical, self._convert(row.codec, origin))

    def _one_of(self, context: etree._Element, row: OneOf, found: dict[str, Any], at: FieldPath) -> None:
        for tag, native in row.natives.items():
            element, _ = self._find(context, _steps(native)[0])
            if element is not None:
                origin = _Origin(element, _native_name(native, context), self._text(element, None))
                self.origins[at + tuple(row.canonical.split("."))] = origin
                self.origins[at + tuple(row.tag.split("."))] = origin
                _put(found, row.canonical, origin.text)
                _put(found, row.tag, tag)
                return
        first = next(iter(row.natives.values()))
        _, deepest = self._find(context, _steps(first)[0])
        self.origins[at + tuple(row.canonical.split("."))] = _Origin(deepest, _native_name(first, context), None)

    def _each(self, context: etree._Element, row: Each, found: dict[str, Any], at: FieldPath) -> None:
        steps, _ = _steps(row.native)
        items = context.findall("/".join(f"{{{self.namespace}}}{step}" for step in steps))
        list_at = at + tuple(row.canonical.split("."))
        holder = items[0].getparent() if items else context
        self.origins[list_at] = _Origin(holder, steps[-2] if len(steps) > 1 else steps[-1], None)
        if not items:
            return
        values: list[Any] = []
        for index, item in enumerate(items):
            if row.rows:
                values.append(self.read(item, row.rows, list_at + (index,)))
            else:
                origin = _Origin(item, steps[-1], self._text(item, None))
                self.origins[list_at + (index,)] = origin
                values.append(self._convert(row.codec, origin))
        _put(found, row.canonical, values)


_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_XML_UNSAFE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(codec: Codec, value: Any) -> str:
    """The native text of a value, without the characters XML 1.0 cannot hold."""
    return _XML_UNSAFE.sub("", codec.outbound(value))


class _Writer:
    """Writes rows into a native document from a canonical message. Absent values and empty
    texts are omitted: an empty element says no more than a missing one, and the XSDs ask for
    at least one character."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        # every element made on a path below a context: a dict lookup instead of a search among
        # the children already written, step by step, for each of a document's fields
        self._made: dict[tuple[etree._Element, tuple[str, ...]], etree._Element] = {}

    def _ensure(self, context: etree._Element, steps: tuple[str, ...]) -> etree._Element:
        element = context
        for depth, step in enumerate(steps, 1):
            key = (context, steps[:depth])
            made = self._made.get(key)
            if made is None:
                made = self._made[key] = etree.SubElement(element, f"{{{self.namespace}}}{step}")
            element = made
        return element

    def _set(self, context: etree._Element, native: str, text: str) -> None:
        if not text.strip():
            return
        steps, attribute = _steps(native)
        element = self._ensure(context, steps)
        if attribute:
            element.set(attribute, text)
        else:
            element.text = text

    def write(self, context: etree._Element, rows: Iterable[Row], source: Any) -> None:
        for row in rows:
            if isinstance(row, Leaf):
                value = _get(source, row.canonical)
                if value is not None:
                    self._set(context, row.native, _xml_text(row.codec, value))
            elif isinstance(row, OneOf):
                value = _get(source, row.canonical)
                if value is not None:
                    native = row.natives.get(_get(source, row.tag)) or next(iter(row.natives.values()))
                    self._set(context, native, _xml_text(TEXT, value))
            else:
                self._each(context, row, source)

    def _each(self, context: etree._Element, row: Each, source: Any) -> None:
        items = _get(source, row.canonical)
        if not items or not isinstance(items, list):
            return
        steps, _ = _steps(row.native)
        holder = self._ensure(context, steps[:-1])
        for item in items:
            element = etree.SubElement(holder, f"{{{self.namespace}}}{steps[-1]}")
            if row.rows:
                self.write(element, row.rows, item)
            elif item is not None:
                self._set(element, ".", _xml_text(row.codec, item))


# ---------------------------------------------------------------------------------------------
# From what was read to a draft
# ---------------------------------------------------------------------------------------------

_DRAFT_FIELDS = ("case", "in_reply_to", "occurred_at", "payload")
_CLAIM_FIELDS = frozenset(AttachmentClaim.model_fields)

_CONTRACT_REASONS = {
    "missing": "缺少此项",
    "string_too_long": "长度不能超过{max_length}个字符",
    "string_too_short": "长度不能少于{min_length}个字符",
    "string_pattern_mismatch": "格式不对",
    "too_short": "至少需要{min_length}项",
    "too_long": "最多{max_length}项",
    "greater_than_equal": "不能小于{ge}",
    "less_than_equal": "不能大于{le}",
    "enum": "不在代码表中",
    "date_from_datetime_parsing": "不是有效的日期",
    "date_parsing": "不是有效的日期",
    "datetime_from_date_parsing": "不是有效的时间",
    "datetime_parsing": "不是有效的时间",
    "int_parsing": "应为整数",
    "uuid_parsing": "不是有效的报文标识（UUID）",
}


def _contract_reason(error: Mapping[str, Any]) -> str:
    context = error.get("ctx") or {}
    if error["type"] == "value_error":
        return str(context.get("error", error["msg"]))  # our validators already speak Chinese
    template = _CONTRACT_REASONS.get(error["type"])
    return template.format(**context) if template else error["msg"]


def _contains(ancestor: etree._Element, element: etree._Element) -> bool:
    return element is ancestor or any(parent is ancestor for parent in element.iterancestors())


def _origin_of(loc: FieldPath, origins: Mapping[FieldPath, _Origin], reason: str) -> _Origin | None:
    """The native origin of a contract error. A model-level error (on the person, an address)
    points at the element whose text it quotes, else at the element holding all of its fields."""
    if loc[:1] == ("attachments",):
        loc = ("documents", *loc[1:])
    if loc in origins:
        return origins[loc]
    below = [origin for path, origin in origins.items() if path[: len(loc)] == loc]
    if not below:
        return None
    quoted = [origin for origin in below if origin.text and origin.text in reason]
    if quoted:
        return max(quoted, key=lambda origin: len(origin.text or ""))
    for candidate in (below[0].element, *below[0].element.iterancestors()):
        if all(_contains(candidate, origin.element) for origin in below):
            return _Origin(candidate, etree.QName(candidate).localname, None)
    return below[0]


def _draft(kind: str, found: Mapping[str, Any], origins: Mapping[FieldPath, _Origin]) -> Draft[Any]:
    """Keep what a document may claim (not its sender or message id) and check the contract."""
    fields: dict[str, Any] = {"kind": kind, **{key: found[key] for key in _DRAFT_FIELDS if key in found}}
    if "documents" in found:
        fields["attachments"] = [{k: v for k, v in doc.items() if k in _CLAIM_FIELDS} for doc in found["documents"]]
    try:
        return spec_of(kind).draft_model.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        reason = _contract_reason(error)
        origin = _origin_of(tuple(error["loc"]), origins, reason)
        if origin is None:
            raise InboundError("field_invalid", reason) from None
        message = f"第{origin.line}行 <{origin.name}>：{reason}"
        raise InboundError("field_invalid", message, line=origin.line, field=origin.name) from None


# ---------------------------------------------------------------------------------------------
# An agency's XML format
# ---------------------------------------------------------------------------------------------


class XmlFormat:
    """An agency's XML dialect: its document types, one namespace and XSD per message family.

    Namespaces follow `urn:xietong:<agency>:<family>:<version>` and XSDs
    `contracts/xsd/<agency>-<family>-<version>.xsd`; the root carries the version again in
    `version_attribute` (e.g. 版本="1").
    """

    def __init__(
        self, agency: str, documents: Iterable[NativeDocument], *, version_attribute: str, version: int = 1
    ) -> None:
        self.agency = agency
        self.version = version
        self.version_attribute = version_attribute
        self._by_kind = {document.kind: document for document in documents}
        self._by_root = {(self.namespace(kind), document.root): document for kind, document in self._by_kind.items()}
        for kind in self._by_kind:  # compiled now, before any thread validates (see `_schema`)
            _schema(self.schema_path(kind))

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)

    def sent_by(self, agency: Agency) -> frozenset[str]:
        """The mapped kinds this agency may send (the contract's `senders`): the adapter's inbound."""
        return frozenset(kind for kind in self._by_kind if agency in spec_of(kind).senders)

    def received_by(self, agency: Agency) -> frozenset[str]:
        """The mapped kinds this agency only receives: the adapter's outbound."""
        return self.kinds - self.sent_by(agency)

    def family(self, kind: str) -> str:
        return kind.partition(".")[0]

    def namespace(self, kind: str) -> str:
        return f"urn:xietong:{self.agency}:{self.family(kind)}:{self.version}"

    def schema_path(self, kind: str) -> Path:
        return XSD_DIR / f"{self.agency}-{self.family(kind)}-{self.version}.xsd"

    def parse(self, data: bytes) -> Draft[Any]:
        """Native bytes -> draft. Every refusal is an InboundError naming line and element."""
        root = read_xml(data)
        document = self._document_of(root)
        schema = _schema(self.schema_path(document.kind))
        with schema.lock:
            valid = schema.xsd.validate(root)
            first_error = None if valid else schema.xsd.error_log[0]
        if first_error is not None:
            raise _schema_error(first_error)
        reader = _Reader(self.namespace(document.kind))
        found = reader.read(root, document.rows)
        return _draft(document.kind, found, reader.origins)

    def kind_of(self, data: bytes) -> str | None:
        """The kind its root element names; only the root is read, and no DTD or entity is loaded."""
        events = etree.iterparse(io.BytesIO(data), events=("start",), resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        try:
            _, root = next(events)
        except (etree.XMLSyntaxError, StopIteration):
            return None
        name = etree.QName(root)
        document = self._by_root.get((name.namespace, name.localname))
        return document.kind if document else None

    def render(self, message: Mapping[str, Any]) -> bytes:
        """Canonical message (JSON form, possibly projected) -> UTF-8 native XML."""
        kind = str(message.get("kind"))
        document = self._by_kind.get(kind)
        if document is None:
            raise UnsupportedKind(self.agency, kind)
        namespace = self.namespace(kind)
        root = etree.Element(
            f"{{{namespace}}}{document.root}", {self.version_attribute: str(self.version)}, nsmap={None: namespace}
        )
        _Writer(namespace).write(root, document.rows, message)
        return _XML_DECLARATION + etree.tostring(root, encoding="UTF-8", pretty_print=True)

    def _document_of(self, root: etree._Element) -> NativeDocument:
        name = etree.QName(root)
        expected = sorted({self.namespace(kind) for kind in self._by_kind})
        if name.namespace not in expected:
            raise InboundError(
                "xml_wrong_namespace",
                f"第{root.sourceline}行：根元素<{name.localname}>的命名空间为“{name.namespace or '（无）'}”，"
                f"本接口接受“{'”或“'.join(expected)}”",
                line=root.sourceline,
                field=name.localname,
            )
        version = root.get(self.version_attribute)
        if version is not None and version != str(self.version):
            raise InboundError(
                "xml_wrong_namespace",
                f"第{root.sourceline}行：版本“{version}”不受支持，命名空间“{name.namespace}”对应版本{self.version}",
                line=root.sourceline,
                field=f"{name.localname}@{self.version_attribute}",
            )
        document = self._by_root.get((name.namespace, name.localname))
        if document is None:
            known = "、".join(d.root for (ns, _), d in self._by_root.items() if ns == name.namespace)
            raise InboundError(
                "xml_unknown_document",
                f"第{root.sourceline}行：未知的文书<{name.localname}>，此命名空间下可用：{known}",
                line=root.sourceline,
                field=name.localname,
            )
        return document
