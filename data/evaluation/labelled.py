"""Evaluation inputs checked and turned into tensors: embeddings ``[N, C, P]`` and labels ``[N]``.

Every protocol starts here, so shape, dtype, length and label errors read the same everywhere
(a bad label names its sequence as ``subject/type/view``). It must not compute distances.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from landmarkgait.data.errors import DataError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledEmbeddings:
    """Inputs checked and moved to tensors: embeddings ``[N, C, P]`` and integer labels ``[N]``."""

    embeddings: torch.Tensor
    subject_ids: torch.Tensor
    subjects: np.ndarray
    types: np.ndarray
    views: np.ndarray

    def sequence(self, index: int) -> str:
        """``subject/type/view`` of row ``index``: how an error names a sequence."""
        return f"{self.subjects[index]}/{self.types[index]}/{self.views[index]}"

    def check_types(self, pattern: str, protocol: str, example: str) -> None:
        """Refuse the first sequence whose type does not fully match ``pattern``, by name.

        Why: a type a protocol does not know (a layout with ``_`` for ``-``, another dataset's
        naming) would otherwise be neither probe nor gallery and vanish from the numbers unseen.
        """
        rule = re.compile(pattern)
        for value in np.unique(self.types).tolist():
            if rule.fullmatch(value) is None:
                first = int(np.flatnonzero(self.types == value)[0])
                raise DataError(
                    f"sequence {self.sequence(first)}: type {value!r} is not a {protocol} type "
                    f"(expected the form {example})"
                )

    def report_unmatched_probes(self, probe_mask: np.ndarray, gallery_mask: np.ndarray, what: str) -> int:
        """Warn once, naming the first, about probes ``[N]`` whose subject has no sequence in the
        gallery ``[N]``; returns how many. They still count as OpenGait counts them (misses, or
        skipped where its function skips them): the warning says why a number may be low."""
        unmatched = probe_mask & ~np.isin(self.subjects, np.unique(self.subjects[gallery_mask]))
        count = int(unmatched.sum())
        if count:
            log.warning(
                "%s: %d probe sequence(s) have no gallery sequence of their subject, first %s",
                what,
                count,
                self.sequence(int(unmatched.argmax())),
            )
        return count


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
