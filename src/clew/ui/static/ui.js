// clew UI: live updates (server-sent events), confirmed actions and on-demand fragments.
// Plain JavaScript, no framework: the pages are rendered by the server and work without it.
"use strict";
(function () {
  const live = () => document.getElementById("live");
  function say(text, kind) {
    const box = live();
    if (!box) return;
    box.textContent = text;
    box.className = "toast show " + (kind || "");
    clearTimeout(say.timer);
    if (kind !== "busy") say.timer = setTimeout(() => box.classList.remove("show"), 8000);
  }

  async function refreshApp() {
    const url = document.body.dataset.fragment;
    const body = document.getElementById("app-body");
    if (!url || !body) return;
    const resp = await fetch(url, { credentials: "same-origin" });
    if (resp.ok) {
      body.innerHTML = await resp.text();
      document.dispatchEvent(new CustomEvent("clew:updated"));
    }
  }

  function updateCount() {
    const count = document.getElementById("count");
    const rows = document.querySelectorAll("#apps tbody tr");
    if (!count) return;
    const shown = [...rows].filter((r) => !r.hidden).length;
    count.textContent = count.textContent.replace(/^\d+/, String(shown));
  }

  function onApp(data) {
    const table = document.querySelector("#apps tbody");
    if (table) {
      const old = document.getElementById(data.id || "");
      if (data.type === "DELETED") {
        if (old) old.remove();
      } else if (data.html) {
        const tmp = document.createElement("tbody");
        tmp.innerHTML = data.html.trim();
        const fresh = tmp.firstElementChild;
        if (old) old.replaceWith(fresh);
        else table.appendChild(fresh);
        fresh.classList.add("flash");
      }
      applySearch();
    } else if (document.body.dataset.fragment) {
      refreshApp();
    }
  }

  function connect() {
    const url = document.body.dataset.stream;
    if (!url || !window.EventSource) return;
    const source = new EventSource(url);
    source.addEventListener("app", (e) => onApp(JSON.parse(e.data)));
    source.addEventListener("resync", () => {
      if (document.body.dataset.fragment) refreshApp();
    });
    source.addEventListener("signedout", () => { window.location = "/login"; });
    source.addEventListener("open", () => document.body.setAttribute("data-live", "on"));
  }

  // Actions: ask, then post with the session's CSRF token and show the answer.
  document.addEventListener("submit", async (e) => {
    const form = e.target;
    const question = form.dataset && form.dataset.confirm;
    if (!question) return;
    e.preventDefault();
    if (!window.confirm(question)) return;
    const button = form.querySelector("button");
    if (button) button.disabled = true;
    say("Working…", "busy");
    try {
      const data = new URLSearchParams(new FormData(form));
      const resp = await fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { "X-CSRF-Token": String(data.get("csrf") || "") },
      });
      const answer = await resp.json();
      say(answer.ok ? answer.message : "Refused: " + answer.error, answer.ok ? "ok" : "bad");
      if (answer.ok) refreshApp();
    } catch (err) {
      say("Failed: " + err, "bad");
    } finally {
      if (button) button.disabled = false;
    }
  });

  // Links that load a fragment in place (the diff), instead of navigating.
  document.addEventListener("click", async (e) => {
    const link = e.target.closest && e.target.closest("a[data-load]");
    if (!link) return;
    e.preventDefault();
    const target = document.querySelector(link.dataset.load);
    target.setAttribute("aria-busy", "true");
    target.textContent = "Computing the diff…";
    const url = new URL(link.href);
    url.searchParams.set("fragment", "1");
    const resp = await fetch(url, { credentials: "same-origin" });
    target.innerHTML = await resp.text();
    target.removeAttribute("aria-busy");
  });

  // Search as you type, over the rows already on the page (1,000 rows: a few milliseconds).
  function applySearch() {
    const input = document.getElementById("search");
    if (!input) return;
    const needle = input.value.trim().toLowerCase();
    for (const row of document.querySelectorAll("#apps tbody tr")) {
      row.hidden = needle !== "" && !row.textContent.toLowerCase().includes(needle);
    }
    updateCount();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const input = document.getElementById("search");
    if (input) input.addEventListener("input", applySearch);
    connect();
  });
})();
