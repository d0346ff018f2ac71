"""Versioned schema: migration N brings a database from version N-1 to N."""

from importlib import resources


def sqlite_migrations() -> list[str]:
    folder = resources.files(__package__).joinpath("sqlite")
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [folder.joinpath(name).read_text() for name in names]


def migration_names(kind: str) -> list[str]:
    """The migrations of a kind of database ("sqlite" or "postgres"), in order, without `.sql`:
    migration N (counting from 1) is the N-th."""
    folder = resources.files(__package__).joinpath(kind)
    return sorted(p.name.removesuffix(".sql") for p in folder.iterdir() if p.name.endswith(".sql"))
