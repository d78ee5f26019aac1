"""BinderHub's names: build pods and images as ``builder.py`` makes them, anonymous users as ``launcher.py`` does.

binderhub b9fad995 ``builder.py`` ``_generate_build_name``, ``_safe_build_slug`` and the image name in
``BuildHandler.get``; ``launcher.py`` ``unique_name_from_repo``; ``escapism.escape`` (the package builder.py uses).
"""
from __future__ import annotations

import hashlib
import random
import re
import string

DOCKERHUB = "index.docker.io"  # docker's IndexServer https://index.docker.io/v1/


def escape(text: str, safe: set[str], escape_char: str = "-") -> str:
    """``escapism.escape``: each unsafe character becomes ``escape_char`` + the hex of each of its UTF-8 bytes."""
    return "".join(c if c in safe and c != escape_char else "".join(f"{escape_char}{b:X}" for b in c.encode())
                   for c in text)


def safe_build_slug(build_slug: str, limit: int, hash_length: int = 6) -> str:
    """builder.py ``_safe_build_slug``."""
    digest = hashlib.sha256(build_slug.encode()).hexdigest()
    escaped = escape(build_slug, set(string.ascii_letters + string.digits))
    return f"{escaped[:limit - hash_length - 1]}-{digest[:hash_length]}".lower()


def build_name(build_slug: str, ref: str, prefix: str = "build-", limit: int = 63, ref_length: int = 6) -> str:
    """builder.py ``_generate_build_name``: the build pod's name, the same for the same repository and ref."""
    slug = safe_build_slug(build_slug, limit=limit - len(prefix) - ref_length - 1)
    return f"{prefix}{slug}-{safe_build_slug(ref, limit=ref_length, hash_length=2)[:ref_length]}".lower()


def image_name(image_prefix: str, build_slug: str, ref: str) -> str:
    """builder.py: ``{prefix}{safe build slug}:{ref}``, ``_`` as ``-``, lower case."""
    slug = safe_build_slug(build_slug, limit=255 - len(image_prefix))
    return f"{image_prefix}{slug}:{ref}".replace("_", "-").lower()


def unique_name_from_repo(repo_url: str) -> str:
    """launcher.py ``unique_name_from_repo``: the anonymous user's name, the repository path and 8 random chars."""
    prefix = re.sub(r"^[a-z]+://[^/]+", "", repo_url).strip("/").replace("/", "-").lower()
    prefix = prefix[:-4] if prefix.endswith(".git") else prefix
    if len(prefix) > 32:
        prefix = f"{prefix[:15]}-{prefix[-15:]}"
    return f"{prefix}-{''.join(random.choices(string.ascii_lowercase + string.digits, k=8))}"


def resolve_ref(owner: str, repo: str, ref: str) -> str:
    """The commit a ref names. GitHub is not simulated: a full SHA stays, any other ref names a made-up commit that
    is the same for the same repository and ref."""
    if re.fullmatch(r"[0-9a-f]{40}", ref):
        return ref
    return hashlib.sha1(f"{owner}/{repo}@{ref}".encode()).hexdigest()


def registry_of(image: str) -> str:
    """The registry host of an image reference (docker's rule: a first part with ``.`` or ``:`` or ``localhost``)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return DOCKERHUB if first in ("docker.io", "index.docker.io", "registry-1.docker.io") else first
    return DOCKERHUB
