"""Both error-444 forms become a typed error; bodies that are no answer at all get a clear one."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest

from rorsync.sources.csd.errors import CsdResponseError, CsdServiceError
from rorsync.sources.csd.parse import iter_extraction_records, parse_lecture
from rorsync.sources.csd.responses import parse_notif, raise_for_service_error

Sample = Callable[[str], bytes]
MESSAGE = "Non prévu sur la plateforme"


@pytest.mark.parametrize("parse", [parse_notif, parse_lecture, raise_for_service_error])
def test_soap_fault_444(sample: Sample, parse: Callable[[bytes], object]) -> None:
    with pytest.raises(CsdServiceError) as caught:
        parse(sample("Notif_Erreur_444"))
    assert (caught.value.code, caught.value.message, caught.value.form) == ("444", MESSAGE, "fault")


@pytest.mark.parametrize("parse", [parse_notif, parse_lecture, raise_for_service_error])
def test_in_band_error_444(sample: Sample, parse: Callable[[bytes], object]) -> None:
    with pytest.raises(CsdServiceError) as caught:
        parse(sample("Lecture_Erreur_444"))
    assert (caught.value.code, caught.value.message, caught.value.form) == ("444", MESSAGE, "in-band")


def test_unwrapped_in_band_error_is_recognised() -> None:
    body = (
        b'<careServicesResponse xmlns="urn:ihe:iti:csd:2013">'
        b'<error code="500" message="Erreur interne"/></careServicesResponse>'
    )
    with pytest.raises(CsdServiceError, match="500") as caught:
        parse_lecture(body)
    assert caught.value.form == "in-band"


def test_a_normal_answer_is_not_a_service_error(sample: Sample) -> None:
    raise_for_service_error(sample("Notif_Conformite_Cas1"))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "empty body"),
        (b"   \n", "empty body"),
        (b"Service Unavailable", "not well-formed"),
        (b"<html><body><h1>503</h1></body></html>", "got a <html> document"),
    ],
)
def test_bodies_that_are_not_answers(body: bytes, expected: str) -> None:
    with pytest.raises(CsdResponseError, match=expected) as lecture:
        parse_lecture(body)
    assert "TR-Lecture response" in str(lecture.value)
    with pytest.raises(CsdResponseError, match="TR-Notif response"):
        parse_notif(body)


def test_truncated_lecture_answer_is_rejected_whole(sample: Sample) -> None:
    data = sample("EG_Conformite_date0_restriction0_Cas1")
    with pytest.raises(CsdResponseError, match="truncated XML, expected a CSD document"):
        parse_lecture(data[: len(data) * 2 // 3])


def test_truncated_extraction_part_fails_where_it_is_cut(fixture_bytes: Callable[[str], bytes]) -> None:
    data = fixture_bytes("v24_lenient_extraction.xml")
    with pytest.raises(CsdResponseError, match=r"part\.xml: not well-formed or truncated"):
        list(iter_extraction_records(io.BytesIO(data[:-200]), what="part.xml"))


def test_notif_answer_to_a_lecture_request_is_named(sample: Sample) -> None:
    with pytest.raises(CsdResponseError, match="expected careServicesResponse/result"):
        parse_lecture(sample("Notif_Conformite_Cas1"))
    with pytest.raises(CsdResponseError, match="expected TR-Notif-ListeEtablissementMajApresDate_Reponse"):
        parse_notif(sample("EG_Conformite_date0_restriction0_Cas2"))
