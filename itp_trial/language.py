"""The interface language, chosen by each user and remembered on the account.

- `language_set` (the switcher in the navigation bar and on the login page) activates the
  chosen language for this browser (Django's language cookie) and, for a signed-in user,
  saves it as the account's `UserPreference`; a choice made on the login page is saved to
  the account that then signs in.
- `UserLanguageMiddleware` (after the authentication middleware) activates the signed-in
  user's saved language on every request, whatever the browser's cookie or Accept-Language:
  the same person sees the same language on every workstation of the ward. The session
  keeps a copy (read at login, updated by the switcher), so a page costs no extra query.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import translate_url
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from .models import UserPreference

# A language picked on the login page, for the account that signs in next in this session.
LOGIN_CHOICE_KEY = "i17_login_language"
# The signed-in user's saved language, copied into the session: [user id, language or ""].
SESSION_KEY = "i17_user_language"


def language_codes() -> set[str]:
    return {code for code, _name in settings.LANGUAGES}


def preferred_language(user: Any) -> str | None:
    """The user's saved language, or None when they never chose one."""
    if not getattr(user, "is_authenticated", False):
        return None
    try:
        language = user.preference.language
    except UserPreference.DoesNotExist:
        return None
    return language if language in language_codes() else None


def preference_save(user: Any, language: str) -> UserPreference:
    """Remember `language` on the account (a personal setting, not clinical data)."""
    if language not in language_codes():
        raise ValueError(f"unknown language {language!r}")
    preference, _created = UserPreference.objects.update_or_create(
        user=user, defaults={"language": language}
    )
    user.preference = preference
    return preference


def _remember_in_session(request: HttpRequest, user: Any, language: str | None) -> None:
    if hasattr(request, "session"):
        request.session[SESSION_KEY] = [user.pk, language or ""]


def session_language(request: HttpRequest) -> str | None:
    """The signed-in user's saved language, from the session's copy (read once if absent)."""
    user = getattr(request, "user", None)
    if not getattr(user, "is_authenticated", False):
        return None
    cached = request.session.get(SESSION_KEY)
    if not (isinstance(cached, list) and len(cached) == 2 and cached[0] == user.pk):
        cached = [user.pk, preferred_language(user) or ""]
        request.session[SESSION_KEY] = cached
    return cached[1] if cached[1] in language_codes() else None


class UserLanguageMiddleware:
    """Activate the signed-in user's saved language (after LocaleMiddleware and auth)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = session_language(request)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.META.get("HTTP_REFERER") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return target


@login_not_required
@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the interface language; for a signed-in user, remember it on the account."""
    language = request.POST.get("language", "")
    target = _safe_next(request)
    response = HttpResponseRedirect(target)
    if language not in language_codes():
        return response
    if request.user.is_authenticated:
        preference_save(request.user, language)
        _remember_in_session(request, request.user, language)
    else:
        request.session[LOGIN_CHOICE_KEY] = language
    translation.activate(language)
    response = HttpResponseRedirect(translate_url(target, language))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


@receiver(user_logged_in, dispatch_uid="itp_trial.language_login")
def _login_language(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A language chosen on the login page becomes the preference of who signs in."""
    if request is None or not hasattr(request, "session"):
        return
    language = request.session.pop(LOGIN_CHOICE_KEY, None)
    if language in language_codes():
        preference_save(user, language)
    _remember_in_session(request, user, preferred_language(user))
