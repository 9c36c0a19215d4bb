"""Model loads are quiet by default and leave the caller's transformers / huggingface_hub settings as they were."""

from __future__ import annotations

import logging
import warnings

import transformers.utils.logging as hf_logging
from huggingface_hub.utils import are_progress_bars_disabled

from contextzip.models import quiet_loading


def test_quiet_loading_silences_and_restores():
    hf_logging.enable_progress_bar()
    hf_logging.set_verbosity_warning()
    with quiet_loading():
        assert not hf_logging.is_progress_bar_enabled() and are_progress_bars_disabled()
        assert hf_logging.get_verbosity() == logging.ERROR
        with warnings.catch_warnings(record=True) as caught:
            warnings.warn("noise", UserWarning, stacklevel=1)
        assert not caught
    assert hf_logging.is_progress_bar_enabled() and not are_progress_bars_disabled()
    assert hf_logging.get_verbosity() == logging.WARNING


def test_quiet_loading_keeps_a_disabled_bar_disabled():
    hf_logging.disable_progress_bar()
    try:
        with quiet_loading():
            pass
        assert not hf_logging.is_progress_bar_enabled()
    finally:
        hf_logging.enable_progress_bar()


def test_at_info_nothing_is_silenced():
    logger = logging.getLogger("contextzip")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        hf_logging.enable_progress_bar()
        with quiet_loading():
            assert hf_logging.is_progress_bar_enabled()
    finally:
        logger.setLevel(level)
