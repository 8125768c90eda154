"""XML bombs, external entities and DOCTYPEs are refused; inputs are size-capped."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rorsync.sources.csd.errors import CsdResponseError, UnsafeXmlError
from rorsync.sources.csd.parse import iter_extraction_records, parse_lecture
from rorsync.sources.csd.responses import parse_notif
from rorsync.sources.csd.xmlsafe import XmlLimits, check_prolog

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<csd:careServicesResponse xmlns:csd="urn:ihe:iti:csd:2013"><csd:error code="1" message="&lol9;"/>
</csd:careServicesResponse>"""


def external_entity(url: str) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "{url}">]>'
        '<csd:careServicesResponse xmlns:csd="urn:ihe:iti:csd:2013"><csd:error code="1" message="&x;">&x;</csd:error>'
        "</csd:careServicesResponse>"
    ).encode()


def parameter_entity(url: str) -> bytes:
    return f'<!DOCTYPE r [<!ENTITY % x SYSTEM "{url}"> %x;]><csd:CSD xmlns:csd="urn:ihe:iti:csd:2013"/>'.encode()


@pytest.fixture
def secret_file(tmp_path: Path) -> str:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT")
    return path.as_uri()


def unsafe_documents(secret_uri: str) -> dict[str, bytes]:
    return {
        "billion laughs": BILLION_LAUGHS,
        "external entity file://": external_entity(secret_uri),
        "external entity http://": external_entity("http://127.0.0.1:9/evil.xml"),
        "parameter entity": parameter_entity(secret_uri),
        "external DTD": f'<!DOCTYPE r SYSTEM "{secret_uri}"><csd:CSD xmlns:csd="urn:ihe:iti:csd:2013"/>'.encode(),
        "plain DOCTYPE after a comment and a PI": (
            b'<?xml version="1.0"?><!-- hello --><?pi x?>\n'
            b'<!doctype csd:CSD><csd:CSD xmlns:csd="urn:ihe:iti:csd:2013"/>'
        ),
        "UTF-16 DOCTYPE": '<!DOCTYPE r><csd:CSD xmlns:csd="urn:ihe:iti:csd:2013"/>'.encode("utf-16"),
    }


PARSERS: dict[str, Callable[[bytes], object]] = {
    "notif": parse_notif,
    "lecture": parse_lecture,
    "extraction": lambda data: list(iter_extraction_records(io.BytesIO(data))),
}


@pytest.mark.parametrize("parser", PARSERS)
def test_unsafe_documents_are_refused_before_anything_is_expanded_or_fetched(secret_file: str, parser: str) -> None:
    for label, document in unsafe_documents(secret_file).items():
        started = time.perf_counter()
        with pytest.raises(UnsafeXmlError, match="refused, the document has a DOCTYPE") as caught:
            PARSERS[parser](document)
        assert time.perf_counter() - started < 1, label
        assert "TOP-SECRET" not in str(caught.value), label


def test_a_doctype_hidden_behind_a_long_prolog_is_still_refused() -> None:
    """Past the 64 KiB prolog scan, the parser flags and the docinfo check take over."""
    padding = b"<!--" + b"x" * 70_000 + b"-->"
    in_attribute = padding + external_entity("http://127.0.0.1:9/evil.xml")[len(b'<?xml version="1.0"?>') :]
    in_content = padding + (
        b'<!DOCTYPE r [<!ENTITY x "expanded">]><csd:careServicesResponse xmlns:csd="urn:ihe:iti:csd:2013">'
        b"<csd:result><csd:queryResult>&x;</csd:queryResult></csd:result></csd:careServicesResponse>"
    )
    for parse in PARSERS.values():
        with pytest.raises(CsdResponseError, match="external entity"):
            parse(in_attribute)  # libxml2 itself refuses an external entity in an attribute
        with pytest.raises(UnsafeXmlError, match="refused, the document has a DOCTYPE"):
            parse(in_content)


def test_prolog_scan_lets_ordinary_documents_through() -> None:
    check_prolog(b'\xef\xbb\xbf<?xml version="1.0"?>\n<!-- <!DOCTYPE in a comment --><root/>', "x")
    check_prolog(b"<root><!DOCTYPE is text here/></root>", "x")


def test_size_limit_on_bytes_and_on_streams(sample: Callable[[str], bytes]) -> None:
    data = sample("EG_Conformite_date0_restriction0_Cas1")
    small = XmlLimits(max_bytes=len(data) - 1)
    with pytest.raises(UnsafeXmlError, match="over the"):
        parse_lecture(data, limits=small)
    padded = data.replace(b"<soap:Body>", b"<soap:Body><!--" + b"x" * 200_000 + b"-->")
    with pytest.raises(UnsafeXmlError, match="more than 100000 bytes"):
        list(iter_extraction_records(io.BytesIO(padded), limits=XmlLimits(max_bytes=100_000)))
    assert parse_lecture(data, limits=XmlLimits(max_bytes=len(data))).records
