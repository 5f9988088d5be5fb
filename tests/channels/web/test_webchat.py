"""The web chat over HTTP, against a real uvicorn server on loopback."""

from __future__ import annotations

import json
import logging
import uuid
from html.parser import HTMLParser

import httpx
import pytest
from itsdangerous import BadSignature, URLSafeTimedSerializer

from channels.base import Outgoing
from channels.webchat import (
    CONTENT_SECURITY_POLICY,
    COOKIE_NAME,
    LOG_LINES,
    MAX_FILE_BYTES,
    NEUTRAL_SITE,
    SESSION_SALT,
    WebChatChannel,
)
from intake.messages import Attachment, Channel, Option, Reply
from tests.channels.web.conftest import Chat
from tests.channels.web.live import (
    NOW,
    SECRET_KEY,
    FakeIntake,
    make_adapter,
    page_token,
    serve,
)

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(200) + b"\xff\xd9"


class PageAudit(HTMLParser):
    """Collects what a strict CSP would block, and the elements the page must have."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.script_sources: list[str] = []
        self.style_elements = 0
        self.style_attributes: list[str] = []
        self.handler_attributes: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        self.elements.append((tag, attributes))
        if tag == "script":
            if "src" in attributes:
                self.script_sources.append(attributes["src"])
            else:
                self._in_script = True
                self.inline_scripts += 1
        if tag == "style":
            self.style_elements += 1
        if "style" in attributes:
            self.style_attributes.append(tag)
        self.handler_attributes += [name for name in attributes if name.startswith("on")]

    def find(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [
            attributes
            for name, attributes in self.elements
            if name == tag
            and all(attributes.get(k.rstrip("_").replace("_", "-")) == v for k, v in wanted.items())
        ]


def audit(html: str) -> PageAudit:
    parser = PageAudit()
    parser.feed(html)
    return parser


def session_cookie(response: httpx.Response) -> str:
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith(COOKIE_NAME))
    return header


# --- the page -----------------------------------------------------------------------------


async def test_page_is_sent_with_a_strict_content_security_policy(chat: Chat) -> None:
    response = await chat.open()

    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"


async def test_page_has_no_inline_script_style_or_event_handlers(chat: Chat) -> None:
    page = audit((await chat.open()).text)

    assert page.inline_scripts == 0
    assert page.style_elements == 0
    assert page.style_attributes == []
    assert page.handler_attributes == []
    assert [src.split("?")[0] for src in page.script_sources] == ["/chat/static/chat.js"]


async def test_page_is_an_accessible_form_that_works_without_javascript(chat: Chat) -> None:
    page = audit((await chat.open()).text)

    assert page.find("html", lang="en-GB")
    assert page.find("main") and page.find("header") and page.find("h1")
    assert page.find("div", id="log", role="log", aria_live="polite")
    send = page.find("form", id="send-form")[0]
    assert (send["method"], send["action"]) == ("post", "/chat/send")
    assert send["enctype"] == "multipart/form-data"
    assert page.find("label", for_="text") and page.find("textarea", id="text", name="text")
    assert page.find("label", for_="files") and page.find("input", type="file", name="files")
    assert page.find("button", type="submit", id="send-button")
    assert page.find("form", id="quick-exit", action="/chat/exit")


async def test_page_tells_a_frightened_reporter_about_999_and_the_quick_exit(chat: Chat) -> None:
    html = (await chat.open()).text

    assert "In danger now? Call 999." in html
    assert "Leave this site quickly" in html
    assert NEUTRAL_SITE in html


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("chat.js", "text/javascript"), ("chat.css", "text/css")],
)
async def test_static_files_are_served_with_their_type(
    chat: Chat, name: str, media_type: str
) -> None:
    response = await chat.client.get(f"/chat/static/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_unknown_static_file_is_not_found(chat: Chat) -> None:
    response = await chat.client.get("/chat/static/..%2fwebchat.py")

    assert response.status_code == 404


async def test_script_builds_elements_with_text_content_only() -> None:
    from channels.webchat import WEB_DIR

    script = (WEB_DIR / "static" / "chat.js").read_text(encoding="utf-8")

    for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert unsafe not in script


# --- sending ------------------------------------------------------------------------------


async def test_form_post_without_javascript_redirects_back_to_the_page(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.post(data={"text": "Loud music every night"}, as_json=False)

    assert response.status_code == 303
    assert response.headers["location"] == "/chat#latest"
    page = (await chat.open()).text
    assert "Loud music every night" in page
    assert "We got: Loud music every night" in page
    assert 'name="choice" value="yes"' in page and ">Yes</button>" in page
    [(message, inline)] = intake.calls
    assert inline is True
    assert message.channel is Channel.WEB
    assert message.sender.startswith("web:")
    assert message.received_at == NOW


async def test_conversation_on_the_page_is_escaped(chat: Chat) -> None:
    await chat.post(data={"text": "<script>alert(1)</script>"}, as_json=False)

    page = (await chat.open()).text

    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert audit(page).inline_scripts == 0


async def test_json_post_returns_the_replies_with_their_options(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.post(data={"text": "Someone shouted at my door"})

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["replies"] == [
        {"text": "We got: Someone shouted at my door", "options": [],
         "multiple": False, "urgent": False},
        {"text": "Is anyone in immediate danger right now?",
         "options": [{"value": "yes", "label": "Yes"}, {"value": "no", "label": "No"}],
         "multiple": False, "urgent": False},
    ]
    assert [(line["n"], line["from"]) for line in body["lines"]] == [
        (0, "you"), (1, "bot"), (2, "bot"),
    ]
    assert body["next"] == 3
    assert intake.messages[0].text == "Someone shouted at my door"


async def test_a_choice_is_sent_with_its_label_as_the_text(
    chat: Chat, intake: FakeIntake
) -> None:
    await chat.post(data={"text": "Graffiti on the bin store"})

    response = await chat.post(data={"choice": "no"})

    assert response.status_code == 200
    message = intake.messages[-1]
    assert (message.choice, message.text) == ("no", "No")
    assert response.json()["replies"][0]["text"] == "You chose: No"


async def test_the_message_keeps_the_form_fields_as_raw_json(
    chat: Chat, intake: FakeIntake
) -> None:
    message_id = str(uuid.uuid4())

    await chat.post(data={"text": "Bins set on fire", "message_id": message_id})

    raw = json.loads(intake.messages[0].raw)
    assert raw == {"text": "Bins set on fire", "choice": None, "message_id": message_id,
                   "files": []}
    assert "csrf_token" not in intake.messages[0].raw.decode()


async def test_urgent_replies_come_first_and_say_so() -> None:
    class Urgent(FakeIntake):
        @staticmethod
        def _answer(message: object) -> tuple[Reply, ...]:
            return (Reply("Thank you."), Reply("Call 999 now.", urgent=True))

    async with serve(make_adapter(Urgent())) as url, httpx.AsyncClient(base_url=url) as client:
        chat = Chat(client, url)
        await chat.open()
        body = (await chat.post(data={"text": "He has a knife"})).json()

    assert [(r["text"], r["urgent"]) for r in body["replies"]] == [
        ("Call 999 now.", True), ("Thank you.", False),
    ]


async def test_an_empty_send_is_refused_and_not_handed_on(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.post(data={"text": "   "})

    assert response.status_code == 400
    assert "Type a message" in response.json()["error"]
    assert intake.calls == []


async def test_a_failing_service_says_so_and_keeps_the_text(
    chat: Chat, intake: FakeIntake, caplog: pytest.LogCaptureFixture
) -> None:
    intake.failing = True

    response = await chat.post(data={"text": "They followed me home"}, as_json=False)

    assert response.status_code == 503
    assert "could not take that message" in response.text
    assert ">They followed me home</textarea>" in response.text
    assert "the intake handler failed" in caplog.text


# --- cross-site requests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "headers"),
    [
        pytest.param("", {}, id="no token"),
        pytest.param("0" * 64, {}, id="forged token"),
        pytest.param(None, {"Origin": "https://evil.example"}, id="another origin"),
        pytest.param(None, {"Origin": "null"}, id="opaque origin only"),
        pytest.param(None, {"Sec-Fetch-Site": "cross-site"}, id="cross-site fetch"),
        pytest.param(None, {"Referer": "https://evil.example/page"}, id="another referer"),
    ],
)
async def test_cross_site_posts_are_refused_and_never_handed_on(
    chat: Chat,
    intake: FakeIntake,
    caplog: pytest.LogCaptureFixture,
    token: str | None,
    headers: dict[str, str],
) -> None:
    response = await chat.post(data={"text": "hello"}, token=token, headers=headers)

    assert response.status_code == 403
    assert intake.calls == []
    assert any("web chat: refused /chat/send" in r.getMessage() for r in caplog.records)


async def test_a_post_with_neither_origin_nor_referer_is_refused(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.client.post(
        "/chat/send", data={"csrf_token": chat.token, "text": "hello"},
        headers={"Accept": "application/json"},
    )

    assert response.status_code == 403
    assert intake.calls == []


async def test_a_same_origin_fetch_without_origin_is_accepted(
    chat: Chat, intake: FakeIntake
) -> None:
    """Under Referrer-Policy no-referrer a browser's own form post says ``Origin: null``."""
    response = await chat.client.post(
        "/chat/send", data={"csrf_token": chat.token, "text": "hello"},
        headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"},
    )

    assert response.status_code == 303
    assert len(intake.calls) == 1


async def test_the_token_may_come_in_a_header(chat: Chat, intake: FakeIntake) -> None:
    response = await chat.post(
        data={"text": "hello"}, token="", headers={"X-CSRF-Token": chat.token}
    )

    assert response.status_code == 200
    assert len(intake.calls) == 1


async def test_another_sessions_token_is_refused(
    chat: Chat, base_url: str, intake: FakeIntake
) -> None:
    async with httpx.AsyncClient(base_url=base_url) as other_client:
        other = Chat(other_client, base_url)
        await other.open()

    response = await chat.post(data={"text": "hello"}, token=other.token)

    assert response.status_code == 403
    assert intake.calls == []


async def test_a_refused_form_post_explains_and_links_back(chat: Chat) -> None:
    response = await chat.post(data={"text": "hello"}, token="", as_json=False)

    assert response.status_code == 403
    assert "Reload the page" in response.text
    assert 'href="/chat"' in response.text


# --- the session cookie -------------------------------------------------------------------


async def test_session_cookie_is_http_only_lax_and_lasts_the_configured_time(
    chat: Chat,
) -> None:
    cookie = session_cookie(await chat.open()).lower()

    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "max-age=3600" in cookie
    assert "path=/chat" in cookie
    assert "secure" not in cookie


async def test_session_cookie_is_secure_when_configured(intake: FakeIntake) -> None:
    async with serve(make_adapter(intake, cookie_secure=True)) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            response = await client.get("/chat")

    assert "; secure" in session_cookie(response).lower()


async def test_session_cookie_is_signed_and_holds_the_senders_random_id(
    chat: Chat, intake: FakeIntake
) -> None:
    await chat.post(data={"text": "hello"})
    cookie = chat.client.cookies[COOKIE_NAME]

    session_id = URLSafeTimedSerializer(SECRET_KEY, salt=SESSION_SALT).loads(cookie)

    assert intake.messages[0].sender == f"web:{session_id}"
    assert len(session_id) >= 22
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer("another key", salt=SESSION_SALT).loads(cookie)


async def test_a_tampered_cookie_starts_a_new_session(
    chat: Chat, intake: FakeIntake
) -> None:
    await chat.post(data={"text": "My neighbour threatened me"})
    first_sender = intake.messages[0].sender
    cookie = chat.client.cookies[COOKIE_NAME]
    tampered = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    chat.client.cookies.clear()
    chat.client.cookies.set(COOKIE_NAME, tampered, path="/chat")

    response = await chat.client.get("/chat")

    assert "My neighbour threatened me" not in response.text
    assert session_cookie(response).split(";")[0] != f"{COOKIE_NAME}={tampered}"
    chat.token = page_token(response.text)
    await chat.post(data={"text": "hello again"})
    assert intake.messages[1].sender != first_sender


async def test_a_post_with_a_tampered_cookie_is_refused(
    chat: Chat, intake: FakeIntake
) -> None:
    cookie = chat.client.cookies[COOKIE_NAME]
    chat.client.cookies.clear()
    chat.client.cookies.set(COOKIE_NAME, "x" + cookie, path="/chat")

    response = await chat.post(data={"text": "hello"})

    assert response.status_code == 403
    assert intake.calls == []


# --- idempotency --------------------------------------------------------------------------


async def test_a_double_submit_reaches_the_handler_with_the_same_external_id(
    chat: Chat, intake: FakeIntake
) -> None:
    message_id = str(uuid.uuid4())

    first = await chat.post(data={"text": "Stones thrown at my window", "message_id": message_id})
    second = await chat.post(data={"text": "Stones thrown at my window", "message_id": message_id})

    assert intake.messages[0].external_id == intake.messages[1].external_id
    assert message_id in intake.messages[0].external_id
    assert second.json()["replies"] == first.json()["replies"]
    assert second.json()["lines"] == []
    page = (await chat.open()).text
    assert page.count("We got: Stones thrown at my window") == 1


async def test_without_a_message_id_every_send_gets_a_fresh_external_id(
    chat: Chat, intake: FakeIntake
) -> None:
    await chat.post(data={"text": "one"})
    await chat.post(data={"text": "one"})

    assert intake.messages[0].external_id != intake.messages[1].external_id


async def test_message_ids_of_different_sessions_never_collide(
    chat: Chat, base_url: str, intake: FakeIntake
) -> None:
    message_id = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=base_url) as other_client:
        other = Chat(other_client, base_url)
        await other.open()
        await other.post(data={"text": "mine", "message_id": message_id})

    response = await chat.post(data={"text": "theirs?", "message_id": message_id})

    assert intake.messages[0].external_id != intake.messages[1].external_id
    assert response.json()["replies"][0]["text"] == "We got: theirs?"


# --- files --------------------------------------------------------------------------------


async def test_an_uploaded_photo_becomes_an_attachment(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.post(
        data={"text": "This was sprayed on the door"},
        files={"files": ("door.jpg", JPEG, "image/jpeg")},
    )

    assert response.status_code == 200
    [attachment] = intake.messages[0].attachments
    assert attachment == Attachment("image/jpeg", len(JPEG), filename="door.jpg", data=JPEG)
    assert attachment.kind == "photo"
    assert response.json()["lines"][0]["attachments"] == ["door.jpg (photo)"]


async def test_a_file_alone_is_a_message(chat: Chat, intake: FakeIntake) -> None:
    response = await chat.post(files={"files": ("noise.m4a", b"\x00" * 64, "audio/mp4")})

    assert response.status_code == 200
    assert intake.messages[0].text == ""
    assert intake.messages[0].attachments[0].kind == "audio"


async def test_an_empty_file_field_is_ignored(chat: Chat, intake: FakeIntake) -> None:
    response = await chat.post(
        data={"text": "no photo"}, files={"files": ("", b"", "application/octet-stream")},
        as_json=False,
    )

    assert response.status_code == 303
    assert intake.messages[0].attachments == ()


async def test_a_too_large_upload_is_refused_with_a_clear_message(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.post(
        data={"text": "Video of them"},
        files={"files": ("big.mp4", b"\x00" * (MAX_FILE_BYTES + 1), "video/mp4")},
    )

    assert response.status_code == 413
    error = response.json()["error"]
    assert "“big.mp4” is too big" in error and "10 MB" in error
    assert "has not been sent" in error
    assert intake.calls == []


async def test_a_too_large_upload_without_javascript_keeps_what_was_typed(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.post(
        data={"text": "Video of them"},
        files={"files": ("big.mp4", b"\x00" * (MAX_FILE_BYTES + 1), "video/mp4")},
        as_json=False,
    )

    assert response.status_code == 413
    assert "is too big to send here" in response.text
    assert ">Video of them</textarea>" in response.text
    assert intake.calls == []


async def test_a_body_over_the_total_limit_is_refused_before_it_is_read(chat: Chat) -> None:
    response = await chat.post(
        files=[("files", (f"{n}.jpg", b"\x00" * MAX_FILE_BYTES, "image/jpeg")) for n in range(6)],
    )

    assert response.status_code == 413
    assert "too much to send at once" in response.json()["error"]


@pytest.mark.parametrize(
    ("filename", "content_type"),
    [("notes.txt", "text/plain"), ("drawing.svg", "image/svg+xml"),
     ("run.exe", "application/octet-stream")],
)
async def test_files_other_than_photos_recordings_videos_and_pdfs_are_refused(
    chat: Chat, intake: FakeIntake, filename: str, content_type: str
) -> None:
    response = await chat.post(data={"text": "see file"},
                               files={"files": (filename, b"hello", content_type)})

    assert response.status_code == 415
    assert filename in response.json()["error"]
    assert intake.calls == []


async def test_a_pdf_is_accepted(chat: Chat, intake: FakeIntake) -> None:
    response = await chat.post(files={"files": ("letter.pdf", b"%PDF-1.7\n", "application/pdf")})

    assert response.status_code == 200
    assert intake.messages[0].attachments[0].kind == "document"


async def test_a_too_long_message_is_refused(chat: Chat, intake: FakeIntake) -> None:
    response = await chat.post(data={"text": "a" * 10_001})

    assert response.status_code == 413
    assert "too long" in response.json()["error"]
    assert intake.calls == []


# --- sending from the outbox, polling ------------------------------------------------------


async def test_send_shows_replies_on_the_next_poll(
    chat: Chat, adapter: WebChatChannel, intake: FakeIntake
) -> None:
    first = (await chat.post(data={"text": "hello"})).json()
    sender = intake.messages[0].sender
    outgoing = Outgoing(
        key="outbox-17", channel=Channel.WEB, recipient=sender,
        replies=(Reply("An officer will call you today.",
                       options=(Option("ok", "OK"),)),),
    )

    result = await adapter.send(outgoing)
    again = await adapter.send(outgoing)

    assert (result.ok, result.external_id) == (True, "outbox-17")
    assert again.ok
    polled = (await chat.client.get(f"/chat/messages?after={first['next']}")).json()
    assert [(line["n"], line["text"]) for line in polled["lines"]] == [
        (3, "An officer will call you today."),
    ]
    assert polled["lines"][0]["options"] == [{"value": "ok", "label": "OK"}]
    assert polled["next"] == 4


async def test_send_to_an_address_that_is_not_web_chat_fails(adapter: WebChatChannel) -> None:
    outgoing = Outgoing(key="k", channel=Channel.WEB, recipient="+447700900123",
                        replies=(Reply("hi"),))

    result = await adapter.send(outgoing)

    assert not result.ok and not result.retryable


async def test_polling_without_a_session_returns_nothing(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        response = await client.get("/chat/messages?after=0")

    assert response.json()["lines"] == []


async def test_the_page_keeps_the_last_200_lines(chat: Chat) -> None:
    for n in range(70):
        await chat.post(data={"text": f"message {n}"})

    polled = (await chat.client.get("/chat/messages?after=0")).json()

    assert len(polled["lines"]) == LOG_LINES
    assert polled["lines"][0]["n"] == 210 - LOG_LINES
    assert polled["next"] == 210


async def test_health_is_ok(adapter: WebChatChannel) -> None:
    assert await adapter.health() == "ok"
    assert adapter.channels == (Channel.WEB,)


# --- quick exit ---------------------------------------------------------------------------


async def test_quick_exit_sends_the_exit_word_and_clears_the_page(
    chat: Chat, intake: FakeIntake
) -> None:
    await chat.post(data={"text": "He is outside again"})

    response = await chat.post("/chat/exit", as_json=False)

    assert response.status_code == 200
    assert f'http-equiv="refresh" content="0; url={NEUTRAL_SITE}"' in response.text
    assert intake.messages[-1].text == "exit"
    assert "He is outside again" not in (await chat.open()).text


async def test_quick_exit_with_a_bad_token_still_leaves(
    chat: Chat, intake: FakeIntake
) -> None:
    response = await chat.post("/chat/exit", token="", as_json=False)

    assert response.status_code == 200
    assert NEUTRAL_SITE in response.text
    assert intake.calls == []


# --- logging ------------------------------------------------------------------------------


async def test_message_text_is_never_logged_at_info(
    chat: Chat, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)

    await chat.post(data={"text": "My name is Jo Bloggs at 4 Elm Court"},
                    files={"files": ("jo.jpg", JPEG, "image/jpeg")})

    assert "web chat: message" in caplog.text
    assert "Jo Bloggs" not in caplog.text
    assert "jo.jpg" not in caplog.text
