/*
 * Web chat, with JavaScript: send without reloading, pick up new messages every few seconds,
 * and leave quickly. The page works without this file; this only makes it smoother.
 *
 * Nothing received is ever parsed as HTML: every element is built with createElement and
 * filled with textContent.
 */
(function () {
  "use strict";

  const SHIFT_PRESSES_TO_LEAVE = 3;
  const SHIFT_WINDOW_MS = 5000;
  const WORDING = {
    sending: "Sending…",
    offline:
      "We could not reach the service. Check your connection and try again. " +
      "What you typed is still in the box.",
    failed: "Sorry, something went wrong. Please try again. If you are in danger, call 999.",
    empty: "Type a message, choose an answer or add a file first.",
    tooBig: (name) =>
      "“" + name + "” is too big to send here: each file can be up to 10 MB. Try a smaller " +
      "photo or a shorter recording. Your message has not been sent yet.",
    legend: "Choose an answer, or type your own below",
    attached: "Sent with it: ",
    you: "You",
  };

  const log = document.getElementById("log");
  const form = document.getElementById("send-form");
  if (!log || !form) {
    return;
  }
  const text = document.getElementById("text");
  const files = document.getElementById("files");
  const choices = document.getElementById("choices");
  const notice = document.getElementById("notice");
  const status = document.getElementById("status");
  const sendButton = document.getElementById("send-button");
  const quickExit = document.getElementById("quick-exit");
  const token = form.elements.namedItem("csrf_token").value;
  const botName = log.getAttribute("data-bot-name") || "";
  const neutralSite = quickExit.getAttribute("data-neutral-site");
  const maxFileBytes = parseInt(form.getAttribute("data-max-file-bytes"), 10) || Infinity;
  const pollMs = (parseInt(log.getAttribute("data-poll-seconds"), 10) || 10) * 1000;

  let epoch = log.getAttribute("data-epoch");
  let cursor = parseInt(log.getAttribute("data-next"), 10) || 0;
  const known = new Set();
  let busy = false;
  let unsent = null; // a send that may not have arrived: retried with the same id

  for (const item of log.querySelectorAll("[data-n]")) {
    known.add(parseInt(item.getAttribute("data-n"), 10));
  }

  // --- building the conversation ------------------------------------------------------

  function paragraph(className, content) {
    const element = document.createElement("p");
    element.className = className;
    element.textContent = content;
    return element;
  }

  function lineElement(line) {
    const mine = line.from === "you";
    const item = document.createElement("div");
    item.className = "msg " + (mine ? "msg-you" : "msg-bot") + (line.urgent ? " msg-urgent" : "");
    item.tabIndex = -1;
    item.setAttribute("data-n", String(line.n));
    item.append(paragraph("who", mine ? WORDING.you : botName), paragraph("text", line.text));
    if (line.attachments && line.attachments.length) {
      item.append(paragraph("files", WORDING.attached + line.attachments.join(", ")));
    }
    return item;
  }

  function hiddenInput(name, value) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  }

  function showChoices(options) {
    choices.replaceChildren();
    if (!options || !options.length) {
      return;
    }
    const choiceForm = document.createElement("form");
    choiceForm.className = "choices";
    choiceForm.method = "post";
    choiceForm.action = "/chat/send";
    choiceForm.append(hiddenInput("csrf_token", token), hiddenInput("message_id", uuid()));
    const fieldset = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = WORDING.legend;
    const buttons = document.createElement("div");
    buttons.className = "choice-buttons";
    for (const option of options) {
      const button = document.createElement("button");
      button.type = "submit";
      button.name = "choice";
      button.value = option.value;
      button.className = "choice";
      button.textContent = option.label;
      buttons.append(button);
    }
    fieldset.append(legend, buttons);
    choiceForm.append(fieldset);
    choices.append(choiceForm);
  }

  /* Adds lines in order of n, once each; a new server (another epoch) numbers from 0 again. */
  function addLines(lines, serverEpoch) {
    if (serverEpoch && serverEpoch !== epoch) {
      epoch = serverEpoch;
      known.clear();
      cursor = 0;
      for (const item of log.querySelectorAll("[data-n]")) {
        item.removeAttribute("data-n");
      }
    }
    let newest = null;
    for (const line of lines) {
      if (known.has(line.n)) {
        continue;
      }
      known.add(line.n);
      const item = lineElement(line);
      const later = Array.from(log.querySelectorAll("[data-n]")).find(
        (other) => parseInt(other.getAttribute("data-n"), 10) > line.n,
      );
      log.insertBefore(item, later || null);
      if (!later) {
        newest = line;
      }
    }
    while (known.has(cursor)) {
      cursor += 1;
    }
    if (newest) {
      showChoices(newest.from === "you" ? [] : newest.options);
    }
    return newest;
  }

  /* After a send: to the newest message when it offers answers (Tab reaches them next),
     otherwise back to the box, where the next answer is typed. */
  function moveFocus() {
    const last = log.lastElementChild;
    if (last && choices.querySelector("button")) {
      last.focus();
    } else {
      text.focus();
    }
  }

  // --- talking to the server ----------------------------------------------------------

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = window.crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20),
      hex.slice(20)].join("-");
  }

  function showNotice(message) {
    notice.textContent = message;
    notice.hidden = false;
  }

  function clearNotice() {
    notice.hidden = true;
    notice.textContent = "";
  }

  function setBusy(value) {
    busy = value;
    sendButton.setAttribute("aria-disabled", value ? "true" : "false");
    status.textContent = value ? WORDING.sending : "";
  }

  async function send(fields) {
    if (busy) {
      return false;
    }
    setBusy(true);
    clearNotice();
    const id = unsent && unsent.key === fields.key ? unsent.id : uuid();
    const body = new FormData();
    body.append("csrf_token", token);
    body.append("message_id", id);
    if (fields.text) {
      body.append("text", fields.text);
    }
    if (fields.choice) {
      body.append("choice", fields.choice);
    }
    for (const file of fields.files || []) {
      body.append("files", file, file.name);
    }
    let response;
    try {
      response = await fetch("/chat/send", {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": token },
      });
    } catch (error) {
      unsent = { key: fields.key, id: id };
      setBusy(false);
      showNotice(WORDING.offline);
      return false;
    }
    unsent = null;
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    setBusy(false);
    if (!response.ok || !data) {
      showNotice((data && data.error) || WORDING.failed);
      return false;
    }
    if (!addLines(data.lines || [], data.epoch)) {
      await poll(); // a repeat: what it said is in the log already
    }
    moveFocus();
    return true;
  }

  async function poll() {
    let response;
    try {
      response = await fetch("/chat/messages?after=" + encodeURIComponent(cursor), {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      return;
    }
    if (!response.ok) {
      return;
    }
    const data = await response.json().catch(() => null);
    if (data) {
      addLines(data.lines || [], data.epoch);
    }
  }

  function leave() {
    try {
      const body = new FormData();
      body.append("csrf_token", token);
      body.append("message_id", uuid());
      fetch("/chat/exit", {
        method: "POST",
        body: body,
        keepalive: true,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": token },
      }).catch(() => {});
    } finally {
      document.documentElement.classList.add("leaving");
      log.replaceChildren();
      text.value = "";
      window.location.replace(neutralSite);
    }
  }

  // --- wiring -------------------------------------------------------------------------

  async function sendTyped() {
    const typed = text.value.trim();
    const chosen = Array.from(files.files || []);
    if (!typed && !chosen.length) {
      showNotice(WORDING.empty);
      text.focus();
      return;
    }
    const tooBig = chosen.find((file) => file.size > maxFileBytes);
    if (tooBig) {
      showNotice(WORDING.tooBig(tooBig.name));
      files.focus();
      return;
    }
    const key = [typed].concat(chosen.map((f) => f.name + ":" + f.size)).join("\u0000");
    if (await send({ text: typed, files: chosen, key: "text:" + key })) {
      text.value = "";
      files.value = "";
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    sendTyped();
  });

  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendTyped();
    }
  });

  choices.addEventListener("click", (event) => {
    const button = event.target.closest("button[name='choice']");
    if (!button) {
      return;
    }
    event.preventDefault();
    send({ choice: button.value, key: "choice:" + button.value });
  });

  // Following the skip link would add a history entry, which Back could return to after a
  // quick exit; moving focus does the same job without one.
  const skipLink = document.querySelector(".skip-link");
  if (skipLink) {
    skipLink.addEventListener("click", (event) => {
      event.preventDefault();
      text.focus();
    });
  }

  quickExit.addEventListener("submit", (event) => {
    event.preventDefault();
    leave();
  });

  let shiftPresses = [];
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Shift") {
      shiftPresses = [];
      return;
    }
    if (event.repeat) {
      return;
    }
    const now = Date.now();
    shiftPresses = shiftPresses.filter((at) => now - at < SHIFT_WINDOW_MS).concat(now);
    if (shiftPresses.length >= SHIFT_PRESSES_TO_LEAVE) {
      leave();
    }
  });

  // Coming back to a conversation: show where it had got to.
  if (log.lastElementChild && !window.location.hash) {
    log.lastElementChild.scrollIntoView({ block: "nearest", behavior: "instant" });
  }

  for (const element of document.querySelectorAll(".js-only")) {
    element.hidden = false;
  }
  text.setAttribute("aria-describedby", "text-hint");

  window.setInterval(() => {
    if (!busy && !document.hidden) {
      poll();
    }
  }, pollMs);
})();
