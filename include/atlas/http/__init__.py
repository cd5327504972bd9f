"""HTTP building blocks of the REST source: client, auth kinds, paginators, pacing, records.

Each is a small object behind a small interface, chosen by name from a registry
(:data:`~atlas.http.auth.AUTH_TYPES`, :data:`~atlas.http.pagination.PAGINATORS`), so a new API is a
connector row, not code.
"""
