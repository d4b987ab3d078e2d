from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("", views.request_list, name="list"),
    path("new/", views.request_create, name="create"),
    path("<int:pk>/", views.request_detail, name="detail"),
    path("<int:pk>/edit/", views.request_edit, name="edit"),
    path("<int:pk>/book-slot/", views.book_slot, name="book-slot"),
    path("<int:pk>/book-split/", views.book_split, name="book-split"),
    path("<int:pk>/delete/", views.request_delete, name="delete"),
    path("<int:pk>/actions/", views.action_create, name="action-create"),
    path("<int:pk>/actions/<int:action_pk>/delete/", views.action_delete, name="action-delete"),
    path("<int:pk>/appointments/", views.appointment_create, name="appointment-create"),
]
