"""End to end through ``intake serve`` on loopback: a signed SMS conversation, an email report
answered by email, a Telegram conversation through the stand-in Bot API; forged and replayed
webhooks. The same conversation and priority rules on every channel (R-01)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import itertools
import re
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET
from email.message import EmailMessage

import aiosmtplib
import httpx
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from channels.telegram_sandbox import SANDBOX_SECRET
from channels.twilio import MESSAGES_PATH
from channels.twilio_sandbox import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN
from storage.models import InboundMessage
from storage.uow import Storage
from tests.conftest import REPO
from tests.e2e.conftest import Running
from tests.intake.test_cli import INTAKE

ANSWERS = {
    "Which fits best?": "1",
    "immediate danger": "no",
    "for yourself or for someone else": "1",
    "When did it happen": "last night about 10pm",
    "How often": "2",
    "still going on": "yes",
    "Where did it happen": "Elm Court stairwell, DH1",
    "know who did it": "1",
    "photos, video or recordings": "2",
    "because of someone's race": "1",
    "Which of these apply": "1 2",
    "share your report with the police": "yes",
    "give your name": "1",
    "What is your name?": "Sam Jones",
    "What is your address": "12 Elm Court, DH1 3AB",
    "How would you like us to contact you": "1",
    "safe for us to leave you messages": "yes",
    "How often would you like an update": "2",
    "put you in touch with support": "no",
    "to talk to us": "6",
    "Is this right?": "1",
}
REPORT = "my neighbour keeps calling me a p*ki and says hell smash my windows"


def answer_for(question: str) -> str:
    found = next((a for fragment, a in ANSWERS.items() if fragment in question), None)
    assert found is not None, f"no answer for: {question!r}"
    return found


# --- SMS -----------------------------------------------------------------------------------


def sms(
    serve: Running,
    body: str,
    *,
    sid: str | None = None,
    signature: str | None = None,
    sender: str = "+447700900111",
) -> httpx.Response:
    url = serve.base_url + MESSAGES_PATH
    form = {
        "MessageSid": sid or "SM" + uuid.uuid4().hex,
        "AccountSid": SANDBOX_ACCOUNT_SID,
        "From": sender,
        "To": "+447700900000",
        "Body": body,
        "NumMedia": "0",
    }
    signed = RequestValidator(SANDBOX_AUTH_TOKEN).compute_signature(url, form)
    return httpx.post(
        url,
        data=form,
        timeout=30,
        headers={"X-Twilio-Signature": signature if signature is not None else signed},
    )


def twiml(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    return "\n\n".join(m.text or "" for m in ET.fromstring(response.text).iter("Message"))


def test_a_signed_sms_conversation_ends_in_an_acknowledgement(serve: Running) -> None:
    reply = twiml(sms(serve, REPORT))
    for _ in range(30):
        if "Your reference is" in reply:
            break
        reply = twiml(sms(serve, answer_for(reply.split("\n\n")[-1])))
    assert re.search(r"Your reference is ASB-\d{4}-\d{6}", reply), reply
    assert "high priority" in reply


async def count_rows(serve: Running, model: type) -> int:
    storage = Storage.from_url(serve.database_url)
    try:
        async with storage.session() as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)
    finally:
        await storage.close()


async def test_forged_and_unsigned_sms_are_refused_and_nothing_is_written(serve: Running) -> None:
    forged = await asyncio.to_thread(sms, serve, "help me", signature="bm90IGEgc2lnbmF0dXJl")
    unsigned = await asyncio.to_thread(
        httpx.post,
        serve.base_url + MESSAGES_PATH,
        data={"MessageSid": "SMx", "From": "+447700900111", "Body": "hi"},
    )
    assert (forged.status_code, unsigned.status_code) == (403, 403)
    assert await count_rows(serve, InboundMessage) == 0


async def test_replayed_sms_deliveries_create_one_message_and_one_answer(serve: Running) -> None:
    sid = "SM" + uuid.uuid4().hex

    async def deliver() -> httpx.Response:
        return await asyncio.to_thread(sms, serve, "kids keep kicking footballs at my car", sid=sid)

    responses = await asyncio.gather(*(deliver() for _ in range(25)))
    answers = {twiml(r) for r in responses}
    assert len(answers) == 1
    assert await count_rows(serve, InboundMessage) == 1


# --- email ----------------------------------------------------------------------------------


async def send_mail(
    serve: Running, body: str, subject: str, in_reply_to: str | None = None
) -> None:
    message = EmailMessage()
    message["From"] = "Sam Jones <sam@example.org>"
    message["To"] = "report@asb.example.org"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid.uuid4().hex}@example.org>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    await aiosmtplib.send(message, hostname="127.0.0.1", port=serve.smtp_port)


async def next_mail(serve: Running, seen: int) -> email.message.EmailMessage:
    for _ in range(300):
        kept = serve.mail_sent()
        if len(kept) > seen:
            parsed = email.message_from_bytes(kept[seen].read_bytes(), policy=email.policy.default)
            assert isinstance(parsed, email.message.EmailMessage)
            return parsed
        await asyncio.sleep(0.1)
    raise AssertionError("no email reply arrived")


async def test_an_email_report_is_answered_by_email_and_acknowledged(serve: Running) -> None:
    await send_mail(serve, "Dear Sir or Madam,\n\n" + REPORT + ".\n\nRegards,\nSam", "Abuse")
    questions = await next_mail(serve, 0)
    assert questions["Auto-Submitted"] == "auto-replied"
    assert questions["To"] == "sam@example.org"
    seen = 1
    reply_mail = questions
    for _ in range(4):
        text = reply_mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        if "Your reference is" in text:
            break
        numbered = re.findall(r"^(\d+)\. (.+)$", text, flags=re.MULTILINE)
        assert numbered, text
        answers = "\n".join(f"{n}. {answer_for(q)}" for n, q in numbered)
        await send_mail(
            serve,
            answers,
            "Re: " + str(reply_mail["Subject"]),
            in_reply_to=str(reply_mail["Message-ID"]),
        )
        reply_mail = await next_mail(serve, seen)
        seen += 1
    text = reply_mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    reference = re.search(r"ASB-\d{4}-\d{6}", text)
    assert reference and "Your reference is" in text
    assert f"[{reference.group(0)}]" in str(reply_mail["Subject"])


# --- Telegram -------------------------------------------------------------------------------

_ids = itertools.count(1000)


def telegram(
    serve: Running, text: str, chat_id: int = 5550001, secret: str = SANDBOX_SECRET
) -> httpx.Response:
    update_id = next(_ids)
    user = {"id": chat_id, "is_bot": False, "first_name": "Sam"}
    update = {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "text": text,
            "from": user,
            "chat": {"id": chat_id, "type": "private", "first_name": "Sam"},
        },
    }
    return httpx.post(
        serve.base_url + "/webhooks/telegram",
        json=update,
        timeout=30,
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
    )


CONSOLE_PASSWORD = "a long sandbox console password"
_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_admin(serve: Running) -> httpx.Client:
    """A console session of an administrator (made with ``intake users add``), the way a
    manager reads what the sandbox stand-ins sent: ``/console/sandbox``."""
    subprocess.run(
        [INTAKE, "--config", str(REPO / "config.yaml"), "users", "add", "sandbox-admin",
         "--role", "admin", "--name", "Sandbox Admin", "--password-stdin"],
        input=CONSOLE_PASSWORD + "\n", env=serve.env, cwd=serve.data_dir.parent, check=True,
        capture_output=True, text=True, timeout=60,
    )
    client = httpx.Client(base_url=serve.base_url, timeout=10)
    form = client.get("/console/login")
    found = _FORM_TOKEN.search(form.text)
    assert found is not None
    signed_in = client.post(
        "/console/login",
        data={"csrf_token": found.group(1), "username": "sandbox-admin",
              "password": CONSOLE_PASSWORD},
        headers={"Origin": serve.base_url},
    )
    assert signed_in.status_code == 303, signed_in.text
    return client


async def telegram_sent(
    console: httpx.Client, chat_id: int, seen: int
) -> list[dict[str, object]]:
    settled = -1
    for _ in range(300):
        response = await asyncio.to_thread(console.get, "/console/sandbox/sent.json")
        assert response.status_code == 200, response.text
        sent = [m for m in response.json()["messages"] if m["channel"] == "telegram"]
        mine = [m for m in sent if m["to"] == str(chat_id)]
        if len(mine) > seen and len(mine) == settled:
            return mine[seen:]  # nothing more arrived for a moment: the whole reply is here
        settled = len(mine)
        await asyncio.sleep(0.3 if len(mine) > seen else 0.1)
    raise AssertionError("no Telegram reply was sent")


async def test_a_telegram_conversation_through_the_stand_in_bot_api(serve: Running) -> None:
    console = await asyncio.to_thread(console_admin, serve)
    try:
        await telegram_conversation(serve, console)
    finally:
        console.close()


async def telegram_conversation(serve: Running, console: httpx.Client) -> None:
    assert (await asyncio.to_thread(telegram, serve, REPORT)).status_code == 200
    seen = 0
    for _ in range(30):
        new = await telegram_sent(console, 5550001, seen)
        seen += len(new)
        last = str(new[-1]["text"])
        if any("Your reference is" in str(m["text"]) for m in new):
            break
        assert (await asyncio.to_thread(telegram, serve, answer_for(last))).status_code == 200
    texts = " ".join(str(m["text"]) for m in new)
    assert re.search(r"Your reference is ASB-\d{4}-\d{6}", texts)
    question = next(m for m in (await telegram_sent(console, 5550001, 0)) if m["buttons"])
    assert len(question["buttons"]) >= 2  # type: ignore[arg-type]
    # Without a session nobody reads what was sent.
    anonymous = await asyncio.to_thread(
        httpx.get, serve.base_url + "/console/sandbox/sent.json", timeout=10
    )
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/login")
    for path in ("/sandbox/telegram/sent", "/sandbox/twilio/sent"):
        gone = await asyncio.to_thread(httpx.get, serve.base_url + path, timeout=10)
        assert gone.status_code == 404


async def test_a_telegram_update_without_the_secret_is_refused(serve: Running) -> None:
    response = await asyncio.to_thread(telegram, serve, "hello", 5550002, "wrong")
    assert response.status_code == 403
    assert await count_rows(serve, InboundMessage) == 0


async def test_every_channel_gives_the_same_priority_for_the_same_report(serve: Running) -> None:
    await asyncio.to_thread(
        sms, serve, "people dealing drugs on the stairs every night", sender="+447700900222"
    )
    await asyncio.to_thread(
        telegram, serve, "people dealing drugs on the stairs every night", 5550003
    )
    await send_mail(serve, "people dealing drugs on the stairs every night", "Drugs")
    storage = Storage.from_url(serve.database_url)
    try:
        for _ in range(100):
            async with storage.session() as session:
                rows = (await session.execute(select(InboundMessage.channel))).scalars().all()
            if len(rows) == 3:
                break
            await asyncio.sleep(0.1)
    finally:
        await storage.close()
    assert sorted(rows) == ["email", "sms", "telegram"]
