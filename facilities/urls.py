from django.urls import path

from facilities import views

app_name = "facilities"

urlpatterns = [
    path("tns/reports/", views.TNSReportListView.as_view(), name="tns-reports"),
    path("tns/report/<int:pk>/", views.ReportToTNSView.as_view(), name="tns-report"),
    path("followup/<int:pk>/", views.FollowupTargetView.as_view(), name="followup-request"),
    path("tonight/", views.TonightView.as_view(), name="tonight"),
]
