"""A wish's photo (services/needs/photo.py): only real pictures are taken, each re-encoded
without its EXIF/GPS metadata, and shown to the requester, the committee and the claimer
only; to other readers the need has no photo. Real FerretDB behind the needs service."""

from __future__ import annotations

import io

from PIL import Image

from shared.settings import Settings
from tests.helpers import auth
from tests.needs_support import COMMUNITY, OTHER_COMMUNITY, need_body, needs_service, volunteer

GPS_IFD = 0x8825


def jpeg_with_gps(size: tuple[int, int] = (2400, 1200)) -> bytes:
    image = Image.new("RGB", size, (200, 30, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotate 90° to stand upright
    exif[GPS_IFD] = {1: "N", 2: (22.0, 32.0, 35.0), 3: "E", 4: (114.0, 3.0, 28.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def upload(
    content: bytes, name: str = "photo.jpg", kind: str = "image/jpeg"
) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, content, kind)}


async def test_a_photo_is_stored_without_metadata_and_shown_only_to_those_who_may_see_it(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    admin = auth(settings, "community_admin", COMMUNITY)
    claimer = auth(settings, "volunteer", COMMUNITY, sub="v1")
    others = {
        "another volunteer": auth(settings, "volunteer", COMMUNITY, sub="v2"),
        "another resident": auth(settings, "resident", COMMUNITY, sub="res-2"),
        "operator": auth(settings, "operator", "zhongshan"),
    }
    async with needs_service(settings, volunteer("v1"), volunteer("v2")) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(), headers=resident)).json()["id"]
        original = jpeg_with_gps()
        assert b"PhoneMaker" in original and Image.open(io.BytesIO(original)).getexif()
        resp = await client.put(
            f"/v1/needs/{need_id}/photo", files=upload(original), headers=resident
        )
        assert resp.status_code == 200, resp.text
        # Turned upright by its orientation tag, then scaled to 1600 px a side.
        assert resp.json() == {
            "need_id": need_id,
            "width": 800,
            "height": 1600,
            "bytes": resp.json()["bytes"],
        }
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        claim = {"volunteer_id": "v1"}
        resp = await client.post(f"/v1/needs/{need_id}/claims", json=claim, headers=claimer)
        assert resp.status_code == 201, resp.text

        for who, headers in {"requester": resident, "admin": admin, "claimer": claimer}.items():
            got = await client.get(f"/v1/needs/{need_id}/photo", headers=headers)
            assert got.status_code == 200, (who, got.text)
            assert got.headers["content-type"] == "image/jpeg"
            assert "no-store" in got.headers["cache-control"]
            stored = Image.open(io.BytesIO(got.content))
            assert stored.format == "JPEG" and stored.size == (800, 1600)
            assert dict(stored.getexif()) == {} and "exif" not in stored.info, who
            assert b"PhoneMaker" not in got.content and b"Exif" not in got.content
            assert (await client.get(f"/v1/needs/{need_id}", headers=headers)).json()["photo"]
        for who, headers in others.items():
            seen = await client.get(f"/v1/needs/{need_id}", headers=headers)
            assert seen.status_code == 200 and seen.json()["photo"] is False, who
            listed = await client.get("/v1/needs", headers=headers)
            assert all(not n["photo"] for n in listed.json()["items"]), who
            got = await client.get(f"/v1/needs/{need_id}/photo", headers=headers)
            assert got.status_code == 404 and "没有照片" in got.json()["error"]["message"], who
        listed = await client.get("/v1/needs", headers=admin)
        assert [n["photo"] for n in listed.json()["items"] if n["id"] == need_id] == [True]

        # Once claimed, the wish takes no new photo.
        resp = await client.put(
            f"/v1/needs/{need_id}/photo", files=upload(original), headers=resident
        )
        assert resp.status_code == 409 and "不能再添加照片" in resp.json()["error"]["message"]


async def test_only_pictures_are_taken_from_the_requester_or_the_committee(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    async with needs_service(settings) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(), headers=resident)).json()["id"]
        url = f"/v1/needs/{need_id}/photo"
        refused = {
            "a script named .jpg": upload(b"<script>alert(1)</script>"),
            "an empty file": upload(b""),
            "a GIF": upload(gif(), "a.gif", "image/gif"),
        }
        for what, files in refused.items():
            resp = await client.put(url, files=files, headers=resident)
            assert resp.status_code == 422, (what, resp.text)
            assert resp.json()["error"]["details"]["field"] == "file", what
        assert (await client.get(url, headers=resident)).status_code == 404  # nothing kept
        png = io.BytesIO()
        Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(png, format="PNG")
        ok = await client.put(
            url, files=upload(png.getvalue(), "a.png", "image/png"), headers=resident
        )
        assert ok.status_code == 200 and ok.json()["width"] == 40
        another = auth(settings, "resident", COMMUNITY, sub="res-2")
        resp = await client.put(url, files=upload(png.getvalue()), headers=another)
        assert resp.status_code in (403, 404)
        outsider = auth(settings, "community_admin", OTHER_COMMUNITY)
        resp = await client.put(url, files=upload(png.getvalue()), headers=outsider)
        assert resp.status_code == 404


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (4, 4)).save(out, format="GIF")
    return out.getvalue()
