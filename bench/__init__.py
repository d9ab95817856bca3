"""bench: local, leaderboard-faithful scoring of ONNX detectors of AI-generated media."""

__version__ = "0.1.0"
