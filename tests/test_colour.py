"""`channels: ycbcr`: colour tiles, colour batches, colour models of every arch, and the real stages
and `enhance` restoring all three channels; the default (`y`) restores luma and keeps chroma."""

from __future__ import annotations

import json
import shutil
import sys
import warnings

import numpy as np
import pytest
import torch
from conftest import ROOT, SMALL_ARCHS, dvc, run, synthetic_photo
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from srcnn import metrics
from srcnn.archs import ARCHS, SRCNN, build_model, channels_of
from srcnn.archs.arch_util import Arch
from srcnn.color import rgb_planes, rgb_to_ycbcr, ycbcr_planes, ycbcr_to_rgb
from srcnn.dataset import MemoryTiles, decode_sample, random_crops, read_tiles, spread_tiles
from srcnn.degrade import degrade
from srcnn.evaluation import evaluate_ladder, evaluate_photos
from srcnn.files import file_sha256
from srcnn.gate import Gate
from srcnn.images import decode_png, encode_png
from srcnn.inference import INT8, CheckpointError, load_model, restore_rgb, save_model
from srcnn.params import ParamsError, params_with
from srcnn.quantized import QuantizationError, can_quantize, quantize
from srcnn.shards import Entry, update_shards
from srcnn.tiling import split_pair, tile_photo
from srcnn.train import fit, run_fingerprint


def colour_model(arch: str = "srcnn", seed: int = 0, **extra) -> Arch:
    """A small 3-channel network whose correction is large enough that a seam or lost chroma would show."""
    torch.manual_seed(seed)
    model = ARCHS[arch](**{**SMALL_ARCHS[arch], "residual": True, "conditioned": True, "channels": 3, **extra})
    last = [module for module in model.modules() if isinstance(module, torch.nn.Conv2d)][-1]
    torch.nn.init.normal_(last.weight, std=0.05)
    return model.eval()


def prepared_sample(clean: np.ndarray, degraded: np.ndarray, name: str = "street.png", split: str = "train") -> dict:
    report = {"name": name, "split": split, "sha256": "ab" * 32, "jpeg_quality": 20}
    return {
        "__key__": name.replace(".", "_"),
        "clean.png": encode_png(clean),
        "degraded.png": encode_png(degraded),
        "json": json.dumps(report).encode(),
    }


def test_the_channels_param_builds_the_model_and_nothing_else_is_allowed():
    for arch in ARCHS:
        assert channels_of(build_model(params_with(arch=arch))) == 1
        assert channels_of(build_model(params_with(arch=arch, channels="ycbcr"))) == 3
    with pytest.raises(ParamsError, match="channels"):
        params_with(channels="rgb")


def test_ycbcr_planes_are_the_projects_one_bt601_conversion():
    rgb = synthetic_photo(3, 30, 36)
    planes = torch.from_numpy(rgb.transpose(2, 0, 1)[None].astype(np.float64) / 255.0)
    ycbcr = ycbcr_planes(planes)[0].numpy().transpose(1, 2, 0) * 255.0
    assert np.abs(ycbcr - rgb_to_ycbcr(rgb)).max() < 1e-9
    assert (rgb_planes(ycbcr_planes(planes)) - planes).abs().max() < 1e-9


def test_rgb_psnr_is_the_one_psnr_over_all_three_channels():
    clean = synthetic_photo(4, 40, 48)
    noisy = np.clip(clean.astype(int) + np.random.default_rng(0).integers(-9, 10, clean.shape), 0, 255).astype(np.uint8)
    assert metrics.psnr(clean, noisy) == pytest.approx(peak_signal_noise_ratio(clean, noisy, data_range=255), abs=1e-9)
    assert metrics.psnr(clean, noisy, 3) == pytest.approx(
        peak_signal_noise_ratio(clean[3:-3, 3:-3], noisy[3:-3, 3:-3], data_range=255), abs=1e-9
    )


def test_colour_tiles_are_rgb_pairs_whose_halves_each_tile_cuts_from_its_own_jpeg():
    clean = synthetic_photo(5, 64, 96)
    luma_samples, _ = tile_photo(prepared_sample(clean, clean), 32, 32, jpeg_quality=[10, 90], seed=3)
    samples, report = tile_photo(prepared_sample(clean, clean), 32, 32, jpeg_quality=[10, 90], seed=3, channels="ycbcr")
    assert report["tiles"] == len(samples) == 2 * 3
    assert [s["json"] for s in samples] == [s["json"] for s in luma_samples]  # the same tiles, the same qualities
    pair = decode_png(samples[4]["png"])
    assert pair.shape == (32, 64, 3)
    sharp, damaged = split_pair(pair)
    assert np.array_equal(sharp, clean[32:64, 32:64])
    assert np.abs(rgb_to_ycbcr(damaged)[..., 1:] - rgb_to_ycbcr(sharp)[..., 1:]).mean() > 0.5  # chroma damaged too
    tile, strength = decode_sample(samples[4], "shard")
    assert tile.shape == (6, 32, 32) and strength > 0
    assert np.array_equal(tile[:3].numpy().transpose(1, 2, 0), sharp)
    assert np.array_equal(tile[3:].numpy().transpose(1, 2, 0), damaged)


@pytest.mark.parametrize("channels", [1, 3])
def test_random_crops_cut_the_same_window_of_every_channel_of_both_halves(channels):
    generator = torch.Generator().manual_seed(0)
    # every value tells its plane and its position, so a crop shows where it came from
    count, size, crop = 5, 12, 7
    tiles = torch.zeros(count, 2 * channels, size, size, dtype=torch.int64)
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    for plane in range(2 * channels):
        tiles[:, plane] = plane * 1000 + rows * size + cols
    degraded, clean = random_crops(tiles, crop, generator)
    assert degraded.shape == clean.shape == (count, channels, crop, crop)
    position = (clean[:, 0] * 255.0).round()  # plane 0: the position alone
    assert len({tuple(window.flatten().tolist()) for window in position}) == count  # windows differ
    for plane in range(channels):
        assert torch.equal((clean[:, plane] * 255.0).round(), position + plane * 1000)
        assert torch.equal((degraded[:, plane] * 255.0).round(), position + (channels + plane) * 1000)


def write_colour_shards(folder, photos: int = 3) -> dict:
    """Colour tiles of a few generated photos in shards, as the tile stage writes them with `channels: ycbcr`."""
    entries = [
        Entry("train-0000000000.tar" if number else "val-0000000000.tar", f"p{number}.png", str(number))
        for number in range(photos)
    ]

    def build(needed):
        for entry in needed:
            number = int(entry.fingerprint)
            clean = synthetic_photo(number, 64, 64)
            split = "train" if number else "val"
            yield tile_photo(prepared_sample(clean, clean, entry.name, split), 32, 32, [10, 90], 0, channels="ycbcr")

    return update_shards(folder, entries, build)


def test_colour_tiles_read_from_shards_and_train_a_colour_model_with_a_luma_and_rgb_curve(tmp_path):
    manifest = write_colour_shards(tmp_path)
    tiles, strengths = read_tiles(sorted(tmp_path.glob("train-*.tar")))
    assert tiles.shape == (8, 6, 32, 32) and tiles.dtype == torch.uint8 and (strengths > 0).all()
    val = spread_tiles(tmp_path, manifest, "val", 3)
    assert val[0].shape == (3, 6, 32, 32)
    params = params_with(
        channels="ycbcr",
        epochs=2,
        steps_per_epoch=3,
        batch_size=4,
        crop=16,
        tile=32,
        stride=32,
        warmup_steps=1,
        precision="fp32",
        **SMALL_ARCHS["srcnn"],
    )
    model = build_model(params)
    history = fit(model, MemoryTiles(tiles, strengths), val, params)
    assert len(history.epochs) == 2
    assert 10 < history.epochs[-1]["val_psnr"] < 100 and 10 < history.epochs[-1]["val_rgb_psnr"] < 100
    # luma tiles cannot feed a colour model, nor colour tiles a luma one: a clear error, no training
    with pytest.raises(ValueError, match="channels"):
        fit(build_model(params), MemoryTiles(tiles[:, ::3].contiguous()), (val[0][:, ::3], val[1]), params)
    with pytest.raises(ValueError, match="channels"):
        fit(build_model(params_with(**{**vars(params), "channels": "y"})), MemoryTiles(tiles), val, params)


class Interrupted(Exception):
    """Stands for a kill right after an epoch's checkpoint was written."""


def test_a_colour_run_resumes_to_the_same_weights_and_only_a_colour_run_resumes_it(tmp_path, capsys):
    pairs = torch.randint(0, 256, (6, 6, 24, 24), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    params = params_with(
        channels="ycbcr",
        epochs=2,
        steps_per_epoch=3,
        batch_size=4,
        crop=16,
        tile=24,
        stride=24,
        precision="fp32",
        device="cpu",
        **SMALL_ARCHS["srcnn"],
    )
    assert run_fingerprint(params, "data", pairs, 1, "code") != run_fingerprint(
        params_with(**{**vars(params), "channels": "y"}), "data", pairs, 1, "code"
    )

    def train(checkpoint=None, on_epoch=None) -> torch.nn.Module:
        torch.manual_seed(0)
        model = build_model(params)
        fit(model, pairs, pairs, params, checkpoint, on_epoch=on_epoch)
        return model

    def interrupt(record: dict) -> None:
        raise Interrupted

    uninterrupted = train()
    with pytest.raises(Interrupted):
        train(tmp_path / "checkpoint.pt", on_epoch=interrupt)
    resumed = train(tmp_path / "checkpoint.pt")
    assert "resuming" in capsys.readouterr().err
    assert all(
        torch.equal(a, b)
        for a, b in zip(resumed.state_dict().values(), uninterrupted.state_dict().values(), strict=True)
    )


@pytest.mark.parametrize("arch", list(ARCHS))
def test_a_colour_model_of_each_arch_restores_in_tiles_as_in_one_whole_pass(arch):
    model = colour_model(arch)
    rgb = synthetic_photo(6, 61, 77)
    tiled, whole = restore_rgb(model, rgb, tile=16, strength=0.4), restore_rgb(model, rgb, tile=4096, strength=0.4)
    with torch.no_grad():  # the network on the whole photo at once, in YCbCr
        planes = torch.from_numpy(rgb.transpose(2, 0, 1)[None] / 255.0).float()
        output = model(ycbcr_planes(planes), 0.4)[0].clamp(0, 1).double().numpy().transpose(1, 2, 0)
    direct = ycbcr_to_rgb(output * 255.0)
    assert np.abs(tiled.astype(int) - whole.astype(int)).max() <= 1
    assert np.abs(whole.astype(int) - direct.astype(int)).max() <= 1
    before, after = rgb_to_ycbcr(rgb), rgb_to_ycbcr(whole)
    assert np.abs(after[..., 1:] - before[..., 1:]).mean() > 1.0  # chroma restored too
    assert np.abs(after[..., 0] - before[..., 0]).mean() > 1.0


def test_a_colour_checkpoint_loads_as_colour_and_a_luma_one_is_not_mistaken_for_it(tmp_path):
    colour, luma = colour_model(), build_model(params_with(**SMALL_ARCHS["srcnn"]))
    save_model(tmp_path / "colour.pt", colour)
    save_model(tmp_path / "luma.pt", luma)
    loaded, _ = load_model(tmp_path / "colour.pt")
    assert channels_of(loaded) == 3 and loaded.config == colour.config
    assert channels_of(load_model(tmp_path / "luma.pt")[0]) == 1
    state = torch.load(tmp_path / "luma.pt", weights_only=True)
    torch.save({**state, "config": {**state["config"], "channels": 3}}, tmp_path / "relabelled.pt")
    with pytest.raises(CheckpointError, match="relabelled.pt"):
        load_model(tmp_path / "relabelled.pt")


def test_a_gray_photo_goes_through_a_colour_model_as_r_equals_g_equals_b(tmp_path):
    model = colour_model()
    gray = synthetic_photo(7, 40, 48)[..., 1]
    restored = restore_rgb(model, np.repeat(gray[..., None], 3, axis=2), strength=0.4)
    assert restored.shape == (40, 48, 3)
    save_model(tmp_path / "colour.pt", model)
    Image.fromarray(gray).save(tmp_path / "gray.jpg", quality=30)
    result = run(
        [
            sys.executable,
            "-m",
            "srcnn",
            "enhance",
            str(tmp_path / "gray.jpg"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(tmp_path / "colour.pt"),
        ],
        cwd=ROOT,
    )
    with Image.open(tmp_path / "out" / "gray.png") as output:
        assert output.mode == "L" and output.size == (48, 40), result.stderr
        written = np.asarray(output)
    with Image.open(tmp_path / "gray.jpg") as original:
        assert np.abs(written.astype(int) - np.asarray(original).astype(int)).mean() > 0.5  # restored, not copied


def test_int8_is_for_luma_srcnn_only_and_a_colour_model_falls_back_cleanly(tmp_path):
    model = colour_model(conditioned=False)
    assert isinstance(model, SRCNN)
    assert not can_quantize(model) and can_quantize(SRCNN())
    with pytest.raises(QuantizationError, match="luma"):
        quantize(model, [torch.rand(1, 3, 16, 16)])
    rgb = synthetic_photo(8, 32, 40)
    with pytest.warns(UserWarning, match="instead"):
        fallback = restore_rgb(model, rgb, dtype=INT8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.abs(fallback.astype(int) - restore_rgb(model, rgb).astype(int)).max() <= 2
    save_model(tmp_path / "colour.pt", model)
    Image.fromarray(rgb).save(tmp_path / "p.jpg", quality=30)
    refused = run(
        [
            sys.executable,
            "-m",
            "srcnn",
            "enhance",
            str(tmp_path / "p.jpg"),
            "-o",
            str(tmp_path / "out"),
            "--model",
            str(tmp_path / "colour.pt"),
            "--precision",
            "int8",
        ],
        cwd=ROOT,
        check=False,
    )
    assert refused.returncode == 2 and "int8" in refused.stderr and "colour" in refused.stderr, refused.stderr
    assert not (tmp_path / "out").exists()


def test_evaluation_scores_luma_and_rgb_of_luma_and_colour_models():
    clean = synthetic_photo(9, 48, 64)
    degraded = degrade(clean, 1, 20)
    photos = [("p.png", clean, degraded, 20)]
    identity = colour_model(conditioned=False)
    assert isinstance(identity, SRCNN)
    torch.nn.init.zeros_(identity.reconstruct.weight)
    seen = []
    table = evaluate_photos(identity, photos, 0, on_photo=lambda *args: seen.append(args[3]))
    row = table.iloc[0]
    assert row["rgb_psnr_input"] == pytest.approx(metrics.psnr(clean, degraded))
    assert abs(row["rgb_psnr_gain"]) < 0.05 and abs(row["psnr_gain"]) < 0.05  # the identity, up to 8-bit rounding
    assert seen[0].shape == clean.shape
    restorer = colour_model(conditioned=False, seed=1)
    row = evaluate_photos(restorer, photos, 0).iloc[0]
    assert row["rgb_psnr_output"] == pytest.approx(metrics.psnr(clean, restore_rgb(restorer, degraded)))
    # a luma model's RGB output keeps the input's chroma
    luma = build_model(params_with(**SMALL_ARCHS["srcnn"], conditioned=False)).eval()
    assert isinstance(luma, SRCNN)
    torch.nn.init.normal_(luma.reconstruct.weight, std=0.05)
    seen.clear()
    row = evaluate_photos(luma, photos, 0, on_photo=lambda *args: seen.append(args[3])).iloc[0]
    assert row["rgb_psnr_output"] == pytest.approx(metrics.psnr(clean, seen[0]))
    assert np.array_equal(seen[0], restore_rgb(luma, degraded))  # what enhance writes, rounded once
    assert np.abs(rgb_to_ycbcr(seen[0])[..., 1:] - rgb_to_ycbcr(degraded)[..., 1:]).mean() < 1.0
    ladder, _ = evaluate_ladder(restorer, [("p", clean)], 0, 1, [20, 90], gate=Gate(None, {}))
    assert {"rgb_psnr_input", "rgb_psnr_output", "rgb_psnr_gain", "rgb_model_gain"} <= set(ladder.columns)


def chroma_change(before, after) -> float:
    return float(np.abs(rgb_to_ycbcr(after)[..., 1:] - rgb_to_ycbcr(before)[..., 1:]).mean())


def luma_change(before, after) -> float:
    return float(np.abs(rgb_to_ycbcr(after)[..., 0] - rgb_to_ycbcr(before)[..., 0]).mean())


def test_dvc_exp_run_channels_ycbcr_from_the_luma_model_reruns_tile_train_evaluate_and_enhance_restores_chroma(
    make_project, tmp_path
):
    project = make_project(lr=0.01, steps_per_epoch=10)  # enough training for the models to change the photo
    dvc("repro", cwd=project)
    shutil.copy(project / "models/srcnn.pt", project / "models/start.pt")  # to start a colour model from, below
    run(["git", "add", "-A"], cwd=project)
    run(["git", "commit", "-qm", "baseline"], cwd=project)
    luma_eval = json.loads((project / "metrics/eval.json").read_text())
    assert luma_eval["rgb_psnr_input"] > 0 and "rgb_model_gain" in luma_eval["ladder"]["q10"]
    jpeg = synthetic_photo(11, 64, 80)
    Image.fromarray(jpeg).save(tmp_path / "photo.jpg", quality=25)
    with Image.open(tmp_path / "photo.jpg") as image:
        decoded = np.asarray(image.convert("RGB"))

    def enhanced(name: str) -> np.ndarray:
        run(
            [
                sys.executable,
                "-m",
                "srcnn",
                "enhance",
                str(tmp_path / "photo.jpg"),
                "-o",
                str(tmp_path / name),
                "--force",
                "--model",  # the pipeline's model itself, not the shipped one it did not beat
                "models/srcnn.pt",
            ],
            cwd=project,
        )
        with Image.open(tmp_path / name / "photo.png") as output:
            return np.asarray(output)

    luma_output = enhanced("luma")
    # a luma model restores luma and keeps the JPEG's chroma (up to the rounding of RGB to 8 bits)
    assert luma_change(decoded, luma_output) > 0.1 and chroma_change(decoded, luma_output) < 0.05

    # the colour model starts from the luma baseline (init): the one `dvc exp run` also runs fine-tuning
    experiment = dvc("exp", "run", "-S", "channels=ycbcr", "-S", "init=models/start.pt", cwd=project)
    ran = {
        stage
        for stage in ("samples", "prepare", "tile", "train", "evaluate")
        if f"Running stage '{stage}'" in experiment.stdout
    }
    assert ran == {"tile", "train", "evaluate"}, experiment.stdout
    with __import__("tarfile").open(next((project / "data/tiles").glob("train-*.tar"))) as shard:
        member = next(m for m in shard.getmembers() if m.name.endswith(".png"))
        assert decode_png(shard.extractfile(member).read()).shape == (32, 64, 3)
    model, info = load_model(project / "models/srcnn.pt")
    assert channels_of(model) == 3 and info["params"]["channels"] == "ycbcr"
    scores = json.loads((project / "metrics/eval.json").read_text())
    for key in ("rgb_psnr_input", "rgb_psnr_output", "rgb_psnr_gain"):
        assert isinstance(scores[key], float) and isinstance(scores["ladder"]["q20"][key], float)
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert summary["q20_rgb_gain"] == scores["ladder"]["q20"]["rgb_model_gain"]
    colour_output = enhanced("colour")
    assert chroma_change(decoded, colour_output) > 0.3  # the colour model restores chroma too
    trained = json.loads((project / "metrics/train.json").read_text())
    assert "val_rgb_psnr" in trained and trained["init_sha256"] == file_sha256(project / "models/start.pt")

    # the train stage really starts from those weights: at a vanishing lr the colour model is the luma model
    params = (project / "params.yaml").read_text()
    assert "init: models/start.pt" in params
    (project / "params.yaml").write_text(params.replace("lr: 0.01", "lr: 1.0e-12"))
    run([sys.executable, "-m", "stages.train"], cwd=project)
    luma, _ = load_model(project / "models/start.pt")
    colour, info = load_model(project / "models/srcnn.pt")
    ycbcr = torch.rand(1, 3, 30, 40)
    with torch.no_grad():
        restored, luma_restored = colour(ycbcr, 0.4), luma(ycbcr[:, :1], 0.4)
    assert not torch.allclose(luma_restored, ycbcr[:, :1], atol=1e-3)
    torch.testing.assert_close(restored[:, :1], luma_restored, rtol=0, atol=1e-4)
    torch.testing.assert_close(restored[:, 1:], ycbcr[:, 1:], rtol=0, atol=1e-4)
    assert info["init_sha256"] == file_sha256(project / "models/start.pt")
    (project / "params.yaml").write_text(params.replace("init: models/start.pt", "init: models/srcnn.pt"))
    own = run([sys.executable, "-m", "stages.train"], cwd=project, check=False)
    assert own.returncode != 0 and "init: models/srcnn.pt is this stage's own output" in own.stderr


def test_recolour_copies_only_colour_train_photos_with_their_luma_and_more_chroma(tmp_path):
    """benchmarks/recolour.py: recoloured copies of the train photos, none of a val or gray photo, the photos
    untouched."""
    photos, out = tmp_path / "photos", tmp_path / "recoloured"
    photos.mkdir()
    for seed in range(6):
        Image.fromarray(synthetic_photo(seed)).save(photos / f"p{seed}.png")
    gray = np.repeat(synthetic_photo(9)[..., :1], 3, axis=2)
    Image.fromarray(gray).save(photos / "gray.png")
    before = {path.name: file_sha256(path) for path in photos.iterdir()}
    result = run(
        [
            sys.executable,
            "-m",
            "benchmarks.recolour",
            str(photos),
            "--out",
            str(out),
            "--copies",
            "3",
            "--params",
            str(ROOT / "params.yaml"),
        ],
        cwd=ROOT,  # where benchmarks is a package; every path given is absolute
    )
    assert {path.name: file_sha256(path) for path in photos.iterdir()} == before
    from srcnn.params import load_params
    from srcnn.photos import assign_split, find_photos

    found, _ = find_photos(photos)
    project = load_params(ROOT / "params.yaml")
    split = assign_split(found, project.val_fraction, project.seed)
    train = sorted(name[:-4] for name, where in split.items() if where == "train" and name != "gray.png")
    assert "val" in split.values() and train
    assert sorted(path.name for path in out.iterdir()) == [f"{name}-c{copy}.png" for name in train for copy in range(3)]
    assert json.loads(result.stdout.splitlines()[-1])["copies"] == 3 * len(train)
    for name in train:
        source = rgb_to_ycbcr(np.asarray(Image.open(photos / f"{name}.png")))
        for copy in range(3):
            copied = rgb_to_ycbcr(np.asarray(Image.open(out / f"{name}-c{copy}.png")))
            chroma = np.abs(copied[..., 1:] - 128).mean() / np.abs(source[..., 1:] - 128).mean()
            assert chroma > 1.2, (name, copy, chroma)  # saturation × 1.3 or more, less what clipping takes
            if copy > 0:  # turned and stretched chroma, the same luma (but where a channel clipped)
                assert np.median(np.abs(copied[..., 0] - source[..., 0])) < 1.0
    inside = run(
        [
            sys.executable,
            "-m",
            "benchmarks.recolour",
            str(photos),
            "--out",
            str(photos / "x"),
            "--params",
            str(ROOT / "params.yaml"),
        ],
        cwd=ROOT,
        check=False,
    )
    assert inside.returncode != 0 and "never written to" in inside.stderr and not (photos / "x").exists()
