"""The console in a real headless Chromium against a real store_node over DDS: log in, watch a
shopper's cart change live, settle a held pick from the review queue.

Screenshots go to the test's folder, and to $EZSHOP_SCREENSHOTS when set (docs/images)."""

import os
from pathlib import Path

import pytest

from ezshop_testing.browser import MISSING, headless_chromium

pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(bool(MISSING), reason=MISSING)]
WAIT_S = 15.0
S = 1_000_000_000


@pytest.fixture
def browser(tmp_path):
    driver = headless_chromium(tmp_path / 'profile')
    yield driver
    driver.quit()


def screenshot(driver, tmp_path: Path, name: str) -> None:
    driver.save_screenshot(str(tmp_path / name))
    if os.environ.get('EZSHOP_SCREENSHOTS'):
        folder = Path(os.environ['EZSHOP_SCREENSHOTS'])
        folder.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(folder / name))


def log_in(driver, url, name, password):
    from selenium.webdriver.common.by import By

    driver.get(url + '/login')
    driver.find_element(By.ID, 'name').send_keys(name)
    driver.find_element(By.ID, 'password').send_keys(password)
    driver.find_element(By.ID, 'login').click()


def test_staff_watch_a_cart_live_and_settle_a_held_pick(store, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    log_in(browser, store.url, store.staff[0], 'not the password')
    assert 'Wrong name or password' in browser.find_element(By.ID, 'login-error').text
    log_in(browser, store.url, *store.staff)
    wait.until(seen.text_to_be_present_in_element((By.ID, 'connection'), 'live'))

    customer_id = store.register('Cy Browser')
    t = store.slot()
    store.enter(customer_id, t - S)
    row = f'#presence tr[data-customer="{customer_id}"]'
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, row + ' .name'),
                                                  'Cy Browser'))
    store.cart_action(customer_id, 'water', 2, t)
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, row + ' .cart'),
                                                  '2 × Still water 0.5 l'))
    assert browser.find_element(By.CSS_SELECTOR, row + ' .total').text == '1.98 EUR'

    held_by, held = store.held_pick('Di Held', 'sandwich')
    entry = f'#review tr[data-event="{held}"]'
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, entry)))
    screenshot(browser, tmp_path, 'console.png')
    Select(browser.find_element(By.CSS_SELECTOR, entry + ' select')).select_by_value(held_by)
    browser.find_element(By.CSS_SELECTOR, entry + ' .assign').click()
    wait.until(seen.text_to_be_present_in_element((By.ID, 'review-message'), 'Done.'))
    wait.until(seen.invisibility_of_element_located((By.CSS_SELECTOR, entry)))
    wait.until(seen.text_to_be_present_in_element(
        (By.CSS_SELECTOR, f'#presence tr[data-customer="{held_by}"] .cart'),
        '1 × Cheese sandwich'))
    assert 'Traceback' not in browser.page_source
