"""The paper's evaluation splits of a LIN-layout folder, stored as JSON index files.

The classifier two-sample test trains a critic on one half of the real images and
scores it on the other half, repeated over 10 random halvings ("splits").  The rule,
per dataset set (the dataset's train set and its test set, done separately), per class
and per split ``i`` in ``0 .. n_splits - 1``:

1. take the class's file names sorted by name (plain code-point order);
2. ``perm = numpy.random.default_rng(i + 1).permutation(n)`` with ``n`` the class size,
   a fresh generator for every class, so a class's split never depends on which other
   classes were present;
3. the files at ``perm[: n // 2]`` form the split's ``"test"`` half and the files at
   ``perm[n // 2 :]`` its ``"train"`` half.

The original release materialised these halves as trees of symbolic links made by
shell scripts.  Here each split is one JSON file, ``<out_dir>/<set>/split_<i>.json``,
listing the relative file names (``"Class/file.png"``) of each half, sorted by name
inside a half; loading one maps the names back to indices into a
:class:`~biogans.core.data.lin.LinFolder`.  Index files need no special file-system
support, survive copying, and can be checked against the data they were made from.

That check is the *fingerprint*: a short SHA-256 of the sorted class names and
sorted relative file names (names only, not pixels: hashing 27k files' contents would
cost more than reading them, and a renamed, added or removed file is the common way
a folder drifts).  Loading a split against a folder whose names differ is an error,
because indices into the wrong file list would silently evaluate on the wrong images.
A folder read with only some of the classes is accepted: then each shared class is
checked on its own.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from biogans.core.data.lin import LinFolder
from biogans.core.errors import ConfigError, DataError
from biogans.core.files import write_json

__all__ = [
    "HALVES",
    "N_SPLITS",
    "SPLIT_FORMAT",
    "Split",
    "folder_fingerprint",
    "load_split",
    "make_splits",
    "write_splits",
]

#: Number of evaluation splits used in the paper.
N_SPLITS = 10
#: Value of the "format" key of every split file; bump on incompatible changes.
SPLIT_FORMAT = "biogans-split-v1"
#: The two halves of a split, in the order the rule fills them.
HALVES: tuple[str, str] = ("test", "train")
#: What to tell a user whose split files are missing or stale.
PREPARE_HINT = (
    "run `python -m biogans.prepare` with the same dataset overrides as this command "
    "(dataset=..., dataset.root=..., dataset.synthetic.* ...) to make them"
)

_SPLIT_FILE_RE = re.compile(r"split_(0|[1-9][0-9]*)\.json")
# Python types as JSON calls them, for error messages about split files.
_JSON_KIND: dict[type, str] = {dict: "object", list: "array", str: "string", int: "integer", float: "number"}


def folder_fingerprint(class_names: Iterable[str], files: Iterable[str]) -> str:
    """Short stable hash (16 hex digits of SHA-256) of a dataset's class and file names.

    Both lists are sorted first, so neither the order classes were read in nor the
    order of ``files`` matters: only which classes and which files there are.
    """
    payload = json.dumps(
        {"classes": sorted(class_names), "files": sorted(files)},
        ensure_ascii=True,  # stable bytes even for undecodable (surrogate) file names
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("ascii")).hexdigest()[:16]


def _class_files(folder: LinFolder) -> dict[str, list[str]]:
    """Each class's relative file names, sorted by name, in ``class_names`` order."""
    per_class: dict[str, list[str]] = {name: [] for name in folder.class_names}
    for label, name in zip(folder.labels.tolist(), folder.files, strict=True):
        per_class[folder.class_names[label]].append(name)
    return {name: sorted(files) for name, files in per_class.items()}


def _check_n_splits(n_splits: int) -> int:
    if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 1:
        raise ConfigError(f"n_splits must be a positive integer, got {n_splits!r}")
    return n_splits


def _check_set_name(set_name: str) -> str:
    # set_name becomes a directory name: refuse anything that would escape out_dir.
    if (
        not isinstance(set_name, str)
        or not set_name
        or set_name in (".", "..")
        or "/" in set_name
        or "\\" in set_name
        or set_name.startswith(".")
    ):
        raise ConfigError(f"set name must be a plain folder name such as 'train' or 'test', got {set_name!r}")
    return set_name


def make_splits(folder: LinFolder, n_splits: int = N_SPLITS, set_name: str | None = None) -> list[dict[str, Any]]:
    """The split records of ``folder`` (no I/O), one JSON-ready dict per split.

    Each dict has the keys written by :func:`write_splits`; ``"set"`` is ``set_name``
    (``None`` when not given).
    """
    _check_n_splits(n_splits)
    per_class = _class_files(folder)
    fingerprint = folder_fingerprint(folder.class_names, folder.files)
    root = str(Path(folder.root).absolute())
    records: list[dict[str, Any]] = []
    for i in range(n_splits):
        classes: dict[str, dict[str, list[str]]] = {}
        for name, files in per_class.items():
            n = len(files)
            perm = np.random.default_rng(i + 1).permutation(n)
            n_test = n // 2
            classes[name] = {
                "test": sorted(files[j] for j in perm[:n_test]),
                "train": sorted(files[j] for j in perm[n_test:]),
            }
        records.append(
            {
                "format": SPLIT_FORMAT,
                "set": set_name,
                "split": i,
                "seed": i + 1,
                "root": root,
                "fingerprint": fingerprint,
                "classes": classes,
            }
        )
    return records


def _existing_split_indices(split_dir: Path) -> list[int]:
    try:
        names = [p.name for p in split_dir.iterdir()]
    except OSError as exc:
        raise DataError(f"cannot list split directory {split_dir}: {exc.strerror or exc}") from exc
    found = []
    for name in names:
        match = _SPLIT_FILE_RE.fullmatch(name)
        if match:
            found.append(int(match.group(1)))
    return sorted(found)


def write_splits(folder: LinFolder, out_dir: str | Path, set_name: str, n_splits: int = N_SPLITS) -> list[Path]:
    """Write ``out_dir/<set_name>/split_<i>.json`` for every split; return their paths.

    Split files of an earlier run with more splits (``split_<k>.json`` with
    ``k >= n_splits``) are removed, so that the folder always holds one coherent set.
    """
    _check_set_name(set_name)
    records = make_splits(folder, n_splits, set_name=set_name)
    split_dir = Path(out_dir) / set_name
    try:
        split_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for record in records:
            path = split_dir / f"split_{record['split']}.json"
            write_json(path, record)
            paths.append(path)
        for stale in _existing_split_indices(split_dir):
            if stale >= n_splits:
                (split_dir / f"split_{stale}.json").unlink(missing_ok=True)
    except OSError as exc:
        raise DataError(f"cannot write split files to {split_dir}: {exc.strerror or exc}") from exc
    return paths


@dataclass(frozen=True)
class Split:
    """One evaluation split of one dataset set.

    ``classes[class_name][half]`` lists the relative file names (``"Class/file.png"``)
    of that half, sorted; ``half`` is ``"test"`` or ``"train"``.
    """

    index: int
    set_name: str
    seed: int
    root: str
    fingerprint: str
    classes: dict[str, dict[str, list[str]]]
    path: Path | None = None

    @property
    def class_names(self) -> list[str]:
        """The split's classes, in the order they were written."""
        return list(self.classes)

    def _where(self) -> str:
        return f"split file {self.path}" if self.path else f"split {self.index} of set {self.set_name!r}"

    def files(self, class_name: str, half: str) -> list[str]:
        """Relative file names of one class's half."""
        if half not in HALVES:
            raise DataError(f"split half must be one of {', '.join(HALVES)}, got {half!r}")
        if class_name not in self.classes:
            raise DataError(f"class {class_name!r} is not in {self._where()} (its classes: {', '.join(self.classes)})")
        return list(self.classes[class_name][half])

    def check_folder(self, folder: LinFolder) -> None:
        """Raise DataError unless ``folder`` holds the very files this split was made from.

        If the folder has exactly the split's classes the whole fingerprint must match;
        if it was read with only some classes, each shared class must match on its own.
        """
        if set(folder.class_names) == set(self.classes):
            found = folder_fingerprint(folder.class_names, folder.files)
            if found != self.fingerprint:
                raise DataError(
                    f"{self._where()} was made from another dataset "
                    f"(fingerprint {self.fingerprint} != {found} of the dataset at "
                    f"{folder.root}); {PREPARE_HINT}"
                )
            return
        shared = [name for name in folder.class_names if name in self.classes]
        if not shared:
            raise DataError(
                f"{self._where()} was made from another dataset: it has classes "
                f"{', '.join(self.classes)}, the dataset at {folder.root} has "
                f"{', '.join(folder.class_names)}; {PREPARE_HINT}"
            )
        folder_files = _class_files(folder)
        for name in shared:
            expected = folder_fingerprint([name], self._all_files(name))
            found = folder_fingerprint([name], folder_files[name])
            if found != expected:
                raise DataError(
                    f"{self._where()} was made from another dataset (class {name!r}: "
                    f"fingerprint {expected} != {found} of the dataset at {folder.root}); "
                    f"{PREPARE_HINT}"
                )

    def _all_files(self, class_name: str) -> list[str]:
        halves = self.classes[class_name]
        return halves["test"] + halves["train"]

    def indices(self, folder: LinFolder, half: str, classes: Sequence[str] | None = None) -> torch.Tensor:
        """Int64 indices into ``folder.images`` of one half of this split.

        Args:
            folder: the dataset the split was made from (checked by fingerprint).
            half: ``"test"`` or ``"train"``.
            classes: which classes, in this order; ``None`` means all of
                ``folder.class_names``.  Indices are grouped by class in that order
                and ascending inside a class.
        """
        if half not in HALVES:
            raise DataError(f"split half must be one of {', '.join(HALVES)}, got {half!r}")
        if isinstance(classes, str):
            raise DataError(f"classes must be a list of class names, not the string {classes!r}")
        names = list(folder.class_names if classes is None else classes)
        for name in names:
            if name not in self.classes:
                raise DataError(f"class {name!r} is not in {self._where()} (its classes: {', '.join(self.classes)})")
            if name not in folder.class_names:
                raise DataError(
                    f"class {name!r} was not read from the dataset at {folder.root} "
                    f"(read classes: {', '.join(folder.class_names)})"
                )
        self.check_folder(folder)
        position = {name: i for i, name in enumerate(folder.files)}
        out: list[int] = []
        for name in names:
            chosen = []
            for file in self.classes[name][half]:
                i = position.get(file)
                if i is None:  # only reachable if the fingerprint check was bypassed
                    raise DataError(
                        f"{self._where()} lists {file}, which is not in the dataset at {folder.root}; {PREPARE_HINT}"
                    )
                chosen.append(i)
            out.extend(sorted(chosen))
        return torch.tensor(out, dtype=torch.int64)


def _describe_indices(indices: list[int]) -> str:
    if indices == list(range(len(indices))):
        return f"0..{len(indices) - 1}"
    return ", ".join(str(i) for i in indices)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _parse_split(payload: object, path: Path, set_name: str, index: int) -> Split:
    """Validate a decoded split file and build a :class:`Split`; DataError otherwise."""

    def bad(what: str) -> DataError:
        return DataError(f"split file {path} is malformed: {what}; {PREPARE_HINT}")

    if not isinstance(payload, dict):
        found = f"a JSON {_JSON_KIND.get(type(payload), type(payload).__name__)}"
        raise DataError(f"{path} is not a biogans split file (expected a JSON object, found {found}); {PREPARE_HINT}")
    if payload.get("format") != SPLIT_FORMAT:
        raise DataError(
            f"{path} is not a biogans split file "
            f"(expected format {SPLIT_FORMAT!r}, found {payload.get('format')!r}); {PREPARE_HINT}"
        )
    for key, kind in (
        ("set", str),
        ("split", int),
        ("seed", int),
        ("root", str),
        ("fingerprint", str),
        ("classes", dict),
    ):
        value = payload.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise bad(f"key {key!r} should be a JSON {_JSON_KIND[kind]}, found {value!r:.60}")
    if payload["set"] != set_name or payload["split"] != index:
        raise bad(
            f"it holds split {payload['split']} of set {payload['set']!r}, expected split {index} of set {set_name!r}"
        )
    classes: dict[str, dict[str, list[str]]] = {}
    if not payload["classes"]:
        raise bad("it lists no classes")
    for name, halves in payload["classes"].items():
        if not isinstance(halves, dict) or set(halves) != set(HALVES):
            raise bad(f"class {name!r} should map 'test' and 'train' to file lists")
        if not all(_is_str_list(halves[h]) for h in HALVES):
            raise bad(f"class {name!r} has a half that is not a list of file names")
        prefix = f"{name}/"
        for file in halves["test"] + halves["train"]:
            if not file.startswith(prefix):
                raise bad(f"class {name!r} lists {file!r}, which is outside that class")
        if set(halves["test"]) & set(halves["train"]):
            raise bad(f"class {name!r} has files in both halves")
        classes[name] = {h: list(halves[h]) for h in HALVES}
    all_files = [f for halves in classes.values() for h in HALVES for f in halves[h]]
    own = folder_fingerprint(classes, all_files)
    if own != payload["fingerprint"]:
        raise bad(
            f"its fingerprint {payload['fingerprint']} does not match its own file lists "
            f"({own}); was it edited by hand?"
        )
    return Split(
        index=index,
        set_name=set_name,
        seed=payload["seed"],
        root=payload["root"],
        fingerprint=payload["fingerprint"],
        classes=classes,
        path=path,
    )


def load_split(out_dir: str | Path, set_name: str, index: int, folder: LinFolder | None = None) -> Split:
    """Load ``out_dir/<set_name>/split_<index>.json``, checked against ``folder`` if given.

    Raises:
        DataError: missing directory or file, index out of range, a file that is not a
            valid split file, or one made from a dataset other than ``folder``.
    """
    _check_set_name(set_name)
    if isinstance(index, bool) or not isinstance(index, int):
        raise DataError(f"split index must be an integer, got {index!r}")
    split_dir = Path(out_dir) / set_name
    if not split_dir.is_dir():
        raise DataError(f"no split files for set {set_name!r}: directory {split_dir} does not exist; {PREPARE_HINT}")
    path = split_dir / f"split_{index}.json"
    if not path.is_file():
        existing = _existing_split_indices(split_dir)
        if not existing:
            raise DataError(f"no split files in {split_dir}; {PREPARE_HINT}")
        if index < 0 or index > max(existing):
            raise DataError(
                f"split index {index} is out of range: valid indices are "
                f"{_describe_indices(existing)} ({len(existing)} split files in {split_dir})"
            )
        raise DataError(
            f"split file {path} is missing ({len(existing)} split files in {split_dir}: "
            f"{_describe_indices(existing)}); {PREPARE_HINT}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read split file {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"split file {path} is not UTF-8 text: {exc.reason}") from exc
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"split file {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); {PREPARE_HINT}"
        ) from exc
    split = _parse_split(payload, path, set_name, index)
    if folder is not None:
        split.check_folder(folder)
    return split
