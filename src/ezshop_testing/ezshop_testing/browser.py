"""A real headless Chromium for browser tests: Debian's chromium + chromium-driver, driven by
selenium (playwright's own browser download does not work offline)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM = shutil.which('chromium') or shutil.which('chromium-browser')
CHROMEDRIVER = shutil.which('chromedriver')
#: Why browser tests skip on a machine without them ('' = they can run).
MISSING = '' if CHROMIUM and CHROMEDRIVER else (
    'no chromium / chromedriver: as root, make setup installs them '
    '(apt-get install chromium chromium-driver)')


def headless_chromium(profile_dir: str | Path, *extra_args: str, size=(1400, 1000)):
    """A selenium Chrome driver on a fresh profile; quit() it when done."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                f'--window-size={size[0]},{size[1]}', f'--user-data-dir={profile_dir}',
                *extra_args):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def screenshot(driver, folder: Path, name: str) -> None:
    """Save the page as folder/name, and into $EZSHOP_SCREENSHOTS too when set (docs/images)."""
    driver.save_screenshot(str(Path(folder) / name))
    if os.environ.get('EZSHOP_SCREENSHOTS'):
        extra = Path(os.environ['EZSHOP_SCREENSHOTS'])
        extra.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(extra / name))
