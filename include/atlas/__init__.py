"""Atlas Connectors: rows of a connector table become scheduled, incremental Airflow syncs."""

__version__ = "0.1.0"
