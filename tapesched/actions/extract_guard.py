"""Restores never write outside their target, across a whole chain.

Each archive of a chain is extracted by its own tar. Within one run GNU tar is
careful: it refuses names with '..', strips a leading '/', and creates a
symbolic link whose target is absolute or holds '..' only at the end of the run
(a placeholder file stands in for it until then), so no later member of the same
archive can pass through it. Across runs nothing protects: a link that one
archive left in the target is followed by the next archive's tar. Two layers
close that:

1. check_chain, before anything is extracted: every member of every archive of
   the chain, in the order tar extracts them, is checked against a model of the
   target (what it held, and what each earlier member made of it). Refused, with
   the archive, the member and the reason: an absolute name, a '..' component, a
   type a backup never holds, a hard link to an absolute path or through '..',
   and a member (or a hard link's target) under a path that is a symbolic link
   at that point (made by an earlier archive or earlier in the same one, or
   already in the target). Links themselves, wherever they point, are restored as
   links: they are content.
2. LinkShelter, while extracting: before each tar run every symbolic link under
   the target is replaced by a placeholder, an ordinary file holding a random
   token, so tar never starts with a link it could follow, whatever earlier
   archives (or the target's old content) left there, including paths the
   check cannot see (the renames an incremental archive replays). A placeholder
   is an ordinary file: tar replaces or deletes it as the archive says, and a
   member under it fails (not a directory). After the last run every placeholder
   still there becomes its link again, with the link's owner and times.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tapesched.actions.listing import Entry

# The types a `tar --create` of a file tree writes, and what each leaves in the target.
KINDS = {"-": "file", "h": "file", "c": "file", "b": "file", "p": "file", "d": "dir", "l": "link"}
_TYPE_NAMES = {"V": "a volume label", "M": "a multi-volume continuation", "N": "a name list"}


class Refused(Exception):
    """A member that extracting could take outside the target (or that no backup holds)."""

    def __init__(self, archive: str, member: str, reason: str) -> None:
        self.archive, self.member, self.reason = archive, member, reason
        super().__init__(f"refused {archive}: member {member!r} {reason}; nothing was extracted")


def components(name: str) -> list[str]:
    """Given a member name, return its path components ('' and '.' dropped)."""
    return [part for part in name.split("/") if part not in ("", ".")]


def name_problem(name: str, what: str = "is") -> str | None:
    """Given a member name (or a hard link's target), say why it could leave the target."""
    if name.startswith("/"):
        return f"{what} an absolute name"
    if ".." in name.split("/"):
        return f"{what} a name with a '..' component"
    return None


@dataclass
class _Node:
    kind: str  # "dir", "link" or "file"
    origin: str  # "made by 000002.tar", "already in the target", ...
    link: str | None = None
    known: bool = True  # its children are all in the model (False: ask the disk)
    children: dict[str, _Node] = field(default_factory=dict)


OnDisk = Callable[[tuple[str, ...]], str | None]


def on_disk(target: Path) -> OnDisk:
    """What a path under the target is now ('dir', 'link', 'file' or None), never
    following a link."""

    def kind(parts: tuple[str, ...]) -> str | None:
        try:
            mode = os.lstat(target.joinpath(*parts)).st_mode
        except OSError:
            return None
        if stat.S_ISLNK(mode):
            return "link"
        return "dir" if stat.S_ISDIR(mode) else "file"

    return kind


def check_chain(archives: Sequence[tuple[str, Sequence[Entry]]], disk: OnDisk) -> None:
    """Given each archive of a chain (where it is, its members in order) and the target
    as it is, raise Refused for the first member that could be written outside it."""
    root = _Node("dir", "the target", known=False)
    for where, entries in archives:
        for entry in entries:
            _check(root, where, entry, disk)


def _check(root: _Node, where: str, entry: Entry, disk: OnDisk) -> None:
    problem = name_problem(entry.name)
    if problem:
        raise Refused(where, entry.name, problem)
    if entry.kind not in KINDS:
        what = _TYPE_NAMES.get(entry.kind, f"of type {entry.kind!r}")
        raise Refused(where, entry.name, f"is {what}, which a backup never holds")
    parts = components(entry.name)
    if not parts:
        if entry.kind == "d":
            return  # the target folder itself
        raise Refused(where, entry.name, "names the target folder itself")
    parent = _walk(root, parts[:-1], where, entry.name, "is under", disk)
    if entry.kind == "h":
        link = entry.link or ""
        problem = name_problem(link, f"is a hard link to {link!r},")
        if problem:
            raise Refused(where, entry.name, problem)
        link_parts = components(link)
        if not link_parts:
            raise Refused(where, entry.name, "is a hard link to the target folder itself")
        _walk(root, link_parts[:-1], where, entry.name, f"is a hard link to {link!r}, under", disk)
    _place(parent, parts, KINDS[entry.kind], f"made by {where}", entry.link, disk)


def _child(node: _Node, path: tuple[str, ...], disk: OnDisk) -> _Node | None:
    name = path[-1]
    child = node.children.get(name)
    if child is None and node.kind == "dir" and not node.known:
        kind = disk(path)
        if kind is not None:
            child = _Node(kind, "already in the target", known=kind != "dir")
            node.children[name] = child
    return child


def _walk(
    root: _Node, parts: list[str], where: str, member: str, relation: str, disk: OnDisk
) -> _Node:
    """The node of a member's parent folder; refuse if any folder on the way is a link.
    Folders that do not exist are made by tar (empty)."""
    node = root
    for depth in range(len(parts)):
        path = tuple(parts[: depth + 1])
        child = _child(node, path, disk)
        if child is None:
            child = node.children[path[-1]] = _Node("dir", "made by tar")
        if child.kind == "link":
            points = f" (to {child.link!r})" if child.link is not None else ""
            raise Refused(
                where,
                member,
                f"{relation} {'/'.join(path)!r}, a symbolic link {child.origin}{points}; "
                "a restore never follows a link",
            )
        node = child
    return node


def _place(
    parent: _Node, parts: list[str], kind: str, origin: str, link: str | None, disk: OnDisk
) -> None:
    existing = _child(parent, tuple(parts), disk)
    if kind == "dir" and existing is not None and existing.kind == "dir":
        return  # tar keeps an existing folder and what is in it
    parent.children[parts[-1]] = _Node(kind, origin, link)


# --------------------------------------------------------------------------- the shelter


@dataclass(frozen=True)
class _Saved:
    link: str
    uid: int
    gid: int
    atime_ns: int
    mtime_ns: int


class LinkShelter:
    """Holds every symbolic link under a target aside (as a placeholder file) while tar
    runs, and puts the links back at the end."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.root = os.path.realpath(target)  # below it, nothing is ever followed
        self.token = secrets.token_hex(16).encode("ascii")
        self.saved: dict[tuple[int, int], _Saved] = {}

    def shelter(self) -> int:
        """Replace every symbolic link under the target by a placeholder; return how many.
        Raise OSError if one cannot be replaced (tar must not run then)."""
        count = 0
        for folder, names in self._folders():
            links = [name for name, kind in names if kind == "link"]
            if links:
                with _changing(folder):
                    for name in links:
                        self._hold(os.path.join(folder, name))
                        count += 1
        return count

    def restore(self) -> list[str]:
        """Turn every placeholder still in the target back into its link; return the
        paths that could not be restored (with the reason)."""
        problems: list[str] = []
        if not self.saved:
            return problems
        for folder, names in self._folders():
            held = [name for name, kind in names if kind == "file"]
            found = [(name, self._placeholder(os.path.join(folder, name))) for name in held]
            found = [(name, saved) for name, saved in found if saved is not None]
            if not found:
                continue
            with _changing(folder):
                for name, saved in found:
                    path = os.path.join(folder, name)
                    try:
                        _put_back(path, saved)
                    except OSError as error:
                        problems.append(f"{path}: {error.strerror or error}")
        return problems

    def _hold(self, path: str) -> None:
        before = os.lstat(path)
        saved = _Saved(
            os.readlink(path), before.st_uid, before.st_gid, before.st_atime_ns, before.st_mtime_ns
        )
        os.unlink(path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o600)
        with open(fd, "wb") as handle:
            handle.write(self.token)
            made = os.fstat(handle.fileno())
        self.saved[(made.st_dev, made.st_ino)] = saved

    def _placeholder(self, path: str) -> _Saved | None:
        try:
            info = os.lstat(path)
        except OSError:
            return None
        saved = self.saved.get((info.st_dev, info.st_ino))
        if saved is None or not stat.S_ISREG(info.st_mode) or info.st_size != len(self.token):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        with open(fd, "rb") as handle:
            return saved if handle.read(len(self.token) + 1) == self.token else None

    def _folders(self) -> Iterator[tuple[str, list[tuple[str, str]]]]:
        """Every folder under the target (links never followed), with its entries' names
        and kinds ('dir', 'link', 'file', 'other'), read before the caller changes
        anything in it."""
        if not os.path.isdir(self.root):
            return
        stack = [self.root]
        while stack:
            folder = stack.pop()
            try:
                with os.scandir(folder) as scan:
                    names = [(item.name, _kind(item)) for item in scan]
            except FileNotFoundError:
                continue
            stack.extend(os.path.join(folder, name) for name, kind in names if kind == "dir")
            yield folder, names


def _kind(item: os.DirEntry) -> str:
    if item.is_symlink():
        return "link"
    if item.is_dir(follow_symlinks=False):
        return "dir"
    return "file" if item.is_file(follow_symlinks=False) else "other"


def _put_back(path: str, saved: _Saved) -> None:
    os.unlink(path)
    os.symlink(saved.link, path)
    if os.geteuid() == 0:
        with contextlib.suppress(OSError):
            os.lchown(path, saved.uid, saved.gid)
    os.utime(path, ns=(saved.atime_ns, saved.mtime_ns), follow_symlinks=False)


@contextlib.contextmanager
def _changing(folder: str) -> Iterator[None]:
    """Change a folder's entries, then put its times (and mode) back as tar set them; a
    folder restored read-only is opened to its owner meanwhile."""
    before = os.lstat(folder)
    mode = stat.S_IMODE(before.st_mode)
    closed = not os.access(folder, os.W_OK | os.X_OK)
    if closed:
        os.chmod(folder, mode | stat.S_IWUSR | stat.S_IXUSR)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if closed:
                os.chmod(folder, mode)
            os.utime(folder, ns=(before.st_atime_ns, before.st_mtime_ns), follow_symlinks=False)
