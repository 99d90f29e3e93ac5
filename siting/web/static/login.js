// The login page: posts the name and password as JSON with the page's double-submit token
// (<meta name="csrf-token">, also set as a cookie), then goes where the user was heading.
"use strict";

function loginTarget() {
  const next = new URLSearchParams(window.location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.includes("\\") ? next : "/";
}

async function submitLogin(event) {
  event.preventDefault();
  const error = document.querySelector("#login-error");
  const button = document.querySelector("#login-submit");
  error.hidden = true;
  button.disabled = true;
  try {
    const meta = document.querySelector('meta[name="csrf-token"]');
    const response = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": meta ? meta.content : "" },
      body: JSON.stringify({ name: document.querySelector("#login-name").value, password: document.querySelector("#login-password").value }),
    });
    if (response.ok) {
      await response.text();  // read to the end: leaving the page mid-answer would abort it
      window.location.assign(loginTarget());
      return;
    }
    const body = await response.json().catch(() => ({}));
    const detail = body.error || {};
    error.textContent = detail.message_zh ? `${detail.message_zh}\n${detail.message_en || ""}` : `登录失败（HTTP ${response.status}）`;
    error.hidden = false;
    document.querySelector("#login-password").value = "";
  } catch (failure) {
    error.textContent = `无法连接服务器：${failure}`;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelector("#login-form").addEventListener("submit", submitLogin);
  document.body.dataset.ready = "true";
});
