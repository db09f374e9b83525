"""Evaluation inputs checked and turned into tensors: embeddings ``[N, C, P]`` and labels ``[N]``.

Every protocol starts here, so shape, dtype and length errors read the same everywhere. It must
not compute distances.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from landmarkgait.data.errors import DataError


@dataclass(frozen=True)
class LabelledEmbeddings:
    """Inputs checked and moved to tensors: embeddings ``[N, C, P]`` and integer labels ``[N]``."""

    embeddings: torch.Tensor
    subject_ids: torch.Tensor
    subjects: np.ndarray
    types: np.ndarray
    views: np.ndarray


def prepare_inputs(
    embeddings: torch.Tensor | np.ndarray,
    subjects: Sequence[str],
    types: Sequence[str] | None,
    views: Sequence[str] | None,
) -> LabelledEmbeddings:
    """Check lengths, add a part axis to ``[N, C]``, promote half and integer embeddings to float32.

    Subjects become integer ids (their order in the sorted names); missing types or views are ``""``.
    """
    tensor = torch.as_tensor(embeddings)
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(-1)
    if tensor.ndim != 3:
        raise DataError(f"embeddings must have shape [N, C, P] (or [N, C]), got {tuple(tensor.shape)}")
    if not tensor.is_floating_point() or tensor.dtype in (torch.float16, torch.bfloat16):
        tensor = tensor.float()
    count = tensor.shape[0]
    for name, values in (("subjects", subjects), ("types", types), ("views", views)):
        if values is not None and len(values) != count:
            raise DataError(f"{name} has {len(values)} entries but embeddings has {count} rows")
    names = np.asarray([str(subject) for subject in subjects])
    _, inverse = np.unique(names, return_inverse=True)
    return LabelledEmbeddings(
        embeddings=tensor,
        subject_ids=torch.as_tensor(inverse.reshape(-1), device=tensor.device),
        subjects=names,
        types=np.asarray([str(value) for value in (types if types is not None else [""] * count)]),
        views=np.asarray([str(value) for value in (views if views is not None else [""] * count)]),
    )
