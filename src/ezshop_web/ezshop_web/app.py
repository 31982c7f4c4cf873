"""The web app (FastAPI): the staff console (login, live state, review queue, stock) and the
customer's personal page (face login, their live cart and receipts, the exit notice). It knows
the store only through a StoreGateway (web_node's bridge to the store's topics and services);
no rclpy import here.

Security: every page and every write needs a staff login (argon2-hashed accounts, see
staff_accounts.py); the session cookie is signed, HttpOnly and SameSite=Strict; every write
carries the session's CSRF token (a form field or the X-CSRF-Token header); failed logins are
rate-limited per account and per address; the browser renders data as text, never as HTML.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.middleware.sessions import SessionMiddleware

from ezshop_web.enrolment import MAX_ENROL_BYTES, MAX_ENROL_PHOTOS, check_details
from ezshop_web.face_login import MAX_PHOTO_BYTES, FaceLoginResult
from ezshop_web.hub import DROPPED, Hub
from ezshop_web.login_limiter import LoginLimiter
from ezshop_web.staff_accounts import StaffAccounts
from ezshop_web.store_view import CustomerFeed
from ezshop_web.web_settings import WebSettings

STATIC_DIR = Path(__file__).parent / 'static'
#: A comment line to every open stream this often, so proxies and browsers keep it open.
KEEPALIVE_S = 15.0
CSRF_HEADER = 'X-CSRF-Token'


@dataclass(frozen=True)
class EnrolOutcome:
    """An enrolment's answer: the new customer id, or why nobody was enrolled."""

    customer_id: str                       # '' = not enrolled
    message: str = ''                      # why not
    refused: list[tuple[str, str]] = field(default_factory=list)  # (photo, why)
    already_enrolled: str = ''             # the customer the face belongs to
    photos_used: int = 0


class StoreGateway(Protocol):
    """What the app needs from the store (web_node implements it over ROS)."""

    hub: Hub

    def snapshot(self) -> dict: ...

    def customer_state(self, customer_id: str) -> dict: ...

    def knows_customer(self, customer_id: str) -> bool: ...

    def identify_face(self, photo: bytes) -> FaceLoginResult: ...

    def acknowledge_alert(self, alert_id: int | None, staff_id: str) -> int: ...

    def knows_alert(self, alert_id: int) -> bool: ...

    async def review_queue(self, limit: int) -> list[dict]: ...

    def review_snapshot(self, event_id: str, camera_id: str) -> bytes | None: ...

    async def resolve(self, event_id: str, customer_id: str, staff_id: str,
                      note: str) -> tuple[bool, str]: ...

    async def set_stock(self, item_id: str, stock: int) -> tuple[bool, str]: ...

    async def enrol(self, name: str, photos: list[tuple[str, bytes]],
                    staff_id: str) -> EnrolOutcome: ...

    async def forget(self, customer_id: str, staff_id: str) -> tuple[bool, str]: ...


class StoreUnavailableError(Exception):
    """The store did not answer a service call in time."""


def create_app(gateway: StoreGateway, settings: WebSettings, accounts: StaffAccounts,
               link_secret: str, clock=time.monotonic) -> FastAPI:
    """The app; ``link_secret`` signs personal links (kept across restarts, so links last)."""
    links = URLSafeSerializer(link_secret, salt='ezshop personal link')
    limiter = LoginLimiter(settings.login_attempts, settings.login_window_s)
    face_limiter = LoginLimiter(settings.face_login_attempts, settings.login_window_s)
    templates = Environment(loader=PackageLoader('ezshop_web', 'templates'),
                            autoescape=select_autoescape(default=True))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        gateway.hub.attach(asyncio.get_running_loop())
        yield
        gateway.hub.detach()

    app = FastAPI(title='EZShop console', lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    # A new secret per start: a restart logs everybody out, and no secret sits on disk.
    app.add_middleware(SessionMiddleware, secret_key=secrets.token_urlsafe(32),
                       session_cookie='ezshop_session', max_age=int(settings.session_max_age_s),
                       same_site='strict', https_only=settings.tls)
    app.mount('/static', StaticFiles(directory=STATIC_DIR), name='static')

    def page(template: str, status_code: int = 200, **context) -> HTMLResponse:
        return HTMLResponse(templates.get_template(template).render(**context),
                            status_code=status_code)

    def csrf_token(request: Request) -> str:
        token = request.session.get('csrf')
        if not token:
            token = request.session['csrf'] = secrets.token_urlsafe(32)
        return token

    def csrf_ok(request: Request, sent: str | None) -> bool:
        expected = request.session.get('csrf')
        return bool(expected and sent and secrets.compare_digest(expected, sent))

    def staff(request: Request) -> str | None:
        return request.session.get('staff')

    def refused(status: int, message: str) -> JSONResponse:
        return JSONResponse({'ok': False, 'message': message}, status_code=status)

    def upload_size_problem(request: Request, limit: int) -> JSONResponse | None:
        """An upload must say its size, and be no larger than limit (nothing is read first)."""
        length = request.headers.get('content-length', '')
        if not length.isdigit():
            return refused(411, 'the upload must state its length (Content-Length)')
        if int(length) > limit:
            return refused(413, f'upload too large (at most {limit // (1024 * 1024)} MB)')
        return None

    def need_staff_write(request: Request) -> JSONResponse | None:
        if not staff(request):
            return refused(401, 'log in first')
        if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
            return refused(403, 'stale or missing CSRF token: reload the page')
        return None

    @app.get('/login', response_class=HTMLResponse)
    async def login_form(request: Request):
        return page('login.html', csrf=csrf_token(request), error='')

    @app.post('/login')
    async def login(request: Request, name: str = Form(''), password: str = Form(''),
                    csrf: str = Form('')):
        if not csrf_ok(request, csrf):
            return page('login.html', 403, csrf=csrf_token(request),
                        error='The form expired: please try again.')
        keys = [f'name:{name}', f'address:{request.client.host if request.client else ""}']
        wait = limiter.retry_after_s(keys, clock())
        if wait > 0:
            response = page('login.html', 429, csrf=csrf_token(request),
                            error=f'Too many failed logins: try again in {int(wait) + 1} s.')
            response.headers['Retry-After'] = str(int(wait) + 1)
            return response
        # argon2 is slow on purpose: keep the event loop free while it runs.
        if not await asyncio.to_thread(accounts.verify, name, password):
            limiter.failed(keys, clock())
            return page('login.html', 401, csrf=csrf_token(request),
                        error='Wrong name or password.')
        limiter.succeeded(keys)
        request.session.clear()
        request.session['staff'] = name
        request.session['csrf'] = secrets.token_urlsafe(32)
        return RedirectResponse('/', status_code=303)

    @app.post('/logout')
    async def logout(request: Request, csrf: str = Form('')):
        if csrf_ok(request, csrf):
            request.session.clear()
        return RedirectResponse('/login', status_code=303)

    @app.get('/', response_class=HTMLResponse)
    async def console(request: Request):
        if not staff(request):
            return RedirectResponse('/login', status_code=303)
        return page('console.html', staff=staff(request), csrf=csrf_token(request))

    @app.get('/api/state')
    async def state(request: Request):
        if not staff(request):
            return refused(401, 'log in first')
        return gateway.snapshot()

    def event_stream(request: Request, first, translate) -> StreamingResponse:
        """Server-sent events: first() (read once subscribed, so no update falls between),
        then the events translate(section, data) makes of every hub update; keep-alives; it
        ends when the page goes away or falls too far behind (it reconnects)."""
        queue = gateway.hub.subscribe()

        async def events():
            try:
                yield _sse(*first())
                while not await request.is_disconnected():
                    try:
                        update = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                    except asyncio.TimeoutError:
                        yield ': keep-alive\n\n'
                        continue
                    if update == DROPPED:
                        return
                    for event, data in translate(*update):
                        yield _sse(event, data)
            finally:
                gateway.hub.unsubscribe(queue)

        return StreamingResponse(events(), media_type='text/event-stream',
                                 headers={'Cache-Control': 'no-store'})

    @app.get('/api/stream')
    async def stream(request: Request):
        """The whole state first (`snapshot`), then every update as it happens."""
        if not staff(request):
            return refused(401, 'log in first')
        return event_stream(request, lambda: ('snapshot', gateway.snapshot()),
                            lambda section, data: [(section, data)])

    @app.get('/api/review')
    async def review(request: Request, limit: int = 200):
        if not staff(request):
            return refused(401, 'log in first')
        try:
            return {'ok': True, 'actions': await gateway.review_queue(max(0, min(limit, 1000)))}
        except StoreUnavailableError as exc:
            return refused(503, str(exc))

    @app.get('/api/review/{event_id}/snapshot/{camera_id}')
    async def review_snapshot(request: Request, event_id: str, camera_id: str):
        """The shelf camera's frame at a held action's moment, faces drawn (JPEG)."""
        if not staff(request):
            return refused(401, 'log in first')
        jpeg = gateway.review_snapshot(event_id, camera_id)
        if jpeg is None:
            return refused(404, 'no snapshot (settled, past retention, or none was taken)')
        return Response(jpeg, media_type='image/jpeg', headers={'Cache-Control': 'no-store'})

    @app.post('/api/review/{event_id}')
    async def resolve(request: Request, event_id: str):
        if (problem := need_staff_write(request)) is not None:
            return problem
        body = await _json_body(request)
        if body is None:
            return refused(400, 'expected a JSON object')
        customer_id = str(body.get('customer_id', ''))[:128]
        note = str(body.get('note', ''))[:500]
        try:
            ok, message = await gateway.resolve(event_id[:128], customer_id, staff(request),
                                                note)
        except StoreUnavailableError as exc:
            return refused(503, str(exc))
        return JSONResponse({'ok': ok, 'message': message}, status_code=200 if ok else 409)

    @app.post('/api/stock/{item_id}')
    async def set_stock(request: Request, item_id: str):
        if (problem := need_staff_write(request)) is not None:
            return problem
        body = await _json_body(request)
        stock = body.get('stock') if body else None
        if not isinstance(stock, int) or isinstance(stock, bool) or not 0 <= stock <= 100000:
            return refused(400, 'stock must be a whole number from 0 to 100000')
        try:
            ok, message = await gateway.set_stock(item_id[:128], stock)
        except StoreUnavailableError as exc:
            return refused(503, str(exc))
        return JSONResponse({'ok': ok, 'message': message}, status_code=200 if ok else 409)

    @app.post('/api/alerts/{alert_id}/ack')
    async def acknowledge(request: Request, alert_id: str):
        """Staff saw an alert (`all`: every alert shown); acknowledging twice changes nothing."""
        if (problem := need_staff_write(request)) is not None:
            return problem
        if alert_id == 'all':
            return {'ok': True, 'acknowledged': gateway.acknowledge_alert(None, staff(request))}
        if not alert_id.isdigit() or not gateway.knows_alert(int(alert_id)):
            return refused(404, f'no alert {alert_id[:20]!r} (the console keeps the latest '
                                f'{settings.alerts_kept})')
        return {'ok': True,
                'acknowledged': gateway.acknowledge_alert(int(alert_id), staff(request))}

    def link_for(request: Request, customer_id: str) -> str:
        token = links.dumps({'customer': customer_id, 'nonce': secrets.token_urlsafe(8)})
        return str(request.base_url) + f'me/link/{token}'

    @app.post('/api/customers/{customer_id}/link')
    async def personal_link(request: Request, customer_id: str):
        """Staff make a shopper's personal link (to give them once, e.g. as a QR code)."""
        if (problem := need_staff_write(request)) is not None:
            return problem
        if not gateway.knows_customer(customer_id):
            return refused(404, f'no customer {customer_id!r} in the store\'s gallery')
        return {'ok': True, 'url': link_for(request, customer_id)}

    @app.post('/api/customers')
    async def enrol(request: Request):
        """Enrol a shopper: multipart form with `name`, `consent` and up to MAX_ENROL_PHOTOS
        `photos` (JPEG / PNG / WebP). Answers the new id and their personal link (shown once),
        or why not, photo by photo; nothing is stored unless the store enrols them."""
        if (problem := need_staff_write(request)) is not None:
            return problem
        if (problem := upload_size_problem(request, MAX_ENROL_BYTES)) is not None:
            return problem
        try:
            form = await request.form(max_files=MAX_ENROL_PHOTOS + 1, max_fields=10)
        except HTTPException as exc:  # a malformed multipart body
            return refused(400, f'not a form with photos: {exc.detail}'[:200])
        try:
            name = str(form.get('name') or '')
            consent = str(form.get('consent') or '') in ('on', 'yes', 'true', '1')
            uploads = [f for f in form.getlist('photos') if not isinstance(f, str)]
            why = check_details(name, consent, len(uploads))
            if why:
                return refused(400, why)
            photos = []
            for number, upload in enumerate(uploads, 1):
                label = (upload.filename or f'photo {number}')[:100]
                photos.append((label, await upload.read(MAX_PHOTO_BYTES + 1)))
        finally:
            await form.close()
        try:
            outcome = await gateway.enrol(name, photos, staff(request))
        except StoreUnavailableError as exc:
            return refused(503, str(exc))
        refusals = [{'photo': label, 'reason': why} for label, why in outcome.refused]
        if not outcome.customer_id:
            status = 409 if outcome.already_enrolled else 400
            return JSONResponse({'ok': False, 'message': outcome.message, 'refused': refusals,
                                 'already_enrolled': outcome.already_enrolled},
                                status_code=status)
        return {'ok': True, 'customer_id': outcome.customer_id, 'name': name.strip(),
                'photos_used': outcome.photos_used, 'refused': refusals,
                'url': link_for(request, outcome.customer_id)}

    @app.post('/api/customers/{customer_id}/forget')
    async def forget(request: Request, customer_id: str):
        """Forget a shopper: their name and face data go; anonymised sales stay."""
        if (problem := need_staff_write(request)) is not None:
            return problem
        if not gateway.knows_customer(customer_id):
            return refused(404, f'no customer {customer_id!r} in the store\'s gallery')
        try:
            ok, message = await gateway.forget(customer_id[:128], staff(request))
        except StoreUnavailableError as exc:
            return refused(503, str(exc))
        return JSONResponse({'ok': ok, 'message': message}, status_code=200 if ok else 409)

    # -- the customer's personal page ----------------------------------------------------------
    @app.get('/me/link/{token}')
    async def follow_link(request: Request, token: str):
        try:
            customer_id = links.loads(token)['customer']
        except (BadSignature, KeyError, TypeError):
            return page('me_login.html', 404, csrf=csrf_token(request),
                        error='This link is not valid: log in with your face.')
        if not gateway.knows_customer(customer_id):
            return page('me_login.html', 404, csrf=csrf_token(request),
                        error='This link is not valid any more: log in with your face.')
        request.session['customer'] = customer_id
        request.session['csrf'] = secrets.token_urlsafe(32)
        return RedirectResponse('/me', status_code=303)

    def customer(request: Request) -> str | None:
        """The logged-in customer, while the store still knows them (not forgotten)."""
        customer_id = request.session.get('customer')
        if customer_id and not gateway.knows_customer(customer_id):
            request.session.pop('customer', None)
            return None
        return customer_id

    @app.get('/me', response_class=HTMLResponse)
    async def personal_page(request: Request):
        if not customer(request):
            return page('me_login.html', csrf=csrf_token(request), error='')
        state = gateway.customer_state(customer(request))
        return page('me.html', csrf=csrf_token(request), name=state['name'])

    @app.post('/me/face')
    async def face_login(request: Request):
        """One camera frame (image bytes) in; a customer session out, or why not."""
        if not csrf_ok(request, request.headers.get(CSRF_HEADER)):
            return refused(403, 'stale or missing CSRF token: reload the page')
        keys = [f'address:{request.client.host if request.client else ""}']
        wait = face_limiter.retry_after_s(keys, clock())
        if wait > 0:
            return refused(429, f'too many tries: try again in {int(wait) + 1} s')
        if (problem := upload_size_problem(request, MAX_PHOTO_BYTES)) is not None:
            return problem
        photo = await request.body()
        result = await asyncio.to_thread(gateway.identify_face, photo)
        if not result.customer_id:
            face_limiter.failed(keys, clock())
            return refused(400 if result.bad_file else 401, result.reason)
        face_limiter.succeeded(keys)
        request.session['customer'] = result.customer_id
        request.session['csrf'] = secrets.token_urlsafe(32)
        return {'ok': True, 'name': gateway.customer_state(result.customer_id)['name']}

    @app.post('/me/logout')
    async def customer_logout(request: Request, csrf: str = Form('')):
        if csrf_ok(request, csrf):
            request.session.pop('customer', None)
        return RedirectResponse('/me', status_code=303)

    @app.get('/me/state')
    async def customer_state(request: Request):
        if not (customer_id := customer(request)):
            return refused(401, 'log in with your face first')
        return gateway.customer_state(customer_id)

    @app.get('/me/stream')
    async def customer_stream(request: Request):
        """One customer's events: `state` first, then `cart` when their cart changes and
        `receipt` for each receipt of theirs (the exit notice). Nobody else's data."""
        if not (customer_id := customer(request)):
            return refused(401, 'log in with your face first')
        feed = CustomerFeed(customer_id)
        return event_stream(request,
                            lambda: ('state', feed.start(gateway.customer_state(customer_id))),
                            feed.events)

    return app


def _sse(event: str, data: object) -> str:
    return f'event: {event}\ndata: {json.dumps(data, separators=(",", ":"))}\n\n'


async def _json_body(request: Request) -> dict | None:
    if int(request.headers.get('content-length') or 0) > 64 * 1024:
        return None
    try:
        body = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
