"""django URL Configuration

The `urlpatterns` list routes URLs to views. For more information please see:
    https://docs.djangoproject.com/en/2.2/topics/http/urls/
Examples:
Function views
    1. Add an import:  from my_app import views
    2. Add a URL to urlpatterns:  path('', views.home, name='home')
Class-based views
    1. Add an import:  from other_app.views import Home
    2. Add a URL to urlpatterns:  path('', Home.as_view(), name='home')
Including another URLconf
    1. Import the include() function: from django.urls import include, path
    2. Add a URL to urlpatterns:  path('blog/', include('blog.urls'))
"""
from django.conf import settings
from django.urls import path, include

from example_tom.media import DataProductFileView
from example_tom.views import HomeView

urlpatterns = [
    path('', HomeView.as_view(), name='home'),  # the demo's tour, in place of tom_common's welcome page
    # data product files to whoever may see their target, DEBUG or not (see example_tom/media.py)
    path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", DataProductFileView.as_view(), name='data-product-file'),
    path('', include('tom_common.urls')),
]

handler400 = 'example_tom.errors.bad_request'  # says why (see example_tom/errors.py)
