"""Reading an ITI-65 bundle's bytes: base64 as FHIR defines it (the standard alphabet,
padding only at the end, no whitespace), whatever decoder does the work."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from dmp.api.fhir.submission import read_submission
from dmp.domain.errors import SeveralErrors
from tests.api.fhir.builders import PDF, bundle, document_reference


def with_data(text: str) -> dict[str, Any]:
    ref = document_reference()
    ref["content"][0]["attachment"]["data"] = text
    return bundle(ref)


def test_inline_base64_gives_back_the_original_bytes() -> None:
    submission = read_submission(bundle(document_reference()))
    assert submission.documents[0].data == PDF


def test_a_binary_entry_gives_back_the_original_bytes() -> None:
    url = "urn:uuid:0f6c2c6a-1b1e-4c55-9b7e-2f1d5c9d7a10"
    submission = read_submission(
        bundle(document_reference(binary_url=url), binaries={url: PDF + b"%%"})
    )
    assert submission.documents[0].data == PDF + b"%%"


GOOD = base64.b64encode(PDF).decode()


@pytest.mark.parametrize(
    "text",
    [
        GOOD[:-4] + "\n" + GOOD[-4:],  # whitespace (MIME line breaks)
        GOOD[:8] + " " + GOOD[8:],
        GOOD.replace("+", "-").replace("/", "_") + "-_",  # the URL-safe alphabet
        "QQ==QQ==",  # padding in the middle
        "=QQ=",  # padding first
        "QQ",  # missing padding
        "Q",  # a lone sextet
        "QUJDé",  # not ASCII
        "QUJD====",  # padding past the end
        "QQ==\x00",
    ],
)
def test_base64_that_is_not_strictly_standard_is_refused_naming_the_data(text: str) -> None:
    with pytest.raises(SeveralErrors) as refused:
        read_submission(with_data(text))
    assert [(e.code, e.field) for e in refused.value.errors] == [
        ("BASE64", "Bundle.entry[1].resource.content[0].attachment.data")
    ]


def test_base64_that_is_not_text_is_refused() -> None:
    with pytest.raises(SeveralErrors) as refused:
        read_submission(with_data(12345))  # type: ignore[arg-type]
    assert refused.value.errors[0].code == "BASE64"
