from django.urls import path

from tom_alerce import views

app_name = "tom_alerce"

urlpatterns = [
    path("sn-hunter/", views.SNHunterView.as_view(), name="sn-hunter"),
    path("sn-hunter/candidates/", views.SNHunterCandidatesView.as_view(), name="sn-hunter-candidates"),
    path("sn-hunter/create-target/", views.CreateTargetView.as_view(), name="create-target"),
    path("stamp/<str:oid>/<str:kind>.png", views.StampView.as_view(), name="stamp"),
    path("plotly.min.js", views.plotly_js, name="plotly-js"),
]
