"""Versioned schema: migration N brings a database from version N-1 to N."""

from importlib import resources


def sqlite_migrations() -> list[str]:
    folder = resources.files(__package__).joinpath("sqlite")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [folder.joinpath(name).read_text() for name in names]
