"""The command line's `datasets` commands, and how `--data` names a dataset: built-in, or a picture collection by
its name or id. The commands go through the same code as the Your pictures page (`aecore.own_pictures`).

    python -m aecore datasets                        every dataset, with its size
    python -m aecore datasets add NAME PATH [--size 64] [--grey] [--pad]
    python -m aecore datasets demo                   the demo photo collection
    python -m aecore datasets delete NAME
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from tqdm import tqdm

from .config import DATASET_NAMES
from .data import DATASET_INFO
from .demo_pictures import DEMO_NAME, write_demo_pictures
from .own_pictures import CollectionOptions, add_collection
from .store import collections
from .store.collections import SIZES, CollectionError, CollectionInfo


def dataset_name(text: str) -> str:
    """`--data`'s value: a built-in dataset's key, or the id of the picture collection with that id or name."""
    if text in DATASET_NAMES:
        return text
    kept, _ = collections.list_all()
    found = [c for c in kept if text in (c.id, c.name) or text.casefold() == c.name.casefold()]
    if len(found) == 1:
        return found[0].id
    if len(found) > 1:
        raise argparse.ArgumentTypeError(f"{len(found)} collections are called {text!r}; use one's id: "
                                         + ", ".join(c.id for c in found))
    names = [*DATASET_NAMES, *(c.name for c in kept)]
    raise argparse.ArgumentTypeError(f"no dataset called {text!r}; choose one of: {', '.join(names)}")


def add_parsers(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("datasets", help="list the datasets, add your own pictures, delete them")
    data.set_defaults(func=cmd_list)
    actions = data.add_subparsers(dest="action")
    add = actions.add_parser("add", help="add a folder or zip of pictures (one sub-folder per class)")
    add.add_argument("name", help="what the collection is called")
    add.add_argument("path", type=Path, help="a folder, or a zip of one")
    add.add_argument("--size", type=int, choices=SIZES, default=32, help="pixels a side (default 32)")
    add.add_argument("--grey", action="store_true", help="keep the pictures black and white")
    add.add_argument("--pad", action="store_true", help="fit whole pictures on black instead of their centre square")
    add.set_defaults(func=cmd_add)
    actions.add_parser("demo", help=f"add {DEMO_NAME!r}, cut from scikit-image's photos").set_defaults(func=cmd_demo)
    delete = actions.add_parser("delete", help="delete a picture collection (its runs stay)")
    delete.add_argument("name", type=dataset_name, help="the collection's name or id")
    delete.set_defaults(func=cmd_delete)


def cmd_list(args: argparse.Namespace) -> int:
    for key, about in DATASET_INFO.items():
        print(f"{key:24} {about}")
    kept, problems = collections.list_all()
    for c in kept:
        kind = "colour" if c.channels == 3 else "grey"
        print(f"{c.id:24} {c.name} (your pictures: {c.train:,} train / {c.test:,} test, {len(c.classes)} classes, "
              f"{c.size}x{c.size} {kind})")
    for sentence in problems:
        print(f"warning: {sentence}", file=sys.stderr)
    return 0


def _added(info: CollectionInfo) -> int:
    print(f"added {info.name!r} as {info.id}: {info.train:,} train / {info.test:,} test pictures, "
          f"{len(info.classes)} classes ({', '.join(info.classes[:10])}{', …' if len(info.classes) > 10 else ''}), "
          f"{info.size}x{info.size} {'colour' if info.channels == 3 else 'grey'}")
    for s in info.skipped:
        print(f"skipped {s.path}: {s.why}")
    if info.skipped_count > len(info.skipped):
        print(f"… and {info.skipped_count - len(info.skipped):,} more skipped")
    print(f"train on it: python -m aecore train --data {info.id}")
    return 0


def _add(name: str, path: Path, options: CollectionOptions, source_name: str | None = None) -> int:
    with tqdm(total=100, unit="%", file=sys.stderr, leave=False) as bar:
        def progress(fraction: float, message: str) -> None:
            bar.set_description(message, refresh=False)
            bar.update(round(fraction * 100) - bar.n)

        try:
            info = add_collection(name, path, options, on_progress=progress, source_name=source_name)
        except CollectionError as err:
            bar.close()
            print(f"error: {err}", file=sys.stderr)
            return 2
    return _added(info)


def cmd_add(args: argparse.Namespace) -> int:
    options = CollectionOptions(size=args.size, square="pad" if args.pad else "crop",
                                colour="grey" if args.grey else "auto")
    return _add(args.name, args.path, options)


def cmd_demo(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        return _add(DEMO_NAME, write_demo_pictures(Path(tmp) / "photos"), CollectionOptions(), "scikit-image photos")


def cmd_delete(args: argparse.Namespace) -> int:
    if not collections.is_collection_id(args.name):
        print(f"error: {args.name} is built in and cannot be deleted", file=sys.stderr)
        return 2
    info = collections.read_info(args.name)
    collections.delete(args.name)
    print(f"deleted {info.name!r} ({info.id}); runs trained on it are kept")
    return 0
