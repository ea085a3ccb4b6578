"""Loads the Lua scripts that sit beside their callers, each with the shared prelude."""

import hashlib
from importlib import resources

_PRELUDE_PACKAGE = "atp.lua"
# A script that appends events starts with this call (atp/lua/_prelude.lua): it reads the
# acting party from the last two ARGV, which the transports then append (atp/actor.py).
ACTOR_MARKER = "take_actor()"


class Script:
    """A Lua script's source and SHA1; transports send EVALSHA and fall back to EVAL.

    ``actor``: the script takes the acting party (atp/actor.py) as its last two ARGV;
    ``RedisIO.run`` and ``run_many`` append them, so no caller can forget them."""

    __slots__ = ("actor", "name", "sha", "source")

    def __init__(self, name: str, source: str, *, actor: bool = False) -> None:
        self.name = name
        self.source = source
        self.actor = actor
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


def load_script(package: str, name: str) -> Script:
    """The shared prelude, the package's own ``_prelude.lua`` if it has one, then the script.
    A script whose own text calls ``take_actor()`` is sent the actor."""
    parts = [resources.files(_PRELUDE_PACKAGE).joinpath("_prelude.lua").read_text()]
    own = resources.files(package).joinpath("_prelude.lua")
    if package != _PRELUDE_PACKAGE and own.is_file():
        parts.append(own.read_text())
    body = resources.files(package).joinpath(f"{name}.lua").read_text()
    parts.append(body)
    return Script(name, "\n".join(parts), actor=ACTOR_MARKER in body)
