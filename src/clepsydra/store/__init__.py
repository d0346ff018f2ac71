"""Persistence: one interface (`base.Store`), one implementation per database."""
