"""Stored features carry checksums: a flipped byte, swapped files, swapped labels or overwritten values
are found on load, said in one warning each, and rebuilt; never used."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch

from eexit.data import SyntheticDataModule
from eexit.data.features import FeatureDataModule
from eexit.models.backbones import cifar_resnet
from tests.conftest import reading

ATTACH = [3, 5]


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    return SyntheticDataModule(train_size=256, val_size=128, test_size=128, seed=0), cifar_resnet(20, num_classes=10).eval()


def features(parts, cache):
    dm, backbone = parts
    data = FeatureDataModule(dm, reading(backbone, ATTACH), cache_dir=cache, eval_batch_size=512)
    data.setup()
    return data


def flip(path, offset=-500):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def swap(a, b):
    tmp = a.with_name("swap.tmp")
    a.rename(tmp), b.rename(a), tmp.rename(b)


def huge(path):
    a = np.load(path, mmap_mode="r+")
    a[3] = 30000   # a large finite value: no NaN or inf to catch it
    a.flush()
    del a


CORRUPTIONS = {   # ``at(split)``: the split's folder (training in bfloat16, validation and test in float32)
    "flip": lambda at: [flip(at("train") / "block5.npy")],
    "swap blocks": lambda at: [swap(at("val") / "block3.npy", at("test") / "block3.npy")],
    "swap labels": lambda at: [swap(at("val") / "labels.npy", at("test") / "labels.npy")],
    "huge values": lambda at: [huge(at("test") / "block5.npy")],
}


def split_folder(cache):
    return lambda split: next((cache / "features").glob(f"*/{split}"))


@pytest.mark.parametrize("how", CORRUPTIONS)
def test_corrupted_feature_files_are_found_and_rebuilt(parts, tmp_path, caplog, how):
    first = features(parts, tmp_path)
    want = {s: [f.clone() for f in first.data[s].feats] + [first.data[s].labels.clone()] for s in ("train", "val", "test")}
    del first
    CORRUPTIONS[how](split_folder(tmp_path))
    caplog.set_level(logging.WARNING)
    again = features(parts, tmp_path)
    warned = [r.getMessage() for r in caplog.records if "checksum does not match" in r.getMessage()]
    assert 1 <= len(warned) <= 2 and len(again.extracted) == len(warned), warned   # each bad file: one line, rebuilt
    for s, tensors in want.items():
        got = [f for f in again.data[s].feats] + [again.data[s].labels]
        assert all(torch.equal(a, b) for a, b in zip(got, tensors)), s
    caplog.clear()
    features(parts, tmp_path)   # the rebuilt files pass as they are
    assert not [r for r in caplog.records if "discarding" in r.getMessage()]


def test_a_file_without_its_checksum_is_rebuilt(parts, tmp_path, caplog):
    features(parts, tmp_path)
    (split_folder(tmp_path)("val") / "final.npy.b2").unlink()
    caplog.set_level(logging.WARNING)
    again = features(parts, tmp_path)
    assert again.extracted == ["val/final"] and "no checksum beside it" in caplog.text
    shutil.rmtree(tmp_path / "features")


def test_a_backbone_entry_whose_weights_changed_fails_its_checksum(tmp_path):
    from eexit.pipeline.backbone_cache import entry_problem, load_entry, save_entry
    state = cifar_resnet(20, num_classes=10).state_dict()
    path = tmp_path / "entry.pt"
    save_entry(path, state, {"k": 1}, {"test_acc": 0.5})
    entry = torch.load(path, weights_only=False)
    assert entry_problem(entry, None) is None
    entry["state_dict"]["blocks.0.0.weight"][0, 0, 0, 0] += 1.0   # a finite change NaN checks cannot see
    assert entry_problem(entry, None) == "damaged: its weights fail their checksum"
    torch.save(entry, path)
    assert load_entry(path) is None


def test_a_checkpoint_refuses_a_backbone_file_that_changed(tmp_path):
    """The checkpoint of a frozen-backbone run points at the backbone's weights file; it records their digest,
    so a file overwritten since then is refused in one line instead of feeding the heads other features."""
    import functools

    from eexit.deploy.checkpoint import load_exit_checkpoint, save_exit_checkpoint
    from eexit.errors import EExitError
    from eexit.exits import ExitPolicy
    from eexit.models.early_exit import build_exit_net
    from eexit.models.heads import Conv1dHead
    from tests.conftest import compose_cfg
    from omegaconf import OmegaConf
    cfg = OmegaConf.to_container(compose_cfg(["data=digits"]), resolve=True)
    backbone = cifar_resnet(20, num_classes=10)
    weights = tmp_path / "backbone.pt"
    torch.save(backbone.state_dict(), weights)
    net = build_exit_net(backbone, [3, 5, 7], functools.partial(Conv1dHead), 10, (3, 32, 32))
    policy = ExitPolicy("max_softmax", torch.full((3, 10), 0.9))
    save_exit_checkpoint(tmp_path / "boosted.pt", net, policy, cfg, str(weights), (3, 32, 32))
    assert load_exit_checkpoint(tmp_path / "boosted.pt").net.num_exits == 3
    ck = torch.load(tmp_path / "boosted.pt", weights_only=False)
    for name, edit in (("threshold", lambda c: c["policy"]["thresholds"][1].__setitem__(3, 0.5)),
                       ("head weight", lambda c: c["heads"][next(iter(c["heads"]))].view(-1)[0].add_(1e-3))):
        edited = {k: (v.copy() if isinstance(v, dict) else v) for k, v in ck.items()}
        edited["policy"] = {**ck["policy"], "thresholds": [list(r) for r in ck["policy"]["thresholds"]]}
        edited["heads"] = {k: v.clone() for k, v in ck["heads"].items()}
        edit(edited)
        torch.save(edited, tmp_path / f"edited-{name}.pt")
        with pytest.raises(EExitError, match="does not match its checksum"):
            load_exit_checkpoint(tmp_path / f"edited-{name}.pt")
    torch.save(cifar_resnet(20, num_classes=10).state_dict(), weights)   # other weights under the same name
    with pytest.raises(EExitError, match="changed since this checkpoint was written") as err:
        load_exit_checkpoint(tmp_path / "boosted.pt")
    assert "\n" not in str(err.value)


def test_a_killed_extraction_leaves_nothing_the_next_run_keeps(parts, tmp_path, caplog):
    """What a job killed mid-extraction leaves (its temporaries, no finished file) is removed by the next
    job that takes the lock, which then builds the file."""
    features(parts, tmp_path)
    train = split_folder(tmp_path)("train")
    (train / "block5.npy").unlink()
    (train / "block5.npy.b2").unlink()
    (train / ".block5.npy.999999.tmp").write_bytes(b"\0" * 4096)   # a dead writer's half file
    (train / ".block5.npy.b2.999999.tmp").write_text("")
    caplog.set_level(logging.WARNING)
    again = features(parts, tmp_path)
    assert again.extracted == ["train/block5"] and not list(train.rglob("*.tmp"))
    assert "left by a job that stopped while writing it" in caplog.text


def test_a_damaged_decoded_image_cache_is_decoded_again_with_one_warning(tmp_path, caplog):
    """Pixels changed inside ``.decoded-*.pt`` while it still unpickles (same stamp, old checksum): one warning,
    decoded again, the true pixels returned and stored; a flipped byte in the file likewise."""
    from eexit.data.decoded import decoded_once
    images, labels = torch.arange(4 * 3 * 8 * 8, dtype=torch.int64).remainder(251).to(torch.uint8).reshape(4, 3, 8, 8), \
        torch.tensor([0, 1, 0, 1])
    calls = []

    def decode():
        calls.append(1)
        return images.clone(), labels.clone()
    cache = tmp_path / ".decoded-train.pt"
    decoded_once(cache, "stamp", decode)
    saved = torch.load(cache)
    saved["images"][2, 1, 3, 3] += 1                                   # one pixel overwritten, checksum kept
    torch.save(saved, cache)
    with caplog.at_level(logging.WARNING):
        got, _ = decoded_once(cache, "stamp", decode)
    assert len(calls) == 2 and torch.equal(got, images)
    assert [r.message for r in caplog.records if "checksum" in r.message] == [
        f"decoded {cache} does not match its checksum (damaged or overwritten); decoding again"]
    assert torch.equal(decoded_once(cache, "stamp", decode)[0], images) and len(calls) == 2   # stored right again
    offset = bytes(cache.read_bytes()).find(images[1].numpy().tobytes())   # a byte inside the stored pixels
    assert offset > 0
    flip(cache, offset + 7)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        got, _ = decoded_once(cache, "stamp", decode)
    assert len(calls) == 3 and torch.equal(got, images) and len(caplog.records) == 1


def test_a_large_untouched_file_is_trusted_by_its_stamp_and_rehashed_once_touched(parts, tmp_path, monkeypatch):
    """Above STAMP_ONLY_BYTES a file whose size, mtime and inode match its stamp is not hashed again; any write
    (here the bytes flipped in place) changes the stamp, so the file is hashed, found damaged and rebuilt."""
    import eexit.data.checksums as checksums
    features(parts, tmp_path)
    monkeypatch.setattr(checksums, "STAMP_ONLY_BYTES", 0)
    hashed = []
    digest = checksums.tensor_digest
    monkeypatch.setattr(checksums, "tensor_digest", lambda tag, t: hashed.append(tag) or digest(tag, t))
    clean = features(parts, tmp_path)
    assert hashed == []                                               # every file trusted by its stamp
    want = [f.clone() for f in clean.data["train"].feats]             # (the loaded arrays map the files)
    del clean
    flip(split_folder(tmp_path)("train") / "block3.npy")
    again = features(parts, tmp_path)
    assert hashed == ["train/block3"] and len(again.extracted) == 1   # only the touched file hashed: damaged
    assert all(torch.equal(a, b) for a, b in zip(want, again.data["train"].feats))
