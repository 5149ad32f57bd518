"""WSGI entry point of the example TOM."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_tom.settings")
application = get_wsgi_application()
