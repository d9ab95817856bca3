"""The network's static rules over a submission's model.py (bench/submission/static.py): refused
cases name the rule and the line; look-alikes of refused names pass."""

from __future__ import annotations

import textwrap

import pytest

from bench.contract import FAIL, PASS
from bench.submission.static import (
    ALLOWED_MODULES,
    BLOCKED_CALLS,
    BLOCKED_MODULES,
    BLOCKED_SUBMODULES,
    judge_module,
    static_findings,
)


def check(src: str):
    return static_findings(textwrap.dedent(src))


def fails(src: str):
    found = check(src)
    assert found and all(f.verdict == FAIL for f in found), found
    return found


def passes(src: str):
    found = check(src)
    assert len(found) == 1 and found[0].verdict == PASS and found[0].rule == "static", found
    return found[0]


# (source, rule, line, name in value)
REFUSED = [
    ("import torch\nimport subprocess\n", "import", 2, "subprocess"),
    ("import torch\nfrom subprocess import run\n", "import", 2, "subprocess"),
    ("x = 1\nimport subprocess as sp\nsp.run(['ls'])\n", "import", 2, "subprocess"),
    ("import os.path\n", "import", 1, "os.path"),
    ("import torch\n\nm = __import__('os')\n", "call", 3, "__import__"),
    ("import torch\nj = getattr(torch, 'jit')\n", "call", 2, "getattr"),
    ("import torch\n\n\ndef f(m, x):\n    return torch.jit.trace(m, x)\n", "submodule", 5, "torch.jit.trace"),
    ("import torch\nfrom torch.jit import trace\n", "submodule", 2, "torch.jit.trace"),
    ("import torch.jit.trace\n", "submodule", 1, "torch.jit.trace"),
    ("def outer():\n    def inner(s):\n        return eval(s)\n    return inner\n", "call", 3, "eval"),
    ("f = lambda s: exec(s)\n", "call", 1, "exec"),
    ("class Net:\n    x = 1\n    exec('y = 2')\n", "call", 3, "exec"),
    ("import torch\nfrom . import layers\n", "import", 2, "."),
    ("import torch\nfrom .utils import helper\n", "import", 2, ".utils"),
    ("import torch\nf = eval\nf('1')\n", "call", 2, "eval"),
    ("import importlib\nm = importlib.import_module('os')\n", "import", 1, "importlib"),
    ("from os import path\n", "import", 1, "os"),
    ("from google.cloud import storage\n", "import", 1, "google.cloud"),
    ("import google.cloud.storage\n", "import", 1, "google.cloud.storage"),
    ("from google import cloud\n", "import", 1, "google.cloud"),
    ("import torch\nimport yaml\n", "import", 2, "yaml"),
    ("import json\n", "import", 1, "json"),
    ("import requests_toolbelt\n", "import", 1, "requests_toolbelt"),
    ("import torch as t\n\ny = t.jit.trace\n", "submodule", 3, "torch.jit.trace"),
    ("from torch import jit\n\n@jit.script\ndef f(x):\n    return x\n", "submodule", 3, "torch.jit.script"),
    ("import torch\nmod = torch.utils.cpp_extension.load(name='x', sources=[])\n", "submodule", 2, "torch.utils.cpp_extension"),
    ("from torch.utils import cpp_extension\n", "submodule", 1, "torch.utils.cpp_extension"),
    ("from torch.utils.cpp_extension import load\n", "submodule", 1, "torch.utils.cpp_extension"),
    ("import numpy as np\n\nlib = np.ctypeslib\n", "submodule", 3, "numpy.ctypeslib"),
    ("from numpy import ctypeslib\n", "submodule", 1, "numpy.ctypeslib"),
    ("from torch.jit import *\n", "submodule", 1, "torch.jit.*"),
    ("import torch\nj = torch.jit\nj.trace(1)\n", "submodule", 3, "torch.jit.trace"),
    ("def f(x, g=getattr):\n    return g(x, 'y')\n", "call", 1, "getattr"),
    ("@setattr\ndef f():\n    pass\n", "call", 1, "setattr"),
    ("xs = [globals() for _ in range(2)]\n", "call", 1, "globals"),
    ("def f():\n    return locals()\n", "call", 2, "locals"),
    ("code = compile('1', 'x', 'eval')\n", "call", 1, "compile"),
    ("e = __builtins__['eval']\n", "call", 1, "__builtins__"),
    ("import builtins\nbuiltins.eval('1')\n", "call", 2, "eval"),
    ("import torch\ntorch.os.system('ls')\n", "import", 2, "os"),
    ("import pickle\n", "import", 1, "pickle"),
    ('"""doc"""\nfrom __future__ import annotations\n', "import", 2, "__future__"),
    ("import torch\n\n\ndef f():\n    import socket\n", "import", 5, "socket"),
    ("import torch\nx = (\n", "syntax", 2, None),
]


@pytest.mark.parametrize("src,rule,line,name", REFUSED, ids=[f"{i}-{r[0].splitlines()[-1][:30]}" for i, r in enumerate(REFUSED)])
def test_refused(src, rule, line, name):
    found = fails(src)
    hit = [f for f in found if f.rule == rule and f.value["line"] == line]
    assert hit, found
    f = hit[0]
    assert f.message.startswith(f"model.py line {line}: "), f.message
    assert f.fix
    assert "\n" not in f.message
    if name is not None:
        assert f.value["name"] == name, f.value
    assert set(f.value) == {"line", "col", "name"}


def test_messages_name_the_category_and_fix():
    (f,) = fails("import torch\nimport subprocess\n")
    assert f.message == "model.py line 2: import subprocess: blocked by the network's rules (process and shell access)"
    (f,) = fails("import torch\nx = getattr(torch, 'nn')\n")
    assert "getattr" in f.fix and "module.name" in f.fix
    (f,) = fails("import torch\ny = torch.jit.trace\n")
    assert "plain torch" in f.fix
    (f,) = fails("import pickle\n")
    assert "safetensors.torch.load_file" in f.fix
    (f,) = fails("import yaml\n")
    assert "not in the network's permitted list" in f.message


def test_filename_appears_in_messages():
    (f,) = static_findings("import os\n", filename="sub/model.py")
    assert f.message.startswith("sub/model.py line 1: import os")


def test_one_finding_per_violation_sorted_by_line():
    found = fails("import os, sys\nimport torch\nx = eval('1')\ny = torch.jit.script\n")
    assert [(f.rule, f.value["line"], f.value["name"]) for f in found] == [
        ("import", 1, "os"), ("import", 1, "sys"), ("call", 3, "eval"), ("submodule", 4, "torch.jit.script"),
    ]


def test_builtins_attribute_reported_once():
    found = fails("x = __builtins__.eval('1')\n")
    assert len(found) == 1 and found[0].rule == "call"


def test_from_blocked_module_is_one_finding():
    assert len(fails("from os import path, getcwd, listdir\n")) == 1


def test_syntax_error_is_the_only_finding():
    (f,) = fails("import os\ndef f(:\n    pass\n")
    assert f.rule == "syntax" and f.value["line"] == 2 and "syntax error" in f.message


# ------------------------------------------------------------------ allowed look-alikes

ALLOWED = [
    "from torch import nn\n",
    "import torch.nn.functional as F\n",
    "import numpy as os\nx = os.zeros(3)\n",
    "from safetensors.torch import load_file\n",
    "from PIL import Image\n",
    "import torchvision.models as models\n",
    "eval_mode = True\nif eval_mode:\n    pass\n",
    "import torch\nmodel = torch.nn.Linear(2, 2)\nmodel.eval()\n",
    "class T:\n    exec_time = 0\nx = T()\ny = x.exec_time\n",
    "import typing\nx: typing.Optional[int] = None\n",
    "from typing import Optional\n",
    "import torch\nm = torch.compile(torch.nn.Linear(2, 2))\n",
    "import torch.nn.modules.conv\n",
    "from transformers.models.vit import ViTModel\n",
    "import torch.jit\nimport torch\nm = torch.jit.freeze\n",
    "from torch import *\n",
    "import scipy.signal\nimport scipy.ndimage\nw = scipy.signal.get_window('hann', 8)\n",
    "from torch.cuda.amp import autocast\n",
    "import timm, einops, cv2, skimage, decord, fvcore, ultralytics, torchaudio, flash_attn\n",
    "import math, functools, collections, dataclasses, enum, abc, pathlib\n",
    "def f(x, **kw):\n    return dict(eval=True, **kw)\n",
    "class M:\n    def eval(self):\n        return self\n",
    "import torch\nt = torch.utils.data.TensorDataset\n",
    "x = 'torch.jit.trace(eval(os))'\n",
]


@pytest.mark.parametrize("src", ALLOWED)
def test_allowed_look_alikes(src):
    passes(src)


REALISTIC = '''
"""A small CNN detector for the network."""

import math
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn


class Block(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class Detector(nn.Module):
    def __init__(self, num_classes: int = 2, width: int = 32):
        super().__init__()
        self.features = nn.Sequential(*[Block(3 if i == 0 else width, width) for i in range(3)])
        self.head = nn.Linear(width, num_classes)
        self.scale = 1.0 / math.sqrt(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float() / 255.0
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.head(x * self.scale)


def load_model(weights_path: str, num_classes: int = 2, **keys) -> nn.Module:
    model = Detector(num_classes=num_classes, width=keys.get("width", 32))
    path: Optional[Path] = Path(weights_path)
    model.load_state_dict(load_file(str(path)))
    model.eval()
    return model
'''


def test_realistic_model_passes():
    f = passes(REALISTIC)
    assert f.value["imports"] == 7 and f.value["calls"] > 10
    assert "7 imports" in f.message


# ------------------------------------------------------------------ the lists


def test_lists_are_frozen_and_judged():
    assert isinstance(ALLOWED_MODULES, frozenset) and isinstance(BLOCKED_CALLS, frozenset)
    assert BLOCKED_MODULES["subprocess"] == "process and shell access"
    assert judge_module("torch.nn.modules.conv")[0] == "allowed"
    assert judge_module("os.path") == ("blocked", "os")
    assert judge_module("google.cloud.storage") == ("blocked", "google.cloud")
    assert judge_module("google")[0] == "unlisted"
    assert judge_module("torch.jit.trace") == ("submodule", "torch.jit.trace")
    assert judge_module("torch.jit")[0] == "allowed"
    assert set(BLOCKED_SUBMODULES) == {"torch.utils.cpp_extension", "torch.jit.script", "torch.jit.trace", "numpy.ctypeslib"}


def test_pure_no_torch_import():
    import sys

    had = "torch" in sys.modules
    static_findings(REALISTIC)
    assert ("torch" in sys.modules) == had
