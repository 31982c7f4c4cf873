"""The console in a real headless Chromium against a real store_node over DDS: log in, watch a
shopper's cart change live, settle a held pick from the review queue, see a freezer's
temperature and its alarm.

Screenshots go to the test's folder, and to $EZSHOP_SCREENSHOTS when set (docs/images)."""

import pytest

from ezshop_testing.browser import MISSING, headless_chromium, screenshot

pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(bool(MISSING), reason=MISSING)]
WAIT_S = 15.0
S = 1_000_000_000


@pytest.fixture
def browser(tmp_path):
    driver = headless_chromium(tmp_path / 'profile')
    yield driver
    driver.quit()


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
    # The form posts and the server answers with a new page: wait for it, not for the click.
    wait.until(seen.text_to_be_present_in_element((By.ID, 'login-error'), 'Wrong name or password'))
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


def test_staff_enrol_a_shopper_by_photo_upload_then_forget_them(store, browser, tmp_path,
                                                               faces_root):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    log_in(browser, store.url, *store.staff)
    wait.until(seen.text_to_be_present_in_element((By.ID, 'connection'), 'live'))
    photos = faces_root / 'dev' / 'bbt_penny'
    browser.find_element(By.ID, 'enrol-name').send_keys('Penny Upload')
    browser.find_element(By.ID, 'enrol-photos').send_keys(
        '\n'.join(str(photos / name) for name in ('1.jpg', '2.jpg', '3.jpg')))
    browser.find_element(By.ID, 'enrol-submit').click()
    # Without consent the browser does not even send the form.
    assert browser.find_element(By.ID, 'enrol-message').text == ''
    browser.find_element(By.ID, 'enrol-consent').click()
    browser.find_element(By.ID, 'enrol-submit').click()
    WebDriverWait(browser, 60).until(
        seen.text_to_be_present_in_element((By.ID, 'enrol-message'), 'Enrolled Penny Upload'))
    assert '/me/link/' in browser.find_element(By.ID, 'enrol-message').text
    row = wait.until(seen.visibility_of_element_located(
        (By.XPATH, '//table[@id="customers"]//td[text()="Penny Upload"]/..')))
    customer_id = row.get_attribute('data-customer')
    screenshot(browser, tmp_path, 'console_enrol.png')

    row.find_element(By.CSS_SELECTOR, '.forget').click()
    browser.switch_to.alert.accept()
    wait.until(seen.invisibility_of_element_located(
        (By.CSS_SELECTOR, f'#customers tr[data-customer="{customer_id}"]')))
    assert 'Traceback' not in browser.page_source


def test_a_held_pick_of_a_shopper_who_left_becomes_an_adjustment_receipt(store, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    log_in(browser, store.url, *store.staff)
    wait.until(seen.text_to_be_present_in_element((By.ID, 'connection'), 'live'))
    customer_id, held = store.held_pick('Ed Left', 'salad')
    store.leave(customer_id, store.slot())

    def receipt_row(revision):
        return (By.XPATH, '//table[@id="receipts"]//tr[td[@class="name" and text()="Ed Left"]'
                          f' and td[@class="revision" and text()="{revision}"]]')
    wait.until(seen.presence_of_element_located(receipt_row(1)))
    first = browser.find_element(*receipt_row(1))
    assert first.find_element(By.CLASS_NAME, 'total').text == '0.00 EUR'

    browser.find_element(By.ID, 'review-refresh').click()
    entry = f'#review tr[data-event="{held}"]'
    wait.until(seen.presence_of_element_located((By.CSS_SELECTOR, entry)))
    Select(browser.find_element(By.CSS_SELECTOR, entry + ' select')).select_by_value(customer_id)
    browser.find_element(By.CSS_SELECTOR, entry + ' .assign').click()
    wait.until(seen.presence_of_element_located(receipt_row(2)))
    adjusted = browser.find_element(*receipt_row(2))
    assert adjusted.find_element(By.CLASS_NAME, 'total').text == '4.29 EUR'
    assert 'Garden salad' in adjusted.text


def test_staff_enrol_a_shopper_with_the_browser_camera(store, tmp_path, faces_root):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    from ezshop_testing.fake_camera import photo_y4m

    video = photo_y4m(faces_root / 'dev' / 'bbt_howard' / '1.jpg', tmp_path / 'face.y4m')
    browser = headless_chromium(tmp_path / 'camera_profile', '--use-fake-device-for-media-stream',
                                '--use-fake-ui-for-media-stream',
                                f'--use-file-for-fake-video-capture={video}')
    try:
        wait = WebDriverWait(browser, WAIT_S)
        log_in(browser, store.url, *store.staff)
        wait.until(seen.text_to_be_present_in_element((By.ID, 'connection'), 'live'))
        browser.find_element(By.ID, 'enrol-name').send_keys('Howard Camera')
        browser.find_element(By.ID, 'enrol-camera').click()
        wait.until(lambda b: b.execute_script(
            "return document.getElementById('enrol-video').videoWidth > 0"))
        for taken in ('1 taken', '2 taken'):
            browser.find_element(By.ID, 'enrol-take').click()
            wait.until(seen.text_to_be_present_in_element((By.ID, 'enrol-taken'), taken))
        browser.find_element(By.ID, 'enrol-consent').click()
        browser.find_element(By.ID, 'enrol-submit').click()
        WebDriverWait(browser, 60).until(seen.text_to_be_present_in_element(
            (By.ID, 'enrol-message'), 'Enrolled Howard Camera with 2 photo(s)'))
        wait.until(seen.presence_of_element_located(
            (By.XPATH, '//table[@id="customers"]//td[text()="Howard Camera"]')))
    finally:
        browser.quit()


def test_staff_see_a_freezers_temperature_and_its_alarm_live(store, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT_S)
    log_in(browser, store.url, *store.staff)
    wait.until(seen.text_to_be_present_in_element((By.ID, 'connection'), 'live'))
    row = '#fridges tr[data-fridge="freezer"]'
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, row + ' .name'),
                                                  'Ice cream freezer'))
    assert browser.find_element(By.CSS_SELECTOR, row + ' .limits').text \
        == '-25.0 to -15.0 °C'
    store.temperature('freezer', -18.04)
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, row + ' .temperature'),
                                                  '-18.0 °C'))
    assert browser.find_element(By.CSS_SELECTOR, row + ' .state').text == 'OK'
    assert browser.find_element(By.CSS_SELECTOR, row + ' .age').text.endswith('s ago')

    t = store.temperature('freezer', -9.24)
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, row + ' .state'),
                                                  'out of limits'))
    store.temperature_alert('temperature_high', 'freezer', t)
    wait.until(seen.text_to_be_present_in_element((By.CSS_SELECTOR, row + ' .state'),
                                                  'ALARM (too warm)'))
    assert browser.find_element(By.CSS_SELECTOR, row + ' .temperature').text == '-9.2 °C'
    assert browser.find_element(By.ID, 'fridges-alarms').text == '1'
    # The headers say what each column is (a screen reader reads them with the cells).
    assert [th.text for th in browser.find_elements(By.CSS_SELECTOR, '#fridges thead th')] \
        == ['Unit', 'Kind', 'Temperature', 'Limits', 'Reading age', 'State']
    screenshot(browser, tmp_path, 'console_fridges.png')
    assert 'Traceback' not in browser.page_source
