"""PyTorch submissions for the network: a folder (or a zip of it) the leaderboard loads with
``model.py``'s ``load_model``, judged here before anything runs.

The format (the leaderboard's, since Feb 2026)::

    model_config.yaml   name, version, modality (image | video | audio),
                        dtype (float32 default | float16/fp16 | bfloat16/bf16: the weights' precision),
                        preprocessing: {resize: [H, W]}            image (default 224x224)
                                       + num_frames (<= 64, default 16), frame_rate (optional fps)   video
                                       {sample_rate, duration_seconds}  audio (samples = int(sr * s))
                        model: {num_classes: 2, weights_file: model.safetensors (default), ...}
    model.py            def load_model(weights_path: str, num_classes: int = 2, **model_keys) -> torch.nn.Module
    *.safetensors       the weights (the one weights_file names is loaded)
    config.json         optional, for from_pretrained-style models

Every key of ``model`` but ``weights_file`` is passed to ``load_model`` as a keyword
(``SubmissionConfig.model_keys``). Inputs are uint8 pixels (image ``(B, 3, H, W)``, video
``(B, T, 3, H, W)``) or float32 samples in [-1, 1] (audio ``(B, N)``); the model casts and
normalises inside ``forward``. No other file may be in the submission.

* ``layout_findings(path)`` / ``config_findings(data, where)``: every finding (``bench check``).
* ``open_submission(path)``: the ``Submission`` (a zip is extracted into the cache), or
  ``BenchError`` with the first failure.
* ``is_submission(path)``: cheap routing test (a folder or zip with ``model_config.yaml``).
"""

from bench.submission.config import SubmissionConfig, config_findings
from bench.submission.layout import Submission, is_submission, layout_findings, open_submission

__all__ = ["Submission", "SubmissionConfig", "config_findings", "is_submission", "layout_findings", "open_submission"]
