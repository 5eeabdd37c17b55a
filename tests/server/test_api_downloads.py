"""The C library of a compile result as a .zip over HTTP: the sources, headers and build files that compile wrote
(they build with ``gcc -Wall -Werror -std=c99``), for every member, and never once the folder is gone (404) or its
files changed since the compile (409)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import Api, api_for

from conftest import MLPERF_TINY

V1 = "/api/v1"
KWS = MLPERF_TINY / "kws_ref_model.tflite"


@pytest.fixture
def kws(tmp_path: Path) -> Iterator[tuple[Api, int]]:
    """A real int8 model registered as models:/kws/1 and compiled to ``lib``; the compile result's id."""
    from crisp_eml.workspace.compile import compile_model
    from crisp_eml.workspace.import_model import import_model

    with api_for(tmp_path / "proj") as api:
        import_model(api.project, KWS, "kws", task="regression")
        compile_model("models:/kws/1", api.root / "lib", vectors=2, project=api.project)
        result = api.client.get(f"{V1}/compiles", headers=api.headers()).json()["results"][0]
        yield api, int(result["id"])


def _zip(api: Api, result_id: int, member: str = "uma") -> zipfile.ZipFile:
    r = api.client.get(f"{V1}/compiles/{result_id}/library.zip", headers=api.headers(member))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="kws-c-library.zip"'
    return zipfile.ZipFile(io.BytesIO(r.content))


def test_the_zip_holds_the_library_and_it_builds_with_strict_gcc(kws: tuple[Api, int], tmp_path: Path) -> None:
    api, rid = kws
    z = _zip(api, rid)  # uma is an end-user: reading results needs no permission, only membership
    names = z.namelist()
    manifest = json.loads((api.root / "lib" / "MANIFEST.json").read_text())
    assert sorted(names) == sorted(f"kws/{f}" for f in manifest["files"])
    assert "kws/src/kws.c" in names and "kws/src/kws.h" in names and "kws/Makefile" in names
    assert not [n for n in names if "/tests/" in n]  # test vectors are not sources
    for name in names:
        assert z.read(name) == (api.root / "lib" / name.removeprefix("kws/")).read_bytes(), name
    z.extractall(tmp_path / "x")
    src = tmp_path / "x" / "kws" / "src"
    sources = sorted(src.glob("*.c"))
    assert len(sources) >= 2
    for c in sources:
        done = subprocess.run(["gcc", "-Wall", "-Werror", "-std=c99", "-c", str(c), "-I", str(src), "-o",
                               str(tmp_path / f"{c.stem}.o")], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (c.name, done.stderr[-2000:])
    again = api.client.get(f"{V1}/compiles/{rid}/library.zip", headers=api.headers("bob"))
    assert again.content == api.client.get(f"{V1}/compiles/{rid}/library.zip", headers=api.headers()).content


def test_no_credentials_no_such_result_or_not_a_compile(kws: tuple[Api, int]) -> None:
    api, rid = kws
    c = api.client
    assert c.get(f"{V1}/compiles/{rid}/library.zip").status_code == 401
    missing = c.get(f"{V1}/compiles/{rid + 1000}/library.zip", headers=api.headers())
    assert missing.status_code == 404 and "no compile result" in missing.json()["error"]["message"]
    assert c.get(f"{V1}/compiles/1/library.zip", headers=api.headers()).status_code == 404  # project.init entry
    assert c.get(f"{V1}/compiles/0/library.zip", headers=api.headers()).status_code == 422


def test_an_edited_library_is_409_and_a_removed_one_404(kws: tuple[Api, int]) -> None:
    api, rid = kws
    c, url = api.client, f"{V1}/compiles/{rid}/library.zip"
    source = api.root / "lib" / "src" / "kws.c"
    original = source.read_bytes()
    source.write_bytes(original + b"\n/* edited */\n")
    edited = c.get(url, headers=api.headers())
    assert edited.status_code == 409 and "sha256" in edited.json()["error"]["message"]
    source.write_bytes(original)
    assert c.get(url, headers=api.headers()).status_code == 200

    manifest_path = api.root / "lib" / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "files": ["../../eml.toml", *manifest["files"]]}))
    outside = c.get(url, headers=api.headers())
    assert outside.status_code == 409 and "outside the library" in outside.json()["error"]["message"]

    shutil.rmtree(api.root / "lib")
    gone = c.get(url, headers=api.headers())
    assert gone.status_code == 404 and "no longer on the server" in gone.json()["error"]["message"]
