FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=itp_trial.settings.production
WORKDIR /app
# gettext: msgfmt compiles the translation catalogues (locale/) during the build.
# WeasyPrint (PDF casebooks) needs pango; Chinese text needs the Noto CJK fonts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext libpango-1.0-0 libpangoft2-1.0-0 \
       libharfbuzz-subset0 fonts-noto-cjk fontconfig \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml ./
RUN pip install --no-cache-dir --upgrade pip
COPY . .
RUN pip install --no-cache-dir -e . \
    && SECRET_KEY=build DATABASE_URL=sqlite:////tmp/build.sqlite3 ALLOWED_HOSTS=localhost \
       CELERY_BROKER_URL=memory:// \
       sh -c 'python manage.py compilemessages --ignore=.venv && python manage.py collectstatic --noinput'
RUN useradd --create-home edc && mkdir -p /app/var && chown -R edc /app/var
USER edc
EXPOSE 8000
CMD ["gunicorn", "itp_trial.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]
