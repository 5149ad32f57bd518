"""Read-only HTTP over the store, ALeRCE's routes and JSON shapes (``alerce-classifier serve``)."""
from classifier_service.api.app import create_app
from classifier_service.api.client_config import alerce_client_config, write_alerce_client_config

__all__ = ["create_app", "alerce_client_config", "write_alerce_client_config"]
