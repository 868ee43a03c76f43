"""Dates and times in ISO 8601 in Chinese as in English (FORMAT_MODULE_PATH): the English
module's formats, one definition for both languages."""

from itp_trial.formats.en.formats import *  # noqa: F403
