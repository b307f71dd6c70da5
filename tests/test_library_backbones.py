"""timm and torchvision models staged from their own stage descriptions: the staged forward is the
library model's forward, per-block MACs add up to the model's, weights load from files and caches."""
from __future__ import annotations

import pytest
import torch

from eexit.errors import EExitError
from eexit.costs.flops import block_macs, count_macs
from eexit.models.backbones import timm_backbone, torchvision_backbone

TIMM = ["resnet18", "resnet50", "mobilenetv3_large_100", "efficientnet_b0", "convnext_tiny", "regnety_002",
        "vgg16_bn", "densenet121"]
TORCHVISION = ["resnet18", "resnet50", "mobilenet_v3_large", "efficientnet_b0", "convnext_tiny", "regnet_y_400mf",
               "vgg16_bn", "densenet121"]
CASES = [("timm", n) for n in TIMM] + [("torchvision", n) for n in TORCHVISION]


def library_model(lib: str, name: str, num_classes: int = 10) -> torch.nn.Module:
    torch.manual_seed(0)
    if lib == "timm":
        import timm
        return timm.create_model(name, num_classes=num_classes).eval()
    import torchvision
    return torchvision.models.get_model(name, num_classes=num_classes).eval()


def staged_from(lib: str, name: str, model: torch.nn.Module, tmp_path, num_classes: int = 10):
    """The staged backbone, loaded from a state_dict file saved from ``model`` (``backbone.weights``)."""
    path = tmp_path / f"{lib}-{name}.pt"
    torch.save(model.state_dict(), path)
    build = timm_backbone if lib == "timm" else torchvision_backbone
    return build(name, num_classes=num_classes, weights=str(path)).eval()


@pytest.mark.parametrize("lib,name", CASES)
def test_staged_forward_and_macs_equal_the_library_model(lib, name, tmp_path):
    model = library_model(lib, name)
    staged = staged_from(lib, name, model, tmp_path)
    assert staged.block_names[-1] == "classifier" and staged.num_blocks >= 5
    torch.manual_seed(1)
    for size in (64, 224):
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            want = model(x)
            assert torch.equal(staged(x), want)
            k = staged.num_blocks // 2      # resumed mid-network: blocks [0, k) then [k, end)
            assert torch.equal(staged(staged(x, 0, k), k), want)
        shapes = staged.feature_shapes((3, size, size))
        assert all(len(s) == 3 for s in shapes[:-1]) and shapes[-1] == (10,)
    macs = block_macs(staged, (3, 64, 64))
    assert macs[0] > 0 and sum(macs) == count_macs(model, torch.zeros(1, 3, 64, 64))


def test_train_mode_reaches_library_norm_layers(tmp_path):
    """timm's BatchNormAct2d reads ``self.training``; traced through, it would stay in eval mode.
    In train mode the staged model must normalise by batch statistics and update running stats
    exactly as the library model does."""
    model = library_model("timm", "efficientnet_b0")
    staged = staged_from("timm", "efficientnet_b0", model, tmp_path)
    x = torch.randn(4, 3, 64, 64)
    model.train(), staged.train()
    with torch.no_grad():
        assert torch.allclose(staged(x), model(x), atol=1e-5)
    stats = lambda m: [b.running_mean.clone() for b in m.modules() if isinstance(b, torch.nn.BatchNorm2d)]  # noqa: E731
    assert all(torch.equal(a, b) for a, b in zip(stats(staged), stats(model)))
    assert not torch.equal(stats(staged)[0], torch.zeros_like(stats(staged)[0]))


def test_batchnorm_folds_inside_the_graph(tmp_path):
    from eexit.models.fold import fold_batchnorm
    model = library_model("torchvision", "resnet18")
    staged = staged_from("torchvision", "resnet18", model, tmp_path)
    for m in staged.modules():                       # non-trivial statistics, so a wrong fold shows
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5), m.running_var.uniform_(0.5, 2.0)
    folded, count = fold_batchnorm(staged)
    assert count == 20                               # every conv-BN pair of ResNet-18
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(folded(x), staged(x), atol=1e-4)
        assert torch.allclose(folded(folded(x, 0, 2), 2), staged(x), atol=1e-4)


def test_models_without_a_stage_table_are_cut_at_each_resolution(tmp_path):
    model = library_model("torchvision", "shufflenet_v2_x1_0")
    staged = staged_from("torchvision", "shufflenet_v2_x1_0", model, tmp_path)
    shapes = staged.feature_shapes((3, 64, 64))
    sizes = [s[1] for s in shapes[:-1]]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes) >= 4   # one cut per resolution
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(staged(staged(x, 0, 2), 2), model(x))


def test_pretrained_weights_come_from_the_usual_cache(tmp_path, monkeypatch):
    """torchvision's DEFAULT weights found in $TORCH_HOME, offline; the classifier resized for 10
    classes; the pretrained model's own normalisation travels with it."""
    import torchvision
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    enum = torchvision.models.ResNet18_Weights.DEFAULT
    reference = library_model("torchvision", "resnet18", num_classes=1000)
    cached = tmp_path / "hub" / "checkpoints" / enum.url.rsplit("/", 1)[1]
    cached.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), cached)
    full = torchvision_backbone("resnet18", num_classes=1000, pretrained=True).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(full(x), reference(x))
    assert full.input_mean == (0.485, 0.456, 0.406) and full.input_std == (0.229, 0.224, 0.225)
    ten = torchvision_backbone("resnet18", num_classes=10, pretrained="IMAGENET1K_V1").eval()
    assert ten.feature_shapes((3, 64, 64))[-1] == (10,) and ten.new_classifier and not full.new_classifier
    with torch.no_grad():                            # every stage but the resized classifier is pretrained
        assert torch.equal(ten(x, 0, ten.num_blocks - 1), full(x, 0, full.num_blocks - 1))
    # used "as is" (pretrain.epochs=0) on 10 classes, that new classifier would be untrained: refused
    from eexit.pipeline import run_experiment
    from tests.conftest import compose_cfg
    cfg = compose_cfg(["backbone=torchvision", "backbone.model=resnet18", "backbone.pretrained=true",
                       "pretrain.epochs=0", "method=backbone"], tmp_path)
    with pytest.raises(EExitError, match="classifier is new and untrained; fine-tune it first with pretrain.epochs=N"):
        run_experiment(cfg, tmp_path / "run")


@pytest.mark.parametrize("call,says", [
    (lambda p: timm_backbone("resnet_18"), "unknown timm model 'resnet_18'; did you mean"),
    (lambda p: torchvision_backbone("efficientnet-b0"), "did you mean efficientnet_b0"),
    (lambda p: torchvision_backbone("resnet18", pretrained="IMAGENET9K"), "no weights IMAGENET9K for resnet18"),
    (lambda p: torchvision_backbone("resnet50", weights=p), "does not fit torchvision-resnet50"),
    (lambda p: torchvision_backbone("vgg16_bn").feature_shapes((3, 16, 16)),
     "16x16 images are too small for torchvision-vgg16_bn"),
    (lambda p: timm_backbone("vit_tiny_patch16_224").feature_shapes((3, 224, 224)),
     "timm-vit_tiny_patch16_224 cannot run block by block"),
])
def test_library_backbone_errors_are_one_line(call, says, tmp_path):
    weights = tmp_path / "resnet18.pt"
    torch.save(library_model("torchvision", "resnet18").state_dict(), weights)
    with pytest.raises(EExitError) as err:
        call(str(weights))
    assert says in str(err.value) and "\n" not in str(err.value)


def test_a_backbone_whose_stages_are_not_feature_maps_is_refused():
    from torch import nn

    from eexit.models.backbones import StagedBackbone
    flat = StagedBackbone([nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 10)], ["conv", "flatten", "classifier"],
                          "flat", 10)
    with pytest.raises(EExitError, match=r"flat is not a CNN .*block flatten outputs \(144,\)"):
        flat.feature_shapes((3, 8, 8))
