"""The connectors HTTP API, served by Airflow's API server through ``plugins/atlas_plugin.py``."""
