"""The shopper's page in a real headless Chromium whose camera shows a real photo (a Y4M
file): face login, the cart changing live, the exit notice with the total."""

import pytest

from ezshop_testing.browser import MISSING, headless_chromium, screenshot
from ezshop_testing.fake_camera import photo_y4m
from ezshop_vision.enrollment import Person, make_engine, person_embeddings

pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(bool(MISSING), reason=MISSING)]
WAIT_S = 30.0
S = 1_000_000_000


@pytest.fixture
def camera_browser(tmp_path, faces_root):
    video = photo_y4m(faces_root / 'dev' / 'bbt_sheldon' / '5.jpg', tmp_path / 'face.y4m')
    driver = headless_chromium(tmp_path / 'profile', '--use-fake-device-for-media-stream',
                               '--use-fake-ui-for-media-stream',
                               f'--use-file-for-fake-video-capture={video}', size=(1000, 900))
    yield driver
    driver.quit()


def test_a_shopper_logs_in_by_face_watches_their_cart_and_gets_the_exit_notice(
        store, camera_browser, faces_root, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as seen
    from selenium.webdriver.support.ui import WebDriverWait

    folder = faces_root / 'dev' / 'bbt_sheldon'
    embeddings, _ = person_embeddings(make_engine(), Person(
        'Sheldon Camera', tuple(folder / p for p in ('1.jpg', '2.jpg', '3.jpg', '4.jpg'))))
    customer_id = store.register('Sheldon Camera', embeddings)
    t = store.slot()
    store.enter(customer_id, t - S)

    browser = camera_browser
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(store.url + '/me')
    wait.until(lambda b: b.execute_script(
        "return document.getElementById('camera').videoWidth > 0"))
    browser.find_element(By.ID, 'face-button').click()
    wait.until(seen.text_to_be_present_in_element((By.ID, 'customer-name'), 'Sheldon Camera'))
    wait.until(seen.text_to_be_present_in_element((By.ID, 'connection'), 'live'))

    store.cart_action(customer_id, 'chocolate', 2, t)
    wait.until(seen.text_to_be_present_in_element((By.ID, 'cart-total'), '3.78 EUR'))
    assert 'Dark chocolate' in browser.find_element(By.ID, 'cart').text
    screenshot(browser, tmp_path, 'me.png')

    store.leave(customer_id, store.slot())
    wait.until(seen.visibility_of_element_located((By.ID, 'exit-notice')))
    assert '3.78 EUR' in browser.find_element(By.ID, 'exit-notice').text
    wait.until(seen.text_to_be_present_in_element((By.ID, 'receipts'), '3.78 EUR'))
    screenshot(browser, tmp_path, 'me_exit.png')
