"""The one line the CLI prints for an error: collapsed, escaped, bounded, without torch's advice.

Why: an error message carries text we do not control (keys and names read from files, paths,
library messages). A newline in it printed a second, forged ``landmarkgait: error:`` line; an
escape sequence drove the terminal; a rejected value of megabytes became a megabyte line; and
``torch.load``'s message, quoted when a checkpoint is refused, advised re-running with
``weights_only=False`` (which runs the file's code) or allowlisting its globals. Every error the
CLI prints passes ``error_line``. No heavy imports: the CLI prints config errors before torch loads.
"""

from __future__ import annotations

import re

from landmarkgait.data.quoting import printable

# Longest error line printed; longer messages are cut (their start names what is at fault).
MAX_ERROR_CHARACTERS = 2000

# Sentences of torch.load's weights-only error that advise loading the file unsafely, or point to
# its documentation; the cause itself (``Unsupported global: GLOBAL os.system ...``) is kept.
_TORCH_ADVICE = [
    re.compile(pattern, re.DOTALL)
    for pattern in (
        r"Weights only load failed\.",
        r"This file can still be loaded, to do so you have two options,.*?checkpoint(\x1b\[0m)?\.",
        r"\(1\) In PyTorch 2\.6, we changed the default value of the `weights_only` argument.*?trusted source\.",
        r"In PyTorch 2\.6, we changed the default value of the `weights_only` argument.*?trusted source\.",
        r"\(2\) Alternatively, to load with `weights_only=True` please check the recommended steps in the "
        r"following error message\.",
        r"Please file an issue with the following so that we can make `weights_only=True` compatible "
        r"with your use case:",
        r"WeightsUnpickler error:",
        r"Please use `torch\.serialization\.add_safe_globals\(.*?if you trust this class/function\.",
        r"Check the documentation of torch\.load to learn more about types accepted by default with "
        r"weights_only https?://\S+?\.html\.?",
    )
]


def drop_torch_advice(text: str) -> str:
    """``text`` without torch's advice to load a refused checkpoint with ``weights_only=False``."""
    if "weights_only" not in text and "Weights only" not in text:
        return text
    for pattern in _TORCH_ADVICE:
        text = pattern.sub(" ", text)
    return re.sub(r"\s+\)", ")", re.sub(r"\(\s+", "(", text))


def error_line(error: BaseException | str) -> str:
    """``error``'s message on one printable line of at most ``MAX_ERROR_CHARACTERS`` characters."""
    text = " ".join(drop_torch_advice(str(error)).split()) or type(error).__name__
    if len(text) > MAX_ERROR_CHARACTERS:
        text = f"{text[:MAX_ERROR_CHARACTERS]}... ({len(text) - MAX_ERROR_CHARACTERS} more characters)"
    return printable(text)
