"""The only place where CSD XML is handed to lxml: hardened parsers and a size-capped reader.

What comes from the network or a downloaded ZIP is never trusted:

* a document with a ``DOCTYPE`` is refused before lxml sees it (a prolog scan), which stops entity
  bombs ("billion laughs") and external entities (``file://``, ``http://``) with one clear error;
  the parser flags (``resolve_entities=False``, ``no_network=True``, ``load_dtd=False``) and a check
  of the parsed document's ``docinfo`` stay as second and third lines of defence;
* the input size is capped explicitly (:attr:`XmlLimits.max_bytes`): bytes are checked before
  parsing and streams are counted while they are read;
* ``huge_tree`` stays off by default: measured with libxml2 2.14, documents of 100 MB parse fine
  without it, the only limit it lifts is a text node longer than 10 MB, which no CSD answer has.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, TypedDict

from lxml import etree

from rorsync.sources.csd.errors import CsdResponseError, UnsafeXmlError

EXTRACTION_PART_MAX_BYTES: Final = 103_000_000
"""TR-Extraction promises each XML part is under 103,000,000 bytes (PLATINES ``maxFileSize``)."""

PROLOG_SCAN_BYTES: Final = 64 * 1024


@dataclass(frozen=True, slots=True)
class XmlLimits:
    """Limits applied to one XML input; the defaults fit a TR-Extraction part and any SOAP answer."""

    max_bytes: int = EXTRACTION_PART_MAX_BYTES
    huge_tree: bool = False


DEFAULT_LIMITS: Final = XmlLimits()


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _ParserOptions(TypedDict):
    resolve_entities: bool
    no_network: bool
    load_dtd: bool
    dtd_validation: bool
    huge_tree: bool
    remove_blank_text: bool


def _parser_options(limits: XmlLimits) -> _ParserOptions:
    return _ParserOptions(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=limits.huge_tree,
        # Indentation between elements is never data in CSD; dropping it parses faster and keeps
        # the stored payloads smaller.
        remove_blank_text=True,
    )


def _prolog_text(head: bytes) -> str:
    """Decode enough of the head to look for a DOCTYPE, whatever the (XML-legal) encoding."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="ignore")
    if head.startswith(b"<\x00"):
        return head.decode("utf-16-le", errors="ignore")
    if head.startswith(b"\x00<"):
        return head.decode("utf-16-be", errors="ignore")
    # Every other encoding XML allows here is ASCII-compatible for the markup we look for.
    return head.removeprefix(b"\xef\xbb\xbf").decode("latin-1")


def check_prolog(head: bytes, what: str) -> None:
    """Refuse a DOCTYPE before the root element (XML only allows it there).

    Skips the XML declaration, processing instructions, comments and whitespace; stops at the first
    other markup. Inconclusive heads (a comment longer than the scanned bytes) are left to the parser
    flags and the ``docinfo`` check.
    """
    text = _prolog_text(head)
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n":
            position += 1
        if text.startswith("<?", position):
            end = text.find("?>", position + 2)
            if end < 0:
                return
            position = end + 2
        elif text.startswith("<!--", position):
            end = text.find("-->", position + 4)
            if end < 0:
                return
            position = end + 3
        elif text[position : position + 9].upper() == "<!DOCTYPE":
            raise UnsafeXmlError(f"{what}: refused, the document has a DOCTYPE (DTDs and entities are not allowed)")
        else:
            return


def _check_docinfo(tree: etree._ElementTree, what: str) -> None:
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise UnsafeXmlError(f"{what}: refused, the document has a DOCTYPE (DTDs and entities are not allowed)")


def _syntax_error(what: str, error: etree.XMLSyntaxError, expected: str) -> CsdResponseError:
    return CsdResponseError(f"{what}: not well-formed or truncated XML, expected {expected}: {error}")


def parse_bytes(data: bytes, *, what: str, expected: str, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse a whole (small) document; ``what`` names the input and ``expected`` the awaited content."""
    if len(data) > limits.max_bytes:
        raise UnsafeXmlError(f"{what}: {len(data)} bytes, over the {limits.max_bytes}-byte limit")
    if not data.strip():
        raise CsdResponseError(f"{what}: empty body, expected {expected}")
    check_prolog(data[:PROLOG_SCAN_BYTES], what)
    parser = etree.XMLParser(**_parser_options(limits))
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as error:
        raise _syntax_error(what, error, expected) from error
    _check_docinfo(root.getroottree(), what)
    return root


class _GuardedReader:
    """A read-only stream that refuses a DOCTYPE up front and counts bytes against the limit."""

    def __init__(self, raw: _Readable, what: str, max_bytes: int) -> None:
        self._raw = raw
        self._what = what
        self._max_bytes = max_bytes
        self._pending = raw.read(PROLOG_SCAN_BYTES)
        self._count = len(self._pending)
        self._check_count()
        check_prolog(self._pending, what)

    @property
    def empty(self) -> bool:
        return not self._pending.strip()

    def _check_count(self) -> None:
        if self._count > self._max_bytes:
            raise UnsafeXmlError(f"{self._what}: more than {self._max_bytes} bytes, over the limit")

    def read(self, size: int = -1) -> bytes:
        if self._pending:
            if size < 0 or size >= len(self._pending):
                chunk, self._pending = self._pending, b""
            else:
                chunk, self._pending = self._pending[:size], self._pending[size:]
            return chunk
        chunk = self._raw.read(size)
        self._count += len(chunk)
        self._check_count()
        return chunk


def _check_root(root: etree._Element, what: str, expected: str, roots: frozenset[str]) -> None:
    name = str(root.tag).rpartition("}")[2]
    if name not in roots:
        raise CsdResponseError(f"{what}: expected {expected}, got a <{name}> document")


def iterparse_safe(
    source: _Readable,
    *,
    what: str,
    expected: str,
    roots: frozenset[str],
    tags: Sequence[str],
    limits: XmlLimits = DEFAULT_LIMITS,
) -> Iterator[etree._Element]:
    """Yield each element of ``tags`` at its end event, streaming from ``source``.

    ``roots`` are the accepted local names of the root element. The caller clears what it has
    processed (see ``parse.py``); this function guarantees that the input is safe, well formed and
    of the expected kind, and names ``what`` in every error.
    """
    reader = _GuardedReader(source, what, limits.max_bytes)
    if reader.empty:
        raise CsdResponseError(f"{what}: empty body, expected {expected}")
    events = etree.iterparse(reader, events=("end",), tag=list(tags), **_parser_options(limits))
    checked = False
    try:
        for _, element in events:
            if not checked:
                tree = element.getroottree()
                _check_docinfo(tree, what)
                _check_root(tree.getroot(), what, expected, roots)
                checked = True
            yield element
    except etree.XMLSyntaxError as error:
        raise _syntax_error(what, error, expected) from error
    root = events.root
    if not checked and root is not None:
        _check_docinfo(root.getroottree(), what)
        _check_root(root, what, expected, roots)
