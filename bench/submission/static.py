"""The network's static rules over a submission's ``model.py``, as a pure function of its source.

Before a submission runs on the network its ``model.py`` goes through a static analyser, and a
file that breaks a rule is rejected. ``static_findings`` applies the same rules here, before any
submission code is executed: it parses the source with ``ast`` and never imports or runs it (no
file I/O, no import of torch). One FAIL ``Finding`` per violation (rules ``import``, ``call``,
``submodule``, ``syntax``), sorted by line; exactly one PASS finding (rule ``static``) when
nothing breaks. A failing finding's ``value`` is ``{"line", "col", "name"}``.

The rules are the network's, verbatim in the lists below (``ALLOWED_MODULES``, ``BLOCKED_MODULES``
with the category each group is blocked for, ``BLOCKED_CALLS``, ``BLOCKED_SUBMODULES``). Where
the network's text is silent we decided:

Modules
  * An allowed entry covers its submodules: ``torch.nn.modules.conv``, ``torch.utils.data``,
    ``transformers.models.vit``, ``timm.layers`` are permitted. The listed sub-entries
    (``torch.nn``, ``scipy.ndimage``...) are kept for fidelity though ``torch``/``scipy`` cover them.
  * Blocked wins over allowed: a module equal to or under a blocked submodule
    (``torch.jit.trace``, ``torch.utils.cpp_extension.load``) is refused (rule ``submodule``),
    and so is one equal to or under a blocked module (``os.path``, ``google.cloud.storage``;
    rule ``import``). ``import torch.jit.trace`` is refused though ``trace`` is a function, not a
    module: the rule is about the dotted name. ``torch.jit`` itself is not blocked (only its
    ``script`` and ``trace``); ``torch.jit.freeze`` etc. are permitted.
  * A module neither allowed nor blocked (``yaml``, ``json``, ``requests_toolbelt``, ``google``)
    is refused as "not in the permitted list" (rule ``import``). So is ``from __future__ import
    annotations``: ``__future__`` is not on the list, and an analyser that checks module names
    refuses it; removing it costs nothing (quote the annotations that need it).
  * ``from M import a, b`` judges ``M``; a blocked or unlisted ``M`` is one finding for the
    statement (``from os import path`` names ``os``). When ``M`` is permitted each name is judged
    as ``M.name``: a name that is (or is under) a blocked submodule or module is refused
    (``from torch.jit import trace``, ``from torch.utils import cpp_extension``,
    ``from numpy import ctypeslib``); any other name is an attribute of a permitted module and
    passes (``from torch import nn``, ``from PIL import Image``). For an unlisted ``M`` a name under
    a blocked entry is reported with its block category (``from google import cloud``).
  * ``from M import *`` from a module with a blocked submodule as a direct child
    (``torch.jit``, ``torch.utils``, ``numpy``) is refused: it binds ``trace``/``ctypeslib`` as
    bare names no later check could tell apart. ``from torch import *`` passes.
  * The alias is irrelevant: ``import numpy as os`` is numpy, permitted;
    ``import subprocess as sp`` is subprocess, refused.
  * Relative imports (``from . import x``, ``from .utils import y``) are refused: a submission
    is one ``model.py``, there is no package to import relatively from.
  * Imports anywhere count (inside functions, ``try``, ``if TYPE_CHECKING``).

Calls and references
  * A blocked builtin is refused wherever its bare name is read (``ast.Name`` in Load context),
    not only when called: ``f = eval`` smuggles it as well as ``eval(...)`` does. This covers
    nested functions, lambdas, class bodies, default arguments, decorators and comprehensions.
    Strict by design: a parameter or local named ``compile`` is refused too; rename it.
  * Attribute forms reaching the builtins are refused: ``builtins.eval``, ``b.exec`` after
    ``import builtins as b``, ``__builtins__.getattr``; any read of ``__builtins__`` is refused
    (``__builtins__["eval"]``). Methods that merely share a name are not the builtins:
    ``model.eval()``, ``torch.compile(model)``, ``x.exec_time`` pass; so do ``eval_mode`` and a
    keyword argument ``eval=True``.

Submodules as attributes
  * Import aliases (``import torch as t``, ``from torch import jit``,
    ``import numpy as np``) and plain assignments of a module path (``j = torch.jit``) are
    tracked; an attribute chain resolving to a blocked submodule is refused wherever it appears
    (call, decorator, assignment, argument): ``t.jit.trace``, ``jit.trace``, ``np.ctypeslib``.
  * A chain whose root we cannot resolve is refused when it ends with a blocked submodule's
    path below its package (``x.jit.trace``, ``x.jit.script``, ``x.utils.cpp_extension``,
    ``x.ctypeslib``): those names have no innocent use in a model.

Beyond the network's literal text (one extension)
  * An attribute of an imported module that names a module blocked for system access, code
    loading or native memory (``torch.os.system``, ``np.sys``, ``pathlib.os``) is refused
    (rule ``import``): it reaches the blocked module without importing it. ``signal``,
    ``code`` and other names with innocent attribute uses (``scipy.signal``) are not in that set.

This is a faithful pre-check, not a sandbox: ``().__class__.__subclasses__()`` style escapes are
not the network's rules and are not looked for.
"""

from __future__ import annotations

import ast

from bench.contract import FAIL, PASS, Finding

# --------------------------------------------------------------------------- the network's lists

ALLOWED_MODULES = frozenset({
    "torch", "torch.nn", "torch.nn.functional", "torch.cuda.amp",
    "torchvision", "torchvision.models", "torchvision.transforms",
    "torchaudio", "transformers", "timm", "einops",
    "safetensors", "safetensors.torch", "flash_attn",
    "PIL", "PIL.Image", "cv2", "skimage", "decord",
    "numpy", "scipy", "scipy.ndimage", "scipy.signal",
    "fvcore", "ultralytics",
    "math", "functools", "typing", "collections", "dataclasses", "enum", "abc", "pathlib",
})

PROCESS = frozenset({"os", "sys", "subprocess", "shutil"})
NETWORK = frozenset({"socket", "requests", "urllib", "http", "asyncio", "aiohttp", "httpx", "ftplib", "smtplib", "telnetlib"})
SERIALIZATION = frozenset({"pickle", "marshal", "shelve", "dill", "cloudpickle", "joblib"})
CODE_LOADING = frozenset({"importlib", "builtins", "code", "runpy"})
JIT_COMPILERS = frozenset({"numba", "cython"})
NATIVE = frozenset({"ctypes", "cffi", "mmap", "signal"})
PARALLELISM = frozenset({"multiprocessing", "concurrent", "threading"})
TRAINING = frozenset({"apex", "deepspeed"})
TRACKING = frozenset({"tensorboard", "wandb", "mlflow"})
CLOUD = frozenset({"boto3", "google.cloud", "azure"})
DATABASES = frozenset({"sqlite3", "psycopg2", "pymongo", "redis"})
FILES_TERMINAL = frozenset({"tempfile", "glob", "h5py", "pty", "tty", "termios"})

# (modules, category used in messages, fix)
_BLOCKED_GROUPS: tuple[tuple[frozenset[str], str, str], ...] = (
    (PROCESS, "process and shell access", "remove it; use pathlib for paths, and load weights from weights_path with safetensors.torch.load_file"),
    (NETWORK, "network access", "remove it; the model runs offline: ship everything it needs in the submission's .safetensors"),
    (SERIALIZATION, "unsafe serialization: loading runs code", "remove it; load weights with safetensors.torch.load_file"),
    (CODE_LOADING, "dynamic code loading", "remove it; import permitted modules with a plain import statement"),
    (JIT_COMPILERS, "native code compilation", "remove it; write the computation in plain torch"),
    (NATIVE, "native memory and process-signal access", "remove it; write the computation in torch or numpy"),
    (PARALLELISM, "processes and threads", "remove it; the harness batches the inputs, keep forward single-threaded torch"),
    (TRAINING, "training frameworks", "remove it; use plain torch (torch.cuda.amp for mixed precision)"),
    (TRACKING, "experiment tracking: outbound logging", "remove it; the harness records the results"),
    (CLOUD, "cloud SDKs", "remove it; ship the weights in the submission's .safetensors"),
    (DATABASES, "database access", "remove it; a model needs no database"),
    (FILES_TERMINAL, "file-system and terminal access", "remove it; read only weights_path, with safetensors.torch.load_file"),
)

BLOCKED_MODULES: dict[str, str] = {m: category for group, category, _ in _BLOCKED_GROUPS for m in group}
_BLOCKED_FIX: dict[str, str] = {m: fix for group, _, fix in _BLOCKED_GROUPS for m in group}
_BLOCKED_FIX.update({
    "glob": "remove it; use pathlib.Path.glob",
    "h5py": "remove it; convert the weights to .safetensors and load them with safetensors.torch.load_file",
    "tempfile": "remove it; a model writes no files",
})

BLOCKED_CALLS = frozenset({"eval", "exec", "compile", "__import__", "getattr", "setattr", "globals", "locals"})
_CALL_WHY = {
    "eval": ("dynamic code execution", "write the code directly; nothing may be evaluated from a string"),
    "exec": ("dynamic code execution", "write the code directly; nothing may be executed from a string"),
    "compile": ("dynamic code execution", "remove it (torch.compile, an attribute call, is not this builtin)"),
    "__import__": ("dynamic import", "use a plain import statement of a permitted module"),
    "getattr": ("dynamic attribute access", "use a fixed attribute (module.name) instead of getattr"),
    "setattr": ("dynamic attribute access", "assign the attribute directly (obj.name = value) instead of setattr"),
    "globals": ("namespace access", "refer to the names directly instead of through globals()"),
    "locals": ("namespace access", "refer to the names directly instead of through locals()"),
}

BLOCKED_SUBMODULES: dict[str, str] = {
    "torch.utils.cpp_extension": "building native C++/CUDA extensions",
    "torch.jit.script": "TorchScript compilation",
    "torch.jit.trace": "TorchScript compilation",
    "numpy.ctypeslib": "native memory access through ctypes",
}
_SUBMODULE_FIX = {
    "torch.utils.cpp_extension": "write the op in plain torch (flash_attn is permitted for fused attention); building extensions is refused",
    "torch.jit.script": "write the network in plain torch; torch.jit.script and torch.jit.trace are refused",
    "torch.jit.trace": "write the network in plain torch; torch.jit.script and torch.jit.trace are refused",
    "numpy.ctypeslib": "use numpy arrays or torch tensors directly; numpy.ctypeslib is refused",
}

# The extension: attribute names that reach a blocked module through a permitted one (torch.os).
REACHABLE_BLOCKED = frozenset({"os", "sys", "subprocess", "shutil", "builtins", "importlib", "runpy", "ctypes", "pickle", "marshal", "socket"})

_FUTURE_FIX = "remove it; __future__ is not on the network's list (quote annotations that need postponed evaluation)"
_UNLISTED_FIX = "remove it; use only the permitted modules (torch, torchvision, timm, transformers, numpy, safetensors, PIL, ...)"

# Chain ends that name a blocked submodule whatever the root: ("jit", "trace"), ("ctypeslib",)...
_SUBMODULE_TAILS = {tuple(s.split(".")[1:]): s for s in BLOCKED_SUBMODULES}


# --------------------------------------------------------------------------- module verdicts


def _under(name: str, entry: str) -> bool:
    return name == entry or name.startswith(entry + ".")


def judge_module(name: str) -> tuple[str, str]:
    """(kind, entry) for a dotted module name: kind is ``submodule`` (equal to / under a blocked
    submodule), ``blocked`` (under a blocked module), ``allowed`` or ``unlisted``; entry is the
    list entry that decided ("" for unlisted)."""
    for entry in BLOCKED_SUBMODULES:
        if _under(name, entry):
            return "submodule", entry
    for entry in BLOCKED_MODULES:
        if _under(name, entry):
            return "blocked", entry
    for entry in ALLOWED_MODULES:
        if _under(name, entry):
            return "allowed", entry
    return "unlisted", ""


# --------------------------------------------------------------------------- the check


def static_findings(source: str, filename: str = "model.py") -> list[Finding]:
    """Every violation of the network's static rules in ``source`` (one FAIL finding each,
    sorted by line), or exactly one PASS finding (rule ``static``)."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as e:
        line = e.lineno or 1
        return [Finding("syntax", FAIL, f"{filename} line {line}: syntax error: {e.msg}",
                        "fix the syntax; the network's analyser rejects a file that does not parse",
                        {"line": line, "col": (e.offset or 1) - 1, "name": e.msg})]
    except (ValueError, RecursionError, MemoryError) as e:  # null bytes (older Pythons), nesting too deep
        why = str(e) or type(e).__name__
        return [Finding("syntax", FAIL, f"{filename} line 1: syntax error: {why}",
                        "save model.py as plain UTF-8 Python the parser accepts", {"line": 1, "col": 0, "name": why})]
    return _Checker(filename, tree).run()


class _Checker:
    def __init__(self, filename: str, tree: ast.AST):
        self.filename, self.tree = filename, tree
        self.found: list[Finding] = []
        self.aliases: dict[str, str] = {}  # local name -> dotted module path it stands for
        self.parents: dict[ast.AST, ast.AST] = {}
        self.imports = self.calls = 0

    def run(self) -> list[Finding]:
        nodes = list(ast.walk(self.tree))
        for node in nodes:
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
        self._collect_aliases(nodes)
        for node in nodes:
            if isinstance(node, ast.Import):
                self._import(node)
            elif isinstance(node, ast.ImportFrom):
                self._import_from(node)
            elif isinstance(node, ast.Call):
                self.calls += 1
            elif isinstance(node, ast.Attribute):
                self._attribute(node)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self._name(node)
        seen, out = set(), []
        for f in sorted(self.found, key=lambda f: (f.value["line"], f.value["col"])):
            key = (f.rule, f.value["line"], f.value["col"])
            if key not in seen:
                seen.add(key)
                out.append(f)
        if out:
            return out
        return [Finding("static", PASS, f"{self.filename}: {_count(self.imports, 'import')} and {_count(self.calls, 'call')} checked; none breaks the network's static rules",
                        value={"imports": self.imports, "calls": self.calls})]

    # ------------------------------------------------------------------ helpers

    def _fail(self, rule: str, node: ast.AST, what: str, why: str, fix: str, name: str) -> None:
        line, col = getattr(node, "lineno", 1), getattr(node, "col_offset", 0)
        self.found.append(Finding(rule, FAIL, f"{self.filename} line {line}: {what}: {why}", fix, {"line": line, "col": col, "name": name}))

    def _collect_aliases(self, nodes: list[ast.AST]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        root = a.name.split(".")[0]
                        self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                for a in node.names:
                    if a.name != "*":
                        self.aliases[a.asname or a.name] = f"{node.module}.{a.name}"
        assigns = [n for n in nodes if isinstance(n, ast.Assign) and isinstance(n.value, (ast.Name, ast.Attribute))]
        for _ in range(len(assigns) + 1):  # to a fixpoint: j = torch.jit; k = j
            changed = False
            for n in assigns:
                path = self._resolve(n.value)
                if path is None:
                    continue
                for t in n.targets:
                    if isinstance(t, ast.Name) and self.aliases.get(t.id) != path:
                        self.aliases[t.id], changed = path, True
            if not changed:
                break

    def _chain(self, node: ast.AST) -> tuple[str | None, list[str]]:
        """(root name or None when the root is not a name, attributes after it)."""
        attrs = []
        while isinstance(node, ast.Attribute):
            attrs.append(node.attr)
            node = node.value
        attrs.reverse()
        return (node.id if isinstance(node, ast.Name) else None), attrs

    def _resolve(self, node: ast.AST) -> str | None:
        root, attrs = self._chain(node)
        if root is None or root not in self.aliases:
            return None
        return ".".join([self.aliases[root], *attrs])

    # ------------------------------------------------------------------ imports

    def _judge(self, node: ast.AST, what: str, name: str) -> bool:
        """Report ``name`` (a dotted module) when refused; True when it was."""
        kind, entry = judge_module(name)
        if kind == "submodule":
            self._fail("submodule", node, what, f"{entry} is a blocked submodule ({BLOCKED_SUBMODULES[entry]})", _SUBMODULE_FIX[entry], name)
        elif kind == "blocked":
            self._fail("import", node, what, f"{'blocked' if entry == name else f'under {entry}, blocked'} by the network's rules ({BLOCKED_MODULES[entry]})", _BLOCKED_FIX[entry], name)
        elif kind == "unlisted":
            fix = _FUTURE_FIX if name == "__future__" else _UNLISTED_FIX
            self._fail("import", node, what, "not in the network's permitted list", fix, name)
        return kind != "allowed"

    def _import(self, node: ast.Import) -> None:
        for a in node.names:
            self.imports += 1
            what = f"import {a.name}" + (f" as {a.asname}" if a.asname else "")
            self._judge(a, what, a.name)

    def _import_from(self, node: ast.ImportFrom) -> None:
        self.imports += len(node.names)
        names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
        stmt = f"from {'.' * node.level}{node.module or ''} import {names}"
        if node.level:
            self._fail("import", node, stmt, "a relative import; a submission is one model.py, there is nothing to import relatively",
                       "paste the helper into model.py, or import it from a permitted module", "." * node.level + (node.module or ""))
            return
        module = node.module or ""
        kind, entry = judge_module(module)
        if kind in ("submodule", "blocked"):
            self._judge(node, stmt, module)
            return
        flagged = False
        for a in node.names:
            one = f"from {module} import {a.name}" + (f" as {a.asname}" if a.asname else "")
            if a.name == "*":
                children = sorted(s for s in BLOCKED_SUBMODULES if s.rpartition(".")[0] == module)
                if children:
                    flagged = True
                    self._fail("submodule", a, one, f"a star import binds the blocked {', '.join(children)} as bare names",
                               f"import the names you use explicitly; {_SUBMODULE_FIX[children[0]]}", f"{module}.*")
                continue
            full = f"{module}.{a.name}"
            if judge_module(full)[0] in ("submodule", "blocked"):
                flagged = self._judge(a, one, full) or flagged
        if kind == "unlisted" and not flagged:
            self._judge(node, stmt, module)

    # ------------------------------------------------------------------ code

    def _attribute(self, node: ast.Attribute) -> None:
        root, attrs = self._chain(node)
        path = self._resolve(node)
        text = ".".join([root or "(...)", *attrs])
        # builtins.eval, b.exec (import builtins as b), __builtins__.getattr
        if node.attr in BLOCKED_CALLS and ((path and path.rpartition(".")[0] == "builtins") or (isinstance(node.value, ast.Name) and node.value.id == "__builtins__")):
            self._blocked_call(node, node.attr, text)
            return
        blocked = path if path in BLOCKED_SUBMODULES else None
        if blocked is None:
            for tail, sub in _SUBMODULE_TAILS.items():
                if tuple(attrs[-len(tail):]) == tail:
                    blocked = sub
                    break
        if blocked is not None:
            self._fail("submodule", node, text, f"{blocked} is a blocked submodule ({BLOCKED_SUBMODULES[blocked]})", _SUBMODULE_FIX[blocked], blocked)
            return
        if path and node.attr in REACHABLE_BLOCKED and root in self.aliases:
            self._fail("import", node, text, f"reaches the blocked module {node.attr} through {path.rpartition('.')[0]} ({BLOCKED_MODULES[node.attr]})",
                       _BLOCKED_FIX[node.attr], node.attr)

    def _name(self, node: ast.Name) -> None:
        if node.id == "__builtins__":
            self._fail("call", node, "reference to __builtins__", "a route to the blocked builtins (eval, exec, getattr, ...)",
                       "remove it; call permitted functions directly", node.id)
        elif node.id in BLOCKED_CALLS:
            self._blocked_call(node, node.id, node.id)

    def _blocked_call(self, node: ast.AST, name: str, text: str) -> None:
        why, fix = _CALL_WHY[name]
        parent = self.parents.get(node)
        if isinstance(parent, ast.Call) and parent.func is node:
            self._fail("call", node, f"call {text}(...)", f"a blocked call ({why})", fix, name)
        else:
            self._fail("call", node, f"reference to {text}", f"a blocked builtin ({why}); referencing it lets it be called under another name", fix, name)


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
