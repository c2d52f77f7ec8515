"""IMAGEHOST_PUBLIC_UPLOADS: anyone may upload, with a delete token and an hourly cap per address."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.accounts_support import DELETE, LIST, ask, image_ids, upload
from tests.imagedata import drawn_png
from tests.support import RunningServer, run_serve

PER_HOUR = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with run_serve(tmp_path_factory.mktemp("public"), public_uploads="true",
                   public_uploads_per_hour=str(PER_HOUR)) as running:
        yield running


def test_an_anonymous_upload_carries_a_delete_token_that_deletes_it(server: RunningServer) -> None:
    uploaded = upload(server.url, drawn_png(), source="127.0.0.2").data["uploadImage"]
    assert uploaded["__typename"] == "Image" and uploaded["owner"] is None
    token = uploaded["deleteToken"]
    assert isinstance(token, str) and len(token) >= 40
    # Not listed for anyone but admins, and nobody else can delete it.
    assert ask(server.url, LIST, {"all": False}, source="127.0.0.2").codes == ["UNAUTHENTICATED"]
    assert uploaded["id"] in image_ids(server.url, server.auth, everyone=True)
    wrong = ask(server.url, DELETE, {"id": uploaded["id"], "t": token[:-2] + "xx"}, source="127.0.0.2")
    assert wrong.data["deleteImage"]["__typename"] == "ImageNotFound"
    assert urllib.request.urlopen(uploaded["url"], timeout=10).status == 200
    right = ask(server.url, DELETE, {"id": uploaded["id"], "t": token}, source="127.0.0.3")  # from anywhere
    assert right.data["deleteImage"]["__typename"] == "DeletedImage"
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(uploaded["url"], timeout=10)
    gone.value.close()
    assert gone.value.code == 404


def test_anonymous_uploads_are_capped_per_address_and_hour(server: RunningServer) -> None:
    results = [upload(server.url, drawn_png(color=(n, n, n)), source="127.0.0.4").data["uploadImage"]
               for n in range(PER_HOUR + 2)]
    assert [result["__typename"] for result in results[:PER_HOUR]] == ["Image"] * PER_HOUR
    for refused in results[PER_HOUR:]:
        assert refused["__typename"] == "UploadError" and refused["code"] == "RATE_LIMITED"
        assert "an hour" in refused["message"]
    stored = image_ids(server.url, server.auth, everyone=True)
    assert {result["id"] for result in results[:PER_HOUR]} <= stored and len(stored) >= PER_HOUR
    # Another address, and account holders, are not held back by it.
    assert upload(server.url, drawn_png(), source="127.0.0.5").data["uploadImage"]["__typename"] == "Image"
    mine = upload(server.url, drawn_png(), server.auth, source="127.0.0.4").data["uploadImage"]
    assert mine["__typename"] == "Image" and mine["deleteToken"] is None and mine["owner"] == {"username": "admin"}


def test_the_ui_is_told_uploads_are_public(server: RunningServer) -> None:
    assert ask(server.url, "{ uploadLimits { publicUploads } }").data == {"uploadLimits": {"publicUploads": True}}
