from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from . import views
from .language import language_set


def _namespace(name: str, *urlconfs: str):
    """One URL namespace served by several URLconfs, named by string so that this base
    package imports no app: an app's own pages, then the reporting pages beside them."""
    return include(([path("", include(urlconf)) for urlconf in urlconfs], name))


urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("language/", language_set, name="language_set"),
    path("jsi18n/", login_not_required(JavaScriptCatalog.as_view()), name="javascript_catalog"),
    path(
        "accounts/login/",
        login_not_required(auth_views.LoginView.as_view()),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path(
        "participants/",
        _namespace(
            "subjects", "subjects.urls", "visits.participant_urls", "reporting.urls.participants"
        ),
    ),
    path("visits/", _namespace("visits", "visits.urls", "reporting.urls.visits")),
    path("infusions/", include("infusions.urls")),
    path("safety/", include("safety.urls")),
    path("exchange/", include("exchange.urls")),
    path("admin/", admin.site.urls),
]
