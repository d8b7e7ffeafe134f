"""A small image that declares a huge picture is refused before it is decoded (issue 10, point 5).

A 164 KB PNG can declare 13000×13000 pixels; decoded and converted it cost ≈ 490 MB, three at once
1.77 GB. Now the declared size (pixels and decoded bytes) is read from the header and refused above
the limit with a message naming the file, and the conversions that are allowed share one memory
budget per process: the peak they hold together never exceeds it.
"""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image

from documents.errors import MaterialError
from documents.intake import MemoryBudget, image_limits, normalize_upload, working_bytes
from tests.security.files_support import ServedTongban


def bomb_png(side: int = 13000) -> bytes:
    """A flat gray picture compresses to almost nothing: 13000×13000 is a 164 KB file."""
    buf = io.BytesIO()
    Image.new("L", (side, side), 255).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def bomb_jpeg(side: int = 13000) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (255, 255, 255)).save(buf, format="JPEG", quality=10)
    return buf.getvalue()


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    return bomb_png()


def test_the_bomb_is_small_and_declares_169_megapixels(png_bomb: bytes) -> None:
    assert len(png_bomb) < 200 * 1024
    with Image.open(io.BytesIO(png_bomb)) as im:
        assert im.size == (13000, 13000)


def test_the_refusal_names_the_file_and_the_limit_before_anything_is_decoded(tmp_path: Path, png_bomb: bytes) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(png_bomb)
    limits = image_limits()  # the defaults: 32 megapixels, 128 MiB decoded
    with pytest.raises(MaterialError) as refused:
        normalize_upload(path, "扫描件.png", workdir=tmp_path / "w", max_bytes=10**8, limits=limits)
    err = refused.value
    assert err.code == "too_large" and err.filename == "扫描件.png"
    assert "文件“扫描件.png”声明的图像尺寸为 13000×13000 像素" in err.message_zh and "超过上限" in err.message_zh
    assert "13000×13000" in err.message
    assert not list((tmp_path / "w").glob("*")) or all(p.stat().st_size == 0 for p in (tmp_path / "w").iterdir())


def test_decoded_bytes_are_bounded_as_well_as_pixels(tmp_path: Path) -> None:
    """16-bit gray takes twice the bytes per pixel: under the pixel limit, over the byte limit."""
    path = tmp_path / "deep.tif"
    Image.new("I;16", (3000, 3000)).save(path)
    limits = image_limits(max_pixels=10_000_000, max_decoded_bytes=10_000_000, memory_budget=512 * 2**20)
    with pytest.raises(MaterialError) as refused:
        normalize_upload(path, "deep.tif", workdir=tmp_path / "w", max_bytes=10**8, limits=limits)
    assert refused.value.code == "too_large" and "deep.tif" in refused.value.message_zh


def test_concurrent_conversions_share_the_memory_budget(tmp_path: Path) -> None:
    """Three real conversions at once, a budget that fits one and a half: they take turns."""
    path = tmp_path / "scan.png"
    Image.effect_noise((1200, 1600), 40).convert("RGB").save(path)
    one = working_bytes((1200, 1600), "RGB")
    limits = image_limits(max_pixels=32_000_000, max_decoded_bytes=128 * 2**20, memory_budget=one * 3 // 2)
    budget = limits.budget
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda n: normalize_upload(path, f"scan-{n}.png", workdir=tmp_path / f"w{n}",
                                                           max_bytes=10**8, limits=limits), range(3)))
    assert [r.page_count for r in results] == [1, 1, 1]
    assert budget.peak == one  # never two at once
    assert budget.in_use == 0


def test_a_conversion_that_waits_too_long_is_refused_as_busy(tmp_path: Path) -> None:
    budget = MemoryBudget(100, wait_seconds=0.2)
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with budget.reserve(80):
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    with pytest.raises(TimeoutError), budget.reserve(50):
        pass
    release.set()
    t.join()
    with budget.reserve(100):
        assert budget.in_use == 100


def test_three_bombs_at_once_leave_the_server_s_memory_flat(served: ServedTongban, png_bomb: bytes) -> None:
    """A real ``tongban serve`` process: three bombs posted at the same moment are all refused naming
    their file, and the server's peak resident memory barely moves (it was +1.77 GB)."""
    warm = httpx.post(f"{served.base_url}/api/v1/cases", headers=served.h("bj_clerk"), timeout=60,
                      files=served.receipt_parts([("小图.png", bomb_png(200), "image/png")]))
    assert warm.status_code == 201, warm.text  # the conversion path is loaded and has run once
    before = served.peak_rss()
    jpeg = bomb_jpeg()
    bombs = [("炸弹1.png", png_bomb, "image/png"), ("炸弹2.png", png_bomb, "image/png"),
             ("炸弹3.jpg", jpeg, "image/jpeg")]
    start = threading.Barrier(3)

    def post(bomb: tuple[str, bytes, str]) -> httpx.Response:
        parts = served.receipt_parts([bomb])
        start.wait()
        return httpx.post(f"{served.base_url}/api/v1/cases", headers=served.h("bj_clerk"), files=parts, timeout=120)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(post, bombs))
    for (name, _, _), r in zip(bombs, answers, strict=True):
        assert r.status_code == 413, r.text
        body = r.json()
        assert body["reason"] == "too_large" and body["file"] == name
        assert f"文件“{name}”声明的图像尺寸为 13000×13000 像素" in body["message_zh"]
    grown = served.peak_rss() - before
    assert grown < 100 * 2**20, f"peak RSS grew by {grown / 2**20:.0f} MiB"
