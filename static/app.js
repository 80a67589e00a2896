// SDM's own behaviour beyond htmx: copying a value to the clipboard (the one-time invite link).
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const said = document.getElementById(button.dataset.copy + "-copied");
  if (!field) return;
  const done = (ok) => {
    if (said) said.textContent = ok ? "Copied to the clipboard." : "Select the link and copy it.";
    button.textContent = ok ? "Copied" : "Copy";
  };
  field.select();
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(() => done(true), () => done(false));
  } else {
    done(document.execCommand("copy"));
  }
});

// The clock of a step a test waits on: the server says how long it had waited when it drew
// the step; the page counts on from there until the next answer replaces it.
const seen = new WeakMap();
setInterval(() => {
  for (const clock of document.querySelectorAll("[data-waited]")) {
    if (!seen.has(clock)) seen.set(clock, Date.now());
    const waited = Number(clock.dataset.waited) + (Date.now() - seen.get(clock)) / 1000;
    clock.textContent = `${Math.floor(waited)} s`;
  }
}, 1000);

// SDM's own behaviour on top of htmx, kept out of the pages so the Content-Security-Policy
// needs no 'unsafe-inline' and no 'unsafe-eval'.
(function () {
  "use strict";

  // A refused form (422) comes back with its messages: swap it in like a success.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.target;
    if (event.detail.xhr.status === 422 && target.closest &&
        target.closest("[data-swap-invalid]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // An error the server sends to the page's alert region (a refusal, jobs unavailable, an
  // expired form token) is shown there: htmx swaps no 4xx/5xx answer by itself.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status >= 400 && xhr.getResponseHeader("HX-Retarget") === "#alerts") {
      event.detail.shouldSwap = true;
    }
  });

  // A field the server refused (it holds a control character): the message goes next to
  // the field of the form that sent it, which keeps everything else typed.
  document.body.addEventListener("field-refused", function (event) {
    var detail = event.detail || {};
    var source = event.target;
    var form = source.tagName === "FORM" ? source : (source.form || source.closest("form"));
    var field = form && form.elements.namedItem(detail.field);
    if (field && !field.tagName && field.length) { field = field[0]; }
    if (!field || !field.tagName) { return; }
    var id = (field.id || form.id + "-" + detail.field) + "-error";
    var message = document.getElementById(id);
    if (!message) {
      message = document.createElement("small");
      message.id = id;
      message.className = "field-error";
      message.setAttribute("data-field", detail.field);
      field.insertAdjacentElement("afterend", message);
    }
    message.textContent = detail.message;
    field.setAttribute("aria-invalid", "true");
    field.setAttribute("aria-describedby", id);
    field.focus();
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-remove-form]");
    if (button) {
      var form = button.closest("form");
      if (form) { form.remove(); }
    }
  });

  // Light polls ([data-poll]: "did anything change?") pause while the page is hidden; the
  // next one after it shows again catches up.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-poll")) {
      event.preventDefault();
    }
  });

  // An input kept across swaps (hx-preserve, e.g. a typed secret) is not redrawn: give it
  // the invalid state and description its redrawn neighbours got from the server.
  document.addEventListener("htmx:afterSettle", function () {
    document.querySelectorAll("input[hx-preserve][id]").forEach(function (input) {
      var error = document.getElementById(input.id + "-error");
      var help = document.getElementById(input.id + "-help");
      if (error) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", error.id);
      } else {
        input.removeAttribute("aria-invalid");
        if (help) { input.setAttribute("aria-describedby", help.id); }
        else { input.removeAttribute("aria-describedby"); }
      }
    });
  });

  // The server accepted a form's values (a test of them started): the messages of an
  // earlier refusal no longer apply.
  document.body.addEventListener("values-accepted", function (event) {
    var form = event.detail && document.getElementById(event.detail.form);
    if (!form) { return; }
    form.querySelectorAll(".field-error[data-field], [data-form-errors]").forEach(
      function (message) { message.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (field) {
      field.removeAttribute("aria-invalid");
      var help = document.getElementById(field.id + "-help");
      if (help) { field.setAttribute("aria-describedby", help.id); }
      else { field.removeAttribute("aria-describedby"); }
    });
  });

  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) {
      event.target.select();
    }
  });
})();
