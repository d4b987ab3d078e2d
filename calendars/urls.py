from django.urls import path

from calendars import views

app_name = "calendars"
urlpatterns = [
    path("", views.personal, name="personal"),
    path("group/", views.group, name="group"),
    path("appointments/new/", views.appointment_create, name="appointment-create"),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment-detail"),
    path("appointments/<int:pk>/delete/", views.appointment_delete, name="appointment-delete"),
    path("appointments/<int:pk>/stop-repeating/", views.series_stop_repeating, name="series-stop-repeating"),
]
