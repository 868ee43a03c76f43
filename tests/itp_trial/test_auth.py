import pytest
from django.conf import settings
from django.urls import reverse

from tests.factories import PASSWORD


@pytest.mark.django_db
def test_it_sends_anonymous_users_to_login(client):
    response = client.get(reverse("subjects:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_it_lets_anonymous_users_reach_login_and_healthz(client):
    assert client.get(reverse("login")).status_code == 200
    assert client.get(reverse("healthz")).status_code == 200


@pytest.mark.django_db
def test_it_logs_a_user_in_with_the_right_password(client, coordinator):
    response = client.post(
        reverse("login"), {"username": "coordinator", "password": PASSWORD}, follow=True
    )
    assert response.context["user"].is_authenticated


@pytest.mark.django_db
def test_it_locks_the_account_at_the_sixth_wrong_password(client, coordinator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(reverse("login"), {"username": "coordinator", "password": "wrong"})
        assert response.status_code == 200
        assert not response.context["user"].is_authenticated
    # The fifth failure locks the account...
    client.post(reverse("login"), {"username": "coordinator", "password": "wrong"})
    assert "_auth_user_id" not in client.session

    # ...so the sixth attempt is refused as locked out.
    response = client.post(reverse("login"), {"username": "coordinator", "password": "wrong"})
    assert response.status_code == 429
    assert b"Account locked" in response.content

    # Locked means locked: even the right password is refused now.
    response = client.post(reverse("login"), {"username": "coordinator", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_it_does_not_lock_after_four_failures(client, coordinator):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        client.post(reverse("login"), {"username": "coordinator", "password": "wrong"})
    response = client.post(
        reverse("login"), {"username": "coordinator", "password": PASSWORD}, follow=True
    )
    assert response.context["user"].is_authenticated


def test_it_expires_sessions_after_thirty_idle_minutes():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


@pytest.mark.django_db
def test_it_validates_passwords():
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        validate_password("12345678")


@pytest.mark.django_db
def test_it_shows_the_users_name_and_role(client, investigator):
    client.force_login(investigator)
    response = client.get(reverse("subjects:list"))
    assert b"Wang Fang" in response.content
    assert b"Investigator" in response.content


@pytest.mark.django_db
def test_a_stranger_cannot_lock_a_user_out_from_another_address(client, coordinator):
    """The lock is on username and address together (AXES_LOCKOUT_PARAMETERS)."""
    stranger = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": "coordinator", "password": "wrong"}, **stranger)
    locked = client.post(
        reverse("login"), {"username": "coordinator", "password": PASSWORD}, **stranger
    )
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session

    response = client.post(
        reverse("login"),
        {"username": "coordinator", "password": PASSWORD},
        REMOTE_ADDR="10.1.2.3",
        follow=True,
    )

    assert response.context["user"].is_authenticated
    assert response.context["user"] == coordinator


@pytest.mark.django_db
def test_it_sends_a_content_security_policy_without_inline_script(client, coordinator):
    client.force_login(coordinator)
    response = client.get(reverse("subjects:list"))
    policy = {
        part.split()[0]: part.split()[1:]
        for part in response["Content-Security-Policy"].split(";")
        if part.strip()
    }
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
