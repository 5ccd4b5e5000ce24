"""`enhance --compare`: the before/after pictures and page (in a real browser where one is installed),
and the progress of the tiles within a photo."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

import numpy as np
import pytest
import torch
from conftest import ROOT, run, synthetic_photo
from PIL import Image

from srcnn.archs import SRCNN
from srcnn.compare import most_changed_window
from srcnn.inference import restore_rgb, save_model, windows


def busy_model(conditioned: bool = True) -> SRCNN:
    """A small SRCNN whose correction is large: a restored photo differs clearly from the photo."""
    torch.manual_seed(0)
    model = SRCNN(kernel1=9, kernel2=5, kernel3=5, filters1=8, filters2=4, residual=True, conditioned=conditioned)
    torch.nn.init.normal_(model.reconstruct.weight, std=0.05)
    return model.eval()


def write_model(path: Path) -> Path:
    """A conditioned model trained (it says) on JPEG qualities 10-95: a photo with no JPEG history is left unchanged."""
    save_model(path, busy_model(), info={"params": {"scale": 1, "jpeg_quality": [10, 95]}})
    return path


def enhance(*args: str | Path) -> subprocess.CompletedProcess:
    return run([sys.executable, "-m", "srcnn", "enhance", *map(str, args)], cwd=ROOT, check=False)


def jpeg_pixels(rgb: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def rgb_of(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(int)


def sources(page: Path) -> list[Path]:
    return [(page.parent / unquote(link)).resolve() for link in re.findall(r'(?:src|href)="([^"]+)"', page.read_text())]


def test_compare_shows_every_photo_and_labels_an_unchanged_one_with_the_reason(tmp_path):
    model = write_model(tmp_path / "model.pt")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(synthetic_photo(1, 60, 80)).save(photos / "damaged.jpg", quality=20)
    Image.fromarray(synthetic_photo(2, 60, 80)).save(photos / "clean.png")  # no JPEG history: left unchanged
    Image.fromarray(synthetic_photo(3, 60, 80)).save(photos / "scan.tif")  # browsers do not show TIFF
    result = enhance(photos, "-o", tmp_path / "out", "--model", model, "--compare")
    assert result.returncode == 0, result.stderr
    page = tmp_path / "out" / "compare.html"
    text = page.read_text()
    sections = dict(re.findall(r"<h2>([^:<]+): (.*?)</section>", text, re.S))
    assert set(sections) == {"damaged.jpg", "clean.png", "scan.tif"}
    assert sections["damaged.jpg"].startswith("restored")
    for unchanged in ("clean.png", "scan.tif"):
        assert '<span class="unchanged">unchanged</span>' in sections[unchanged]
        assert "no JPEG history (not a JPEG); left unchanged (pass --quality Q" in sections[unchanged]
    linked = sources(page)
    assert all(path.is_file() for path in linked), linked
    assert not [path for path in linked if path.suffix == ".tif"]  # the TIFF is shown through a PNG copy
    assert (photos / "damaged.jpg").resolve() in linked and (tmp_path / "out" / "damaged.png").resolve() in linked
    for name in ("damaged", "clean", "scan"):
        picture = rgb_of(tmp_path / "out" / "compare" / f"{name}.before-after.png")
        assert picture.shape[1] > 2 * 80 and picture.shape[0] > 60 + 3 * 60  # two photos, two zoomed crops below
    assert "before/after of 3 photos" in result.stdout

    one = enhance(photos / "clean.png", "-o", tmp_path / "single" / "clean_restored.png", "--model", model, "--compare")
    assert one.returncode == 0, one.stderr
    assert (tmp_path / "single" / "compare.html").is_file()
    assert (tmp_path / "single" / "compare" / "clean_restored.before-after.png").is_file()


def test_the_crop_is_where_the_restoration_changed_the_photo_most():
    before = synthetic_photo(4, 120, 160)
    after = before.copy()
    after[70:90, 100:130] = 255 - after[70:90, 100:130]
    top, left = most_changed_window(before, after, 32)
    assert top <= 70 and top + 32 >= 90 and left <= 100 and left + 32 >= 130


def test_tiles_done_are_reported_and_the_result_is_bit_identical():
    model = busy_model(conditioned=False)
    rgb = synthetic_photo(5, 70, 90)
    calls = []
    tracked = restore_rgb(model, rgb, tile=16, on_tile=lambda done, total: calls.append((done, total)))
    count = len(list(windows(70, 90, 16, model.radius)))
    assert calls == [(done, count) for done in range(count + 1)]
    assert np.array_equal(tracked, restore_rgb(model, rgb, tile=16))


def test_enhance_shows_the_tiles_done_within_a_photo(tmp_path):
    Image.fromarray(synthetic_photo(6, 70, 90)).save(tmp_path / "big.jpg", quality=30)
    result = enhance(
        tmp_path / "big.jpg", "-o", tmp_path / "out", "--model", write_model(tmp_path / "m.pt"), "--tile", "32"
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"big\.jpg: +0%.*\| 0/9 \[.*tile", result.stderr), result.stderr  # 3 × 3 tiles of 32


CHROMIUM, CHROMEDRIVER = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="no Chromium and chromedriver installed")
def test_the_compare_page_slider_shows_before_and_after_in_a_real_browser(tmp_path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    before = jpeg_pixels(synthetic_photo(7, 160, 240), 10)  # a decoded JPEG in a PNG: shown exactly by the browser
    Image.fromarray(before).save(tmp_path / "photo.png")
    result = enhance(
        tmp_path / "photo.png",
        "-o",
        tmp_path / "out",
        "--model",
        write_model(tmp_path / "m.pt"),
        "--compare",
        "--quality",
        "10",
    )
    assert result.returncode == 0 and "1 restored" in result.stdout, result.stdout + result.stderr
    after = rgb_of(tmp_path / "out" / "photo.png")
    assert np.abs(after - before).mean() > 3  # the two are told apart below

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(dir=tmp_path)
    for flag in (
        "--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --disable-background-networking "
        "--disable-component-update --disable-sync --no-first-run --force-device-scale-factor=1 "
        f"--force-color-profile=srgb --window-size=900,900 --user-data-dir={profile}"
    ).split():
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.get((tmp_path / "out" / "compare.html").as_uri())
        WebDriverWait(driver, 30).until(
            lambda page: page.execute_script("return [...document.images].every(i => i.complete && i.naturalWidth)")
        )
        slider = driver.find_element(By.CSS_SELECTOR, ".slider input")
        width = slider.rect["width"]
        ActionChains(driver).move_to_element_with_offset(slider, round(-width / 2 + 0.3 * width), 0).click().perform()
        value = int(slider.get_attribute("value"))
        assert 20 <= value <= 40, value  # the click moved it from 50
        box = driver.execute_script(
            "const r = document.querySelector('img.after').getBoundingClientRect(); return [r.left, r.top, r.width];"
        )
        shot = np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB")).astype(int)
    finally:
        driver.quit()
    left, top, shown_width = (round(number) for number in box)
    assert shown_width == before.shape[1]
    shown = shot[top : top + before.shape[0], left : left + before.shape[1]]
    split = round(before.shape[1] * value / 100)
    for part, expected, other in ((np.s_[:, : split - 2], before, after), (np.s_[:, split + 2 :], after, before)):
        near, far = np.abs(shown[part] - expected[part]).mean(), np.abs(shown[part] - other[part]).mean()
        assert near < 1.0 < far, (near, far)
