"""The three networks: output shapes, encoder-once, gradients, grouping and part masks."""

from __future__ import annotations

import kornia
import pytest
import torch

from landmarkgait.models import build_model
from landmarkgait.models.cpu_dispatch import install_cpu_kernels
from landmarkgait.models.cpu_kernels import fft_available
from landmarkgait.models.grouping import height_order, part_heatmaps
from landmarkgait.models.layers import BasicConv2d, BoxMean3x3, FrameStack
from landmarkgait.models.losses import compute_losses
from landmarkgait.models.parsing import dilate, part_masks
from landmarkgait.models.pmbc import support_window
from landmarkgait.models.samples import walking_silhouettes as walkers
from landmarkgait.models.training_config import LossWeights


@pytest.mark.parametrize("num_landmark", [20, 25, 30, 35, 7])
def test_output_shapes_for_official_and_other_landmark_counts(num_landmark):
    torch.manual_seed(0)
    model = build_model("recognition", "micro", num_landmark=num_landmark, height=32, width=24)
    n, t = 4, 5
    outputs = model(walkers(n, t, 32, 24))
    frames = (n, t, 32, 24)
    assert outputs["landmarks"].shape == (n, num_landmark, t, 2)
    assert outputs["landmarks"].abs().max() <= 1.0
    for key in ("reconstruction", "part_reconstruction", "head", "up", "low", "mixed_parts"):
        assert outputs[key].shape == frames, key
    assert outputs["heatmap"].shape == (n, t, 8, 6)
    assert outputs["embeddings"].shape == (n, 8, 8)
    assert outputs["logits"].shape == (n, 8, 8)


@pytest.mark.parametrize("stage", ["landmark", "parsing", "recognition"])
@pytest.mark.parametrize(("frames", "expected"), [(1, 3), (2, 4)])
def test_short_sequences_are_repeated_like_the_official_code(stage, frames, expected):
    model = build_model(stage, "micro", height=32, width=24)
    sils = walkers(2, frames, 32, 24)
    outputs = model(sils)
    assert outputs["reconstruction"].shape == (2, expected, 32, 24)
    total, _ = compute_losses(stage, outputs, sils, torch.tensor([0, 0]), LossWeights())
    assert torch.isfinite(total)
    if stage != "landmark":
        # the masks carve the repeated input: frame k and frame k + frames are the same silhouette
        assert torch.equal(outputs["up"][:, 0], outputs["up"][:, frames])


def naive_two_pass(net, frames: torch.Tensor):
    """The official LandmarkNet forward: encode the frames and, separately, their sources."""
    n, t, h, w = frames.shape

    def encode(clips):
        flat = clips.reshape(n * t, 1, h, w)
        features = net.extract_feature(flat)
        landmarks = net.extract_landmark_2(net.extract_landmark_1(flat))
        return features.view(n, t, *features.shape[1:]), landmarks.view(n, t, *landmarks.shape[1:])

    source_features, source_landmarks = encode(torch.roll(frames, shifts=8, dims=1))
    features, landmarks = encode(frames)
    source_cover = net.heatmaps(source_landmarks).sum(2, keepdim=True)
    cover = net.heatmaps(landmarks).sum(2, keepdim=True)
    mixed = source_features * (1.0 - source_cover) * (1.0 - cover) + cover * features
    return landmarks, net.decode(mixed, net.refine)


def test_encoder_once_equals_the_naive_two_pass_computation():
    torch.manual_seed(0)
    # The official shift of 8, hard-coded in its forward (the micro preset's own is 3).
    model = build_model("landmark", "micro", channels=(4, 8, 8), transport_shift=8)
    sils = walkers(2, 12)
    outputs = model(sils)
    landmarks, reconstruction = naive_two_pass(model.Backbone, sils)
    torch.testing.assert_close(outputs["landmarks"], landmarks.permute(0, 2, 1, 3))
    torch.testing.assert_close(outputs["reconstruction"], reconstruction)
    # and the sources really differ from the frames (the roll is not a no-op here)
    assert not torch.allclose(reconstruction, naive_two_pass(model.Backbone, torch.roll(sils, 1, 1))[1])


TRAINABLE = {
    "landmark": ("Backbone.",),
    "parsing": ("Backbone.refine.", "refine."),
    "recognition": ("Backbone.refine.", "conv3d.", "LTA.", "PMBConv", "HPP.", "Head0.", "Bn.", "Head1."),
}


@pytest.mark.parametrize("stage", ["landmark", "parsing", "recognition"])
def test_gradients_reach_exactly_the_trainable_parts(stage):
    torch.manual_seed(0)
    model = build_model(stage, "micro", height=32, width=24)
    sils = walkers(4, 9, 32, 24)
    total, _ = compute_losses(stage, model(sils), sils, torch.tensor([0, 0, 1, 1]), LossWeights())
    total.backward()
    for name, parameter in model.named_parameters():
        trainable = name.startswith(TRAINABLE[stage])
        assert parameter.requires_grad == trainable, name
        if trainable:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        else:
            assert parameter.grad is None, name


def test_freezing_options_move_the_boundary():
    model = build_model("recognition", "micro", freeze_landmark_encoder=False, freeze_parsing=False)
    assert all(p.requires_grad for p in model.parameters())


def hand_made_landmarks() -> torch.Tensor:
    """[N=2, T=2, L=4, 2]: y of each landmark chosen so that frames and samples disagree."""
    y = torch.tensor(
        [
            [[0.9, -0.5, 0.1, -0.9], [0.8, -0.9, 0.2, -0.4]],  # sample 0: frame orders 3,1,2,0 / 1,3,2,0
            [[-0.2, 0.5, -0.8, 0.3], [-0.1, 0.6, -0.7, 0.9]],  # sample 1: orders 2,0,3,1 / 2,0,1,3
        ]
    )
    return torch.stack([torch.zeros_like(y), y], dim=-1)


def test_official_grouping_sorts_one_random_frame_from_the_torch_rng():
    landmarks = hand_made_landmarks()
    frame_orders = {
        (0, 0): [3, 1, 2, 0],
        (0, 1): [1, 3, 2, 0],
        (1, 0): [2, 0, 3, 1],
        (1, 1): [2, 0, 1, 3],
    }
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)
        sample, frame = int(torch.randint(2, (1,))), int(torch.randint(2, (1,)))
        torch.manual_seed(seed)
        order = height_order(landmarks, "official", per_sample=False)
        assert order.tolist() == [frame_orders[(sample, frame)]]
        seen.add((sample, frame))
    assert len(seen) > 1
    torch.manual_seed(0)
    per_sample = height_order(landmarks, "official", per_sample=True).tolist()
    assert per_sample[0] in ([3, 1, 2, 0], [1, 3, 2, 0]) and per_sample[1] in ([2, 0, 3, 1], [2, 0, 1, 3])


def test_mean_grouping_sorts_mean_heights_deterministically():
    landmarks = hand_made_landmarks()
    # batch means of y: [0.35, -0.075, -0.3, -0.025] -> top to bottom 2, 1, 3, 0
    assert height_order(landmarks, "mean", per_sample=False).tolist() == [[2, 1, 3, 0]]
    # per sample: [0.85, -0.7, 0.15, -0.65] -> 1, 3, 2, 0 and [-0.15, 0.55, -0.75, 0.6] -> 2, 0, 1, 3
    assert height_order(landmarks, "mean", per_sample=True).tolist() == [[1, 3, 2, 0], [2, 0, 1, 3]]


def test_part_heatmaps_sum_each_group_for_shared_and_per_sample_orders():
    # landmark l's map is the constant 10 ** l: a group's sum spells its members
    heatmaps = (10.0 ** torch.arange(4.0)).view(1, 1, 4, 1, 1).expand(2, 3, 4, 2, 2)
    shared = part_heatmaps(heatmaps, torch.tensor([[2, 1, 3, 0]]), (1, 2, 1))
    assert shared[0, 0, :, 0, 0].tolist() == [100.0, 1010.0, 1.0]
    per_sample = part_heatmaps(heatmaps, torch.tensor([[1, 3, 2, 0], [2, 0, 1, 3]]), (1, 2, 1))
    assert per_sample[0, 2, :, 1, 1].tolist() == [10.0, 1100.0, 1.0]
    assert per_sample[1, 2, :, 1, 1].tolist() == [100.0, 11.0, 1000.0]


def test_model_grouping_uses_the_torch_rng_and_mean_is_deterministic():
    model = build_model("parsing", "micro", height=32, width=24)
    sils = walkers(3, 4, 32, 24)
    torch.manual_seed(5)
    first = model(sils)["head"]
    torch.manual_seed(5)
    assert torch.equal(model(sils)["head"], first)
    model = build_model("parsing", "micro", height=32, width=24, grouping="mean")
    assert torch.equal(model(sils)["up"], model(sils)["up"])


def test_dilation_equals_kornia_morphology_on_thresholded_maps():
    torch.manual_seed(0)
    values = torch.rand(3, 1, 16, 12) * (torch.rand(3, 1, 16, 12) > 0.8)
    expected = kornia.morphology.dilation(values, torch.ones(3, 3)) > 0.5
    assert torch.equal(dilate(values > 0.5, 3), expected)


def test_part_masks_threshold_shear_dilate_and_carve_the_silhouette():
    h, w = 12, 6
    sils = torch.ones(1, 1, h, w)
    parts = torch.zeros(3, 1, 1, h, w)
    parts[0, ..., 0:4, :] = 0.95  # head, overlapping the upper body in rows 3-4
    parts[0, ..., 5:7, :] = 0.6  # below 0.9 x peak: not head
    parts[1, ..., 3:7, :] = 1.0  # upper body
    parts[2, ..., 7:12, :] = 0.8  # lower body, peak 0.8 -> threshold 0.72
    masks = part_masks(parts, sils, threshold=0.9, kernel_size=3, per_sample=False)

    def rows(mask: torch.Tensor) -> list[int]:
        return mask[0, 0, :, 0].nonzero().flatten().tolist()

    # head rows 0-2 after shear (3 lies under the upper body), dilated to 0-3;
    # upper body 3-6 dilated to 2-7; lower body 7-11 dilated to 6-11
    assert rows(masks.head) == [0, 1]  # minus upper (2-7) and lower (6-11)
    assert rows(masks.up) == [4, 5]  # minus head (0-3) and lower (6-11)
    assert rows(masks.low) == [8, 9, 10, 11]  # minus head (0-3) and upper (2-7)
    assert masks.head.dtype == sils.dtype


def test_mask_peaks_are_batch_wide_in_training_and_per_sample_in_eval():
    h, w = 8, 4
    sils = torch.ones(2, 1, h, w)
    parts = torch.zeros(3, 2, 1, h, w)
    parts[1, 0, :, 2:5] = 1.0  # sample 0's upper body peaks at 1.0
    parts[1, 1, :, 2:5] = 0.7  # sample 1's at 0.7: below 0.9 x the batch peak
    batch = part_masks(parts, sils, 0.9, 1, per_sample=False)
    alone = part_masks(parts, sils, 0.9, 1, per_sample=True)
    assert batch.head[1].sum() == h * w  # sample 1 has no upper body batch-wide
    assert alone.head[1].sum() == (h - 3) * w  # but has one on its own
    assert torch.equal(batch.head[0], alone.head[0])


def test_pmbc_net_computes_only_the_support_window_and_equals_the_full_map():
    torch.manual_seed(0)
    model = build_model("recognition", "micro", height=32, width=24)
    clips = torch.zeros(2, 6, 32, 24)
    clips[0, :, 3:9, 10:15] = torch.rand(6, 6, 5)  # a small off-centre blob
    clips[1, 2, 5:7, 12:14] = 1.0
    assert support_window(clips) == ((0, 16), (4, 22))
    x = model.LTA(model.conv3d(clips.unsqueeze(1)))
    full = model.PMBConvC(model.PMBConvB(model.MaxPool0(model.PMBConvA(x)))).max(dim=2).values
    torch.testing.assert_close(model.appearance(clips), full, rtol=1e-5, atol=1e-6)
    assert support_window(torch.zeros(1, 3, 32, 24)) is None
    assert torch.equal(model.appearance(torch.zeros(1, 3, 32, 24)), torch.zeros(1, 8, 16, 12))


def test_frame_stacks_process_long_batches_in_chunks_with_the_same_result():
    torch.manual_seed(0)
    refiner = build_model("landmark", "micro").Backbone.refine.model
    features = torch.randn(FrameStack.FRAME_CHUNK * 2 + 5, 8, 16, 11)
    torch.testing.assert_close(refiner(features), refiner.forward_block(features))


def test_box_mean_equals_the_official_average_pooling():
    x = torch.randn(2, 3, 4, 9, 7)
    official = torch.nn.AvgPool3d(kernel_size=(1, 3, 3), stride=(1, 1, 1), padding=(0, 1, 1))
    torch.testing.assert_close(BoxMean3x3()(x), official(x))


@pytest.fixture
def one_thread():
    """NNPACK's FFT kernel is used on one intra-op thread only (oneDNN is faster on more)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("out_channels", "kernel", "padding", "input_grad"),
    [(1, 7, 3, True), (1, 7, 3, False), (1, 5, 1, True), (6, 5, 2, True)],
)
def test_cpu_kernels_match_torch_convolutions_and_their_gradients(
    one_thread, out_channels, kernel, padding, input_grad
):
    torch.manual_seed(0)
    layer = install_cpu_kernels(BasicConv2d(5, out_channels, kernel, 1, padding))
    assert layer.conv.cpu_kernel is not None
    x = torch.randn(4, 5, 20, 12, requires_grad=input_grad)
    if out_channels > 1:
        assert fft_available(x, layer.conv.weight)
    ours = layer(x)
    reference = torch.nn.functional.conv2d(x, layer.conv.weight, padding=padding)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)
    grad = torch.randn_like(ours)
    wanted = (x, layer.conv.weight) if input_grad else (layer.conv.weight,)
    ours_grads = torch.autograd.grad(ours, wanted, grad)
    reference_grads = torch.autograd.grad(reference, wanted, grad)
    for mine, theirs in zip(ours_grads, reference_grads, strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-4)


def test_fft_kernel_is_left_to_onednn_on_several_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        assert not fft_available(torch.zeros(1, 5, 8, 8), torch.zeros(6, 5, 5, 5))
    finally:
        torch.set_num_threads(threads)


def test_the_holistic_baseline_is_pmbc_net_on_silhouettes_under_the_recognition_names():
    holistic = build_model("holistic", "micro")
    recognition = build_model("recognition", "micro")
    outputs = holistic(torch.rand(2, 5, 64, 44))
    assert set(outputs) == {"embeddings", "logits"}
    parts = holistic.config.num_parts
    assert outputs["embeddings"].shape == (2, holistic.config.pmbconv_channels[2], parts)
    assert outputs["logits"].shape == (2, holistic.config.num_classes, parts)
    kept, full = holistic.state_dict(), recognition.state_dict()
    assert kept and set(kept) <= set(full)  # checkpoint names of the kept modules unchanged
    assert all(kept[name].shape == full[name].shape for name in kept)
    assert not any(name.startswith(("Backbone.", "refine.")) for name in kept)
