import numpy as np
import pytest
from PIL import Image

from edgekit.data.images import ImageDecodeError, load_image


def test_exif_orientation_is_applied(tmp_path):
    # A 20x10 landscape frame tagged "rotate 90 CW to display": the viewer shows it 10x20.
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :10] = 255  # left half white
    img = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif, quality=95)
    out = load_image(path, (20, 10))
    assert out.shape == (20, 10, 3)
    # After rotating 90 degrees clockwise the white half is on top.
    assert out[:8].mean() > 200 and out[12:].mean() < 50


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "I;16", "1"])
def test_any_mode_becomes_rgb_uint8(tmp_path, mode):
    img = Image.new("RGB", (12, 12), (200, 30, 30)).convert(mode)
    path = tmp_path / f"img_{mode.replace(';', '')}.png"
    img.save(path)
    out = load_image(path, (8, 8))
    assert out.shape == (8, 8, 3) and out.dtype == np.uint8


def test_transparent_pixels_become_white(tmp_path):
    img = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    path = tmp_path / "clear.png"
    img.save(path)
    assert load_image(path, (4, 4)).min() == 255


def test_gif_and_webp_and_bmp_are_read(tmp_path):
    img = Image.new("RGB", (9, 9), (10, 200, 10))
    for suffix in ("gif", "webp", "bmp"):
        path = tmp_path / f"x.{suffix}"
        img.save(path)
        assert load_image(path, (9, 9)).shape == (9, 9, 3)


def test_corrupt_and_truncated_files_raise_decode_error(tmp_path):
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not an image")
    with pytest.raises(ImageDecodeError, match="not a recognised image format"):
        load_image(garbage, (8, 8))

    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:200])
    with pytest.raises(ImageDecodeError):
        load_image(truncated, (8, 8))
